/*
 * The guest OS interface (the seed's IVMGuestOS beyond the heartbeat):
 * agent replies parsed, and the requests that run on worker threads.
 */
#pragma once

#include "hb-config.h"
#include <gio/gio.h>

#include "hb-agent.h"

int hbGuestInstallAgent(virDomainPtr dom, gboolean *already, gboolean *next_boot,
                        GError **error);

/* HB_AFFECT_APPLICABLE: live if running, config if persistent. */
#define HB_AFFECT_APPLICABLE (1u << 16)
const char *hbGuestRunDir(void);
int hbGuestPrepareRunDir(GError **error);
int hbGuestEditMetadata(virDomainPtr dom, unsigned int flags, GHashTable *changes,
                        const HbConfig *defaults, char **result, GError **error);
