/*
 * What virt-heartbeatd and its clients share: the bus name and paths, the
 * error domain and its D-Bus names, the API's limits, and text made safe
 * for a terminal. Nothing here needs libvirt, so the CLI links without it.
 */
#pragma once

#include <gio/gio.h>

#include "hb-dbus-generated.h"

/* gdbus-codegen declares cleanups for its classes, not for the interfaces. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbDBusDomain1, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbDBusManager1, g_object_unref)

#define HB_DBUS_NAME "org.virt_heartbeat.Heartbeat1"
#define HB_DBUS_PATH "/org/virt_heartbeat/Heartbeat1"
/* Where the Domain1 objects live, one path element per domain. */
#define HB_DBUS_DOMAINS HB_DBUS_PATH "/domain"

/* ExecuteCommand: its timeout (0 means the default), and what it keeps of
 * each output stream. */
#define HB_EXEC_TIMEOUT_DEFAULT 30
#define HB_EXEC_TIMEOUT_MAX 3600
#define HB_EXEC_OUTPUT_MAX (64 * 1024)

/* The flags of SetParameter and EditMetadata: VIR_DOMAIN_AFFECT_LIVE and
 * _CONFIG; neither is the domain's current state. */
#define HB_API_AFFECT_LIVE (1u << 0)
#define HB_API_AFFECT_CONFIG (1u << 1)

/*
 * The one error domain, daemon and CLI alike, with Virtual PC / Virtual
 * Server's error codes; D-Bus carries them as named errors
 * (org.virt_heartbeat.Error.*). Its quark registers the names: an end that
 * decodes errors before it made one calls it first.
 */
#define HB_ERROR (hbErrorQuark())
GQuark hbErrorQuark(void);

typedef enum {
    HB_ERROR_FAILED,           /* unexpected error */
    HB_ERROR_VM_UNKNOWN,
    HB_ERROR_VM_NOT_RUNNING,
    HB_ERROR_AGENT_UNAVAILABLE, /* "additions not available" */
    HB_ERROR_INVALID_ARGUMENT, /* also: a configuration that is not valid */
    HB_ERROR_BUSY,             /* too many requests under way: try again later */

    HB_ERROR_LAST
} HbErrorCode;

char *hbDBusDomainPath(const char *uuid);

/*
 * Maintenance windows (Pause, PauseAll): a window ends at most this long
 * from now, 30 days; longer is taken for a typo. Its end is kept in the
 * metadata as an ISO 8601 UTC time, 2026-12-01T02:00:00Z: what a
 * "virsh metadata" reader can read and a schema can check.
 */
#define HB_MAINTENANCE_MAX_S (30 * 24 * 3600)

/* @secs since the epoch as YYYY-MM-DDTHH:MM:SSZ. */
char *hbApiFormatUtc(gint64 secs);
/* YYYY-MM-DDTHH:MM:SSZ exactly (the metadata's form), as seconds since the
 * epoch, from 1970 to 2106 (32 bits); -1 with InvalidArgument if not. */
int hbApiParseUtc(const char *text, gint64 *secs, GError **error);
/*
 * The end of a window that begins at @now (seconds since the epoch): it
 * must come after @now and at most HB_MAINTENANCE_MAX_S after it; -1 with
 * InvalidArgument that says which if not.
 */
int hbApiCheckMaintenance(gint64 until, gint64 now, GError **error);

/*
 * Whether a domain in @state (Domain1.State) can answer: -1 with Virtual
 * PC / Virtual Server's VMNotRunning ("not running") or AgentNotAvailable
 * ("additions not available") if not. A paused domain is not running for a call to its
 * agent (@agent_call), but its heartbeat can still be read.
 */
int hbApiCheckState(const char *state, const char *name, gboolean agent_call, GError **error);

/*
 * A configuration, the Config property of Domain1 (a{sv}; NULL: none), as
 * key=value items joined by @separator: the one text form of it, for the
 * normalized form (hbConfigFormat) and the CLI. Booleans are yes or no,
 * strings escaped as hbUtilEscape does.
 */
char *hbApiConfigText(GVariant *config, const char *separator);

/*
 * For a terminal: a sanitized @text with every character that is not
 * printable escaped, so that no text from a guest or a domain definition
 * can move the cursor, recolour or retitle it. Control characters and bytes
 * that are not UTF-8 become \xNN, other non-printing characters \uNNNN
 * (or \UNNNNNNNN), and a backslash \\.
 */
char *hbUtilEscape(const char *text);

/*
 * A file another program's configuration names (a VirtualDomain config
 * file): a regular file of at most @max bytes, in @contents
 * (NUL-terminated) and @len, or -1 with why in @error. Opened without
 * blocking and checked once open, so a FIFO or device put in its place
 * never stalls the reader; a file that grows meanwhile is read to @max + 1
 * bytes only.
 */
int hbApiReadRegular(const char *path, gsize max, char **contents, gsize *len,
                     GError **error);
