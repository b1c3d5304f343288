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

#include <sys/stat.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <libvirt-glib/libvirt-glib.h>

#include "fake-probe.h"
#include "hb-dbus.h"
#include "test-util.h"

#define CLI TOP_BUILDDIR "/src/virt-heartbeat"
#define FAST "time='2' rate='4' boot_grace='0' failure_interval='1' failure_attempts='2'"

static GTestDBus *testBus;
static GDBusConnection *bus;
/* The daemon's state_dir; NULL: none. */
static char *stateDir;

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
onAcquired(GDBusConnection *c G_GNUC_UNUSED, const char *name G_GNUC_UNUSED, gpointer data)
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


/* The daemon in this process; @default_time: its [defaults] time (0: as built). */
static int
daemonStart(void **state, guint default_time)
{
    Daemon *d = g_new0(Daemon, 1);
    g_autoptr(GError) err = NULL;
    g_auto(HbDaemonConf) conf = { 0 };

    hbDaemonConfInit(&conf);
    /* Never the host's own cluster. */
    g_free(conf.cluster_tools);
    conf.cluster_tools = g_strdup("");
    if (default_time)
        conf.defaults.time = default_time;
    g_free(conf.uri);
    conf.uri = g_strdup(TEST_URI);
    g_free(conf.state_dir);
    conf.state_dir = g_strdup(stateDir ? stateDir : "");
    fakeProbeReset();
    d->conn = virConnectOpen(TEST_URI);
    d->monitor = hbMonitorNew(&conf, fakeProbePing);
    d->dbus = hbDBusNew(bus, d->monitor, conf.uri, &err);
    assert_non_null(d->dbus);
    d->owner = g_bus_own_name_on_connection(bus, HB_DBUS_NAME,
                                            G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                            onAcquired, NULL, d, NULL);
    assert_true(testWaitFor(condReady, d, 10));
    *state = d;
    return 0;
}


static int
setup(void **state)
{
    return daemonStart(state, 0);
}


/* [defaults] time=5: at most 50 ticks per block where a domain sets no time. */
static int
setupTime5(void **state)
{
    return daemonStart(state, 5);
}


static gboolean
condNameGone(gpointer data G_GNUC_UNUSED)
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


/* Any method called over the bus, the daemon's loop running meanwhile. */
static void
callRaw(Call *c, const char *path, const char *iface, const char *method, GVariant *args)
{
    *c = (Call) { 0 };
    g_dbus_connection_call(bus, HB_DBUS_NAME, path, iface, method, args, NULL,
                           G_DBUS_CALL_FLAGS_NONE, 20000, NULL, callDone, c);
    assert_true(testWaitFor(condCallDone, c, 25));
}


static void
callManager(Call *c, const char *method, GVariant *args)
{
    callRaw(c, HB_DBUS_PATH, "org.virt_heartbeat.Manager1", method, args);
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
    callManager(&c, "ListDomainSummaries", NULL);
    assert_null(c.error);
    {
        g_autoptr(GVariant) rows = g_variant_get_child_value(c.reply, 0);
        const char *name, *got_uuid, *got_state;
        gboolean heartbeating;
        guint percentage, attempts;

        assert_int_equal(g_variant_n_children(rows), 1);
        g_variant_get_child(rows, 0, "(&o&s&s&sbuu)", &got, &name, &got_uuid, &got_state,
                            &heartbeating, &percentage, &attempts);
        assert_string_equal(got, path);
        assert_string_equal(name, "hb-dbus");
        assert_string_equal(got_uuid, uuid);
        assert_string_equal(got_state, "ok");
        assert_true(heartbeating);
        assert_int_equal(attempts, 0);
    }
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
    assert_true(json_object_get_null_member(obj, "last_attempt"));
    assert_int_equal(json_object_get_int_member(
        json_object_get_object_member(obj, "config"), "time"), 2);
    /* No heartbeat stopped yet: no verdict, no evidence. */
    assert_string_equal(json_object_get_string_member(obj, "verdict"), "unknown");
    assert_true(json_object_get_null_member(obj, "evidence"));
    assert_string_equal(json_object_get_string_member(
        json_object_get_object_member(obj, "config"), "confirm"), "none");

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
    /* A cluster's monitor, the UUID of the config file as libvirt also takes it. */
    {
        g_autofree char *dir = g_dir_make_tmp("hb-ocf-XXXXXX", NULL);
        g_autofree char *config = g_build_filename(dir, "vm.xml", NULL);
        g_auto(GStrv) parts = g_strsplit(upper, "-", -1);
        g_autofree char *bare = g_strjoinv("", parts);
        g_autofree char *xml = g_strdup_printf("<domain><name>other</name><uuid> %s </uuid>"
                                               "</domain>", bare);
        g_autofree char *cluster = NULL;

        assert_true(g_file_set_contents(config, xml, -1, NULL));
        g_setenv("OCF_RESKEY_config", config, TRUE);
        assert_int_equal(cli(&cluster, "is-heartbeating", "--cluster", NULL), 0);
        assert_string_equal(cluster, "yes\n");
        g_unsetenv("OCF_RESKEY_config");
        g_unlink(config);
        g_rmdir(dir);
    }
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
    g_autofree char *status = NULL;
    const char *last;
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
        if (g_str_equal(kind, "heartbeat-stopped")) {
            /* The test driver reads no counters: judged, but not known. */
            assert_string_equal(json_object_get_string_member(ev, "verdict"), "unknown");
            assert_true(g_str_has_prefix(json_object_get_string_member(ev, "evidence"),
                                         "no tick "));
            assert_non_null(strstr(json_object_get_string_member(ev, "evidence"),
                                   "stats not available -> unknown"));
            saw_stopped = TRUE;
        }
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
    assert_int_equal(cli(&status, "status", "hb-dbus", "--json", NULL), 0);
    last = json_object_get_string_member(parseObject(parser, status), "last_attempt");
    if (!last || !g_str_has_suffix(last, " reset: ok"))
        fail_msg("last_attempt: %s", last ? last : "null");

    /* The verdict stays in the status, text and JSON. */
    {
        g_autofree char *text = NULL;
        g_autofree char *json = NULL;
        JsonObject *obj;

        assert_int_equal(cli(&text, "status", "hb-dbus", NULL), 0);
        assert_non_null(strstr(text, "Verdict:              unknown\n"));
        assert_non_null(strstr(text, "Evidence:             no tick "));
        assert_int_equal(cli(&json, "status", "hb-dbus", "--json", NULL), 0);
        obj = parseObject(parser, json);
        assert_string_equal(json_object_get_string_member(obj, "verdict"), "unknown");
        assert_non_null(strstr(json_object_get_string_member(obj, "evidence"),
                               "stats not available"));
    }

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


static gboolean
condLine(gpointer data)
{
    gpointer *args = data;

    return strstr(((Lines *) args[0])->out->str, args[1]) != NULL;
}


/* The line of @l's output that holds @text; the caller frees it. */
static char *
lineWith(Lines *l, const char *text)
{
    gpointer args[] = { l, (gpointer) text };
    g_auto(GStrv) lines = NULL;

    if (!testWaitFor(condLine, args, 30))
        fail_msg("no '%s' in: %s", text, l->out->str);
    lines = g_strsplit(l->out->str, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (strstr(lines[i], text))
            return g_strdup(lines[i]);
    }
    g_assert_not_reached();
}


/* A property of Manager1, read with Get. */
static GVariant *
managerProperty(const char *name)
{
    GVariant *value = NULL;
    Call c;

    callRaw(&c, HB_DBUS_PATH, "org.freedesktop.DBus.Properties", "Get",
            g_variant_new("(ss)", "org.virt_heartbeat.Manager1", name));
    assert_null(c.error);
    g_variant_get(c.reply, "(v)", &value);
    callClear(&c);
    return value;
}


static void
assertHost(const char *state, gboolean hold)
{
    g_autoptr(GVariant) state_value = managerProperty("HostState");
    g_autoptr(GVariant) hold_value = managerProperty("HostHold");

    assert_string_equal(g_variant_get_string(state_value, NULL), state);
    assert_int_equal(g_variant_get_boolean(hold_value), hold);
}


/*
 * The host-wide breaker on D-Bus: HostSuspected and HostCleared, shown by
 * the events CLI without a domain, the HostState and HostHold properties,
 * and the host line of status.
 */
static void
test_host_signals(void **state)
{
    Daemon *d = *state;
    g_autoptr(GError) err = NULL;
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autofree char *suspected = NULL;
    g_autofree char *cleared = NULL;
    g_autofree char *status = NULL;
    g_autofree char *text = NULL;
    Lines l = { .out = g_string_new(NULL) };
    char *uuids[5];
    JsonObject *ev;
    guint probe;

    for (guint i = 0; i < 5; i++) {
        g_autofree char *name = g_strdup_printf("hb-host%u", i);
        g_autoptr(virDomain) dom = testDomainStart(d->conn, name, TRUE, FAST);

        uuids[i] = testDomainUUID(dom);
        waitState(d, name, "ok");
    }
    assertHost("closed", FALSE);
    /* Asked about one domain, it shows the host's events too. */
    proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err,
                            CLI, "events", "hb-host4", "--json", NULL);
    assert_non_null(proc);
    l.in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(proc));
    g_data_input_stream_read_line_async(l.in, G_PRIORITY_DEFAULT, NULL, onLine, &l);
    probe = g_timeout_add(200, emitProbe, uuids[4]);
    assert_true(testWaitFor(condProbed, &l, 60));
    g_source_remove(probe);

    for (guint i = 0; i < 4; i++)
        fakeProbeSet(uuids[i], FAKE_AGENT_MISS);
    suspected = lineWith(&l, "\"host-suspected\"");
    ev = parseObject(parser, suspected);
    assert_false(json_object_has_member(ev, "domain"));
    assert_int_equal(json_object_get_int_member(ev, "stopped"), 4);
    assert_int_equal(json_object_get_int_member(ev, "watched"), 5);
    assert_true(g_str_has_prefix(json_object_get_string_member(ev, "reason"),
                                 "4 of 5 watched guests stopped within 2 s"));
    assertHost("holding", TRUE);
    assert_int_equal(cli(&status, "status", "hb-host0", "--json", NULL), 0);
    ev = parseObject(parser, status);
    assert_string_equal(json_object_get_string_member(ev, "host_state"), "holding");
    assert_int_equal(cli(&text, "status", "hb-host4", NULL), 0);
    assert_non_null(strstr(text, "\nHost:                 holding (host suspected: "
                           "restart attempts held)\n"));

    for (guint i = 0; i < 4; i++)
        fakeProbeSet(uuids[i], FAKE_AGENT_OK);
    cleared = lineWith(&l, "\"host-cleared\"");
    ev = parseObject(parser, cleared);
    assert_true(g_str_has_prefix(json_object_get_string_member(ev, "reason"), "guests back"));
    assertHost("closed", FALSE);
    /* Held, never made: no attempt in the events. */
    assert_null(strstr(l.out->str, "\"restart-attempt\""));

    g_subprocess_send_signal(proc, SIGINT);
    assert_true(testWaitFor(condEof, &l, 10));
    assert_true(g_subprocess_wait(proc, NULL, NULL));
    g_object_unref(l.in);
    g_string_free(l.out, TRUE);
    for (guint i = 0; i < 5; i++) {
        g_autofree char *name = g_strdup_printf("hb-host%u", i);

        testDomainRemove(d->conn, name);
        g_free(uuids[i]);
    }
}


typedef struct {
    Daemon *d;
    const char *name;
    guint64 pings;
} SuppressWait;


static gboolean
condSuppressed(gpointer data)
{
    SuppressWait *w = data;
    HbDomain *dom = hbMonitorLookup(w->d->monitor, w->name);

    return dom && hbDomainPings(dom, HB_PING_SUPPRESSED) >= w->pings;
}


/* Misses under a domain job: no verdict for blocks on end, and shown as such. */
static void
test_suppressed(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autofree char *out = NULL;
    g_autofree char *text = NULL;
    g_autofree char *after = NULL;
    SuppressWait w = { d, "hb-dbus", 12 };
    JsonObject *obj;

    waitState(d, "hb-dbus", "ok");
    assert_int_equal(cli(&out, "status", "hb-dbus", "--json", NULL), 0);
    obj = parseObject(parser, out);
    assert_true(json_object_get_null_member(obj, "suppressed"));
    assert_true(json_object_get_null_member(obj, "suppressed_since"));
    assert_int_equal(json_object_get_int_member(obj, "pings_suppressed"), 0);

    /* 12 pings at 4 a block of 2 s: three blocks of failed pings. */
    fakeProbeSet(uuid, FAKE_AGENT_MISS_IN_JOB);
    assert_true(testWaitFor(condSuppressed, &w, 30));
    g_clear_pointer(&out, g_free);
    assert_int_equal(cli(&out, "status", "hb-dbus", "--json", NULL), 0);
    obj = parseObject(parser, out);
    assert_string_equal(json_object_get_string_member(obj, "state"), "ok");
    assert_int_equal(json_object_get_int_member(obj, "restart_attempts"), 0);
    assert_int_equal(json_object_get_int_member(obj, "pings_missed"), 0);
    assert_true(json_object_get_int_member(obj, "pings_suppressed") >= 12);
    assert_string_equal(json_object_get_string_member(obj, "suppressed"), "domain job: dump");
    assert_true(g_str_has_suffix(json_object_get_string_member(obj, "suppressed_since"), "Z"));
    assert_int_equal(cli(&text, "status", "hb-dbus", NULL), 0);
    assert_non_null(strstr(text, "\nSuppressed:           domain job: dump\n"));
    assert_non_null(strstr(text, "\nSuppressed since:     "));

    /* The job is over and the guest still does not answer: judged again. */
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitState(d, "hb-dbus", "failed");
    assert_int_equal(cli(&after, "status", "hb-dbus", NULL), 0);
    assert_null(strstr(after, "Suppressed"));
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


/* The value of the line of `virt-heartbeat stats` that starts with @metric and a space. */
static guint64
statsValue(const char *out, const char *metric)
{
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    g_autofree char *prefix = g_strconcat(metric, " ", NULL);

    for (char **l = lines; *l; l++) {
        if (g_str_has_prefix(*l, prefix))
            return g_ascii_strtoull(*l + strlen(prefix), NULL, 10);
    }
    fail_msg("no %s in:\n%s", metric, out);
    return 0;
}


static gboolean
condMissed(gpointer data)
{
    return hbDomainPings(data, HB_PING_MISS) > 0;
}


/* The figures count what the daemon saw, and the CLI prints them. */
static void
test_stats(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *out = NULL;
    HbDomain *hd;
    guint64 ticks, sent;

    waitState(d, "hb-dbus", "ok");
    hd = hbMonitorLookup(d->monitor, "hb-dbus");
    assert_int_equal(cli(&out, "stats", NULL), 0);
    assert_int_equal(statsValue(out, "virt_heartbeat_domains{state=\"ok\"}"), 1);
    assert_int_equal(statsValue(out, "virt_heartbeat_domains{state=\"failed\"}"), 0);
    ticks = statsValue(out, "virt_heartbeat_pings_total{result=\"tick\"}");
    assert_true(ticks >= 1);
    assert_int_equal(statsValue(out, "virt_heartbeat_pings_total{result=\"miss\"}"), 0);
    /* Every ping answered was sent, and is in both histograms once. */
    sent = statsValue(out, "virt_heartbeat_ping_rtt_seconds_count");
    assert_int_equal(sent, ticks);
    assert_int_equal(statsValue(out, "virt_heartbeat_ping_rtt_seconds_bucket{le=\"+Inf\"}"),
                     sent);
    assert_int_equal(statsValue(out, "virt_heartbeat_ping_lateness_seconds_count"), sent);
    g_clear_pointer(&out, g_free);

    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    assert_true(testWaitFor(condMissed, hd, 30));
    assert_int_equal(cli(&out, "stats", NULL), 0);
    assert_int_equal(statsValue(out, "virt_heartbeat_pings_total{result=\"miss\"}"),
                     hbDomainPings(hd, HB_PING_MISS));
    assert_true(statsValue(out, "virt_heartbeat_pings_total{result=\"tick\"}") >= ticks);

    /* No argument, no option. */
    assert_int_equal(cli(NULL, "stats", "hb-dbus", NULL), 2);
    assert_int_equal(cli(NULL, "stats", "--json", NULL), 2);
}


static void
onPropertiesChanged(GDBusConnection *c G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
                    const char *path G_GNUC_UNUSED, const char *iface G_GNUC_UNUSED,
                    const char *signal G_GNUC_UNUSED, GVariant *params G_GNUC_UNUSED,
                    gpointer data)
{
    (*(guint *) data)++;
}


typedef struct {
    HbDomain *dom;
    guint64 ticks;
} Ticks;


static gboolean
condTicks(gpointer data)
{
    Ticks *t = data;

    return hbDomainPings(t->dom, HB_PING_TICK) >= t->ticks;
}


static gboolean
condFull(gpointer data)
{
    return hbDomainPercentage(data) == 100;
}


static gboolean
condSignalled(gpointer data)
{
    return *(guint *) data > 0;
}


/* A healthy domain's ticks send no signal: the bus pays for changes only. */
static void
test_quiet_when_healthy(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = hbDBusDomainPath(uuid);
    g_autoptr(GError) err = NULL;
    g_autoptr(GDBusConnection) listener = NULL;
    g_autoptr(GVariant) pong = NULL;
    guint changed = 0, sub;
    Ticks t;

    waitState(d, "hb-dbus", "ok");
    t.dom = hbMonitorLookup(d->monitor, "hb-dbus");
    assert_true(testWaitFor(condFull, t.dom, 30));
    listener = g_dbus_connection_new_for_address_sync(
        g_test_dbus_get_bus_address(testBus),
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &err);
    assert_non_null(listener);
    sub = g_dbus_connection_signal_subscribe(listener, NULL, "org.freedesktop.DBus.Properties",
                                             "PropertiesChanged", path, NULL,
                                             G_DBUS_SIGNAL_FLAGS_NONE, onPropertiesChanged,
                                             &changed, NULL);
    /* The match rule is in place once a call after it came back. */
    pong = g_dbus_connection_call_sync(listener, HB_DBUS_NAME, HB_DBUS_PATH,
                                       "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
    assert_non_null(pong);
    /* What the skeleton had queued before (the change to ok) goes out first. */
    testSpin(100);
    changed = 0;
    t.ticks = hbDomainPings(t.dom, HB_PING_TICK) + 8;
    assert_true(testWaitFor(condTicks, &t, 30));
    testSpin(200);
    assert_int_equal(changed, 0);

    /* And a change does send one, to this listener. */
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    assert_true(testWaitFor(condSignalled, &changed, 30));
    g_dbus_connection_signal_unsubscribe(listener, sub);
}


static void
test_errors(void **state G_GNUC_UNUSED)
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
    g_autoptr(virDomain) bare G_GNUC_UNUSED = testDomainStart(d->conn, "hb-bare", FALSE, FAST);
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

    /* Virtual PC / Virtual Server's error codes, as the CLI's exit statuses. */
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
test_daemon_not_running(void **state G_GNUC_UNUSED)
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


/*
 * A cluster's monitor whose config file cannot be read, or not by GMarkup
 * (Latin-1, a FIFO that would never end), gives no verdict: a failed
 * monitor would have the cluster recover a healthy guest.
 */
static void
test_cluster_monitor_config(void **state G_GNUC_UNUSED)
{
    g_autofree char *dir = g_dir_make_tmp("hb-ocf-XXXXXX", NULL);
    g_autofree char *latin1 = g_build_filename(dir, "latin1.xml", NULL);
    g_autofree char *fifo = g_build_filename(dir, "fifo.xml", NULL);
    g_autofree char *good = g_build_filename(dir, "good.xml", NULL);
    const char *paths[] = { latin1, fifo, "/nonexistent/vm.xml" };
    g_autofree char *out = NULL;

    assert_true(g_file_set_contents(latin1, "<?xml version='1.0' encoding='ISO-8859-1'?>\n"
                                    "<domain><name>vm1</name><description>caf\xe9"
                                    "</description></domain>", -1, NULL));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_true(g_file_set_contents(good, "<domain><name>no-such-vm</name></domain>", -1,
                                    NULL));
    for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
        g_setenv("OCF_RESKEY_config", paths[i], TRUE);
        assert_int_equal(cli(&out, "is-heartbeating", "--cluster", NULL), 0);
        assert_string_equal(out, "unknown\n");
        g_clear_pointer(&out, g_free);
    }
    /* Readable, a domain the daemon does not know (it does not run here). */
    g_setenv("OCF_RESKEY_config", good, TRUE);
    assert_int_equal(cli(&out, "is-heartbeating", "--cluster", NULL), 0);
    assert_string_equal(out, "unknown\n");
    g_clear_pointer(&out, g_free);
    g_unsetenv("OCF_RESKEY_config");
    assert_int_equal(cli(NULL, "is-heartbeating", "--cluster", NULL), 2);
    /* A bus that takes the connection and never answers: no verdict, in time. */
    {
        g_autofree char *sock_path = g_build_filename(dir, "bus", NULL);
        g_autofree char *address = g_strdup_printf("unix:path=%s", sock_path);
        g_autofree char *saved = g_strdup(g_getenv("DBUS_SYSTEM_BUS_ADDRESS"));
        g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(sock_path);
        g_autoptr(GSocket) sock = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                               G_SOCKET_PROTOCOL_DEFAULT, NULL);
        gint64 start = g_get_monotonic_time();

        assert_true(g_socket_bind(sock, addr, TRUE, NULL));
        assert_true(g_socket_listen(sock, NULL));
        g_setenv("DBUS_SYSTEM_BUS_ADDRESS", address, TRUE);
        assert_int_equal(cli(&out, "is-heartbeating", "--cluster", "vm1", NULL), 0);
        assert_string_equal(out, "unknown\n");
        assert_true(g_get_monotonic_time() - start < 20 * G_USEC_PER_SEC);
        g_clear_pointer(&out, g_free);
        g_setenv("DBUS_SYSTEM_BUS_ADDRESS", saved, TRUE);
        g_unlink(sock_path);
    }
    g_unlink(latin1);
    g_unlink(fifo);
    g_unlink(good);
    g_rmdir(dir);
}


/*
 * The config command edits through the daemon, also a domain it does not
 * watch, and the daemon checks the edit against its own [defaults], here
 * time=5: --rate 60 would be valid with the built-in time=60.
 */
static void
test_config_command(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) running G_GNUC_UNUSED = testDomainStart(d->conn, "cli-running", TRUE,
                                                   "time='30' action='none'");
    g_autoptr(virDomain) off = testDomainStart(d->conn, "cli-off", TRUE, NULL);
    g_autofree char *shown = NULL;
    g_autofree char *set = NULL;
    g_autofree char *none = NULL;
    g_autofree char *rate = NULL;

    assert_int_equal(cli(&shown, "config", "cli-running", NULL), 0);
    assert_non_null(strstr(shown, "time=\"30\""));
    assert_int_equal(cli(&set, "config", "cli-running", "-c", TEST_URI, "--live",
                         "--time", "4", "--unset", "action", NULL), 0);
    assert_non_null(strstr(set, "time=\"4\""));
    assert_null(strstr(set, "action"));
    assert_int_equal(cli(&none, "config", "cli-off", NULL), 0);
    assert_non_null(strstr(none, "no <heartbeat/> metadata"));
    assert_int_equal(cli(NULL, "config", "cli-running", "--time", "1", NULL), 2);
    assert_int_equal(cli(NULL, "config", "cli-running", "--action", "boom", NULL), 2);
    /* confirm: the CLI passes it on, the daemon checks it. */
    assert_int_equal(cli(NULL, "config", "cli-running", "--confirm", "always", NULL), 2);
    {
        g_autofree char *confirm = NULL;

        assert_int_equal(cli(&confirm, "config", "cli-running", "--live", "--confirm",
                             "activity", NULL), 0);
        assert_non_null(strstr(confirm, "confirm=\"activity\""));
    }
    assert_int_equal(cli(NULL, "config", "cli-running", "--unset", "speed", NULL), 2);
    assert_int_equal(cli(NULL, "config", "no-such", "--time", "5", NULL), 3);
    /* The daemon edits through its own connection, and no other. */
    assert_int_equal(cli(NULL, "config", "cli-running", "-c", "test:///other", NULL), 2);
    /* Its [defaults], not the CLI's. */
    assert_int_equal(cli(NULL, "config", "cli-off", "--rate", "60", NULL), 2);
    assert_int_equal(cli(&rate, "config", "cli-off", "--rate", "50", NULL), 0);
    assert_non_null(strstr(rate, "rate=\"50\""));
    /* set-parameter too, on a domain the daemon did not watch. */
    testDomainRemove(d->conn, "cli-off");
    g_clear_pointer(&off, virDomainFree);
    off = testDomainStart(d->conn, "cli-off", TRUE, NULL);
    assert_int_equal(cli(NULL, "set-parameter", "cli-off", "rate", "60", NULL), 2);
    assert_int_equal(cli(NULL, "set-parameter", "cli-off", "rate", "50", NULL), 0);
    testDomainRemove(d->conn, "cli-running");
    testDomainRemove(d->conn, "cli-off");
}


/*
 * Every method and property of the API, with good and bad input. Each call
 * must end in a success or in the named error, and the daemon must answer
 * afterwards.
 */
#define MANAGER1 "org.virt_heartbeat.Manager1"
#define DOMAIN1 "org.virt_heartbeat.Domain1"
#define PROPERTIES "org.freedesktop.DBus.Properties"
#define E_INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"
#define E_UNKNOWN_METHOD "org.freedesktop.DBus.Error.UnknownMethod"
#define E_UNKNOWN_OBJECT "org.freedesktop.DBus.Error.UnknownObject"
#define E_HB "org.virt_heartbeat.Error."
#define HUGE (4 * 1024 * 1024)
/* Domain1's properties: the 18 of the first release, Suppressed,
 * SuppressedSince, PingsSuppressed, Verdict, Evidence, LastAttempt,
 * MaintenanceUntil. */
#define DOMAIN1_PROPERTIES 25


static gboolean
condTimeSyncOn(gpointer data)
{
    HbDomain *dom = hbMonitorLookup(((Daemon *) data)->monitor, "hb-dbus");

    return dom && hbDomainConfig(dom)->time_sync;
}


static gboolean
condTime4(gpointer data)
{
    HbDomain *dom = hbMonitorLookup(((Daemon *) data)->monitor, "hb-dbus");

    return dom && hbDomainConfig(dom)->time == 4;
}


static gboolean
condGone(gpointer data)
{
    gpointer *args = data;

    return hbMonitorLookup(((Daemon *) args[0])->monitor, args[1]) == NULL;
}


static char *
hugeString(gsize size)
{
    char *s = g_malloc(size + 1);

    memset(s, 'k', size);
    s[size] = '\0';
    return s;
}


/* The daemon still serves the bus from its main loop. */
static void
assertAlive(void)
{
    g_autoptr(GVariant) connected = NULL;
    Call c;

    callManager(&c, "ListDomains", NULL);
    if (c.error)
        fail_msg("the daemon no longer answers: %s", c.error->message);
    callClear(&c);
    callRaw(&c, HB_DBUS_PATH, PROPERTIES, "Get", g_variant_new("(ss)", MANAGER1, "Connected"));
    assert_null(c.error);
    g_variant_get(c.reply, "(v)", &connected);
    assert_true(g_variant_get_boolean(connected));
    callClear(&c);
}


/*
 * Call @method with @args (floating, consumed) and want @error, or success
 * when NULL; returns the reply then. An error must be short, valid UTF-8
 * without control characters, whatever the input was.
 */
static GVariant *
apiCall(const char *path, const char *iface, const char *method, GVariant *args,
        const char *error)
{
    g_autofree char *remote = NULL;
    GVariant *reply;
    Call c;

    callRaw(&c, path, iface, method, args);
    if (!error) {
        if (c.error)
            fail_msg("%s.%s on %.80s: %s", iface, method, path, c.error->message);
        reply = g_steal_pointer(&c.reply);
        assertAlive();
        return reply;
    }
    if (!c.error)
        fail_msg("%s.%s on %.80s: want %s, got success", iface, method, path, error);
    remote = g_dbus_error_get_remote_error(c.error);
    if (g_strcmp0(remote, error) != 0)
        fail_msg("%s.%s on %.80s: want %s, got %.300s", iface, method, path, error,
                 c.error->message);
    if (strlen(c.error->message) > 512 || !g_utf8_validate(c.error->message, -1, NULL))
        fail_msg("%s.%s: an error of %zu bytes", iface, method, strlen(c.error->message));
    for (const char *p = c.error->message; *p; p++) {
        if ((guchar) *p < 0x20 || *p == 0x7f)
            fail_msg("%s.%s: a control character in '%s'", iface, method, c.error->message);
    }
    callClear(&c);
    assertAlive();
    return NULL;
}


/* The error message of a call that must fail with @error. */
static char *
apiError(const char *path, const char *iface, const char *method, GVariant *args,
         const char *error)
{
    g_autofree char *message = NULL;
    Call c;

    /* Checked by apiCall first, then called again for the text. */
    g_variant_ref_sink(args);
    assert_null(apiCall(path, iface, method, args, error));
    callRaw(&c, path, iface, method, args);
    g_variant_unref(args);
    message = g_strdup(c.error->message);
    callClear(&c);
    return g_steal_pointer(&message);
}


static void
test_api_manager(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *upper = g_ascii_strup(uuid, -1);
    g_autofree char *huge = hugeString(HUGE);
    g_autoptr(GVariant) list = NULL;
    g_autoptr(GVariant) all = NULL;
    g_autoptr(GVariant) uri = NULL;
    g_autoptr(GVariant) value = NULL;
    g_autoptr(GVariant) props = NULL;
    g_autoptr(GPtrArray) many = g_ptr_array_new();
    g_autofree char *echo = NULL;
    g_autofree char *escaped = NULL;
    g_autofree char *notuuid = NULL;

    waitState(d, "hb-dbus", "ok");
    for (guint i = 0; i < 100000; i++)
        g_ptr_array_add(many, (char *) "x");
    g_ptr_array_add(many, NULL);

    list = apiCall(HB_DBUS_PATH, MANAGER1, "ListDomains", NULL, NULL);
    assert_true(g_variant_is_of_type(list, G_VARIANT_TYPE("(ao)")));
    apiCall(HB_DBUS_PATH, MANAGER1, "ListDomains", g_variant_new("(s)", "x"), E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, MANAGER1, "ListDomains",
            g_variant_new("(^as)", (char **) many->pdata), E_INVALID_ARGS);

    g_variant_unref(apiCall(HB_DBUS_PATH, MANAGER1, "LookupByName",
                            g_variant_new("(s)", "hb-dbus"), NULL));
    apiCall(HB_DBUS_PATH, MANAGER1, "LookupByName", g_variant_new("(s)", ""),
            E_HB "InvalidArgument");
    apiCall(HB_DBUS_PATH, MANAGER1, "LookupByName", g_variant_new("(i)", 1), E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, MANAGER1, "LookupByName", g_variant_new("(ss)", "a", "b"),
            E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, MANAGER1, "LookupByName", NULL, E_INVALID_ARGS);
    /* A multi-megabyte key is quoted in 64 characters and an ellipsis. */
    echo = apiError(HB_DBUS_PATH, MANAGER1, "LookupByName", g_variant_new("(s)", huge),
                    E_HB "VMUnknown");
    assert_non_null(strstr(echo, "'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
                                 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\u2026'"));
    /* Control, bidi and quote characters come back escaped. */
    escaped = apiError(HB_DBUS_PATH, MANAGER1, "LookupByName",
                       g_variant_new("(s)", "a\nb\x1b[2J\u202e'\\"), E_HB "VMUnknown");
    assert_non_null(strstr(escaped, "'a\\nb\\x1b[2J\\u202e\\'\\\\'"));

    g_variant_unref(apiCall(HB_DBUS_PATH, MANAGER1, "LookupByUUID",
                            g_variant_new("(s)", uuid), NULL));
    g_variant_unref(apiCall(HB_DBUS_PATH, MANAGER1, "LookupByUUID",
                            g_variant_new("(s)", upper), NULL));
    apiCall(HB_DBUS_PATH, MANAGER1, "LookupByUUID", g_variant_new("(s)", ""),
            E_HB "InvalidArgument");
    apiCall(HB_DBUS_PATH, MANAGER1, "LookupByUUID", g_variant_new("(s)", "hb-dbus"),
            E_HB "InvalidArgument");
    apiCall(HB_DBUS_PATH, MANAGER1, "LookupByUUID",
            g_variant_new("(s)", "00000000-0000-4000-8000-000000000000"), E_HB "VMUnknown");
    notuuid = apiError(HB_DBUS_PATH, MANAGER1, "LookupByUUID", g_variant_new("(s)", huge),
                       E_HB "InvalidArgument");
    assert_non_null(strstr(notuuid, "k\u2026'"));
    apiCall(HB_DBUS_PATH, MANAGER1, "LookupByUUID", g_variant_new("(u)", 7), E_INVALID_ARGS);

    apiCall(HB_DBUS_PATH, MANAGER1, "Frobnicate", NULL, E_UNKNOWN_METHOD);
    apiCall(HB_DBUS_PATH, "org.virt_heartbeat.Nope1", "ListDomains", NULL, E_UNKNOWN_METHOD);

    /* The properties: read-only, each of its type. */
    uri = apiCall(HB_DBUS_PATH, PROPERTIES, "Get", g_variant_new("(ss)", MANAGER1, "URI"), NULL);
    g_variant_get(uri, "(v)", &value);
    assert_string_equal(g_variant_get_string(value, NULL), TEST_URI);
    all = apiCall(HB_DBUS_PATH, PROPERTIES, "GetAll", g_variant_new("(s)", MANAGER1), NULL);
    g_variant_get(all, "(@a{sv})", &props);
    /* Connected, URI, HostState, HostHold, MaintenanceUntil */
    assert_int_equal(g_variant_n_children(props), 5);
    apiCall(HB_DBUS_PATH, PROPERTIES, "Set",
            g_variant_new("(ssv)", MANAGER1, "URI", g_variant_new_string("qemu:///x")),
            E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, PROPERTIES, "Set",
            g_variant_new("(ssv)", MANAGER1, "HostHold", g_variant_new_boolean(FALSE)),
            E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, PROPERTIES, "Set",
            g_variant_new("(ssv)", MANAGER1, "Connected", g_variant_new_uint32(0)),
            E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, PROPERTIES, "Get", g_variant_new("(ss)", MANAGER1, "Nope"),
            E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, PROPERTIES, "Get", g_variant_new("(ss)", DOMAIN1, "Name"),
            E_INVALID_ARGS);
    /* GDBus answers a standard method with the wrong signature so. */
    apiCall(HB_DBUS_PATH, PROPERTIES, "Get", g_variant_new("(s)", MANAGER1), E_UNKNOWN_METHOD);
    apiCall(HB_DBUS_PATH, PROPERTIES, "Get", g_variant_new("(ss)", MANAGER1, huge),
            E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, PROPERTIES, "Get", g_variant_new("(ss)", huge, "URI"), E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, PROPERTIES, "GetAll", g_variant_new("(s)", huge), E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, PROPERTIES, "Set",
            g_variant_new("(ssv)", MANAGER1, huge, g_variant_new_string(huge)), E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, PROPERTIES, "GetAll", g_variant_new("(s)", ""), E_INVALID_ARGS);
}


/* How many properties Domain1's introspection data lists. */
static guint
domain1PropertyCount(void)
{
    GDBusInterfaceInfo *info = hb_dbus_domain1_interface_info();
    guint n = 0;

    while (info->properties[n])
        n++;
    return n;
}


/* Every Domain1 property, as the introspection data lists them. */
static void
test_api_domain_properties(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = hbDBusDomainPath(uuid);
    GDBusInterfaceInfo *info = hb_dbus_domain1_interface_info();
    g_autoptr(GVariant) all = NULL;
    g_autoptr(GVariant) props = NULL;
    guint n = 0;

    waitState(d, "hb-dbus", "ok");
    for (GDBusPropertyInfo **p = info->properties; *p; p++, n++) {
        g_autoptr(GVariant) reply = apiCall(path, PROPERTIES, "Get",
                                            g_variant_new("(ss)", DOMAIN1, (*p)->name), NULL);
        g_autoptr(GVariant) value = NULL;

        g_variant_get(reply, "(v)", &value);
        if (!g_variant_is_of_type(value, G_VARIANT_TYPE((*p)->signature)))
            fail_msg("%s is %s, not %s", (*p)->name, g_variant_get_type_string(value),
                     (*p)->signature);
        apiCall(path, PROPERTIES, "Set", g_variant_new("(ssv)", DOMAIN1, (*p)->name, value),
                E_INVALID_ARGS);
    }
    assert_int_equal(n, DOMAIN1_PROPERTIES);

    all = apiCall(path, PROPERTIES, "GetAll", g_variant_new("(s)", DOMAIN1), NULL);
    g_variant_get(all, "(@a{sv})", &props);
    assert_int_equal(g_variant_n_children(props), n);
    {
        g_autoptr(GVariantDict) dict = g_variant_dict_new(props);
        g_autoptr(GVariantDict) config = NULL;
        g_autoptr(GVariant) cfg = NULL;
        const char *s;
        guint32 u;
        gboolean b;

        assert_true(g_variant_dict_lookup(dict, "Name", "&s", &s));
        assert_string_equal(s, "hb-dbus");
        assert_true(g_variant_dict_lookup(dict, "UUID", "&s", &s));
        assert_string_equal(s, uuid);
        assert_true(g_variant_dict_lookup(dict, "State", "&s", &s));
        assert_string_equal(s, "ok");
        assert_true(g_variant_dict_lookup(dict, "IsHeartbeating", "b", &b));
        assert_true(b);
        assert_true(g_variant_dict_lookup(dict, "ConfigError", "&s", &s));
        assert_string_equal(s, "");
        assert_true(g_variant_dict_lookup(dict, "CanShutdown", "b", &b));
        assert_false(b);
        cfg = g_variant_dict_lookup_value(dict, "Config", G_VARIANT_TYPE("a{sv}"));
        config = g_variant_dict_new(cfg);
        assert_true(g_variant_dict_lookup(config, "time", "u", &u));
        assert_int_equal(u, 2);
    }
    apiCall(path, PROPERTIES, "Get", g_variant_new("(ss)", DOMAIN1, "name"), E_INVALID_ARGS);
    apiCall(path, PROPERTIES, "Get", g_variant_new("(ss)", MANAGER1, "URI"), E_INVALID_ARGS);
    apiCall(path, PROPERTIES, "Get", g_variant_new("(ss)", DOMAIN1, ""), E_INVALID_ARGS);
    apiCall(path, PROPERTIES, "GetAll", g_variant_new("(i)", 3), E_UNKNOWN_METHOD);
}


static void
test_api_domain_methods(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autoptr(virDomain) bare = testDomainStart(d->conn, "hb-bare", FALSE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = hbDBusDomainPath(uuid);
    g_autofree char *bare_uuid = testDomainUUID(bare);
    g_autofree char *bare_path = hbDBusDomainPath(bare_uuid);
    g_autofree char *huge = hugeString(HUGE);
    g_autoptr(GPtrArray) many = g_ptr_array_new();
    g_autoptr(GVariant) installed = NULL;
    g_autofree char *key_echo = NULL;
    g_autofree char *value_echo = NULL;
    const char *no_args[] = { NULL };
    const char *args[] = { "-c", "exit 0", NULL };
    gboolean already, next_boot;

    waitState(d, "hb-dbus", "ok");
    waitState(d, "hb-bare", "no-agent");
    for (guint i = 0; i < 300000; i++)
        g_ptr_array_add(many, (char *) "argument");
    g_ptr_array_add(many, NULL);

    /* Rearm */
    g_variant_unref(apiCall(path, DOMAIN1, "Rearm", NULL, NULL));
    apiCall(path, DOMAIN1, "Rearm", g_variant_new("(s)", "now"), E_INVALID_ARGS);

    /* SetHostTimeSync */
    g_variant_unref(apiCall(path, DOMAIN1, "SetHostTimeSync", g_variant_new("(b)", TRUE), NULL));
    assert_true(testWaitFor(condTimeSyncOn, d, 10));
    g_variant_unref(apiCall(path, DOMAIN1, "SetHostTimeSync", g_variant_new("(b)", FALSE), NULL));
    apiCall(path, DOMAIN1, "SetHostTimeSync", g_variant_new("(s)", "yes"), E_INVALID_ARGS);
    apiCall(path, DOMAIN1, "SetHostTimeSync", NULL, E_INVALID_ARGS);

    /* Shutdown: the test driver has no agent shutdown, and says that its
     * flag is invalid (VIR_ERR_INVALID_ARG). */
    apiCall(path, DOMAIN1, "Shutdown", NULL, E_HB "InvalidArgument");
    apiCall(bare_path, DOMAIN1, "Shutdown", NULL, E_HB "AgentNotAvailable");
    apiCall(path, DOMAIN1, "Shutdown", g_variant_new("(b)", TRUE), E_INVALID_ARGS);

    /* ExecuteCommand: the test driver has no agent commands at all. */
    apiCall(path, DOMAIN1, "ExecuteCommand", g_variant_new("(s^asu)", "/bin/sh", args, 5),
            E_HB "Failed");
    apiCall(bare_path, DOMAIN1, "ExecuteCommand", g_variant_new("(s^asu)", "/bin/sh", args, 5),
            E_HB "AgentNotAvailable");
    apiCall(path, DOMAIN1, "ExecuteCommand", g_variant_new("(s^asu)", "", no_args, 0),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "ExecuteCommand", g_variant_new("(s^asu)", "/bin/true", no_args, 3601),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "ExecuteCommand",
            g_variant_new("(s^asu)", "/bin/true", no_args, G_MAXUINT32), E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "ExecuteCommand", g_variant_new("(s^asu)", huge, no_args, 0),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "ExecuteCommand",
            g_variant_new("(s^asu)", "/bin/true", (char **) many->pdata, 0),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "ExecuteCommand", g_variant_new("(s^as)", "/bin/true", no_args),
            E_INVALID_ARGS);
    apiCall(path, DOMAIN1, "ExecuteCommand", g_variant_new("(sasi)", "/bin/true", NULL, -1),
            E_INVALID_ARGS);

    /* InstallAdditions: hb-dbus has the channel already. */
    installed = apiCall(path, DOMAIN1, "InstallAdditions", NULL, NULL);
    g_variant_get(installed, "(bb)", &already, &next_boot);
    assert_true(already);
    assert_false(next_boot);
    apiCall(path, DOMAIN1, "InstallAdditions", g_variant_new("(b)", TRUE), E_INVALID_ARGS);

    /* SetParameter */
    g_variant_unref(apiCall(path, DOMAIN1, "SetParameter",
                            g_variant_new("(ssu)", "time", "4", 1), NULL));
    assert_true(testWaitFor(condTime4, d, 10));
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", "speed", "1", 0),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", "", "", 0),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", "time", "", 1),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", "time", "0", 1),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", "time", "4294967296", 1),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", "time", "-1", 1),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", "action", "none' x='1", 1),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", "time", "4", 4),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", "time", "4", G_MAXUINT32),
            E_HB "InvalidArgument");
    key_echo = apiError(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", huge, "1", 0),
                        E_HB "InvalidArgument");
    assert_non_null(strstr(key_echo, "k\u2026'"));
    value_echo = apiError(path, DOMAIN1, "SetParameter",
                          g_variant_new("(ssu)", "time", huge, 1), E_HB "InvalidArgument");
    assert_null(strstr(value_echo, "kkkk"));
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssu)", "time", "4\n\x1b[2J", 1),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "SetParameter", g_variant_new("(ssi)", "time", "4", 1),
            E_INVALID_ARGS);
    apiCall(path, DOMAIN1, "Frobnicate", NULL, E_UNKNOWN_METHOD);
    /* The configuration is still the one set above. */
    assert_int_equal(hbDomainConfig(hbMonitorLookup(d->monitor, "hb-dbus"))->time, 4);

    /* VMNotRunning, and a domain that is gone. */
    assert_int_equal(virDomainDestroy(dom), 0);
    waitState(d, "hb-dbus", "not-running");
    apiCall(path, DOMAIN1, "Shutdown", NULL, E_HB "VMNotRunning");
    apiCall(path, DOMAIN1, "ExecuteCommand", g_variant_new("(s^asu)", "/bin/sh", args, 5),
            E_HB "VMNotRunning");
    testDomainRemove(d->conn, "hb-bare");
    assert_true(testWaitFor(condGone, (gpointer[]) { d, bare_uuid }, 10));
    apiCall(bare_path, DOMAIN1, "Rearm", NULL, E_UNKNOWN_METHOD);
    apiCall(bare_path, PROPERTIES, "Get", g_variant_new("(ss)", DOMAIN1, "Name"),
            E_UNKNOWN_METHOD);
}


/* What the ObjectManager announced last. */
typedef struct {
    GVariant *added;    /* InterfacesAdded's (oa{sa{sv}}) */
    GVariant *removed;  /* InterfacesRemoved's (oas) */
} Managed;


static void
onManaged(GDBusConnection *c G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
          const char *path G_GNUC_UNUSED, const char *iface G_GNUC_UNUSED,
          const char *signal, GVariant *params, gpointer data)
{
    Managed *m = data;
    GVariant **last;

    if (g_str_equal(signal, "InterfacesAdded"))
        last = &m->added;
    else if (g_str_equal(signal, "InterfacesRemoved"))
        last = &m->removed;
    else
        return;
    g_clear_pointer(last, g_variant_unref);
    *last = g_variant_ref(params);
}


static gboolean
condAdded(gpointer data)
{
    return ((Managed *) data)->added != NULL;
}


static gboolean
condRemoved(gpointer data)
{
    return ((Managed *) data)->removed != NULL;
}


/*
 * InterfacesAdded with every Domain1 property when a domain comes, and
 * InterfacesRemoved naming Domain1 when it goes: what keeps a
 * GDBusObjectManagerClient (list --json, events) in step.
 */
static void
test_api_object_manager_signals(void **state)
{
    Daemon *d = *state;
    g_autoptr(GError) err = NULL;
    g_autoptr(GDBusConnection) listener = NULL;
    g_autoptr(GVariant) pong = NULL;
    g_autoptr(GVariant) ifaces = NULL;
    g_autoptr(GVariant) domain1 = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *path = NULL;
    g_autofree const char **names = NULL;
    Managed m = { 0 };
    const char *object;
    const char *name;
    guint sub;

    listener = g_dbus_connection_new_for_address_sync(
        g_test_dbus_get_bus_address(testBus),
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &err);
    assert_non_null(listener);
    sub = g_dbus_connection_signal_subscribe(listener, NULL, "org.freedesktop.DBus.ObjectManager",
                                             NULL, HB_DBUS_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                             onManaged, &m, NULL);
    /* The match rule is in place once a call after it came back. */
    pong = g_dbus_connection_call_sync(listener, HB_DBUS_NAME, HB_DBUS_PATH,
                                       "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
    assert_non_null(pong);

    dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    uuid = testDomainUUID(dom);
    path = hbDBusDomainPath(uuid);
    assert_true(testWaitFor(condAdded, &m, 10));
    g_variant_get(m.added, "(&o@a{sa{sv}})", &object, &ifaces);
    assert_string_equal(object, path);
    assert_int_equal(g_variant_n_children(ifaces), 1);
    domain1 = g_variant_lookup_value(ifaces, DOMAIN1, G_VARIANT_TYPE_VARDICT);
    assert_non_null(domain1);
    assert_int_equal(g_variant_n_children(domain1), domain1PropertyCount());
    assert_true(g_variant_lookup(domain1, "Name", "&s", &name));
    assert_string_equal(name, "hb-dbus");
    assert_true(g_variant_lookup(domain1, "UUID", "&s", &name));
    assert_string_equal(name, uuid);
    assert_null(m.removed);

    testDomainRemove(d->conn, "hb-dbus");
    assert_true(testWaitFor(condRemoved, &m, 10));
    g_variant_get(m.removed, "(&o^a&s)", &object, &names);
    assert_string_equal(object, path);
    assert_int_equal(g_strv_length((char **) names), 1);
    assert_string_equal(names[0], DOMAIN1);
    g_dbus_connection_signal_unsubscribe(listener, sub);
    g_clear_pointer(&m.added, g_variant_unref);
    g_clear_pointer(&m.removed, g_variant_unref);
}


/* Introspectable, Peer, ObjectManager, and paths that are not ours. */
static void
test_api_standard(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = hbDBusDomainPath(uuid);
    g_autofree char *element = hugeString(2 * 1024 * 1024);
    g_autofree char *huge_path = g_strconcat(HB_DBUS_PATH "/", element, NULL);
    g_autoptr(GVariant) root = NULL;
    g_autoptr(GVariant) node = NULL;
    g_autoptr(GVariant) objects = NULL;
    g_autoptr(GVariant) managed = NULL;
    g_autoptr(GVariant) ifaces = NULL;
    g_autoptr(GVariant) domain1 = NULL;
    g_autoptr(GVariant) ping = NULL;
    const char *xml;

    waitState(d, "hb-dbus", "ok");
    root = apiCall(HB_DBUS_PATH, "org.freedesktop.DBus.Introspectable", "Introspect", NULL, NULL);
    g_variant_get(root, "(&s)", &xml);
    assert_non_null(strstr(xml, MANAGER1));
    assert_non_null(strstr(xml, "org.freedesktop.DBus.ObjectManager"));
    node = apiCall(path, "org.freedesktop.DBus.Introspectable", "Introspect", NULL, NULL);
    g_variant_get(node, "(&s)", &xml);
    assert_non_null(strstr(xml, DOMAIN1));
    g_variant_unref(apiCall("/", "org.freedesktop.DBus.Introspectable", "Introspect", NULL, NULL));
    apiCall(HB_DBUS_PATH, "org.freedesktop.DBus.Introspectable", "Introspect",
            g_variant_new("(s)", "x"), E_UNKNOWN_METHOD);

    ping = apiCall(path, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL);
    apiCall(path, "org.freedesktop.DBus.Peer", "Ping", g_variant_new("(s)", "x"),
            E_UNKNOWN_METHOD);

    objects = apiCall(HB_DBUS_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                      NULL, NULL);
    g_variant_get(objects, "(@a{oa{sa{sv}}})", &managed);
    assert_int_equal(g_variant_n_children(managed), 1);
    assert_true(g_variant_lookup(managed, path, "@a{sa{sv}}", &ifaces));
    domain1 = g_variant_lookup_value(ifaces, DOMAIN1, NULL);
    assert_non_null(domain1);
    assert_int_equal(g_variant_n_children(domain1), domain1PropertyCount());
    apiCall(HB_DBUS_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
            g_variant_new("(s)", "x"), E_INVALID_ARGS);
    apiCall(path, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL,
            E_UNKNOWN_METHOD);

    /* Paths that are not ours, from near misses to two megabytes. */
    apiCall(HB_DBUS_PATH "/domain/00000000_0000_0000_0000_000000000000", DOMAIN1, "Rearm", NULL,
            E_UNKNOWN_METHOD);
    apiCall(HB_DBUS_PATH "/domain", DOMAIN1, "Rearm", NULL, E_UNKNOWN_METHOD);
    apiCall("/", MANAGER1, "ListDomains", NULL, E_UNKNOWN_METHOD);
    apiCall(path, MANAGER1, "ListDomains", NULL, E_UNKNOWN_METHOD);
    apiCall(HB_DBUS_PATH, DOMAIN1, "Rearm", NULL, E_UNKNOWN_METHOD);
    apiCall(huge_path, DOMAIN1, "Rearm", NULL, E_UNKNOWN_OBJECT);
    apiCall(huge_path, PROPERTIES, "GetAll", g_variant_new("(s)", DOMAIN1), E_UNKNOWN_OBJECT);
}


typedef struct {
    GDBusMessage *reply;
    gboolean done;
} RawCall;


static void
rawCallDone(GObject *source, GAsyncResult *res, gpointer data)
{
    RawCall *c = data;

    c->reply = g_dbus_connection_send_message_with_reply_finish(G_DBUS_CONNECTION(source), res,
                                                                NULL);
    c->done = TRUE;
}


static gboolean
condRawCallDone(gpointer data)
{
    return ((RawCall *) data)->done;
}


/*
 * @method on @path without an interface, as D-Bus allows and GDBus's
 * proxies never send: want the error @error; the daemon still answers.
 */
static void
apiCallNoInterface(const char *path, const char *method, GVariant *args, const char *error)
{
    g_autoptr(GDBusMessage) msg = g_dbus_message_new_method_call(HB_DBUS_NAME, path, NULL,
                                                                 method);
    g_autoptr(GDBusMessage) reply = NULL;
    RawCall c = { 0 };

    if (args)
        g_dbus_message_set_body(msg, args);
    g_dbus_connection_send_message_with_reply(bus, msg, G_DBUS_SEND_MESSAGE_FLAGS_NONE, 20000,
                                              NULL, NULL, rawCallDone, &c);
    assert_true(testWaitFor(condRawCallDone, &c, 25));
    reply = c.reply;
    if (!reply)
        fail_msg("%s on %s without an interface: no reply", method, path);
    if (g_dbus_message_get_message_type(reply) != G_DBUS_MESSAGE_TYPE_ERROR)
        fail_msg("%s on %s without an interface: want %s, got success", method, path, error);
    if (g_strcmp0(g_dbus_message_get_error_name(reply), error) != 0)
        fail_msg("%s on %s without an interface: want %s, got %s", method, path, error,
                 g_dbus_message_get_error_name(reply));
    assertAlive();
}

/*
 * A hostile caller on the Domain1 subtree: calls without an interface,
 * near-miss paths (upper case, an element more, a removed domain), the
 * wrong interface in Properties, Introspect on every level.
 */
static void
test_api_hostile_subtree(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = hbDBusDomainPath(uuid);
    g_autofree char *upper = g_ascii_strup(path + strlen(HB_DBUS_DOMAINS), -1);
    g_autofree char *upper_path = g_strconcat(HB_DBUS_DOMAINS, upper, NULL);
    g_autofree char *deeper = g_strconcat(path, "/x", NULL);
    /* The domain's own element again, one level deeper: .../domain/x/<uuid>. */
    g_autofree char *nested = g_strconcat(HB_DBUS_DOMAINS "/x", path + strlen(HB_DBUS_DOMAINS),
                                          NULL);
    g_autofree char *twice = g_strconcat(path, path + strlen(HB_DBUS_DOMAINS), NULL);
    g_autoptr(GVariant) list = NULL;
    g_autoptr(GVariant) all = NULL;
    gpointer gone[] = { d, uuid };
    const char *xml;

    waitState(d, "hb-dbus", "ok");

    /* No interface: D-Bus allows it; GDBus must not hand us a NULL name. */
    apiCallNoInterface(path, "Rearm", NULL, E_UNKNOWN_METHOD);
    apiCallNoInterface(HB_DBUS_DOMAINS, "Rearm", NULL, E_UNKNOWN_METHOD);
    apiCallNoInterface(deeper, "Rearm", NULL, E_UNKNOWN_METHOD);
    apiCallNoInterface(path, "Get", g_variant_new("(ss)", DOMAIN1, "Name"), E_UNKNOWN_METHOD);

    /* Near misses of the domain's path. */
    assert_string_not_equal(upper_path, path);
    apiCall(upper_path, DOMAIN1, "Rearm", NULL, E_UNKNOWN_METHOD);
    apiCall(upper_path, PROPERTIES, "GetAll", g_variant_new("(s)", DOMAIN1), E_UNKNOWN_METHOD);
    apiCall(deeper, DOMAIN1, "Rearm", NULL, E_UNKNOWN_METHOD);
    apiCall(deeper, PROPERTIES, "Get", g_variant_new("(ss)", DOMAIN1, "Name"), E_UNKNOWN_METHOD);
    for (const char *const *p = (const char *const []) { nested, twice, NULL }; *p; p++) {
        g_autoptr(GVariant) intro = NULL;

        apiCall(*p, DOMAIN1, "Rearm", NULL, E_UNKNOWN_METHOD);
        apiCall(*p, DOMAIN1, "Shutdown", NULL, E_UNKNOWN_METHOD);
        apiCall(*p, PROPERTIES, "Get", g_variant_new("(ss)", DOMAIN1, "Name"), E_UNKNOWN_METHOD);
        apiCall(*p, PROPERTIES, "GetAll", g_variant_new("(s)", DOMAIN1), E_UNKNOWN_METHOD);
        intro = apiCall(*p, "org.freedesktop.DBus.Introspectable", "Introspect", NULL, NULL);
        g_variant_get(intro, "(&s)", &xml);
        if (strstr(xml, DOMAIN1))
            fail_msg("%s introspects as a domain", *p);
    }

    /* Properties with interfaces the object does not have. */
    apiCall(path, PROPERTIES, "Get", g_variant_new("(ss)", PROPERTIES, "Name"), E_INVALID_ARGS);
    apiCall(path, PROPERTIES, "GetAll", g_variant_new("(s)", ""), E_INVALID_ARGS);
    apiCall(path, PROPERTIES, "GetAll", g_variant_new("(s)", MANAGER1), E_INVALID_ARGS);
    apiCall(path, PROPERTIES, "Set",
            g_variant_new("(ssv)", DOMAIN1, "State", g_variant_new_uint32(3)), E_INVALID_ARGS);
    apiCall(path, PROPERTIES, "Set",
            g_variant_new("(ssv)", DOMAIN1, "Nope", g_variant_new_string("x")), E_INVALID_ARGS);
    apiCall(path, PROPERTIES, "Get", g_variant_new("(s)", DOMAIN1), E_UNKNOWN_METHOD);
    /* The hand-made ObjectManager has no properties: GetManagedObjects never answers these. */
    {
        g_autoptr(GVariant) none = apiCall(
            HB_DBUS_PATH, PROPERTIES, "GetAll",
            g_variant_new("(s)", "org.freedesktop.DBus.ObjectManager"), NULL);

        g_autoptr(GVariant) props = NULL;

        g_variant_get(none, "(@a{sv})", &props);
        assert_int_equal(g_variant_n_children(props), 0);
    }
    apiCall(HB_DBUS_PATH, PROPERTIES, "Get",
            g_variant_new("(ss)", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"),
            E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, PROPERTIES, "Set",
            g_variant_new("(ssv)", "org.freedesktop.DBus.ObjectManager", "x",
                          g_variant_new_string("y")), E_INVALID_ARGS);
    apiCallNoInterface(HB_DBUS_PATH, "GetManagedObjects", g_variant_new("(s)", "x"),
                       E_UNKNOWN_METHOD);

    /* Introspect on every level: the domain node is listed, nothing else. */
    for (const char *const *p = (const char *const []) {
             "/", "/org", "/org/virt_heartbeat", HB_DBUS_PATH, HB_DBUS_DOMAINS, NULL };
         *p; p++) {
        g_autoptr(GVariant) intro = apiCall(*p, "org.freedesktop.DBus.Introspectable",
                                            "Introspect", NULL, NULL);
        g_autoptr(GDBusNodeInfo) info = NULL;

        g_variant_get(intro, "(&s)", &xml);
        info = g_dbus_node_info_new_for_xml(xml, NULL);
        if (!info)
            fail_msg("%s: no valid introspection XML", *p);
    }
    {
        g_autoptr(GVariant) intro = apiCall(HB_DBUS_DOMAINS, "org.freedesktop.DBus.Introspectable",
                                            "Introspect", NULL, NULL);

        g_variant_get(intro, "(&s)", &xml);
        assert_non_null(strstr(xml, path + strlen(HB_DBUS_DOMAINS) + 1));
        assert_null(strstr(xml, DOMAIN1));
    }
    {
        g_autoptr(GVariant) intro = apiCall(upper_path, "org.freedesktop.DBus.Introspectable",
                                            "Introspect", NULL, NULL);

        g_variant_get(intro, "(&s)", &xml);
        assert_null(strstr(xml, DOMAIN1));
    }
    {
        g_autoptr(GVariant) intro = apiCall(deeper, "org.freedesktop.DBus.Introspectable",
                                            "Introspect", NULL, NULL);

        g_variant_get(intro, "(&s)", &xml);
        assert_null(strstr(xml, DOMAIN1));
    }

    /* Gone: every call on its path fails, and GetManagedObjects forgets it. */
    testDomainRemove(d->conn, "hb-dbus");
    assert_true(testWaitFor(condGone, gone, 10));
    apiCall(path, DOMAIN1, "Rearm", NULL, E_UNKNOWN_METHOD);
    apiCall(path, PROPERTIES, "GetAll", g_variant_new("(s)", DOMAIN1), E_UNKNOWN_METHOD);
    apiCall(path, PROPERTIES, "Get", g_variant_new("(ss)", DOMAIN1, "State"), E_UNKNOWN_METHOD);
    all = apiCall(HB_DBUS_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                  NULL, NULL);
    g_variant_get(all, "(@a{oa{sa{sv}}})", &list);
    assert_int_equal(g_variant_n_children(list), 0);
}


/* The Domain1 objects' lifecycle as a client on its own connection sees it. */
typedef struct {
    GHashTable *known;   /* paths InterfacesAdded announced, not yet removed */
    GString *wrong;      /* what a GDBusObjectManagerClient would have choked on */
    guint added;
    guint removed;
    guint changed;
} Lifecycle;


static void
onLifecycle(GDBusConnection *c G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
            const char *path, const char *iface G_GNUC_UNUSED, const char *signal,
            GVariant *params, gpointer data)
{
    Lifecycle *l = data;
    const char *object;

    if (g_str_equal(signal, "InterfacesAdded")) {
        g_variant_get_child(params, 0, "&o", &object);
        if (!g_hash_table_add(l->known, g_strdup(object)))
            g_string_append_printf(l->wrong, "added twice: %s\n", object);
        l->added++;
    } else if (g_str_equal(signal, "InterfacesRemoved")) {
        g_variant_get_child(params, 0, "&o", &object);
        if (!g_hash_table_remove(l->known, object))
            g_string_append_printf(l->wrong, "removed, never added: %s\n", object);
        l->removed++;
    } else if (g_str_equal(signal, "PropertiesChanged")) {
        if (!g_hash_table_contains(l->known, path))
            g_string_append_printf(l->wrong, "changed, not added: %s\n", path);
        l->changed++;
    }
}


typedef struct {
    guint pending;
    guint ok;
    GString *wrong;
} Storm;


static void
stormDone(GObject *source, GAsyncResult *res, gpointer data)
{
    Storm *s = data;
    g_autoptr(GError) err = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res,
                                                              &err);
    g_autofree char *remote = err ? g_dbus_error_get_remote_error(err) : NULL;

    s->pending--;
    if (reply)
        s->ok++;
    else if (!remote ||
             (!g_str_equal(remote, E_UNKNOWN_METHOD) && !g_str_equal(remote, E_HB "VMUnknown")))
        g_string_append_printf(s->wrong, "%s\n", err->message);
}


static gboolean
condStormDone(gpointer data)
{
    return ((Storm *) data)->pending == 0;
}


/*
 * Domains come and go while calls on their paths and GetManagedObjects are
 * in flight: every call is answered (done, or the domain is unknown), and a
 * listener sees each object added before any change to it and removed
 * once, with nothing after.
 */
static void
test_api_churn(void **state)
{
    Daemon *d = *state;
    g_autoptr(GError) err = NULL;
    g_autoptr(GDBusConnection) listener = NULL;
    g_autoptr(GVariant) pong = NULL;
    g_autoptr(GVariant) objects = NULL;
    g_autoptr(GVariant) managed = NULL;
    Lifecycle l = { g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
                    g_string_new(NULL) };
    Storm s = { 0, 0, g_string_new(NULL) };
    guint subs[2];

    listener = g_dbus_connection_new_for_address_sync(
        g_test_dbus_get_bus_address(testBus),
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &err);
    assert_non_null(listener);
    subs[0] = g_dbus_connection_signal_subscribe(listener, NULL,
                                                 "org.freedesktop.DBus.ObjectManager", NULL,
                                                 HB_DBUS_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                 onLifecycle, &l, NULL);
    subs[1] = g_dbus_connection_signal_subscribe(listener, NULL, PROPERTIES, "PropertiesChanged",
                                                 NULL, DOMAIN1, G_DBUS_SIGNAL_FLAGS_NONE,
                                                 onLifecycle, &l, NULL);
    pong = g_dbus_connection_call_sync(listener, HB_DBUS_NAME, HB_DBUS_PATH,
                                       "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
    assert_non_null(pong);

    for (guint round = 0; round < 4; round++) {
        g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-churn", TRUE, FAST);
        g_autofree char *uuid = testDomainUUID(dom);
        g_autofree char *path = hbDBusDomainPath(uuid);
        gpointer gone[] = { d, uuid };

        waitState(d, "hb-churn", "ok");
        /* Calls queued on the bus, then the domain goes while they arrive. */
        /* 100 in flight: the session bus allows a connection 128. */
        for (guint i = 0; i < 25; i++) {
            g_dbus_connection_call(bus, HB_DBUS_NAME, path, DOMAIN1, "Rearm", NULL, NULL,
                                   G_DBUS_CALL_FLAGS_NONE, 20000, NULL, stormDone, &s);
            g_dbus_connection_call(bus, HB_DBUS_NAME, path, PROPERTIES, "GetAll",
                                   g_variant_new("(s)", DOMAIN1), NULL,
                                   G_DBUS_CALL_FLAGS_NONE, 20000, NULL, stormDone, &s);
            g_dbus_connection_call(bus, HB_DBUS_NAME, path, PROPERTIES, "Get",
                                   g_variant_new("(ss)", DOMAIN1, "State"), NULL,
                                   G_DBUS_CALL_FLAGS_NONE, 20000, NULL, stormDone, &s);
            g_dbus_connection_call(bus, HB_DBUS_NAME, HB_DBUS_PATH,
                                   "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                                   NULL, NULL, G_DBUS_CALL_FLAGS_NONE, 20000, NULL, stormDone,
                                   &s);
            s.pending += 4;
            if (i == 12 - round * 3)
                testDomainRemove(d->conn, "hb-churn");
        }
        assert_true(testWaitFor(condGone, gone, 10));
        assert_true(testWaitFor(condStormDone, &s, 30));
        apiCall(path, DOMAIN1, "Rearm", NULL, E_UNKNOWN_METHOD);
    }
    /* The listener has everything sent before a call it made came back. */
    g_clear_pointer(&pong, g_variant_unref);
    pong = g_dbus_connection_call_sync(listener, HB_DBUS_NAME, HB_DBUS_PATH,
                                       "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
    assert_non_null(pong);
    testSpin(200);
    if (s.wrong->len)
        fail_msg("calls: %s", s.wrong->str);
    if (l.wrong->len)
        fail_msg("signals: %s", l.wrong->str);
    assert_int_equal(l.added, 4);
    assert_int_equal(l.removed, 4);
    assert_true(l.changed > 0);
    assert_int_equal(g_hash_table_size(l.known), 0);
    objects = apiCall(HB_DBUS_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                      NULL, NULL);
    g_variant_get(objects, "(@a{oa{sa{sv}}})", &managed);
    assert_int_equal(g_variant_n_children(managed), 0);
    g_dbus_connection_signal_unsubscribe(listener, subs[0]);
    g_dbus_connection_signal_unsubscribe(listener, subs[1]);
    g_hash_table_unref(l.known);
    g_string_free(l.wrong, TRUE);
    g_string_free(s.wrong, TRUE);
}


/* A client's copy of one Domain1 object, kept as GDBusObjectManagerClient keeps it. */
typedef struct {
    const char *path;
    HbDomain *dom;
    GVariantDict *cache;  /* NULL until InterfacesAdded */
} Mirror;


static void
onMirror(GDBusConnection *c G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
         const char *path, const char *iface G_GNUC_UNUSED, const char *signal,
         GVariant *params, gpointer data)
{
    Mirror *m = data;
    g_autoptr(GVariant) props = NULL;
    GVariantIter iter;
    const char *name;
    GVariant *value;

    if (g_str_equal(signal, "InterfacesAdded")) {
        g_autoptr(GVariant) ifaces = NULL;
        const char *object;

        g_variant_get(params, "(&o@a{sa{sv}})", &object, &ifaces);
        if (!g_str_equal(object, m->path))
            return;
        props = g_variant_lookup_value(ifaces, DOMAIN1, G_VARIANT_TYPE_VARDICT);
        g_clear_pointer(&m->cache, g_variant_dict_unref);
        m->cache = g_variant_dict_new(props);
    } else if (g_str_equal(signal, "PropertiesChanged") && g_str_equal(path, m->path) &&
               m->cache) {
        g_variant_get(params, "(&s@a{sv}@as)", &name, &props, NULL);
        g_variant_iter_init(&iter, props);
        while (g_variant_iter_next(&iter, "{&sv}", &name, &value)) {
            g_variant_dict_insert_value(m->cache, name, value);
            g_variant_unref(value);
        }
    }
}


/* What the client holds of State, Verdict and IsHeartbeating is what the daemon has. */
static gboolean
condMirrored(gpointer data)
{
    Mirror *m = data;
    const char *state = NULL;
    const char *verdict = NULL;
    gboolean beating;

    if (!m->cache || hbDomainState(m->dom) == HB_STATE_OK ||
        !g_variant_dict_lookup(m->cache, "State", "&s", &state) ||
        !g_variant_dict_lookup(m->cache, "Verdict", "&s", &verdict) ||
        !g_variant_dict_lookup(m->cache, "IsHeartbeating", "b", &beating))
        return FALSE;
    return g_str_equal(state, hbStateToString(hbDomainState(m->dom))) &&
           g_str_equal(verdict, hbVerdictToString(hbDomainVerdict(m->dom))) &&
           beating == hbDomainIsHeartbeating(m->dom);
}


/*
 * A client that knows a domain only from InterfacesAdded and
 * PropertiesChanged follows it from ok to stopped: every change of State,
 * Verdict and IsHeartbeating is announced.
 */
static void
test_api_changes_announced(void **state)
{
    Daemon *d = *state;
    g_autoptr(GError) err = NULL;
    g_autoptr(GDBusConnection) listener = NULL;
    g_autoptr(GVariant) pong = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *path = NULL;
    const char *s;
    Mirror m = { 0 };
    guint subs[2];

    listener = g_dbus_connection_new_for_address_sync(
        g_test_dbus_get_bus_address(testBus),
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &err);
    assert_non_null(listener);
    subs[0] = g_dbus_connection_signal_subscribe(listener, NULL,
                                                 "org.freedesktop.DBus.ObjectManager",
                                                 "InterfacesAdded", HB_DBUS_PATH, NULL,
                                                 G_DBUS_SIGNAL_FLAGS_NONE, onMirror, &m, NULL);
    subs[1] = g_dbus_connection_signal_subscribe(listener, NULL, PROPERTIES, "PropertiesChanged",
                                                 NULL, DOMAIN1, G_DBUS_SIGNAL_FLAGS_NONE,
                                                 onMirror, &m, NULL);
    pong = g_dbus_connection_call_sync(listener, HB_DBUS_NAME, HB_DBUS_PATH,
                                       "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
    assert_non_null(pong);

    /* The path is known before the domain is defined: its UUID is ours. */
    uuid = g_uuid_string_random();
    path = hbDBusDomainPath(uuid);
    m.path = path;
    {
        g_autofree char *xml = g_strdup_printf(
            "<domain type='test'><name>hb-dbus</name><uuid>%s</uuid><memory>65536</memory>"
            "<os><type>hvm</type></os><metadata><hb:heartbeat "
            "xmlns:hb='urn:virt-heartbeat:1' %s/></metadata><devices><channel type='unix'>"
            "<target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices>"
            "</domain>", uuid, FAST);

        dom = virDomainDefineXML(d->conn, xml);
        assert_non_null(dom);
        assert_int_equal(virDomainCreate(dom), 0);
    }
    waitState(d, "hb-dbus", "ok");
    m.dom = hbMonitorLookup(d->monitor, uuid);
    assert_non_null(m.dom);
    assert_non_null(m.cache);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    assert_true(testWaitFor(condMirrored, &m, 30));
    assert_true(g_variant_dict_lookup(m.cache, "State", "&s", &s));
    assert_string_not_equal(s, "ok");

    g_dbus_connection_signal_unsubscribe(listener, subs[0]);
    g_dbus_connection_signal_unsubscribe(listener, subs[1]);
    g_clear_pointer(&m.cache, g_variant_dict_unref);
}


static void
writeAll(GOutputStream *out, const void *data, gsize size)
{
    g_autoptr(GError) err = NULL;

    if (!g_output_stream_write_all(out, data, size, NULL, NULL, &err))
        fail_msg("write to the bus: %s", err->message);
}


static void
writeMessage(GOutputStream *out, GDBusMessage *msg, guint32 serial, const char *path,
             const char *bad_path)
{
    g_autoptr(GError) err = NULL;
    g_autofree guchar *blob = NULL;
    gsize size;
    guchar *at;

    g_dbus_message_set_serial(msg, serial);
    blob = g_dbus_message_to_blob(msg, &size, G_DBUS_CAPABILITY_FLAGS_NONE, &err);
    assert_non_null(blob);
    if (bad_path) {
        assert_int_equal(strlen(path), strlen(bad_path));
        for (at = blob; at + strlen(path) <= blob + size; at++) {
            if (memcmp(at, path, strlen(path)) == 0)
                break;
        }
        assert_true(at + strlen(path) <= blob + size);
        memcpy(at, bad_path, strlen(bad_path));
    }
    writeAll(out, blob, size);
}


/*
 * A malformed object path never reaches the daemon: the bus drops the
 * sender. No D-Bus library builds such a message, so this one is written
 * by hand on a connection of its own.
 */
static void
test_api_invalid_path(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = hbDBusDomainPath(uuid);
    g_autofree char *bad_path = g_strdup(path);
    g_autoptr(GError) err = NULL;
    g_autoptr(GIOStream) stream = g_dbus_address_get_stream_sync(
        g_test_dbus_get_bus_address(testBus), NULL, NULL, &err);
    g_autoptr(GDBusMessage) hello = g_dbus_message_new_method_call(
        "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello");
    g_autoptr(GDBusMessage) call = g_dbus_message_new_method_call(HB_DBUS_NAME, path, DOMAIN1,
                                                                  "Rearm");
    g_autofree char *uid = g_strdup_printf("%u", (guint) geteuid());
    g_autofree char *auth = NULL;
    GString *hex = g_string_new(NULL);
    char buf[4096];
    gssize n;

    waitState(d, "hb-dbus", "ok");
    assert_non_null(stream);
    g_socket_set_timeout(g_socket_connection_get_socket(G_SOCKET_CONNECTION(stream)), 10);
    for (const char *p = uid; *p; p++)
        g_string_append_printf(hex, "%02x", *p);
    auth = g_strdup_printf("AUTH EXTERNAL %s\r\n", hex->str);
    g_string_free(hex, TRUE);
    writeAll(g_io_stream_get_output_stream(stream), "", 1);
    writeAll(g_io_stream_get_output_stream(stream), auth, strlen(auth));
    n = g_input_stream_read(g_io_stream_get_input_stream(stream), buf, sizeof(buf) - 1, NULL,
                            &err);
    assert_true(n > 2);
    buf[n] = '\0';
    assert_true(g_str_has_prefix(buf, "OK "));
    writeAll(g_io_stream_get_output_stream(stream), "BEGIN\r\n", 7);

    /* ".../domain//...": an empty element. */
    strstr(bad_path, "/domain/")[8] = '/';
    assert_false(g_variant_is_object_path(bad_path));
    writeMessage(g_io_stream_get_output_stream(stream), hello, 1, NULL, NULL);
    writeMessage(g_io_stream_get_output_stream(stream), call, 2, path, bad_path);
    /* Hello's reply, NameAcquired, then the end: the bus hung up on us. */
    while ((n = g_input_stream_read(g_io_stream_get_input_stream(stream), buf, sizeof(buf),
                                    NULL, &err)) > 0)
        ;
    if (n < 0)
        fail_msg("the bus kept the connection: %s", err->message);
    assertAlive();
    assert_int_equal(hbDomainState(hbMonitorLookup(d->monitor, uuid)), HB_STATE_OK);
}


/* EditMetadata(@key, @set, @unset, @flags): want @error, or the metadata (NULL: error). */
static char *
editMetadata(const char *key, const char *const *set, const char *const *unset, guint flags,
             const char *error, char **name)
{
    GVariantBuilder b;
    g_autoptr(GVariant) reply = NULL;
    char *metadata = NULL;

    g_variant_builder_init(&b, G_VARIANT_TYPE("a{ss}"));
    for (guint i = 0; set && set[i]; i += 2)
        g_variant_builder_add(&b, "{ss}", set[i], set[i + 1]);
    reply = apiCall(HB_DBUS_PATH, MANAGER1, "EditMetadata",
                    g_variant_new("(sa{ss}^asu)", key, &b,
                                  unset ? unset : (const char *[]) { NULL }, flags),
                    error);
    if (!reply)
        return NULL;
    g_variant_get(reply, "(ss)", name, &metadata);
    return metadata;
}


static gboolean
condMonitored(gpointer data)
{
    gpointer *args = data;

    return hbMonitorLookup(((Daemon *) args[0])->monitor, args[1]) != NULL;
}


/*
 * Manager1.EditMetadata edits any libvirt domain, monitored or not, found by
 * UUID or name; it checks the result against the daemon's [defaults], here
 * time=5, not against the built-in ones.
 */
static void
test_api_edit_metadata(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom G_GNUC_UNUSED = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autoptr(virDomain) plain = testDomainStart(d->conn, "hb-plain", TRUE, NULL);
    g_autoptr(virDomain) plain2 G_GNUC_UNUSED = testDomainStart(d->conn, "hb-plain2", TRUE, NULL);
    g_autofree char *plain_uuid = testDomainUUID(plain);
    g_autofree char *upper = g_ascii_strup(plain_uuid, -1);
    g_autofree char *huge = hugeString(HUGE);
    /* One more than there are keys: time=9 each time. */
    const char *too_many[2 * (HB_KEY_LAST + 1) + 1] = { NULL };
    char *name = NULL;
    char *xml;
    char *msg;

    for (guint i = 0; i < 2 * (HB_KEY_LAST + 1); i += 2) {
        too_many[i] = "time";
        too_many[i + 1] = "9";
    }
    waitState(d, "hb-dbus", "ok");
    assert_null(hbMonitorLookup(d->monitor, "hb-plain"));

    /* Read: no element, and the name of the domain found. */
    xml = editMetadata("hb-plain", NULL, NULL, 0, NULL, &name);
    assert_string_equal(xml, "");
    assert_string_equal(name, "hb-plain");
    g_free(xml);
    g_free(name);
    /* Set on a domain the daemon does not watch: now it does. */
    xml = editMetadata("hb-plain", (const char *[]) { "time", "30", "action", "none", NULL },
                       NULL, 0, NULL, &name);
    assert_non_null(strstr(xml, "time=\"30\""));
    assert_non_null(strstr(xml, "action=\"none\""));
    g_free(xml);
    g_free(name);
    assert_true(testWaitFor(condMonitored, (gpointer[]) { d, (gpointer) "hb-plain" }, 10));
    /* By its UUID in upper case, live only. */
    xml = editMetadata(upper, NULL, (const char *[]) { "action", NULL }, 1, NULL, &name);
    assert_string_equal(name, "hb-plain");
    assert_null(strstr(xml, "action"));
    assert_non_null(strstr(xml, "time=\"30\""));
    g_free(xml);
    g_free(name);

    /* The daemon's [defaults] time=5 allows at most 50 ticks per block. */
    msg = apiError(HB_DBUS_PATH, MANAGER1, "EditMetadata",
                   g_variant_new_parsed("(%s, {'rate': '60'}, @as [], @u 0)", "hb-plain2"),
                   E_HB "InvalidArgument");
    assert_non_null(strstr(msg, "rate"));
    g_free(msg);
    xml = editMetadata("hb-plain2", (const char *[]) { "rate", "50", NULL }, NULL, 0, NULL,
                       &name);
    assert_non_null(strstr(xml, "rate=\"50\""));
    g_free(xml);
    g_free(name);

    /* Unknown domains, quoted bounded and escaped. */
    msg = apiError(HB_DBUS_PATH, MANAGER1, "EditMetadata",
                   g_variant_new_parsed("(%s, @a{ss} {}, @as [], @u 0)", "no-such"),
                   E_HB "VMUnknown");
    assert_non_null(strstr(msg, "domain 'no-such' not found"));
    g_free(msg);
    msg = apiError(HB_DBUS_PATH, MANAGER1, "EditMetadata",
                   g_variant_new("(s@a{ss}^asu)", huge, g_variant_new_parsed("@a{ss} {}"),
                                 (const char *[]) { NULL }, 0), E_HB "VMUnknown");
    assert_non_null(strstr(msg, "k\u2026'"));
    g_free(msg);
    msg = apiError(HB_DBUS_PATH, MANAGER1, "EditMetadata",
                   g_variant_new_parsed("(%s, @a{ss} {}, @as [], @u 0)", "a\nb\x1b[2J'"),
                   E_HB "VMUnknown");
    assert_non_null(strstr(msg, "'a\\nb\\x1b[2J\\''"));
    g_free(msg);
    editMetadata("00000000-0000-4000-8000-000000000000", NULL, NULL, 0, E_HB "VMUnknown", &name);
    editMetadata("HB-PLAIN", NULL, NULL, 0, E_HB "VMUnknown", &name);
    editMetadata("", NULL, NULL, 0, E_HB "InvalidArgument", &name);

    /* Bad keys, values and flags; nothing is written. */
    editMetadata("hb-plain", (const char *[]) { "speed", "1", NULL }, NULL, 0,
                 E_HB "InvalidArgument", &name);
    editMetadata("hb-plain", (const char *[]) { "time", "0", NULL }, NULL, 0,
                 E_HB "InvalidArgument", &name);
    editMetadata("hb-plain", (const char *[]) { "time", "", NULL }, NULL, 0,
                 E_HB "InvalidArgument", &name);
    editMetadata("hb-plain", (const char *[]) { "action", "none' x='1", NULL }, NULL, 0,
                 E_HB "InvalidArgument", &name);
    editMetadata("hb-plain", (const char *[]) { "time", "4\n\x1b[2J", NULL }, NULL, 0,
                 E_HB "InvalidArgument", &name);
    editMetadata("hb-plain", NULL, (const char *[]) { "speed", NULL }, 0,
                 E_HB "InvalidArgument", &name);
    editMetadata("hb-plain", (const char *[]) { "time", "9", NULL },
                 (const char *[]) { "time", NULL }, 0, E_HB "InvalidArgument", &name);
    editMetadata("hb-plain", (const char *[]) { "time", "9", NULL }, NULL, 4,
                 E_HB "InvalidArgument", &name);
    editMetadata("hb-plain", (const char *[]) { "time", "9", NULL }, NULL, G_MAXUINT32,
                 E_HB "InvalidArgument", &name);
    editMetadata("hb-plain", too_many, NULL, 0, E_HB "InvalidArgument", &name);
    msg = apiError(HB_DBUS_PATH, MANAGER1, "EditMetadata",
                   g_variant_new("(s@a{ss}^asu)", "hb-plain",
                                 g_variant_new_parsed("{%s: 'x'}", huge),
                                 (const char *[]) { NULL }, 0), E_HB "InvalidArgument");
    assert_non_null(strstr(msg, "k\u2026'"));
    g_free(msg);
    msg = apiError(HB_DBUS_PATH, MANAGER1, "EditMetadata",
                   g_variant_new("(s@a{ss}^asu)", "hb-plain",
                                 g_variant_new_parsed("{'time': %s}", huge),
                                 (const char *[]) { NULL }, 0), E_HB "InvalidArgument");
    assert_null(strstr(msg, "kkkk"));
    g_free(msg);
    apiCall(HB_DBUS_PATH, MANAGER1, "EditMetadata", g_variant_new("(s)", "hb-plain"),
            E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, MANAGER1, "EditMetadata",
            g_variant_new_parsed("('hb-plain', {'time': <'9'>}, @as [], @u 0)"), E_INVALID_ARGS);
    xml = editMetadata("hb-plain", NULL, NULL, 0, NULL, &name);
    assert_non_null(strstr(xml, "time=\"30\""));
    assert_null(strstr(xml, "speed"));
    g_free(xml);
    g_free(name);

    testDomainRemove(d->conn, "hb-plain");
    testDomainRemove(d->conn, "hb-plain2");
}


/*
 * Edits sent at once, by name and by UUID in either case, run one after
 * the other in the daemon: none loses another's change.
 */
static void
test_api_edits_ordered(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) plain = testDomainStart(d->conn, "hb-plain", TRUE, NULL);
    g_autofree char *uuid = testDomainUUID(plain);
    g_autofree char *upper = g_ascii_strup(uuid, -1);
    const char *keys[][3] = {
        { "hb-plain", "time", "31" },
        { NULL, "rate", "3" },
        { NULL, "failure_interval", "33" },
        { "hb-plain", "boot_grace", "34" },
    };
    Call calls[G_N_ELEMENTS(keys)];
    char *name = NULL;
    g_autofree char *xml = NULL;

    keys[1][0] = uuid;
    keys[2][0] = upper;
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        calls[i] = (Call) { 0 };
        g_dbus_connection_call(bus, HB_DBUS_NAME, HB_DBUS_PATH, MANAGER1, "EditMetadata",
                               g_variant_new_parsed("(%s, {%s: %s}, @as [], @u 0)", keys[i][0],
                                                    keys[i][1], keys[i][2]),
                               NULL, G_DBUS_CALL_FLAGS_NONE, 20000, NULL, callDone, &calls[i]);
    }
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        assert_true(testWaitFor(condCallDone, &calls[i], 25));
        if (calls[i].error)
            fail_msg("edit %u: %s", i, calls[i].error->message);
        callClear(&calls[i]);
    }
    xml = editMetadata(uuid, NULL, NULL, 0, NULL, &name);
    g_free(name);
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        g_autofree char *attr = g_strdup_printf("%s=\"%s\"", keys[i][1], keys[i][2]);

        if (!strstr(xml, attr))
            fail_msg("%s lost: %s", attr, xml);
    }
    testDomainRemove(d->conn, "hb-plain");
}


/* The config command resolves DOMAIN with the daemon's rule, in libvirt. */
static void
test_config_lookup(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) running = testDomainStart(d->conn, "cli-running", TRUE,
                                                   "time='30' action='none'");
    g_autoptr(virDomain) off = testDomainStart(d->conn, "cli-off", TRUE, NULL);
    g_autofree char *running_uuid = testDomainUUID(running);
    g_autofree char *off_uuid = testDomainUUID(off);
    g_autofree char *upper_uuid = g_ascii_strup(running_uuid, -1);
    const char *spare = "0b5e4c2a-4f41-4c48-9d3e-7d1a8e2c1bff";
    /* Named like cli-running's UUID in upper case, like cli-off's UUID, and
     * like a UUID that no domain has. */
    g_autoptr(virDomain) twin G_GNUC_UNUSED =
        testDomainStart(d->conn, upper_uuid, TRUE, "time='45'");
    g_autoptr(virDomain) twin2 G_GNUC_UNUSED =
        testDomainStart(d->conn, off_uuid, TRUE, "time='46'");
    g_autoptr(virDomain) named G_GNUC_UNUSED = testDomainStart(d->conn, spare, TRUE, "time='47'");
    g_autofree char *upper = NULL;
    g_autofree char *exact = NULL;
    g_autofree char *fallback = NULL;

    assert_int_equal(cli(&upper, "config", upper_uuid, NULL), 0);
    assert_non_null(strstr(upper, "time=\"30\""));
    assert_int_equal(cli(&exact, "config", off_uuid, NULL), 0);
    assert_non_null(strstr(exact, "no <heartbeat/> metadata"));
    /* A UUID that no domain has is a name. */
    assert_int_equal(cli(&fallback, "config", spare, NULL), 0);
    assert_non_null(strstr(fallback, "time=\"47\""));
    /* Names are case-sensitive. */
    assert_int_equal(cli(NULL, "config", "CLI-RUNNING", NULL), 3);
    testDomainRemove(d->conn, upper_uuid);
    testDomainRemove(d->conn, off_uuid);
    testDomainRemove(d->conn, spare);
    testDomainRemove(d->conn, "cli-running");
    testDomainRemove(d->conn, "cli-off");
}


static void
assertLookup(const char *method, const char *key, const char *want_path, gint want_code)
{
    Call c;

    callManager(&c, method, g_variant_new("(s)", key));
    if (want_path) {
        const char *got;

        if (c.error)
            fail_msg("%s(%s): %s", method, key, c.error->message);
        g_variant_get(c.reply, "(&o)", &got);
        assert_string_equal(got, want_path);
    } else if (!g_error_matches(c.error, HB_ERROR, want_code)) {
        fail_msg("%s(%s): want error %d, got %s", method, key, want_code,
                 c.error ? c.error->message : "success");
    }
    callClear(&c);
}


static void
test_lookup_unambiguous(void **state)
{
    Daemon *d = *state;
    /* hb-dbus has no agent channel; its twins are shut off. A guest request
     * that reaches hb-dbus fails with AgentNotAvailable (CLI status 5), one
     * that reaches a twin with VMNotRunning (4). */
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", FALSE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *upper = g_ascii_strup(uuid, -1);
    g_autoptr(virDomain) twin = testDomainStart(d->conn, uuid, TRUE, FAST);
    g_autoptr(virDomain) utwin = testDomainStart(d->conn, upper, TRUE, FAST);
    const char *spare = "7c7e3c4e-0000-4000-8000-00000000beef";
    g_autoptr(virDomain) stwin = testDomainStart(d->conn, spare, TRUE, FAST);
    g_autofree char *twin_uuid = testDomainUUID(twin);
    g_autofree char *utwin_uuid = testDomainUUID(utwin);
    g_autofree char *stwin_uuid = testDomainUUID(stwin);
    g_autofree char *path = hbDBusDomainPath(uuid);
    g_autofree char *twin_path = hbDBusDomainPath(twin_uuid);
    g_autofree char *utwin_path = hbDBusDomainPath(utwin_uuid);
    g_autofree char *stwin_path = hbDBusDomainPath(stwin_uuid);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autofree char *out = NULL;

    assert_int_equal(virDomainDestroy(twin), 0);
    assert_int_equal(virDomainDestroy(utwin), 0);
    assert_int_equal(virDomainDestroy(stwin), 0);
    waitState(d, uuid, "no-agent");
    waitState(d, twin_uuid, "not-running");
    waitState(d, utwin_uuid, "not-running");
    waitState(d, stwin_uuid, "not-running");

    /* The daemon's own lookup: a UUID first, in either case, then a name. */
    assert_string_equal(hbDomainName(hbMonitorLookup(d->monitor, uuid)), "hb-dbus");
    assert_string_equal(hbDomainName(hbMonitorLookup(d->monitor, upper)), "hb-dbus");
    assert_string_equal(hbDomainName(hbMonitorLookup(d->monitor, spare)), spare);
    assert_string_equal(hbDomainUUID(hbMonitorLookup(d->monitor, twin_uuid)), twin_uuid);
    assert_null(hbMonitorLookup(d->monitor, "HB-DBUS"));

    /* Each D-Bus lookup takes only what it is named for. */
    assertLookup("LookupByUUID", uuid, path, 0);
    assertLookup("LookupByUUID", upper, path, 0);
    assertLookup("LookupByUUID", spare, NULL, HB_ERROR_VM_UNKNOWN);
    assertLookup("LookupByUUID", "hb-dbus", NULL, HB_ERROR_INVALID_ARGUMENT);
    assertLookup("LookupByName", uuid, twin_path, 0);
    assertLookup("LookupByName", upper, utwin_path, 0);
    assertLookup("LookupByName", spare, stwin_path, 0);
    assertLookup("LookupByName", "hb-dbus", path, 0);
    assertLookup("LookupByName", "HB-DBUS", NULL, HB_ERROR_VM_UNKNOWN);

    /* The CLI: Shutdown and Exec by the UUID, in either case, reach hb-dbus. */
    assert_int_equal(cli(NULL, "shutdown", uuid, NULL), 5);
    assert_int_equal(cli(NULL, "shutdown", upper, NULL), 5);
    assert_int_equal(cli(NULL, "exec", uuid, "--", "/bin/true", NULL), 5);
    assert_int_equal(cli(NULL, "exec", upper, "--", "/bin/true", NULL), 5);
    assert_int_equal(cli(&out, "status", upper, "--json", NULL), 0);
    assert_string_equal(json_object_get_string_member(parseObject(parser, out), "name"),
                        "hb-dbus");
    /* A twin by its own UUID, and one named like an unknown UUID by name. */
    assert_int_equal(cli(NULL, "shutdown", twin_uuid, NULL), 4);
    assert_int_equal(cli(NULL, "exec", spare, "--", "/bin/true", NULL), 4);
    assert_int_equal(cli(NULL, "shutdown", "HB-DBUS", NULL), 3);

    testDomainRemove(d->conn, uuid);
    testDomainRemove(d->conn, upper);
    testDomainRemove(d->conn, spare);
}


/* The CLI with @argv (NULL-terminated, after the program), stdout and stderr kept. */
static int
cliCapture(char **out, char **err_out, const char *const *argv)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    Run run = { 0 };
    int status;

    g_ptr_array_add(args, (char *) CLI);
    for (guint i = 0; argv[i]; i++)
        g_ptr_array_add(args, (char *) argv[i]);
    g_ptr_array_add(args, NULL);
    run.proc = g_subprocess_newv((const char *const *) args->pdata,
                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                 &err);
    assert_non_null(run.proc);
    g_subprocess_communicate_utf8_async(run.proc, NULL, NULL, runDone, &run);
    assert_true(testWaitFor(condRunDone, &run, 30));
    g_object_unref(run.proc);
    status = run.status;
    *out = run.out;
    *err_out = run.err;
    return status;
}


/* Nothing a terminal would act on: printable characters and line ends only. */
static void
assertPrintable(const char *text)
{
    assert_true(g_utf8_validate(text, -1, NULL));
    for (const char *p = text; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c != '\n' && !g_unichar_isprint(c))
            fail_msg("U+%04X in CLI output: %s", c, text);
    }
}


static gboolean
condStoppedSeen(gpointer data)
{
    return strstr(((Lines *) data)->out->str, "heartbeat-stopped") != NULL;
}


/*
 * A domain definition can put a CR, a tab, the 8-bit CSI (U+009B) and a
 * right-to-left override in a name: every text command escapes them, and
 * JSON carries the name as it is. GLib criticals are fatal meanwhile, in
 * the daemon's code here and in the CLI.
 */
static void
test_cli_escapes_names(void **state)
{
    Daemon *d = *state;
    const char *raw = "hb-evil\r\t\xc2\x9b" "31m\xe2\x80\xae" "x";
    const char *shown = "hb-evil\\x0d\\x09\\u009b31m\\u202ex";
    g_autoptr(virDomain) dom = testDomainStart(d->conn,
                                               "hb-evil&#xD;&#x9;&#x9B;31m&#x202E;x",
                                               TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *saved_debug = g_strdup(g_getenv("G_DEBUG"));
    GLogLevelFlags saved_fatal = g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GSubprocess) proc = NULL;
    Lines l = { .out = g_string_new(NULL) };
    struct {
        const char *argv[6];
        int status;
        const char *want;   /* in stdout, or in stderr for a failure */
    } runs[] = {
        { { "list", NULL }, 0, shown },
        { { "status", uuid, NULL }, 0, "Name:                 hb-evil\\x0d" },
        { { "info", uuid, NULL }, 0, shown },
        { { "rearm", uuid, NULL }, 0, shown },
        { { "set-parameter", uuid, "time", "2", "--live", NULL }, 0, shown },
        { { "is-heartbeating", raw, NULL }, 0, "yes" },
        { { "status", "no\x1b]0;pwned\x07", NULL }, 3, "no\\x1b]0;pwned\\x07" },
    };

    g_setenv("G_DEBUG", "fatal-criticals", TRUE);
    waitState(d, raw, "ok");
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        g_autofree char *out = NULL;
        g_autofree char *errout = NULL;

        assert_int_equal(cliCapture(&out, &errout, runs[i].argv), runs[i].status);
        assertPrintable(out);
        assertPrintable(errout);
        if (!strstr(runs[i].status ? errout : out, runs[i].want))
            fail_msg("%s: '%s' not in '%s' / '%s'", runs[i].argv[0], runs[i].want, out, errout);
    }

    /* JSON: the name exactly, escaped by JSON's own rules. */
    {
        g_autofree char *out = NULL;
        g_autofree char *errout = NULL;
        const char *argv[] = { "status", uuid, "--json", NULL };
        JsonObject *obj;

        assert_int_equal(cliCapture(&out, &errout, argv), 0);
        obj = parseObject(parser, out);
        assert_string_equal(json_object_get_string_member(obj, "name"), raw);
        assert_null(strchr(out, '\r'));
    }

    /* Events in text mode, and an error that names the domain. */
    proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err, CLI, "events", uuid, NULL);
    assert_non_null(proc);
    l.in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(proc));
    g_data_input_stream_read_line_async(l.in, G_PRIORITY_DEFAULT, NULL, onLine, &l);
    testSpin(500); /* let it subscribe */
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    assert_true(testWaitFor(condStoppedSeen, &l, 30));
    assertPrintable(l.out->str);
    assert_non_null(strstr(l.out->str, shown));
    g_subprocess_send_signal(proc, SIGINT);
    assert_true(testWaitFor(condEof, &l, 10));
    assert_true(g_subprocess_wait(proc, NULL, NULL));
    g_object_unref(l.in);
    g_string_free(l.out, TRUE);

    assert_int_equal(virDomainDestroy(dom), 0);
    waitState(d, raw, "not-running");
    {
        g_autofree char *out = NULL;
        g_autofree char *errout = NULL;
        const char *argv[] = { "is-heartbeating", uuid, NULL };

        /* The test driver's copy of the stopped domain has the CR read
         * back from XML as a line feed: the name is hb-evil\n... now. */
        assert_int_equal(cliCapture(&out, &errout, argv), 4);
        assertPrintable(errout);
        if (!strstr(errout, "'hb-evil\\x0a\\x09\\u009b31m\\u202ex' is not running"))
            fail_msg("not escaped: %s", errout);
    }

    assert_int_equal(virDomainUndefine(dom), 0);
    g_log_set_always_fatal(saved_fatal);
    if (saved_debug)
        g_setenv("G_DEBUG", saved_debug, TRUE);
    else
        g_unsetenv("G_DEBUG");
}



static int
groupSetup(void **state G_GNUC_UNUSED)
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
groupTeardown(void **state G_GNUC_UNUSED)
{
    g_object_unref(bus);
    g_test_dbus_down(testBus);
    g_object_unref(testBus);
    return 0;
}


/* A daemon of its own state directory (for the host-wide window). */
static int
setupStateDir(void **state)
{
    stateDir = g_dir_make_tmp("hb-dbus-state-XXXXXX", NULL);
    assert_non_null(stateDir);
    return daemonStart(state, 0);
}


static int
teardownStateDir(void **state)
{
    g_autoptr(GDir) dir = g_dir_open(stateDir, 0, NULL);
    const char *name;
    int ret = teardown(state);

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(stateDir, name, NULL);

        g_unlink(path);
    }
    g_rmdir(stateDir);
    g_clear_pointer(&stateDir, g_free);
    return ret;
}


/* The daemon stopped and started again on the same state directory. */
static void
daemonRestart(void **state)
{
    Daemon *d = *state;

    g_bus_unown_name(d->owner);
    assert_true(testWaitFor(condNameGone, NULL, 10));
    hbDBusFree(d->dbus);
    hbMonitorFree(d->monitor);
    virConnectClose(d->conn);
    g_free(d);
    daemonStart(state, 0);
}


static guint64
domainRestarts(HbDomain *dom)
{
    guint64 n = 0;

    for (int a = 0; a < HB_ACTION_LAST; a++) {
        for (int o = 0; o < HB_OUTCOME_LAST; o++)
            n += hbDomainRestarts(dom, a, o);
    }
    return n;
}


static gboolean
condRestarted(gpointer data)
{
    HbDomain *dom = hbMonitorLookup(((Daemon *) data)->monitor, "hb-dbus");

    return dom && domainRestarts(dom) > 0;
}


static char *
domainMetadata(virDomainPtr dom)
{
    return virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, HB_METADATA_URI,
                                VIR_DOMAIN_AFFECT_LIVE);
}


/*
 * A maintenance window: the CLI's checks, a hung guest not acted on in
 * it, the window in the metadata and across a daemon restart, Resume
 * watching afresh until the restart comes; the same host-wide.
 */
static void
test_maintenance(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = hbDBusDomainPath(uuid);
    g_autofree char *paused = NULL;
    g_autofree char *json = NULL;
    g_autofree char *metadata = NULL;
    g_autofree char *file = g_build_filename(stateDir, "maintenance", NULL);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GVariant) host_until = NULL;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    g_autofree char *past = hbApiFormatUtc(now - 60);
    g_autofree char *past_xml = g_strdup_printf("<heartbeat %s maintenance_until='%s'/>",
                                                FAST, past);
    HbDomain *hb;
    JsonObject *obj;

    waitState(d, "hb-dbus", "ok");
    /* Bad input fails closed, before the daemon is asked. */
    assert_int_equal(cli(NULL, "pause", "hb-dbus", "--for", "0", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "hb-dbus", "--for", "-5m", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "hb-dbus", "--for", "2x", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "hb-dbus", "--for", "h", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "hb-dbus", "--for", "31d", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "hb-dbus", "--for", "99999999999999999999d", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "hb-dbus", "--until", "2000-01-01T00:00:00Z", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "hb-dbus", "--until", "soon", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "hb-dbus", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "hb-dbus", "--for", "1h", "--until", past, NULL), 2);
    assert_int_equal(cli(NULL, "pause", "hb-dbus", "--all", "--for", "1h", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "--for", "1h", NULL), 2);
    assert_int_equal(cli(NULL, "resume", NULL), 2);
    assert_int_equal(cli(NULL, "status", "hb-dbus", "--all", NULL), 2);
    assert_int_equal(cli(NULL, "pause", "no-such-domain", "--for", "1h", NULL), 3);
    apiCall(path, DOMAIN1, "Pause", g_variant_new("(t)", (guint64) 0), E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "Pause", g_variant_new("(t)", (guint64) now + 31 * 86400),
            E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "Pause", g_variant_new("(t)", G_MAXUINT64), E_HB "InvalidArgument");
    apiCall(path, DOMAIN1, "Pause", g_variant_new("(x)", now + 60), E_INVALID_ARGS);
    apiCall(path, DOMAIN1, "Resume", g_variant_new("(t)", now + 60), E_INVALID_ARGS);
    apiCall(HB_DBUS_PATH, MANAGER1, "PauseAll", g_variant_new("(t)", (guint64) now - 1),
            E_HB "InvalidArgument");
    assert_string_equal(hbStateToString(hbDomainState(hbMonitorLookup(d->monitor, "hb-dbus"))),
                        "ok");

    /* Paused, then hung: no attempt, state maintenance, pings go on. */
    now = g_get_real_time() / G_USEC_PER_SEC;
    assert_int_equal(cli(&paused, "pause", "hb-dbus", "--for", "2h", NULL), 0);
    assert_non_null(strstr(paused, "in maintenance until"));
    hb = hbMonitorLookup(d->monitor, "hb-dbus");
    assert_string_equal(hbStateToString(hbDomainState(hb)), "maintenance");
    assert_in_range(hbDomainMaintenanceUntil(hb), now + 7200,
                    g_get_real_time() / G_USEC_PER_SEC + 7200);
    metadata = domainMetadata(dom);
    assert_non_null(strstr(metadata, "maintenance_until=\""));
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    testSpin(4000);
    assert_int_equal(domainRestarts(hb), 0);
    assert_int_equal(hbDomainEpisode(hb), 0);
    assert_true(hbDomainPings(hb, HB_PING_MISS) > 0);
    assert_int_equal(cli(&json, "status", "hb-dbus", "--json", NULL), 0);
    obj = parseObject(parser, json);
    assert_string_equal(json_object_get_string_member(obj, "state"), "maintenance");
    assert_non_null(json_object_get_string_member(obj, "maintenance_until"));

    /* A daemon restart inside the window: read back from the metadata. */
    daemonRestart(state);
    d = *state;
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitState(d, "hb-dbus", "maintenance");
    testSpin(3000);
    hb = hbMonitorLookup(d->monitor, "hb-dbus");
    assert_int_equal(domainRestarts(hb), 0);

    /* Resume: watched afresh (boot_grace 0 here), and the restart comes. */
    assert_int_equal(cli(NULL, "resume", "hb-dbus", NULL), 0);
    assert_string_not_equal(hbStateToString(hbDomainState(hb)), "maintenance");
    assert_int_equal(hbDomainMaintenanceUntil(hb), 0);
    assert_true(testWaitFor(condRestarted, d, 30));
    g_free(metadata);
    metadata = domainMetadata(dom);
    assert_null(strstr(metadata, "maintenance_until"));

    /* A window already over when the daemon starts is no window. */
    fakeProbeSet(uuid, FAKE_AGENT_OK);
    assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, past_xml, "hb",
                                          HB_METADATA_URI, VIR_DOMAIN_AFFECT_LIVE), 0);
    daemonRestart(state);
    d = *state;
    waitState(d, "hb-dbus", "ok");

    /* Host-wide, kept in the state directory across a restart. */
    now = g_get_real_time() / G_USEC_PER_SEC;
    assert_int_equal(cli(NULL, "pause", "--all", "--for", "30m", NULL), 0);
    assert_true(g_file_test(file, G_FILE_TEST_EXISTS));
    host_until = managerProperty("MaintenanceUntil");
    assert_in_range(g_variant_get_uint64(host_until), now + 1800,
                    g_get_real_time() / G_USEC_PER_SEC + 1800);
    waitState(d, "hb-dbus", "maintenance");
    daemonRestart(state);
    d = *state;
    waitState(d, "hb-dbus", "maintenance");
    /* A domain's own Resume does not end the host's window. */
    assert_int_equal(cli(NULL, "resume", "hb-dbus", NULL), 0);
    waitState(d, "hb-dbus", "maintenance");
    assert_int_equal(cli(NULL, "resume", "--all", NULL), 0);
    assert_false(g_file_test(file, G_FILE_TEST_EXISTS));
    waitState(d, "hb-dbus", "ok");
    g_clear_pointer(&host_until, g_variant_unref);
    host_until = managerProperty("MaintenanceUntil");
    assert_int_equal(g_variant_get_uint64(host_until), 0);
}


/* Without a state directory a host-wide window would not outlive the daemon: refused. */
static void
test_maintenance_needs_state_dir(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom G_GNUC_UNUSED = testDomainStart(d->conn, "hb-dbus", TRUE, FAST);
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;

    waitState(d, "hb-dbus", "ok");
    apiCall(HB_DBUS_PATH, MANAGER1, "PauseAll", g_variant_new("(t)", (guint64) now + 60),
            E_HB "Failed");
    assert_int_equal(cli(NULL, "pause", "--all", "--for", "1m", NULL), 1);
    waitState(d, "hb-dbus", "ok");
}


static gboolean
condConfigError(gpointer data)
{
    HbDomain *hb = hbMonitorLookup(((Daemon *) data)->monitor, "hb-dbus");

    return hb && hbDomainConfigError(hb);
}


/*
 * A Pause holds the domain as soon as it is asked (the write to libvirt
 * may wait behind a domain job); if libvirt refuses the window, the domain
 * is as before: here its metadata is invalid, and an edit revalidates it.
 */
static void
test_pause_refused_undone(void **state)
{
    Daemon *d = *state;
    g_autoptr(virDomain) dom = testDomainStart(d->conn, "hb-dbus", TRUE, FAST " bogus='1'");
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = hbDBusDomainPath(uuid);
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    HbDomain *hb;

    assert_true(testWaitFor(condConfigError, d, 30));
    apiCall(path, DOMAIN1, "Pause", g_variant_new("(t)", (guint64) now + 3600),
            E_HB "InvalidArgument");
    hb = hbMonitorLookup(d->monitor, "hb-dbus");
    assert_int_equal(hbDomainMaintenanceKey(hb), 0);
    assert_int_equal(hbDomainMaintenanceUntil(hb), 0);
    assert_string_not_equal(hbStateToString(hbDomainState(hb)), "maintenance");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daemon_not_running),
        cmocka_unit_test(test_cluster_monitor_config),
        cmocka_unit_test_setup_teardown(test_config_command, setupTime5, teardown),
        cmocka_unit_test_setup_teardown(test_config_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manager_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_list_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suppressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rearm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_when_healthy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_os_interface, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_escapes_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_unambiguous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_manager, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_domain_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_domain_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_standard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_object_manager_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_hostile_subtree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_churn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_changes_announced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_invalid_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_edit_metadata, setupTime5, teardown),
        cmocka_unit_test_setup_teardown(test_api_edits_ordered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintenance, setupStateDir, teardownStateDir),
        cmocka_unit_test_setup_teardown(test_maintenance_needs_state_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_refused_undone, setup, teardown),
    };

    hbUtilInitLibvirt();
    gvir_event_register();
    return cmocka_run_group_tests_name("dbus", tests, groupSetup, groupTeardown);
}
