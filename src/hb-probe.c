/*
 * The real agent probe: guest-ping through virDomainQemuAgentCommand.
 */
#include <config.h>

#include <libvirt/libvirt-qemu.h>

#include "hb-probe.h"


/*
 * Errors that say nothing about the guest are no verdict: the domain is
 * gone or not running, libvirtd is unreachable, or a job of someone else's
 * holds the domain ("cannot acquire state change lock"). Anything else on a
 * live connection is the agent not answering.
 */
HbProbeResult
hbProbeClassifyError(int code, gboolean alive)
{
    switch ((virErrorNumber) code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_OPERATION_INVALID: /* domain is not running */
    case VIR_ERR_OPERATION_TIMEOUT: /* the domain's job lock is held */
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
        return HB_PROBE_VOID;
    default:
        return alive ? HB_PROBE_MISS : HB_PROBE_VOID;
    }
}


HbProbeResult
hbProbeAgentPing(virConnectPtr conn, const char *uuid, guint timeout,
                 char **detail, gpointer data)
{
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, uuid);
    g_autofree char *reply = NULL;
    int code;

    if (dom)
        reply = virDomainQemuAgentCommand(dom, "{\"execute\":\"guest-ping\"}", timeout, 0);
    if (reply)
        return HB_PROBE_OK;

    /* The code first: virConnectIsAlive() resets the thread's last error. */
    code = virGetLastErrorCode();
    *detail = g_strdup(hbUtilLastError());
    return hbProbeClassifyError(code, virConnectIsAlive(conn) == 1);
}
