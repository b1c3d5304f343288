/*
 * Restart attempts: what a HB_JOB_RESTART does on a worker thread.
 */
#pragma once

#include "hb-job.h"

/*
 * What a restart attempt does, chosen from the domain's state now rather
 * than when it was decided: the domain may have changed meanwhile.
 */
typedef enum {
    HB_RESTART_NONE,
    HB_RESTART_RESET,
    HB_RESTART_RESET_RESUME, /* a reset crashed domain stays paused */
    HB_RESTART_DESTROY_START,
    HB_RESTART_START,
    HB_RESTART_NMI,          /* action=ladder, first attempt: no boot follows */

    HB_RESTART_LAST
} HbRestartStep;

HB_ENUM_DECL(hbRestartStep, HbRestartStep);

/*
 * Pure: the step the restart @job takes on a domain in libvirt's @state
 * and @reason; HB_RESTART_NONE with *@why (allocated): none to take.
 */
HbRestartStep hbRestartStepOf(const HbJob *job, int state, int reason, char **why);

/*
 * Pure: libvirt's @state, read after the diagnostic, as the attempt takes
 * it. A guest paused by our own dump, given up at its bound and still
 * written (job->diag_pending), counts as running: the reset waits for the
 * dump's job. Paused by a dump of anyone else's (a user's virsh dump, or
 * ours failed or never begun), it stays paused: no attempt is made on it.
 */
int hbRestartStateAfterDiag(const HbJob *job, int state, int reason);

/*
 * Reset, or destroy and start, job->uuid as the domain's state now asks
 * (it may have changed since the attempt was decided); the result is in
 * job->done (what was done) or ->error, and in ->dropped, ->not_made,
 * ->stopped_by_other and ->no_boot. Before the call it saves the
 * diagnostic job->diagnostics asks for (hb-diag.h), in its bound, and
 * reports it in ->diag_file or ->diag_error. With job->observe it reads the state
 * and works the step out, but takes it not: ->done names the step it would
 * take, and ->no_boot is set.
 */
void hbRestartRun(HbJob *job, virConnectPtr conn);
