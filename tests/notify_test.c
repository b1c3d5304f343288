/*
 * sd_notify as systemd sees it: a datagram socket of the test's own as
 * NOTIFY_SOCKET, every message read back.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hb-notify.h"
#include "test-util.h"

typedef struct {
    char *dir;
    char *path;
    int fd;
    GPtrArray *got;   /* every message read, in order */
    const char *want; /* condGot: a message that starts with this */
} Fixture;


/* Read what has come, without waiting. */
static void
drain(Fixture *f)
{
    char buf[4096];
    ssize_t n;

    while ((n = recv(f->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
        buf[n] = '\0';
        g_ptr_array_add(f->got, g_strdup(buf));
    }
}


static guint
countGot(Fixture *f, const char *prefix)
{
    guint n = 0;

    drain(f);
    for (guint i = 0; i < f->got->len; i++)
        n += g_str_has_prefix(f->got->pdata[i], prefix);
    return n;
}


static gboolean
condGot(gpointer data)
{
    Fixture *f = data;

    return countGot(f, f->want) > 0;
}


static void
waitGot(Fixture *f, const char *prefix)
{
    f->want = prefix;
    if (!testWaitFor(condGot, f, 10))
        fail_msg("no message '%s...' came", prefix);
}


static int
setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    f->dir = g_dir_make_tmp("hb-notify-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->path = g_build_filename(f->dir, "notify", NULL);
    assert_true(strlen(f->path) < sizeof(addr.sun_path));
    strcpy(addr.sun_path, f->path);
    f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(f->fd >= 0);
    assert_int_equal(bind(f->fd, (struct sockaddr *) &addr, sizeof(addr)), 0);
    f->got = g_ptr_array_new_with_free_func(g_free);
    g_setenv("NOTIFY_SOCKET", f->path, TRUE);
    g_unsetenv("WATCHDOG_USEC");
    g_unsetenv("WATCHDOG_PID");
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    Fixture *f = *state;

    g_unsetenv("NOTIFY_SOCKET");
    g_unsetenv("WATCHDOG_USEC");
    g_unsetenv("WATCHDOG_PID");
    close(f->fd);
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
    g_ptr_array_unref(f->got);
    g_free(f);
    return 0;
}


/* Outside systemd: nothing is sent, no timer runs. */
static void
test_no_socket(void **state)
{
    Fixture *f = *state;
    g_autoptr(HbNotify) notify = NULL;

    g_unsetenv("NOTIFY_SOCKET");
    g_setenv("WATCHDOG_USEC", "100000", TRUE);
    notify = hbNotifyNew();
    assert_false(hbNotifyEnabled(notify));
    assert_int_equal(hbNotifyWatchdogPeriod(notify), 0);
    hbNotifyStatus(notify, "x");
    hbNotifyReady(notify);
    hbNotifyStopping(notify);
    testSpin(300);
    assert_int_equal(countGot(f, ""), 0);
}


static void
test_ready_reload_stop(void **state)
{
    Fixture *f = *state;
    g_autoptr(HbNotify) notify = hbNotifyNew();

    assert_true(hbNotifyEnabled(notify));
    assert_int_equal(hbNotifyWatchdogPeriod(notify), 0);
    hbNotifyReady(notify);
    hbNotifyReloading(notify);
    hbNotifyReady(notify);
    hbNotifyStopping(notify);
    drain(f);
    assert_int_equal(f->got->len, 4);
    assert_string_equal(f->got->pdata[0], "READY=1");
    assert_true(g_str_has_prefix(f->got->pdata[1], "RELOADING=1\nMONOTONIC_USEC="));
    assert_string_equal(f->got->pdata[2], "READY=1");
    assert_string_equal(f->got->pdata[3], "STOPPING=1");
}


/* A status goes with READY=1; the same text is not sent twice; a burst
 * of changes is sent as its last text, later. */
static void
test_status_rate_limited(void **state)
{
    Fixture *f = *state;
    g_autoptr(HbNotify) notify = hbNotifyNew();
    gint64 sent;

    hbNotifyStatus(notify, "1 domain");
    drain(f);
    assert_int_equal(f->got->len, 1);
    assert_string_equal(f->got->pdata[0], "STATUS=1 domain");
    hbNotifyStatus(notify, "1 domain");
    hbNotifyStatus(notify, "2 domains");
    hbNotifyStatus(notify, "3 domains");
    hbNotifyReady(notify);
    drain(f);
    assert_int_equal(f->got->len, 2);
    assert_string_equal(f->got->pdata[1], "READY=1\nSTATUS=3 domains");

    /* Within HB_NOTIFY_STATUS_MIN_US of the last: held, then the last
     * text only. Whether the calls came within it is measured, not
     * assumed: a loaded host may take longer between two lines. */
    sent = g_get_monotonic_time();
    hbNotifyStatus(notify, "4 domains");
    hbNotifyStatus(notify, "5 domains");
    if (g_get_monotonic_time() - sent < HB_NOTIFY_STATUS_MIN_US / 2)
        assert_int_equal(countGot(f, "STATUS="), 1);
    waitGot(f, "STATUS=5 domains");
    testSpin(HB_NOTIFY_STATUS_MIN_US / 1000 + 200);
    assert_int_equal(countGot(f, ""), 3);
    assert_int_equal(countGot(f, "STATUS=4"), 0);

    /* Sent at once, then changed and changed back while held: nothing more. */
    hbNotifyStatus(notify, "6 domains");
    assert_int_equal(countGot(f, "STATUS=6 domains"), 1);
    sent = g_get_monotonic_time();
    hbNotifyStatus(notify, "7 domains");
    hbNotifyStatus(notify, "6 domains");
    if (g_get_monotonic_time() - sent < HB_NOTIFY_STATUS_MIN_US / 2) {
        testSpin(HB_NOTIFY_STATUS_MIN_US / 1000 + 200);
        assert_int_equal(countGot(f, ""), 4);
    }
}


/*
 * WATCHDOG=1 comes from the main loop: while the loop is blocked none is
 * sent, however long, and once it turns again they come back.
 */
static void
test_watchdog_from_main_loop(void **state)
{
    Fixture *f = *state;
    g_autoptr(HbNotify) notify = NULL;

    g_setenv("WATCHDOG_USEC", "200000", TRUE);
    notify = hbNotifyNew();
    assert_int_equal(hbNotifyWatchdogPeriod(notify), 100000);
    waitGot(f, "WATCHDOG=1");
    g_ptr_array_set_size(f->got, 0);

    /* Five periods with the loop stuck. */
    g_usleep(5 * 200000);
    drain(f);
    assert_int_equal(f->got->len, 0);

    waitGot(f, "WATCHDOG=1");
}


/* WATCHDOG_PID names another process: not our watchdog. */
static void
test_watchdog_other_pid(void **state)
{
    Fixture *f = *state;
    g_autoptr(HbNotify) notify = NULL;
    g_autofree char *pid = g_strdup_printf("%d", (int) getpid() + 1);

    g_setenv("WATCHDOG_USEC", "100000", TRUE);
    g_setenv("WATCHDOG_PID", pid, TRUE);
    notify = hbNotifyNew();
    assert_int_equal(hbNotifyWatchdogPeriod(notify), 0);
    testSpin(300);
    assert_int_equal(countGot(f, "WATCHDOG=1"), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready_reload_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_from_main_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_other_pid, setup, teardown),
    };

    return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
