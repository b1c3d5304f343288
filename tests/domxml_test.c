/*
 * The domain XML: what the monitor reads of a domain's definition.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-domxml.h"


static char *
readFile(const char *path)
{
    g_autoptr(GError) err = NULL;
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err))
        fail_msg("%s", err->message);
    return text;
}


static void
test_domain_xml_inspect(void **state G_GNUC_UNUSED)
{
    g_autofree char *live = readFile(TEST_SRCDIR "/data/domain-live.xml");
    g_autoptr(GError) err = NULL;
    HbDomainInfo info = { 0 };
    HbConfig defaults, cfg;

    /* A live QEMU domain: agent channel connected, metadata as written. */
    assert_int_equal(hbDomainXmlInspect(live, &info, &err), 0);
    assert_true(info.has_agent);
    assert_true(info.agent_connected);
    assert_non_null(info.metadata);
    hbConfigInitDefaults(&defaults);
    assert_int_equal(hbConfigParseMetadata(info.metadata, &defaults, &cfg, &err), 0);
    assert_int_equal(cfg.time, 6);
    assert_int_equal(cfg.rate, 3);
    g_clear_pointer(&info.metadata, g_free);

    /* Other metadata and other channels are not ours. */
    assert_int_equal(hbDomainXmlInspect(
        "<domain><metadata><heartbeat xmlns='urn:other'/></metadata><devices>"
        "<channel type='unix'><target type='virtio' name='org.other.0' state='connected'/>"
        "</channel></devices></domain>", &info, &err), 0);
    assert_false(info.has_agent);
    assert_false(info.agent_connected);
    assert_null(info.metadata);

    /* What libvirt does on a crash or a reset: its defaults, and set. */
    assert_true(info.crash_handled);
    assert_false(info.reset_stops);
    assert_int_equal(hbDomainXmlInspect(
        "<domain><on_reboot>destroy</on_reboot><on_crash>preserve</on_crash></domain>",
        &info, &err), 0);
    assert_false(info.crash_handled);
    assert_true(info.reset_stops);
    assert_int_equal(hbDomainXmlInspect(
        "<domain><on_reboot>restart</on_reboot><on_crash>coredump-restart</on_crash></domain>",
        &info, &err), 0);
    assert_true(info.crash_handled);
    assert_false(info.reset_stops);

    assert_int_equal(hbDomainXmlInspect("<domain>", &info, &err), -1);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domain_xml_inspect),
    };

    return cmocka_run_group_tests_name("domxml", tests, NULL, NULL);
}
