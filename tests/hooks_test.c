/*
 * Hook scripts for real: small shell scripts written into a private
 * directory, run by hb-hooks on the main loop, checked by what they write
 * and by what the daemon logs of them.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb-hooks.h"
#include "test-util.h"

#define UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"

/* Every message logged, "LEVEL MESSAGE": what the daemon says of its hooks. */
static GPtrArray *logged;

typedef struct {
    char *dir;
    HbHooks *hooks;
    GPtrArray *answers; /* of hbHooksAsk: "go" or the veto */
} Fixture;


static GLogWriterOutput
recordLog(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
    for (gsize i = 0; i < n_fields; i++) {
        if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0)
            g_ptr_array_add(logged, g_strdup_printf("%s %s",
                                                    (level & G_LOG_LEVEL_WARNING) ? "W" :
                                                    (level & G_LOG_LEVEL_DEBUG) ? "D" : "M",
                                                    (const char *) fields[i].value));
    }
    if (level & G_LOG_LEVEL_DEBUG)
        return G_LOG_WRITER_HANDLED;
    return g_log_writer_default(level, fields, n_fields, user_data);
}


/* How many messages logged contain @text. */
static guint
countLogged(const char *text)
{
    guint n = 0;

    for (guint i = 0; i < logged->len; i++)
        n += strstr(logged->pdata[i], text) != NULL;
    return n;
}


static int
setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);

    f->dir = g_dir_make_tmp("hb-hooks-XXXXXX", NULL);
    assert_non_null(f->dir);
    /* Long enough for a loaded machine: only the tests of the timeout shorten it. */
    f->hooks = hbHooksNew(f->dir, 10);
    f->answers = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_set_size(logged, 0);
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    Fixture *f = *state;
    g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
    const char *name;

    g_clear_pointer(&f->hooks, hbHooksFree);
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(f->dir, name, NULL);
        if (g_unlink(path) < 0)
            g_rmdir(path);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_ptr_array_unref(f->answers);
    g_free(f);
    return 0;
}


/* Hooks of the fixture's directory that get 1 s, for the tests of the timeout. */
static void
shortTimeout(Fixture *f)
{
    hbHooksFree(f->hooks);
    f->hooks = hbHooksNew(f->dir, 1);
}


/* A hook @name in the fixture's directory: a shell script of @body, with
 * DIR set to the directory; @mode its permissions. */
static void
writeHook(Fixture *f, const char *name, mode_t mode, const char *body)
{
    g_autofree char *path = g_build_filename(f->dir, name, NULL);
    g_autofree char *text = g_strdup_printf("#!/bin/sh\nDIR='%s'\n%s\n", f->dir, body);

    assert_true(g_file_set_contents(path, text, -1, NULL));
    assert_int_equal(chmod(path, mode), 0);
}


/* The contents of @name in the fixture's directory; "" if there is none. */
static char *
readOut(Fixture *f, const char *name)
{
    g_autofree char *path = g_build_filename(f->dir, name, NULL);
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("");
    return text;
}


static gboolean
condIdle(gpointer data)
{
    Fixture *f = data;

    return hbHooksPending(f->hooks) == 0;
}


static void
waitIdle(Fixture *f)
{
    assert_true(testWaitFor(condIdle, f, 30));
}


static void
fire(Fixture *f, const char *event, const char *domain)
{
    HbHookEvent ev = { .event = event, .domain = domain, .uuid = UUID };

    hbHooksRun(f->hooks, &ev);
}


static void
recordAnswer(const char *veto, gpointer data)
{
    Fixture *f = data;

    g_ptr_array_add(f->answers, g_strdup(veto ? veto : "go"));
}


static gboolean
condAnswered(gpointer data)
{
    Fixture *f = data;

    return f->answers->len > 0;
}


/* Ask the before-restart hooks and wait for their answer. */
static const char *
ask(Fixture *f)
{
    HbHookEvent ev = {
        .event = HB_HOOK_BEFORE_RESTART, .domain = "web1", .uuid = UUID,
        .attempt = 1, .action = "reset",
    };

    g_ptr_array_set_size(f->answers, 0);
    assert_true(hbHooksAsk(f->hooks, &ev, recordAnswer, f));
    assert_true(testWaitFor(condAnswered, f, 30));
    return f->answers->pdata[0];
}


/* argv is the path, event, domain and UUID; the environment is clean and
 * carries the details; hooks run in name order. */
static void
test_argv_env_order(void **state)
{
    Fixture *f = *state;
    HbHookEvent ev = {
        .event = "restart-attempt", .domain = "web 1", .uuid = UUID,
        .attempt = 2, .action = "reset", .result = "ok",
    };
    g_autofree char *argv = NULL;
    g_autofree char *env = NULL;
    g_autofree char *order = NULL;
    g_autofree char *want_argv = NULL;
    const char *want_env =
        "LANG=C.UTF-8\n"
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
        "PWD=/\n"
        "VIRT_HEARTBEAT_ACTION=reset\n"
        "VIRT_HEARTBEAT_ATTEMPT=2\n"
        "VIRT_HEARTBEAT_DOMAIN=web 1\n"
        "VIRT_HEARTBEAT_EVENT=restart-attempt\n"
        "VIRT_HEARTBEAT_RESULT=ok\n"
        "VIRT_HEARTBEAT_UUID=" UUID "\n";

    g_setenv("HB_HOOKS_TEST_LEAK", "1", TRUE);
    writeHook(f, "20-second", 0700, "echo second >> \"$DIR/order\"");
    writeHook(f, "10-first", 0755,
              "echo first >> \"$DIR/order\"\n"
              "printf '%s|' \"$0\" \"$@\" > \"$DIR/argv\"\n"
              "env | sort > \"$DIR/env\"");
    hbHooksRun(f->hooks, &ev);
    waitIdle(f);
    g_unsetenv("HB_HOOKS_TEST_LEAK");

    argv = readOut(f, "argv");
    want_argv = g_strdup_printf("%s/10-first|restart-attempt|web 1|" UUID "|", f->dir);
    assert_string_equal(argv, want_argv);
    env = readOut(f, "env");
    assert_string_equal(env, want_env);
    order = readOut(f, "order");
    assert_string_equal(order, "first\nsecond\n");
    assert_int_equal(countLogged("W "), 0);
}


/* A hook that fails is logged, with its output and exit status, and survived. */
static void
test_fail_logged(void **state)
{
    Fixture *f = *state;
    g_autofree char *ran = NULL;

    writeHook(f, "50-fail", 0755, "echo oops; echo 'on stderr' >&2; exit 3");
    writeHook(f, "60-next", 0755, "echo ran > \"$DIR/ran\"");
    fire(f, "heartbeat-stopped", "web1");
    waitIdle(f);
    assert_int_equal(countLogged("M Hook 50-fail (heartbeat-stopped, domain 'web1'): oops"), 1);
    assert_int_equal(countLogged("M Hook 50-fail (heartbeat-stopped, domain 'web1'): "
                                 "on stderr"), 1);
    assert_int_equal(countLogged("W Hook 50-fail (heartbeat-stopped, domain 'web1') "
                                 "failed: exit 3"), 1);
    /* The next hook of the event still runs. */
    ran = readOut(f, "ran");
    assert_string_equal(ran, "ran\n");
}


/* A process of @pid is gone: no such process, or only its zombie. */
static gboolean
condGone(gpointer data)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", GPOINTER_TO_INT(data));
    g_autofree char *stat = NULL;
    const char *paren;

    if (!g_file_get_contents(path, &stat, NULL, NULL))
        return TRUE;
    paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}


/*
 * A hook that hangs, ignoring SIGTERM, is killed at the timeout with its
 * whole process group: the child it started goes too. The next event's
 * hooks run.
 */
static void
test_hang_killed(void **state)
{
    Fixture *f = *state;
    g_autofree char *pid = NULL;
    g_autofree char *after = NULL;
    int child;

    writeHook(f, "10-hang", 0755,
              "[ \"$1\" = later ] && { echo later > \"$DIR/later\"; exit 0; }\n"
              "trap '' TERM\n"
              "sleep 1000 &\n"
              "echo $! > \"$DIR/child.tmp\"; mv \"$DIR/child.tmp\" \"$DIR/child\"\n"
              "while :; do sleep 1; done");
    shortTimeout(f);
    fire(f, "heartbeat-stopped", "web1");
    waitIdle(f);
    pid = readOut(f, "child");
    child = atoi(pid);
    assert_true(child > 0);
    assert_true(testWaitFor(condGone, GINT_TO_POINTER(child), 30));
    assert_int_equal(countLogged("W Hook 10-hang (heartbeat-stopped, domain 'web1') "
                                 "failed: timed out after 1 s, killed"), 1);

    fire(f, "later", "web1");
    waitIdle(f);
    after = readOut(f, "later");
    assert_string_equal(after, "later\n");
}


/*
 * A hook that starts a daemon of its own (setsid: out of the group the
 * timeout kills), which keeps the output pipe open, and exits 0: the run
 * ends after the grace period for its output, without failure, and the
 * next event's hooks run.
 */
static void
test_daemon_keeps_pipe(void **state)
{
    Fixture *f = *state;
    g_autofree char *pid = NULL;
    g_autofree char *after = NULL;

    writeHook(f, "10-daemon", 0755,
              "[ \"$1\" = later ] && { echo later > \"$DIR/later\"; exit 0; }\n"
              /* The daemon says where it is once out of the group: the
               * hook's exit kills what is still in it. */
              "setsid sh -c 'echo $$ > \"$1/daemon.tmp\"; mv \"$1/daemon.tmp\" "
              "\"$1/daemon\"; exec sleep 1000' sh \"$DIR\" &\n"
              "while [ ! -e \"$DIR/daemon\" ]; do sleep 0.05; done\n"
              "exit 0");
    fire(f, "heartbeat-stopped", "web1");
    waitIdle(f);
    pid = readOut(f, "daemon");
    assert_true(atoi(pid) > 0);
    /* Still there, holding the pipe: only the grace period ended the run. */
    assert_false(condGone(GINT_TO_POINTER(atoi(pid))));
    kill(atoi(pid), SIGKILL);
    /* Ended by the grace period, not by the hook's timeout. */
    assert_int_equal(countLogged("timed out"), 0);
    assert_int_equal(countLogged("failed"), 0);
    fire(f, "later", "web1");
    waitIdle(f);
    after = readOut(f, "later");
    assert_string_equal(after, "later\n");
}


/* A hook that prints megabytes is read to the end; the log keeps 4 KiB of it. */
static void
test_flood_capped(void **state)
{
    Fixture *f = *state;
    gsize logged_bytes = 0;

    writeHook(f, "10-flood", 0755,
              "head -c 5000000 /dev/zero | tr '\\0' x; echo; echo end");
    fire(f, "heartbeat-stopped", "web1");
    waitIdle(f);
    for (guint i = 0; i < logged->len; i++) {
        if (strstr(logged->pdata[i], "M Hook 10-flood (heartbeat-stopped, domain 'web1'): x"))
            logged_bytes += strlen(logged->pdata[i]);
    }
    assert_true(logged_bytes > 4000);
    assert_true(logged_bytes < 4096 + 100);
    /* 5,000,000 x, two newlines and "end": all read, 4096 bytes logged. */
    assert_int_equal(countLogged("): 4995909 more bytes of output not logged"), 1);
    assert_int_equal(countLogged("failed"), 0);
}


/* What must not run is skipped, and why is said once per file. */
static void
test_skipped(void **state)
{
    Fixture *f = *state;
    const char *skipped[] = {
        "30-noexec", ".hidden", "40-backup~", "50-x.dpkg-old", "70-groupw",
    };
    g_autofree char *ran = NULL;

    writeHook(f, "30-noexec", 0644, "echo 30-noexec >> \"$DIR/ran\"");
    writeHook(f, ".hidden", 0755, "echo .hidden >> \"$DIR/ran\"");
    writeHook(f, "40-backup~", 0755, "echo 40-backup >> \"$DIR/ran\"");
    writeHook(f, "50-x.dpkg-old", 0755, "echo 50-x >> \"$DIR/ran\"");
    writeHook(f, "60-ok", 0755, "echo 60-ok >> \"$DIR/ran\"");
    writeHook(f, "70-groupw", 0775, "echo 70-groupw >> \"$DIR/ran\"");
    fire(f, "heartbeat-stopped", "web1");
    waitIdle(f);
    fire(f, "heartbeat-resumed", "web1");
    waitIdle(f);

    ran = readOut(f, "ran");
    assert_string_equal(ran, "60-ok\n60-ok\n");
    for (guint i = 0; i < G_N_ELEMENTS(skipped); i++) {
        g_autofree char *msg = g_strdup_printf("/%s skipped: ", skipped[i]);
        if (countLogged(msg) != 1)
            fail_msg("'%s' logged %u times", msg, countLogged(msg));
    }
    assert_int_equal(countLogged("/30-noexec skipped: not executable"), 1);
    assert_int_equal(countLogged("/70-groupw skipped: writable by its group or by others"), 1);
}


/* A directory others may write is refused whole (said once); a missing one is no error. */
static void
test_dir_refused_or_missing(void **state)
{
    Fixture *f = *state;
    g_autofree char *missing = g_build_filename(f->dir, "none", NULL);
    g_autoptr(HbHooks) none = hbHooksNew(missing, 1);
    HbHookEvent ev = { .event = HB_HOOK_BEFORE_RESTART, .domain = "web1", .uuid = UUID };
    g_autofree char *ran = NULL;

    writeHook(f, "10-ok", 0755, "echo ran >> \"$DIR/ran\"");
    assert_int_equal(chmod(f->dir, 0777), 0);
    fire(f, "heartbeat-stopped", "web1");
    assert_false(hbHooksAsk(f->hooks, &ev, recordAnswer, f));
    assert_int_equal(hbHooksPending(f->hooks), 0);
    assert_int_equal(chmod(f->dir, 0700), 0);
    assert_int_equal(countLogged("W Hooks of "), 1);
    assert_int_equal(countLogged("not run: writable by its group or by others"), 1);

    assert_false(hbHooksAsk(none, &ev, recordAnswer, f));
    hbHooksRun(none, &ev);
    assert_int_equal(hbHooksPending(none), 0);
    assert_int_equal(countLogged("W "), 1);

    /* Safe again: its hooks run. */
    fire(f, "heartbeat-stopped", "web1");
    waitIdle(f);
    ran = readOut(f, "ran");
    assert_string_equal(ran, "ran\n");
    assert_int_equal(f->answers->len, 0);
}


/*
 * before-restart: every hook in turn until one refuses. A refusal, a
 * timeout or a hook that cannot run vetoes; the hooks after it do not run.
 */
static void
test_ask_veto(void **state)
{
    Fixture *f = *state;
    g_autofree char *env = NULL;
    g_autofree char *ran = NULL;
    g_autofree char *path = NULL;

    writeHook(f, "10-yes", 0755,
              "echo 10 >> \"$DIR/ran\"; env | grep ^VIRT_ | sort > \"$DIR/env\"");
    assert_string_equal(ask(f), "go");
    env = readOut(f, "env");
    assert_string_equal(env, "VIRT_HEARTBEAT_ACTION=reset\nVIRT_HEARTBEAT_ATTEMPT=1\n"
                        "VIRT_HEARTBEAT_DOMAIN=web1\nVIRT_HEARTBEAT_EVENT=before-restart\n"
                        "VIRT_HEARTBEAT_UUID=" UUID "\n");

    writeHook(f, "20-no", 0755, "echo 20 >> \"$DIR/ran\"; [ \"$1\" != before-restart ]");
    writeHook(f, "30-after", 0755, "echo 30 >> \"$DIR/ran\"");
    assert_string_equal(ask(f), "vetoed by hook 20-no (exit 1)");
    ran = readOut(f, "ran");
    assert_string_equal(ran, "10\n10\n20\n");

    writeHook(f, "20-no", 0755, "sleep 1000");
    shortTimeout(f);
    assert_string_equal(ask(f), "vetoed by hook 20-no (timed out after 1 s, killed)");

    path = g_build_filename(f->dir, "20-no", NULL);
    assert_true(g_file_set_contents(path, "#!/nonexistent/interpreter\n", -1, NULL));
    assert_int_equal(chmod(path, 0755), 0);
    assert_true(g_str_has_prefix(ask(f), "vetoed by hook 20-no (cannot run: "));
}


/*
 * A hook is checked again when it starts, not only when its event is
 * queued: the list may be minutes old (events wait, hooks run in turn).
 * One made unsafe meanwhile, or in a directory made unsafe, does not run,
 * and a before-restart run it belongs to is vetoed.
 */
static void
test_unsafe_at_start(void **state)
{
    Fixture *f = *state;
    g_autofree char *ran = NULL;
    g_autofree char *veto = NULL;
    g_autofree char *second = g_build_filename(f->dir, "20-second", NULL);

    writeHook(f, "10-first", 0755,
              "echo 10 >> \"$DIR/ran\"; chmod 0777 \"$DIR/20-second\"");
    writeHook(f, "20-second", 0755, "echo 20 >> \"$DIR/ran\"");
    fire(f, "heartbeat-stopped", "web1");
    waitIdle(f);
    ran = readOut(f, "ran");
    assert_string_equal(ran, "10\n");
    assert_int_equal(countLogged("W Hook 20-second (heartbeat-stopped, domain 'web1') "
                                 "failed: cannot run: writable by its group or by others"), 1);

    writeHook(f, "10-first", 0755, "echo 10 >> \"$DIR/ran\"; chmod 0777 \"$DIR\"");
    assert_int_equal(chmod(second, 0755), 0);
    veto = g_strdup(ask(f));
    assert_int_equal(chmod(f->dir, 0700), 0);
    assert_true(g_str_has_prefix(veto, "vetoed by hook 20-second (cannot run: "));
    assert_true(g_str_has_suffix(veto, " writable by its group or by others)"));
    g_free(ran);
    ran = readOut(f, "ran");
    assert_string_equal(ran, "10\n10\n");
}


/*
 * Notification hooks that hang fill every slot: a before-restart run
 * still gets one at once, and is answered by its own hooks, not vetoed
 * for having waited past its deadline behind them.
 */
static void
test_ask_not_starved(void **state)
{
    Fixture *f = *state;

    writeHook(f, "10-slow", 0755, "[ \"$1\" = before-restart ] && exit 0\nexec sleep 1000");
    for (guint i = 0; i < 8; i++)
        fire(f, "heartbeat-stopped", "web1");
    testSpin(200);
    assert_string_equal(ask(f), "go");
    /* Answered before any hung one ended at its timeout: all 8 still there. */
    assert_int_equal(hbHooksPending(f->hooks), 8);
}


/* At most 4 events run their hooks at once; the others wait, and all run. */
static void
test_bounded(void **state)
{
    Fixture *f = *state;
    g_autofree char *seen = NULL;
    g_auto(GStrv) counts = NULL;
    guint runs = 0;

    writeHook(f, "10-count", 0755,
              "mkdir \"$DIR/run.$$\"\n"
              "ls -d \"$DIR\"/run.* | wc -l >> \"$DIR/seen\"\n"
              "sleep 0.3\n"
              "rmdir \"$DIR/run.$$\"");
    for (guint i = 0; i < 10; i++)
        fire(f, "heartbeat-stopped", "web1");
    assert_true(hbHooksPending(f->hooks) == 10);
    waitIdle(f);
    seen = readOut(f, "seen");
    counts = g_strsplit(seen, "\n", -1);
    for (guint i = 0; counts[i]; i++) {
        if (!counts[i][0])
            continue;
        runs++;
        if (atoi(counts[i]) > 4)
            fail_msg("%d hooks ran at once", atoi(counts[i]));
    }
    assert_int_equal(runs, 10);
}


/* Freed while a before-restart run waits: it is answered, vetoed. */
static void
test_free_answers(void **state)
{
    Fixture *f = *state;
    HbHookEvent ev = { .event = HB_HOOK_BEFORE_RESTART, .domain = "web1", .uuid = UUID };

    writeHook(f, "10-slow", 0755, "sleep 1000");
    assert_true(hbHooksAsk(f->hooks, &ev, recordAnswer, f));
    assert_int_equal(f->answers->len, 0);
    g_clear_pointer(&f->hooks, hbHooksFree);
    assert_int_equal(f->answers->len, 1);
    assert_string_equal(f->answers->pdata[0], "vetoed: virt-heartbeatd is stopping");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_argv_env_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hang_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_refused_or_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ask_veto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ask_not_starved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemon_keeps_pipe, setup, teardown),
    };

    logged = g_ptr_array_new_with_free_func(g_free);
    g_log_set_writer_func(recordLog, NULL, NULL);
    return cmocka_run_group_tests_name("hooks", tests, NULL, NULL);
}
