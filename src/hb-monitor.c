/*
 * The table of monitored domains, kept in line with libvirt: its events,
 * full reads after every (re)connection, and the jobs of the worker
 * threads and their results. Everything here runs on the main loop and
 * never calls libvirt: reads, pings and restarts go to the worker threads.
 */
#include <config.h>

#include "hb-api.h"
#include "hb-conn.h"
#include "hb-hooks.h"
#include "hb-monitor.h"
#include "hb-statefile.h"

#define HB_LIST_RETRY_S 2
#define HB_RESTART_WORKERS 4
#define HB_READ_WORKERS 2
/* Guest requests queued or running, per domain and in all. */
#define HB_REQUESTS_PER_DOMAIN 4
#define HB_REQUESTS_MAX 64
/* How long a stopping daemon waits for libvirt calls under way. */
#define HB_STOP_WAIT_S 10
/* The counters of every domain are read this often, in one call. */
#define HB_STATS_PERIOD_S 2
/*
 * A read still running after this is stuck on a QEMU that does not answer
 * its monitor (stopped, hung): it holds that domain's job, so a new read
 * with NOWAIT skips that domain's disks and returns (BENCHMARKS.md
 * "Verdicts"). At most this many reads at once: each may pin one more such
 * QEMU; past them, readings age and verdicts are unknown.
 */
#define HB_STATS_STUCK_US (4 * G_USEC_PER_SEC)
#define HB_STATS_WORKERS 3
/* A ping this late after its slot says the daemon does not keep up; said
 * at most this often. */
#define HB_LATE_WARN_US (1 * G_USEC_PER_SEC)
#define HB_LATE_WARN_PERIOD_US (300 * G_USEC_PER_SEC)

struct _HbMonitor {
    HbDaemonConf conf;
    HbConn *conn;
    HbWorker *worker;
    GHashTable *domains;   /* uuid -> HbDomain */
    GHashTable *syncing;   /* uuid -> GINT_TO_POINTER(read again when done) */
    GHashTable *requests;  /* uuid -> GUINT_TO_POINTER(guest requests under way) */
    GHashTable *edits;     /* uuid -> GQueue of metadata edits waiting; one runs */
    guint64 event_seq;     /* lifecycle events received */
    GHashTable *last_event; /* uuid -> the event_seq of its last lifecycle event */
    guint64 generation;    /* bumped at every (re)connection */
    guint list_retry;      /* timer: list again after a failed resync */
    guint stats_timer;     /* the periodic bulk read of the counters */
    guint stats_inflight;  /* bulk reads queued or running */
    gint64 stats_pushed;   /* monotonic: the last one was queued */
    gboolean stats_stuck;  /* a read went beside a stuck one; said once */
    gboolean connected;    /* connected and resynced */
    gboolean closing;
    HbBreaker breaker;     /* the host-wide circuit breaker */
    /* What the breaker counts, kept up to date domain by domain: a tick
     * must not cost a walk over every domain. */
    GHashTable *host_seen;   /* HbDomain -> HbHostSeen, as last counted */
    GHashTable *host_silent; /* HbDomain set: watched, running, heartbeat stopped */
    GHashTable *host_times;  /* a watched running domain's time -> how many have it */
    guint host_watched;      /* watched running domains */
    double host_pings;       /* their pings a second, all together */
    guint node_cpus;         /* of libvirtd's host, from the last resync; 0: not known */
    gboolean load_warned;    /* the load is past the budget, and it was said */
    guint breaker_timer;   /* when its hold ends by itself */
    gint64 breaker_armed;  /* the deadline breaker_timer is for */
    HbTicket *host_gate;   /* closed when the breaker trips: queued restarts see it */
    HbMonitorObserver observer;
    gpointer observer_data;
    HbTimers *timers;      /* the domains' deadlines */
    guint64 pings[HB_PING_LAST]; /* answered, by result */
    gint64 late_warned;    /* monotonic: the last warning that pings leave late */
    HbHistogram ping_rtt;
    HbHistogram ping_lateness;
    HbHooks *hooks;        /* NULL: hooks_dir is "" */
    gint64 maintenance_until; /* the host-wide window's end, wall clock s; 0: none */
    HbMonitorResyncFunc resynced;
    gpointer resynced_data;
};

typedef struct {
    gboolean watched; /* watched and running */
    gboolean silent;  /* and its heartbeat has stopped */
    guint time;       /* its time, if watched */
    guint rate;       /* its rate, if watched */
} HbHostSeen;

static void hbMonitorJobDone(HbJob *job, gpointer data);
static void hbMonitorHostCheck(HbMonitor *monitor, gboolean recount);
static void hbMonitorCheckLoad(HbMonitor *monitor);
static gboolean hbMonitorHostNote(HbMonitor *monitor, HbDomain *dom, gboolean gone);


/*
 * Every notice but state-changed runs the hooks: a state change comes with
 * each of the others and on every boot and pause besides, so that at scale
 * it would fork for nothing; and it says nothing the others do not.
 */
static void
hbMonitorRunHooks(HbMonitor *monitor, HbDomain *dom, const HbNotice *notice)
{
    HbHookEvent event = {
        .event = hbNoticeKindToString(notice->kind),
        .domain = hbDomainName(dom),
        .uuid = hbDomainUUID(dom),
    };

    if (!monitor->hooks || monitor->closing || notice->kind == HB_NOTICE_STATE_CHANGED)
        return;
    if (notice->kind == HB_NOTICE_RESTART_ATTEMPT) {
        event.attempt = notice->attempt;
        event.action = notice->action;
        event.result = notice->result;
    } else if (notice->kind == HB_NOTICE_STOPPED) {
        event.verdict = hbVerdictToString(notice->verdict);
        event.evidence = notice->evidence;
    } else if (notice->kind == HB_NOTICE_ESCALATED) {
        event.action = "escalate";
        event.result = notice->result;
        event.resource = notice->resource;
    }
    hbHooksRun(monitor->hooks, &event);
}


void
hbMonitorNotify(HbMonitor *monitor, HbDomain *dom, const HbNotice *notice)
{
    if (monitor->observer.notice)
        monitor->observer.notice(dom, notice, monitor->observer_data);
    hbMonitorRunHooks(monitor, dom, notice);
}


typedef struct {
    HbMonitor *monitor;
    HbJob *job;
} HbMonitorAsk;


/*
 * The before-restart hooks answered. Whatever they said, the attempt goes
 * ahead only if what it was decided for still holds: the episode open and
 * the host not suspected (as the worker checks again before each call).
 */
static void
hbMonitorBeforeRestartDone(const char *veto, gpointer data)
{
    g_autofree HbMonitorAsk *ask = data;
    HbMonitor *monitor = ask->monitor;
    HbJob *job = ask->job;

    if (!hbTicketIsOpen(job->ticket)) {
        job->dropped = TRUE;
        g_set_error_literal(&job->error, HB_ERROR, HB_ERROR_FAILED,
                            "the episode ended while the before-restart hooks ran");
    } else if (!hbTicketIsOpen(job->host_gate)) {
        job->held = TRUE;
        g_set_error_literal(&job->error, HB_ERROR, HB_ERROR_FAILED,
                            "host suspected while the before-restart hooks ran");
    } else if (veto) {
        job->vetoed = TRUE;
        g_set_error_literal(&job->error, HB_ERROR, HB_ERROR_FAILED, veto);
    } else {
        hbMonitorPushJob(monitor, job);
        return;
    }
    if (monitor->closing)
        job->cancelled = TRUE;
    hbMonitorJobDone(job, monitor);
}


gboolean
hbMonitorBeforeRestart(HbMonitor *monitor, HbDomain *dom, HbJob *job)
{
    HbMonitorAsk *ask;
    HbHookEvent event = {
        .event = HB_HOOK_BEFORE_RESTART,
        .domain = hbDomainName(dom),
        .uuid = hbDomainUUID(dom),
        .attempt = job->attempt,
        .action = hbActionToString(job->action),
        .verdict = hbVerdictToString(hbDomainVerdict(dom)),
        .evidence = hbDomainEvidence(dom),
    };

    if (!monitor->hooks || monitor->closing)
        return FALSE;
    ask = g_new0(HbMonitorAsk, 1);
    ask->monitor = monitor;
    ask->job = job;
    if (hbHooksAsk(monitor->hooks, &event, hbMonitorBeforeRestartDone, ask)) {
        g_message("Domain '%s': restart attempt %u waits for the before-restart hooks",
                  event.domain, job->attempt);
        return TRUE;
    }
    g_free(ask);
    return FALSE;
}


void
hbMonitorChanged(HbMonitor *monitor, HbDomain *dom)
{
    if (monitor->observer.changed)
        monitor->observer.changed(dom, monitor->observer_data);
    /* A healthy domain's tick changes nothing the breaker counts. */
    if (hbMonitorHostNote(monitor, dom, FALSE) ||
        g_hash_table_contains(monitor->host_silent, dom))
        hbMonitorHostCheck(monitor, FALSE);
}


/*
 * The window within which stops count together: host_window, or one block
 * of the slowest watched guest, so that guests with different `time` that
 * stopped in the same stall still count together.
 */
static gint64
hbMonitorHostWindow(HbMonitor *monitor)
{
    GHashTableIter iter;
    gpointer key;
    guint window = monitor->conf.breaker.window;

    if (window)
        return (gint64) window * G_USEC_PER_SEC;
    /* As many entries as distinct times: a handful. */
    g_hash_table_iter_init(&iter, monitor->host_times);
    while (g_hash_table_iter_next(&iter, &key, NULL))
        window = MAX(window, GPOINTER_TO_UINT(key));
    return (gint64) window * G_USEC_PER_SEC;
}


static gboolean
hbMonitorHostTimer(gpointer data)
{
    HbMonitor *monitor = data;

    monitor->breaker_timer = 0;
    monitor->breaker_armed = 0;
    hbMonitorHostCheck(monitor, TRUE);
    return G_SOURCE_REMOVE;
}


static void
hbMonitorHostArm(HbMonitor *monitor, gint64 now)
{
    gint64 deadline = hbBreakerDeadline(&monitor->breaker);

    if (deadline == monitor->breaker_armed)
        return;
    g_clear_handle_id(&monitor->breaker_timer, g_source_remove);
    monitor->breaker_armed = deadline;
    if (deadline != G_MAXINT64)
        monitor->breaker_timer = g_timeout_add(MAX(0, deadline - now) / 1000 + 1,
                                               hbMonitorHostTimer, monitor);
}


static void
hbMonitorHostLog(HbMonitor *monitor, HbBreakerChange change, GPtrArray *in_window)
{
    g_autofree char *reason = hbBreakerReason(&monitor->breaker);
    g_autoptr(GString) names = g_string_new(NULL);

    if (change == HB_BREAKER_CLEARED) {
        g_message("Host cleared: %s", reason);
        return;
    }
    for (guint i = 0; i < in_window->len; i++)
        g_string_append_printf(names, "%s'%s'", i ? ", " : "",
                               hbDomainName((HbDomain *) in_window->pdata[i]));
    g_warning("Host suspected: %s; stopped: %s", reason, names->str);
}


static void
hbMonitorHostTime(HbMonitor *monitor, guint time, int delta)
{
    gpointer key = GUINT_TO_POINTER(time);
    guint count = GPOINTER_TO_UINT(g_hash_table_lookup(monitor->host_times, key)) + delta;

    if (count)
        g_hash_table_insert(monitor->host_times, key, GUINT_TO_POINTER(count));
    else
        g_hash_table_remove(monitor->host_times, key);
}


/*
 * What the watched domains' pings cost libvirtd (hb-stats.h): past half of
 * its host's CPUs, pings may wait. Said once each time it is crossed.
 */
static void
hbMonitorCheckLoad(HbMonitor *monitor)
{
    double load = hbLoadCpus(monitor->host_watched, monitor->host_pings);
    HbLoadChange change;

    if (monitor->closing)
        return;
    change = hbLoadJudge(&monitor->load_warned, load, monitor->node_cpus);
    if (change == HB_LOAD_BACK) {
        g_message("Load back within budget: %u domains watched, %.0f pings a second, about "
                  "%.1f of libvirtd's %u CPUs", monitor->host_watched, monitor->host_pings,
                  load, monitor->node_cpus);
    } else if (change == HB_LOAD_PAST) {
        g_warning("Load past what one libvirtd serves with a 2x margin: %u domains watched, "
                  "%.0f pings a second take about %.1f of libvirtd's %u CPUs (2.05 ms a ping, "
                  "0.73 ms a domain each second for the counter read; BENCHMARKS.md). Pings "
                  "may wait: no verdict, slower detection. Lower rate or raise time, or watch "
                  "fewer domains on this host", monitor->host_watched, monitor->host_pings,
                  load, monitor->node_cpus);
    }
}


/* Count @dom as it is now (@gone: not at all); whether that changed anything. */
static gboolean
hbMonitorHostNote(HbMonitor *monitor, HbDomain *dom, gboolean gone)
{
    HbHostSeen *seen = g_hash_table_lookup(monitor->host_seen, dom);
    HbHostSeen now = { 0 };

    if (!gone && hbDomainWatchedRunning(dom)) {
        now.watched = TRUE;
        now.silent = hbDomainSilentSince(dom) != 0;
        now.time = hbDomainConfig(dom)->time;
        now.rate = hbDomainConfig(dom)->rate;
    }
    if (!seen) {
        if (!now.watched)
            return FALSE;
        seen = g_new0(HbHostSeen, 1);
        g_hash_table_insert(monitor->host_seen, dom, seen);
    }
    if (seen->watched == now.watched && seen->silent == now.silent &&
        seen->time == now.time && seen->rate == now.rate)
        return FALSE;
    if (seen->watched) {
        monitor->host_watched--;
        monitor->host_pings -= (double) seen->rate / seen->time;
        hbMonitorHostTime(monitor, seen->time, -1);
    }
    if (now.watched) {
        monitor->host_watched++;
        monitor->host_pings += (double) now.rate / now.time;
        hbMonitorHostTime(monitor, now.time, 1);
    }
    hbMonitorCheckLoad(monitor);
    if (now.silent)
        g_hash_table_add(monitor->host_silent, dom);
    else
        g_hash_table_remove(monitor->host_silent, dom);
    if (now.watched)
        *seen = now;
    else
        g_hash_table_remove(monitor->host_seen, dom);
    return TRUE;
}


/*
 * Tell the breaker the watched guests and those stopped. @recount: count
 * every domain afresh first, not only those whose changes were noted.
 */
static void
hbMonitorHostCheck(HbMonitor *monitor, gboolean recount)
{
    g_autoptr(GArray) stops = g_array_new(FALSE, FALSE, sizeof(HbBreakerStop));
    g_autoptr(GPtrArray) in_window = g_ptr_array_new();
    gint64 now = g_get_monotonic_time();
    GHashTableIter iter;
    gpointer key;
    HbBreakerChange change;

    if (monitor->closing)
        return;
    if (recount) {
        g_hash_table_iter_init(&iter, monitor->domains);
        while (g_hash_table_iter_next(&iter, NULL, &key))
            hbMonitorHostNote(monitor, key, FALSE);
    }
    g_hash_table_iter_init(&iter, monitor->host_silent);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        HbBreakerStop stop = { .since = hbDomainSilentSince(key), .who = key };

        if (stop.since)
            g_array_append_val(stops, stop);
    }
    change = hbBreakerUpdate(&monitor->breaker, stops, monitor->host_watched,
                             hbMonitorHostWindow(monitor), now, in_window);
    hbMonitorHostArm(monitor, now);
    if (change == HB_BREAKER_SAME)
        return;
    hbMonitorHostLog(monitor, change, in_window);
    /* Restarts decided before it tripped, still queued, are held when they run. */
    if (change == HB_BREAKER_SUSPECTED) {
        hbTicketClose(monitor->host_gate);
        hbTicketUnref(monitor->host_gate);
        monitor->host_gate = hbTicketNew();
    }
    if (monitor->observer.host)
        monitor->observer.host(&monitor->breaker, change, monitor->observer_data);
}


gboolean
hbMonitorHostHolds(HbMonitor *monitor, gboolean crashed)
{
    /* A decision: on every domain as it is now. */
    hbMonitorHostCheck(monitor, TRUE);
    return hbBreakerHolds(&monitor->breaker, crashed);
}


HbTicket *
hbMonitorHostGate(HbMonitor *monitor, gboolean crashed)
{
    return crashed ? NULL : hbTicketRef(monitor->host_gate);
}


const HbBreaker *
hbMonitorBreaker(HbMonitor *monitor)
{
    return &monitor->breaker;
}


static void
hbMonitorSetConnected(HbMonitor *monitor, gboolean connected)
{
    monitor->connected = connected;
    if (monitor->observer.connection)
        monitor->observer.connection(connected, monitor->observer_data);
}


static guint
hbMonitorRequests(HbMonitor *monitor, const char *uuid)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(monitor->requests, uuid));
}


static void
hbMonitorCountRequest(HbMonitor *monitor, const char *uuid, int delta)
{
    guint n = hbMonitorRequests(monitor, uuid) + delta;

    if (n)
        g_hash_table_replace(monitor->requests, g_strdup(uuid), GUINT_TO_POINTER(n));
    else
        g_hash_table_remove(monitor->requests, uuid);
}


const char *
hbMonitorRequestRoom(HbMonitor *monitor, const char *uuid)
{
    if (hbMonitorRequests(monitor, uuid) >= HB_REQUESTS_PER_DOMAIN)
        return "requests for this domain";
    if (hbWorkerPending(monitor->worker, HB_LANE_GUEST) >= HB_REQUESTS_MAX)
        return "guest requests in all";
    return NULL;
}


void
hbMonitorPushJob(HbMonitor *monitor, HbJob *job)
{
    if (monitor->closing) {
        job->cancelled = TRUE;
        hbMonitorJobDone(job, monitor);
        return;
    }
    job->generation = monitor->generation;
    job->event_seq = monitor->event_seq;
    /* A RESOLVE job has no domain yet: only the lane's bound holds it. */
    if (hbJobLane(job) == HB_LANE_GUEST && job->kind != HB_JOB_RESOLVE)
        hbMonitorCountRequest(monitor, job->uuid, 1);
    hbWorkerPush(monitor->worker, job);
}


/* Everything that knows @dom forgets it; the caller takes it out of domains. */
static void
hbMonitorForget(HbMonitor *monitor, HbDomain *dom)
{
    hbStateFileForget(monitor->conf.state_dir, hbDomainUUID(dom));
    if (monitor->observer.removed)
        monitor->observer.removed(dom, monitor->observer_data);
    /* Else the breaker would count it, and keep a pointer to it. */
    hbMonitorHostNote(monitor, dom, TRUE);
}


static void
hbMonitorRemove(HbMonitor *monitor, HbDomain *dom)
{
    g_message("Domain '%s': no longer monitored", hbDomainName(dom));
    hbMonitorForget(monitor, dom);
    g_hash_table_remove(monitor->domains, hbDomainUUID(dom));
    hbMonitorHostCheck(monitor, FALSE);
}


/*
 * Bring one domain in line with what a worker read. @resync: the read was
 * part of a full resync. @fresh: no lifecycle event came for the domain
 * while it was read, so the state read is the latest and is fed too; a
 * stale state is never fed over what newer events said.
 */
static void
hbMonitorApplyInfo(HbMonitor *monitor, const HbDomainInfo *info, gboolean resync,
                   gboolean fresh)
{
    HbDomain *dom = g_hash_table_lookup(monitor->domains, info->uuid);
    HbConfig cfg = monitor->conf.defaults;
    g_autoptr(GError) err = NULL;
    gboolean wanted = info->metadata || (monitor->conf.monitor_all && info->has_agent);

    if (info->error) {
        g_warning("Domain '%s': cannot read its definition: %s", info->name, info->error);
        return;
    }
    if (!wanted) {
        if (dom)
            hbMonitorRemove(monitor, dom);
        return;
    }
    if (info->metadata && hbConfigParseMetadata(info->metadata, &monitor->conf.defaults,
                                                &cfg, &err) < 0) {
        /* Fail closed: keep the last valid config; never the defaults. */
        if (dom)
            cfg = *hbDomainConfig(dom);
        else
            hbStateFileRecallConfig(monitor->conf.state_dir, info->uuid, info->name,
                                    &monitor->conf.defaults, &cfg);
    }

    if (!dom) {
        dom = hbDomainNew(monitor, info, &cfg);
        g_hash_table_insert(monitor->domains, (gpointer) hbDomainUUID(dom), dom);
        if (monitor->observer.added)
            monitor->observer.added(dom, monitor->observer_data);
        resync = TRUE;
    }
    hbDomainUpdate(dom, info, &cfg, err ? err->message : NULL, resync, fresh);
}


/*
 * No lifecycle event came for @uuid since @job was queued, so the state it
 * read is the latest; otherwise the events said more, or will once read.
 */
static gboolean
hbMonitorReadIsFresh(HbMonitor *monitor, const char *uuid, const HbJob *job)
{
    guint64 *last = g_hash_table_lookup(monitor->last_event, uuid);

    return !last || *last <= job->event_seq;
}


static void
hbMonitorSync(HbMonitor *monitor, const char *uuid)
{
    if (g_hash_table_contains(monitor->syncing, uuid)) {
        g_hash_table_replace(monitor->syncing, g_strdup(uuid), GINT_TO_POINTER(TRUE));
        return;
    }
    g_hash_table_insert(monitor->syncing, g_strdup(uuid), GINT_TO_POINTER(FALSE));
    hbMonitorPushJob(monitor, hbJobNew(HB_JOB_SYNC, uuid));
}


static void
hbMonitorSyncDone(HbMonitor *monitor, HbJob *job)
{
    gboolean again = GPOINTER_TO_INT(g_hash_table_lookup(monitor->syncing, job->uuid));
    gboolean fresh = hbMonitorReadIsFresh(monitor, job->uuid, job);
    HbDomain *dom = g_hash_table_lookup(monitor->domains, job->uuid);

    g_hash_table_remove(monitor->syncing, job->uuid);
    if (job->error)
        g_warning("Cannot read domain %s: %s", job->uuid, job->error->message);
    else if (job->infos->len == 0 && dom)
        hbMonitorRemove(monitor, dom);
    else if (job->infos->len > 0)
        hbMonitorApplyInfo(monitor, job->infos->pdata[0], FALSE, fresh);
    /* Until a read is fresh, its state is not fed: read again. */
    if (again || (!job->error && job->infos->len > 0 && !fresh))
        hbMonitorSync(monitor, job->uuid);
}


static gboolean
hbMonitorListRetry(gpointer data)
{
    HbMonitor *monitor = data;

    monitor->list_retry = 0;
    hbMonitorPushJob(monitor, hbJobNew(HB_JOB_LIST, NULL));
    return G_SOURCE_REMOVE;
}


static void
hbMonitorListDone(HbMonitor *monitor, HbJob *job)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    /* Whose files stay: monitored, or listed with a definition not read. */
    g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter iter;
    gpointer value;

    if (job->generation != monitor->generation)
        return;
    if (job->error) {
        /* Until a resync succeeds nothing is watched: keep trying. A lost
         * event connection bumps the generation and lists anew itself. */
        g_warning("Cannot list domains, trying again in %d s: %s",
                  HB_LIST_RETRY_S, job->error->message);
        monitor->list_retry = g_timeout_add_seconds(HB_LIST_RETRY_S, hbMonitorListRetry,
                                                    monitor);
        return;
    }
    hbMonitorSetConnected(monitor, TRUE);
    for (guint i = 0; i < job->infos->len; i++) {
        HbDomainInfo *info = job->infos->pdata[i];
        g_hash_table_add(seen, info->uuid);
        if (info->error)
            g_hash_table_add(keep, info->uuid);
    }
    /* The gone first: no judgement of the host made while the others are
     * applied counts a guest that no longer exists. */
    g_hash_table_iter_init(&iter, monitor->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        HbDomain *dom = value;
        if (!g_hash_table_contains(seen, hbDomainUUID(dom))) {
            g_message("Domain '%s': gone while libvirtd was out of sight", hbDomainName(dom));
            hbMonitorForget(monitor, dom);
            g_hash_table_iter_remove(&iter);
        }
    }
    for (guint i = 0; i < job->infos->len; i++) {
        HbDomainInfo *info = job->infos->pdata[i];
        gboolean fresh = hbMonitorReadIsFresh(monitor, info->uuid, job);
        hbMonitorApplyInfo(monitor, info, TRUE, fresh);
        /* Events came while it was read: read it again for its state. */
        if (!fresh)
            hbMonitorSync(monitor, info->uuid);
    }
    g_hash_table_iter_init(&iter, monitor->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_hash_table_add(keep, (gpointer) hbDomainUUID(value));
    hbStateFileSweep(monitor->conf.state_dir, keep);
    g_message("Resynced: %u domains monitored", g_hash_table_size(monitor->domains));
    monitor->node_cpus = job->node_cpus;
    hbMonitorCheckLoad(monitor);
    hbMonitorHostCheck(monitor, FALSE);
    if (monitor->resynced)
        monitor->resynced(monitor->resynced_data);
}


/* The edit under way for @uuid is done: the next one waiting runs. */
static void
hbMonitorNextEdit(HbMonitor *monitor, const char *uuid)
{
    GQueue *waiting = g_hash_table_lookup(monitor->edits, uuid);
    HbJob *next;

    if (!waiting)
        return;
    if (!(next = g_queue_pop_head(waiting))) {
        g_hash_table_remove(monitor->edits, uuid);
        return;
    }
    /* Counted while it waited; pushing counts it again. */
    hbMonitorCountRequest(monitor, uuid, -1);
    hbMonitorPushJob(monitor, next);
}


/* Stopping: edits still waiting (one under way outlived the wait) fail. */
static void
hbMonitorDropEdits(HbMonitor *monitor)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, monitor->edits);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        HbJob *job;

        while ((job = g_queue_pop_head(value))) {
            g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "virt-heartbeatd is stopping");
            job->cancelled = TRUE;
            job->reply(job, job->reply_data);
            hbJobFree(job);
        }
    }
}


static void hbMonitorQueueRequest(HbMonitor *monitor, const char *uuid, const char *name,
                                  HbJob *job);


/* The domain an edit by name or UUID is for is known, or not: queue or fail it. */
static void
hbMonitorResolveDone(HbMonitor *monitor, HbJob *resolve)
{
    HbJob *job = g_steal_pointer(&resolve->then);

    if (!resolve->error && !resolve->cancelled && !monitor->closing) {
        job->name = g_strdup(resolve->name);
        hbMonitorQueueRequest(monitor, resolve->uuid, resolve->name, job);
        return;
    }
    if (resolve->error && !monitor->closing)
        job->error = g_steal_pointer(&resolve->error);
    else
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "virt-heartbeatd is stopping");
    job->reply(job, job->reply_data);
    hbJobFree(job);
}


/* Each domain read gets its sample; one NOWAIT skipped keeps its last, which ages. */
static void
hbMonitorStatsDone(HbMonitor *monitor, HbJob *job)
{
    if (job->sent && g_get_monotonic_time() - job->sent > HB_STATS_STUCK_US)
        g_message("Domain stats: a read took %.1f s (a QEMU monitor did not answer)",
                  (g_get_monotonic_time() - job->sent) / 1e6);
    if (job->error) {
        g_debug("Cannot read domain stats: %s", job->error->message);
        return;
    }
    for (guint i = 0; i < job->stats->len; i++) {
        HbStatsRecord *rec = &g_array_index(job->stats, HbStatsRecord, i);
        HbDomain *dom = g_hash_table_lookup(monitor->domains, rec->uuid);

        if (dom)
            hbDomainStatsSample(dom, &rec->sample);
    }
}


/* One read at a time, unless the one under way is stuck (HB_STATS_STUCK_US). */
static gboolean
hbMonitorStatsTimer(gpointer data)
{
    HbMonitor *monitor = data;
    gint64 now = g_get_monotonic_time();

    if (!monitor->connected || monitor->closing)
        return G_SOURCE_CONTINUE;
    /* Once one went beside a stuck read, the reads beside it keep the
     * period: a verdict's window after the first miss is shorter than
     * HB_STATS_STUCK_US, and every reading in it counts. */
    if (monitor->stats_inflight &&
        (monitor->stats_inflight >= HB_STATS_WORKERS ||
         (!monitor->stats_stuck && now - monitor->stats_pushed < HB_STATS_STUCK_US)))
        return G_SOURCE_CONTINUE;
    if (monitor->stats_inflight && !monitor->stats_stuck)
        g_message("Domain stats: %u read(s) under way, the last queued %.0f s ago; one more "
                  "goes beside (a QEMU monitor does not answer)", monitor->stats_inflight,
                  (now - monitor->stats_pushed) / 1e6);
    monitor->stats_stuck = monitor->stats_inflight > 0;
    monitor->stats_inflight++;
    monitor->stats_pushed = now;
    hbMonitorPushJob(monitor, hbJobNew(HB_JOB_STATS, NULL));
    return G_SOURCE_CONTINUE;
}


static void
hbMonitorJobDone(HbJob *job, gpointer data)
{
    HbMonitor *monitor = data;
    HbDomain *dom;

    if (job->kind == HB_JOB_RESOLVE) {
        hbMonitorResolveDone(monitor, job);
        hbJobFree(job);
        return;
    }
    if (hbJobLane(job) == HB_LANE_GUEST && !job->cancelled)
        hbMonitorCountRequest(monitor, job->uuid, -1);
    if (job->kind == HB_JOB_METADATA)
        hbMonitorNextEdit(monitor, job->uuid);
    if (job->kind == HB_JOB_STATS)
        monitor->stats_inflight--;
    if (job->reply) {
        /* A request never run failed; one that succeeded stays a success. */
        if (job->cancelled && !job->error)
            g_set_error_literal(&job->error, HB_ERROR, HB_ERROR_FAILED, monitor->closing ?
                                "virt-heartbeatd is stopping" : "failed");
        job->reply(job, job->reply_data);
        /* A new channel shows in the domain XML, but no event says so; an
         * edit's event may come late or, on a connection lost meanwhile,
         * never: read the domain rather than wait for it. */
        if (!monitor->closing && !job->error &&
            (job->kind == HB_JOB_INSTALL_AGENT || job->kind == HB_JOB_METADATA))
            hbMonitorSync(monitor, job->uuid);
        goto cleanup;
    }
    if (monitor->closing)
        goto cleanup;

    switch (job->kind) {
    case HB_JOB_LIST:
        hbMonitorListDone(monitor, job);
        break;
    case HB_JOB_SYNC:
        hbMonitorSyncDone(monitor, job);
        break;
    case HB_JOB_STATS:
        hbMonitorStatsDone(monitor, job);
        break;
    case HB_JOB_PING:
    case HB_JOB_RESTART:
    case HB_JOB_ESCALATE:
    case HB_JOB_GUEST_INFO:
    case HB_JOB_TIME_SYNC:
        /* The domain may have left the table meanwhile. */
        if ((dom = g_hash_table_lookup(monitor->domains, job->uuid)))
            hbDomainJobDone(dom, job);
        break;
    case HB_JOB_SHUTDOWN:
    case HB_JOB_EXEC:
    case HB_JOB_INSTALL_AGENT:
    case HB_JOB_METADATA:
    case HB_JOB_RESOLVE:
    case HB_JOB_LAST:
        g_assert_not_reached(); /* requests always have a reply */
    }

 cleanup:
    hbJobFree(job);
}


static void
hbMonitorOnLifecycle(virDomainPtr vdom, int event, int detail, gpointer data)
{
    HbMonitor *monitor = data;
    char uuid[VIR_UUID_STRING_BUFLEN];
    HbDomain *dom;

    if (monitor->closing || virDomainGetUUIDString(vdom, uuid) < 0)
        return;
    /* Also for domains not watched (yet): a read under way is now stale. */
    monitor->event_seq++;
    g_hash_table_replace(monitor->last_event, g_strdup(uuid),
                         g_memdup2(&monitor->event_seq, sizeof(monitor->event_seq)));
    dom = g_hash_table_lookup(monitor->domains, uuid);
    g_debug("Domain '%s': lifecycle event %d/%d", virDomainGetName(vdom), event, detail);

    if (dom)
        hbDomainLifecycleEvent(dom, event, detail);
    /* Definitions, starts (live XML) and stops (transient domains vanish)
     * may change what we monitor and how: read the domain again. */
    if (event == VIR_DOMAIN_EVENT_DEFINED || event == VIR_DOMAIN_EVENT_UNDEFINED ||
        event == VIR_DOMAIN_EVENT_STARTED || event == VIR_DOMAIN_EVENT_STOPPED)
        hbMonitorSync(monitor, uuid);
}


/* The monitored domain an event is for; NULL: none. */
static HbDomain *
hbMonitorDomainOf(HbMonitor *monitor, virDomainPtr vdom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (virDomainGetUUIDString(vdom, uuid) < 0)
        return NULL;
    return g_hash_table_lookup(monitor->domains, uuid);
}


static void
hbMonitorOnReboot(virDomainPtr vdom, gpointer data)
{
    HbDomain *dom = hbMonitorDomainOf(data, vdom);

    if (dom)
        hbDomainFeed(dom, HB_INPUT_REBOOT);
}


static void
hbMonitorOnWatchdog(virDomainPtr vdom, int action, gpointer data)
{
    HbDomain *dom = hbMonitorDomainOf(data, vdom);

    if (dom)
        hbDomainWatchdogEvent(dom, action);
}


static void
hbMonitorOnAgent(virDomainPtr vdom, int state, int reason G_GNUC_UNUSED, gpointer data)
{
    HbDomain *dom = hbMonitorDomainOf(data, vdom);

    if (dom)
        hbDomainAgentEvent(dom,
                           state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED);
}


static void
hbMonitorOnMetadata(virDomainPtr vdom, int type, const char *nsuri, gpointer data)
{
    HbMonitor *monitor = data;
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (type != VIR_DOMAIN_METADATA_ELEMENT || g_strcmp0(nsuri, HB_METADATA_URI) != 0)
        return;
    if (virDomainGetUUIDString(vdom, uuid) == 0)
        hbMonitorSync(monitor, uuid);
}


/* An agent channel plugged in or out changes whether pings can be asked:
 * read the domain again (any device: the alias says nothing of its kind). */
static void
hbMonitorOnDevice(virDomainPtr vdom, const char *alias G_GNUC_UNUSED, gpointer data)
{
    HbMonitor *monitor = data;
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (virDomainGetUUIDString(vdom, uuid) == 0)
        hbMonitorSync(monitor, uuid);
}


static void
hbMonitorOnConnected(gpointer data)
{
    HbMonitor *monitor = data;

    /* libvirtd sends nothing about what happened meanwhile: read everything. */
    g_clear_handle_id(&monitor->list_retry, g_source_remove);
    monitor->generation++;
    hbMonitorPushJob(monitor, hbJobNew(HB_JOB_LIST, NULL));
}


static void
hbMonitorOnDisconnected(gpointer data)
{
    HbMonitor *monitor = data;
    GHashTableIter iter;
    gpointer value;

    hbMonitorSetConnected(monitor, FALSE);
    g_clear_handle_id(&monitor->list_retry, g_source_remove);
    monitor->generation++;
    g_hash_table_iter_init(&iter, monitor->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        hbDomainArm(value);
}


static const HbConnCallbacks hbMonitorConnCallbacks = {
    .connected = hbMonitorOnConnected,
    .disconnected = hbMonitorOnDisconnected,
    .lifecycle = hbMonitorOnLifecycle,
    .reboot = hbMonitorOnReboot,
    .agent = hbMonitorOnAgent,
    .watchdog = hbMonitorOnWatchdog,
    .metadata = hbMonitorOnMetadata,
    .device = hbMonitorOnDevice,
};


HbMonitor *
hbMonitorNew(const HbDaemonConf *conf, HbProbeFunc probe)
{
    HbMonitor *monitor = g_new0(HbMonitor, 1);
    HbWorkerLimits limits = { .threads = {
        [HB_LANE_RESTART] = HB_RESTART_WORKERS,
        [HB_LANE_PING] = conf->ping_workers,
        [HB_LANE_SUSPECT] = conf->suspect_workers,
        [HB_LANE_READ] = HB_READ_WORKERS,
        [HB_LANE_GUEST] = conf->request_workers,
        [HB_LANE_STATS] = HB_STATS_WORKERS,
    } };

    hbDaemonConfCopy(&monitor->conf, conf);
    hbBreakerInit(&monitor->breaker, &conf->breaker);
    monitor->host_gate = hbTicketNew();
    if (monitor->conf.hooks_dir[0])
        monitor->hooks = hbHooksNew(monitor->conf.hooks_dir, monitor->conf.hook_timeout);
    if (monitor->conf.state_dir[0] && hbStateFileCheckDir(monitor->conf.state_dir) < 0) {
        g_warning("Failed episodes and the last valid configurations will not survive a "
                  "restart");
        monitor->conf.state_dir[0] = '\0';
    }
    monitor->maintenance_until = hbStateFileLoadMaintenance(monitor->conf.state_dir);
    monitor->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify) hbDomainFree);
    monitor->syncing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    monitor->requests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    monitor->edits = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) g_queue_free);
    monitor->last_event = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    monitor->timers = hbTimersNew(hbDomainOnTimer);
    monitor->host_seen = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    monitor->host_silent = g_hash_table_new(NULL, NULL);
    monitor->host_times = g_hash_table_new(NULL, NULL);
    monitor->worker = hbWorkerNew(conf->uri, &limits, probe, hbMonitorJobDone, monitor);
    monitor->conn = hbConnNew(conf->uri, &hbMonitorConnCallbacks, monitor);
    return monitor;
}


void
hbMonitorSetObserver(HbMonitor *monitor, const HbMonitorObserver *observer, gpointer data)
{
    monitor->observer = *observer;
    monitor->observer_data = data;
}


void
hbMonitorStart(HbMonitor *monitor)
{
    hbConnStart(monitor->conn);
    monitor->stats_timer = g_timeout_add_seconds(HB_STATS_PERIOD_S, hbMonitorStatsTimer,
                                                 monitor);
}


void
hbMonitorFree(HbMonitor *monitor)
{
    if (!monitor)
        return;
    monitor->closing = TRUE;
    /* Attempts waiting for their before-restart hooks are cancelled. */
    g_clear_pointer(&monitor->hooks, hbHooksFree);
    g_clear_handle_id(&monitor->list_retry, g_source_remove);
    g_clear_handle_id(&monitor->breaker_timer, g_source_remove);
    g_clear_handle_id(&monitor->stats_timer, g_source_remove);
    hbConnFree(monitor->conn);
    /* Queued restarts and requests are cancelled; calls under way get a while. */
    hbWorkerFree(monitor->worker, HB_STOP_WAIT_S);
    hbMonitorDropEdits(monitor);
    g_hash_table_unref(monitor->edits);
    /* Before the domains they point to. */
    g_hash_table_unref(monitor->host_seen);
    g_hash_table_unref(monitor->host_silent);
    g_hash_table_unref(monitor->host_times);
    g_hash_table_unref(monitor->domains);
    /* After the domains: they unset their timers. */
    hbTimersFree(monitor->timers);
    g_hash_table_unref(monitor->syncing);
    g_hash_table_unref(monitor->requests);
    g_hash_table_unref(monitor->last_event);
    hbDaemonConfClear(&monitor->conf);
    hbTicketUnref(monitor->host_gate);
    g_free(monitor);
}


gboolean
hbMonitorIsConnected(HbMonitor *monitor)
{
    return monitor->connected;
}


gboolean
hbMonitorIsClosing(HbMonitor *monitor)
{
    return monitor->closing;
}


const char *
hbMonitorStateDir(HbMonitor *monitor)
{
    return monitor->conf.state_dir;
}


const char *
hbMonitorClusterTools(HbMonitor *monitor)
{
    return monitor->conf.cluster_tools;
}


/*
 * A ping that left long after its slot: the daemon's threads, or libvirtd,
 * do not keep up with the pings configured. No guest is judged on it (only
 * on pings sent), but detection slows down: said, at most every few minutes.
 */
static void
hbMonitorWarnLate(HbMonitor *monitor, const HbJob *job)
{
    gint64 now = g_get_monotonic_time();
    HbDomain *dom = g_hash_table_lookup(monitor->domains, job->uuid);

    if (job->sent - job->slot < HB_LATE_WARN_US ||
        (monitor->late_warned && now - monitor->late_warned < HB_LATE_WARN_PERIOD_US))
        return;
    monitor->late_warned = now;
    g_warning("Pings leave late: domain '%s' was pinged %.1f s after its slot, with %u pings "
              "queued or under way for %u + %u threads: virt-heartbeatd or libvirtd does not "
              "keep up (ping_workers, suspect_workers in virt-heartbeatd.conf(5); "
              "virt-heartbeat stats). A late ping is no verdict; detection is slower",
              dom ? hbDomainName(dom) : job->uuid, (job->sent - job->slot) / 1e6,
              hbWorkerPending(monitor->worker, HB_LANE_PING) +
              hbWorkerPending(monitor->worker, HB_LANE_SUSPECT),
              monitor->conf.ping_workers, monitor->conf.suspect_workers);
}


void
hbMonitorCountPing(HbMonitor *monitor, HbPing ping, const HbJob *job)
{
    monitor->pings[ping]++;
    if (!job->sent || !job->finished)
        return;
    hbHistogramAdd(&monitor->ping_rtt, job->finished - job->sent);
    if (!job->slot)
        return;
    hbHistogramAdd(&monitor->ping_lateness, job->sent - job->slot);
    hbMonitorWarnLate(monitor, job);
}


GVariant *
hbMonitorStatistics(HbMonitor *monitor)
{
    guint64 states[HB_STATE_LAST] = { 0 };
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, monitor->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        states[hbDomainState(value)]++;
    return hbMonitorStatisticsCounted(monitor, states);
}


GVariant *
hbMonitorStatisticsCounted(HbMonitor *monitor, const guint64 *states)
{
    GVariantBuilder stats, domains, pings;

    g_variant_builder_init(&domains, G_VARIANT_TYPE("a{st}"));
    for (guint i = 0; i < HB_STATE_LAST; i++)
        g_variant_builder_add(&domains, "{st}", hbStateToString(i), states[i]);
    g_variant_builder_init(&pings, G_VARIANT_TYPE("a{st}"));
    for (guint i = 0; i < HB_PING_LAST; i++)
        g_variant_builder_add(&pings, "{st}", hbPingToString(i), monitor->pings[i]);

    g_variant_builder_init(&stats, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&stats, "{sv}", "domains", g_variant_builder_end(&domains));
    g_variant_builder_add(&stats, "{sv}", "pings", g_variant_builder_end(&pings));
    g_variant_builder_add(&stats, "{sv}", "ping_rtt", hbHistogramToVariant(&monitor->ping_rtt));
    g_variant_builder_add(&stats, "{sv}", "ping_lateness",
                          hbHistogramToVariant(&monitor->ping_lateness));
    return g_variant_builder_end(&stats);
}


void
hbMonitorForeach(HbMonitor *monitor, GHFunc func, gpointer data)
{
    g_hash_table_foreach(monitor->domains, func, data);
}


HbWorker *
hbMonitorWorker(HbMonitor *monitor)
{
    return monitor->worker;
}


HbTimers *
hbMonitorTimers(HbMonitor *monitor)
{
    return monitor->timers;
}


gboolean
hbMonitorDryRun(HbMonitor *monitor)
{
    return monitor->conf.dry_run;
}


/*
 * A key in UUID form (8-4-4-4-12 hex digits, either case, as libvirt and
 * virsh take it) means that UUID; otherwise, or when no domain has that
 * UUID, the key is an exact, case-sensitive name. So a domain named like
 * another domain's UUID, in any case, can never stand in for that domain.
 */
HbDomain *
hbMonitorLookup(HbMonitor *monitor, const char *name_or_uuid)
{
    GHashTableIter iter;
    gpointer value;

    if (g_uuid_string_is_valid(name_or_uuid)) {
        /* libvirt prints UUIDs, and so keys this table, in lower case. */
        g_autofree char *uuid = g_ascii_strdown(name_or_uuid, -1);
        HbDomain *dom = g_hash_table_lookup(monitor->domains, uuid);

        if (dom)
            return dom;
    }
    g_hash_table_iter_init(&iter, monitor->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        HbDomain *dom = value;

        if (g_str_equal(hbDomainName(dom), name_or_uuid))
            return dom;
    }
    return NULL;
}


static gint
hbMonitorCompareName(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(hbDomainName((HbDomain *) a), hbDomainName((HbDomain *) b));
}


/* The monitored domains by name; the list is the caller's, not the domains. */
GList *
hbMonitorDomains(HbMonitor *monitor)
{
    return g_list_sort(g_hash_table_get_values(monitor->domains), hbMonitorCompareName);
}


void
hbMonitorRearm(HbMonitor *monitor G_GNUC_UNUSED, HbDomain *dom)
{
    hbDomainRearm(dom);
}


/* Fail @job with Busy and free it. */
static void
hbMonitorRefuse(HbJob *job, const char *name, const char *full)
{
    g_set_error(&job->error, HB_ERROR, HB_ERROR_BUSY,
                "Domain '%s': too many %s under way (at most %u per domain, %u in all); "
                "try again later", name, full, HB_REQUESTS_PER_DOMAIN, HB_REQUESTS_MAX);
    job->reply(job, job->reply_data);
    hbJobFree(job);
}


/* Queue @job for the domain @uuid (@name in errors); an edit after the domain's others. */
static void
hbMonitorQueueRequest(HbMonitor *monitor, const char *uuid, const char *name, HbJob *job)
{
    const char *full;

    g_free(job->uuid);
    job->uuid = g_strdup(uuid);
    job->defaults = monitor->conf.defaults;
    /* Pings have threads of their own; requests wait in a bounded queue. */
    if ((full = hbMonitorRequestRoom(monitor, uuid))) {
        hbMonitorRefuse(job, name, full);
        return;
    }
    if (job->kind == HB_JOB_METADATA) {
        /* Read-modify-write: one at a time per domain, or one is lost. */
        GQueue *waiting = g_hash_table_lookup(monitor->edits, job->uuid);
        if (waiting) {
            hbMonitorCountRequest(monitor, job->uuid, 1);
            g_queue_push_tail(waiting, job);
            return;
        }
        g_hash_table_insert(monitor->edits, g_strdup(job->uuid), g_queue_new());
    }
    hbMonitorPushJob(monitor, job);
}


/*
 * Run a request of the guest OS interface for @dom; job->reply gets the
 * finished job on the main loop, always, also when the daemon stops.
 */
void
hbMonitorRequest(HbMonitor *monitor, HbDomain *dom, HbJob *job)
{
    g_assert(job->reply);
    if (job->kind == HB_JOB_SHUTDOWN && !hbMonitorRequestRoom(monitor, hbDomainUUID(dom)))
        hbDomainFeed(dom, HB_INPUT_SHUTDOWN_REQUESTED);
    hbMonitorQueueRequest(monitor, hbDomainUUID(dom), hbDomainName(dom), job);
}


/*
 * Edit the <heartbeat/> metadata of the libvirt domain @key names,
 * monitored or not: a key in UUID form means that UUID first, then it is an
 * exact name, as virsh takes it. A worker finds the domain, so the edit
 * queues with every other edit of the same domain, and is checked against
 * the daemon's [defaults]. job->reply gets the finished job, always.
 */
void
hbMonitorEdit(HbMonitor *monitor, const char *key, HbJob *job)
{
    HbJob *resolve;

    g_assert(job->reply && job->kind == HB_JOB_METADATA);
    if (hbWorkerPending(monitor->worker, HB_LANE_GUEST) >= HB_REQUESTS_MAX) {
        hbMonitorRefuse(job, key, "guest requests in all");
        return;
    }
    resolve = hbJobNew(HB_JOB_RESOLVE, NULL);
    resolve->key = g_strdup(key);
    resolve->then = job;
    hbMonitorPushJob(monitor, resolve);
}


gint64
hbMonitorMaintenanceUntil(HbMonitor *monitor)
{
    return monitor->maintenance_until;
}


static void
hbMonitorSyncMaintenance(gpointer key G_GNUC_UNUSED, gpointer value, gpointer data G_GNUC_UNUSED)
{
    hbDomainSyncMaintenance(value);
}


int
hbMonitorSetMaintenance(HbMonitor *monitor, gint64 until, GError **error)
{
    g_autofree char *end = until ? hbApiFormatUtc(until) : NULL;

    /* Kept first: a window the next daemon would not know of is refused. */
    if (hbStateFileSaveMaintenance(monitor->conf.state_dir, until, error) < 0)
        return -1;
    monitor->maintenance_until = until;
    if (until)
        g_message("Host-wide maintenance until %s: no domain is acted on", end);
    else
        g_message("Host-wide maintenance ended: every domain is watched afresh");
    g_hash_table_foreach(monitor->domains, hbMonitorSyncMaintenance, NULL);
    return 0;
}


void
hbMonitorSetResyncFunc(HbMonitor *monitor, HbMonitorResyncFunc func, gpointer data)
{
    monitor->resynced = func;
    monitor->resynced_data = data;
}


void
hbMonitorCounts(HbMonitor *monitor, guint *domains, guint *watched, guint *silent)
{
    *domains = g_hash_table_size(monitor->domains);
    *watched = monitor->host_watched;
    *silent = g_hash_table_size(monitor->host_silent);
}


void
hbMonitorReconfigure(HbMonitor *monitor, const HbDaemonConf *conf)
{
    gboolean defaults = memcmp(&monitor->conf.defaults, &conf->defaults,
                               sizeof(conf->defaults)) != 0;
    GHashTableIter iter;
    gpointer key;

    hbDaemonConfApplyLive(&monitor->conf, conf);
    /* The breaker's state stays (a hold under way goes on); only its
     * figures change, and the host is judged again by them. */
    monitor->breaker.conf = monitor->conf.breaker;
    hbMonitorHostCheck(monitor, FALSE);
    if (!defaults)
        return;
    /* A read, not a full resync: a resync would restart every silence.
     * Each domain is applied with the new defaults as after an edit of
     * its metadata. While not connected, the next resync applies them. */
    if (!monitor->connected)
        return;
    g_hash_table_iter_init(&iter, monitor->domains);
    while (g_hash_table_iter_next(&iter, &key, NULL))
        hbMonitorSync(monitor, key);
}
