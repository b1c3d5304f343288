/*
 * virt-heartbeat: the command line client of virt-heartbeatd. Reads go
 * through the daemon's D-Bus API; "config" edits domain metadata through
 * libvirt, as virsh metadata does.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "hb-config.h"
#include "hb-dbus.h"
#include "hb-domxml.h"
#include "hb-util.h"

typedef enum {
    HB_EXIT_OK = 0,
    HB_EXIT_FAILURE = 1,      /* also: not heartbeating */
    HB_EXIT_USAGE = 2,
    HB_EXIT_VM_UNKNOWN = 3,
    HB_EXIT_VM_NOT_RUNNING = 4,
    HB_EXIT_AGENT_UNAVAILABLE = 5,
    HB_EXIT_DAEMON_UNREACHABLE = 6,
    HB_EXIT_BUSY = 7,
    HB_EXIT_EXEC_BEYOND = 255, /* exec: the guest's exit code is beyond 0-255 */
} HbExit;

typedef struct {
    gboolean json;
    guint timeout;           /* exec */
    char *uri;
    gboolean live;
    gboolean config;
    char *keys[HB_KEY_LAST]; /* config: new values */
    char **unset;
} HbCliOptions;

static HbCliOptions opts;

static const char *hbCliSummary =
    "Commands:\n"
    "  list                       the monitored domains (--json)\n"
    "  status DOMAIN              heartbeat status of one domain (--json)\n"
    "  is-heartbeating DOMAIN     print yes or no; exit 0 if heartbeating, 1 if not\n"
    "  percentage DOMAIN          share of the expected ticks over the last block\n"
    "  events [DOMAIN]            print heartbeat events until interrupted (--json)\n"
    "  config DOMAIN [--time N ...] [--unset KEY] [--live] [--config]\n"
    "                             show or change the domain's <heartbeat/> metadata\n"
    "  rearm DOMAIN               leave the failed state and watch afresh\n"
    "\n"
    "The guest OS (through the guest agent):\n"
    "  info DOMAIN                agent version, OS name, CanShutdown, time sync (--json)\n"
    "  shutdown DOMAIN            shut the guest down cleanly; no restart follows\n"
    "  exec DOMAIN [--timeout N] -- CMD [ARG...]\n"
    "                             run CMD in the guest; exit with its exit status\n"
    "  time-sync DOMAIN on|off    keep the guest clock at the host's\n"
    "  install-agent DOMAIN       add the guest agent channel to the domain\n"
    "  set-parameter DOMAIN NAME VALUE [--live] [--config]\n"
    "                             set one heartbeat key through the daemon\n"
    "\n"
    "DOMAIN is a name or a UUID.";

static const char *hbCliDescription =
    "Exit status: 0 ok, 1 not heartbeating or failure, 2 usage, 3 domain unknown,\n"
    "4 domain not running, 5 guest agent not available, 6 virt-heartbeatd not reachable.\n"
    "See virt-heartbeat(1).\n";


/*
 * Every text that can come from a guest or a domain definition (names,
 * the agent's strings, error messages, metadata) is printed through
 * hbUtilEscape() in text mode. Only exec's output is written raw: it is
 * the command's own, as with ssh.
 */
#define HB_CLI_NAME(d) g_autofree char *name = hbUtilEscape(hb_dbus_domain1_get_name(d))


/* An error message is one line of printable text, whatever it quotes. */
static int G_GNUC_PRINTF(2, 3)
hbCliFail(int status, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    g_autofree char *text = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    text = hbUtilEscape(msg);
    g_printerr("virt-heartbeat: %s\n", text);
    return status;
}


static int G_GNUC_PRINTF(1, 2)
hbCliUsage(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    hbCliFail(HB_EXIT_USAGE, "%s", msg);
    g_printerr("Try 'virt-heartbeat --help'.\n");
    return HB_EXIT_USAGE;
}


/* The exit status for an error from the daemon or from libvirt. */
static int
hbCliExitFor(const GError *err)
{
    if (err->domain == HB_ERROR) {
        switch ((HbErrorCode) err->code) {
        case HB_ERROR_VM_UNKNOWN: return HB_EXIT_VM_UNKNOWN;
        case HB_ERROR_VM_NOT_RUNNING: return HB_EXIT_VM_NOT_RUNNING;
        case HB_ERROR_AGENT_UNAVAILABLE: return HB_EXIT_AGENT_UNAVAILABLE;
        case HB_ERROR_INVALID_ARGUMENT: return HB_EXIT_USAGE;
        case HB_ERROR_BUSY: return HB_EXIT_BUSY;
        case HB_ERROR_FAILED:
        case HB_ERROR_LAST:
            break;
        }
        return HB_EXIT_FAILURE;
    }
    if (g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
        g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
        g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
        g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED))
        return HB_EXIT_DAEMON_UNREACHABLE;
    return HB_EXIT_FAILURE;
}


static int
hbCliUnreachable(const char *why)
{
    return hbCliFail(HB_EXIT_DAEMON_UNREACHABLE,
                     "cannot reach virt-heartbeatd on the system bus (%s): "
                     "is virt-heartbeatd running?", why);
}


static GDBusObjectManager *
hbCliConnect(int *status)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GDBusObjectManager) manager = NULL;
    g_autofree char *owner = NULL;

    hbDBusRegisterErrors();
    manager = hb_dbus_object_manager_client_new_for_bus_sync(
        G_BUS_TYPE_SYSTEM, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
        HB_DBUS_NAME, HB_DBUS_PATH, NULL, &err);
    if (!manager) {
        *status = hbCliUnreachable(err->message);
        return NULL;
    }
    owner = g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(manager));
    if (!owner) {
        *status = hbCliUnreachable(HB_DBUS_NAME " has no owner");
        return NULL;
    }
    return g_steal_pointer(&manager);
}


static gint
hbCliCompareByName(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(hb_dbus_domain1_get_name((HbDBusDomain1 *) a),
                     hb_dbus_domain1_get_name((HbDBusDomain1 *) b));
}


/* Every Domain1 of the daemon, by name; the caller owns the list and refs. */
static GList *
hbCliDomains(GDBusObjectManager *manager)
{
    g_autolist(GDBusObject) objects = g_dbus_object_manager_get_objects(manager);
    GList *domains = NULL;

    for (GList *l = objects; l; l = l->next) {
        HbDBusDomain1 *iface = hb_dbus_object_get_domain1(HB_DBUS_OBJECT(l->data));
        if (iface)
            domains = g_list_prepend(domains, iface);
    }
    return g_list_sort(domains, hbCliCompareByName);
}


/* The daemon's rule (hbMonitorLookup): a UUID first, then an exact name. */
static HbDBusDomain1 *
hbCliFind(GDBusObjectManager *manager, const char *key, int *status)
{
    g_autolist(HbDBusDomain1) domains = hbCliDomains(manager);

    for (GList *l = domains; l && g_uuid_string_is_valid(key); l = l->next) {
        if (g_ascii_strcasecmp(hb_dbus_domain1_get_uuid(l->data), key) == 0)
            return g_object_ref(l->data);
    }
    for (GList *l = domains; l; l = l->next) {
        if (g_str_equal(hb_dbus_domain1_get_name(l->data), key))
            return g_object_ref(l->data);
    }
    *status = hbCliFail(HB_EXIT_VM_UNKNOWN,
                        "domain '%s' is not monitored by virt-heartbeatd "
                        "(give it <heartbeat/> metadata: virt-heartbeat config %s --time 60)",
                        key, key);
    return NULL;
}


/* ISO 8601 in UTC to the second, the form every JSON tool parses. */
static char *
hbCliIsoTime(gint64 usec)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(usec / G_USEC_PER_SEC);

    return g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
}


static JsonNode *
hbCliStatusJson(HbDBusDomain1 *d)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    const char *config_error = hb_dbus_domain1_get_config_error(d);
    GVariant *config = hb_dbus_domain1_get_config(d);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, hb_dbus_domain1_get_name(d));
    json_builder_set_member_name(b, "uuid");
    json_builder_add_string_value(b, hb_dbus_domain1_get_uuid(d));
    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, hb_dbus_domain1_get_state(d));
    json_builder_set_member_name(b, "is_heartbeating");
    json_builder_add_boolean_value(b, hb_dbus_domain1_get_is_heartbeating(d));
    json_builder_set_member_name(b, "heartbeat_percentage");
    json_builder_add_int_value(b, hb_dbus_domain1_get_heartbeat_percentage(d));
    json_builder_set_member_name(b, "restart_attempts");
    json_builder_add_int_value(b, hb_dbus_domain1_get_restart_attempts(d));
    json_builder_set_member_name(b, "episode");
    json_builder_add_int_value(b, hb_dbus_domain1_get_episode(d));
    json_builder_set_member_name(b, "pings_ticked");
    json_builder_add_int_value(b, hb_dbus_domain1_get_pings_ticked(d));
    json_builder_set_member_name(b, "pings_missed");
    json_builder_add_int_value(b, hb_dbus_domain1_get_pings_missed(d));
    json_builder_set_member_name(b, "pings_no_verdict");
    json_builder_add_int_value(b, hb_dbus_domain1_get_pings_no_verdict(d));
    json_builder_set_member_name(b, "last_tick");
    if (hb_dbus_domain1_get_last_tick(d) > 0) {
        g_autofree char *when = hbCliIsoTime(hb_dbus_domain1_get_last_tick(d));
        json_builder_add_string_value(b, when);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "agent_connected");
    json_builder_add_boolean_value(b, hb_dbus_domain1_get_agent_connected(d));
    json_builder_set_member_name(b, "config_error");
    if (config_error && config_error[0])
        json_builder_add_string_value(b, config_error);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "config");
    if (config)
        json_builder_add_value(b, json_gvariant_serialize(config));
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}


static void
hbCliPrintJson(JsonNode *node)
{
    g_autofree char *text = json_to_string(node, FALSE);

    printf("%s\n", text);
    fflush(stdout);
}


static char *
hbCliConfigText(GVariant *config)
{
    GString *out = g_string_new(NULL);
    GVariantIter iter;
    const char *key;
    GVariant *value;

    if (!config)
        return g_string_free(out, FALSE);
    g_variant_iter_init(&iter, config);
    while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
        g_autofree char *text = NULL;
        if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
            text = g_strdup(g_variant_get_boolean(value) ? "yes" : "no");
        else if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
            text = hbUtilEscape(g_variant_get_string(value, NULL));
        else
            text = g_variant_print(value, FALSE);
        g_string_append_printf(out, "%s%s=%s", out->len ? " " : "", key, text);
    }
    return g_string_free(out, FALSE);
}


static int
hbCliList(GDBusObjectManager *manager)
{
    g_autolist(HbDBusDomain1) domains = hbCliDomains(manager);

    if (opts.json) {
        g_autoptr(JsonArray) array = json_array_new();
        g_autoptr(JsonNode) root = json_node_new(JSON_NODE_ARRAY);
        for (GList *l = domains; l; l = l->next)
            json_array_add_element(array, hbCliStatusJson(l->data));
        json_node_set_array(root, array);
        hbCliPrintJson(root);
        return HB_EXIT_OK;
    }
    printf("%-24s %-36s %-12s %-12s %-8s %s\n",
           "Name", "UUID", "State", "Heartbeat", "Percent", "Attempts");
    for (GList *l = domains; l; l = l->next) {
        HbDBusDomain1 *d = l->data;
        HB_CLI_NAME(d);
        g_autofree char *uuid = hbUtilEscape(hb_dbus_domain1_get_uuid(d));
        g_autofree char *state = hbUtilEscape(hb_dbus_domain1_get_state(d));

        printf("%-24s %-36s %-12s %-12s %-8u %u\n", name, uuid, state,
               hb_dbus_domain1_get_is_heartbeating(d) ? "yes" : "no",
               hb_dbus_domain1_get_heartbeat_percentage(d),
               hb_dbus_domain1_get_restart_attempts(d));
    }
    return HB_EXIT_OK;
}


static int
hbCliStatus(HbDBusDomain1 *d)
{
    g_autofree char *config_error = hbUtilEscape(hb_dbus_domain1_get_config_error(d));
    g_autofree char *config = hbCliConfigText(hb_dbus_domain1_get_config(d));
    g_autofree char *uuid = hbUtilEscape(hb_dbus_domain1_get_uuid(d));
    g_autofree char *state = hbUtilEscape(hb_dbus_domain1_get_state(d));
    g_autofree char *last = NULL;
    HB_CLI_NAME(d);

    if (opts.json) {
        g_autoptr(JsonNode) node = hbCliStatusJson(d);
        hbCliPrintJson(node);
        return HB_EXIT_OK;
    }
    if (hb_dbus_domain1_get_last_tick(d) > 0)
        last = hbCliIsoTime(hb_dbus_domain1_get_last_tick(d));
    printf("Name:                 %s\n", name);
    printf("UUID:                 %s\n", uuid);
    printf("State:                %s\n", state);
    printf("Heartbeating:         %s\n", hb_dbus_domain1_get_is_heartbeating(d) ? "yes" : "no");
    printf("Heartbeat percentage: %u\n", hb_dbus_domain1_get_heartbeat_percentage(d));
    printf("Restart attempts:     %u\n", hb_dbus_domain1_get_restart_attempts(d));
    printf("Episode:              %" G_GUINT64_FORMAT "\n", hb_dbus_domain1_get_episode(d));
    printf("Pings:                %" G_GUINT64_FORMAT " answered, %" G_GUINT64_FORMAT
           " missed, %" G_GUINT64_FORMAT " without verdict\n",
           hb_dbus_domain1_get_pings_ticked(d), hb_dbus_domain1_get_pings_missed(d),
           hb_dbus_domain1_get_pings_no_verdict(d));
    printf("Last tick:            %s\n", last ? last : "none");
    printf("Agent connected:      %s\n", hb_dbus_domain1_get_agent_connected(d) ? "yes" : "no");
    if (config_error[0])
        printf("Config error:         %s\n", config_error);
    printf("Config:               %s\n", config);
    return HB_EXIT_OK;
}


/* The seed's "VM not running" and "additions not available" for readings. */
static int
hbCliCheckReadable(HbDBusDomain1 *d)
{
    const char *state = hb_dbus_domain1_get_state(d);
    const char *name = hb_dbus_domain1_get_name(d);

    if (g_str_equal(state, "not-running"))
        return hbCliFail(HB_EXIT_VM_NOT_RUNNING, "domain '%s' is not running", name);
    if (g_str_equal(state, "no-agent"))
        return hbCliFail(HB_EXIT_AGENT_UNAVAILABLE,
                         "domain '%s' has no guest agent channel", name);
    return HB_EXIT_OK;
}


static int
hbCliIsHeartbeating(HbDBusDomain1 *d)
{
    int status = hbCliCheckReadable(d);
    gboolean yes = hb_dbus_domain1_get_is_heartbeating(d);

    if (status != HB_EXIT_OK)
        return status;
    printf("%s\n", yes ? "yes" : "no");
    return yes ? HB_EXIT_OK : HB_EXIT_FAILURE;
}


static int
hbCliPercentage(HbDBusDomain1 *d)
{
    int status = hbCliCheckReadable(d);

    if (status != HB_EXIT_OK)
        return status;
    printf("%u\n", hb_dbus_domain1_get_heartbeat_percentage(d));
    return HB_EXIT_OK;
}


static int
hbCliInfo(HbDBusDomain1 *d)
{
    const char *version = hb_dbus_domain1_get_additions_version(d);
    const char *os = hb_dbus_domain1_get_osname(d);
    g_autofree char *version_text = NULL;
    g_autofree char *os_text = NULL;

    if (opts.json) {
        g_autoptr(JsonNode) node = hbCliStatusJson(d);
        JsonObject *obj = json_node_get_object(node);

        if (version && version[0])
            json_object_set_string_member(obj, "additions_version", version);
        else
            json_object_set_null_member(obj, "additions_version");
        if (os && os[0])
            json_object_set_string_member(obj, "os_name", os);
        else
            json_object_set_null_member(obj, "os_name");
        json_object_set_boolean_member(obj, "can_shutdown", hb_dbus_domain1_get_can_shutdown(d));
        json_object_set_boolean_member(obj, "is_host_time_sync_enabled",
                                       hb_dbus_domain1_get_is_host_time_sync_enabled(d));
        hbCliPrintJson(node);
        return HB_EXIT_OK;
    }
    hbCliStatus(d);
    version_text = hbUtilEscape(version && version[0] ? version : "unknown");
    os_text = hbUtilEscape(os && os[0] ? os : "unknown");
    printf("Additions version:    %s\n", version_text);
    printf("OS name:              %s\n", os_text);
    printf("Can shut down:        %s\n", hb_dbus_domain1_get_can_shutdown(d) ? "yes" : "no");
    printf("Host time sync:       %s\n",
           hb_dbus_domain1_get_is_host_time_sync_enabled(d) ? "on" : "off");
    return HB_EXIT_OK;
}


/* The end of a method call: an error becomes a message and an exit status. */
static int
hbCliCallFailed(HbDBusDomain1 *d, const char *what, GError *err)
{
    g_dbus_error_strip_remote_error(err);
    return hbCliFail(hbCliExitFor(err), "cannot %s '%s': %s", what,
                     hb_dbus_domain1_get_name(d), err->message);
}


static int
hbCliShutdown(HbDBusDomain1 *d)
{
    g_autoptr(GError) err = NULL;
    HB_CLI_NAME(d);

    if (!hb_dbus_domain1_call_shutdown_sync(d, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err))
        return hbCliCallFailed(d, "shut down", err);
    printf("Domain '%s' is shutting down\n", name);
    return HB_EXIT_OK;
}


static void
hbCliWriteBytes(FILE *out, GVariant *bytes)
{
    gsize len;
    const char *data = g_variant_get_fixed_array(bytes, &len, 1);

    fwrite(data, 1, len, out);
    fflush(out);
}


static int
hbCliExec(HbDBusDomain1 *d, char **cmd)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GVariant) out = NULL;
    g_autoptr(GVariant) errout = NULL;
    gboolean truncated;
    gint code;

    /* The command's timeout counts once it runs, and it may wait behind other
     * requests first: the daemon bounds both and answers every request, also
     * when it stops, so the call itself has no timeout. */
    if (!hb_dbus_domain1_call_execute_command_sync(d, cmd[0], (const char *const *) cmd + 1,
                                                   opts.timeout, G_DBUS_CALL_FLAGS_NONE,
                                                   G_MAXINT, &code, &out, &errout, &truncated,
                                                   NULL, &err))
        return hbCliCallFailed(d, "run a command in", err);
    hbCliWriteBytes(stdout, out);
    hbCliWriteBytes(stderr, errout);
    if (truncated)
        g_printerr("virt-heartbeat: the output was cut at 64 KiB\n");
    /* An exit status has 8 bits: a Windows exit code beyond them must not
     * come out as 0, success. */
    if (code < 0 || code > 255)
        return hbCliFail(HB_EXIT_EXEC_BEYOND, "the command's exit status was %d (0x%08x)",
                         code, (guint32) code);
    return code;
}


static int
hbCliTimeSync(HbDBusDomain1 *d, const char *onoff)
{
    g_autoptr(GError) err = NULL;
    gboolean on = g_str_equal(onoff, "on");
    HB_CLI_NAME(d);

    if (!on && !g_str_equal(onoff, "off"))
        return hbCliUsage("time-sync takes on or off");
    if (!hb_dbus_domain1_call_set_host_time_sync_sync(d, on, G_DBUS_CALL_FLAGS_NONE, -1,
                                                      NULL, &err))
        return hbCliCallFailed(d, "change time sync of", err);
    printf("Host time sync %s for '%s'\n", on ? "on" : "off", name);
    return HB_EXIT_OK;
}


static int
hbCliInstallAgent(HbDBusDomain1 *d)
{
    g_autoptr(GError) err = NULL;
    gboolean already, next_boot;
    HB_CLI_NAME(d);

    if (!hb_dbus_domain1_call_install_additions_sync(d, G_DBUS_CALL_FLAGS_NONE, -1, &already,
                                                     &next_boot, NULL, &err))
        return hbCliCallFailed(d, "add the agent channel to", err);
    if (already)
        printf("Domain '%s' already has a guest agent channel\n", name);
    else if (next_boot)
        printf("Guest agent channel added to the definition of '%s'; the running domain has "
               "no virtio-serial controller, so it takes effect when the domain next starts\n",
               name);
    else
        printf("Guest agent channel added to '%s'; start qemu-guest-agent in the guest\n",
               name);
    return HB_EXIT_OK;
}


static int
hbCliSetParameter(HbDBusDomain1 *d, const char *param, const char *value)
{
    g_autoptr(GError) err = NULL;
    guint flags = (opts.live ? VIR_DOMAIN_AFFECT_LIVE : 0) |
                  (opts.config ? VIR_DOMAIN_AFFECT_CONFIG : 0);
    g_autofree char *setting = NULL;
    g_autofree char *text = NULL;
    HB_CLI_NAME(d);

    if (!hb_dbus_domain1_call_set_parameter_sync(d, param, value, flags, G_DBUS_CALL_FLAGS_NONE,
                                                 -1, NULL, &err))
        return hbCliCallFailed(d, "set a parameter of", err);
    setting = g_strdup_printf("%s=%s", param, value);
    text = hbUtilEscape(setting);
    printf("%s set for '%s'\n", text, name);
    return HB_EXIT_OK;
}


static int
hbCliRearm(HbDBusDomain1 *d)
{
    g_autoptr(GError) err = NULL;
    HB_CLI_NAME(d);

    if (!hb_dbus_domain1_call_rearm_sync(d, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err))
        return hbCliCallFailed(d, "rearm", err);
    printf("Domain '%s' rearmed\n", name);
    return HB_EXIT_OK;
}


typedef struct {
    HbDBusDomain1 *filter;
    GMainLoop *loop;
    int status;
} HbCliEvents;


/* One event line; @fields holds the event's own fields (a{sv}, floating). */
static void
hbCliPrintEvent(HbCliEvents *ev, const char *event, const char *name, const char *uuid,
                GVariant *fields)
{
    g_autoptr(GVariant) owned = g_variant_ref_sink(fields);
    g_autofree char *when = hbCliIsoTime(g_get_real_time());
    g_autofree char *name_text = NULL;
    GVariantIter iter;
    const char *key;
    GVariant *value;

    if (ev->filter && g_ascii_strcasecmp(uuid, hb_dbus_domain1_get_uuid(ev->filter)) != 0)
        return;

    if (opts.json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "event");
        json_builder_add_string_value(b, event);
        json_builder_set_member_name(b, "domain");
        json_builder_add_string_value(b, name);
        json_builder_set_member_name(b, "uuid");
        json_builder_add_string_value(b, uuid);
        json_builder_set_member_name(b, "time");
        json_builder_add_string_value(b, when);
        g_variant_iter_init(&iter, owned);
        while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
            json_builder_set_member_name(b, key);
            json_builder_add_value(b, json_gvariant_serialize(value));
        }
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        hbCliPrintJson(root);
        return;
    }

    name_text = hbUtilEscape(name);
    printf("%s %s %s", when, name_text, event);
    g_variant_iter_init(&iter, owned);
    while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
        g_autofree char *text = g_variant_is_of_type(value, G_VARIANT_TYPE_STRING) ?
            hbUtilEscape(g_variant_get_string(value, NULL)) : g_variant_print(value, FALSE);
        printf(" %s=%s", key, text);
    }
    printf("\n");
    fflush(stdout);
}


static GVariant *
hbCliNoFields(void)
{
    return g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
}


static void
hbCliOnStopped(HbDBusManager1 *m, const char *name, const char *uuid, gpointer data)
{
    hbCliPrintEvent(data, "heartbeat-stopped", name, uuid, hbCliNoFields());
}


static void
hbCliOnResumed(HbDBusManager1 *m, const char *name, const char *uuid, gpointer data)
{
    hbCliPrintEvent(data, "heartbeat-resumed", name, uuid, hbCliNoFields());
}


static void
hbCliOnExhausted(HbDBusManager1 *m, const char *name, const char *uuid, gpointer data)
{
    hbCliPrintEvent(data, "restarts-exhausted", name, uuid, hbCliNoFields());
}


static void
hbCliOnStateChanged(HbDBusManager1 *m, const char *name, const char *uuid,
                    const char *state, gpointer data)
{
    hbCliPrintEvent(data, "state-changed", name, uuid,
                    g_variant_new_parsed("{'state': <%s>}", state));
}


static void
hbCliOnAttempt(HbDBusManager1 *m, const char *name, const char *uuid, guint attempt,
               guint max, const char *action, const char *result, gpointer data)
{
    hbCliPrintEvent(data, "restart-attempt", name, uuid,
                    g_variant_new_parsed("{'attempt': <%u>, 'max': <%u>, 'action': <%s>, "
                                         "'result': <%s>}", attempt, max, action, result));
}


static void
hbCliOnOwner(GObject *proxy, GParamSpec *pspec, gpointer data)
{
    HbCliEvents *ev = data;
    g_autofree char *owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(proxy));

    if (owner)
        return;
    ev->status = hbCliUnreachable("virt-heartbeatd went away");
    g_main_loop_quit(ev->loop);
}


static gboolean
hbCliOnInterrupt(gpointer data)
{
    g_main_loop_quit(((HbCliEvents *) data)->loop);
    return G_SOURCE_REMOVE;
}


static int
hbCliEvents(HbDBusDomain1 *filter)
{
    HbCliEvents ev = { .filter = filter, .status = HB_EXIT_OK };
    g_autoptr(HbDBusManager1) manager = NULL;
    g_autoptr(GError) err = NULL;

    manager = hb_dbus_manager1_proxy_new_for_bus_sync(
        G_BUS_TYPE_SYSTEM, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, HB_DBUS_NAME,
        HB_DBUS_PATH, NULL, &err);
    if (!manager)
        return hbCliUnreachable(err->message);

    ev.loop = g_main_loop_new(NULL, FALSE);
    g_signal_connect(manager, "heartbeat-stopped", G_CALLBACK(hbCliOnStopped), &ev);
    g_signal_connect(manager, "heartbeat-resumed", G_CALLBACK(hbCliOnResumed), &ev);
    g_signal_connect(manager, "restart-attempt", G_CALLBACK(hbCliOnAttempt), &ev);
    g_signal_connect(manager, "restarts-exhausted", G_CALLBACK(hbCliOnExhausted), &ev);
    g_signal_connect(manager, "state-changed", G_CALLBACK(hbCliOnStateChanged), &ev);
    g_signal_connect(manager, "notify::g-name-owner", G_CALLBACK(hbCliOnOwner), &ev);
    g_unix_signal_add(SIGINT, hbCliOnInterrupt, &ev);
    g_unix_signal_add(SIGTERM, hbCliOnInterrupt, &ev);
    g_main_loop_run(ev.loop);
    g_main_loop_unref(ev.loop);
    return ev.status;
}


static int
hbCliLibvirtFail(const char *what)
{
    g_autoptr(GError) err = NULL;

    hbUtilSetLibvirtError(&err, what);
    return hbCliFail(hbCliExitFor(err), "%s", err->message);
}


static int
hbCliConfig(const char *key)
{
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(GHashTable) changes = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GError) err = NULL;
    g_autofree char *result = NULL;
    unsigned int flags;
    HbConfig defaults;

    for (int k = 0; k < HB_KEY_LAST; k++) {
        if (opts.keys[k])
            g_hash_table_insert(changes, (char *) hbKeyName(k), opts.keys[k]);
    }
    for (guint i = 0; opts.unset && opts.unset[i]; i++) {
        if (hbKeyFromName(opts.unset[i]) < 0)
            return hbCliUsage("--unset takes a key name such as time or rate");
        g_hash_table_insert(changes, opts.unset[i], NULL);
    }

    hbUtilInitLibvirt();
    if (!(conn = virConnectOpen(opts.uri)))
        return hbCliLibvirtFail("cannot connect to libvirt");
    /* The same rule as for monitored domains: a UUID first, then a name. */
    if (g_uuid_string_is_valid(key))
        dom = virDomainLookupByUUIDString(conn, key);
    if (!dom)
        dom = virDomainLookupByName(conn, key);
    if (!dom)
        return hbCliFail(HB_EXIT_VM_UNKNOWN, "domain '%s' not found", key);

    /* Like virsh: neither flag means the domain's current state. */
    flags = (opts.live ? VIR_DOMAIN_AFFECT_LIVE : 0) | (opts.config ? VIR_DOMAIN_AFFECT_CONFIG : 0);
    hbConfigInitDefaults(&defaults);
    if (hbDomainXmlEditMetadata(dom, flags, changes, &defaults, &result, &err) < 0)
        return hbCliFail(hbCliExitFor(err), "%s", err->message);
    if (result) {
        g_autofree char *text = hbUtilEscape(result);
        printf("%s\n", text);
    }
    else
        printf("no <heartbeat/> metadata: the daemon watches this domain only if "
               "monitor_all is set\n");
    return HB_EXIT_OK;
}


static gboolean
hbCliHasKeyOptions(void)
{
    for (int k = 0; k < HB_KEY_LAST; k++) {
        if (opts.keys[k])
            return TRUE;
    }
    return opts.unset || opts.uri;
}


typedef enum {
    HB_CLI_NO_DOMAIN,
    HB_CLI_DOMAIN,
    HB_CLI_DOMAIN_OPTIONAL,
} HbCliDomainArg;

typedef enum {
    HB_CLI_OPT_JSON = 1 << 0,
    HB_CLI_OPT_KEYS = 1 << 1,    /* key options, --unset, --connect */
    HB_CLI_OPT_SCOPE = 1 << 2,   /* --live, --config */
    HB_CLI_OPT_TIMEOUT = 1 << 3,
} HbCliOpts;

typedef int (*HbCliFunc)(GDBusObjectManager *manager, HbDBusDomain1 *dom, char **args);

static int hbCliRunList(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliList(m); }
static int hbCliRunEvents(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliEvents(d); }
static int hbCliRunStatus(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliStatus(d); }
static int hbCliRunIsHb(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliIsHeartbeating(d); }
static int hbCliRunPct(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliPercentage(d); }
static int hbCliRunRearm(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliRearm(d); }
static int hbCliRunInfo(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliInfo(d); }
static int hbCliRunShutdown(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliShutdown(d); }
static int hbCliRunExec(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliExec(d, a); }
static int hbCliRunTimeSync(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliTimeSync(d, a[0]); }
static int hbCliRunInstall(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliInstallAgent(d); }
static int hbCliRunSetParam(GDBusObjectManager *m, HbDBusDomain1 *d, char **a) { return hbCliSetParameter(d, a[0], a[1]); }

static const struct {
    const char *name;
    HbCliDomainArg domain;
    int min_args;           /* after DOMAIN */
    int max_args;           /* -1: any number */
    guint opts;             /* HbCliOpts it accepts */
    HbCliFunc run;          /* NULL: config, which talks to libvirt */
} hbCliCommands[] = {
    { "list", HB_CLI_NO_DOMAIN, 0, 0, HB_CLI_OPT_JSON, hbCliRunList },
    { "status", HB_CLI_DOMAIN, 0, 0, HB_CLI_OPT_JSON, hbCliRunStatus },
    { "is-heartbeating", HB_CLI_DOMAIN, 0, 0, 0, hbCliRunIsHb },
    { "percentage", HB_CLI_DOMAIN, 0, 0, 0, hbCliRunPct },
    { "events", HB_CLI_DOMAIN_OPTIONAL, 0, 0, HB_CLI_OPT_JSON, hbCliRunEvents },
    { "config", HB_CLI_DOMAIN, 0, 0, HB_CLI_OPT_KEYS | HB_CLI_OPT_SCOPE, NULL },
    { "rearm", HB_CLI_DOMAIN, 0, 0, 0, hbCliRunRearm },
    { "info", HB_CLI_DOMAIN, 0, 0, HB_CLI_OPT_JSON, hbCliRunInfo },
    { "shutdown", HB_CLI_DOMAIN, 0, 0, 0, hbCliRunShutdown },
    { "exec", HB_CLI_DOMAIN, 1, -1, HB_CLI_OPT_TIMEOUT, hbCliRunExec },
    { "time-sync", HB_CLI_DOMAIN, 1, 1, 0, hbCliRunTimeSync },
    { "install-agent", HB_CLI_DOMAIN, 0, 0, 0, hbCliRunInstall },
    { "set-parameter", HB_CLI_DOMAIN, 2, 2, HB_CLI_OPT_SCOPE, hbCliRunSetParam },
};


static int
hbCliRun(int argc, char **argv)
{
    const char *cmd = argv[1];
    g_autoptr(GDBusObjectManager) manager = NULL;
    g_autoptr(HbDBusDomain1) dom = NULL;
    char **args = argv + 2;
    int nargs = argc - 2;
    int status = HB_EXIT_OK;
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(hbCliCommands); i++) {
        if (g_str_equal(hbCliCommands[i].name, cmd))
            break;
    }
    if (i == G_N_ELEMENTS(hbCliCommands))
        return hbCliUsage("unknown command '%s'", cmd);

    if (hbCliCommands[i].domain == HB_CLI_DOMAIN && nargs < 1)
        return hbCliUsage("'%s' needs a DOMAIN (name or UUID)", cmd);
    if (hbCliCommands[i].domain != HB_CLI_NO_DOMAIN && nargs > 0) {
        args++;
        nargs--;
    }
    /* GOption leaves the "--" that ends the options: exec DOMAIN -- CMD. */
    if (nargs > 0 && g_str_equal(args[0], "--")) {
        args++;
        nargs--;
    }
    if (nargs < hbCliCommands[i].min_args ||
        (hbCliCommands[i].max_args >= 0 && nargs > hbCliCommands[i].max_args))
        return hbCliUsage("wrong number of arguments for '%s'", cmd);
    if (opts.json && !(hbCliCommands[i].opts & HB_CLI_OPT_JSON))
        return hbCliUsage("--json goes with list, status, info and events");
    if (hbCliHasKeyOptions() && !(hbCliCommands[i].opts & HB_CLI_OPT_KEYS))
        return hbCliUsage("key options, --unset and --connect go with config");
    if ((opts.live || opts.config) && !(hbCliCommands[i].opts & HB_CLI_OPT_SCOPE))
        return hbCliUsage("--live and --config go with config and set-parameter");
    if (opts.timeout && !(hbCliCommands[i].opts & HB_CLI_OPT_TIMEOUT))
        return hbCliUsage("--timeout goes with exec");

    if (!hbCliCommands[i].run)
        return hbCliConfig(argv[2]);
    if (!(manager = hbCliConnect(&status)))
        return status;
    if (hbCliCommands[i].domain != HB_CLI_NO_DOMAIN && argc > 2 &&
        !(dom = hbCliFind(manager, argv[2], &status)))
        return status;
    return hbCliCommands[i].run(manager, dom, args);
}


int
main(int argc, char **argv)
{
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &opts.json, "JSON output (list, status, info, events)", NULL },
        { "timeout", 't', 0, G_OPTION_ARG_INT, &opts.timeout, "exec: seconds to wait for the command (default 30)", "N" },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL }
    };
    GOptionEntry config_entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &opts.uri, "libvirt URI", "URI" },
        { "live", 0, 0, G_OPTION_ARG_NONE, &opts.live, "Change the running domain (also set-parameter)", NULL },
        { "config", 0, 0, G_OPTION_ARG_NONE, &opts.config, "Change the saved definition (also set-parameter)", NULL },
        { "enabled", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_ENABLED], "Monitor this domain", "yes|no" },
        { "time", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_TIME], "Seconds per block", "N" },
        { "rate", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_RATE], "Ticks per block", "N" },
        { "failure-interval", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_FAILURE_INTERVAL], "Seconds between restart attempts", "N" },
        { "failure-attempts", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_FAILURE_ATTEMPTS], "Restart attempts per episode", "N" },
        { "boot-grace", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_BOOT_GRACE], "Seconds after a start or reset", "N" },
        { "action", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_ACTION], "What a restart attempt does", "reset|restart|none" },
        { "max-episodes", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_MAX_EPISODES], "Episodes with action per window (0: no cap)", "N" },
        { "episode-window", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_EPISODE_WINDOW], "Storm cap window in seconds", "N" },
        { "ping-timeout", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_PING_TIMEOUT], "Seconds a ping may take", "N" },
        { "time-sync", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_TIME_SYNC], "Keep the guest clock at the host's", "yes|no" },
        { "time-sync-interval", 0, 0, G_OPTION_ARG_STRING, &opts.keys[HB_KEY_TIME_SYNC_INTERVAL], "Minutes between time syncs", "N" },
        { "unset", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts.unset, "Remove a key (repeatable)", "KEY" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND [DOMAIN]");
    GOptionGroup *config_group = g_option_group_new("config", "Options of the config command:",
                                                    "Show the options of the config command",
                                                    NULL, NULL);
    g_autoptr(GError) err = NULL;
    int status;

    g_option_context_set_summary(ctx, hbCliSummary);
    g_option_context_set_description(ctx, hbCliDescription);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_group_add_entries(config_group, config_entries);
    g_option_context_add_group(ctx, config_group);
    if (!g_option_context_parse(ctx, &argc, &argv, &err))
        return hbCliUsage("%s", err->message);
    if (version) {
        printf("virt-heartbeat %s\n", PACKAGE_VERSION);
        return HB_EXIT_OK;
    }
    if (argc < 2)
        return hbCliUsage("no command given");

    status = hbCliRun(argc, argv);
    for (int k = 0; k < HB_KEY_LAST; k++)
        g_free(opts.keys[k]);
    g_strfreev(opts.unset);
    g_free(opts.uri);
    return status;
}
