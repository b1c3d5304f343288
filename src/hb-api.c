/*
 * What virt-heartbeatd and its clients share; see hb-api.h.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb-api.h"

static const GDBusErrorEntry hbDBusErrors[] = {
    { HB_ERROR_FAILED, "org.virt_heartbeat.Error.Failed" },
    { HB_ERROR_VM_UNKNOWN, "org.virt_heartbeat.Error.VMUnknown" },
    { HB_ERROR_VM_NOT_RUNNING, "org.virt_heartbeat.Error.VMNotRunning" },
    { HB_ERROR_AGENT_UNAVAILABLE, "org.virt_heartbeat.Error.AgentNotAvailable" },
    { HB_ERROR_INVALID_ARGUMENT, "org.virt_heartbeat.Error.InvalidArgument" },
    { HB_ERROR_BUSY, "org.virt_heartbeat.Error.Busy" },
};
G_STATIC_ASSERT(G_N_ELEMENTS(hbDBusErrors) == HB_ERROR_LAST);


/* The quark, its D-Bus error names registered on first use, as libvirt-dbus does. */
GQuark
hbErrorQuark(void)
{
    static gsize quark;

    g_dbus_error_register_error_domain("hb-error-quark", &quark,
                                       hbDBusErrors, G_N_ELEMENTS(hbDBusErrors));
    return (GQuark) quark;
}


char *
hbDBusDomainPath(const char *uuid)
{
    g_autofree char *element = g_strdelimit(g_strdup(uuid), "-", '_');

    return g_strdup_printf("%s/%s", HB_DBUS_DOMAINS, element);
}


int
hbApiCheckState(const char *state, const char *name, gboolean agent_call, GError **error)
{
    if (g_str_equal(state, "not-running") || (agent_call && g_str_equal(state, "paused"))) {
        g_set_error(error, HB_ERROR, HB_ERROR_VM_NOT_RUNNING, "domain '%s' is not running",
                    name);
        return -1;
    }
    if (g_str_equal(state, "no-agent")) {
        g_set_error(error, HB_ERROR, HB_ERROR_AGENT_UNAVAILABLE,
                    "domain '%s' has no guest agent channel", name);
        return -1;
    }
    return 0;
}


static char *
hbApiValueText(GVariant *value)
{
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
        return g_strdup(g_variant_get_boolean(value) ? "yes" : "no");
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
        return hbUtilEscape(g_variant_get_string(value, NULL));
    return g_variant_print(value, FALSE);
}


char *
hbApiConfigText(GVariant *config, const char *separator)
{
    GString *out = g_string_new(NULL);
    GVariantIter iter;
    const char *key;
    GVariant *value;

    if (!config)
        return g_string_free(out, FALSE);
    g_variant_iter_init(&iter, config);
    while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
        g_autofree char *text = hbApiValueText(value);

        g_string_append_printf(out, "%s%s=%s", out->len ? separator : "", key, text);
    }
    return g_string_free(out, FALSE);
}


char *
hbUtilEscape(const char *text)
{
    GString *out = g_string_new(NULL);
    const char *p = text ? text : "";

    while (*p) {
        gunichar c = g_utf8_get_char_validated(p, -1);
        const char *next;

        if (c == (gunichar) -1 || c == (gunichar) -2) {
            g_string_append_printf(out, "\\x%02x", (guchar) *p++);
            continue;
        }
        next = g_utf8_next_char(p);
        if (c == '\\')
            g_string_append(out, "\\\\");
        else if (c < 0x80 && !g_ascii_isprint(c))
            g_string_append_printf(out, "\\x%02x", c);
        else if (c >= 0x80 && !g_unichar_isprint(c))
            g_string_append_printf(out, c > 0xFFFF ? "\\U%08x" : "\\u%04x", c);
        else
            g_string_append_len(out, p, next - p);
        p = next;
    }
    return g_string_free(out, FALSE);
}



char *
hbApiFormatUtc(gint64 secs)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(secs);

    if (!dt)
        return g_strdup("?");
    return g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
}


int
hbApiParseUtc(const char *text, gint64 *secs, GError **error)
{
    static const char form[] = "dddd-dd-ddTdd:dd:ddZ";
    g_autoptr(GDateTime) dt = NULL;
    gboolean shaped = strlen(text) == strlen(form);

    /* The schema's pattern, checked by hand: g_date_time_new_from_iso8601
     * takes many more forms (week dates, offsets, fractions). */
    for (gsize i = 0; shaped && form[i]; i++)
        shaped = form[i] == 'd' ? g_ascii_isdigit(text[i]) : text[i] == form[i];
    if (shaped)
        dt = g_date_time_new_from_iso8601(text, NULL);
    if (!dt || g_date_time_to_unix(dt) < 0 || g_date_time_to_unix(dt) > G_MAXUINT32) {
        g_autofree char *quoted = g_utf8_make_valid(text, MIN(strlen(text), 64));

        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                    "'%s' is not a UTC time YYYY-MM-DDTHH:MM:SSZ from 1970 to 2106", quoted);
        return -1;
    }
    *secs = g_date_time_to_unix(dt);
    return 0;
}


int
hbApiCheckMaintenance(gint64 until, gint64 now, GError **error)
{
    g_autofree char *text = hbApiFormatUtc(until);

    if (until <= now) {
        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                    "maintenance until %s: that is not in the future", text);
        return -1;
    }
    if (until - now > HB_MAINTENANCE_MAX_S) {
        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                    "maintenance until %s: more than %d days from now", text,
                    HB_MAINTENANCE_MAX_S / (24 * 3600));
        return -1;
    }
    return 0;
}


int
hbApiReadRegular(const char *path, gsize max, char **contents, gsize *len, GError **error)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    g_autofree char *buf = NULL;
    const char *why = NULL;
    struct stat st;
    gsize got = 0;
    int errnum = 0;

    *contents = NULL;
    *len = 0;
    if (fd < 0 || fstat(fd, &st) < 0)
        errnum = errno;
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if ((guint64) st.st_size > max)
        why = "larger than expected";
    else
        buf = g_malloc(max + 1);
    while (!errnum && !why && got <= max) {
        ssize_t n = read(fd, buf + got, max + 1 - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            errnum = errno;
        else if (n == 0)
            break;
        else
            got += n;
    }
    if (fd >= 0)
        close(fd);
    if (!errnum && !why && got > max)
        why = "larger than expected";
    if (errnum || why) {
        g_set_error(error, G_FILE_ERROR, errnum ? g_file_error_from_errno(errnum) :
                    G_FILE_ERROR_INVAL, "%s: %s", path, errnum ? g_strerror(errnum) : why);
        return -1;
    }
    buf[got] = '\0';
    *contents = g_steal_pointer(&buf);
    *len = got;
    return 0;
}
