/*
 * Many deadlines on one source: order, replacement, unsetting, and an
 * item that sets a past deadline while it runs.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-timers.h"
#include "test-util.h"

typedef struct {
    HbTimer timer;
    int id;
    int again;         /* set a deadline already past this many times more */
} Item;

static GArray *fired;  /* ids, in the order they fired */
static HbTimers *timers;


static void
onFire(gpointer data)
{
    Item *item = data;

    assert_null(item->timer.iter);  /* unset before it runs */
    g_array_append_val(fired, item->id);
    if (item->again > 0) {
        item->again--;
        hbTimerSet(timers, &item->timer, g_get_monotonic_time() - 1000, item);
    }
}


static int
setup(void **state G_GNUC_UNUSED)
{
    fired = g_array_new(FALSE, FALSE, sizeof(int));
    timers = hbTimersNew(onFire);
    return 0;
}


static int
teardown(void **state G_GNUC_UNUSED)
{
    hbTimersFree(timers);
    g_array_unref(fired);
    return 0;
}


static gboolean
condFired(gpointer data)
{
    return fired->len >= GPOINTER_TO_UINT(data);
}


static void
test_order(void **state G_GNUC_UNUSED)
{
    gint64 now = g_get_monotonic_time();
    Item items[5] = { { .id = 0 }, { .id = 1 }, { .id = 2 }, { .id = 3 }, { .id = 4 } };

    hbTimerSet(timers, &items[0].timer, now + 300000, &items[0]);
    hbTimerSet(timers, &items[1].timer, now + 100000, &items[1]);
    hbTimerSet(timers, &items[2].timer, now + 200000, &items[2]);
    /* Equal deadlines fire in the order they were set. */
    hbTimerSet(timers, &items[3].timer, now + 200000, &items[3]);
    /* Moved later, then unset: it never fires. */
    hbTimerSet(timers, &items[4].timer, now + 50000, &items[4]);
    hbTimerSet(timers, &items[4].timer, now + 250000, &items[4]);
    hbTimerSet(timers, &items[4].timer, -1, &items[4]);
    assert_null(items[4].timer.iter);
    /* The first one moved earlier still fires first. */
    hbTimerSet(timers, &items[0].timer, now + 10000, &items[0]);

    assert_true(testWaitFor(condFired, GUINT_TO_POINTER(4), 10));
    testSpin(100);
    assert_int_equal(fired->len, 4);
    assert_int_equal(g_array_index(fired, int, 0), 0);
    assert_int_equal(g_array_index(fired, int, 1), 1);
    assert_int_equal(g_array_index(fired, int, 2), 2);
    assert_int_equal(g_array_index(fired, int, 3), 3);
}


/* An item that keeps setting a past deadline fires once per main-loop
 * iteration, never in a loop of its own that starves other sources. */
static void
test_past_deadline(void **state G_GNUC_UNUSED)
{
    Item item = { .id = 7, .again = 5 };

    hbTimerSet(timers, &item.timer, g_get_monotonic_time() - 1000, &item);
    g_main_context_iteration(NULL, TRUE);
    assert_int_equal(fired->len, 1);
    assert_true(testWaitFor(condFired, GUINT_TO_POINTER(6), 10));
    testSpin(50);
    assert_int_equal(fired->len, 6);
    assert_null(item.timer.iter);
}


/* Freed with timers set: none fires, and they are left unset. */
static void
test_free_pending(void **state G_GNUC_UNUSED)
{
    Item item = { .id = 9 };

    hbTimerSet(timers, &item.timer, g_get_monotonic_time() + 1000000, &item);
    hbTimersFree(timers);
    assert_null(item.timer.iter);
    timers = hbTimersNew(onFire);
    testSpin(50);
    assert_int_equal(fired->len, 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_past_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_pending, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
