/*
 * /metrics: the daemon's figures and every monitored domain's, in the
 * Prometheus text format, served by libsoup from a thread of its own.
 *
 * The main loop dispatches the pings, so a scrape holds it only to copy the
 * figures, 500 domains an iteration (some 1.5 ms; 14 ms for 10,000). The endpoint's
 * thread runs libsoup (accepting, reading requests, sending 19 MB there);
 * the text is written on a thread of GLib's pool, so that the endpoint
 * goes on taking requests meanwhile. One build at a time: the requests that
 * come during a build wait for the next, which reads the monitor afresh.
 */
#include <config.h>

#include <libsoup/soup.h>

#include "hb-daemon-conf.h"
#include "hb-metrics.h"

#define HB_PREFIX "virt_heartbeat_"

/*
 * The last scrape's buffers, kept for the next: at 10,000 domains the text
 * is 19 MB, and writing it into fresh memory took 20 times as long as into
 * memory already faulted in (100 ms against 4 ms here, nearly all of it
 * page faults). Taken and given back from any thread; the text's buffer
 * comes back when libsoup lets go of the body, which may be after the
 * endpoint is gone (g_atomic_rc_box).
 */
typedef struct {
    GMutex lock;
    GString *text;            /* emptied; NULL: none to spare */
    HbMetricsSnapshot *snap;  /* emptied; NULL: none to spare */
} HbMetricsSpare;

/* What the main loop's snapshot requests hold: the endpoint, while it lives. */
typedef struct {
    HbMetrics *metrics;   /* main thread only; NULL once hbMetricsFree began */
} HbMetricsLink;

struct _HbMetrics {
    /* Set before the endpoint's thread starts; read anywhere. */
    HbMonitor *monitor;      /* main thread only */
    GMainContext *main_ctx;  /* the monitor's, where snapshots are taken */
    GMainContext *ctx;       /* the endpoint's */
    gint quit;               /* atomic: hbMetricsFree asks the endpoint's thread to end */
    GThread *thread;
    HbMetricsLink *link;     /* g_atomic_rc_box */
    HbMetricsSpare *spare;   /* g_atomic_rc_box */
    guint port;

    /* Handed from the endpoint's thread to hbMetricsNew once it listens. */
    GMutex lock;
    GCond started_cond;
    gboolean started;
    GError *error;           /* why it cannot listen */
    GSocketAddress *address; /* where to */

    /* The endpoint's thread only. */
    SoupServer *server;
    GSocketService *service; /* accepts for the server: see hbMetricsIncoming */
    GHashTable *conns;       /* GSocketConnection set, weak: those being served */
    GPtrArray *building;     /* HbMetricsJob: the requests the build under way answers */
    GPtrArray *waiting;      /* HbMetricsJob: those come since, for the next build */
    gboolean busy;           /* a snapshot asked of the main loop, or the text being written */
    gboolean writing;        /* the text being written on the pool's thread */
    gsize last_len;          /* of the last scrape: the next one's buffer, allocated once */

    /* Either thread (atomic): for tests. */
    gint requests;           /* waiting for their scrape */
    gint builds;             /* snapshots asked */
    gpointer gate;           /* GMutex: held, builds wait for it before they write */
    gint chunk;              /* domains copied a main-loop iteration */
    gsize last_uuids;        /* main thread: the last snapshot's UUIDs, their length */
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

/* One domain's figures, as the main loop read them for a scrape. */
typedef struct {
    guint32 labels;         /* its labels: offset in HbMetricsSnapshot.labels */
    guint32 labels_len;
    guint32 restarts;       /* its HbMetricsRestart, from this index in .restarts */
    guint32 n_restarts;
    guint8 state;
    guint8 heartbeating;
    guint8 storm_capped;
    guint percentage;
    guint time;
    gint64 last_tick;       /* wall clock, µs; 0: none */
    gint64 last_restart;    /* wall clock, µs; 0: none */
    guint64 sent;
    guint64 missed;
    guint64 no_verdict;
    guint64 episodes;
} HbMetricsSample;

typedef struct {
    guint8 action;
    guint8 outcome;
    guint64 count;
} HbMetricsRestart;

/*
 * Everything a scrape serves, copied out of the monitor on the main loop
 * (hbMetricsSnapshotNew): the text is then written from it on another
 * thread, so that however many domains there are, the main loop (and the
 * pings it dispatches) is held only for the copy.
 */
struct _HbMetricsSnapshot {
    gint64 now;              /* wall clock, µs: the ages in a scrape agree */
    GVariant *stats;         /* hbMonitorStatistics() */
    gboolean connected;
    guint busy[HB_LANE_LAST];
    guint pending[HB_LANE_LAST];
    GString *labels;         /* every domain's labels, end to end */
    GArray *samples;         /* HbMetricsSample */
    GArray *restarts;        /* HbMetricsRestart */
};

typedef struct {
    HbMetrics *metrics;
    SoupServerMessage *msg;  /* NULL: the client is gone */
} HbMetricsJob;


static void
hbMetricsSnapshotAdd(gpointer key G_GNUC_UNUSED, gpointer value, gpointer data)
{
    HbMetricsSnapshot *snap = data;
    HbDomain *dom = value;
    const char *labels = hbDomainMetricLabels(dom);
    HbMetricsSample sample = {
        .labels = snap->labels->len,
        .labels_len = strlen(labels),
        .restarts = snap->restarts->len,
        .state = hbDomainState(dom),
        .heartbeating = hbDomainIsHeartbeating(dom),
        .storm_capped = hbDomainStormCapped(dom),
        .percentage = hbDomainPercentage(dom),
        .time = hbDomainConfig(dom)->time,
        .last_tick = hbDomainLastTick(dom),
        .last_restart = hbDomainLastRestart(dom),
        .sent = hbDomainPings(dom, HB_PING_TICK) + hbDomainPings(dom, HB_PING_MISS) +
            hbDomainPings(dom, HB_PING_VOID) + hbDomainPings(dom, HB_PING_SUPPRESSED),
        .missed = hbDomainPings(dom, HB_PING_MISS),
        .no_verdict = hbDomainPings(dom, HB_PING_VOID) + hbDomainPings(dom, HB_PING_SUPPRESSED),
        .episodes = hbDomainEpisode(dom),
    };

    /* Only the pairs seen: every action by every outcome would be 40 lines a domain. */
    for (guint action = 0; action < HB_ACTION_LAST; action++) {
        for (guint outcome = 0; outcome < HB_OUTCOME_LAST; outcome++) {
            HbMetricsRestart restart = {
                .action = action,
                .outcome = outcome,
                .count = hbDomainRestarts(dom, action, outcome),
            };

            if (restart.count)
                g_array_append_val(snap->restarts, restart);
        }
    }
    sample.n_restarts = snap->restarts->len - sample.restarts;
    g_string_append_len(snap->labels, labels, sample.labels_len);
    g_array_append_val(snap->samples, sample);
}


/* The daemon-wide figures of @snap (new or emptied: it keeps the room it had). */
static void
hbMetricsSnapshotBegin(HbMetricsSnapshot *snap, HbMonitor *monitor, gint64 now)
{
    HbWorker *worker = hbMonitorWorker(monitor);

    snap->now = now;
    snap->connected = hbMonitorIsConnected(monitor);
    for (guint lane = 0; lane < HB_LANE_LAST; lane++) {
        snap->busy[lane] = hbWorkerBusy(worker, lane);
        snap->pending[lane] = hbWorkerPending(worker, lane);
    }
}


/* Once every domain is in: the daemon's statistics, its domains counted from the copy. */
static void
hbMetricsSnapshotEnd(HbMetricsSnapshot *snap, HbMonitor *monitor)
{
    guint64 states[HB_STATE_LAST] = { 0 };

    for (guint i = 0; i < snap->samples->len; i++)
        states[g_array_index(snap->samples, HbMetricsSample, i).state]++;
    snap->stats = g_variant_ref_sink(hbMonitorStatisticsCounted(monitor, states));
}


static HbMetricsSnapshot *
hbMetricsSnapshotAlloc(void)
{
    HbMetricsSnapshot *snap = g_new0(HbMetricsSnapshot, 1);

    snap->labels = g_string_new(NULL);
    snap->samples = g_array_new(FALSE, FALSE, sizeof(HbMetricsSample));
    snap->restarts = g_array_new(FALSE, FALSE, sizeof(HbMetricsRestart));
    return snap;
}


HbMetricsSnapshot *
hbMetricsSnapshotNew(HbMonitor *monitor, gint64 now)
{
    HbMetricsSnapshot *snap = hbMetricsSnapshotAlloc();

    hbMetricsSnapshotBegin(snap, monitor, now);
    hbMonitorForeach(monitor, hbMetricsSnapshotAdd, snap);
    hbMetricsSnapshotEnd(snap, monitor);
    return snap;
}


/* Empty @snap for hbMetricsSnapshotFill, its buffers kept. */
static void
hbMetricsSnapshotEmpty(HbMetricsSnapshot *snap)
{
    g_clear_pointer(&snap->stats, g_variant_unref);
    g_string_truncate(snap->labels, 0);
    g_array_set_size(snap->samples, 0);
    g_array_set_size(snap->restarts, 0);
}


void
hbMetricsSnapshotFree(HbMetricsSnapshot *snap)
{
    if (!snap)
        return;
    g_clear_pointer(&snap->stats, g_variant_unref);
    g_string_free(snap->labels, TRUE);
    g_array_unref(snap->samples);
    g_array_unref(snap->restarts);
    g_free(snap);
}


/* A family's name, and how long it is: written some 10,000 times a scrape. */
typedef struct {
    const char *name;
    gsize len;
} HbMetricsName;


/* name{domain="..",uuid=".."  : the caller closes the braces. */
static void
hbMetricsOpen(GString *out, const HbMetricsName *name, const HbMetricsSnapshot *snap,
              const HbMetricsSample *sample)
{
    hbPromPut(out, name->name, name->len);
    hbPromPut(out, "{", 1);
    hbPromPut(out, snap->labels->str + sample->labels, sample->labels_len);
}


static void
hbMetricsUnsigned(GString *out, const HbMetricsName *name, const HbMetricsSnapshot *snap,
                  const HbMetricsSample *sample, guint64 value)
{
    hbMetricsOpen(out, name, snap, sample);
    hbPromPut(out, "} ", 2);
    hbPromUnsigned(out, value);
    hbPromPut(out, "\n", 1);
}


static void
hbMetricsMicros(GString *out, const HbMetricsName *name, const HbMetricsSnapshot *snap,
                const HbMetricsSample *sample, guint64 us)
{
    hbMetricsOpen(out, name, snap, sample);
    hbPromPut(out, "} ", 2);
    hbPromMicros(out, us);
    hbPromPut(out, "\n", 1);
}


/* The state-set: a line per state a domain, 1 for the one it is in. */
static void
hbMetricsStates(GString *out, const HbMetricsName *name, const HbMetricsSnapshot *snap)
{
    for (guint state = 0; state < HB_STATE_LAST; state++) {
        g_autofree char *one = g_strdup_printf(",state=\"%s\"} 1\n", hbStateToString(state));
        g_autofree char *zero = g_strdup_printf(",state=\"%s\"} 0\n", hbStateToString(state));
        gsize len = strlen(one);

        for (guint i = 0; i < snap->samples->len; i++) {
            const HbMetricsSample *sample = &g_array_index(snap->samples, HbMetricsSample, i);

            hbMetricsOpen(out, name, snap, sample);
            hbPromPut(out, sample->state == state ? one : zero, len);
        }
    }
}


static void
hbMetricsRestarts(GString *out, const HbMetricsName *name, const HbMetricsSnapshot *snap,
                  const HbMetricsSample *sample)
{
    for (guint i = 0; i < sample->n_restarts; i++) {
        const HbMetricsRestart *restart = &g_array_index(snap->restarts, HbMetricsRestart,
                                                         sample->restarts + i);

        hbMetricsOpen(out, name, snap, sample);
        g_string_append(out, ",action=\"");
        g_string_append(out, hbActionToString(restart->action));
        g_string_append(out, "\",result=\"");
        g_string_append(out, hbOutcomeToString(restart->outcome));
        g_string_append(out, "\"} ");
        hbPromUnsigned(out, restart->count);
        g_string_append_c(out, '\n');
    }
}


static void
hbMetricsSample(GString *out, HbMetric metric, const HbMetricsName *name,
                const HbMetricsSnapshot *snap, const HbMetricsSample *sample)
{
    switch (metric) {
    case HB_METRIC_HEARTBEATING:
        hbMetricsUnsigned(out, name, snap, sample, sample->heartbeating);
        break;
    case HB_METRIC_RATIO:
        hbMetricsMicros(out, name, snap, sample, sample->percentage * (G_USEC_PER_SEC / 100));
        break;
    case HB_METRIC_BLOCK:
        hbMetricsUnsigned(out, name, snap, sample, sample->time);
        break;
    case HB_METRIC_SINCE_TICK:
        if (sample->last_tick)
            hbMetricsMicros(out, name, snap, sample, MAX(snap->now - sample->last_tick, 0));
        break;
    case HB_METRIC_PINGS_SENT:
        hbMetricsUnsigned(out, name, snap, sample, sample->sent);
        break;
    case HB_METRIC_PINGS_MISSED:
        hbMetricsUnsigned(out, name, snap, sample, sample->missed);
        break;
    case HB_METRIC_PINGS_NO_VERDICT:
        hbMetricsUnsigned(out, name, snap, sample, sample->no_verdict);
        break;
    case HB_METRIC_EPISODES:
        hbMetricsUnsigned(out, name, snap, sample, sample->episodes);
        break;
    case HB_METRIC_RESTARTS:
        hbMetricsRestarts(out, name, snap, sample);
        break;
    case HB_METRIC_STORM_CAPPED:
        hbMetricsUnsigned(out, name, snap, sample, sample->storm_capped);
        break;
    case HB_METRIC_LAST_RESTART:
        if (sample->last_restart)
            hbMetricsMicros(out, name, snap, sample, MAX(sample->last_restart, 0));
        break;
    case HB_METRIC_STATE:
    case HB_METRIC_LAST:
        break;
    }
}


/* The worker's lanes: jobs waiting for a thread, and libvirt calls in flight. */
static void
hbMetricsLanes(const HbMetricsSnapshot *snap, GString *out)
{
    hbPromFamily(out, HB_PREFIX "queued_jobs", "gauge",
                 "Jobs waiting for a worker thread of their lane.");
    for (guint lane = 0; lane < HB_LANE_LAST; lane++) {
        guint busy = snap->busy[lane];
        guint pending = snap->pending[lane];

        g_string_append_printf(out, HB_PREFIX "queued_jobs{lane=\"%s\"} %u\n",
                               hbLaneToString(lane), pending - MIN(busy, pending));
    }
    hbPromFamily(out, HB_PREFIX "running_jobs", "gauge",
                 "Jobs running on a worker thread of their lane: libvirt and agent calls "
                 "in flight.");
    for (guint lane = 0; lane < HB_LANE_LAST; lane++)
        g_string_append_printf(out, HB_PREFIX "running_jobs{lane=\"%s\"} %u\n",
                               hbLaneToString(lane), snap->busy[lane]);
}


void
hbMetricsSnapshotFormat(const HbMetricsSnapshot *snap, GString *out)
{
    hbPromFamily(out, HB_PREFIX "up", "gauge", "1: virt-heartbeatd serves these metrics.");
    g_string_append(out, HB_PREFIX "up 1\n");
    hbPromFamily(out, HB_PREFIX "libvirt_connected", "gauge",
                 "1 while the daemon is connected to libvirtd and in step with it.");
    g_string_append_printf(out, HB_PREFIX "libvirt_connected %d\n", snap->connected ? 1 : 0);
    /* The daemon-wide figures, as `virt-heartbeat stats` prints them. */
    hbStatsFormat(snap->stats, out);
    hbMetricsLanes(snap, out);

    for (HbMetric metric = 0; metric < HB_METRIC_LAST; metric++) {
        HbMetricsName name = {
            hbMetricFamilies[metric].name, strlen(hbMetricFamilies[metric].name)
        };

        hbPromFamily(out, name.name, hbMetricFamilies[metric].type,
                     hbMetricFamilies[metric].help);
        if (metric == HB_METRIC_STATE) {
            hbMetricsStates(out, &name, snap);
            continue;
        }
        for (guint i = 0; i < snap->samples->len; i++)
            hbMetricsSample(out, metric, &name, snap,
                            &g_array_index(snap->samples, HbMetricsSample, i));
    }
}


void
hbMetricsFormat(HbMonitor *monitor, gint64 now, GString *out)
{
    g_autoptr(HbMetricsSnapshot) snap = hbMetricsSnapshotNew(monitor, now);

    hbMetricsSnapshotFormat(snap, out);
}


static void
hbMetricsJobFree(HbMetricsJob *job)
{
    if (job->msg)
        g_signal_handlers_disconnect_by_data(job->msg, job);
    g_clear_object(&job->msg);
    g_atomic_int_dec_and_test(&job->metrics->requests);
    g_free(job);
}


/* The client went away before its scrape was done. */
static void
hbMetricsJobFinished(SoupServerMessage *msg G_GNUC_UNUSED, gpointer data)
{
    HbMetricsJob *job = data;

    g_signal_handlers_disconnect_by_data(job->msg, job);
    g_clear_object(&job->msg);
}


typedef struct {
    HbMetrics *metrics;
    HbMetricsSnapshot *snap;
    GMutex *gate;
    gsize hint;         /* the last scrape's length */
} HbMetricsBuildData;


static void
hbMetricsBuildDataFree(HbMetricsBuildData *build)
{
    hbMetricsSnapshotFree(build->snap);
    g_free(build);
}


static void
hbMetricsSpareClear(gpointer data)
{
    HbMetricsSpare *spare = data;

    if (spare->text)
        g_string_free(spare->text, TRUE);
    hbMetricsSnapshotFree(spare->snap);
    g_mutex_clear(&spare->lock);
}


/* @field of @spare, or NULL: taken. */
static gpointer
hbMetricsSpareTake(HbMetricsSpare *spare, gpointer *field)
{
    gpointer taken;

    g_mutex_lock(&spare->lock);
    taken = g_steal_pointer(field);
    g_mutex_unlock(&spare->lock);
    return taken;
}


/* Give @text or @snap back to @spare, or free it if it has one. */
static void
hbMetricsSpareGive(HbMetricsSpare *spare, GString *text, HbMetricsSnapshot *snap)
{
    g_mutex_lock(&spare->lock);
    if (text && !spare->text) {
        g_string_truncate(text, 0);
        spare->text = g_steal_pointer(&text);
    }
    if (snap && !spare->snap) {
        hbMetricsSnapshotEmpty(snap);
        spare->snap = g_steal_pointer(&snap);
    }
    g_mutex_unlock(&spare->lock);
    if (text)
        g_string_free(text, TRUE);
    hbMetricsSnapshotFree(snap);
}


/* A scrape's body, whose buffer goes back to the spares once sent. */
typedef struct {
    HbMetricsSpare *spare;
    GString *text;
} HbMetricsBody;


static void
hbMetricsBodyFree(gpointer data)
{
    HbMetricsBody *body = data;

    hbMetricsSpareGive(body->spare, body->text, NULL);
    g_atomic_rc_box_release_full(body->spare, hbMetricsSpareClear);
    g_free(body);
}


/* On a thread of GLib's pool: the text, from the snapshot. */
static void
hbMetricsWriteThread(GTask *task, gpointer source G_GNUC_UNUSED, gpointer data,
                     GCancellable *cancel G_GNUC_UNUSED)
{
    HbMetricsBuildData *build = data;
    HbMetricsSpare *spare = build->metrics->spare;
    HbMetricsBody *body = g_new0(HbMetricsBody, 1);
    GString *out = hbMetricsSpareTake(spare, (gpointer *) &spare->text);

    if (!out)
        out = g_string_sized_new(build->hint + build->hint / 8 + 65536);
    if (build->gate) {
        g_mutex_lock(build->gate);
        g_mutex_unlock(build->gate);
    }
    hbMetricsSnapshotFormat(build->snap, out);
    hbMetricsSpareGive(spare, NULL, g_steal_pointer(&build->snap));
    body->spare = g_atomic_rc_box_acquire(spare);
    body->text = out;
    g_task_return_pointer(task, g_bytes_new_with_free_func(out->str, out->len,
                                                           hbMetricsBodyFree, body),
                          (GDestroyNotify) g_bytes_unref);
}


static void hbMetricsAsk(HbMetrics *metrics);

/* The endpoint's thread: every request the build was for gets its text. */
static void
hbMetricsWritten(GObject *source G_GNUC_UNUSED, GAsyncResult *res, gpointer data)
{
    HbMetrics *metrics = data;
    g_autoptr(GBytes) body = g_task_propagate_pointer(G_TASK(res), NULL);

    for (guint i = 0; i < metrics->building->len; i++) {
        HbMetricsJob *job = metrics->building->pdata[i];

        if (!job->msg)
            continue;   /* the client is gone */
        soup_server_message_set_status(job->msg, SOUP_STATUS_OK, NULL);
        soup_message_headers_set_content_type(
            soup_server_message_get_response_headers(job->msg), HB_PROM_CONTENT_TYPE, NULL);
        soup_message_body_append_bytes(soup_server_message_get_response_body(job->msg), body);
        /* Done here: its end is no disconnection. */
        g_signal_handlers_disconnect_by_data(job->msg, job);
        soup_server_message_unpause(job->msg);
    }
    metrics->last_len = g_bytes_get_size(body);
    g_ptr_array_set_size(metrics->building, 0);
    metrics->busy = metrics->writing = FALSE;
    if (metrics->waiting->len)
        hbMetricsAsk(metrics);
}


/* A snapshot on its way to the endpoint's thread; NULL once there. */
typedef struct {
    HbMetricsBuildData *build;
} HbMetricsHandOver;


static void
hbMetricsHandOverFree(gpointer data)
{
    HbMetricsHandOver *hand = data;

    if (hand->build)
        hbMetricsBuildDataFree(hand->build);
    g_free(hand);
}


/* The endpoint's thread, from the main loop: the snapshot is taken. */
static gboolean
hbMetricsTaken(gpointer data)
{
    HbMetricsBuildData *build = g_steal_pointer(&((HbMetricsHandOver *) data)->build);
    HbMetrics *metrics = build->metrics;
    g_autoptr(GTask) task = g_task_new(NULL, NULL, hbMetricsWritten, metrics);

    g_task_set_source_tag(task, hbMetricsTaken);
    build->gate = g_atomic_pointer_get(&metrics->gate);
    build->hint = metrics->last_len;
    metrics->writing = TRUE;
    g_task_set_task_data(task, build, (GDestroyNotify) hbMetricsBuildDataFree);
    g_task_run_in_thread(task, hbMetricsWriteThread);
    return G_SOURCE_REMOVE;
}


/* Domains copied in one main-loop iteration: some 1.5 ms at 500. */
#define HB_METRICS_CHUNK 500

/* A snapshot being taken on the main loop, HB_METRICS_CHUNK domains an iteration. */
typedef struct {
    HbMetricsLink *link;
    HbMetricsBuildData *build;  /* NULL until the first step */
    GString *uuids;             /* of the domains to copy, each NUL-terminated */
    GArray *at;                 /* guint32: where each starts in uuids */
    guint next;
} HbMetricsTaking;


static void
hbMetricsTakingFree(gpointer data)
{
    HbMetricsTaking *taking = data;

    if (taking->build)
        hbMetricsBuildDataFree(taking->build);
    if (taking->uuids)
        g_string_free(taking->uuids, TRUE);
    if (taking->at)
        g_array_unref(taking->at);
    g_atomic_rc_box_release(taking->link);
    g_free(taking);
}


/* One allocation for every UUID, not one each: this step is the longest. */
static void
hbMetricsTakeUUID(gpointer key, gpointer value G_GNUC_UNUSED, gpointer data)
{
    HbMetricsTaking *taking = data;
    guint32 at = taking->uuids->len;

    g_string_append_len(taking->uuids, key, strlen(key) + 1);
    g_array_append_val(taking->at, at);
}


/*
 * The main loop, at idle priority (pings, results and events go first):
 * copy the figures, HB_METRICS_CHUNK domains an iteration so that no
 * iteration is held long (a domain gone meanwhile is left out, one come
 * meanwhile is in the next scrape), and hand them to the endpoint's thread.
 * Nothing if the endpoint is being freed; if its thread has stopped, the
 * hand-over is dropped with its context (hbMetricsHandOverFree).
 */
static gboolean
hbMetricsTake(gpointer data)
{
    HbMetricsTaking *taking = data;
    HbMetrics *metrics = taking->link->metrics;
    HbMetricsSnapshot *snap;
    HbMetricsHandOver *hand;

    if (!metrics)
        return G_SOURCE_REMOVE;
    if (!taking->build) {
        taking->build = g_new0(HbMetricsBuildData, 1);
        taking->build->metrics = metrics;
        snap = hbMetricsSpareTake(metrics->spare, (gpointer *) &metrics->spare->snap);
        if (!snap)
            snap = hbMetricsSnapshotAlloc();
        taking->build->snap = snap;
        hbMetricsSnapshotBegin(snap, metrics->monitor, g_get_real_time());
        taking->uuids = g_string_sized_new(metrics->last_uuids + 1);
        taking->at = g_array_new(FALSE, FALSE, sizeof(guint32));
        hbMonitorForeach(metrics->monitor, hbMetricsTakeUUID, taking);
        metrics->last_uuids = taking->uuids->len;
    }
    snap = taking->build->snap;
    for (gint n = 0; taking->next < taking->at->len && n < metrics->chunk; n++) {
        guint32 at = g_array_index(taking->at, guint32, taking->next++);
        HbDomain *dom = hbMonitorLookup(metrics->monitor, taking->uuids->str + at);

        if (dom)
            hbMetricsSnapshotAdd(NULL, dom, snap);
    }
    if (taking->next < taking->at->len)
        return G_SOURCE_CONTINUE;
    hbMetricsSnapshotEnd(snap, metrics->monitor);
    hand = g_new0(HbMetricsHandOver, 1);
    hand->build = g_steal_pointer(&taking->build);
    g_main_context_invoke_full(metrics->ctx, G_PRIORITY_DEFAULT, hbMetricsTaken, hand,
                               hbMetricsHandOverFree);
    return G_SOURCE_REMOVE;
}


/*
 * One build at a time: requests that come while one is under way wait for
 * the next, which starts once it is done and reads the monitor afresh. So a
 * scrape never serves figures older than its request, and any number of
 * scrapers cost the main loop one snapshot per build.
 */
static void
hbMetricsAsk(HbMetrics *metrics)
{
    g_autoptr(GSource) idle = g_idle_source_new();
    HbMetricsTaking *taking = g_new0(HbMetricsTaking, 1);

    g_ptr_array_extend_and_steal(metrics->building, g_steal_pointer(&metrics->waiting));
    metrics->waiting = g_ptr_array_new_with_free_func((GDestroyNotify) hbMetricsJobFree);
    metrics->busy = TRUE;
    g_atomic_int_inc(&metrics->builds);
    taking->link = g_atomic_rc_box_acquire(metrics->link);
    g_source_set_priority(idle, G_PRIORITY_DEFAULT_IDLE);
    g_source_set_callback(idle, hbMetricsTake, taking, hbMetricsTakingFree);
    g_source_set_static_name(idle, "hb-metrics snapshot");
    g_source_attach(idle, metrics->main_ctx);
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
    job = g_new0(HbMetricsJob, 1);
    job->metrics = metrics;
    job->msg = g_object_ref(msg);
    g_atomic_int_inc(&metrics->requests);
    soup_server_message_pause(msg);
    g_signal_connect(msg, "finished", G_CALLBACK(hbMetricsJobFinished), job);
    g_ptr_array_add(metrics->waiting, job);
    if (!metrics->busy)
        hbMetricsAsk(metrics);
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


/* The endpoint's thread: what it serves with, made in its own context. */
static gboolean
hbMetricsListen(HbMetrics *metrics, GError **err)
{
    g_autoptr(GSocketAddress) bound = NULL;

    metrics->conns = g_hash_table_new(NULL, NULL);
    metrics->building = g_ptr_array_new_with_free_func((GDestroyNotify) hbMetricsJobFree);
    metrics->waiting = g_ptr_array_new_with_free_func((GDestroyNotify) hbMetricsJobFree);
    metrics->server = soup_server_new("server-header", "virt-heartbeatd/" PACKAGE_VERSION " ",
                                      NULL);
    soup_server_add_handler(metrics->server, NULL, hbMetricsHandle, metrics, NULL);
    metrics->service = g_socket_service_new();
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(metrics->service), metrics->address,
                                       G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                       &bound, err))
        return FALSE;
    g_signal_connect(metrics->service, "incoming", G_CALLBACK(hbMetricsIncoming), metrics);
    metrics->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    return TRUE;
}


/* The endpoint's thread, once told to stop. */
static void
hbMetricsClose(HbMetrics *metrics)
{
    /* No new connection while the build under way ends. */
    if (metrics->service) {
        g_signal_handlers_disconnect_by_data(metrics->service, metrics);
        g_socket_service_stop(metrics->service);
        g_socket_listener_close(G_SOCKET_LISTENER(metrics->service));
        g_clear_object(&metrics->service);
    }
    /* The text being written: its answer is awaited, it touches this. */
    while (metrics->writing)
        g_main_context_iteration(metrics->ctx, TRUE);
    g_clear_pointer(&metrics->building, g_ptr_array_unref);
    g_clear_pointer(&metrics->waiting, g_ptr_array_unref);
    if (metrics->conns) {
        GHashTableIter iter;
        gpointer conn;

        /* libsoup may let go of them later, once this is gone. */
        g_hash_table_iter_init(&iter, metrics->conns);
        while (g_hash_table_iter_next(&iter, &conn, NULL))
            g_object_weak_unref(conn, hbMetricsConnectionGone, metrics);
        g_clear_pointer(&metrics->conns, g_hash_table_unref);
    }
    if (metrics->server)
        soup_server_disconnect(metrics->server);
    g_clear_object(&metrics->server);
}


static gpointer
hbMetricsThread(gpointer data)
{
    HbMetrics *metrics = data;
    g_autoptr(GError) err = NULL;
    gboolean ok;

    g_main_context_push_thread_default(metrics->ctx);
    ok = hbMetricsListen(metrics, &err);
    g_mutex_lock(&metrics->lock);
    metrics->error = g_steal_pointer(&err);
    metrics->started = TRUE;
    g_cond_signal(&metrics->started_cond);
    g_mutex_unlock(&metrics->lock);
    /*
     * Not a GMainLoop: g_main_loop_run() forgets a quit that came before it,
     * and hbMetricsFree may come before this thread is scheduled.
     */
    while (ok && !g_atomic_int_get(&metrics->quit))
        g_main_context_iteration(metrics->ctx, TRUE);
    hbMetricsClose(metrics);
    g_main_context_pop_thread_default(metrics->ctx);
    return NULL;
}


HbMetrics *
hbMetricsNew(HbMonitor *monitor, const char *listen, GError **err)
{
    g_autoptr(HbMetrics) metrics = g_new0(HbMetrics, 1);

    g_mutex_init(&metrics->lock);
    g_cond_init(&metrics->started_cond);
    if (!(metrics->address = hbDaemonConfListenAddress(listen, err)))
        return NULL;
    metrics->monitor = monitor;
    metrics->main_ctx = g_main_context_ref_thread_default();
    metrics->ctx = g_main_context_new();
    metrics->chunk = HB_METRICS_CHUNK;
    metrics->link = g_atomic_rc_box_new0(HbMetricsLink);
    metrics->link->metrics = metrics;
    metrics->spare = g_atomic_rc_box_new0(HbMetricsSpare);
    g_mutex_init(&metrics->spare->lock);
    if (!(metrics->thread = g_thread_try_new("hb-metrics", hbMetricsThread, metrics, err)))
        return NULL;
    g_mutex_lock(&metrics->lock);
    while (!metrics->started)
        g_cond_wait(&metrics->started_cond, &metrics->lock);
    g_mutex_unlock(&metrics->lock);
    if (metrics->error) {
        g_propagate_error(err, g_steal_pointer(&metrics->error));
        return NULL;
    }
    return g_steal_pointer(&metrics);
}


guint
hbMetricsPort(HbMetrics *metrics)
{
    return metrics->port;
}


guint
hbMetricsRequests(HbMetrics *metrics, guint *builds)
{
    if (builds)
        *builds = g_atomic_int_get(&metrics->builds);
    return g_atomic_int_get(&metrics->requests);
}


void
hbMetricsSetGate(HbMetrics *metrics, GMutex *gate)
{
    g_atomic_pointer_set(&metrics->gate, gate);
}


void
hbMetricsSetChunk(HbMetrics *metrics, guint chunk)
{
    metrics->chunk = MAX(chunk, 1);
}


/*
 * The main thread. A snapshot asked of the main loop and not taken yet is
 * not taken (the link says the endpoint is gone); one taken and not yet
 * received is dropped with the endpoint's context; the text being written
 * is waited for (hbMetricsClose), a build's time at most.
 */
void
hbMetricsFree(HbMetrics *metrics)
{
    if (!metrics)
        return;
    if (metrics->link)
        metrics->link->metrics = NULL;
    if (metrics->thread) {
        g_atomic_int_set(&metrics->quit, TRUE);
        g_main_context_wakeup(metrics->ctx);
        g_thread_join(metrics->thread);
    }
    if (metrics->link)
        g_atomic_rc_box_release(metrics->link);
    if (metrics->spare)
        g_atomic_rc_box_release_full(metrics->spare, hbMetricsSpareClear);
    g_clear_pointer(&metrics->ctx, g_main_context_unref);
    g_clear_pointer(&metrics->main_ctx, g_main_context_unref);
    g_clear_object(&metrics->address);
    g_clear_error(&metrics->error);
    g_mutex_clear(&metrics->lock);
    g_cond_clear(&metrics->started_cond);
    g_free(metrics);
}
