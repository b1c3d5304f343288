/*
 * The worker's lanes: a ping that outlives the usual round trip, while
 * other pings wait for its lane, moves to the suspect lane's count and
 * lets the next ping run; only then, and only if that lane has room.
 * The probe here is the test's: a "hang-" domain's call blocks until the
 * test lets it go, any other answers at once.
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

static GMutex probeLock;
static GCond probeCond;
static GHashTable *released;  /* uuids whose blocked call may return */
static GHashTable *done;      /* uuid -> the lane it was delivered from, + 1 */
static HbWorker *worker;


static HbProbeResult
probe(virConnectPtr conn G_GNUC_UNUSED, const char *uuid, guint timeout G_GNUC_UNUSED,
      char **detail)
{
    if (!g_str_has_prefix(uuid, "hang-"))
        return HB_PROBE_OK;
    g_mutex_lock(&probeLock);
    while (!g_hash_table_contains(released, uuid))
        g_cond_wait(&probeCond, &probeLock);
    g_mutex_unlock(&probeLock);
    *detail = g_strdup("guest agent is not responding");
    return HB_PROBE_MISS;
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
    g_hash_table_insert(done, g_strdup(job->uuid), GUINT_TO_POINTER(job->lane + 1));
    hbJobFree(job);
}


static gboolean
isDone(gpointer uuid)
{
    return g_hash_table_contains(done, uuid);
}


static guint
doneLane(const char *uuid)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(done, uuid)) - 1;
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
    done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return 0;
}


static int
teardown(void **state G_GNUC_UNUSED)
{
    hbWorkerFree(worker, 30);
    worker = NULL;
    g_hash_table_unref(released);
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


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_overdue_ping_makes_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overdue_waits_for_suspect_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_move_without_waiters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_moved_ping, setup, teardown),
    };

    hbUtilInitLibvirt();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
