/*
 * The state file, <state_dir>/<uuid>.state: what an engine remembers,
 * as text. Pure: the caller reads and writes the file.
 */
#pragma once

#include "hb-engine.h"

/* Times further ahead than this in a state file are taken as not set. */
#define HB_STATE_AHEAD_MAX_S 86400
/* Episode numbers beyond this are taken as not set (they would wrap). */
#define HB_STATE_EPISODE_MAX ((guint64) G_MAXINT64)
/* Episode start times kept: the storm cap never counts more. */
#define HB_STATE_STARTS_MAX 1000

/*
 * The file's text for @memory of the domain @name. Files keep wall time:
 * @real_offset (wall clock minus monotonic clock, µs) converts.
 */
char *hbStateFormat(const char *name, const HbEngineMemory *memory, gint64 real_offset);
/*
 * Fill @memory (owned by the caller, clear with hbEngineMemoryClear) from
 * the file's text @data of @len bytes; @now is the monotonic time. @name,
 * if given, gets the name of the domain the file was saved for (NULL: none
 * in it), which the caller checks. A value
 * that is out of range (a time far ahead of @now, negative or absurd) is
 * taken as not set; only text that is not a key file is an error.
 */
int hbStateParse(const char *data, gsize len, gint64 real_offset, gint64 now,
                 char **name, HbEngineMemory *memory, GError **error);
