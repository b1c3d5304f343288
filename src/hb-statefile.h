/*
 * What outlives the daemon, in its state directory: <uuid>.state, the
 * engine's memory of the domain's episodes (hb-state.h's format), and
 * <uuid>.config, the last valid <heartbeat/> metadata, so that invalid
 * metadata seen first after a restart still fails closed to what was
 * valid. Each file names its domain: a new definition under the same UUID
 * inherits neither. A @dir of "" is no state directory: nothing is kept.
 */
#pragma once

#include "hb-engine.h"

/*
 * Create @dir if need be and check that it is a directory of ours that
 * nobody else can write; -1, logged, if not.
 */
int hbStateFileCheckDir(const char *dir);

/* Keep @memory of the domain @name. */
void hbStateFileSave(const char *dir, const char *uuid, const char *name,
                     const HbEngineMemory *memory);
/*
 * Whether @memory (the caller's, hbEngineMemoryClear) got what was kept
 * for the domain @name; a file kept for another name is removed.
 */
gboolean hbStateFileLoad(const char *dir, const char *uuid, const char *name,
                         HbEngineMemory *memory);

/* Keep @metadata as the last valid metadata of @name; NULL: none, the file goes. */
int hbStateFileSaveConfig(const char *dir, const char *uuid, const char *name,
                          const char *metadata);
/*
 * The configuration of the domain @name seen first with invalid metadata:
 * the last valid one kept for it, else @defaults that only notify.
 */
void hbStateFileRecallConfig(const char *dir, const char *uuid, const char *name,
                             const HbConfig *defaults, HbConfig *cfg);

/* Remove both files of @uuid. */
void hbStateFileForget(const char *dir, const char *uuid);
/*
 * Remove the files of every UUID not in @keep (a set of UUID strings):
 * those of domains no longer defined or monitored, also those undefined
 * while the daemon was down. Other files in @dir are left alone.
 */
void hbStateFileSweep(const char *dir, GHashTable *keep);

/*
 * The host-wide maintenance window (Manager1.PauseAll) in the file
 * "maintenance" of @dir: its end as an ISO 8601 UTC time, so that it
 * outlives the daemon and an admin can read it. @until 0 removes it.
 */
int hbStateFileSaveMaintenance(const char *dir, gint64 until, GError **error);
/* Its end, seconds since the epoch; 0: none kept (or unreadable, logged). */
gint64 hbStateFileLoadMaintenance(const char *dir);
