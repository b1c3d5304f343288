/*
 * The daemon's configuration file: [daemon] settings and [defaults] for
 * the per-domain heartbeat keys. Every error names file and line.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb-api.h"
#include "hb-cluster.h"
#include "hb-daemon-conf.h"
#include "hb-hooks.h"

#define HB_DAEMON_GROUP "daemon"
#define HB_DEFAULTS_GROUP "defaults"
#define HB_METRICS_GROUP "metrics"
/* A daemon that watches thousands of domains on remote hosts needs a
 * suspect thread for every hung guest it must ping on schedule. */
#define HB_WORKERS_MAX 256

#define HB_BREAKER_OFFSET(member) \
    (G_STRUCT_OFFSET(HbDaemonConf, breaker) + G_STRUCT_OFFSET(HbBreakerConf, member))

/* The whole numbers of [daemon] and their ranges: thread counts, the breaker. */
static const struct {
    const char *key;
    gsize offset;
    guint min;
    guint max;
} hbDaemonConfNumbers[] = {
    { "ping_workers", G_STRUCT_OFFSET(HbDaemonConf, ping_workers), 1, HB_WORKERS_MAX },
    { "suspect_workers", G_STRUCT_OFFSET(HbDaemonConf, suspect_workers), 1, HB_WORKERS_MAX },
    { "request_workers", G_STRUCT_OFFSET(HbDaemonConf, request_workers), 1, HB_WORKERS_MAX },
    { "host_share", HB_BREAKER_OFFSET(share), 1, 100 },
    { "host_min", HB_BREAKER_OFFSET(min), 1, 100000 },
    { "host_hold", HB_BREAKER_OFFSET(hold), 1, 86400 },
    { "host_window", HB_BREAKER_OFFSET(window), 0, 86400 },
    { "hook_timeout", G_STRUCT_OFFSET(HbDaemonConf, hook_timeout), 1, HB_HOOK_TIMEOUT_MAX },
};


void
hbDaemonConfInit(HbDaemonConf *conf)
{
    *conf = (HbDaemonConf) {
        .uri = g_strdup("qemu:///system"),
        .monitor_all = FALSE,
        .ping_workers = 4,
        .suspect_workers = 8,
        .request_workers = 4,
        .state_dir = g_strdup(HB_STATE_DIR_DEFAULT),
        .hooks_dir = g_strdup(HB_HOOKS_DIR_DEFAULT),
        .hook_timeout = HB_HOOK_TIMEOUT_DEFAULT,
        .cluster_tools = g_strdup(HB_CLUSTER_TOOLS_DEFAULT),
    };
    hbConfigInitDefaults(&conf->defaults);
    hbBreakerConfInit(&conf->breaker);
}


void
hbDaemonConfClear(HbDaemonConf *conf)
{
    g_clear_pointer(&conf->uri, g_free);
    g_clear_pointer(&conf->state_dir, g_free);
    g_clear_pointer(&conf->metrics_listen, g_free);
    g_clear_pointer(&conf->hooks_dir, g_free);
    g_clear_pointer(&conf->cluster_tools, g_free);
}


static int
hbDaemonConfNumberKey(const char *key)
{
    for (guint i = 0; i < G_N_ELEMENTS(hbDaemonConfNumbers); i++) {
        if (g_str_equal(key, hbDaemonConfNumbers[i].key))
            return i;
    }
    return -1;
}


/* A deep copy: @dst owns its own strings. */
void
hbDaemonConfCopy(HbDaemonConf *dst, const HbDaemonConf *src)
{
    *dst = *src;
    dst->uri = g_strdup(src->uri);
    dst->state_dir = g_strdup(src->state_dir);
    dst->metrics_listen = g_strdup(src->metrics_listen);
    dst->hooks_dir = g_strdup(src->hooks_dir);
    dst->cluster_tools = g_strdup(src->cluster_tools);
}


/*
 * GKeyFile keeps no line numbers: index the text once so errors can point
 * at the line of a key ("group\nkey", its last occurrence, the one GKeyFile
 * keeps) or of a group header ("group", its first occurrence). One pass, so
 * a file full of errors costs no more than its length.
 */
static GHashTable *
hbDaemonConfLineIndex(const char *text)
{
    g_autoptr(GHashTable) index = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                        g_free, NULL);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autofree char *group = NULL;

    for (guint i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        size_t len = strlen(line);
        const char *eq;

        if (line[0] == '[' && len > 1 && line[len - 1] == ']') {
            g_free(group);
            group = g_strndup(line + 1, len - 2);
            if (!g_hash_table_contains(index, group))
                g_hash_table_insert(index, g_strdup(group), GUINT_TO_POINTER(i + 1));
        } else if (group && line[0] != '#' && (eq = strchr(line, '='))) {
            g_autofree char *key = g_strchomp(g_strndup(line, eq - line));
            g_hash_table_insert(index, g_strdup_printf("%s\n%s", group, key),
                                GUINT_TO_POINTER(i + 1));
        }
    }
    return g_steal_pointer(&index);
}


static void G_GNUC_PRINTF(6, 7)
hbDaemonConfError(GPtrArray *errors, const char *path, GHashTable *lines,
                  const char *group, const char *key, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    g_autofree char *where = key ? g_strdup_printf("%s\n%s", group, key) : g_strdup(group);
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(errors, g_strdup_printf("%s:%u: %s", path,
                                            GPOINTER_TO_UINT(g_hash_table_lookup(lines, where)),
                                            msg));
}


/*
 * The keys of @group, each once: GKeyFile lists a repeated key once per
 * line although it keeps only the last value.
 */
static GStrv
hbDaemonConfKeys(GKeyFile *kf, const char *group)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GStrvBuilder) unique = g_strv_builder_new();

    for (guint i = 0; keys && keys[i]; i++) {
        if (g_hash_table_add(seen, keys[i]))
            g_strv_builder_add(unique, keys[i]);
    }
    return g_strv_builder_end(unique);
}


/* yes or no, as in the metadata, or GKeyFile's true or false. */
static int
hbDaemonConfBoolean(GKeyFile *kf, const char *key, const char *value, gboolean *b)
{
    g_autoptr(GError) err = NULL;
    gboolean parsed;

    if (g_str_equal(value, "yes") || g_str_equal(value, "no")) {
        *b = g_str_equal(value, "yes");
        return 0;
    }
    parsed = g_key_file_get_boolean(kf, HB_DAEMON_GROUP, key, &err);
    if (err)
        return -1;
    *b = parsed;
    return 0;
}


static void
hbDaemonConfLoadDaemon(HbDaemonConf *conf, GKeyFile *kf, const char *path,
                       GHashTable *lines, GPtrArray *errors)
{
    g_auto(GStrv) keys = hbDaemonConfKeys(kf, HB_DAEMON_GROUP);

    for (guint i = 0; keys[i]; i++) {
        const char *key = keys[i];
        g_autofree char *value = g_key_file_get_value(kf, HB_DAEMON_GROUP, key, NULL);
        guint64 num;
        int number;

        if (g_str_equal(key, "uri")) {
            g_free(conf->uri);
            conf->uri = g_strdup(value);
        } else if (g_str_equal(key, "state_dir") || g_str_equal(key, "hooks_dir") ||
                   g_str_equal(key, "cluster_tools")) {
            char **member = g_str_equal(key, "hooks_dir") ? &conf->hooks_dir :
                g_str_equal(key, "cluster_tools") ? &conf->cluster_tools : &conf->state_dir;
            if (value[0] && !g_path_is_absolute(value)) {
                hbDaemonConfError(errors, path, lines, HB_DAEMON_GROUP, key,
                                  "%s: '%s' is not an absolute path", key, value);
            } else {
                g_free(*member);
                *member = g_strdup(value);
            }
        } else if (g_str_equal(key, "monitor_all") || g_str_equal(key, "dry_run")) {
            gboolean *member = g_str_equal(key, "dry_run") ? &conf->dry_run
                                                           : &conf->monitor_all;
            if (hbDaemonConfBoolean(kf, key, value, member) < 0)
                hbDaemonConfError(errors, path, lines, HB_DAEMON_GROUP, key,
                                  "%s: '%s' is not yes, no, true or false", key, value);
        } else if ((number = hbDaemonConfNumberKey(key)) >= 0) {
            guint min = hbDaemonConfNumbers[number].min;
            guint max = hbDaemonConfNumbers[number].max;

            if (!g_ascii_string_to_unsigned(value, 10, min, max, &num, NULL))
                hbDaemonConfError(errors, path, lines, HB_DAEMON_GROUP, key,
                                  "%s: '%s' is not a whole number from %u to %u",
                                  key, value, min, max);
            else
                G_STRUCT_MEMBER(guint, conf, hbDaemonConfNumbers[number].offset) = num;
        } else {
            hbDaemonConfError(errors, path, lines, HB_DAEMON_GROUP, key,
                              "unknown key '%s' in [%s]", key, HB_DAEMON_GROUP);
        }
    }
}


static void
hbDaemonConfLoadDefaults(HbDaemonConf *conf, GKeyFile *kf, const char *path,
                         GHashTable *lines, GPtrArray *errors)
{
    g_auto(GStrv) keys = hbDaemonConfKeys(kf, HB_DEFAULTS_GROUP);
    g_autoptr(GError) err = NULL;

    for (guint i = 0; keys[i]; i++) {
        g_autofree char *value = g_key_file_get_value(kf, HB_DEFAULTS_GROUP, keys[i], NULL);
        int key = hbKeyFromString(keys[i]);
        g_autoptr(GError) kerr = NULL;

        if (key < 0)
            hbDaemonConfError(errors, path, lines, HB_DEFAULTS_GROUP, keys[i],
                              "unknown key '%s' in [%s]", keys[i], HB_DEFAULTS_GROUP);
        else if (hbConfigSetKey(&conf->defaults, key, value, &kerr) < 0)
            hbDaemonConfError(errors, path, lines, HB_DEFAULTS_GROUP, keys[i],
                              "%s", kerr->message);
    }
    if (hbConfigCheck(&conf->defaults, &err) < 0)
        hbDaemonConfError(errors, path, lines, HB_DEFAULTS_GROUP, "rate", "%s", err->message);
}


GSocketAddress *
hbDaemonConfListenAddress(const char *listen, GError **err)
{
    g_autoptr(GInetAddress) address = NULL;
    g_autofree char *host = NULL;
    const char *colon = strrchr(listen, ':');
    guint64 port;

    if (!colon || !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL)) {
        g_set_error(err, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                    "'%s' does not end in :PORT (1 to 65535)", listen);
        return NULL;
    }
    /* "[::1]:": the brackets keep an IPv6 address's colons apart from the port's. */
    if (listen[0] == '[' && colon > listen + 1 && colon[-1] == ']') {
        host = g_strndup(listen + 1, colon - listen - 2);
        address = g_inet_address_new_from_string(host);
        if (address && g_inet_address_get_family(address) != G_SOCKET_FAMILY_IPV6)
            g_clear_object(&address);
    } else {
        host = g_strndup(listen, colon - listen);
        if (!strchr(host, ':'))
            address = g_inet_address_new_from_string(host);
    }
    if (!address) {
        g_set_error(err, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                    "'%s' is not ADDRESS:PORT with an IPv4 address, or [ADDRESS]:PORT "
                    "with an IPv6 one (no host names)", listen);
        return NULL;
    }
    return g_inet_socket_address_new(address, port);
}


static void
hbDaemonConfLoadMetrics(HbDaemonConf *conf, GKeyFile *kf, const char *path,
                        GHashTable *lines, GPtrArray *errors)
{
    g_auto(GStrv) keys = hbDaemonConfKeys(kf, HB_METRICS_GROUP);

    for (guint i = 0; keys[i]; i++) {
        g_autofree char *value = g_key_file_get_value(kf, HB_METRICS_GROUP, keys[i], NULL);
        g_autoptr(GSocketAddress) address = NULL;
        g_autoptr(GError) err = NULL;

        if (!g_str_equal(keys[i], "listen")) {
            hbDaemonConfError(errors, path, lines, HB_METRICS_GROUP, keys[i],
                              "unknown key '%s' in [%s]", keys[i], HB_METRICS_GROUP);
            continue;
        }
        g_clear_pointer(&conf->metrics_listen, g_free);
        /* Empty: no endpoint, as when the key is absent. */
        if (!value[0])
            continue;
        if (!(address = hbDaemonConfListenAddress(value, &err)))
            hbDaemonConfError(errors, path, lines, HB_METRICS_GROUP, keys[i],
                              "listen: %s", err->message);
        else
            conf->metrics_listen = g_strdup(value);
    }
}


/*
 * Parse @text, the contents of the file @path (used in messages only), on
 * top of what @conf holds. Every problem is appended to @errors as
 * "file:line: message"; returns -1 if there was any.
 */
int
hbDaemonConfParse(HbDaemonConf *conf, const char *path, const char *text,
                  GPtrArray *errors)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) lines = NULL;
    g_auto(GStrv) groups = NULL;
    guint before = errors->len;

    /* Translations kept, so that "key[xx]" is an unknown key in every
     * locale, not in some only (GKeyFile drops those it finds of no use). */
    if (!g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_KEEP_TRANSLATIONS, &err)) {
        g_ptr_array_add(errors, g_strdup_printf("%s: %s", path, err->message));
        return -1;
    }
    lines = hbDaemonConfLineIndex(text);

    groups = g_key_file_get_groups(kf, NULL);
    for (guint i = 0; groups[i]; i++) {
        if (!g_str_equal(groups[i], HB_DAEMON_GROUP) &&
            !g_str_equal(groups[i], HB_DEFAULTS_GROUP) &&
            !g_str_equal(groups[i], HB_METRICS_GROUP))
            hbDaemonConfError(errors, path, lines, groups[i], NULL,
                              "unknown group [%s]", groups[i]);
    }
    hbDaemonConfLoadDaemon(conf, kf, path, lines, errors);
    hbDaemonConfLoadDefaults(conf, kf, path, lines, errors);
    hbDaemonConfLoadMetrics(conf, kf, path, lines, errors);

    return errors->len == before ? 0 : -1;
}


/*
 * Load @path on top of the built-in defaults. Every problem is appended to
 * @errors as "file:line: message"; returns -1 if there was any.
 */
/*
 * The file's text, NUL-terminated. Not g_file_get_contents: a FIFO or a
 * device (the file replaced by a link to /dev/zero, a pipe) would stall
 * the main loop on a reload, or fill the memory. A symbolic link is
 * followed: the admin's to make.
 */
static int
hbDaemonConfRead(const char *path, char **text, GError **error)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    g_autofree char *buf = NULL;
    struct stat st;
    gsize len = 0;
    int errnum = 0;

    if (fd < 0) {
        errnum = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errnum), "%s",
                    g_strerror(errnum));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > HB_DAEMON_CONF_MAX) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "not a regular file of at most %d bytes", HB_DAEMON_CONF_MAX);
        close(fd);
        return -1;
    }
    /* The size may change under us: never more than the bound. */
    buf = g_malloc(HB_DAEMON_CONF_MAX + 1);
    while (len <= HB_DAEMON_CONF_MAX) {
        ssize_t n = read(fd, buf + len, HB_DAEMON_CONF_MAX + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            errnum = errno;
        if (n <= 0)
            break;
        len += n;
    }
    close(fd);
    if (errnum || len > HB_DAEMON_CONF_MAX) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s",
                    errnum ? g_strerror(errnum) : "larger than expected");
        return -1;
    }
    buf[len] = '\0';
    *text = g_steal_pointer(&buf);
    return 0;
}


int
hbDaemonConfLoad(HbDaemonConf *conf, const char *path, gboolean missing_ok,
                 GPtrArray *errors)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;

    if (hbDaemonConfRead(path, &text, &err) < 0) {
        if (missing_ok && g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return 0;
        g_ptr_array_add(errors, g_strdup_printf("%s: %s", path, err->message));
        return -1;
    }
    return hbDaemonConfParse(conf, path, text, errors);
}


/* The breaker's figures are the numbers that apply live. */
static gboolean
hbDaemonConfNumberIsLive(guint number)
{
    return g_str_has_prefix(hbDaemonConfNumbers[number].key, "host_");
}


GStrv
hbDaemonConfChanged(const HbDaemonConf *running, const HbDaemonConf *next, gboolean live)
{
    g_autoptr(GStrvBuilder) changed = g_strv_builder_new();
    const struct {
        const char *key;
        gboolean differs;
        gboolean live;
    } others[] = {
        { "uri", g_strcmp0(running->uri, next->uri) != 0, FALSE },
        /* Which domains are watched is decided as each is read: the next
         * event would bring some in and not others. */
        { "monitor_all", running->monitor_all != next->monitor_all, FALSE },
        { "dry_run", running->dry_run != next->dry_run, TRUE },
        { "state_dir", g_strcmp0(running->state_dir, next->state_dir) != 0, FALSE },
        { "hooks_dir", g_strcmp0(running->hooks_dir, next->hooks_dir) != 0, FALSE },
        { "cluster_tools", g_strcmp0(running->cluster_tools, next->cluster_tools) != 0,
          FALSE },
        { "[metrics] listen", g_strcmp0(running->metrics_listen, next->metrics_listen) != 0,
          FALSE },
        { "[defaults]", memcmp(&running->defaults, &next->defaults,
                               sizeof(next->defaults)) != 0, TRUE },
    };

    for (guint i = 0; i < G_N_ELEMENTS(others); i++) {
        if (others[i].differs && others[i].live == live)
            g_strv_builder_add(changed, others[i].key);
    }
    for (guint i = 0; i < G_N_ELEMENTS(hbDaemonConfNumbers); i++) {
        gsize offset = hbDaemonConfNumbers[i].offset;

        if (G_STRUCT_MEMBER(guint, running, offset) != G_STRUCT_MEMBER(guint, next, offset) &&
            hbDaemonConfNumberIsLive(i) == live)
            g_strv_builder_add(changed, hbDaemonConfNumbers[i].key);
    }
    return g_strv_builder_end(changed);
}


void
hbDaemonConfApplyLive(HbDaemonConf *running, const HbDaemonConf *next)
{
    running->dry_run = next->dry_run;
    running->defaults = next->defaults;
    for (guint i = 0; i < G_N_ELEMENTS(hbDaemonConfNumbers); i++) {
        gsize offset = hbDaemonConfNumbers[i].offset;

        if (hbDaemonConfNumberIsLive(i))
            G_STRUCT_MEMBER(guint, running, offset) = G_STRUCT_MEMBER(guint, next, offset);
    }
}
