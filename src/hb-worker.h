/*
 * Worker threads for everything that talks to libvirt on behalf of the
 * monitor: pings, restart attempts, domain reads and guest requests. Each
 * kind has threads of its own, so nothing waits behind another kind; each
 * job borrows a connection no other job uses meanwhile; results return to
 * the main loop.
 */
#pragma once

#include "hb-job.h"

/* The capacity each kind of job has; none waits behind another kind. */
typedef enum {
    HB_LANE_RESTART,  /* restart attempts: first, never behind a ping */
    HB_LANE_PING,     /* pings to domains whose last ping did not miss */
    HB_LANE_SUSPECT,  /* pings to domains whose last ping missed: these may hang;
                       * and pings overdue in the ping lane while others wait */
    HB_LANE_READ,     /* domain reads */
    HB_LANE_GUEST,    /* guest requests: info, exec, shutdown, time, metadata */
    HB_LANE_STATS,    /* the bulk counter read: it may wait on a stuck QEMU */

    HB_LANE_LAST
} HbLane;

/* The lane @job runs in: its kind's, and for a ping whether the last one missed. */
HbLane hbJobLane(const HbJob *job);

typedef struct _HbWorker HbWorker;

/* Thread counts per lane; libvirt connections are one per thread. */
typedef struct {
    guint threads[HB_LANE_LAST];
} HbWorkerLimits;

HbWorker *hbWorkerNew(const char *uri, const HbWorkerLimits *limits, HbProbeFunc probe,
                      HbJobDoneFunc done, gpointer done_data);
/* On the main loop. The job waits for a thread of its lane, never another's. */
void hbWorkerPush(HbWorker *worker, HbJob *job);
/* Jobs of @lane queued or running. */
guint hbWorkerPending(HbWorker *worker, HbLane lane);
/* Jobs of @lane running: libvirt calls in flight. */
guint hbWorkerBusy(HbWorker *worker, HbLane lane);
/*
 * Stop: queued jobs are delivered cancelled at once, running ones are
 * waited for up to @wait_s seconds; a job still running then is left to
 * the process's exit. Every job delivered has its done function called.
 */
void hbWorkerFree(HbWorker *worker, guint wait_s);
