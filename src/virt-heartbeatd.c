/*
 * virt-heartbeatd: watches the guest heartbeat of libvirt domains.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <glib-unix.h>
#include <libvirt-glib/libvirt-glib.h>

#include "hb-daemon-conf.h"
#include "hb-dbus.h"
#include "hb-log.h"
#include "hb-monitor.h"

typedef struct {
    GMainLoop *loop;
    HbMonitor *monitor;
    int status;
} HbDaemon;


static void
hbDaemonOnNameAcquired(GDBusConnection *bus G_GNUC_UNUSED, const char *name, gpointer data)
{
    HbDaemon *daemon = data;

    g_message("Serving %s on the system bus", name);
    /* Only the owner of the name watches domains: never two daemons at once. */
    hbMonitorStart(daemon->monitor);
}


static void
hbDaemonOnNameLost(GDBusConnection *bus G_GNUC_UNUSED, const char *name, gpointer data)
{
    HbDaemon *daemon = data;

    g_printerr("virt-heartbeatd: cannot own %s on the system bus: is another "
               "virt-heartbeatd running, or does the D-Bus policy not allow it?\n", name);
    daemon->status = EXIT_FAILURE;
    g_main_loop_quit(daemon->loop);
}


static gboolean
hbDaemonOnSignal(gpointer data)
{
    HbDaemon *daemon = data;

    g_message("Shutting down");
    g_main_loop_quit(daemon->loop);
    return G_SOURCE_CONTINUE;
}


static int
hbDaemonLoadConf(HbDaemonConf *conf, const char *path, const char *uri)
{
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    gboolean explicit = path != NULL;

    if (hbDaemonConfLoad(conf, explicit ? path : HB_DAEMON_CONF_DEFAULT, !explicit,
                         errors) < 0) {
        for (guint i = 0; i < errors->len; i++)
            g_printerr("%s\n", (const char *) errors->pdata[i]);
        return -1;
    }
    if (uri) {
        g_free(conf->uri);
        conf->uri = g_strdup(uri);
    }
    return 0;
}


int
main(int argc, char **argv)
{
    g_autofree char *conf_path = NULL;
    g_autofree char *uri = NULL;
    gboolean check_config = FALSE;
    gboolean verbose = FALSE;
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        { "config", 'f', 0, G_OPTION_ARG_FILENAME, &conf_path,
          "Configuration file (default " HB_DAEMON_CONF_DEFAULT ")", "FILE" },
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri,
          "libvirt URI, overriding the configuration file", "URI" },
        { "check-config", 'n', 0, G_OPTION_ARG_NONE, &check_config,
          "Check the configuration file, print \"configuration OK\" or every error, and exit",
          NULL },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages too", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- guest heartbeat monitor for libvirt");
    g_autoptr(GError) err = NULL;
    g_autoptr(GDBusConnection) bus = NULL;
    g_autoptr(HbDBus) dbus = NULL;
    HbDaemon daemon = { .status = EXIT_SUCCESS };
    g_auto(HbDaemonConf) conf = { 0 };
    guint owner;

    hbLogInit(NULL);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Pings the QEMU guest agent of every domain with <heartbeat/> metadata\n"
        "and restarts a domain whose heartbeat stops. See virt-heartbeatd(8).\n");
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1) {
        g_printerr("virt-heartbeatd: %s\nTry 'virt-heartbeatd --help'.\n",
                   err ? err->message : "unexpected argument");
        return 2;
    }
    if (version) {
        printf("virt-heartbeatd %s\n", PACKAGE_VERSION);
        return EXIT_SUCCESS;
    }

    hbDaemonConfInit(&conf);
    if (hbDaemonLoadConf(&conf, conf_path, uri) < 0)
        return EXIT_FAILURE;
    if (check_config) {
        printf("configuration OK\n");
        return EXIT_SUCCESS;
    }
    if (verbose)
        g_log_set_debug_enabled(TRUE);

    hbUtilInitLibvirt();
    /* libvirt's events must run on our loop before any connection opens. */
    gvir_event_register();

    if (!(bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &err))) {
        g_printerr("virt-heartbeatd: cannot connect to the system bus: %s\n", err->message);
        return EXIT_FAILURE;
    }

    daemon.loop = g_main_loop_new(NULL, FALSE);
    daemon.monitor = hbMonitorNew(&conf, hbAgentPing);
    if (!(dbus = hbDBusNew(bus, daemon.monitor, conf.uri, &err))) {
        g_printerr("virt-heartbeatd: cannot export the D-Bus API: %s\n", err->message);
        daemon.status = EXIT_FAILURE;
        goto cleanup;
    }
    owner = g_bus_own_name_on_connection(bus, HB_DBUS_NAME,
                                         G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                         hbDaemonOnNameAcquired, hbDaemonOnNameLost,
                                         &daemon, NULL);
    g_unix_signal_add(SIGINT, hbDaemonOnSignal, &daemon);
    g_unix_signal_add(SIGTERM, hbDaemonOnSignal, &daemon);
    g_message("virt-heartbeatd %s starting, libvirt URI %s", PACKAGE_VERSION, conf.uri);
    if (conf.dry_run)
        g_warning("dry run ([daemon] dry_run): restart attempts are decided and reported "
                  "as what they would do, and none is made, whatever the domain's action");

    g_main_loop_run(daemon.loop);
    g_bus_unown_name(owner);

 cleanup:
    g_clear_pointer(&dbus, hbDBusFree);
    hbMonitorFree(daemon.monitor);
    g_main_loop_unref(daemon.loop);
    return daemon.status;
}
