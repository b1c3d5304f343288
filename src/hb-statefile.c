/*
 * The files kept in the state directory. They outlive the daemon and
 * decide whether a domain is restarted, so only files the daemon wrote,
 * in a directory nobody else can write, are read back.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb-api.h"
#include "hb-state.h"
#include "hb-statefile.h"
#include "hb-util.h"

#define HB_STATE_SUFFIX ".state"
#define HB_CONFIG_SUFFIX ".config"
/* No suffix of a domain's: hbStateFileSweep leaves it alone. */
#define HB_MAINTENANCE_FILE "maintenance"
/* Far more than either file holds (1000 episode starts, a metadata element). */
#define HB_FILE_MAX (1024 * 1024)


/*
 * Others could plant, replace or remove files in a directory they can
 * write, and so decide whether a domain is restarted. The directory is
 * opened (not followed if a symbolic link) and checked at start and again
 * before every read, since its mode may have changed; the read then goes
 * through the descriptor checked, so the path cannot be swapped meanwhile.
 * Returns the descriptor, or -1 (and a warning, unless it does not exist).
 */
static int
hbStateFileDirOpen(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;

    if (fd < 0) {
        if (errno != ENOENT)
            g_warning("Cannot use the state directory %s: %s", dir,
                      errno == ELOOP ? "it is a symbolic link" : g_strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        g_warning("Not using the state directory %s: it must be a directory owned by "
                  "uid %u that only its owner can write (it is uid %u, mode %04o)",
                  dir, (guint) geteuid(), (guint) st.st_uid, (guint) (st.st_mode & 07777));
        close(fd);
        return -1;
    }
    return fd;
}


int
hbStateFileCheckDir(const char *dir)
{
    int fd;

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_warning("Cannot create the state directory %s: %s", dir, g_strerror(errno));
        return -1;
    }
    if ((fd = hbStateFileDirOpen(dir)) < 0)
        return -1;
    close(fd);
    return 0;
}


/* Read @uuid@suffix from @dir, checked as hbStateFileDirOpen() says. */
static int
hbStateFileRead(const char *dir, const char *uuid, const char *suffix, char **text,
                GError **error)
{
    g_autofree char *name = g_strconcat(uuid, suffix, NULL);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    int fd = hbStateFileDirOpen(dir);
    int ret;

    if (fd < 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: not read", path);
        return -1;
    }
    ret = hbUtilReadFileAt(fd, path, name, HB_FILE_MAX, text, error);
    close(fd);
    return ret;
}


static char *
hbStateFilePath(const char *dir, const char *uuid, const char *suffix)
{
    if (!dir[0])
        return NULL;
    return g_strdup_printf("%s/%s%s", dir, uuid, suffix);
}


/* Monotonic times are only good for this boot of the host: files keep wall time. */
static gint64
hbStateFileRealOffset(void)
{
    return g_get_real_time() - g_get_monotonic_time();
}


void
hbStateFileSave(const char *dir, const char *uuid, const char *name,
                const HbEngineMemory *memory)
{
    g_autofree char *path = hbStateFilePath(dir, uuid, HB_STATE_SUFFIX);
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;

    if (!path)
        return;
    text = hbStateFormat(name, memory, hbStateFileRealOffset());
    /* Atomic (rename), but no fsync: this runs on the main loop. */
    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &err))
        g_warning("Domain '%s': cannot save its state: %s", name, err->message);
}


gboolean
hbStateFileLoad(const char *dir, const char *uuid, const char *name, HbEngineMemory *memory)
{
    g_autofree char *path = hbStateFilePath(dir, uuid, HB_STATE_SUFFIX);
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    g_autofree char *saved_name = NULL;

    if (!path)
        return FALSE;
    if (hbStateFileRead(dir, uuid, HB_STATE_SUFFIX, &text, &err) < 0 ||
        hbStateParse(text, strlen(text), hbStateFileRealOffset(), g_get_monotonic_time(),
                     &saved_name, memory, &err) < 0) {
        if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_warning("Domain '%s': cannot read %s: %s", name, path, err->message);
        return FALSE;
    }
    if (g_strcmp0(saved_name, name) != 0) {
        /* Renamed or a new definition with the old UUID while we were
         * down: the episode was another domain's. */
        g_message("Domain '%s': ignoring saved state of domain '%s' with the same UUID",
                  name, saved_name ? saved_name : "(none)");
        hbEngineMemoryClear(memory);
        g_unlink(path);
        return FALSE;
    }
    return TRUE;
}


int
hbStateFileSaveConfig(const char *dir, const char *uuid, const char *name,
                      const char *metadata)
{
    g_autofree char *path = hbStateFilePath(dir, uuid, HB_CONFIG_SUFFIX);
    g_autoptr(GKeyFile) kf = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;

    if (!path)
        return 0;
    if (!metadata) {
        g_unlink(path);
        return 0;
    }
    kf = g_key_file_new();
    g_key_file_set_string(kf, "domain", "name", name);
    g_key_file_set_string(kf, "heartbeat", "metadata", metadata);
    text = g_key_file_to_data(kf, NULL, NULL);
    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &err)) {
        g_warning("Domain '%s': cannot save its configuration: %s", name, err->message);
        return -1;
    }
    return 0;
}


/* The metadata saved for the domain @name, or NULL. */
static char *
hbStateFileSavedMetadata(const char *dir, const char *uuid, const char *name)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    g_autofree char *saved_name = NULL;

    if (hbStateFileRead(dir, uuid, HB_CONFIG_SUFFIX, &text, &err) < 0) {
        if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_warning("Domain '%s': cannot read %s", name, err->message);
        return NULL;
    }
    if (!g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, NULL))
        return NULL;
    saved_name = g_key_file_get_string(kf, "domain", "name", NULL);
    if (g_strcmp0(saved_name, name) != 0)
        return NULL;
    return g_key_file_get_string(kf, "heartbeat", "metadata", NULL);
}


void
hbStateFileRecallConfig(const char *dir, const char *uuid, const char *name,
                        const HbConfig *defaults, HbConfig *cfg)
{
    g_autofree char *path = hbStateFilePath(dir, uuid, HB_CONFIG_SUFFIX);
    g_autofree char *saved = NULL;
    g_autoptr(GError) err = NULL;

    if (path && (saved = hbStateFileSavedMetadata(dir, uuid, name)) &&
        hbConfigParseMetadata(saved, defaults, cfg, &err) == 0) {
        g_message("Domain '%s': invalid metadata, using the last valid configuration "
                  "saved in %s", name, path);
        return;
    }
    *cfg = *defaults;
    cfg->action = HB_ACTION_NONE;
    g_message("Domain '%s': invalid metadata and no valid configuration known: "
              "watched with the defaults, notify only", name);
}


void
hbStateFileForget(const char *dir, const char *uuid)
{
    g_autofree char *state = hbStateFilePath(dir, uuid, HB_STATE_SUFFIX);
    g_autofree char *config = hbStateFilePath(dir, uuid, HB_CONFIG_SUFFIX);

    if (state)
        g_unlink(state);
    if (config)
        g_unlink(config);
}


void
hbStateFileSweep(const char *dir, GHashTable *keep)
{
    g_autoptr(GDir) gdir = NULL;
    const char *entry;

    if (!dir[0] || !(gdir = g_dir_open(dir, 0, NULL)))
        return;
    while ((entry = g_dir_read_name(gdir))) {
        g_autofree char *uuid = NULL;
        const char *dot = strrchr(entry, '.');

        if (!dot || (!g_str_equal(dot, HB_STATE_SUFFIX) && !g_str_equal(dot, HB_CONFIG_SUFFIX)))
            continue;
        uuid = g_strndup(entry, dot - entry);
        if (!g_uuid_string_is_valid(uuid) || g_hash_table_contains(keep, uuid))
            continue;
        g_message("Domain %s: no longer defined or monitored, removing its saved %s",
                  uuid, dot + 1);
        hbStateFileForget(dir, uuid);
    }
}


int
hbStateFileSaveMaintenance(const char *dir, gint64 until, GError **error)
{
    g_autofree char *path = hbStateFilePath(dir, HB_MAINTENANCE_FILE, "");
    g_autoptr(GKeyFile) kf = NULL;
    g_autofree char *end = NULL;
    g_autofree char *text = NULL;

    if (!path) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "no state_dir: a host-wide window would not outlive the daemon");
        return -1;
    }
    if (!until) {
        if (g_unlink(path) < 0 && errno != ENOENT) {
            g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "cannot remove %s: %s", path,
                        g_strerror(errno));
            return -1;
        }
        return 0;
    }
    kf = g_key_file_new();
    end = hbApiFormatUtc(until);
    g_key_file_set_string(kf, "maintenance", "until", end);
    text = g_key_file_to_data(kf, NULL, NULL);
    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                  error))
        return -1;
    return 0;
}


gint64
hbStateFileLoadMaintenance(const char *dir)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    g_autofree char *end = NULL;
    gint64 until;

    if (!dir[0])
        return 0;
    if (hbStateFileRead(dir, HB_MAINTENANCE_FILE, "", &text, &err) < 0) {
        if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_warning("Cannot read the host-wide maintenance window: %s", err->message);
        return 0;
    }
    if (!g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, &err) ||
        !(end = g_key_file_get_string(kf, "maintenance", "until", &err)) ||
        hbApiParseUtc(end, &until, &err) < 0) {
        g_warning("Ignoring the host-wide maintenance window in %s/%s: %s", dir,
                  HB_MAINTENANCE_FILE, err->message);
        return 0;
    }
    return until;
}
