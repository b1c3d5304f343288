/*
 * The heartbeat events as structured log records (hb-log.h), and the
 * daemon's logging set-up.
 */
#include <config.h>

#include <locale.h>

#include "hb-log.h"
#include "hb-util.h"

HB_ENUM_IMPL(hbLogEvent, HbLogEvent, HB_LOG_LAST,
             "heartbeat-stopped",
             "heartbeat-resumed",
             "restart-attempt",
             "restarts-exhausted",
             "storm-cap",
             "config-error",
             "escalated",
);

/*
 * Made once from /proc/sys/kernel/random/uuid, as `systemd-id128 new` does.
 * Never change one: operators' queries and alerts name them.
 */
static const char *const hbLogEventIds[] = {
    [HB_LOG_STOPPED] = "4c77f058261f4b27843b04bb3a6bc626",
    [HB_LOG_RESUMED] = "9af019aa2f0140ae8a6a1b0122ed4cf1",
    [HB_LOG_ATTEMPT] = "626a636b440543b59bdee99088b54cef",
    [HB_LOG_EXHAUSTED] = "50d8b35b4cb64e5a8e382fdb9b570414",
    [HB_LOG_STORM_CAP] = "b5d07722d5b5432a8c4f8ffefb92e75c",
    [HB_LOG_CONFIG_ERROR] = "dc2fe4741ab54caf8b49ea43daeb0693",
    [HB_LOG_ESCALATED] = "5b6b3312c0774d5197ce4d133c6c1296",
};
G_STATIC_ASSERT(G_N_ELEMENTS(hbLogEventIds) == HB_LOG_LAST);


const char *
hbLogEventId(HbLogEvent event)
{
    return hbLogEventIds[event];
}


/* PRIORITY as GLib gives its own messages (syslog's levels). */
static const char *
hbLogPriority(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR)
        return "3";
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
        return "4";
    if (level & G_LOG_LEVEL_MESSAGE)
        return "5";
    if (level & G_LOG_LEVEL_INFO)
        return "6";
    return "7";
}


void
hbLogEvent(HbLogEvent event, GLogLevelFlags level, const char *name, const char *uuid,
           const HbLogDetails *details, const char *format, ...)
{
    g_autofree char *message = NULL;
    g_autofree char *attempt = NULL;
    const char *glib_domain = G_LOG_DOMAIN;
    GLogField fields[9];     /* room for every field below */
    gsize n = 0;
    va_list args;

    va_start(args, format);
    message = g_strdup_vprintf(format, args);
    va_end(args);
    fields[n++] = (GLogField) { "MESSAGE", message, -1 };
    fields[n++] = (GLogField) { "PRIORITY", hbLogPriority(level), -1 };
    fields[n++] = (GLogField) { "MESSAGE_ID", hbLogEventId(event), -1 };
    fields[n++] = (GLogField) { "VIRT_HEARTBEAT_DOMAIN", name, -1 };
    fields[n++] = (GLogField) { "VIRT_HEARTBEAT_UUID", uuid, -1 };
    if (details && details->attempt) {
        attempt = g_strdup_printf("%u", details->attempt);
        fields[n++] = (GLogField) { "VIRT_HEARTBEAT_ATTEMPT", attempt, -1 };
    }
    if (details && details->action)
        fields[n++] = (GLogField) { "VIRT_HEARTBEAT_ACTION", details->action, -1 };
    if (details && details->result)
        fields[n++] = (GLogField) { "VIRT_HEARTBEAT_RESULT", details->result, -1 };
    /* As g_log() does: a record of no GLib domain has no GLIB_DOMAIN. */
    if (glib_domain)
        fields[n++] = (GLogField) { "GLIB_DOMAIN", glib_domain, -1 };
    g_log_structured_array(level, fields, n);
}


void
hbLogInit(GLogWriterFunc next)
{
    const char *ctype = setlocale(LC_CTYPE, "");

    /*
     * GLib prints a log line on stderr in the locale's charset, and that
     * of the C locale is ASCII: a domain named "wéb" would be "w?b". So
     * the character type comes from the environment, and the C or POSIX
     * locale becomes C.UTF-8, as Python does (PEP 538). Only LC_CTYPE:
     * numbers keep their '.' in every text the daemon writes.
     */
    if (!g_get_charset(NULL) &&
        (!ctype || g_str_equal(ctype, "C") || g_str_equal(ctype, "POSIX")))
        setlocale(LC_CTYPE, "C.UTF-8");
    /* Domain names and guests' texts go into log lines: escaped. */
    g_log_set_writer_func(hbUtilLogWriter, (gpointer) next, NULL);
}
