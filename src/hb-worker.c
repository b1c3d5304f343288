/*
 * Worker threads and their libvirt connections. A call stuck on a hung
 * agent holds only its own connection, so no other domain waits on it.
 */
#include <config.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "hb-worker.h"

#define HB_AGENT_CHANNEL "org.qemu.guest_agent.0"

struct _HbWorker {
    char *uri;
    GThreadPool *pool;
    GAsyncQueue *idle_conns; /* virConnectPtr not in use by any job */
    GMainContext *context;   /* where results are delivered */
    HbProbeFunc probe;
    gpointer probe_data;
    HbJobDoneFunc done;
    gpointer done_data;
};

typedef struct {
    HbWorker *worker;
    HbJob *job;
} HbJobDelivery;


void
hbDomainInfoFree(HbDomainInfo *info)
{
    if (!info)
        return;
    g_free(info->uuid);
    g_free(info->name);
    g_free(info->metadata);
    g_free(info->error);
    g_free(info);
}


HbJob *
hbJobNew(HbJobKind kind, const char *uuid)
{
    HbJob *job = g_new0(HbJob, 1);

    job->kind = kind;
    job->uuid = g_strdup(uuid);
    job->infos = g_ptr_array_new_with_free_func((GDestroyNotify) hbDomainInfoFree);
    job->changes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return job;
}


void
hbJobFree(HbJob *job)
{
    if (!job)
        return;
    g_free(job->uuid);
    g_free(job->detail);
    g_ptr_array_unref(job->infos);
    g_free(job->path);
    g_strfreev(job->args);
    g_hash_table_unref(job->changes);
    g_clear_error(&job->error);
    hbGuestInfoClear(&job->info);
    hbExecStatusClear(&job->exec);
    g_free(job->metadata);
    g_free(job);
}


/* Fill in what @info needs of the domain XML: agent channel and metadata. */
int
hbDomainXmlInspect(const char *xml, HbDomainInfo *info, GError **error)
{
    g_autoptr(xmlDoc) doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
                                          XML_PARSE_NONET | XML_PARSE_NOERROR |
                                          XML_PARSE_NOWARNING);
    xmlXPathContextPtr ctxt;
    xmlXPathObjectPtr obj;

    if (!doc) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "cannot parse the domain XML");
        return -1;
    }
    ctxt = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctxt, BAD_CAST "hb", BAD_CAST HB_METADATA_URI);

    obj = xmlXPathEval(BAD_CAST "/domain/devices/channel/target[@type='virtio' and "
                       "@name='" HB_AGENT_CHANNEL "']", ctxt);
    info->has_agent = obj && obj->nodesetval && obj->nodesetval->nodeNr > 0;
    info->agent_connected = FALSE;
    if (info->has_agent) {
        g_autofree char *state = (char *) xmlGetProp(obj->nodesetval->nodeTab[0],
                                                     BAD_CAST "state");
        info->agent_connected = g_strcmp0(state, "connected") == 0;
    }
    xmlXPathFreeObject(obj);

    obj = xmlXPathEval(BAD_CAST "/domain/devices/controller[@type='virtio-serial']", ctxt);
    info->has_serial_controller = obj && obj->nodesetval && obj->nodesetval->nodeNr > 0;
    xmlXPathFreeObject(obj);

    info->metadata = NULL;
    obj = xmlXPathEval(BAD_CAST "/domain/metadata/hb:" HB_METADATA_ELEMENT, ctxt);
    if (obj && obj->nodesetval && obj->nodesetval->nodeNr > 0) {
        xmlBufferPtr buf = xmlBufferCreate();
        xmlNodeDump(buf, doc, obj->nodesetval->nodeTab[0], 0, 0);
        info->metadata = g_strdup((const char *) xmlBufferContent(buf));
        xmlBufferFree(buf);
    }
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctxt);
    return 0;
}


static HbDomainInfo *
hbWorkerReadDomain(virDomainPtr dom)
{
    HbDomainInfo *info = g_new0(HbDomainInfo, 1);
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autofree char *xml = NULL;
    g_autoptr(GError) err = NULL;

    virDomainGetUUIDString(dom, uuid);
    info->uuid = g_strdup(uuid);
    info->name = g_strdup(virDomainGetName(dom));
    info->persistent = virDomainIsPersistent(dom) == 1;
    if (virDomainGetState(dom, &info->state, &info->reason, 0) < 0 ||
        !(xml = virDomainGetXMLDesc(dom, 0))) {
        info->error = g_strdup(hbUtilLastError());
        return info;
    }
    /* A running domain gives its live XML, an inactive one its saved config. */
    if (hbDomainXmlInspect(xml, info, &err) < 0)
        info->error = g_strdup(err->message);
    return info;
}


static void
hbWorkerList(HbJob *job, virConnectPtr conn)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);

    job->ok = n >= 0;
    if (n < 0) {
        job->detail = g_strdup(hbUtilLastError());
        return;
    }
    for (int i = 0; i < n; i++) {
        g_ptr_array_add(job->infos, hbWorkerReadDomain(doms[i]));
        virDomainFree(doms[i]);
    }
    g_free(doms);
}


static void
hbWorkerSync(HbJob *job, virConnectPtr conn)
{
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, job->uuid);

    if (!dom) {
        virErrorPtr err = virGetLastError();
        /* Gone is an answer; anything else is a failure to read. */
        job->ok = err && err->code == VIR_ERR_NO_DOMAIN;
        if (!job->ok)
            job->detail = g_strdup(hbUtilLastError());
        return;
    }
    job->ok = TRUE;
    g_ptr_array_add(job->infos, hbWorkerReadDomain(dom));
}


/*
 * One restart attempt, chosen from the domain's state now rather than when
 * it was asked for: the domain may have changed meanwhile.
 */
static gboolean
hbWorkerRestartDomain(virDomainPtr dom, HbAction action, char **done)
{
    int state, reason;

    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        return FALSE;

    switch ((virDomainState) state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
        if (action == HB_ACTION_RESTART) {
            *done = g_strdup("destroy+start");
            return virDomainDestroy(dom) == 0 && virDomainCreate(dom) == 0;
        }
        *done = g_strdup("reset");
        return virDomainReset(dom, 0) == 0;
    case VIR_DOMAIN_CRASHED:
    case VIR_DOMAIN_PAUSED:
        if (state == VIR_DOMAIN_PAUSED && reason != VIR_DOMAIN_PAUSED_CRASHED) {
            *done = g_strdup("none: the domain is paused");
            return TRUE;
        }
        if (action == HB_ACTION_RESTART) {
            *done = g_strdup("destroy+start");
            return virDomainDestroy(dom) == 0 && virDomainCreate(dom) == 0;
        }
        /* A reset crashed domain stays paused. */
        *done = g_strdup("reset+resume");
        return virDomainReset(dom, 0) == 0 && virDomainResume(dom) == 0;
    case VIR_DOMAIN_SHUTOFF:
        if (reason != VIR_DOMAIN_SHUTOFF_CRASHED && reason != VIR_DOMAIN_SHUTOFF_FAILED) {
            *done = g_strdup("none: the domain was shut off on purpose");
            return TRUE;
        }
        *done = g_strdup("start");
        return virDomainCreate(dom) == 0;
    case VIR_DOMAIN_NOSTATE:
    case VIR_DOMAIN_SHUTDOWN:
    case VIR_DOMAIN_PMSUSPENDED:
    case VIR_DOMAIN_LAST:
        break;
    }
    *done = g_strdup_printf("none: domain state %d", state);
    return TRUE;
}


static void
hbWorkerRestart(HbJob *job, virConnectPtr conn)
{
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, job->uuid);
    g_autofree char *done = NULL;

    if (dom)
        job->ok = hbWorkerRestartDomain(dom, job->action, &done);
    if (job->ok)
        job->detail = g_steal_pointer(&done);
    else if (done)
        job->detail = g_strdup_printf("%s: %s", done, hbUtilLastError());
    else
        job->detail = g_strdup(hbUtilLastError());
}


/* A request of the guest OS interface; job->error says why it failed. */
static void
hbWorkerRequest(HbJob *job, virConnectPtr conn)
{
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, job->uuid);
    int ret = -1;

    if (!dom) {
        hbUtilSetLibvirtError(&job->error, "domain");
        return;
    }
    switch (job->kind) {
    case HB_JOB_GUEST_INFO:
        ret = hbGuestReadInfo(dom, &job->info, &job->error);
        break;
    case HB_JOB_SHUTDOWN:
        ret = hbGuestShutdown(dom, &job->error);
        break;
    case HB_JOB_EXEC:
        ret = hbGuestExec(dom, job->path, (const char *const *) job->args,
                          job->exec_timeout, &job->exec, &job->error);
        break;
    case HB_JOB_TIME_SYNC:
        ret = hbGuestSyncTime(dom, &job->error);
        break;
    case HB_JOB_INSTALL_AGENT:
        ret = hbGuestInstallAgent(dom, &job->already, &job->next_boot, &job->error);
        break;
    case HB_JOB_METADATA:
        ret = hbGuestEditMetadata(dom, job->flags, job->changes, &job->defaults,
                                  &job->metadata, &job->error);
        break;
    case HB_JOB_PING:
    case HB_JOB_RESTART:
    case HB_JOB_SYNC:
    case HB_JOB_LIST:
    case HB_JOB_LAST:
        g_assert_not_reached();
    }
    job->ok = ret == 0;
}


/* May the job run again after its connection died under it? */
static gboolean
hbWorkerRepeatable(HbJobKind kind)
{
    switch (kind) {
    case HB_JOB_PING:      /* it would only be late; no verdict is fine */
    case HB_JOB_SHUTDOWN:  /* never twice */
    case HB_JOB_EXEC:
        return FALSE;
    case HB_JOB_RESTART:
    case HB_JOB_SYNC:
    case HB_JOB_LIST:
    case HB_JOB_GUEST_INFO:
    case HB_JOB_TIME_SYNC:
    case HB_JOB_INSTALL_AGENT:
    case HB_JOB_METADATA:
    case HB_JOB_LAST:
        break;
    }
    return TRUE;
}


static gboolean
hbWorkerDeliver(gpointer opaque)
{
    HbJobDelivery *delivery = opaque;

    delivery->worker->done(delivery->job, delivery->worker->done_data);
    g_free(delivery);
    return G_SOURCE_REMOVE;
}


/* A connection from the pool, or a new one; a pooled one that died is dropped. */
static virConnectPtr
hbWorkerTakeConn(HbWorker *worker)
{
    virConnectPtr conn;

    while ((conn = g_async_queue_try_pop(worker->idle_conns))) {
        if (virConnectIsAlive(conn) == 1)
            return conn;
        virConnectClose(conn);
    }
    return virConnectOpen(worker->uri);
}


static void
hbWorkerClearResult(HbJob *job)
{
    job->ok = FALSE;
    job->probe = HB_PROBE_VOID;
    g_clear_pointer(&job->detail, g_free);
    g_ptr_array_set_size(job->infos, 0);
    g_clear_error(&job->error);
    hbGuestInfoClear(&job->info);
    hbExecStatusClear(&job->exec);
    g_clear_pointer(&job->metadata, g_free);
}


static void
hbWorkerExecute(HbWorker *worker, HbJob *job, virConnectPtr conn)
{
    switch (job->kind) {
    case HB_JOB_PING:
        job->probe = worker->probe(conn, job->uuid, job->timeout, &job->detail,
                                   worker->probe_data);
        break;
    case HB_JOB_RESTART:
        hbWorkerRestart(job, conn);
        break;
    case HB_JOB_SYNC:
        hbWorkerSync(job, conn);
        break;
    case HB_JOB_LIST:
        hbWorkerList(job, conn);
        break;
    case HB_JOB_GUEST_INFO:
    case HB_JOB_SHUTDOWN:
    case HB_JOB_EXEC:
    case HB_JOB_TIME_SYNC:
    case HB_JOB_INSTALL_AGENT:
    case HB_JOB_METADATA:
        hbWorkerRequest(job, conn);
        break;
    case HB_JOB_LAST:
        g_assert_not_reached();
    }
}


static void
hbWorkerRun(gpointer data, gpointer user_data)
{
    HbJob *job = data;
    HbWorker *worker = user_data;
    HbJobDelivery *delivery;

    /*
     * A connection can die between two jobs (libvirtd restarted): a job
     * that failed on a dead connection runs once more on a fresh one, if
     * running it twice does no harm.
     */
    for (int tries = 0; tries < 2; tries++) {
        virConnectPtr conn = hbWorkerTakeConn(worker);
        gboolean alive;

        hbWorkerClearResult(job);
        if (!conn) {
            job->detail = g_strdup_printf("cannot connect to %s: %s",
                                          worker->uri, hbUtilLastError());
            g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "%s", job->detail);
            break;
        }
        hbWorkerExecute(worker, job, conn);
        alive = virConnectIsAlive(conn) == 1;
        if (alive)
            g_async_queue_push(worker->idle_conns, conn);
        else
            virConnectClose(conn);
        if (alive || job->ok || !hbWorkerRepeatable(job->kind))
            break;
    }

    delivery = g_new0(HbJobDelivery, 1);
    delivery->worker = worker;
    delivery->job = job;
    g_main_context_invoke(worker->context, hbWorkerDeliver, delivery);
}


static void
hbWorkerCloseConn(gpointer conn)
{
    virConnectClose(conn);
}


HbWorker *
hbWorkerNew(const char *uri, guint threads, HbProbeFunc probe, gpointer probe_data,
            HbJobDoneFunc done, gpointer done_data)
{
    HbWorker *worker = g_new0(HbWorker, 1);

    worker->uri = g_strdup(uri);
    worker->idle_conns = g_async_queue_new_full(hbWorkerCloseConn);
    worker->context = g_main_context_ref_thread_default();
    worker->probe = probe;
    worker->probe_data = probe_data;
    worker->done = done;
    worker->done_data = done_data;
    worker->pool = g_thread_pool_new(hbWorkerRun, worker, threads, FALSE, NULL);
    return worker;
}


void
hbWorkerPush(HbWorker *worker, HbJob *job)
{
    g_thread_pool_push(worker->pool, job, NULL);
}


/*
 * Runs the jobs still queued, waits for them, and delivers every
 * result still pending so no job outlives the worker.
 */
void
hbWorkerFree(HbWorker *worker)
{
    if (!worker)
        return;
    g_thread_pool_free(worker->pool, FALSE, TRUE);
    while (g_main_context_iteration(worker->context, FALSE))
        ;
    g_async_queue_unref(worker->idle_conns);
    g_main_context_unref(worker->context);
    g_free(worker->uri);
    g_free(worker);
}
