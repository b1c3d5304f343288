/*
 * Jobs, and what each kind does on the connection a worker thread lends
 * it: a ping through the probe, a restart attempt (hb-restart.c), a read
 * of one domain or of all, a request to the guest agent or to the domain
 * XML. The worker only decides where and when a job runs.
 */
#include <config.h>

#include "hb-escalate.h"
#include "hb-job.h"
#include "hb-restart.h"


struct _HbTicket {
    gint ref;
    gint open;
};


HbTicket *
hbTicketNew(void)
{
    HbTicket *ticket = g_new0(HbTicket, 1);

    g_atomic_ref_count_init(&ticket->ref);
    ticket->open = 1;
    return ticket;
}


HbTicket *
hbTicketRef(HbTicket *ticket)
{
    g_atomic_ref_count_inc(&ticket->ref);
    return ticket;
}


void
hbTicketUnref(HbTicket *ticket)
{
    if (ticket && g_atomic_ref_count_dec(&ticket->ref))
        g_free(ticket);
}


void
hbTicketClose(HbTicket *ticket)
{
    g_atomic_int_set(&ticket->open, 0);
}


gboolean
hbTicketIsOpen(HbTicket *ticket)
{
    return !ticket || g_atomic_int_get(&ticket->open);
}


HbJob *
hbJobNew(HbJobKind kind, const char *uuid)
{
    HbJob *job = g_new0(HbJob, 1);

    job->kind = kind;
    job->uuid = g_strdup(uuid);
    job->infos = g_ptr_array_new_with_free_func((GDestroyNotify) hbDomainInfoFree);
    job->changes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    job->stats = g_array_new(FALSE, TRUE, sizeof(HbStatsRecord));
    return job;
}


void
hbJobFree(HbJob *job)
{
    if (!job)
        return;
    g_free(job->uuid);
    g_free(job->detail);
    g_free(job->diag_dir);
    g_free(job->cluster_tools);
    g_free(job->resource);
    g_free(job->diag_file);
    g_free(job->diag_error);
    g_ptr_array_unref(job->infos);
    g_free(job->path);
    g_strfreev(job->args);
    g_hash_table_unref(job->changes);
    g_clear_error(&job->error);
    hbGuestInfoClear(&job->info);
    hbExecStatusClear(&job->exec);
    g_free(job->metadata);
    g_free(job->key);
    g_free(job->name);
    hbJobFree(job->then);
    g_array_unref(job->stats);
    hbTicketUnref(job->ticket);
    hbTicketUnref(job->host_gate);
    g_free(job);
}


void
hbJobClearResult(HbJob *job)
{
    job->done = NULL;
    job->not_made = FALSE;
    job->probe = HB_PROBE_VOID;
    g_clear_pointer(&job->detail, g_free);
    g_clear_pointer(&job->diag_file, g_free);
    g_clear_pointer(&job->diag_error, g_free);
    job->diag_us = 0;
    job->diag_pending = FALSE;
    g_ptr_array_set_size(job->infos, 0);
    g_clear_error(&job->error);
    hbGuestInfoClear(&job->info);
    hbExecStatusClear(&job->exec);
    g_clear_pointer(&job->metadata, g_free);
    g_clear_pointer(&job->resource, g_free);
    g_array_set_size(job->stats, 0);
}


gboolean
hbJobRepeatable(HbJobKind kind)
{
    switch (kind) {
    case HB_JOB_PING:      /* it would only be late; no verdict is fine */
    case HB_JOB_SHUTDOWN:  /* never twice */
    case HB_JOB_EXEC:
    case HB_JOB_ESCALATE:
        return FALSE;
    case HB_JOB_RESTART:
    case HB_JOB_SYNC:
    case HB_JOB_LIST:
    case HB_JOB_GUEST_INFO:
    case HB_JOB_TIME_SYNC:
    case HB_JOB_INSTALL_AGENT:
    case HB_JOB_METADATA:
    case HB_JOB_RESOLVE:
    case HB_JOB_STATS:
    case HB_JOB_LAST:
        break;
    }
    return TRUE;
}


static void
hbJobList(HbJob *job, virConnectPtr conn)
{
    virDomainPtr *doms = NULL;
    virNodeInfo node;
    int n = virConnectListAllDomains(conn, &doms, 0);

    if (n < 0) {
        g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "%s", hbUtilLastError());
        return;
    }
    for (int i = 0; i < n; i++) {
        g_ptr_array_add(job->infos, hbDomainXmlRead(doms[i]));
        virDomainFree(doms[i]);
    }
    g_free(doms);
    /* For the load warning; a host that does not say is not judged. */
    if (virNodeGetInfo(conn, &node) == 0)
        job->node_cpus = node.cpus;
}


static void
hbJobSync(HbJob *job, virConnectPtr conn)
{
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, job->uuid);

    if (!dom) {
        virErrorPtr err = virGetLastError();
        /* Gone is an answer; anything else is a failure to read. */
        if (!err || err->code != VIR_ERR_NO_DOMAIN)
            g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "%s", hbUtilLastError());
        return;
    }
    g_ptr_array_add(job->infos, hbDomainXmlRead(dom));
}


/* A request of the guest OS interface; job->error says why it failed. */
static void
hbJobRequest(HbJob *job, virConnectPtr conn, GCancellable *cancellable)
{
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, job->uuid);
    int ret = -1;

    if (!dom) {
        hbUtilSetLibvirtError(&job->error, "domain");
        return;
    }
    switch (job->kind) {
    case HB_JOB_GUEST_INFO:
        ret = hbAgentReadInfo(dom, &job->info, &job->error);
        break;
    case HB_JOB_SHUTDOWN:
        ret = hbAgentShutdown(dom, &job->error);
        break;
    case HB_JOB_EXEC:
        ret = hbAgentExec(dom, job->path, (const char *const *) job->args,
                          job->exec_timeout, cancellable, &job->exec, &job->error);
        break;
    case HB_JOB_TIME_SYNC:
        ret = hbAgentSyncTime(dom, &job->error);
        break;
    case HB_JOB_INSTALL_AGENT:
        ret = hbDomainXmlInstallAgent(dom, &job->already, &job->next_boot, &job->error);
        break;
    case HB_JOB_METADATA:
        ret = hbDomainXmlEditMetadata(dom, job->flags, job->changes, &job->defaults,
                                      &job->metadata, &job->error);
        break;
    case HB_JOB_PING:
    case HB_JOB_RESTART:
    case HB_JOB_SYNC:
    case HB_JOB_LIST:
    case HB_JOB_RESOLVE:
    case HB_JOB_ESCALATE:
    case HB_JOB_STATS:
    case HB_JOB_LAST:
        g_assert_not_reached();
    }
    /* Each call says why it failed; this only keeps a failure one. */
    if (ret < 0 && !job->error)
        g_set_error_literal(&job->error, HB_ERROR, HB_ERROR_FAILED, "failed");
}


/* The libvirt domain job->key names, as virsh finds it: a UUID first. */
static void
hbJobResolve(HbJob *job, virConnectPtr conn)
{
    g_autoptr(virDomain) dom = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (g_uuid_string_is_valid(job->key))
        dom = virDomainLookupByUUIDString(conn, job->key);
    if (!dom)
        dom = virDomainLookupByName(conn, job->key);
    /* The caller quotes the key: libvirt's message would quote it whole. */
    if (!dom && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
        g_set_error_literal(&job->error, HB_ERROR, HB_ERROR_VM_UNKNOWN, "no such domain");
        return;
    }
    if (!dom || virDomainGetUUIDString(dom, uuid) < 0) {
        hbUtilSetLibvirtError(&job->error, "cannot look the domain up");
        return;
    }
    g_free(job->uuid);
    job->uuid = g_strdup(uuid);
    g_free(job->name);
    job->name = hbUtilSanitize(virDomainGetName(dom), -1, 0);
}


/*
 * The sum of the counters <@group>.<i>.<field> for i from 0 to the count
 * <@group>.<@count>, for each of @fields, if every one was read.
 */
static gboolean
hbJobStatsSum(virTypedParameterPtr params, int nparams, const char *group,
              const char *count_name, const char *const *fields, guint64 *sum)
{
    g_autofree char *count_param = g_strdup_printf("%s.%s", group, count_name);
    unsigned int count = 0;

    *sum = 0;
    if (virTypedParamsGetUInt(params, nparams, count_param, &count) != 1)
        return FALSE;
    for (unsigned int i = 0; i < count; i++) {
        for (const char *const *field = fields; *field; field++) {
            char name[VIR_TYPED_PARAM_FIELD_LENGTH];
            unsigned long long value;

            g_snprintf(name, sizeof(name), "%s.%u.%s", group, i, *field);
            /* Skipped (NOWAIT, or no monitor answer): not known, not zero. */
            if (virTypedParamsGetULLong(params, nparams, name, &value) != 1)
                return FALSE;
            *sum += value;
        }
    }
    return TRUE;
}


static void
hbJobStatsRecord(virDomainStatsRecordPtr rec, gint64 time, HbStatsRecord *out)
{
    static const char *const vcpu[] = { "time", NULL };
    static const char *const block[] = { "rd.bytes", "wr.bytes", NULL };
    static const char *const net[] = { "rx.bytes", "tx.bytes", NULL };
    HbStatsSample *s = &out->sample;
    unsigned int vcpus = 0;

    if (virDomainGetUUIDString(rec->dom, out->uuid) < 0)
        out->uuid[0] = '\0';
    s->time = time;
    /* vcpu.<n>.time is the guest's own; cpu.time adds QEMU's threads. */
    s->has_cpu = hbJobStatsSum(rec->params, rec->nparams, "vcpu", "current", vcpu,
                               &s->cpu_ns);
    if (virTypedParamsGetUInt(rec->params, rec->nparams, "vcpu.current", &vcpus) == 1)
        s->vcpus = vcpus;
    s->has_block = hbJobStatsSum(rec->params, rec->nparams, "block", "count", block,
                                 &s->block_bytes);
    s->has_net = hbJobStatsSum(rec->params, rec->nparams, "net", "count", net,
                               &s->net_bytes);
}


/*
 * One call for every running domain. NOWAIT: a domain whose QEMU job is
 * held (a stuck monitor) is skipped for what needs the monitor, instead
 * of holding every other domain's sample up to libvirt's job timeout.
 */
static void
hbJobStats(HbJob *job, virConnectPtr conn)
{
    virDomainStatsRecordPtr *recs = NULL;
    unsigned int groups = VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BLOCK |
        VIR_DOMAIN_STATS_INTERFACE;
    unsigned int flags = VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
        VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
    int n;

    job->sent = g_get_monotonic_time();
    n = virConnectGetAllDomainStats(conn, groups, &recs, flags);
    if (n < 0) {
        hbUtilSetLibvirtError(&job->error, "cannot read domain stats");
        return;
    }
    /* Stamped with when the read began: one stuck on a QEMU comes back after
     * the reads that went beside it, with counters older than theirs for
     * every domain it read first, and must not pass for the newest. */
    for (int i = 0; i < n; i++) {
        HbStatsRecord rec = { 0 };

        hbJobStatsRecord(recs[i], job->sent, &rec);
        if (rec.uuid[0])
            g_array_append_val(job->stats, rec);
    }
    virDomainStatsRecordListFree(recs);
}


void
hbJobRun(HbJob *job, virConnectPtr conn, HbProbeFunc probe, GCancellable *cancellable)
{
    switch (job->kind) {
    case HB_JOB_PING:
        job->sent = g_get_monotonic_time();
        job->probe = probe(conn, job->uuid, job->timeout, &job->detail);
        job->finished = g_get_monotonic_time();
        break;
    case HB_JOB_RESTART:
        hbRestartRun(job, conn);
        break;
    case HB_JOB_SYNC:
        hbJobSync(job, conn);
        break;
    case HB_JOB_LIST:
        hbJobList(job, conn);
        break;
    case HB_JOB_GUEST_INFO:
    case HB_JOB_SHUTDOWN:
    case HB_JOB_EXEC:
    case HB_JOB_TIME_SYNC:
    case HB_JOB_INSTALL_AGENT:
    case HB_JOB_METADATA:
        hbJobRequest(job, conn, cancellable);
        break;
    case HB_JOB_RESOLVE:
        hbJobResolve(job, conn);
        break;
    case HB_JOB_STATS:
        hbJobStats(job, conn);
        break;
    case HB_JOB_ESCALATE:
        hbEscalateRun(job);
        break;
    case HB_JOB_LAST:
        g_assert_not_reached();
    }
}
