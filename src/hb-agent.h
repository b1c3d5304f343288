/*
 * The guest agent: every call made to it (ping, info, shutdown, command
 * execution, time sync), and its replies parsed.
 */
#pragma once

#include <gio/gio.h>

#include "hb-probe.h"
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
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HbGuestInfo, hbGuestInfoClear)

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
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HbExecStatus, hbExecStatusClear)

/* Pure: the "return" of an agent reply. A member of the wrong type or out
 * of range is an error (HB_ERROR_FAILED), never a wrapped value. */
int hbAgentParseInfo(const char *reply, HbGuestInfo *info, GError **error);
int hbAgentParseOsInfo(const char *reply, HbGuestInfo *info, GError **error);
int hbAgentParseExecPid(const char *reply, gint64 *pid, GError **error);
int hbAgentParseExecStatus(const char *reply, HbExecStatus *status, GError **error);
char *hbAgentExecCommand(const char *path, const char *const *args);

/* On a worker thread. Errors are in HB_ERROR with Virtual PC / Virtual Server's codes. */
int hbAgentReadInfo(virDomainPtr dom, HbGuestInfo *info, GError **error);
int hbAgentShutdown(virDomainPtr dom, GError **error);
int hbAgentExec(virDomainPtr dom, const char *path, const char *const *args,
                guint timeout, GCancellable *cancellable, HbExecStatus *status,
                GError **error);
int hbAgentSyncTime(virDomainPtr dom, GError **error);

/* The probe (HbProbeFunc): one guest-ping, waiting at most @timeout seconds. */
HbProbeResult hbAgentPing(virConnectPtr conn, const char *uuid, guint timeout, char **detail);
/* The domain job under way, as text; NULL: none. Asks libvirt, never the guest. */
char *hbAgentJobUnderWay(virDomainPtr dom);
/* The name of a virDomainJobOperation; "unknown" for any other value. */
const char *hbAgentJobOperationName(int operation);
/* What a failed ping with libvirt error @code says; @alive: the connection is. */
HbProbeResult hbAgentClassifyError(int code, gboolean alive);
