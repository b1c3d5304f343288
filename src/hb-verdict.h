/*
 * Why a heartbeat stopped: a pure classifier of the silence and of two
 * samples of the domain's counters (vCPU time, disk and network bytes).
 * No libvirt, no clock: times come in with the samples.
 */
#pragma once

#include "hb-enum.h"

typedef enum {
    HB_VERDICT_UNKNOWN,       /* not enough to judge: today's rules apply */
    HB_VERDICT_GUEST_HUNG,    /* no tick, and no vCPU progress or no I/O */
    HB_VERDICT_AGENT_DEAD,    /* no tick, but vCPU time and I/O move */
    HB_VERDICT_GUEST_BUSY,    /* late ticks, vCPUs saturated */
    HB_VERDICT_CRASHED,       /* libvirt said so: crashed, panicked, crashloaded */

    HB_VERDICT_LAST
} HbVerdict;

HB_ENUM_DECL(hbVerdict, HbVerdict);

/* One reading of a domain's counters; a counter not read is not "has". */
typedef struct {
    gint64 time;            /* monotonic µs when read; 0: no sample */
    gboolean has_cpu;
    guint64 cpu_ns;         /* vCPU time of all vCPUs */
    guint vcpus;            /* vCPUs online; 0: not known (taken as 1) */
    gboolean has_block;
    guint64 block_bytes;    /* read + written, every disk */
    gboolean has_net;
    guint64 net_bytes;      /* received + sent, every interface */
} HbStatsSample;

/* What the heartbeat itself says. */
typedef struct {
    gint64 silence_us;      /* since the last tick; 0: no tick this boot */
    gboolean late_ticks;    /* some ticks came in the last block, too few */
    gboolean crashed;       /* a crash, panic, or crashloaded event this boot */
    const char *watchdog;   /* the action of a watchdog event since the last tick; NULL: none */
} HbSilence;

/*
 * Thresholds, from the e2e guests (BENCHMARKS.md "Verdicts"): an idle
 * guest's vCPUs still run its timer, and its kernel writes a little now
 * and then, so only more than these counts as progress.
 */
/* vCPU time per second of wall time, in parts per thousand of one vCPU. */
#define HB_VERDICT_CPU_MIN_PERMILLE 10
/* At or above this share of every vCPU the guest is saturated. */
#define HB_VERDICT_CPU_BUSY_PERMILLE 900
/* Disk plus network bytes per second. */
#define HB_VERDICT_IO_MIN_BPS 16384
/* Samples closer than this say nothing. */
#define HB_VERDICT_MIN_SPAN_US G_USEC_PER_SEC

/*
 * The verdict on @silence, from @before (read before the silence, or at
 * the last verdict) and @after (the newest); either may be absent
 * (NULL or time 0). @evidence: what it rests on, for people, e.g.
 * "no tick for 60 s; vCPU time +0.0 s; disk +0 B; net +0 B -> guest hung".
 */
HbVerdict hbVerdictJudge(const HbSilence *silence, const HbStatsSample *before,
                         const HbStatsSample *after, char **evidence);
/* The words for @verdict in evidence and logs: "agent dead, guest working". */
const char *hbVerdictDescribe(HbVerdict verdict);
