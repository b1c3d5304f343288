/*
 * virt-heartbeat: the command line client of virt-heartbeatd. Everything,
 * metadata edits included, goes through the daemon's D-Bus API: the CLI
 * does not link libvirt.
 */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "hb-api.h"
#include "hb-cluster.h"
#include "hb-stats.h"

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

/* The metadata keys, as config's options: --failure-interval sets failure_interval. */
static const struct {
    const char *option;
    const char *help;
    const char *arg;
} hbCliKeys[] = {
    { "enabled", "Monitor this domain", "yes|no" },
    { "time", "Seconds per block", "N" },
    { "rate", "Ticks per block", "N" },
    { "failure-interval", "Seconds between restart attempts", "N" },
    { "failure-attempts", "Restart attempts per episode", "N" },
    { "boot-grace", "Seconds after a start or reset", "N" },
    { "action", "What a restart attempt does", "reset|restart|none|observe|ladder" },
    { "max-episodes", "Episodes with action per window (0: no cap)", "N" },
    { "episode-window", "Storm cap window in seconds", "N" },
    { "ping-timeout", "Seconds a ping may take", "N" },
    { "time-sync", "Keep the guest clock at the host's", "yes|no" },
    { "time-sync-interval", "Minutes between time syncs", "N" },
    { "confirm", "What confirms a stop before a restart", "none|activity" },
    { "diagnostics", "What is saved before a restart", "none|screenshot|console|dump" },
    { "escalate", "Where a guest goes once the attempts are exhausted", "none|cluster" },
};
#define HB_CLI_N_KEYS G_N_ELEMENTS(hbCliKeys)

/* One run of the CLI: its options, the daemon, and the DOMAIN it is about. */
typedef struct {
    /* options */
    gboolean json;
    guint timeout;           /* exec; 0: the daemon's default */
    char *uri;               /* config: the libvirt URI the daemon must use */
    gboolean live;
    gboolean config;
    char *keys[HB_CLI_N_KEYS]; /* config: new values */
    char **unset;
    char *for_;              /* pause: DURATION */
    char *until_text;        /* pause: TIME */
    gboolean all;            /* pause, resume: the host-wide window */
    gboolean cluster;        /* is-heartbeating: as a cluster resource's monitor */
    gint64 until;            /* pause: the window's end, seconds since the epoch */

    /* the command */
    const char *name;        /* as typed */
    const char *key;         /* DOMAIN as typed, or NULL */
    char **args;             /* after DOMAIN */
    HbDBusManager1 *manager;
    HbDBusDomain1 *domain;   /* the monitored domain that key names, if looked up */
} HbCli;

static const char *hbCliSummary =
    "Commands:\n"
    "  list                       the monitored domains (--json)\n"
    "  status DOMAIN              heartbeat status of one domain (--json)\n"
    "  is-heartbeating DOMAIN     print yes or no; exit 0 if heartbeating, 1 if not\n"
    "  is-heartbeating --cluster [DOMAIN]\n"
    "                             a cluster's monitor: exit 1 only once the daemon\n"
    "                             gave up (DOMAIN from $OCF_RESKEY_config)\n"
    "  percentage DOMAIN          share of the expected ticks over the last block\n"
    "  events [DOMAIN]            print heartbeat events until interrupted (--json)\n"
    "  config DOMAIN [--time N ...] [--unset KEY] [--live] [--config]\n"
    "                             show or change the domain's <heartbeat/> metadata\n"
    "  rearm DOMAIN               leave the failed state and watch afresh\n"
    "  pause DOMAIN|--all --for DURATION|--until TIME\n"
    "                             a maintenance window: no action taken until then\n"
    "  resume DOMAIN|--all        end the window now; watched afresh with boot grace\n"
    "  stats                      the daemon's own figures, in Prometheus' text format\n"
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


/* The exit status for an error from the daemon or the bus. */
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


/* The end of a method call: an error becomes a message and an exit status. */
static int
hbCliCallFailed(const char *what, const char *name, GError *err)
{
    g_dbus_error_strip_remote_error(err);
    return hbCliFail(hbCliExitFor(err), "cannot %s '%s': %s", what, name, err->message);
}


/* The daemon's Manager1; an exit status having said why it is not reachable. */
static int
hbCliConnect(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *owner = NULL;

    /* The daemon's errors decode to HB_ERROR only once its names are known. */
    hbErrorQuark();
    /* Only events listens: the others save the bus's AddMatch round trips. */
    cli->manager = hb_dbus_manager1_proxy_new_for_bus_sync(
        G_BUS_TYPE_SYSTEM, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START |
        (g_str_equal(cli->name, "events") ? 0 : G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS),
        HB_DBUS_NAME, HB_DBUS_PATH, NULL, &err);
    if (!cli->manager)
        return hbCliUnreachable(err->message);
    owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(cli->manager));
    if (!owner)
        return hbCliUnreachable(HB_DBUS_NAME " has no owner");
    return HB_EXIT_OK;
}


/*
 * The monitored domain @key names, by the daemon's rule: a key in UUID form
 * is tried as a UUID first, then as an exact name.
 */
static int
hbCliFind(HbCli *cli, const char *key)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;

    if (g_uuid_string_is_valid(key) &&
        !hb_dbus_manager1_call_lookup_by_uuid_sync(cli->manager, key, G_DBUS_CALL_FLAGS_NONE,
                                                   -1, &path, NULL, &err) &&
        !g_error_matches(err, HB_ERROR, HB_ERROR_VM_UNKNOWN))
        return hbCliCallFailed("look up", key, err);
    g_clear_error(&err);
    if (!path &&
        !hb_dbus_manager1_call_lookup_by_name_sync(cli->manager, key, G_DBUS_CALL_FLAGS_NONE,
                                                   -1, &path, NULL, &err)) {
        /* An empty name is not one: no domain has it either. */
        if (!g_error_matches(err, HB_ERROR, HB_ERROR_VM_UNKNOWN) &&
            !g_error_matches(err, HB_ERROR, HB_ERROR_INVALID_ARGUMENT))
            return hbCliCallFailed("look up", key, err);
        return hbCliFail(HB_EXIT_VM_UNKNOWN,
                         "domain '%s' is not monitored by virt-heartbeatd "
                         "(give it <heartbeat/> metadata: virt-heartbeat config %s --time 60)",
                         key, key);
    }
    cli->domain = hb_dbus_domain1_proxy_new_for_bus_sync(
        G_BUS_TYPE_SYSTEM,
        G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
        HB_DBUS_NAME, path, NULL,
        &err);
    if (!cli->domain)
        return hbCliCallFailed("look up", key, err);
    return HB_EXIT_OK;
}


/* ISO 8601 in UTC to the second, the form every JSON tool parses. */
static char *
hbCliIsoTime(gint64 usec)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(usec / G_USEC_PER_SEC);

    return g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
}


/* How a Domain1 property is shown. */
typedef enum {
    HB_CLI_TEXT,      /* s */
    HB_CLI_YES_NO,    /* b */
    HB_CLI_ON_OFF,    /* b */
    HB_CLI_NUMBER,    /* u, t */
    HB_CLI_TIME,      /* x: microseconds since the epoch; 0: none */
    HB_CLI_UNTIL,     /* t: seconds since the epoch; 0: none */
    HB_CLI_CONFIG,    /* a{sv} */
    HB_CLI_PINGS,     /* text only: the three ping counts on one line */
} HbCliFormat;

typedef struct {
    const char *label;     /* text output; NULL: JSON only */
    const char *key;       /* JSON output; NULL: text only */
    const char *property;  /* of Domain1 */
    HbCliFormat format;
    const char *if_empty;  /* TEXT: an empty string is shown so, and null in JSON
                            * ("": the line is left out); NULL: shown as it is.
                            * TIME: set, the line is left out for none */
} HbCliField;

/* status, and info after it: one line or member each, in this order. */
static const HbCliField hbCliStatusFields[] = {
    { "Name:", "name", "Name", HB_CLI_TEXT, NULL },
    { "UUID:", "uuid", "UUID", HB_CLI_TEXT, NULL },
    { "State:", "state", "State", HB_CLI_TEXT, NULL },
    { "Heartbeating:", "is_heartbeating", "IsHeartbeating", HB_CLI_YES_NO, NULL },
    { "Heartbeat percentage:", "heartbeat_percentage", "HeartbeatPercentage", HB_CLI_NUMBER, NULL },
    { "Restart attempts:", "restart_attempts", "RestartAttempts", HB_CLI_NUMBER, NULL },
    { "Episode:", "episode", "Episode", HB_CLI_NUMBER, NULL },
    { "Last attempt:", "last_attempt", "LastAttempt", HB_CLI_TEXT, "" },
    { "Pings:", NULL, NULL, HB_CLI_PINGS, NULL },
    { NULL, "pings_ticked", "PingsTicked", HB_CLI_NUMBER, NULL },
    { NULL, "pings_missed", "PingsMissed", HB_CLI_NUMBER, NULL },
    { NULL, "pings_no_verdict", "PingsNoVerdict", HB_CLI_NUMBER, NULL },
    { "Last tick:", "last_tick", "LastTick", HB_CLI_TIME, NULL },
    { "Agent connected:", "agent_connected", "AgentConnected", HB_CLI_YES_NO, NULL },
    { "Config error:", "config_error", "ConfigError", HB_CLI_TEXT, "" },
    { "Verdict:", "verdict", "Verdict", HB_CLI_TEXT, NULL },
    { "Evidence:", "evidence", "Evidence", HB_CLI_TEXT, "" },
    { "Config:", "config", "Config", HB_CLI_CONFIG, NULL },
    { "Suppressed:", "suppressed", "Suppressed", HB_CLI_TEXT, "" },
    { "Suppressed since:", "suppressed_since", "SuppressedSince", HB_CLI_TIME, "" },
    { "Maintenance until:", "maintenance_until", "MaintenanceUntil", HB_CLI_UNTIL, "" },
    { NULL, "pings_suppressed", "PingsSuppressed", HB_CLI_NUMBER, NULL },
};

static const HbCliField hbCliInfoFields[] = {
    { "Additions version:", "additions_version", "AdditionsVersion", HB_CLI_TEXT, "unknown" },
    { "OS name:", "os_name", "OSName", HB_CLI_TEXT, "unknown" },
    { "Can shut down:", "can_shutdown", "CanShutdown", HB_CLI_YES_NO, NULL },
    { "Host time sync:", "is_host_time_sync_enabled", "IsHostTimeSyncEnabled", HB_CLI_ON_OFF,
      NULL },
};


static GVariant *
hbCliProperty(HbDBusDomain1 *d, const char *property)
{
    return g_dbus_proxy_get_cached_property(G_DBUS_PROXY(d), property);
}


static guint64
hbCliNumber(GVariant *value)
{
    if (!value)
        return 0;
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64))
        return g_variant_get_uint64(value);
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32))
        return g_variant_get_uint32(value);
    return 0;
}


/* A TIME or UNTIL field's value, microseconds since the epoch; 0: none. */
static gint64
hbCliTimeUs(const HbCliField *field, GVariant *value)
{
    if (!value)
        return 0;
    if (field->format == HB_CLI_UNTIL)
        return MIN(g_variant_get_uint64(value), G_MAXINT64 / G_USEC_PER_SEC) * G_USEC_PER_SEC;
    return MAX(g_variant_get_int64(value), 0);
}


/* @field's value as text, or NULL when its line is left out. */
static char *
hbCliFieldText(HbDBusDomain1 *d, const HbCliField *field)
{
    g_autoptr(GVariant) value = field->property ? hbCliProperty(d, field->property) : NULL;
    const char *s;

    switch (field->format) {
    case HB_CLI_TEXT:
        s = value ? g_variant_get_string(value, NULL) : "";
        if (!s[0] && field->if_empty)
            return field->if_empty[0] ? g_strdup(field->if_empty) : NULL;
        return hbUtilEscape(s);
    case HB_CLI_YES_NO:
        return g_strdup(value && g_variant_get_boolean(value) ? "yes" : "no");
    case HB_CLI_ON_OFF:
        return g_strdup(value && g_variant_get_boolean(value) ? "on" : "off");
    case HB_CLI_NUMBER:
        return g_strdup_printf("%" G_GUINT64_FORMAT, hbCliNumber(value));
    case HB_CLI_TIME:
    case HB_CLI_UNTIL:
        if (hbCliTimeUs(field, value) > 0)
            return hbCliIsoTime(hbCliTimeUs(field, value));
        return field->if_empty ? NULL : g_strdup("none");
    case HB_CLI_CONFIG:
        return hbApiConfigText(value, " ");
    case HB_CLI_PINGS:
        return g_strdup_printf("%" G_GUINT64_FORMAT " answered, %" G_GUINT64_FORMAT
                               " missed, %" G_GUINT64_FORMAT " without verdict",
                               hb_dbus_domain1_get_pings_ticked(d),
                               hb_dbus_domain1_get_pings_missed(d),
                               hb_dbus_domain1_get_pings_no_verdict(d));
    }
    g_assert_not_reached();
}


static void
hbCliFieldJson(JsonBuilder *b, HbDBusDomain1 *d, const HbCliField *field)
{
    g_autoptr(GVariant) value = hbCliProperty(d, field->property);

    json_builder_set_member_name(b, field->key);
    switch (field->format) {
    case HB_CLI_TEXT:
        if (value && (!field->if_empty || g_variant_get_string(value, NULL)[0]))
            json_builder_add_string_value(b, g_variant_get_string(value, NULL));
        else
            json_builder_add_null_value(b);
        return;
    case HB_CLI_YES_NO:
    case HB_CLI_ON_OFF:
        json_builder_add_boolean_value(b, value && g_variant_get_boolean(value));
        return;
    case HB_CLI_NUMBER:
        json_builder_add_int_value(b, hbCliNumber(value));
        return;
    case HB_CLI_TIME:
    case HB_CLI_UNTIL:
        if (hbCliTimeUs(field, value) > 0) {
            g_autofree char *when = hbCliIsoTime(hbCliTimeUs(field, value));
            json_builder_add_string_value(b, when);
        } else {
            json_builder_add_null_value(b);
        }
        return;
    case HB_CLI_CONFIG:
        if (value)
            json_builder_add_value(b, json_gvariant_serialize(value));
        else
            json_builder_add_null_value(b);
        return;
    case HB_CLI_PINGS:
        break;
    }
    g_assert_not_reached();
}


static void
hbCliPrintFields(HbDBusDomain1 *d, const HbCliField *fields, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        g_autofree char *text = NULL;

        if (!fields[i].label || !(text = hbCliFieldText(d, &fields[i])))
            continue;
        printf("%-21s %s\n", fields[i].label, text);
    }
}


static void
hbCliAddFields(JsonBuilder *b, HbDBusDomain1 *d, const HbCliField *fields, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        if (fields[i].key)
            hbCliFieldJson(b, d, &fields[i]);
    }
}


/* The status object; with @info, info's members after it; @host: the
 * daemon's HostState, or NULL to leave it out. */
static JsonNode *
hbCliStatusJson(HbDBusDomain1 *d, gboolean info, const char *host)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    hbCliAddFields(b, d, hbCliStatusFields, G_N_ELEMENTS(hbCliStatusFields));
    if (info)
        hbCliAddFields(b, d, hbCliInfoFields, G_N_ELEMENTS(hbCliInfoFields));
    if (host) {
        json_builder_set_member_name(b, "host_state");
        json_builder_add_string_value(b, host);
    }
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


static gint
hbCliCompareByName(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(hb_dbus_domain1_get_name((HbDBusDomain1 *) a),
                     hb_dbus_domain1_get_name((HbDBusDomain1 *) b));
}


/* The host-wide breaker's state, for every domain's status; NULL: not known. */
static char *
hbCliHostState(HbCli *cli)
{
    const char *state = hb_dbus_manager1_get_host_state(cli->manager);

    return state ? hbUtilEscape(state) : NULL;
}


/* The host line of status, and of list while the breaker is not closed. */
static void
hbCliPrintHost(const char *host)
{
    printf("%-21s %s%s\n", "Host:", host, g_str_equal(host, "holding") ?
           " (host suspected: restart attempts held)" : "");
}


/* list --json prints every domain's whole status: one GetManagedObjects call. */
static int
hbCliListJson(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GDBusObjectManager) objects = NULL;
    g_autolist(GDBusObject) all = NULL;
    g_autolist(HbDBusDomain1) domains = NULL;
    g_autoptr(JsonArray) array = json_array_new();
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_ARRAY);

    objects = hb_dbus_object_manager_client_new_for_bus_sync(
        G_BUS_TYPE_SYSTEM, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
        HB_DBUS_NAME, HB_DBUS_PATH, NULL, &err);
    if (!objects)
        return hbCliUnreachable(err->message);
    all = g_dbus_object_manager_get_objects(objects);
    for (GList *l = all; l; l = l->next) {
        HbDBusDomain1 *iface = hb_dbus_object_get_domain1(HB_DBUS_OBJECT(l->data));
        if (iface)
            domains = g_list_prepend(domains, iface);
    }
    domains = g_list_sort(domains, hbCliCompareByName);
    for (GList *l = domains; l; l = l->next)
        json_array_add_element(array, hbCliStatusJson(l->data, FALSE, NULL));
    json_node_set_array(root, array);
    hbCliPrintJson(root);
    return HB_EXIT_OK;
}


/* By name: the second member of a ListDomainSummaries entry. */
static int
hbCliCompareSummaries(gconstpointer a, gconstpointer b)
{
    const char *x, *y;

    g_variant_get_child(*(GVariant **) a, 1, "&s", &x);
    g_variant_get_child(*(GVariant **) b, 1, "&s", &y);
    return g_strcmp0(x, y);
}


/* list: the few columns of every domain, in one small reply. */
static int
hbCliList(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GVariant) reply = NULL;
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
    g_autofree char *host = hbCliHostState(cli);
    GVariantIter iter;
    GVariant *row;

    if (cli->json)
        return hbCliListJson();
    if (!hb_dbus_manager1_call_list_domain_summaries_sync(cli->manager, G_DBUS_CALL_FLAGS_NONE,
                                                          -1, &reply, NULL, &err)) {
        g_dbus_error_strip_remote_error(err);
        return hbCliFail(hbCliExitFor(err), "cannot list the domains: %s", err->message);
    }
    g_variant_iter_init(&iter, reply);
    while ((row = g_variant_iter_next_value(&iter)))
        g_ptr_array_add(rows, row);
    g_ptr_array_sort(rows, hbCliCompareSummaries);

    printf("%-24s %-36s %-12s %-12s %-8s %s\n",
           "Name", "UUID", "State", "Heartbeat", "Percent", "Attempts");
    for (guint i = 0; i < rows->len; i++) {
        const char *raw_name, *raw_uuid, *raw_state;
        gboolean heartbeating;
        guint percentage, attempts;

        g_variant_get(rows->pdata[i], "(&o&s&s&sbuu)", NULL, &raw_name, &raw_uuid, &raw_state,
                      &heartbeating, &percentage, &attempts);
        {
            g_autofree char *name = hbUtilEscape(raw_name);
            g_autofree char *uuid = hbUtilEscape(raw_uuid);
            g_autofree char *state = hbUtilEscape(raw_state);

            printf("%-24s %-36s %-12s %-12s %-8u %u\n", name, uuid, state,
                   heartbeating ? "yes" : "no", percentage, attempts);
        }
    }
    if (host && !g_str_equal(host, "closed"))
        hbCliPrintHost(host);
    return HB_EXIT_OK;
}


static int
hbCliStats(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GVariant) stats = NULL;
    g_autoptr(GString) out = g_string_new(NULL);

    if (!hb_dbus_manager1_call_get_statistics_sync(cli->manager, G_DBUS_CALL_FLAGS_NONE, -1,
                                                   &stats, NULL, &err)) {
        g_dbus_error_strip_remote_error(err);
        return hbCliFail(hbCliExitFor(err), "cannot read the daemon's statistics: %s",
                         err->message);
    }
    hbStatsFormat(stats, out);
    fputs(out->str, stdout);
    return HB_EXIT_OK;
}


static int
hbCliShow(HbCli *cli, gboolean info)
{
    g_autofree char *host = hbCliHostState(cli);

    if (cli->json) {
        g_autoptr(JsonNode) node = hbCliStatusJson(cli->domain, info, host);
        hbCliPrintJson(node);
        return HB_EXIT_OK;
    }
    hbCliPrintFields(cli->domain, hbCliStatusFields, G_N_ELEMENTS(hbCliStatusFields));
    if (host)
        hbCliPrintHost(host);
    if (info)
        hbCliPrintFields(cli->domain, hbCliInfoFields, G_N_ELEMENTS(hbCliInfoFields));
    return HB_EXIT_OK;
}


static int
hbCliStatus(HbCli *cli)
{
    return hbCliShow(cli, FALSE);
}


static int
hbCliInfo(HbCli *cli)
{
    return hbCliShow(cli, TRUE);
}


/* A heartbeat reading means nothing for a domain the daemon cannot ping. */
static int
hbCliCheckReadable(HbDBusDomain1 *d)
{
    g_autoptr(GError) err = NULL;

    if (hbApiCheckState(hb_dbus_domain1_get_state(d), hb_dbus_domain1_get_name(d), FALSE,
                        &err) < 0)
        return hbCliFail(hbCliExitFor(err), "%s", err->message);
    return HB_EXIT_OK;
}


static int
hbCliIsHeartbeating(HbCli *cli)
{
    int status = hbCliCheckReadable(cli->domain);
    gboolean yes = hb_dbus_domain1_get_is_heartbeating(cli->domain);

    if (status != HB_EXIT_OK)
        return status;
    printf("%s\n", yes ? "yes" : "no");
    return yes ? HB_EXIT_OK : HB_EXIT_FAILURE;
}


/* GMarkup: the text of /domain/name and /domain/uuid of a domain XML. */
typedef struct {
    guint depth;
    const char *in;  /* "name" or "uuid" at depth 2, under <domain> */
    gboolean domain;
    GString *name;
    GString *uuid;
} HbCliDomainXml;


static void
hbCliXmlStart(GMarkupParseContext *ctx G_GNUC_UNUSED, const char *element,
              const char **names G_GNUC_UNUSED, const char **values G_GNUC_UNUSED,
              gpointer data, GError **error G_GNUC_UNUSED)
{
    HbCliDomainXml *x = data;

    x->depth++;
    if (x->depth == 1)
        x->domain = g_str_equal(element, "domain");
    x->in = x->domain && x->depth == 2 && (g_str_equal(element, "name") ||
                                           g_str_equal(element, "uuid")) ? element : NULL;
    if (x->in)
        g_string_truncate(x->in[0] == 'n' ? x->name : x->uuid, 0);
}


static void
hbCliXmlEnd(GMarkupParseContext *ctx G_GNUC_UNUSED, const char *element G_GNUC_UNUSED,
            gpointer data, GError **error G_GNUC_UNUSED)
{
    HbCliDomainXml *x = data;

    x->depth--;
    x->in = NULL;
}


static void
hbCliXmlText(GMarkupParseContext *ctx G_GNUC_UNUSED, const char *text, gsize len,
             gpointer data, GError **error G_GNUC_UNUSED)
{
    HbCliDomainXml *x = data;

    if (x->in)
        g_string_append_len(x->in[0] == 'n' ? x->name : x->uuid, text, len);
}


/*
 * A UUID as libvirt reads it (32 hex digits, dashes anywhere, either case)
 * in the form the daemon looks up; anything else as it is.
 */
static char *
hbCliCanonicalUUID(const char *text)
{
    g_autoptr(GString) hex = g_string_new(NULL);

    for (const char *p = text; *p; p++) {
        if (g_ascii_isxdigit(*p))
            g_string_append_c(hex, g_ascii_tolower(*p));
        else if (*p != '-')
            return g_strdup(text);
    }
    if (hex->len != 32)
        return g_strdup(text);
    return g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", hex->str, hex->str + 8, hex->str + 12,
                           hex->str + 16, hex->str + 20);
}


/*
 * The domain a VirtualDomain resource runs, from its config file: its
 * UUID where it has one, else its name, in *@key. HB_EXIT_USAGE with no
 * config file named; *@key NULL, having said why, if it cannot be read.
 */
static int
hbCliOcfDomain(char **key)
{
    static const GMarkupParser parser = { hbCliXmlStart, hbCliXmlEnd, hbCliXmlText, NULL, NULL };
    const char *path = g_getenv("OCF_RESKEY_config");
    HbCliDomainXml x = { .name = g_string_new(NULL), .uuid = g_string_new(NULL) };
    g_autoptr(GMarkupParseContext) ctx = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *name = NULL;
    g_autofree char *uuid = NULL;
    int ret = HB_EXIT_OK;
    gsize len;

    *key = NULL;
    if (!path || !*path) {
        ret = hbCliFail(HB_EXIT_USAGE, "no DOMAIN, and no $OCF_RESKEY_config to take it from");
        goto cleanup;
    }
    /* Never a FIFO, a device or a huge file: a monitor that hangs fails. */
    ctx = g_markup_parse_context_new(&parser, 0, &x, NULL);
    if (hbApiReadRegular(path, HB_CLUSTER_CONFIG_MAX, &xml, &len, &err) < 0 ||
        !g_markup_parse_context_parse(ctx, xml, len, &err) ||
        !g_markup_parse_context_end_parse(ctx, &err)) {
        hbCliFail(HB_EXIT_OK, "cannot read the domain from %s: %s", path, err->message);
        goto cleanup;
    }
    name = g_strstrip(g_strdup(x.name->str));
    uuid = g_strstrip(g_strdup(x.uuid->str));
    if (!*uuid && !*name)
        hbCliFail(HB_EXIT_OK, "%s defines no domain name", path);
    else
        *key = *uuid ? hbCliCanonicalUUID(uuid) : g_steal_pointer(&name);
 cleanup:
    g_string_free(x.name, TRUE);
    g_string_free(x.uuid, TRUE);
    return ret;
}


/* The daemon's answer to a cluster's monitor, at most: Pacemaker's own timeout is a failure. */
#define HB_CLI_CLUSTER_DEADLINE 10


/* No answer in time (a host under load, a daemon stuck): no verdict. */
static void
hbCliClusterDeadline(int sig G_GNUC_UNUSED)
{
    static const char out[] = "unknown\n";
    static const char err[] = "virt-heartbeat: no answer from virt-heartbeatd in time: "
        "the cluster's own checks apply\n";

    if (write(STDOUT_FILENO, out, sizeof(out) - 1) < 0 ||
        write(STDERR_FILENO, err, sizeof(err) - 1) < 0)
        _exit(HB_EXIT_OK);
    _exit(HB_EXIT_OK);
}


/*
 * is-heartbeating --cluster: the monitor of a cluster resource
 * (monitor_scripts of ocf:heartbeat:VirtualDomain). It fails only once the
 * daemon has given up on the guest in place (state failed): while the
 * daemon makes its attempts, and wherever it has no verdict (not
 * reachable, the domain not monitored, not running, the host suspected,
 * its config file unreadable), the cluster is told nothing is wrong, so
 * the two never act at once.
 */
static int
hbCliClusterMonitor(HbCli *cli, const char *key)
{
    g_autofree char *from_config = NULL;
    const char *state;

    if (!key && hbCliOcfDomain(&from_config) != HB_EXIT_OK)
        return HB_EXIT_USAGE;
    if (!key)
        key = from_config;
    cli->name = "is-heartbeating";
    signal(SIGALRM, hbCliClusterDeadline);
    alarm(HB_CLI_CLUSTER_DEADLINE);
    if (!key || hbCliConnect(cli) != HB_EXIT_OK || hbCliFind(cli, key) != HB_EXIT_OK) {
        alarm(0);
        g_autofree char *text = hbUtilEscape(key ? key : "the domain");

        g_printerr("virt-heartbeat: no verdict on '%s': the cluster's own checks apply\n",
                   text);
        printf("unknown\n");
        return HB_EXIT_OK;
    }
    alarm(0);
    state = hb_dbus_domain1_get_state(cli->domain);
    if (g_strcmp0(state, "failed") != 0 || hb_dbus_manager1_get_host_hold(cli->manager)) {
        printf("yes\n");
        return HB_EXIT_OK;
    }
    printf("no\n");
    hbCliFail(HB_EXIT_FAILURE, "virt-heartbeatd gave up on '%s' in place: %s", key,
              hb_dbus_domain1_get_last_attempt(cli->domain) ?
              hb_dbus_domain1_get_last_attempt(cli->domain) : "");
    return HB_EXIT_FAILURE;
}


static int
hbCliPercentage(HbCli *cli)
{
    int status = hbCliCheckReadable(cli->domain);

    if (status != HB_EXIT_OK)
        return status;
    printf("%u\n", hb_dbus_domain1_get_heartbeat_percentage(cli->domain));
    return HB_EXIT_OK;
}


static int
hbCliShutdown(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    HbDBusDomain1 *d = cli->domain;
    HB_CLI_NAME(d);

    if (!hb_dbus_domain1_call_shutdown_sync(d, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err))
        return hbCliCallFailed("shut down", hb_dbus_domain1_get_name(d), err);
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
hbCliExec(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GVariant) out = NULL;
    g_autoptr(GVariant) errout = NULL;
    HbDBusDomain1 *d = cli->domain;
    gboolean truncated;
    gint code;

    /* The command's timeout counts once it runs, and it may wait behind other
     * requests first: the daemon bounds both and answers every request, also
     * when it stops, so the call itself has no timeout. */
    if (!hb_dbus_domain1_call_execute_command_sync(d, cli->args[0],
                                                   (const char *const *) cli->args + 1,
                                                   cli->timeout, G_DBUS_CALL_FLAGS_NONE,
                                                   G_MAXINT, &code, &out, &errout, &truncated,
                                                   NULL, &err))
        return hbCliCallFailed("run a command in", hb_dbus_domain1_get_name(d), err);
    hbCliWriteBytes(stdout, out);
    hbCliWriteBytes(stderr, errout);
    if (truncated)
        g_printerr("virt-heartbeat: the output was cut at %d KiB\n", HB_EXEC_OUTPUT_MAX / 1024);
    /* An exit status has 8 bits: a Windows exit code beyond them must not
     * come out as 0, success. */
    if (code < 0 || code > 255)
        return hbCliFail(HB_EXIT_EXEC_BEYOND, "the command's exit status was %d (0x%08x)",
                         code, (guint32) code);
    return code;
}


static int
hbCliTimeSync(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    HbDBusDomain1 *d = cli->domain;
    gboolean on = g_str_equal(cli->args[0], "on");
    HB_CLI_NAME(d);

    if (!on && !g_str_equal(cli->args[0], "off"))
        return hbCliUsage("time-sync takes on or off");
    if (!hb_dbus_domain1_call_set_host_time_sync_sync(d, on, G_DBUS_CALL_FLAGS_NONE, -1,
                                                      NULL, &err))
        return hbCliCallFailed("change time sync of", hb_dbus_domain1_get_name(d), err);
    printf("Host time sync %s for '%s'\n", on ? "on" : "off", name);
    return HB_EXIT_OK;
}


static int
hbCliInstallAgent(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    HbDBusDomain1 *d = cli->domain;
    gboolean already, next_boot;
    HB_CLI_NAME(d);

    if (!hb_dbus_domain1_call_install_additions_sync(d, G_DBUS_CALL_FLAGS_NONE, -1, &already,
                                                     &next_boot, NULL, &err))
        return hbCliCallFailed("add the agent channel to", hb_dbus_domain1_get_name(d), err);
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
hbCliRearm(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    HbDBusDomain1 *d = cli->domain;
    HB_CLI_NAME(d);

    if (!hb_dbus_domain1_call_rearm_sync(d, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err))
        return hbCliCallFailed("rearm", hb_dbus_domain1_get_name(d), err);
    printf("Domain '%s' rearmed\n", name);
    return HB_EXIT_OK;
}


/*
 * --for N[s|m|h|d] (a bare N: seconds) or --until an ISO 8601 time (without
 * a zone: local time) as cli->until; usage if neither or both is given,
 * and an error for what the daemon would refuse (hbApiCheckMaintenance).
 */
static int
hbCliParseWindow(HbCli *cli)
{
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    g_autoptr(GError) err = NULL;

    if (!cli->for_ == !cli->until_text)
        return hbCliUsage("pause takes --for DURATION or --until TIME");
    if (cli->for_) {
        static const struct { char unit; guint secs; } units[] = {
            { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
        };
        gsize digits = strspn(cli->for_, "0123456789");
        g_autofree char *number = g_strndup(cli->for_, digits);
        guint scale = cli->for_[digits] ? 0 : 1;
        guint64 n;

        for (gsize i = 0; i < G_N_ELEMENTS(units) && !scale; i++) {
            if (cli->for_[digits] == units[i].unit && !cli->for_[digits + 1])
                scale = units[i].secs;
        }
        if (!digits || !scale ||
            !g_ascii_string_to_unsigned(number, 10, 0, HB_MAINTENANCE_MAX_S, &n, NULL) ||
            n == 0 || n * scale > HB_MAINTENANCE_MAX_S)
            return hbCliUsage("--for '%s': not a duration from 1s to %dd (N with s, m, h "
                              "or d)", cli->for_, HB_MAINTENANCE_MAX_S / 86400);
        cli->until = now + n * scale;
    } else {
        g_autoptr(GTimeZone) local = g_time_zone_new_local();
        g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(cli->until_text, local);

        if (!dt)
            return hbCliUsage("--until '%s': not an ISO 8601 time "
                              "(2026-12-01T02:00:00Z, or local without Z)", cli->until_text);
        cli->until = g_date_time_to_unix(dt);
    }
    if (hbApiCheckMaintenance(cli->until, now, &err) < 0)
        return hbCliUsage("%s", err->message);
    return HB_EXIT_OK;
}


static int
hbCliPause(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *end = hbApiFormatUtc(cli->until);
    HbDBusDomain1 *d = cli->domain;

    if (cli->all) {
        if (!hb_dbus_manager1_call_pause_all_sync(cli->manager, cli->until,
                                                  G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err))
            return hbCliCallFailed("pause", "--all", err);
        printf("Host-wide maintenance until %s: no domain is acted on\n", end);
        return HB_EXIT_OK;
    } else {
        HB_CLI_NAME(d);

        if (!hb_dbus_domain1_call_pause_sync(d, cli->until, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                             &err))
            return hbCliCallFailed("pause", hb_dbus_domain1_get_name(d), err);
        printf("Domain '%s' in maintenance until %s\n", name, end);
    }
    return HB_EXIT_OK;
}


static int
hbCliResume(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    HbDBusDomain1 *d = cli->domain;

    if (cli->all) {
        if (!hb_dbus_manager1_call_resume_all_sync(cli->manager, G_DBUS_CALL_FLAGS_NONE, -1,
                                                   NULL, &err))
            return hbCliCallFailed("resume", "--all", err);
        printf("Host-wide maintenance ended\n");
    } else {
        HB_CLI_NAME(d);

        if (!hb_dbus_domain1_call_resume_sync(d, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err))
            return hbCliCallFailed("resume", hb_dbus_domain1_get_name(d), err);
        printf("Domain '%s' resumed: watched afresh with boot grace\n", name);
    }
    return HB_EXIT_OK;
}


/* Like virsh: neither flag means the domain's current state. */
static guint
hbCliScope(HbCli *cli)
{
    return (cli->live ? HB_API_AFFECT_LIVE : 0) | (cli->config ? HB_API_AFFECT_CONFIG : 0);
}


/* Manager1.EditMetadata: the daemon checks and orders every edit. */
static int
hbCliEdit(HbCli *cli, GVariant *set, const char *const *unset, char **name, char **metadata,
          GError **error)
{
    const char *none[] = { NULL };

    return hb_dbus_manager1_call_edit_metadata_sync(cli->manager, cli->key, set,
                                                    unset ? unset : none, hbCliScope(cli),
                                                    G_DBUS_CALL_FLAGS_NONE, -1, name,
                                                    metadata, NULL, error) ? 0 : -1;
}


static gboolean
hbCliUnsets(HbCli *cli, const char *key)
{
    return cli->unset && g_strv_contains((const char *const *) cli->unset, key);
}


static int
hbCliConfig(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *name = NULL;
    g_autofree char *metadata = NULL;
    GVariantBuilder set;

    /* The daemon edits through its own connection: it must be the one meant. */
    if (cli->uri && g_strcmp0(cli->uri, hb_dbus_manager1_get_uri(cli->manager)) != 0)
        return hbCliUsage("virt-heartbeatd manages %s, not %s; config goes through it",
                          hb_dbus_manager1_get_uri(cli->manager), cli->uri);
    g_variant_builder_init(&set, G_VARIANT_TYPE("a{ss}"));
    for (gsize k = 0; k < HB_CLI_N_KEYS; k++) {
        g_autofree char *key = g_strdelimit(g_strdup(hbCliKeys[k].option), "-", '_');

        /* --unset wins over a value for the same key. */
        if (cli->keys[k] && !hbCliUnsets(cli, key))
            g_variant_builder_add(&set, "{ss}", key, cli->keys[k]);
    }
    if (hbCliEdit(cli, g_variant_builder_end(&set), (const char *const *) cli->unset, &name,
                  &metadata, &err) < 0) {
        g_dbus_error_strip_remote_error(err);
        return hbCliFail(hbCliExitFor(err), "%s", err->message);
    }
    if (metadata[0]) {
        g_autofree char *text = hbUtilEscape(metadata);
        printf("%s\n", text);
    } else {
        printf("no <heartbeat/> metadata: the daemon watches this domain only if "
               "monitor_all is set\n");
    }
    return HB_EXIT_OK;
}


static int
hbCliSetParameter(HbCli *cli)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *name = NULL;
    g_autofree char *metadata = NULL;
    g_autofree char *setting = NULL;
    g_autofree char *text = NULL;
    g_autofree char *name_text = NULL;
    GVariantBuilder set;

    g_variant_builder_init(&set, G_VARIANT_TYPE("a{ss}"));
    g_variant_builder_add(&set, "{ss}", cli->args[0], cli->args[1]);
    if (hbCliEdit(cli, g_variant_builder_end(&set), NULL, &name, &metadata, &err) < 0)
        return hbCliCallFailed("set a parameter of", cli->key, err);
    setting = g_strdup_printf("%s=%s", cli->args[0], cli->args[1]);
    text = hbUtilEscape(setting);
    name_text = hbUtilEscape(name);
    printf("%s set for '%s'\n", text, name_text);
    return HB_EXIT_OK;
}


typedef struct {
    HbCli *cli;
    const char *filter;     /* the UUID of the one domain wanted, or NULL */
    GMainLoop *loop;
    int status;
} HbCliEvents;


/* HeartbeatStopped: heartbeat-stopped. */
static char *
hbCliEventName(const char *signal)
{
    GString *out = g_string_new(NULL);

    for (const char *p = signal; *p; p++) {
        if (g_ascii_isupper(*p) && p != signal)
            g_string_append_c(out, '-');
        g_string_append_c(out, g_ascii_tolower(*p));
    }
    return g_string_free(out, FALSE);
}


/*
 * Every Manager1 signal is one event line: its name, the domain's name and
 * UUID (its first two arguments), the time, and its other arguments by the
 * names the introspection data gives them. A host signal (HostSuspected,
 * HostCleared) names no domain, and is shown whatever domain is asked for.
 */
static void
hbCliOnSignal(GDBusProxy *proxy G_GNUC_UNUSED,
              const char *sender G_GNUC_UNUSED,
              const char *signal,
              GVariant *params,
              gpointer data)
{
    HbCliEvents *ev = data;
    GDBusSignalInfo *info = g_dbus_interface_info_lookup_signal(
        hb_dbus_manager1_interface_info(), signal);
    g_autofree char *event = hbCliEventName(signal);
    g_autofree char *when = hbCliIsoTime(g_get_real_time());
    gboolean host = g_str_has_prefix(signal, "Host");
    gsize first = host ? 0 : 2;
    const char *name = NULL;
    const char *uuid = NULL;

    if (!info || g_variant_n_children(params) < first ||
        (!host && !g_str_has_prefix(g_variant_get_type_string(params), "(ss")))
        return;
    if (!host) {
        g_variant_get_child(params, 0, "&s", &name);
        g_variant_get_child(params, 1, "&s", &uuid);
        if (ev->filter && g_ascii_strcasecmp(uuid, ev->filter) != 0)
            return;
    }

    if (ev->cli->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "event");
        json_builder_add_string_value(b, event);
        if (!host) {
            json_builder_set_member_name(b, "domain");
            json_builder_add_string_value(b, name);
            json_builder_set_member_name(b, "uuid");
            json_builder_add_string_value(b, uuid);
        }
        json_builder_set_member_name(b, "time");
        json_builder_add_string_value(b, when);
        for (gsize i = first; i < g_variant_n_children(params) && info->args[i]; i++) {
            g_autoptr(GVariant) value = g_variant_get_child_value(params, i);

            json_builder_set_member_name(b, info->args[i]->name);
            json_builder_add_value(b, json_gvariant_serialize(value));
        }
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        hbCliPrintJson(root);
        return;
    }

    if (host) {
        printf("%s %s", when, event);
    } else {
        g_autofree char *name_text = hbUtilEscape(name);

        printf("%s %s %s", when, name_text, event);
    }
    for (gsize i = first; i < g_variant_n_children(params) && info->args[i]; i++) {
        g_autoptr(GVariant) value = g_variant_get_child_value(params, i);
        g_autofree char *text = g_variant_is_of_type(value, G_VARIANT_TYPE_STRING) ?
            hbUtilEscape(g_variant_get_string(value, NULL)) : g_variant_print(value, FALSE);

        printf(" %s=%s", info->args[i]->name, text);
    }
    printf("\n");
    fflush(stdout);
}


static void
hbCliOnOwner(GObject *proxy, GParamSpec *pspec G_GNUC_UNUSED, gpointer data)
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
hbCliEvents(HbCli *cli)
{
    HbCliEvents ev = { .cli = cli, .status = HB_EXIT_OK };

    if (cli->domain)
        ev.filter = hb_dbus_domain1_get_uuid(cli->domain);
    ev.loop = g_main_loop_new(NULL, FALSE);
    g_signal_connect(cli->manager, "g-signal", G_CALLBACK(hbCliOnSignal), &ev);
    g_signal_connect(cli->manager, "notify::g-name-owner", G_CALLBACK(hbCliOnOwner), &ev);
    g_unix_signal_add(SIGINT, hbCliOnInterrupt, &ev);
    g_unix_signal_add(SIGTERM, hbCliOnInterrupt, &ev);
    g_main_loop_run(ev.loop);
    g_signal_handlers_disconnect_by_data(cli->manager, &ev);
    g_main_loop_unref(ev.loop);
    return ev.status;
}


typedef enum {
    HB_CLI_NO_DOMAIN,
    HB_CLI_MONITORED,          /* a domain the daemon monitors */
    HB_CLI_MONITORED_OPTIONAL,
    HB_CLI_ANY_DOMAIN,         /* any libvirt domain: the daemon finds it */
} HbCliDomainArg;

typedef enum {
    HB_CLI_OPT_JSON = 1 << 0,
    HB_CLI_OPT_KEYS = 1 << 1,    /* key options, --unset, --connect */
    HB_CLI_OPT_SCOPE = 1 << 2,   /* --live, --config */
    HB_CLI_OPT_TIMEOUT = 1 << 3,
    HB_CLI_OPT_ALL = 1 << 4,     /* --all instead of DOMAIN */
    HB_CLI_OPT_WINDOW = 1 << 5,  /* --for, --until */
} HbCliOpts;

static const struct {
    const char *name;
    HbCliDomainArg domain;
    int min_args;           /* after DOMAIN */
    int max_args;           /* -1: any number */
    guint opts;             /* HbCliOpts it accepts */
    int (*run)(HbCli *cli);
} hbCliCommands[] = {
    { "list", HB_CLI_NO_DOMAIN, 0, 0, HB_CLI_OPT_JSON, hbCliList },
    { "status", HB_CLI_MONITORED, 0, 0, HB_CLI_OPT_JSON, hbCliStatus },
    { "is-heartbeating", HB_CLI_MONITORED, 0, 0, 0, hbCliIsHeartbeating },
    { "percentage", HB_CLI_MONITORED, 0, 0, 0, hbCliPercentage },
    { "events", HB_CLI_MONITORED_OPTIONAL, 0, 0, HB_CLI_OPT_JSON, hbCliEvents },
    { "config", HB_CLI_ANY_DOMAIN, 0, 0, HB_CLI_OPT_KEYS | HB_CLI_OPT_SCOPE, hbCliConfig },
    { "rearm", HB_CLI_MONITORED, 0, 0, 0, hbCliRearm },
    { "pause", HB_CLI_MONITORED_OPTIONAL, 0, 0, HB_CLI_OPT_ALL | HB_CLI_OPT_WINDOW, hbCliPause },
    { "resume", HB_CLI_MONITORED_OPTIONAL, 0, 0, HB_CLI_OPT_ALL, hbCliResume },
    { "stats", HB_CLI_NO_DOMAIN, 0, 0, 0, hbCliStats },
    { "info", HB_CLI_MONITORED, 0, 0, HB_CLI_OPT_JSON, hbCliInfo },
    { "shutdown", HB_CLI_MONITORED, 0, 0, 0, hbCliShutdown },
    { "exec", HB_CLI_MONITORED, 1, -1, HB_CLI_OPT_TIMEOUT, hbCliExec },
    { "time-sync", HB_CLI_MONITORED, 1, 1, 0, hbCliTimeSync },
    { "install-agent", HB_CLI_MONITORED, 0, 0, 0, hbCliInstallAgent },
    { "set-parameter", HB_CLI_ANY_DOMAIN, 2, 2, HB_CLI_OPT_SCOPE, hbCliSetParameter },
};


static gboolean
hbCliHasKeyOptions(HbCli *cli)
{
    for (gsize k = 0; k < HB_CLI_N_KEYS; k++) {
        if (cli->keys[k])
            return TRUE;
    }
    return cli->unset || cli->uri;
}


static int
hbCliRun(HbCli *cli, int argc, char **argv)
{
    int nargs = argc - 2;
    int status;
    size_t i;

    cli->name = argv[1];
    cli->args = argv + 2;
    for (i = 0; i < G_N_ELEMENTS(hbCliCommands); i++) {
        if (g_str_equal(hbCliCommands[i].name, cli->name))
            break;
    }
    if (i == G_N_ELEMENTS(hbCliCommands))
        return hbCliUsage("unknown command '%s'", cli->name);
    if (cli->cluster && hbCliCommands[i].run != hbCliIsHeartbeating)
        return hbCliUsage("--cluster goes with is-heartbeating");
    if (cli->cluster && (nargs > 1 || cli->json || hbCliHasKeyOptions(cli) || cli->live ||
                         cli->config || cli->timeout || cli->all || cli->for_ ||
                         cli->until_text))
        return hbCliUsage("is-heartbeating --cluster takes at most a DOMAIN");
    if (cli->cluster)
        return hbCliClusterMonitor(cli, nargs ? argv[2] : NULL);

    if (hbCliCommands[i].domain != HB_CLI_NO_DOMAIN &&
        hbCliCommands[i].domain != HB_CLI_MONITORED_OPTIONAL && nargs < 1)
        return hbCliUsage("'%s' needs a DOMAIN (name or UUID)", cli->name);
    if (hbCliCommands[i].domain != HB_CLI_NO_DOMAIN && nargs > 0) {
        cli->key = argv[2];
        cli->args++;
        nargs--;
    }
    /* GOption leaves the "--" that ends the options: exec DOMAIN -- CMD. */
    if (nargs > 0 && g_str_equal(cli->args[0], "--")) {
        cli->args++;
        nargs--;
    }
    if (nargs < hbCliCommands[i].min_args ||
        (hbCliCommands[i].max_args >= 0 && nargs > hbCliCommands[i].max_args))
        return hbCliUsage("wrong number of arguments for '%s'", cli->name);
    if (cli->json && !(hbCliCommands[i].opts & HB_CLI_OPT_JSON))
        return hbCliUsage("--json goes with list, status, info and events");
    if (hbCliHasKeyOptions(cli) && !(hbCliCommands[i].opts & HB_CLI_OPT_KEYS))
        return hbCliUsage("key options, --unset and --connect go with config");
    if ((cli->live || cli->config) && !(hbCliCommands[i].opts & HB_CLI_OPT_SCOPE))
        return hbCliUsage("--live and --config go with config and set-parameter");
    if (cli->timeout && !(hbCliCommands[i].opts & HB_CLI_OPT_TIMEOUT))
        return hbCliUsage("--timeout goes with exec");
    if (cli->all && !(hbCliCommands[i].opts & HB_CLI_OPT_ALL))
        return hbCliUsage("--all goes with pause and resume");
    if ((cli->for_ || cli->until_text) && !(hbCliCommands[i].opts & HB_CLI_OPT_WINDOW))
        return hbCliUsage("--for and --until go with pause");
    if ((hbCliCommands[i].opts & HB_CLI_OPT_ALL) && !cli->key == !cli->all)
        return hbCliUsage("'%s' takes a DOMAIN or --all", cli->name);
    if ((hbCliCommands[i].opts & HB_CLI_OPT_WINDOW) &&
        (status = hbCliParseWindow(cli)) != HB_EXIT_OK)
        return status;

    if ((status = hbCliConnect(cli)) != HB_EXIT_OK)
        return status;
    if (cli->key && hbCliCommands[i].domain != HB_CLI_ANY_DOMAIN &&
        (status = hbCliFind(cli, cli->key)) != HB_EXIT_OK)
        return status;
    return hbCliCommands[i].run(cli);
}


static void
hbCliClear(HbCli *cli)
{
    for (gsize k = 0; k < HB_CLI_N_KEYS; k++)
        g_free(cli->keys[k]);
    g_strfreev(cli->unset);
    g_free(cli->uri);
    g_free(cli->for_);
    g_free(cli->until_text);
    g_clear_object(&cli->domain);
    g_clear_object(&cli->manager);
}


int
main(int argc, char **argv)
{
    HbCli cli = { 0 };
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &cli.json,
          "JSON output (list, status, info, events)", NULL },
        { "timeout", 't', 0, G_OPTION_ARG_INT, &cli.timeout,
          "exec: seconds to wait for the command "
          "(default " G_STRINGIFY(HB_EXEC_TIMEOUT_DEFAULT) ")",
          "N" },
        { "for", 0, 0, G_OPTION_ARG_STRING, &cli.for_,
          "pause: for this long (N with s, m, h or d; at most 30d)", "DURATION" },
        { "until", 0, 0, G_OPTION_ARG_STRING, &cli.until_text,
          "pause: until this ISO 8601 time (without a zone: local time)", "TIME" },
        { "all", 'a', 0, G_OPTION_ARG_NONE, &cli.all,
          "pause, resume: the host-wide window, every domain", NULL },
        { "cluster", 0, 0, G_OPTION_ARG_NONE, &cli.cluster,
          "is-heartbeating: as a Pacemaker resource's monitor script", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL }
    };
    GOptionEntry config_entries[4 + HB_CLI_N_KEYS + 1] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &cli.uri, "libvirt URI", "URI" },
        { "live", 0, 0, G_OPTION_ARG_NONE, &cli.live,
          "Change the running domain (also set-parameter)", NULL },
        { "config", 0, 0, G_OPTION_ARG_NONE, &cli.config,
          "Change the saved definition (also set-parameter)", NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND [DOMAIN]");
    GOptionGroup *config_group = g_option_group_new("config", "Options of the config command:",
                                                    "Show the options of the config command",
                                                    NULL, NULL);
    g_autoptr(GError) err = NULL;
    int status;

    for (gsize k = 0; k < HB_CLI_N_KEYS; k++) {
        config_entries[3 + k] = (GOptionEntry) {
            hbCliKeys[k].option, 0, 0, G_OPTION_ARG_STRING, &cli.keys[k], hbCliKeys[k].help,
            hbCliKeys[k].arg
        };
    }
    config_entries[3 + HB_CLI_N_KEYS] = (GOptionEntry) {
        "unset", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cli.unset, "Remove a key (repeatable)", "KEY"
    };

    g_option_context_set_summary(ctx, hbCliSummary);
    g_option_context_set_description(ctx, hbCliDescription);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_group_add_entries(config_group, config_entries);
    g_option_context_add_group(ctx, config_group);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        hbCliClear(&cli);
        return hbCliUsage("%s", err->message);
    }
    if (version) {
        printf("virt-heartbeat %s\n", PACKAGE_VERSION);
        hbCliClear(&cli);
        return HB_EXIT_OK;
    }
    if (argc < 2) {
        hbCliClear(&cli);
        return hbCliUsage("no command given");
    }

    status = hbCliRun(&cli, argc, argv);
    hbCliClear(&cli);
    return status;
}
