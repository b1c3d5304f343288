/*
 * The step a restart attempt takes, by action, attempt and libvirt state;
 * and an observed attempt against libvirt's test driver.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-restart.h"
#include "hb-util.h"
#include "test-util.h"

typedef struct {
    HbAction action;
    gboolean reset_stops;  /* <on_reboot>destroy */
    gboolean start_if_off; /* the episode's own destroy left it off */
    guint attempt;
    int state;
    int reason;
    HbRestartStep step;
} StepCase;

#define RUN VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED
#define CRASHED_PAUSED VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_CRASHED
#define CRASHED_OFF VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED
#define DESTROYED VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DESTROYED

static const StepCase stepCases[] = {
    { HB_ACTION_RESET, FALSE, FALSE, 1, RUN, HB_RESTART_RESET },
    { HB_ACTION_RESET, FALSE, FALSE, 3, RUN, HB_RESTART_RESET },
    { HB_ACTION_RESET, TRUE, FALSE, 1, RUN, HB_RESTART_DESTROY_START },
    { HB_ACTION_RESET, FALSE, FALSE, 1, CRASHED_PAUSED, HB_RESTART_RESET_RESUME },
    { HB_ACTION_RESTART, FALSE, FALSE, 1, RUN, HB_RESTART_DESTROY_START },
    { HB_ACTION_OBSERVE, FALSE, FALSE, 1, RUN, HB_RESTART_RESET },
    { HB_ACTION_OBSERVE, FALSE, FALSE, 2, CRASHED_OFF, HB_RESTART_START },
    /* The ladder: nmi, reset, then destroy+start from the third attempt on. */
    { HB_ACTION_LADDER, FALSE, FALSE, 1, RUN, HB_RESTART_NMI },
    { HB_ACTION_LADDER, FALSE, FALSE, 1, VIR_DOMAIN_BLOCKED, 0, HB_RESTART_NMI },
    { HB_ACTION_LADDER, FALSE, FALSE, 2, RUN, HB_RESTART_RESET },
    { HB_ACTION_LADDER, FALSE, FALSE, 3, RUN, HB_RESTART_DESTROY_START },
    { HB_ACTION_LADDER, FALSE, FALSE, 12, RUN, HB_RESTART_DESTROY_START },
    /* A reset would stop it for good: destroy+start in place of the reset. */
    { HB_ACTION_LADDER, TRUE, FALSE, 1, RUN, HB_RESTART_NMI },
    { HB_ACTION_LADDER, TRUE, FALSE, 2, RUN, HB_RESTART_DESTROY_START },
    /* Crashed: no NMI, today's rules with the ladder's rung. */
    { HB_ACTION_LADDER, FALSE, FALSE, 1, CRASHED_PAUSED, HB_RESTART_RESET_RESUME },
    { HB_ACTION_LADDER, FALSE, FALSE, 2, CRASHED_PAUSED, HB_RESTART_RESET_RESUME },
    { HB_ACTION_LADDER, FALSE, FALSE, 3, CRASHED_PAUSED, HB_RESTART_DESTROY_START },
    { HB_ACTION_LADDER, FALSE, FALSE, 1, VIR_DOMAIN_CRASHED, 0, HB_RESTART_RESET_RESUME },
    { HB_ACTION_LADDER, FALSE, FALSE, 1, CRASHED_OFF, HB_RESTART_START },
    { HB_ACTION_LADDER, FALSE, FALSE, 3, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_FAILED,
      HB_RESTART_START },
    { HB_ACTION_LADDER, FALSE, TRUE, 4, DESTROYED, HB_RESTART_START },
    /* Not ours to act on, whatever the rung. */
    { HB_ACTION_LADDER, FALSE, FALSE, 3, DESTROYED, HB_RESTART_NONE },
    { HB_ACTION_LADDER, FALSE, FALSE, 1, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER,
      HB_RESTART_NONE },
    { HB_ACTION_LADDER, FALSE, FALSE, 2, VIR_DOMAIN_PMSUSPENDED, 0, HB_RESTART_NONE },
};


static void
test_step_of(void **state G_GNUC_UNUSED)
{
    for (size_t i = 0; i < G_N_ELEMENTS(stepCases); i++) {
        const StepCase *c = &stepCases[i];
        g_autoptr(HbJob) job = hbJobNew(HB_JOB_RESTART, "x");
        g_autofree char *why = NULL;
        HbRestartStep step;

        job->action = c->action;
        job->reset_stops = c->reset_stops;
        job->start_if_off = c->start_if_off;
        job->attempt = c->attempt;
        step = hbRestartStepOf(job, c->state, c->reason, &why);
        if (step != c->step)
            fail_msg("case %zu: %s attempt %u, state %d/%d: %s, not %s", i,
                     hbActionToString(c->action), c->attempt, c->state, c->reason,
                     hbRestartStepToString(step), hbRestartStepToString(c->step));
        if ((step == HB_RESTART_NONE) != (why != NULL))
            fail_msg("case %zu: why '%s' with step %s", i, why ? why : "(none)",
                     hbRestartStepToString(step));
    }
}


/*
 * A guest paused for a dump counts as running only while the dump is
 * ours and still written: one paused by a user's dump (ours failed, was
 * not due, or finished) is not reset under it, and a user's own pause
 * is never taken for our dump's.
 */
static void
test_state_after_diag(void **state G_GNUC_UNUSED)
{
    g_autoptr(HbJob) job = hbJobNew(HB_JOB_RESTART, "x");
    g_autofree char *why = NULL;
    int st;

    job->action = HB_ACTION_RESET;
    job->attempt = 1;
    job->diagnostics = HB_DIAG_DUMP;
    /* Our dump failed at once (say: another job was running): not ours. */
    job->diag_error = g_strdup("dump: another job is running");
    st = hbRestartStateAfterDiag(job, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_DUMP);
    assert_int_equal(st, VIR_DOMAIN_PAUSED);
    assert_int_equal(hbRestartStepOf(job, st, VIR_DOMAIN_PAUSED_DUMP, &why), HB_RESTART_NONE);
    assert_string_equal(why, "the domain is paused");

    /* Ours, given up at its bound and still written: the reset waits for it. */
    job->diag_pending = TRUE;
    st = hbRestartStateAfterDiag(job, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_DUMP);
    assert_int_equal(st, VIR_DOMAIN_RUNNING);
    assert_int_equal(hbRestartStateAfterDiag(job, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER),
                     VIR_DOMAIN_PAUSED);
    assert_int_equal(hbRestartStateAfterDiag(job, VIR_DOMAIN_RUNNING, 0), VIR_DOMAIN_RUNNING);

    /* The cleared result forgets it. */
    hbJobClearResult(job);
    assert_false(job->diag_pending);
}


/* A restart job on the test driver's running domain, for @action's @attempt. */
static HbJob *
runJob(virConnectPtr conn, virDomainPtr dom, HbAction action, guint attempt,
       gboolean observe)
{
    g_autofree char *uuid = testDomainUUID(dom);
    HbJob *job = hbJobNew(HB_JOB_RESTART, uuid);

    job->action = action;
    job->attempt = attempt;
    job->observe = observe;
    job->ticket = hbTicketNew();
    hbRestartRun(job, conn);
    return job;
}


/*
 * Made: an NMI is done and no boot follows; a destroy+start is followed by
 * a boot. Observed: the step is named, and no boot follows.
 */
static void
test_run_ladder_and_observed(void **state G_GNUC_UNUSED)
{
    g_autoptr(virConnect) conn = virConnectOpen("test:///default");
    g_autoptr(virDomain) dom = testDomainStart(conn, "hb-ladder", TRUE, NULL);
    g_autoptr(HbJob) nmi = runJob(conn, dom, HB_ACTION_LADDER, 1, FALSE);
    g_autoptr(HbJob) would = runJob(conn, dom, HB_ACTION_LADDER, 3, TRUE);
    g_autoptr(HbJob) destroy = NULL;

    assert_null(nmi->error);
    assert_string_equal(nmi->done, "nmi");
    assert_true(nmi->no_boot);
    assert_null(would->error);
    assert_string_equal(would->done, "destroy+start");
    assert_true(would->no_boot);

    destroy = runJob(conn, dom, HB_ACTION_LADDER, 3, FALSE);
    assert_null(destroy->error);
    assert_string_equal(destroy->done, "destroy+start");
    assert_false(destroy->no_boot);
    assert_int_equal(virDomainIsActive(dom), 1);
    testDomainRemove(conn, "hb-ladder");
}


/* Paused between the decision and the run: nothing done, not spent. */
static void
test_run_paused_not_made(void **state G_GNUC_UNUSED)
{
    g_autoptr(virConnect) conn = virConnectOpen("test:///default");
    g_autoptr(virDomain) dom = testDomainStart(conn, "hb-paused", TRUE, NULL);
    g_autoptr(HbJob) job = NULL;
    g_autoptr(HbJob) observed = NULL;
    int st, reason;

    assert_int_equal(virDomainSuspend(dom), 0);
    job = runJob(conn, dom, HB_ACTION_LADDER, 1, FALSE);
    observed = runJob(conn, dom, HB_ACTION_RESET, 1, TRUE);
    assert_true(job->not_made);
    assert_null(job->done);
    assert_string_equal(job->error->message, "none: the domain is paused");
    assert_true(observed->not_made);
    assert_null(observed->done);
    assert_int_equal(virDomainGetState(dom, &st, &reason, 0), 0);
    assert_int_equal(st, VIR_DOMAIN_PAUSED);
    testDomainRemove(conn, "hb-paused");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_of),
        cmocka_unit_test(test_state_after_diag),
        cmocka_unit_test(test_run_ladder_and_observed),
        cmocka_unit_test(test_run_paused_not_made),
    };

    hbUtilInitLibvirt();
    return cmocka_run_group_tests_name("restart", tests, NULL, NULL);
}
