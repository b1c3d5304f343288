/*
 * The worker's lanes: a ping that outlives the usual round trip, while
 * other pings wait for its lane, moves to the suspect lane's count and
 * lets the next ping run; only then, and only if that lane has room.
 * The probe here is the test's: a "hang-" domain's call blocks until the
 * test lets it go and misses, a "slow-" one blocks likewise and answers,
 * any other answers at once.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-util.h"
#include "hb-worker.h"
#include "test-util.h"

/* What the worker delivered for one uuid. */
typedef struct {
    guint lane;
    guint deliveries;
    HbProbeResult probe;
    gboolean cancelled;
    gboolean sent;       /* the call began, and returned after it began */
} TestOutcome;

static GMutex probeLock;
static GCond probeCond;
static GHashTable *released;  /* uuids whose blocked call may return */
static GHashTable *calling;   /* uuids whose call is under way */
static guint callsMax;        /* the most calls under way at once */
static GHashTable *done;      /* uuid -> TestOutcome */
static HbWorker *worker;


static HbProbeResult
probe(virConnectPtr conn G_GNUC_UNUSED, const char *uuid, guint timeout G_GNUC_UNUSED,
      char **detail)
{
    gboolean blocks = g_str_has_prefix(uuid, "hang-") || g_str_has_prefix(uuid, "slow-");

    g_mutex_lock(&probeLock);
    g_hash_table_add(calling, g_strdup(uuid));
    callsMax = MAX(callsMax, g_hash_table_size(calling));
    /* A test waiting on the main loop for this call checks again. */
    g_main_context_wakeup(NULL);
    while (blocks && !g_hash_table_contains(released, uuid))
        g_cond_wait(&probeCond, &probeLock);
    g_hash_table_remove(calling, uuid);
    g_mutex_unlock(&probeLock);
    if (!g_str_has_prefix(uuid, "hang-"))
        return HB_PROBE_OK;
    *detail = g_strdup("guest agent is not responding");
    return HB_PROBE_MISS;
}


static gboolean
isCalling(gpointer uuid)
{
    gboolean ret;

    g_mutex_lock(&probeLock);
    ret = g_hash_table_contains(calling, uuid);
    g_mutex_unlock(&probeLock);
    return ret;
}


static guint
callsUnderWay(void)
{
    guint ret;

    g_mutex_lock(&probeLock);
    ret = g_hash_table_size(calling);
    g_mutex_unlock(&probeLock);
    return ret;
}


static void
release(const char *uuid)
{
    g_mutex_lock(&probeLock);
    g_hash_table_add(released, g_strdup(uuid));
    g_cond_broadcast(&probeCond);
    g_mutex_unlock(&probeLock);
}


static void
onDone(HbJob *job, gpointer data G_GNUC_UNUSED)
{
    TestOutcome *out = g_hash_table_lookup(done, job->uuid);

    if (!out) {
        out = g_new0(TestOutcome, 1);
        g_hash_table_insert(done, g_strdup(job->uuid), out);
    }
    out->lane = job->lane;
    out->deliveries++;
    out->probe = job->probe;
    out->cancelled = job->cancelled;
    out->sent = job->sent && job->finished >= job->sent;
    hbJobFree(job);
}


static const TestOutcome *
outcome(const char *uuid)
{
    const TestOutcome *out = g_hash_table_lookup(done, uuid);

    assert_non_null(out);
    return out;
}


static gboolean
isDone(gpointer uuid)
{
    return g_hash_table_contains(done, uuid);
}


static guint
doneLane(const char *uuid)
{
    return outcome(uuid)->lane;
}


static void
waitDone(const char *uuid)
{
    assert_true(testWaitFor(isDone, (gpointer) uuid, 30));
}


static void
push(const char *uuid, gboolean suspect)
{
    HbJob *job = hbJobNew(HB_JOB_PING, uuid);

    job->timeout = 5;
    job->suspect = suspect;
    hbWorkerPush(worker, job);
}


static void
startWorker(guint ping, guint suspect)
{
    HbWorkerLimits limits = { 0 };

    for (int i = 0; i < HB_LANE_LAST; i++)
        limits.threads[i] = 1;
    limits.threads[HB_LANE_PING] = ping;
    limits.threads[HB_LANE_SUSPECT] = suspect;
    worker = hbWorkerNew("test:///default", &limits, probe, onDone, NULL);
}


static int
setup(void **state G_GNUC_UNUSED)
{
    released = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    calling = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    callsMax = 0;
    done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return 0;
}


static int
teardown(void **state G_GNUC_UNUSED)
{
    hbWorkerFree(worker, 30);
    worker = NULL;
    g_hash_table_unref(released);
    g_hash_table_unref(calling);
    g_hash_table_unref(done);
    return 0;
}


/* A newly hung guest's ping holds the only ping thread: the next ping still runs. */
static void
test_overdue_ping_makes_room(void **state G_GNUC_UNUSED)
{
    startWorker(1, 1);
    push("hang-1", FALSE);
    push("ok-1", FALSE);
    push("ok-2", FALSE);
    waitDone("ok-1");
    waitDone("ok-2");
    assert_int_equal(doneLane("ok-1"), HB_LANE_PING);
    assert_false(isDone("hang-1"));
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_PING), 0);
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 1);
    assert_int_equal(hbWorkerPending(worker, HB_LANE_SUSPECT), 1);

    /* Its result comes back as any ping's. */
    release("hang-1");
    waitDone("hang-1");
    assert_int_equal(doneLane("hang-1"), HB_LANE_SUSPECT);
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 0);
}


/* The suspect lane full: the overdue ping keeps its place until that lane has room. */
static void
test_overdue_waits_for_suspect_room(void **state G_GNUC_UNUSED)
{
    startWorker(1, 1);
    push("hang-s", TRUE);
    push("hang-1", FALSE);
    push("ok-1", FALSE);
    /* Long past the overdue time: nothing may move. */
    testSpin(1000);
    assert_false(isDone("ok-1"));
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_PING), 1);
    assert_int_equal(hbWorkerPending(worker, HB_LANE_PING), 2);
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 1);

    release("hang-s");
    waitDone("hang-s");
    waitDone("ok-1");
    assert_false(isDone("hang-1"));
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 1);
    release("hang-1");
    waitDone("hang-1");
    assert_int_equal(doneLane("hang-1"), HB_LANE_SUSPECT);
}


/* Nothing waits: a long ping stays where it is. */
static void
test_no_move_without_waiters(void **state G_GNUC_UNUSED)
{
    startWorker(2, 1);
    push("hang-1", FALSE);
    testSpin(1000);
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_PING), 1);
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 0);
    release("hang-1");
    waitDone("hang-1");
    assert_int_equal(doneLane("hang-1"), HB_LANE_PING);
}


/* Stopping: a queued ping is delivered cancelled; the moved one is waited for. */
static void
test_stop_with_moved_ping(void **state G_GNUC_UNUSED)
{
    startWorker(1, 1);
    push("hang-1", FALSE);
    push("hang-2", FALSE);
    push("ok-1", FALSE);
    /* hang-1 moves, hang-2 takes the ping thread, ok-1 waits (suspect full). */
    testSpin(1000);
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 1);
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_PING), 1);
    assert_false(isDone("ok-1"));
    release("hang-1");
    release("hang-2");
    hbWorkerFree(worker, 30);
    worker = NULL;
    assert_true(isDone("hang-1"));
    assert_true(isDone("hang-2"));
    assert_true(isDone("ok-1"));
}


/* Real suspects first: a suspect thread that comes free goes to a waiting
 * suspect's ping, and only a free one to an overdue ping; never more calls
 * than both lanes have threads. */
static void
test_suspect_goes_before_a_move(void **state G_GNUC_UNUSED)
{
    const char *pings[] = { "hang-p1", "hang-p2", "hang-p3", "hang-p4", "hang-p5" };
    const char *suspects[] = { "hang-s1", "hang-s2", "hang-s3" };

    startWorker(2, 2);
    for (size_t i = 0; i < G_N_ELEMENTS(suspects); i++)
        push(suspects[i], TRUE);
    for (size_t i = 0; i < G_N_ELEMENTS(pings); i++)
        push(pings[i], FALSE);
    testSpin(1000);
    assert_int_equal(callsUnderWay(), 4);
    assert_true(isCalling((gpointer) "hang-p1"));
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_PING), 2);
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 2);
    assert_int_equal(hbWorkerPending(worker, HB_LANE_PING), 5);
    assert_int_equal(hbWorkerPending(worker, HB_LANE_SUSPECT), 3);

    /* The waiting suspect takes the thread; hang-p1, overdue, stays put. */
    release("hang-s1");
    waitDone("hang-s1");
    assert_true(testWaitFor(isCalling, (gpointer) "hang-s3", 30));
    testSpin(500);
    assert_false(isCalling((gpointer) "hang-p3"));
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_PING), 2);
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 2);

    /* No suspect waits now: hang-p1 moves and hang-p3 gets its place. */
    release("hang-s2");
    waitDone("hang-s2");
    assert_true(testWaitFor(isCalling, (gpointer) "hang-p3", 30));
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_PING), 2);
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 2);
    assert_int_equal(callsUnderWay(), 4);

    for (size_t i = 0; i < G_N_ELEMENTS(pings); i++)
        release(pings[i]);
    release("hang-s3");
    for (size_t i = 0; i < G_N_ELEMENTS(pings); i++)
        waitDone(pings[i]);
    waitDone("hang-s3");
    assert_int_equal(doneLane("hang-p1"), HB_LANE_SUSPECT);
    assert_int_equal(doneLane("hang-s3"), HB_LANE_SUSPECT);
    assert_true(callsMax <= 4);
    assert_int_equal(hbWorkerPending(worker, HB_LANE_PING), 0);
    assert_int_equal(hbWorkerPending(worker, HB_LANE_SUSPECT), 0);
}


/* A healthy guest that answers slowly: its moved ping comes back answered,
 * from a call that was made, once. */
static void
test_moved_ping_keeps_its_answer(void **state G_GNUC_UNUSED)
{
    startWorker(1, 1);
    push("slow-1", FALSE);
    push("ok-1", FALSE);
    waitDone("ok-1");
    assert_false(isDone("slow-1"));
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 1);
    release("slow-1");
    waitDone("slow-1");
    assert_int_equal(outcome("slow-1")->lane, HB_LANE_SUSPECT);
    assert_int_equal(outcome("slow-1")->probe, HB_PROBE_OK);
    assert_true(outcome("slow-1")->sent);
    assert_false(outcome("slow-1")->cancelled);
    assert_int_equal(outcome("slow-1")->deliveries, 1);
    assert_int_equal(outcome("ok-1")->probe, HB_PROBE_OK);
    assert_int_equal(outcome("ok-1")->deliveries, 1);
}


static gpointer
releaseLater(gpointer uuid)
{
    g_usleep(300 * 1000);
    release(uuid);
    return NULL;
}


/* Stopping waits for a moved ping still under way, and delivers its real result. */
static void
test_stop_waits_for_moved_call(void **state G_GNUC_UNUSED)
{
    g_autoptr(GThread) thread = NULL;

    startWorker(1, 1);
    push("hang-1", FALSE);
    push("ok-1", FALSE);
    waitDone("ok-1");
    assert_int_equal(hbWorkerBusy(worker, HB_LANE_SUSPECT), 1);
    thread = g_thread_new("release", releaseLater, (gpointer) "hang-1");
    hbWorkerFree(worker, 30);
    worker = NULL;
    g_thread_join(g_steal_pointer(&thread));
    assert_int_equal(outcome("hang-1")->deliveries, 1);
    assert_int_equal(outcome("hang-1")->lane, HB_LANE_SUSPECT);
    assert_int_equal(outcome("hang-1")->probe, HB_PROBE_MISS);
    assert_false(outcome("hang-1")->cancelled);
    assert_true(outcome("hang-1")->sent);
}


static gboolean
wakeupsOver(gpointer data)
{
    gboolean *over = data;

    *over = TRUE;
    return G_SOURCE_REMOVE;
}


/* The main loop's dispatches over @ms. */
static guint
wakeups(guint ms)
{
    gboolean over = FALSE;
    guint n = 0;

    g_timeout_add(ms, wakeupsOver, &over);
    while (!over) {
        g_main_context_iteration(NULL, TRUE);
        n++;
    }
    return n;
}


/* An overdue ping that cannot move (the suspect lane full) arms no timer:
 * the main loop sleeps until a call returns. A spinning timer would wake it
 * about once a millisecond. */
static void
test_no_spin_while_suspect_lane_full(void **state G_GNUC_UNUSED)
{
    startWorker(1, 1);
    push("hang-s", TRUE);
    push("hang-1", FALSE);
    push("ok-1", FALSE);
    assert_true(wakeups(1000) < 20);
    assert_false(isDone("ok-1"));
    /* Still overdue, and nothing may move: still asleep. */
    assert_true(wakeups(500) < 10);
    release("hang-s");
    waitDone("ok-1");
    release("hang-1");
    waitDone("hang-1");
}


static gpointer
releaseAll(gpointer data)
{
    const char *const *uuids = data;

    for (size_t i = 0; uuids[i]; i++) {
        g_usleep(20 * 1000);
        release(uuids[i]);
    }
    return NULL;
}


/* Many guests hang at once among healthy ones, then answer one by one:
 * every ping is delivered exactly once, never cancelled, with no more
 * calls than threads, and the counts end at zero. */
static void
test_mass_hang_counts(void **state G_GNUC_UNUSED)
{
    g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) blocked = g_ptr_array_new();
    g_autoptr(GThread) thread = NULL;

    startWorker(2, 3);
    for (guint i = 0; i < 40; i++) {
        const char *kind = i % 3 == 0 ? "ok-m" : i % 3 == 1 ? "hang-m" : "slow-m";
        char *uuid = g_strdup_printf("%s%u", kind, i);

        g_ptr_array_add(uuids, uuid);
        if (!g_str_has_prefix(uuid, "ok-"))
            g_ptr_array_add(blocked, uuid);
        push(uuid, i % 7 == 0 && !g_str_has_prefix(uuid, "ok-"));
        if (i % 10 == 9)
            testSpin(300);
    }
    g_ptr_array_add(blocked, NULL);
    thread = g_thread_new("release", releaseAll, blocked->pdata);
    for (guint i = 0; i < uuids->len; i++)
        waitDone(uuids->pdata[i]);
    g_thread_join(g_steal_pointer(&thread));
    for (guint i = 0; i < uuids->len; i++) {
        const TestOutcome *out = outcome(uuids->pdata[i]);

        assert_int_equal(out->deliveries, 1);
        assert_false(out->cancelled);
        assert_true(out->sent);
        assert_int_equal(out->probe, g_str_has_prefix(uuids->pdata[i], "hang-") ?
                         HB_PROBE_MISS : HB_PROBE_OK);
    }
    assert_true(callsMax <= 5);
    assert_int_equal(hbWorkerPending(worker, HB_LANE_PING), 0);
    assert_int_equal(hbWorkerPending(worker, HB_LANE_SUSPECT), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_overdue_ping_makes_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overdue_waits_for_suspect_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_move_without_waiters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_moved_ping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspect_goes_before_a_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_moved_ping_keeps_its_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_waits_for_moved_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_spin_while_suspect_lane_full, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mass_hang_counts, setup, teardown),
    };

    hbUtilInitLibvirt();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
