/*
 * Restart attempts: the libvirt calls that inject an NMI, reset, or destroy
 * and start a domain, each made only while the episode it was decided in
 * is open; or, observed only, none of them.
 */
#include <config.h>

#include "hb-diag.h"
#include "hb-escalate.h"
#include "hb-restart.h"


HB_ENUM_IMPL(hbRestartStep, HbRestartStep, HB_RESTART_LAST,
             "none",
             "reset",
             "reset+resume",
             "destroy+start",
             "start",
             "nmi",
);


/*
 * action=ladder climbs one step per attempt of the episode: an NMI (a Linux
 * guest with kdump or panic_on_unrecovered_nmi leaves a dump), a reset,
 * then destroy and start, for a frozen guest that a reset does not bring
 * back. A crashed domain gets no NMI: it is past what one could tell.
 */
HbRestartStep
hbRestartStepOf(const HbJob *job, int state, int reason, char **why)
{
    gboolean ladder = job->action == HB_ACTION_LADDER;
    gboolean restart = job->action == HB_ACTION_RESTART || job->reset_stops ||
        (ladder && job->attempt >= 3);

    switch ((virDomainState) state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
        if (ladder && job->attempt <= 1)
            return HB_RESTART_NMI;
        return restart ? HB_RESTART_DESTROY_START : HB_RESTART_RESET;
    case VIR_DOMAIN_PAUSED:
        if (reason != VIR_DOMAIN_PAUSED_CRASHED) {
            *why = g_strdup("the domain is paused");
            return HB_RESTART_NONE;
        }
        G_GNUC_FALLTHROUGH;
    case VIR_DOMAIN_CRASHED:
        return restart ? HB_RESTART_DESTROY_START : HB_RESTART_RESET_RESUME;
    case VIR_DOMAIN_SHUTOFF:
        if (reason == VIR_DOMAIN_SHUTOFF_CRASHED || reason == VIR_DOMAIN_SHUTOFF_FAILED)
            return HB_RESTART_START;
        /* This episode's own destroy, with the start not made. */
        if (job->start_if_off && reason == VIR_DOMAIN_SHUTOFF_DESTROYED)
            return HB_RESTART_START;
        *why = g_strdup("the domain was shut off on purpose");
        return HB_RESTART_NONE;
    case VIR_DOMAIN_NOSTATE:
    case VIR_DOMAIN_SHUTDOWN:
    case VIR_DOMAIN_PMSUSPENDED:
    case VIR_DOMAIN_LAST:
        break;
    }
    *why = g_strdup_printf("domain state %d", state);
    return HB_RESTART_NONE;
}


int
hbRestartStateAfterDiag(const HbJob *job, int state, int reason)
{
    /* Ours only while it runs: the reason says a dump, not whose. */
    if (job->diag_pending && state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_DUMP)
        return VIR_DOMAIN_RUNNING;
    return state;
}


/*
 * Whether the attempt may still be made, checked right before each call:
 * its episode still open, and the host not suspected since it was decided
 * (hb-breaker.h). If not, the job is marked dropped or held, and its error
 * set.
 */
static gboolean
hbRestartWanted(HbJob *job, const char *when)
{
    if (!hbTicketIsOpen(job->ticket)) {
        job->dropped = TRUE;
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED,
                    "the episode ended, or the domain's action changed, before %s", when);
    } else if (!hbTicketIsOpen(job->host_gate)) {
        job->held = TRUE;
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED,
                    "host suspected before %s", when);
    } else {
        return TRUE;
    }
    return FALSE;
}


/* Each call is made only while the attempt is wanted; -1 and no libvirt error: it is not. */
static int
hbRestartCall(HbJob *job, virDomainPtr dom, int (*call)(virDomainPtr dom))
{
    if (!hbRestartWanted(job, "the call"))
        return -1;
    if (!job->sent)
        job->sent = g_get_monotonic_time();
    if (call(dom) == 0)
        return 0;
    /* Another job held the domain's state lock all along: nothing done.
     * Not so for a destroy: libvirt kills QEMU before it waits for the
     * lock, so one that timed out may have stopped the guest. */
    job->not_made = call != virDomainDestroy &&
        virGetLastErrorCode() == VIR_ERR_OPERATION_TIMEOUT;
    return -1;
}


static int
hbRestartReset(virDomainPtr dom)
{
    return virDomainReset(dom, 0);
}


static int
hbRestartNMI(virDomainPtr dom)
{
    return virDomainInjectNMI(dom, 0);
}


static int
hbRestartDomain(HbJob *job, virDomainPtr dom, HbRestartStep step)
{
    switch (step) {
    case HB_RESTART_NONE:
        return 0;
    case HB_RESTART_RESET:
        return hbRestartCall(job, dom, hbRestartReset);
    case HB_RESTART_RESET_RESUME:
        if (hbRestartCall(job, dom, hbRestartReset) < 0)
            return -1;
        return virDomainResume(dom);
    case HB_RESTART_DESTROY_START:
        if (hbRestartCall(job, dom, virDomainDestroy) < 0) {
            /* Stopped since its state was read: by the user, not us. */
            job->stopped_by_other = !job->error &&
                virGetLastErrorCode() == VIR_ERR_OPERATION_INVALID;
            return -1;
        }
        /* Destroyed: the start belongs to the attempt, whatever happens meanwhile. */
        return virDomainCreate(dom);
    case HB_RESTART_START:
        return hbRestartCall(job, dom, virDomainCreate);
    case HB_RESTART_NMI:
        return hbRestartCall(job, dom, hbRestartNMI);
    case HB_RESTART_LAST:
        break;
    }
    g_return_val_if_reached(-1);
}


/* Observed only: the step is worked out from the state read, and not taken. */
static void
hbRestartObserve(HbJob *job, HbRestartStep step, const char *why)
{
    if (!hbRestartWanted(job, "the call"))
        return;
    if (step == HB_RESTART_NONE) {
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "none: %s", why);
    } else {
        job->sent = g_get_monotonic_time();
        job->done = hbRestartStepToString(step);
        job->no_boot = TRUE;
    }
}


void
hbRestartRun(HbJob *job, virConnectPtr conn)
{
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *why = NULL;
    HbRestartStep step;
    int state, reason;

    if (!hbRestartWanted(job, "it ran"))
        return;
    if (!(dom = virDomainLookupByUUIDString(conn, job->uuid)) ||
        virDomainGetState(dom, &state, &reason, 0) < 0) {
        job->not_made = TRUE;
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "%s", hbUtilLastError());
        return;
    }
    /* Saved first, and the state read again after it: the guest may have
     * changed meanwhile, and hbRestartCall checks that the episode is
     * still open (the guest may have come back while a dump ran). */
    if (hbDiagWanted(job, state, reason)) {
        hbDiagSave(job, dom);
        if (virDomainGetState(dom, &state, &reason, 0) < 0) {
            job->not_made = TRUE;
            g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "%s", hbUtilLastError());
            return;
        }
        state = hbRestartStateAfterDiag(job, state, reason);
    }
    step = hbRestartStepOf(job, state, reason, &why);
    if (!why)
        step = hbEscalateRestartStep(job, dom, step, state, &why);
    /* Paused since the decision (by the user, an I/O error): nothing is
     * done, and the attempt is not spent; it is decided again once the
     * guest runs and misses again. */
    if (step == HB_RESTART_NONE && state == VIR_DOMAIN_PAUSED)
        job->not_made = TRUE;
    if (job->observe) {
        hbRestartObserve(job, step, why);
        return;
    }
    /* Nothing done is no success: no boot follows it. A call not wanted
     * any more failed, with its error set (hbRestartWanted). */
    if (step == HB_RESTART_NONE) {
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "none: %s", why);
    } else if (hbRestartDomain(job, dom, step) == 0) {
        job->done = hbRestartStepToString(step);
        job->no_boot = step == HB_RESTART_NMI;
    } else if (!job->error) {
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "%s: %s",
                    hbRestartStepToString(step), hbUtilLastError());
    }
}
