/*
 * The heartbeat state machine against a fake clock.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-engine.h"

#define S(x) ((gint64) (x) * G_USEC_PER_SEC)

typedef struct {
    HbEngine *engine;
    HbConfig cfg;
    gint64 now;
    guint pings;
    guint restarts;
    guint stopped;
    guint resumed;
    guint exhausted;
    gboolean ping_pending; /* a ping was asked for and not answered yet */
    gboolean agent_at_boot; /* runUntil: the agent opens its port as a reset ends */
    HbAttemptResult attempt_result; /* runUntil: how each attempt ends (default OK;
                                     * LAST: left in flight) */
    gint64 restart_at;     /* runUntil: when the last attempt was asked for */
    gboolean start_if_off; /* of the last attempt asked for */
} Fixture;


static void
collect(Fixture *f, const HbActions *a)
{
    f->pings += a->ping;
    f->restarts += a->restart;
    if (a->restart)
        f->start_if_off = a->start_if_off;
    f->stopped += !!(a->events & HB_EVENT_STOPPED);
    f->resumed += !!(a->events & HB_EVENT_RESUMED);
    f->exhausted += !!(a->events & HB_EVENT_EXHAUSTED);
}


static HbActions
feed(Fixture *f, HbInput input)
{
    HbActions a;

    if (input == HB_INPUT_TICK || input == HB_INPUT_MISS || input == HB_INPUT_PING_VOID)
        f->ping_pending = FALSE;
    hbEngineFeed(f->engine, input, f->now, &a);
    collect(f, &a);
    if (a.ping)
        f->ping_pending = TRUE;
    return a;
}


/* A hung agent for @span: a ping every second, each missed after 1 s. */
static void
missFor(Fixture *f, gint64 span)
{
    gint64 end = f->now + span;
    HbActions a;

    f->ping_pending = FALSE;
    while (f->now < end) {
        f->now = MIN(end, f->now + S(1));
        hbEngineFeedPing(f->engine, HB_PING_MISS, f->now - S(1), f->now, &a);
        collect(f, &a);
    }
}


/* As missFor, each ping reported @ping (a miss, or a miss under a domain job). */
static void
pingFor(Fixture *f, gint64 span, HbPing ping)
{
    gint64 end = f->now + span;
    HbActions a;

    f->ping_pending = FALSE;
    while (f->now < end) {
        f->now = MIN(end, f->now + S(1));
        hbEngineFeedPing(f->engine, ping, f->now - S(1), f->now, &a);
        collect(f, &a);
    }
}


/*
 * Advance the clock to @until one deadline at a time, as the daemon's timer
 * does, answering every ping with @answer (TICK, MISS, or TIMER for none).
 */
static void
runUntil(Fixture *f, gint64 until, HbInput answer)
{
    for (;;) {
        gint64 next;
        HbActions a;

        if (f->ping_pending && answer != HB_INPUT_TIMER)
            feed(f, answer);
        next = hbEngineNextDeadline(f->engine);
        if (next > until)
            break;
        f->now = MAX(f->now, next);
        a = feed(f, HB_INPUT_TIMER);
        if (a.restart)
            f->restart_at = f->now;
        if (a.restart && f->attempt_result == HB_ATTEMPT_LAST) {
            /* in flight until the test ends it */
        } else if (a.restart && f->attempt_result != HB_ATTEMPT_OK) {
            hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), f->attempt_result,
                                f->now, &a);
            collect(f, &a);
            f->ping_pending |= a.ping;
        } else if (a.restart) {
            feed(f, HB_INPUT_RESTART_DONE);
            if (f->agent_at_boot)
                feed(f, HB_INPUT_AGENT_CONNECTED);
        }
    }
    f->now = until;
    feed(f, HB_INPUT_TIMER);
}


static Fixture *
fixtureNew(void (*tweak)(HbConfig *))
{
    Fixture *f = g_new0(Fixture, 1);

    hbConfigInitDefaults(&f->cfg);
    f->cfg.time = 10;
    f->cfg.rate = 10;
    f->cfg.boot_grace = 20;
    f->cfg.failure_interval = 5;
    f->cfg.failure_attempts = 3;
    if (tweak)
        tweak(&f->cfg);
    f->now = S(1000);
    f->engine = hbEngineNew(&f->cfg, TRUE, 0);
    return f;
}


static int
setup(void **state)
{
    *state = fixtureNew(NULL);
    return 0;
}


static int
teardown(void **state)
{
    Fixture *f = *state;

    hbEngineFree(f->engine);
    g_free(f);
    return 0;
}


static void
test_healthy_full_block(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_WAITING);
    assert_false(hbEngineIsHeartbeating(f->engine, f->now));

    runUntil(f, f->now + S(10) - 1, HB_INPUT_TICK);
    assert_int_equal(f->pings, 10);
    assert_int_equal(hbEnginePercentage(f->engine), 100);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_OK);
    assert_true(hbEngineIsHeartbeating(f->engine, f->now));

    /* A long healthy run: the ring never exceeds one block. */
    runUntil(f, f->now + S(100), HB_INPUT_TICK);
    assert_int_equal(hbEnginePercentage(f->engine), 100);
    assert_int_equal(f->stopped, 0);
}


static void
test_partial_block_percentage(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    /* 4 slots: tick, miss, tick, tick = 75 % of the slots so far. */
    feed(f, HB_INPUT_TICK);   /* slot 0 pinged at start */
    f->now += S(1); feed(f, HB_INPUT_TIMER); feed(f, HB_INPUT_MISS);
    f->now += S(1); feed(f, HB_INPUT_TIMER); feed(f, HB_INPUT_TICK);
    f->now += S(1); feed(f, HB_INPUT_TIMER); feed(f, HB_INPUT_TICK);
    assert_int_equal(f->pings, 4);
    assert_int_equal(hbEnginePercentage(f->engine), 75);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_DEGRADED);
}


static void
test_window_forgets_old_misses(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(3) - 1, HB_INPUT_MISS);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    assert_true(hbEnginePercentage(f->engine) < 100);
    /* Ten good slots later the misses are out of the last block. */
    runUntil(f, f->now + S(10), HB_INPUT_TICK);
    assert_int_equal(hbEnginePercentage(f->engine), 100);
}


static void
test_ping_not_back_is_no_verdict(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    feed(f, HB_INPUT_TICK);
    /* The next ping does not come back (queued, or stuck in libvirt): no
     * second ping, and the slots it spans are no verdict, not misses. */
    f->now += S(1); feed(f, HB_INPUT_TIMER);
    assert_int_equal(f->pings, 2);
    f->now += S(1); feed(f, HB_INPUT_TIMER);
    f->now += S(1); feed(f, HB_INPUT_TIMER);
    assert_int_equal(f->pings, 2);
    assert_int_equal(hbEnginePercentage(f->engine), 100);
    /* However long it takes, no verdict never stops the heartbeat. */
    f->now += S(100); feed(f, HB_INPUT_TIMER);
    assert_int_equal(f->stopped, 0);
    assert_int_equal(hbEngineNextDeadline(f->engine), f->now + S(1));
}


static void
test_stopped_at_exactly_time(void **state)
{
    Fixture *f = *state;
    gint64 last;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    last = hbEngineLastTick(f->engine);
    runUntil(f, last + S(10) - 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 0);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_DEGRADED);
    assert_true(hbEngineIsHeartbeating(f->engine, f->now));

    runUntil(f, last + S(10), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
    assert_int_equal(f->restarts, 1);
    assert_int_equal(hbEngineAttempts(f->engine), 1);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    assert_false(hbEngineIsHeartbeating(f->engine, f->now));
}


static void
test_grace_ends_at_first_tick(void **state)
{
    Fixture *f = *state;
    gint64 start = f->now;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, start + S(3), HB_INPUT_MISS);
    f->now += 1;
    feed(f, HB_INPUT_TIMER);
    feed(f, HB_INPUT_TICK);   /* answers the slot just pinged */
    /* Grace is over: a block of silence after that tick stops it, long before
     * start + grace + time. */
    runUntil(f, start + S(14), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
}


static void
test_grace_cap(void **state)
{
    Fixture *f = *state;
    gint64 start = f->now;

    feed(f, HB_INPUT_STARTED);
    /* No tick at all: grace (20 s) then a whole block (10 s). */
    runUntil(f, start + S(30) - 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 0);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_WAITING);
    runUntil(f, start + S(30), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
}


static void
test_attempt_spacing_and_exhaustion(void **state)
{
    Fixture *f = *state;
    gint64 start = f->now;
    gint64 t;

    /* A guest that boots at once (boot time 0), then hangs; its agent
     * opens its port at once after each reset, and never answers. */
    f->agent_at_boot = TRUE;
    feed(f, HB_INPUT_STARTED);
    runUntil(f, start + S(1), HB_INPUT_TICK);
    assert_int_equal(hbEngineBootTime(f->engine), 0);
    t = hbEngineLastTick(f->engine) + S(10);
    runUntil(f, t, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    /* failure_interval (5 s) after the first attempt completed. */
    runUntil(f, t + S(5) - 1, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    runUntil(f, t + S(5), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
    /* That boot got no tick in 5 s: it took at least that, and the next
     * wait is 5 s, half again, and a ping interval: 8.5 s. */
    assert_int_equal(hbEngineBootTime(f->engine), S(5));
    runUntil(f, t + S(5) + S(8) + 500000 - 1, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
    runUntil(f, t + S(5) + S(8) + 500000, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 3);
    assert_int_equal(f->exhausted, 0);
    /* The last attempt gets its wait (13.75 s), then the episode fails. */
    runUntil(f, t + S(27), HB_INPUT_MISS);
    assert_int_equal(f->exhausted, 0);
    runUntil(f, t + S(28), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 3);
    assert_int_equal(f->exhausted, 1);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_FAILED);
    runUntil(f, t + S(500), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 3);
}


static void
tweakNoAttempts(HbConfig *cfg)
{
    cfg->failure_attempts = 0;
}


/* failure_attempts=0: the episode fails at its start, no attempt is made. */
static void
test_no_attempts_exhausted_at_once(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakNoAttempts);
    gint64 t;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    t = hbEngineLastTick(f->engine) + S(10);
    runUntil(f, t, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
    assert_int_equal(f->exhausted, 1);
    assert_int_equal(f->restarts, 0);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_FAILED);
    assert_false(hbEngineEpisodeOpen(f->engine, hbEngineEpisode(f->engine)));
    runUntil(f, t + S(100), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 0);
    assert_int_equal(f->exhausted, 1);
    /* A crash is no different. */
    feed(f, HB_INPUT_TICK);
    assert_int_not_equal(hbEngineState(f->engine), HB_STATE_FAILED);
    feed(f, HB_INPUT_CRASHED);
    assert_int_equal(f->exhausted, 2);
    assert_int_equal(f->restarts, 0);
    hbEngineFree(f->engine);
    g_free(f);
}

/*
 * A guest slowed by its host opens its agent port just before the next
 * attempt is due: no attempt until a ping sent after that has missed.
 */
static void
test_agent_connect_needs_new_verdict(void **state)
{
    Fixture *f = *state;
    gint64 start = f->now;
    gint64 t;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, start + S(1), HB_INPUT_TICK);
    t = hbEngineLastTick(f->engine) + S(10);
    runUntil(f, t, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    runUntil(f, t + S(5) - S(1) / 2, HB_INPUT_MISS);
    feed(f, HB_INPUT_AGENT_CONNECTED);
    /* Due at t + 5 s; the pings since the port opened are not back yet. */
    runUntil(f, t + S(7), HB_INPUT_TIMER);
    assert_int_equal(f->restarts, 1);
    /* One of them misses: the attempt is made. */
    feed(f, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
}


static void
test_never_booted_waits_boot_grace(void **state)
{
    Fixture *f = *state;
    gint64 start = f->now;

    /* No tick since the start: its boot time is unknown, and each attempt
     * waits boot_grace (20 s), the longest a boot may take. */
    feed(f, HB_INPUT_STARTED);
    runUntil(f, start + S(30), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    runUntil(f, start + S(50) - 1, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    runUntil(f, start + S(50), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
}


static void
test_tick_resumes_episode(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(31), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    assert_int_equal(f->resumed, 1);
    assert_int_equal(hbEngineAttempts(f->engine), 0);
    /* The misses since the reset are still in the last block. */
    assert_int_equal(hbEngineState(f->engine), HB_STATE_DEGRADED);
    assert_true(hbEngineIsHeartbeating(f->engine, f->now));
    /* A new silence is a new episode with fresh counters. */
    runUntil(f, f->now + S(10), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 2);
    assert_int_equal(hbEngineAttempts(f->engine), 1);
}


static void
test_next_attempt_waits_for_restart_in_flight(void **state)
{
    Fixture *f = *state;
    HbActions a;

    feed(f, HB_INPUT_CRASHED);
    assert_int_equal(f->restarts, 1);
    f->now += S(60);
    a = feed(f, HB_INPUT_TIMER);
    assert_false(a.restart);
    assert_int_equal(hbEngineNextDeadline(f->engine), G_MAXINT64);
    /* failure_interval counts from the end of the attempt, not the decision. */
    a = feed(f, HB_INPUT_RESTART_DONE);
    assert_false(a.restart);
    assert_int_equal(hbEngineNextDeadline(f->engine), f->now + S(5));
    f->now += S(5) - 1;
    assert_false(feed(f, HB_INPUT_TIMER).restart);
    f->now += 1;
    assert_true(feed(f, HB_INPUT_TIMER).restart);
}


static void
test_crash_starts_episode_at_once(void **state)
{
    Fixture *f = *state;
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(3), HB_INPUT_TICK);
    a = feed(f, HB_INPUT_CRASHED);
    assert_true(a.restart);
    assert_true(a.events & HB_EVENT_STOPPED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    feed(f, HB_INPUT_RESTART_DONE);
    /* The restart starts the domain; its first tick ends the episode. */
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(2), HB_INPUT_TICK);
    assert_int_equal(f->resumed, 1);
    assert_int_equal(f->restarts, 1);
}


static void
test_user_stop_is_not_acted_on(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(3), HB_INPUT_TICK);
    feed(f, HB_INPUT_STOPPED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_NOT_RUNNING);
    runUntil(f, f->now + S(1000), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 0);
    assert_int_equal(f->stopped, 0);
    assert_int_equal(hbEngineNextDeadline(f->engine), G_MAXINT64);
}


static void
test_pause_counts_nothing(void **state)
{
    Fixture *f = *state;
    guint pings;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    feed(f, HB_INPUT_PAUSED);
    pings = f->pings;
    assert_int_equal(hbEngineState(f->engine), HB_STATE_PAUSED);
    runUntil(f, f->now + S(100), HB_INPUT_MISS);
    assert_int_equal(f->pings, pings);
    assert_int_equal(f->stopped, 0);
    feed(f, HB_INPUT_RESUMED);
    assert_int_equal(hbEnginePercentage(f->engine), 100);
    /* After a resume a whole block of silence is needed again. */
    runUntil(f, f->now + S(10) - 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 0);
    runUntil(f, f->now + 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
}


static void
test_ping_void_is_not_a_miss(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    feed(f, HB_INPUT_TICK);
    f->now += S(1); feed(f, HB_INPUT_TIMER);
    feed(f, HB_INPUT_PING_VOID);
    assert_int_equal(hbEnginePercentage(f->engine), 100);
    f->now += S(1);
    assert_true(feed(f, HB_INPUT_TIMER).ping);
}


static void
test_reboot_deduplicated(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(8), HB_INPUT_TICK);
    feed(f, HB_INPUT_REBOOT);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_WAITING);
    runUntil(f, f->now + S(2), HB_INPUT_TICK);
    feed(f, HB_INPUT_REBOOT);   /* a second report of the same reset */
    assert_int_equal(hbEngineState(f->engine), HB_STATE_OK);
}


static void
tweakStorm(HbConfig *cfg)
{
    cfg->max_episodes = 2;
    cfg->episode_window = 1000;
    cfg->boot_grace = 0;
}


static void
test_storm_cap(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakStorm);

    feed(f, HB_INPUT_STARTED);
    for (int i = 0; i < 2; i++) {
        runUntil(f, f->now + S(10), HB_INPUT_MISS);
        runUntil(f, f->now + S(1), HB_INPUT_TICK);
    }
    assert_int_equal(f->stopped, 2);
    assert_int_equal(f->resumed, 2);
    assert_int_equal(f->restarts, 2);
    /* The third episode inside the window gets no action. */
    runUntil(f, f->now + S(10), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 3);
    assert_int_equal(f->restarts, 2);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_FAILED);
    assert_true(hbEngineStormCapped(f->engine));
    /* Once the window has passed, a tick re-arms and the next episode acts. */
    f->now += S(1000);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_DEGRADED);
    assert_int_equal(f->resumed, 3);
    runUntil(f, f->now + S(10), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 3);
    teardown((void **) &f);
}


static void
test_rearm(void **state)
{
    Fixture *f = *state;
    gint64 start = f->now;

    feed(f, HB_INPUT_STARTED);
    /* Never booted: attempts at 30, 50 and 70 s (boot grace apart), failed at 90 s. */
    runUntil(f, start + S(80), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 3);
    feed(f, HB_INPUT_REARM);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_WAITING);
    assert_int_equal(hbEngineAttempts(f->engine), 0);
    /* The last reset (at 70 s) still has its boot grace (20 s), then a block. */
    runUntil(f, start + S(100) - 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
    runUntil(f, start + S(100), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 2);
    assert_int_equal(f->restarts, 4);
    /* Rearmed once grace is long over: a whole block from the rearm. */
    runUntil(f, start + S(200), HB_INPUT_MISS);
    feed(f, HB_INPUT_REARM);
    runUntil(f, start + S(210) - 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 2);
    runUntil(f, start + S(210), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 3);
}


static void
tweakNotify(HbConfig *cfg)
{
    cfg->action = HB_ACTION_NONE;
}


static void
test_action_none_notifies_only(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakNotify);

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(200), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
    assert_int_equal(f->restarts, 0);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    assert_int_equal(f->resumed, 1);
    teardown((void **) &f);
}


static void
test_no_agent_and_disabled(void **state)
{
    Fixture *f = *state;
    HbConfig cfg = f->cfg;
    HbActions a;

    hbEngineConfigure(f->engine, &cfg, FALSE, f->now, &a);
    feed(f, HB_INPUT_STARTED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_NO_AGENT);
    feed(f, HB_INPUT_CRASHED);
    runUntil(f, f->now + S(500), HB_INPUT_MISS);
    assert_int_equal(f->pings + f->restarts + f->stopped, 0);

    cfg.enabled = FALSE;
    hbEngineConfigure(f->engine, &cfg, TRUE, f->now, &a);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_DISABLED);
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(500), HB_INPUT_MISS);
    assert_int_equal(f->pings + f->restarts + f->stopped, 0);
}


static void
test_live_config_change(void **state)
{
    Fixture *f = *state;
    HbConfig cfg = f->cfg;
    HbActions a;
    gint64 last;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    last = hbEngineLastTick(f->engine);
    cfg.time = 4;
    cfg.rate = 4;
    hbEngineConfigure(f->engine, &cfg, TRUE, f->now, &a);
    collect(f, &a);
    f->ping_pending |= a.ping;
    assert_int_equal(hbEngineConfig(f->engine)->time, 4);
    /* The new, shorter block applies to the silence already under way. */
    runUntil(f, last + S(4), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
}


static void
test_own_destroy_keeps_episode(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(30), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    /* runUntil finished the attempt; start another one (after boot grace:
     * this guest never booted) and keep it in flight */
    runUntil(f, f->now + S(20) - 1, HB_INPUT_MISS);
    f->now += 1;
    assert_true(feed(f, HB_INPUT_TIMER).restart);
    feed(f, HB_INPUT_STOPPED);   /* destroy, part of action=restart */
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    feed(f, HB_INPUT_STARTED);
    feed(f, HB_INPUT_RESTART_DONE);
    assert_int_equal(hbEngineAttempts(f->engine), 2);
    /* A destroy outside any attempt is the user's will. */
    feed(f, HB_INPUT_STOPPED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_NOT_RUNNING);
    assert_int_equal(hbEngineAttempts(f->engine), 0);
}


static void
test_resync_gives_fresh_block(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    /* Blind for a minute: no timer ran. */
    f->now += S(60);
    feed(f, HB_INPUT_RESYNCED);
    feed(f, HB_INPUT_STARTED);   /* still running: not a new boot */
    assert_int_equal(f->stopped, 0);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_OK);
    runUntil(f, f->now + S(10) - 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 0);
    runUntil(f, f->now + 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
}


static void
test_shutdown_request_gets_grace(void **state)
{
    Fixture *f = *state;
    gint64 asked;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    asked = f->now;
    feed(f, HB_INPUT_SHUTDOWN_REQUESTED);
    /* The agent goes away while the guest shuts down: grace, then a block. */
    runUntil(f, asked + S(30) - 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 0);
    runUntil(f, asked + S(30), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
}


static void
test_memory_across_restarts(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakStorm);
    g_autoptr(HbEngine) again = NULL;
    g_auto(HbEngineMemory) memory = { 0 };
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    for (int i = 0; i < 3; i++) {
        runUntil(f, f->now + S(10), HB_INPUT_MISS);
        runUntil(f, f->now + S(1), HB_INPUT_TICK);
    }
    runUntil(f, f->now + S(10), HB_INPUT_MISS);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_FAILED);
    hbEngineRemember(f->engine, &memory);
    assert_true(memory.failed);
    assert_true(memory.storm_capped);
    assert_int_equal(memory.episode_starts->len, 2);

    /* A new daemon: the domain is still failed, and the cap still holds. */
    again = hbEngineNew(&f->cfg, TRUE, 0);
    hbEngineFeed(again, HB_INPUT_STARTED, f->now, &a);
    hbEngineRecall(again, &memory, f->now, &a);
    assert_int_equal(hbEngineState(again), HB_STATE_FAILED);
    assert_true(hbEngineStormCapped(again));
    hbEngineFeed(again, HB_INPUT_TICK, f->now + S(1), &a);
    assert_true(a.events & HB_EVENT_RESUMED);
    /* The pings asked from the tick on hang for a whole block. */
    hbEngineFeedPing(again, HB_PING_MISS, f->now + S(1), f->now + S(6), &a);
    assert_false(a.events & HB_EVENT_STOPPED);
    hbEngineFeedPing(again, HB_PING_MISS, f->now + S(6), f->now + S(11), &a);
    assert_true(a.events & HB_EVENT_STOPPED);
    assert_false(a.restart); /* the remembered episodes still count */

    teardown((void **) &f);
}


static void
test_backlog_is_no_verdict(void **state)
{
    Fixture *f = *state;
    gint64 last;
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    last = hbEngineLastTick(f->engine);
    /* The next ping waits 30 s in the daemon's own queue, then misses. */
    f->now = last + S(1);
    a = feed(f, HB_INPUT_TIMER);
    assert_true(a.ping);
    f->now = last + S(40);
    feed(f, HB_INPUT_TIMER);
    hbEngineFeedPing(f->engine, HB_PING_MISS, last + S(32), f->now, &a);
    collect(f, &a);
    f->ping_pending = a.ping;
    /* Judged: 1 s before it was asked, and of its 8 s in flight no more
     * than a call may take (5 s libvirt waits, and 1 s): not yet a block. */
    assert_int_equal(f->stopped, 0);
    assert_int_equal(hbEnginePings(f->engine, HB_PING_MISS), 1);
    runUntil(f, last + S(43) - 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 0);
    runUntil(f, last + S(43), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
}


static void
test_void_block_never_stops(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    /* libvirtd is busy, the lock is held, the connection drops: no verdict. */
    runUntil(f, f->now + S(100), HB_INPUT_PING_VOID);
    assert_int_equal(f->stopped, 0);
    assert_int_equal(f->restarts, 0);
    assert_int_equal(hbEnginePercentage(f->engine), 100);
    assert_true(hbEnginePings(f->engine, HB_PING_VOID) >= 90);
    /* Verdicts again: only their own block counts. */
    runUntil(f, f->now + S(10) - 1, HB_INPUT_MISS);
    assert_int_equal(f->stopped, 0);
    runUntil(f, f->now + S(2), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
}


static void
test_stale_restart_dropped(void **state)
{
    Fixture *f = *state;
    guint64 episode;
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    missFor(f, S(10));
    assert_int_equal(f->restarts, 1);
    episode = hbEngineEpisode(f->engine);
    assert_true(hbEngineEpisodeOpen(f->engine, episode));
    /* The guest answers before the queued restart has run. */
    hbEngineFeedPing(f->engine, HB_PING_TICK, f->now, f->now, &a);
    collect(f, &a);
    assert_int_equal(f->resumed, 1);
    assert_false(hbEngineEpisodeOpen(f->engine, episode));
    /* A new episode starts while that restart is still in flight: it waits. */
    missFor(f, S(10));
    assert_int_equal(f->stopped, 2);
    assert_int_equal(f->restarts, 1);
    assert_int_not_equal(hbEngineEpisode(f->engine), episode);
    /* The old one reports back, having reset the guest: it does not count
     * for the new episode, whose first attempt waits for that boot. */
    hbEngineRestartDone(f->engine, episode, HB_ATTEMPT_OK, f->now, &a);
    assert_false(a.restart);
    assert_int_equal(hbEngineAttempts(f->engine), 0);
    f->now += S(5);
    a = feed(f, HB_INPUT_TIMER);
    assert_true(a.restart);
    assert_int_equal(hbEngineAttempts(f->engine), 1);
}


static void
test_pacing_waits_for_learned_boot(void **state)
{
    Fixture *f = *state;
    HbActions a;
    gint64 done;

    /* This guest takes 15 s from start to its first tick. */
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(15), HB_INPUT_MISS);
    f->ping_pending = FALSE;
    feed(f, HB_INPUT_TICK);
    assert_int_equal(hbEngineBootTime(f->engine), S(15));
    runUntil(f, f->now + S(11), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    /* The reset takes 3 s; the next attempt waits 15 s + 7.5 s margin + a
     * 1 s ping interval from its end, capped at boot_grace (20 s), not
     * failure_interval (5 s) from the decision. */
    f->now += S(3);
    done = f->now;
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_OK, f->now, &a);
    assert_false(a.restart);
    f->ping_pending |= a.ping;
    runUntil(f, done + S(20) - 1, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    runUntil(f, done + S(20), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
    /* That boot was cut short after 20 s: it counts as one that long. */
    assert_int_equal(hbEngineBootTime(f->engine), S(20));
}


static void
tweakRestart(HbConfig *cfg)
{
    cfg->action = HB_ACTION_RESTART;
}


static void
test_restart_action_recovers_destroyed(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakRestart);
    HbActions a;

    feed(f, HB_INPUT_CRASHED);
    assert_int_equal(f->restarts, 1);
    /* Our destroy, then the create fails. */
    feed(f, HB_INPUT_STOPPED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_FAILED, f->now, &a);
    f->now += S(5);
    a = feed(f, HB_INPUT_TIMER);
    assert_true(a.restart);
    assert_true(a.start_if_off);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_FAILED, f->now, &a);
    /* The user starts it: a later shut-off is the user's again. */
    feed(f, HB_INPUT_STARTED);
    feed(f, HB_INPUT_STOPPED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_NOT_RUNNING);
    teardown((void **) &f);
}


/* The user destroys it while our destroy+start is under way: it stays off. */
static void
test_restart_action_respects_other_stop(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakRestart);
    HbActions a;

    feed(f, HB_INPUT_CRASHED);
    assert_int_equal(f->restarts, 1);
    /* The user's destroy comes first; ours then finds it shut off. */
    feed(f, HB_INPUT_STOPPED);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_FAILED, f->now, &a);
    feed(f, HB_INPUT_STOPPED_OTHER);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_NOT_RUNNING);
    f->now += S(60);
    a = feed(f, HB_INPUT_TIMER);
    assert_false(a.restart);
    assert_int_equal(f->restarts, 1);
    teardown((void **) &f);
}


static void
tweakObserve(HbConfig *cfg)
{
    cfg->action = HB_ACTION_OBSERVE;
}


/*
 * An observed attempt (action=observe, dry_run) counts, but no boot
 * follows it: no grace, no wait for this guest's learned boot time (15 s
 * here, which would pace an attempt that reset it 20 s). The next one
 * comes failure_interval (5 s) after it while the guest stays silent, and
 * the episode is exhausted after failure_attempts (3) as usual.
 */
static void
test_observed_attempt_no_boot(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakObserve);
    gint64 boot, done;

    f->attempt_result = HB_ATTEMPT_NO_BOOT;
    feed(f, HB_INPUT_STARTED);
    boot = hbEngineBoot(f->engine);
    runUntil(f, f->now + S(15), HB_INPUT_MISS);
    f->ping_pending = FALSE;
    feed(f, HB_INPUT_TICK);
    assert_int_equal(hbEngineBootTime(f->engine), S(15));
    runUntil(f, f->now + S(11), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    done = f->restart_at;
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    assert_int_equal(hbEngineBoot(f->engine), boot);
    runUntil(f, done + S(5) - 1, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    runUntil(f, done + S(5), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
    runUntil(f, done + S(10), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 3);
    assert_int_equal(f->exhausted, 0);
    runUntil(f, done + S(15), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 3);
    assert_int_equal(f->exhausted, 1);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_FAILED);
    assert_int_equal(hbEngineBoot(f->engine), boot);
    assert_int_equal(f->resumed, 0);
    teardown((void **) &f);
}


/* The heartbeat returns after an observed attempt: the episode closes. */
static void
test_observed_attempt_then_tick(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakObserve);

    f->attempt_result = HB_ATTEMPT_NO_BOOT;
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    runUntil(f, f->now + S(17), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    assert_int_equal(f->resumed, 1);
    assert_false(hbEngineEpisodeOpen(f->engine, hbEngineEpisode(f->engine)));
    assert_int_equal(hbEngineState(f->engine), HB_STATE_DEGRADED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    assert_int_equal(f->restarts, 2);
    teardown((void **) &f);
}


/*
 * Under dry_run an action=restart attempt destroys nothing: a stop of the
 * domain, even while the attempt is under way, is its user's and ends the
 * episode; it is not the episode's to start.
 */
static void
test_observed_restart_destroyed_nothing(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakRestart);
    HbActions a;

    f->attempt_result = HB_ATTEMPT_LAST;
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    runUntil(f, f->now + S(11), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    feed(f, HB_INPUT_STOPPED);
    assert_true(hbEngineEpisodeOpen(f->engine, hbEngineEpisode(f->engine)));
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NO_BOOT, f->now, &a);
    assert_false(hbEngineEpisodeOpen(f->engine, hbEngineEpisode(f->engine)));
    assert_int_equal(hbEngineState(f->engine), HB_STATE_NOT_RUNNING);
    f->now += S(60);
    a = feed(f, HB_INPUT_TIMER);
    assert_false(a.restart);
    assert_int_equal(f->restarts, 1);
    teardown((void **) &f);
}


static void
tweakLadder(HbConfig *cfg)
{
    cfg->action = HB_ACTION_LADDER;
    cfg->failure_attempts = 4;
    cfg->boot_grace = 0;
}


/*
 * action=ladder: the NMI of attempt 1 is followed by no boot, the reset of
 * attempt 2 by one, and from attempt 3 on each destroys and starts: its
 * own destroy, and a start that failed after it, keep the episode open,
 * and the next attempt starts the domain.
 */
static void
test_ladder_third_attempt_destroys(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakLadder);
    HbActions a;

    f->attempt_result = HB_ATTEMPT_LAST;
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    runUntil(f, f->now + S(11), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    assert_false(f->start_if_off);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NO_BOOT, f->now, &a);
    runUntil(f, f->now + S(5), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
    assert_false(f->start_if_off);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_OK, f->now, &a);
    runUntil(f, f->now + S(6), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 3);
    assert_true(f->start_if_off);
    /* Our destroy, then the start fails. */
    feed(f, HB_INPUT_STOPPED);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_FAILED, f->now, &a);
    assert_true(hbEngineEpisodeOpen(f->engine, hbEngineEpisode(f->engine)));
    f->now += S(5);
    a = feed(f, HB_INPUT_TIMER);
    assert_true(a.restart);
    assert_true(a.start_if_off);
    assert_int_equal(hbEngineAttempts(f->engine), 4);
    teardown((void **) &f);
}


/*
 * A reset that hangs (in QEMU, waiting for a frozen vCPU) is given up after
 * HB_ATTEMPT_HUNG_US when the next step destroys, which only a destroy can
 * get past; with action=reset it is waited for, as another reset would
 * only queue behind it.
 */
static void
test_hung_attempt_given_up_for_destroy(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakLadder);
    Fixture *r = fixtureNew(NULL);
    guint64 episode;
    guint attempt;
    HbActions a;
    gint64 asked;

    f->attempt_result = HB_ATTEMPT_LAST;
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    runUntil(f, f->now + S(11), HB_INPUT_MISS);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NO_BOOT, f->now, &a);
    runUntil(f, f->now + S(5), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
    assert_false(hbEngineHung(f->engine, &episode, &attempt));
    asked = f->restart_at;
    assert_int_equal(hbEngineNextDeadline(f->engine) <= asked + HB_ATTEMPT_HUNG_US, TRUE);
    runUntil(f, asked + HB_ATTEMPT_HUNG_US - 1, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
    f->now = asked + HB_ATTEMPT_HUNG_US;
    a = feed(f, HB_INPUT_TIMER);
    assert_true(a.events & HB_EVENT_ATTEMPT_HUNG);
    assert_true(a.restart);
    assert_true(a.start_if_off);
    assert_int_equal(hbEngineAttempts(f->engine), 3);
    assert_true(hbEngineHung(f->engine, &episode, &attempt));
    assert_int_equal(episode, hbEngineEpisode(f->engine));
    assert_int_equal(attempt, 2);
    teardown((void **) &f);

    r->attempt_result = HB_ATTEMPT_LAST;
    feed(r, HB_INPUT_STARTED);
    runUntil(r, r->now + S(1), HB_INPUT_TICK);
    runUntil(r, r->now + S(11), HB_INPUT_MISS);
    assert_int_equal(r->restarts, 1);
    runUntil(r, r->now + S(300), HB_INPUT_MISS);
    assert_int_equal(r->restarts, 1);
    assert_false(hbEngineHung(r->engine, &episode, &attempt));
    teardown((void **) &r);
}


static void
tweakLadderTwo(HbConfig *cfg)
{
    tweakLadder(cfg);
    cfg->failure_attempts = 2;
}


/*
 * With failure_attempts=2 the ladder's reset is its last attempt: no
 * destroy would follow, so a reset that hangs is waited for, not given up;
 * it is reported once, after HB_ATTEMPT_HUNG_US, as still waited for.
 */
static void
test_hung_last_attempt_waited_for(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakLadderTwo);
    guint64 episode;
    guint attempt;
    HbActions a;

    f->attempt_result = HB_ATTEMPT_LAST;
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    runUntil(f, f->now + S(11), HB_INPUT_MISS);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NO_BOOT, f->now, &a);
    runUntil(f, f->now + S(5), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
    assert_int_equal(hbEngineAttempts(f->engine), 2);
    runUntil(f, f->restart_at + HB_ATTEMPT_HUNG_US - 1, HB_INPUT_MISS);
    f->now = f->restart_at + HB_ATTEMPT_HUNG_US;
    a = feed(f, HB_INPUT_TIMER);
    assert_true(a.events & HB_EVENT_ATTEMPT_WAITING);
    assert_false(a.events & HB_EVENT_ATTEMPT_HUNG);
    assert_false(a.restart);
    /* Once: no deadline for it any more. */
    f->now += S(1);
    a = feed(f, HB_INPUT_TIMER);
    assert_false(a.events & HB_EVENT_ATTEMPT_WAITING);
    runUntil(f, f->restart_at + 2 * HB_ATTEMPT_HUNG_US, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
    assert_false(hbEngineHung(f->engine, &episode, &attempt));
    assert_int_equal(hbEngineAttempts(f->engine), 2);
    teardown((void **) &f);
}


static void
tweakLadderGrace(HbConfig *cfg)
{
    cfg->action = HB_ACTION_LADDER;
    cfg->failure_attempts = 4;
}


/*
 * The ladder's NMI does what it is for: the guest panics into kdump
 * (CRASHED_CRASHLOADED). The dump is not interrupted by the reset of
 * attempt 2 on the strength of the misses before it, nor by the misses of
 * the crash kernel; once the guest reboots, after boot grace, the ladder
 * goes on where it was.
 */
static void
test_ladder_nmi_kdump_not_interrupted(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakLadderGrace);
    HbActions a;

    f->attempt_result = HB_ATTEMPT_LAST;
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    runUntil(f, f->now + S(11), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NO_BOOT, f->now, &a);
    collect(f, &a);
    missFor(f, S(2));
    feed(f, HB_INPUT_CRASHLOADED);
    missFor(f, S(600));
    assert_int_equal(f->restarts, 1);
    assert_int_equal(hbEngineSuppressed(f->engine), HB_SUPPRESS_KDUMP);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    /* The dump written, the guest reboots and its agent never comes back. */
    feed(f, HB_INPUT_REBOOT);
    missFor(f, S(19));
    assert_int_equal(f->restarts, 1);
    missFor(f, S(3));
    assert_int_equal(f->restarts, 2);
    assert_int_equal(hbEngineAttempts(f->engine), 2);
    assert_false(f->start_if_off);
    teardown((void **) &f);
}


/*
 * Attempts that never reached the domain (libvirtd unreachable, its state
 * lock held) are not spent: the episode asks again after failure_interval,
 * and the count of attempts made never passes failure_attempts.
 */
static void
test_attempt_not_made_not_counted(void **state)
{
    Fixture *f = *state;
    HbActions a;

    feed(f, HB_INPUT_CRASHED);
    assert_int_equal(f->restarts, 1);
    for (int i = 0; i < 20; i++) {
        hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NOT_MADE,
                            f->now, &a);
        assert_false(a.restart);
        assert_int_equal(hbEngineAttempts(f->engine), 0);
        assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
        /* Not before failure_interval (5 s), and then at once. */
        assert_int_equal(hbEngineNextDeadline(f->engine), f->now + S(5));
        f->now += S(5) - 1;
        assert_false(feed(f, HB_INPUT_TIMER).restart);
        f->now += 1;
        assert_true(feed(f, HB_INPUT_TIMER).restart);
        assert_int_equal(hbEngineAttempts(f->engine), 1);
    }
    assert_int_equal(f->exhausted, 0);
    /* Attempts that were made count, up to failure_attempts (3). */
    for (guint made = 1; made <= 3; made++) {
        assert_int_equal(hbEngineAttempts(f->engine), made);
        hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_FAILED,
                            f->now, &a);
        f->now += S(5);
        a = feed(f, HB_INPUT_TIMER);
    }
    assert_int_equal(f->exhausted, 1);
    assert_int_equal(hbEngineAttempts(f->engine), 3);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_FAILED);
}


/*
 * What the host-wide breaker reads: silent from the first ping that
 * missed, while running; and attempts it holds (reported as not made)
 * are not spent, however long the hold: re-decided on a fresh miss after
 * failure_interval, and counted once the hold is over.
 */
static void
test_held_attempts_not_spent(void **state)
{
    Fixture *f = *state;
    gint64 first;
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    assert_false(hbEngineWatchedRunning(f->engine) && hbEngineSilentSince(f->engine));
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    assert_true(hbEngineWatchedRunning(f->engine));
    assert_int_equal(hbEngineSilentSince(f->engine), 0);
    first = f->now;
    missFor(f, S(1));
    /* One miss: silent since it was sent, long before any episode. */
    assert_int_equal(hbEngineSilentSince(f->engine), first);
    assert_int_equal(f->stopped, 0);
    missFor(f, S(10));
    assert_int_equal(f->stopped, 1);
    assert_int_equal(f->restarts, 1);
    for (int i = 0; i < 30; i++) {
        /* The breaker holds it: no call is made. */
        hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NOT_MADE,
                            f->now, &a);
        assert_false(a.restart);
        assert_int_equal(hbEngineAttempts(f->engine), 0);
        assert_int_equal(hbEngineSilentSince(f->engine), first);
        missFor(f, S(5));
    }
    assert_int_equal(f->exhausted, 0);
    assert_int_equal(f->restarts, 31);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    /* The hold is over: the attempts count from 1, up to failure_attempts. */
    for (guint made = 1; made <= 3; made++) {
        assert_int_equal(hbEngineAttempts(f->engine), made);
        hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_FAILED,
                            f->now, &a);
        missFor(f, S(5));
    }
    assert_int_equal(f->exhausted, 1);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_FAILED);
    assert_int_equal(hbEngineSilentSince(f->engine), first);
    /* Paused, or crashed: not a watched running guest, not silent. */
    feed(f, HB_INPUT_PAUSED);
    assert_false(hbEngineWatchedRunning(f->engine));
    assert_int_equal(hbEngineSilentSince(f->engine), 0);
    feed(f, HB_INPUT_CRASHED);
    assert_true(hbEngineCrashed(f->engine));
    assert_int_equal(hbEngineSilentSince(f->engine), 0);
}


/* An episode recalled after a daemon restart counts for the breaker once
 * its guest misses a ping of this daemon's, from that miss. */
static void
test_recalled_episode_silent_since_miss(void **state)
{
    Fixture *f = *state;
    g_auto(HbEngineMemory) memory = { 0 };
    gint64 first;
    HbActions a;

    memory.episode = 2;
    memory.open = TRUE;
    memory.attempts = 1;
    hbEngineRecall(f->engine, &memory, f->now, &a);
    feed(f, HB_INPUT_STARTED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    assert_true(hbEngineWatchedRunning(f->engine));
    assert_int_equal(hbEngineSilentSince(f->engine), 0);
    runUntil(f, f->now + S(21), HB_INPUT_TIMER);
    first = f->now;
    missFor(f, S(1));
    assert_int_equal(hbEngineSilentSince(f->engine), first);
}


/* libvirtd was out of sight: the open episode's next attempt waits for a
 * whole block of silence judged after the resync. */
static void
test_resync_needs_fresh_verdict(void **state)
{
    Fixture *f = *state;
    HbActions a;
    gint64 t;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    missFor(f, S(10));
    assert_int_equal(f->restarts, 1);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NOT_MADE,
                        f->now, &a);
    /* The pings before the outage missed; then nothing is known. */
    f->now += S(30);
    feed(f, HB_INPUT_RESYNCED);
    t = f->now;
    assert_false(feed(f, HB_INPUT_TIMER).restart);
    missFor(f, S(9));
    assert_int_equal(f->restarts, 1);
    missFor(f, S(1));
    assert_int_equal(f->restarts, 2);
    assert_true(f->now >= t + S(10));
    assert_int_equal(hbEngineAttempts(f->engine), 1);
}


/* A crashed guest whose first attempt was not made, started meanwhile by
 * someone else: it is judged on its new boot, not reset on the crash. */
static void
test_started_after_decision_judged_again(void **state)
{
    Fixture *f = *state;
    HbActions a;

    feed(f, HB_INPUT_CRASHED);
    assert_int_equal(f->restarts, 1);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NOT_MADE,
                        f->now, &a);
    f->now += S(1);
    feed(f, HB_INPUT_STARTED);
    /* Past failure_interval, in boot grace: nothing. */
    runUntil(f, f->now + S(15), HB_INPUT_TIMER);
    assert_int_equal(f->restarts, 1);
    /* It ticks: the episode is over. */
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    assert_int_equal(f->resumed, 1);
    assert_int_equal(f->restarts, 1);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_OK);
}


/* After a reset, a guest whose agent has not opened its port again may
 * still be booting, slowly on a loaded host: boot_grace before the next. */
static void
test_reset_waits_for_agent_or_grace(void **state)
{
    Fixture *f = *state;
    gint64 done;
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    missFor(f, S(10));
    assert_int_equal(f->restarts, 1);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_OK, f->now, &a);
    done = f->now;
    /* Its pings fail (no agent yet) all along: nothing before boot_grace (20 s). */
    missFor(f, S(20) - S(1));
    assert_int_equal(f->restarts, 1);
    missFor(f, S(1));
    assert_int_equal(f->restarts, 2);
    assert_int_equal(f->now, done + S(20));
}


/* The agent opening its port ends the silence so far: the block that
 * starts an episode counts from there. */
static void
test_agent_connect_restarts_silence(void **state)
{
    Fixture *f = *state;
    gint64 grace_end;

    feed(f, HB_INPUT_STARTED);
    grace_end = f->now + S(20);
    missFor(f, S(20) + S(9));
    assert_int_equal(f->stopped, 0);
    feed(f, HB_INPUT_AGENT_CONNECTED);
    missFor(f, S(9));
    assert_int_equal(f->stopped, 0);
    assert_true(f->now > grace_end + S(10));
    missFor(f, S(1));
    assert_int_equal(f->stopped, 1);
}


/* A guest that opens its agent port every 9 s and answers no ping: the
 * first opening ends the silence, the next ones do not (found in review). */
static void
test_agent_flapping_still_stops(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    for (int i = 0; i < 4 && f->stopped == 0; i++) {
        missFor(f, S(9));
        feed(f, HB_INPUT_AGENT_CONNECTED);
    }
    assert_int_equal(f->stopped, 1);
    assert_int_equal(f->restarts, 1);
}


/* An attempt not made destroyed nothing: a later destroy is the user's. */
static void
test_attempt_not_made_destroyed_nothing(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureNew(tweakRestart);
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    missFor(f, S(10));
    assert_int_equal(f->restarts, 1);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NOT_MADE,
                        f->now, &a);
    feed(f, HB_INPUT_STOPPED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_NOT_RUNNING);
    f->now += S(60);
    assert_false(feed(f, HB_INPUT_TIMER).restart);
    assert_int_equal(f->restarts, 1);
    teardown((void **) &f);
}


/*
 * <on_reboot>destroy: attempts destroy+start whatever the action. One whose
 * start failed leaves the domain destroyed by us, and the next starts it.
 */
static void
test_reset_stops_recovers_destroyed(void **state)
{
    Fixture *f = *state;
    HbActions a;

    hbEngineSetAttemptDestroys(f->engine, TRUE);
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    missFor(f, S(10));
    assert_int_equal(f->restarts, 1);
    /* Our destroy, then the start fails. */
    feed(f, HB_INPUT_STOPPED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_FAILED,
                        f->now, &a);
    f->now += S(5);
    a = feed(f, HB_INPUT_TIMER);
    assert_true(a.restart);
    assert_true(a.start_if_off);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_OK, f->now, &a);
    feed(f, HB_INPUT_STARTED);
    /* Started again: a later shut-off is the user's. */
    feed(f, HB_INPUT_STOPPED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_NOT_RUNNING);
}


static void
test_episode_survives_daemon_restart(void **state)
{
    Fixture *f = *state;
    g_autoptr(HbEngine) again = NULL;
    g_auto(HbEngineMemory) memory = { 0 };
    HbActions a;
    gint64 t;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    missFor(f, S(10));
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_OK, f->now, &a);
    feed(f, HB_INPUT_AGENT_CONNECTED);
    /* A second attempt only on a miss of the new boot's. */
    f->now += S(5);
    assert_false(feed(f, HB_INPUT_TIMER).restart);
    hbEngineFeedPing(f->engine, HB_PING_MISS, f->now - S(1), f->now, &a);
    collect(f, &a);
    assert_int_equal(f->restarts, 2);
    /* SIGKILL with attempt 2 in flight. */
    hbEngineRemember(f->engine, &memory);
    assert_true(memory.open);
    assert_true(memory.restart_in_flight);
    assert_int_equal(memory.attempts, 2);

    again = hbEngineNew(&f->cfg, TRUE, 0);
    t = f->now + S(1);
    hbEngineRecall(again, &memory, t, &a);
    assert_false(a.restart);
    assert_int_equal(hbEngineEpisode(again), hbEngineEpisode(f->engine));
    hbEngineFeed(again, HB_INPUT_RESYNCED, t, &a);
    hbEngineFeed(again, HB_INPUT_STARTED, t, &a);
    assert_false(a.restart);
    assert_int_equal(hbEngineState(again), HB_STATE_STOPPED);
    /* No attempt on the old verdict: boot grace (20 s) and a block first. */
    hbEngineFeed(again, HB_INPUT_TIMER, t + S(25), &a);
    assert_false(a.restart);
    hbEngineFeedPing(again, HB_PING_MISS, t + S(20), t + S(25), &a);
    assert_false(a.restart);
    hbEngineFeedPing(again, HB_PING_MISS, t + S(25), t + S(30), &a);
    assert_true(a.restart);
    assert_int_equal(hbEngineAttempts(again), 3);
    hbEngineRestartDone(again, hbEngineEpisode(again), HB_ATTEMPT_OK, t + S(30), &a);
    /* Exhausted only on a verdict of that boot too. */
    hbEngineFeed(again, HB_INPUT_TIMER, t + S(60), &a);
    assert_false(a.events & HB_EVENT_EXHAUSTED);
    hbEngineFeedPing(again, HB_PING_MISS, t + S(59), t + S(60), &a);
    assert_true(a.events & HB_EVENT_EXHAUSTED);
    assert_int_equal(hbEngineAttempts(again), 3);
}


static void
test_recovered_while_daemon_away(void **state)
{
    Fixture *f = *state;
    g_autoptr(HbEngine) again = NULL;
    g_auto(HbEngineMemory) memory = { 0 };
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    runUntil(f, f->now + S(11), HB_INPUT_MISS);
    feed(f, HB_INPUT_RESTART_DONE);
    hbEngineRemember(f->engine, &memory);
    again = hbEngineNew(&f->cfg, TRUE, 0);
    hbEngineRecall(again, &memory, f->now, &a);
    hbEngineFeed(again, HB_INPUT_STARTED, f->now, &a);
    hbEngineFeedPing(again, HB_PING_TICK, f->now + S(1), f->now + S(1), &a);
    assert_true(a.events & HB_EVENT_RESUMED);
    hbEngineFeed(again, HB_INPUT_TIMER, f->now + S(100), &a);
    assert_false(a.restart);
    assert_int_equal(hbEngineAttempts(again), 0);
}


/*
 * Times read back from a state file that lie in the future (a wall clock
 * stepped back while the daemon was down, a corrupt file) neither put off
 * the next attempt nor hold the storm cap for as long as the error.
 */
static void
test_recall_future_times(void **state)
{
    Fixture *f = *state;
    g_auto(HbEngineMemory) memory = { 0 };
    gint64 decade = S((gint64) 10 * 365 * 86400);
    HbActions a;

    memory.episode = 4;
    memory.open = TRUE;
    memory.attempts = 1;
    memory.next_attempt = f->now + decade;
    memory.episode_starts = g_array_new(FALSE, FALSE, sizeof(gint64));
    hbEngineRecall(f->engine, &memory, f->now, &a);
    feed(f, HB_INPUT_RESYNCED);
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(120), HB_INPUT_MISS);
    assert_true(f->restarts >= 1);
    hbEngineMemoryClear(&memory);
    teardown((void **) &f);

    /* One episode in the window caps; its start was saved "in the future". */
    f = fixtureNew(NULL);
    f->cfg.max_episodes = 1;
    f->cfg.episode_window = 60;
    hbEngineFree(f->engine);
    f->engine = hbEngineNew(&f->cfg, TRUE, 0);
    memory.episode_starts = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_array_append_val(memory.episode_starts, (gint64) { f->now + decade });
    hbEngineRecall(f->engine, &memory, f->now, &a);
    feed(f, HB_INPUT_RESYNCED);
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(120), HB_INPUT_TICK);
    runUntil(f, f->now + S(30), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
    assert_true(f->restarts >= 1);
    assert_int_not_equal(hbEngineState(f->engine), HB_STATE_FAILED);
    *state = f;
}


static void
test_crash_handled_by_libvirt(void **state)
{
    Fixture *f = *state;
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    /* on_crash=restart: libvirt resets and resumes it itself. */
    f->ping_pending = FALSE;
    a = feed(f, HB_INPUT_CRASH_HANDLED);
    assert_false(a.restart);
    f->now += S(1);
    feed(f, HB_INPUT_RESUMED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_WAITING);
    assert_int_equal(f->restarts, 0);
    assert_int_equal(f->stopped, 0);
    /* on_crash=destroy: the stop that follows is the crash to act on. */
    a = feed(f, HB_INPUT_CRASH_HANDLED);
    feed(f, HB_INPUT_CRASHED);
    assert_int_equal(f->restarts, 1);
    feed(f, HB_INPUT_RESTART_DONE);
    /* libvirt never carries out <on_crash>: the daemon acts after a wait. */
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    f->ping_pending = FALSE;
    feed(f, HB_INPUT_CRASH_HANDLED);
    runUntil(f, f->now + HB_CRASH_WAIT_US - 1, HB_INPUT_TIMER);
    assert_int_equal(f->stopped, 1);
    runUntil(f, f->now + 1, HB_INPUT_TIMER);
    assert_int_equal(f->stopped, 2);
    assert_int_equal(f->restarts, 2);
}


/*
 * Finding: libvirt carries out <on_crash>restart only after the 30 s the
 * daemon waits (a coredump-restart of a large guest). The daemon's attempt
 * found the domain busy; then libvirt's restart resumes the crashed domain:
 * a new boot, not a resume from a pause. It must get boot_grace and a miss
 * of its own before any reset.
 */
static void
test_late_on_crash_restart_is_a_boot(void **state)
{
    Fixture *f = *state;
    gint64 resumed;
    guint64 episode;
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    feed(f, HB_INPUT_AGENT_CONNECTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    f->ping_pending = FALSE;
    feed(f, HB_INPUT_CRASH_HANDLED);
    runUntil(f, f->now + HB_CRASH_WAIT_US, HB_INPUT_TIMER);
    assert_int_equal(f->restarts, 1);
    episode = hbEngineEpisode(f->engine);
    /* The domain is paused for the dump: nothing to be done, it counts. */
    f->now += S(1);
    hbEngineRestartDone(f->engine, episode, HB_ATTEMPT_FAILED, f->now, &a);
    collect(f, &a);
    /* The dump ends; libvirt restarts the guest through a resume. */
    f->now += S(14);
    resumed = f->now;
    feed(f, HB_INPUT_RESUMED);
    /* It boots: its agent is not up yet, every ping misses. */
    runUntil(f, resumed + S(f->cfg.boot_grace) - 1, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
}


/*
 * Finding: a guest paused right after our reset (a snapshot, a backup, a
 * migration) did not boot while paused. Resumed, it must not be reset on
 * the misses of before the pause and the time it was paused.
 */
static void
test_paused_time_is_no_boot_time(void **state)
{
    Fixture *f = *state;
    gint64 resumed;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    /* Hung: the silence of a block, the reset; it boots, its agent is not
     * up yet, pings miss for 3 s. */
    runUntil(f, f->now + S(10), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    runUntil(f, f->now + S(3), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    f->ping_pending = FALSE;
    feed(f, HB_INPUT_PAUSED);
    runUntil(f, f->now + S(60), HB_INPUT_TIMER);
    assert_int_equal(f->restarts, 1);
    resumed = f->now;
    feed(f, HB_INPUT_RESUMED);
    /* It goes on booting: no reset before a verdict of after the resume. */
    runUntil(f, resumed + S(1) - 1, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
}


/*
 * Finding (not fixed): action=restart, our destroy goes through, our start
 * starts the guest (its STARTED event comes while the attempt is in flight)
 * but the call reports a failure (its reply lost: libvirtd restarted, a
 * keepalive timeout). The guest runs, yet the episode still holds it as
 * left off by our destroy: when the user destroys it later, the next attempt
 * starts it again.
 */
static void
test_user_destroy_after_failed_start_that_started(void **state)
{
    Fixture *f = *state;
    HbActions a;

    f->cfg.action = HB_ACTION_RESTART;
    hbEngineConfigure(f->engine, &f->cfg, TRUE, f->now, &a);
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    f->ping_pending = FALSE;
    missFor(f, S(10));
    assert_int_equal(f->restarts, 1);
    feed(f, HB_INPUT_STOPPED);   /* our destroy */
    feed(f, HB_INPUT_STARTED);   /* our start, which went through */
    f->now += S(1);
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_FAILED,
                        f->now, &a);
    collect(f, &a);
    /* Running, not a tick yet; the user destroys it. */
    f->now += S(3);
    feed(f, HB_INPUT_STOPPED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_NOT_RUNNING);
    runUntil(f, f->now + S(60), HB_INPUT_TIMER);
    assert_int_equal(f->restarts, 1);
}


/*
 * Finding: a clean shutdown asked for through the daemon while an episode
 * is open. The guest, reset and booting, shuts down in its own time; the
 * episode's next attempt must not reset it meanwhile, against the user's
 * will: it waits boot_grace from the request, as an episode would.
 */
static void
test_shutdown_request_holds_open_episode(void **state)
{
    Fixture *f = *state;
    gint64 asked;

    f->agent_at_boot = TRUE;
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    runUntil(f, f->now + S(10), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    runUntil(f, f->now + S(2), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    asked = f->now;
    feed(f, HB_INPUT_SHUTDOWN_REQUESTED);
    runUntil(f, asked + S(f->cfg.boot_grace) - 1, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
}


/*
 * Finding: an attempt not made, and no verdict since (libvirtd refuses new
 * connections: the pings get none, while the monitor's connection stays up,
 * so no resync). The guest may have recovered meanwhile: the next attempt
 * waits for a miss of a ping sent after the one not made.
 */
static void
test_not_made_then_no_verdict(void **state)
{
    Fixture *f = *state;
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    f->ping_pending = FALSE;
    missFor(f, S(10));
    assert_int_equal(f->restarts, 1);
    f->ping_pending = TRUE; /* the slot missFor's last miss settled asked for one */
    hbEngineRestartDone(f->engine, hbEngineEpisode(f->engine), HB_ATTEMPT_NOT_MADE,
                        f->now, &a);
    collect(f, &a);
    runUntil(f, f->now + S(30), HB_INPUT_PING_VOID);
    assert_int_equal(f->restarts, 1);
    /* A verdict of after it: the guest is still hung. */
    runUntil(f, f->now + S(2), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 2);
}


/* Misses under a domain job are no verdict; once the job is over they count again. */
static void
test_job_suppresses_misses(void **state)
{
    Fixture *f = *state;
    gint64 since;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    assert_int_equal(hbEngineSuppressed(f->engine), HB_SUPPRESS_NONE);
    since = f->now;
    pingFor(f, S(100), HB_PING_SUPPRESSED);
    assert_int_equal(f->stopped, 0);
    assert_int_equal(hbEngineSuppressed(f->engine), HB_SUPPRESS_JOB);
    assert_int_equal(hbEngineSuppressedSince(f->engine), since);
    assert_int_equal(hbEnginePings(f->engine, HB_PING_SUPPRESSED), 100);
    assert_int_equal(hbEnginePings(f->engine, HB_PING_MISS), 0);
    /* No verdict keeps it, and so does another job ping: its start stays. */
    pingFor(f, S(3), HB_PING_VOID);
    pingFor(f, S(3), HB_PING_SUPPRESSED);
    assert_int_equal(hbEngineSuppressedSince(f->engine), since);
    assert_int_equal(f->stopped, 0);

    /* A miss with no job reported: the job is over, misses count again,
     * and a whole block of them (with the gap after the last tick) stops
     * the heartbeat. */
    pingFor(f, S(8), HB_PING_MISS);
    assert_int_equal(hbEngineSuppressed(f->engine), HB_SUPPRESS_NONE);
    assert_int_equal(hbEngineSuppressedSince(f->engine), 0);
    assert_int_equal(f->stopped, 0);
    pingFor(f, S(3), HB_PING_MISS);
    assert_int_equal(f->stopped, 1);
}


static void
test_tick_ends_job_suppression(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    pingFor(f, S(5), HB_PING_SUPPRESSED);
    feed(f, HB_INPUT_TIMER);
    feed(f, HB_INPUT_TICK);
    assert_int_equal(hbEngineSuppressed(f->engine), HB_SUPPRESS_NONE);
    /* A later job starts a suppression of its own, counted from its first miss. */
    f->now += S(1);
    pingFor(f, S(5), HB_PING_SUPPRESSED);
    assert_int_equal(hbEngineSuppressedSince(f->engine), f->now - S(5));
}


/* An open episode makes no attempt under a job on the strength of a miss
 * from before it; the first miss after the job is over does. */
static void
test_no_attempt_while_suppressed(void **state)
{
    Fixture *f = *state;
    gint64 t;

    f->agent_at_boot = TRUE;
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(1), HB_INPUT_TICK);
    t = hbEngineLastTick(f->engine) + S(10);
    runUntil(f, t, HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    runUntil(f, t + S(3), HB_INPUT_MISS);
    pingFor(f, S(60), HB_PING_SUPPRESSED);
    assert_int_equal(f->restarts, 1);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_STOPPED);
    pingFor(f, S(1), HB_PING_MISS);
    assert_int_equal(f->restarts, 2);
}


/* A job that never ends is judged again past its cap. */
static void
test_job_suppression_cap(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    pingFor(f, HB_SUPPRESS_JOB_CAP_US - S(1), HB_PING_SUPPRESSED);
    assert_int_equal(f->stopped, 0);
    assert_int_equal(hbEngineSuppressed(f->engine), HB_SUPPRESS_JOB);
    pingFor(f, S(2), HB_PING_SUPPRESSED);
    assert_int_equal(hbEngineSuppressed(f->engine), HB_SUPPRESS_NONE);
    assert_int_equal(f->stopped, 0);
    pingFor(f, S(10), HB_PING_SUPPRESSED);
    assert_int_equal(f->stopped, 1);
    assert_int_equal(f->restarts, 1);
    assert_true(hbEnginePings(f->engine, HB_PING_MISS) >= 10);
}


/* A crash kernel writes its dump: no verdict until the reboot that follows. */
static void
test_kdump_suppresses_until_reboot(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    feed(f, HB_INPUT_CRASHLOADED);
    assert_int_equal(hbEngineSuppressed(f->engine), HB_SUPPRESS_KDUMP);
    assert_int_equal(hbEngineSuppressedSince(f->engine), f->now);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_WAITING);
    missFor(f, S(600));
    assert_int_equal(f->stopped, 0);
    assert_true(hbEnginePings(f->engine, HB_PING_SUPPRESSED) >= 580);
    /* The guest reboots: boot grace, then the normal rules. */
    feed(f, HB_INPUT_REBOOT);
    assert_int_equal(hbEngineSuppressed(f->engine), HB_SUPPRESS_NONE);
    missFor(f, S(20) + S(9));
    assert_int_equal(f->stopped, 0);
    missFor(f, S(2));
    assert_int_equal(f->stopped, 1);
}


static void
test_kdump_suppression_cap(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    feed(f, HB_INPUT_CRASHLOADED);
    missFor(f, HB_SUPPRESS_KDUMP_CAP_US - S(1));
    assert_int_equal(f->stopped, 0);
    missFor(f, S(12));
    assert_int_equal(hbEngineSuppressed(f->engine), HB_SUPPRESS_NONE);
    assert_int_equal(f->stopped, 1);
}


/* A reboot the guest makes itself (REBOOT) is a new boot: boot grace, not silence. */
static void
test_guest_reboot_gets_boot_grace(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(25), HB_INPUT_TICK);
    feed(f, HB_INPUT_REBOOT);
    missFor(f, S(20) + S(9));
    assert_int_equal(f->stopped, 0);
    missFor(f, S(2));
    assert_int_equal(f->stopped, 1);
}


static void
test_suppress_names(void **state G_GNUC_UNUSED)
{
    assert_string_equal(hbSuppressToString(HB_SUPPRESS_NONE), "");
    assert_string_equal(hbSuppressToString(HB_SUPPRESS_JOB), "domain job");
    assert_string_equal(hbSuppressToString(HB_SUPPRESS_KDUMP), "kdump");
}


static HbActions
setMaintenance(Fixture *f, gint64 until)
{
    HbActions a;

    hbEngineSetMaintenance(f->engine, until, f->now, &a);
    collect(f, &a);
    if (a.ping)
        f->ping_pending = TRUE;
    return a;
}


/* A hung guest in a window: pinged, never acted on; at its end, grace then action. */
static void
test_maintenance_window(void **state)
{
    Fixture *f = *state;
    gint64 until;
    guint pings;
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(30), HB_INPUT_TICK);
    until = f->now + S(60);
    a = setMaintenance(f, until);
    assert_true(a.events & HB_EVENT_STATE_CHANGED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_MAINTENANCE);
    assert_int_equal(hbEngineMaintenanceUntil(f->engine), until);
    assert_false(hbEngineWatchedRunning(f->engine));
    pings = f->pings;
    runUntil(f, until - 1, HB_INPUT_MISS);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_MAINTENANCE);
    assert_int_equal(f->stopped, 0);
    assert_int_equal(f->restarts, 0);
    /* Pinged all along, for the percentage. */
    assert_true(f->pings >= pings + 59);
    assert_int_equal(hbEnginePercentage(f->engine), 0);
    /* The end is a deadline of its own: state changes at exactly until. */
    f->now = until;
    a = feed(f, HB_INPUT_TIMER);
    assert_true(a.events & HB_EVENT_STATE_CHANGED);
    assert_int_equal(hbEngineMaintenanceUntil(f->engine), 0);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_WAITING);
    /* Watched afresh: boot grace (20 s) and a block (10 s) before a stop. */
    runUntil(f, until + S(29), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 0);
    runUntil(f, until + S(31), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
    assert_int_equal(f->restarts, 1);
}


/* Without the window the engine would restart the guest: the test can fail. */
static void
test_maintenance_window_deadline(void **state)
{
    Fixture *f = *state;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    setMaintenance(f, f->now + S(3600));
    /* No ping slot in a disabled engine: the end is still its deadline. */
    f->cfg.enabled = FALSE;
    hbEngineConfigure(f->engine, &f->cfg, TRUE, f->now, &(HbActions) { 0 });
    assert_int_equal(hbEngineNextDeadline(f->engine), f->now + S(3600));
    assert_int_equal(hbEngineState(f->engine), HB_STATE_DISABLED);
}


/* A restart decided before the window is dropped; one in flight comes back stale. */
static void
test_maintenance_closes_episode(void **state)
{
    Fixture *f = *state;
    guint64 episode;
    HbActions a;

    f->attempt_result = HB_ATTEMPT_LAST;
    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(5), HB_INPUT_TICK);
    missFor(f, S(10));
    assert_int_equal(f->restarts, 1);
    episode = hbEngineEpisode(f->engine);
    assert_true(hbEngineEpisodeOpen(f->engine, episode));
    setMaintenance(f, f->now + S(600));
    assert_false(hbEngineEpisodeOpen(f->engine, episode));
    assert_int_equal(hbEngineState(f->engine), HB_STATE_MAINTENANCE);
    hbEngineRestartDone(f->engine, episode, HB_ATTEMPT_NOT_MADE, f->now, &a);
    collect(f, &a);
    assert_false(a.restart);
    missFor(f, S(300));
    feed(f, HB_INPUT_CRASHED);
    runUntil(f, f->now + S(200), HB_INPUT_MISS);
    assert_int_equal(f->restarts, 1);
    assert_int_equal(f->stopped, 1);
    assert_int_equal(hbEngineAttempts(f->engine), 0);
    /* A guest left crashed is acted on when the window ends, as a crash. */
    runUntil(f, f->now + S(100), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 2);
    assert_int_equal(f->restarts, 2);
}


/* Resume ends the window at once; a window already over changes nothing. */
static void
test_maintenance_resume(void **state)
{
    Fixture *f = *state;
    HbActions a;

    feed(f, HB_INPUT_STARTED);
    runUntil(f, f->now + S(30), HB_INPUT_TICK);
    /* After a daemon restart past its end: no window, no fresh start. */
    a = setMaintenance(f, f->now - S(1));
    assert_false(a.events & HB_EVENT_STATE_CHANGED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_OK);
    setMaintenance(f, f->now + S(600));
    runUntil(f, f->now + S(100), HB_INPUT_MISS);
    a = setMaintenance(f, 0);
    assert_true(a.events & HB_EVENT_STATE_CHANGED);
    assert_int_equal(hbEngineState(f->engine), HB_STATE_WAITING);
    runUntil(f, f->now + S(29), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 0);
    runUntil(f, f->now + S(2), HB_INPUT_MISS);
    assert_int_equal(f->stopped, 1);
}


/*
 * A window counted when the host booted with its clock in 2000 (no RTC,
 * NTP not yet in), for an end in 2026: 26 years on the monotonic clock.
 * Once NTP sets the clock right, it is counted again, to its real end;
 * a clock stepped past the end ends it; a clock moving with the monotonic
 * one changes nothing, and a window the engine ended is not begun again.
 */
static void
test_maintenance_clock_stepped(void **state G_GNUC_UNUSED)
{
    gint64 until = 1796090400;                  /* 2026-12-01T02:00:00Z */
    gint64 boot_real = S(946684800);            /* 2000-01-01, wrong */
    gint64 mono = S(20);
    gint64 end = hbEngineMaintenanceEnd(until, boot_real, mono);
    gint64 right = (until - 7200) * G_USEC_PER_SEC; /* two hours before the end */

    assert_true(end - mono > S(3600) * 24 * 365 * 26);
    /* Five minutes on, the clocks move together. */
    assert_false(hbEngineMaintenanceDrifted(end, until, boot_real + S(300), mono + S(300)));
    assert_false(hbEngineMaintenanceDrifted(end, until, boot_real + S(301), mono + S(300)));
    /* NTP steps the clock: counted again, two hours from now. */
    assert_true(hbEngineMaintenanceDrifted(end, until, right, mono + S(300)));
    assert_int_equal(hbEngineMaintenanceEnd(until, right, mono + S(300)), mono + S(7500));
    /* Stepped past the end: over now. */
    end = mono + S(7500);
    assert_true(hbEngineMaintenanceDrifted(end, until, right + S(9000), mono + S(400)));
    assert_int_equal(hbEngineMaintenanceEnd(until, right + S(9000), mono + S(400)), 0);
    /* Ended by the engine, or none: nothing to count again. */
    assert_false(hbEngineMaintenanceDrifted(0, until, right, mono + S(300)));
}


static void
test_state_names(void **state G_GNUC_UNUSED)
{
    for (int i = 0; i < HB_STATE_LAST; i++)
        assert_non_null(hbStateToString(i));
    assert_string_equal(hbStateToString(HB_STATE_NO_AGENT), "no-agent");
    assert_string_equal(hbStateToString(HB_STATE_MAINTENANCE), "maintenance");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthy_full_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintenance_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintenance_window_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintenance_closes_episode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintenance_resume, setup, teardown),
        cmocka_unit_test(test_maintenance_clock_stepped),
        cmocka_unit_test_setup_teardown(test_job_suppresses_misses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_ends_job_suppression, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_suppression_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_attempt_while_suppressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kdump_suppresses_until_reboot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kdump_suppression_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_reboot_gets_boot_grace, setup, teardown),
        cmocka_unit_test(test_suppress_names),
        cmocka_unit_test_setup_teardown(test_partial_block_percentage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_forgets_old_misses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_not_back_is_no_verdict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_at_exactly_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grace_ends_at_first_tick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grace_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempt_spacing_and_exhaustion, setup, teardown),
        cmocka_unit_test(test_no_attempts_exhausted_at_once),
        cmocka_unit_test_setup_teardown(test_agent_connect_needs_new_verdict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_booted_waits_boot_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_resumes_episode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_attempt_waits_for_restart_in_flight,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_starts_episode_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_stop_is_not_acted_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_counts_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_void_is_not_a_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reboot_deduplicated, setup, teardown),
        cmocka_unit_test(test_storm_cap),
        cmocka_unit_test_setup_teardown(test_rearm, setup, teardown),
        cmocka_unit_test(test_action_none_notifies_only),
        cmocka_unit_test_setup_teardown(test_no_agent_and_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_config_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_destroy_keeps_episode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resync_gives_fresh_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_request_gets_grace, setup, teardown),
        cmocka_unit_test(test_memory_across_restarts),
        cmocka_unit_test_setup_teardown(test_backlog_is_no_verdict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_void_block_never_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_restart_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pacing_waits_for_learned_boot, setup, teardown),
        cmocka_unit_test(test_restart_action_recovers_destroyed),
        cmocka_unit_test(test_restart_action_respects_other_stop),
        cmocka_unit_test_setup_teardown(test_attempt_not_made_not_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_attempts_not_spent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recalled_episode_silent_since_miss, setup, teardown),
        cmocka_unit_test(test_observed_attempt_no_boot),
        cmocka_unit_test(test_observed_attempt_then_tick),
        cmocka_unit_test(test_observed_restart_destroyed_nothing),
        cmocka_unit_test(test_ladder_third_attempt_destroys),
        cmocka_unit_test(test_hung_attempt_given_up_for_destroy),
        cmocka_unit_test(test_hung_last_attempt_waited_for),
        cmocka_unit_test(test_ladder_nmi_kdump_not_interrupted),
        cmocka_unit_test(test_attempt_not_made_destroyed_nothing),
        cmocka_unit_test_setup_teardown(test_resync_needs_fresh_verdict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_started_after_decision_judged_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_waits_for_agent_or_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_connect_restarts_silence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_flapping_still_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_stops_recovers_destroyed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_episode_survives_daemon_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovered_while_daemon_away, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recall_future_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_handled_by_libvirt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_on_crash_restart_is_a_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paused_time_is_no_boot_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_destroy_after_failed_start_that_started,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_request_holds_open_episode,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_made_then_no_verdict, setup, teardown),
        cmocka_unit_test(test_state_names),
    };

    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
