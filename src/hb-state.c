/*
 * The state file's format. It outlives the daemon and may be damaged or
 * from another host's clock, so every value read is bounded.
 */
#include <config.h>

#include "hb-state.h"
#include "hb-util.h"

#define HB_STATE_GROUP "heartbeat"
#define HB_STATE_ATTEMPTS_MAX 1000
#define HB_STATE_BOOT_TIME_MAX ((gint64) 86400 * G_USEC_PER_SEC)


/* A monotonic time as wall time in the file; 0 stays 0 (not set). */
static gint64
hbStateToReal(gint64 mono, gint64 offset)
{
    return mono ? mono + offset : 0;
}


char *
hbStateFormat(const char *name, const HbEngineMemory *memory, gint64 real_offset)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GString) list = g_string_new(NULL);

    for (guint i = 0; memory->episode_starts && i < memory->episode_starts->len; i++)
        g_string_append_printf(list, "%s%" G_GINT64_FORMAT, i ? ";" : "",
                               g_array_index(memory->episode_starts, gint64, i) + real_offset);
    g_key_file_set_string(kf, "domain", "name", name);
    g_key_file_set_uint64(kf, HB_STATE_GROUP, "episode", memory->episode);
    g_key_file_set_boolean(kf, HB_STATE_GROUP, "open", memory->open);
    g_key_file_set_boolean(kf, HB_STATE_GROUP, "failed", memory->failed);
    g_key_file_set_boolean(kf, HB_STATE_GROUP, "storm_capped", memory->storm_capped);
    g_key_file_set_integer(kf, HB_STATE_GROUP, "attempts", memory->attempts);
    g_key_file_set_int64(kf, HB_STATE_GROUP, "next_attempt",
                         hbStateToReal(memory->next_attempt, real_offset));
    g_key_file_set_boolean(kf, HB_STATE_GROUP, "restart_in_flight", memory->restart_in_flight);
    g_key_file_set_boolean(kf, HB_STATE_GROUP, "start_if_off", memory->start_if_off);
    g_key_file_set_int64(kf, HB_STATE_GROUP, "boot_time", memory->boot_time);
    g_key_file_set_string(kf, HB_STATE_GROUP, "episode_starts", list->str);
    return g_key_file_to_data(kf, NULL, NULL);
}


/* Whether a wall time from the file is set and not absurdly far ahead. */
static gboolean
hbStateTimeValid(gint64 real, gint64 offset, gint64 now)
{
    return real > 0 && real <= now + offset + (gint64) HB_STATE_AHEAD_MAX_S * G_USEC_PER_SEC;
}


/*
 * A deadline from the file as a monotonic time; 0: not set. One before
 * this boot of the host is due at once.
 */
static gint64
hbStateDeadline(GKeyFile *kf, const char *key, gint64 offset, gint64 now)
{
    gint64 real = g_key_file_get_int64(kf, HB_STATE_GROUP, key, NULL);

    return hbStateTimeValid(real, offset, now) ? MAX(real - offset, 1) : 0;
}


int
hbStateParse(const char *data, gsize len, gint64 real_offset, gint64 now,
             char **name, HbEngineMemory *memory, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) starts = NULL;
    gsize n = 0;

    *memory = (HbEngineMemory) { 0 };
    if (name)
        *name = NULL;
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &err)) {
        /* GKeyFile quotes the file as is; the message goes to the log as
         * UTF-8, and a line of the file may be long. */
        g_autofree char *msg = hbUtilSanitize(err->message, -1, HB_UTIL_ERROR_MAX);
        g_set_error_literal(error, err->domain, err->code, msg);
        return -1;
    }
    if (name) {
        g_autofree char *saved = g_key_file_get_string(kf, "domain", "name", NULL);
        *name = saved ? g_utf8_make_valid(saved, -1) : NULL;
    }
    /* GKeyFile reads "-1" as the largest number: the next episode would wrap. */
    memory->episode = g_key_file_get_uint64(kf, HB_STATE_GROUP, "episode", NULL);
    if (memory->episode > HB_STATE_EPISODE_MAX)
        memory->episode = 0;
    memory->open = g_key_file_get_boolean(kf, HB_STATE_GROUP, "open", NULL);
    memory->failed = g_key_file_get_boolean(kf, HB_STATE_GROUP, "failed", NULL);
    memory->storm_capped = g_key_file_get_boolean(kf, HB_STATE_GROUP, "storm_capped", NULL);
    memory->attempts = CLAMP(g_key_file_get_integer(kf, HB_STATE_GROUP, "attempts", NULL),
                             0, HB_STATE_ATTEMPTS_MAX);
    memory->next_attempt = hbStateDeadline(kf, "next_attempt", real_offset, now);
    memory->restart_in_flight = g_key_file_get_boolean(kf, HB_STATE_GROUP,
                                                       "restart_in_flight", NULL);
    memory->start_if_off = g_key_file_get_boolean(kf, HB_STATE_GROUP, "start_if_off", NULL);
    memory->boot_time = CLAMP(g_key_file_get_int64(kf, HB_STATE_GROUP, "boot_time", NULL),
                              0, HB_STATE_BOOT_TIME_MAX);
    memory->episode_starts = g_array_new(FALSE, FALSE, sizeof(gint64));
    starts = g_key_file_get_string_list(kf, HB_STATE_GROUP, "episode_starts", &n, NULL);
    /* The newest are last: only they can count for the storm cap. */
    for (gsize i = n > HB_STATE_STARTS_MAX ? n - HB_STATE_STARTS_MAX : 0; i < n; i++) {
        gint64 real;

        /* One before this boot of the host stays negative: the storm cap's window is exact. */
        if (g_ascii_string_to_signed(starts[i], 10, 1, G_MAXINT64, &real, NULL) &&
            hbStateTimeValid(real, real_offset, now))
            g_array_append_val(memory->episode_starts, (gint64) { real - real_offset });
    }
    return 0;
}
