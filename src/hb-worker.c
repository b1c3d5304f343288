/*
 * Worker threads, their lanes and their libvirt connections. A call stuck
 * on a hung agent holds only its own connection, so no other domain waits
 * on it. What a job does is hb-job.c's.
 */
#include <config.h>

#include "hb-conn.h"
#include "hb-worker.h"

/*
 * A ping to a guest that has just hung goes in the ping lane (its last
 * ping was answered) and holds its thread for the whole timeout. When
 * many guests hang at once, those pings would fill the lane and every
 * healthy ping, and the next ping of every hung guest, would wait: the
 * waiting is no verdict, but detection slows by a minute and more. So a
 * ping still running this long after it began, while other pings wait
 * for the lane, moves to the suspect lane's count if that has room, and
 * its place goes to the next ping. Only the count moves: the call goes on
 * to its timeout, and its result is read as before. A healthy ping takes
 * some 10-100 ms (BENCHMARKS.md); one that is merely slow and moves costs
 * nothing but a suspect thread's place while it lasts.
 */
#define HB_WORKER_OVERDUE_US (250 * 1000)

HB_ENUM_IMPL(hbLane, HbLane, HB_LANE_LAST,
             "restart",
             "ping",
             "suspect",
             "read",
             "guest",
             "stats",
);

typedef struct {
    GThreadPool *pool; /* the ping and suspect lanes share one: a ping
                        * keeps its thread when it moves */
    guint threads;
    guint busy;       /* main loop: jobs handed to the pool, not delivered yet */
    GQueue running;   /* main loop: those jobs, oldest first */
    GQueue waiting;   /* main loop: jobs waiting for a thread of this lane */
} HbWorkerLane;

struct _HbWorker {
    char *uri;
    HbWorkerLane lanes[HB_LANE_LAST];
    GSource *overdue; /* main loop: when the oldest ping becomes overdue */
    GAsyncQueue *idle_conns; /* virConnectPtr not in use by any job */
    GMainContext *context;   /* where results are delivered */
    GCancellable *stopping;  /* cancelled when the worker stops */
    HbProbeFunc probe;
    HbJobDoneFunc done;
    gpointer done_data;
};

typedef struct {
    HbWorker *worker;
    HbJob *job;
} HbJobDelivery;


HbLane
hbJobLane(const HbJob *job)
{
    switch (job->kind) {
    case HB_JOB_RESTART:
    case HB_JOB_ESCALATE:
        return HB_LANE_RESTART;
    case HB_JOB_PING:
        return job->suspect ? HB_LANE_SUSPECT : HB_LANE_PING;
    case HB_JOB_SYNC:
    case HB_JOB_LIST:
        return HB_LANE_READ;
    case HB_JOB_STATS:
        return HB_LANE_STATS;
    case HB_JOB_GUEST_INFO:
    case HB_JOB_SHUTDOWN:
    case HB_JOB_EXEC:
    case HB_JOB_TIME_SYNC:
    case HB_JOB_INSTALL_AGENT:
    case HB_JOB_METADATA:
    case HB_JOB_RESOLVE:   /* bounded with the requests it is for */
    case HB_JOB_LAST:
        break;
    }
    return HB_LANE_GUEST;
}


/* On the main loop: a thread of the lane is free for the job. */
static void
hbWorkerStart(HbWorkerLane *lane, HbJob *job)
{
    lane->busy++;
    job->started = g_get_monotonic_time();
    g_queue_push_tail(&lane->running, job);
    g_thread_pool_push(lane->pool, job, NULL);
}


/* Waiting jobs of @lane started while it has room. */
static void
hbWorkerFill(HbWorker *worker, HbWorkerLane *lane)
{
    if (g_cancellable_is_cancelled(worker->stopping))
        return;
    while (lane->busy < lane->threads && lane->waiting.length > 0)
        hbWorkerStart(lane, g_queue_pop_head(&lane->waiting));
}


static gboolean hbWorkerOverdue(gpointer data);

/*
 * While pings wait for the ping lane, its overdue pings move to the
 * suspect lane's count as far as that has room (HB_WORKER_OVERDUE_US).
 */
static void
hbWorkerRelieve(HbWorker *worker)
{
    HbWorkerLane *ping = &worker->lanes[HB_LANE_PING];
    HbWorkerLane *suspect = &worker->lanes[HB_LANE_SUSPECT];
    gint64 now = g_get_monotonic_time();
    HbJob *oldest;

    if (worker->overdue) {
        g_source_destroy(worker->overdue);
        g_clear_pointer(&worker->overdue, g_source_unref);
    }
    while (ping->waiting.length > 0 && (oldest = g_queue_peek_head(&ping->running)) &&
           now - oldest->started >= HB_WORKER_OVERDUE_US && suspect->busy < suspect->threads) {
        g_queue_pop_head(&ping->running);
        ping->busy--;
        oldest->lane = HB_LANE_SUSPECT;
        suspect->busy++;
        g_queue_push_tail(&suspect->running, oldest);
        hbWorkerFill(worker, ping);
    }
    /* With the suspect lane full, a delivery there calls this again. */
    if (ping->waiting.length == 0 || !(oldest = g_queue_peek_head(&ping->running)) ||
        now - oldest->started >= HB_WORKER_OVERDUE_US ||
        g_cancellable_is_cancelled(worker->stopping))
        return;
    worker->overdue = g_timeout_source_new((oldest->started + HB_WORKER_OVERDUE_US - now) /
                                           1000 + 1);
    g_source_set_callback(worker->overdue, hbWorkerOverdue, worker, NULL);
    g_source_attach(worker->overdue, worker->context);
}


static gboolean
hbWorkerOverdue(gpointer data)
{
    HbWorker *worker = data;

    /* This source ends here (the context holds it while it runs). */
    g_clear_pointer(&worker->overdue, g_source_unref);
    hbWorkerRelieve(worker);
    return G_SOURCE_REMOVE;
}


static gboolean
hbWorkerDeliver(gpointer opaque)
{
    HbJobDelivery *delivery = opaque;
    HbWorker *worker = delivery->worker;
    HbJob *job = delivery->job;
    HbWorkerLane *lane = &worker->lanes[job->lane];

    lane->busy--;
    g_queue_remove(&lane->running, job);
    hbWorkerFill(worker, lane);
    if (job->lane == HB_LANE_PING || job->lane == HB_LANE_SUSPECT)
        hbWorkerRelieve(worker);
    worker->done(job, worker->done_data);
    g_free(delivery);
    return G_SOURCE_REMOVE;
}


/* A connection from the pool, or a new one; a pooled one that died is dropped. */
static virConnectPtr
hbWorkerTakeConn(HbWorker *worker)
{
    virConnectPtr conn;

    while ((conn = g_async_queue_try_pop(worker->idle_conns))) {
        if (virConnectIsAlive(conn) == 1)
            return conn;
        virConnectClose(conn);
    }
    if ((conn = virConnectOpen(worker->uri)) && hbConnSetKeepAlive(conn) < 0) {
        g_warning("Cannot set keepalive on a worker connection: %s", hbUtilLastError());
        g_clear_pointer(&conn, virConnectClose);
    }
    return conn;
}


static void
hbWorkerRun(gpointer data, gpointer user_data)
{
    HbJob *job = data;
    HbWorker *worker = user_data;
    HbJobDelivery *delivery;

    /*
     * A connection can die between two jobs (libvirtd restarted): a job
     * that failed on a dead connection runs once more on a fresh one, if
     * running it twice does no harm.
     */
    for (int tries = 0; tries < 2; tries++) {
        virConnectPtr conn = hbWorkerTakeConn(worker);
        gboolean alive;

        hbJobClearResult(job);
        if (!conn) {
            job->detail = g_strdup_printf("cannot connect to %s: %s",
                                          worker->uri, hbUtilLastError());
            job->not_made = TRUE;
            g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "%s", job->detail);
            break;
        }
        hbJobRun(job, conn, worker->probe, worker->stopping);
        alive = virConnectIsAlive(conn) == 1;
        /* Last in, first out: the next job gets the connection used last,
         * and connections opened in a burst stay idle. */
        if (alive)
            g_async_queue_push_front(worker->idle_conns, conn);
        else
            virConnectClose(conn);
        /* A restart whose call was made may have acted: never twice. */
        if (alive || (job->kind == HB_JOB_RESTART ? job->done != NULL : !job->error) ||
            !hbJobRepeatable(job->kind) ||
            (job->kind == HB_JOB_RESTART && job->sent))
            break;
    }

    delivery = g_new0(HbJobDelivery, 1);
    delivery->worker = worker;
    delivery->job = job;
    hbUtilDefer(worker->context, hbWorkerDeliver, delivery, NULL);
}


static void
hbWorkerCloseConn(gpointer conn)
{
    virConnectClose(conn);
}


HbWorker *
hbWorkerNew(const char *uri, const HbWorkerLimits *limits, HbProbeFunc probe,
            HbJobDoneFunc done, gpointer done_data)
{
    HbWorker *worker = g_new0(HbWorker, 1);

    worker->uri = g_strdup(uri);
    worker->idle_conns = g_async_queue_new_full(hbWorkerCloseConn);
    worker->context = g_main_context_ref_thread_default();
    worker->stopping = g_cancellable_new();
    worker->probe = probe;
    worker->done = done;
    worker->done_data = done_data;
    for (int i = 0; i < HB_LANE_LAST; i++) {
        HbWorkerLane *lane = &worker->lanes[i];
        lane->threads = MAX(limits->threads[i], 1);
        g_queue_init(&lane->running);
        g_queue_init(&lane->waiting);
        if (i == HB_LANE_SUSPECT)
            continue;
        lane->pool = g_thread_pool_new(hbWorkerRun, worker,
                                       lane->threads + (i == HB_LANE_PING ?
                                           MAX(limits->threads[HB_LANE_SUSPECT], 1) : 0),
                                       FALSE, NULL);
    }
    worker->lanes[HB_LANE_SUSPECT].pool = worker->lanes[HB_LANE_PING].pool;
    return worker;
}


void
hbWorkerPush(HbWorker *worker, HbJob *job)
{
    HbWorkerLane *lane;

    job->lane = hbJobLane(job);
    lane = &worker->lanes[job->lane];
    job->queued = g_get_monotonic_time();
    if (lane->busy < lane->threads) {
        hbWorkerStart(lane, job);
        return;
    }
    g_queue_push_tail(&lane->waiting, job);
    if (job->lane == HB_LANE_PING && !worker->overdue)
        hbWorkerRelieve(worker);
}


guint
hbWorkerPending(HbWorker *worker, HbLane lane)
{
    return worker->lanes[lane].busy + worker->lanes[lane].waiting.length;
}


guint
hbWorkerBusy(HbWorker *worker, HbLane lane)
{
    return worker->lanes[lane].busy;
}


static guint
hbWorkerRunning(HbWorker *worker)
{
    guint busy = 0;

    for (int i = 0; i < HB_LANE_LAST; i++)
        busy += worker->lanes[i].busy;
    return busy;
}


static gboolean
hbWorkerWaitOver(gpointer data)
{
    gboolean *over = data;

    *over = TRUE;
    return G_SOURCE_REMOVE;
}


void
hbWorkerFree(HbWorker *worker, guint wait_s)
{
    g_autoptr(GSource) timeout = NULL;
    gboolean over = FALSE;

    if (!worker)
        return;
    g_cancellable_cancel(worker->stopping);
    if (worker->overdue) {
        g_source_destroy(worker->overdue);
        g_clear_pointer(&worker->overdue, g_source_unref);
    }
    for (int i = 0; i < HB_LANE_LAST; i++) {
        HbJob *job;
        while ((job = g_queue_pop_head(&worker->lanes[i].waiting))) {
            job->cancelled = TRUE;
            worker->done(job, worker->done_data);
        }
    }

    timeout = g_timeout_source_new_seconds(wait_s);
    g_source_set_callback(timeout, hbWorkerWaitOver, &over, NULL);
    g_source_attach(timeout, worker->context);
    while (hbWorkerRunning(worker) > 0 && !over)
        g_main_context_iteration(worker->context, TRUE);
    g_source_destroy(timeout);
    if (hbWorkerRunning(worker) > 0) {
        /* Their threads still use the worker: leave it to the process's exit. */
        g_warning("%u libvirt calls still under way after %u s; not waiting for them",
                  hbWorkerRunning(worker), wait_s);
        return;
    }

    for (int i = 0; i < HB_LANE_LAST; i++) {
        if (i != HB_LANE_SUSPECT)
            g_thread_pool_free(worker->lanes[i].pool, FALSE, TRUE);
    }
    /* Every job was delivered: nothing is left in the context for us. */
    g_async_queue_unref(worker->idle_conns);
    g_object_unref(worker->stopping);
    g_main_context_unref(worker->context);
    g_free(worker->uri);
    g_free(worker);
}
