/*
 * The D-Bus server: one Manager1 object, one Domain1 object per monitored
 * domain under a standard ObjectManager, kept in step with the monitor.
 */
#include <config.h>

#include "hb-dbus.h"

struct _HbDBus {
    GDBusConnection *bus;
    HbMonitor *monitor;
    GDBusObjectManagerServer *objects;
    HbDBusManager1 *manager;
    GHashTable *domains; /* uuid -> HbDBusObjectSkeleton */
};

static const GDBusErrorEntry hbDBusErrors[] = {
    { HB_ERROR_FAILED, "org.virt_heartbeat.Error.Failed" },
    { HB_ERROR_VM_UNKNOWN, "org.virt_heartbeat.Error.VMUnknown" },
    { HB_ERROR_VM_NOT_RUNNING, "org.virt_heartbeat.Error.VMNotRunning" },
    { HB_ERROR_AGENT_UNAVAILABLE, "org.virt_heartbeat.Error.AgentNotAvailable" },
    { HB_ERROR_INVALID_ARGUMENT, "org.virt_heartbeat.Error.InvalidArgument" },
};
G_STATIC_ASSERT(G_N_ELEMENTS(hbDBusErrors) == HB_ERROR_LAST);


/* Client and server map these names to HB_ERROR codes and back. */
void
hbDBusRegisterErrors(void)
{
    static gsize registered;

    g_dbus_error_register_error_domain("hb-error-quark", &registered,
                                       hbDBusErrors, G_N_ELEMENTS(hbDBusErrors));
}


char *
hbDBusDomainPath(const char *uuid)
{
    g_autofree char *element = g_strdelimit(g_strdup(uuid), "-", '_');

    return g_strdup_printf("%s/domain/%s", HB_DBUS_PATH, element);
}


static GVariant *
hbDBusConfigVariant(const HbConfig *cfg)
{
    GVariantBuilder b;

    g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&b, "{sv}", "enabled", g_variant_new_boolean(cfg->enabled));
    g_variant_builder_add(&b, "{sv}", "time", g_variant_new_uint32(cfg->time));
    g_variant_builder_add(&b, "{sv}", "rate", g_variant_new_uint32(cfg->rate));
    g_variant_builder_add(&b, "{sv}", "failure_interval", g_variant_new_uint32(cfg->failure_interval));
    g_variant_builder_add(&b, "{sv}", "failure_attempts", g_variant_new_uint32(cfg->failure_attempts));
    g_variant_builder_add(&b, "{sv}", "boot_grace", g_variant_new_uint32(cfg->boot_grace));
    g_variant_builder_add(&b, "{sv}", "action", g_variant_new_string(hbActionToString(cfg->action)));
    g_variant_builder_add(&b, "{sv}", "max_episodes", g_variant_new_uint32(cfg->max_episodes));
    g_variant_builder_add(&b, "{sv}", "episode_window", g_variant_new_uint32(cfg->episode_window));
    g_variant_builder_add(&b, "{sv}", "ping_timeout", g_variant_new_uint32(cfg->ping_timeout));
    return g_variant_builder_end(&b);
}


static HbDBusDomain1 *
hbDBusDomainIface(HbDBus *dbus, HbDomain *dom)
{
    HbDBusObjectSkeleton *obj = g_hash_table_lookup(dbus->domains, hbDomainUUID(dom));

    return obj ? hb_dbus_object_get_domain1(HB_DBUS_OBJECT(obj)) : NULL;
}


static void
hbDBusOnChanged(HbDomain *dom, gpointer data)
{
    g_autoptr(HbDBusDomain1) iface = hbDBusDomainIface(data, dom);

    if (!iface)
        return;
    /* The skeleton sends PropertiesChanged only for values that changed. */
    hb_dbus_domain1_set_name(iface, hbDomainName(dom));
    hb_dbus_domain1_set_state(iface, hbStateToString(hbDomainState(dom)));
    hb_dbus_domain1_set_is_heartbeating(iface, hbDomainIsHeartbeating(dom));
    hb_dbus_domain1_set_heartbeat_percentage(iface, hbDomainPercentage(dom));
    hb_dbus_domain1_set_restart_attempts(iface, hbDomainAttempts(dom));
    hb_dbus_domain1_set_last_tick(iface, hbDomainLastTick(dom));
    hb_dbus_domain1_set_config_error(iface, hbDomainConfigError(dom) ? hbDomainConfigError(dom) : "");
    hb_dbus_domain1_set_agent_connected(iface, hbDomainAgentConnected(dom));
    hb_dbus_domain1_set_config(iface, hbDBusConfigVariant(hbDomainConfig(dom)));
}


static gboolean
hbDBusOnRearm(HbDBusDomain1 *iface, GDBusMethodInvocation *invocation, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom = hbMonitorLookup(dbus->monitor, hb_dbus_domain1_get_uuid(iface));

    if (!dom) {
        g_dbus_method_invocation_return_error(invocation, HB_ERROR, HB_ERROR_VM_UNKNOWN,
                                              "domain %s is no longer monitored",
                                              hb_dbus_domain1_get_uuid(iface));
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    hbMonitorRearm(dbus->monitor, dom);
    hb_dbus_domain1_complete_rearm(iface, invocation);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


static void
hbDBusOnAdded(HbDomain *dom, gpointer data)
{
    HbDBus *dbus = data;
    g_autofree char *path = hbDBusDomainPath(hbDomainUUID(dom));
    HbDBusObjectSkeleton *obj = hb_dbus_object_skeleton_new(path);
    g_autoptr(HbDBusDomain1) iface = hb_dbus_domain1_skeleton_new();

    hb_dbus_domain1_set_uuid(iface, hbDomainUUID(dom));
    g_signal_connect(iface, "handle-rearm", G_CALLBACK(hbDBusOnRearm), dbus);
    hb_dbus_object_skeleton_set_domain1(obj, iface);
    g_hash_table_insert(dbus->domains, g_strdup(hbDomainUUID(dom)), obj);
    hbDBusOnChanged(dom, dbus);
    g_dbus_object_manager_server_export(dbus->objects, G_DBUS_OBJECT_SKELETON(obj));
}


static void
hbDBusOnRemoved(HbDomain *dom, gpointer data)
{
    HbDBus *dbus = data;
    g_autofree char *path = hbDBusDomainPath(hbDomainUUID(dom));

    g_dbus_object_manager_server_unexport(dbus->objects, path);
    g_hash_table_remove(dbus->domains, hbDomainUUID(dom));
}


static void
hbDBusOnNotice(HbDomain *dom, const HbNotice *notice, gpointer data)
{
    HbDBus *dbus = data;
    g_autoptr(HbDBusDomain1) iface = hbDBusDomainIface(dbus, dom);
    const char *name = hbDomainName(dom);
    const char *uuid = hbDomainUUID(dom);
    const char *state = hbStateToString(hbDomainState(dom));

    if (!iface)
        return;
    switch (notice->kind) {
    case HB_NOTICE_STOPPED:
        hb_dbus_manager1_emit_heartbeat_stopped(dbus->manager, name, uuid);
        hb_dbus_domain1_emit_heartbeat_stopped(iface);
        break;
    case HB_NOTICE_RESUMED:
        hb_dbus_manager1_emit_heartbeat_resumed(dbus->manager, name, uuid);
        hb_dbus_domain1_emit_heartbeat_resumed(iface);
        break;
    case HB_NOTICE_RESTART_ATTEMPT:
        hb_dbus_manager1_emit_restart_attempt(dbus->manager, name, uuid, notice->attempt,
                                              notice->max, notice->action, notice->result);
        hb_dbus_domain1_emit_restart_attempt(iface, notice->attempt, notice->max,
                                             notice->action, notice->result);
        break;
    case HB_NOTICE_EXHAUSTED:
        hb_dbus_manager1_emit_restarts_exhausted(dbus->manager, name, uuid);
        hb_dbus_domain1_emit_restarts_exhausted(iface);
        break;
    case HB_NOTICE_STATE_CHANGED:
        hb_dbus_manager1_emit_state_changed(dbus->manager, name, uuid, state);
        hb_dbus_domain1_emit_state_changed(iface, state);
        break;
    case HB_NOTICE_LAST:
        g_assert_not_reached();
    }
}


static void
hbDBusOnConnection(gboolean connected, gpointer data)
{
    HbDBus *dbus = data;

    hb_dbus_manager1_set_connected(dbus->manager, connected);
}


static const HbMonitorObserver hbDBusObserver = {
    .added = hbDBusOnAdded,
    .removed = hbDBusOnRemoved,
    .changed = hbDBusOnChanged,
    .notice = hbDBusOnNotice,
    .connection = hbDBusOnConnection,
};


static gboolean
hbDBusOnListDomains(HbDBusManager1 *manager, GDBusMethodInvocation *invocation,
                    gpointer data)
{
    HbDBus *dbus = data;
    g_autolist(GList) doms = hbMonitorDomains(dbus->monitor);
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);

    for (GList *l = doms; l; l = l->next)
        g_ptr_array_add(paths, hbDBusDomainPath(hbDomainUUID(l->data)));
    g_ptr_array_add(paths, NULL);
    hb_dbus_manager1_complete_list_domains(manager, invocation,
                                           (const char *const *) paths->pdata);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


static gboolean
hbDBusOnLookup(HbDBusManager1 *manager, GDBusMethodInvocation *invocation,
               const char *key, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom = NULL;
    g_autofree char *path = NULL;

    if (!key[0]) {
        g_dbus_method_invocation_return_error(invocation, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                                              "empty domain name or UUID");
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    dom = hbMonitorLookup(dbus->monitor, key);
    if (!dom) {
        g_dbus_method_invocation_return_error(invocation, HB_ERROR, HB_ERROR_VM_UNKNOWN,
                                              "domain '%s' is not monitored", key);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    path = hbDBusDomainPath(hbDomainUUID(dom));
    g_dbus_method_invocation_return_value(invocation, g_variant_new("(o)", path));
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


HbDBus *
hbDBusNew(GDBusConnection *bus, HbMonitor *monitor, const char *uri, GError **error)
{
    HbDBus *dbus = g_new0(HbDBus, 1);

    hbDBusRegisterErrors();
    dbus->bus = g_object_ref(bus);
    dbus->monitor = monitor;
    dbus->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
    dbus->objects = g_dbus_object_manager_server_new(HB_DBUS_PATH);
    dbus->manager = hb_dbus_manager1_skeleton_new();
    hb_dbus_manager1_set_uri(dbus->manager, uri);
    g_signal_connect(dbus->manager, "handle-list-domains", G_CALLBACK(hbDBusOnListDomains), dbus);
    g_signal_connect(dbus->manager, "handle-lookup-by-name", G_CALLBACK(hbDBusOnLookup), dbus);
    g_signal_connect(dbus->manager, "handle-lookup-by-uuid", G_CALLBACK(hbDBusOnLookup), dbus);
    if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(dbus->manager), bus,
                                          HB_DBUS_PATH, error)) {
        hbDBusFree(dbus);
        return NULL;
    }
    g_dbus_object_manager_server_set_connection(dbus->objects, bus);
    hbMonitorSetObserver(monitor, &hbDBusObserver, dbus);
    return dbus;
}


void
hbDBusFree(HbDBus *dbus)
{
    if (!dbus)
        return;
    hbMonitorSetObserver(dbus->monitor, &(HbMonitorObserver) { 0 }, NULL);
    g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(dbus->manager));
    g_dbus_object_manager_server_set_connection(dbus->objects, NULL);
    g_hash_table_unref(dbus->domains);
    g_object_unref(dbus->objects);
    g_object_unref(dbus->manager);
    g_object_unref(dbus->bus);
    g_free(dbus);
}
