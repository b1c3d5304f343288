/*
 * The heartbeat events in the log: one structured record per event, with a
 * MESSAGE_ID per kind and the domain, attempt, action and result as fields
 * of their own, so that journalctl can select them. GLib's writers send
 * the record to journald when stderr is the journal, else print MESSAGE.
 */
#pragma once

#include <glib.h>

#include "hb-enum.h"

typedef enum {
    HB_LOG_STOPPED,
    HB_LOG_RESUMED,
    HB_LOG_ATTEMPT,     /* made, observed, withheld, held, dropped, not made, vetoed,
                         * failed, hung */
    HB_LOG_EXHAUSTED,
    HB_LOG_STORM_CAP,
    HB_LOG_CONFIG_ERROR,
    HB_LOG_ESCALATED,   /* reported to the cluster, observed only, or not: why */

    HB_LOG_LAST
} HbLogEvent;

HB_ENUM_DECL(hbLogEvent, HbLogEvent);

/* Its MESSAGE_ID: 32 lower-case hex digits, listed in virt-heartbeatd(8). */
const char *hbLogEventId(HbLogEvent event);

/* The fields an event has where they apply; 0 and NULL: it has none. */
typedef struct {
    guint attempt;
    const char *action;
    const char *result;
} HbLogDetails;

/*
 * Logs @event of the domain @name (@uuid) at @level with the MESSAGE
 * @format; @details may be NULL. The text of MESSAGE is the line printed
 * on stderr, the same as an unstructured message's.
 */
void hbLogEvent(HbLogEvent event, GLogLevelFlags level, const char *name, const char *uuid,
                const HbLogDetails *details, const char *format, ...) G_GNUC_PRINTF(6, 7);

/*
 * The daemon's logging, set up first in main: log lines keep UTF-8 (a
 * domain's name is UTF-8) and go through hbUtilLogWriter to @next (NULL:
 * GLib's default writer, which sends them to journald when stderr is the
 * journal). Once per process, as g_log_set_writer_func().
 */
void hbLogInit(GLogWriterFunc next);
