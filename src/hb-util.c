/*
 * Cleanup glue and libvirt error reporting shared by every module.
 */
#include <config.h>

#include "hb-util.h"

GQuark
hbErrorQuark(void)
{
    return g_quark_from_static_string("hb-error-quark");
}


/* libvirt's default handler prints to stderr; we report errors where they occur. */
static void
hbUtilIgnoreError(void *opaque, virErrorPtr err)
{
}


void
hbUtilInitLibvirt(void)
{
    virSetErrorFunc(NULL, hbUtilIgnoreError);
}


const char *
hbUtilLastError(void)
{
    return virGetLastErrorMessage();
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

    g_set_error(error, HB_ERROR, hbUtilErrorCode(err), "%s: %s",
                what, err && err->message ? err->message : "unknown libvirt error");
}


void
hbUtilDefer(GMainContext *context, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
    g_autoptr(GSource) source = g_idle_source_new();

    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, func, data, notify);
    g_source_attach(source, context);
}
