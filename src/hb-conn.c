/*
 * The event connection to libvirtd and its life cycle.
 */
#include <config.h>

#include "hb-conn.h"
#include "hb-enum.h"

#define HB_KEEPALIVE_INTERVAL 5
#define HB_KEEPALIVE_COUNT 3
#define HB_RECONNECT_MIN_S 1
#define HB_RECONNECT_MAX_S 30

typedef struct _HbConnOpening HbConnOpening;

struct _HbConn {
    char *uri;
    HbConnCallbacks cb;
    gpointer data;
    virConnectPtr conn;
    GArray *callback_ids;
    guint retry_source;
    guint retry_delay;
    guint drop_source;
    HbConnOpening *opening; /* a virConnectOpen under way on a thread */
};

/*
 * virConnectOpen blocks for as long as libvirtd takes to answer, so it runs
 * on a thread of its own; the result comes back to the main loop.
 */
struct _HbConnOpening {
    gint ref;
    HbConn *conn;          /* main loop only; NULL: nobody waits any more */
    char *uri;
    virConnectPtr result;  /* set by the thread */
    char *error;
    GMainContext *context;
};


static void
hbConnOnLifecycle(virConnectPtr c G_GNUC_UNUSED,
                  virDomainPtr dom,
                  int event,
                  int detail,
                  void *opaque)
{
    HbConn *conn = opaque;

    conn->cb.lifecycle(dom, event, detail, conn->data);
}


static void
hbConnOnReboot(virConnectPtr c G_GNUC_UNUSED, virDomainPtr dom, void *opaque)
{
    HbConn *conn = opaque;

    conn->cb.reboot(dom, conn->data);
}


static void
hbConnOnWatchdog(virConnectPtr c G_GNUC_UNUSED, virDomainPtr dom, int action, void *opaque)
{
    HbConn *conn = opaque;

    conn->cb.watchdog(dom, action, conn->data);
}


static void
hbConnOnAgent(virConnectPtr c G_GNUC_UNUSED, virDomainPtr dom, int state, int reason, void *opaque)
{
    HbConn *conn = opaque;

    conn->cb.agent(dom, state, reason, conn->data);
}


static void
hbConnOnMetadata(virConnectPtr c G_GNUC_UNUSED, virDomainPtr dom, int type, const char *nsuri,
                 void *opaque)
{
    HbConn *conn = opaque;

    conn->cb.metadata(dom, type, nsuri, conn->data);
}


static void
hbConnOnDevice(virConnectPtr c G_GNUC_UNUSED, virDomainPtr dom, const char *alias, void *opaque)
{
    HbConn *conn = opaque;

    conn->cb.device(dom, alias, conn->data);
}


static const struct {
    int id;
    virConnectDomainEventGenericCallback cb;
    const char *name;
} hbConnEvents[] = {
    { VIR_DOMAIN_EVENT_ID_LIFECYCLE,
      VIR_DOMAIN_EVENT_CALLBACK(hbConnOnLifecycle), "lifecycle" },
    { VIR_DOMAIN_EVENT_ID_REBOOT,
      VIR_DOMAIN_EVENT_CALLBACK(hbConnOnReboot), "reboot" },
    { VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
      VIR_DOMAIN_EVENT_CALLBACK(hbConnOnAgent), "agent-lifecycle" },
    { VIR_DOMAIN_EVENT_ID_WATCHDOG,
      VIR_DOMAIN_EVENT_CALLBACK(hbConnOnWatchdog), "watchdog" },
    { VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
      VIR_DOMAIN_EVENT_CALLBACK(hbConnOnMetadata), "metadata-change" },
    { VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
      VIR_DOMAIN_EVENT_CALLBACK(hbConnOnDevice), "device-added" },
    { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
      VIR_DOMAIN_EVENT_CALLBACK(hbConnOnDevice), "device-removed" },
};


static void hbConnScheduleRetry(HbConn *conn);
static void hbConnOnClose(virConnectPtr c, int reason, void *opaque);


static void
hbConnDrop(HbConn *conn)
{
    if (!conn->conn)
        return;
    for (guint i = 0; i < conn->callback_ids->len; i++)
        virConnectDomainEventDeregisterAny(conn->conn, g_array_index(conn->callback_ids, int, i));
    g_array_set_size(conn->callback_ids, 0);
    /* Fails harmlessly where none was registered (local drivers). */
    if (virConnectUnregisterCloseCallback(conn->conn, hbConnOnClose) < 0)
        virResetLastError();
    virConnectClose(conn->conn);
    conn->conn = NULL;
}


/* Dropping the connection inside libvirt's own close callback is not safe. */
static gboolean
hbConnDropIdle(gpointer opaque)
{
    HbConn *conn = opaque;

    conn->drop_source = 0;
    hbConnDrop(conn);
    conn->cb.disconnected(conn->data);
    hbConnScheduleRetry(conn);
    return G_SOURCE_REMOVE;
}


/* A new libvirt reason fails the static assert, as a switch would warn. */
HB_ENUM_DECL(hbConnCloseReason, virConnectCloseReason);
HB_ENUM_IMPL(hbConnCloseReason, virConnectCloseReason, VIR_CONNECT_CLOSE_REASON_LAST,
             "I/O error",
             "end of file",
             "keepalive timeout",
             "closed by client",
);


static void
hbConnOnClose(virConnectPtr c, int reason, void *opaque)
{
    HbConn *conn = opaque;
    const char *why = hbConnCloseReasonToString(reason);

    /* Only the connection in use: an older one is none of our business. */
    if (c != conn->conn)
        return;
    g_warning("Connection to %s closed: %s", conn->uri, why ? why : "unknown reason");
    if (!conn->drop_source)
        conn->drop_source = g_idle_add(hbConnDropIdle, conn);
}


/* Local drivers (the test driver) have no keepalive and no close callback. */
static gboolean
hbConnNoSupport(void)
{
    virErrorPtr err = virGetLastError();

    return err && err->code == VIR_ERR_NO_SUPPORT;
}


/*
 * Every connection of the daemon has keepalive, the workers' too: a call
 * to a libvirtd that hangs fails after some 15 s instead of never, and a
 * call that fails so is no verdict on the guest.
 */
int
hbConnSetKeepAlive(virConnectPtr conn)
{
    if (virConnectSetKeepAlive(conn, HB_KEEPALIVE_INTERVAL, HB_KEEPALIVE_COUNT) < 0) {
        if (!hbConnNoSupport())
            return -1;
        g_debug("no keepalive on this connection");
    }
    return 0;
}


/* Keepalive first: from then on a call to a libvirtd that hangs is bounded. */
static int
hbConnSetUp(HbConn *conn)
{
    if (hbConnSetKeepAlive(conn->conn) < 0)
        goto error;
    if (virConnectRegisterCloseCallback(conn->conn, hbConnOnClose, conn, NULL) < 0) {
        if (!hbConnNoSupport())
            goto error;
        g_debug("%s has no close callback", conn->uri);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(hbConnEvents); i++) {
        int id = virConnectDomainEventRegisterAny(conn->conn, NULL, hbConnEvents[i].id,
                                                  hbConnEvents[i].cb, conn, NULL);
        if (id < 0) {
            g_warning("Cannot register %s events on %s: %s",
                      hbConnEvents[i].name, conn->uri, hbUtilLastError());
            goto error;
        }
        g_array_append_val(conn->callback_ids, id);
    }
    return 0;

 error:
    g_warning("Cannot set up the connection to %s: %s", conn->uri, hbUtilLastError());
    hbConnDrop(conn);
    return -1;
}


static void
hbConnOpeningUnref(HbConnOpening *opening)
{
    if (!g_atomic_ref_count_dec(&opening->ref))
        return;
    if (opening->result)
        virConnectClose(opening->result);
    g_free(opening->uri);
    g_free(opening->error);
    g_main_context_unref(opening->context);
    g_free(opening);
}


/* On the main loop: the thread is done. */
static gboolean
hbConnOpened(gpointer data)
{
    HbConnOpening *opening = data;
    HbConn *conn = opening->conn;

    if (!conn)
        return G_SOURCE_REMOVE;
    conn->opening = NULL;
    if (!opening->result) {
        g_warning("Cannot connect to %s: %s", conn->uri, opening->error);
        hbConnScheduleRetry(conn);
        return G_SOURCE_REMOVE;
    }
    conn->conn = g_steal_pointer(&opening->result);
    if (hbConnSetUp(conn) < 0) {
        hbConnScheduleRetry(conn);
        return G_SOURCE_REMOVE;
    }
    g_message("Connected to %s", conn->uri);
    conn->retry_delay = HB_RECONNECT_MIN_S;
    conn->cb.connected(conn->data);
    return G_SOURCE_REMOVE;
}


static gpointer
hbConnOpenThread(gpointer data)
{
    HbConnOpening *opening = data;

    opening->result = virConnectOpen(opening->uri);
    if (!opening->result)
        opening->error = g_strdup(hbUtilLastError());
    hbUtilDefer(opening->context, hbConnOpened, opening, (GDestroyNotify) hbConnOpeningUnref);
    return NULL;
}


static gboolean
hbConnRetry(gpointer opaque)
{
    HbConn *conn = opaque;

    conn->retry_source = 0;
    hbConnStart(conn);
    return G_SOURCE_REMOVE;
}


static void
hbConnScheduleRetry(HbConn *conn)
{
    g_message("Reconnecting to %s in %u s", conn->uri, conn->retry_delay);
    conn->retry_source = g_timeout_add_seconds(conn->retry_delay, hbConnRetry, conn);
    conn->retry_delay = MIN(conn->retry_delay * 2, HB_RECONNECT_MAX_S);
}


HbConn *
hbConnNew(const char *uri, const HbConnCallbacks *cb, gpointer data)
{
    HbConn *conn = g_new0(HbConn, 1);

    conn->uri = g_strdup(uri);
    conn->cb = *cb;
    conn->data = data;
    conn->callback_ids = g_array_new(FALSE, FALSE, sizeof(int));
    conn->retry_delay = HB_RECONNECT_MIN_S;
    return conn;
}


/* Connect, off the main loop, and keep retrying with backoff until it works. */
void
hbConnStart(HbConn *conn)
{
    HbConnOpening *opening = g_new0(HbConnOpening, 1);
    g_autoptr(GThread) thread = NULL;

    g_atomic_ref_count_init(&opening->ref);
    opening->conn = conn;
    opening->uri = g_strdup(conn->uri);
    opening->context = g_main_context_ref_thread_default();
    /* The thread's reference, handed to the main loop when it is done;
     * conn->opening is valid until then. */
    conn->opening = opening;
    thread = g_thread_new("hb-connect", hbConnOpenThread, opening);
}


void
hbConnFree(HbConn *conn)
{
    if (!conn)
        return;
    g_clear_handle_id(&conn->retry_source, g_source_remove);
    g_clear_handle_id(&conn->drop_source, g_source_remove);
    /* An open under way finds nobody waiting and closes what it opened. */
    if (conn->opening)
        conn->opening->conn = NULL;
    hbConnDrop(conn);
    g_array_unref(conn->callback_ids);
    g_free(conn->uri);
    g_free(conn);
}
