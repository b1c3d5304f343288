/*
 * The heartbeat state machine of one domain: ping slots, the window of the
 * last block, boot grace, failure episodes, restart attempts and the storm cap.
 */
#include <config.h>

#include "hb-engine.h"

typedef enum {
    HB_RUN_UNKNOWN, /* not read yet: no pings, no attempts */
    HB_RUN_SHUTOFF,
    HB_RUN_RUNNING,
    HB_RUN_PAUSED,
    HB_RUN_CRASHED, /* crashed state, or shut off after a crash */
    HB_RUN_CRASH_HANDLED, /* crashed; libvirt carries out <on_crash> */

    HB_RUN_LAST
} HbRun;

typedef enum {
    HB_EPISODE_NONE,
    HB_EPISODE_STOPPED,  /* attempts under way, or notify only */
    HB_EPISODE_FAILED,   /* attempts exhausted or storm cap: notify only */

    HB_EPISODE_LAST
} HbEpisode;

struct _HbEngine {
    HbConfig cfg;
    gboolean has_agent;
    gint64 phase;           /* offset of the ping slots, spreads domains out */
    HbRun run;

    gint64 boot;            /* when monitoring of this boot began */
    /* When this boot began, moved on by the time it spent paused since: a
     * guest does not boot while paused. The wait for a booting guest and
     * the verdicts since the boot run from here. */
    gint64 boot_running;
    gint64 paused_at;       /* HB_RUN_PAUSED: since when */
    gint64 agent_up;        /* when the guest last opened its agent port */
    gboolean connect_heard; /* a port opening ended the silence since the last
                             * tick or boot: the next ones do not */
    gint64 not_made_at;     /* when an attempt of the open episode last came back
                             * not made; 0: none did */
    gint64 boot_measured;   /* a start whose time to the first tick is measured; 0: none */
    gint64 boot_time;       /* the longest start-to-first-tick seen */
    gint64 crash_deadline;  /* HB_RUN_CRASH_HANDLED: act if libvirt has not by then */
    gint64 last_tick;       /* 0: none this boot */
    gint64 next_slot;
    gboolean ping_in_flight;
    gint64 ping_asked;      /* when the ping in flight was asked for */

    /*
     * Silence is judged only on pings actually sent. From silence_since on,
     * judged sums the closed spans of judged time; the open span began at
     * span_start. Waiting to send a ping, and a ping without verdict, are
     * not judged; a sent ping that missed, and the gap after a verdict, are.
     */
    gint64 silence_since;   /* the last tick, or the end of boot grace */
    gint64 judged;
    gint64 span_start;
    gboolean span_judged;
    guint misses;           /* misses since silence_since */
    gint64 first_miss;      /* when the first of them was sent */
    HbPing last_ping;       /* the result of the last ping; HB_PING_LAST: none */
    gint64 last_ping_sent;  /* when that ping was sent */
    guint64 pings[HB_PING_LAST];

    /* results of the last cfg.rate slots of this boot */
    gboolean *slots;
    guint slot_pos;
    guint slots_filled;

    HbEpisode episode;
    guint64 episode_id;     /* the number of the current or last episode */
    gint64 decided;         /* when the open episode began */
    gint64 episode_silence; /* when the silence that began it began: its first
                             * miss, or its start (a crash) */
    gboolean storm_capped;
    guint attempts;
    gint64 next_attempt;
    gboolean restart_in_flight;
    gint64 restart_asked;   /* when the attempt in flight was asked for */
    guint64 hung_episode;   /* the last attempt given up as hung; 0: none */
    guint hung_attempt;
    gboolean hung_waiting;  /* the attempt in flight was reported hung, and is waited for */
    gboolean attempt_booted; /* an attempt of the open episode was followed by a boot */
    gboolean start_if_off;  /* an attempt may have left the domain destroyed */
    gboolean attempt_destroys; /* attempts destroy+start, whatever the action */
    /* The last stop or start seen while the attempt was in flight was a
     * start: whatever the call reports, the domain ran after our destroy. */
    gboolean ran_in_flight;
    /* What the attempt in flight changed, put back if it is not made. */
    gboolean before_start_if_off;
    gint64 before_boot_measured;
    gboolean confirm;       /* remembered episode, or libvirtd was out of sight:
                             * act only after a fresh verdict */
    GArray *episode_starts; /* gint64, episodes with action, for the storm cap */

    HbSuppress suppress;    /* what makes failed pings no verdict; NONE: nothing */
    gint64 suppress_since;
    gboolean suppress_capped; /* past its cap: failed pings are misses again */

    gint64 maintenance_until; /* a maintenance window ends then; 0: none */
};

HB_ENUM_IMPL(hbPing, HbPing, HB_PING_LAST,
             "tick",
             "miss",
             "no-verdict",
             "suppressed");

HB_ENUM_IMPL(hbState, HbState, HB_STATE_LAST,
             "disabled",
             "not-running",
             "paused",
             "no-agent",
             "waiting",
             "ok",
             "degraded",
             "stopped",
             "failed",
             "maintenance",
);

HB_ENUM_IMPL(hbSuppress, HbSuppress, HB_SUPPRESS_LAST,
             "",
             "domain job",
             "kdump",
);


static void
hbEngineResetSlots(HbEngine *engine)
{
    g_free(engine->slots);
    engine->slots = g_new0(gboolean, engine->cfg.rate);
    engine->slot_pos = 0;
    engine->slots_filled = 0;
}


static void
hbEngineRecordSlot(HbEngine *engine, gboolean ok)
{
    engine->slots[engine->slot_pos] = ok;
    engine->slot_pos = (engine->slot_pos + 1) % engine->cfg.rate;
    if (engine->slots_filled < engine->cfg.rate)
        engine->slots_filled++;
}


HbEngine *
hbEngineNew(const HbConfig *cfg, gboolean has_agent, gint64 phase_us)
{
    HbEngine *engine = g_new0(HbEngine, 1);

    engine->cfg = *cfg;
    engine->has_agent = has_agent;
    engine->phase = phase_us;
    engine->run = HB_RUN_UNKNOWN;
    engine->last_ping = HB_PING_LAST;
    engine->episode_starts = g_array_new(FALSE, FALSE, sizeof(gint64));
    hbEngineResetSlots(engine);
    return engine;
}


void
hbEngineFree(HbEngine *engine)
{
    if (!engine)
        return;
    g_free(engine->slots);
    g_array_unref(engine->episode_starts);
    g_free(engine);
}


/* Whether the heartbeat of this domain is watched at all. */
static gboolean
hbEngineWatched(const HbEngine *engine)
{
    return engine->cfg.enabled && engine->has_agent;
}


static gboolean
hbEnginePinging(const HbEngine *engine)
{
    return hbEngineWatched(engine) && engine->run == HB_RUN_RUNNING;
}


static gint64
hbEngineBlock(const HbEngine *engine)
{
    return (gint64) engine->cfg.time * G_USEC_PER_SEC;
}


static void
hbEngineScheduleSlots(HbEngine *engine, gint64 now)
{
    engine->next_slot = now + engine->phase % hbConfigIntervalUs(&engine->cfg);
}


/* Judged silence up to @now: the closed spans and the open one if judged. */
static gint64
hbEngineJudged(const HbEngine *engine, gint64 now)
{
    gint64 judged = engine->judged;

    if (engine->span_judged)
        judged += MAX(0, now - MAX(engine->span_start, engine->silence_since));
    return judged;
}


/* Close the open span at @now and open one that is judged or not. */
static void
hbEngineSpan(HbEngine *engine, gint64 now, gboolean judged)
{
    engine->judged = hbEngineJudged(engine, now);
    engine->span_start = now;
    engine->span_judged = judged;
}


/* Silence begins afresh at @since: nothing judged yet. */
static void
hbEngineSilenceFrom(HbEngine *engine, gint64 since, gint64 now)
{
    engine->silence_since = since;
    engine->judged = 0;
    engine->misses = 0;
    engine->span_start = now;
    /* Until a ping is asked for, the gap is the schedule's, not a backlog. */
    engine->span_judged = !engine->ping_in_flight;
}


/* When boot grace begun at @now ends. */
static gint64
hbEngineGraceEnd(const HbEngine *engine, gint64 now)
{
    return now + (gint64) engine->cfg.boot_grace * G_USEC_PER_SEC;
}


/* A new boot: the window restarts and boot grace applies. */
static void
hbEngineSuppressEnd(HbEngine *engine)
{
    engine->suppress = HB_SUPPRESS_NONE;
    engine->suppress_since = 0;
    engine->suppress_capped = FALSE;
}


static void
hbEngineSuppressFrom(HbEngine *engine, HbSuppress suppress, gint64 since)
{
    engine->suppress = suppress;
    engine->suppress_since = since;
    engine->suppress_capped = FALSE;
}


gint64
hbEngineSuppressCap(HbSuppress suppress)
{
    switch (suppress) {
    case HB_SUPPRESS_JOB:
        return HB_SUPPRESS_JOB_CAP_US;
    case HB_SUPPRESS_KDUMP:
        return HB_SUPPRESS_KDUMP_CAP_US;
    case HB_SUPPRESS_NONE:
    case HB_SUPPRESS_LAST:
        break;
    }
    return 0;
}


/*
 * What a ping sent at @sent counts as. A job libvirt reports makes a
 * failed ping no verdict, and so does a kdump under way, each up to its
 * cap; past it, the normal rules apply. A tick, or a miss with no job
 * reported, ends a job's suppression; only the reboot that follows it
 * (a new boot) ends a kdump's.
 */
static HbPing
hbEngineSuppressPing(HbEngine *engine, HbPing ping, gint64 sent, gint64 now)
{
    switch (ping) {
    case HB_PING_TICK:
        hbEngineSuppressEnd(engine);
        return ping;
    case HB_PING_VOID:
        return ping;
    case HB_PING_MISS:
        if (engine->suppress != HB_SUPPRESS_KDUMP) {
            hbEngineSuppressEnd(engine);
            return ping;
        }
        break;
    case HB_PING_SUPPRESSED:
        if (engine->suppress != HB_SUPPRESS_JOB)
            hbEngineSuppressFrom(engine, HB_SUPPRESS_JOB, sent);
        break;
    case HB_PING_LAST:
        g_return_val_if_reached(HB_PING_VOID);
    }
    if (now - engine->suppress_since < hbEngineSuppressCap(engine->suppress))
        return HB_PING_SUPPRESSED;
    engine->suppress_capped = TRUE;
    return HB_PING_MISS;
}


static void
hbEngineNewBoot(HbEngine *engine, gint64 now, gboolean measure)
{
    engine->boot = now;
    engine->boot_running = now;
    engine->connect_heard = FALSE;
    engine->boot_measured = measure ? now : 0;
    engine->last_tick = 0;
    hbEngineSuppressEnd(engine);
    hbEngineSilenceFrom(engine, now + (gint64) engine->cfg.boot_grace * G_USEC_PER_SEC, now);
    hbEngineResetSlots(engine);
    hbEngineScheduleSlots(engine, now);
}


static void
hbEngineEndEpisode(HbEngine *engine)
{
    engine->episode = HB_EPISODE_NONE;
    engine->storm_capped = FALSE;
    engine->attempts = 0;
    engine->attempt_booted = FALSE;
    engine->next_attempt = 0;
    engine->start_if_off = FALSE;
    engine->confirm = FALSE;
    engine->not_made_at = 0;
}


/* The next attempt destroys the domain (hb-restart.c chooses the step). */
static gboolean
hbEngineNextDestroys(const HbEngine *engine)
{
    return engine->cfg.action == HB_ACTION_RESTART || engine->attempt_destroys ||
        (engine->cfg.action == HB_ACTION_LADDER && engine->attempts + 1 >= 3);
}


static void
hbEngineAttempt(HbEngine *engine, gint64 now, HbActions *actions)
{
    gboolean destroys = hbEngineNextDestroys(engine);

    engine->before_start_if_off = engine->start_if_off;
    engine->before_boot_measured = engine->boot_measured;
    /* A boot this attempt interrupts took at least this long already. */
    if (engine->boot_measured) {
        engine->boot_time = MAX(engine->boot_time, now - engine->boot_measured);
        engine->boot_measured = 0;
    }
    engine->attempts++;
    engine->restart_in_flight = TRUE;
    engine->hung_waiting = FALSE;
    engine->restart_asked = now;
    engine->ran_in_flight = FALSE;
    /* Until it is known to have started again, a destroy may have been ours. */
    if (destroys)
        engine->start_if_off = TRUE;
    actions->restart = TRUE;
    actions->start_if_off = engine->start_if_off;
}


/*
 * The wait after an attempt completed: failure_interval, and never less
 * than this guest takes to boot, up to boot_grace, so no reset lands on a
 * guest still booting from the previous one. A boot after a reset takes
 * longer than the cold boots measured (measured: 5-8 s against 3 s under
 * TCG), hence half again as margin and one ping interval to notice the
 * first tick. A boot an attempt interrupts counts as measured, so a guest
 * that is reset too early is waited for longer the next time.
 */
static gint64
hbEngineAttemptWait(const HbEngine *engine)
{
    gint64 interval = (gint64) engine->cfg.failure_interval * G_USEC_PER_SEC;
    gint64 boot = engine->boot_time ?
        engine->boot_time + engine->boot_time / 2 + hbConfigIntervalUs(&engine->cfg) : 0;

    return MAX(interval, MIN(boot, (gint64) engine->cfg.boot_grace * G_USEC_PER_SEC));
}


static gboolean
hbEngineStormCapHit(HbEngine *engine, gint64 now)
{
    gint64 horizon = now - (gint64) engine->cfg.episode_window * G_USEC_PER_SEC;
    guint keep = 0;

    for (guint i = 0; i < engine->episode_starts->len; i++) {
        gint64 start = g_array_index(engine->episode_starts, gint64, i);
        if (start > horizon)
            g_array_index(engine->episode_starts, gint64, keep++) = start;
    }
    g_array_set_size(engine->episode_starts, keep);

    return engine->cfg.max_episodes > 0 && keep >= engine->cfg.max_episodes;
}


static void
hbEngineStartEpisode(HbEngine *engine, gint64 now, HbActions *actions)
{
    /* Whatever the guest does in a maintenance window is the admin's doing. */
    if (engine->maintenance_until)
        return;
    actions->events |= HB_EVENT_STOPPED;
    engine->episode_id++;
    engine->decided = now;
    engine->episode_silence = engine->misses ? engine->first_miss : now;
    engine->attempts = 0;
    engine->attempt_booted = FALSE;
    engine->not_made_at = 0;
    engine->start_if_off = FALSE;
    engine->confirm = FALSE;

    if (engine->cfg.action == HB_ACTION_NONE) {
        engine->episode = HB_EPISODE_STOPPED;
        return;
    }
    if (hbEngineStormCapHit(engine, now)) {
        engine->episode = HB_EPISODE_FAILED;
        engine->storm_capped = TRUE;
        return;
    }
    g_array_append_val(engine->episode_starts, now);
    /* No attempt in place: the episode fails at once (and escalates). */
    if (engine->cfg.failure_attempts == 0) {
        engine->episode = HB_EPISODE_FAILED;
        actions->events |= HB_EVENT_EXHAUSTED;
        return;
    }
    engine->episode = HB_EPISODE_STOPPED;
    engine->next_attempt = now;
    if (!engine->restart_in_flight)
        hbEngineAttempt(engine, now, actions);
}


static void
hbEngineCheckSlots(HbEngine *engine, gint64 now, HbActions *actions)
{
    gint64 interval = hbConfigIntervalUs(&engine->cfg);

    if (!hbEnginePinging(engine) || now < engine->next_slot)
        return;

    /* One ping in flight: a slot passed while it hangs is no result. */
    if (!engine->ping_in_flight) {
        engine->ping_in_flight = TRUE;
        engine->ping_asked = now;
        hbEngineSpan(engine, now, FALSE);
        actions->ping = TRUE;
        actions->ping_slot = engine->next_slot;
    }
    /* Slots the loop itself overslept are skipped, not counted as misses. */
    while (engine->next_slot <= now)
        engine->next_slot += interval;
}


/* A whole block of judged silence, with at least one sent ping unanswered. */
static gboolean
hbEngineSilent(const HbEngine *engine, gint64 now)
{
    return engine->run == HB_RUN_RUNNING && engine->misses > 0 &&
        hbEngineJudged(engine, now) >= hbEngineBlock(engine);
}


/*
 * A running guest gets a second or later attempt only on a verdict of its
 * own since the last one: its last ping, sent after that boot began (less
 * the time paused), after the guest last opened its agent port and after
 * an attempt last came back not made, missed. A guest the last
 * reset revived is not reset again because its pings are slow to come
 * back, nor one whose agent has just come up on a slow boot.
 */
static gboolean
hbEngineMissedSinceBoot(const HbEngine *engine)
{
    return engine->last_ping == HB_PING_MISS &&
        engine->last_ping_sent >= MAX(MAX(engine->boot_running, engine->agent_up),
                                      engine->not_made_at);
}


/*
 * Whether the open episode may make its next attempt, time aside. A running
 * guest that an attempt reset, or that booted or opened its agent port
 * since the decision (started by someone else, an attempt not made), or
 * whose attempt was not made, is judged again first.
 */
static gboolean
hbEngineMayAttempt(const HbEngine *engine)
{
    gboolean since = engine->attempts > 0 || engine->not_made_at != 0 ||
        MAX(engine->boot, engine->agent_up) > engine->decided;

    if (engine->run == HB_RUN_RUNNING && since && !hbEngineMissedSinceBoot(engine))
        return FALSE;
    /* A miss from before a job or a kdump is no reason to interrupt it. */
    if (engine->run == HB_RUN_RUNNING && engine->suppress != HB_SUPPRESS_NONE &&
        !engine->suppress_capped)
        return FALSE;
    switch (engine->run) {
    case HB_RUN_UNKNOWN:
    case HB_RUN_PAUSED:
    case HB_RUN_CRASH_HANDLED:
        return FALSE;
    case HB_RUN_SHUTOFF:
    case HB_RUN_RUNNING:
    case HB_RUN_CRASHED:
    case HB_RUN_LAST:
        break;
    }
    return engine->cfg.action != HB_ACTION_NONE && !engine->restart_in_flight;
}


/*
 * When the open episode's next attempt is due, once it may be made. A
 * running guest whose agent has not opened its port since the guest last
 * booted may still be booting, however long it took before: a loaded host
 * slows a boot after a reset down several times. It is waited for up to
 * boot_grace from that boot, so a reset never cuts short a boot that shows
 * no sign yet of being hung.
 */
static gint64
hbEngineAttemptAt(const HbEngine *engine)
{
    gboolean booted_since = engine->attempt_booted || engine->boot > engine->decided;

    if (engine->run == HB_RUN_RUNNING && booted_since && engine->agent_up < engine->boot)
        return MAX(engine->next_attempt,
                   engine->boot_running + (gint64) engine->cfg.boot_grace * G_USEC_PER_SEC);
    return engine->next_attempt;
}


/*
 * Whether an attempt in flight that hung is given up: only a next attempt
 * that destroys gets past it, so without one (the last of
 * failure_attempts, or action=reset) it is waited for.
 */
static gboolean
hbEngineHungGivesUp(const HbEngine *engine)
{
    return engine->attempts < engine->cfg.failure_attempts && hbEngineNextDestroys(engine);
}


/*
 * When the attempt in flight is taken for hung (HB_ATTEMPT_HUNG_US), to be
 * given up or reported once as waited for; G_MAXINT64: never.
 */
static gint64
hbEngineHungAt(const HbEngine *engine)
{
    if (engine->episode != HB_EPISODE_STOPPED || !engine->restart_in_flight ||
        (engine->hung_waiting && !hbEngineHungGivesUp(engine)))
        return G_MAXINT64;
    return engine->restart_asked + HB_ATTEMPT_HUNG_US;
}


/*
 * Give the attempt in flight up as hung: it counts, as made with no boot
 * after it (nothing is known of what it did), and the next attempt may
 * come at once, the guest silent all along. One that is waited for is
 * reported once (HB_EVENT_ATTEMPT_WAITING): in doubt, the admin is told.
 */
static void
hbEngineGiveUpHung(HbEngine *engine, gint64 now, HbActions *actions)
{
    if (now < hbEngineHungAt(engine))
        return;
    if (!hbEngineHungGivesUp(engine)) {
        engine->hung_waiting = TRUE;
        actions->events |= HB_EVENT_ATTEMPT_WAITING;
        return;
    }
    engine->restart_in_flight = FALSE;
    engine->hung_episode = engine->episode_id;
    engine->hung_attempt = engine->attempts;
    engine->start_if_off = engine->before_start_if_off;
    engine->next_attempt = now;
    actions->events |= HB_EVENT_ATTEMPT_HUNG;
}


static void hbEngineEndMaintenance(HbEngine *engine, gint64 now, HbActions *actions);


static void
hbEngineCheckDeadlines(HbEngine *engine, gint64 now, HbActions *actions)
{
    if (engine->maintenance_until && now >= engine->maintenance_until)
        hbEngineEndMaintenance(engine, now, actions);
    if (!hbEngineWatched(engine) || engine->maintenance_until)
        return;

    if (engine->run == HB_RUN_CRASH_HANDLED && now >= engine->crash_deadline) {
        /* libvirt did not carry out <on_crash>: the daemon acts. */
        engine->run = HB_RUN_CRASHED;
        if (engine->episode == HB_EPISODE_NONE)
            hbEngineStartEpisode(engine, now, actions);
    }

    switch (engine->episode) {
    case HB_EPISODE_NONE:
        if (hbEngineSilent(engine, now))
            hbEngineStartEpisode(engine, now, actions);
        break;
    case HB_EPISODE_STOPPED:
        hbEngineGiveUpHung(engine, now, actions);
        if (!hbEngineMayAttempt(engine) || now < hbEngineAttemptAt(engine))
            break;
        /* An episode from before a daemon restart needs a verdict of today. */
        if (engine->confirm) {
            if (engine->run == HB_RUN_RUNNING && !hbEngineSilent(engine, now))
                break;
            engine->confirm = FALSE;
        }
        if (engine->attempts >= engine->cfg.failure_attempts) {
            engine->episode = HB_EPISODE_FAILED;
            actions->events |= HB_EVENT_EXHAUSTED;
        } else {
            hbEngineAttempt(engine, now, actions);
        }
        break;
    case HB_EPISODE_FAILED:
    case HB_EPISODE_LAST:
        break;
    }
}


static void
hbEngineTick(HbEngine *engine, gint64 now, HbActions *actions)
{
    hbEngineRecordSlot(engine, TRUE);
    engine->last_tick = now;
    if (engine->boot_measured) {
        engine->boot_time = MAX(engine->boot_time, now - engine->boot_measured);
        engine->boot_measured = 0;
    }
    hbEngineSilenceFrom(engine, now, now); /* also ends boot grace */
    engine->connect_heard = FALSE;
    if (engine->episode != HB_EPISODE_NONE) {
        actions->events |= HB_EVENT_RESUMED;
        hbEngineEndEpisode(engine);
    }
}


/* The longest a missed ping can take: its timeout, or libvirt's own 5 s wait
 * for a hung agent, whichever is longer, and a second of slack. */
static gint64
hbEngineMaxFlight(const HbEngine *engine)
{
    guint timeout = MAX(hbConfigEffectivePingTimeout(&engine->cfg), HB_AGENT_WAIT_S) + 1;

    return (gint64) timeout * G_USEC_PER_SEC;
}


static void
hbEngineApplyPing(HbEngine *engine, HbPing ping, gint64 sent, gint64 now,
                  HbActions *actions)
{
    gboolean running = engine->run == HB_RUN_RUNNING;

    engine->ping_in_flight = FALSE;
    /* Waiting inside libvirtd (its workers, the domain's job lock) is not the
     * guest's silence: a miss covers at most what the call itself may take. */
    sent = CLAMP(sent, MAX(engine->ping_asked, now - hbEngineMaxFlight(engine)), now);
    ping = hbEngineSuppressPing(engine, ping, sent, now);
    engine->pings[ping]++;
    if (ping != HB_PING_VOID && ping != HB_PING_SUPPRESSED) {
        engine->last_ping = ping;
        engine->last_ping_sent = sent;
    }
    switch (ping) {
    case HB_PING_TICK:
        if (running)
            hbEngineTick(engine, now, actions);
        else
            hbEngineSpan(engine, now, TRUE);
        break;
    case HB_PING_MISS:
        /* Waiting to be sent was no verdict; from the send on it was silence. */
        engine->judged = hbEngineJudged(engine, sent);
        engine->span_start = sent;
        engine->span_judged = running;
        hbEngineSpan(engine, now, running);
        if (running) {
            hbEngineRecordSlot(engine, FALSE);
            if (now > engine->silence_since && engine->misses++ == 0)
                engine->first_miss = sent;
        }
        break;
    case HB_PING_VOID:
    case HB_PING_SUPPRESSED:
        /* Nothing is known of the guest until the next verdict. */
        hbEngineSpan(engine, now, FALSE);
        break;
    case HB_PING_LAST:
        g_return_if_reached();
    }
}


static void hbEngineOnStopped(HbEngine *engine, gboolean other);


/*
 * An attempt that counts but that no boot follows: nothing was destroyed,
 * no grace, the boot under way goes on being measured. The guest stays
 * as it was, so the next attempt comes after failure_interval if it is
 * still silent: there is no boot to wait for. A domain shut off by its
 * user meanwhile ends the episode as it would have without the attempt.
 */
static void
hbEngineApplyNoBoot(HbEngine *engine, gboolean own, gint64 now)
{
    if (!own)
        return;
    engine->start_if_off = engine->before_start_if_off;
    if (!engine->boot_measured)
        engine->boot_measured = engine->before_boot_measured;
    engine->next_attempt = now + (gint64) engine->cfg.failure_interval * G_USEC_PER_SEC;
    if (engine->run == HB_RUN_SHUTOFF && !engine->start_if_off)
        hbEngineOnStopped(engine, FALSE);
}


static void
hbEngineApplyRestartDone(HbEngine *engine, guint64 episode, HbAttemptResult result,
                         gint64 now)
{
    gboolean own = hbEngineEpisodeOpen(engine, episode);
    gboolean ok = result == HB_ATTEMPT_OK;

    engine->restart_in_flight = FALSE;
    if (result == HB_ATTEMPT_NO_BOOT) {
        hbEngineApplyNoBoot(engine, own, now);
        return;
    }
    if (result == HB_ATTEMPT_NOT_MADE) {
        /* Nothing reached the domain: no attempt was made, none counts, the
         * domain is as it was, and the boot it is in goes on being measured.
         * Asked again after failure_interval, never sooner. */
        if (own) {
            if (engine->attempts > 0)
                engine->attempts--;
            engine->start_if_off = engine->before_start_if_off;
            if (!engine->boot_measured)
                engine->boot_measured = engine->before_boot_measured;
            engine->next_attempt = now + (gint64) engine->cfg.failure_interval * G_USEC_PER_SEC;
            /* Nothing may be known of the guest since (no resync when only
             * new connections fail): a running one is asked again first. */
            engine->not_made_at = now;
        }
        return;
    }
    /* The guest boots from now, whichever episode the attempt was made for:
     * grace, and its boot time is measured. */
    if (ok)
        hbEngineNewBoot(engine, now, TRUE);
    /* A start that went through though the call failed (its reply lost)
     * left nothing shut off: a later stop is someone else's. */
    if (own && (ok || engine->ran_in_flight))
        engine->start_if_off = FALSE;
    if (own && ok)
        engine->attempt_booted = TRUE;
    /* Paced from the end of the attempt, not from the decision; a newer
     * episode also waits for the boot an older attempt caused. */
    if (own)
        engine->next_attempt = now + hbEngineAttemptWait(engine);
    else if (ok)
        engine->next_attempt = MAX(engine->next_attempt, now + hbEngineAttemptWait(engine));
}


/* Started, restored or found running: a new boot, unless it ran already. */
static void
hbEngineOnStarted(HbEngine *engine, gint64 now)
{
    /* Running already: a resync saw what we knew, not a new boot. */
    if (engine->run == HB_RUN_RUNNING)
        return;
    engine->run = HB_RUN_RUNNING;
    /* Started by whoever: a later shut-off is not ours. */
    engine->start_if_off = engine->restart_in_flight && engine->start_if_off;
    engine->ran_in_flight = engine->restart_in_flight;
    hbEngineNewBoot(engine, now, TRUE);
}


/* Shut off; by someone else's will if @other, even during our attempt. */
static void
hbEngineOnStopped(HbEngine *engine, gboolean other)
{
    if (other)
        engine->start_if_off = FALSE;
    engine->run = HB_RUN_SHUTOFF;
    engine->ran_in_flight = FALSE;
    hbEngineSuppressEnd(engine);
    /* Our own destroy (action=restart) is part of the attempt. */
    if (engine->restart_in_flight || engine->start_if_off)
        return;
    hbEngineEndEpisode(engine);
    hbEngineResetSlots(engine);
    engine->last_tick = 0;
}


static void
hbEngineOnCrashed(HbEngine *engine, gboolean handled, gint64 now, HbActions *actions)
{
    if (handled) {
        /* libvirt carries out <on_crash>: its outcome is waited for. */
        if (engine->run == HB_RUN_CRASH_HANDLED)
            return;
        engine->run = HB_RUN_CRASH_HANDLED;
        engine->crash_deadline = now + HB_CRASH_WAIT_US;
        engine->last_tick = 0;
        return;
    }
    engine->last_tick = 0;
    engine->run = HB_RUN_CRASHED;
    engine->ran_in_flight = FALSE;
    if (hbEngineWatched(engine) && engine->episode == HB_EPISODE_NONE)
        hbEngineStartEpisode(engine, now, actions);
}


static void
hbEngineOnPaused(HbEngine *engine, gint64 now)
{
    if (engine->run != HB_RUN_PAUSED)
        engine->paused_at = now;
    engine->run = HB_RUN_PAUSED;
    hbEngineSpan(engine, now, FALSE);
}


static void
hbEngineOnResumed(HbEngine *engine, gint64 now)
{
    /* A crashed domain comes back through a resume only once reset:
     * libvirt's <on_crash>restart, even after the daemon stopped
     * waiting for it, or our reset: a new boot. */
    if (engine->run == HB_RUN_CRASH_HANDLED || engine->run == HB_RUN_CRASHED) {
        engine->run = HB_RUN_RUNNING;
        hbEngineNewBoot(engine, now, TRUE);
        return;
    }
    if (engine->run != HB_RUN_PAUSED)
        return;
    engine->run = HB_RUN_RUNNING;
    engine->boot_running += MAX(0, now - MAX(engine->paused_at, engine->boot_running));
    /* Paused time is no silence: a whole block from now. */
    hbEngineSilenceFrom(engine, MAX(engine->silence_since, now), now);
    hbEngineScheduleSlots(engine, now);
}


/* libvirtd was out of sight until now. */
static void
hbEngineOnResynced(HbEngine *engine, gint64 now)
{
    /* What happened while blind is unknown: no verdict on that time, and
     * an open episode acts again only on a verdict of after it. */
    hbEngineSilenceFrom(engine, MAX(engine->silence_since, now), now);
    engine->next_attempt = MAX(engine->next_attempt, now);
    if (engine->episode == HB_EPISODE_STOPPED)
        engine->confirm = TRUE;
    hbEngineScheduleSlots(engine, now);
}


static void
hbEngineOnAgentConnected(HbEngine *engine, gint64 now)
{
    /* Not a tick, but a guest process opened the port just now: the
     * silence before it does not add up with what follows. Once per
     * tick or boot: a guest that opens its port again and again but
     * answers no ping is not kept out of an episode by it. */
    engine->agent_up = now;
    if (engine->run == HB_RUN_RUNNING && !engine->connect_heard) {
        hbEngineSilenceFrom(engine, MAX(engine->silence_since, now), now);
        engine->connect_heard = TRUE;
    }
}


static void
hbEngineOnShutdownRequested(HbEngine *engine, gint64 now)
{
    /* A guest that takes its time to shut down is not hung, and an open
     * episode does not reset it meanwhile against the user's will. */
    hbEngineSilenceFrom(engine, MAX(engine->silence_since, hbEngineGraceEnd(engine, now)),
                        now);
    if (engine->episode == HB_EPISODE_STOPPED)
        engine->next_attempt = MAX(engine->next_attempt, hbEngineGraceEnd(engine, now));
}


static void
hbEngineApplyInput(HbEngine *engine, HbInput input, gint64 now, HbActions *actions)
{
    switch (input) {
    case HB_INPUT_TIMER:
        break;
    case HB_INPUT_STARTED:
        hbEngineOnStarted(engine, now);
        break;
    case HB_INPUT_REBOOT:
        if (engine->run == HB_RUN_RUNNING && now - engine->boot >= HB_REBOOT_DEDUP_US)
            hbEngineNewBoot(engine, now, TRUE);
        break;
    case HB_INPUT_CRASHLOADED:
        /* A reboot, into a crash kernel: it has no agent, and writing the
         * dump may take longer than boot grace. */
        if (engine->run == HB_RUN_RUNNING)
            hbEngineNewBoot(engine, now, FALSE);
        hbEngineSuppressFrom(engine, HB_SUPPRESS_KDUMP, now);
        break;
    case HB_INPUT_STOPPED:
    case HB_INPUT_STOPPED_OTHER:
        hbEngineOnStopped(engine, input == HB_INPUT_STOPPED_OTHER);
        break;
    case HB_INPUT_CRASHED:
    case HB_INPUT_CRASH_HANDLED:
        hbEngineOnCrashed(engine, input == HB_INPUT_CRASH_HANDLED, now, actions);
        break;
    case HB_INPUT_PAUSED:
        hbEngineOnPaused(engine, now);
        break;
    case HB_INPUT_RESUMED:
        hbEngineOnResumed(engine, now);
        break;
    case HB_INPUT_TICK:
        hbEngineApplyPing(engine, HB_PING_TICK, now, now, actions);
        break;
    case HB_INPUT_MISS:
        hbEngineApplyPing(engine, HB_PING_MISS, now, now, actions);
        break;
    case HB_INPUT_PING_VOID:
        hbEngineApplyPing(engine, HB_PING_VOID, now, now, actions);
        break;
    case HB_INPUT_RESTART_DONE:
        hbEngineApplyRestartDone(engine, engine->episode_id, HB_ATTEMPT_OK, now);
        break;
    case HB_INPUT_REARM:
        hbEngineEndEpisode(engine);
        g_array_set_size(engine->episode_starts, 0);
        hbEngineSilenceFrom(engine, MAX(engine->silence_since, now), now);
        break;
    case HB_INPUT_RESYNCED:
        hbEngineOnResynced(engine, now);
        break;
    case HB_INPUT_AGENT_CONNECTED:
        hbEngineOnAgentConnected(engine, now);
        break;
    case HB_INPUT_SHUTDOWN_REQUESTED:
        hbEngineOnShutdownRequested(engine, now);
        break;
    case HB_INPUT_LAST:
        g_return_if_reached();
    }
}


/* The checks every input ends with. */
static void
hbEngineSettle(HbEngine *engine, HbState before, gint64 now, HbActions *actions)
{
    hbEngineCheckDeadlines(engine, now, actions);
    hbEngineCheckSlots(engine, now, actions);
    if (hbEngineState(engine) != before)
        actions->events |= HB_EVENT_STATE_CHANGED;
}


void
hbEngineFeed(HbEngine *engine, HbInput input, gint64 now, HbActions *actions)
{
    HbState before = hbEngineState(engine);

    *actions = (HbActions) { 0 };
    hbEngineApplyInput(engine, input, now, actions);
    hbEngineSettle(engine, before, now, actions);
}


void
hbEngineFeedPing(HbEngine *engine, HbPing ping, gint64 sent, gint64 now, HbActions *actions)
{
    HbState before = hbEngineState(engine);

    *actions = (HbActions) { 0 };
    hbEngineApplyPing(engine, ping, sent, now, actions);
    hbEngineSettle(engine, before, now, actions);
}


void
hbEngineRestartDone(HbEngine *engine, guint64 episode, HbAttemptResult result, gint64 now,
                    HbActions *actions)
{
    HbState before = hbEngineState(engine);

    *actions = (HbActions) { 0 };
    hbEngineApplyRestartDone(engine, episode, result, now);
    hbEngineSettle(engine, before, now, actions);
}


void
hbEngineConfigure(HbEngine *engine, const HbConfig *cfg, gboolean has_agent,
                  gint64 now, HbActions *actions)
{
    HbConfig old = engine->cfg;
    gboolean was_watched = hbEngineWatched(engine);

    engine->cfg = *cfg;
    engine->has_agent = has_agent;

    if (old.rate != cfg->rate || old.time != cfg->time) {
        hbEngineResetSlots(engine);
        hbEngineScheduleSlots(engine, now);
    }
    if (!hbEngineWatched(engine)) {
        hbEngineEndEpisode(engine);
    } else if (!was_watched) {
        /* Watching starts now: a whole block from now before any verdict. */
        hbEngineSilenceFrom(engine, MAX(engine->silence_since, now), now);
        hbEngineScheduleSlots(engine, now);
    }
    hbEngineFeed(engine, HB_INPUT_TIMER, now, actions);
}


void
hbEngineSetAttemptDestroys(HbEngine *engine, gboolean destroys)
{
    engine->attempt_destroys = destroys;
}


/*
 * The window is over: watching starts afresh, as at a boot (boot grace),
 * since what the guest did meanwhile was the admin's. A guest left crashed
 * is acted on as one that crashes now.
 */
static void
hbEngineEndMaintenance(HbEngine *engine, gint64 now, HbActions *actions)
{
    engine->maintenance_until = 0;
    if (engine->run == HB_RUN_RUNNING)
        hbEngineNewBoot(engine, now, FALSE);
    if (engine->run == HB_RUN_CRASHED && hbEngineWatched(engine) &&
        engine->episode == HB_EPISODE_NONE)
        hbEngineStartEpisode(engine, now, actions);
}


void
hbEngineSetMaintenance(HbEngine *engine, gint64 until, gint64 now, HbActions *actions)
{
    HbState before = hbEngineState(engine);

    *actions = (HbActions) { 0 };
    if (until > now) {
        /* A restart decided before the window is not made in it: the
         * episode ends, and with it the ticket its queued jobs hold. One
         * in flight comes back stale. */
        if (engine->episode != HB_EPISODE_NONE)
            hbEngineEndEpisode(engine);
        engine->maintenance_until = until;
    } else if (engine->maintenance_until) {
        hbEngineEndMaintenance(engine, now, actions);
    }
    hbEngineSettle(engine, before, now, actions);
}


gint64
hbEngineMaintenanceUntil(const HbEngine *engine)
{
    return engine->maintenance_until;
}


gint64
hbEngineMaintenanceEnd(gint64 until, gint64 real, gint64 now)
{
    gint64 left = until * G_USEC_PER_SEC - real;

    return left > 0 ? now + left : 0;
}


gboolean
hbEngineMaintenanceDrifted(gint64 end, gint64 until, gint64 real, gint64 now)
{
    gint64 want;

    if (!end)
        return FALSE;
    want = hbEngineMaintenanceEnd(until, real, now);
    /* Over by the wall clock: it ends now, whatever the drift. */
    if (!want)
        return TRUE;
    return ABS(want - end) > HB_MAINTENANCE_SLACK_US;
}


HbState
hbEngineState(const HbEngine *engine)
{
    if (!engine->cfg.enabled)
        return HB_STATE_DISABLED;
    if (engine->maintenance_until)
        return HB_STATE_MAINTENANCE;
    if (!engine->has_agent)
        return HB_STATE_NO_AGENT;
    if (engine->episode == HB_EPISODE_FAILED)
        return HB_STATE_FAILED;
    if (engine->episode == HB_EPISODE_STOPPED)
        return HB_STATE_STOPPED;

    switch (engine->run) {
    case HB_RUN_UNKNOWN:
    case HB_RUN_SHUTOFF:
    case HB_RUN_CRASHED:
    case HB_RUN_CRASH_HANDLED:
        return HB_STATE_NOT_RUNNING;
    case HB_RUN_PAUSED:
        return HB_STATE_PAUSED;
    case HB_RUN_RUNNING:
    case HB_RUN_LAST:
        break;
    }
    if (engine->last_tick == 0)
        return HB_STATE_WAITING;
    return hbEnginePercentage(engine) == 100 ? HB_STATE_OK : HB_STATE_DEGRADED;
}


/* Ticks among the verdicts of the last block; slots without one do not count. */
guint
hbEnginePercentage(const HbEngine *engine)
{
    guint received = 0;

    if (engine->slots_filled == 0)
        return 0;
    for (guint i = 0; i < engine->cfg.rate; i++)
        received += engine->slots[i] ? 1 : 0;
    return received * 100 / engine->slots_filled;
}


gboolean
hbEngineIsHeartbeating(const HbEngine *engine, gint64 now)
{
    return engine->last_tick != 0 && now - engine->last_tick < hbEngineBlock(engine);
}


guint
hbEngineAttempts(const HbEngine *engine)
{
    return engine->attempts;
}


guint64
hbEngineEpisode(const HbEngine *engine)
{
    return engine->episode_id;
}


gboolean
hbEngineEpisodeOpen(const HbEngine *engine, guint64 episode)
{
    return hbEngineWatched(engine) && engine->episode == HB_EPISODE_STOPPED &&
        engine->episode_id == episode && engine->cfg.action != HB_ACTION_NONE;
}


gboolean
hbEngineSuspect(const HbEngine *engine)
{
    return engine->last_ping == HB_PING_MISS;
}


guint64
hbEnginePings(const HbEngine *engine, HbPing ping)
{
    return engine->pings[ping];
}


gint64
hbEngineBootTime(const HbEngine *engine)
{
    return engine->boot_time;
}


gint64
hbEngineLastTick(const HbEngine *engine)
{
    return engine->last_tick;
}


/* When monitoring of this boot began: changes at every new boot. */
gint64
hbEngineBoot(const HbEngine *engine)
{
    return engine->boot;
}


const HbConfig *
hbEngineConfig(const HbEngine *engine)
{
    return &engine->cfg;
}


gboolean
hbEngineHung(const HbEngine *engine, guint64 *episode, guint *attempt)
{
    *episode = engine->hung_episode;
    *attempt = engine->hung_attempt;
    return engine->hung_episode != 0;
}


gboolean
hbEngineStormCapped(const HbEngine *engine)
{
    return engine->storm_capped;
}


/*
 * Running, or in an episode that is not about a crash (an attempt's destroy
 * may have left it shut off for a moment): a guest whose heartbeat the
 * host-wide breaker counts.
 */
gboolean
hbEngineWatchedRunning(const HbEngine *engine)
{
    /* A host-wide window hangs many guests on purpose: no suspicion of it. */
    if (!hbEngineWatched(engine) || engine->maintenance_until)
        return FALSE;
    switch (engine->run) {
    case HB_RUN_RUNNING:
        return TRUE;
    case HB_RUN_SHUTOFF:
        return engine->episode != HB_EPISODE_NONE;
    case HB_RUN_UNKNOWN:
    case HB_RUN_PAUSED:
    case HB_RUN_CRASHED:
    case HB_RUN_CRASH_HANDLED:
    case HB_RUN_LAST:
        break;
    }
    return FALSE;
}


/*
 * Silent from the first ping that missed since the last tick (or the end of
 * boot grace); in an episode, from the silence that began it, whatever its
 * attempts did since, so that the guests of one stall stay together.
 */
gint64
hbEngineSilentSince(const HbEngine *engine)
{
    if (!hbEngineWatchedRunning(engine))
        return 0;
    /* An episode recalled from the state file has none: its misses of today. */
    if (engine->episode != HB_EPISODE_NONE && engine->episode_silence)
        return engine->episode_silence;
    if (engine->run == HB_RUN_RUNNING && engine->misses > 0)
        return engine->first_miss;
    return 0;
}


gboolean
hbEngineCrashed(const HbEngine *engine)
{
    return engine->run == HB_RUN_CRASHED || engine->run == HB_RUN_CRASH_HANDLED;
}


gboolean
hbEngineRunning(const HbEngine *engine)
{
    return engine->run == HB_RUN_RUNNING;
}


HbSuppress
hbEngineSuppressed(const HbEngine *engine)
{
    return engine->suppress_capped ? HB_SUPPRESS_NONE : engine->suppress;
}


gboolean
hbEngineSuppressCapped(const HbEngine *engine)
{
    return engine->suppress_capped;
}


gint64
hbEngineSuppressedSince(const HbEngine *engine)
{
    return hbEngineSuppressed(engine) != HB_SUPPRESS_NONE ? engine->suppress_since : 0;
}


/* When a block of judged silence would be complete; never while unjudged. */
static gint64
hbEngineSilentDeadline(const HbEngine *engine)
{
    if (engine->run != HB_RUN_RUNNING || engine->misses == 0 || !engine->span_judged)
        return G_MAXINT64;
    return MAX(engine->span_start, engine->silence_since) + hbEngineBlock(engine) -
        engine->judged;
}


/* The earliest time hbEngineFeed(HB_INPUT_TIMER) has work to do. */
gint64
hbEngineNextDeadline(const HbEngine *engine)
{
    gint64 deadline = G_MAXINT64;

    if (engine->maintenance_until) {
        deadline = engine->maintenance_until;
        if (hbEnginePinging(engine))
            deadline = MIN(deadline, engine->next_slot);
        return deadline;
    }
    if (!hbEngineWatched(engine))
        return deadline;
    if (hbEnginePinging(engine))
        deadline = engine->next_slot;
    if (engine->run == HB_RUN_CRASH_HANDLED)
        deadline = MIN(deadline, engine->crash_deadline);
    if (engine->episode == HB_EPISODE_NONE)
        deadline = MIN(deadline, hbEngineSilentDeadline(engine));
    if (engine->episode == HB_EPISODE_STOPPED && hbEngineMayAttempt(engine)) {
        gint64 next = hbEngineAttemptAt(engine);
        if (engine->confirm && engine->run == HB_RUN_RUNNING)
            next = MAX(next, hbEngineSilentDeadline(engine));
        deadline = MIN(deadline, next);
    }
    return MIN(deadline, hbEngineHungAt(engine));
}


void
hbEngineRemember(const HbEngine *engine, HbEngineMemory *memory)
{
    hbEngineMemoryClear(memory);
    memory->episode = engine->episode_id;
    memory->open = engine->episode == HB_EPISODE_STOPPED;
    memory->failed = engine->episode == HB_EPISODE_FAILED;
    memory->storm_capped = engine->storm_capped;
    memory->attempts = engine->attempts;
    memory->next_attempt = engine->restart_in_flight ? 0 : engine->next_attempt;
    memory->restart_in_flight = engine->restart_in_flight;
    memory->start_if_off = engine->start_if_off;
    memory->boot_time = engine->boot_time;
    memory->episode_starts = g_array_copy(engine->episode_starts);
}


/*
 * Take back what an earlier daemon remembered; on a fresh engine. An open
 * episode goes on with its attempts, but the next one waits for a verdict
 * of this daemon's own: a guest that recovered meanwhile is left alone.
 */
void
hbEngineRecall(HbEngine *engine, const HbEngineMemory *memory, gint64 now,
               HbActions *actions)
{
    /* Times read back are never later than this daemon would have set them:
     * a wall clock stepped back while it was down, or a corrupt file, would
     * otherwise hold the storm cap or put off the next attempt for as long
     * as the error, for ever at worst. */
    if (memory->episode_starts) {
        g_array_set_size(engine->episode_starts, 0);
        for (guint i = 0; i < memory->episode_starts->len; i++) {
            gint64 start = MIN(g_array_index(memory->episode_starts, gint64, i), now);

            g_array_append_val(engine->episode_starts, start);
        }
    }
    engine->episode_id = memory->episode;
    engine->boot_time = memory->boot_time;
    if (memory->failed && hbEngineWatched(engine)) {
        engine->episode = HB_EPISODE_FAILED;
        engine->storm_capped = memory->storm_capped;
    } else if (memory->open && hbEngineWatched(engine)) {
        engine->episode = HB_EPISODE_STOPPED;
        engine->attempts = memory->attempts;
        engine->attempt_booted = memory->attempts > 0;
        /* An attempt cut short by the daemon's death counts as made. */
        engine->start_if_off = memory->start_if_off;
        engine->next_attempt = now + hbEngineAttemptWait(engine);
        if (memory->next_attempt)
            engine->next_attempt = MIN(memory->next_attempt, engine->next_attempt);
        engine->confirm = TRUE;
    }
    /* Nothing is done before the domain's state is read. */
    *actions = (HbActions) { 0 };
}


void
hbEngineMemoryClear(HbEngineMemory *memory)
{
    g_clear_pointer(&memory->episode_starts, g_array_unref);
    *memory = (HbEngineMemory) { 0 };
}
