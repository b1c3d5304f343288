/*
 * Small glue shared by every module: cleanup functions for library types
 * and the one place libvirt errors are turned into log lines.
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#define VIR_ENUM_SENTINELS
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hb-api.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)

void hbUtilInitLibvirt(void);
/*
 * Run @func on @context's own loop, from any thread. Unlike
 * g_main_context_invoke() never at once on the calling thread, which GLib
 * does when nobody owns the context (at stop, for one).
 */
void hbUtilDefer(GMainContext *context, GSourceFunc func, gpointer data,
                 GDestroyNotify notify);
/*
 * Text that comes from a guest, or from libvirt about one (agent replies,
 * libvirt's error messages, domain names), is made fit for D-Bus, JSON and
 * logs where it enters: valid UTF-8 (each bad sequence, and a NUL within
 * @len, becomes U+FFFD) and at most @max bytes (0: no limit), cut on a
 * character boundary and ended by "..." when cut. Domain names are made
 * valid but not cut: a name is the domain's identity, and it is set by
 * libvirt's administrators, not by a guest.
 */
#define HB_UTIL_TEXT_MAX 256    /* agent version, OS name */
#define HB_UTIL_ERROR_MAX 1024  /* error messages */
char *hbUtilSanitize(const char *text, gssize len, gsize max);

/*
 * The daemon's log writer: every message, and every VIRT_HEARTBEAT_* field
 * (hb-log.h), escaped as hbUtilEscape does, so that a domain name or a
 * guest's text cannot forge or recolour log lines, then handed to
 * @user_data (a GLogWriterFunc; NULL: GLib's default).
 */
GLogWriterOutput hbUtilLogWriter(GLogLevelFlags level, const GLogField *fields,
                                 gsize n_fields, gpointer user_data);

/* The thread's last libvirt error message, sanitized; valid until the
 * thread's next call of this function. */
const char *hbUtilLastError(void);
void hbUtilSetLibvirtError(GError **error, const char *what);

/*
 * The contents of @name in the directory @dirfd (@path names it in
 * errors), a regular file of at most @max bytes, in @contents
 * (NUL-terminated), or -1 with a G_FILE_ERROR. Files the daemon reads back
 * must be the ones it wrote: a symbolic link, a file of another owner, one
 * others can write or one with other hard links is refused; a FIFO or a
 * device too, without blocking, since one that never ends or never opens
 * must not stall the main loop.
 */
int hbUtilReadFileAt(int dirfd, const char *path, const char *name, gsize max,
                     char **contents, GError **error);

/*
 * XML we read (domain definitions, metadata elements) is parsed one way:
 * no network, nothing printed, the error left in xmlGetLastError(); @name
 * labels it there. NULL if it is not well-formed.
 */
xmlDocPtr hbUtilXmlRead(const char *xml, const char *name);
/* @node of @doc as text, unindented: what libvirt's metadata calls take. */
char *hbUtilXmlDump(xmlDocPtr doc, xmlNodePtr node);
