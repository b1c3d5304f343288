/*
 * /metrics: the daemon's figures and every monitored domain's, in the
 * Prometheus text format, served by libsoup from the main loop.
 */
#include <config.h>

#include <libsoup/soup.h>

#include "hb-daemon-conf.h"
#include "hb-metrics.h"

#define HB_PREFIX "virt_heartbeat_"

struct _HbMetrics {
    HbMonitor *monitor;
    SoupServer *server;
    GSocketService *service; /* accepts for the server: see hbMetricsIncoming */
    GHashTable *conns;       /* GSocketConnection set, weak: those being served */
    guint port;
    gsize last_len; /* of the last scrape: the next one's buffer, allocated once */
    GList *jobs;    /* HbMetricsJob: scrapes being built */
};

/* The families with one sample (or a few) per domain, in the order served. */
typedef enum {
    HB_METRIC_STATE,
    HB_METRIC_HEARTBEATING,
    HB_METRIC_RATIO,
    HB_METRIC_BLOCK,
    HB_METRIC_SINCE_TICK,
    HB_METRIC_PINGS_SENT,
    HB_METRIC_PINGS_MISSED,
    HB_METRIC_PINGS_NO_VERDICT,
    HB_METRIC_EPISODES,
    HB_METRIC_RESTARTS,
    HB_METRIC_STORM_CAPPED,
    HB_METRIC_LAST_RESTART,

    HB_METRIC_LAST
} HbMetric;

static const struct {
    const char *name;
    const char *type;
    const char *help;
} hbMetricFamilies[HB_METRIC_LAST] = {
    [HB_METRIC_STATE] = { HB_PREFIX "domain_state", "gauge",
        "The domain's heartbeat state: 1 for the one it is in, 0 for the others." },
    [HB_METRIC_HEARTBEATING] = { HB_PREFIX "domain_heartbeating", "gauge",
        "1 if the guest's heartbeat is there now (IsHeartbeating), else 0." },
    [HB_METRIC_RATIO] = { HB_PREFIX "domain_heartbeat_ratio", "gauge",
        "Ticks seen in the last block over the ticks expected (Percentage / 100)." },
    [HB_METRIC_BLOCK] = { HB_PREFIX "domain_block_seconds", "gauge",
        "The domain's block (its time key): the span its ticks are counted over." },
    [HB_METRIC_SINCE_TICK] = { HB_PREFIX "domain_seconds_since_last_tick", "gauge",
        "Seconds since the last answered ping; absent before the first." },
    [HB_METRIC_PINGS_SENT] = { HB_PREFIX "domain_pings_sent_total", "counter",
        "Pings done, whatever they found." },
    [HB_METRIC_PINGS_MISSED] = { HB_PREFIX "domain_pings_missed_total", "counter",
        "Pings that failed or timed out: missed ticks." },
    [HB_METRIC_PINGS_NO_VERDICT] = { HB_PREFIX "domain_pings_no_verdict_total", "counter",
        "Pings that judged nothing: the domain not running, libvirtd away, a domain job." },
    [HB_METRIC_EPISODES] = { HB_PREFIX "domain_episodes_total", "counter",
        "Episodes: times the heartbeat stopped (kept across daemon restarts with state_dir)." },
    [HB_METRIC_RESTARTS] = { HB_PREFIX "domain_restart_attempts_total", "counter",
        "Restart attempts by the action configured and how each ended; only those seen." },
    [HB_METRIC_STORM_CAPPED] = { HB_PREFIX "domain_storm_capped", "gauge",
        "1 while the storm cap (max_episodes in episode_window) holds every action." },
    [HB_METRIC_LAST_RESTART] = { HB_PREFIX "domain_last_restart_timestamp_seconds", "gauge",
        "When a restart attempt last reset, started or sent an NMI to the domain." },
};

typedef struct {
    GString *out;
    HbMetric metric;
    HbState state;   /* HB_METRIC_STATE: the one whose samples this pass writes */
    gint64 now;      /* wall clock, µs */
} HbMetricsScrape;

/*
 * A scrape is built in steps, one main-loop iteration each, so that no
 * step holds the loop (and the pings it dispatches) for long: the
 * daemon-wide figures, then one pass over the domains per family (per
 * state for the state-set, its largest). A domain added or removed
 * between two steps is in some families only: the next scrape has it whole.
 */
#define HB_METRICS_STEPS (1 + HB_METRIC_LAST - 1 + HB_STATE_LAST)
/* Scrapes under way at once; more are answered 503. */
#define HB_METRICS_MAX_SCRAPES 4

typedef struct {
    HbMetrics *metrics;
    SoupServerMessage *msg;
    GString *out;
    guint step;
    gint64 now;
    guint idle;
} HbMetricsJob;


/* name{domain="..",uuid=".."  : the caller closes the braces. */
static void
hbMetricsOpen(HbMetricsScrape *scrape, HbDomain *dom)
{
    g_string_append(scrape->out, hbMetricFamilies[scrape->metric].name);
    g_string_append_c(scrape->out, '{');
    g_string_append(scrape->out, hbDomainMetricLabels(dom));
}


static void
hbMetricsUnsigned(HbMetricsScrape *scrape, HbDomain *dom, guint64 value)
{
    hbMetricsOpen(scrape, dom);
    g_string_append(scrape->out, "} ");
    hbPromUnsigned(scrape->out, value);
    g_string_append_c(scrape->out, '\n');
}


static void
hbMetricsMicros(HbMetricsScrape *scrape, HbDomain *dom, guint64 us)
{
    hbMetricsOpen(scrape, dom);
    g_string_append(scrape->out, "} ");
    hbPromMicros(scrape->out, us);
    g_string_append_c(scrape->out, '\n');
}


static void
hbMetricsState(HbMetricsScrape *scrape, HbDomain *dom)
{
    hbMetricsOpen(scrape, dom);
    g_string_append(scrape->out, ",state=\"");
    g_string_append(scrape->out, hbStateToString(scrape->state));
    g_string_append(scrape->out, hbDomainState(dom) == scrape->state ? "\"} 1\n" : "\"} 0\n");
}


/* Only the pairs seen: every action by every outcome would be 40 lines a domain. */
static void
hbMetricsRestarts(HbMetricsScrape *scrape, HbDomain *dom)
{
    for (guint action = 0; action < HB_ACTION_LAST; action++) {
        for (guint outcome = 0; outcome < HB_OUTCOME_LAST; outcome++) {
            guint64 n = hbDomainRestarts(dom, action, outcome);

            if (!n)
                continue;
            hbMetricsOpen(scrape, dom);
            g_string_append(scrape->out, ",action=\"");
            g_string_append(scrape->out, hbActionToString(action));
            g_string_append(scrape->out, "\",result=\"");
            g_string_append(scrape->out, hbOutcomeToString(outcome));
            g_string_append(scrape->out, "\"} ");
            hbPromUnsigned(scrape->out, n);
            g_string_append_c(scrape->out, '\n');
        }
    }
}


static void
hbMetricsDomain(gpointer key G_GNUC_UNUSED, gpointer value, gpointer data)
{
    HbMetricsScrape *scrape = data;
    HbDomain *dom = value;
    gint64 when;

    switch (scrape->metric) {
    case HB_METRIC_STATE:
        hbMetricsState(scrape, dom);
        break;
    case HB_METRIC_HEARTBEATING:
        hbMetricsUnsigned(scrape, dom, hbDomainIsHeartbeating(dom));
        break;
    case HB_METRIC_RATIO:
        hbMetricsMicros(scrape, dom, hbDomainPercentage(dom) * (G_USEC_PER_SEC / 100));
        break;
    case HB_METRIC_BLOCK:
        hbMetricsUnsigned(scrape, dom, hbDomainConfig(dom)->time);
        break;
    case HB_METRIC_SINCE_TICK:
        if ((when = hbDomainLastTick(dom)))
            hbMetricsMicros(scrape, dom, MAX(scrape->now - when, 0));
        break;
    case HB_METRIC_PINGS_SENT:
        hbMetricsUnsigned(scrape, dom, hbDomainPings(dom, HB_PING_TICK) +
                          hbDomainPings(dom, HB_PING_MISS) +
                          hbDomainPings(dom, HB_PING_VOID) +
                          hbDomainPings(dom, HB_PING_SUPPRESSED));
        break;
    case HB_METRIC_PINGS_MISSED:
        hbMetricsUnsigned(scrape, dom, hbDomainPings(dom, HB_PING_MISS));
        break;
    case HB_METRIC_PINGS_NO_VERDICT:
        hbMetricsUnsigned(scrape, dom, hbDomainPings(dom, HB_PING_VOID) +
                          hbDomainPings(dom, HB_PING_SUPPRESSED));
        break;
    case HB_METRIC_EPISODES:
        hbMetricsUnsigned(scrape, dom, hbDomainEpisode(dom));
        break;
    case HB_METRIC_RESTARTS:
        hbMetricsRestarts(scrape, dom);
        break;
    case HB_METRIC_STORM_CAPPED:
        hbMetricsUnsigned(scrape, dom, hbDomainStormCapped(dom));
        break;
    case HB_METRIC_LAST_RESTART:
        if ((when = hbDomainLastRestart(dom)))
            hbMetricsMicros(scrape, dom, MAX(when, 0));
        break;
    case HB_METRIC_LAST:
        break;
    }
}


/* The worker's lanes: jobs waiting for a thread, and libvirt calls in flight. */
static void
hbMetricsLanes(HbMonitor *monitor, GString *out)
{
    HbWorker *worker = hbMonitorWorker(monitor);

    hbPromFamily(out, HB_PREFIX "queued_jobs", "gauge",
                 "Jobs waiting for a worker thread of their lane.");
    for (guint lane = 0; lane < HB_LANE_LAST; lane++) {
        guint busy = hbWorkerBusy(worker, lane);
        guint pending = hbWorkerPending(worker, lane);

        g_string_append_printf(out, HB_PREFIX "queued_jobs{lane=\"%s\"} %u\n",
                               hbLaneToString(lane), pending - MIN(busy, pending));
    }
    hbPromFamily(out, HB_PREFIX "running_jobs", "gauge",
                 "Jobs running on a worker thread of their lane: libvirt and agent calls "
                 "in flight.");
    for (guint lane = 0; lane < HB_LANE_LAST; lane++)
        g_string_append_printf(out, HB_PREFIX "running_jobs{lane=\"%s\"} %u\n",
                               hbLaneToString(lane), hbWorkerBusy(worker, lane));
}


static void
hbMetricsDaemon(HbMonitor *monitor, GString *out)
{
    g_autoptr(GVariant) stats = g_variant_ref_sink(hbMonitorStatistics(monitor));

    hbPromFamily(out, HB_PREFIX "up", "gauge", "1: virt-heartbeatd serves these metrics.");
    g_string_append(out, HB_PREFIX "up 1\n");
    hbPromFamily(out, HB_PREFIX "libvirt_connected", "gauge",
                 "1 while the daemon is connected to libvirtd and in step with it.");
    g_string_append_printf(out, HB_PREFIX "libvirt_connected %d\n",
                           hbMonitorIsConnected(monitor) ? 1 : 0);
    /* The daemon-wide figures, as `virt-heartbeat stats` prints them. */
    hbStatsFormat(stats, out);
    hbMetricsLanes(monitor, out);
}


gboolean
hbMetricsFormatStep(HbMonitor *monitor, gint64 now, guint step, GString *out)
{
    HbMetricsScrape scrape = { .out = out, .now = now };

    if (step == 0) {
        hbMetricsDaemon(monitor, out);
        return TRUE;
    }
    if (step >= HB_METRICS_STEPS)
        return FALSE;
    /* Steps 1 to HB_STATE_LAST: the state-set, a state each; then a family each. */
    if (step <= HB_STATE_LAST) {
        scrape.metric = HB_METRIC_STATE;
        scrape.state = step - 1;
    } else {
        scrape.metric = step - HB_STATE_LAST;
    }
    if (scrape.metric != HB_METRIC_STATE || scrape.state == 0)
        hbPromFamily(out, hbMetricFamilies[scrape.metric].name,
                     hbMetricFamilies[scrape.metric].type, hbMetricFamilies[scrape.metric].help);
    hbMonitorForeach(monitor, hbMetricsDomain, &scrape);
    return step + 1 < HB_METRICS_STEPS;
}


void
hbMetricsFormat(HbMonitor *monitor, gint64 now, GString *out)
{
    for (guint step = 0; hbMetricsFormatStep(monitor, now, step, out); step++)
        ;
}


static void
hbMetricsJobFree(HbMetricsJob *job)
{
    job->metrics->jobs = g_list_remove(job->metrics->jobs, job);
    g_clear_handle_id(&job->idle, g_source_remove);
    g_signal_handlers_disconnect_by_data(job->msg, job);
    g_object_unref(job->msg);
    if (job->out)
        g_string_free(job->out, TRUE);
    g_free(job);
}


/* The client went away before its scrape was done. */
static void
hbMetricsJobFinished(SoupServerMessage *msg G_GNUC_UNUSED, gpointer data)
{
    hbMetricsJobFree(data);
}


/* Idle priority: pings, results and events go first. */
static gboolean
hbMetricsJobStep(gpointer data)
{
    HbMetricsJob *job = data;
    gsize len;

    /* One wall clock for every step: the ages in a scrape agree. */
    if (hbMetricsFormatStep(job->metrics->monitor, job->now, job->step++, job->out))
        return G_SOURCE_CONTINUE;
    job->idle = 0;
    len = job->metrics->last_len = job->out->len;
    soup_server_message_set_status(job->msg, SOUP_STATUS_OK, NULL);
    soup_server_message_set_response(job->msg, HB_PROM_CONTENT_TYPE, SOUP_MEMORY_TAKE,
                                     g_string_free(g_steal_pointer(&job->out), FALSE), len);
    /* Done here: its end is no disconnection. */
    g_signal_handlers_disconnect_by_data(job->msg, job);
    soup_server_message_unpause(job->msg);
    hbMetricsJobFree(job);
    return G_SOURCE_REMOVE;
}


static void
hbMetricsHandle(SoupServer *server G_GNUC_UNUSED, SoupServerMessage *msg, const char *path,
                GHashTable *query G_GNUC_UNUSED, gpointer data)
{
    HbMetrics *metrics = data;
    const char *method = soup_server_message_get_method(msg);
    HbMetricsJob *job;

    if (!g_str_equal(path, HB_METRICS_PATH)) {
        soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
        return;
    }
    if (!g_str_equal(method, SOUP_METHOD_GET) && !g_str_equal(method, SOUP_METHOD_HEAD)) {
        soup_message_headers_append(soup_server_message_get_response_headers(msg),
                                    "Allow", "GET, HEAD");
        soup_server_message_set_status(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
        return;
    }
    if (g_list_length(metrics->jobs) >= HB_METRICS_MAX_SCRAPES) {
        soup_server_message_set_status(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
        return;
    }
    job = g_new0(HbMetricsJob, 1);
    job->metrics = metrics;
    job->msg = g_object_ref(msg);
    job->now = g_get_real_time();
    job->out = g_string_sized_new(metrics->last_len + metrics->last_len / 8 + 4096);
    metrics->jobs = g_list_prepend(metrics->jobs, job);
    soup_server_message_pause(msg);
    g_signal_connect(msg, "finished", G_CALLBACK(hbMetricsJobFinished), job);
    job->idle = g_idle_add(hbMetricsJobStep, job);
}


/* libsoup let go of a connection: closed by either end. */
static void
hbMetricsConnectionGone(gpointer data, GObject *conn)
{
    HbMetrics *metrics = data;

    g_hash_table_remove(metrics->conns, conn);
}


/*
 * A connection is served only while there are fewer than
 * HB_METRICS_MAX_CONNECTIONS, and each is closed once idle for
 * HB_METRICS_IDLE_S (the socket's timeout, which libsoup's reads and
 * writes see): SoupServer alone keeps any number of them, for ever, and a
 * local user holding hundreds half-open would take the descriptors that
 * hooks and libvirt need.
 */
static gboolean
hbMetricsIncoming(GSocketService *service G_GNUC_UNUSED, GSocketConnection *conn,
                  GObject *source G_GNUC_UNUSED, gpointer data)
{
    HbMetrics *metrics = data;
    g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address(conn, NULL);
    g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address(conn, NULL);
    g_autoptr(GError) err = NULL;

    if (g_hash_table_size(metrics->conns) >= HB_METRICS_MAX_CONNECTIONS) {
        g_debug("/metrics: connection refused, %u already served",
                HB_METRICS_MAX_CONNECTIONS);
        g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
        return TRUE;
    }
    g_socket_set_timeout(g_socket_connection_get_socket(conn), HB_METRICS_IDLE_S);
    if (!soup_server_accept_iostream(metrics->server, G_IO_STREAM(conn), local, remote, &err)) {
        g_debug("/metrics: connection not served: %s", err->message);
        g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
        return TRUE;
    }
    g_hash_table_add(metrics->conns, conn);
    g_object_weak_ref(G_OBJECT(conn), hbMetricsConnectionGone, metrics);
    return TRUE;
}


HbMetrics *
hbMetricsNew(HbMonitor *monitor, const char *listen, GError **err)
{
    g_autoptr(HbMetrics) metrics = g_new0(HbMetrics, 1);
    g_autoptr(GSocketAddress) address = hbDaemonConfListenAddress(listen, err);
    g_autoptr(GSocketAddress) bound = NULL;

    if (!address)
        return NULL;
    metrics->monitor = monitor;
    metrics->conns = g_hash_table_new(NULL, NULL);
    metrics->server = soup_server_new("server-header", "virt-heartbeatd/" PACKAGE_VERSION " ",
                                      NULL);
    soup_server_add_handler(metrics->server, NULL, hbMetricsHandle, metrics, NULL);
    metrics->service = g_socket_service_new();
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(metrics->service), address,
                                       G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                       &bound, err))
        return NULL;
    g_signal_connect(metrics->service, "incoming", G_CALLBACK(hbMetricsIncoming), metrics);
    metrics->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    return g_steal_pointer(&metrics);
}


guint
hbMetricsPort(HbMetrics *metrics)
{
    return metrics->port;
}


void
hbMetricsFree(HbMetrics *metrics)
{
    if (!metrics)
        return;
    while (metrics->jobs)
        hbMetricsJobFree(metrics->jobs->data);
    if (metrics->service) {
        g_signal_handlers_disconnect_by_data(metrics->service, metrics);
        g_socket_service_stop(metrics->service);
        g_socket_listener_close(G_SOCKET_LISTENER(metrics->service));
        g_clear_object(&metrics->service);
    }
    if (metrics->conns) {
        GHashTableIter iter;
        gpointer conn;

        /* libsoup may let go of them later, once this is gone. */
        g_hash_table_iter_init(&iter, metrics->conns);
        while (g_hash_table_iter_next(&iter, &conn, NULL))
            g_object_weak_unref(conn, hbMetricsConnectionGone, metrics);
        g_hash_table_unref(metrics->conns);
    }
    if (metrics->server)
        soup_server_disconnect(metrics->server);
    g_clear_object(&metrics->server);
    g_free(metrics);
}
