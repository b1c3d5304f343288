/*
 * Escalation to a Pacemaker cluster (escalate=cluster): what the jobs do
 * on a worker thread. A domain a cluster resource runs is never started
 * here: the cluster alone places it. Once its attempts in place are
 * exhausted, its failure is reported to that resource.
 */
#pragma once

#include "hb-cluster.h"
#include "hb-job.h"
#include "hb-restart.h"

/* Where Pacemaker's tools answer for the job (job->cluster_tools). */
void hbEscalateCluster(const HbJob *job, HbCluster *cluster);

/*
 * On a worker thread: the @step a restart attempt of @job would take on
 * @dom (in libvirt's @state), as the cluster allows it. A start, or a
 * destroy and start, of a domain a cluster resource runs, or may run (its
 * CIB unreadable), becomes a reset where the domain runs, or none with
 * *@why (allocated). job->resource names the resource.
 */
HbRestartStep hbEscalateRestartStep(HbJob *job, virDomainPtr dom, HbRestartStep step,
                                    int state, char **why);

/*
 * HB_JOB_ESCALATE on a worker thread: find the resource that runs
 * job->uuid, and report its failure on this node (crm_resource --fail),
 * while job->ticket (the failed episode) and job->host_gate are open.
 * job->done says what was done, or job->error why not; job->resource the
 * resource found. With job->observe the resource is found and not failed.
 */
void hbEscalateRun(HbJob *job);
