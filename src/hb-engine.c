/*
 * The heartbeat state machine of one domain: ping slots, the window of the
 * last block, boot grace, failure episodes, restart attempts and the storm cap.
 */
#include <config.h>

#include "hb-engine.h"

typedef enum {
    HB_RUN_SHUTOFF,
    HB_RUN_RUNNING,
    HB_RUN_PAUSED,
    HB_RUN_CRASHED, /* crashed state, or shut off after a crash */

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
    gint64 silence_since;   /* a block of silence from here stops the heartbeat */
    gint64 last_tick;       /* 0: none this boot */
    gint64 next_slot;
    gboolean ping_in_flight;

    /* results of the last cfg.rate slots of this boot */
    gboolean *slots;
    guint slot_pos;
    guint slots_filled;

    HbEpisode episode;
    gboolean storm_capped;
    guint attempts;
    gint64 next_attempt;
    gboolean restart_in_flight;
    GArray *episode_starts; /* gint64, episodes with action, for the storm cap */
};

static const char *hbStateNames[HB_STATE_LAST] = {
    [HB_STATE_DISABLED] = "disabled",
    [HB_STATE_NOT_RUNNING] = "not-running",
    [HB_STATE_PAUSED] = "paused",
    [HB_STATE_NO_AGENT] = "no-agent",
    [HB_STATE_WAITING] = "waiting",
    [HB_STATE_OK] = "ok",
    [HB_STATE_DEGRADED] = "degraded",
    [HB_STATE_STOPPED] = "stopped",
    [HB_STATE_FAILED] = "failed",
};


const char *
hbStateToString(HbState state)
{
    return hbStateNames[state];
}


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
    engine->run = HB_RUN_SHUTOFF;
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


static void
hbEngineScheduleSlots(HbEngine *engine, gint64 now)
{
    engine->next_slot = now + engine->phase % hbConfigIntervalUs(&engine->cfg);
}


/* A new boot: the window restarts and boot grace applies. */
static void
hbEngineNewBoot(HbEngine *engine, gint64 now)
{
    engine->boot = now;
    engine->last_tick = 0;
    engine->silence_since = now + (gint64) engine->cfg.boot_grace * G_USEC_PER_SEC;
    hbEngineResetSlots(engine);
    hbEngineScheduleSlots(engine, now);
}


static void
hbEngineEndEpisode(HbEngine *engine)
{
    engine->episode = HB_EPISODE_NONE;
    engine->storm_capped = FALSE;
    engine->attempts = 0;
    engine->next_attempt = 0;
}


static void
hbEngineAttempt(HbEngine *engine, gint64 now, HbActions *actions)
{
    engine->attempts++;
    engine->restart_in_flight = TRUE;
    engine->next_attempt = now + (gint64) engine->cfg.failure_interval * G_USEC_PER_SEC;
    actions->restart = TRUE;
    /* Boot grace applies after each attempt; it never delays the next one. */
    hbEngineNewBoot(engine, now);
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
    actions->events |= HB_EVENT_STOPPED;
    engine->attempts = 0;

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
    engine->episode = HB_EPISODE_STOPPED;
    hbEngineAttempt(engine, now, actions);
}


static void
hbEngineCheckSlots(HbEngine *engine, gint64 now, HbActions *actions)
{
    gint64 interval = hbConfigIntervalUs(&engine->cfg);

    if (!hbEnginePinging(engine) || now < engine->next_slot)
        return;

    if (engine->ping_in_flight) {
        /* The previous ping still hangs: this slot's tick is missed. */
        hbEngineRecordSlot(engine, FALSE);
    } else {
        engine->ping_in_flight = TRUE;
        actions->ping = TRUE;
    }
    /* Slots the loop itself overslept are skipped, not counted as misses. */
    while (engine->next_slot <= now)
        engine->next_slot += interval;
}


static void
hbEngineCheckDeadlines(HbEngine *engine, gint64 now, HbActions *actions)
{
    gint64 block = (gint64) engine->cfg.time * G_USEC_PER_SEC;

    if (!hbEngineWatched(engine))
        return;

    switch (engine->episode) {
    case HB_EPISODE_NONE:
        if (engine->run == HB_RUN_RUNNING && now >= engine->silence_since + block)
            hbEngineStartEpisode(engine, now, actions);
        break;
    case HB_EPISODE_STOPPED:
        if (engine->cfg.action == HB_ACTION_NONE ||
            engine->restart_in_flight ||
            engine->run == HB_RUN_PAUSED ||
            now < engine->next_attempt)
            break;
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
    engine->silence_since = now; /* also ends boot grace */
    if (engine->episode != HB_EPISODE_NONE) {
        actions->events |= HB_EVENT_RESUMED;
        hbEngineEndEpisode(engine);
    }
}


static void
hbEngineApplyInput(HbEngine *engine, HbInput input, gint64 now, HbActions *actions)
{
    switch (input) {
    case HB_INPUT_TIMER:
        break;
    case HB_INPUT_STARTED:
        /* Running already: a resync saw what we knew, not a new boot. */
        if (engine->run == HB_RUN_RUNNING)
            break;
        engine->run = HB_RUN_RUNNING;
        hbEngineNewBoot(engine, now);
        break;
    case HB_INPUT_REBOOT:
        if (engine->run == HB_RUN_RUNNING && now - engine->boot >= HB_REBOOT_DEDUP_US)
            hbEngineNewBoot(engine, now);
        break;
    case HB_INPUT_STOPPED:
        engine->run = HB_RUN_SHUTOFF;
        /* Our own destroy (action=restart) is part of the attempt. */
        if (engine->restart_in_flight)
            break;
        hbEngineEndEpisode(engine);
        hbEngineResetSlots(engine);
        engine->last_tick = 0;
        break;
    case HB_INPUT_CRASHED:
        engine->run = HB_RUN_CRASHED;
        engine->last_tick = 0;
        if (hbEngineWatched(engine) && engine->episode == HB_EPISODE_NONE)
            hbEngineStartEpisode(engine, now, actions);
        break;
    case HB_INPUT_PAUSED:
        engine->run = HB_RUN_PAUSED;
        break;
    case HB_INPUT_RESUMED:
        /* A crashed domain that was reset comes back through a resume. */
        if (engine->run != HB_RUN_PAUSED && engine->run != HB_RUN_CRASHED)
            break;
        engine->run = HB_RUN_RUNNING;
        /* Paused time is no silence: a whole block from now. */
        engine->silence_since = MAX(engine->silence_since, now);
        hbEngineScheduleSlots(engine, now);
        break;
    case HB_INPUT_TICK:
        engine->ping_in_flight = FALSE;
        if (engine->run == HB_RUN_RUNNING)
            hbEngineTick(engine, now, actions);
        break;
    case HB_INPUT_MISS:
        engine->ping_in_flight = FALSE;
        if (engine->run == HB_RUN_RUNNING)
            hbEngineRecordSlot(engine, FALSE);
        break;
    case HB_INPUT_PING_VOID:
        engine->ping_in_flight = FALSE;
        break;
    case HB_INPUT_RESTART_DONE:
        engine->restart_in_flight = FALSE;
        break;
    case HB_INPUT_REARM:
        hbEngineEndEpisode(engine);
        g_array_set_size(engine->episode_starts, 0);
        engine->silence_since = MAX(engine->silence_since, now);
        break;
    case HB_INPUT_RESYNCED:
        /* What happened while blind is unknown: no verdict on that time. */
        engine->silence_since = MAX(engine->silence_since, now);
        engine->next_attempt = MAX(engine->next_attempt, now);
        hbEngineScheduleSlots(engine, now);
        break;
    case HB_INPUT_SHUTDOWN_REQUESTED:
        /* A guest that takes its time to shut down is not hung. */
        engine->silence_since = MAX(engine->silence_since,
                                    now + (gint64) engine->cfg.boot_grace * G_USEC_PER_SEC);
        break;
    case HB_INPUT_LAST:
        g_return_if_reached();
    }
}


void
hbEngineFeed(HbEngine *engine, HbInput input, gint64 now, HbActions *actions)
{
    HbState before = hbEngineState(engine);

    *actions = (HbActions) { 0 };
    hbEngineApplyInput(engine, input, now, actions);
    hbEngineCheckDeadlines(engine, now, actions);
    hbEngineCheckSlots(engine, now, actions);
    if (hbEngineState(engine) != before)
        actions->events |= HB_EVENT_STATE_CHANGED;
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
        engine->silence_since = MAX(engine->silence_since, now);
        hbEngineScheduleSlots(engine, now);
    }
    hbEngineFeed(engine, HB_INPUT_TIMER, now, actions);
}


HbState
hbEngineState(const HbEngine *engine)
{
    if (!engine->cfg.enabled)
        return HB_STATE_DISABLED;
    if (!engine->has_agent)
        return HB_STATE_NO_AGENT;
    if (engine->episode == HB_EPISODE_FAILED)
        return HB_STATE_FAILED;
    if (engine->episode == HB_EPISODE_STOPPED)
        return HB_STATE_STOPPED;

    switch (engine->run) {
    case HB_RUN_SHUTOFF:
    case HB_RUN_CRASHED:
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
    return engine->last_tick != 0 &&
        now - engine->last_tick < (gint64) engine->cfg.time * G_USEC_PER_SEC;
}


guint
hbEngineAttempts(const HbEngine *engine)
{
    return engine->attempts;
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
hbEngineStormCapped(const HbEngine *engine)
{
    return engine->storm_capped;
}


/* The earliest time hbEngineFeed(HB_INPUT_TIMER) has work to do. */
gint64
hbEngineNextDeadline(const HbEngine *engine)
{
    gint64 deadline = G_MAXINT64;

    if (!hbEngineWatched(engine))
        return deadline;
    if (hbEnginePinging(engine))
        deadline = engine->next_slot;
    if (engine->episode == HB_EPISODE_NONE && engine->run == HB_RUN_RUNNING)
        deadline = MIN(deadline, engine->silence_since + (gint64) engine->cfg.time * G_USEC_PER_SEC);
    if (engine->episode == HB_EPISODE_STOPPED && engine->cfg.action != HB_ACTION_NONE &&
        !engine->restart_in_flight && engine->run != HB_RUN_PAUSED)
        deadline = MIN(deadline, engine->next_attempt);
    return deadline;
}


void
hbEngineRemember(const HbEngine *engine, HbEngineMemory *memory)
{
    hbEngineMemoryClear(memory);
    memory->failed = engine->episode == HB_EPISODE_FAILED;
    memory->storm_capped = engine->storm_capped;
    memory->episode_starts = g_array_copy(engine->episode_starts);
}


/* Take back what an earlier daemon remembered; on a fresh engine. */
void
hbEngineRecall(HbEngine *engine, const HbEngineMemory *memory, gint64 now,
               HbActions *actions)
{
    if (memory->episode_starts) {
        g_array_set_size(engine->episode_starts, 0);
        g_array_append_vals(engine->episode_starts, memory->episode_starts->data,
                            memory->episode_starts->len);
    }
    if (memory->failed && hbEngineWatched(engine)) {
        engine->episode = HB_EPISODE_FAILED;
        engine->storm_capped = memory->storm_capped;
    }
    hbEngineFeed(engine, HB_INPUT_TIMER, now, actions);
}


void
hbEngineMemoryClear(HbEngineMemory *memory)
{
    g_clear_pointer(&memory->episode_starts, g_array_unref);
    memory->failed = memory->storm_capped = FALSE;
}
