/*
 * The host-wide circuit breaker against a fake clock.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-breaker.h"

#define S(x) ((gint64) (x) * G_USEC_PER_SEC)

typedef struct {
    HbBreaker breaker;
    GArray *stops;      /* HbBreakerStop */
    gint64 now;
    guint watched;
    gint64 window;
} Fixture;


static int
setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);
    HbBreakerConf conf;

    hbBreakerConfInit(&conf);
    conf.hold = 60;
    hbBreakerInit(&f->breaker, &conf);
    f->stops = g_array_new(FALSE, FALSE, sizeof(HbBreakerStop));
    f->now = S(1000);
    f->watched = 5;
    f->window = S(20);
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    Fixture *f = *state;

    g_array_unref(f->stops);
    g_free(f);
    return 0;
}


/* The guest numbered @who stopped at @since. */
static void
stop(Fixture *f, guint who, gint64 since)
{
    HbBreakerStop s = { .since = since, .who = GUINT_TO_POINTER(who) };

    g_array_append_val(f->stops, s);
}


/* The guest numbered @who is back. */
static void
back(Fixture *f, guint who)
{
    for (guint i = 0; i < f->stops->len; i++) {
        if (g_array_index(f->stops, HbBreakerStop, i).who == GUINT_TO_POINTER(who)) {
            g_array_remove_index(f->stops, i);
            return;
        }
    }
    fail_msg("guest %u was not stopped", who);
}


static HbBreakerChange
update(Fixture *f)
{
    return hbBreakerUpdate(&f->breaker, f->stops, f->watched, f->window, f->now, NULL);
}


static void
test_threshold_and_minimum(void **state)
{
    Fixture *f = *state;
    const HbBreakerConf *conf = &f->breaker.conf;

    /* More than 50 %, and at least 4. */
    assert_false(hbBreakerTrips(conf, 3, 5));
    assert_true(hbBreakerTrips(conf, 4, 5));
    assert_false(hbBreakerTrips(conf, 4, 8));
    assert_true(hbBreakerTrips(conf, 5, 8));
    assert_false(hbBreakerTrips(conf, 3, 3));
    assert_false(hbBreakerTrips(conf, 0, 0));

    for (guint i = 1; i <= 3; i++)
        stop(f, i, f->now - S(i));
    assert_int_equal(update(f), HB_BREAKER_SAME);
    assert_int_equal(f->breaker.state, HB_BREAKER_CLOSED);
    assert_false(hbBreakerHolds(&f->breaker, FALSE));
    stop(f, 4, f->now);
    assert_int_equal(update(f), HB_BREAKER_SUSPECTED);
    assert_int_equal(f->breaker.state, HB_BREAKER_HOLDING);
    assert_true(hbBreakerHolds(&f->breaker, FALSE));
    assert_int_equal(f->breaker.stopped, 4);
    assert_int_equal(f->breaker.watched, 5);
}


static void
test_share_100_never_trips(void **state)
{
    Fixture *f = *state;
    HbBreakerConf conf = f->breaker.conf;

    conf.share = 100;
    hbBreakerInit(&f->breaker, &conf);
    for (guint i = 1; i <= 5; i++)
        stop(f, i, f->now);
    assert_int_equal(update(f), HB_BREAKER_SAME);
    assert_false(hbBreakerHolds(&f->breaker, FALSE));
}


/* Stops further apart than the window are not one host event. */
static void
test_window(void **state)
{
    Fixture *f = *state;
    g_autoptr(GPtrArray) in = g_ptr_array_new();

    f->watched = 8;
    /* Two long dead guests, then four at once: 4 of 8 is not more than half. */
    stop(f, 1, f->now - S(3600));
    stop(f, 2, f->now - S(1800));
    for (guint i = 3; i <= 6; i++)
        stop(f, i, f->now - S(i));
    assert_int_equal(update(f), HB_BREAKER_SAME);
    assert_int_equal(f->breaker.stopped, 4);
    /* A fifth within the window of the four: it trips, and says who. */
    stop(f, 7, f->now - S(30));
    assert_int_equal(update(f), HB_BREAKER_SAME);
    stop(f, 8, f->now);
    assert_int_equal(hbBreakerUpdate(&f->breaker, f->stops, f->watched, f->window, f->now, in),
                     HB_BREAKER_SUSPECTED);
    assert_int_equal(in->len, 5);
    for (guint i = 0; i < in->len; i++) {
        guint who = GPOINTER_TO_UINT(in->pdata[i]);
        assert_true(who >= 3 && who <= 8 && who != 7);
    }
    /* The window bounds the spread of the stops, not their age. */
    f->now += S(3600);
    assert_int_equal(update(f), HB_BREAKER_CLEARED);
    assert_int_equal(f->breaker.state, HB_BREAKER_EXPIRED);
}


static void
test_cleared_when_guests_back(void **state)
{
    Fixture *f = *state;
    g_autofree char *suspected = NULL;
    g_autofree char *cleared = NULL;

    for (guint i = 1; i <= 4; i++)
        stop(f, i, f->now);
    assert_int_equal(update(f), HB_BREAKER_SUSPECTED);
    suspected = hbBreakerReason(&f->breaker);
    assert_string_equal(suspected, "4 of 5 watched guests stopped within 20 s: host suspected "
                        "(storage stall or CPU steal); restart attempts held for up to 60 s");
    f->now += S(30);
    assert_int_equal(update(f), HB_BREAKER_SAME);
    back(f, 2);
    assert_int_equal(update(f), HB_BREAKER_CLEARED);
    assert_int_equal(f->breaker.state, HB_BREAKER_CLOSED);
    assert_false(hbBreakerHolds(&f->breaker, FALSE));
    assert_int_equal(hbBreakerDeadline(&f->breaker), G_MAXINT64);
    cleared = hbBreakerReason(&f->breaker);
    assert_string_equal(cleared, "guests back: 3 of 5 watched guests stopped within 20 s");
    /* Stopped again, within the window of the others: held again, for a
     * whole host_hold from now. */
    f->now += S(5);
    stop(f, 2, f->now - S(25));
    assert_int_equal(update(f), HB_BREAKER_SUSPECTED);
    assert_int_equal(hbBreakerDeadline(&f->breaker), f->now + S(60));
}


/* Held host_hold at most; then the normal rules until the guests come back. */
static void
test_hold_expires(void **state)
{
    Fixture *f = *state;
    gint64 t0 = f->now;
    g_autofree char *reason = NULL;

    for (guint i = 1; i <= 5; i++)
        stop(f, i, f->now);
    assert_int_equal(update(f), HB_BREAKER_SUSPECTED);
    assert_int_equal(hbBreakerDeadline(&f->breaker), t0 + S(60));
    f->now = t0 + S(60) - 1;
    assert_int_equal(update(f), HB_BREAKER_SAME);
    assert_true(hbBreakerHolds(&f->breaker, FALSE));
    f->now = t0 + S(60);
    assert_int_equal(update(f), HB_BREAKER_CLEARED);
    assert_int_equal(f->breaker.state, HB_BREAKER_EXPIRED);
    assert_false(hbBreakerHolds(&f->breaker, FALSE));
    assert_int_equal(hbBreakerDeadline(&f->breaker), G_MAXINT64);
    reason = hbBreakerReason(&f->breaker);
    assert_string_equal(reason, "host_hold passed (60 s) with 5 of 5 watched guests stopped: "
                        "the normal rules apply");
    /* Still stopped: it does not trip again, nothing is held. */
    f->now += S(600);
    assert_int_equal(update(f), HB_BREAKER_SAME);
    assert_false(hbBreakerHolds(&f->breaker, FALSE));
    /* Back quietly; a new stall trips it anew. */
    back(f, 1);
    back(f, 2);
    assert_int_equal(update(f), HB_BREAKER_SAME);
    assert_int_equal(f->breaker.state, HB_BREAKER_CLOSED);
    stop(f, 1, f->now);
    stop(f, 2, f->now);
    /* The three still stopped are an hour older: not in the same window. */
    assert_int_equal(update(f), HB_BREAKER_SAME);
    for (guint i = 3; i <= 5; i++) {
        back(f, i);
        stop(f, i, f->now);
    }
    assert_int_equal(update(f), HB_BREAKER_SUSPECTED);
}


/*
 * Guests started during a hold (autostart, an HA manager's replacements)
 * are in boot grace, not back: they do not dilute the share of the
 * stopped ones until the hold clears by itself. Guests that go away
 * count as stopped (who went is not known): they keep the hold until
 * the stopped ones come back.
 */
static void
test_new_guests_do_not_clear(void **state)
{
    Fixture *f = *state;

    f->watched = 8;
    for (guint i = 1; i <= 5; i++)
        stop(f, i, f->now);
    assert_int_equal(update(f), HB_BREAKER_SUSPECTED);
    f->now += S(10);
    f->watched = 11;
    assert_int_equal(update(f), HB_BREAKER_SAME);
    assert_true(hbBreakerHolds(&f->breaker, FALSE));
    /* Three guests that were not stopped are shut off. */
    f->watched = 5;
    assert_int_equal(update(f), HB_BREAKER_SAME);
    assert_true(hbBreakerHolds(&f->breaker, FALSE));
    /* Two back: 3 stopped and 3 gone of 8 still hold. */
    back(f, 1);
    back(f, 2);
    assert_int_equal(update(f), HB_BREAKER_SAME);
    /* Every stopped one back for real: cleared. */
    back(f, 3);
    back(f, 4);
    back(f, 5);
    assert_int_equal(update(f), HB_BREAKER_CLEARED);
    assert_false(hbBreakerHolds(&f->breaker, FALSE));
}


/* A crash is no host doubt: its attempt is never held. */
static void
test_crash_not_held(void **state)
{
    Fixture *f = *state;

    for (guint i = 1; i <= 4; i++)
        stop(f, i, f->now);
    assert_int_equal(update(f), HB_BREAKER_SUSPECTED);
    assert_true(hbBreakerHolds(&f->breaker, FALSE));
    assert_false(hbBreakerHolds(&f->breaker, TRUE));
}


static void
test_state_names(void **state G_GNUC_UNUSED)
{
    assert_string_equal(hbBreakerStateToString(HB_BREAKER_HOLDING), "holding");
    assert_int_equal(hbBreakerStateFromString("expired"), HB_BREAKER_EXPIRED);
    assert_null(hbBreakerStateToString(HB_BREAKER_LAST));
}


/*
 * Stopped guests that leave the watched set during a hold (paused by an
 * I/O error of the stalled storage, or destroyed by their admin) have not
 * come back: they count as still stopped, so the hold does not clear for
 * the guests still stalled; it does once those come back.
 */
static void
test_stopped_guests_leaving_do_not_clear(void **state)
{
    Fixture *f = *state;

    f->watched = 10;
    for (guint i = 1; i <= 6; i++)
        stop(f, i, f->now);
    assert_int_equal(update(f), HB_BREAKER_SUSPECTED);
    /* Three of the stalled guests pause on EIO: neither watched nor stopped. */
    back(f, 1);
    back(f, 2);
    back(f, 3);
    f->watched = 7;
    f->now += S(10);
    assert_int_equal(update(f), HB_BREAKER_SAME);
    assert_true(hbBreakerHolds(&f->breaker, FALSE));
    /* The other three come back: cleared, though the three gone never did. */
    back(f, 4);
    back(f, 5);
    back(f, 6);
    f->now += S(1);
    assert_int_equal(update(f), HB_BREAKER_CLEARED);
    assert_false(hbBreakerHolds(&f->breaker, FALSE));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threshold_and_minimum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_100_never_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleared_when_guests_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_guests_do_not_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_guests_leaving_do_not_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_not_held, setup, teardown),
        cmocka_unit_test(test_state_names),
    };

    return cmocka_run_group_tests_name("breaker", tests, NULL, NULL);
}
