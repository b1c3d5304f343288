/*
 * The D-Bus server: one Manager1 object, one Domain1 object per monitored
 * domain under a standard ObjectManager, kept in step with the monitor.
 */
#include <config.h>

#include "hb-dbus.h"
#include "hb-agent.h"
#include "hb-domxml.h"

struct _HbDBus {
    GDBusConnection *bus;
    HbMonitor *monitor;
    GDBusObjectManagerServer *objects;
    HbDBusManager1 *manager;
    GHashTable *domains; /* uuid -> HbDBusDomain */
    guint filter;
};

/* One exported domain. */
typedef struct {
    HbDBusObjectSkeleton *object;
    HbDBusDomain1 *iface;
    gboolean config_shown;
    HbConfig config;     /* what the Config property shows, when config_shown */
} HbDBusDomain;


static void
hbDBusDomainFree(HbDBusDomain *entry)
{
    g_object_unref(entry->iface);
    g_object_unref(entry->object);
    g_free(entry);
}

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


/* HbConfig holds only 32-bit members: memcmp sees no padding. */
G_STATIC_ASSERT(sizeof(HbConfig) == HB_KEY_LAST * sizeof(guint32));

/* Called on every tick: rebuild the Config property only when it changed. */
static void
hbDBusSetConfig(HbDBusDomain *entry, const HbConfig *cfg)
{
    g_autoptr(GVariant) config = NULL;

    if (entry->config_shown && memcmp(&entry->config, cfg, sizeof(*cfg)) == 0)
        return;
    entry->config = *cfg;
    entry->config_shown = TRUE;
    /* Serialised, it is one block of some 300 bytes; as built, a tree of
     * some fifty GVariants: 4 KiB per domain the property keeps. */
    config = g_variant_ref_sink(hbConfigToVariant(cfg));
    g_variant_get_data(config);
    hb_dbus_domain1_set_config(entry->iface, config);
}


static void
hbDBusOnChanged(HbDomain *dom, gpointer data)
{
    HbDBus *dbus = data;
    HbDBusDomain *entry = g_hash_table_lookup(dbus->domains, hbDomainUUID(dom));
    const HbGuestInfo *guest = hbDomainGuestInfo(dom);
    HbDBusDomain1 *iface;

    if (!entry)
        return;
    iface = entry->iface;
    /* The skeleton sends PropertiesChanged only for values that changed. */
    hb_dbus_domain1_set_name(iface, hbDomainName(dom));
    hb_dbus_domain1_set_state(iface, hbStateToString(hbDomainState(dom)));
    hb_dbus_domain1_set_is_heartbeating(iface, hbDomainIsHeartbeating(dom));
    hb_dbus_domain1_set_heartbeat_percentage(iface, hbDomainPercentage(dom));
    hb_dbus_domain1_set_restart_attempts(iface, hbDomainAttempts(dom));
    hb_dbus_domain1_set_episode(iface, hbDomainEpisode(dom));
    hb_dbus_domain1_set_pings_ticked(iface, hbDomainPings(dom, HB_PING_TICK));
    hb_dbus_domain1_set_pings_missed(iface, hbDomainPings(dom, HB_PING_MISS));
    hb_dbus_domain1_set_pings_no_verdict(iface, hbDomainPings(dom, HB_PING_VOID));
    hb_dbus_domain1_set_last_tick(iface, hbDomainLastTick(dom));
    hb_dbus_domain1_set_config_error(iface,
                                     hbDomainConfigError(dom) ? hbDomainConfigError(dom) : "");
    hb_dbus_domain1_set_agent_connected(iface, hbDomainAgentConnected(dom));
    hbDBusSetConfig(entry, hbDomainConfig(dom));
    hb_dbus_domain1_set_additions_version(iface, guest->version ? guest->version : "");
    hb_dbus_domain1_set_osname(iface, guest->os_name ? guest->os_name : "");
    hb_dbus_domain1_set_can_shutdown(iface, hbDomainAgentConnected(dom) && guest->can_shutdown);
    hb_dbus_domain1_set_is_host_time_sync_enabled(iface, hbDomainConfig(dom)->time_sync);
    hb_dbus_domain1_set_suppressed(iface, hbDomainSuppressed(dom));
    hb_dbus_domain1_set_suppressed_since(iface, hbDomainSuppressedSince(dom));
    hb_dbus_domain1_set_pings_suppressed(iface, hbDomainPings(dom, HB_PING_SUPPRESSED));
    hb_dbus_domain1_set_verdict(iface, hbVerdictToString(hbDomainVerdict(dom)));
    hb_dbus_domain1_set_evidence(iface, hbDomainEvidence(dom));
    hb_dbus_domain1_set_last_attempt(iface, hbDomainLastAttempt(dom) ? hbDomainLastAttempt(dom)
                                                                     : "");
}


/* The monitored domain behind @iface, or NULL having returned VMUnknown. */
static HbDomain *
hbDBusDomainFor(HbDBus *dbus, HbDBusDomain1 *iface, GDBusMethodInvocation *invocation)
{
    HbDomain *dom = hbMonitorLookup(dbus->monitor, hb_dbus_domain1_get_uuid(iface));

    if (!dom)
        hbDBusFail(invocation, HB_ERROR_VM_UNKNOWN, "domain %s is no longer monitored",
                   hb_dbus_domain1_get_uuid(iface));
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


static gboolean
hbDBusOnRearm(HbDBusDomain1 *iface, GDBusMethodInvocation *invocation, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom = hbDBusDomainFor(dbus, iface, invocation);

    if (dom) {
        hbMonitorRearm(dbus->monitor, dom);
        hb_dbus_domain1_complete_rearm(iface, invocation);
    }
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


static gboolean
hbDBusOnShutdown(HbDBusDomain1 *iface, GDBusMethodInvocation *invocation, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom = hbDBusDomainFor(dbus, iface, invocation);

    if (dom && hbDBusAgentUsable(dom, invocation))
        hbDBusSubmit(dbus, dom, hbJobNew(HB_JOB_SHUTDOWN, NULL), invocation);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
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


static gboolean
hbDBusOnExecute(HbDBusDomain1 *iface, GDBusMethodInvocation *invocation, const char *path,
                const char *const *args, guint timeout, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom = hbDBusDomainFor(dbus, iface, invocation);
    HbJob *job;

    if (!dom)
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    if (!path[0] || timeout > HB_EXEC_TIMEOUT_MAX) {
        hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT,
                   "a command path and a timeout of at most %d s are needed",
                   HB_EXEC_TIMEOUT_MAX);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    if (hbDBusCommandSize(path, args) > HB_EXEC_COMMAND_MAX) {
        hbDBusFail(invocation, HB_ERROR_INVALID_ARGUMENT,
                   "the command and its arguments take more than %d bytes",
                   HB_EXEC_COMMAND_MAX);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    if (!hbDBusAgentUsable(dom, invocation))
        return G_DBUS_METHOD_INVOCATION_HANDLED;
    job = hbJobNew(HB_JOB_EXEC, NULL);
    job->path = g_strdup(path);
    job->args = g_strdupv((char **) args);
    job->exec_timeout = timeout ? timeout : HB_EXEC_TIMEOUT_DEFAULT;
    hbDBusSubmit(dbus, dom, job, invocation);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


static gboolean
hbDBusOnInstall(HbDBusDomain1 *iface, GDBusMethodInvocation *invocation, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom = hbDBusDomainFor(dbus, iface, invocation);

    if (dom)
        hbDBusSubmit(dbus, dom, hbJobNew(HB_JOB_INSTALL_AGENT, NULL), invocation);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
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


static gboolean
hbDBusOnSetTimeSync(HbDBusDomain1 *iface, GDBusMethodInvocation *invocation,
                    gboolean enabled, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom = hbDBusDomainFor(dbus, iface, invocation);

    /* Both the running domain and its saved definition: it should last. */
    if (dom)
        hbDBusSetKey(dbus, dom, invocation, hbKeyToString(HB_KEY_TIME_SYNC),
                     enabled ? "yes" : "no", HB_AFFECT_APPLICABLE);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
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


static gboolean
hbDBusOnSetParameter(HbDBusDomain1 *iface, GDBusMethodInvocation *invocation,
                     const char *name, const char *value, guint flags, gpointer data)
{
    HbDBus *dbus = data;
    HbDomain *dom = hbDBusDomainFor(dbus, iface, invocation);

    if (dom && hbDBusCheckKey(invocation, name, value, flags))
        hbDBusSetKey(dbus, dom, invocation, name, value, flags);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}


static void
hbDBusOnAdded(HbDomain *dom, gpointer data)
{
    HbDBus *dbus = data;
    g_autofree char *path = hbDBusDomainPath(hbDomainUUID(dom));
    HbDBusDomain *entry = g_new0(HbDBusDomain, 1);
    HbDBusDomain1 *iface = hb_dbus_domain1_skeleton_new();

    entry->object = hb_dbus_object_skeleton_new(path);
    entry->iface = iface;
    hb_dbus_domain1_set_uuid(iface, hbDomainUUID(dom));
    g_signal_connect(iface, "handle-rearm", G_CALLBACK(hbDBusOnRearm), dbus);
    g_signal_connect(iface, "handle-shutdown", G_CALLBACK(hbDBusOnShutdown), dbus);
    g_signal_connect(iface, "handle-execute-command", G_CALLBACK(hbDBusOnExecute), dbus);
    g_signal_connect(iface, "handle-install-additions", G_CALLBACK(hbDBusOnInstall), dbus);
    g_signal_connect(iface, "handle-set-host-time-sync", G_CALLBACK(hbDBusOnSetTimeSync), dbus);
    g_signal_connect(iface, "handle-set-parameter", G_CALLBACK(hbDBusOnSetParameter), dbus);
    hb_dbus_object_skeleton_set_domain1(entry->object, iface);
    g_hash_table_insert(dbus->domains, g_strdup(hbDomainUUID(dom)), entry);
    hbDBusOnChanged(dom, dbus);
    g_dbus_object_manager_server_export(dbus->objects, G_DBUS_OBJECT_SKELETON(entry->object));
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
    HbDBusDomain *entry = g_hash_table_lookup(dbus->domains, hbDomainUUID(dom));
    const char *name = hbDomainName(dom);
    const char *uuid = hbDomainUUID(dom);
    const char *state = hbStateToString(hbDomainState(dom));
    HbDBusDomain1 *iface;

    if (!entry)
        return;
    iface = entry->iface;
    switch (notice->kind) {
    case HB_NOTICE_STOPPED:
        hb_dbus_manager1_emit_heartbeat_stopped(dbus->manager, name, uuid,
                                                hbVerdictToString(notice->verdict),
                                                notice->evidence ? notice->evidence : "");
        hb_dbus_domain1_emit_heartbeat_stopped(iface, hbVerdictToString(notice->verdict),
                                               notice->evidence ? notice->evidence : "");
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


HbDBus *
hbDBusNew(GDBusConnection *bus, HbMonitor *monitor, const char *uri, GError **error)
{
    HbDBus *dbus = g_new0(HbDBus, 1);

    /* Replies decode to HB_ERROR in this process too (the tests' client). */
    hbErrorQuark();
    dbus->bus = g_object_ref(bus);
    dbus->monitor = monitor;
    dbus->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) hbDBusDomainFree);
    dbus->objects = g_dbus_object_manager_server_new(HB_DBUS_PATH);
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
    if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(dbus->manager), bus,
                                          HB_DBUS_PATH, error)) {
        hbDBusFree(dbus);
        return NULL;
    }
    g_dbus_object_manager_server_set_connection(dbus->objects, bus);
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
    if (dbus->filter)
        g_dbus_connection_remove_filter(dbus->bus, dbus->filter);
    g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(dbus->manager));
    g_dbus_object_manager_server_set_connection(dbus->objects, NULL);
    g_hash_table_unref(dbus->domains);
    g_object_unref(dbus->objects);
    g_object_unref(dbus->manager);
    g_object_unref(dbus->bus);
    g_free(dbus);
}
