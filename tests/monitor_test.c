/*
 * The monitor in-process on libvirt's test driver, with the fake probe:
 * events and metadata drive states, restarts call libvirt for real.
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
#include <libvirt-glib/libvirt-glib.h>

#include "fake-probe.h"
#include "hb-domxml.h"
#include "test-util.h"

/* Scaled down: a 2 s block, a ping every 0.5 s, attempts a second apart. */
#define FAST "time='2' rate='4' boot_grace='0' failure_interval='1' failure_attempts='2'"

typedef struct {
    virConnectPtr conn;
    HbMonitor *monitor;
    GPtrArray *notices; /* "name kind [action result | verdict]" */
    const char *name;   /* the domain the current wait is about */
    HbState want_state;
    const char *want_notice;
    guint want_count;
    guint host_hold;    /* the breaker's host_hold for the next monitor; 0: default */
    GPtrArray *host;    /* "suspected REASON", "cleared REASON" */
    gboolean dry_run;   /* fixtureMonitor: [daemon] dry_run */
    char *hooks_dir;    /* fixtureMonitor: [daemon] hooks_dir; NULL: none */
    char *cluster_tools; /* fixtureMonitor: [daemon] cluster_tools; NULL: none */
} Fixture;


static void
recordNotice(HbDomain *dom, const HbNotice *notice, gpointer data)
{
    Fixture *f = data;
    char *line;

    if (notice->kind == HB_NOTICE_RESTART_ATTEMPT)
        line = g_strdup_printf("%s %s %s %s", hbDomainName(dom),
                               hbNoticeKindToString(notice->kind), notice->action,
                               notice->result);
    else if (notice->kind == HB_NOTICE_STOPPED)
        line = g_strdup_printf("%s %s %s", hbDomainName(dom), hbNoticeKindToString(notice->kind),
                               hbVerdictToString(notice->verdict));
    else if (notice->kind == HB_NOTICE_ESCALATED)
        line = g_strdup_printf("%s %s %s: %s", hbDomainName(dom),
                               hbNoticeKindToString(notice->kind), notice->resource,
                               notice->result);
    else
        line = g_strdup_printf("%s %s", hbDomainName(dom), hbNoticeKindToString(notice->kind));
    g_ptr_array_add(f->notices, line);
}


static void
recordHost(const HbBreaker *breaker, HbBreakerChange change, gpointer data)
{
    Fixture *f = data;
    g_autofree char *reason = hbBreakerReason(breaker);

    g_ptr_array_add(f->host, g_strdup_printf("%s %s", change == HB_BREAKER_SUSPECTED ?
                                             "suspected" : "cleared", reason));
}


static const HbMonitorObserver recorder = { .notice = recordNotice, .host = recordHost };


static guint
countNotices(Fixture *f, const char *name, const char *prefix)
{
    g_autofree char *full = g_strdup_printf("%s %s", name, prefix);
    guint n = 0;

    for (guint i = 0; i < f->notices->len; i++)
        n += g_str_has_prefix(f->notices->pdata[i], full);
    return n;
}


static gboolean
condNotices(gpointer data)
{
    Fixture *f = data;

    return countNotices(f, f->name, f->want_notice) >= f->want_count;
}


static void
waitNotices(Fixture *f, const char *name, const char *notice, guint count)
{
    f->name = name;
    f->want_notice = notice;
    f->want_count = count;
    if (!testWaitFor(condNotices, f, 30))
        fail_msg("%s: waited for %u '%s', saw %u", name, count, notice,
                 countNotices(f, name, notice));
}


static gboolean
condState(gpointer data)
{
    Fixture *f = data;
    HbDomain *dom = hbMonitorLookup(f->monitor, f->name);

    return dom && hbDomainState(dom) == f->want_state;
}


static void
waitState(Fixture *f, const char *name, HbState state)
{
    f->name = name;
    f->want_state = state;
    if (!testWaitFor(condState, f, 30)) {
        HbDomain *dom = hbMonitorLookup(f->monitor, name);
        fail_msg("%s: waited for state %s, is %s", name, hbStateToString(state),
                 dom ? hbStateToString(hbDomainState(dom)) : "(not monitored)");
    }
}


static gboolean
condConnected(gpointer data)
{
    return hbMonitorIsConnected(((Fixture *) data)->monitor);
}


/*
 * A monitor for @f, as a daemon (re)started: the one running stops first,
 * and its notices are forgotten. @request_workers: 0 for the default.
 * @fast: defaults scaled down like FAST, so that a fallback shows soon.
 */
static void
fixtureMonitor(Fixture *f, gboolean monitor_all, const char *state_dir,
               guint request_workers, gboolean fast)
{
    g_auto(HbDaemonConf) conf = { 0 };

    g_clear_pointer(&f->monitor, hbMonitorFree);
    g_ptr_array_set_size(f->notices, 0);
    g_ptr_array_set_size(f->host, 0);
    hbDaemonConfInit(&conf);
    if (f->host_hold)
        conf.breaker.hold = f->host_hold;
    g_free(conf.uri);
    conf.uri = g_strdup(TEST_URI);
    g_free(conf.state_dir);
    conf.state_dir = g_strdup(state_dir);
    conf.monitor_all = monitor_all;
    conf.dry_run = f->dry_run;
    /* Never the host's own hooks. */
    g_free(conf.hooks_dir);
    conf.hooks_dir = g_strdup(f->hooks_dir ? f->hooks_dir : "");
    /* Nor the host's own cluster. */
    g_free(conf.cluster_tools);
    conf.cluster_tools = g_strdup(f->cluster_tools ? f->cluster_tools : "");
    if (request_workers)
        conf.request_workers = request_workers;
    if (fast) {
        conf.defaults.time = 2;
        conf.defaults.rate = 4;
        conf.defaults.boot_grace = 0;
        conf.defaults.failure_interval = 1;
        conf.defaults.failure_attempts = 2;
    }
    f->monitor = hbMonitorNew(&conf, fakeProbePing);
    hbMonitorSetObserver(f->monitor, &recorder, f);
    hbMonitorStart(f->monitor);
    assert_true(testWaitFor(condConnected, f, 10));
}


static Fixture *
fixtureStartWith(gboolean monitor_all, const char *state_dir, guint request_workers)
{
    Fixture *f = g_new0(Fixture, 1);

    fakeProbeReset();
    f->conn = virConnectOpen(TEST_URI);
    assert_non_null(f->conn);
    f->notices = g_ptr_array_new_with_free_func(g_free);
    f->host = g_ptr_array_new_with_free_func(g_free);
    fixtureMonitor(f, monitor_all, state_dir, request_workers, FALSE);
    return f;
}


/* A new daemon on the state directory @dir, with fast defaults. */
static void
restartMonitor(Fixture *f, const char *dir)
{
    fixtureMonitor(f, FALSE, dir, 0, TRUE);
}


static Fixture *
fixtureStartIn(gboolean monitor_all, const char *state_dir)
{
    return fixtureStartWith(monitor_all, state_dir, 0);
}


static Fixture *
fixtureStart(gboolean monitor_all)
{
    return fixtureStartIn(monitor_all, "");
}


static int
setup(void **state)
{
    *state = fixtureStart(FALSE);
    return 0;
}


static int
teardown(void **state)
{
    Fixture *f = *state;
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(f->conn, &doms, 0);

    g_clear_pointer(&f->monitor, hbMonitorFree);
    if (f->hooks_dir) {
        g_autoptr(GDir) hooks = g_dir_open(f->hooks_dir, 0, NULL);
        const char *name;

        while (hooks && (name = g_dir_read_name(hooks))) {
            g_autofree char *path = g_build_filename(f->hooks_dir, name, NULL);
            g_unlink(path);
        }
        g_rmdir(f->hooks_dir);
        g_free(f->hooks_dir);
    }
    if (f->cluster_tools) {
        g_autoptr(GDir) tools = g_dir_open(f->cluster_tools, 0, NULL);
        const char *name;

        while (tools && (name = g_dir_read_name(tools))) {
            g_autofree char *path = g_build_filename(f->cluster_tools, name, NULL);
            g_unlink(path);
        }
        g_rmdir(f->cluster_tools);
        g_free(f->cluster_tools);
    }
    /* Every domain but the driver's own "test" is the test's to remove. */
    for (int i = 0; i < n; i++) {
        if (!g_str_equal(virDomainGetName(doms[i]), "test"))
            testDomainRemove(f->conn, virDomainGetName(doms[i]));
        virDomainFree(doms[i]);
    }
    g_free(doms);
    virConnectClose(f->conn);
    g_ptr_array_unref(f->notices);
    g_ptr_array_unref(f->host);
    g_free(f);
    return 0;
}


static void
setMetadata(Fixture *f, const char *name, const char *xml)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(f->conn, name);

    assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, "hb",
                                          HB_METADATA_URI, VIR_DOMAIN_AFFECT_LIVE), 0);
}


static gboolean
condTime4(gpointer data)
{
    Fixture *f = data;
    HbDomain *dom = hbMonitorLookup(f->monitor, "hb-ok");

    return dom && hbDomainConfig(dom)->time == 4;
}


static void
test_healthy_live_edit_disable(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-ok", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    HbDomain *hdom;
    guint pings;

    waitState(f, "hb-ok", HB_STATE_OK);
    hdom = hbMonitorLookup(f->monitor, uuid);
    assert_non_null(hdom);
    assert_ptr_equal(hdom, hbMonitorLookup(f->monitor, "hb-ok"));
    assert_int_equal(hbDomainPercentage(hdom), 100);
    assert_true(hbDomainIsHeartbeating(hdom));
    assert_true(hbDomainLastTick(hdom) > 0);
    assert_null(hbDomainConfigError(hdom));

    /* A live metadata edit applies without a restart. */
    setMetadata(f, "hb-ok", "<heartbeat time='4' rate='4' boot_grace='0'/>");
    assert_true(testWaitFor(condTime4, f, 10));

    /* enabled=no stops monitoring: no pings any more. */
    setMetadata(f, "hb-ok", "<heartbeat enabled='no'/>");
    waitState(f, "hb-ok", HB_STATE_DISABLED);
    pings = fakeProbePings(uuid);
    testSpin(2500);
    assert_int_equal(fakeProbePings(uuid), pings);
    assert_int_equal(countNotices(f, "hb-ok", "heartbeat-stopped"), 0);
}


static void
test_stop_reset_resume(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-miss", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);

    waitState(f, "hb-miss", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-miss", "heartbeat-stopped", 1);
    waitNotices(f, "hb-miss", "restart-attempt reset ok", 1);
    fakeProbeSet(uuid, FAKE_AGENT_OK);
    waitNotices(f, "hb-miss", "heartbeat-resumed", 1);
    assert_int_equal(countNotices(f, "hb-miss", "heartbeat-stopped"), 1);
    assert_int_equal(hbDomainAttempts(hbMonitorLookup(f->monitor, uuid)), 0);
    assert_int_equal(virDomainIsActive(dom), 1);
}


/* Counters fed to one domain as the bulk read would, every 100 ms. */
typedef struct {
    HbMonitor *monitor;
    const char *name;
    HbStatsSample sample;
    gboolean working;   /* vCPU time and disk writes move; else nothing does */
    HbStatsSample late; /* fed after each reading when its time is set: a read
                         * that began before and came back after */
} Counters;


static gboolean
feedCounters(gpointer data)
{
    Counters *c = data;
    HbDomain *dom = hbMonitorLookup(c->monitor, c->name);

    c->sample.time = g_get_monotonic_time();
    if (c->working) {
        c->sample.cpu_ns += 50 * 1000 * 1000;   /* half a vCPU */
        c->sample.block_bytes += 100 * 1024;    /* 1 MiB/s */
    }
    if (dom)
        hbDomainStatsSample(dom, &c->sample);
    if (dom && c->late.time)
        hbDomainStatsSample(dom, &c->late);
    return G_SOURCE_CONTINUE;
}


/*
 * confirm=activity: a guest whose agent is silent while its vCPUs and disk
 * work is notified, never reset; judged again every failure_interval, it is
 * reset once its counters stop. confirm=none resets it at once.
 */
static void
test_confirm_activity(void **state)
{
    Fixture *f = *state;
    const char *withheld = "restart-attempt reset not made: agent dead, guest working "
        "(confirm=activity)";
    const char *attrs[] = {
        "time='2' rate='4' boot_grace='0' failure_interval='2' failure_attempts='2' "
        "confirm='activity'",
        "time='2' rate='4' boot_grace='0' failure_interval='2' failure_attempts='2'",
    };

    for (guint i = 0; i < G_N_ELEMENTS(attrs); i++) {
        const char *name = i == 0 ? "hb-activity" : "hb-noconfirm";
        g_autoptr(virDomain) dom = testDomainStart(f->conn, name, TRUE, attrs[i]);
        g_autofree char *uuid = testDomainUUID(dom);
        Counters c = {
            .monitor = f->monitor, .name = name, .working = TRUE,
            .sample = { .has_cpu = TRUE, .vcpus = 1, .has_block = TRUE, .has_net = TRUE },
        };
        guint feeder;

        waitState(f, name, HB_STATE_OK);
        feeder = g_timeout_add(100, feedCounters, &c);
        testSpin(500);
        fakeProbeSet(uuid, FAKE_AGENT_MISS);
        waitNotices(f, name, "heartbeat-stopped agent-dead-guest-working", 1);
        if (i == 1) {
            waitNotices(f, name, "restart-attempt reset ok", 1);
            assert_int_equal(countNotices(f, name, withheld), 0);
        } else {
            /* Three judgements, a failure_interval apart: each withheld. */
            waitNotices(f, name, withheld, 3);
            assert_int_equal(countNotices(f, name, "restart-attempt reset ok"), 0);
            /* Reported as withheld, so shown as such (Domain1.LastAttempt). */
            assert_string_equal(hbDomainLastAttempt(hbMonitorLookup(f->monitor, name)),
                                "1 reset: not made: agent dead, guest working "
                                "(confirm=activity)");
            assert_int_equal(hbDomainAttempts(hbMonitorLookup(f->monitor, name)), 0);
            assert_int_equal(hbDomainState(hbMonitorLookup(f->monitor, name)),
                             HB_STATE_STOPPED);
            /* The guest hangs for real: the next judgement lets the reset through. */
            c.working = FALSE;
            waitNotices(f, name, "restart-attempt reset ok", 1);
            assert_int_equal(hbDomainVerdict(hbMonitorLookup(f->monitor, name)),
                             HB_VERDICT_GUEST_HUNG);
        }
        g_source_remove(feeder);
        fakeProbeSet(uuid, FAKE_AGENT_OK);
        waitNotices(f, name, "heartbeat-resumed", 1);
        assert_int_equal(virDomainDestroy(dom), 0);
        assert_int_equal(virDomainUndefine(dom), 0);
    }
}


/*
 * confirm=activity with no counters to judge by (the test driver's bulk
 * read has none): in doubt, each attempt is withheld, not spent; once
 * counters come and show no progress, the reset goes through.
 */
static void
test_confirm_activity_unknown(void **state)
{
    Fixture *f = *state;
    const char *name = "hb-unknown";
    const char *withheld = "restart-attempt reset not made: verdict unknown, no hang "
        "confirmed (confirm=activity)";
    g_autoptr(virDomain) dom = testDomainStart(f->conn, name, TRUE,
                                               "time='2' rate='4' boot_grace='0' "
                                               "failure_interval='2' failure_attempts='2' "
                                               "confirm='activity'");
    g_autofree char *uuid = testDomainUUID(dom);
    Counters c = {
        .monitor = f->monitor, .name = name, .working = FALSE,
        .sample = { .has_cpu = TRUE, .vcpus = 1, .has_block = TRUE, .has_net = TRUE },
    };
    guint feeder;

    waitState(f, name, HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, name, "heartbeat-stopped unknown", 1);
    /* More judgements than failure_attempts: each withheld, none spent. */
    waitNotices(f, name, withheld, 3);
    assert_int_equal(countNotices(f, name, "restart-attempt reset ok"), 0);
    assert_int_equal(hbDomainAttempts(hbMonitorLookup(f->monitor, name)), 0);
    assert_int_equal(virDomainIsActive(dom), 1);
    /* Counters that stay put: hung, confirmed. */
    feeder = g_timeout_add(100, feedCounters, &c);
    waitNotices(f, name, "restart-attempt reset ok", 1);
    assert_int_equal(hbDomainVerdict(hbMonitorLookup(f->monitor, name)), HB_VERDICT_GUEST_HUNG);
    g_source_remove(feeder);
}


/*
 * A restart decided under one action and still queued is not made under
 * another: changing the action or confirm key closes the ticket its job
 * holds, and the episode goes on with a new one.
 */
static void
test_action_change_closes_ticket(void **state)
{
    Fixture *f = *state;
    const char *name = "hb-change";
    const char *attrs = "time='2' rate='4' boot_grace='0' failure_interval='2' "
        "failure_attempts='2'";
    g_autofree char *edited = g_strdup_printf("<heartbeat %s action='observe'/>",
                                              attrs);
    g_autofree char *first = g_strdup_printf("%s confirm='activity'", attrs);
    g_autoptr(virDomain) dom = testDomainStart(f->conn, name, TRUE, first);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autoptr(HbTicket) before = NULL;
    g_autoptr(HbTicket) after = NULL;

    waitState(f, name, HB_STATE_OK);
    assert_null(hbDomainTicket(hbMonitorLookup(f->monitor, name)));
    /* Withheld (no counters): the episode stays open, its ticket too. */
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, name, "heartbeat-stopped", 1);
    before = hbDomainTicket(hbMonitorLookup(f->monitor, name));
    assert_non_null(before);
    assert_true(hbTicketIsOpen(before));
    setMetadata(f, name, edited);
    waitNotices(f, name, "restart-attempt would reset observed", 1);
    assert_false(hbTicketIsOpen(before));
    after = hbDomainTicket(hbMonitorLookup(f->monitor, name));
    assert_non_null(after);
    assert_true(hbTicketIsOpen(after));
}


/*
 * confirm=activity across a new QEMU: a guest destroyed and started by the
 * first attempt (its verdict guest hung), whose agent stays dead while it
 * works, is judged on the counters of its new boot, and not destroyed again
 * on a verdict of unknown because no reading counted as the one before.
 */
static void
test_confirm_activity_after_start(void **state)
{
    Fixture *f = *state;
    const char *withheld = "restart-attempt restart not made: agent dead, guest "
        "working (confirm=activity)";
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-newqemu", TRUE,
                                               "time='2' rate='4' boot_grace='0' "
                                               "failure_interval='2' failure_attempts='3' "
                                               "action='restart' confirm='activity'");
    g_autofree char *uuid = testDomainUUID(dom);
    Counters c = {
        .monitor = f->monitor, .name = "hb-newqemu", .working = FALSE,
        .sample = { .has_cpu = TRUE, .vcpus = 1, .has_block = TRUE, .has_net = TRUE },
    };
    guint feeder;

    waitState(f, "hb-newqemu", HB_STATE_OK);
    feeder = g_timeout_add(100, feedCounters, &c);
    testSpin(500);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-newqemu", "heartbeat-stopped guest-hung", 1);
    waitNotices(f, "hb-newqemu", "restart-attempt destroy+start ok", 1);
    /* The new boot works; its agent does not answer. */
    c.working = TRUE;
    waitNotices(f, "hb-newqemu", withheld, 1);
    assert_int_equal(countNotices(f, "hb-newqemu", "restart-attempt destroy+start ok"), 1);
    g_source_remove(feeder);
}


/*
 * A bulk read stuck on a stopped QEMU comes back long after the reads that
 * went beside it: its counters, read when it began, are older than theirs.
 * It does not replace them, or a working guest would look as if nothing
 * had moved since, and confirm=activity would let the attempt through.
 */
static void
test_confirm_activity_late_read(void **state)
{
    Fixture *f = *state;
    const char *withheld = "restart-attempt reset not made: agent dead, guest "
        "working (confirm=activity)";
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-lateread", TRUE,
                                               "time='2' rate='4' boot_grace='0' "
                                               "failure_interval='2' failure_attempts='2' "
                                               "confirm='activity'");
    g_autofree char *uuid = testDomainUUID(dom);
    Counters c = {
        .monitor = f->monitor, .name = "hb-lateread", .working = TRUE,
        .sample = { .has_cpu = TRUE, .vcpus = 1, .has_block = TRUE, .has_net = TRUE },
    };
    guint feeder;

    waitState(f, "hb-lateread", HB_STATE_OK);
    feeder = g_timeout_add(100, feedCounters, &c);
    testSpin(1000);
    /* The stuck read began now; it comes back from now on, again and again. */
    c.late = c.sample;
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-lateread", withheld, 2);
    assert_int_equal(countNotices(f, "hb-lateread", "restart-attempt reset ok"), 0);
    g_source_remove(feeder);
}


static void
test_exhausted_then_rearm(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-dead", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);

    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-dead", "restarts-exhausted", 1);
    waitState(f, "hb-dead", HB_STATE_FAILED);
    assert_int_equal(countNotices(f, "hb-dead", "restart-attempt"), 2);
    /* Failed means notify only: no further attempts. */
    testSpin(2500);
    assert_int_equal(countNotices(f, "hb-dead", "restart-attempt"), 2);

    hbMonitorRearm(f->monitor, hbMonitorLookup(f->monitor, uuid));
    waitNotices(f, "hb-dead", "heartbeat-stopped", 2);
    waitNotices(f, "hb-dead", "restart-attempt", 3);
}


static void
test_action_restart_destroys_and_starts(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-restart", TRUE,
                                               FAST " action='restart'");
    g_autofree char *uuid = testDomainUUID(dom);

    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-restart", "restart-attempt destroy+start ok", 1);
    assert_int_equal(virDomainIsActive(dom), 1);
    /* Our own destroy did not end the episode as a user's destroy would. */
    waitNotices(f, "hb-restart", "restart-attempt destroy+start ok", 2);
    fakeProbeSet(uuid, FAKE_AGENT_OK);
    waitNotices(f, "hb-restart", "heartbeat-resumed", 1);
}


/* Every decision made, each attempt reported as what it would do, none made. */
static void
test_action_observe_does_nothing(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-observe", TRUE,
                                               FAST " action='observe'");
    g_autofree char *uuid = testDomainUUID(dom);

    waitState(f, "hb-observe", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-observe", "restarts-exhausted", 1);
    assert_int_equal(countNotices(f, "hb-observe", "restart-attempt would reset observed"), 2);
    assert_int_equal(countNotices(f, "hb-observe", "restart-attempt"), 2);
    assert_int_equal(hbDomainState(hbMonitorLookup(f->monitor, uuid)), HB_STATE_FAILED);
}


/* action=ladder: nmi, reset, destroy+start, each reported, in this order. */
static void
test_action_ladder_climbs(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-ladder", TRUE,
                                               "time='2' rate='4' boot_grace='0' "
                                               "failure_interval='1' failure_attempts='3' "
                                               "action='ladder'");
    g_autofree char *uuid = testDomainUUID(dom);
    const char *steps[] = { "nmi ok", "reset ok", "destroy+start ok" };
    guint first = 0;

    waitState(f, "hb-ladder", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-ladder", "restart-attempt nmi ok", 1);
    waitNotices(f, "hb-ladder", "restarts-exhausted", 1);
    assert_int_equal(countNotices(f, "hb-ladder", "restart-attempt"), 3);
    while (!g_str_has_prefix(f->notices->pdata[first], "hb-ladder restart-attempt"))
        first++;
    for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
        g_autofree char *want = g_strdup_printf("hb-ladder restart-attempt %s", steps[i]);
        assert_string_equal(f->notices->pdata[first + i], want);
    }
    assert_int_equal(virDomainIsActive(dom), 1);
}


/* dry_run observes every domain whatever its action. */
static void
test_dry_run_any_action(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;

    f->dry_run = TRUE;
    fixtureMonitor(f, FALSE, "", 0, FALSE);
    dom = testDomainStart(f->conn, "hb-dry", TRUE, FAST " action='restart'");
    uuid = testDomainUUID(dom);
    waitState(f, "hb-dry", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-dry", "restarts-exhausted", 1);
    assert_int_equal(countNotices(f, "hb-dry", "restart-attempt would destroy+start observed"),
                     2);
    assert_int_equal(countNotices(f, "hb-dry", "restart-attempt"), 2);
    assert_int_equal(virDomainIsActive(dom), 1);
    /* The heartbeat returns: the next episode is observed as well. */
    fakeProbeSet(uuid, FAKE_AGENT_OK);
    waitNotices(f, "hb-dry", "heartbeat-resumed", 1);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-dry", "restart-attempt", 3);
    assert_int_equal(countNotices(f, "hb-dry", "restart-attempt would destroy+start observed"),
                     3);
}


static void
test_user_destroy_and_pause_cause_nothing(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-user", TRUE, FAST);
    g_autofree char *uuid G_GNUC_UNUSED = testDomainUUID(dom);

    waitState(f, "hb-user", HB_STATE_OK);
    assert_int_equal(virDomainSuspend(dom), 0);
    waitState(f, "hb-user", HB_STATE_PAUSED);
    testSpin(3000); /* longer than a block */
    assert_int_equal(virDomainResume(dom), 0);
    waitState(f, "hb-user", HB_STATE_OK);

    assert_int_equal(virDomainDestroy(dom), 0);
    waitState(f, "hb-user", HB_STATE_NOT_RUNNING);
    testSpin(3000);
    assert_int_equal(virDomainIsActive(dom), 0);
    assert_int_equal(countNotices(f, "hb-user", "heartbeat-stopped"), 0);
    assert_int_equal(countNotices(f, "hb-user", "restart-attempt"), 0);
}


static void
test_crash_starts_domain(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-crash", TRUE, FAST);
    g_autofree char *core = g_build_filename(g_get_tmp_dir(), "hb-crash.core", NULL);
    int st, reason;

    waitState(f, "hb-crash", HB_STATE_OK);
    assert_int_equal(virDomainCoreDumpWithFormat(dom, core, VIR_DOMAIN_CORE_DUMP_FORMAT_RAW,
                                                 VIR_DUMP_CRASH), 0);
    g_unlink(core);
    waitNotices(f, "hb-crash", "heartbeat-stopped crashed", 1);
    waitNotices(f, "hb-crash", "restart-attempt start ok", 1);
    assert_int_equal(virDomainGetState(dom, &st, &reason, 0), 0);
    assert_int_equal(st, VIR_DOMAIN_RUNNING);
    waitNotices(f, "hb-crash", "heartbeat-resumed", 1);
}


static gboolean
condConfigError(gpointer data)
{
    Fixture *f = data;
    HbDomain *dom = hbMonitorLookup(f->monitor, "hb-bad");

    return dom && hbDomainConfigError(dom) != NULL;
}


static void
test_invalid_metadata_keeps_last_config(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom G_GNUC_UNUSED = testDomainStart(f->conn, "hb-bad", TRUE, FAST);
    HbDomain *hdom;

    waitState(f, "hb-bad", HB_STATE_OK);
    setMetadata(f, "hb-bad", "<heartbeat time='1'/>");
    assert_true(testWaitFor(condConfigError, f, 10));
    hdom = hbMonitorLookup(f->monitor, "hb-bad");
    assert_non_null(strstr(hbDomainConfigError(hdom), "time: '1'"));
    assert_int_equal(hbDomainConfig(hdom)->time, 2);
    assert_int_equal(hbDomainState(hdom), HB_STATE_OK);
}


static void
test_no_agent_never_reset(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-noagent", FALSE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);

    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitState(f, "hb-noagent", HB_STATE_NO_AGENT);
    testSpin(3000);
    assert_int_equal(fakeProbePings(uuid), 0);
    assert_int_equal(countNotices(f, "hb-noagent", "restart-attempt"), 0);
}


static gboolean
condBothRunning(gpointer data)
{
    Fixture *f = data;
    HbDomain *a = hbMonitorLookup(f->monitor, "hb-hang");
    HbDomain *b = hbMonitorLookup(f->monitor, "hb-healthy");

    return a && b && hbDomainState(b) == HB_STATE_OK &&
        countNotices(f, "hb-hang", "restart-attempt") >= 1;
}


static void
test_hung_agent_delays_no_other_domain(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) hang = testDomainStart(f->conn, "hb-hang", TRUE, FAST);
    g_autoptr(virDomain) ok G_GNUC_UNUSED = testDomainStart(f->conn, "hb-healthy", TRUE, FAST);
    g_autofree char *hang_uuid = testDomainUUID(hang);

    fakeProbeSet(hang_uuid, FAKE_AGENT_HANG);
    waitState(f, "hb-healthy", HB_STATE_OK);
    /* While one agent hangs through attempts, the other keeps every tick. */
    assert_true(testWaitFor(condBothRunning, f, 30));
    for (int i = 0; i < 8; i++) {
        testSpin(500);
        assert_int_equal(hbDomainState(hbMonitorLookup(f->monitor, "hb-healthy")), HB_STATE_OK);
    }
}


static gboolean
condGone(gpointer data)
{
    Fixture *f = data;

    return hbMonitorLookup(f->monitor, f->name) == NULL;
}


static void
test_undefine_removes(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-gone", TRUE, FAST);

    waitState(f, "hb-gone", HB_STATE_OK);
    assert_int_equal(virDomainDestroy(dom), 0);
    assert_int_equal(virDomainUndefine(dom), 0);
    f->name = "hb-gone";
    assert_true(testWaitFor(condGone, f, 10));
}


static void
test_monitor_all(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureStart(TRUE);
    g_autoptr(virDomain) with G_GNUC_UNUSED = testDomainStart(f->conn, "hb-all-agent", TRUE, NULL);
    g_autoptr(virDomain) without G_GNUC_UNUSED =
        testDomainStart(f->conn, "hb-all-none", FALSE, NULL);

    waitState(f, "hb-all-agent", HB_STATE_WAITING);
    assert_int_equal(hbDomainConfig(hbMonitorLookup(f->monitor, "hb-all-agent"))->time, 60);
    assert_null(hbMonitorLookup(f->monitor, "hb-all-none"));
    /* The driver's own domain has no agent channel either. */
    assert_null(hbMonitorLookup(f->monitor, "test"));
    teardown((void **) &f);
}


/* A failed domain stays failed, and its storm cap holds, across a restart. */
static void
test_state_survives_restart(void **state G_GNUC_UNUSED)
{
    g_autofree char *dir = g_dir_make_tmp("hb-state-XXXXXX", NULL);
    Fixture *f = fixtureStartIn(FALSE, dir);
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-persist", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = g_strdup_printf("%s/%s.state", dir, uuid);
    guint before;

    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-persist", "restarts-exhausted", 1);
    assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

    /* A new daemon on the same state directory. */
    restartMonitor(f, dir);
    waitState(f, "hb-persist", HB_STATE_FAILED);
    before = countNotices(f, "hb-persist", "restart-attempt");
    testSpin(3000);
    assert_int_equal(countNotices(f, "hb-persist", "restart-attempt"), before);
    assert_int_equal(before, 0);

    /* Undefined: nothing is kept for it. */
    assert_int_equal(virDomainDestroy(dom), 0);
    assert_int_equal(virDomainUndefine(dom), 0);
    f->name = "hb-persist";
    assert_true(testWaitFor(condGone, f, 10));
    assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_rmdir(dir);
    teardown((void **) &f);
}


static void
recordJob(HbJob *job, gpointer data)
{
    GPtrArray *done = data;

    g_ptr_array_add(done, job);
}


static gboolean
condJobs(gpointer data)
{
    GPtrArray *done = data;

    return done->len > 0;
}


/* A restart whose episode ended before a thread took it is never made. */
static void
test_restart_dropped_after_episode(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-drop", TRUE, NULL);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func((GDestroyNotify) hbJobFree);
    HbWorkerLimits limits = { .threads = { 1, 1, 1, 1, 1 } };
    HbWorker *worker = hbWorkerNew(TEST_URI, &limits, fakeProbePing, recordJob, done);
    HbJob *job = hbJobNew(HB_JOB_RESTART, uuid);
    HbJob *result;
    int state_before, state_after, reason;

    assert_int_equal(virDomainGetState(dom, &state_before, &reason, 0), 0);
    job->action = HB_ACTION_RESTART;
    job->episode = 7;
    job->attempt = 3;
    job->ticket = hbTicketNew();
    hbTicketClose(job->ticket);  /* a tick came back meanwhile */
    hbWorkerPush(worker, job);
    assert_true(testWaitFor(condJobs, done, 10));
    result = done->pdata[0];
    assert_true(result->dropped);
    assert_null(result->done);
    assert_string_equal(result->error->message,
                        "the episode ended, or the domain's action changed, before it ran");
    assert_int_equal(result->sent, 0);   /* no libvirt call was made */
    assert_int_equal(result->attempt, 3);
    assert_int_equal(result->episode, 7);
    assert_int_equal(virDomainGetState(dom, &state_after, &reason, 0), 0);
    assert_int_equal(state_after, VIR_DOMAIN_RUNNING);
    assert_int_equal(virDomainIsActive(dom), 1);
    hbWorkerFree(worker, 5);
}


/*
 * A restart decided before the host-wide breaker tripped, still queued
 * when it did, is held when it runs: not made, with no libvirt call.
 */
static void
test_restart_held_after_breaker(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-held", TRUE, NULL);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func((GDestroyNotify) hbJobFree);
    HbWorkerLimits limits = { .threads = { 1, 1, 1, 1, 1 } };
    HbWorker *worker = hbWorkerNew(TEST_URI, &limits, fakeProbePing, recordJob, done);
    HbJob *job = hbJobNew(HB_JOB_RESTART, uuid);
    HbJob *result;
    int state_after, reason;

    job->action = HB_ACTION_RESET;
    job->episode = 2;
    job->attempt = 1;
    job->ticket = hbTicketNew();
    job->host_gate = hbTicketNew();
    hbTicketClose(job->host_gate);  /* the breaker tripped meanwhile */
    hbWorkerPush(worker, job);
    assert_true(testWaitFor(condJobs, done, 10));
    result = done->pdata[0];
    assert_true(result->held);
    assert_false(result->dropped);
    assert_null(result->done);
    assert_string_equal(result->error->message, "host suspected before it ran");
    assert_int_equal(result->sent, 0);
    assert_int_equal(virDomainGetState(dom, &state_after, &reason, 0), 0);
    assert_int_equal(state_after, VIR_DOMAIN_RUNNING);
    hbWorkerFree(worker, 5);
}


typedef struct {
    guint replies;
    guint busy;
    guint stopping;
} Replies;


static void
recordReply(HbJob *job, gpointer data)
{
    Replies *r = data;

    r->replies++;
    if (g_error_matches(job->error, HB_ERROR, HB_ERROR_BUSY))
        r->busy++;
    else if (job->error && strstr(job->error->message, "stopping"))
        r->stopping++;
}


static void
request(Fixture *f, const char *name, Replies *r)
{
    HbJob *job = hbJobNew(HB_JOB_GUEST_INFO, NULL);

    job->reply = recordReply;
    job->reply_data = r;
    hbMonitorRequest(f->monitor, hbMonitorLookup(f->monitor, name), job);
}


/* Guest requests wait in a bounded queue; past it the caller is told. When
 * the daemon stops, the queued ones are answered with an error at once. */
static void
test_requests_bounded_and_cancelled(void **state G_GNUC_UNUSED)
{
    Fixture *f = fixtureStartWith(FALSE, "", 1);
    g_autoptr(virDomain) dom G_GNUC_UNUSED = testDomainStart(f->conn, "hb-busy", TRUE, FAST);
    Replies r = { 0 };

    waitState(f, "hb-busy", HB_STATE_OK);
    testSpin(500); /* the daemon's own guest-info read of this boot */
    /* Results come back through the main loop, which does not run here. */
    for (int i = 0; i < 5; i++)
        request(f, "hb-busy", &r);
    assert_int_equal(r.replies, 1);
    assert_int_equal(r.busy, 1);
    hbMonitorFree(f->monitor);
    f->monitor = NULL;
    /* One request thread: the 3 still queued were cancelled, and told so. */
    assert_int_equal(r.replies, 5);
    assert_int_equal(r.busy, 1);
    assert_int_equal(r.stopping, 3);
    teardown((void **) &f);
}


static gboolean
condConfigErrorOf(gpointer data)
{
    Fixture *f = data;
    HbDomain *dom = hbMonitorLookup(f->monitor, f->name);

    return dom && hbDomainConfigError(dom) != NULL;
}


static gboolean
condNameInError(gpointer data)
{
    Fixture *f = data;
    HbDomain *dom = hbMonitorLookup(f->monitor, f->name);

    return dom && hbDomainConfigError(dom) &&
        g_str_has_prefix(hbDomainConfigError(dom), "unknown attribute 'nnn");
}


static gboolean
condNoConfigError(gpointer data)
{
    Fixture *f = data;
    HbDomain *dom = hbMonitorLookup(f->monitor, f->name);

    return dom && hbDomainConfigError(dom) == NULL;
}


static void
removeDir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *entry;

    while (d && (entry = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, entry, NULL);
        g_unlink(path);
    }
    g_rmdir(dir);
}


/*
 * Invalid metadata seen first (as after a daemon restart) never means the
 * defaults: the last valid configuration saved, or notify only.
 */
static void
test_invalid_metadata_fails_closed(void **state G_GNUC_UNUSED)
{
    g_autofree char *dir = g_dir_make_tmp("hb-closed-XXXXXX", NULL);
    Fixture *f = fixtureStartIn(FALSE, dir);
    g_autoptr(virDomain) known G_GNUC_UNUSED = testDomainStart(f->conn, "hb-known", TRUE,
                                                 FAST " ping_timeout='1'");
    g_autoptr(virDomain) typo = NULL;
    g_autofree char *typo_uuid = NULL;
    HbDomain *hdom;

    waitState(f, "hb-known", HB_STATE_OK);
    hbMonitorFree(f->monitor);
    f->monitor = NULL;

    /* While the daemon is down: a typo in each. */
    setMetadata(f, "hb-known", "<heartbeat time='2' rate='4' tme='5'/>");
    typo = testDomainStart(f->conn, "hb-typo", TRUE, "enabled='no' tme='5'");
    typo_uuid = testDomainUUID(typo);
    fakeProbeSet(typo_uuid, FAKE_AGENT_MISS);

    restartMonitor(f, dir);
    f->name = "hb-known";
    assert_true(testWaitFor(condConfigErrorOf, f, 10));
    hdom = hbMonitorLookup(f->monitor, "hb-known");
    assert_non_null(strstr(hbDomainConfigError(hdom), "tme"));
    assert_int_equal(hbDomainConfig(hdom)->ping_timeout, 1);
    assert_int_equal(hbDomainConfig(hdom)->action, HB_ACTION_RESET);

    f->name = "hb-typo";
    assert_true(testWaitFor(condConfigErrorOf, f, 10));
    hdom = hbMonitorLookup(f->monitor, "hb-typo");
    assert_int_equal(hbDomainConfig(hdom)->action, HB_ACTION_NONE);
    /* Its heartbeat stops: reported, never acted on. */
    waitNotices(f, "hb-typo", "heartbeat-stopped", 1);
    testSpin(3000);
    assert_int_equal(countNotices(f, "hb-typo", "restart-attempt"), 0);
    assert_int_equal(virDomainIsActive(typo), 1);

    /* Back, then fixed: the fix applies. */
    fakeProbeSet(typo_uuid, FAKE_AGENT_OK);
    waitNotices(f, "hb-typo", "heartbeat-resumed", 1);
    setMetadata(f, "hb-typo", "<heartbeat time='2' rate='4' action='restart'/>");
    assert_true(testWaitFor(condNoConfigError, f, 10));
    assert_int_equal(hbDomainConfig(hbMonitorLookup(f->monitor, "hb-typo"))->action,
                     HB_ACTION_RESTART);
    teardown((void **) &f);
    removeDir(dir);
}


/*
 * What is kept follows the domain: files of domains undefined while the
 * daemon was down go at the first list, and a saved episode of another
 * definition under the same UUID is not inherited.
 */
static void
test_state_follows_domain(void **state G_GNUC_UNUSED)
{
    g_autofree char *dir = g_dir_make_tmp("hb-follow-XXXXXX", NULL);
    g_autofree char *stale = g_build_filename(dir, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.state",
                                              NULL);
    g_autofree char *stale_config = g_build_filename(
        dir, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.config", NULL);
    g_autofree char *other = g_build_filename(dir, "notes.txt", NULL);
    g_autofree char *path = NULL;
    g_autofree char *uuid = NULL;
    g_autoptr(virDomain) dom = NULL;
    Fixture *f;

    assert_true(g_file_set_contents(stale, "[heartbeat]\nfailed=true\n", -1, NULL));
    assert_true(g_file_set_contents(stale_config, "<heartbeat/>", -1, NULL));
    assert_true(g_file_set_contents(other, "not ours", -1, NULL));
    f = fixtureStartIn(FALSE, dir);
    assert_false(g_file_test(stale, G_FILE_TEST_EXISTS));
    assert_false(g_file_test(stale_config, G_FILE_TEST_EXISTS));
    assert_true(g_file_test(other, G_FILE_TEST_EXISTS));

    dom = testDomainStart(f->conn, "hb-new", TRUE, FAST);
    uuid = testDomainUUID(dom);
    path = g_strdup_printf("%s/%s.state", dir, uuid);
    waitState(f, "hb-new", HB_STATE_OK);
    g_clear_pointer(&f->monitor, hbMonitorFree);

    /* A failed episode saved for an earlier domain of another name. */
    assert_true(g_file_set_contents(path, "[domain]\nname=hb-old\n[heartbeat]\nepisode=3\n"
                                    "failed=true\nattempts=2\n", -1, NULL));
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    restartMonitor(f, dir);
    /* Not failed: its own episode opens and acts. */
    waitNotices(f, "hb-new", "restart-attempt", 1);
    teardown((void **) &f);
    removeDir(dir);
}


/*
 * Files in the state directory that the daemon did not write are not read:
 * a FIFO would stall the main loop for ever, a symbolic link could make a
 * file of someone else's the configuration. An alarm fails the test
 * rather than hanging it.
 */
static void
test_state_files_not_followed(void **state G_GNUC_UNUSED)
{
    g_autofree char *dir = g_dir_make_tmp("hb-files-XXXXXX", NULL);
    g_autofree char *target = g_build_filename(dir, "elsewhere.xml", NULL);
    Fixture *f = fixtureStartIn(FALSE, dir);
    g_autoptr(virDomain) fifo = testDomainStart(f->conn, "hb-fifo", TRUE, FAST);
    g_autoptr(virDomain) link = testDomainStart(f->conn, "hb-link", TRUE, "enabled='no'");
    g_autofree char *fifo_uuid = testDomainUUID(fifo);
    g_autofree char *link_uuid = testDomainUUID(link);
    g_autofree char *fifo_path = g_strdup_printf("%s/%s.state", dir, fifo_uuid);
    g_autofree char *link_path = g_strdup_printf("%s/%s.config", dir, link_uuid);
    HbDomain *hdom;

    waitState(f, "hb-fifo", HB_STATE_OK);
    g_clear_pointer(&f->monitor, hbMonitorFree);
    g_unlink(fifo_path);
    assert_int_equal(mkfifo(fifo_path, 0600), 0);
    assert_true(g_file_set_contents(target, "<heartbeat action='restart'/>", -1, NULL));
    g_unlink(link_path);
    assert_int_equal(symlink(target, link_path), 0);
    setMetadata(f, "hb-link", "<heartbeat tme='5'/>");

    alarm(60);
    restartMonitor(f, dir);
    waitState(f, "hb-fifo", HB_STATE_OK);
    f->name = "hb-link";
    assert_true(testWaitFor(condConfigErrorOf, f, 10));
    alarm(0);
    hdom = hbMonitorLookup(f->monitor, "hb-link");
    assert_int_equal(hbDomainConfig(hdom)->action, HB_ACTION_NONE);
    teardown((void **) &f);
    g_unlink(fifo_path);
    g_unlink(link_path);
    removeDir(dir);
}


/*
 * A state directory that others can write is not used: a failed episode
 * planted there would stop a domain from ever being restarted.
 */
static void
test_state_dir_others_can_write(void **state G_GNUC_UNUSED)
{
    g_autofree char *dir = g_dir_make_tmp("hb-open-XXXXXX", NULL);
    Fixture *f = fixtureStartIn(FALSE, dir);
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-planted", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = g_strdup_printf("%s/%s.state", dir, uuid);

    waitState(f, "hb-planted", HB_STATE_OK);
    g_clear_pointer(&f->monitor, hbMonitorFree);
    assert_int_equal(g_chmod(dir, 0777), 0);
    assert_true(g_file_set_contents(path, "[domain]\nname=hb-planted\n[heartbeat]\n"
                                    "episode=1\nfailed=true\n", -1, NULL));
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    restartMonitor(f, dir);
    /* Not failed: its heartbeat stops and it is acted on. */
    waitNotices(f, "hb-planted", "restart-attempt", 1);
    teardown((void **) &f);
    removeDir(dir);
}


/*
 * ConfigError, which anyone may read on D-Bus, and the log quote at most a
 * little of a huge value or name in the metadata.
 */
static void
test_config_error_bounded(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom G_GNUC_UNUSED = testDomainStart(f->conn, "hb-huge", TRUE, FAST);
    g_autofree char *digits = g_strnfill(200000, '7');
    g_autofree char *name = g_strnfill(40000, 'n');
    g_autofree char *xml = g_strdup_printf("<heartbeat time='2' rate='4' ping_timeout='%s'/>",
                                           digits);
    g_autofree char *xml2 = g_strdup_printf("<heartbeat time='2' rate='4' %s='1'/>", name);
    const char *error;

    waitState(f, "hb-huge", HB_STATE_OK);
    setMetadata(f, "hb-huge", xml);
    f->name = "hb-huge";
    assert_true(testWaitFor(condConfigErrorOf, f, 10));
    error = hbDomainConfigError(hbMonitorLookup(f->monitor, "hb-huge"));
    assert_true(strlen(error) < 200);
    assert_true(g_str_has_prefix(error, "ping_timeout: '777"));
    assert_non_null(strstr(error, "...' is not a whole number from 1 to 300"));

    setMetadata(f, "hb-huge", xml2);
    assert_true(testWaitFor(condNameInError, f, 10));
    assert_true(strlen(hbDomainConfigError(hbMonitorLookup(f->monitor, "hb-huge"))) < 200);
}


typedef struct {
    GPtrArray *results; /* the metadata each edit wrote, in reply order */
} Edits;


static void
recordEdit(HbJob *job, gpointer data)
{
    Edits *e = data;

    assert_null(job->error);
    g_ptr_array_add(e->results, g_strdup(job->metadata));
}


static gboolean
condEdits(gpointer data)
{
    return ((Edits *) data)->results->len == 4;
}


/*
 * Metadata edits of one domain run one at a time: each sees the ones
 * before it, none is lost, though four threads could take them at once.
 */
static void
test_metadata_edits_serialized(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-edit", TRUE, "time='60'");
    const char *keys[] = { "failure_interval", "failure_attempts", "boot_grace", "ping_timeout" };
    Edits e = { g_ptr_array_new_with_free_func(g_free) };
    g_autofree char *final = NULL;

    waitState(f, "hb-edit", HB_STATE_WAITING);
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        HbJob *job = hbJobNew(HB_JOB_METADATA, NULL);

        job->flags = VIR_DOMAIN_AFFECT_LIVE;
        g_hash_table_insert(job->changes, g_strdup(keys[i]), g_strdup("7"));
        job->reply = recordEdit;
        job->reply_data = &e;
        hbMonitorRequest(f->monitor, hbMonitorLookup(f->monitor, "hb-edit"), job);
    }
    assert_true(testWaitFor(condEdits, &e, 10));
    /* In order: edit i wrote keys 0..i. */
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        for (guint k = 0; k <= i; k++)
            assert_non_null(strstr(e.results->pdata[i], keys[k]));
    }
    final = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, HB_METADATA_URI,
                                 VIR_DOMAIN_AFFECT_LIVE);
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
        assert_non_null(strstr(final, keys[i]));
    g_ptr_array_unref(e.results);
}


typedef struct {
    guint done;
    guint ok;
    guint busy;
    guint unknown;
    char *name;         /* of the last edit that worked */
    char *metadata;
} KeyEdits;


static void
recordKeyEdit(HbJob *job, gpointer data)
{
    KeyEdits *e = data;

    e->done++;
    if (!job->error) {
        e->ok++;
        g_free(e->name);
        g_free(e->metadata);
        e->name = g_strdup(job->name);
        e->metadata = g_strdup(job->metadata);
    } else if (g_error_matches(job->error, HB_ERROR, HB_ERROR_BUSY)) {
        e->busy++;
    } else if (g_error_matches(job->error, HB_ERROR, HB_ERROR_VM_UNKNOWN)) {
        e->unknown++;
    }
}


static gboolean
condKeyEdits(gpointer data)
{
    gpointer *args = data;

    return ((KeyEdits *) args[0])->done == GPOINTER_TO_UINT(args[1]);
}


static void
editByKey(Fixture *f, const char *key, const char *name, KeyEdits *e)
{
    HbJob *job = hbJobNew(HB_JOB_METADATA, NULL);

    job->flags = VIR_DOMAIN_AFFECT_LIVE;
    if (name)
        g_hash_table_insert(job->changes, g_strdup(name), g_strdup("7"));
    job->reply = recordKeyEdit;
    job->reply_data = e;
    hbMonitorEdit(f->monitor, key, job);
}


/*
 * hbMonitorEdit reaches domains the monitor does not watch, by name or
 * UUID, through the same per-domain queue and request limit as the rest.
 */
static void
test_metadata_edit_by_key(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-unwatched", TRUE, NULL);
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *upper = g_ascii_strup(uuid, -1);
    const char *keys[] = { "failure_interval", "failure_attempts", "boot_grace", "ping_timeout" };
    const char *by[] = { "hb-unwatched", uuid, upper, "hb-unwatched" };
    KeyEdits e = { 0 };

    assert_null(hbMonitorLookup(f->monitor, "hb-unwatched"));
    /* Four at once, by name and by UUID: one queue, none lost. */
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
        editByKey(f, by[i], keys[i], &e);
    assert_true(testWaitFor(condKeyEdits, (gpointer[]) { &e, GUINT_TO_POINTER(4) }, 10));
    assert_int_equal(e.ok, 4);
    editByKey(f, upper, NULL, &e);
    assert_true(testWaitFor(condKeyEdits, (gpointer[]) { &e, GUINT_TO_POINTER(5) }, 10));
    assert_string_equal(e.name, "hb-unwatched");
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
        assert_non_null(strstr(e.metadata, keys[i]));

    /* Unknown, by name or UUID. */
    editByKey(f, "hb-nowhere", "boot_grace", &e);
    editByKey(f, "00000000-0000-4000-8000-000000000000", "boot_grace", &e);
    assert_true(testWaitFor(condKeyEdits, (gpointer[]) { &e, GUINT_TO_POINTER(7) }, 10));
    assert_int_equal(e.unknown, 2);

    /* The domain's request limit counts edits waiting in its queue. */
    for (guint i = 0; i < 12; i++)
        editByKey(f, "hb-unwatched", keys[i % G_N_ELEMENTS(keys)], &e);
    assert_true(testWaitFor(condKeyEdits, (gpointer[]) { &e, GUINT_TO_POINTER(19) }, 20));
    assert_true(e.busy > 0);
    assert_int_equal(e.ok + e.busy, 5 + 12);
    g_free(e.name);
    g_free(e.metadata);
    testDomainRemove(f->conn, "hb-unwatched");
}


/* A live and config edit checks both copies first: both change or neither. */
static void
test_metadata_edit_both_or_neither(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-both", TRUE,
                                               "time='60' rate='150'");
    g_autoptr(GHashTable) changes = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                          g_free, g_free);
    g_autoptr(GError) err = NULL;
    g_autofree char *result = NULL;
    g_autofree char *live = NULL;
    HbConfig defaults;

    hbConfigInitDefaults(&defaults);
    /* The running copy differs: time=10 suits it, not the saved rate=150. */
    setMetadata(f, "hb-both", "<heartbeat time='60'/>");
    g_hash_table_insert(changes, g_strdup("time"), g_strdup("10"));
    assert_int_equal(hbDomainXmlEditMetadata(dom, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG,
                                             changes, &defaults, &result, &err), -1);
    assert_non_null(strstr(err->message, "saved definition"));
    assert_null(result);
    live = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, HB_METADATA_URI,
                                VIR_DOMAIN_AFFECT_LIVE);
    assert_non_null(strstr(live, "time=\"60\""));

    /* Both suit it: both change. */
    g_clear_error(&err);
    g_clear_pointer(&live, g_free);
    g_hash_table_replace(changes, g_strdup("time"), g_strdup("30"));
    assert_int_equal(hbDomainXmlEditMetadata(dom, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG,
                                             changes, &defaults, &result, &err), 0);
    live = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, HB_METADATA_URI,
                                VIR_DOMAIN_AFFECT_LIVE);
    assert_non_null(strstr(live, "time=\"30\""));
    assert_non_null(strstr(result, "rate=\"150\""));
}


/* The saved configuration names its domain: another definition under the
 * same UUID falls back to notify only, not to the old domain's action. */
static void
test_saved_config_follows_domain(void **state G_GNUC_UNUSED)
{
    g_autofree char *dir = g_dir_make_tmp("hb-cfgname-XXXXXX", NULL);
    Fixture *f = fixtureStartIn(FALSE, dir);
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-named", TRUE,
                                               FAST " action='restart'");
    g_autofree char *uuid = testDomainUUID(dom);
    g_autofree char *path = g_strdup_printf("%s/%s.config", dir, uuid);
    g_autofree char *text = NULL;
    g_autofree char *other = NULL;
    HbDomain *hdom;

    waitState(f, "hb-named", HB_STATE_OK);
    g_clear_pointer(&f->monitor, hbMonitorFree);
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    assert_non_null(strstr(text, "name=hb-named\n"));
    {
        g_auto(GStrv) parts = g_strsplit(text, "name=hb-named\n", 2);
        other = g_strjoinv("name=hb-gone-before\n", parts);
    }
    assert_true(g_file_set_contents(path, other, -1, NULL));
    setMetadata(f, "hb-named", "<heartbeat tme='5'/>");

    restartMonitor(f, dir);
    f->name = "hb-named";
    assert_true(testWaitFor(condConfigErrorOf, f, 10));
    hdom = hbMonitorLookup(f->monitor, "hb-named");
    assert_int_equal(hbDomainConfig(hdom)->action, HB_ACTION_NONE);
    teardown((void **) &f);
    removeDir(dir);
}


/* Five guests watched, FAST: @uuids gets their UUIDs; all ok. */
static void
startFive(Fixture *f, char **uuids)
{
    for (guint i = 0; i < 5; i++) {
        g_autofree char *name = g_strdup_printf("hb-host%u", i);
        g_autoptr(virDomain) dom = testDomainStart(f->conn, name, TRUE, FAST);

        uuids[i] = testDomainUUID(dom);
    }
    for (guint i = 0; i < 5; i++) {
        g_autofree char *name = g_strdup_printf("hb-host%u", i);

        waitState(f, name, HB_STATE_OK);
    }
}


static gboolean
condHost(gpointer data)
{
    Fixture *f = data;

    return f->host->len >= f->want_count;
}


static void
waitHost(Fixture *f, guint count, const char *prefix)
{
    f->want_count = count;
    if (!testWaitFor(condHost, f, 30))
        fail_msg("waited for %u host notices, saw %u", count, f->host->len);
    if (!g_str_has_prefix(f->host->pdata[count - 1], prefix))
        fail_msg("host notice %u: '%s', not '%s...'", count,
                 (char *) f->host->pdata[count - 1], prefix);
}


static guint
countAll(Fixture *f, const char *notice)
{
    g_autofree char *infix = g_strdup_printf(" %s", notice);
    guint n = 0;

    for (guint i = 0; i < f->notices->len; i++)
        n += strstr(f->notices->pdata[i], infix) != NULL;
    return n;
}


/*
 * Four of five guests stop at once: the host is suspected before their
 * episodes begin, their attempts are held and not spent, and when they
 * come back the hold clears with no attempt made.
 */
static void
test_host_hold_until_back(void **state)
{
    Fixture *f = *state;
    char *uuids[5];
    /* Taken by a restart decided now, run after the breaker trips. */
    g_autoptr(HbTicket) gate = hbMonitorHostGate(f->monitor, FALSE);

    assert_null(hbMonitorHostGate(f->monitor, TRUE));
    startFive(f, uuids);
    assert_true(hbTicketIsOpen(gate));
    for (guint i = 0; i < 4; i++)
        fakeProbeSet(uuids[i], FAKE_AGENT_MISS);
    waitHost(f, 1, "suspected 4 of 5 watched guests stopped within 2 s");
    assert_int_equal(hbMonitorBreaker(f->monitor)->state, HB_BREAKER_HOLDING);
    assert_false(hbTicketIsOpen(gate));
    for (guint i = 0; i < 4; i++) {
        g_autofree char *name = g_strdup_printf("hb-host%u", i);

        waitNotices(f, name, "heartbeat-stopped", 1);
    }
    /* Three failure_intervals, two failure_attempts: held, never spent. */
    testSpin(3000);
    assert_int_equal(countAll(f, "restart-attempt"), 0);
    assert_int_equal(countAll(f, "restarts-exhausted"), 0);
    for (guint i = 0; i < 4; i++) {
        HbDomain *dom = hbMonitorLookup(f->monitor, uuids[i]);

        assert_int_equal(hbDomainState(dom), HB_STATE_STOPPED);
        assert_int_equal(hbDomainAttempts(dom), 0);
    }
    assert_int_equal(f->host->len, 1);
    /* One comes back: three are fewer than host_min. */
    fakeProbeSet(uuids[0], FAKE_AGENT_OK);
    waitHost(f, 2, "cleared guests back: 3 of 5");
    assert_int_equal(hbMonitorBreaker(f->monitor)->state, HB_BREAKER_CLOSED);
    waitNotices(f, "hb-host0", "heartbeat-resumed", 1);
    /* The normal rules again: the three still stopped are reset. */
    for (guint i = 1; i < 4; i++) {
        g_autofree char *name = g_strdup_printf("hb-host%u", i);

        waitNotices(f, name, "restart-attempt reset ok", 1);
    }
    assert_int_equal(countNotices(f, "hb-host0", "restart-attempt"), 0);
    for (guint i = 0; i < 5; i++)
        g_free(uuids[i]);
}


/*
 * A crash while held is handled at once; the others are held host_hold
 * (5 s), then the normal rules apply and they are reset.
 */
static void
test_host_hold_expires_crash_handled(void **state)
{
    Fixture *f = *state;
    g_autofree char *core = g_build_filename(g_get_tmp_dir(), "hb-host-crash.core", NULL);
    g_autoptr(virDomain) crashing = NULL;
    char *uuids[5];

    f->host_hold = 5;
    fixtureMonitor(f, FALSE, "", 0, FALSE);
    startFive(f, uuids);
    for (guint i = 0; i < 4; i++)
        fakeProbeSet(uuids[i], FAKE_AGENT_MISS);
    waitHost(f, 1, "suspected 4 of 5");
    crashing = virDomainLookupByName(f->conn, "hb-host4");
    assert_int_equal(virDomainCoreDumpWithFormat(crashing, core, VIR_DOMAIN_CORE_DUMP_FORMAT_RAW,
                                                 VIR_DUMP_CRASH), 0);
    g_unlink(core);
    waitNotices(f, "hb-host4", "restart-attempt start ok", 1);
    /* Made while the others were held. */
    assert_int_equal(f->host->len, 1);
    assert_int_equal(countAll(f, "restart-attempt"), 1);
    waitHost(f, 2, "cleared host_hold passed (5 s)");
    /* Cleared by its timer, from when it tripped; not before. */
    assert_true(g_get_monotonic_time() - hbMonitorBreaker(f->monitor)->since >=
                5 * G_USEC_PER_SEC);
    assert_int_equal(hbMonitorBreaker(f->monitor)->state, HB_BREAKER_EXPIRED);
    for (guint i = 0; i < 4; i++) {
        g_autofree char *name = g_strdup_printf("hb-host%u", i);

        waitNotices(f, name, "restart-attempt reset ok", 1);
    }
    /* Still stopped past the hold: it does not trip again. */
    testSpin(1500);
    assert_int_equal(f->host->len, 2);
    for (guint i = 0; i < 5; i++)
        g_free(uuids[i]);
}


/*
 * The test driver has no close callback: this one stands in for libvirt's
 * (the monitor's own calls only; libvirt never calls it), so that a test can
 * say the connection closed, as libvirtd going away does.
 */
static virConnectCloseFunc closeFunc;
static virConnectPtr closeConn;
static void *closeOpaque;

int
virConnectRegisterCloseCallback(virConnectPtr conn, virConnectCloseFunc cb, void *opaque,
                                virFreeCallback freecb G_GNUC_UNUSED)
{
    closeFunc = cb;
    closeConn = conn;
    closeOpaque = opaque;
    return 0;
}


static gboolean
condDisconnected(gpointer data)
{
    return !hbMonitorIsConnected(((Fixture *) data)->monitor);
}


/*
 * Two of five guests, one of them stopped, are undefined while libvirtd is
 * out of sight: after the resync the breaker counts three watched guests,
 * none stopped, not the five it knew (the share of a later stall would be
 * judged against guests that no longer exist, and a freed domain read).
 */
static void
test_host_count_after_resync(void **state)
{
    Fixture *f = *state;
    char *uuids[5];

    startFive(f, uuids);
    fakeProbeSet(uuids[4], FAKE_AGENT_MISS);
    waitNotices(f, "hb-host4", "heartbeat-stopped", 1);
    assert_non_null(closeFunc);
    closeFunc(closeConn, VIR_CONNECT_CLOSE_REASON_EOF, closeOpaque);
    assert_true(testWaitFor(condDisconnected, f, 10));
    testDomainRemove(f->conn, "hb-host3");
    testDomainRemove(f->conn, "hb-host4");
    assert_true(testWaitFor(condConnected, f, 10));
    assert_null(hbMonitorLookup(f->monitor, "hb-host3"));
    assert_null(hbMonitorLookup(f->monitor, "hb-host4"));
    hbMonitorHostHolds(f->monitor, FALSE);
    assert_int_equal(hbMonitorBreaker(f->monitor)->watched, 3);
    assert_int_equal(hbMonitorBreaker(f->monitor)->stopped, 0);
    for (guint i = 0; i < 5; i++)
        g_free(uuids[i]);
}


/*
 * dry_run: an observed attempt is held like a real one (nothing is
 * reported while the host is suspected, nothing spent); once host_hold
 * has passed, each is reported as what it would do, and nothing is done.
 */
static void
test_host_hold_dry_run(void **state)
{
    Fixture *f = *state;
    char *uuids[5];

    f->host_hold = 3;
    f->dry_run = TRUE;
    fixtureMonitor(f, FALSE, "", 0, FALSE);
    startFive(f, uuids);
    for (guint i = 0; i < 4; i++)
        fakeProbeSet(uuids[i], FAKE_AGENT_MISS);
    waitHost(f, 1, "suspected 4 of 5");
    testSpin(2000);
    assert_int_equal(countAll(f, "restart-attempt"), 0);
    for (guint i = 0; i < 4; i++) {
        HbDomain *dom = hbMonitorLookup(f->monitor, uuids[i]);

        assert_int_equal(hbDomainAttempts(dom), 0);
        assert_null(hbDomainLastAttempt(dom));
    }
    waitHost(f, 2, "cleared host_hold passed (3 s)");
    for (guint i = 0; i < 4; i++) {
        g_autofree char *name = g_strdup_printf("hb-host%u", i);
        g_autoptr(virDomain) dom = virDomainLookupByName(f->conn, name);

        waitNotices(f, name, "restart-attempt would reset observed", 1);
        assert_int_equal(virDomainIsActive(dom), 1);
    }
    assert_int_equal(countAll(f, "restart-attempt reset ok"), 0);
    for (guint i = 0; i < 5; i++)
        g_free(uuids[i]);
}


/*
 * The daemon restarts during a stall: the breaker is not saved, yet the
 * episodes recalled from the state file wait for misses of the new
 * process, which trip it again before any attempt is made.
 */
static void
test_host_hold_after_daemon_restart(void **state G_GNUC_UNUSED)
{
    g_autofree char *dir = g_dir_make_tmp("hb-hostrestart-XXXXXX", NULL);
    Fixture *f = fixtureStartIn(FALSE, dir);
    char *uuids[5];

    startFive(f, uuids);
    for (guint i = 0; i < 4; i++)
        fakeProbeSet(uuids[i], FAKE_AGENT_MISS);
    waitHost(f, 1, "suspected 4 of 5");
    for (guint i = 0; i < 4; i++) {
        g_autofree char *name = g_strdup_printf("hb-host%u", i);

        waitNotices(f, name, "heartbeat-stopped", 1);
    }
    restartMonitor(f, dir);
    for (guint i = 0; i < 4; i++)
        assert_int_equal(hbDomainState(hbMonitorLookup(f->monitor, uuids[i])),
                         HB_STATE_STOPPED);
    waitHost(f, 1, "suspected 4 of 5");
    /* Three failure_intervals, two failure_attempts: held, never spent. */
    testSpin(3000);
    assert_int_equal(countAll(f, "restart-attempt"), 0);
    for (guint i = 0; i < 4; i++)
        assert_int_equal(hbDomainAttempts(hbMonitorLookup(f->monitor, uuids[i])), 0);
    teardown((void **) &f);
    removeDir(dir);
    for (guint i = 0; i < 5; i++)
        g_free(uuids[i]);
}


/* Warnings about a guest's watchdog firing, and about late pings, counted
 * by countWarnings. */
static guint watchdog_warnings;
static guint late_warnings;
/* Restart attempts dropped because their episode ended while the hooks ran. */
static guint hook_drops;


static GLogWriterOutput
countWarnings(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
              gpointer user_data)
{
    for (gsize i = 0; i < n_fields; i++) {
        if (!g_str_equal(fields[i].key, "MESSAGE") || fields[i].length >= 0)
            continue;
        if (strstr(fields[i].value, "dropped: the episode ended while the before-restart "
                   "hooks ran"))
            hook_drops++;
        if (!(level & G_LOG_LEVEL_WARNING))
            continue;
        if (strstr(fields[i].value, "watchdog fired"))
            watchdog_warnings++;
        if (strstr(fields[i].value, "Pings leave late: domain 'hb-late' was pinged 3.0 s"))
            late_warnings++;
    }
    return g_log_writer_default(level, fields, n_fields, user_data);
}


/*
 * A ping that left long after its slot is counted, and said once in a
 * while: the daemon does not keep up. One that left on time is not said.
 */
static void
test_late_ping_warned(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-late", TRUE, FAST);
    g_autofree char *uuid = testDomainUUID(dom);
    gint64 now = g_get_monotonic_time();
    HbJob on_time = { .kind = HB_JOB_PING, .uuid = uuid, .slot = now - 900000,
                      .sent = now - 100000, .finished = now };
    HbJob late = { .kind = HB_JOB_PING, .uuid = uuid, .slot = now - 3500000,
                   .sent = now - 500000, .finished = now };
    g_autoptr(GVariant) stats = NULL;
    g_autoptr(GVariant) lateness = NULL;

    waitState(f, "hb-late", HB_STATE_OK);
    late_warnings = 0;
    hbMonitorCountPing(f->monitor, HB_PING_TICK, &on_time);
    assert_int_equal(late_warnings, 0);
    hbMonitorCountPing(f->monitor, HB_PING_TICK, &late);
    assert_int_equal(late_warnings, 1);
    hbMonitorCountPing(f->monitor, HB_PING_TICK, &late);
    assert_int_equal(late_warnings, 1);

    stats = g_variant_ref_sink(hbMonitorStatistics(f->monitor));
    lateness = g_variant_lookup_value(stats, "ping_lateness", G_VARIANT_TYPE(HB_HISTOGRAM_TYPE));
    assert_non_null(lateness);
    /* The late ones are in the histogram's 2.5-5 s bucket. */
    assert_true(hbHistogramQuantile(lateness, NULL, 1.0) > 2.5);
}


/*
 * The guest sets the pace of its watchdog's events (QEMU passes one a
 * second): a guest that fires it on and on, ticking or not, is logged as a
 * warning once, not once an event; the verdict still sees every firing.
 */
static void
test_watchdog_warned_once(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-wdog", TRUE, FAST);
    HbDomain *hdom;

    waitState(f, "hb-wdog", HB_STATE_OK);
    hdom = hbMonitorLookup(f->monitor, "hb-wdog");
    watchdog_warnings = 0;
    for (guint i = 0; i < 20; i++)
        hbDomainWatchdogEvent(hdom, VIR_DOMAIN_EVENT_WATCHDOG_NONE);
    /* Ticks come meanwhile and forget it; it fires again after each. */
    testSpin(1500);
    for (guint i = 0; i < 20; i++)
        hbDomainWatchdogEvent(hdom, VIR_DOMAIN_EVENT_WATCHDOG_NONE);
    assert_int_equal(watchdog_warnings, 1);
    assert_int_equal(hbDomainState(hdom), HB_STATE_OK);
}


/*
 * The watchdog's action pause stopped a hung guest; a resume (the user's,
 * or libvirt's after a watchdog dump) does not make it work: its watchdog
 * stays the verdict until a tick or boot, so confirm=activity lets the
 * reset of a guest that spins with I/O through.
 */
static void
test_watchdog_kept_over_resume(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-wdpause", TRUE,
                                               "time='2' rate='4' boot_grace='0' "
                                               "failure_interval='2' failure_attempts='2' "
                                               "confirm='activity'");
    g_autofree char *uuid = testDomainUUID(dom);
    Counters c = {
        .monitor = f->monitor, .name = "hb-wdpause", .working = TRUE,
        .sample = { .has_cpu = TRUE, .vcpus = 1, .has_block = TRUE, .has_net = TRUE },
    };
    guint feeder;

    waitState(f, "hb-wdpause", HB_STATE_OK);
    feeder = g_timeout_add(100, feedCounters, &c);
    testSpin(500);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    testSpin(700); /* the pings in flight are answered */
    hbDomainWatchdogEvent(hbMonitorLookup(f->monitor, "hb-wdpause"),
                          VIR_DOMAIN_EVENT_WATCHDOG_PAUSE);
    assert_int_equal(virDomainSuspend(dom), 0);
    waitState(f, "hb-wdpause", HB_STATE_PAUSED);
    assert_int_equal(virDomainResume(dom), 0);
    waitNotices(f, "hb-wdpause", "heartbeat-stopped", 1);
    assert_int_equal(countNotices(f, "hb-wdpause", "heartbeat-stopped guest-hung"), 1);
    waitNotices(f, "hb-wdpause", "restart-attempt reset ok", 1);
    g_source_remove(feeder);
}


/*
 * A monitor (fast defaults) with a hooks directory of its own holding one
 * hook, 10-gate: on before-restart it notes the attempt in "asked", then
 * runs @body; every other event it lets by.
 */
static void
hooksMonitor(Fixture *f, const char *body)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;

    f->hooks_dir = g_dir_make_tmp("hb-monitor-hooks-XXXXXX", NULL);
    assert_non_null(f->hooks_dir);
    path = g_build_filename(f->hooks_dir, "10-gate", NULL);
    text = g_strdup_printf("#!/bin/sh\nDIR='%s'\n[ \"$1\" = before-restart ] || exit 0\n"
                           "echo \"$VIRT_HEARTBEAT_ATTEMPT\" >> \"$DIR/asked\"\n%s\n",
                           f->hooks_dir, body);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    assert_int_equal(chmod(path, 0700), 0);
    fixtureMonitor(f, FALSE, "", 0, TRUE);
}


static char *
readHooksFile(Fixture *f, const char *name)
{
    g_autofree char *path = g_build_filename(f->hooks_dir, name, NULL);
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("");
    return text;
}


/* A before-restart hook that exits 1 vetoes each attempt; vetoed attempts
 * count, so the episode ends in restarts-exhausted as failed ones would. */
static void
test_hook_vetoes_restart(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *asked = NULL;

    hooksMonitor(f, "exit 1");
    dom = testDomainStart(f->conn, "hb-veto", TRUE, FAST);
    uuid = testDomainUUID(dom);
    waitState(f, "hb-veto", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-veto", "restarts-exhausted", 1);
    assert_int_equal(countNotices(f, "hb-veto",
                                  "restart-attempt reset vetoed by hook 10-gate (exit 1)"), 2);
    assert_int_equal(countNotices(f, "hb-veto", "restart-attempt reset ok"), 0);
    assert_string_equal(hbDomainLastAttempt(hbMonitorLookup(f->monitor, uuid)),
                        "2 reset: vetoed by hook 10-gate (exit 1)");
    /* And /metrics counts them, by their own result. */
    assert_int_equal(hbDomainRestarts(hbMonitorLookup(f->monitor, uuid), HB_ACTION_RESET,
                                      HB_OUTCOME_VETOED), 2);
    assert_int_equal(hbDomainRestarts(hbMonitorLookup(f->monitor, uuid), HB_ACTION_RESET,
                                      HB_OUTCOME_FAILED), 0);
    asked = readHooksFile(f, "asked");
    assert_string_equal(asked, "1\n2\n");
}


/*
 * A fake Pacemaker in a private directory, as cluster_test's: its CIB has
 * one VirtualDomain, rsc-NAME, whose config file defines the domain @name;
 * the cluster runs it on node1. cibadmin waits @delay seconds first. Every
 * call is logged in the file "calls". A new monitor uses it.
 */
static void
clusterMonitor(Fixture *f, const char *name, guint delay)
{
    g_autofree char *config = NULL;
    g_autofree char *cibadmin = NULL;
    g_autofree char *crm_resource = NULL;
    g_autofree char *path = NULL;
    const struct {
        const char *name;
        const char *text;
    } files[] = {
        { "config.xml", NULL },
        { "cibadmin", NULL },
        { "crm_node", "#!/bin/sh\necho \"crm_node $*\" >> \"${0%/*}/calls\"\necho node1\n" },
        { "crm_resource", NULL },
    };

    f->cluster_tools = g_dir_make_tmp("hb-monitor-cluster-XXXXXX", NULL);
    assert_non_null(f->cluster_tools);
    config = g_strdup_printf("<domain type='test'><name>%s</name></domain>\n", name);
    path = g_build_filename(f->cluster_tools, "config.xml", NULL);
    cibadmin = g_strdup_printf(
        "#!/bin/sh\necho \"cibadmin $*\" >> \"${0%%/*}/calls\"\nsleep %u\n"
        "echo '<resources><primitive id=\"rsc-%s\" class=\"ocf\" provider=\"heartbeat\" "
        "type=\"VirtualDomain\"><instance_attributes id=\"a\"><nvpair id=\"c\" "
        "name=\"config\" value=\"%s\"/></instance_attributes></primitive></resources>'\n",
        delay, name, path);
    crm_resource = g_strdup(
        "#!/bin/sh\necho \"crm_resource $*\" >> \"${0%/*}/calls\"\n"
        "case \"$*\" in *--locate*) echo '<pacemaker-result><nodes><node>node1</node>"
        "</nodes><status code=\"0\" message=\"OK\"/></pacemaker-result>';; esac\n");
    for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *file = g_build_filename(f->cluster_tools, files[i].name, NULL);
        const char *text = i == 0 ? config : i == 1 ? cibadmin : i == 3 ? crm_resource :
            files[i].text;

        assert_true(g_file_set_contents(file, text, -1, NULL));
        assert_int_equal(g_chmod(file, i == 0 ? 0644 : 0755), 0);
    }
    fixtureMonitor(f, FALSE, "", 0, FALSE);
}


static char *
readClusterCalls(Fixture *f)
{
    g_autofree char *path = g_build_filename(f->cluster_tools, "calls", NULL);
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("");
    return text;
}


static gboolean
condCibadminCalled(gpointer data)
{
    g_autofree char *calls = readClusterCalls(data);

    return strstr(calls, "cibadmin") != NULL;
}


/* Its attempts in place exhausted, the guest's failure goes to its resource. */
static void
test_escalate_reported(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *calls = NULL;

    clusterMonitor(f, "hb-esc", 0);
    dom = testDomainStart(f->conn, "hb-esc", TRUE, "time='2' rate='4' boot_grace='0' "
                          "failure_interval='1' failure_attempts='1' escalate='cluster'");
    uuid = testDomainUUID(dom);
    waitState(f, "hb-esc", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-esc", "escalated", 1);
    assert_int_equal(countNotices(f, "hb-esc", "escalated rsc-hb-esc: ok"), 1);
    assert_int_equal(countNotices(f, "hb-esc", "restart-attempt reset ok"), 1);
    assert_int_equal(countNotices(f, "hb-esc", "restarts-exhausted"), 1);
    calls = readClusterCalls(f);
    assert_string_equal(calls, "cibadmin --query --scope resources\n"
                        "crm_node --name\n"
                        "crm_resource --locate --resource rsc-hb-esc --output-as=xml\n"
                        "crm_resource --fail --resource rsc-hb-esc --node node1\n");
    /* Once: the failed episode asks no more. */
    testSpin(2500);
    assert_int_equal(countNotices(f, "hb-esc", "escalated"), 1);
}


/* failure_attempts=0: no attempt in place, the failure goes to the cluster at once. */
static void
test_escalate_at_once(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;

    clusterMonitor(f, "hb-esc0", 0);
    dom = testDomainStart(f->conn, "hb-esc0", TRUE, "time='2' rate='4' boot_grace='0' "
                          "failure_interval='1' failure_attempts='0' escalate='cluster'");
    uuid = testDomainUUID(dom);
    waitState(f, "hb-esc0", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-esc0", "escalated rsc-hb-esc0: ok", 1);
    assert_int_equal(countNotices(f, "hb-esc0", "restart-attempt"), 0);
}


/* The heartbeat came back while the CIB was read: nothing is reported. */
static void
test_escalate_dropped_when_back(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *calls = NULL;

    clusterMonitor(f, "hb-escback", 3);
    dom = testDomainStart(f->conn, "hb-escback", TRUE, "time='2' rate='4' boot_grace='0' "
                          "failure_interval='1' failure_attempts='0' escalate='cluster'");
    uuid = testDomainUUID(dom);
    waitState(f, "hb-escback", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-escback", "restarts-exhausted", 1);
    /* Back only once the job reads the CIB: not before it ran. */
    assert_true(testWaitFor(condCibadminCalled, f, 10));
    fakeProbeSet(uuid, FAKE_AGENT_OK);
    waitNotices(f, "hb-escback", "heartbeat-resumed", 1);
    waitNotices(f, "hb-escback", "escalated", 1);
    assert_int_equal(countNotices(f, "hb-escback", "escalated rsc-hb-escback: the failed "
                                  "episode ended before the report"), 1);
    calls = readClusterCalls(f);
    assert_null(strstr(calls, "--fail"));
}


/* dry_run: the resource is found, and nothing is reported. */
static void
test_escalate_observed(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *calls = NULL;

    f->dry_run = TRUE;
    clusterMonitor(f, "hb-escdry", 0);
    dom = testDomainStart(f->conn, "hb-escdry", TRUE, "time='2' rate='4' boot_grace='0' "
                          "failure_interval='1' failure_attempts='1' escalate='cluster'");
    uuid = testDomainUUID(dom);
    waitState(f, "hb-escdry", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-escdry", "escalated rsc-hb-escdry: observed only, not reported", 1);
    calls = readClusterCalls(f);
    assert_null(strstr(calls, "--fail"));
}


/* No resource of the cluster runs it: said so, nothing failed. */
static void
test_escalate_no_resource(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;

    clusterMonitor(f, "hb-other", 0);
    dom = testDomainStart(f->conn, "hb-escnone", TRUE, "time='2' rate='4' boot_grace='0' "
                          "failure_interval='1' failure_attempts='0' escalate='cluster'");
    uuid = testDomainUUID(dom);
    waitState(f, "hb-escnone", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-escnone", "escalated : no resource of the cluster runs the domain", 1);
}


/* action=restart on a domain the cluster runs: a reset, never a destroy and start. */
static void
test_cluster_owned_reset_only(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;

    clusterMonitor(f, "hb-owned", 0);
    dom = testDomainStart(f->conn, "hb-owned", TRUE, "time='2' rate='4' boot_grace='0' "
                          "failure_interval='1' failure_attempts='1' action='restart'");
    uuid = testDomainUUID(dom);
    waitState(f, "hb-owned", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-owned", "restart-attempt", 1);
    assert_int_equal(countNotices(f, "hb-owned", "restart-attempt reset ok"), 1);
    /* escalate=none: nothing reported. */
    waitNotices(f, "hb-owned", "restarts-exhausted", 1);
    assert_int_equal(countNotices(f, "hb-owned", "escalated"), 0);
}


/* A before-restart hook that exits 0 lets the attempt be made. */
static void
test_hook_allows_restart(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *asked = NULL;

    hooksMonitor(f, "exit 0");
    dom = testDomainStart(f->conn, "hb-allow", TRUE, FAST);
    uuid = testDomainUUID(dom);
    waitState(f, "hb-allow", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-allow", "restart-attempt reset ok", 1);
    asked = readHooksFile(f, "asked");
    assert_true(g_str_has_prefix(asked, "1\n"));
    fakeProbeSet(uuid, FAKE_AGENT_OK);
    waitNotices(f, "hb-allow", "heartbeat-resumed", 1);
    assert_int_equal(countNotices(f, "hb-allow", "restart-attempt reset vetoed"), 0);
}


static gboolean
condHookDropped(gpointer data)
{
    return hook_drops >= ((Fixture *) data)->want_count;
}


static gboolean
condHookStarted(gpointer data)
{
    Fixture *f = data;
    g_autofree char *asked = readHooksFile(f, "asked");

    return asked[0] != '\0';
}


/* The heartbeat came back while the before-restart hook ran: when it lets
 * the attempt go, the attempt is dropped, not made. */
static void
test_hook_dropped_when_back(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *go = NULL;
    guint drops = hook_drops;

    hooksMonitor(f, "while [ ! -e \"$DIR/go\" ]; do sleep 0.1; done");
    dom = testDomainStart(f->conn, "hb-back", TRUE, FAST);
    uuid = testDomainUUID(dom);
    waitState(f, "hb-back", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    assert_true(testWaitFor(condHookStarted, f, 30));
    fakeProbeSet(uuid, FAKE_AGENT_OK);
    waitNotices(f, "hb-back", "heartbeat-resumed", 1);

    go = g_build_filename(f->hooks_dir, "go", NULL);
    assert_true(g_file_set_contents(go, "", 0, NULL));
    f->want_count = drops + 1;
    assert_true(testWaitFor(condHookDropped, f, 30));
    assert_int_equal(countNotices(f, "hb-back", "restart-attempt"), 0);
    assert_int_equal(hbDomainAttempts(hbMonitorLookup(f->monitor, uuid)), 0);
    waitState(f, "hb-back", HB_STATE_OK);
}


/* A restart decided before a maintenance window began, held by its
 * before-restart hook meanwhile, is dropped when the hook lets it go:
 * what Pause does (hbDomainSetMaintenance) closes its episode. */
static void
test_hook_dropped_when_paused(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *go = NULL;
    guint drops = hook_drops;
    HbDomain *hb;

    hooksMonitor(f, "while [ ! -e \"$DIR/go\" ]; do sleep 0.1; done");
    dom = testDomainStart(f->conn, "hb-paused", TRUE, FAST);
    uuid = testDomainUUID(dom);
    waitState(f, "hb-paused", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    assert_true(testWaitFor(condHookStarted, f, 30));
    hb = hbMonitorLookup(f->monitor, uuid);
    hbDomainSetMaintenance(hb, g_get_real_time() / G_USEC_PER_SEC + 3600);
    assert_int_equal(hbDomainState(hb), HB_STATE_MAINTENANCE);

    go = g_build_filename(f->hooks_dir, "go", NULL);
    assert_true(g_file_set_contents(go, "", 0, NULL));
    f->want_count = drops + 1;
    assert_true(testWaitFor(condHookDropped, f, 30));
    /* Still silent, and no attempt in the window. */
    testSpin(3000);
    assert_int_equal(countNotices(f, "hb-paused", "restart-attempt"), 0);
    assert_int_equal(hbDomainRestarts(hb, HB_ACTION_RESET, HB_OUTCOME_OK), 0);
    assert_int_equal(hbDomainState(hb), HB_STATE_MAINTENANCE);
}


static gboolean
condPingTimeout7(gpointer data)
{
    Fixture *f = data;
    HbDomain *dom = hbMonitorLookup(f->monitor, f->name);

    return dom && hbDomainConfig(dom)->ping_timeout == 7;
}


/*
 * A reload in the middle of an episode: dry_run and [defaults] apply at
 * once, and the domain keeps its episode, its attempts and its counters;
 * the next attempt of the same episode is only observed.
 */
static void
test_reload_keeps_state(void **state)
{
    Fixture *f = *state;
    g_autoptr(virDomain) dom = testDomainStart(f->conn, "hb-reload", TRUE,
                                               "time='2' rate='4' boot_grace='0' "
                                               "failure_interval='1' failure_attempts='3'");
    g_autofree char *uuid = testDomainUUID(dom);
    g_auto(HbDaemonConf) conf = { 0 };
    HbDomain *hdom;
    guint64 episode, missed;

    waitState(f, "hb-reload", HB_STATE_OK);
    fakeProbeSet(uuid, FAKE_AGENT_MISS);
    waitNotices(f, "hb-reload", "restart-attempt reset ok", 1);
    hdom = hbMonitorLookup(f->monitor, uuid);
    episode = hbDomainEpisode(hdom);
    missed = hbDomainPings(hdom, HB_PING_MISS);
    assert_int_equal(hbDomainAttempts(hdom), 1);
    assert_true(missed > 0);

    hbDaemonConfInit(&conf);
    conf.dry_run = TRUE;
    conf.defaults.ping_timeout = 7;
    hbMonitorReconfigure(f->monitor, &conf);
    assert_true(hbMonitorDryRun(f->monitor));
    f->name = "hb-reload";
    assert_true(testWaitFor(condPingTimeout7, f, 30));

    waitNotices(f, "hb-reload", "restart-attempt would reset observed", 1);
    hdom = hbMonitorLookup(f->monitor, uuid);
    assert_int_equal(hbDomainEpisode(hdom), episode);
    assert_true(hbDomainAttempts(hdom) >= 2);
    assert_true(hbDomainPings(hdom, HB_PING_MISS) >= missed);
    assert_int_equal(countNotices(f, "hb-reload", "heartbeat-stopped"), 1);
    assert_int_equal(countNotices(f, "hb-reload", "restart-attempt reset ok"), 1);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthy_live_edit_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_reset_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirm_activity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirm_activity_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_change_closes_ticket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirm_activity_after_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirm_activity_late_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_then_rearm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_restart_destroys_and_starts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_observe_does_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_any_action, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_ladder_climbs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_destroy_and_pause_cause_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_starts_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_metadata_keeps_last_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_error_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_agent_never_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hung_agent_delays_no_other_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undefine_removes, setup, teardown),
        cmocka_unit_test(test_monitor_all),
        cmocka_unit_test(test_state_survives_restart),
        cmocka_unit_test_setup_teardown(test_restart_dropped_after_episode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_held_after_breaker, setup, teardown),
        cmocka_unit_test(test_requests_bounded_and_cancelled),
        cmocka_unit_test(test_invalid_metadata_fails_closed),
        cmocka_unit_test(test_state_follows_domain),
        cmocka_unit_test(test_saved_config_follows_domain),
        cmocka_unit_test(test_state_files_not_followed),
        cmocka_unit_test(test_state_dir_others_can_write),
        cmocka_unit_test_setup_teardown(test_metadata_edits_serialized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_edit_by_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_edit_both_or_neither, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_hold_until_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_hold_expires_crash_handled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_hold_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_count_after_resync, setup, teardown),
        cmocka_unit_test(test_host_hold_after_daemon_restart),
        cmocka_unit_test_setup_teardown(test_late_ping_warned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_warned_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_kept_over_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_vetoes_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_allows_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalate_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalate_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalate_dropped_when_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalate_observed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalate_no_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_owned_reset_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_dropped_when_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_dropped_when_paused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_state, setup, teardown),
    };

    g_log_set_writer_func(countWarnings, NULL, NULL);

    hbUtilInitLibvirt();
    gvir_event_register();
    return cmocka_run_group_tests_name("monitor", tests, NULL, NULL);
}
