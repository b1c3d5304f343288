/*
 * The D-Bus server that exports the monitor (names and errors: hb-api.h).
 */
#pragma once

#include <gio/gio.h>

#include "hb-api.h"
#include "hb-monitor.h"

typedef struct _HbDBus HbDBus;

HbDBus *hbDBusNew(GDBusConnection *bus, HbMonitor *monitor, const char *uri,
                  GError **error);
void hbDBusFree(HbDBus *dbus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbDBus, hbDBusFree)
