/*
 * The domain's XML: what the monitor reads of a domain, the guest agent
 * channel added to it, and edits of its <heartbeat/> metadata element.
 * The libvirt calls run on worker threads, never on the main loop.
 */
#include <config.h>

#include <string.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "hb-domxml.h"

#define HB_AGENT_CHANNEL "org.qemu.guest_agent.0"
#define HB_AGENT_CHANNEL_XML \
    "<channel type='unix'><target type='virtio' name='" HB_AGENT_CHANNEL "'/></channel>"


void
hbDomainInfoFree(HbDomainInfo *info)
{
    if (!info)
        return;
    g_free(info->uuid);
    g_free(info->name);
    g_free(info->metadata);
    g_free(info->error);
    g_free(info);
}


/* Fill in what @info needs of the domain XML: agent channel and metadata. */
int
hbDomainXmlInspect(const char *xml, HbDomainInfo *info, GError **error)
{
    g_autoptr(xmlDoc) doc = hbUtilXmlRead(xml, "domain.xml");
    xmlXPathContextPtr ctxt;
    xmlXPathObjectPtr obj;

    if (!doc) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "cannot parse the domain XML");
        return -1;
    }
    ctxt = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctxt, BAD_CAST "hb", BAD_CAST HB_METADATA_URI);

    obj = xmlXPathEval(BAD_CAST "/domain/devices/channel/target[@type='virtio' and "
                       "@name='" HB_AGENT_CHANNEL "']", ctxt);
    info->has_agent = obj && obj->nodesetval && obj->nodesetval->nodeNr > 0;
    info->agent_connected = FALSE;
    if (info->has_agent) {
        g_autofree char *state = (char *) xmlGetProp(obj->nodesetval->nodeTab[0],
                                                     BAD_CAST "state");
        info->agent_connected = g_strcmp0(state, "connected") == 0;
    }
    xmlXPathFreeObject(obj);

    /* libvirt's default is destroy; only preserve leaves the crash to us. */
    obj = xmlXPathEval(BAD_CAST "string(/domain/on_crash)", ctxt);
    info->crash_handled = !(obj && obj->stringval &&
                            xmlStrEqual(obj->stringval, BAD_CAST "preserve"));
    xmlXPathFreeObject(obj);

    /* QEMU runs with -no-reboot: a reset stops the domain like a shutdown. */
    obj = xmlXPathEval(BAD_CAST "string(/domain/on_reboot)", ctxt);
    info->reset_stops = obj && obj->stringval &&
        xmlStrEqual(obj->stringval, BAD_CAST "destroy");
    xmlXPathFreeObject(obj);

    obj = xmlXPathEval(BAD_CAST "/domain/devices/controller[@type='virtio-serial']", ctxt);
    info->has_serial_controller = obj && obj->nodesetval && obj->nodesetval->nodeNr > 0;
    xmlXPathFreeObject(obj);

    info->metadata = NULL;
    obj = xmlXPathEval(BAD_CAST "/domain/metadata/hb:" HB_METADATA_ELEMENT, ctxt);
    if (obj && obj->nodesetval && obj->nodesetval->nodeNr > 0)
        info->metadata = hbUtilXmlDump(doc, obj->nodesetval->nodeTab[0]);
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctxt);
    return 0;
}


HbDomainInfo *
hbDomainXmlRead(virDomainPtr dom)
{
    HbDomainInfo *info = g_new0(HbDomainInfo, 1);
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autofree char *xml = NULL;
    g_autoptr(GError) err = NULL;

    virDomainGetUUIDString(dom, uuid);
    info->uuid = g_strdup(uuid);
    info->name = hbUtilSanitize(virDomainGetName(dom), -1, 0);
    if (virDomainGetState(dom, &info->state, &info->reason, 0) < 0 ||
        !(xml = virDomainGetXMLDesc(dom, 0))) {
        info->error = g_strdup(hbUtilLastError());
        return info;
    }
    /* A running domain gives its live XML, an inactive one its saved config. */
    if (hbDomainXmlInspect(xml, info, &err) < 0)
        info->error = g_strdup(err->message);
    return info;
}


/* @dom's live XML (@flags 0) or saved definition (VIR_DOMAIN_XML_INACTIVE), inspected. */
static int
hbDomainXmlInspectDef(virDomainPtr dom, unsigned int flags, HbDomainInfo *info,
                      GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, flags);
    int ret;

    if (!xml) {
        hbUtilSetLibvirtError(error, "cannot read the domain XML");
        return -1;
    }
    ret = hbDomainXmlInspect(xml, info, error);
    g_clear_pointer(&info->metadata, g_free);
    return ret;
}


/*
 * Add the agent channel wherever it is missing: to the saved definition,
 * and to the running domain. libvirt cannot hot-plug the virtio-serial
 * controller a channel needs, so a running domain without one gets the
 * channel at its next boot (@next_boot).
 */
int
hbDomainXmlInstallAgent(virDomainPtr dom, gboolean *already, gboolean *next_boot,
                        GError **error)
{
    gboolean active = virDomainIsActive(dom) == 1;
    gboolean persistent = virDomainIsPersistent(dom) == 1;
    HbDomainInfo live = { 0 }, config = { 0 };
    unsigned int flags = 0;

    *already = *next_boot = FALSE;
    if (active && hbDomainXmlInspectDef(dom, 0, &live, error) < 0)
        return -1;
    if (persistent &&
        hbDomainXmlInspectDef(dom, VIR_DOMAIN_XML_INACTIVE, &config, error) < 0)
        return -1;
    if (active && !live.has_agent) {
        if (live.has_serial_controller)
            flags |= VIR_DOMAIN_AFFECT_LIVE;
        else
            *next_boot = TRUE;
    }
    if (persistent && !config.has_agent)
        flags |= VIR_DOMAIN_AFFECT_CONFIG;
    if (*next_boot && !persistent) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "the running domain has no virtio-serial controller to add the "
                    "channel to, and it has no saved definition for its next boot");
        return -1;
    }
    *already = flags == 0 && !*next_boot;
    if (flags == 0)
        return 0;
    if (virDomainAttachDeviceFlags(dom, HB_AGENT_CHANNEL_XML, flags) < 0) {
        hbUtilSetLibvirtError(error, "cannot add the guest agent channel");
        return -1;
    }
    return 0;
}


typedef struct {
    unsigned int flag;  /* VIR_DOMAIN_AFFECT_* of this copy */
    char *old;          /* the element before; NULL: none */
    char *new;          /* the element to write */
} HbDomainXmlEdit;


static void
hbDomainXmlEditClear(HbDomainXmlEdit *edit)
{
    g_clear_pointer(&edit->old, g_free);
    g_clear_pointer(&edit->new, g_free);
}


/* Read one copy of the metadata and work out its edit; nothing is written. */
static int
hbDomainXmlEditPrepare(virDomainPtr dom, unsigned int flag, GHashTable *changes,
                       const HbConfig *defaults, HbDomainXmlEdit *edit, GError **error)
{
    g_autoptr(GError) invalid = NULL;

    edit->flag = flag;
    edit->old = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, HB_METADATA_URI, flag);
    if (!edit->old && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA) {
        hbUtilSetLibvirtError(error, "cannot read the heartbeat metadata");
        return -1;
    }
    if (g_hash_table_size(changes) == 0)
        return 0;
    if (!(edit->new = hbConfigEditMetadata(edit->old, changes, defaults, &invalid))) {
        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT, "%s%s", invalid->message,
                    flag == VIR_DOMAIN_AFFECT_CONFIG ? " (in the saved definition)" : "");
        return -1;
    }
    return 0;
}


static int
hbDomainXmlEditWrite(virDomainPtr dom, unsigned int flag, const char *xml)
{
    /* NULL removes the element: there was none before. */
    return virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, HB_METADATA_KEY,
                                HB_METADATA_URI, flag);
}


/*
 * Read (no @changes) or change the <heartbeat/> element of @dom, like virsh
 * metadata: @flags VIR_DOMAIN_AFFECT_CURRENT, _LIVE and/or _CONFIG, or
 * HB_AFFECT_APPLICABLE. @result is the element last read or written (NULL:
 * none). Both copies are checked before either is written, and when the
 * saved definition cannot be written the running domain is put back, so an
 * edit applies to both or to neither; the error says which when even that
 * fails. Two edits of one domain at once would lose one change: the
 * daemon's queue of edits per domain (hbMonitorRequest) runs them one at a
 * time, and every edit goes through the daemon.
 */
int
hbDomainXmlEditMetadata(virDomainPtr dom, unsigned int flags, GHashTable *changes,
                        const HbConfig *defaults, char **result, GError **error)
{
    HbDomainXmlEdit edits[2] = { { 0 }, { 0 } };
    guint n = 0;
    int ret = -1;

    *result = NULL;
    if (flags & HB_AFFECT_APPLICABLE) {
        flags = 0;
        if (virDomainIsActive(dom) == 1)
            flags |= VIR_DOMAIN_AFFECT_LIVE;
        if (virDomainIsPersistent(dom) == 1)
            flags |= VIR_DOMAIN_AFFECT_CONFIG;
    }
    if (flags == VIR_DOMAIN_AFFECT_CURRENT) {
        if (hbDomainXmlEditPrepare(dom, flags, changes, defaults, &edits[n++], error) < 0)
            goto cleanup;
    } else {
        if ((flags & VIR_DOMAIN_AFFECT_LIVE) &&
            hbDomainXmlEditPrepare(dom, VIR_DOMAIN_AFFECT_LIVE, changes, defaults,
                                   &edits[n++], error) < 0)
            goto cleanup;
        if ((flags & VIR_DOMAIN_AFFECT_CONFIG) &&
            hbDomainXmlEditPrepare(dom, VIR_DOMAIN_AFFECT_CONFIG, changes, defaults,
                                   &edits[n++], error) < 0)
            goto cleanup;
    }

    if (g_hash_table_size(changes) == 0) {
        *result = g_steal_pointer(&edits[n - 1].old);
        ret = 0;
        goto cleanup;
    }
    for (guint i = 0; i < n; i++) {
        g_autofree char *why = NULL;

        if (hbDomainXmlEditWrite(dom, edits[i].flag, edits[i].new) == 0)
            continue;
        if (i == 0) {
            hbUtilSetLibvirtError(error, "cannot set the heartbeat metadata");
            goto cleanup;
        }
        why = g_strdup(hbUtilLastError());
        if (hbDomainXmlEditWrite(dom, edits[0].flag, edits[0].old) == 0) {
            g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                        "cannot set the heartbeat metadata of the saved definition, the "
                        "running domain is unchanged: %s", why);
        } else {
            g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                        "applied to the running domain only: cannot set the heartbeat "
                        "metadata of the saved definition (%s), nor restore the running "
                        "domain's (%s)", why, hbUtilLastError());
        }
        goto cleanup;
    }
    *result = g_steal_pointer(&edits[n - 1].new);
    ret = 0;

 cleanup:
    for (guint i = 0; i < n; i++)
        hbDomainXmlEditClear(&edits[i]);
    return ret;
}
