/*
 * The state file: a golden file both ways, and damaged or hostile files
 * that must read as "not set" rather than as a time far ahead.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-state.h"
#include "hb-util.h"

#define GOLDEN TEST_SRCDIR "/data/state/golden.state"
/* The host booted a day ago; the wall clock says 2026-11-29 00:00 UTC. */
#define NOW ((gint64) 86400 * G_USEC_PER_SEC)
#define OFFSET ((gint64) 1795910400 * G_USEC_PER_SEC - NOW)
#define S(x) ((gint64) (x) * G_USEC_PER_SEC)


static void
goldenMemory(HbEngineMemory *memory)
{
    gint64 starts[] = { NOW - S(600), NOW - S(60) };

    *memory = (HbEngineMemory) {
        .episode = 3, .open = TRUE, .attempts = 2, .next_attempt = NOW + S(30),
        .start_if_off = TRUE, .boot_time = S(12),
    };
    memory->episode_starts = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_array_append_vals(memory->episode_starts, starts, G_N_ELEMENTS(starts));
}


static void
assertSameMemory(const HbEngineMemory *a, const HbEngineMemory *b)
{
    assert_int_equal(a->episode, b->episode);
    assert_int_equal(a->open, b->open);
    assert_int_equal(a->failed, b->failed);
    assert_int_equal(a->storm_capped, b->storm_capped);
    assert_int_equal(a->attempts, b->attempts);
    assert_int_equal(a->next_attempt, b->next_attempt);
    assert_int_equal(a->restart_in_flight, b->restart_in_flight);
    assert_int_equal(a->start_if_off, b->start_if_off);
    assert_int_equal(a->boot_time, b->boot_time);
    assert_int_equal(a->episode_starts->len, b->episode_starts->len);
    for (guint i = 0; i < a->episode_starts->len; i++)
        assert_int_equal(g_array_index(a->episode_starts, gint64, i),
                         g_array_index(b->episode_starts, gint64, i));
}


static HbEngineMemory
parseOk(const char *text)
{
    g_autoptr(GError) err = NULL;
    HbEngineMemory memory;

    assert_int_equal(hbStateParse(text, strlen(text), OFFSET, NOW, NULL, &memory, &err), 0);
    assert_null(err);
    return memory;
}


static void
test_golden_format(void **state G_GNUC_UNUSED)
{
    g_autofree char *golden = NULL;
    g_autofree char *text = NULL;
    g_auto(HbEngineMemory) memory = { 0 };

    assert_true(g_file_get_contents(GOLDEN, &golden, NULL, NULL));
    goldenMemory(&memory);
    text = hbStateFormat("guest1", &memory, OFFSET);
    assert_string_equal(text, golden);
}


static void
test_golden_parse(void **state G_GNUC_UNUSED)
{
    g_autofree char *golden = NULL;
    g_auto(HbEngineMemory) want = { 0 };
    g_auto(HbEngineMemory) got = { 0 };

    assert_true(g_file_get_contents(GOLDEN, &golden, NULL, NULL));
    goldenMemory(&want);
    got = parseOk(golden);
    assertSameMemory(&got, &want);
}


/* A file written before the host rebooted: its times are before this boot. */
static void
test_times_before_boot(void **state G_GNUC_UNUSED)
{
    g_autofree char *text = g_strdup_printf(
        "[heartbeat]\nopen=true\nnext_attempt=%" G_GINT64_FORMAT "\n"
        "episode_starts=%" G_GINT64_FORMAT "\n",
        OFFSET - S(100), OFFSET - S(200));
    g_auto(HbEngineMemory) memory = parseOk(text);

    /* The attempt is due at once; the episode start keeps its place in the window. */
    assert_int_equal(memory.next_attempt, 1);
    assert_int_equal(memory.episode_starts->len, 1);
    assert_int_equal(g_array_index(memory.episode_starts, gint64, 0), -S(200));
}


static void
test_bad_times_not_set(void **state G_GNUC_UNUSED)
{
    const char *next_attempts[] = {
        "-1", "0", "9223372036854775807", "-9223372036854775808",
        "99999999999999999999", "soon", "",
    };

    for (guint i = 0; i < G_N_ELEMENTS(next_attempts); i++) {
        g_autofree char *text = g_strdup_printf("[heartbeat]\nopen=true\nnext_attempt=%s\n",
                                                next_attempts[i]);
        g_auto(HbEngineMemory) memory = parseOk(text);

        assert_int_equal(memory.next_attempt, 0);
        assert_true(memory.open);
    }
}


/* Far ahead is not set; just inside the limit is kept. */
static void
test_time_ahead_limit(void **state G_GNUC_UNUSED)
{
    gint64 limit = NOW + OFFSET + S(HB_STATE_AHEAD_MAX_S);
    g_autofree char *text = g_strdup_printf(
        "[heartbeat]\nnext_attempt=%" G_GINT64_FORMAT "\n"
        "episode_starts=%" G_GINT64_FORMAT ";%" G_GINT64_FORMAT ";-5;0;x;%" G_GINT64_FORMAT "\n",
        limit + 1, limit, limit + 1, NOW + OFFSET);
    g_auto(HbEngineMemory) memory = parseOk(text);

    assert_int_equal(memory.next_attempt, 0);
    assert_int_equal(memory.episode_starts->len, 2);
    assert_int_equal(g_array_index(memory.episode_starts, gint64, 0), limit - OFFSET);
    assert_int_equal(g_array_index(memory.episode_starts, gint64, 1), NOW);
}


static void
test_counts_bounded(void **state G_GNUC_UNUSED)
{
    g_autoptr(GString) text = g_string_new("[heartbeat]\nattempts=99999\nboot_time=-7\n"
                                           "episode=-1\nepisode_starts=");
    g_auto(HbEngineMemory) memory = { 0 };

    for (guint i = 0; i < HB_STATE_STARTS_MAX + 50; i++)
        g_string_append_printf(text, "%" G_GINT64_FORMAT ";", NOW + OFFSET - S(5000 - i));
    g_string_append(text, "\n");
    memory = parseOk(text->str);
    assert_int_equal(memory.attempts, 1000);
    assert_int_equal(memory.boot_time, 0);
    assert_int_equal(memory.episode, 0);
    /* The newest are kept. */
    assert_int_equal(memory.episode_starts->len, HB_STATE_STARTS_MAX);
    assert_int_equal(g_array_index(memory.episode_starts, gint64, HB_STATE_STARTS_MAX - 1),
                     NOW - S(5000 - (HB_STATE_STARTS_MAX + 49)));
}


static void
test_not_a_key_file(void **state G_GNUC_UNUSED)
{
    g_autofree char *long_line = g_strnfill(100000, 'x');
    const char *bad[] = { "garbage", "[heartbeat\nopen=true\n", "open=true\n", "\xff\xfe[",
                          "[\xff\xfe\n", long_line };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_auto(HbEngineMemory) memory = { 0 };

        assert_int_equal(hbStateParse(bad[i], strlen(bad[i]), OFFSET, NOW, NULL, &memory, &err),
                         -1);
        assert_non_null(err);
        /* The message quotes the file: it must be UTF-8 for the log. */
        assert_true(g_utf8_validate(err->message, -1, NULL));
        assert_true(strlen(err->message) <= HB_UTIL_ERROR_MAX);
        assert_null(memory.episode_starts);
    }
}


/* Empty and foreign files are well-formed: nothing is remembered. */
static void
test_empty_remembers_nothing(void **state G_GNUC_UNUSED)
{
    g_auto(HbEngineMemory) memory = parseOk("[other]\nkey=1\n");

    assert_false(memory.open || memory.failed);
    assert_int_equal(memory.next_attempt, 0);
    assert_int_equal(memory.episode_starts->len, 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_format),
        cmocka_unit_test(test_golden_parse),
        cmocka_unit_test(test_times_before_boot),
        cmocka_unit_test(test_bad_times_not_set),
        cmocka_unit_test(test_time_ahead_limit),
        cmocka_unit_test(test_counts_bounded),
        cmocka_unit_test(test_not_a_key_file),
        cmocka_unit_test(test_empty_remembers_nothing),
    };

    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
