/*
 * A monitored domain. Everything here runs on the main loop and never
 * calls libvirt: its pings, restarts and reads are jobs that the monitor
 * hands to the worker threads.
 */
#include <config.h>

#include "hb-api.h"
#include "hb-diag.h"
#include "hb-domain.h"
#include "hb-engine-input.h"
#include "hb-log.h"
#include "hb-monitor.h"
#include "hb-statefile.h"
#include "hb-stats.h"

/* A reading older than this says nothing of now: the bulk read was stuck or
 * skipped the domain. Five periods of the monitor's read (HB_STATS_PERIOD_S). */
#define HB_STATS_STALE_US (10 * G_USEC_PER_SEC)
/* A guest's watchdog firing is logged as a warning at most this often. */
#define HB_WATCHDOG_LOG_US (60 * G_USEC_PER_SEC)

struct _HbDomain {
    HbMonitor *monitor;
    char *uuid;
    char *name;
    HbEngine *engine;
    HbTicket *ticket;       /* of the open episode: its restarts check it */
    guint64 ticket_episode;
    HbAction ticket_action; /* the action and confirm keys it was issued under */
    HbConfirm ticket_confirm;
    HbTicket *escalation;   /* of the failed episode whose failure is reported */
    guint64 escalation_episode;
    char *config_error;
    char *saved_metadata;   /* name and last valid metadata on disk; "": none; NULL: not known */
    gboolean agent_connected;
    gboolean crash_handled; /* <on_crash> has libvirt destroy or restart it */
    gboolean reset_stops;   /* <on_reboot>destroy */
    gint64 last_tick_real;
    HbTimer timer;          /* the engine's next deadline */
    HbGuestInfo guest;      /* what the agent said this boot */
    gint64 guest_boot;      /* the engine boot guest belongs to */
    gboolean guest_reading;
    guint time_sync_timer;
    guint time_sync_minutes; /* the timer's period */
    char *job;              /* the domain job the last suppressed ping named */
    HbSuppress suppress_shown; /* the suppression last logged and shown */
    char *suppress_text;    /* its text; NULL: none */
    gint64 suppress_since_real;
    HbStatsSample stats_before; /* the last reading before the silence, or the
                                 * one the last withheld attempt was judged to */
    HbStatsSample stats_latest;
    gboolean crashed;       /* libvirt reported a crash this boot */
    const char *watchdog;   /* the action of a watchdog event since the last tick, this boot */
    gint64 watchdog_logged; /* when a firing was last logged as a warning; 0: never */
    HbVerdict verdict;      /* the last, and what it rests on */
    char *evidence;
    char *last_attempt;     /* "N ACTION: RESULT" of the last attempt reported; NULL: none */
    guint64 restarts[HB_ACTION_LAST][HB_OUTCOME_LAST]; /* attempts, as /metrics counts them */
    gint64 last_restart_real; /* the last attempt that did something to the domain */
    char *metric_labels;    /* hbDomainMetricLabels(); NULL: not made for this name yet */
    gint64 maintenance_key;     /* its own window's end (metadata, Pause), wall s; 0: none */
    gint64 maintenance_applied; /* the end last given to the engine, its own or the host's */
};

HB_ENUM_IMPL(hbNoticeKind, HbNoticeKind, HB_NOTICE_LAST,
             "heartbeat-stopped",
             "heartbeat-resumed",
             "restart-attempt",
             "restarts-exhausted",
             "state-changed",
             "escalated",
);

HB_ENUM_IMPL(hbOutcome, HbOutcome, HB_OUTCOME_LAST,
             "ok",
             "failed",
             "not-made",
             "no-boot",
             "observed",
             "withheld",
             "hung",
             "vetoed",
);


static void
hbDomainNotify(HbDomain *dom, const HbNotice *notice)
{
    hbMonitorNotify(dom->monitor, dom, notice);
}


static void
hbDomainChanged(HbDomain *dom)
{
    hbMonitorChanged(dom->monitor, dom);
}


/* A suppression that began or ended is logged once, with the domain's name. */
static void
hbDomainShowSuppression(HbDomain *dom)
{
    HbSuppress suppress = hbEngineSuppressed(dom->engine);
    gint64 since = hbEngineSuppressedSince(dom->engine);

    if (suppress == dom->suppress_shown)
        return;
    if (dom->suppress_text && hbEngineSuppressCapped(dom->engine))
        g_warning("Domain '%s': %s lasts longer than its cap of %" G_GINT64_FORMAT
                  " s: failed pings are judged again", dom->name, dom->suppress_text,
                  hbEngineSuppressCap(dom->suppress_shown) / G_USEC_PER_SEC);
    else if (dom->suppress_text)
        g_message("Domain '%s': suppression ended (%s): failed pings are judged again",
                  dom->name, dom->suppress_text);
    g_clear_pointer(&dom->suppress_text, g_free);
    dom->suppress_shown = suppress;
    dom->suppress_since_real = 0;
    if (suppress == HB_SUPPRESS_NONE)
        return;
    dom->suppress_text = g_strdup(suppress == HB_SUPPRESS_JOB && dom->job ?
                                  dom->job : hbSuppressToString(suppress));
    dom->suppress_since_real = g_get_real_time() - (g_get_monotonic_time() - since);
    g_message("Domain '%s': failed pings are no verdict while this lasts: %s",
              dom->name, dom->suppress_text);
}


void
hbDomainArm(HbDomain *dom)
{
    gint64 deadline = hbEngineNextDeadline(dom->engine);

    /* A window is checked against the wall clock now and then (hb-engine.h). */
    if (hbEngineMaintenanceUntil(dom->engine))
        deadline = MIN(deadline, g_get_monotonic_time() + HB_MAINTENANCE_RECHECK_US);
    if (!hbMonitorIsConnected(dom->monitor) || deadline == G_MAXINT64)
        deadline = -1;
    hbTimerSet(hbMonitorTimers(dom->monitor), &dom->timer, deadline, dom);
}


/*
 * What outlives the daemon (hb-statefile.h): the episode, and the last
 * valid metadata so that invalid metadata seen first after a restart
 * still fails closed to what was valid.
 */
static void
hbDomainSaveState(HbDomain *dom)
{
    g_auto(HbEngineMemory) memory = { 0 };

    hbEngineRemember(dom->engine, &memory);
    hbStateFileSave(hbMonitorStateDir(dom->monitor), dom->uuid, dom->name, &memory);
}


static void
hbDomainLoadState(HbDomain *dom)
{
    g_auto(HbEngineMemory) memory = { 0 };
    HbActions actions;

    if (!hbStateFileLoad(hbMonitorStateDir(dom->monitor), dom->uuid, dom->name, &memory))
        return;
    if (memory.failed)
        g_message("Domain '%s': failed before the daemon restarted; notify only until its "
                  "heartbeat returns or 'virt-heartbeat rearm'", dom->name);
    else if (memory.open)
        g_message("Domain '%s': episode %" G_GUINT64_FORMAT " was under way with %u restart "
                  "attempts made; it goes on once a block of silence confirms it",
                  dom->name, memory.episode, memory.attempts);
    hbEngineRecall(dom->engine, &memory, g_get_monotonic_time(), &actions);
}


/* Written only when it changed: this runs at every read of the domain. */
static void
hbDomainSaveConfig(HbDomain *dom, const char *metadata)
{
    g_autofree char *saved = metadata ? g_strconcat(dom->name, "\n", metadata, NULL)
                                      : g_strdup("");

    if (g_strcmp0(dom->saved_metadata, saved) == 0 ||
        hbStateFileSaveConfig(hbMonitorStateDir(dom->monitor), dom->uuid, dom->name,
                              metadata) < 0)
        return;
    g_free(dom->saved_metadata);
    dom->saved_metadata = g_steal_pointer(&saved);
}


/*
 * The ticket follows the engine's open episode: any end closes it, and so
 * does a change of the action or confirm key, so that a restart decided
 * under the old ones and still queued is dropped (not spent) and decided
 * again under the new ones.
 */
static void
hbDomainSyncTicket(HbDomain *dom)
{
    const HbConfig *cfg = hbEngineConfig(dom->engine);
    guint64 episode = hbEngineEpisode(dom->engine);
    gboolean open = hbEngineEpisodeOpen(dom->engine, episode);

    if (dom->ticket && (!open || dom->ticket_episode != episode ||
                        dom->ticket_action != cfg->action ||
                        dom->ticket_confirm != cfg->confirm)) {
        hbTicketClose(dom->ticket);
        g_clear_pointer(&dom->ticket, hbTicketUnref);
    }
    if (open && !dom->ticket) {
        dom->ticket = hbTicketNew();
        dom->ticket_episode = episode;
        dom->ticket_action = cfg->action;
        dom->ticket_confirm = cfg->confirm;
    }
    /* A report to the cluster is wanted while its episode stays failed. */
    if (dom->escalation && (dom->escalation_episode != episode ||
                            hbEngineState(dom->engine) != HB_STATE_FAILED ||
                            cfg->escalate != HB_ESCALATE_CLUSTER)) {
        hbTicketClose(dom->escalation);
        g_clear_pointer(&dom->escalation, hbTicketUnref);
    }
}


HbTicket *
hbDomainTicket(HbDomain *dom)
{
    return dom->ticket ? hbTicketRef(dom->ticket) : NULL;
}


/* Why the heartbeat stopped, from the silence and the counters read meanwhile. */
static void
hbDomainJudge(HbDomain *dom)
{
    gint64 now = g_get_monotonic_time();
    gint64 last_tick = hbEngineLastTick(dom->engine);
    HbSilence silence = {
        .silence_us = last_tick ? now - last_tick : 0,
        .late_ticks = hbEnginePercentage(dom->engine) > 0,
        .crashed = dom->crashed,
        .watchdog = dom->watchdog,
    };
    const HbStatsSample *after = &dom->stats_latest;

    if (now - after->time > HB_STATS_STALE_US)
        after = NULL;
    g_free(dom->evidence);
    dom->verdict = hbVerdictJudge(&silence, &dom->stats_before, after, &dom->evidence);
}


/*
 * confirm=activity: a running guest is restarted only when its counters
 * confirm it hung (or libvirt reported a crash). One that works without
 * its agent, or is busy, is not; nor one whose counters cannot be read:
 * in doubt, the stop is only notified. A guest that is not running has no
 * activity to show, and the normal rules apply.
 * Returns why the attempt is withheld, or NULL: it goes ahead.
 */
static const char *
hbDomainConfirmWithholds(HbDomain *dom)
{
    if (hbEngineConfig(dom->engine)->confirm != HB_CONFIRM_ACTIVITY ||
        !hbEngineRunning(dom->engine))
        return NULL;
    switch (dom->verdict) {
    case HB_VERDICT_GUEST_HUNG:
    case HB_VERDICT_CRASHED:
        return NULL;
    case HB_VERDICT_AGENT_DEAD:
        return "not made: agent dead, guest working (confirm=activity)";
    case HB_VERDICT_GUEST_BUSY:
        return "not made: guest busy (confirm=activity)";
    case HB_VERDICT_UNKNOWN:
    case HB_VERDICT_LAST:
        break;
    }
    return "not made: verdict unknown, no hang confirmed (confirm=activity)";
}


static void hbDomainAct(HbDomain *dom, const HbActions *actions);


/*
 * While the host-wide breaker suspects the host (hb-breaker.h), every
 * attempt but a crashed guest's is held: not made, so not spent, and the
 * engine decides it again after failure_interval on a fresh miss.
 */
static gboolean
hbDomainRestartHeld(HbDomain *dom)
{
    HbLogDetails log = {
        .attempt = hbEngineAttempts(dom->engine),
        .action = hbActionToString(hbEngineConfig(dom->engine)->action),
        .result = "held",
    };
    HbActions actions;

    if (!hbMonitorHostHolds(dom->monitor, hbEngineCrashed(dom->engine)))
        return FALSE;
    hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_MESSAGE, dom->name, dom->uuid, &log,
               "Domain '%s': restart attempt %u held, it does not count: host suspected",
               dom->name, log.attempt);
    hbEngineRestartDone(dom->engine, hbEngineEpisode(dom->engine), HB_ATTEMPT_NOT_MADE,
                        g_get_monotonic_time(), &actions);
    /* No attempt comes of it (a fresh miss is wanted first): a ping at most. */
    hbDomainAct(dom, &actions);
    return TRUE;
}


static void
hbDomainCountAttempt(HbDomain *dom, HbAction action, HbOutcome outcome)
{
    dom->restarts[action][outcome]++;
    if (outcome == HB_OUTCOME_OK || outcome == HB_OUTCOME_NO_BOOT)
        dom->last_restart_real = g_get_real_time();
}


/* LastAttempt: every attempt reported in a RestartAttempt signal, made or withheld. */
static void
hbDomainSetLastAttempt(HbDomain *dom, const HbNotice *notice)
{
    g_free(dom->last_attempt);
    dom->last_attempt = g_strdup_printf("%u %s: %s", notice->attempt, notice->action,
                                        notice->result);
}


/*
 * The attempt is reported and not made. To the engine it is an attempt
 * not made: not counted, and asked again after failure_interval once a
 * ping missed again, when the guest is judged on that interval alone.
 */
static void
hbDomainWithhold(HbDomain *dom, const char *why)
{
    const HbConfig *cfg = hbEngineConfig(dom->engine);
    HbNotice notice = {
        .kind = HB_NOTICE_RESTART_ATTEMPT,
        .attempt = hbEngineAttempts(dom->engine),
        .max = cfg->failure_attempts,
        .action = hbActionToString(cfg->action),
        .result = why,
        .verdict = dom->verdict,
        .evidence = dom->evidence,
    };
    HbLogDetails log = { notice.attempt, notice.action, "withheld" };
    HbActions actions;

    hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_WARNING, dom->name, dom->uuid, &log,
               "Domain '%s': restart attempt %u %s: %s", dom->name, notice.attempt, why,
               dom->evidence);
    hbDomainSetLastAttempt(dom, &notice);
    hbDomainCountAttempt(dom, cfg->action, HB_OUTCOME_WITHHELD);
    hbDomainNotify(dom, &notice);
    dom->stats_before = dom->stats_latest;
    hbEngineRestartDone(dom->engine, hbEngineEpisode(dom->engine), HB_ATTEMPT_NOT_MADE,
                        g_get_monotonic_time(), &actions);
    hbDomainAct(dom, &actions);
}


/* Why an attempt is observed only, not made: action=observe or dry_run; NULL: it is made. */
static const char *
hbDomainObserved(HbDomain *dom)
{
    if (hbMonitorDryRun(dom->monitor))
        return "dry_run";
    if (hbEngineConfig(dom->engine)->action == HB_ACTION_OBSERVE)
        return "action=observe";
    return NULL;
}


/* A restart attempt, decided now for the open episode. */
static void
hbDomainRestart(HbDomain *dom, const HbActions *actions)
{
    const HbConfig *cfg = hbEngineConfig(dom->engine);
    const char *withheld = hbDomainConfirmWithholds(dom);
    const char *observed = hbDomainObserved(dom);
    HbJob *job;

    if (hbDomainRestartHeld(dom))
        return;
    if (withheld) {
        hbDomainWithhold(dom, withheld);
        return;
    }
    job = hbJobNew(HB_JOB_RESTART, dom->uuid);

    job->action = cfg->action;
    job->observe = observed != NULL;
    job->episode = hbEngineEpisode(dom->engine);
    job->attempt = hbEngineAttempts(dom->engine);
    job->start_if_off = actions->start_if_off;
    job->reset_stops = dom->reset_stops;
    job->ticket = hbTicketRef(dom->ticket);
    job->host_gate = hbMonitorHostGate(dom->monitor, hbEngineCrashed(dom->engine));
    job->diagnostics = cfg->diagnostics;
    job->diag_dir = g_strdup(hbMonitorStateDir(dom->monitor));
    job->cluster_tools = g_strdup(hbMonitorClusterTools(dom->monitor));
    hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_MESSAGE, dom->name, dom->uuid,
               &(HbLogDetails) { job->attempt, hbActionToString(cfg->action), "decided" },
               "Domain '%s': restart attempt %u of %u (%s%s%s), verdict %s: %s", dom->name,
               job->attempt, cfg->failure_attempts, hbActionToString(cfg->action),
               observed ? ", observed only: " : "", observed ? observed : "",
               hbVerdictToString(dom->verdict), dom->evidence);
    /* Remembered as under way before it is: the daemon may die meanwhile. */
    hbDomainSaveState(dom);
    /* An attempt observed only changes nothing a hook could object to. */
    if (observed || !hbMonitorBeforeRestart(dom->monitor, dom, job))
        hbMonitorPushJob(dom->monitor, job);
}


/*
 * The attempt in flight hung: given up (@given_up, the next one destroys)
 * or waited for. Reported now, its result whenever it comes.
 */
static void
hbDomainRestartHung(HbDomain *dom, gboolean given_up)
{
    const HbConfig *cfg = hbEngineConfig(dom->engine);
    g_autofree char *result = g_strdup_printf("hung: no reply after %d s, %s",
                                              (int) (HB_ATTEMPT_HUNG_US / G_USEC_PER_SEC),
                                              given_up ? "given up" : "still waiting");
    HbNotice notice = {
        .kind = HB_NOTICE_RESTART_ATTEMPT,
        .attempt = hbEngineAttempts(dom->engine),
        .max = cfg->failure_attempts,
        .action = hbActionToString(cfg->action),
        .result = result,
    };
    guint64 episode;

    /* One given up is counted now: its result, whenever it comes, is not. */
    if (given_up) {
        hbEngineHung(dom->engine, &episode, &notice.attempt);
        hbDomainCountAttempt(dom, cfg->action, HB_OUTCOME_HUNG);
    }
    hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_WARNING, dom->name, dom->uuid,
               &(HbLogDetails) { notice.attempt, notice.action, "hung" },
               "Domain '%s': restart attempt %u %s; %s", dom->name, notice.attempt, result,
               given_up ? "the next one destroys" : "no attempt after it would get past it");
    hbDomainSetLastAttempt(dom, &notice);
    hbDomainNotify(dom, &notice);
}


/*
 * The attempts in place are exhausted (escalate=cluster): the failure
 * goes to the cluster resource that runs the domain, while the episode
 * stays failed. Held, as an attempt would be, while the host is suspected.
 */
static void
hbDomainEscalate(HbDomain *dom)
{
    gboolean crashed = hbEngineCrashed(dom->engine);
    const char *observed = hbDomainObserved(dom);
    HbJob *job;

    if (hbMonitorHostHolds(dom->monitor, crashed)) {
        HbNotice notice = { .kind = HB_NOTICE_ESCALATED, .resource = "",
                            .result = "held: host suspected" };
        g_message("Domain '%s': escalation held, not reported: host suspected", dom->name);
        hbDomainNotify(dom, &notice);
        return;
    }
    if (dom->escalation)
        hbTicketClose(dom->escalation);
    g_clear_pointer(&dom->escalation, hbTicketUnref);
    dom->escalation = hbTicketNew();
    dom->escalation_episode = hbEngineEpisode(dom->engine);
    job = hbJobNew(HB_JOB_ESCALATE, dom->uuid);
    job->name = g_strdup(dom->name);
    job->observe = observed != NULL;
    job->episode = dom->escalation_episode;
    job->ticket = hbTicketRef(dom->escalation);
    job->host_gate = hbMonitorHostGate(dom->monitor, crashed);
    job->cluster_tools = g_strdup(hbMonitorClusterTools(dom->monitor));
    hbMonitorPushJob(dom->monitor, job);
}


static void
hbDomainEscalateDone(HbDomain *dom, HbJob *job)
{
    const char *failure = job->error ? job->error->message :
        job->cancelled ? "virt-heartbeatd is stopping" : "failed";
    g_autofree char *result = job->done && job->observe ?
        g_strdup("observed only, not reported") : g_strdup(job->done ? "ok" : failure);
    HbNotice notice = {
        .kind = HB_NOTICE_ESCALATED,
        .resource = job->resource ? job->resource : "",
        .result = result,
    };
    HbLogDetails log = { .action = "escalate", .result = job->done ? job->done : "failed" };

    if (job->done)
        hbLogEvent(HB_LOG_ESCALATED, G_LOG_LEVEL_WARNING, dom->name, dom->uuid, &log,
                   "Domain '%s': failure %s to cluster resource %s%s", dom->name,
                   job->observe ? "would be reported" : "reported", job->resource,
                   job->observe ? " (observed only)" : "; the cluster recovers it");
    else
        hbLogEvent(HB_LOG_ESCALATED, G_LOG_LEVEL_WARNING, dom->name, dom->uuid, &log,
                   "Domain '%s': failure not reported to the cluster%s%s: %s", dom->name,
                   job->resource ? ", resource " : "", job->resource ? job->resource : "",
                   failure);
    hbDomainNotify(dom, &notice);
}


static void
hbDomainAct(HbDomain *dom, const HbActions *actions)
{
    HbMonitor *monitor = dom->monitor;
    const HbConfig *cfg = hbEngineConfig(dom->engine);

    hbDomainSyncTicket(dom);
    if ((actions->events & HB_EVENT_STOPPED) || actions->restart)
        hbDomainJudge(dom);
    if (actions->ping) {
        HbJob *job = hbJobNew(HB_JOB_PING, dom->uuid);
        job->timeout = hbConfigEffectivePingTimeout(cfg);
        job->suspect = hbEngineSuspect(dom->engine);
        job->slot = actions->ping_slot;
        hbMonitorPushJob(monitor, job);
    }
    if (actions->events & HB_EVENT_STOPPED) {
        HbNotice notice = {
            .kind = HB_NOTICE_STOPPED,
            .verdict = dom->verdict,
            .evidence = dom->evidence,
        };
        hbLogEvent(HB_LOG_STOPPED, G_LOG_LEVEL_WARNING, dom->name, dom->uuid, NULL,
                   "Domain '%s': heartbeat stopped (%s), episode %" G_GUINT64_FORMAT
                   ", verdict %s: %s", dom->name, hbStateToString(hbEngineState(dom->engine)),
                   hbEngineEpisode(dom->engine), hbVerdictToString(dom->verdict),
                   dom->evidence);
        hbDomainNotify(dom, &notice);
    }
    if (actions->events & HB_EVENT_ATTEMPT_HUNG)
        hbDomainRestartHung(dom, TRUE);
    if (actions->events & HB_EVENT_ATTEMPT_WAITING)
        hbDomainRestartHung(dom, FALSE);
    if (actions->restart)
        hbDomainRestart(dom, actions);
    if (actions->events & HB_EVENT_RESUMED) {
        HbNotice notice = { .kind = HB_NOTICE_RESUMED };
        hbLogEvent(HB_LOG_RESUMED, G_LOG_LEVEL_MESSAGE, dom->name, dom->uuid, NULL,
                   "Domain '%s': heartbeat resumed", dom->name);
        hbDomainNotify(dom, &notice);
    }
    if (actions->events & HB_EVENT_EXHAUSTED) {
        HbNotice notice = { .kind = HB_NOTICE_EXHAUSTED };
        HbLogDetails log = { .attempt = hbEngineAttempts(dom->engine) };
        hbLogEvent(HB_LOG_EXHAUSTED, G_LOG_LEVEL_WARNING, dom->name, dom->uuid, &log,
                   "Domain '%s': %u restart attempts made, heartbeat still stopped; "
                   "giving up until it returns or 'virt-heartbeat rearm'%s",
                   dom->name, log.attempt, cfg->escalate == HB_ESCALATE_CLUSTER ?
                   "; escalating to the cluster" : "");
        hbDomainNotify(dom, &notice);
        if (cfg->escalate == HB_ESCALATE_CLUSTER)
            hbDomainEscalate(dom);
    }
    if (actions->events & HB_EVENT_STATE_CHANGED) {
        HbNotice notice = { .kind = HB_NOTICE_STATE_CHANGED };
        HbState state = hbEngineState(dom->engine);
        if (state == HB_STATE_FAILED && hbEngineStormCapped(dom->engine))
            hbLogEvent(HB_LOG_STORM_CAP, G_LOG_LEVEL_WARNING, dom->name, dom->uuid, NULL,
                       "Domain '%s': storm cap reached (%u episodes in %u s), no action",
                       dom->name, cfg->max_episodes, cfg->episode_window);
        g_debug("Domain '%s': state %s", dom->name, hbStateToString(state));
        hbDomainNotify(dom, &notice);
    }
    if (actions->events)
        hbDomainSaveState(dom);
}


/* After the engine took an input: act, rearm the timer, show the change. */
static void
hbDomainSettle(HbDomain *dom, const HbActions *actions)
{
    hbDomainAct(dom, actions);
    hbDomainArm(dom);
    hbDomainShowSuppression(dom);
    hbDomainChanged(dom);
}


/*
 * A crash is the verdict until the guest runs again (a boot, a reset, a
 * resume after reset); a new QEMU counts from zero.
 */
static void
hbDomainStatsInput(HbDomain *dom, HbInput input)
{
    if (input == HB_INPUT_CRASHED || input == HB_INPUT_CRASH_HANDLED)
        dom->crashed = TRUE;
    if (input == HB_INPUT_STARTED || input == HB_INPUT_REBOOT || input == HB_INPUT_RESUMED)
        dom->crashed = FALSE;
    /* A resume (after the watchdog's own pause, or libvirt's dump) does
     * not make a guest work again: only a tick or a boot says it does. */
    if (input == HB_INPUT_STARTED || input == HB_INPUT_REBOOT)
        dom->watchdog = NULL;
    /* No reading yet, and none begun before now: it would hold the counters
     * of the QEMU before. */
    if (input == HB_INPUT_STARTED || input == HB_INPUT_STOPPED) {
        dom->stats_before = (HbStatsSample) { 0 };
        dom->stats_latest = (HbStatsSample) { .time = g_get_monotonic_time() };
    }
}


void
hbDomainFeed(HbDomain *dom, HbInput input)
{
    HbActions actions;
    gboolean maintenance = hbEngineMaintenanceUntil(dom->engine) != 0;

    if (hbMonitorIsClosing(dom->monitor))
        return;
    hbDomainStatsInput(dom, input);
    hbEngineFeed(dom->engine, input, g_get_monotonic_time(), &actions);
    if (maintenance && !hbEngineMaintenanceUntil(dom->engine))
        g_message("Domain '%s': maintenance window over, watched afresh with boot grace",
                  dom->name);
    hbDomainSettle(dom, &actions);
}


/*
 * Give the engine the window that holds now, the domain's own or the
 * host's, whichever ends later, once it changed or the wall clock was
 * stepped since (hbEngineMaintenanceDrifted): a past end is no window,
 * and one the engine ended at its time is not begun again. The engine
 * counts on the monotonic clock from the wall-clock end read now.
 */
void
hbDomainSyncMaintenance(HbDomain *dom)
{
    gint64 until = MAX(dom->maintenance_key, hbMonitorMaintenanceUntil(dom->monitor));
    gint64 real = g_get_real_time();
    gint64 now = g_get_monotonic_time();
    gint64 end = hbEngineMaintenanceUntil(dom->engine);
    gboolean was = end != 0;
    HbActions actions;

    if (hbMonitorIsClosing(dom->monitor))
        return;
    if (until == dom->maintenance_applied) {
        if (!hbEngineMaintenanceDrifted(end, until, real, now))
            return;
        g_message("Domain '%s': the wall clock was stepped in a maintenance window, "
                  "its end counted again", dom->name);
    }
    dom->maintenance_applied = until;
    hbEngineSetMaintenance(dom->engine, hbEngineMaintenanceEnd(until, real, now), now,
                           &actions);
    if (hbEngineMaintenanceUntil(dom->engine)) {
        g_autofree char *text = hbApiFormatUtc(until);

        g_message("Domain '%s': maintenance until %s, no action taken on it", dom->name, text);
    } else if (was) {
        g_message("Domain '%s': maintenance ended, watched afresh with boot grace", dom->name);
    }
    hbDomainSettle(dom, &actions);
}


void
hbDomainSetMaintenance(HbDomain *dom, gint64 until)
{
    dom->maintenance_key = until;
    hbDomainSyncMaintenance(dom);
}


gint64
hbDomainMaintenanceKey(HbDomain *dom)
{
    return dom->maintenance_key;
}


gint64
hbDomainMaintenanceUntil(HbDomain *dom)
{
    return hbEngineMaintenanceUntil(dom->engine) ? dom->maintenance_applied : 0;
}


void
hbDomainOnTimer(gpointer dom)
{
    /* The wall clock may have been stepped since the window was counted. */
    if (hbEngineMaintenanceUntil(((HbDomain *) dom)->engine))
        hbDomainSyncMaintenance(dom);
    hbDomainFeed(dom, HB_INPUT_TIMER);
}


static void
hbDomainSyncTime(HbDomain *dom)
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
 * Virtual PC / Virtual Server's AdditionsVersion, OSName and CanShutdown
 * report, and set the guest's clock if time sync is on.
 */
static void
hbDomainAgentReachable(HbDomain *dom)
{
    if (dom->guest_boot != hbEngineBoot(dom->engine)) {
        hbGuestInfoClear(&dom->guest);
        dom->guest_boot = hbEngineBoot(dom->engine);
    }
    if (!dom->guest_reading && !hbMonitorRequestRoom(dom->monitor, dom->uuid)) {
        dom->guest_reading = TRUE;
        hbMonitorPushJob(dom->monitor, hbJobNew(HB_JOB_GUEST_INFO, dom->uuid));
    }
    hbDomainSyncTime(dom);
}


static gboolean
hbDomainTimeSyncTimer(gpointer data)
{
    HbDomain *dom = data;
    HbState state = hbEngineState(dom->engine);

    if (state == HB_STATE_OK || state == HB_STATE_DEGRADED)
        hbDomainSyncTime(dom);
    return G_SOURCE_CONTINUE;
}


/* A periodic time sync while time_sync is on, at its interval. */
static void
hbDomainArmTimeSync(HbDomain *dom)
{
    const HbConfig *cfg = hbEngineConfig(dom->engine);
    guint minutes = cfg->time_sync ? cfg->time_sync_interval : 0;

    if (minutes == dom->time_sync_minutes)
        return;
    g_clear_handle_id(&dom->time_sync_timer, g_source_remove);
    /* Just turned on: the clock is set now, not an interval later. */
    if (minutes && !dom->time_sync_minutes)
        hbDomainTimeSyncTimer(dom);
    dom->time_sync_minutes = minutes;
    if (minutes)
        dom->time_sync_timer = g_timeout_add_seconds(minutes * 60, hbDomainTimeSyncTimer, dom);
}


void
hbDomainFree(HbDomain *dom)
{
    if (dom->ticket)
        hbTicketClose(dom->ticket);
    g_clear_pointer(&dom->ticket, hbTicketUnref);
    if (dom->escalation)
        hbTicketClose(dom->escalation);
    g_clear_pointer(&dom->escalation, hbTicketUnref);
    hbTimerSet(hbMonitorTimers(dom->monitor), &dom->timer, -1, dom);
    g_clear_handle_id(&dom->time_sync_timer, g_source_remove);
    hbGuestInfoClear(&dom->guest);
    g_free(dom->evidence);
    hbEngineFree(dom->engine);
    g_free(dom->uuid);
    g_free(dom->name);
    g_free(dom->config_error);
    g_free(dom->last_attempt);
    g_free(dom->metric_labels);
    g_free(dom->saved_metadata);
    g_free(dom->job);
    g_free(dom->suppress_text);
    g_free(dom);
}


HbDomain *
hbDomainNew(HbMonitor *monitor, const HbDomainInfo *info, const HbConfig *cfg)
{
    HbDomain *dom = g_new0(HbDomain, 1);
    /* Spread the ping slots of many domains over the interval. */
    gint64 phase = (gint64) g_str_hash(info->uuid) * 1000;

    dom->monitor = monitor;
    dom->uuid = g_strdup(info->uuid);
    dom->name = g_strdup(info->name);
    dom->engine = hbEngineNew(cfg, info->has_agent, phase);
    g_message("Domain '%s': monitored (%s)", dom->name,
              info->metadata ? "metadata" : "monitor_all");
    /* Before any input: the first events would save over it. */
    hbDomainLoadState(dom);
    return dom;
}


static void
hbDomainGuestInfoDone(HbDomain *dom, HbJob *job)
{
    dom->guest_reading = FALSE;
    if (job->error) {
        g_debug("Domain '%s': cannot read guest info: %s", dom->name, job->error->message);
        return;
    }
    hbGuestInfoClear(&dom->guest);
    dom->guest = job->info;
    job->info = (HbGuestInfo) { 0 };
    dom->guest_boot = hbEngineBoot(dom->engine);
    g_debug("Domain '%s': agent %s, %s", dom->name, dom->guest.version, dom->guest.os_name);
    hbDomainChanged(dom);
}


static void
hbDomainPingDone(HbDomain *dom, HbJob *job)
{
    HbPing ping = hbEngineInputForProbe(job->probe);
    gint64 now = g_get_monotonic_time();
    HbActions actions;

    hbMonitorCountPing(dom->monitor, ping, job);
    /* Never sent (the worker stopped first): no verdict from the start. */
    if (!job->sent)
        job->sent = now;
    if (ping == HB_PING_SUPPRESSED) {
        g_free(dom->job);
        dom->job = g_strdup(job->detail);
    }
    if (ping == HB_PING_TICK) {
        dom->last_tick_real = g_get_real_time();
        dom->watchdog = NULL;
    } else
        g_debug("Domain '%s': %s after %.1f s (waited %.1f s to be sent): %s", dom->name,
                ping == HB_PING_MISS ? "missed tick" :
                ping == HB_PING_SUPPRESSED ? "missed tick, suppressed" : "ping without verdict",
                (now - job->sent) / 1e6, (job->sent - job->queued) / 1e6,
                job->detail ? job->detail : "stopping");
    hbEngineFeedPing(dom->engine, ping, job->sent, now, &actions);
    hbDomainSettle(dom, &actions);
    if (ping == HB_PING_TICK && dom->guest_boot != hbEngineBoot(dom->engine))
        hbDomainAgentReachable(dom);
}


/* The result reports what the attempt was made for, not what holds today. */
static void
hbDomainRestartDone(HbDomain *dom, HbJob *job)
{
    /* Why the attempt was not made, or failed. */
    const char *failure = job->error ? job->error->message : NULL;
    g_autofree char *would = job->observe && job->done ?
        g_strdup_printf("would %s", job->done) : NULL;
    /* The diagnostic saved before the call, if one was due: "; dump: PATH". */
    g_autofree char *diag = hbDiagDescribe(job);
    g_autofree char *with_diag = diag ? g_strdup_printf("%s; %s", job->done ? "ok" : failure,
                                                        diag) : NULL;
    HbNotice notice = {
        .kind = HB_NOTICE_RESTART_ATTEMPT,
        .attempt = job->attempt,
        .max = hbEngineConfig(dom->engine)->failure_attempts,
        .action = would ? would : job->done ? job->done : hbActionToString(job->action),
        .result = would ? "observed" : with_diag ? with_diag : job->done ? "ok" : failure,
    };
    double called = job->sent ? (job->sent - job->queued) / 1000.0 : 0;
    HbLogDetails log = {
        .attempt = job->attempt,
        .action = job->done ? job->done : hbActionToString(job->action),
    };
    HbAttemptResult result = HB_ATTEMPT_FAILED;
    HbActions actions;
    guint64 hung_episode;
    guint hung_attempt;

    /* Given up as hung long ago: the engine has gone on without it. */
    if (hbEngineHung(dom->engine, &hung_episode, &hung_attempt) &&
        hung_episode == job->episode && hung_attempt == job->attempt) {
        log.result = "ended";
        hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_MESSAGE, dom->name, dom->uuid, &log,
                   "Domain '%s': restart attempt %u, given up as hung, ended: %s", dom->name,
                   job->attempt, job->done ? job->done : failure);
        if (!job->cancelled)
            hbDomainNotify(dom, &notice);
        return;
    }
    if (job->held) {
        /* As hbDomainRestartHeld: decided again on a fresh miss. */
        result = HB_ATTEMPT_NOT_MADE;
        log.result = "held";
        hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_MESSAGE, dom->name, dom->uuid, &log,
                   "Domain '%s': restart attempt %u held, it does not count: %s", dom->name,
                   job->attempt, failure);
    } else if (job->dropped || job->cancelled) {
        result = HB_ATTEMPT_NOT_MADE;
        log.result = "dropped";
        if (!job->cancelled)
            hbDomainCountAttempt(dom, job->action, HB_OUTCOME_NOT_MADE);
        hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_MESSAGE, dom->name, dom->uuid, &log,
                   "Domain '%s': restart attempt %u dropped: %s%s%s", dom->name,
                   job->attempt, job->cancelled ? "virt-heartbeatd is stopping" : failure,
                   diag ? "; " : "", diag ? diag : "");
    } else if (job->vetoed) {
        /* Counted, so that failure_attempts still ends the episode, and
         * whoever vetoed it (a cluster manager) can take over. */
        log.result = "vetoed";
        hbDomainCountAttempt(dom, job->action, HB_OUTCOME_VETOED);
        hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_WARNING, dom->name, dom->uuid, &log,
                   "Domain '%s': restart attempt %u not made, it counts: %s", dom->name,
                   job->attempt, failure);
        hbDomainSetLastAttempt(dom, &notice);
        hbDomainNotify(dom, &notice);
    } else if (job->not_made) {
        /* libvirtd's trouble, not the guest's: the attempt is not spent. */
        result = HB_ATTEMPT_NOT_MADE;
        log.result = "not-made";
        hbDomainCountAttempt(dom, job->action, HB_OUTCOME_NOT_MADE);
        hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_WARNING, dom->name, dom->uuid, &log,
                   "Domain '%s': restart attempt %u not made, it does not count: %s%s%s",
                   dom->name, job->attempt, failure, diag ? "; " : "", diag ? diag : "");
    } else {
        result = job->done ? HB_ATTEMPT_OK : HB_ATTEMPT_FAILED;
        if (job->no_boot)
            result = HB_ATTEMPT_NO_BOOT;
        log.result = would ? "observed" : job->done ? "ok" : "failed";
        hbDomainCountAttempt(dom, job->action,
                             would ? HB_OUTCOME_OBSERVED :
                             result == HB_ATTEMPT_NO_BOOT ? HB_OUTCOME_NO_BOOT :
                             result == HB_ATTEMPT_OK ? HB_OUTCOME_OK : HB_OUTCOME_FAILED);
        if (would)
            hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_MESSAGE, dom->name, dom->uuid, &log,
                       "Domain '%s': restart attempt %u: %s; observed only, nothing done",
                       dom->name, job->attempt, would);
        else if (job->done)
            hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_MESSAGE, dom->name, dom->uuid, &log,
                       "Domain '%s': restart attempt %u: %s (called %.1f ms after the "
                       "decision)%s%s", dom->name, job->attempt, job->done, called,
                       diag ? "; " : "", diag ? diag : "");
        else
            hbLogEvent(HB_LOG_ATTEMPT, G_LOG_LEVEL_WARNING, dom->name, dom->uuid, &log,
                       "Domain '%s': restart attempt %u failed: %s (called %.1f ms after "
                       "the decision)%s%s", dom->name, job->attempt, failure, called,
                       diag ? "; " : "", diag ? diag : "");
        hbDomainSetLastAttempt(dom, &notice);
        hbDomainNotify(dom, &notice);
    }
    hbEngineRestartDone(dom->engine, job->episode, result, g_get_monotonic_time(), &actions);
    hbDomainSettle(dom, &actions);
    /* Its stop event came while the attempt ran, and was taken for ours. */
    if (job->stopped_by_other) {
        g_message("Domain '%s': shut off by someone else during restart attempt %u; "
                  "it stays off", dom->name, job->attempt);
        hbDomainFeed(dom, HB_INPUT_STOPPED_OTHER);
    }
}


void
hbDomainJobDone(HbDomain *dom, HbJob *job)
{
    if (job->kind == HB_JOB_PING)
        hbDomainPingDone(dom, job);
    else if (job->kind == HB_JOB_RESTART)
        hbDomainRestartDone(dom, job);
    else if (job->kind == HB_JOB_ESCALATE)
        hbDomainEscalateDone(dom, job);
    else if (job->kind == HB_JOB_GUEST_INFO)
        hbDomainGuestInfoDone(dom, job);
    else if (!job->error)
        g_debug("Domain '%s': guest clock set from the host", dom->name);
    else
        g_warning("Domain '%s': cannot set the guest clock: %s", dom->name,
                  job->error->message);
}


static void
hbDomainSetConfigError(HbDomain *dom, const char *config_error)
{
    if (g_strcmp0(config_error, dom->config_error) == 0)
        return;
    if (config_error)
        hbLogEvent(HB_LOG_CONFIG_ERROR, G_LOG_LEVEL_WARNING, dom->name, dom->uuid, NULL,
                   "Domain '%s': invalid heartbeat metadata, keeping the last valid "
                   "configuration: %s", dom->name, config_error);
    else if (dom->config_error)
        g_message("Domain '%s': heartbeat metadata valid again", dom->name);
    g_free(dom->config_error);
    dom->config_error = g_strdup(config_error);
}


void
hbDomainUpdate(HbDomain *dom, const HbDomainInfo *info, const HbConfig *cfg,
               const char *config_error, gboolean resync, gboolean fresh)
{
    HbActions actions;

    if (!g_str_equal(dom->name, info->name)) {
        g_free(dom->name);
        dom->name = g_strdup(info->name);
        g_clear_pointer(&dom->metric_labels, g_free);
    }
    if (!config_error)
        hbDomainSaveConfig(dom, info->metadata);
    dom->agent_connected = info->agent_connected;
    dom->crash_handled = info->crash_handled;
    dom->reset_stops = info->reset_stops;
    hbEngineSetAttemptDestroys(dom->engine, info->reset_stops);
    hbDomainSetConfigError(dom, config_error);

    /* The time we were blind must not count as silence, so this comes
     * before the new configuration's deadlines are checked. */
    if (resync)
        hbDomainFeed(dom, HB_INPUT_RESYNCED);
    hbEngineConfigure(dom->engine, cfg, info->has_agent, g_get_monotonic_time(), &actions);
    hbDomainAct(dom, &actions);
    hbDomainSetMaintenance(dom, cfg->maintenance_until);
    if (fresh)
        hbDomainFeed(dom, hbEngineInputForState(info->state, info->reason,
                                                info->crash_handled));
    hbDomainArmTimeSync(dom);
    hbDomainArm(dom);
    hbDomainChanged(dom);
}


void
hbDomainStatsSample(HbDomain *dom, const HbStatsSample *sample)
{
    /* Nothing read (no such groups, as in the test driver): no reading;
     * the last one ages until it is stale. */
    if (!sample->has_cpu && !sample->has_block && !sample->has_net)
        return;
    /* A read that began before the newest one applied (it was stuck on
     * another QEMU, hb-job.c) holds older counters: they would look like
     * no progress since. */
    if (sample->time < dom->stats_latest.time)
        return;
    dom->stats_latest = *sample;
    /* Until a ping misses, every reading may be the last before the silence.
     * A new QEMU (its counters forgotten at its start) takes its first
     * reading, whatever the last ping of the boot before it was: else
     * nothing would be judged on until a tick, and confirm=activity would
     * let every attempt of a working guest through as unknown. */
    if (!hbEngineSuspect(dom->engine) || !dom->stats_before.time)
        dom->stats_before = *sample;
}


void
hbDomainLifecycleEvent(HbDomain *dom, int event, int detail)
{
    HbInput input = hbEngineInputForEvent(event, detail, dom->crash_handled);

    /* Any crash, a kdump's CRASHLOADED too, whatever the engine makes of it. */
    if (event == VIR_DOMAIN_EVENT_CRASHED)
        dom->crashed = TRUE;
    if (input != HB_INPUT_TIMER)
        hbDomainFeed(dom, input);
    if (input == HB_INPUT_RESUMED)
        hbDomainSyncTime(dom);
}


/* A new libvirt action fails the static assert. */
HB_ENUM_DECL(hbWatchdogAction, virDomainEventWatchdogAction);
HB_ENUM_IMPL(hbWatchdogAction, virDomainEventWatchdogAction, VIR_DOMAIN_EVENT_WATCHDOG_LAST,
             "none",
             "pause",
             "reset",
             "poweroff",
             "shutdown",
             "debug",
             "inject-nmi",
);


/*
 * What QEMU does on its own (pause, reset, poweroff...) comes as events of
 * its own; the watchdog's firing is kept as evidence that the guest itself
 * found it was not working, until its next tick or boot.
 */
void
hbDomainWatchdogEvent(HbDomain *dom, int action)
{
    const char *name = hbWatchdogActionToString(action);
    gint64 now = g_get_monotonic_time();
    /* The guest sets the pace (QEMU lets one through a second): only the
     * first since a tick or boot is a warning, and one a minute at most. */
    gboolean warn = !dom->watchdog &&
        (!dom->watchdog_logged || now - dom->watchdog_logged >= HB_WATCHDOG_LOG_US);

    dom->watchdog = name ? name : "unknown";
    if (!warn) {
        g_debug("Domain '%s': the guest's watchdog fired again (action %s)", dom->name,
                dom->watchdog);
        return;
    }
    dom->watchdog_logged = now;
    g_warning("Domain '%s': the guest's watchdog fired (action %s)", dom->name, dom->watchdog);
}


/* Only shown: an open agent port says nothing about a hung guest. */
void
hbDomainAgentEvent(HbDomain *dom, gboolean connected)
{
    dom->agent_connected = connected;
    g_debug("Domain '%s': agent %s", dom->name,
            dom->agent_connected ? "connected" : "disconnected");
    if (dom->agent_connected) {
        /* No verdict, but no next attempt before a ping to it has one. */
        hbDomainFeed(dom, HB_INPUT_AGENT_CONNECTED);
        hbDomainAgentReachable(dom);
    }
    hbDomainChanged(dom);
}


void
hbDomainRearm(HbDomain *dom)
{
    g_message("Domain '%s': rearmed", dom->name);
    hbDomainFeed(dom, HB_INPUT_REARM);
    hbDomainSaveState(dom);
}


const HbGuestInfo *
hbDomainGuestInfo(HbDomain *dom)
{
    return &dom->guest;
}


HbVerdict
hbDomainVerdict(HbDomain *dom)
{
    return dom->verdict;
}


const char *
hbDomainEvidence(HbDomain *dom)
{
    return dom->evidence ? dom->evidence : "";
}


const char *
hbDomainName(HbDomain *dom)
{
    return dom->name;
}


const char *
hbDomainUUID(HbDomain *dom)
{
    return dom->uuid;
}


HbState
hbDomainState(HbDomain *dom)
{
    return hbEngineState(dom->engine);
}


guint
hbDomainPercentage(HbDomain *dom)
{
    return hbEnginePercentage(dom->engine);
}


guint
hbDomainAttempts(HbDomain *dom)
{
    return hbEngineAttempts(dom->engine);
}


guint64
hbDomainEpisode(HbDomain *dom)
{
    return hbEngineEpisode(dom->engine);
}


guint64
hbDomainPings(HbDomain *dom, HbPing ping)
{
    return hbEnginePings(dom->engine, ping);
}


gint64
hbDomainLastTick(HbDomain *dom)
{
    return hbEngineLastTick(dom->engine) ? dom->last_tick_real : 0;
}


const HbConfig *
hbDomainConfig(HbDomain *dom)
{
    return hbEngineConfig(dom->engine);
}


const char *
hbDomainConfigError(HbDomain *dom)
{
    return dom->config_error;
}


const char *
hbDomainSuppressed(HbDomain *dom)
{
    return dom->suppress_text ? dom->suppress_text : "";
}


gint64
hbDomainSuppressedSince(HbDomain *dom)
{
    return dom->suppress_since_real;
}


gboolean
hbDomainAgentConnected(HbDomain *dom)
{
    return dom->agent_connected;
}


const char *
hbDomainLastAttempt(HbDomain *dom)
{
    return dom->last_attempt;
}


gboolean
hbDomainStormCapped(HbDomain *dom)
{
    return hbEngineStormCapped(dom->engine);
}


guint64
hbDomainRestarts(HbDomain *dom, HbAction action, HbOutcome outcome)
{
    return dom->restarts[action][outcome];
}


gint64
hbDomainLastRestart(HbDomain *dom)
{
    return dom->last_restart_real;
}


/* Prometheus wants UTF-8; libvirt takes a name of any bytes. */
const char *
hbDomainMetricLabels(HbDomain *dom)
{
    g_autoptr(GString) labels = NULL;
    g_autofree char *name = NULL;

    if (dom->metric_labels)
        return dom->metric_labels;
    labels = g_string_new("domain=\"");
    name = g_utf8_make_valid(dom->name, -1);
    hbPromLabelValue(labels, name);
    g_string_append_printf(labels, "\",uuid=\"%s\"", dom->uuid);
    dom->metric_labels = g_string_free(g_steal_pointer(&labels), FALSE);
    return dom->metric_labels;
}


gboolean
hbDomainIsHeartbeating(HbDomain *dom)
{
    return hbEngineIsHeartbeating(dom->engine, g_get_monotonic_time());
}


gboolean
hbDomainWatchedRunning(HbDomain *dom)
{
    return hbEngineWatchedRunning(dom->engine);
}


gint64
hbDomainSilentSince(HbDomain *dom)
{
    return hbEngineSilentSince(dom->engine);
}
