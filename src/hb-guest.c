/*
 * The guest OS interface: version, OS name, shutdown, command execution,
 * time sync, agent installation and metadata edits. Every agent call has
 * a bounded timeout; none of this runs on the main loop.
 */
#include <config.h>

#include <json-glib/json-glib.h>
#include <libvirt/libvirt-qemu.h>

#include "hb-guest.h"
#include "hb-worker.h"

#define HB_AGENT_CHANNEL_XML \
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
#define HB_EXEC_POLL_US (100 * 1000)


void
hbGuestInfoClear(HbGuestInfo *info)
{
    g_clear_pointer(&info->version, g_free);
    g_clear_pointer(&info->os_name, g_free);
    info->can_shutdown = FALSE;
}


void
hbExecStatusClear(HbExecStatus *status)
{
    g_clear_pointer(&status->out, g_bytes_unref);
    g_clear_pointer(&status->err, g_bytes_unref);
    *status = (HbExecStatus) { 0 };
}


/*
 * The guest writes the replies: what is quoted from one, or kept, goes to
 * the log and to D-Bus, so it is made UTF-8, and quotes are bounded.
 */
#define HB_GUEST_QUOTE_MAX 256

static char *
hbGuestQuote(const char *reply)
{
    g_autofree char *valid = g_utf8_make_valid(reply, -1);

    if (g_utf8_strlen(valid, -1) <= HB_GUEST_QUOTE_MAX)
        return g_steal_pointer(&valid);
    *g_utf8_offset_to_pointer(valid, HB_GUEST_QUOTE_MAX) = '\0';
    return g_strconcat(valid, "...", NULL);
}


/*
 * A member of the type @type, or NULL. json-glib's getters, even those
 * "with default", are criticals on a member of another JSON type.
 */
static JsonNode *
hbGuestMember(JsonObject *obj, const char *member, GType type)
{
    JsonNode *node = json_object_get_member(obj, member);

    return node && json_node_get_value_type(node) == type ? node : NULL;
}


static const char *
hbGuestStr(JsonObject *obj, const char *member)
{
    JsonNode *node = hbGuestMember(obj, member, G_TYPE_STRING);

    return node ? json_node_get_string(node) : NULL;
}


static gboolean
hbGuestBool(JsonObject *obj, const char *member)
{
    JsonNode *node = hbGuestMember(obj, member, G_TYPE_BOOLEAN);

    return node && json_node_get_boolean(node);
}


/* A whole-number member, or @fallback if it is missing or not a number. */
static gint64
hbGuestInt(JsonObject *obj, const char *member, gint64 fallback)
{
    JsonNode *node = hbGuestMember(obj, member, G_TYPE_INT64);

    return node ? json_node_get_int(node) : fallback;
}


/* A string member as UTF-8; NULL if missing or not a string. */
static char *
hbGuestString(JsonObject *obj, const char *member)
{
    const char *value = hbGuestStr(obj, member);

    return value ? g_utf8_make_valid(value, -1) : NULL;
}


/* The "return" object of an agent reply; owned by @parser. */
static JsonObject *
hbGuestReturn(JsonParser *parser, const char *reply, GError **error)
{
    JsonNode *root;
    JsonObject *obj;

    if (!json_parser_load_from_data(parser, reply, -1, NULL) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root) ||
        !(obj = json_node_get_object(root)) || !json_object_has_member(obj, "return") ||
        !JSON_NODE_HOLDS_OBJECT(json_object_get_member(obj, "return"))) {
        g_autofree char *quote = hbGuestQuote(reply);
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "unexpected guest agent reply: %s", quote);
        return NULL;
    }
    return json_object_get_object_member(obj, "return");
}


int
hbGuestParseInfo(const char *reply, HbGuestInfo *info, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbGuestReturn(parser, reply, error);
    JsonNode *commands;

    if (!ret)
        return -1;
    g_free(info->version);
    info->version = hbGuestString(ret, "version");
    if (!info->version)
        info->version = g_strdup("");
    info->can_shutdown = FALSE;
    /* json-glib's typed getters are criticals on a wrong type: check each node. */
    commands = json_object_get_member(ret, "supported_commands");
    if (!commands || !JSON_NODE_HOLDS_ARRAY(commands))
        return 0;
    for (guint i = 0; i < json_array_get_length(json_node_get_array(commands)); i++) {
        JsonNode *node = json_array_get_element(json_node_get_array(commands), i);
        JsonObject *cmd;

        if (!JSON_NODE_HOLDS_OBJECT(node))
            continue;
        cmd = json_node_get_object(node);
        if (g_strcmp0(hbGuestStr(cmd, "name"), "guest-shutdown") == 0 &&
            hbGuestBool(cmd, "enabled"))
            info->can_shutdown = TRUE;
    }
    return 0;
}


int
hbGuestParseOsInfo(const char *reply, HbGuestInfo *info, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbGuestReturn(parser, reply, error);
    const char *keys[] = { "pretty-name", "name", "kernel-release" };

    if (!ret)
        return -1;
    g_clear_pointer(&info->os_name, g_free);
    for (size_t i = 0; i < G_N_ELEMENTS(keys) && !info->os_name; i++) {
        g_autofree char *value = hbGuestString(ret, keys[i]);
        if (value && value[0])
            info->os_name = g_steal_pointer(&value);
    }
    if (!info->os_name)
        info->os_name = g_strdup("");
    return 0;
}


int
hbGuestParseExecPid(const char *reply, gint64 *pid, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbGuestReturn(parser, reply, error);
    gint64 value;

    if (!ret)
        return -1;
    if ((value = hbGuestInt(ret, "pid", 0)) <= 0) {
        g_autofree char *quote = hbGuestQuote(reply);
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "guest-exec returned no pid: %s", quote);
        return -1;
    }
    *pid = value;
    return 0;
}


static GBytes *
hbGuestDecode(JsonObject *ret, const char *member, gboolean *truncated)
{
    const char *data = hbGuestStr(ret, member);
    gsize len = 0;
    guchar *raw;

    if (!data)
        return g_bytes_new(NULL, 0);
    raw = g_base64_decode(data, &len);
    if (len > HB_EXEC_OUTPUT_MAX) {
        len = HB_EXEC_OUTPUT_MAX;
        *truncated = TRUE;
    }
    return g_bytes_new_take(raw, len);
}


int
hbGuestParseExecStatus(const char *reply, HbExecStatus *status, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbGuestReturn(parser, reply, error);

    if (!ret)
        return -1;
    hbExecStatusClear(status);
    status->exited = hbGuestBool(ret, "exited");
    if (!status->exited)
        return 0;
    /* Bounded: the guest may send any number, and the sum must not overflow. */
    if (json_object_has_member(ret, "signal"))
        status->exit_code = 128 + CLAMP(hbGuestInt(ret, "signal", 0), 0, 127);
    else
        status->exit_code = CLAMP(hbGuestInt(ret, "exitcode", 0), G_MININT, G_MAXINT);
    status->truncated = hbGuestBool(ret, "out-truncated") || hbGuestBool(ret, "err-truncated");
    status->out = hbGuestDecode(ret, "out-data", &status->truncated);
    status->err = hbGuestDecode(ret, "err-data", &status->truncated);
    return 0;
}


/* The guest-exec command for @path and @args, as JSON. */
char *
hbGuestExecCommand(const char *path, const char *const *args)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, "guest-exec");
    json_builder_set_member_name(b, "arguments");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "path");
    json_builder_add_string_value(b, path);
    json_builder_set_member_name(b, "arg");
    json_builder_begin_array(b);
    for (guint i = 0; args && args[i]; i++)
        json_builder_add_string_value(b, args[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "capture-output");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_end_object(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    return json_to_string(root, FALSE);
}


static char *
hbGuestAgent(virDomainPtr dom, const char *cmd, GError **error)
{
    char *reply = virDomainQemuAgentCommand(dom, cmd, HB_AGENT_TIMEOUT, 0);

    if (!reply)
        hbUtilSetLibvirtError(error, "guest agent");
    return reply;
}


int
hbGuestReadInfo(virDomainPtr dom, HbGuestInfo *info, GError **error)
{
    g_autofree char *reply = hbGuestAgent(dom, "{\"execute\":\"guest-info\"}", error);
    g_autofree char *os = NULL;

    if (!reply || hbGuestParseInfo(reply, info, error) < 0)
        return -1;
    if (!(os = hbGuestAgent(dom, "{\"execute\":\"guest-get-osinfo\"}", error)))
        return -1;
    return hbGuestParseOsInfo(os, info, error);
}


int
hbGuestShutdown(virDomainPtr dom, GError **error)
{
    if (virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_GUEST_AGENT) < 0) {
        hbUtilSetLibvirtError(error, "shutdown through the guest agent");
        return -1;
    }
    return 0;
}


int
hbGuestExec(virDomainPtr dom, const char *path, const char *const *args, guint timeout,
            GCancellable *cancellable, HbExecStatus *status, GError **error)
{
    g_autofree char *cmd = hbGuestExecCommand(path, args);
    g_autofree char *reply = hbGuestAgent(dom, cmd, error);
    gint64 deadline = g_get_monotonic_time() + (gint64) timeout * G_USEC_PER_SEC;
    g_autofree char *poll = NULL;
    gint64 pid;

    if (!reply || hbGuestParseExecPid(reply, &pid, error) < 0)
        return -1;
    poll = g_strdup_printf("{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":%"
                           G_GINT64_FORMAT "}}", pid);
    for (;;) {
        g_autofree char *st = hbGuestAgent(dom, poll, error);

        if (!st || hbGuestParseExecStatus(st, status, error) < 0)
            return -1;
        if (status->exited)
            return 0;
        if (g_get_monotonic_time() >= deadline) {
            g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                        "%s did not finish within %u s (pid %" G_GINT64_FORMAT
                        " goes on in the guest)", path, timeout, pid);
            return -1;
        }
        if (g_cancellable_is_cancelled(cancellable)) {
            g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                        "virt-heartbeatd is stopping (pid %" G_GINT64_FORMAT
                        " goes on in the guest)", pid);
            return -1;
        }
        g_usleep(HB_EXEC_POLL_US);
    }
}


/* The host's clock, to the guest's, through the agent with a bounded wait. */
int
hbGuestSyncTime(virDomainPtr dom, GError **error)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"guest-set-time\",\"arguments\":{\"time\":%" G_GINT64_FORMAT "}}",
        g_get_real_time() * 1000);
    g_autofree char *reply = hbGuestAgent(dom, cmd, error);

    return reply ? 0 : -1;
}


static int
hbGuestInspect(virDomainPtr dom, unsigned int flags, HbDomainInfo *info, GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, flags);
    int ret;

    if (!xml) {
        hbUtilSetLibvirtError(error, "cannot read the domain XML");
        return -1;
    }
    ret = hbDomainXmlInspect(xml, info, error);
    g_clear_pointer(&info->metadata, g_free);
    return ret;
}


/*
 * Add the agent channel wherever it is missing: to the saved definition,
 * and to the running domain. libvirt cannot hot-plug the virtio-serial
 * controller a channel needs, so a running domain without one gets the
 * channel at its next boot (@next_boot).
 */
int
hbGuestInstallAgent(virDomainPtr dom, gboolean *already, gboolean *next_boot,
                    GError **error)
{
    gboolean active = virDomainIsActive(dom) == 1;
    gboolean persistent = virDomainIsPersistent(dom) == 1;
    HbDomainInfo live = { 0 }, config = { 0 };
    unsigned int flags = 0;

    *already = *next_boot = FALSE;
    if (active && hbGuestInspect(dom, 0, &live, error) < 0)
        return -1;
    if (persistent && hbGuestInspect(dom, VIR_DOMAIN_XML_INACTIVE, &config, error) < 0)
        return -1;
    if (active && !live.has_agent) {
        if (live.has_serial_controller)
            flags |= VIR_DOMAIN_AFFECT_LIVE;
        else
            *next_boot = TRUE;
    }
    if (persistent && !config.has_agent)
        flags |= VIR_DOMAIN_AFFECT_CONFIG;
    if (*next_boot && !persistent) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "the running domain has no virtio-serial controller to add the "
                    "channel to, and it has no saved definition for its next boot");
        return -1;
    }
    *already = flags == 0 && !*next_boot;
    if (flags == 0)
        return 0;
    if (virDomainAttachDeviceFlags(dom, HB_AGENT_CHANNEL_XML, flags) < 0) {
        hbUtilSetLibvirtError(error, "cannot add the guest agent channel");
        return -1;
    }
    return 0;
}


static int
hbGuestEditOne(virDomainPtr dom, unsigned int flags, GHashTable *changes,
               const HbConfig *defaults, char **result, GError **error)
{
    g_autofree char *old = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                                HB_METADATA_URI, flags);
    g_autofree char *new = NULL;
    g_autoptr(GError) invalid = NULL;

    if (!old && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA) {
        hbUtilSetLibvirtError(error, "cannot read the heartbeat metadata");
        return -1;
    }
    if (g_hash_table_size(changes) == 0) {
        g_free(*result);
        *result = g_steal_pointer(&old);
        return 0;
    }
    if (!(new = hbConfigEditMetadata(old, changes, defaults, &invalid))) {
        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT, "%s", invalid->message);
        return -1;
    }
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, new, HB_METADATA_KEY,
                             HB_METADATA_URI, flags) < 0) {
        hbUtilSetLibvirtError(error, "cannot set the heartbeat metadata");
        return -1;
    }
    g_free(*result);
    *result = g_steal_pointer(&new);
    return 0;
}


/*
 * Read (no @changes) or change the <heartbeat/> element of @dom, like virsh
 * metadata: @flags VIR_DOMAIN_AFFECT_CURRENT, _LIVE and/or _CONFIG, or
 * HB_AFFECT_APPLICABLE. @result is the element last read or written (NULL:
 * none).
 */
int
hbGuestEditMetadata(virDomainPtr dom, unsigned int flags, GHashTable *changes,
                    const HbConfig *defaults, char **result, GError **error)
{
    *result = NULL;
    if (flags & HB_AFFECT_APPLICABLE) {
        flags = 0;
        if (virDomainIsActive(dom) == 1)
            flags |= VIR_DOMAIN_AFFECT_LIVE;
        if (virDomainIsPersistent(dom) == 1)
            flags |= VIR_DOMAIN_AFFECT_CONFIG;
    }
    if (flags == VIR_DOMAIN_AFFECT_CURRENT)
        return hbGuestEditOne(dom, flags, changes, defaults, result, error);
    if ((flags & VIR_DOMAIN_AFFECT_LIVE) &&
        hbGuestEditOne(dom, VIR_DOMAIN_AFFECT_LIVE, changes, defaults, result, error) < 0)
        return -1;
    if ((flags & VIR_DOMAIN_AFFECT_CONFIG) &&
        hbGuestEditOne(dom, VIR_DOMAIN_AFFECT_CONFIG, changes, defaults, result, error) < 0)
        return -1;
    return 0;
}
