/*
 * Cleanup glue, libvirt error reporting, and the one place text from a
 * guest or about one is made safe, shared by every module.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libxml/parser.h>

#include "hb-util.h"

#define HB_UTIL_CUT_MARK "..."

/* libvirt's default handler prints to stderr; we report errors where they occur. */
static void
hbUtilIgnoreError(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}


void
hbUtilInitLibvirt(void)
{
    virSetErrorFunc(NULL, hbUtilIgnoreError);
}


char *
hbUtilSanitize(const char *text, gssize len, gsize max)
{
    g_autofree char *valid = NULL;
    gsize cut;

    g_assert(max == 0 || max > strlen(HB_UTIL_CUT_MARK));
    if (!text)
        return g_strdup("");
    /* With an explicit length a NUL is invalid too, so none stays inside. */
    valid = g_utf8_make_valid(text, len);
    if (max == 0 || strlen(valid) <= max)
        return g_steal_pointer(&valid);
    cut = max - strlen(HB_UTIL_CUT_MARK);
    while (cut > 0 && (valid[cut] & 0xC0) == 0x80)
        cut--;
    return g_strdup_printf("%.*s" HB_UTIL_CUT_MARK, (int) cut, valid);
}



/* Per thread, like libvirt's own last error. */
static GPrivate hbUtilLastErrorText = G_PRIVATE_INIT(g_free);

const char *
hbUtilLastError(void)
{
    char *text = hbUtilSanitize(virGetLastErrorMessage(), -1, HB_UTIL_ERROR_MAX);

    g_private_replace(&hbUtilLastErrorText, text);
    return text;
}


static HbErrorCode
hbUtilErrorCode(virErrorPtr err)
{
    if (!err)
        return HB_ERROR_FAILED;

    switch ((virErrorNumber) err->code) {
    case VIR_ERR_NO_DOMAIN:
        return HB_ERROR_VM_UNKNOWN;
    case VIR_ERR_OPERATION_INVALID:
        /* "domain is not running" */
        return HB_ERROR_VM_NOT_RUNNING;
    case VIR_ERR_AGENT_UNRESPONSIVE:
    case VIR_ERR_AGENT_UNSYNCED:
    case VIR_ERR_ARGUMENT_UNSUPPORTED: /* "QEMU guest agent is not configured" */
        return HB_ERROR_AGENT_UNAVAILABLE;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
        return HB_ERROR_INVALID_ARGUMENT;
    default:
        return HB_ERROR_FAILED;
    }
}


/* Turn the thread's last libvirt error into @error, prefixed by @what. */
void
hbUtilSetLibvirtError(GError **error, const char *what)
{
    virErrorPtr err = virGetLastError();
    g_autofree char *message = hbUtilSanitize(err && err->message ? err->message :
                                              "unknown libvirt error", -1, HB_UTIL_ERROR_MAX);

    g_set_error(error, HB_ERROR, hbUtilErrorCode(err), "%s: %s", what, message);
}


void
hbUtilDefer(GMainContext *context, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
    g_autoptr(GSource) source = g_idle_source_new();

    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, func, data, notify);
    g_source_attach(source, context);
}


static int
hbUtilFileError(GError **error, int errnum, const char *path, const char *why)
{
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errnum), "%s: %s", path,
                why ? why : g_strerror(errnum));
    return -1;
}


/* Why the file behind @st is not one this process wrote, or NULL. */
static const char *
hbUtilFileForeign(const struct stat *st, gsize max)
{
    if (!S_ISREG(st->st_mode))
        return "not a regular file";
    if (st->st_uid != geteuid() || (st->st_mode & (S_IWGRP | S_IWOTH)))
        return "not owned by this user, or writable by others";
    if (st->st_nlink != 1)
        return "has other hard links";
    if ((guint64) st->st_size > max)
        return "larger than expected";
    return NULL;
}


int
hbUtilReadFileAt(int dirfd, const char *path, const char *name, gsize max, char **contents,
                 GError **error)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    g_autofree char *buf = NULL;
    const char *foreign;
    struct stat st;
    gsize len = 0;

    *contents = NULL;
    if (fd < 0)
        return hbUtilFileError(error, errno, path,
                               errno == ELOOP ? "is a symbolic link" : NULL);
    if (fstat(fd, &st) < 0) {
        int errnum = errno;

        close(fd);
        return hbUtilFileError(error, errnum, path, NULL);
    }
    if ((foreign = hbUtilFileForeign(&st, max))) {
        close(fd);
        return hbUtilFileError(error, EINVAL, path, foreign);
    }
    /* The size may change under us: never read more than @max. */
    buf = g_malloc(max + 1);
    while (len <= max) {
        ssize_t n = read(fd, buf + len, max + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int errnum = errno;

            close(fd);
            return hbUtilFileError(error, errnum, path, NULL);
        }
        if (n == 0)
            break;
        len += n;
    }
    close(fd);
    if (len > max)
        return hbUtilFileError(error, EINVAL, path, "larger than expected");
    buf[len] = '\0';
    *contents = g_steal_pointer(&buf);
    return 0;
}


GLogWriterOutput
hbUtilLogWriter(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                gpointer user_data)
{
    GLogWriterFunc next = user_data ? (GLogWriterFunc) user_data : g_log_writer_default;
    g_autofree GLogField *copy = g_memdup2(fields, n_fields * sizeof(*fields));
    g_autoptr(GPtrArray) escaped = g_ptr_array_new_with_free_func(g_free);

    for (gsize i = 0; i < n_fields; i++) {
        g_autofree char *text = NULL;

        /* The text, and the fields of hb-log.h that a name or libvirt's text go in. */
        if (!g_str_equal(copy[i].key, "MESSAGE") &&
            !g_str_has_prefix(copy[i].key, "VIRT_HEARTBEAT_"))
            continue;
        if (copy[i].length >= 0)
            text = g_strndup(copy[i].value, copy[i].length);
        copy[i].value = hbUtilEscape(text ? text : copy[i].value);
        copy[i].length = -1;
        g_ptr_array_add(escaped, (gpointer) copy[i].value);
    }
    return next(level, copy, n_fields, NULL);
}


xmlDocPtr
hbUtilXmlRead(const char *xml, const char *name)
{
    return xmlReadMemory(xml, strlen(xml), name, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}


char *
hbUtilXmlDump(xmlDocPtr doc, xmlNodePtr node)
{
    xmlBufferPtr buf = xmlBufferCreate();
    char *text;

    xmlNodeDump(buf, doc, node, 0, 0);
    text = g_strdup((const char *) xmlBufferContent(buf));
    xmlBufferFree(buf);
    return text;
}
