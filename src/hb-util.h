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
const char *hbUtilLastError(void);
void hbUtilSetLibvirtError(GError **error, const char *what);

/* The seed's error codes; D-Bus carries them as named errors. */
#define HB_ERROR (hbErrorQuark())
GQuark hbErrorQuark(void);

typedef enum {
    HB_ERROR_FAILED,           /* unexpected error */
    HB_ERROR_VM_UNKNOWN,
    HB_ERROR_VM_NOT_RUNNING,
    HB_ERROR_AGENT_UNAVAILABLE, /* "additions not available" */
    HB_ERROR_INVALID_ARGUMENT,
    HB_ERROR_BUSY,             /* too many requests under way: try again later */

    HB_ERROR_LAST
} HbErrorCode;
