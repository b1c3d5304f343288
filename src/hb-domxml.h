/*
 * The domain's XML: what the monitor reads of a domain, the guest agent
 * channel added to it, and edits of its <heartbeat/> metadata element.
 */
#pragma once

#include "hb-config.h"
#include "hb-util.h"

/* What the monitor needs to know of a domain, read in one go. */
typedef struct {
    char *uuid;
    char *name;
    int state;          /* virDomainState */
    int reason;
    gboolean has_agent; /* an org.qemu.guest_agent.0 channel is defined */
    gboolean agent_connected; /* its port is open (live XML) */
    gboolean has_serial_controller; /* a channel can be hot-plugged */
    gboolean crash_handled; /* <on_crash> is not preserve: libvirt destroys or restarts */
    gboolean reset_stops;   /* <on_reboot>destroy: a reset shuts the domain off */
    char *metadata;     /* the <heartbeat/> element, or NULL */
    char *error;        /* the domain XML could not be read or inspected */
} HbDomainInfo;

void hbDomainInfoFree(HbDomainInfo *info);

/* On a worker thread: @dom's state and XML; info->error says what could
 * not be read. A running domain gives its live XML, an inactive one its
 * saved definition. */
HbDomainInfo *hbDomainXmlRead(virDomainPtr dom);
/* Pure, exposed for tests and fuzzing: what a domain's XML says. */
int hbDomainXmlInspect(const char *xml, HbDomainInfo *info, GError **error);

/* On a worker thread. Errors are in HB_ERROR with Virtual PC / Virtual Server's codes. */
int hbDomainXmlInstallAgent(virDomainPtr dom, gboolean *already, gboolean *next_boot,
                            GError **error);

/* HB_AFFECT_APPLICABLE: live if running, config if persistent. */
#define HB_AFFECT_APPLICABLE (1u << 16)
int hbDomainXmlEditMetadata(virDomainPtr dom, unsigned int flags, GHashTable *changes,
                            const HbConfig *defaults, char **result, GError **error);
