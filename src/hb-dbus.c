/*
 * The D-Bus server: one Manager1 object, and the Domain1 objects of the
 * monitored domains served from one subtree, with the ObjectManager that
 * lists them. A domain object is no GObject: its properties are read from
 * the domain when asked, and only digests of the values last announced are
 * kept, to send PropertiesChanged for what changed (issue 11: RSS).
 */
#include <config.h>

#include "hb-dbus.h"
#include "hb-agent.h"
#include "hb-domxml.h"

#define HB_DBUS_DOMAIN1_IFACE "org.virt_heartbeat.Domain1"
#define HB_DBUS_PROPERTIES "org.freedesktop.DBus.Properties"
#define HB_DBUS_OBJECT_MANAGER "org.freedesktop.DBus.ObjectManager"

/* Domain1's properties, in the order of the interface XML. */
typedef enum {
    HB_DBUS_PROP_NAME,
    HB_DBUS_PROP_UUID,
    HB_DBUS_PROP_STATE,
    HB_DBUS_PROP_IS_HEARTBEATING,
    HB_DBUS_PROP_HEARTBEAT_PERCENTAGE,
    HB_DBUS_PROP_RESTART_ATTEMPTS,
    HB_DBUS_PROP_EPISODE,
    HB_DBUS_PROP_PINGS_TICKED,
    HB_DBUS_PROP_PINGS_MISSED,
    HB_DBUS_PROP_PINGS_NO_VERDICT,
    HB_DBUS_PROP_LAST_TICK,
    HB_DBUS_PROP_CONFIG_ERROR,
    HB_DBUS_PROP_AGENT_CONNECTED,
    HB_DBUS_PROP_CONFIG,
    HB_DBUS_PROP_ADDITIONS_VERSION,
    HB_DBUS_PROP_OSNAME,
    HB_DBUS_PROP_CAN_SHUTDOWN,
    HB_DBUS_PROP_IS_HOST_TIME_SYNC_ENABLED,
    HB_DBUS_PROP_VERDICT,
    HB_DBUS_PROP_EVIDENCE,
    HB_DBUS_PROP_SUPPRESSED,
    HB_DBUS_PROP_SUPPRESSED_SINCE,
    HB_DBUS_PROP_PINGS_SUPPRESSED,
    HB_DBUS_PROP_LAST_ATTEMPT,
    HB_DBUS_PROP_MAINTENANCE_UNTIL,
    HB_DBUS_PROP_LAST
} HbDBusProp;

HB_ENUM_DECL(hbDBusProp, HbDBusProp);
HB_ENUM_IMPL(hbDBusProp, HbDBusProp, HB_DBUS_PROP_LAST,
             "Name", "UUID", "State", "IsHeartbeating", "HeartbeatPercentage",
             "RestartAttempts", "Episode", "PingsTicked", "PingsMissed", "PingsNoVerdict",
             "LastTick", "ConfigError", "AgentConnected", "Config", "AdditionsVersion",
             "OSName", "CanShutdown", "IsHostTimeSyncEnabled", "Verdict", "Evidence",
             "Suppressed", "SuppressedSince", "PingsSuppressed", "LastAttempt",
             "MaintenanceUntil");

struct _HbDBus {
    GDBusConnection *bus;
    HbMonitor *monitor;
    HbDBusManager1 *manager;
    /* uuid -> guint64[HB_DBUS_PROP_LAST], the digests of the values that
     * the last PropertiesChanged (or InterfacesAdded) announced */
    GHashTable *domains;
    /* Domain1's introspection data, by property */
    GDBusPropertyInfo *props[HB_DBUS_PROP_LAST];
    /* EmitsChangedSignal=false: a change sends nothing */
    gboolean quiet[HB_DBUS_PROP_LAST];
    guint objects;  /* the ObjectManager's registration */
    guint subtree;  /* the Domain1 objects' */
    guint filter;
    guint maintenance_timer; /* Manager1.MaintenanceUntil goes to 0 then */
};


G_STATIC_ASSERT(HB_API_AFFECT_LIVE == VIR_DOMAIN_AFFECT_LIVE);
G_STATIC_ASSERT(HB_API_AFFECT_CONFIG == VIR_DOMAIN_AFFECT_CONFIG);

/* Caller input quoted in an error keeps at most this many characters. */
#define HB_DBUS_QUOTE_MAX 64
/* No error message the daemon sends is longer, in characters. */
#define HB_DBUS_MESSAGE_MAX 1024


static void
hbDBusAppendEscaped(GString *out, gunichar c, gboolean quoted)
{
    switch (c) {
    case '\n':
        g_string_append(out, "\\n");
        return;
    case '\r':
        g_string_append(out, "\\r");
        return;
    case '\t':
        g_string_append(out, "\\t");
        return;
    case '\\':
    case '\'':
        if (quoted)
            g_string_append_c(out, '\\');
        g_string_append_c(out, c);
        return;
    }
    switch (g_unichar_type(c)) {
    /* Control and format characters (bidi overrides, zero widths) could
     * move a terminal's cursor or make one text look like another. */
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
        if (c < 0x80)
            g_string_append_printf(out, "\\x%02x", c);
        else if (c <= 0xffff)
            g_string_append_printf(out, "\\u%04x", c);
        else
            g_string_append_printf(out, "\\U%08x", c);
        return;
    default:
        g_string_append_unichar(out, c);
    }
}


/*
 * @s made fit to show: valid UTF-8 (U+FFFD for a bad byte), control and
 * format characters escaped, at most @max characters kept and an ellipsis
 * where it was cut. @quoted also escapes \ and ' so that the result reads
 * unambiguously between quotes. Only the first @max characters of @s are
 * read: a multi-megabyte key costs nothing.
 */
static char *
hbDBusEscape(const char *s, gsize max, gboolean quoted)
{
    GString *out = g_string_new(NULL);
    const char *p = s;

    for (gsize n = 0; *p; n++) {
        gunichar c = g_utf8_get_char_validated(p, -1);

        if (n == max) {
            g_string_append(out, "\u2026");
            break;
        }
        if (c == (gunichar) -1 || c == (gunichar) -2) {
            g_string_append_unichar(out, 0xfffd);
            p++;
            continue;
        }
        hbDBusAppendEscaped(out, c, quoted);
        p = g_utf8_next_char(p);
    }
    return g_string_free(out, FALSE);
}


/* Caller input, bounded and escaped, to quote in an error message. */
static char *
hbDBusQuote(const char *s)
{
    return hbDBusEscape(s, HB_DBUS_QUOTE_MAX, TRUE);
}


/* Every error the daemon returns goes through here: bounded and escaped. */
static void
hbDBusReturnError(GDBusMethodInvocation *invocation, GQuark domain, int code,
                  const char *message)
{
    g_autofree char *safe = hbDBusEscape(message, HB_DBUS_MESSAGE_MAX, FALSE);

    g_dbus_method_invocation_return_error_literal(invocation, domain, code, safe);
}


static void G_GNUC_PRINTF(3, 4)
hbDBusFail(GDBusMethodInvocation *invocation, HbErrorCode code, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    va_list ap;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    hbDBusReturnError(invocation, HB_ERROR, code, message);
}


/* A property's value before it becomes a GVariant: the member its type uses. */
typedef struct {
    guint64 n;               /* b, u, t, x; or the enum value @s names */
    const char *s;           /* s: never NULL */
    gboolean named;          /* @s is the name of the enum value @n */
    const HbConfig *config;  /* a{sv} */
} HbDBusValue;


/* A string property not known yet reads as empty. */
static const char *
hbDBusText(const char *s)
{
    return s ? s : "";
}


static void
hbDBusPropValue(HbDomain *dom, HbDBusProp prop, HbDBusValue *v)
{
    const HbGuestInfo *guest = hbDomainGuestInfo(dom);

    memset(v, 0, sizeof(*v));
    switch (prop) {
    case HB_DBUS_PROP_NAME:
        v->s = hbDomainName(dom);
        break;
    case HB_DBUS_PROP_UUID:
        v->s = hbDomainUUID(dom);
        break;
    case HB_DBUS_PROP_STATE:
        v->n = hbDomainState(dom);
        v->s = hbStateToString(hbDomainState(dom));
        v->named = TRUE;
        break;
    case HB_DBUS_PROP_IS_HEARTBEATING:
        v->n = hbDomainIsHeartbeating(dom);
        break;
    case HB_DBUS_PROP_HEARTBEAT_PERCENTAGE:
        v->n = hbDomainPercentage(dom);
        break;
    case HB_DBUS_PROP_RESTART_ATTEMPTS:
        v->n = hbDomainAttempts(dom);
        break;
    case HB_DBUS_PROP_EPISODE:
        v->n = hbDomainEpisode(dom);
        break;
    case HB_DBUS_PROP_PINGS_TICKED:
        v->n = hbDomainPings(dom, HB_PING_TICK);
        break;
    case HB_DBUS_PROP_PINGS_MISSED:
        v->n = hbDomainPings(dom, HB_PING_MISS);
        break;
    case HB_DBUS_PROP_PINGS_NO_VERDICT:
        v->n = hbDomainPings(dom, HB_PING_VOID);
        break;
    case HB_DBUS_PROP_LAST_TICK:
        v->n = hbDomainLastTick(dom);
        break;
    case HB_DBUS_PROP_CONFIG_ERROR:
        v->s = hbDBusText(hbDomainConfigError(dom));
        break;
    case HB_DBUS_PROP_AGENT_CONNECTED:
        v->n = hbDomainAgentConnected(dom);
        break;
    case HB_DBUS_PROP_CONFIG:
        v->config = hbDomainConfig(dom);
        break;
    case HB_DBUS_PROP_ADDITIONS_VERSION:
        v->s = hbDBusText(guest->version);
        break;
    case HB_DBUS_PROP_OSNAME:
        v->s = hbDBusText(guest->os_name);
        break;
    case HB_DBUS_PROP_CAN_SHUTDOWN:
        v->n = hbDomainAgentConnected(dom) && guest->can_shutdown;
        break;
    case HB_DBUS_PROP_IS_HOST_TIME_SYNC_ENABLED:
        v->n = hbDomainConfig(dom)->time_sync;
        break;
    case HB_DBUS_PROP_VERDICT:
        v->n = hbDomainVerdict(dom);
        v->s = hbVerdictToString(hbDomainVerdict(dom));
        v->named = TRUE;
        break;
    case HB_DBUS_PROP_EVIDENCE:
        v->s = hbDBusText(hbDomainEvidence(dom));
        break;
    case HB_DBUS_PROP_SUPPRESSED:
        v->s = hbDBusText(hbDomainSuppressed(dom));
        break;
    case HB_DBUS_PROP_SUPPRESSED_SINCE:
        v->n = hbDomainSuppressedSince(dom);
        break;
    case HB_DBUS_PROP_PINGS_SUPPRESSED:
        v->n = hbDomainPings(dom, HB_PING_SUPPRESSED);
        break;
    case HB_DBUS_PROP_LAST_ATTEMPT:
        v->s = hbDBusText(hbDomainLastAttempt(dom));
        break;
    case HB_DBUS_PROP_MAINTENANCE_UNTIL:
        v->n = hbDomainMaintenanceUntil(dom);
        break;
    case HB_DBUS_PROP_LAST:
        g_assert_not_reached();
    }
}


/* @v as its property's type, @info's signature: b, u, t, x, s or a{sv}. */
static GVariant *
hbDBusPropVariant(const GDBusPropertyInfo *info, const HbDBusValue *v)
{
    switch (info->signature[0]) {
    case 'b':
        return g_variant_new_boolean(v->n != 0);
    case 'u':
        return g_variant_new_uint32(v->n);
    case 't':
        return g_variant_new_uint64(v->n);
    case 'x':
        return g_variant_new_int64((gint64) v->n);
    case 's':
        return g_variant_new_string(v->s);
    }
    return hbConfigToVariant(v->config);
}


/* FNV-1a, 64 bits: two different texts look alike once in 2^64. */
static guint64
hbDBusHash(const void *data, gsize size)
{
    const guchar *p = data;
    guint64 hash = 0xcbf29ce484222325ULL;

    for (gsize i = 0; i < size; i++) {
        hash ^= p[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}


/* HbConfig holds only 32-bit members, its keys and maintenance_until: its
 * bytes have no padding to hash. */
G_STATIC_ASSERT(sizeof(HbConfig) == (HB_KEY_LAST + 1) * sizeof(guint32));

/*
 * What is kept of a value to tell whether it changed: a number itself, a
 * hash of a text or of the configuration. Every tick compares all of them,
 * so this allocates nothing. State and Verdict are their enum values, not
 * a hash of their names: a change that matters is never lost to a collision.
 */
static guint64
hbDBusDigest(const HbDBusValue *v)
{
    if (v->named)
        return v->n;
    if (v->s)
        return hbDBusHash(v->s, strlen(v->s));
    if (v->config)
        return hbDBusHash(v->config, sizeof(*v->config));
    return v->n;
}


/* Every Domain1 property of @dom, as InterfacesAdded and GetManagedObjects give them. */
static GVariant *
hbDBusDomainProperties(HbDBus *dbus, HbDomain *dom)
{
    GVariantBuilder props;
    GVariant *all;

    g_variant_builder_init(&props, G_VARIANT_TYPE_VARDICT);
    for (guint p = 0; p < HB_DBUS_PROP_LAST; p++) {
        HbDBusValue v;

        hbDBusPropValue(dom, p, &v);
        g_variant_builder_add(&props, "{sv}", dbus->props[p]->name,
                              hbDBusPropVariant(dbus->props[p], &v));
    }
    all = g_variant_builder_end(&props);
    /* As built, a tree of some eighty GVariants; serialised, one block of
     * some 1.3 KiB. At startup 10,000 InterfacesAdded wait in GDBus's queue
     * at once, and GetManagedObjects holds every domain's: the peak RSS. */
    g_variant_get_data(all);
    return all;
}


/* The digests of every property of @dom, as now. */
static void
hbDBusDigestAll(HbDomain *dom, guint64 *shown)
{
    for (guint p = 0; p < HB_DBUS_PROP_LAST; p++) {
        HbDBusValue v;

        hbDBusPropValue(dom, p, &v);
        shown[p] = hbDBusDigest(&v);
    }
}


/*
 * Called on every tick: one PropertiesChanged with the values that changed
 * since the last one, nothing when none did. The quiet properties change on
 * every tick and are never announced.
 */
static void
hbDBusOnChanged(HbDomain *dom, gpointer data)
{
    HbDBus *dbus = data;
    guint64 *shown = g_hash_table_lookup(dbus->domains, hbDomainUUID(dom));
    g_autofree char *path = NULL;
    GVariantBuilder changed;
    guint n = 0;

    if (!shown)
        return;
    g_variant_builder_init(&changed, G_VARIANT_TYPE_VARDICT);
    for (guint p = 0; p < HB_DBUS_PROP_LAST; p++) {
        HbDBusValue v;
        guint64 digest;

        if (dbus->quiet[p])
            continue;
        hbDBusPropValue(dom, p, &v);
        digest = hbDBusDigest(&v);
        if (digest == shown[p])
            continue;
        shown[p] = digest;
        g_variant_builder_add(&changed, "{sv}", dbus->props[p]->name,
                              hbDBusPropVariant(dbus->props[p], &v));
        n++;
    }
    if (!n) {
        g_variant_builder_clear(&changed);
        return;
    }
    path = hbDBusDomainPath(hbDomainUUID(dom));
    g_dbus_connection_emit_signal(dbus->bus, NULL, path, HB_DBUS_PROPERTIES, "PropertiesChanged",
                                  g_variant_new("(sa{sv}as)", HB_DBUS_DOMAIN1_IFACE, &changed,
                                                NULL),
                                  NULL);
}


/* The domain served at @node, a path element under .../domain; NULL: none. */
static HbDomain *
hbDBusNodeDomain(HbDBus *dbus, const char *node)
{
    g_autofree char *uuid = NULL;

    if (!node || strlen(node) != VIR_UUID_STRING_BUFLEN - 1)
        return NULL;
    uuid = g_strdelimit(g_strdup(node), "_", '-');
    /* Exactly a path we serve: never an upper-case twin, nor a name. */
    if (!g_hash_table_contains(dbus->domains, uuid))
        return NULL;
    return hbMonitorLookup(dbus->monitor, uuid);
}


/* The monitored domain at @path, or NULL having returned VMUnknown. */
static HbDomain *
hbDBusDomainFor(HbDBus *dbus, const char *path, GDBusMethodInvocation *invocation)
{
    const char *node = strrchr(path, '/') + 1;
    HbDomain *dom = hbDBusNodeDomain(dbus, node);
    g_autofree char *uuid = NULL;

    if (!dom) {
        uuid = g_strdelimit(g_strdup(node), "_", '-');
        hbDBusFail(invocation, HB_ERROR_VM_UNKNOWN, "domain %s is no longer monitored", uuid);
    }
    return dom;
}
/* Virtual PC / Virtual Server's "VM not running" and "additions not available", up front. */
static gboolean
hbDBusAgentUsable(HbDomain *dom, GDBusMethodInvocation *invocation)
{
    g_autoptr(GError) err = NULL;

    if (hbApiCheckState(hbStateToString(hbDomainState(dom)), hbDomainName(dom), TRUE,
                        &err) < 0) {
        hbDBusReturnError(invocation, err->domain, err->code, err->message);
        return FALSE;
    }
    return TRUE;
}


/* Completes the D-Bus call a request job was made for. */
static void
hbDBusReply(HbJob *job, gpointer data)
{
    GDBusMethodInvocation *invocation = data;

    if (job->error) {
        /* The message may quote the caller or the guest: bound it. */
        hbDBusReturnError(invocation, job->error->domain, job->error->code,
                          job->error->message);
        return;
    }
    switch (job->kind) {
    case HB_JOB_EXEC:
        g_dbus_method_invocation_return_value(invocation, g_variant_new(
            "(i@ay@ayb)", job->exec.exit_code,
            g_variant_new_from_bytes(G_VARIANT_TYPE_BYTESTRING, job->exec.out, TRUE),
            g_variant_new_from_bytes(G_VARIANT_TYPE_BYTESTRING, job->exec.err, TRUE),
            job->exec.truncated));
        break;
    case HB_JOB_INSTALL_AGENT:
        g_dbus_method_invocation_return_value(invocation,
                                              g_variant_new("(bb)", job->already, job->next_boot));
        break;
    case HB_JOB_SHUTDOWN:
    case HB_JOB_METADATA:
        g_dbus_method_invocation_return_value(invocation, NULL);
        break;
    case HB_JOB_PING:
    case HB_JOB_RESTART:
    case HB_JOB_SYNC:
    case HB_JOB_LIST:
    case HB_JOB_GUEST_INFO:
    case HB_JOB_TIME_SYNC:
    case HB_JOB_RESOLVE:
    case HB_JOB_STATS:
    case HB_JOB_ESCALATE:
    case HB_JOB_LAST:
        g_assert_not_reached();
    }
}


static void
hbDBusSubmit(HbDBus *dbus, HbDomain *dom, HbJob *job, GDBusMethodInvocation *invocation)
{
    job->reply = hbDBusReply;
    job->reply_data = invocation;
    hbMonitorRequest(dbus->monitor, dom, job);
}


/* A Domain1 method: @args as the introspection data says, checked by GDBus. */
typedef void (*HbDBusMethod)(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation,
                             GVariant *args);


static void
hbDBusOnRearm(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation,
              GVariant *args G_GNUC_UNUSED)
{
    hbMonitorRearm(dbus->monitor, dom);
    g_dbus_method_invocation_return_value(invocation, NULL);
}


static void
hbDBusOnShutdown(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation,
                 GVariant *args G_GNUC_UNUSED)
{
    if (hbDBusAgentUsable(dom, invocation))
        hbDBusSubmit(dbus, dom, hbJobNew(HB_JOB_SHUTDOWN, NULL), invocation);
}

/* Half Linux's usual ARG_MAX; the command travels as one agent message. */
#define HB_EXEC_COMMAND_MAX (1024 * 1024)


/* Bytes of @path and @args with their terminators, as execve counts them. */
static gsize
hbDBusCommandSize(const char *path, const char *const *args)
{
    gsize size = strlen(path) + 1;

    for (guint i = 0; args[i] && size <= HB_EXEC_COMMAND_MAX; i++)
        size += strlen(args[i]) + 1;
    return size;
}



static void
hbDBusOnExecute(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation, GVariant *args)
{
    g_autofree const char **argv = NULL;
    const char *path;
    guint timeout;
    HbJob *job;

    g_variant_get(args, "(&s^a&su)", &path, &argv, &timeout);
    if (!path[0] || timeout > HB_EXEC_TIMEOUT_MAX) {
        hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT,
                   "a command path and a timeout of at most %d s are needed",
                   HB_EXEC_TIMEOUT_MAX);
        return;
    }
    if (hbDBusCommandSize(path, argv) > HB_EXEC_COMMAND_MAX) {
        hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT,
                   "the command and its arguments take more than %d bytes",
                   HB_EXEC_COMMAND_MAX);
        return;
    }
    if (!hbDBusAgentUsable(dom, invocation))
        return;
    job = hbJobNew(HB_JOB_EXEC, NULL);
    job->path = g_strdup(path);
    job->args = g_strdupv((char **) argv);
    job->exec_timeout = timeout ? timeout : HB_EXEC_TIMEOUT_DEFAULT;
    hbDBusSubmit(dbus, dom, job, invocation);
}


static void
hbDBusOnInstall(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation,
                GVariant *args G_GNUC_UNUSED)
{
    hbDBusSubmit(dbus, dom, hbJobNew(HB_JOB_INSTALL_AGENT, NULL), invocation);
}


/* Set @key to @value in the metadata; @flags as virsh metadata takes them. */
static void
hbDBusSetKey(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation,
             const char *key, const char *value, guint flags)
{
    HbJob *job = hbJobNew(HB_JOB_METADATA, NULL);

    job->flags = flags;
    g_hash_table_insert(job->changes, g_strdup(key), g_strdup(value));
    hbDBusSubmit(dbus, dom, job, invocation);
}



static void
hbDBusOnSetTimeSync(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation,
                    GVariant *args)
{
    gboolean enabled;

    g_variant_get(args, "(b)", &enabled);
    /* Both the running domain and its saved definition: it should last. */
    hbDBusSetKey(dbus, dom, invocation, hbKeyToString(HB_KEY_TIME_SYNC),
                 enabled ? "yes" : "no", HB_AFFECT_APPLICABLE);
}



/*
 * A key to set to @value (NULL: to unset) with @flags, as SetParameter and
 * EditMetadata take them; FALSE having returned InvalidArgument. The value
 * itself is checked with the whole element, against the daemon's defaults.
 */
static gboolean
hbDBusCheckKey(GDBusMethodInvocation *invocation, const char *name, const char *value,
               guint flags)
{
    const guint known = HB_API_AFFECT_LIVE | HB_API_AFFECT_CONFIG;

    if (hbKeyFromString(name) < 0 || (flags & ~known)) {
        g_autofree char *quoted = hbDBusQuote(name);

        hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT,
                   "unknown key '%s' or flags %u; see virt-heartbeat-metadata(5)",
                   quoted, flags);
        return FALSE;
    }
    /* Longer than any valid value; the error would quote it whole. */
    if (value && strlen(value) > HB_DBUS_QUOTE_MAX) {
        hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT,
                   "%s: a value of %zu bytes is not valid", name, strlen(value));
        return FALSE;
    }
    return TRUE;
}



static void
hbDBusOnSetParameter(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation,
                     GVariant *args)
{
    const char *name;
    const char *value;
    guint flags;

    g_variant_get(args, "(&s&su)", &name, &value, &flags);
    if (hbDBusCheckKey(invocation, name, value, flags))
        hbDBusSetKey(dbus, dom, invocation, name, value, flags);
}


/* A window's end as Pause and PauseAll take it; FALSE having returned InvalidArgument. */
static gboolean
hbDBusCheckUntil(GDBusMethodInvocation *invocation, guint64 until)
{
    g_autoptr(GError) err = NULL;

    /* Beyond 2106 (the metadata's 32 bits) is beyond the 30 days anyway. */
    if (hbApiCheckMaintenance(MIN(until, (guint64) G_MAXINT64 / G_USEC_PER_SEC),
                              g_get_real_time() / G_USEC_PER_SEC, &err) < 0) {
        hbDBusReturnError(invocation, err->domain, err->code, err->message);
        return FALSE;
    }
    return TRUE;
}


/* Pause and Resume: the window is applied once the metadata holds it. */
typedef struct {
    GDBusMethodInvocation *invocation;
    HbMonitor *monitor;
    char *uuid;
    gint64 until;
    gint64 previous;    /* the domain's own window before a Pause; 0: none */
} HbDBusPause;


static void
hbDBusPauseReply(HbJob *job, gpointer data)
{
    HbDBusPause *pause = data;
    HbDomain *dom = hbMonitorLookup(pause->monitor, pause->uuid);

    /* At once, not only when the metadata is read back: a restart decided
     * meanwhile would not be dropped. A Pause was applied when asked; if
     * its window could not be kept, the one before comes back (unless the
     * window changed again meanwhile). */
    if (dom && !job->error)
        hbDomainSetMaintenance(dom, pause->until);
    else if (dom && pause->until && hbDomainMaintenanceKey(dom) == pause->until)
        hbDomainSetMaintenance(dom, pause->previous);
    hbDBusReply(job, pause->invocation);
    g_free(pause->uuid);
    g_free(pause);
}


static void
hbDBusSetMaintenance(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation,
                     gint64 until)
{
    HbJob *job = hbJobNew(HB_JOB_METADATA, NULL);
    HbDBusPause *pause = g_new0(HbDBusPause, 1);

    job->flags = HB_AFFECT_APPLICABLE;
    g_hash_table_insert(job->changes, g_strdup(HB_METADATA_MAINTENANCE),
                        until ? hbApiFormatUtc(until) : NULL);
    pause->invocation = invocation;
    pause->monitor = dbus->monitor;
    pause->uuid = g_strdup(hbDomainUUID(dom));
    pause->until = until;
    /*
     * A Pause holds the domain from now, not from when libvirt has saved
     * the window: the write waits for any domain job (up to libvirt's 30 s,
     * e.g. behind our own dump), and a restart due meanwhile must not run.
     * A Resume waits for the write: until then, no action, as asked before.
     */
    if (until) {
        pause->previous = hbDomainMaintenanceKey(dom);
        hbDomainSetMaintenance(dom, until);
    }
    job->reply = hbDBusPauseReply;
    job->reply_data = pause;
    hbMonitorRequest(dbus->monitor, dom, job);
}


static void
hbDBusOnPause(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation, GVariant *args)
{
    guint64 until;

    g_variant_get(args, "(t)", &until);
    if (hbDBusCheckUntil(invocation, until))
        hbDBusSetMaintenance(dbus, dom, invocation, until);
}


static void
hbDBusOnResume(HbDBus *dbus, HbDomain *dom, GDBusMethodInvocation *invocation,
               GVariant *args G_GNUC_UNUSED)
{
    hbDBusSetMaintenance(dbus, dom, invocation, 0);
}


static const struct {
    const char *name;
    HbDBusMethod run;
} hbDBusDomainMethods[] = {
    { "Rearm", hbDBusOnRearm },
    { "SetHostTimeSync", hbDBusOnSetTimeSync },
    { "Shutdown", hbDBusOnShutdown },
    { "ExecuteCommand", hbDBusOnExecute },
    { "InstallAdditions", hbDBusOnInstall },
    { "SetParameter", hbDBusOnSetParameter },
    { "Pause", hbDBusOnPause },
    { "Resume", hbDBusOnResume },
};


/* Domain1's methods; GDBus has checked the method's name and arguments. */
static void
hbDBusDomainCall(GDBusConnection *bus G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
                 const char *path, const char *iface G_GNUC_UNUSED, const char *method,
                 GVariant *args, GDBusMethodInvocation *invocation, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom = hbDBusDomainFor(dbus, path, invocation);

    if (!dom)
        return;
    for (guint i = 0; i < G_N_ELEMENTS(hbDBusDomainMethods); i++) {
        if (g_str_equal(hbDBusDomainMethods[i].name, method)) {
            hbDBusDomainMethods[i].run(dbus, dom, invocation, args);
            return;
        }
    }
    /* In the introspection data, without a handler here: our bug. */
    g_dbus_method_invocation_return_dbus_error(invocation,
                                               "org.freedesktop.DBus.Error.UnknownMethod",
                                               "no such method");
}


/* A Domain1 property, read from the domain now. */
static GVariant *
hbDBusDomainGet(GDBusConnection *bus G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
                const char *path, const char *iface G_GNUC_UNUSED, const char *name,
                GError **error, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom = hbDBusNodeDomain(dbus, strrchr(path, '/') + 1);
    int prop = hbDBusPropFromString(name);
    HbDBusValue v;

    /* GDBus asks only for the properties of the introspection data. */
    if (!dom || prop < 0) {
        g_set_error(error, HB_ERROR, HB_ERROR_VM_UNKNOWN, "%s is no longer monitored", path);
        return NULL;
    }
    hbDBusPropValue(dom, prop, &v);
    return hbDBusPropVariant(dbus->props[prop], &v);
}


static const GDBusInterfaceVTable hbDBusDomainVTable = {
    .method_call = hbDBusDomainCall,
    .get_property = hbDBusDomainGet,
};


static void
hbDBusOnAdded(HbDomain *dom, gpointer data)
{
    HbDBus *dbus = data;
    g_autofree char *path = hbDBusDomainPath(hbDomainUUID(dom));
    guint64 *shown = g_new(guint64, HB_DBUS_PROP_LAST);
    GVariantBuilder ifaces;

    hbDBusDigestAll(dom, shown);
    g_hash_table_insert(dbus->domains, g_strdup(hbDomainUUID(dom)), shown);
    g_variant_builder_init(&ifaces, G_VARIANT_TYPE("a{sa{sv}}"));
    g_variant_builder_add(&ifaces, "{s@a{sv}}", HB_DBUS_DOMAIN1_IFACE,
                          hbDBusDomainProperties(dbus, dom));
    g_dbus_connection_emit_signal(dbus->bus, NULL, HB_DBUS_PATH, HB_DBUS_OBJECT_MANAGER,
                                  "InterfacesAdded", g_variant_new("(oa{sa{sv}})", path, &ifaces),
                                  NULL);
}


static void
hbDBusOnRemoved(HbDomain *dom, gpointer data)
{
    HbDBus *dbus = data;
    g_autofree char *path = hbDBusDomainPath(hbDomainUUID(dom));
    const char *ifaces[] = { HB_DBUS_DOMAIN1_IFACE, NULL };

    if (!g_hash_table_remove(dbus->domains, hbDomainUUID(dom)))
        return;
    g_dbus_connection_emit_signal(dbus->bus, NULL, HB_DBUS_PATH, HB_DBUS_OBJECT_MANAGER,
                                  "InterfacesRemoved", g_variant_new("(o^as)", path, ifaces),
                                  NULL);
}


/* The Domain1 signal @name with @args (floating, consumed) from @dom's object. */
static void
hbDBusDomainEmit(HbDBus *dbus, HbDomain *dom, const char *name, GVariant *args)
{
    g_autofree char *path = hbDBusDomainPath(hbDomainUUID(dom));

    g_dbus_connection_emit_signal(dbus->bus, NULL, path, HB_DBUS_DOMAIN1_IFACE, name, args, NULL);
}


static void
hbDBusOnNotice(HbDomain *dom, const HbNotice *notice, gpointer data)
{
    HbDBus *dbus = data;
    const char *name = hbDomainName(dom);
    const char *uuid = hbDomainUUID(dom);
    const char *state = hbStateToString(hbDomainState(dom));
    const char *evidence = notice->evidence ? notice->evidence : "";

    if (!g_hash_table_contains(dbus->domains, uuid))
        return;
    switch (notice->kind) {
    case HB_NOTICE_STOPPED:
        hb_dbus_manager1_emit_heartbeat_stopped(dbus->manager, name, uuid,
                                                hbVerdictToString(notice->verdict), evidence);
        hbDBusDomainEmit(dbus, dom, "HeartbeatStopped",
                         g_variant_new("(ss)", hbVerdictToString(notice->verdict), evidence));
        break;
    case HB_NOTICE_RESUMED:
        hb_dbus_manager1_emit_heartbeat_resumed(dbus->manager, name, uuid);
        hbDBusDomainEmit(dbus, dom, "HeartbeatResumed", NULL);
        break;
    case HB_NOTICE_RESTART_ATTEMPT:
        hb_dbus_manager1_emit_restart_attempt(dbus->manager, name, uuid, notice->attempt,
                                              notice->max, notice->action, notice->result);
        hbDBusDomainEmit(dbus, dom, "RestartAttempt",
                         g_variant_new("(uuss)", notice->attempt, notice->max, notice->action,
                                       notice->result));
        break;
    case HB_NOTICE_EXHAUSTED:
        hb_dbus_manager1_emit_restarts_exhausted(dbus->manager, name, uuid);
        hbDBusDomainEmit(dbus, dom, "RestartsExhausted", NULL);
        break;
    case HB_NOTICE_STATE_CHANGED:
        hb_dbus_manager1_emit_state_changed(dbus->manager, name, uuid, state);
        hbDBusDomainEmit(dbus, dom, "StateChanged", g_variant_new("(s)", state));
        break;
    case HB_NOTICE_ESCALATED:
        hb_dbus_manager1_emit_escalated(dbus->manager, name, uuid, notice->resource,
                                        notice->result);
        hbDBusDomainEmit(dbus, dom, "Escalated",
                         g_variant_new("(ss)", notice->resource, notice->result));
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


static void
hbDBusSetHost(HbDBus *dbus, const HbBreaker *breaker)
{
    hb_dbus_manager1_set_host_state(dbus->manager, hbBreakerStateToString(breaker->state));
    hb_dbus_manager1_set_host_hold(dbus->manager, breaker->state == HB_BREAKER_HOLDING);
}


static void
hbDBusOnHost(const HbBreaker *breaker, HbBreakerChange change, gpointer data)
{
    HbDBus *dbus = data;
    g_autofree char *reason = hbBreakerReason(breaker);

    hbDBusSetHost(dbus, breaker);
    if (change == HB_BREAKER_SUSPECTED)
        hb_dbus_manager1_emit_host_suspected(dbus->manager, breaker->stopped, breaker->watched,
                                             reason);
    else
        hb_dbus_manager1_emit_host_cleared(dbus->manager, breaker->stopped, breaker->watched,
                                           reason);
}


static gboolean hbDBusMaintenanceOver(gpointer data);


/* Manager1.MaintenanceUntil: the host-wide window, 0 once it is over. */
static void
hbDBusShowMaintenance(HbDBus *dbus)
{
    gint64 until = hbMonitorMaintenanceUntil(dbus->monitor);
    gint64 left = until - g_get_real_time() / G_USEC_PER_SEC;

    g_clear_handle_id(&dbus->maintenance_timer, g_source_remove);
    hb_dbus_manager1_set_maintenance_until(dbus->manager, left > 0 ? until : 0);
    /* The domains end theirs on their own timers; this is only shown. */
    if (left > 0)
        dbus->maintenance_timer = g_timeout_add_seconds(MIN(left, G_MAXUINT32 / 2) + 1,
                                                        hbDBusMaintenanceOver, dbus);
}


static gboolean
hbDBusMaintenanceOver(gpointer data)
{
    HbDBus *dbus = data;

    dbus->maintenance_timer = 0;
    hbDBusShowMaintenance(dbus);
    return G_SOURCE_REMOVE;
}


static gboolean
hbDBusOnPauseAll(HbDBusManager1 *manager G_GNUC_UNUSED, GDBusMethodInvocation *invocation,
                 guint64 until, gpointer data)
{
    HbDBus *dbus = data;
    g_autoptr(GError) err = NULL;

    if (!hbDBusCheckUntil(invocation, until))
        return TRUE;
    if (hbMonitorSetMaintenance(dbus->monitor, until, &err) < 0) {
        hbDBusFail(invocation, HB_ERROR_FAILED, "%s", err->message);
        return TRUE;
    }
    hbDBusShowMaintenance(dbus);
    g_dbus_method_invocation_return_value(invocation, NULL);
    return TRUE;
}


static gboolean
hbDBusOnResumeAll(HbDBusManager1 *manager G_GNUC_UNUSED, GDBusMethodInvocation *invocation,
                  gpointer data)
{
    HbDBus *dbus = data;
    g_autoptr(GError) err = NULL;

    if (hbMonitorSetMaintenance(dbus->monitor, 0, &err) < 0) {
        hbDBusFail(invocation, HB_ERROR_FAILED, "%s", err->message);
        return TRUE;
    }
    hbDBusShowMaintenance(dbus);
    g_dbus_method_invocation_return_value(invocation, NULL);
    return TRUE;
}


static const HbMonitorObserver hbDBusObserver = {
    .added = hbDBusOnAdded,
    .removed = hbDBusOnRemoved,
    .changed = hbDBusOnChanged,
    .notice = hbDBusOnNotice,
    .connection = hbDBusOnConnection,
    .host = hbDBusOnHost,
};


static gboolean
hbDBusOnListDomains(HbDBusManager1 *manager, GDBusMethodInvocation *invocation,
                    gpointer data)
{
    HbDBus *dbus = data;
    /* The list is ours; the domains are the monitor's. */
    g_autoptr(GList) doms = hbMonitorDomains(dbus->monitor);
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);

    for (GList *l = doms; l; l = l->next)
        g_ptr_array_add(paths, hbDBusDomainPath(hbDomainUUID(l->data)));
    g_ptr_array_add(paths, NULL);
    hb_dbus_manager1_complete_list_domains(manager, invocation,
                                           (const char *const *) paths->pdata);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


static gboolean
hbDBusOnListSummaries(HbDBusManager1 *manager, GDBusMethodInvocation *invocation,
                      gpointer data)
{
    HbDBus *dbus = data;
    g_autoptr(GList) doms = hbMonitorDomains(dbus->monitor);
    GVariantBuilder list;

    g_variant_builder_init(&list, G_VARIANT_TYPE("a(osssbuu)"));
    for (GList *l = doms; l; l = l->next) {
        HbDomain *dom = l->data;
        g_autofree char *path = hbDBusDomainPath(hbDomainUUID(dom));

        g_variant_builder_add(&list, "(osssbuu)", path, hbDomainName(dom), hbDomainUUID(dom),
                              hbStateToString(hbDomainState(dom)),
                              hbDomainIsHeartbeating(dom), hbDomainPercentage(dom),
                              hbDomainAttempts(dom));
    }
    hb_dbus_manager1_complete_list_domain_summaries(manager, invocation,
                                                    g_variant_builder_end(&list));
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


static gboolean
hbDBusOnGetStatistics(HbDBusManager1 *manager, GDBusMethodInvocation *invocation,
                      gpointer data)
{
    HbDBus *dbus = data;

    hb_dbus_manager1_complete_get_statistics(manager, invocation,
                                             hbMonitorStatistics(dbus->monitor));
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


static gboolean
hbDBusReturnDomain(GDBusMethodInvocation *invocation, HbDomain *dom)
{
    g_autofree char *path = hbDBusDomainPath(hbDomainUUID(dom));

    g_dbus_method_invocation_return_value(invocation, g_variant_new("(o)", path));
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


/* Only the exact, case-sensitive name: never a UUID that looks like one. */
static gboolean
hbDBusOnLookupByName(HbDBusManager1 *manager G_GNUC_UNUSED, GDBusMethodInvocation *invocation,
                     const char *name, gpointer data)
{
    HbDBus *dbus = data;
    g_autoptr(GList) doms = hbMonitorDomains(dbus->monitor);
    g_autofree char *quoted = NULL;

    if (!name[0]) {
        hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT, "empty domain name");
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    for (GList *l = doms; l; l = l->next) {
        if (g_str_equal(hbDomainName(l->data), name))
            return hbDBusReturnDomain(invocation, l->data);
    }
    quoted = hbDBusQuote(name);
    hbDBusFail(invocation, HB_ERROR_VM_UNKNOWN, "no monitored domain is named '%s'", quoted);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


/* Only a UUID, in either case: never a domain named like one. */
static gboolean
hbDBusOnLookupByUUID(HbDBusManager1 *manager G_GNUC_UNUSED, GDBusMethodInvocation *invocation,
                     const char *uuid, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom;

    if (!g_uuid_string_is_valid(uuid)) {
        g_autofree char *quoted = hbDBusQuote(uuid);

        hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT, "'%s' is not a UUID", quoted);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    /* A UUID key finds its domain first; a name match is not the answer. */
    dom = hbMonitorLookup(dbus->monitor, uuid);
    if (!dom || g_ascii_strcasecmp(hbDomainUUID(dom), uuid) != 0) {
        hbDBusFail(invocation, HB_ERROR_VM_UNKNOWN, "no monitored domain has UUID '%s'",
                   uuid);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    return hbDBusReturnDomain(invocation, dom);
}


/* An EditMetadata call under way, and how to name its domain in an error. */
typedef struct {
    GDBusMethodInvocation *invocation;
    char *quoted;   /* the caller's key, bounded and escaped */
} HbDBusEdit;


static void
hbDBusEditReply(HbJob *job, gpointer data)
{
    HbDBusEdit *edit = data;

    if (g_error_matches(job->error, HB_ERROR, HB_ERROR_VM_UNKNOWN)) {
        hbDBusFail(edit->invocation, HB_ERROR_VM_UNKNOWN, "domain '%s' not found",
                   edit->quoted);
    } else if (!job->error) {
        /* The element comes from the domain XML: keep D-Bus valid. */
        g_autofree char *metadata = hbUtilSanitize(job->metadata, -1, 0);

        g_dbus_method_invocation_return_value(edit->invocation,
                                              g_variant_new("(ss)", job->name, metadata));
    } else {
        hbDBusReply(job, edit->invocation);
    }
    g_free(edit->quoted);
    g_free(edit);
}


/* Longer than any domain name libvirt's drivers accept (file names). */
#define HB_DBUS_DOMAIN_KEY_MAX 1024


static gboolean
hbDBusOnEditMetadata(HbDBusManager1 *manager G_GNUC_UNUSED, GDBusMethodInvocation *invocation,
                     const char *key, GVariant *set, const char *const *unset, guint flags,
                     gpointer data)
{
    HbDBus *dbus = data;
    g_autoptr(HbJob) job = NULL;
    HbDBusEdit *edit;
    GVariantIter iter;
    const char *name;
    const char *value;

    if (!key[0]) {
        hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT, "empty domain name");
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    if (strlen(key) > HB_DBUS_DOMAIN_KEY_MAX) {
        g_autofree char *quoted = hbDBusQuote(key);

        hbDBusFail(invocation, HB_ERROR_VM_UNKNOWN, "domain '%s' not found", quoted);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    if (g_variant_n_children(set) > HB_KEY_LAST || g_strv_length((char **) unset) > HB_KEY_LAST) {
        hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT, "more than %d keys", HB_KEY_LAST);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    job = hbJobNew(HB_JOB_METADATA, NULL);
    job->flags = flags;
    g_variant_iter_init(&iter, set);
    while (g_variant_iter_next(&iter, "{&s&s}", &name, &value)) {
        if (!hbDBusCheckKey(invocation, name, value, flags))
            return G_DBUS_METHOD_INVOCATION_HANDLED;
        g_hash_table_insert(job->changes, g_strdup(name), g_strdup(value));
    }
    for (guint i = 0; unset[i]; i++) {
        if (!hbDBusCheckKey(invocation, unset[i], NULL, flags))
            return G_DBUS_METHOD_INVOCATION_HANDLED;
        if (g_hash_table_contains(job->changes, unset[i])) {
            hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT,
                       "%s: both set and unset", unset[i]);
            return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
        g_hash_table_insert(job->changes, g_strdup(unset[i]), NULL);
    }
    edit = g_new0(HbDBusEdit, 1);
    edit->invocation = invocation;
    edit->quoted = hbDBusQuote(key);
    job->reply = hbDBusEditReply;
    job->reply_data = edit;
    hbMonitorEdit(dbus->monitor, key, g_steal_pointer(&job));
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


/* Longer than any of our object paths; the spec's bound for names. */
#define HB_DBUS_PATH_MAX 1024
#define HB_DBUS_NAME_MAX 255


/* An interface or property name that no object of ours could have. */
static gboolean
hbDBusHasLongName(GVariant *body)
{
    for (gsize i = 0; body && i < g_variant_n_children(body) && i < 2; i++) {
        g_autoptr(GVariant) arg = g_variant_get_child_value(body, i);

        if (g_variant_is_of_type(arg, G_VARIANT_TYPE_STRING) &&
            g_variant_get_size(arg) > HB_DBUS_NAME_MAX + 1)
            return TRUE;
    }
    return FALSE;
}


/*
 * GDBus quotes an unknown object path, interface or property name whole in
 * its errors, however long. Calls that carry one longer than anything we
 * serve are answered here, on GDBus's worker thread, with a bounded error.
 */
static GDBusMessage *
hbDBusFilter(GDBusConnection *bus, GDBusMessage *message, gboolean incoming,
             gpointer data G_GNUC_UNUSED)
{
    const char *path = g_dbus_message_get_path(message);
    const char *iface = g_dbus_message_get_interface(message);
    const char *name = NULL;
    g_autoptr(GDBusMessage) reply = NULL;

    if (!incoming || g_dbus_message_get_message_type(message) != G_DBUS_MESSAGE_TYPE_METHOD_CALL)
        return message;
    if (path && strlen(path) > HB_DBUS_PATH_MAX)
        name = "org.freedesktop.DBus.Error.UnknownObject";
    else if (g_strcmp0(iface, "org.freedesktop.DBus.Properties") == 0 &&
             hbDBusHasLongName(g_dbus_message_get_body(message)))
        name = "org.freedesktop.DBus.Error.InvalidArgs";
    else
        return message;

    if (!(g_dbus_message_get_flags(message) & G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED)) {
        reply = g_dbus_message_new_method_error(
            message, name, "object path longer than %d bytes, or interface or property "
            "name longer than %d", HB_DBUS_PATH_MAX, HB_DBUS_NAME_MAX);
        g_dbus_connection_send_message(bus, reply, G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL, NULL);
    }
    g_object_unref(message);
    return NULL;
}


/* The path elements under .../domain: one per domain (Introspect only). */
static char **
hbDBusEnumerate(GDBusConnection *bus G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
                const char *path G_GNUC_UNUSED, gpointer data)
{
    HbDBus *dbus = data;
    GPtrArray *nodes = g_ptr_array_new();
    GHashTableIter iter;
    gpointer uuid;

    g_hash_table_iter_init(&iter, dbus->domains);
    while (g_hash_table_iter_next(&iter, &uuid, NULL))
        g_ptr_array_add(nodes, g_strdelimit(g_strdup(uuid), "-", '_'));
    g_ptr_array_add(nodes, NULL);
    return (char **) g_ptr_array_free(nodes, FALSE);
}


/* Domain1 on a domain's node; nothing (an unknown object) elsewhere. */
static GDBusInterfaceInfo **
hbDBusIntrospect(GDBusConnection *bus G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
                 const char *path G_GNUC_UNUSED, const char *node, gpointer data)
{
    GDBusInterfaceInfo **ifaces;

    if (!hbDBusNodeDomain(data, node))
        return NULL;
    ifaces = g_new0(GDBusInterfaceInfo *, 2);
    ifaces[0] = g_dbus_interface_info_ref(hb_dbus_domain1_interface_info());
    return ifaces;
}


static const GDBusInterfaceVTable *
hbDBusDispatch(GDBusConnection *bus G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
               const char *path G_GNUC_UNUSED, const char *iface, const char *node,
               gpointer *out, gpointer data)
{
    if (!g_str_equal(iface, HB_DBUS_DOMAIN1_IFACE) || !hbDBusNodeDomain(data, node))
        return NULL;
    *out = data;
    return &hbDBusDomainVTable;
}


/* The domains are looked up by path; never all enumerated for one call. */
static const GDBusSubtreeVTable hbDBusSubtreeVTable = {
    .enumerate = hbDBusEnumerate,
    .introspect = hbDBusIntrospect,
    .dispatch = hbDBusDispatch,
};


/* org.freedesktop.DBus.ObjectManager, named as GDBusObjectManagerServer names it. */
static GDBusArgInfo hbDBusArgObjects = {
    -1, "object_paths_interfaces_and_properties", "a{oa{sa{sv}}}", NULL
};
static GDBusArgInfo hbDBusArgPath = { -1, "object_path", "o", NULL };
static GDBusArgInfo hbDBusArgAdded = { -1, "interfaces_and_properties", "a{sa{sv}}", NULL };
static GDBusArgInfo hbDBusArgRemoved = { -1, "interfaces", "as", NULL };
static GDBusArgInfo *hbDBusGetManagedOut[] = { &hbDBusArgObjects, NULL };
static GDBusArgInfo *hbDBusAddedArgs[] = { &hbDBusArgPath, &hbDBusArgAdded, NULL };
static GDBusArgInfo *hbDBusRemovedArgs[] = { &hbDBusArgPath, &hbDBusArgRemoved, NULL };
static GDBusMethodInfo hbDBusGetManaged = {
    -1, "GetManagedObjects", NULL, hbDBusGetManagedOut, NULL
};
static GDBusMethodInfo *hbDBusManagerMethods[] = { &hbDBusGetManaged, NULL };
static GDBusSignalInfo hbDBusAdded = { -1, "InterfacesAdded", hbDBusAddedArgs, NULL };
static GDBusSignalInfo hbDBusRemoved = { -1, "InterfacesRemoved", hbDBusRemovedArgs, NULL };
static GDBusSignalInfo *hbDBusManagerSignals[] = { &hbDBusAdded, &hbDBusRemoved, NULL };
static GDBusInterfaceInfo hbDBusObjectManagerInfo = {
    -1, HB_DBUS_OBJECT_MANAGER, hbDBusManagerMethods, hbDBusManagerSignals, NULL, NULL
};


/* GetManagedObjects, the only method; GDBus has checked it takes nothing. */
static void
hbDBusOnGetManaged(GDBusConnection *bus G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
                   const char *path G_GNUC_UNUSED, const char *iface G_GNUC_UNUSED,
                   const char *method G_GNUC_UNUSED, GVariant *args G_GNUC_UNUSED,
                   GDBusMethodInvocation *invocation, gpointer data)
{
    HbDBus *dbus = data;
    GVariantBuilder objects;
    GHashTableIter iter;
    gpointer uuid;

    g_variant_builder_init(&objects, G_VARIANT_TYPE("(a{oa{sa{sv}}})"));
    g_variant_builder_open(&objects, G_VARIANT_TYPE("a{oa{sa{sv}}}"));
    g_hash_table_iter_init(&iter, dbus->domains);
    while (g_hash_table_iter_next(&iter, &uuid, NULL)) {
        HbDomain *dom = hbMonitorLookup(dbus->monitor, uuid);
        g_autofree char *object = hbDBusDomainPath(uuid);

        if (!dom)
            continue;
        g_variant_builder_open(&objects, G_VARIANT_TYPE("{oa{sa{sv}}}"));
        g_variant_builder_add(&objects, "o", object);
        g_variant_builder_open(&objects, G_VARIANT_TYPE("a{sa{sv}}"));
        g_variant_builder_add(&objects, "{s@a{sv}}", HB_DBUS_DOMAIN1_IFACE,
                              hbDBusDomainProperties(dbus, dom));
        g_variant_builder_close(&objects);
        g_variant_builder_close(&objects);
    }
    g_variant_builder_close(&objects);
    g_dbus_method_invocation_return_value(invocation, g_variant_builder_end(&objects));
}


static const GDBusInterfaceVTable hbDBusObjectManagerVTable = {
    .method_call = hbDBusOnGetManaged,
};


/* Domain1's introspection data by property; FALSE if it is not what we serve. */
static gboolean
hbDBusInitProps(HbDBus *dbus, GError **error)
{
    GDBusPropertyInfo **props = hb_dbus_domain1_interface_info()->properties;
    guint n = 0;

    for (; props[n]; n++) {
        int p = hbDBusPropFromString(props[n]->name);
        const char *emits = g_dbus_annotation_info_lookup(
            props[n]->annotations, "org.freedesktop.DBus.Property.EmitsChangedSignal");

        if (p < 0 || dbus->props[p]) {
            g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "Domain1.%s: not served",
                        props[n]->name);
            return FALSE;
        }
        dbus->props[p] = props[n];
        dbus->quiet[p] = g_strcmp0(emits, "false") == 0;
    }
    if (n != HB_DBUS_PROP_LAST) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "Domain1 has %u properties, not %d",
                    n, HB_DBUS_PROP_LAST);
        return FALSE;
    }
    return TRUE;
}


/* The Domain1 objects under .../domain, and the ObjectManager that lists them. */
static gboolean
hbDBusExportDomains(HbDBus *dbus, GError **error)
{
    dbus->subtree = g_dbus_connection_register_subtree(
        dbus->bus, HB_DBUS_DOMAINS, &hbDBusSubtreeVTable,
        G_DBUS_SUBTREE_FLAGS_DISPATCH_TO_UNENUMERATED_NODES, dbus, NULL, error);
    if (!dbus->subtree)
        return FALSE;
    dbus->objects = g_dbus_connection_register_object(dbus->bus, HB_DBUS_PATH,
                                                      &hbDBusObjectManagerInfo,
                                                      &hbDBusObjectManagerVTable, dbus, NULL,
                                                      error);
    return dbus->objects != 0;
}


HbDBus *
hbDBusNew(GDBusConnection *bus, HbMonitor *monitor, const char *uri, GError **error)
{
    HbDBus *dbus = g_new0(HbDBus, 1);

    /* Replies decode to HB_ERROR in this process too (the tests' client). */
    hbErrorQuark();
    dbus->bus = g_object_ref(bus);
    dbus->monitor = monitor;
    dbus->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    dbus->manager = hb_dbus_manager1_skeleton_new();
    hb_dbus_manager1_set_uri(dbus->manager, uri);
    hbDBusSetHost(dbus, hbMonitorBreaker(monitor));
    g_signal_connect(dbus->manager, "handle-list-domains", G_CALLBACK(hbDBusOnListDomains), dbus);
    g_signal_connect(dbus->manager, "handle-lookup-by-name", G_CALLBACK(hbDBusOnLookupByName),
                     dbus);
    g_signal_connect(dbus->manager, "handle-lookup-by-uuid", G_CALLBACK(hbDBusOnLookupByUUID),
                     dbus);
    g_signal_connect(dbus->manager, "handle-edit-metadata", G_CALLBACK(hbDBusOnEditMetadata),
                     dbus);
    g_signal_connect(dbus->manager, "handle-list-domain-summaries",
                     G_CALLBACK(hbDBusOnListSummaries), dbus);
    g_signal_connect(dbus->manager, "handle-get-statistics",
                     G_CALLBACK(hbDBusOnGetStatistics), dbus);
    g_signal_connect(dbus->manager, "handle-pause-all", G_CALLBACK(hbDBusOnPauseAll), dbus);
    g_signal_connect(dbus->manager, "handle-resume-all", G_CALLBACK(hbDBusOnResumeAll), dbus);
    hbDBusShowMaintenance(dbus);
    if (!hbDBusInitProps(dbus, error) ||
        !g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(dbus->manager), bus,
                                          HB_DBUS_PATH, error) ||
        !hbDBusExportDomains(dbus, error)) {
        hbDBusFree(dbus);
        return NULL;
    }
    dbus->filter = g_dbus_connection_add_filter(bus, hbDBusFilter, NULL, NULL);
    hbMonitorSetObserver(monitor, &hbDBusObserver, dbus);
    return dbus;
}


void
hbDBusFree(HbDBus *dbus)
{
    if (!dbus)
        return;
    hbMonitorSetObserver(dbus->monitor, &(HbMonitorObserver) { 0 }, NULL);
    g_clear_handle_id(&dbus->maintenance_timer, g_source_remove);
    if (dbus->filter)
        g_dbus_connection_remove_filter(dbus->bus, dbus->filter);
    if (dbus->objects)
        g_dbus_connection_unregister_object(dbus->bus, dbus->objects);
    if (dbus->subtree)
        g_dbus_connection_unregister_subtree(dbus->bus, dbus->subtree);
    g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(dbus->manager));
    g_hash_table_unref(dbus->domains);
    g_object_unref(dbus->manager);
    g_object_unref(dbus->bus);
    g_free(dbus);
}
