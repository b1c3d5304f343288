/*
 * The guest agent: every call made to it (ping, info, shutdown, command
 * execution, time sync), each with a bounded wait, and its replies parsed.
 * The calls run on worker threads, never on the main loop.
 */
#include <config.h>

#include <string.h>
#include <json-glib/json-glib.h>

/* First: it has libvirt.h declare the enums' sentinels (VIR_ENUM_SENTINELS). */
#include "hb-agent.h"

#include <libvirt/libvirt-qemu.h>

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
#define HB_AGENT_REPLY_QUOTE 200
/* Base64 characters that decode to HB_EXEC_OUTPUT_MAX bytes and a little more. */
#define HB_EXEC_BASE64_MAX (((HB_EXEC_OUTPUT_MAX + 2) / 3) * 4)


/*
 * No reply we read comes near these. json-glib recurses once a level
 * (a deep reply overflows the stack) and takes some 100 bytes a value
 * (libvirt hands on up to 10 MB: 3 million values, 400 MB).
 */
#define HB_AGENT_REPLY_DEPTH 64
#define HB_AGENT_REPLY_VALUES 100000


/* Within HB_AGENT_REPLY_DEPTH and about HB_AGENT_REPLY_VALUES, counted
 * before json-glib builds anything: each [, { and , starts a value. */
static gboolean
hbAgentReplyBounded(const char *reply)
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
            if (++depth > HB_AGENT_REPLY_DEPTH)
                return FALSE;
            G_GNUC_FALLTHROUGH;
        case ',':
            if (++values > HB_AGENT_REPLY_VALUES)
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
hbAgentReturn(JsonParser *parser, const char *reply, GError **error)
{
    /* libvirt hands on the bytes it decodes from a lone "\udc00", which are
     * not UTF-8, and json-glib refuses a reply with such bytes. */
    g_autofree char *valid = hbUtilSanitize(reply, -1, 0);
    JsonNode *root;
    JsonObject *obj;

    if (!hbAgentReplyBounded(valid)) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "guest agent reply nested deeper than %d or with more than %d values",
                    HB_AGENT_REPLY_DEPTH, HB_AGENT_REPLY_VALUES);
        return NULL;
    }
    if (!json_parser_load_from_data(parser, valid, -1, NULL) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root) ||
        !(obj = json_node_get_object(root)) || !json_object_has_member(obj, "return") ||
        !JSON_NODE_HOLDS_OBJECT(json_object_get_member(obj, "return"))) {
        g_autofree char *quote = hbUtilSanitize(valid, -1, HB_AGENT_REPLY_QUOTE);
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "unexpected guest agent reply: %s", quote);
        return NULL;
    }
    return json_object_get_object_member(obj, "return");
}


/* @member of @obj if it holds a @type; NULL if absent or null. */
static int
hbAgentMember(JsonObject *obj, const char *member, GType type, JsonNode **node,
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
hbAgentGetString(JsonObject *obj, const char *member, gsize max, char **value,
                 GError **error)
{
    JsonNode *node;

    if (hbAgentMember(obj, member, G_TYPE_STRING, &node, error) < 0)
        return -1;
    g_free(*value);
    *value = node ? hbUtilSanitize(json_node_get_string(node), -1, max) : NULL;
    return 0;
}


static int
hbAgentGetBool(JsonObject *obj, const char *member, gboolean *value, GError **error)
{
    JsonNode *node;

    if (hbAgentMember(obj, member, G_TYPE_BOOLEAN, &node, error) < 0)
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
hbAgentGetInt(JsonObject *obj, const char *member, gint64 min, gint64 max,
              gint64 *value, gboolean *present, GError **error)
{
    JsonNode *node;

    if (hbAgentMember(obj, member, G_TYPE_INT64, &node, error) < 0)
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
hbAgentCanShutdown(JsonObject *ret, gboolean *can_shutdown, GError **error)
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
        if (hbAgentGetString(json_node_get_object(element), "name", HB_UTIL_TEXT_MAX,
                             &name, error) < 0 ||
            hbAgentGetBool(json_node_get_object(element), "enabled", &enabled, error) < 0)
            return -1;
        if (g_strcmp0(name, "guest-shutdown") == 0 && enabled)
            *can_shutdown = TRUE;
    }
    return 0;
}


int
hbAgentParseInfo(const char *reply, HbGuestInfo *info, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbAgentReturn(parser, reply, error);
    g_autofree char *version = NULL;
    gboolean can_shutdown;

    if (!ret ||
        hbAgentGetString(ret, "version", HB_UTIL_TEXT_MAX, &version, error) < 0 ||
        hbAgentCanShutdown(ret, &can_shutdown, error) < 0)
        return -1;
    g_free(info->version);
    info->version = version ? g_steal_pointer(&version) : g_strdup("");
    info->can_shutdown = can_shutdown;
    return 0;
}


int
hbAgentParseOsInfo(const char *reply, HbGuestInfo *info, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbAgentReturn(parser, reply, error);
    const char *keys[] = { "pretty-name", "name", "kernel-release" };
    g_autofree char *name = NULL;

    if (!ret)
        return -1;
    for (size_t i = 0; i < G_N_ELEMENTS(keys) && !(name && name[0]); i++) {
        if (hbAgentGetString(ret, keys[i], HB_UTIL_TEXT_MAX, &name, error) < 0)
            return -1;
    }
    g_free(info->os_name);
    info->os_name = name ? g_steal_pointer(&name) : g_strdup("");
    return 0;
}


int
hbAgentParseExecPid(const char *reply, gint64 *pid, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbAgentReturn(parser, reply, error);
    gboolean present;

    if (!ret || hbAgentGetInt(ret, "pid", 1, HB_EXEC_PID_MAX, pid, &present, error) < 0)
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
hbAgentDecode(JsonObject *ret, const char *member, GBytes **bytes, gboolean *truncated,
              GError **error)
{
    JsonNode *node;
    const char *data;
    gsize avail, take, len;
    gint state = 0;
    guint save = 0;
    guchar *raw;

    if (hbAgentMember(ret, member, G_TYPE_STRING, &node, error) < 0)
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
hbAgentParseExit(JsonObject *ret, HbExecStatus *status, GError **error)
{
    gint64 sig, code;
    gboolean has_signal, has_code, out_cut, err_cut;

    if (hbAgentGetInt(ret, "signal", 1, HB_EXEC_SIGNAL_MAX, &sig, &has_signal, error) < 0 ||
        hbAgentGetInt(ret, "exitcode", 0, G_MAXUINT32, &code, &has_code, error) < 0 ||
        hbAgentGetBool(ret, "out-truncated", &out_cut, error) < 0 ||
        hbAgentGetBool(ret, "err-truncated", &err_cut, error) < 0)
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
    if (hbAgentDecode(ret, "out-data", &status->out, &status->truncated, error) < 0 ||
        hbAgentDecode(ret, "err-data", &status->err, &status->truncated, error) < 0)
        return -1;
    return 0;
}


int
hbAgentParseExecStatus(const char *reply, HbExecStatus *status, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret = hbAgentReturn(parser, reply, error);

    hbExecStatusClear(status);
    if (!ret || hbAgentGetBool(ret, "exited", &status->exited, error) < 0)
        return -1;
    if (status->exited && hbAgentParseExit(ret, status, error) < 0) {
        hbExecStatusClear(status);
        return -1;
    }
    return 0;
}


/* The guest-exec command for @path and @args, as JSON. */
char *
hbAgentExecCommand(const char *path, const char *const *args)
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
hbAgentCommand(virDomainPtr dom, const char *cmd, GError **error)
{
    char *reply = virDomainQemuAgentCommand(dom, cmd, HB_AGENT_TIMEOUT, 0);

    if (!reply)
        hbUtilSetLibvirtError(error, "guest agent");
    return reply;
}


int
hbAgentReadInfo(virDomainPtr dom, HbGuestInfo *info, GError **error)
{
    g_autofree char *reply = hbAgentCommand(dom, "{\"execute\":\"guest-info\"}", error);
    g_autofree char *os = NULL;

    if (!reply || hbAgentParseInfo(reply, info, error) < 0)
        return -1;
    if (!(os = hbAgentCommand(dom, "{\"execute\":\"guest-get-osinfo\"}", error)))
        return -1;
    return hbAgentParseOsInfo(os, info, error);
}


int
hbAgentShutdown(virDomainPtr dom, GError **error)
{
    if (virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_GUEST_AGENT) < 0) {
        hbUtilSetLibvirtError(error, "shutdown through the guest agent");
        return -1;
    }
    return 0;
}


int
hbAgentExec(virDomainPtr dom, const char *path, const char *const *args, guint timeout,
            GCancellable *cancellable, HbExecStatus *status, GError **error)
{
    g_autofree char *cmd = hbAgentExecCommand(path, args);
    g_autofree char *reply = hbAgentCommand(dom, cmd, error);
    gint64 deadline = g_get_monotonic_time() + (gint64) timeout * G_USEC_PER_SEC;
    g_autofree char *poll = NULL;
    gint64 pid;

    if (!reply || hbAgentParseExecPid(reply, &pid, error) < 0)
        return -1;
    poll = g_strdup_printf("{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":%"
                           G_GINT64_FORMAT "}}", pid);
    for (;;) {
        g_autofree char *st = hbAgentCommand(dom, poll, error);

        if (!st || hbAgentParseExecStatus(st, status, error) < 0)
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
hbAgentSyncTime(virDomainPtr dom, GError **error)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"guest-set-time\",\"arguments\":{\"time\":%" G_GINT64_FORMAT "}}",
        g_get_real_time() * 1000);
    g_autofree char *reply = hbAgentCommand(dom, cmd, error);

    return reply ? 0 : -1;
}


/*
 * Only the agent's silence is a miss: libvirt reports a timeout, a hung
 * agent ("not available for now") and a closed agent port alike as
 * VIR_ERR_AGENT_UNRESPONSIVE. Anything else says nothing about the guest
 * and is no verdict: the domain gone or not running, libvirtd unreachable,
 * a job of someone else's holding the domain, the agent channel removed
 * ("not configured"), an agent that answered with an error or out of turn.
 */
HbProbeResult
hbAgentClassifyError(int code, gboolean alive)
{
    return code == VIR_ERR_AGENT_UNRESPONSIVE && alive ? HB_PROBE_MISS : HB_PROBE_VOID;
}


/* What virDomainGetJobStats reports as VIR_DOMAIN_JOB_OPERATION, by value. */
static const char *const hbAgentJobOperations[] = {
    "unknown", "start", "save", "restore", "incoming migration", "outgoing migration",
    "snapshot", "snapshot revert", "dump", "backup", "snapshot delete",
};


const char *
hbAgentJobOperationName(int operation)
{
    if (operation < 0 || operation >= (int) G_N_ELEMENTS(hbAgentJobOperations))
        return "unknown";
    return hbAgentJobOperations[operation];
}


/*
 * The domain job under way (migration, save, dump, backup, snapshot), as
 * "domain job: <operation>"; NULL: none, or libvirt could not say. It asks
 * libvirt only, never the guest. virDomainGetJobStats takes the domain's
 * query job (libvirt 9.0), which waits up to 30 s for any other job, as
 * for a call stuck in a hung QEMU's monitor. virDomainGetControlInfo takes
 * no job: it says first whether one is held, and whose it is.
 */
char *
hbAgentJobUnderWay(virDomainPtr dom)
{
    virDomainControlInfo control;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int type = VIR_DOMAIN_JOB_NONE;
    int operation = VIR_DOMAIN_JOB_OPERATION_UNKNOWN;

    if (virDomainGetControlInfo(dom, &control, 0) < 0) {
        g_debug("Cannot read the domain's control state: %s", hbUtilLastError());
        return NULL;
    }
    switch ((virDomainControlState) control.state) {
    case VIR_DOMAIN_CONTROL_JOB:
        /* A domain job's call to QEMU runs: its name would mean waiting. */
        return g_strdup("domain job");
    case VIR_DOMAIN_CONTROL_OCCUPIED:
    case VIR_DOMAIN_CONTROL_ERROR:
        /* A call of no domain job holds the domain, or its monitor failed. */
        return NULL;
    case VIR_DOMAIN_CONTROL_OK:
    case VIR_DOMAIN_CONTROL_LAST:
        break;
    }
    if (virDomainGetJobStats(dom, &type, &params, &nparams, 0) < 0) {
        g_debug("Cannot read the domain job: %s", hbUtilLastError());
        return NULL;
    }
    if (type != VIR_DOMAIN_JOB_NONE)
        virTypedParamsGetInt(params, nparams, VIR_DOMAIN_JOB_OPERATION, &operation);
    virTypedParamsFree(params, nparams);
    if (type == VIR_DOMAIN_JOB_NONE)
        return NULL;
    return g_strdup_printf("domain job: %s", hbAgentJobOperationName(operation));
}


/*
 * A miss is looked at again: under a domain job it is suppressed. The job
 * is read after the miss, on the same connection, and only then: a guest
 * whose pings are answered costs no call more. The guest agent is never
 * asked (a hung one costs 5 s a call).
 */
HbProbeResult
hbAgentPing(virConnectPtr conn, const char *uuid, guint timeout, char **detail)
{
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, uuid);
    g_autofree char *reply = NULL;
    HbProbeResult result;
    char *job;
    int code;

    if (dom)
        reply = virDomainQemuAgentCommand(dom, "{\"execute\":\"guest-ping\"}", timeout, 0);
    if (reply)
        return HB_PROBE_OK;

    /* The code first: virConnectIsAlive() resets the thread's last error. */
    code = virGetLastErrorCode();
    *detail = g_strdup(hbUtilLastError());
    result = hbAgentClassifyError(code, virConnectIsAlive(conn) == 1);
    if (result != HB_PROBE_MISS || !(job = hbAgentJobUnderWay(dom)))
        return result;
    g_free(*detail);
    *detail = job;
    return HB_PROBE_SUPPRESSED;
}
