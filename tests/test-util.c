/*
 * Helpers for tests that run the monitor on libvirt's test driver.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test-util.h"


static gboolean
testTimeout(gpointer data)
{
    *(gboolean *) data = TRUE;
    return G_SOURCE_REMOVE;
}


/*
 * Run the main loop until @cond holds. @seconds only bounds a failing test;
 * no test depends on how fast anything happens.
 */
gboolean
testWaitFor(TestCond cond, gpointer data, guint seconds)
{
    gboolean expired = FALSE;
    guint id = g_timeout_add_seconds(seconds, testTimeout, &expired);

    while (!cond(data) && !expired)
        g_main_context_iteration(NULL, TRUE);
    if (!expired)
        g_source_remove(id);
    return cond(data);
}


/* Run the main loop for @ms: for checks that nothing happens. */
void
testSpin(guint ms)
{
    gboolean expired = FALSE;

    g_timeout_add(ms, testTimeout, &expired);
    while (!expired)
        g_main_context_iteration(NULL, TRUE);
}


virDomainPtr
testDomainStart(virConnectPtr conn, const char *name, gboolean agent, const char *hb_attrs)
{
    g_autofree char *metadata = NULL;
    g_autofree char *xml = NULL;
    virDomainPtr dom;

    if (hb_attrs)
        metadata = g_strdup_printf("<metadata><hb:heartbeat xmlns:hb='urn:virt-heartbeat:1' "
                                   "%s/></metadata>", hb_attrs);
    xml = g_strdup_printf(
        "<domain type='test'><name>%s</name><memory>65536</memory>"
        "<os><type>hvm</type></os>%s<devices>%s</devices></domain>",
        name, metadata ? metadata : "",
        agent ? "<channel type='unix'><target type='virtio' "
                "name='org.qemu.guest_agent.0'/></channel>" : "");
    dom = virDomainDefineXML(conn, xml);
    if (!dom)
        g_error("cannot define %s: %s", name, virGetLastErrorMessage());
    if (virDomainCreate(dom) < 0)
        g_error("cannot start %s: %s", name, virGetLastErrorMessage());
    return dom;
}


void
testDomainRemove(virConnectPtr conn, const char *name)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(conn, name);

    if (!dom)
        return;
    if (virDomainIsActive(dom) == 1)
        virDomainDestroy(dom);
    virDomainUndefine(dom);
}


char *
testDomainUUID(virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];

    virDomainGetUUIDString(dom, uuid);
    return g_strdup(uuid);
}


void
testAssertClean(const char *text, gsize max)
{
    assert_non_null(text);
    assert_true(g_utf8_validate(text, -1, NULL));
    assert_true(strlen(text) <= max);
}
