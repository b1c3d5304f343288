/*
 * The verdict on a stopped heartbeat and its evidence, from the silence
 * and two samples of the domain's counters. Pure.
 */
#include <config.h>

#include "hb-verdict.h"

HB_ENUM_IMPL(hbVerdict, HbVerdict, HB_VERDICT_LAST,
             "unknown",
             "guest-hung",
             "agent-dead-guest-working",
             "guest-busy",
             "crashed",
);

static const char *const hbVerdictWords[] = {
    [HB_VERDICT_UNKNOWN] = "unknown",
    [HB_VERDICT_GUEST_HUNG] = "guest hung",
    [HB_VERDICT_AGENT_DEAD] = "agent dead, guest working",
    [HB_VERDICT_GUEST_BUSY] = "guest busy",
    [HB_VERDICT_CRASHED] = "crashed",
};
G_STATIC_ASSERT(G_N_ELEMENTS(hbVerdictWords) == HB_VERDICT_LAST);


const char *
hbVerdictDescribe(HbVerdict verdict)
{
    return hbEnumToString(hbVerdictWords, HB_VERDICT_LAST, verdict);
}


static void
hbVerdictSilenceText(GString *text, const HbSilence *silence)
{
    if (silence->silence_us > 0)
        g_string_append_printf(text, "no tick for %" G_GINT64_FORMAT " s",
                               silence->silence_us / G_USEC_PER_SEC);
    else
        g_string_append(text, "no tick this boot");
    if (silence->late_ticks)
        g_string_append(text, ", late ticks");
}


/* Bytes moved between two samples, "+N B" or "n/a" when either lacks them. */
static gboolean
hbVerdictDelta(gboolean has_a, guint64 a, gboolean has_b, guint64 b, guint64 *delta)
{
    /* A counter that went back (a disk unplugged, a new QEMU read out of
     * order) says nothing of what moved: not read, rather than +0, which
     * would pass for a hang. */
    if (!has_a || !has_b || b < a)
        return FALSE;
    *delta = b - a;
    return TRUE;
}


static void
hbVerdictBytesText(GString *text, const char *what, gboolean has, guint64 bytes)
{
    if (has)
        g_string_append_printf(text, "; %s +%" G_GUINT64_FORMAT " B", what, bytes);
    else
        g_string_append_printf(text, "; %s n/a", what);
}


static HbVerdict
hbVerdictFinish(GString *text, HbVerdict verdict, const char *why)
{
    if (why)
        g_string_append_printf(text, "; %s", why);
    g_string_append_printf(text, " -> %s", hbVerdictDescribe(verdict));
    return verdict;
}


HbVerdict
hbVerdictJudge(const HbSilence *silence, const HbStatsSample *before,
               const HbStatsSample *after, char **evidence)
{
    g_autoptr(GString) text = g_string_new(NULL);
    HbVerdict verdict;
    gint64 span;
    guint64 cpu = 0, block = 0, net = 0;
    gboolean has_cpu, has_block, has_net;
    guint64 vcpus, cpu_permille, io_bps;
    gboolean cpu_moves, io_moves;

    hbVerdictSilenceText(text, silence);
    if (silence->crashed) {
        verdict = hbVerdictFinish(text, HB_VERDICT_CRASHED, "libvirt reported a crash");
        goto done;
    }
    /* The guest's own watchdog says it stopped working, whatever its counters do. */
    if (silence->watchdog) {
        g_string_append_printf(text, "; its watchdog fired (action %s)", silence->watchdog);
        verdict = hbVerdictFinish(text, HB_VERDICT_GUEST_HUNG, NULL);
        goto done;
    }
    if (!before || !after || !before->time || !after->time) {
        verdict = hbVerdictFinish(text, HB_VERDICT_UNKNOWN, "stats not available");
        goto done;
    }
    span = after->time - before->time;
    if (span < HB_VERDICT_MIN_SPAN_US) {
        verdict = hbVerdictFinish(text, HB_VERDICT_UNKNOWN,
                                  "stats not available: no sample since the silence began");
        goto done;
    }
    has_cpu = hbVerdictDelta(before->has_cpu, before->cpu_ns, after->has_cpu, after->cpu_ns,
                             &cpu);
    has_block = hbVerdictDelta(before->has_block, before->block_bytes, after->has_block,
                               after->block_bytes, &block);
    has_net = hbVerdictDelta(before->has_net, before->net_bytes, after->has_net,
                             after->net_bytes, &net);
    if (has_cpu)
        g_string_append_printf(text, "; vCPU time +%.1f s", cpu / 1e9);
    else
        g_string_append(text, "; vCPU time n/a");
    hbVerdictBytesText(text, "disk", has_block, block);
    hbVerdictBytesText(text, "net", has_net, net);
    g_string_append_printf(text, " in %.0f s", span / 1e6);
    if (!has_cpu) {
        verdict = hbVerdictFinish(text, HB_VERDICT_UNKNOWN, "stats not available");
        goto done;
    }

    vcpus = MAX(after->vcpus, 1);
    /* ns per µs is 1000, so this is parts per thousand of one vCPU. */
    cpu_permille = cpu / (guint64) span;
    io_bps = (block + net) * G_USEC_PER_SEC / (guint64) span;
    cpu_moves = cpu_permille >= HB_VERDICT_CPU_MIN_PERMILLE;
    io_moves = io_bps >= HB_VERDICT_IO_MIN_BPS;

    if (silence->late_ticks && cpu_permille >= HB_VERDICT_CPU_BUSY_PERMILLE * vcpus)
        verdict = hbVerdictFinish(text, HB_VERDICT_GUEST_BUSY, NULL);
    else if (!cpu_moves)
        verdict = hbVerdictFinish(text, HB_VERDICT_GUEST_HUNG, NULL);
    else if (!has_block && !has_net)
        /* vCPUs that spin say nothing without the I/O beside them. */
        verdict = hbVerdictFinish(text, HB_VERDICT_UNKNOWN, "I/O stats not available");
    else if (io_moves)
        verdict = hbVerdictFinish(text, HB_VERDICT_AGENT_DEAD, NULL);
    else if (!has_block)
        /* NOWAIT skipped the disks: writes may be what we did not see. */
        verdict = hbVerdictFinish(text, HB_VERDICT_UNKNOWN, "disk stats not available");
    else
        verdict = hbVerdictFinish(text, HB_VERDICT_GUEST_HUNG, NULL);

 done:
    if (evidence)
        *evidence = g_string_free(g_steal_pointer(&text), FALSE);
    return verdict;
}
