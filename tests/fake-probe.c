/*
 * The test agent: answers as the test says, and like the real probe it
 * gives no verdict for a domain that is not running.
 */
#include <config.h>

#include "fake-probe.h"
#include "hb-agent.h"

static GMutex fakeLock;
static GHashTable *fakeAgents; /* uuid -> FakeAgent */
static GHashTable *fakePings;  /* uuid -> count */


void
fakeProbeReset(void)
{
    g_mutex_lock(&fakeLock);
    g_clear_pointer(&fakeAgents, g_hash_table_unref);
    g_clear_pointer(&fakePings, g_hash_table_unref);
    fakeAgents = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    fakePings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_mutex_unlock(&fakeLock);
}


void
fakeProbeSet(const char *uuid, FakeAgent agent)
{
    g_mutex_lock(&fakeLock);
    g_hash_table_replace(fakeAgents, g_strdup(uuid), GINT_TO_POINTER(agent));
    g_mutex_unlock(&fakeLock);
}


guint
fakeProbePings(const char *uuid)
{
    guint n;

    g_mutex_lock(&fakeLock);
    n = GPOINTER_TO_UINT(g_hash_table_lookup(fakePings, uuid));
    g_mutex_unlock(&fakeLock);
    return n;
}


HbProbeResult
fakeProbePing(virConnectPtr conn, const char *uuid, guint timeout, char **detail)
{
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, uuid);
    FakeAgent agent;
    guint pings;

    if (!dom || virDomainIsActive(dom) != 1) {
        *detail = g_strdup("domain is not running");
        return HB_PROBE_VOID;
    }

    g_mutex_lock(&fakeLock);
    agent = GPOINTER_TO_INT(g_hash_table_lookup(fakeAgents, uuid));
    pings = GPOINTER_TO_UINT(g_hash_table_lookup(fakePings, uuid));
    g_hash_table_replace(fakePings, g_strdup(uuid), GUINT_TO_POINTER(pings + 1));
    g_mutex_unlock(&fakeLock);

    switch (agent) {
    case FAKE_AGENT_OK:
        return HB_PROBE_OK;
    case FAKE_AGENT_HANG:
        g_usleep(timeout * G_USEC_PER_SEC);
        *detail = g_strdup("guest agent is not responding");
        return HB_PROBE_MISS;
    case FAKE_AGENT_MISS_IN_JOB:
        *detail = g_strdup_printf("domain job: %s",
                                  hbAgentJobOperationName(VIR_DOMAIN_JOB_OPERATION_DUMP));
        return HB_PROBE_SUPPRESSED;
    case FAKE_AGENT_MISS:
        break;
    }
    /* Like the real probe, a miss asks libvirt for a job: the test driver has none. */
    if ((*detail = hbAgentJobUnderWay(dom)))
        return HB_PROBE_SUPPRESSED;
    *detail = g_strdup("guest agent is not connected");
    return HB_PROBE_MISS;
}
