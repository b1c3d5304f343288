/*
 * Metadata configuration: golden files, every invalid case, the edits the
 * CLI makes, and the shipped examples against the RelaxNG schema.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libxml/relaxng.h>

#include "hb-api.h"
#include "hb-config.h"
#include "hb-util.h"


static char *
readFile(const char *path)
{
    g_autoptr(GError) err = NULL;
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err))
        fail_msg("%s", err->message);
    return text;
}


static GPtrArray *
listXml(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    assert_non_null(d);
    while ((name = g_dir_read_name(d))) {
        if (g_str_has_suffix(name, ".xml"))
            g_ptr_array_add(files, g_build_filename(dir, name, NULL));
    }
    assert_true(files->len > 0);
    return files;
}


static void
test_golden(void **state G_GNUC_UNUSED)
{
    g_autoptr(GPtrArray) files = listXml(TEST_SRCDIR "/data/metadata");
    HbConfig defaults;

    hbConfigInitDefaults(&defaults);
    for (guint i = 0; i < files->len; i++) {
        const char *path = files->pdata[i];
        g_autofree char *xml = readFile(path);
        g_autofree char *base = g_strndup(path, strlen(path) - 4);
        g_autofree char *out_path = g_strconcat(base, ".out", NULL);
        g_autofree char *expected = readFile(out_path);
        g_autofree char *got = NULL;
        g_autoptr(GError) err = NULL;
        HbConfig cfg;

        if (hbConfigParseMetadata(xml, &defaults, &cfg, &err) < 0)
            fail_msg("%s: %s", path, err->message);
        got = hbConfigFormat(&cfg);
        if (!g_str_equal(got, expected))
            fail_msg("%s: expected\n%s\ngot\n%s", path, expected, got);
    }
}


/* Invalid metadata, and a part of the error it must give. */
static const struct {
    const char *xml;
    const char *error;
} invalidCases[] = {
    { "", "malformed XML" },
    { "<heartbeat time=\"30\"", "malformed XML" },
    { "<heartbeat time='30'/><x/>", "malformed XML" },
    { "<beat/>", "expected element <heartbeat>, found <beat>" },
    { "<heartbeat xmlns='urn:other'/>", "namespace 'urn:other'" },
    { "<heartbeat><time>30</time></heartbeat>", "unexpected element <time>" },
    { "<heartbeat tme='30'/>", "unknown attribute 'tme'" },
    { "<heartbeat enabled='true'/>", "enabled: 'true' is not yes or no" },
    { "<heartbeat action='reboot'/>",
      "action: 'reboot' is not reset, restart, none, observe or ladder" },
    { "<heartbeat time='1'/>", "time: '1' is not a whole number from 2 to 86400" },
    { "<heartbeat time='86401'/>", "time: '86401'" },
    { "<heartbeat time='-5'/>", "time: '-5'" },
    { "<heartbeat time='30s'/>", "time: '30s'" },
    { "<heartbeat time=''/>", "time: ''" },
    { "<heartbeat time='99999999999999999999'/>", "time: '99999999999999999999'" },
    { "<heartbeat rate='0'/>", "rate: '0' is not a whole number from 1 to 1000" },
    { "<heartbeat rate='1001'/>", "rate: '1001'" },
    { "<heartbeat time='2' rate='21'/>", "rate: 21 ticks per 2 s is more than 10 a second" },
    { "<heartbeat failure_interval='0'/>", "failure_interval: '0'" },
    { "<heartbeat failure_attempts='1001'/>",
      "failure_attempts: '1001' is not a whole number from 0 to 1000" },
    { "<heartbeat boot_grace='86401'/>", "boot_grace: '86401'" },
    { "<heartbeat max_episodes='1001'/>", "max_episodes: '1001'" },
    { "<heartbeat episode_window='0'/>", "episode_window: '0'" },
    { "<heartbeat ping_timeout='0'/>", "ping_timeout: '0'" },
    { "<heartbeat ping_timeout='301'/>", "ping_timeout: '301'" },
    { "<heartbeat time_sync='on'/>", "time_sync: 'on' is not yes or no" },
    { "<heartbeat time_sync_interval='0'/>",
      "time_sync_interval: '0' is not a whole number from 1 to 1440" },
    { "<heartbeat time_sync_interval='1441'/>", "time_sync_interval: '1441'" },
    { "<heartbeat hb:time='30' xmlns:hb='urn:virt-heartbeat:1'/>",
      "unknown attribute 'urn:virt-heartbeat:1:time'" },
    { "<heartbeat>30</heartbeat>", "unexpected text" },
    { "<heartbeat><![CDATA[x]]></heartbeat>", "unexpected text" },
    { "<heartbeat time='3 0'/>", "time: '3 0'" },
    { "<heartbeat time='+-30'/>", "time: '+-30'" },
    { "<heartbeat time='-30'/>", "time: '-30'" },
    { "<heartbeat boot_grace='-'/>", "boot_grace: '-'" },
    { "<heartbeat time='+30'/>", "time: '+30'" },
    { "<heartbeat time=' 30 '/>", "time: ' 30 '" },
    { "<heartbeat time='&#9;30&#10;'/>", "time: '\t30\n'" },
    { "<heartbeat boot_grace='-0'/>", "boot_grace: '-0'" },
    { "<heartbeat boot_grace='+0'/>", "boot_grace: '+0'" },
    { "<heartbeat time='&#160;30'/>", "time: '\u00a030'" },
    { "<heartbeat time='0x1e'/>", "time: '0x1e'" },
    { "<heartbeat enabled='y es'/>", "enabled: 'y es'" },
    { "<heartbeat enabled='YES'/>", "enabled: 'YES'" },
    { "<heartbeat action='&#160;reset'/>", "action: '\u00a0reset'" },
    { "<heartbeat confirm='yes'/>", "confirm: 'yes' is not none or activity" },
    { "<heartbeat confirm='Activity'/>", "confirm: 'Activity'" },
    { "<heartbeat confirm=''/>", "confirm: ''" },
    { "<heartbeat maintenance_until='2026-12-01 02:00:00Z'/>",
      "maintenance_until: '2026-12-01 02:00:00Z' is not a UTC time" },
    { "<heartbeat maintenance_until='2026-12-01T02:00:00'/>", "maintenance_until: '" },
    { "<heartbeat maintenance_until='2026-12-01T02:00:00+01:00'/>", "maintenance_until: '" },
    { "<heartbeat maintenance_until='2026-12-01T02:00Z'/>", "maintenance_until: '" },
    { "<heartbeat maintenance_until='2026-13-01T02:00:00Z'/>", "maintenance_until: '" },
    { "<heartbeat maintenance_until='2026-12-01T02:00:00.5Z'/>", "maintenance_until: '" },
    { "<heartbeat maintenance_until='1796090400'/>", "maintenance_until: '1796090400'" },
    { "<heartbeat maintenance_until=''/>", "maintenance_until: ''" },
    { "<heartbeat maintenance_until=' 2026-12-01T02:00:00Z'/>", "maintenance_until: ' " },
    { "<heartbeat maintenance_until='2026-02-30T02:00:00Z'/>", "maintenance_until: '" },
    { "<heartbeat maintenance_until='2026-12-01T24:00:00Z'/>", "maintenance_until: '" },
    { "<heartbeat maintenance_until='1969-12-31T23:59:59Z'/>", "from 1970 to 2106" },
    { "<heartbeat maintenance_until='2106-02-07T06:28:16Z'/>", "from 1970 to 2106" },
    { "<heartbeat hb:maintenance_until='2026-12-01T02:00:00Z' xmlns:hb='urn:x'/>",
      "unknown attribute 'urn:x:maintenance_until'" },
    { "<heartbeat diagnostics='core'/>",
      "diagnostics: 'core' is not none, screenshot, console or dump" },
    { "<heartbeat diagnostics='Dump'/>", "diagnostics: 'Dump'" },
    { "<heartbeat diagnostics=''/>", "diagnostics: ''" },
    { "<heartbeat escalate='pacemaker'/>", "escalate: 'pacemaker' is not none or cluster" },
    { "<heartbeat escalate='Cluster'/>", "escalate: 'Cluster'" },
    { "<heartbeat escalate=''/>", "escalate: ''" },
};


/* Valid only in part: the schema cannot compare two attributes. */
static const char *const crossKeyCases[] = {
    "<heartbeat time='2' rate='21'/>",
    /* Nor a dateTime's range: the parser keeps 32 bits. */
    "<heartbeat maintenance_until='1969-12-31T23:59:59Z'/>",
    "<heartbeat maintenance_until='2106-02-07T06:28:16Z'/>",
    /* XML Schema's 24:00:00, the next midnight: one form of one time is enough. */
    "<heartbeat maintenance_until='2026-12-01T24:00:00Z'/>",
    NULL
};


/* Valid at the edges of the XML Schema lexical rules. */
static const char *const edgeCases[] = {
    "<heartbeat time='030'/>",
    "<heartbeat enabled=' yes '/>",
    "<heartbeat action='&#10;none '/>",
    "<heartbeat confirm=' activity&#9;'/>",
    "<heartbeat diagnostics=' screenshot '/>",
    "<heartbeat diagnostics='console'/>",
    "<heartbeat escalate=' cluster '/>",
    "<heartbeat failure_attempts='0' escalate='cluster'/>",
    "<heartbeat> <!-- a comment --> <?pi x?></heartbeat>",
    "<heartbeat time='30'>\n  </heartbeat>",
    "<hb:heartbeat xmlns:hb='urn:virt-heartbeat:1' time='30'/>",
    "<heartbeat maintenance_until='1970-01-01T00:00:00Z'/>",
    "<heartbeat maintenance_until='2106-02-07T06:28:15Z'/>",
};


static void
test_invalid(void **state G_GNUC_UNUSED)
{
    HbConfig defaults;

    hbConfigInitDefaults(&defaults);
    for (size_t i = 0; i < G_N_ELEMENTS(invalidCases); i++) {
        g_autoptr(GError) err = NULL;
        HbConfig cfg = defaults;

        cfg.time = 12345; /* must stay untouched on failure */
        if (hbConfigParseMetadata(invalidCases[i].xml, &defaults, &cfg, &err) == 0)
            fail_msg("accepted: %s", invalidCases[i].xml);
        assert_non_null(err);
        if (!strstr(err->message, invalidCases[i].error))
            fail_msg("%s: error '%s' lacks '%s'", invalidCases[i].xml, err->message,
                     invalidCases[i].error);
        assert_int_equal(cfg.time, 12345);
    }
}


/* The end of a maintenance window: read as UTC, not a key, kept by edits. */
static void
test_maintenance(void **state G_GNUC_UNUSED)
{
    g_autoptr(GHashTable) changes = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GError) err = NULL;
    g_autofree char *set = NULL;
    g_autofree char *unset = NULL;
    g_autofree char *text = NULL;
    HbConfig defaults, cfg;

    hbConfigInitDefaults(&defaults);
    assert_int_equal(defaults.maintenance_until, 0);
    assert_int_equal(hbConfigParseMetadata("<heartbeat time='30' "
                                           "maintenance_until='2026-12-01T02:00:00Z'/>",
                                           &defaults, &cfg, &err), 0);
    assert_int_equal(cfg.maintenance_until, 1796090400);
    assert_int_equal(cfg.time, 30);
    /* Not a key: the normalized form and the Config property leave it out. */
    text = hbConfigFormat(&cfg);
    assert_null(strstr(text, "maintenance"));
    assert_int_equal(hbKeyFromString(HB_METADATA_MAINTENANCE), -1);

    /* Written and removed as Pause and Resume do; other keys kept. */
    g_hash_table_insert(changes, (char *) HB_METADATA_MAINTENANCE,
                        (char *) "2026-12-01T02:00:00Z");
    set = hbConfigEditMetadata("<heartbeat time='30'/>", changes, &defaults, &err);
    assert_non_null(set);
    assert_int_equal(hbConfigParseMetadata(set, &defaults, &cfg, &err), 0);
    assert_int_equal(cfg.maintenance_until, 1796090400);
    assert_int_equal(cfg.time, 30);
    g_hash_table_insert(changes, (char *) HB_METADATA_MAINTENANCE, NULL);
    unset = hbConfigEditMetadata(set, changes, &defaults, &err);
    assert_string_equal(unset, "<heartbeat time=\"30\"/>");
    g_hash_table_insert(changes, (char *) HB_METADATA_MAINTENANCE, (char *) "tomorrow");
    assert_null(hbConfigEditMetadata(set, changes, &defaults, &err));
    assert_non_null(strstr(err->message, "maintenance_until: 'tomorrow'"));
}


/* What Pause, PauseAll and the CLI take as a window's end. */
static void
test_maintenance_limits(void **state G_GNUC_UNUSED)
{
    const gint64 now = 1796090400;
    g_autofree char *text = hbApiFormatUtc(now);
    g_autoptr(GError) err = NULL;
    gint64 secs;

    assert_string_equal(text, "2026-12-01T02:00:00Z");
    assert_int_equal(hbApiParseUtc(text, &secs, &err), 0);
    assert_int_equal(secs, now);
    assert_int_equal(hbApiCheckMaintenance(now + 1, now, NULL), 0);
    assert_int_equal(hbApiCheckMaintenance(now + HB_MAINTENANCE_MAX_S, now, NULL), 0);
    assert_int_equal(hbApiCheckMaintenance(now + HB_MAINTENANCE_MAX_S + 1, now, &err), -1);
    assert_non_null(strstr(err->message, "more than 30 days from now"));
    g_clear_error(&err);
    assert_int_equal(hbApiCheckMaintenance(now, now, &err), -1);
    assert_non_null(strstr(err->message, "not in the future"));
    g_clear_error(&err);
    assert_int_equal(hbApiCheckMaintenance(0, now, NULL), -1);
    assert_int_equal(hbApiCheckMaintenance(now - 60, now, NULL), -1);
}


static void
test_effective_ping_timeout(void **state G_GNUC_UNUSED)
{
    HbConfig cfg;

    hbConfigInitDefaults(&cfg);
    assert_int_equal(hbConfigEffectivePingTimeout(&cfg), 5);
    assert_int_equal(hbConfigIntervalUs(&cfg), 6 * G_USEC_PER_SEC);
    cfg.time = 6;
    cfg.rate = 3;
    assert_int_equal(hbConfigEffectivePingTimeout(&cfg), 2);
    cfg.time = 2;
    cfg.rate = 20;
    assert_int_equal(hbConfigIntervalUs(&cfg), G_USEC_PER_SEC / 10);
    assert_int_equal(hbConfigEffectivePingTimeout(&cfg), 1);
}


static void
test_edit(void **state G_GNUC_UNUSED)
{
    g_autoptr(GHashTable) changes = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *xml2 = NULL;
    g_autofree char *bad = NULL;
    HbConfig defaults, cfg;

    hbConfigInitDefaults(&defaults);
    g_hash_table_insert(changes, (char *) "time", (char *) "30");
    xml = hbConfigEditMetadata(NULL, changes, &defaults, &err);
    assert_non_null(xml);
    assert_string_equal(xml, "<heartbeat time=\"30\"/>");

    /* Keys not named are kept as written; NULL removes a key. */
    g_hash_table_remove_all(changes);
    g_hash_table_insert(changes, (char *) "rate", (char *) "5");
    g_hash_table_insert(changes, (char *) "time", NULL);
    xml2 = hbConfigEditMetadata("<heartbeat time='30' action='none'/>", changes, &defaults, &err);
    assert_non_null(xml2);
    assert_int_equal(hbConfigParseMetadata(xml2, &defaults, &cfg, &err), 0);
    assert_int_equal(cfg.time, 60);
    assert_int_equal(cfg.rate, 5);
    assert_int_equal(cfg.action, HB_ACTION_NONE);

    g_hash_table_remove_all(changes);
    g_hash_table_insert(changes, (char *) "time", (char *) "1");
    bad = hbConfigEditMetadata(NULL, changes, &defaults, &err);
    assert_null(bad);
    assert_non_null(strstr(err->message, "time: '1'"));
    g_clear_error(&err);

    g_hash_table_remove_all(changes);
    g_hash_table_insert(changes, (char *) "speed", (char *) "1");
    assert_null(hbConfigEditMetadata(NULL, changes, &defaults, &err));
    assert_non_null(strstr(err->message, "unknown key 'speed'"));
}


static void
validateDir(xmlRelaxNGValidCtxtPtr valid, const char *dir, gboolean parse)
{
    g_autoptr(GPtrArray) files = listXml(dir);
    HbConfig defaults, cfg;

    hbConfigInitDefaults(&defaults);
    for (guint i = 0; i < files->len; i++) {
        const char *path = files->pdata[i];
        g_autoptr(xmlDoc) doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
        g_autofree char *xml = readFile(path);
        g_autoptr(GError) err = NULL;

        assert_non_null(doc);
        if (xmlRelaxNGValidateDoc(valid, doc) != 0)
            fail_msg("%s does not validate against the schema", path);
        if (parse && hbConfigParseMetadata(xml, &defaults, &cfg, &err) < 0)
            fail_msg("%s: %s", path, err->message);
    }
}


static gboolean
schemaAccepts(xmlRelaxNGValidCtxtPtr valid, const char *xml)
{
    g_autoptr(xmlDoc) doc = xmlReadMemory(xml, strlen(xml), "case.xml", NULL,
                                          XML_PARSE_NONET | XML_PARSE_NOERROR |
                                          XML_PARSE_NOWARNING);

    return doc && xmlRelaxNGValidateDoc(valid, doc) == 0;
}


static void
test_examples_validate(void **state G_GNUC_UNUSED)
{
    xmlRelaxNGParserCtxtPtr parser = xmlRelaxNGNewParserCtxt(TOP_SRCDIR "/xml/virt-heartbeat.rng");
    xmlRelaxNGPtr schema = xmlRelaxNGParse(parser);
    xmlRelaxNGValidCtxtPtr valid;

    assert_non_null(schema);
    valid = xmlRelaxNGNewValidCtxt(schema);
    validateDir(valid, TOP_SRCDIR "/xml/examples", TRUE);
    validateDir(valid, TEST_SRCDIR "/data/metadata", TRUE);

    /* The schema and the parser agree on every other example too. */
    for (size_t i = 0; i < G_N_ELEMENTS(invalidCases); i++) {
        if (g_strv_contains(crossKeyCases, invalidCases[i].xml))
            continue;
        if (schemaAccepts(valid, invalidCases[i].xml))
            fail_msg("the schema accepts what the parser refuses: %s", invalidCases[i].xml);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(edgeCases); i++) {
        g_autoptr(GError) err = NULL;
        HbConfig defaults, cfg;

        hbConfigInitDefaults(&defaults);
        if (!schemaAccepts(valid, edgeCases[i]))
            fail_msg("the schema refuses %s", edgeCases[i]);
        if (hbConfigParseMetadata(edgeCases[i], &defaults, &cfg, &err) < 0)
            fail_msg("the parser refuses %s: %s", edgeCases[i], err->message);
    }
    /* The rules the schema cannot state: the parser alone refuses. */
    for (size_t i = 0; crossKeyCases[i]; i++)
        assert_true(schemaAccepts(valid, crossKeyCases[i]));

    xmlRelaxNGFreeValidCtxt(valid);
    xmlRelaxNGFree(schema);
    xmlRelaxNGFreeParserCtxt(parser);
}


/* Found by tests/fuzz: libxml2 quotes bad bytes, and edits may carry some. */
static void
test_messages_are_utf8(void **state G_GNUC_UNUSED)
{
    g_autoptr(GHashTable) changes = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) eerr = NULL;
    HbConfig defaults;
    HbConfig cfg;
    char *result;

    hbConfigInitDefaults(&defaults);
    assert_int_equal(hbConfigParseMetadata("<hea\xff\xff\xfertbeat>b", &defaults, &cfg, &err),
                     -1);
    assert_true(g_utf8_validate(err->message, -1, NULL));

    g_hash_table_insert(changes, (char *) "act\x97ion", (char *) "none");
    result = hbConfigEditMetadata(NULL, changes, &defaults, &eerr);
    assert_null(result);
    assert_true(g_utf8_validate(eerr->message, -1, NULL));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_effective_ping_timeout),
        cmocka_unit_test(test_maintenance),
        cmocka_unit_test(test_maintenance_limits),
        cmocka_unit_test(test_edit),
        cmocka_unit_test(test_examples_validate),
        cmocka_unit_test(test_messages_are_utf8),
    };

    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
