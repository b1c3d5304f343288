/*
 * The monitored domains. Everything here runs on the main loop and never
 * calls libvirt: reads, pings and restarts go to the worker threads.
 */
#include <config.h>

#include "hb-conn.h"
#include "hb-engine-input.h"
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

struct _HbDomain {
    HbMonitor *monitor;
    char *uuid;
    char *name;
    HbEngine *engine;
    HbTicket *ticket;       /* of the open episode: its restarts check it */
    guint64 ticket_episode;
    char *config_error;
    char *saved_metadata;   /* name and last valid metadata on disk; "": none; NULL: not known */
    gboolean agent_connected;
    gboolean crash_handled; /* <on_crash> has libvirt destroy or restart it */
    gboolean reset_stops;   /* <on_reboot>destroy */
    guint requests;         /* guest requests queued or running */
    gint64 last_tick_real;
    GSource *timer;
    HbGuestInfo guest;      /* what the agent said this boot */
    gint64 guest_boot;      /* the engine boot guest belongs to */
    gboolean guest_reading;
    guint time_sync_timer;
    guint time_sync_minutes; /* the timer's period */
};

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
    gboolean connected;    /* connected and resynced */
    gboolean closing;
    HbMonitorObserver observer;
    gpointer observer_data;
};

static const char *hbNoticeNames[HB_NOTICE_LAST] = {
    [HB_NOTICE_STOPPED] = "heartbeat-stopped",
    [HB_NOTICE_RESUMED] = "heartbeat-resumed",
    [HB_NOTICE_RESTART_ATTEMPT] = "restart-attempt",
    [HB_NOTICE_EXHAUSTED] = "restarts-exhausted",
    [HB_NOTICE_STATE_CHANGED] = "state-changed",
};


const char *
hbNoticeKindToString(HbNoticeKind kind)
{
    return hbNoticeNames[kind];
}


static void hbMonitorJobDone(HbJob *job, gpointer data);


static void
hbMonitorNotify(HbDomain *dom, const HbNotice *notice)
{
    HbMonitor *monitor = dom->monitor;

    if (monitor->observer.notice)
        monitor->observer.notice(dom, notice, monitor->observer_data);
}


static void
hbMonitorChanged(HbDomain *dom)
{
    HbMonitor *monitor = dom->monitor;

    if (monitor->observer.changed)
        monitor->observer.changed(dom, monitor->observer_data);
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


/* Room for one more guest request for @uuid; NULL, or why not. */
static const char *
hbMonitorRequestRoom(HbMonitor *monitor, const char *uuid)
{
    if (hbMonitorRequests(monitor, uuid) >= HB_REQUESTS_PER_DOMAIN)
        return "requests for this domain";
    if (hbWorkerPending(monitor->worker, HB_LANE_GUEST) >= HB_REQUESTS_MAX)
        return "guest requests in all";
    return NULL;
}


static void
hbMonitorPushJob(HbMonitor *monitor, HbJob *job)
{
    if (monitor->closing) {
        job->cancelled = TRUE;
        hbMonitorJobDone(job, monitor);
        return;
    }
    job->generation = monitor->generation;
    job->event_seq = monitor->event_seq;
    if (hbJobLane(job) == HB_LANE_GUEST)
        hbMonitorCountRequest(monitor, job->uuid, 1);
    hbWorkerPush(monitor->worker, job);
}


/* Arm the domain's timer for the engine's next deadline. */
static void
hbMonitorArm(HbDomain *dom)
{
    gint64 deadline = hbEngineNextDeadline(dom->engine);

    if (!dom->monitor->connected || deadline == G_MAXINT64)
        g_source_set_ready_time(dom->timer, -1);
    else
        g_source_set_ready_time(dom->timer, deadline);
}


/*
 * What outlives the daemon (hb-statefile.h): the episode, and the last
 * valid metadata so that invalid metadata seen first after a restart
 * still fails closed to what was valid.
 */
static void
hbMonitorSaveState(HbDomain *dom)
{
    HbEngineMemory memory = { 0 };

    hbEngineRemember(dom->engine, &memory);
    hbStateFileSave(dom->monitor->conf.state_dir, dom->uuid, dom->name, &memory);
    hbEngineMemoryClear(&memory);
}


static void
hbMonitorLoadState(HbDomain *dom)
{
    HbEngineMemory memory = { 0 };
    HbActions actions;

    if (!hbStateFileLoad(dom->monitor->conf.state_dir, dom->uuid, dom->name, &memory))
        return;
    if (memory.failed)
        g_message("Domain '%s': failed before the daemon restarted; notify only until its "
                  "heartbeat returns or 'virt-heartbeat rearm'", dom->name);
    else if (memory.open)
        g_message("Domain '%s': episode %" G_GUINT64_FORMAT " was under way with %u restart "
                  "attempts made; it goes on once a block of silence confirms it",
                  dom->name, memory.episode, memory.attempts);
    hbEngineRecall(dom->engine, &memory, g_get_monotonic_time(), &actions);
    hbEngineMemoryClear(&memory);
}


static void
hbMonitorForgetState(HbDomain *dom)
{
    hbStateFileForget(dom->monitor->conf.state_dir, dom->uuid);
}


/* Written only when it changed: this runs at every read of the domain. */
static void
hbMonitorSaveConfig(HbDomain *dom, const char *metadata)
{
    g_autofree char *saved = metadata ? g_strconcat(dom->name, "\n", metadata, NULL)
                                      : g_strdup("");

    if (g_strcmp0(dom->saved_metadata, saved) == 0 ||
        hbStateFileSaveConfig(dom->monitor->conf.state_dir, dom->uuid, dom->name,
                              metadata) < 0)
        return;
    g_free(dom->saved_metadata);
    dom->saved_metadata = g_steal_pointer(&saved);
}


/* The ticket follows the engine's open episode: any end closes it. */
static void
hbDomainSyncTicket(HbDomain *dom)
{
    guint64 episode = hbEngineEpisode(dom->engine);
    gboolean open = hbEngineEpisodeOpen(dom->engine, episode);

    if (dom->ticket && (!open || dom->ticket_episode != episode)) {
        hbTicketClose(dom->ticket);
        g_clear_pointer(&dom->ticket, hbTicketUnref);
    }
    if (open && !dom->ticket) {
        dom->ticket = hbTicketNew();
        dom->ticket_episode = episode;
    }
}


/* A restart attempt, decided now for the open episode. */
static void
hbMonitorRestart(HbDomain *dom, const HbActions *actions)
{
    const HbConfig *cfg = hbEngineConfig(dom->engine);
    HbJob *job = hbJobNew(HB_JOB_RESTART, dom->uuid);

    job->action = cfg->action;
    job->episode = hbEngineEpisode(dom->engine);
    job->attempt = hbEngineAttempts(dom->engine);
    job->start_if_off = actions->start_if_off;
    job->reset_stops = dom->reset_stops;
    job->ticket = hbTicketRef(dom->ticket);
    g_message("Domain '%s': restart attempt %u of %u (%s)", dom->name, job->attempt,
              cfg->failure_attempts, hbActionToString(cfg->action));
    /* Remembered as under way before it is: the daemon may die meanwhile. */
    hbMonitorSaveState(dom);
    hbMonitorPushJob(dom->monitor, job);
}


static void
hbMonitorAct(HbDomain *dom, const HbActions *actions)
{
    HbMonitor *monitor = dom->monitor;
    const HbConfig *cfg = hbEngineConfig(dom->engine);

    hbDomainSyncTicket(dom);
    if (actions->ping) {
        HbJob *job = hbJobNew(HB_JOB_PING, dom->uuid);
        job->timeout = hbConfigEffectivePingTimeout(cfg);
        job->suspect = hbEngineSuspect(dom->engine);
        hbMonitorPushJob(monitor, job);
    }
    if (actions->events & HB_EVENT_STOPPED) {
        HbNotice notice = { .kind = HB_NOTICE_STOPPED };
        g_warning("Domain '%s': heartbeat stopped (%s), episode %" G_GUINT64_FORMAT,
                  dom->name, hbStateToString(hbEngineState(dom->engine)),
                  hbEngineEpisode(dom->engine));
        hbMonitorNotify(dom, &notice);
    }
    if (actions->restart)
        hbMonitorRestart(dom, actions);
    if (actions->events & HB_EVENT_RESUMED) {
        HbNotice notice = { .kind = HB_NOTICE_RESUMED };
        g_message("Domain '%s': heartbeat resumed", dom->name);
        hbMonitorNotify(dom, &notice);
    }
    if (actions->events & HB_EVENT_EXHAUSTED) {
        HbNotice notice = { .kind = HB_NOTICE_EXHAUSTED };
        g_warning("Domain '%s': %u restart attempts made, heartbeat still stopped; "
                  "giving up until it returns or 'virt-heartbeat rearm'",
                  dom->name, hbEngineAttempts(dom->engine));
        hbMonitorNotify(dom, &notice);
    }
    if (actions->events & HB_EVENT_STATE_CHANGED) {
        HbNotice notice = { .kind = HB_NOTICE_STATE_CHANGED };
        HbState state = hbEngineState(dom->engine);
        if (state == HB_STATE_FAILED && hbEngineStormCapped(dom->engine))
            g_warning("Domain '%s': storm cap reached (%u episodes in %u s), no action",
                      dom->name, cfg->max_episodes, cfg->episode_window);
        g_debug("Domain '%s': state %s", dom->name, hbStateToString(state));
        hbMonitorNotify(dom, &notice);
    }
    if (actions->events)
        hbMonitorSaveState(dom);
}


/* After the engine took an input: act, rearm the timer, show the change. */
static void
hbMonitorSettle(HbDomain *dom, const HbActions *actions)
{
    hbMonitorAct(dom, actions);
    hbMonitorArm(dom);
    hbMonitorChanged(dom);
}


static void
hbMonitorFeed(HbDomain *dom, HbInput input)
{
    HbActions actions;

    if (dom->monitor->closing)
        return;
    hbEngineFeed(dom->engine, input, g_get_monotonic_time(), &actions);
    hbMonitorSettle(dom, &actions);
}


static gboolean
hbMonitorTimerDispatch(GSource *source, GSourceFunc callback, gpointer data)
{
    HbDomain *dom = data;

    g_source_set_ready_time(source, -1);
    hbMonitorFeed(dom, HB_INPUT_TIMER);
    return G_SOURCE_CONTINUE;
}


static GSourceFuncs hbMonitorTimerFuncs = {
    .dispatch = hbMonitorTimerDispatch,
};


static void
hbDomainFree(HbDomain *dom)
{
    if (dom->ticket)
        hbTicketClose(dom->ticket);
    g_clear_pointer(&dom->ticket, hbTicketUnref);
    g_source_destroy(dom->timer);
    g_source_unref(dom->timer);
    g_clear_handle_id(&dom->time_sync_timer, g_source_remove);
    hbGuestInfoClear(&dom->guest);
    hbEngineFree(dom->engine);
    g_free(dom->uuid);
    g_free(dom->name);
    g_free(dom->config_error);
    g_free(dom->saved_metadata);
    g_free(dom);
}


static HbDomain *
hbDomainNew(HbMonitor *monitor, const HbDomainInfo *info, const HbConfig *cfg)
{
    HbDomain *dom = g_new0(HbDomain, 1);
    /* Spread the ping slots of many domains over the interval. */
    gint64 phase = (gint64) g_str_hash(info->uuid) * 1000;

    dom->monitor = monitor;
    dom->uuid = g_strdup(info->uuid);
    dom->name = g_strdup(info->name);
    dom->engine = hbEngineNew(cfg, info->has_agent, phase);
    dom->timer = g_source_new(&hbMonitorTimerFuncs, sizeof(GSource));
    g_source_set_callback(dom->timer, NULL, dom, NULL);
    g_source_set_name(dom->timer, "hb-domain-timer");
    g_source_attach(dom->timer, NULL);
    return dom;
}


static void
hbMonitorSyncTime(HbDomain *dom)
{
    if (!hbEngineConfig(dom->engine)->time_sync)
        return;
    /* Requests first; the next sync comes with the next tick or interval. */
    if (hbMonitorRequestRoom(dom->monitor, dom->uuid)) {
        g_debug("Domain '%s': time sync skipped, requests are busy", dom->name);
        return;
    }
    hbMonitorPushJob(dom->monitor, hbJobNew(HB_JOB_TIME_SYNC, dom->uuid));
}


/*
 * The agent answers (first tick of a boot) or has reconnected: read what
 * the seed's AdditionsVersion, OSName and CanShutdown report, and set the
 * guest's clock if time sync is on.
 */
static void
hbMonitorAgentReachable(HbDomain *dom)
{
    if (dom->guest_boot != hbEngineBoot(dom->engine)) {
        hbGuestInfoClear(&dom->guest);
        dom->guest_boot = hbEngineBoot(dom->engine);
    }
    if (!dom->guest_reading && !hbMonitorRequestRoom(dom->monitor, dom->uuid)) {
        dom->guest_reading = TRUE;
        hbMonitorPushJob(dom->monitor, hbJobNew(HB_JOB_GUEST_INFO, dom->uuid));
    }
    hbMonitorSyncTime(dom);
}


static gboolean
hbMonitorTimeSyncTimer(gpointer data)
{
    HbDomain *dom = data;
    HbState state = hbEngineState(dom->engine);

    if (state == HB_STATE_OK || state == HB_STATE_DEGRADED)
        hbMonitorSyncTime(dom);
    return G_SOURCE_CONTINUE;
}


/* A periodic time sync while time_sync is on, at its interval. */
static void
hbMonitorArmTimeSync(HbDomain *dom)
{
    const HbConfig *cfg = hbEngineConfig(dom->engine);
    guint minutes = cfg->time_sync ? cfg->time_sync_interval : 0;

    if (minutes == dom->time_sync_minutes)
        return;
    g_clear_handle_id(&dom->time_sync_timer, g_source_remove);
    /* Just turned on: the clock is set now, not an interval later. */
    if (minutes && !dom->time_sync_minutes)
        hbMonitorTimeSyncTimer(dom);
    dom->time_sync_minutes = minutes;
    if (minutes)
        dom->time_sync_timer = g_timeout_add_seconds(minutes * 60, hbMonitorTimeSyncTimer, dom);
}


static void
hbMonitorGuestInfoDone(HbDomain *dom, HbJob *job)
{
    dom->guest_reading = FALSE;
    if (!job->ok) {
        g_debug("Domain '%s': cannot read guest info: %s", dom->name, job->error->message);
        return;
    }
    hbGuestInfoClear(&dom->guest);
    dom->guest = job->info;
    job->info = (HbGuestInfo) { 0 };
    dom->guest_boot = hbEngineBoot(dom->engine);
    g_debug("Domain '%s': agent %s, %s", dom->name, dom->guest.version, dom->guest.os_name);
    hbMonitorChanged(dom);
}


static void
hbMonitorRemove(HbMonitor *monitor, HbDomain *dom)
{
    g_message("Domain '%s': no longer monitored", dom->name);
    hbMonitorForgetState(dom);
    if (monitor->observer.removed)
        monitor->observer.removed(dom, monitor->observer_data);
    g_hash_table_remove(monitor->domains, dom->uuid);
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
    const HbConfig *base = dom ? hbEngineConfig(dom->engine) : &monitor->conf.defaults;
    HbConfig cfg = monitor->conf.defaults;
    g_autoptr(GError) err = NULL;
    g_autofree char *config_error = NULL;
    gboolean wanted = info->metadata || (monitor->conf.monitor_all && info->has_agent);
    gboolean feed_state = fresh;
    HbActions actions;

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
        config_error = g_strdup(err->message);
        if (dom)
            cfg = *base;
        else
            hbStateFileRecallConfig(monitor->conf.state_dir, info->uuid, info->name,
                                    &monitor->conf.defaults, &cfg);
    }

    if (!dom) {
        dom = hbDomainNew(monitor, info, &cfg);
        g_hash_table_insert(monitor->domains, dom->uuid, dom);
        g_message("Domain '%s': monitored (%s)", dom->name,
                  info->metadata ? "metadata" : "monitor_all");
        /* Before any input: the first events would save over it. */
        hbMonitorLoadState(dom);
        if (monitor->observer.added)
            monitor->observer.added(dom, monitor->observer_data);
        resync = TRUE;
    } else if (!g_str_equal(dom->name, info->name)) {
        g_free(dom->name);
        dom->name = g_strdup(info->name);
    }

    if (!config_error)
        hbMonitorSaveConfig(dom, info->metadata);
    dom->agent_connected = info->agent_connected;
    dom->crash_handled = info->crash_handled;
    dom->reset_stops = info->reset_stops;
    hbEngineSetAttemptDestroys(dom->engine, info->reset_stops);
    if (g_strcmp0(config_error, dom->config_error) != 0) {
        if (config_error)
            g_warning("Domain '%s': invalid heartbeat metadata, keeping the last valid "
                      "configuration: %s", dom->name, config_error);
        else if (dom->config_error)
            g_message("Domain '%s': heartbeat metadata valid again", dom->name);
        g_free(dom->config_error);
        dom->config_error = g_steal_pointer(&config_error);
    }

    /* The time we were blind must not count as silence, so this comes
     * before the new configuration's deadlines are checked. */
    if (resync)
        hbMonitorFeed(dom, HB_INPUT_RESYNCED);
    hbEngineConfigure(dom->engine, &cfg, info->has_agent, g_get_monotonic_time(), &actions);
    hbMonitorAct(dom, &actions);
    if (feed_state)
        hbMonitorFeed(dom, hbEngineInputForState(info->state, info->reason,
                                                 info->crash_handled));
    hbMonitorArmTimeSync(dom);
    hbMonitorArm(dom);
    hbMonitorChanged(dom);
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
    if (!job->ok)
        g_warning("Cannot read domain %s: %s", job->uuid, job->detail);
    else if (job->infos->len == 0 && dom)
        hbMonitorRemove(monitor, dom);
    else if (job->infos->len > 0)
        hbMonitorApplyInfo(monitor, job->infos->pdata[0], FALSE, fresh);
    /* Until a read is fresh, its state is not fed: read again. */
    if (again || (job->ok && job->infos->len > 0 && !fresh))
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
    if (!job->ok) {
        /* Until a resync succeeds nothing is watched: keep trying. A lost
         * event connection bumps the generation and lists anew itself. */
        g_warning("Cannot list domains, trying again in %d s: %s",
                  HB_LIST_RETRY_S, job->detail);
        monitor->list_retry = g_timeout_add_seconds(HB_LIST_RETRY_S, hbMonitorListRetry,
                                                    monitor);
        return;
    }
    hbMonitorSetConnected(monitor, TRUE);
    for (guint i = 0; i < job->infos->len; i++) {
        HbDomainInfo *info = job->infos->pdata[i];
        gboolean fresh = hbMonitorReadIsFresh(monitor, info->uuid, job);
        g_hash_table_add(seen, info->uuid);
        if (info->error)
            g_hash_table_add(keep, info->uuid);
        hbMonitorApplyInfo(monitor, info, TRUE, fresh);
        /* Events came while it was read: read it again for its state. */
        if (!fresh)
            hbMonitorSync(monitor, info->uuid);
    }
    g_hash_table_iter_init(&iter, monitor->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        HbDomain *dom = value;
        if (!g_hash_table_contains(seen, dom->uuid)) {
            g_message("Domain '%s': gone while libvirtd was out of sight", dom->name);
            hbMonitorForgetState(dom);
            if (monitor->observer.removed)
                monitor->observer.removed(dom, monitor->observer_data);
            g_hash_table_iter_remove(&iter);
        } else {
            g_hash_table_add(keep, dom->uuid);
        }
    }
    hbStateFileSweep(monitor->conf.state_dir, keep);
    g_message("Resynced: %u domains monitored", g_hash_table_size(monitor->domains));
}


static void
hbMonitorPingDone(HbDomain *dom, HbJob *job)
{
    HbPing ping = hbEngineInputForProbe(job->probe);
    gint64 now = g_get_monotonic_time();
    HbActions actions;

    /* Never sent (the worker stopped first): no verdict from the start. */
    if (!job->sent)
        job->sent = now;
    if (ping == HB_PING_TICK)
        dom->last_tick_real = g_get_real_time();
    else
        g_debug("Domain '%s': %s after %.1f s (waited %.1f s to be sent): %s", dom->name,
                ping == HB_PING_MISS ? "missed tick" : "ping without verdict",
                (now - job->sent) / 1e6, (job->sent - job->queued) / 1e6,
                job->detail ? job->detail : "stopping");
    hbEngineFeedPing(dom->engine, ping, job->sent, now, &actions);
    hbMonitorSettle(dom, &actions);
    if (ping == HB_PING_TICK && dom->guest_boot != hbEngineBoot(dom->engine))
        hbMonitorAgentReachable(dom);
}


/* The result reports what the attempt was made for, not what holds today. */
static void
hbMonitorRestartDone(HbDomain *dom, HbJob *job)
{
    HbNotice notice = {
        .kind = HB_NOTICE_RESTART_ATTEMPT,
        .attempt = job->attempt,
        .max = hbEngineConfig(dom->engine)->failure_attempts,
        .action = job->ok ? job->detail : hbActionToString(job->action),
        .result = job->ok ? "ok" : job->detail,
    };
    double called = job->sent ? (job->sent - job->queued) / 1000.0 : 0;
    HbAttemptResult result = HB_ATTEMPT_FAILED;
    HbActions actions;

    if (job->dropped || job->cancelled) {
        result = HB_ATTEMPT_NOT_MADE;
        g_message("Domain '%s': restart attempt %u dropped: %s", dom->name, job->attempt,
                  job->cancelled ? "virt-heartbeatd is stopping" : job->detail);
    } else if (job->not_made) {
        /* libvirtd's trouble, not the guest's: the attempt is not spent. */
        result = HB_ATTEMPT_NOT_MADE;
        g_warning("Domain '%s': restart attempt %u not made, it does not count: %s",
                  dom->name, job->attempt, job->detail);
    } else {
        result = job->ok ? HB_ATTEMPT_OK : HB_ATTEMPT_FAILED;
        if (job->ok)
            g_message("Domain '%s': restart attempt %u: %s (called %.1f ms after the "
                      "decision)", dom->name, job->attempt, job->detail, called);
        else
            g_warning("Domain '%s': restart attempt %u failed: %s (called %.1f ms after "
                      "the decision)", dom->name, job->attempt, job->detail, called);
        hbMonitorNotify(dom, &notice);
    }
    hbEngineRestartDone(dom->engine, job->episode, result, g_get_monotonic_time(), &actions);
    hbMonitorSettle(dom, &actions);
    /* Its stop event came while the attempt ran, and was taken for ours. */
    if (job->stopped_by_other) {
        g_message("Domain '%s': shut off by someone else during restart attempt %u; "
                  "it stays off", dom->name, job->attempt);
        hbMonitorFeed(dom, HB_INPUT_STOPPED_OTHER);
    }
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


static void
hbMonitorJobDone(HbJob *job, gpointer data)
{
    HbMonitor *monitor = data;
    HbDomain *dom;

    if (hbJobLane(job) == HB_LANE_GUEST && !job->cancelled)
        hbMonitorCountRequest(monitor, job->uuid, -1);
    if (job->kind == HB_JOB_METADATA)
        hbMonitorNextEdit(monitor, job->uuid);
    if (job->reply) {
        if (monitor->closing && !job->error)
            g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "virt-heartbeatd is stopping");
        job->reply(job, job->reply_data);
        /* A new channel shows in the domain XML, but no event says so. */
        if (!monitor->closing && job->kind == HB_JOB_INSTALL_AGENT && job->ok)
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
    case HB_JOB_PING:
    case HB_JOB_RESTART:
    case HB_JOB_GUEST_INFO:
    case HB_JOB_TIME_SYNC:
        /* The domain may have left the table meanwhile. */
        if (!(dom = g_hash_table_lookup(monitor->domains, job->uuid)))
            break;
        if (job->kind == HB_JOB_PING)
            hbMonitorPingDone(dom, job);
        else if (job->kind == HB_JOB_RESTART)
            hbMonitorRestartDone(dom, job);
        else if (job->kind == HB_JOB_GUEST_INFO)
            hbMonitorGuestInfoDone(dom, job);
        else if (job->ok)
            g_debug("Domain '%s': guest clock set from the host", dom->name);
        else
            g_warning("Domain '%s': cannot set the guest clock: %s", dom->name,
                      job->error->message);
        break;
    case HB_JOB_SHUTDOWN:
    case HB_JOB_EXEC:
    case HB_JOB_INSTALL_AGENT:
    case HB_JOB_METADATA:
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
    HbInput input;

    if (monitor->closing || virDomainGetUUIDString(vdom, uuid) < 0)
        return;
    /* Also for domains not watched (yet): a read under way is now stale. */
    monitor->event_seq++;
    g_hash_table_replace(monitor->last_event, g_strdup(uuid),
                         g_memdup2(&monitor->event_seq, sizeof(monitor->event_seq)));
    dom = g_hash_table_lookup(monitor->domains, uuid);
    input = hbEngineInputForEvent(event, detail, dom && dom->crash_handled);
    g_debug("Domain '%s': lifecycle event %d/%d", virDomainGetName(vdom), event, detail);

    if (dom && input != HB_INPUT_TIMER)
        hbMonitorFeed(dom, input);
    if (dom && input == HB_INPUT_RESUMED)
        hbMonitorSyncTime(dom);
    /* Definitions, starts (live XML) and stops (transient domains vanish)
     * may change what we monitor and how: read the domain again. */
    if (event == VIR_DOMAIN_EVENT_DEFINED || event == VIR_DOMAIN_EVENT_UNDEFINED ||
        event == VIR_DOMAIN_EVENT_STARTED || event == VIR_DOMAIN_EVENT_STOPPED)
        hbMonitorSync(monitor, uuid);
}


static void
hbMonitorOnReboot(virDomainPtr vdom, gpointer data)
{
    HbMonitor *monitor = data;
    char uuid[VIR_UUID_STRING_BUFLEN];
    HbDomain *dom;

    if (virDomainGetUUIDString(vdom, uuid) == 0 &&
        (dom = g_hash_table_lookup(monitor->domains, uuid)))
        hbMonitorFeed(dom, HB_INPUT_REBOOT);
}


/* Only shown: an open agent port says nothing about a hung guest. */
static void
hbMonitorOnAgent(virDomainPtr vdom, int state, int reason, gpointer data)
{
    HbMonitor *monitor = data;
    char uuid[VIR_UUID_STRING_BUFLEN];
    HbDomain *dom;

    if (virDomainGetUUIDString(vdom, uuid) < 0 ||
        !(dom = g_hash_table_lookup(monitor->domains, uuid)))
        return;
    dom->agent_connected = state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED;
    g_debug("Domain '%s': agent %s", dom->name,
            dom->agent_connected ? "connected" : "disconnected");
    if (dom->agent_connected) {
        /* No verdict, but no next attempt before a ping to it has one. */
        hbMonitorFeed(dom, HB_INPUT_AGENT_CONNECTED);
        hbMonitorAgentReachable(dom);
    }
    hbMonitorChanged(dom);
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
        hbMonitorArm(value);
}


static const HbConnCallbacks hbMonitorConnCallbacks = {
    .connected = hbMonitorOnConnected,
    .disconnected = hbMonitorOnDisconnected,
    .lifecycle = hbMonitorOnLifecycle,
    .reboot = hbMonitorOnReboot,
    .agent = hbMonitorOnAgent,
    .metadata = hbMonitorOnMetadata,
};


HbMonitor *
hbMonitorNew(const HbDaemonConf *conf, HbProbeFunc probe, gpointer probe_data)
{
    HbMonitor *monitor = g_new0(HbMonitor, 1);
    HbWorkerLimits limits = { .threads = {
        [HB_LANE_RESTART] = HB_RESTART_WORKERS,
        [HB_LANE_PING] = conf->ping_workers,
        [HB_LANE_SUSPECT] = conf->suspect_workers,
        [HB_LANE_READ] = HB_READ_WORKERS,
        [HB_LANE_GUEST] = conf->request_workers,
    } };

    hbDaemonConfCopy(&monitor->conf, conf);
    if (monitor->conf.state_dir[0] && hbStateFileCheckDir(monitor->conf.state_dir) < 0) {
        g_warning("Failed episodes and the last valid configurations will not survive a "
                  "restart");
        monitor->conf.state_dir[0] = '\0';
    }
    monitor->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify) hbDomainFree);
    monitor->syncing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    monitor->requests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    monitor->edits = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) g_queue_free);
    monitor->last_event = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    monitor->worker = hbWorkerNew(conf->uri, &limits, probe, probe_data,
                                  hbMonitorJobDone, monitor);
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
}


void
hbMonitorFree(HbMonitor *monitor)
{
    if (!monitor)
        return;
    monitor->closing = TRUE;
    g_clear_handle_id(&monitor->list_retry, g_source_remove);
    hbConnFree(monitor->conn);
    /* Queued restarts and requests are cancelled; calls under way get a while. */
    hbWorkerFree(monitor->worker, HB_STOP_WAIT_S);
    hbMonitorDropEdits(monitor);
    g_hash_table_unref(monitor->edits);
    g_hash_table_unref(monitor->domains);
    g_hash_table_unref(monitor->syncing);
    g_hash_table_unref(monitor->requests);
    g_hash_table_unref(monitor->last_event);
    hbDaemonConfClear(&monitor->conf);
    g_free(monitor);
}


gboolean
hbMonitorIsConnected(HbMonitor *monitor)
{
    return monitor->connected;
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

        if (g_str_equal(dom->name, name_or_uuid))
            return dom;
    }
    return NULL;
}


static gint
hbDomainCompareName(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(((const HbDomain *) a)->name, ((const HbDomain *) b)->name);
}


/* The monitored domains by name; the list is the caller's, not the domains. */
GList *
hbMonitorDomains(HbMonitor *monitor)
{
    return g_list_sort(g_hash_table_get_values(monitor->domains), hbDomainCompareName);
}


void
hbMonitorRearm(HbMonitor *monitor, HbDomain *dom)
{
    g_message("Domain '%s': rearmed", dom->name);
    hbMonitorFeed(dom, HB_INPUT_REARM);
    hbMonitorSaveState(dom);
}


/*
 * Run a request of the guest OS interface for @dom; job->reply gets the
 * finished job on the main loop, always, also when the daemon stops.
 */
void
hbMonitorRequest(HbMonitor *monitor, HbDomain *dom, HbJob *job)
{
    const char *full;

    g_assert(job->reply);
    g_free(job->uuid);
    job->uuid = g_strdup(dom->uuid);
    job->defaults = monitor->conf.defaults;
    /* Pings have threads of their own; requests wait in a bounded queue. */
    if ((full = hbMonitorRequestRoom(monitor, dom->uuid))) {
        g_set_error(&job->error, HB_ERROR, HB_ERROR_BUSY,
                    "Domain '%s': too many %s under way (at most %u per domain, %u in all); "
                    "try again later", dom->name, full, HB_REQUESTS_PER_DOMAIN,
                    HB_REQUESTS_MAX);
        job->reply(job, job->reply_data);
        hbJobFree(job);
        return;
    }
    if (job->kind == HB_JOB_SHUTDOWN)
        hbMonitorFeed(dom, HB_INPUT_SHUTDOWN_REQUESTED);
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


const HbGuestInfo *
hbDomainGuestInfo(HbDomain *dom)
{
    return &dom->guest;
}


const char *hbDomainName(HbDomain *dom) { return dom->name; }
const char *hbDomainUUID(HbDomain *dom) { return dom->uuid; }
HbState hbDomainState(HbDomain *dom) { return hbEngineState(dom->engine); }
guint hbDomainPercentage(HbDomain *dom) { return hbEnginePercentage(dom->engine); }
guint hbDomainAttempts(HbDomain *dom) { return hbEngineAttempts(dom->engine); }
guint64 hbDomainEpisode(HbDomain *dom) { return hbEngineEpisode(dom->engine); }
guint64 hbDomainPings(HbDomain *dom, HbPing ping) { return hbEnginePings(dom->engine, ping); }
gint64 hbDomainLastTick(HbDomain *dom) { return hbEngineLastTick(dom->engine) ? dom->last_tick_real : 0; }
const HbConfig *hbDomainConfig(HbDomain *dom) { return hbEngineConfig(dom->engine); }
const char *hbDomainConfigError(HbDomain *dom) { return dom->config_error; }
gboolean hbDomainAgentConnected(HbDomain *dom) { return dom->agent_connected; }


gboolean
hbDomainIsHeartbeating(HbDomain *dom)
{
    return hbEngineIsHeartbeating(dom->engine, g_get_monotonic_time());
}
