/*
 * The heartbeat events as structured log records (hb-log.h): the fields of
 * each kind, read back from the writer the daemon installs, first from
 * hbLogEvent alone, then from a domain the monitor drives through every
 * event on libvirt's test driver. Every record is also handed on to GLib's
 * default writer, so that journal_test.sh reads the same run back from a
 * real journald. "log_test --ids" prints each kind and its MESSAGE_ID;
 * "log_test --emit" logs one event as the daemon would, for
 * test_stderr_utf8.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <libvirt-glib/libvirt-glib.h>

#include "fake-probe.h"
#include "hb-log.h"
#include "hb-util.h"
#include "test-util.h"

/* Not ASCII, and not a shell word: the name journal_test.sh looks for. */
#define NAME "w\xc3\xa9" "b-\xe2\x98\x83"
/* test_event_fields' domain: not NAME, whose records in the journal are the monitor's. */
#define FIELDS "fields-\xe2\x98\x83"
#define FAST "time='2' rate='4' boot_grace='0' failure_interval='1' failure_attempts='2'"

/* Every record with a MESSAGE_ID, as its fields (key -> value), oldest first. */
static GPtrArray *records;
static const char *self;    /* argv[0] */


static GLogWriterOutput
captureRecord(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
              gpointer user_data)
{
    GHashTable *record = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    for (gsize i = 0; i < n_fields; i++) {
        gsize len = fields[i].length < 0 ? strlen(fields[i].value) : (gsize) fields[i].length;

        /* A key twice would be a bug: the journal would keep both values. */
        assert_false(g_hash_table_contains(record, fields[i].key));
        g_hash_table_insert(record, g_strdup(fields[i].key), g_strndup(fields[i].value, len));
    }
    if (g_hash_table_contains(record, "MESSAGE_ID"))
        g_ptr_array_add(records, record);
    else
        g_hash_table_unref(record);
    return g_log_writer_default(level, fields, n_fields, user_data);
}


/* The @nth (from 0) record of @event; NULL if there are fewer. */
static GHashTable *
findRecord(HbLogEvent event, guint nth)
{
    for (guint i = 0; i < records->len; i++) {
        GHashTable *record = records->pdata[i];

        if (g_str_equal(g_hash_table_lookup(record, "MESSAGE_ID"), hbLogEventId(event)) &&
            nth-- == 0)
            return record;
    }
    return NULL;
}


/* The value of @key in @record, which must have it. */
static const char *
field(GHashTable *record, const char *key)
{
    const char *value = g_hash_table_lookup(record, key);

    if (!value)
        fail_msg("no field %s in the record of \"%s\"", key,
                 (char *) g_hash_table_lookup(record, "MESSAGE"));
    return value;
}


static void
assertNoField(GHashTable *record, const char *key)
{
    if (g_hash_table_contains(record, key))
        fail_msg("field %s=%s in the record of \"%s\"", key,
                 (char *) g_hash_table_lookup(record, key),
                 (char *) g_hash_table_lookup(record, "MESSAGE"));
}


/*
 * Each kind has its own ID: 128 bits as 32 lower-case hex digits, as
 * journald wants, and listed in virt-heartbeatd(8).
 */
static void
test_ids(void **state G_GNUC_UNUSED)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *man = NULL;

    assert_true(g_file_get_contents(TOP_SRCDIR "/man/virt-heartbeatd.8", &man, NULL, NULL));
    for (HbLogEvent event = 0; event < HB_LOG_LAST; event++) {
        const char *id = hbLogEventId(event);
        g_autofree char *listed = g_strdup_printf("\n.B %s\n", id);

        if (!strstr(man, listed))
            fail_msg("the ID of %s, %s, is not in virt-heartbeatd(8)",
                     hbLogEventToString(event), id);
        assert_int_equal(strlen(id), 32);
        assert_int_equal(strspn(id, "0123456789abcdef"), 32);
        assert_true(g_hash_table_add(seen, (gpointer) id));
        assert_int_equal(hbLogEventFromString(hbLogEventToString(event)), event);
    }
}


/* The fields an event has, and no others; the writer escapes what a name can carry. */
static void
test_event_fields(void **state G_GNUC_UNUSED)
{
    HbLogDetails details = { .attempt = 2, .action = "reset", .result = "ok" };
    GHashTable *record;

    g_ptr_array_set_size(records, 0);
    hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_MESSAGE, FIELDS, "u-1", &details,
               "Domain '%s': restart attempt %u: %s", FIELDS, 2, "reset");
    hbLogEvent(HB_LOG_STOPPED, G_LOG_LEVEL_WARNING, "evil\n** Message: x\\", "u-2", NULL,
               "Domain '%s': heartbeat stopped", "evil\n** Message: x\\");
    assert_int_equal(records->len, 2);

    record = findRecord(HB_LOG_ATTEMPT, 0);
    assert_string_equal(field(record, "MESSAGE"), "Domain '" FIELDS "': restart attempt 2: reset");
    assert_string_equal(field(record, "PRIORITY"), "5");
    assert_string_equal(field(record, "MESSAGE_ID"), "626a636b440543b59bdee99088b54cef");
    assert_string_equal(field(record, "VIRT_HEARTBEAT_DOMAIN"), FIELDS);
    assert_string_equal(field(record, "VIRT_HEARTBEAT_UUID"), "u-1");
    assert_string_equal(field(record, "VIRT_HEARTBEAT_ATTEMPT"), "2");
    assert_string_equal(field(record, "VIRT_HEARTBEAT_ACTION"), "reset");
    assert_string_equal(field(record, "VIRT_HEARTBEAT_RESULT"), "ok");
    /* No G_LOG_DOMAIN here, so none, as g_message() gives none. */
    assertNoField(record, "GLIB_DOMAIN");

    record = findRecord(HB_LOG_STOPPED, 0);
    assert_string_equal(field(record, "PRIORITY"), "4");
    assert_string_equal(field(record, "MESSAGE"),
                        "Domain 'evil\\x0a** Message: x\\\\': heartbeat stopped");
    assert_string_equal(field(record, "VIRT_HEARTBEAT_DOMAIN"), "evil\\x0a** Message: x\\\\");
    assertNoField(record, "VIRT_HEARTBEAT_ATTEMPT");
    assertNoField(record, "VIRT_HEARTBEAT_ACTION");
    assertNoField(record, "VIRT_HEARTBEAT_RESULT");
}


/*
 * On stderr, under the C locale (ASCII) or none at all, the line keeps a
 * non-ASCII name intact: GLib's writer prints the locale's charset, "w?b"
 * before hbLogInit made it UTF-8.
 */
static void
test_stderr_utf8(void **state G_GNUC_UNUSED)
{
    const char *argv[] = { self, "--emit", NULL };
    const char *locales[] = { NULL, "C", "POSIX" };

    for (gsize i = 0; i < G_N_ELEMENTS(locales); i++) {
        g_auto(GStrv) env = g_get_environ();
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;
        g_autoptr(GError) error = NULL;
        int status;

        env = g_environ_unsetenv(env, "LANG");
        env = g_environ_unsetenv(env, "LANGUAGE");
        env = g_environ_unsetenv(env, "LC_CTYPE");
        env = g_environ_unsetenv(env, "LC_ALL");
        if (locales[i])
            env = g_environ_setenv(env, "LC_ALL", locales[i], TRUE);
        assert_true(g_spawn_sync(NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL,
                                 &out, &err, &status, &error));
        assert_true(g_spawn_check_wait_status(status, NULL));
        if (!g_str_has_prefix(err, "** Message: ") ||
            !strstr(err, ": Domain '" NAME "': heartbeat resumed\n"))
            fail_msg("LC_ALL=%s: stderr is \"%s\"", locales[i] ? locales[i] : "(unset)", err);
    }
}


typedef struct {
    HbLogEvent event;
    guint count;
} Want;


static gboolean
condRecords(gpointer data)
{
    const Want *want = data;

    return findRecord(want->event, want->count - 1) != NULL;
}


static void
waitRecords(HbLogEvent event, guint count)
{
    Want want = { event, count };

    if (!testWaitFor(condRecords, &want, 30))
        fail_msg("waited for %u records of %s", count, hbLogEventToString(event));
}


/* The record of @event number @nth has the domain's name and UUID, and @message in its text. */
static GHashTable *
assertRecord(HbLogEvent event, guint nth, const char *uuid, const char *message)
{
    GHashTable *record = findRecord(event, nth);

    if (!record)
        fail_msg("no record %u of %s", nth, hbLogEventToString(event));
    assert_string_equal(field(record, "VIRT_HEARTBEAT_DOMAIN"), NAME);
    assert_string_equal(field(record, "VIRT_HEARTBEAT_UUID"), uuid);
    if (!strstr(field(record, "MESSAGE"), message))
        fail_msg("\"%s\" is not in \"%s\"", message, field(record, "MESSAGE"));
    return record;
}


static void
assertAttempt(guint nth, const char *uuid, const char *attempt, const char *result)
{
    GHashTable *record = assertRecord(HB_LOG_ATTEMPT, nth, uuid, "restart attempt ");

    assert_string_equal(field(record, "VIRT_HEARTBEAT_ATTEMPT"), attempt);
    assert_string_equal(field(record, "VIRT_HEARTBEAT_ACTION"), "reset");
    assert_string_equal(field(record, "VIRT_HEARTBEAT_RESULT"), result);
}


/*
 * A domain through every event the monitor logs: stopped, two attempts
 * (each decided, then done), exhausted, resumed, stopped again past its
 * storm cap of one episode, and invalid metadata.
 */
static void
test_monitor_events(void **state G_GNUC_UNUSED)
{
    g_auto(HbDaemonConf) conf = { 0 };
    virConnectPtr conn = virConnectOpen(TEST_URI);
    g_autoptr(virDomain) dom = testDomainStart(conn, NAME, TRUE, FAST " max_episodes='1'");
    g_autofree char *uuid = testDomainUUID(dom);
    HbMonitor *monitor;

    fakeProbeReset();
    hbDaemonConfInit(&conf);
    /* Never the host's own cluster. */
    g_free(conf.cluster_tools);
    conf.cluster_tools = g_strdup("");
    g_free(conf.uri);
    conf.uri = g_strdup(TEST_URI);
    g_free(conf.state_dir);
    conf.state_dir = g_strdup("");
    monitor = hbMonitorNew(&conf, fakeProbePing);
    hbMonitorStart(monitor);
    g_ptr_array_set_size(records, 0);

    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitRecords(HB_LOG_EXHAUSTED, 1);
    fakeProbeSet(uuid, FAKE_AGENT_OK);
    waitRecords(HB_LOG_RESUMED, 1);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitRecords(HB_LOG_STORM_CAP, 1);
    assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                          "<heartbeat time='1'/>", "hb", HB_METADATA_URI,
                                          VIR_DOMAIN_AFFECT_LIVE), 0);
    waitRecords(HB_LOG_CONFIG_ERROR, 1);

    assertRecord(HB_LOG_STOPPED, 0, uuid, "heartbeat stopped");
    assertNoField(findRecord(HB_LOG_STOPPED, 0), "VIRT_HEARTBEAT_ATTEMPT");
    assertAttempt(0, uuid, "1", "decided");
    assertAttempt(1, uuid, "1", "ok");
    assertAttempt(2, uuid, "2", "decided");
    assertAttempt(3, uuid, "2", "ok");
    assert_string_equal(field(assertRecord(HB_LOG_EXHAUSTED, 0, uuid, "2 restart attempts made"),
                              "VIRT_HEARTBEAT_ATTEMPT"), "2");
    assertRecord(HB_LOG_RESUMED, 0, uuid, "heartbeat resumed");
    assertRecord(HB_LOG_STOPPED, 1, uuid, "heartbeat stopped");
    assertRecord(HB_LOG_STORM_CAP, 0, uuid, "storm cap reached (1 episodes");
    /* The storm cap takes no action: no attempt after the second stop. */
    assert_null(findRecord(HB_LOG_ATTEMPT, 4));
    assertRecord(HB_LOG_CONFIG_ERROR, 0, uuid, "invalid heartbeat metadata");
    assert_null(findRecord(HB_LOG_RESUMED, 1));

    hbMonitorFree(monitor);
    testDomainRemove(conn, NAME);
    virConnectClose(conn);
}


int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_event_fields),
        cmocka_unit_test(test_stderr_utf8),
        cmocka_unit_test(test_monitor_events),
    };

    if (argc == 2 && g_str_equal(argv[1], "--ids")) {
        for (HbLogEvent event = 0; event < HB_LOG_LAST; event++)
            printf("%s %s\n", hbLogEventToString(event), hbLogEventId(event));
        return 0;
    }
    if (argc == 2 && g_str_equal(argv[1], "--emit")) {
        hbLogInit(NULL);
        hbLogEvent(HB_LOG_RESUMED, G_LOG_LEVEL_MESSAGE, NAME, "u-1", NULL,
                   "Domain '%s': heartbeat resumed", NAME);
        return 0;
    }
    self = argv[0];
    /* The daemon's logging, records captured after its writer. */
    hbLogInit(captureRecord);
    records = g_ptr_array_new_with_free_func((GDestroyNotify) g_hash_table_unref);
    hbUtilInitLibvirt();
    gvir_event_register();
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
