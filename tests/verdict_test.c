/*
 * The classifier: its rules at their thresholds, what it says when it
 * cannot judge, and samples recorded from the e2e guests (tests/data/verdict,
 * "virsh domstats --vcpu --block --interface" with the time of each reading,
 * written by tests/bench/stats-nowait.sh).
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-verdict.h"

#define S(x) ((gint64) (x) * G_USEC_PER_SEC)
#define NS(x) ((guint64) ((x) * 1e9))


static HbStatsSample
sample(gint64 time, double cpu_s, guint64 block, guint64 net)
{
    return (HbStatsSample) {
        .time = time, .has_cpu = TRUE, .cpu_ns = NS(cpu_s), .vcpus = 1,
        .has_block = TRUE, .block_bytes = block, .has_net = TRUE, .net_bytes = net,
    };
}


/* The verdict, and its evidence compared whole when @want is not NULL. */
static HbVerdict
judge(const HbSilence *silence, const HbStatsSample *a, const HbStatsSample *b,
      const char *want)
{
    g_autofree char *evidence = NULL;
    HbVerdict verdict = hbVerdictJudge(silence, a, b, &evidence);

    assert_non_null(evidence);
    if (want && !g_str_equal(evidence, want))
        fail_msg("evidence\n  %s\nwanted\n  %s", evidence, want);
    return verdict;
}


static void
test_names(void **state G_GNUC_UNUSED)
{
    assert_string_equal(hbVerdictToString(HB_VERDICT_AGENT_DEAD), "agent-dead-guest-working");
    assert_int_equal(hbVerdictFromString("guest-hung"), HB_VERDICT_GUEST_HUNG);
    assert_string_equal(hbVerdictDescribe(HB_VERDICT_AGENT_DEAD), "agent dead, guest working");
    assert_null(hbVerdictToString(HB_VERDICT_LAST));
}


static void
test_hung(void **state G_GNUC_UNUSED)
{
    HbSilence silence = { .silence_us = S(60) };
    HbStatsSample a = sample(S(100), 12.5, 4096, 100);
    HbStatsSample b = sample(S(160), 12.5, 4096, 100);

    assert_int_equal(judge(&silence, &a, &b,
                           "no tick for 60 s; vCPU time +0.0 s; disk +0 B; net +0 B in 60 s "
                           "-> guest hung"), HB_VERDICT_GUEST_HUNG);
    /* vCPUs spinning with interrupts off: no I/O, still hung. */
    b = sample(S(160), 72.5, 4096, 100);
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_GUEST_HUNG);
    /* Plenty of I/O, no vCPU time: nothing in the guest made it. */
    b = sample(S(160), 12.5, 4096 + (100 << 20), 100);
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_GUEST_HUNG);
}


static void
test_agent_dead(void **state G_GNUC_UNUSED)
{
    HbSilence silence = { .silence_us = S(20) };
    HbStatsSample a = sample(S(100), 1.0, 0, 0);
    HbStatsSample b = sample(S(110), 1.5, 10 << 20, 0);

    assert_int_equal(judge(&silence, &a, &b,
                           "no tick for 20 s; vCPU time +0.5 s; disk +10485760 B; net +0 B "
                           "in 10 s -> agent dead, guest working"), HB_VERDICT_AGENT_DEAD);
    /* Network traffic counts as I/O too. */
    b = sample(S(110), 1.5, 0, 1 << 20);
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_AGENT_DEAD);
}


/* Each threshold: just below it is not progress, at it is. */
static void
test_thresholds(void **state G_GNUC_UNUSED)
{
    HbSilence silence = { .silence_us = S(20) };
    guint64 io_floor = (guint64) HB_VERDICT_IO_MIN_BPS * 10;
    double cpu_floor = HB_VERDICT_CPU_MIN_PERMILLE / 1000.0 * 10;
    HbStatsSample a = sample(S(100), 1.0, 0, 0);
    HbStatsSample b = sample(S(110), 1.0 + cpu_floor, io_floor, 0);

    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_AGENT_DEAD);
    b.block_bytes = io_floor - 1;
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_GUEST_HUNG);
    b.block_bytes = io_floor;
    b.cpu_ns = NS(1.0 + cpu_floor) - 1000;
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_GUEST_HUNG);
}


static void
test_busy(void **state G_GNUC_UNUSED)
{
    HbSilence silence = { .silence_us = S(30), .late_ticks = TRUE };
    HbStatsSample a = sample(S(100), 10.0, 0, 0);
    HbStatsSample b = sample(S(110), 19.5, 0, 0);

    assert_int_equal(judge(&silence, &a, &b,
                           "no tick for 30 s, late ticks; vCPU time +9.5 s; disk +0 B; net +0 B "
                           "in 10 s -> guest busy"), HB_VERDICT_GUEST_BUSY);
    /* Two vCPUs: one saturated is half the guest. */
    a.vcpus = b.vcpus = 2;
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_GUEST_HUNG);
    b.cpu_ns = NS(10.0 + 18.5);
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_GUEST_BUSY);
    /* Saturated but no late tick: a spinning guest. */
    silence.late_ticks = FALSE;
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_GUEST_HUNG);
}


static void
test_crashed(void **state G_GNUC_UNUSED)
{
    HbSilence silence = { .silence_us = S(5), .crashed = TRUE };
    HbStatsSample a = sample(S(100), 1.0, 0, 0);
    HbStatsSample b = sample(S(110), 5.0, 10 << 20, 0);

    assert_int_equal(judge(&silence, &a, &b,
                           "no tick for 5 s; libvirt reported a crash -> crashed"),
                     HB_VERDICT_CRASHED);
    assert_int_equal(judge(&silence, NULL, NULL, NULL), HB_VERDICT_CRASHED);
}


/* Whatever is missing makes it unknown, and the evidence says what. */
/*
 * The guest's watchdog fired since the last tick: hung, even where the
 * counters alone say the guest works, and with no counters at all. A crash
 * still comes first.
 */
static void
test_watchdog(void **state G_GNUC_UNUSED)
{
    HbSilence silence = { .silence_us = S(20), .watchdog = "none" };
    HbStatsSample a = sample(S(100), 1.0, 0, 0);
    HbStatsSample b = sample(S(110), 1.5, 10 << 20, 0);

    assert_int_equal(judge(&silence, &a, &b,
                           "no tick for 20 s; its watchdog fired (action none) -> guest hung"),
                     HB_VERDICT_GUEST_HUNG);
    assert_int_equal(judge(&silence, NULL, NULL, NULL), HB_VERDICT_GUEST_HUNG);
    silence.watchdog = NULL;
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_AGENT_DEAD);
    silence.watchdog = "inject-nmi";
    silence.crashed = TRUE;
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_CRASHED);
}


static void
test_unknown(void **state G_GNUC_UNUSED)
{
    HbSilence silence = { .silence_us = 0 };
    HbStatsSample a = sample(S(100), 1.0, 0, 0);
    HbStatsSample b = sample(S(110), 1.5, 10 << 20, 0);
    HbStatsSample none = { 0 };

    assert_int_equal(judge(&silence, NULL, &b,
                           "no tick this boot; stats not available -> unknown"),
                     HB_VERDICT_UNKNOWN);
    assert_int_equal(judge(&silence, &a, NULL, NULL), HB_VERDICT_UNKNOWN);
    assert_int_equal(judge(&silence, &none, &b, NULL), HB_VERDICT_UNKNOWN);
    /* The same reading twice, or two a moment apart. */
    assert_int_equal(judge(&silence, &a, &a,
                           "no tick this boot; stats not available: no sample since the "
                           "silence began -> unknown"), HB_VERDICT_UNKNOWN);
    b.time = a.time + HB_VERDICT_MIN_SPAN_US - 1;
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_UNKNOWN);
    b.time = S(110);

    /* No vCPU time read. */
    b.has_cpu = FALSE;
    assert_int_equal(judge(&silence, &a, &b,
                           "no tick this boot; vCPU time n/a; disk +10485760 B; net +0 B in 10 s; "
                           "stats not available -> unknown"), HB_VERDICT_UNKNOWN);
    b.has_cpu = TRUE;

    /* NOWAIT skipped the disks: quiet network says nothing of them. */
    b.has_block = FALSE;
    assert_int_equal(judge(&silence, &a, &b,
                           "no tick this boot; vCPU time +0.5 s; disk n/a; net +0 B in 10 s; "
                           "disk stats not available -> unknown"), HB_VERDICT_UNKNOWN);
    /* ... but busy network is enough, and no vCPU time is hung whatever. */
    b.net_bytes = 1 << 20;
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_AGENT_DEAD);
    b.net_bytes = 0;
    b.has_net = FALSE;
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_UNKNOWN);
    b.cpu_ns = a.cpu_ns;
    assert_int_equal(judge(&silence, &a, &b, NULL), HB_VERDICT_GUEST_HUNG);
}


/* A counter that went back (a new QEMU, a disk unplugged) is not read: neither
 * a huge progress nor none. */
static void
test_counters_restart(void **state G_GNUC_UNUSED)
{
    HbSilence silence = { .silence_us = S(20) };
    HbStatsSample a = sample(S(100), 100.0, 1 << 30, 1 << 20);
    HbStatsSample b = sample(S(110), 0.5, 4096, 0);

    assert_int_equal(judge(&silence, &a, &b,
                           "no tick for 20 s; vCPU time n/a; disk n/a; net n/a in 10 s; "
                           "stats not available -> unknown"), HB_VERDICT_UNKNOWN);
    /* Only the disks' sum went back (one unplugged): a working guest is not
     * taken for hung on a disk +0. */
    b = sample(S(110), 105.0, 4096, 1 << 20);
    assert_int_equal(judge(&silence, &a, &b,
                           "no tick for 20 s; vCPU time +5.0 s; disk n/a; net +0 B in 10 s; "
                           "disk stats not available -> unknown"), HB_VERDICT_UNKNOWN);
}


/*
 * The samples of a file tests/bench/stats-nowait.sh recorded: "# time_us N"
 * before each reading, then virsh's "Domain: 'x'" and "  key=value" lines.
 */
static GArray *
loadRecorded(const char *name)
{
    g_autofree char *path = g_build_filename(TEST_SRCDIR, "data", "verdict", name, NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GArray *samples = g_array_new(FALSE, TRUE, sizeof(HbStatsSample));
    HbStatsSample *cur = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail_msg("cannot read %s", path);
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) kv = NULL;
        const char *key;
        guint64 value;

        if (g_str_has_prefix(lines[i], "# time_us ")) {
            g_array_set_size(samples, samples->len + 1);
            cur = &g_array_index(samples, HbStatsSample, samples->len - 1);
            cur->time = g_ascii_strtoll(lines[i] + 10, NULL, 10);
            continue;
        }
        kv = g_strsplit(g_strstrip(lines[i]), "=", 2);
        if (!cur || !kv[0] || !kv[1])
            continue;
        key = kv[0];
        value = g_ascii_strtoull(kv[1], NULL, 10);
        /* The fields hbJobStats sums, as it sums them. */
        if (g_str_equal(key, "vcpu.current")) {
            cur->vcpus = value;
            cur->has_cpu = TRUE;
        } else if (g_str_has_prefix(key, "vcpu.") && g_str_has_suffix(key, ".time")) {
            cur->cpu_ns += value;
        } else if (g_str_equal(key, "block.count")) {
            cur->has_block = TRUE;
        } else if (g_str_has_suffix(key, ".rd.bytes") || g_str_has_suffix(key, ".wr.bytes")) {
            cur->block_bytes += value;
        } else if (g_str_equal(key, "net.count")) {
            cur->has_net = TRUE;
        } else if (g_str_has_suffix(key, ".rx.bytes") || g_str_has_suffix(key, ".tx.bytes")) {
            cur->net_bytes += value;
        }
    }
    assert_int_equal(samples->len, 2);
    return samples;
}


static HbVerdict
judgeRecorded(const char *name, char **evidence)
{
    g_autoptr(GArray) s = loadRecorded(name);
    HbStatsSample *a = &g_array_index(s, HbStatsSample, 0);
    HbStatsSample *b = &g_array_index(s, HbStatsSample, 1);
    HbSilence silence = { .silence_us = b->time - a->time };

    return hbVerdictJudge(&silence, a, b, evidence);
}


static void
test_recorded(void **state G_GNUC_UNUSED)
{
    static const struct {
        const char *file;
        HbVerdict verdict;
    } cases[] = {
        { "idle.txt", HB_VERDICT_GUEST_HUNG },       /* agent alive, guest idle */
        { "writing.txt", HB_VERDICT_AGENT_DEAD },    /* agent killed, dd to its disk */
        { "stopped.txt", HB_VERDICT_GUEST_HUNG },    /* its QEMU SIGSTOPped */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *evidence = NULL;
        HbVerdict got = judgeRecorded(cases[i].file, &evidence);

        if (got != cases[i].verdict)
            fail_msg("%s: %s, wanted %s", cases[i].file, evidence,
                     hbVerdictToString(cases[i].verdict));
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_hung),
        cmocka_unit_test(test_agent_dead),
        cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_crashed),
        cmocka_unit_test(test_watchdog),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_counters_restart),
        cmocka_unit_test(test_recorded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
