/*
 * The daemon's key file: defaults, every key, and errors with file:line.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb-api.h"
#include "hb-daemon-conf.h"


static char *
writeConf(const char *text)
{
    g_autoptr(GError) err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("hb-conf-XXXXXX.conf", &path, &err);

    assert_true(fd >= 0);
    close(fd);
    assert_true(g_file_set_contents(path, text, -1, &err));
    return path;
}


static void
test_shipped_file_is_defaults(void **state G_GNUC_UNUSED)
{
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) conf = { 0 };
    HbConfig defaults;

    hbDaemonConfInit(&conf);
    hbConfigInitDefaults(&defaults);
    assert_int_equal(hbDaemonConfLoad(&conf, TOP_SRCDIR "/src/virt-heartbeatd.conf",
                                      FALSE, errors), 0);
    assert_string_equal(conf.uri, "qemu:///system");
    assert_false(conf.monitor_all);
    assert_false(conf.dry_run);
    assert_int_equal(conf.ping_workers, 4);
    assert_int_equal(conf.suspect_workers, 8);
    assert_int_equal(conf.request_workers, 4);
    assert_true(g_str_has_suffix(conf.state_dir, "/lib/virt-heartbeat"));
    assert_memory_equal(&conf.defaults, &defaults, sizeof(defaults));
    assert_int_equal(conf.breaker.share, 50);
    assert_int_equal(conf.breaker.min, 4);
    assert_int_equal(conf.breaker.hold, 300);
    assert_int_equal(conf.breaker.window, 0);
    assert_null(conf.metrics_listen);
    assert_true(g_str_has_suffix(conf.hooks_dir, "/virt-heartbeat/hooks.d"));
    assert_int_equal(conf.hook_timeout, 10);
    assert_string_equal(conf.cluster_tools, "/usr/sbin");
}


static void
test_every_key(void **state G_GNUC_UNUSED)
{
    g_autofree char *path = writeConf(
        "[daemon]\nuri=test:///default\nmonitor_all=true\nsuspect_workers=3\nstate_dir=\n"
        "host_share=75\nhost_min=2\nhost_hold=20\nhost_window=45\n"
        "dry_run=yes\nhooks_dir=/srv/hooks\nhook_timeout=3\ncluster_tools=\n"
        "[defaults]\ntime=30\nrate=5\naction=none\nboot_grace=0\nescalate=cluster\n");
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) conf = { 0 };

    hbDaemonConfInit(&conf);
    assert_int_equal(hbDaemonConfLoad(&conf, path, FALSE, errors), 0);
    assert_string_equal(conf.uri, "test:///default");
    assert_true(conf.monitor_all);
    assert_true(conf.dry_run);
    assert_int_equal(conf.suspect_workers, 3);
    assert_string_equal(conf.state_dir, "");
    assert_int_equal(conf.breaker.share, 75);
    assert_int_equal(conf.breaker.min, 2);
    assert_int_equal(conf.breaker.hold, 20);
    assert_int_equal(conf.breaker.window, 45);
    assert_string_equal(conf.hooks_dir, "/srv/hooks");
    assert_int_equal(conf.hook_timeout, 3);
    assert_string_equal(conf.cluster_tools, "");
    assert_int_equal(conf.defaults.escalate, HB_ESCALATE_CLUSTER);
    assert_int_equal(conf.defaults.time, 30);
    assert_int_equal(conf.defaults.rate, 5);
    assert_int_equal(conf.defaults.action, HB_ACTION_NONE);
    assert_int_equal(conf.defaults.boot_grace, 0);
    assert_int_equal(conf.defaults.failure_attempts, 12);
    g_unlink(path);
}


static void
test_errors_name_file_and_line(void **state G_GNUC_UNUSED)
{
    g_autofree char *path = writeConf(
        "# comment\n[daemon]\nping_workers=0\nmonitor_all=maybe\nspeed=3\n"
        "[defaults]\ntime=1\nactoin=none\n[extra]\nx=1\n[daemon]\nstate_dir=rel/dir\n"
        "dry_run=Yes\nhooks_dir=hooks.d\nhook_timeout=31\ncluster_tools=sbin\n");
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    const char *expected[] = {
        ":9: unknown group [extra]",
        ":3: ping_workers: '0' is not a whole number from 1 to 256",
        ":4: monitor_all: 'maybe' is not yes, no, true or false",
        ":5: unknown key 'speed' in [daemon]",
        ":12: state_dir: 'rel/dir' is not an absolute path",
        ":13: dry_run: 'Yes' is not yes, no, true or false",
        ":14: hooks_dir: 'hooks.d' is not an absolute path",
        ":15: hook_timeout: '31' is not a whole number from 1 to 30",
        ":16: cluster_tools: 'sbin' is not an absolute path",
        ":7: time: '1' is not a whole number from 2 to 86400",
        ":8: unknown key 'actoin' in [defaults]",
    };
    g_auto(HbDaemonConf) conf = { 0 };

    hbDaemonConfInit(&conf);
    assert_int_equal(hbDaemonConfLoad(&conf, path, FALSE, errors), -1);
    assert_int_equal(errors->len, G_N_ELEMENTS(expected));
    for (guint i = 0; i < errors->len; i++) {
        const char *msg = errors->pdata[i];
        assert_true(g_str_has_prefix(msg, path));
        if (!g_str_has_suffix(msg, expected[i]))
            fail_msg("error %u: '%s' does not end in '%s'", i, msg, expected[i]);
    }
    g_unlink(path);
}


/* The breaker's keys: host_share a percentage, host_hold never 0, host_window may be. */
static void
test_breaker_ranges(void **state G_GNUC_UNUSED)
{
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) conf = { 0 };
    const char *expected[] = {
        "x.conf:2: host_share: '101' is not a whole number from 1 to 100",
        "x.conf:3: host_min: '0' is not a whole number from 1 to 100000",
        "x.conf:4: host_hold: '0' is not a whole number from 1 to 86400",
        "x.conf:5: host_window: '-1' is not a whole number from 0 to 86400",
    };

    hbDaemonConfInit(&conf);
    assert_int_equal(hbDaemonConfParse(&conf, "x.conf", "[daemon]\nhost_share=101\n"
                                       "host_min=0\nhost_hold=0\nhost_window=-1\n",
                                       errors), -1);
    assert_int_equal(errors->len, G_N_ELEMENTS(expected));
    for (guint i = 0; i < errors->len; i++)
        assert_string_equal(errors->pdata[i], expected[i]);
    /* Bad values leave the defaults. */
    assert_int_equal(conf.breaker.share, 50);
    assert_int_equal(conf.breaker.hold, 300);

    g_ptr_array_set_size(errors, 0);
    assert_int_equal(hbDaemonConfParse(&conf, "x.conf", "[daemon]\nhost_share=100\n"
                                       "host_window=0\n", errors), 0);
    assert_int_equal(conf.breaker.share, 100);
}


/*
 * A repeated key is reported at its last line (the value GKeyFile keeps),
 * and a file of thousands of errors names each one's own line.
 */
static void
test_error_lines_many_and_repeated(void **state G_GNUC_UNUSED)
{
    g_autoptr(GString) text = g_string_new("[daemon]\nmonitor_all=true\n");
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) conf = { 0 };
    const guint n = 5000;

    g_string_append(text, "  monitor_all =   maybe\n[defaults]\n");
    for (guint i = 0; i < n; i++)
        g_string_append_printf(text, "k%u = %u\n", i, i);

    hbDaemonConfInit(&conf);
    assert_int_equal(hbDaemonConfParse(&conf, "x.conf", text->str, errors), -1);
    assert_int_equal(errors->len, n + 1);
    assert_string_equal(errors->pdata[0],
                        "x.conf:3: monitor_all: 'maybe' is not yes, no, true or false");
    for (guint i = 0; i < n; i++) {
        g_autofree char *want = g_strdup_printf("x.conf:%u: unknown key 'k%u' in [defaults]",
                                                i + 5, i);
        assert_string_equal(errors->pdata[i + 1], want);
    }
    g_ptr_array_set_size(errors, 0);
    /* A translated key is unknown whatever the locale. */
    assert_int_equal(hbDaemonConfParse(&conf, "y.conf", "[daemon]\nstate_dir[xx]=rel\n", errors),
                     -1);
    assert_int_equal(errors->len, 1);
    assert_string_equal(errors->pdata[0], "y.conf:2: unknown key 'state_dir[xx]' in [daemon]");
}


/* [metrics] listen: literal addresses only, IPv6 in brackets, a port. */
static void
test_metrics_listen(void **state G_GNUC_UNUSED)
{
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) conf = { 0 };
    const char *good[] = { "127.0.0.1:9101", "[::1]:1", "0.0.0.0:65535", "[fe80::1]:80" };
    const char *bad[] = { "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "localhost:9101",
                          "::1:9101", "[127.0.0.1]:9101", "[::1:9101", ":9101",
                          "127.0.0.1:9x", "127.0.0.1:+80", "[]:80", "1.2.3:80" };

    for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autoptr(GSocketAddress) address = hbDaemonConfListenAddress(good[i], NULL);
        if (!address)
            fail_msg("'%s' refused", good[i]);
    }
    {
        g_autoptr(GSocketAddress) v6 = hbDaemonConfListenAddress("[::1]:9101", NULL);
        g_autofree char *host = g_inet_address_to_string(
            g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(v6)));
        assert_int_equal(g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(v6)), 9101);
        assert_string_equal(host, "::1");
    }
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GSocketAddress) address = hbDaemonConfListenAddress(bad[i], &err);
        if (address)
            fail_msg("'%s' taken", bad[i]);
        assert_true(g_error_matches(err, HB_ERROR, HB_ERROR_INVALID_ARGUMENT));
    }

    hbDaemonConfInit(&conf);
    assert_int_equal(hbDaemonConfParse(&conf, "x.conf", "[metrics]\nlisten=[::1]:9101\n",
                                       errors), 0);
    assert_string_equal(conf.metrics_listen, "[::1]:9101");
    /* Empty: off again. */
    assert_int_equal(hbDaemonConfParse(&conf, "x.conf", "[metrics]\nlisten=\n", errors), 0);
    assert_null(conf.metrics_listen);
    assert_int_equal(hbDaemonConfParse(&conf, "x.conf", "[metrics]\nlisten=web:80\n"
                                       "port=3\n", errors), -1);
    assert_int_equal(errors->len, 2);
    assert_true(g_str_has_prefix(errors->pdata[0], "x.conf:2: listen: 'web:80' is not"));
    assert_string_equal(errors->pdata[1], "x.conf:3: unknown key 'port' in [metrics]");
    assert_null(conf.metrics_listen);
}


static void
test_syntax_and_missing(void **state G_GNUC_UNUSED)
{
    g_autofree char *path = writeConf("[daemon\nuri\n");
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) conf = { 0 };

    hbDaemonConfInit(&conf);
    assert_int_equal(hbDaemonConfLoad(&conf, path, FALSE, errors), -1);
    assert_int_equal(errors->len, 1);
    assert_true(g_str_has_prefix(errors->pdata[0], path));

    g_ptr_array_set_size(errors, 0);
    assert_int_equal(hbDaemonConfLoad(&conf, "/nonexistent/hb.conf", TRUE, errors), 0);
    assert_int_equal(hbDaemonConfLoad(&conf, "/nonexistent/hb.conf", FALSE, errors), -1);
    assert_int_equal(errors->len, 1);
    g_unlink(path);
}


/*
 * The file replaced by a FIFO nobody writes (or a link to one), a device,
 * or a huge file: refused at once, never waited on or read to the end. A
 * reload must not stall the main loop. The alarm fails a test that hangs.
 */
static void
test_not_a_file(void **state G_GNUC_UNUSED)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("hb-conf-XXXXXX", &err);
    g_autofree char *fifo = g_build_filename(dir, "fifo.conf", NULL);
    g_autofree char *link = g_build_filename(dir, "link.conf", NULL);
    g_autofree char *huge = g_build_filename(dir, "huge.conf", NULL);
    g_autofree char *big = g_strnfill(HB_DAEMON_CONF_MAX + 1, '#');
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) conf = { 0 };

    assert_non_null(dir);
    hbDaemonConfInit(&conf);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(symlink(fifo, link), 0);
    big[HB_DAEMON_CONF_MAX] = '\n';
    assert_true(g_file_set_contents(huge, big, -1, NULL));
    alarm(20);
    assert_int_equal(hbDaemonConfLoad(&conf, fifo, FALSE, errors), -1);
    assert_int_equal(hbDaemonConfLoad(&conf, link, FALSE, errors), -1);
    assert_int_equal(hbDaemonConfLoad(&conf, "/dev/zero", FALSE, errors), -1);
    assert_int_equal(hbDaemonConfLoad(&conf, huge, FALSE, errors), -1);
    alarm(0);
    assert_int_equal(errors->len, 4);
    assert_non_null(strstr(errors->pdata[0], "not a regular file"));
    assert_non_null(strstr(errors->pdata[3], "not a regular file of at most"));
    g_unlink(fifo);
    g_unlink(link);
    g_unlink(huge);
    g_rmdir(dir);
}


static char *
joined(GStrv keys)
{
    return g_strjoinv(",", keys);
}


/* A reload: which changed keys apply live, which need a restart, and
 * that applying copies only the former. */
static void
test_reload_changes(void **state G_GNUC_UNUSED)
{
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) running = { 0 };
    g_auto(HbDaemonConf) next = { 0 };
    g_auto(GStrv) none = NULL;
    g_auto(GStrv) live = NULL;
    g_auto(GStrv) restart = NULL;
    g_autofree char *live_text = NULL;
    g_autofree char *restart_text = NULL;

    hbDaemonConfInit(&running);
    hbDaemonConfInit(&next);
    none = hbDaemonConfChanged(&running, &next, TRUE);
    assert_null(none[0]);
    g_clear_pointer(&none, g_strfreev);
    none = hbDaemonConfChanged(&running, &next, FALSE);
    assert_null(none[0]);

    assert_int_equal(hbDaemonConfParse(&next, "x.conf",
                                       "[daemon]\nuri=test:///default\nmonitor_all=yes\n"
                                       "dry_run=yes\nping_workers=9\nsuspect_workers=9\n"
                                       "request_workers=9\nstate_dir=\nhooks_dir=\n"
                                       "cluster_tools=/opt/pacemaker/sbin\n"
                                       "hook_timeout=3\nhost_share=20\nhost_min=2\n"
                                       "host_hold=60\nhost_window=30\n"
                                       "[defaults]\nrate=7\n"
                                       "[metrics]\nlisten=127.0.0.1:9745\n", errors), 0);
    live = hbDaemonConfChanged(&running, &next, TRUE);
    restart = hbDaemonConfChanged(&running, &next, FALSE);
    live_text = joined(live);
    restart_text = joined(restart);
    assert_string_equal(live_text, "dry_run,[defaults],host_share,host_min,host_hold,host_window");
    assert_string_equal(restart_text, "uri,monitor_all,state_dir,hooks_dir,cluster_tools,"
                        "[metrics] listen,"
                        "ping_workers,suspect_workers,request_workers,hook_timeout");

    hbDaemonConfApplyLive(&running, &next);
    assert_true(running.dry_run);
    assert_int_equal(running.defaults.rate, 7);
    assert_int_equal(running.breaker.share, 20);
    assert_int_equal(running.breaker.min, 2);
    assert_int_equal(running.breaker.hold, 60);
    assert_int_equal(running.breaker.window, 30);
    /* The rest kept. */
    assert_string_equal(running.uri, "qemu:///system");
    assert_false(running.monitor_all);
    assert_int_equal(running.ping_workers, 4);
    assert_int_equal(running.suspect_workers, 8);
    assert_int_equal(running.request_workers, 4);
    assert_true(g_str_has_suffix(running.state_dir, "/lib/virt-heartbeat"));
    assert_true(g_str_has_suffix(running.hooks_dir, "/hooks.d"));
    assert_int_equal(running.hook_timeout, 10);
    assert_null(running.metrics_listen);
    /* Applied: nothing live differs any more; what needs a restart still does. */
    g_clear_pointer(&live, g_strfreev);
    live = hbDaemonConfChanged(&running, &next, TRUE);
    assert_null(live[0]);
    g_clear_pointer(&restart, g_strfreev);
    restart = hbDaemonConfChanged(&running, &next, FALSE);
    assert_int_equal(g_strv_length(restart), 10);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_file_is_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_breaker_ranges),
        cmocka_unit_test(test_error_lines_many_and_repeated),
        cmocka_unit_test(test_syntax_and_missing),
        cmocka_unit_test(test_not_a_file),
        cmocka_unit_test(test_metrics_listen),
        cmocka_unit_test(test_reload_changes),
    };

    return cmocka_run_group_tests_name("daemon-conf", tests, NULL, NULL);
}
