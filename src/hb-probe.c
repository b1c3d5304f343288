/*
 * The real agent probe: guest-ping through virDomainQemuAgentCommand.
 */
#include <config.h>

#include <libvirt/libvirt-qemu.h>

#include "hb-probe.h"


/*
 * Only the agent's silence is a miss: libvirt reports a timeout, a hung
 * agent ("not available for now") and a closed agent port alike as
 * VIR_ERR_AGENT_UNRESPONSIVE. Anything else says nothing about the guest
 * and is no verdict: the domain gone or not running, libvirtd unreachable,
 * a job of someone else's holding the domain, the agent channel removed
 * ("not configured"), an agent that answered with an error or out of turn.
 */
HbProbeResult
hbProbeClassifyError(int code, gboolean alive)
{
    return code == VIR_ERR_AGENT_UNRESPONSIVE && alive ? HB_PROBE_MISS : HB_PROBE_VOID;
}


HbProbeResult
hbProbeAgentPing(virConnectPtr conn, const char *uuid, guint timeout,
                 char **detail)
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
