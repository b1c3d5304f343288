/*
 * The files kept in the state directory, without a monitor: what is saved
 * reads back for its own domain only, files the daemon did not write are
 * not read, and sweeping removes only the files of UUIDs not kept.
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

#include "hb-statefile.h"

#define S(x) ((gint64) (x) * G_USEC_PER_SEC)
#define UUID_A "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
#define UUID_B "11111111-2222-3333-4444-555555555555"
#define UUID_C "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

/* Warnings and criticals logged since the last takeWarnings(). */
static guint warnings;


static GLogWriterOutput
countWarnings(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
              gpointer user_data)
{
    if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
        warnings++;
    return g_log_writer_standard_streams(level, fields, n_fields, user_data);
}


static guint
takeWarnings(void)
{
    guint n = warnings;

    warnings = 0;
    return n;
}


static int
setup(void **state)
{
    *state = g_dir_make_tmp("hb-statefile-XXXXXX", NULL);
    assert_non_null(*state);
    takeWarnings();
    return 0;
}


static int
teardown(void **state)
{
    char *dir = *state;
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *entry;

    while (d && (entry = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, entry, NULL);
        g_unlink(path);
    }
    g_rmdir(dir);
    g_free(dir);
    return 0;
}


static char *
pathOf(const char *dir, const char *uuid, const char *suffix)
{
    return g_strdup_printf("%s/%s%s", dir, uuid, suffix);
}


static gboolean
exists(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}


static void
touch(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    assert_true(g_file_set_contents(path, text, -1, NULL));
}


static void
assertMode(const char *path, guint mode)
{
    struct stat st;

    assert_int_equal(g_lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, mode);
}


/* Monotonic times kept as wall time come back within the clocks' jitter. */
static void
assertNear(gint64 a, gint64 b)
{
    if (ABS(a - b) > S(1))
        fail_msg("%" G_GINT64_FORMAT " and %" G_GINT64_FORMAT " differ", a, b);
}


static void
test_check_dir(void **state)
{
    const char *dir = *state;
    g_autofree char *nested = g_build_filename(dir, "a", "b", NULL);
    g_autofree char *file = g_build_filename(dir, "file", NULL);
    g_autofree char *under_file = g_build_filename(file, "sub", NULL);
    g_autofree char *parent = g_path_get_dirname(nested);

    /* Created if need be, for its owner only. */
    assert_int_equal(hbStateFileCheckDir(nested), 0);
    assert_true(g_file_test(nested, G_FILE_TEST_IS_DIR));
    assertMode(nested, 0700);
    assert_int_equal(takeWarnings(), 0);
    /* Others may read, never write. */
    assert_int_equal(g_chmod(nested, 0755), 0);
    assert_int_equal(hbStateFileCheckDir(nested), 0);
    assert_int_equal(g_chmod(nested, 0770), 0);
    assert_int_equal(hbStateFileCheckDir(nested), -1);
    assert_int_equal(g_chmod(nested, 0702), 0);
    assert_int_equal(hbStateFileCheckDir(nested), -1);
    assert_int_equal(takeWarnings(), 2);
    /* Not a directory, or none can be made. */
    touch(dir, "file", "");
    assert_int_equal(hbStateFileCheckDir(file), -1);
    assert_int_equal(hbStateFileCheckDir(under_file), -1);
    assert_int_equal(takeWarnings(), 2);

    g_rmdir(nested);
    g_rmdir(parent);
}


static void
fillMemory(HbEngineMemory *memory, gint64 now)
{
    gint64 starts[] = { now - S(600), now - S(60) };

    *memory = (HbEngineMemory) {
        .episode = 7, .open = TRUE, .storm_capped = TRUE, .attempts = 2,
        .next_attempt = now + S(30), .restart_in_flight = TRUE, .start_if_off = TRUE,
        .boot_time = S(12),
    };
    memory->episode_starts = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_array_append_vals(memory->episode_starts, starts, G_N_ELEMENTS(starts));
}


static void
test_state_round_trip(void **state)
{
    const char *dir = *state;
    g_autofree char *path = pathOf(dir, UUID_A, ".state");
    g_auto(HbEngineMemory) saved = { 0 };
    g_auto(HbEngineMemory) loaded = { 0 };

    fillMemory(&saved, g_get_monotonic_time());
    hbStateFileSave(dir, UUID_A, "guest1", &saved);
    assertMode(path, 0600);
    assert_true(hbStateFileLoad(dir, UUID_A, "guest1", &loaded));
    assert_int_equal(loaded.episode, 7);
    assert_true(loaded.open && loaded.storm_capped && loaded.restart_in_flight &&
                loaded.start_if_off);
    assert_false(loaded.failed);
    assert_int_equal(loaded.attempts, 2);
    assertNear(loaded.next_attempt, saved.next_attempt);
    assert_int_equal(loaded.boot_time, S(12));
    assert_int_equal(loaded.episode_starts->len, 2);
    for (guint i = 0; i < 2; i++)
        assertNear(g_array_index(loaded.episode_starts, gint64, i),
                    g_array_index(saved.episode_starts, gint64, i));
    /* Saved again, it replaces what was there. */
    saved.failed = TRUE;
    hbStateFileSave(dir, UUID_A, "guest1", &saved);
    hbEngineMemoryClear(&loaded);
    assert_true(hbStateFileLoad(dir, UUID_A, "guest1", &loaded));
    assert_true(loaded.failed);
    assert_int_equal(takeWarnings(), 0);
}


/* Another definition under the same UUID inherits no episode; the file goes. */
static void
test_state_of_another_name(void **state)
{
    const char *dir = *state;
    g_auto(HbEngineMemory) saved = { 0 };
    g_auto(HbEngineMemory) loaded = { 0 };

    fillMemory(&saved, g_get_monotonic_time());
    hbStateFileSave(dir, UUID_A, "old-name", &saved);
    assert_false(hbStateFileLoad(dir, UUID_A, "new-name", &loaded));
    assert_null(loaded.episode_starts);
    assert_false(exists(dir, UUID_A ".state"));
    /* A file that names no domain is no domain's. */
    touch(dir, UUID_B ".state", "[heartbeat]\nepisode=3\nfailed=true\n");
    assert_false(hbStateFileLoad(dir, UUID_B, "guest", &loaded));
    assert_false(exists(dir, UUID_B ".state"));
    assert_int_equal(takeWarnings(), 0);
}


/*
 * No file is nothing to say; a damaged one is logged and left for a look.
 * A FIFO or a symbolic link is not a file the daemon wrote: it is refused
 * without blocking (an alarm fails the test rather than hanging it).
 */
static void
test_state_unreadable(void **state)
{
    const char *dir = *state;
    g_autofree char *fifo = pathOf(dir, UUID_B, ".state");
    g_autofree char *link = pathOf(dir, UUID_C, ".state");
    g_autofree char *target = g_build_filename(dir, "elsewhere", NULL);
    g_auto(HbEngineMemory) memory = { 0 };

    assert_false(hbStateFileLoad(dir, UUID_A, "guest", &memory));
    assert_int_equal(takeWarnings(), 0);

    touch(dir, UUID_A ".state", "[heartbeat\nnot a key file\n");
    assert_false(hbStateFileLoad(dir, UUID_A, "guest", &memory));
    assert_int_equal(takeWarnings(), 1);
    assert_true(exists(dir, UUID_A ".state"));

    assert_int_equal(mkfifo(fifo, 0600), 0);
    touch(dir, "elsewhere", "[domain]\nname=guest\n[heartbeat]\nepisode=1\nfailed=true\n");
    assert_int_equal(symlink(target, link), 0);
    alarm(60);
    assert_false(hbStateFileLoad(dir, UUID_B, "guest", &memory));
    assert_false(hbStateFileLoad(dir, UUID_C, "guest", &memory));
    alarm(0);
    assert_int_equal(takeWarnings(), 2);
    assert_null(memory.episode_starts);
}


/* Guest "guest" (UUID_A) has a saved episode and a saved action=restart. */
static void
saveStateAndConfig(const char *dir)
{
    g_auto(HbEngineMemory) saved = { 0 };

    fillMemory(&saved, g_get_monotonic_time());
    hbStateFileSave(dir, UUID_A, "guest", &saved);
    assert_int_equal(hbStateFileSaveConfig(dir, UUID_A, "guest",
                                           "<heartbeat action='restart'/>"), 0);
}


/*
 * A state directory others came to be able to write after the start is
 * not read: what it holds may be theirs. Nothing is remembered and a
 * domain with invalid metadata is only notified about.
 */
static void
test_dir_loosened(void **state)
{
    const char *dir = *state;
    g_auto(HbEngineMemory) loaded = { 0 };
    HbConfig defaults;
    HbConfig cfg;

    hbConfigInitDefaults(&defaults);
    saveStateAndConfig(dir);
    assert_int_equal(g_chmod(dir, 0777), 0);
    assert_false(hbStateFileLoad(dir, UUID_A, "guest", &loaded));
    assert_null(loaded.episode_starts);
    hbStateFileRecallConfig(dir, UUID_A, "guest", &defaults, &cfg);
    assert_int_equal(cfg.action, HB_ACTION_NONE);
    assert_int_equal(takeWarnings(), 2);

    assert_int_equal(g_chmod(dir, 0700), 0);
    assert_true(hbStateFileLoad(dir, UUID_A, "guest", &loaded));
    hbStateFileRecallConfig(dir, UUID_A, "guest", &defaults, &cfg);
    assert_int_equal(cfg.action, HB_ACTION_RESTART);
    assert_int_equal(takeWarnings(), 0);
}


/*
 * A file in the state directory that the daemon did not write as it is is
 * not read back: one others may write, one with another hard link (whose
 * other name someone else may control), and a state directory that is a
 * symbolic link, whose target can be swapped between the check and the read.
 */
static void
test_foreign_files(void **state)
{
    const char *dir = *state;
    g_autofree char *state_path = pathOf(dir, UUID_A, ".state");
    g_autofree char *config_path = pathOf(dir, UUID_A, ".config");
    g_autofree char *other = g_build_filename(dir, "other-name", NULL);
    g_autofree char *dir_link = g_strconcat(dir, "-link", NULL);
    g_auto(HbEngineMemory) loaded = { 0 };
    HbConfig defaults;
    HbConfig cfg;

    hbConfigInitDefaults(&defaults);
    saveStateAndConfig(dir);
    assert_true(hbStateFileLoad(dir, UUID_A, "guest", &loaded));
    hbEngineMemoryClear(&loaded);

    assert_int_equal(g_chmod(state_path, 0666), 0);
    assert_int_equal(g_chmod(config_path, 0620), 0);
    assert_false(hbStateFileLoad(dir, UUID_A, "guest", &loaded));
    hbStateFileRecallConfig(dir, UUID_A, "guest", &defaults, &cfg);
    assert_int_equal(cfg.action, HB_ACTION_NONE);
    assert_int_equal(takeWarnings(), 2);

    assert_int_equal(g_chmod(state_path, 0600), 0);
    assert_int_equal(link(state_path, other), 0);
    assert_false(hbStateFileLoad(dir, UUID_A, "guest", &loaded));
    assert_int_equal(takeWarnings(), 1);
    assert_int_equal(g_unlink(other), 0);
    assert_true(hbStateFileLoad(dir, UUID_A, "guest", &loaded));
    hbEngineMemoryClear(&loaded);

    assert_int_equal(symlink(dir, dir_link), 0);
    assert_false(hbStateFileLoad(dir_link, UUID_A, "guest", &loaded));
    assert_int_equal(hbStateFileCheckDir(dir_link), -1);
    assert_int_equal(takeWarnings(), 2);
    g_unlink(dir_link);
    assert_null(loaded.episode_starts);
}


static void
test_config_save_and_recall(void **state)
{
    const char *dir = *state;
    g_autofree char *path = pathOf(dir, UUID_A, ".config");
    HbConfig defaults;
    HbConfig cfg;

    hbConfigInitDefaults(&defaults);
    assert_int_equal(hbStateFileSaveConfig(dir, UUID_A, "guest",
                                           "<heartbeat time='30' action='restart'/>"), 0);
    assertMode(path, 0600);
    hbStateFileRecallConfig(dir, UUID_A, "guest", &defaults, &cfg);
    assert_int_equal(cfg.time, 30);
    assert_int_equal(cfg.action, HB_ACTION_RESTART);

    /* Another domain under the same UUID: the defaults, notify only. */
    hbStateFileRecallConfig(dir, UUID_A, "other", &defaults, &cfg);
    assert_int_equal(cfg.time, defaults.time);
    assert_int_equal(cfg.action, HB_ACTION_NONE);
    assert_true(exists(dir, UUID_A ".config"));

    /* No metadata: the file goes, and nothing is recalled. */
    assert_int_equal(hbStateFileSaveConfig(dir, UUID_A, "guest", NULL), 0);
    assert_false(exists(dir, UUID_A ".config"));
    hbStateFileRecallConfig(dir, UUID_A, "guest", &defaults, &cfg);
    assert_int_equal(cfg.action, HB_ACTION_NONE);
    assert_int_equal(takeWarnings(), 0);
}


/* What is recalled must be valid and the daemon's own file. */
static void
test_config_recall_refuses(void **state)
{
    const char *dir = *state;
    g_autofree char *link = pathOf(dir, UUID_B, ".config");
    g_autofree char *target = g_build_filename(dir, "elsewhere", NULL);
    g_autofree char *blocked = pathOf(dir, UUID_C, ".config");
    HbConfig defaults;
    HbConfig cfg;

    hbConfigInitDefaults(&defaults);
    assert_int_equal(hbStateFileSaveConfig(dir, UUID_A, "guest",
                                           "<heartbeat action='restart' tme='5'/>"), 0);
    hbStateFileRecallConfig(dir, UUID_A, "guest", &defaults, &cfg);
    assert_int_equal(cfg.action, HB_ACTION_NONE);

    touch(dir, "elsewhere", "[domain]\nname=guest\n[heartbeat]\n"
          "metadata=<heartbeat action='restart'/>\n");
    assert_int_equal(symlink(target, link), 0);
    hbStateFileRecallConfig(dir, UUID_B, "guest", &defaults, &cfg);
    assert_int_equal(cfg.action, HB_ACTION_NONE);
    assert_int_equal(takeWarnings(), 1);

    /* Cannot be written: logged, and said so. */
    assert_int_equal(g_mkdir(blocked, 0700), 0);
    assert_int_equal(hbStateFileSaveConfig(dir, UUID_C, "guest", "<heartbeat/>"), -1);
    assert_int_equal(takeWarnings(), 1);
    g_rmdir(blocked);
}


/* A state directory of "": nothing is written, nothing is read. */
static void
test_no_state_dir(void **state)
{
    const char *dir = *state;
    g_autofree char *cwd = g_get_current_dir();
    g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GDir) d = NULL;
    g_auto(HbEngineMemory) memory = { 0 };
    HbConfig defaults;
    HbConfig cfg;

    touch(dir, UUID_A ".state", "[domain]\nname=guest\n[heartbeat]\nfailed=true\n");
    touch(dir, UUID_A ".config", "[domain]\nname=guest\n[heartbeat]\n"
          "metadata=<heartbeat action='restart'/>\n");
    /* Relative paths would land here. */
    assert_int_equal(chdir(dir), 0);
    fillMemory(&memory, g_get_monotonic_time());
    hbStateFileSave("", UUID_B, "guest", &memory);
    assert_int_equal(hbStateFileSaveConfig("", UUID_B, "guest", "<heartbeat/>"), 0);
    hbEngineMemoryClear(&memory);
    assert_false(hbStateFileLoad("", UUID_A, "guest", &memory));
    hbConfigInitDefaults(&defaults);
    hbStateFileRecallConfig("", UUID_A, "guest", &defaults, &cfg);
    assert_int_equal(cfg.action, HB_ACTION_NONE);
    hbStateFileForget("", UUID_A);
    hbStateFileSweep("", keep);
    assert_int_equal(chdir(cwd), 0);

    d = g_dir_open(dir, 0, NULL);
    for (guint n = 0; ; n++) {
        const char *entry = g_dir_read_name(d);
        if (!entry) {
            assert_int_equal(n, 2);
            break;
        }
        assert_true(g_str_has_prefix(entry, UUID_A "."));
    }
}


static void
test_forget(void **state)
{
    const char *dir = *state;

    touch(dir, UUID_A ".state", "");
    touch(dir, UUID_A ".config", "");
    touch(dir, UUID_B ".state", "");
    hbStateFileForget(dir, UUID_A);
    assert_false(exists(dir, UUID_A ".state"));
    assert_false(exists(dir, UUID_A ".config"));
    assert_true(exists(dir, UUID_B ".state"));
    /* Nothing to forget is no error. */
    hbStateFileForget(dir, UUID_C);
    assert_int_equal(takeWarnings(), 0);
}


/* Only files of UUIDs not kept go; whatever else is there stays. */
static void
test_sweep(void **state)
{
    const char *dir = *state;
    g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *gone = g_build_filename(dir, "gone", NULL);
    const char *stay[] = {
        UUID_A ".state", UUID_A ".config", UUID_C ".config",
        "notes.txt", "not-a-uuid.state", UUID_B ".txt", UUID_B ".state.bak", ".state",
    };
    const char *go[] = { UUID_B ".state", UUID_B ".config" };

    for (gsize i = 0; i < G_N_ELEMENTS(stay); i++)
        touch(dir, stay[i], "");
    for (gsize i = 0; i < G_N_ELEMENTS(go); i++)
        touch(dir, go[i], "");
    g_hash_table_add(keep, (gpointer) UUID_A);
    g_hash_table_add(keep, (gpointer) UUID_C);
    hbStateFileSweep(dir, keep);
    for (gsize i = 0; i < G_N_ELEMENTS(stay); i++)
        if (!exists(dir, stay[i]))
            fail_msg("%s was removed", stay[i]);
    for (gsize i = 0; i < G_N_ELEMENTS(go); i++)
        if (exists(dir, go[i]))
            fail_msg("%s was kept", go[i]);

    /* Nothing kept: every file of a UUID goes. */
    g_hash_table_remove_all(keep);
    hbStateFileSweep(dir, keep);
    assert_false(exists(dir, UUID_A ".state"));
    assert_false(exists(dir, UUID_C ".config"));
    assert_true(exists(dir, "notes.txt"));
    /* A state directory that is gone is nothing to sweep. */
    hbStateFileSweep(gone, keep);
    assert_int_equal(takeWarnings(), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_check_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_of_another_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_save_and_recall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_recall_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_state_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_loosened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_files, setup, teardown),
    };

    g_log_set_writer_func(countWarnings, NULL, NULL);
    return cmocka_run_group_tests_name("statefile", tests, NULL, NULL);
}
