/*
 * Worker threads and their libvirt connections. A call stuck on a hung
 * agent holds only its own connection, so no other domain waits on it.
 */
#include <config.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "hb-conn.h"
#include "hb-worker.h"

#define HB_AGENT_CHANNEL "org.qemu.guest_agent.0"

typedef struct {
    GThreadPool *pool;
    guint threads;
    guint busy;       /* main loop: jobs handed to the pool, not delivered yet */
    GQueue waiting;   /* main loop: jobs waiting for a thread of this lane */
} HbWorkerLane;

struct _HbWorker {
    char *uri;
    HbWorkerLane lanes[HB_LANE_LAST];
    GAsyncQueue *idle_conns; /* virConnectPtr not in use by any job */
    GMainContext *context;   /* where results are delivered */
    GCancellable *stopping;  /* cancelled when the worker stops */
    HbProbeFunc probe;
    gpointer probe_data;
    HbJobDoneFunc done;
    gpointer done_data;
};

typedef struct {
    HbWorker *worker;
    HbJob *job;
} HbJobDelivery;

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
    g_free(job->key);
    g_free(job->name);
    hbJobFree(job->then);
    hbTicketUnref(job->ticket);
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

    /* libvirt's default is destroy; only preserve leaves the crash to us. */
    obj = xmlXPathEval(BAD_CAST "string(/domain/on_crash)", ctxt);
    info->crash_handled = !(obj && obj->stringval &&
                            xmlStrEqual(obj->stringval, BAD_CAST "preserve"));
    xmlXPathFreeObject(obj);

    /* QEMU runs with -no-reboot: a reset stops the domain like a shutdown. */
    obj = xmlXPathEval(BAD_CAST "string(/domain/on_reboot)", ctxt);
    info->reset_stops = obj && obj->stringval &&
        xmlStrEqual(obj->stringval, BAD_CAST "destroy");
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
    info->name = hbUtilSanitize(virDomainGetName(dom), -1, 0);
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
 * What a restart attempt does, chosen from the domain's state now rather
 * than when it was decided: the domain may have changed meanwhile.
 */
typedef enum {
    HB_RESTART_NONE,
    HB_RESTART_RESET,
    HB_RESTART_RESET_RESUME, /* a reset crashed domain stays paused */
    HB_RESTART_DESTROY_START,
    HB_RESTART_START,

    HB_RESTART_LAST
} HbRestartStep;

static const char *hbRestartStepNames[HB_RESTART_LAST] = {
    [HB_RESTART_NONE] = "none",
    [HB_RESTART_RESET] = "reset",
    [HB_RESTART_RESET_RESUME] = "reset+resume",
    [HB_RESTART_DESTROY_START] = "destroy+start",
    [HB_RESTART_START] = "start",
};


static HbRestartStep
hbWorkerRestartStep(const HbJob *job, int state, int reason, char **why)
{
    gboolean restart = job->action == HB_ACTION_RESTART || job->reset_stops;

    switch ((virDomainState) state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
        return restart ? HB_RESTART_DESTROY_START : HB_RESTART_RESET;
    case VIR_DOMAIN_PAUSED:
        if (reason != VIR_DOMAIN_PAUSED_CRASHED) {
            *why = g_strdup("the domain is paused");
            return HB_RESTART_NONE;
        }
        G_GNUC_FALLTHROUGH;
    case VIR_DOMAIN_CRASHED:
        return restart ? HB_RESTART_DESTROY_START : HB_RESTART_RESET_RESUME;
    case VIR_DOMAIN_SHUTOFF:
        if (reason == VIR_DOMAIN_SHUTOFF_CRASHED || reason == VIR_DOMAIN_SHUTOFF_FAILED)
            return HB_RESTART_START;
        /* This episode's own destroy, with the start not made. */
        if (job->start_if_off && reason == VIR_DOMAIN_SHUTOFF_DESTROYED)
            return HB_RESTART_START;
        *why = g_strdup("the domain was shut off on purpose");
        return HB_RESTART_NONE;
    case VIR_DOMAIN_NOSTATE:
    case VIR_DOMAIN_SHUTDOWN:
    case VIR_DOMAIN_PMSUSPENDED:
    case VIR_DOMAIN_LAST:
        break;
    }
    *why = g_strdup_printf("domain state %d", state);
    return HB_RESTART_NONE;
}


/* Each call is made only while the episode is open; -1 with no error: dropped. */
static int
hbWorkerRestartCall(HbJob *job, virDomainPtr dom, int (*call)(virDomainPtr dom))
{
    if (!hbTicketIsOpen(job->ticket)) {
        job->dropped = TRUE;
        return -1;
    }
    if (!job->sent)
        job->sent = g_get_monotonic_time();
    if (call(dom) == 0)
        return 0;
    /* Another job held the domain's state lock all along: nothing done. */
    job->not_made = virGetLastErrorCode() == VIR_ERR_OPERATION_TIMEOUT;
    return -1;
}


static int hbWorkerReset(virDomainPtr dom) { return virDomainReset(dom, 0); }


static int
hbWorkerRestartDomain(HbJob *job, virDomainPtr dom, HbRestartStep step)
{
    switch (step) {
    case HB_RESTART_NONE:
        return 0;
    case HB_RESTART_RESET:
        return hbWorkerRestartCall(job, dom, hbWorkerReset);
    case HB_RESTART_RESET_RESUME:
        if (hbWorkerRestartCall(job, dom, hbWorkerReset) < 0)
            return -1;
        return virDomainResume(dom);
    case HB_RESTART_DESTROY_START:
        if (hbWorkerRestartCall(job, dom, virDomainDestroy) < 0) {
            /* Stopped since its state was read: by the user, not us. */
            job->stopped_by_other = !job->dropped &&
                virGetLastErrorCode() == VIR_ERR_OPERATION_INVALID;
            return -1;
        }
        /* Destroyed: the start belongs to the attempt, whatever happens meanwhile. */
        return virDomainCreate(dom);
    case HB_RESTART_START:
        return hbWorkerRestartCall(job, dom, virDomainCreate);
    case HB_RESTART_LAST:
        break;
    }
    g_return_val_if_reached(-1);
}


static void
hbWorkerRestart(HbJob *job, virConnectPtr conn)
{
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *why = NULL;
    HbRestartStep step;
    int state, reason;

    if (!hbTicketIsOpen(job->ticket)) {
        job->dropped = TRUE;
        return;
    }
    if (!(dom = virDomainLookupByUUIDString(conn, job->uuid)) ||
        virDomainGetState(dom, &state, &reason, 0) < 0) {
        job->not_made = TRUE;
        job->detail = g_strdup(hbUtilLastError());
        return;
    }
    step = hbWorkerRestartStep(job, state, reason, &why);
    /* Nothing done is no success: no boot follows it. */
    job->ok = step != HB_RESTART_NONE && hbWorkerRestartDomain(job, dom, step) == 0;
    if (job->dropped)
        job->detail = g_strdup("the episode ended before the call");
    else if (step == HB_RESTART_NONE)
        job->detail = g_strdup_printf("none: %s", why);
    else if (job->ok)
        job->detail = g_strdup(hbRestartStepNames[step]);
    else
        job->detail = g_strdup_printf("%s: %s", hbRestartStepNames[step], hbUtilLastError());
}


/* A request of the guest OS interface; job->error says why it failed. */
static void
hbWorkerRequest(HbJob *job, virConnectPtr conn, GCancellable *cancellable)
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
                          job->exec_timeout, cancellable, &job->exec, &job->error);
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
    case HB_JOB_RESOLVE:
    case HB_JOB_LAST:
        g_assert_not_reached();
    }
    job->ok = ret == 0;
}


/* The libvirt domain job->key names, as virsh finds it: a UUID first. */
static void
hbWorkerResolve(HbJob *job, virConnectPtr conn)
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
    job->ok = TRUE;
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
    case HB_JOB_RESOLVE:
    case HB_JOB_LAST:
        break;
    }
    return TRUE;
}


HbLane
hbJobLane(const HbJob *job)
{
    switch (job->kind) {
    case HB_JOB_RESTART:
        return HB_LANE_RESTART;
    case HB_JOB_PING:
        return job->suspect ? HB_LANE_SUSPECT : HB_LANE_PING;
    case HB_JOB_SYNC:
    case HB_JOB_LIST:
        return HB_LANE_READ;
    case HB_JOB_GUEST_INFO:
    case HB_JOB_SHUTDOWN:
    case HB_JOB_EXEC:
    case HB_JOB_TIME_SYNC:
    case HB_JOB_INSTALL_AGENT:
    case HB_JOB_METADATA:
    case HB_JOB_RESOLVE:   /* bounded with the requests it is for */
    case HB_JOB_LAST:
        break;
    }
    return HB_LANE_GUEST;
}


/* On the main loop: a thread of the lane is free for the job. */
static void
hbWorkerStart(HbWorker *worker, HbWorkerLane *lane, HbJob *job)
{
    lane->busy++;
    g_thread_pool_push(lane->pool, job, NULL);
}


static gboolean
hbWorkerDeliver(gpointer opaque)
{
    HbJobDelivery *delivery = opaque;
    HbWorker *worker = delivery->worker;
    HbWorkerLane *lane = &worker->lanes[hbJobLane(delivery->job)];

    lane->busy--;
    if (lane->waiting.length > 0 && !g_cancellable_is_cancelled(worker->stopping))
        hbWorkerStart(worker, lane, g_queue_pop_head(&lane->waiting));
    worker->done(delivery->job, worker->done_data);
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
    if ((conn = virConnectOpen(worker->uri)) && hbConnSetKeepAlive(conn) < 0) {
        g_warning("Cannot set keepalive on a worker connection: %s", hbUtilLastError());
        g_clear_pointer(&conn, virConnectClose);
    }
    return conn;
}


static void
hbWorkerClearResult(HbJob *job)
{
    job->ok = FALSE;
    job->not_made = FALSE;
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
        job->sent = g_get_monotonic_time();
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
        hbWorkerRequest(job, conn, worker->stopping);
        break;
    case HB_JOB_RESOLVE:
        hbWorkerResolve(job, conn);
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
            job->not_made = TRUE;
            g_set_error(&job->error, HB_ERROR, HB_ERROR_FAILED, "%s", job->detail);
            break;
        }
        hbWorkerExecute(worker, job, conn);
        alive = virConnectIsAlive(conn) == 1;
        if (alive)
            g_async_queue_push(worker->idle_conns, conn);
        else
            virConnectClose(conn);
        /* A restart whose call was made may have acted: never twice. */
        if (alive || job->ok || !hbWorkerRepeatable(job->kind) ||
            (job->kind == HB_JOB_RESTART && job->sent))
            break;
    }

    delivery = g_new0(HbJobDelivery, 1);
    delivery->worker = worker;
    delivery->job = job;
    hbUtilDefer(worker->context, hbWorkerDeliver, delivery, NULL);
}


static void
hbWorkerCloseConn(gpointer conn)
{
    virConnectClose(conn);
}


HbWorker *
hbWorkerNew(const char *uri, const HbWorkerLimits *limits, HbProbeFunc probe,
            gpointer probe_data, HbJobDoneFunc done, gpointer done_data)
{
    HbWorker *worker = g_new0(HbWorker, 1);

    worker->uri = g_strdup(uri);
    worker->idle_conns = g_async_queue_new_full(hbWorkerCloseConn);
    worker->context = g_main_context_ref_thread_default();
    worker->stopping = g_cancellable_new();
    worker->probe = probe;
    worker->probe_data = probe_data;
    worker->done = done;
    worker->done_data = done_data;
    for (int i = 0; i < HB_LANE_LAST; i++) {
        HbWorkerLane *lane = &worker->lanes[i];
        lane->threads = MAX(limits->threads[i], 1);
        lane->pool = g_thread_pool_new(hbWorkerRun, worker, lane->threads, FALSE, NULL);
        g_queue_init(&lane->waiting);
    }
    return worker;
}


void
hbWorkerPush(HbWorker *worker, HbJob *job)
{
    HbWorkerLane *lane = &worker->lanes[hbJobLane(job)];

    job->queued = g_get_monotonic_time();
    if (lane->busy < lane->threads)
        hbWorkerStart(worker, lane, job);
    else
        g_queue_push_tail(&lane->waiting, job);
}


guint
hbWorkerPending(HbWorker *worker, HbLane lane)
{
    return worker->lanes[lane].busy + worker->lanes[lane].waiting.length;
}


guint
hbWorkerBusy(HbWorker *worker, HbLane lane)
{
    return worker->lanes[lane].busy;
}


static guint
hbWorkerRunning(HbWorker *worker)
{
    guint busy = 0;

    for (int i = 0; i < HB_LANE_LAST; i++)
        busy += worker->lanes[i].busy;
    return busy;
}


static gboolean
hbWorkerWaitOver(gpointer data)
{
    gboolean *over = data;

    *over = TRUE;
    return G_SOURCE_REMOVE;
}


void
hbWorkerFree(HbWorker *worker, guint wait_s)
{
    g_autoptr(GSource) timeout = NULL;
    gboolean over = FALSE;

    if (!worker)
        return;
    g_cancellable_cancel(worker->stopping);
    for (int i = 0; i < HB_LANE_LAST; i++) {
        HbJob *job;
        while ((job = g_queue_pop_head(&worker->lanes[i].waiting))) {
            job->cancelled = TRUE;
            worker->done(job, worker->done_data);
        }
    }

    timeout = g_timeout_source_new_seconds(wait_s);
    g_source_set_callback(timeout, hbWorkerWaitOver, &over, NULL);
    g_source_attach(timeout, worker->context);
    while (hbWorkerRunning(worker) > 0 && !over)
        g_main_context_iteration(worker->context, TRUE);
    g_source_destroy(timeout);
    if (hbWorkerRunning(worker) > 0) {
        /* Their threads still use the worker: leave it to the process's exit. */
        g_warning("%u libvirt calls still under way after %u s; not waiting for them",
                  hbWorkerRunning(worker), wait_s);
        return;
    }

    for (int i = 0; i < HB_LANE_LAST; i++)
        g_thread_pool_free(worker->lanes[i].pool, FALSE, TRUE);
    /* Every job was delivered: nothing is left in the context for us. */
    g_async_queue_unref(worker->idle_conns);
    g_object_unref(worker->stopping);
    g_main_context_unref(worker->context);
    g_free(worker->uri);
    g_free(worker);
}
