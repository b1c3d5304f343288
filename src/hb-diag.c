/*
 * Diagnostics before a restart attempt. Each is saved on a thread of its
 * own, so that the attempt waits for it only up to its bound: first, do
 * no harm; a diagnostic never holds up the reset beyond that.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libxml/xpath.h>

#include "hb-diag.h"
#include "hb-util.h"

/* One diagnostic being saved: shared by the attempt and the thread saving it. */
typedef struct {
    gint refs;
    GMutex lock;
    GCond cond;
    gboolean finished;    /* lock */
    char *file;           /* lock: the path saved */
    char *error;          /* lock: why not */
    HbDiagnostics kind;
    virDomainPtr dom;     /* a reference of its own */
    int dirfd;            /* the domain's directory, a descriptor of its own */
    char *dir;            /* its path, for libvirt's dump and for messages */
    char *base;           /* the file name, without its extension */
    gboolean abandoned;   /* lock: the attempt went on without it */
} HbDiagRun;

/* Domain UUID -> the last episode (guint64 *) a dump was started in. */
static GHashTable *hbDiagDumped;
G_LOCK_DEFINE_STATIC(hbDiagDumped);


/* Whether a dump was started in @job's episode already; if not, it is now. */
static gboolean
hbDiagDumpTaken(const HbJob *job)
{
    guint64 *episode;
    gboolean taken;

    G_LOCK(hbDiagDumped);
    if (!hbDiagDumped)
        hbDiagDumped = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    episode = g_hash_table_lookup(hbDiagDumped, job->uuid);
    taken = episode && *episode == job->episode;
    if (!taken)
        g_hash_table_insert(hbDiagDumped, g_strdup(job->uuid), g_memdup2(&job->episode,
                                                                       sizeof(guint64)));
    G_UNLOCK(hbDiagDumped);
    return taken;
}


gboolean
hbDiagWanted(const HbJob *job, int state, int reason)
{
    if (job->diagnostics == HB_DIAG_NONE || job->observe)
        return FALSE;
    if (job->diagnostics == HB_DIAG_DUMP && job->attempt != 1)
        return FALSE;
    switch ((virDomainState) state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_CRASHED:
        break;
    case VIR_DOMAIN_PAUSED:
        /* Paused by its user: no attempt is made (hbRestartStepOf). */
        if (reason != VIR_DOMAIN_PAUSED_CRASHED)
            return FALSE;
        break;
    case VIR_DOMAIN_NOSTATE:
    case VIR_DOMAIN_SHUTDOWN:
    case VIR_DOMAIN_SHUTOFF:
    case VIR_DOMAIN_PMSUSPENDED:
    case VIR_DOMAIN_LAST:
        return FALSE;
    }
    /* A dump given up at its bound may leave the attempt not made (the
     * reset waited for the dump's job): the next try resets, no new dump. */
    return job->diagnostics != HB_DIAG_DUMP || !hbDiagDumpTaken(job);
}


char *
hbDiagFileName(GDateTime *when, guint64 episode, guint attempt, const char *ext)
{
    g_autofree char *stamp = g_date_time_format(when, "%Y%m%dT%H%M%S");

    /* The milliseconds keep two attempts of one second apart, and in order. */
    return g_strdup_printf("%s.%03dZ-e%" G_GUINT64_FORMAT "-a%u%s%s", stamp,
                           g_date_time_get_microsecond(when) / 1000, episode, attempt,
                           ext ? "." : "", ext ? ext : "");
}


/* @name under @parent (a descriptor), created 0700 if need be, checked and opened. */
static int
hbDiagOpenSubdir(int parent, const char *path, const char *name, GError **error)
{
    struct stat st;
    int fd;

    if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "cannot create %s: %s", path,
                    g_strerror(errno));
        return -1;
    }
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "cannot open %s: %s", path,
                    errno == ELOOP || errno == ENOTDIR ?
                    "a symbolic link, or not a directory" : g_strerror(errno));
        return -1;
    }
    /* Others may read nothing in it: a dump holds the guest's memory. */
    if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0077)) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "not using %s: it must be owned by uid %u, mode 0700", path,
                    (guint) geteuid());
        close(fd);
        return -1;
    }
    return fd;
}


int
hbDiagOpenDir(const char *state_dir, const char *uuid, GError **error)
{
    g_autofree char *top = g_build_filename(state_dir, HB_DIAG_SUBDIR, NULL);
    g_autofree char *path = g_build_filename(top, uuid, NULL);
    struct stat st;
    int state_fd, top_fd, fd;

    if (!state_dir[0]) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "no state_dir");
        return -1;
    }
    if (!g_uuid_string_is_valid(uuid)) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "not a UUID: %s", uuid);
        return -1;
    }
    state_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (state_fd < 0 || fstat(state_fd, &st) < 0 || st.st_uid != geteuid() ||
        (st.st_mode & (S_IWGRP | S_IWOTH))) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "not using the state directory %s: missing, a symbolic link, "
                    "or writable by others", state_dir);
        if (state_fd >= 0)
            close(state_fd);
        return -1;
    }
    top_fd = hbDiagOpenSubdir(state_fd, top, HB_DIAG_SUBDIR, error);
    close(state_fd);
    if (top_fd < 0)
        return -1;
    fd = hbDiagOpenSubdir(top_fd, path, uuid, error);
    close(top_fd);
    return fd;
}


static gint
hbDiagCompareNames(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


void
hbDiagPrune(int dirfd, guint keep)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    int fd = dup(dirfd);
    struct dirent *entry;
    DIR *dir;

    if (fd < 0 || !(dir = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return;
    }
    /* Names begin with the time: their order is the files' age. */
    while ((entry = readdir(dir))) {
        if (g_ascii_isdigit(entry->d_name[0]))
            g_ptr_array_add(names, g_strdup(entry->d_name));
    }
    closedir(dir);
    g_ptr_array_sort(names, hbDiagCompareNames);
    for (guint i = 0; i + keep < names->len; i++) {
        if (unlinkat(dirfd, names->pdata[i], 0) < 0 && errno != ENOENT)
            g_warning("Cannot remove the old diagnostic %s: %s",
                      (char *) names->pdata[i], g_strerror(errno));
    }
}


char *
hbDiagConsolePath(const char *xml)
{
    g_autoptr(xmlDoc) doc = hbUtilXmlRead(xml, "domain.xml");
    xmlXPathContextPtr ctxt;
    xmlXPathObjectPtr obj;
    char *path = NULL;

    if (!doc)
        return NULL;
    ctxt = xmlXPathNewContext(doc);
    /* The first serial port's: a log beside its chardev, or the chardev a file. */
    obj = xmlXPathEval(BAD_CAST "string((/domain/devices/serial/log/@file | "
                       "/domain/devices/serial[@type='file']/source/@path)[1])", ctxt);
    if (obj && obj->stringval && obj->stringval[0] == '/')
        path = g_strdup((const char *) obj->stringval);
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctxt);
    return path;
}


/* All of @len bytes of @buf to @fd. */
static int
hbDiagWriteAll(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}


int
hbDiagCopyTail(const char *path, int outfd, gsize max, GError **error)
{
    /* The path is the domain XML's: no FIFO to block on, no link at its end. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    g_autofree char *buf = g_malloc(max);
    struct stat st;
    gsize len = 0;
    int errnum = 0;

    if (fd < 0) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "%s: %s", path, g_strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size > (off_t) max && lseek(fd, st.st_size - max, SEEK_SET) < 0)
        errnum = errno;
    while (!errnum && len < max) {
        ssize_t n = read(fd, buf + len, max - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            errnum = errno;
        if (n <= 0)
            break;
        len += n;
    }
    close(fd);
    if (!errnum && hbDiagWriteAll(outfd, buf, len) < 0)
        errnum = errno;
    if (errnum) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "%s: %s", path, g_strerror(errnum));
        return -1;
    }
    return 0;
}


static HbDiagRun *
hbDiagRunRef(HbDiagRun *run)
{
    g_atomic_int_inc(&run->refs);
    return run;
}


static void
hbDiagRunUnref(HbDiagRun *run)
{
    if (!run || !g_atomic_int_dec_and_test(&run->refs))
        return;
    g_mutex_clear(&run->lock);
    g_cond_clear(&run->cond);
    g_free(run->file);
    g_free(run->error);
    if (run->dom)
        virDomainFree(run->dom);
    if (run->dirfd >= 0)
        close(run->dirfd);
    g_free(run->dir);
    g_free(run->base);
    g_free(run);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbDiagRun, hbDiagRunUnref)


/* A new file @name in the run's directory, for writing; never one there already. */
static int
hbDiagCreate(HbDiagRun *run, const char *name, GError **error)
{
    int fd = openat(run->dirfd, name,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "cannot create %s/%s: %s", run->dir,
                    name, g_strerror(errno));
    return fd;
}


static int
hbDiagConsole(HbDiagRun *run, const char *part, const char **ext, GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(run->dom, 0);
    g_autofree char *log = xml ? hbDiagConsolePath(xml) : NULL;
    int fd, ret;

    *ext = "console.txt";
    if (!xml) {
        hbUtilSetLibvirtError(error, "cannot read the domain XML");
        return -1;
    }
    if (!log) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "the serial console logs to no file");
        return -1;
    }
    if ((fd = hbDiagCreate(run, part, error)) < 0)
        return -1;
    ret = hbDiagCopyTail(log, fd, HB_DIAG_CONSOLE_MAX, error);
    if (close(fd) < 0 && ret == 0) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "%s: %s", part, g_strerror(errno));
        ret = -1;
    }
    return ret;
}


typedef struct {
    int fd;
    gsize len;
} HbDiagSink;


static int
hbDiagSinkWrite(virStreamPtr st G_GNUC_UNUSED, const char *buf, size_t len, void *opaque)
{
    HbDiagSink *sink = opaque;

    sink->len += len;
    if (sink->len > HB_DIAG_SCREENSHOT_MAX) {
        errno = EFBIG;
        return -1;
    }
    /* What virStreamRecvAll wants back: the bytes taken. */
    return hbDiagWriteAll(sink->fd, buf, len) < 0 ? -1 : (int) len;
}


static int
hbDiagScreenshot(HbDiagRun *run, const char *part, const char **ext, GError **error)
{
    virStreamPtr st = virStreamNew(virDomainGetConnect(run->dom), 0);
    g_autofree char *mime = NULL;
    HbDiagSink sink = { -1, 0 };
    int ret = -1;

    *ext = "img";
    if (!st || (sink.fd = hbDiagCreate(run, part, error)) < 0)
        goto cleanup;
    /* Screen 0: the first video device's. */
    if (!(mime = virDomainScreenshot(run->dom, st, 0, 0))) {
        hbUtilSetLibvirtError(error, "screenshot");
        goto cleanup;
    }
    if (virStreamRecvAll(st, hbDiagSinkWrite, &sink) < 0) {
        hbUtilSetLibvirtError(error, "screenshot");
        virStreamAbort(st);
        goto cleanup;
    }
    if (virStreamFinish(st) < 0) {
        hbUtilSetLibvirtError(error, "screenshot");
        goto cleanup;
    }
    if (g_str_equal(mime, "image/png"))
        *ext = "png";
    else if (g_str_equal(mime, "image/x-portable-pixmap"))
        *ext = "ppm";
    ret = 0;

 cleanup:
    if (sink.fd >= 0 && close(sink.fd) < 0 && ret == 0) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "%s: %s", part, g_strerror(errno));
        ret = -1;
    }
    if (st)
        virStreamFree(st);
    return ret;
}


static int
hbDiagDump(HbDiagRun *run, const char *part, const char **ext, GError **error)
{
    g_autofree char *path = g_build_filename(run->dir, part, NULL);
    int fd;

    *ext = "kdump";
    /* libvirtd opens the path: it finds there a file of ours, made now. */
    if ((fd = hbDiagCreate(run, part, error)) < 0)
        return -1;
    close(fd);
    if (virDomainCoreDumpWithFormat(run->dom, path, VIR_DOMAIN_CORE_DUMP_FORMAT_KDUMP_ZLIB,
                                    VIR_DUMP_MEMORY_ONLY) < 0) {
        hbUtilSetLibvirtError(error, "dump");
        return -1;
    }
    return 0;
}


/*
 * The thread: the file is written as NAME.part and renamed once complete,
 * so a file with its final name is whole, even after the attempt stopped
 * waiting for it.
 */
static gpointer
hbDiagThread(gpointer data)
{
    g_autoptr(HbDiagRun) run = data;
    g_autofree char *part = g_strconcat(run->base, ".part", NULL);
    g_autofree char *name = NULL;
    g_autoptr(GError) err = NULL;
    const char *ext = NULL;
    int ret = -1;

    switch (run->kind) {
    case HB_DIAG_SCREENSHOT:
        ret = hbDiagScreenshot(run, part, &ext, &err);
        break;
    case HB_DIAG_CONSOLE:
        ret = hbDiagConsole(run, part, &ext, &err);
        break;
    case HB_DIAG_DUMP:
        ret = hbDiagDump(run, part, &ext, &err);
        break;
    case HB_DIAG_NONE:
    case HB_DIAG_LAST:
        g_set_error(&err, HB_ERROR, HB_ERROR_FAILED, "no diagnostic");
        break;
    }
    name = g_strconcat(run->base, ".", ext, NULL);
    if (ret == 0 && renameat(run->dirfd, part, run->dirfd, name) < 0) {
        g_set_error(&err, HB_ERROR, HB_ERROR_FAILED, "cannot rename %s: %s", part,
                    g_strerror(errno));
        ret = -1;
    }
    if (ret < 0)
        unlinkat(run->dirfd, part, 0);

    g_mutex_lock(&run->lock);
    if (ret == 0)
        run->file = g_build_filename(run->dir, name, NULL);
    else
        run->error = g_strdup(err->message);
    run->finished = TRUE;
    /* The attempt reported it as timed out: its end is told here. */
    if (run->abandoned) {
        char uuid[VIR_UUID_STRING_BUFLEN] = "";

        virDomainGetUUIDString(run->dom, uuid);
        g_message("Domain %s: the %s given up at its bound ended: %s", uuid,
                  hbDiagnosticsToString(run->kind), ret == 0 ? run->file : run->error);
    }
    g_cond_signal(&run->cond);
    g_mutex_unlock(&run->lock);
    return NULL;
}


/* Wait for @run until @deadline (monotonic); whether it finished. Called with its lock. */
static gboolean
hbDiagWaitUntil(HbDiagRun *run, gint64 deadline)
{
    while (!run->finished) {
        if (!g_cond_wait_until(&run->cond, &run->lock, deadline))
            return run->finished;
    }
    return TRUE;
}


/*
 * Waits up to the kind's bound; past it the attempt goes on and the thread
 * finishes on its own. A dump is not aborted: libvirt refuses for a
 * memory-only one, and what it would abort is another job that ours
 * waits behind, not ours (hb-diag.h).
 */
static void
hbDiagWait(HbJob *job, HbDiagRun *run, guint bound)
{
    gint64 deadline = g_get_monotonic_time() + (gint64) bound * G_USEC_PER_SEC;

    g_mutex_lock(&run->lock);
    run->abandoned = !hbDiagWaitUntil(run, deadline);
    /* Ours still runs: a guest paused for a dump now is paused by it. */
    job->diag_pending = run->abandoned && run->kind == HB_DIAG_DUMP;
    if (run->abandoned)
        job->diag_error = g_strdup_printf("timed out after %u s", bound);
    else if (run->file)
        job->diag_file = g_strdup(run->file);
    else
        job->diag_error = g_strdup(run->error);
    g_mutex_unlock(&run->lock);
}


void
hbDiagSave(HbJob *job, virDomainPtr dom)
{
    guint bound = job->diagnostics == HB_DIAG_DUMP ? HB_DIAG_DUMP_TIMEOUT : HB_DIAG_TIMEOUT;
    g_autoptr(HbDiagRun) run = g_new0(HbDiagRun, 1);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autoptr(GError) err = NULL;
    g_autoptr(GThread) thread = NULL;
    gint64 start = g_get_monotonic_time();

    run->refs = 1;
    g_mutex_init(&run->lock);
    g_cond_init(&run->cond);
    run->kind = job->diagnostics;
    run->dirfd = hbDiagOpenDir(job->diag_dir, job->uuid, &err);
    if (run->dirfd < 0) {
        job->diag_error = g_strdup(err->message);
        return;
    }
    run->dir = g_build_filename(job->diag_dir, HB_DIAG_SUBDIR, job->uuid, NULL);
    run->base = hbDiagFileName(now, job->episode, job->attempt, NULL);
    /* Room for the new one: what is kept is the newest HB_DIAG_KEEP. */
    hbDiagPrune(run->dirfd, HB_DIAG_KEEP - 1);
    virDomainRef(dom);
    run->dom = dom;

    thread = g_thread_try_new("hb-diag", hbDiagThread, hbDiagRunRef(run), &err);
    if (!thread) {
        hbDiagRunUnref(run);
        job->diag_error = g_strdup(err->message);
        return;
    }
    hbDiagWait(job, run, bound);
    job->diag_us = g_get_monotonic_time() - start;
}


char *
hbDiagDescribe(const HbJob *job)
{
    const char *kind = hbDiagnosticsToString(job->diagnostics);

    if (job->diag_file)
        return g_strdup_printf("%s: %s", kind, job->diag_file);
    if (job->diag_error)
        return g_strdup_printf("%s failed: %s", kind, job->diag_error);
    return NULL;
}
