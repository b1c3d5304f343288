/*
 * The D-Bus API: names, errors, and the server that exports the monitor.
 */
#pragma once

#include <gio/gio.h>

#include "hb-dbus-generated.h"
#include "hb-monitor.h"

/* gdbus-codegen declares cleanups for its classes, not for the interfaces. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbDBusDomain1, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbDBusManager1, g_object_unref)

#define HB_DBUS_NAME "org.virt_heartbeat.Heartbeat1"
#define HB_DBUS_PATH "/org/virt_heartbeat/Heartbeat1"

void hbDBusRegisterErrors(void);
char *hbDBusDomainPath(const char *uuid);

typedef struct _HbDBus HbDBus;

HbDBus *hbDBusNew(GDBusConnection *bus, HbMonitor *monitor, const char *uri,
                  GError **error);
void hbDBusFree(HbDBus *dbus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbDBus, hbDBusFree)
