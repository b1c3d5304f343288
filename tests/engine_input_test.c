/*
 * libvirt's states and events as engine inputs: every state with every
 * reason, every event with every detail this libvirt defines, and values
 * past them, against a table of what each stands for.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-engine-input.h"

/* In a row: every reason (detail) of its state (event) without a row of its own. */
#define ANY -1

typedef struct {
    int what;           /* virDomainState or virDomainEventType */
    int why;            /* its reason or detail, or ANY */
    HbInput input;      /* <on_crash>preserve */
    HbInput handled;    /* <on_crash> destroy or restart */
} Row;

static const Row stateRows[] = {
    { VIR_DOMAIN_NOSTATE, ANY, HB_INPUT_TIMER, HB_INPUT_TIMER },
    { VIR_DOMAIN_RUNNING, ANY, HB_INPUT_STARTED, HB_INPUT_STARTED },
    { VIR_DOMAIN_BLOCKED, ANY, HB_INPUT_STARTED, HB_INPUT_STARTED },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_CRASHED, HB_INPUT_CRASHED, HB_INPUT_CRASH_HANDLED },
    { VIR_DOMAIN_PAUSED, ANY, HB_INPUT_PAUSED, HB_INPUT_PAUSED },
    { VIR_DOMAIN_SHUTDOWN, ANY, HB_INPUT_TIMER, HB_INPUT_TIMER },
    /* Shut off already: nothing is left for libvirt's <on_crash> to do. */
    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED, HB_INPUT_CRASHED, HB_INPUT_CRASHED },
    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_FAILED, HB_INPUT_CRASHED, HB_INPUT_CRASHED },
    { VIR_DOMAIN_SHUTOFF, ANY, HB_INPUT_STOPPED, HB_INPUT_STOPPED },
    { VIR_DOMAIN_CRASHED, ANY, HB_INPUT_CRASHED, HB_INPUT_CRASH_HANDLED },
    { VIR_DOMAIN_PMSUSPENDED, ANY, HB_INPUT_PAUSED, HB_INPUT_PAUSED },
};

/* The reasons libvirt defines for each state; 0: a state this table does not know. */
static const int stateReasons[VIR_DOMAIN_LAST] = {
    [VIR_DOMAIN_NOSTATE] = VIR_DOMAIN_NOSTATE_LAST,
    [VIR_DOMAIN_RUNNING] = VIR_DOMAIN_RUNNING_LAST,
    [VIR_DOMAIN_BLOCKED] = VIR_DOMAIN_BLOCKED_LAST,
    [VIR_DOMAIN_PAUSED] = VIR_DOMAIN_PAUSED_LAST,
    [VIR_DOMAIN_SHUTDOWN] = VIR_DOMAIN_SHUTDOWN_LAST,
    [VIR_DOMAIN_SHUTOFF] = VIR_DOMAIN_SHUTOFF_LAST,
    [VIR_DOMAIN_CRASHED] = VIR_DOMAIN_CRASHED_LAST,
    [VIR_DOMAIN_PMSUSPENDED] = VIR_DOMAIN_PMSUSPENDED_LAST,
};

static const Row eventRows[] = {
    { VIR_DOMAIN_EVENT_DEFINED, ANY, HB_INPUT_TIMER, HB_INPUT_TIMER },
    { VIR_DOMAIN_EVENT_UNDEFINED, ANY, HB_INPUT_TIMER, HB_INPUT_TIMER },
    { VIR_DOMAIN_EVENT_STARTED, ANY, HB_INPUT_STARTED, HB_INPUT_STARTED },
    { VIR_DOMAIN_EVENT_SUSPENDED, ANY, HB_INPUT_PAUSED, HB_INPUT_PAUSED },
    { VIR_DOMAIN_EVENT_RESUMED, ANY, HB_INPUT_RESUMED, HB_INPUT_RESUMED },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED,
      HB_INPUT_CRASHED, HB_INPUT_CRASHED },
    { VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED,
      HB_INPUT_CRASHED, HB_INPUT_CRASHED },
    { VIR_DOMAIN_EVENT_STOPPED, ANY, HB_INPUT_STOPPED, HB_INPUT_STOPPED },
    { VIR_DOMAIN_EVENT_SHUTDOWN, ANY, HB_INPUT_TIMER, HB_INPUT_TIMER },
    { VIR_DOMAIN_EVENT_PMSUSPENDED, ANY, HB_INPUT_PAUSED, HB_INPUT_PAUSED },
    /* Waited for when libvirt carries out <on_crash>: the stop or resume says more. */
    { VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED,
      HB_INPUT_CRASHED, HB_INPUT_CRASH_HANDLED },
    /* A crash kernel runs: the guest reboots itself. */
    { VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_CRASHLOADED,
      HB_INPUT_CRASHLOADED, HB_INPUT_CRASHLOADED },
    { VIR_DOMAIN_EVENT_CRASHED, ANY, HB_INPUT_CRASHED, HB_INPUT_CRASHED },
};

static const int eventDetails[VIR_DOMAIN_EVENT_LAST] = {
    [VIR_DOMAIN_EVENT_DEFINED] = VIR_DOMAIN_EVENT_DEFINED_LAST,
    [VIR_DOMAIN_EVENT_UNDEFINED] = VIR_DOMAIN_EVENT_UNDEFINED_LAST,
    [VIR_DOMAIN_EVENT_STARTED] = VIR_DOMAIN_EVENT_STARTED_LAST,
    [VIR_DOMAIN_EVENT_SUSPENDED] = VIR_DOMAIN_EVENT_SUSPENDED_LAST,
    [VIR_DOMAIN_EVENT_RESUMED] = VIR_DOMAIN_EVENT_RESUMED_LAST,
    [VIR_DOMAIN_EVENT_STOPPED] = VIR_DOMAIN_EVENT_STOPPED_LAST,
    [VIR_DOMAIN_EVENT_SHUTDOWN] = VIR_DOMAIN_EVENT_SHUTDOWN_LAST,
    [VIR_DOMAIN_EVENT_PMSUSPENDED] = VIR_DOMAIN_EVENT_PMSUSPENDED_LAST,
    [VIR_DOMAIN_EVENT_CRASHED] = VIR_DOMAIN_EVENT_CRASHED_LAST,
};

typedef HbInput (*MapFunc)(int what, int why, gboolean crash_handled);


/* The row for @what and @why: its own, else its ANY row. */
static const Row *
findRow(const Row *rows, gsize n, int what, int why)
{
    const Row *any = NULL;

    for (gsize i = 0; i < n; i++) {
        if (rows[i].what != what)
            continue;
        if (rows[i].why == why)
            return &rows[i];
        if (rows[i].why == ANY)
            any = &rows[i];
    }
    if (!any)
        fail_msg("no row for %d/%d", what, why);
    return any;
}


static void
checkOne(MapFunc map, const Row *row, int what, int why)
{
    HbInput input = map(what, why, FALSE);
    HbInput handled = map(what, why, TRUE);

    if (input != row->input || handled != row->handled)
        fail_msg("%d/%d: inputs %d/%d, want %d/%d", what, why, input, handled,
                 row->input, row->handled);
}


/*
 * Every value libvirt defines, and the first values past its reasons
 * (a newer libvirt's), which map as the other reasons of their state do.
 */
static void
checkAll(MapFunc map, const Row *rows, gsize n, const int *whys, int last)
{
    for (int what = 0; what < last; what++) {
        if (whys[what] <= 0)
            fail_msg("%d: a value this test does not know; add its reasons and rows", what);
        for (int why = 0; why <= whys[what] + 1; why++)
            checkOne(map, findRow(rows, n, what, why), what, why);
    }
    /* Every row is about a value that exists. */
    for (gsize i = 0; i < n; i++) {
        assert_true(rows[i].what >= 0 && rows[i].what < last);
        assert_true(rows[i].why == ANY ||
                    (rows[i].why >= 0 && rows[i].why < whys[rows[i].what]));
    }
}


static void
test_every_state_and_reason(void **state G_GNUC_UNUSED)
{
    checkAll(hbEngineInputForState, stateRows, G_N_ELEMENTS(stateRows), stateReasons,
             VIR_DOMAIN_LAST);
}


static void
test_every_event_and_detail(void **state G_GNUC_UNUSED)
{
    checkAll(hbEngineInputForEvent, eventRows, G_N_ELEMENTS(eventRows), eventDetails,
             VIR_DOMAIN_EVENT_LAST);
}


/* States and events past this libvirt's (a newer libvirtd's) say nothing. */
static void
test_unknown_values_say_nothing(void **state G_GNUC_UNUSED)
{
    const int unknown[] = { -1, 1000, G_MAXINT };

    for (gsize i = 0; i < G_N_ELEMENTS(unknown); i++) {
        for (int handled = 0; handled <= 1; handled++) {
            assert_int_equal(hbEngineInputForState(unknown[i], 0, handled), HB_INPUT_TIMER);
            assert_int_equal(hbEngineInputForEvent(unknown[i], 0, handled), HB_INPUT_TIMER);
        }
    }
    assert_int_equal(hbEngineInputForState(VIR_DOMAIN_LAST, 0, FALSE), HB_INPUT_TIMER);
    assert_int_equal(hbEngineInputForEvent(VIR_DOMAIN_EVENT_LAST, 0, FALSE), HB_INPUT_TIMER);
}


static void
test_every_probe_result(void **state G_GNUC_UNUSED)
{
    static const HbPing want[HB_PROBE_LAST] = {
        [HB_PROBE_OK] = HB_PING_TICK,
        [HB_PROBE_MISS] = HB_PING_MISS,
        [HB_PROBE_VOID] = HB_PING_VOID,
        [HB_PROBE_SUPPRESSED] = HB_PING_SUPPRESSED,
    };

    for (int probe = 0; probe < HB_PROBE_LAST; probe++)
        assert_int_equal(hbEngineInputForProbe(probe), want[probe]);
    /* Anything else is no verdict, never a tick. */
    assert_int_equal(hbEngineInputForProbe(HB_PROBE_LAST), HB_PING_VOID);
    assert_int_equal(hbEngineInputForProbe((HbProbeResult) 99), HB_PING_VOID);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_state_and_reason),
        cmocka_unit_test(test_every_event_and_detail),
        cmocka_unit_test(test_unknown_values_say_nothing),
        cmocka_unit_test(test_every_probe_result),
    };

    return cmocka_run_group_tests_name("engine_input", tests, NULL, NULL);
}
