/*
 * Escalation to a Pacemaker cluster: no start of a domain the cluster
 * runs, and the failure of one whose attempts in place are exhausted
 * reported to the resource that runs it.
 */
#include <config.h>

#include "hb-cluster.h"
#include "hb-escalate.h"


void
hbEscalateCluster(const HbJob *job, HbCluster *cluster)
{
    *cluster = (HbCluster) {
        .tools = job->cluster_tools,
        .cib_file = HB_CLUSTER_CIB_DEFAULT,
        .timeout = HB_CLUSTER_TIMEOUT_DEFAULT,
    };
}


HbRestartStep
hbEscalateRestartStep(HbJob *job, virDomainPtr dom, HbRestartStep step, int state, char **why)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *resource = NULL;
    g_autofree char *name = NULL;
    HbCluster cluster;

    if ((step != HB_RESTART_START && step != HB_RESTART_DESTROY_START) ||
        !job->cluster_tools || !job->cluster_tools[0])
        return step;
    hbEscalateCluster(job, &cluster);
    name = hbUtilSanitize(virDomainGetName(dom), -1, 0);
    switch (hbClusterOwner(&cluster, name, job->uuid, &resource, &err)) {
    case HB_CLUSTER_NONE:
    case HB_CLUSTER_FREE:
        return step;
    case HB_CLUSTER_OWNED:
        job->resource = g_strdup(resource);
        break;
    case HB_CLUSTER_UNKNOWN:
        job->resource = g_strdup_printf("unknown (%s)", err->message);
        break;
    case HB_CLUSTER_LAST:
        g_return_val_if_reached(HB_RESTART_NONE);
    }
    /* The domain runs, or is crashed and kept: a reset keeps it where it is. */
    if (step == HB_RESTART_DESTROY_START && !job->reset_stops &&
        state != VIR_DOMAIN_SHUTOFF) {
        g_message("Domain '%s': cluster resource %s: a reset instead of destroy and start",
                  name, job->resource);
        return state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED ?
            HB_RESTART_RESET : HB_RESTART_RESET_RESUME;
    }
    *why = g_strdup_printf("cluster resource %s: only the cluster starts the domain%s",
                           job->resource, job->reset_stops ?
                           ", and a reset would stop it (on_reboot=destroy)" : "");
    return HB_RESTART_NONE;
}


/* Whether the report is still wanted: the failed episode open, the host not suspected. */
static gboolean
hbEscalateWanted(HbJob *job, const char *when, GError **error)
{
    if (!hbTicketIsOpen(job->ticket)) {
        job->dropped = TRUE;
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "the failed episode ended before %s",
                    when);
    } else if (!hbTicketIsOpen(job->host_gate)) {
        job->held = TRUE;
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "host suspected before %s", when);
    } else {
        return TRUE;
    }
    return FALSE;
}


/* Asked by hbClusterFail once it found the resource here, right before crm_resource --fail. */
static gboolean
hbEscalateReportWanted(gpointer data, GError **error)
{
    return hbEscalateWanted(data, "the report", error);
}


void
hbEscalateRun(HbJob *job)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *resource = NULL;
    g_autofree char *node = NULL;
    HbCluster cluster;

    if (!hbEscalateWanted(job, "it ran", &job->error))
        return;
    if (!job->cluster_tools || !job->cluster_tools[0]) {
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED,
                    "no cluster here: cluster_tools is empty");
        return;
    }
    hbEscalateCluster(job, &cluster);
    switch (hbClusterOwner(&cluster, job->name, job->uuid, &resource, &err)) {
    case HB_CLUSTER_NONE:
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED,
                    "no cluster here: no cibadmin in %s, or no CIB", job->cluster_tools);
        return;
    case HB_CLUSTER_FREE:
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED,
                    "no resource of the cluster runs the domain");
        return;
    case HB_CLUSTER_UNKNOWN:
        g_propagate_error(&job->error, g_steal_pointer(&err));
        return;
    case HB_CLUSTER_OWNED:
    case HB_CLUSTER_LAST:
        break;
    }
    job->resource = g_steal_pointer(&resource);
    if (job->observe) {
        job->done = "would report";
        return;
    }
    /* The CIB took its time: the guest may be back, or the user's meanwhile;
     * and so may crm_node and crm_resource --locate (asked again then). */
    if (!hbEscalateWanted(job, "the report", &job->error))
        return;
    cluster.wanted = hbEscalateReportWanted;
    cluster.wanted_data = job;
    job->sent = g_get_monotonic_time();
    if (hbClusterFail(&cluster, job->resource, &node, &job->error) == 0)
        job->done = "reported";
}
