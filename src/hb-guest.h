/*
 * The guest OS interface (the seed's IVMGuestOS beyond the heartbeat):
 * agent replies parsed, and the requests that run on worker threads.
 */
#pragma once

#include "hb-config.h"
#include <gio/gio.h>

#include "hb-util.h"

/* ExecuteCommand keeps at most this much of each output stream. */
#define HB_EXEC_OUTPUT_MAX (64 * 1024)
#define HB_AGENT_TIMEOUT 5 /* seconds, for agent calls other than pings */

typedef struct {
    char *version;         /* AdditionsVersion */
    char *os_name;         /* OSName */
    gboolean can_shutdown; /* guest-shutdown supported and enabled */
} HbGuestInfo;

void hbGuestInfoClear(HbGuestInfo *info);

typedef struct {
    gboolean exited;
    int exit_code;         /* 128 + signal when killed by one */
    GBytes *out;
    GBytes *err;
    gboolean truncated;
} HbExecStatus;

void hbExecStatusClear(HbExecStatus *status);

/* Pure: the "return" of an agent reply. */
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
