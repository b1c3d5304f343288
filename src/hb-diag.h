/*
 * Diagnostics saved before a restart attempt (the key diagnostics): a
 * screenshot, the tail of the serial console's log, or a memory-only
 * kdump-compressed core, under <state_dir>/diagnostics/<uuid>/.
 */
#pragma once

#include "hb-job.h"

#define HB_DIAG_SUBDIR "diagnostics"
/* Files kept per domain: the newest, whatever their kind. */
#define HB_DIAG_KEEP 10
/* The console log's tail, at most. */
#define HB_DIAG_CONSOLE_MAX (64 * 1024)
/* A screenshot larger than this is refused (a 4K PPM is 24 MiB). */
#define HB_DIAG_SCREENSHOT_MAX (64 * 1024 * 1024)
/*
 * How long the attempt waits for its diagnostic, in seconds. libvirt
 * cannot abort a memory-only dump ("cannot abort memory-only dump",
 * libvirt 9.0), so none is tried: virDomainAbortJob would abort only
 * another job, one our dump waits behind (a user's migration or save). A
 * reset after a dump given up waits for the domain's job, up to libvirt's
 * 30 s. The bound and that wait stay under the time an attempt is taken
 * for hung (HB_ATTEMPT_HUNG_US, 60 s). The others are quick when they
 * work at all.
 */
#define HB_DIAG_DUMP_TIMEOUT 20
#define HB_DIAG_TIMEOUT 10

/*
 * Whether the restart @job saves a diagnostic before its call, on a
 * domain in libvirt's @state and @reason: one that runs, or crashed and is
 * kept, and an attempt that is made (not observed only); a dump on the
 * first attempt of the episode only, and once per episode: an attempt not
 * made is decided again with the same number. Thread-safe.
 */
gboolean hbDiagWanted(const HbJob *job, int state, int reason);

/*
 * Save job->diagnostics of @dom in job->diag_dir/diagnostics/<uuid>/, in
 * at most the kind's bound (the call goes on without it past that): the
 * path saved in job->diag_file, or why none in job->diag_error; its time
 * in job->diag_us. Never fails the attempt.
 */
void hbDiagSave(HbJob *job, virDomainPtr dom);

/*
 * What the attempt's RestartAttempt result and log line add about its
 * diagnostic: "screenshot: PATH", "dump failed: WHY"; NULL: none was due.
 */
char *hbDiagDescribe(const HbJob *job);

/* The parts below are for hbDiagSave and the tests. */

/* A diagnostic's file name: time (UTC), episode, attempt and @ext. */
char *hbDiagFileName(GDateTime *when, guint64 episode, guint attempt, const char *ext);
/*
 * The domain's directory under @state_dir, created 0700 and opened
 * without following a symbolic link; it and its parent must be this
 * user's and writable by nobody else. A descriptor, or -1 and @error.
 */
int hbDiagOpenDir(const char *state_dir, const char *uuid, GError **error);
/* Remove all but the newest @keep files of the domain's directory @dirfd. */
void hbDiagPrune(int dirfd, guint keep);
/* The file the domain XML @xml logs its serial console to; NULL: none. */
char *hbDiagConsolePath(const char *xml);
/* The last @max bytes of the regular file @path, written to @outfd. */
int hbDiagCopyTail(const char *path, int outfd, gsize max, GError **error);
