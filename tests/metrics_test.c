/*
 * /metrics in-process: the monitor on libvirt's test driver with the fake
 * probe, scraped over HTTP by libsoup's client, the scrape checked by
 * Prometheus' own promtool.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <libvirt-glib/libvirt-glib.h>

#include "fake-probe.h"
#include "hb-metrics.h"
#include "test-util.h"

/* Scaled down: a 2 s block, a ping every 0.5 s, attempts a second apart. */
#define FAST "time='2' rate='4' boot_grace='0' failure_interval='1' failure_attempts='2'"
/* libvirt takes quotes and backslashes in a name; the text format escapes them. */
#define ODD_NAME "hb-\"odd\\name"

typedef struct {
    virConnectPtr conn;
    HbMonitor *monitor;
    HbMetrics *metrics;
    char *base;          /* http://127.0.0.1:PORT */
    /* the scrape in flight */
    SoupMessage *msg;
    GBytes *body;
    gboolean done;
} Fixture;


static gboolean
condConnected(gpointer data)
{
    Fixture *f = data;

    return hbMonitorIsConnected(f->monitor);
}


/* A port nobody listens on now: bound and closed again. */
static guint
freePort(void)
{
    g_autoptr(GSocket) sock = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    g_autoptr(GSocketAddress) bound = NULL;

    assert_non_null(sock);
    assert_true(g_socket_bind(sock, any, FALSE, NULL));
    bound = g_socket_get_local_address(sock, NULL);
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}


static int
setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);
    g_auto(HbDaemonConf) conf = { 0 };
    g_autoptr(GError) err = NULL;
    g_autofree char *listen = NULL;
    guint port = freePort();

    fakeProbeReset();
    f->conn = virConnectOpen(TEST_URI);
    assert_non_null(f->conn);
    hbDaemonConfInit(&conf);
    /* Never the host's own cluster. */
    g_free(conf.cluster_tools);
    conf.cluster_tools = g_strdup("");
    g_free(conf.uri);
    conf.uri = g_strdup(TEST_URI);
    g_free(conf.state_dir);
    conf.state_dir = g_strdup("");
    f->monitor = hbMonitorNew(&conf, fakeProbePing);
    hbMonitorStart(f->monitor);
    assert_true(testWaitFor(condConnected, f, 10));
    listen = g_strdup_printf("127.0.0.1:%u", port);
    f->metrics = hbMetricsNew(f->monitor, listen, &err);
    if (!f->metrics)
        fail_msg("cannot listen on %s: %s", listen, err->message);
    assert_int_equal(hbMetricsPort(f->metrics), port);
    f->base = g_strdup_printf("http://%s", listen);
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    Fixture *f = *state;
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(f->conn, &doms, 0);

    g_clear_pointer(&f->metrics, hbMetricsFree);
    g_clear_pointer(&f->monitor, hbMonitorFree);
    for (int i = 0; i < n; i++) {
        if (!g_str_equal(virDomainGetName(doms[i]), "test"))
            testDomainRemove(f->conn, virDomainGetName(doms[i]));
        virDomainFree(doms[i]);
    }
    g_free(doms);
    virConnectClose(f->conn);
    g_free(f->base);
    g_free(f);
    return 0;
}


static void
onBody(GObject *source, GAsyncResult *res, gpointer data)
{
    Fixture *f = data;

    f->body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, NULL);
    f->done = TRUE;
}


static gboolean
condDone(gpointer data)
{
    return ((Fixture *) data)->done;
}


/*
 * @method @path on the endpoint, the daemon's main loop running meanwhile
 * (it serves on it); the status, and the body in *@body (NUL-terminated).
 */
static guint
request(Fixture *f, const char *method, const char *path, char **body, char **type)
{
    g_autoptr(SoupSession) session = soup_session_new();
    g_autofree char *uri = g_strconcat(f->base, path, NULL);
    gsize len = 0;
    const char *data;
    guint status;

    f->msg = soup_message_new(method, uri);
    f->done = FALSE;
    soup_session_send_and_read_async(session, f->msg, G_PRIORITY_DEFAULT, NULL, onBody, f);
    assert_true(testWaitFor(condDone, f, 30));
    assert_non_null(f->body);
    status = soup_message_get_status(f->msg);
    data = g_bytes_get_data(f->body, &len);
    if (body)
        *body = g_strndup(data ? data : "", len);
    if (type)
        *type = g_strdup(soup_message_headers_get_one(
            soup_message_get_response_headers(f->msg), "Content-Type"));
    g_clear_pointer(&f->body, g_bytes_unref);
    g_clear_object(&f->msg);
    return status;
}


static gboolean
condStateOf(HbMonitor *monitor, const char *name, HbState state)
{
    HbDomain *dom = hbMonitorLookup(monitor, name);

    return dom && hbDomainState(dom) == state;
}


static gboolean
condBothOk(gpointer data)
{
    Fixture *f = data;

    return condStateOf(f->monitor, "hb-ok", HB_STATE_OK) &&
        condStateOf(f->monitor, ODD_NAME, HB_STATE_OK);
}


static gboolean
condStateOk(gpointer data)
{
    return condStateOf(((Fixture *) data)->monitor, "hb-ok", HB_STATE_OK);
}


static gboolean
condOkPaused(gpointer data)
{
    return condStateOf(((Fixture *) data)->monitor, "hb-ok", HB_STATE_PAUSED);
}


static gboolean
condMissAttempted(gpointer data)
{
    Fixture *f = data;
    HbDomain *dom = hbMonitorLookup(f->monitor, "hb-miss");

    return dom && hbDomainRestarts(dom, HB_ACTION_RESET, HB_OUTCOME_OK) >= 1 &&
        !hbDomainIsHeartbeating(dom);
}


/* The line of @body that starts with @prefix; fails the test if there is none. */
static void
assertLine(const char *body, const char *prefix)
{
    g_autofree char *full = g_strconcat("\n", prefix, NULL);

    if (!strstr(body, full))
        fail_msg("no line '%s' in the scrape:\n%s", prefix, body);
}


/* promtool check metrics on @text; skipped (cmocka) where promtool is absent. */
static void
promtoolCheck(const char *what, const char *path)
{
    g_autofree char *promtool = g_find_program_in_path("promtool");
    g_autofree char *out = NULL;
    g_autofree char *cmd = NULL;
    g_autoptr(GError) err = NULL;
    int status;

    if (!promtool)
        skip();
    if (g_str_equal(what, "metrics"))
        cmd = g_strdup_printf("sh -c '\"%s\" check metrics < \"%s\" 2>&1'", promtool, path);
    else
        cmd = g_strdup_printf("\"%s\" check rules \"%s\"", promtool, path);
    assert_true(g_spawn_command_line_sync(cmd, &out, NULL, &status, &err));
    if (!g_spawn_check_wait_status(status, NULL) || (out && strstr(out, "lint")))
        fail_msg("promtool check %s %s: %s", what, path, out);
}


static void
test_scrape(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) ok = testDomainStart(f->conn, "hb-ok", TRUE, FAST);
    g_autoptr(virDomain) odd = testDomainStart(f->conn, ODD_NAME, TRUE, FAST);
    g_autoptr(virDomain) miss = NULL;
    g_autofree char *ok_uuid = testDomainUUID(ok);
    g_autofree char *odd_uuid = testDomainUUID(odd);
    g_autofree char *miss_uuid = NULL;
    g_autofree char *body = NULL;
    g_autofree char *type = NULL;
    g_autofree char *line = NULL;
    g_autofree char *path = NULL;
    int fd;

    assert_true(testWaitFor(condBothOk, f, 30));
    miss = testDomainStart(f->conn, "hb-miss", TRUE, FAST);
    miss_uuid = testDomainUUID(miss);
    fakeProbeSet(miss_uuid, FAKE_AGENT_MISS);
    assert_true(testWaitFor(condMissAttempted, f, 30));

    /* A domain a main-loop iteration: the copy in steps, put together whole. */
    hbMetricsSetChunk(f->metrics, 1);
    assert_int_equal(request(f, "GET", HB_METRICS_PATH, &body, &type), SOUP_STATUS_OK);
    assert_string_equal(type, "text/plain; version=0.0.4; charset=utf-8");
    assertLine(body, "virt_heartbeat_up 1\n");
    assertLine(body, "virt_heartbeat_libvirt_connected 1\n");
    line = g_strdup_printf("virt_heartbeat_domain_heartbeating{domain=\"hb-ok\",uuid=\"%s\"} 1\n",
                           ok_uuid);
    assertLine(body, line);
    g_free(line);
    line = g_strdup_printf("virt_heartbeat_domain_state{domain=\"hb-ok\",uuid=\"%s\","
                           "state=\"ok\"} 1\n", ok_uuid);
    assertLine(body, line);
    g_free(line);
    line = g_strdup_printf("virt_heartbeat_domain_heartbeat_ratio{domain=\"hb-ok\","
                           "uuid=\"%s\"} 1\n", ok_uuid);
    assertLine(body, line);
    g_free(line);
    /* The name escaped, as a label value must be. */
    line = g_strdup_printf("virt_heartbeat_domain_heartbeating{domain=\"hb-\\\"odd\\\\name\","
                           "uuid=\"%s\"} 1\n", odd_uuid);
    assertLine(body, line);
    g_free(line);
    line = g_strdup_printf("virt_heartbeat_domain_heartbeating{domain=\"hb-miss\",uuid=\"%s\"} 0\n",
                           miss_uuid);
    assertLine(body, line);
    g_free(line);
    line = g_strdup_printf("virt_heartbeat_domain_restart_attempts_total{domain=\"hb-miss\","
                           "uuid=\"%s\",action=\"reset\",result=\"ok\"} ", miss_uuid);
    assertLine(body, line);
    g_free(line);
    line = g_strdup_printf("virt_heartbeat_domain_last_restart_timestamp_seconds{"
                           "domain=\"hb-miss\",uuid=\"%s\"} ", miss_uuid);
    assertLine(body, line);
    g_free(line);
    /* Never restarted: no time of a last restart. */
    line = g_strdup_printf("virt_heartbeat_domain_last_restart_timestamp_seconds{"
                           "domain=\"hb-ok\",uuid=\"%s\"} ", ok_uuid);
    assert_null(strstr(body, line));
    assertLine(body, "virt_heartbeat_running_jobs{lane=\"ping\"} ");
    assertLine(body, "virt_heartbeat_queued_jobs{lane=\"restart\"} ");
    assertLine(body, "virt_heartbeat_ping_rtt_seconds_bucket{le=\"+Inf\"} ");
    assertLine(body, "virt_heartbeat_domains{state=\"ok\"} 2\n");

    fd = g_file_open_tmp("hb-metrics-XXXXXX.prom", &path, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_true(g_file_set_contents(path, body, -1, NULL));
    promtoolCheck("metrics", path);
    g_unlink(path);
}


/* GET and HEAD of /metrics only; another path is not found. */
static void
test_paths_and_methods(void **state)
{
    Fixture *f = *state;
    g_autofree char *body = NULL;

    assert_int_equal(request(f, "GET", "/", NULL, NULL), SOUP_STATUS_NOT_FOUND);
    assert_int_equal(request(f, "GET", "/metrics/x", NULL, NULL), SOUP_STATUS_NOT_FOUND);
    assert_int_equal(request(f, "POST", HB_METRICS_PATH, NULL, NULL),
                     SOUP_STATUS_METHOD_NOT_ALLOWED);
    assert_int_equal(request(f, "HEAD", HB_METRICS_PATH, &body, NULL), SOUP_STATUS_OK);
    assert_string_equal(body, "");
}


typedef struct {
    guint done;
    guint ok;       /* answered 200 with a whole scrape */
} Many;


static void
onManyBody(GObject *source, GAsyncResult *res, gpointer data)
{
    Many *many = data;
    SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(source), res);
    g_autoptr(GBytes) body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, NULL);
    g_autofree char *text = body ? g_strndup(g_bytes_get_data(body, NULL),
                                             g_bytes_get_size(body)) : NULL;

    if (text && soup_message_get_status(msg) == SOUP_STATUS_OK &&
        strstr(text, "\nvirt_heartbeat_domain_heartbeating{domain=\"hb-ok\"") &&
        g_str_has_suffix(text, "\n"))
        many->ok++;
    many->done++;
}


static gboolean
condManyDone(gpointer data)
{
    return ((Many *) data)->done == 12;
}


static gboolean
condManyIn(gpointer data)
{
    return hbMetricsRequests(((Fixture *) data)->metrics, NULL) == 12;
}


/*
 * Scrapers at once, as many Prometheus servers (or one user in a loop)
 * make them: one build at a time serves them all, each a whole scrape, and
 * a scrape after a change shows the change.
 */
static void
test_concurrent(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) ok = testDomainStart(f->conn, "hb-ok", TRUE, FAST);
    g_autoptr(virDomain) odd = testDomainStart(f->conn, ODD_NAME, TRUE, FAST);
    g_autofree char *uri = g_strconcat(f->base, HB_METRICS_PATH, NULL);
    g_autofree char *uuid = testDomainUUID(ok);
    g_autofree char *body = NULL;
    g_autofree char *line = NULL;
    GPtrArray *sessions = g_ptr_array_new_with_free_func(g_object_unref);
    Many many = { 0 };
    GMutex gate;
    guint builds = 0;

    assert_true(testWaitFor(condBothOk, f, 30));
    g_mutex_init(&gate);
    g_mutex_lock(&gate);
    hbMetricsSetGate(f->metrics, &gate);
    for (guint i = 0; i < 12; i++) {
        SoupSession *session = soup_session_new();
        g_autoptr(SoupMessage) msg = soup_message_new("GET", uri);

        g_ptr_array_add(sessions, session);
        soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL,
                                         onManyBody, &many);
    }
    /* Every request in while the first one's build is held. */
    assert_true(testWaitFor(condManyIn, f, 30));
    hbMetricsRequests(f->metrics, &builds);
    assert_int_equal(builds, 1);
    g_mutex_unlock(&gate);
    assert_true(testWaitFor(condManyDone, &many, 30));
    assert_int_equal(many.ok, 12);
    /* The first, then one for the 11 come while it was built. */
    assert_int_equal(hbMetricsRequests(f->metrics, &builds), 0);
    assert_int_equal(builds, 2);
    hbMetricsSetGate(f->metrics, NULL);
    g_mutex_clear(&gate);
    g_ptr_array_unref(sessions);

    /* Paused: the next scrape reads the monitor afresh. */
    assert_int_equal(virDomainSuspend(ok), 0);
    line = g_strdup_printf("virt_heartbeat_domain_state{domain=\"hb-ok\",uuid=\"%s\","
                           "state=\"paused\"} 1\n", uuid);
    assert_true(testWaitFor(condOkPaused, f, 30));
    assert_int_equal(request(f, "GET", HB_METRICS_PATH, &body, NULL), SOUP_STATUS_OK);
    assertLine(body, line);
}


/*
 * The endpoint freed while a scrape is being built (the daemon stopping):
 * the build ends on its own and touches nothing freed.
 */
static void
test_freed_while_building(void **state)
{
    Fixture *f = *state;
    g_autoptr(SoupSession) session = soup_session_new();
    g_autofree char *uri = g_strconcat(f->base, HB_METRICS_PATH, NULL);
    g_autoptr(virDomain) ok = testDomainStart(f->conn, "hb-ok", TRUE, FAST);
    g_autoptr(SoupMessage) msg = soup_message_new("GET", uri);
    Many many = { 0 };

    assert_true(testWaitFor(condStateOk, f, 30));
    soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL,
                                     onManyBody, &many);
    /* Until the request is in: the server pauses it and starts a build. */
    while (!hbMetricsRequests(f->metrics, NULL))
        g_main_context_iteration(NULL, TRUE);
    g_clear_pointer(&f->metrics, hbMetricsFree);
    testSpin(500);
    assert_int_equal(many.ok, 0);
}


/*
 * Clients that hang up before their scrape is built, more than the scrapes
 * built at once: each is dropped without harm, and the next GET is served.
 */
static void
test_client_gone(void **state)
{
    Fixture *f = *state;
    g_autoptr(GSocketClient) client = g_socket_client_new();
    const char *req = "GET " HB_METRICS_PATH " HTTP/1.1\r\nHost: x\r\n\r\n";
    g_autofree char *body = NULL;

    for (guint i = 0; i < 8; i++) {
        g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host(
            client, f->base + strlen("http://"), 0, NULL, NULL);
        GOutputStream *out;

        assert_non_null(conn);
        out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
        assert_true(g_output_stream_write_all(out, req, strlen(req), NULL, NULL, NULL));
        assert_true(g_io_stream_close(G_IO_STREAM(conn), NULL, NULL));
    }
    testSpin(500);
    assert_int_equal(request(f, "GET", HB_METRICS_PATH, &body, NULL), SOUP_STATUS_OK);
    assertLine(body, "virt_heartbeat_up 1\n");
}


/* Descriptors open in this process, the endpoint's connections among them. */
static guint
openFds(void)
{
    g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
    guint n = 0;

    assert_non_null(dir);
    while (g_dir_read_name(dir))
        n++;
    return n;
}


typedef struct {
    GPtrArray *conns;   /* GSocketConnection */
} HalfOpen;


static gboolean
condAllClosedByServer(gpointer data)
{
    HalfOpen *h = data;

    for (guint i = 0; i < h->conns->len; i++) {
        GSocket *sock = g_socket_connection_get_socket(h->conns->pdata[i]);
        g_autoptr(GError) err = NULL;
        char byte;

        /* Would block: the server still holds it open. (Closed unread, it is reset.) */
        if (g_socket_receive_with_blocking(sock, &byte, 1, FALSE, NULL, &err) < 0 &&
            g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return FALSE;
    }
    return TRUE;
}


/*
 * A local user's slowloris: many connections that send half a request and
 * wait. The endpoint keeps only a few of them (each is a descriptor of the
 * daemon, which its hooks and libvirt need too), drops the idle ones, and
 * still answers a scrape.
 */
static void
test_half_open_bounded(void **state)
{
    Fixture *f = *state;
    g_autoptr(GSocketClient) client = g_socket_client_new();
    const char *half = "GET " HB_METRICS_PATH " HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    HalfOpen h = { g_ptr_array_new_with_free_func(g_object_unref) };
    g_autofree char *body = NULL;
    guint before = openFds();
    guint held;

    for (guint i = 0; i < 200; i++) {
        GSocketConnection *conn = g_socket_client_connect_to_host(
            client, f->base + strlen("http://"), 0, NULL, NULL);

        assert_non_null(conn);
        /* It may be closed already: the write's result tells nothing. */
        g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)),
                                  half, strlen(half), NULL, NULL, NULL);
        g_ptr_array_add(h.conns, conn);
        /* Let the loop run between connections, as a client would. */
        while (g_main_context_iteration(NULL, FALSE))
            ;
    }
    testSpin(1000);
    /* Ours are 200; the server's own ends of them must not be 200 more. */
    held = openFds() - before - h.conns->len;
    if (held > HB_METRICS_MAX_CONNECTIONS + 8)
        fail_msg("the endpoint holds %u connections open", held);
    /* The idle ones are closed in time, all of them. */
    assert_true(testWaitFor(condAllClosedByServer, &h, HB_METRICS_IDLE_S + 20));
    assert_int_equal(request(f, "GET", HB_METRICS_PATH, &body, NULL), SOUP_STATUS_OK);
    assertLine(body, "virt_heartbeat_up 1\n");
    g_ptr_array_unref(h.conns);
}


typedef struct {
    char *listen;
    gint done;        /* atomic: the endpoints made and freed, all of them */
    gboolean failed;
} AtOnce;


static gpointer
atOnceThread(gpointer data)
{
    AtOnce *a = data;

    for (guint i = 0; i < 200; i++) {
        g_autoptr(HbMetrics) metrics = NULL;

        if (!(metrics = hbMetricsNew(NULL, a->listen, NULL))) {
            a->failed = TRUE;
            break;
        }
    }
    g_atomic_int_set(&a->done, TRUE);
    return NULL;
}


static gboolean
condAtOnce(gpointer data)
{
    AtOnce *a = data;

    return g_atomic_int_get(&a->done);
}


/*
 * The endpoint freed as soon as made (a daemon stopped as it starts, on a
 * loaded host): its thread may not have begun serving yet, and the free
 * must not wait for it for ever. Made and freed on a thread of its own, so
 * that a hang is a failure here and not a stuck test.
 */
static void
test_freed_at_once(void **state)
{
    Fixture *f = *state;
    AtOnce a = { g_strdup_printf("127.0.0.1:%u", freePort()) };
    GThread *thread;

    /* The fixture's endpoint is serving by now: its free at teardown is not the test. */
    assert_int_equal(request(f, "GET", HB_METRICS_PATH, NULL, NULL), SOUP_STATUS_OK);
    thread = g_thread_new("at-once", atOnceThread, &a);
    if (!testWaitFor(condAtOnce, &a, 60))
        fail_msg("hbMetricsFree waits for ever for an endpoint freed as soon as made");
    g_thread_join(thread);
    assert_false(a.failed);
    g_free(a.listen);
}


static void
domainFree(gpointer dom)
{
    virDomainFree(dom);
}


/* Enough for a 7 MB scrape with names 1,000 bytes long; pinged seldom. */
#define STALLED_DOMAINS 400
#define SLOW "time='60' rate='1'"

static gboolean
condAllStalledIn(gpointer data)
{
    Fixture *f = data;
    g_autoptr(GList) doms = hbMonitorDomains(f->monitor);

    return g_list_length(doms) >= STALLED_DOMAINS;
}


/*
 * A local user who asks for a scrape and never reads it: the body (19 MB
 * at 10,000 domains) must not stay held for as long as the client likes.
 * The socket's timeout sees libsoup's writes too: once the client's window
 * has been full for HB_METRICS_IDLE_S, the connection is closed and the
 * body let go. Enough domains that the body cannot all sit in the
 * sockets' buffers (the client's is made small).
 */
static void
test_reader_stalled(void **state)
{
    Fixture *f = *state;
    g_autoptr(GPtrArray) doms = g_ptr_array_new_with_free_func(domainFree);
    g_autoptr(GSocket) sock = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) server = g_inet_socket_address_new(lo, hbMetricsPort(f->metrics));
    const char *req = "GET " HB_METRICS_PATH " HTTP/1.1\r\nHost: x\r\n\r\n";
    g_autofree char *body = NULL;
    g_autoptr(GError) err = NULL;
    gsize whole;
    gsize got = 0;
    char buf[65536];
    gssize n;

    /* Long names: every sample line carries one, so a few domains make megabytes. */
    for (guint i = 0; i < STALLED_DOMAINS; i++) {
        g_autofree char *name = g_strdup_printf("hb-stalled-%03u-%0*u", i, 1000, 0);

        g_ptr_array_add(doms, testDomainStart(f->conn, name, TRUE, SLOW));
    }
    assert_true(testWaitFor(condAllStalledIn, f, 60));
    assert_int_equal(request(f, "GET", HB_METRICS_PATH, &body, NULL), SOUP_STATUS_OK);
    whole = strlen(body);
    /* More than the kernel's buffers take (tcp_wmem's 4 MB at most, and the client's). */
    if (whole < 6 * 1024 * 1024)
        fail_msg("a scrape of %zu bytes: too small to fill the sockets' buffers", whole);

    assert_non_null(sock);
    assert_true(g_socket_set_option(sock, SOL_SOCKET, SO_RCVBUF, 4096, NULL));
    assert_true(g_socket_connect(sock, server, NULL, NULL));
    assert_int_equal(g_socket_send(sock, req, strlen(req), NULL, NULL), strlen(req));
    /* The main loop runs meanwhile: it takes the scrape's snapshot. */
    testSpin((HB_METRICS_IDLE_S + 5) * 1000);

    /* What was sent before the server gave up, and then its end: not the whole body. */
    g_socket_set_timeout(sock, 10);
    while ((n = g_socket_receive(sock, buf, sizeof(buf), NULL, &err)) > 0)
        got += n;
    if (n < 0 && !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        fail_msg("after %zu bytes: %s", got, err->message);
    if (got >= whole)
        fail_msg("the server held the stalled reader's body: %zu bytes of %zu came",
                 got, whole);
}


/* A port already taken, or a bad address: no endpoint, and why. */
static void
test_cannot_listen(void **state)
{
    Fixture *f = *state;
    g_autofree char *taken = g_strdup_printf("127.0.0.1:%u", hbMetricsPort(f->metrics));
    g_autoptr(GError) err = NULL;

    assert_null(hbMetricsNew(f->monitor, taken, &err));
    assert_non_null(err);
    g_clear_error(&err);
    assert_null(hbMetricsNew(f->monitor, "localhost:9", &err));
    assert_true(g_error_matches(err, HB_ERROR, HB_ERROR_INVALID_ARGUMENT));
}


/* The example alerting rules shipped in contrib/ load in Prometheus. */
static void
test_rules(void **state G_GNUC_UNUSED)
{
    promtoolCheck("rules", TOP_SRCDIR "/contrib/virt-heartbeat.rules.yml");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scrape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths_and_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freed_while_building, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_open_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_stalled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_listen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freed_at_once, setup, teardown),
        cmocka_unit_test(test_rules),
    };

    hbUtilInitLibvirt();
    gvir_event_register();
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
