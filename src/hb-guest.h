/*
 * The guest OS interface (the seed's IVMGuestOS beyond the heartbeat):
 * agent replies parsed, and the requests that run on worker threads.
 */
#pragma once

#include "hb-config.h"
#include <gio/gio.h>

#include "hb-util.h"

/* A guest pid: Linux's pid_t and Windows' DWORD both fit. */
#define HB_EXEC_PID_MAX G_MAXUINT32
/* 128 + signal stays within an 8-bit exit status. */
#define HB_EXEC_SIGNAL_MAX 127
#define HB_AGENT_TIMEOUT 5 /* seconds, for agent calls other than pings */

/* The agent's strings are sanitized, at most HB_UTIL_TEXT_MAX bytes. */
typedef struct {
    char *version;         /* AdditionsVersion */
    char *os_name;         /* OSName */
    gboolean can_shutdown; /* guest-shutdown supported and enabled */
} HbGuestInfo;

void hbGuestInfoClear(HbGuestInfo *info);

typedef struct {
    gboolean exited;
    /* 0-255 (POSIX), a 32-bit Windows exit code read as signed (0xC0000005 is
     * -1073741819), or 128 + signal (1-127) for a command killed by one. */
    int exit_code;
    GBytes *out;
    GBytes *err;
    gboolean truncated;
} HbExecStatus;

void hbExecStatusClear(HbExecStatus *status);

/* Pure: the "return" of an agent reply. A member of the wrong type or out
 * of range is an error (HB_ERROR_FAILED), never a wrapped value. */
int hbGuestParseInfo(const char *reply, HbGuestInfo *info, GError **error);
int hbGuestParseOsInfo(const char *reply, HbGuestInfo *info, GError **error);
int hbGuestParseExecPid(const char *reply, gint64 *pid, GError **error);
int hbGuestParseExecStatus(const char *reply, HbExecStatus *status, GError **error);
char *hbGuestExecCommand(const char *path, const char *const *args);

/* On a worker thread. Errors are in HB_ERROR with the seed's codes. */
int hbGuestReadInfo(virDomainPtr dom, HbGuestInfo *info, GError **error);
int hbGuestShutdown(virDomainPtr dom, GError **error);
int hbGuestExec(virDomainPtr dom, const char *path, const char *const *args,
                guint timeout, GCancellable *cancellable, HbExecStatus *status,
                GError **error);
int hbGuestSyncTime(virDomainPtr dom, GError **error);
int hbGuestInstallAgent(virDomainPtr dom, gboolean *already, gboolean *next_boot,
                        GError **error);

/* HB_AFFECT_APPLICABLE: live if running, config if persistent. */
#define HB_AFFECT_APPLICABLE (1u << 16)
int hbGuestEditMetadata(virDomainPtr dom, unsigned int flags, GHashTable *changes,
                        const HbConfig *defaults, char **result, GError **error);
