/*
 * Restart attempts: what a HB_JOB_RESTART does on a worker thread.
 */
#pragma once

#include "hb-job.h"

/*
 * Reset, or destroy and start, job->uuid as the domain's state now asks
 * (it may have changed since the attempt was decided); the result is in
 * job->done (what was done) or ->error, and in ->dropped, ->not_made and
 * ->stopped_by_other.
 */
void hbRestartRun(HbJob *job, virConnectPtr conn);
