/*
 * The D-Bus API and the real virt-heartbeat CLI against the daemon's code
 * running in this process on a private bus, with libvirt's test driver.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <json-glib/json-glib.h>
#include <libvirt-glib/libvirt-glib.h>

#include "fake-probe.h"
#include "hb-dbus.h"
#include "test-util.h"

#define CLI TOP_BUILDDIR "/src/virt-heartbeat"
#define FAST "time='2' rate='4' boot_grace='0' failure_interval='1' failure_attempts='2'"

static GTestDBus *testBus;
static GDBusConnection *bus;

typedef struct {
    virConnectPtr conn;
    HbMonitor *monitor;
    HbDBus *dbus;
    guint owner;
    gboolean owned;
} Daemon;

typedef struct {
    GSubprocess *proc;
    gboolean done;
    char *out;
    char *err;
    int status;
} Run;


static void
runDone(GObject *source, GAsyncResult *res, gpointer data)
{
    Run *run = data;
    g_autoptr(GError) err = NULL;

    if (!g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), res, &run->out,
                                              &run->err, &err))
        fail_msg("%s", err->message);
    run->status = g_subprocess_get_exit_status(G_SUBPROCESS(source));
    run->done = TRUE;
}


static gboolean
condRunDone(gpointer data)
{
    return ((Run *) data)->done;
}


/* Run the CLI while this process keeps serving the bus; returns its exit status. */
static int
cli(char **out, const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    Run run = { 0 };
    const char *arg;
    va_list ap;

    g_ptr_array_add(argv, (char *) CLI);
    va_start(ap, first);
    for (arg = first; arg; arg = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *) arg);
    va_end(ap);
    g_ptr_array_add(argv, NULL);

    run.proc = g_subprocess_newv((const char *const *) argv->pdata,
                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                 &err);
    assert_non_null(run.proc);
    g_subprocess_communicate_utf8_async(run.proc, NULL, NULL, runDone, &run);
    assert_true(testWaitFor(condRunDone, &run, 30));
    if (run.err && run.err[0])
        g_printerr("[cli %s: %s]", first, run.err);
    g_free(run.err);
    g_object_unref(run.proc);
    if (out)
        *out = run.out;
    else
        g_free(run.out);
    return run.status;
}


static void
onAcquired(GDBusConnection *c, const char *name, gpointer data)
{
    Daemon *d = data;

    d->owned = TRUE;
    hbMonitorStart(d->monitor);
}


static gboolean
condReady(gpointer data)
{
    Daemon *d = data;

    return d->owned && hbMonitorIsConnected(d->monitor);
}


static int
setup(void **state)
{
    Daemon *d = g_new0(Daemon, 1);
    g_autoptr(GError) err = NULL;
    HbDaemonConf conf;

    hbDaemonConfInit(&conf);
    g_free(conf.uri);
    conf.uri = g_strdup(TEST_URI);
    g_free(conf.state_dir);
    conf.state_dir = g_strdup("");
    fakeProbeReset();
    d->conn = virConnectOpen(TEST_URI);
    d->monitor = hbMonitorNew(&conf, fakeProbePing, NULL);
    d->dbus = hbDBusNew(bus, d->monitor, conf.uri, &err);
    assert_non_null(d->dbus);
    d->owner = g_bus_own_name_on_connection(bus, HB_DBUS_NAME,
                                            G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                            onAcquired, NULL, d, NULL);
    assert_true(testWaitFor(condReady, d, 10));
    hbDaemonConfClear(&conf);
    *state = d;
    return 0;
}


static gboolean
condNameGone(gpointer data)
{
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
        "NameHasOwner", g_variant_new("(s)", HB_DBUS_NAME), G_VARIANT_TYPE("(b)"),
        G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
    gboolean owned = TRUE;

    if (reply)
        g_variant_get(reply, "(b)", &owned);
    return !owned;
}


static int
teardown(void **state)
{
    Daemon *d = *state;

    g_bus_unown_name(d->owner);
    assert_true(testWaitFor(condNameGone, NULL, 10));
    hbDBusFree(d->dbus);
    hbMonitorFree(d->monitor);
    testDomainRemove(d->conn, "hb-dbus");
    virConnectClose(d->conn);
    g_free(d);
    return 0;
}


static gboolean
condStateIs(gpointer data)
{
    const char **want = data;
    Daemon *d = (Daemon *) want[2];
    HbDomain *dom = hbMonitorLookup(d->monitor, want[0]);

    return dom && g_str_equal(hbStateToString(hbDomainState(dom)), want[1]);
}


static void
waitState(Daemon *d, const char *name, const char *state)
{
    const char *want[] = { name, state, (const char *) d };

    if (!testWaitFor(condStateIs, want, 30))
        fail_msg("%s never reached state %s", name, state);
}


static JsonObject *
parseObject(JsonParser *parser, const char *text)
{
    g_autoptr(GError) err = NULL;

    if (!json_parser_load_from_data(parser, text, -1, &err))
        fail_msg("not JSON: %s (%s)", text, err->message);
    assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
    return json_node_get_object(json_parser_get_root(parser));
}


typedef struct {
    GVariant *reply;
    GError *error;
    gboolean done;
} Call;


static void
callDone(GObject *source, GAsyncResult *res, gpointer data)
{
    Call *c = data;

    c->reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &c->error);
    c->done = TRUE;
}


static gboolean
condCallDone(gpointer data)
{
    return ((Call *) data)->done;
}


/* A Manager1 method called over the bus, the daemon's loop running meanwhile. */
static void
callManager(Call *c, const char *method, GVariant *args)
{
    *c = (Call) { 0 };
    g_dbus_connection_call(bus, HB_DBUS_NAME, HB_DBUS_PATH, "org.virt_heartbeat.Manager1",
                           method, args, NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL,
                           callDone, c);
    assert_true(testWaitFor(condCallDone, c, 15));
}


static void
callClear(Call *c)
{
    g_clear_pointer(&c->reply, g_variant_unref);
    g_clear_error(&c->error);
}


/* ListDomains and the lookups return paths and leave the domains alone. */
static void
test_manager_methods(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = hbDBusDomainPath(uuid);
    g_autofree const char **paths = NULL;
    const char *got;
    Call c;

    waitState(d, "hb-dbus", "ok");
    for (int i = 0; i < 3; i++) {
        callManager(&c, "ListDomains", NULL);
        assert_null(c.error);
        g_variant_get(c.reply, "(^a&o)", &paths);
        assert_int_equal(g_strv_length((char **) paths), 1);
        assert_string_equal(paths[0], path);
        g_clear_pointer(&paths, g_free);
        callClear(&c);
    }
    callManager(&c, "LookupByName", g_variant_new("(s)", "hb-dbus"));
    assert_null(c.error);
    g_variant_get(c.reply, "(&o)", &got);
    assert_string_equal(got, path);
    callClear(&c);
    callManager(&c, "LookupByUUID", g_variant_new("(s)", uuid));
    assert_null(c.error);
    g_variant_get(c.reply, "(&o)", &got);
    assert_string_equal(got, path);
    callClear(&c);
    callManager(&c, "LookupByName", g_variant_new("(s)", "no-such-domain"));
    assert_true(g_dbus_error_is_remote_error(c.error));
    assert_true(g_error_matches(c.error, HB_ERROR, HB_ERROR_VM_UNKNOWN));
    callClear(&c);
    callManager(&c, "LookupByUUID", g_variant_new("(s)", ""));
    assert_true(g_error_matches(c.error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT));
    callClear(&c);
    /* The domain objects are intact after all that. */
    waitState(d, "hb-dbus", "ok");
    assert_string_equal(hbDomainName(hbMonitorLookup(d->monitor, "hb-dbus")), "hb-dbus");
}


static void
test_status_list_json(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *upper = g_ascii_strup(uuid, -1);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autofree char *out = NULL;
    g_autofree char *list = NULL;
    g_autofree char *yes = NULL;
    g_autofree char *pct = NULL;
    JsonObject *obj;
    JsonArray *array;

    waitState(d, "hb-dbus", "ok");
    assert_int_equal(cli(&out, "status", "hb-dbus", "--json", NULL), 0);
    obj = parseObject(parser, out);
    assert_string_equal(json_object_get_string_member(obj, "name"), "hb-dbus");
    assert_string_equal(json_object_get_string_member(obj, "uuid"), uuid);
    assert_string_equal(json_object_get_string_member(obj, "state"), "ok");
    assert_true(json_object_get_boolean_member(obj, "is_heartbeating"));
    assert_int_equal(json_object_get_int_member(obj, "heartbeat_percentage"), 100);
    assert_int_equal(json_object_get_int_member(obj, "restart_attempts"), 0);
    assert_int_equal(json_object_get_int_member(
        json_object_get_object_member(obj, "config"), "time"), 2);

    /* By UUID too, in any case. */
    g_clear_pointer(&out, g_free);
    assert_int_equal(cli(&out, "status", upper, NULL), 0);
    assert_non_null(strstr(out, "State:                ok"));

    assert_int_equal(cli(&list, "list", "--json", NULL), 0);
    assert_true(json_parser_load_from_data(parser, list, -1, NULL));
    array = json_node_get_array(json_parser_get_root(parser));
    assert_int_equal(json_array_get_length(array), 1);
    assert_string_equal(json_object_get_string_member(
        json_array_get_object_element(array, 0), "name"), "hb-dbus");

    assert_int_equal(cli(&yes, "is-heartbeating", "hb-dbus", NULL), 0);
    assert_string_equal(yes, "yes\n");
    assert_int_equal(cli(&pct, "percentage", "hb-dbus", NULL), 0);
    assert_string_equal(pct, "100\n");
}


typedef struct {
    GString *out;
    guint lines;
    GDataInputStream *in;
    gboolean eof;
} Lines;


static void
onLine(GObject *source, GAsyncResult *res, gpointer data)
{
    Lines *l = data;
    g_autofree char *line = g_data_input_stream_read_line_finish_utf8(
        G_DATA_INPUT_STREAM(source), res, NULL, NULL);

    if (!line) {
        l->eof = TRUE;
        return;
    }
    g_string_append_printf(l->out, "%s\n", line);
    l->lines++;
    g_data_input_stream_read_line_async(l->in, G_PRIORITY_DEFAULT, NULL, onLine, l);
}


static gboolean
condEventsSeen(gpointer data)
{
    Lines *l = data;

    return strstr(l->out->str, "\"restart-attempt\"") != NULL;
}


/* A StateChanged of our own for @uuid, until the events CLI prints one. */
static gboolean
emitProbe(gpointer data)
{
    g_dbus_connection_emit_signal(bus, NULL, HB_DBUS_PATH, "org.virt_heartbeat.Manager1",
                                  "StateChanged",
                                  g_variant_new("(sss)", "hb-dbus", (const char *) data, "probe"),
                                  NULL);
    return G_SOURCE_CONTINUE;
}


static gboolean
condProbed(gpointer data)
{
    return strstr(((Lines *) data)->out->str, "\"probe\"") != NULL;
}


static gboolean
condEof(gpointer data)
{
    return ((Lines *) data)->eof;
}


static void
test_events_json(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autoptr(GError) err = NULL;
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_auto(GStrv) lines = NULL;
    g_autofree char *no = NULL;
    Lines l = { .out = g_string_new(NULL) };
    gboolean saw_stopped = FALSE, saw_attempt = FALSE;
    guint probe;

    waitState(d, "hb-dbus", "ok");
    proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err,
                            CLI, "events", "hb-dbus", "--json", NULL);
    assert_non_null(proc);
    l.in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(proc));
    g_data_input_stream_read_line_async(l.in, G_PRIORITY_DEFAULT, NULL, onLine, &l);
    /* Whatever its start takes (valgrind): go on once it hears signals. */
    probe = g_timeout_add(200, emitProbe, uuid);
    assert_true(testWaitFor(condProbed, &l, 60));
    g_source_remove(probe);

    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    assert_true(testWaitFor(condEventsSeen, &l, 30));

    lines = g_strsplit(l.out->str, "\n", -1);
    for (guint i = 0; lines[i] && lines[i][0]; i++) {
        JsonObject *ev = parseObject(parser, lines[i]);
        const char *kind = json_object_get_string_member(ev, "event");

        assert_string_equal(json_object_get_string_member(ev, "domain"), "hb-dbus");
        assert_string_equal(json_object_get_string_member(ev, "uuid"), uuid);
        assert_true(g_str_has_suffix(json_object_get_string_member(ev, "time"), "Z"));
        if (g_str_equal(kind, "heartbeat-stopped"))
            saw_stopped = TRUE;
        if (g_str_equal(kind, "restart-attempt")) {
            assert_true(saw_stopped);
            assert_int_equal(json_object_get_int_member(ev, "attempt"), 1);
            assert_int_equal(json_object_get_int_member(ev, "max"), 2);
            assert_string_equal(json_object_get_string_member(ev, "action"), "reset");
            assert_string_equal(json_object_get_string_member(ev, "result"), "ok");
            saw_attempt = TRUE;
        }
    }
    assert_true(saw_stopped && saw_attempt);

    assert_int_equal(cli(&no, "is-heartbeating", "hb-dbus", NULL), 1);
    assert_string_equal(no, "no\n");

    g_subprocess_send_signal(proc, SIGINT);
    /* The pending read refers to this frame: let it finish first. */
    assert_true(testWaitFor(condEof, &l, 10));
    assert_true(g_subprocess_wait(proc, NULL, NULL));
    assert_int_equal(g_subprocess_get_exit_status(proc), 0);
    g_object_unref(l.in);
    g_string_free(l.out, TRUE);
}


static void
test_rearm(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);

    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitState(d, "hb-dbus", "failed");
    fakeProbeSet(uuid, FAKE_AGENT_OK);
    assert_int_equal(cli(NULL, "rearm", "hb-dbus", NULL), 0);
    waitState(d, "hb-dbus", "ok");
}


static void
test_errors(void **state)
{
    assert_int_equal(cli(NULL, "status", "no-such-domain", NULL), 3);
    assert_int_equal(cli(NULL, "is-heartbeating", "no-such-domain", NULL), 3);
    assert_int_equal(cli(NULL, "rearm", "no-such-domain", NULL), 3);
    assert_int_equal(cli(NULL, "status", NULL), 2);
    assert_int_equal(cli(NULL, "frobnicate", NULL), 2);
    assert_int_equal(cli(NULL, "rearm", "x", "--json", NULL), 2);
    assert_int_equal(cli(NULL, "status", "x", "--time", "5", NULL), 2);
    assert_int_equal(cli(NULL, NULL), 2);
}


static gboolean
condTimeIs4(gpointer data)
{
    Daemon *d = data;
    HbDomain *dom = hbMonitorLookup(d->monitor, "hb-dbus");

    return dom && hbDomainConfig(dom)->time == 4 && hbDomainConfig(dom)->time_sync;
}


/* What the test driver can show of the guest OS interface; the agent side
 * runs against real guests in the end-to-end suite. */
static void
test_guest_os_interface(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autoptr(virDomain) bare = testDomainStart(d->conn, "hb-bare", FALSE, FAST);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autofree char *info = NULL;
    g_autofree char *again = NULL;
    g_autofree char *already = NULL;
    JsonObject *obj;

    waitState(d, "hb-dbus", "ok");
    waitState(d, "hb-bare", "no-agent");
    assert_int_equal(cli(&info, "info", "hb-dbus", "--json", NULL), 0);
    obj = parseObject(parser, info);
    assert_string_equal(json_object_get_string_member(obj, "state"), "ok");
    assert_false(json_object_get_boolean_member(obj, "is_host_time_sync_enabled"));
    assert_false(json_object_get_boolean_member(obj, "can_shutdown"));
    assert_true(json_object_has_member(obj, "additions_version"));
    assert_true(json_object_has_member(obj, "os_name"));

    /* SetParameter and SetHostTimeSync edit the metadata; the daemon follows. */
    assert_int_equal(cli(NULL, "set-parameter", "hb-dbus", "time", "4", "--live", NULL), 0);
    assert_int_equal(cli(NULL, "time-sync", "hb-dbus", "on", NULL), 0);
    assert_true(testWaitFor(condTimeIs4, d, 10));
    assert_int_equal(cli(&again, "info", "hb-dbus", "--json", NULL), 0);
    obj = parseObject(parser, again);
    assert_true(json_object_get_boolean_member(obj, "is_host_time_sync_enabled"));

    /* The seed's error codes. */
    assert_int_equal(cli(NULL, "set-parameter", "hb-dbus", "time", "1", NULL), 2);
    assert_int_equal(cli(NULL, "set-parameter", "hb-dbus", "speed", "1", NULL), 2);
    assert_int_equal(cli(NULL, "time-sync", "hb-dbus", "maybe", NULL), 2);
    assert_int_equal(cli(NULL, "shutdown", "hb-bare", NULL), 5);
    assert_int_equal(cli(NULL, "exec", "hb-bare", "--", "/bin/true", NULL), 5);
    assert_int_equal(cli(NULL, "exec", "hb-dbus", NULL), 2);
    assert_int_equal(cli(NULL, "exec", "hb-dbus", "--", NULL), 2);
    assert_int_equal(cli(NULL, "shutdown", "no-such-domain", NULL), 3);
    assert_int_equal(virDomainDestroy(dom), 0);
    waitState(d, "hb-dbus", "not-running");
    assert_int_equal(cli(NULL, "shutdown", "hb-dbus", NULL), 4);
    assert_int_equal(cli(NULL, "exec", "hb-dbus", "--", "/bin/true", NULL), 4);

    /* InstallAdditions says so when the channel is there. */
    assert_int_equal(cli(&already, "install-agent", "hb-dbus", NULL), 0);
    assert_non_null(strstr(already, "already has a guest agent channel"));
    testDomainRemove(d->conn, "hb-bare");
}


static void
test_daemon_not_running(void **state)
{
    g_autofree char *saved = g_strdup(g_getenv("DBUS_SYSTEM_BUS_ADDRESS"));

    /* The bus is up but nobody owns the name. */
    assert_int_equal(cli(NULL, "list", NULL), 6);
    assert_int_equal(cli(NULL, "status", "x", NULL), 6);
    assert_int_equal(cli(NULL, "events", NULL), 6);
    /* No bus at all. */
    g_setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus", TRUE);
    assert_int_equal(cli(NULL, "list", NULL), 6);
    g_setenv("DBUS_SYSTEM_BUS_ADDRESS", saved, TRUE);
}


static void
test_config_command(void **state)
{
    g_autofree char *uri = g_strdup_printf("test://%s/data/cli-driver.xml", TEST_SRCDIR);
    g_autofree char *shown = NULL;
    g_autofree char *set = NULL;
    g_autofree char *none = NULL;

    assert_int_equal(cli(&shown, "config", "cli-running", "-c", uri, NULL), 0);
    assert_non_null(strstr(shown, "time=\"30\""));
    assert_int_equal(cli(&set, "config", "cli-running", "-c", uri, "--live",
                         "--time", "4", "--unset", "action", NULL), 0);
    assert_non_null(strstr(set, "time=\"4\""));
    assert_null(strstr(set, "action"));
    assert_int_equal(cli(&none, "config", "cli-off", "-c", uri, NULL), 0);
    assert_non_null(strstr(none, "no <heartbeat/> metadata"));
    assert_int_equal(cli(NULL, "config", "cli-running", "-c", uri, "--time", "1", NULL), 2);
    assert_int_equal(cli(NULL, "config", "cli-running", "-c", uri, "--action", "boom", NULL), 2);
    assert_int_equal(cli(NULL, "config", "cli-running", "-c", uri, "--unset", "speed", NULL), 2);
    assert_int_equal(cli(NULL, "config", "no-such", "-c", uri, "--time", "5", NULL), 3);
}


static int
groupSetup(void **state)
{
    testBus = g_test_dbus_new(G_TEST_DBUS_NONE);
    g_test_dbus_up(testBus);
    /* The daemon and the CLI use the system bus: make it this private one. */
    g_setenv("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address(testBus), TRUE);
    bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, NULL);
    assert_non_null(bus);
    return 0;
}


static int
groupTeardown(void **state)
{
    g_object_unref(bus);
    g_test_dbus_down(testBus);
    g_object_unref(testBus);
    return 0;
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daemon_not_running),
        cmocka_unit_test(test_config_command),
        cmocka_unit_test_setup_teardown(test_manager_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_list_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rearm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_os_interface, setup, teardown),
    };

    hbUtilInitLibvirt();
    gvir_event_register();
    return cmocka_run_group_tests_name("dbus", tests, groupSetup, groupTeardown);
}
