/*
 * The real agent probe: guest-ping through virDomainQemuAgentCommand.
 */
#include <config.h>

#include <libvirt/libvirt-qemu.h>

#include "hb-probe.h"


/*
 * Errors that say nothing about the guest: no verdict. Takes the code, not
 * the virErrorPtr: virConnectIsAlive() resets the thread's last error.
 */
static gboolean
hbProbeErrorIsVoid(virConnectPtr conn, int code)
{
    switch ((virErrorNumber) code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_OPERATION_INVALID: /* domain is not running */
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
        return TRUE;
    default:
        return virConnectIsAlive(conn) != 1;
    }
}


HbProbeResult
hbProbeAgentPing(virConnectPtr conn, const char *uuid, guint timeout,
                 char **detail, gpointer data)
{
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, uuid);
    g_autofree char *reply = NULL;

    if (dom)
        reply = virDomainQemuAgentCommand(dom, "{\"execute\":\"guest-ping\"}", timeout, 0);
    if (reply)
        return HB_PROBE_OK;

    *detail = g_strdup(hbUtilLastError());
    return hbProbeErrorIsVoid(conn, virGetLastErrorCode()) ? HB_PROBE_VOID : HB_PROBE_MISS;
}
