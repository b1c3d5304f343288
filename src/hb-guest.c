/*
 * The guest OS interface: version, OS name, shutdown, command execution,
 * time sync, agent installation and metadata edits. Every agent call has
 * a bounded timeout; none of this runs on the main loop.
 */
#include <config.h>

#include <string.h>
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


/* How much of an agent reply an error message quotes. */
#define HB_GUEST_REPLY_QUOTE 200
/* Base64 characters that decode to HB_EXEC_OUTPUT_MAX bytes and a little more. */
#define HB_EXEC_BASE64_MAX (((HB_EXEC_OUTPUT_MAX + 2) / 3) * 4)


/*
 * No reply we read comes near these. json-glib recurses once a level
 * (a deep reply overflows the stack) and takes some 100 bytes a value
 * (libvirt hands on up to 10 MB: 3 million values, 400 MB).
 */
#define HB_GUEST_REPLY_DEPTH 64
#define HB_GUEST_REPLY_VALUES 100000


/* Within HB_GUEST_REPLY_DEPTH and about HB_GUEST_REPLY_VALUES, counted
 * before json-glib builds anything: each [, { and , starts a value. */
static gboolean
hbGuestReplyBounded(const char *reply)
{
    gboolean in_string = FALSE;
    guint depth = 0;
    gsize values = 0;

    for (const char *p = reply; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_string = FALSE;
            continue;
        }
        switch (*p) {
        case '"':
            in_string = TRUE;
            break;
        case '[':
        case '{':
            if (++depth > HB_GUEST_REPLY_DEPTH)
                return FALSE;
            G_GNUC_FALLTHROUGH;
        case ',':
            if (++values > HB_GUEST_REPLY_VALUES)
                return FALSE;
            break;
        case ']':
        case '}':
            if (depth)
                depth--;
            break;
        }
    }
    return TRUE;
}


/*
 * The "return" object of an agent reply; owned by @parser. Everything in
 * an agent reply is the guest's: strings are sanitized where they are taken
 * out, and every member is checked for its type and range.
 */
static JsonObject *
hbGuestReturn(JsonParser *parser, const char *reply, GError **error)
{
    /* libvirt hands on the bytes it decodes from a lone "\udc00", which are
     * not UTF-8, and json-glib refuses a reply with such bytes. */
    g_autofree char *valid = hbUtilSanitize(reply, -1, 0);
    JsonNode *root;
    JsonObject *obj;

    if (!hbGuestReplyBounded(valid)) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "guest agent reply nested deeper than %d or with more than %d values",
                    HB_GUEST_REPLY_DEPTH, HB_GUEST_REPLY_VALUES);
        return NULL;
    }
    if (!json_parser_load_from_data(parser, valid, -1, NULL) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root) ||
        !(obj = json_node_get_object(root)) || !json_object_has_member(obj, "return") ||
        !JSON_NODE_HOLDS_OBJECT(json_object_get_member(obj, "return"))) {
        g_autofree char *quote = hbUtilSanitize(valid, -1, HB_GUEST_REPLY_QUOTE);
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "unexpected guest agent reply: %s", quote);
        return NULL;
    }
    return json_object_get_object_member(obj, "return");
}


/* @member of @obj if it holds a @type; NULL if absent or null. */
static int
hbGuestMember(JsonObject *obj, const char *member, GType type, JsonNode **node,
              GError **error)
{
    JsonNode *n = json_object_get_member(obj, member);

    *node = NULL;
    if (!n || JSON_NODE_HOLDS_NULL(n))
        return 0;
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != type) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "the guest agent's '%s' is not %s", member,
                    type == G_TYPE_STRING ? "a string" :
                    type == G_TYPE_BOOLEAN ? "a boolean" : "an integer");
        return -1;
    }
    *node = n;
    return 0;
}


/* @member as sanitized text of at most @max bytes; NULL if absent. */
static int
hbGuestGetString(JsonObject *obj, const char *member, gsize max, char **value,
                 GError **error)
{
    JsonNode *node;

    if (hbGuestMember(obj, member, G_TYPE_STRING, &node, error) < 0)
        return -1;
    g_free(*value);
    *value = node ? hbUtilSanitize(json_node_get_string(node), -1, max) : NULL;
    return 0;
}


static int
hbGuestGetBool(JsonObject *obj, const char *member, gboolean *value, GError **error)
{
    JsonNode *node;

    if (hbGuestMember(obj, member, G_TYPE_BOOLEAN, &node, error) < 0)
        return -1;
    *value = node ? json_node_get_boolean(node) : FALSE;
    return 0;
}


/*
 * @member within @min-@max; *@present says whether it is there. json-glib
 * would wrap an integer beyond 64 bits (to -1, a negative one to 1), but
 * replies come through libvirt, whose parser saturates such integers to
 * the 64-bit limits, which every range here excludes.
 */
static int
hbGuestGetInt(JsonObject *obj, const char *member, gint64 min, gint64 max,
              gint64 *value, gboolean *present, GError **error)
{
    JsonNode *node;

    if (hbGuestMember(obj, member, G_TYPE_INT64, &node, error) < 0)
        return -1;
    *present = node != NULL;
    if (!node)
        return 0;
    *value = json_node_get_int(node);
    if (*value < min || *value > max) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "the guest agent's '%s' is out of range: %" G_GINT64_FORMAT
                    " (%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT ")",
                    member, *value, min, max);
        return -1;
    }
    return 0;
}


/* Whether guest-info lists guest-shutdown as enabled. */
static int
hbGuestCanShutdown(JsonObject *ret, gboolean *can_shutdown, GError **error)
{
    JsonNode *node = json_object_get_member(ret, "supported_commands");
    JsonArray *commands;

    *can_shutdown = FALSE;
    if (!node || JSON_NODE_HOLDS_NULL(node))
        return 0;
    if (!JSON_NODE_HOLDS_ARRAY(node)) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "the guest agent's 'supported_commands' is not an array");
        return -1;
    }
    commands = json_node_get_array(node);
    for (guint i = 0; i < json_array_get_length(commands); i++) {
        JsonNode *element = json_array_get_element(commands, i);
        g_autofree char *name = NULL;
        gboolean enabled;

        if (!JSON_NODE_HOLDS_OBJECT(element)) {
            g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                        "the guest agent's 'supported_commands' holds a non-object");
            return -1;
        }
        if (hbGuestGetString(json_node_get_object(element), "name", HB_UTIL_TEXT_MAX,
                             &name, error) < 0 ||
            hbGuestGetBool(json_node_get_object(element), "enabled", &enabled, error) < 0)
            return -1;
        if (g_strcmp0(name, "guest-shutdown") == 0 && enabled)
            *can_shutdown = TRUE;
    }
    return 0;
}


int
hbGuestParseInfo(const char *reply, HbGuestInfo *info, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbGuestReturn(parser, reply, error);
    g_autofree char *version = NULL;
    gboolean can_shutdown;

    if (!ret ||
        hbGuestGetString(ret, "version", HB_UTIL_TEXT_MAX, &version, error) < 0 ||
        hbGuestCanShutdown(ret, &can_shutdown, error) < 0)
        return -1;
    g_free(info->version);
    info->version = version ? g_steal_pointer(&version) : g_strdup("");
    info->can_shutdown = can_shutdown;
    return 0;
}


int
hbGuestParseOsInfo(const char *reply, HbGuestInfo *info, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbGuestReturn(parser, reply, error);
    const char *keys[] = { "pretty-name", "name", "kernel-release" };
    g_autofree char *name = NULL;

    if (!ret)
        return -1;
    for (size_t i = 0; i < G_N_ELEMENTS(keys) && !(name && name[0]); i++) {
        if (hbGuestGetString(ret, keys[i], HB_UTIL_TEXT_MAX, &name, error) < 0)
            return -1;
    }
    g_free(info->os_name);
    info->os_name = name ? g_steal_pointer(&name) : g_strdup("");
    return 0;
}


int
hbGuestParseExecPid(const char *reply, gint64 *pid, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbGuestReturn(parser, reply, error);
    gboolean present;

    if (!ret || hbGuestGetInt(ret, "pid", 1, HB_EXEC_PID_MAX, pid, &present, error) < 0)
        return -1;
    if (!present) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "guest-exec returned no pid");
        return -1;
    }
    return 0;
}


/*
 * Base64 @member, decoded up to HB_EXEC_OUTPUT_MAX bytes: only the part
 * kept is decoded, however much the guest sent.
 */
static int
hbGuestDecode(JsonObject *ret, const char *member, GBytes **bytes, gboolean *truncated,
              GError **error)
{
    JsonNode *node;
    const char *data;
    gsize avail, take, len;
    gint state = 0;
    guint save = 0;
    guchar *raw;

    if (hbGuestMember(ret, member, G_TYPE_STRING, &node, error) < 0)
        return -1;
    data = node ? json_node_get_string(node) : "";
    avail = strlen(data);
    take = MIN(avail, HB_EXEC_BASE64_MAX);
    raw = g_malloc0((take / 4) * 3 + 3); /* NUL-terminated, as g_base64_decode() does */
    len = g_base64_decode_step(data, take, raw, &state, &save);
    if (len > HB_EXEC_OUTPUT_MAX || take < avail) {
        len = MIN(len, HB_EXEC_OUTPUT_MAX);
        *truncated = TRUE;
    }
    *bytes = g_bytes_new_take(raw, len);
    return 0;
}


static int
hbGuestParseExit(JsonObject *ret, HbExecStatus *status, GError **error)
{
    gint64 sig, code;
    gboolean has_signal, has_code, out_cut, err_cut;

    if (hbGuestGetInt(ret, "signal", 1, HB_EXEC_SIGNAL_MAX, &sig, &has_signal, error) < 0 ||
        hbGuestGetInt(ret, "exitcode", 0, G_MAXUINT32, &code, &has_code, error) < 0 ||
        hbGuestGetBool(ret, "out-truncated", &out_cut, error) < 0 ||
        hbGuestGetBool(ret, "err-truncated", &err_cut, error) < 0)
        return -1;
    if (has_signal) {
        status->exit_code = 128 + sig;
    } else if (has_code) {
        /* A Windows exit code is 32 bits, shown signed as Windows does. */
        status->exit_code = (gint32) (guint32) code;
    } else {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "the command ended but the guest agent gave no exit status");
        return -1;
    }
    status->truncated = out_cut || err_cut;
    if (hbGuestDecode(ret, "out-data", &status->out, &status->truncated, error) < 0 ||
        hbGuestDecode(ret, "err-data", &status->err, &status->truncated, error) < 0)
        return -1;
    return 0;
}


int
hbGuestParseExecStatus(const char *reply, HbExecStatus *status, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbGuestReturn(parser, reply, error);

    hbExecStatusClear(status);
    if (!ret || hbGuestGetBool(ret, "exited", &status->exited, error) < 0)
        return -1;
    if (status->exited && hbGuestParseExit(ret, status, error) < 0) {
        hbExecStatusClear(status);
        return -1;
    }
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


typedef struct {
    unsigned int flag;  /* VIR_DOMAIN_AFFECT_* of this copy */
    char *old;          /* the element before; NULL: none */
    char *new;          /* the element to write */
} HbGuestEdit;


static void
hbGuestEditClear(HbGuestEdit *edit)
{
    g_clear_pointer(&edit->old, g_free);
    g_clear_pointer(&edit->new, g_free);
}


/* Read one copy of the metadata and work out its edit; nothing is written. */
static int
hbGuestEditPrepare(virDomainPtr dom, unsigned int flag, GHashTable *changes,
                   const HbConfig *defaults, HbGuestEdit *edit, GError **error)
{
    g_autoptr(GError) invalid = NULL;

    edit->flag = flag;
    edit->old = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, HB_METADATA_URI, flag);
    if (!edit->old && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA) {
        hbUtilSetLibvirtError(error, "cannot read the heartbeat metadata");
        return -1;
    }
    if (g_hash_table_size(changes) == 0)
        return 0;
    if (!(edit->new = hbConfigEditMetadata(edit->old, changes, defaults, &invalid))) {
        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT, "%s%s", invalid->message,
                    flag == VIR_DOMAIN_AFFECT_CONFIG ? " (in the saved definition)" : "");
        return -1;
    }
    return 0;
}


static int
hbGuestEditWrite(virDomainPtr dom, unsigned int flag, const char *xml)
{
    /* NULL removes the element: there was none before. */
    return virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, HB_METADATA_KEY,
                                HB_METADATA_URI, flag);
}


/*
 * Read (no @changes) or change the <heartbeat/> element of @dom, like virsh
 * metadata: @flags VIR_DOMAIN_AFFECT_CURRENT, _LIVE and/or _CONFIG, or
 * HB_AFFECT_APPLICABLE. @result is the element last read or written (NULL:
 * none). Both copies are checked before either is written, and when the
 * saved definition cannot be written the running domain is put back, so an
 * edit applies to both or to neither; the error says which when even that
 * fails. Two edits of one domain at once would lose one change: the
 * daemon's queue of edits per domain (hbMonitorRequest) runs them one at a
 * time, and every edit goes through the daemon.
 */
int
hbGuestEditMetadata(virDomainPtr dom, unsigned int flags, GHashTable *changes,
                    const HbConfig *defaults, char **result, GError **error)
{
    HbGuestEdit edits[2] = { { 0 }, { 0 } };
    guint n = 0;
    int ret = -1;

    *result = NULL;
    if (flags & HB_AFFECT_APPLICABLE) {
        flags = 0;
        if (virDomainIsActive(dom) == 1)
            flags |= VIR_DOMAIN_AFFECT_LIVE;
        if (virDomainIsPersistent(dom) == 1)
            flags |= VIR_DOMAIN_AFFECT_CONFIG;
    }
    if (flags == VIR_DOMAIN_AFFECT_CURRENT) {
        if (hbGuestEditPrepare(dom, flags, changes, defaults, &edits[n++], error) < 0)
            goto cleanup;
    } else {
        if ((flags & VIR_DOMAIN_AFFECT_LIVE) &&
            hbGuestEditPrepare(dom, VIR_DOMAIN_AFFECT_LIVE, changes, defaults,
                               &edits[n++], error) < 0)
            goto cleanup;
        if ((flags & VIR_DOMAIN_AFFECT_CONFIG) &&
            hbGuestEditPrepare(dom, VIR_DOMAIN_AFFECT_CONFIG, changes, defaults,
                               &edits[n++], error) < 0)
            goto cleanup;
    }

    if (g_hash_table_size(changes) == 0) {
        *result = g_steal_pointer(&edits[n - 1].old);
        ret = 0;
        goto cleanup;
    }
    for (guint i = 0; i < n; i++) {
        g_autofree char *why = NULL;

        if (hbGuestEditWrite(dom, edits[i].flag, edits[i].new) == 0)
            continue;
        if (i == 0) {
            hbUtilSetLibvirtError(error, "cannot set the heartbeat metadata");
            goto cleanup;
        }
        why = g_strdup(hbUtilLastError());
        if (hbGuestEditWrite(dom, edits[0].flag, edits[0].old) == 0) {
            g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                        "cannot set the heartbeat metadata of the saved definition, the "
                        "running domain is unchanged: %s", why);
        } else {
            g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                        "applied to the running domain only: cannot set the heartbeat "
                        "metadata of the saved definition (%s), nor restore the running "
                        "domain's (%s)", why, hbUtilLastError());
        }
        goto cleanup;
    }
    *result = g_steal_pointer(&edits[n - 1].new);
    ret = 0;

 cleanup:
    for (guint i = 0; i < n; i++)
        hbGuestEditClear(&edits[i]);
    return ret;
}

