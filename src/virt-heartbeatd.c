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
#include "hb-metrics.h"
#include "hb-monitor.h"
#include "hb-notify.h"

/* How often the status line systemd shows is brought up to date. */
#define HB_STATUS_PERIOD_S 2

typedef struct {
    GMainLoop *loop;
    HbMonitor *monitor;
    HbNotify *notify;
    HbDaemonConf *conf;    /* as loaded, for a reload to compare against */
    const char *conf_path; /* -f, or NULL: the default, which may be missing */
    const char *uri;       /* -c, which outlives reloads; or NULL */
    gboolean named;        /* the bus name is ours */
    gboolean resynced;     /* the first resync has finished */
    gboolean ready;        /* READY=1 was sent */
    int status;
} HbDaemon;


/* The status line: what systemctl status shows beside the unit. */
static void
hbDaemonUpdateStatus(HbDaemon *daemon)
{
    g_autofree char *status = NULL;
    guint domains, watched, silent;

    if (!hbNotifyEnabled(daemon->notify))
        return;
    hbMonitorCounts(daemon->monitor, &domains, &watched, &silent);
    if (!daemon->named)
        status = g_strdup("Waiting for the bus name");
    else if (!hbMonitorIsConnected(daemon->monitor))
        status = g_strdup_printf("Not connected to libvirtd; %u domains kept", domains);
    else
        status = g_strdup_printf("%u domains monitored, %u watched running, "
                                 "%u not heartbeating", domains, watched, silent);
    hbNotifyStatus(daemon->notify, status);
}


static gboolean
hbDaemonOnStatusTimer(gpointer data)
{
    hbDaemonUpdateStatus(data);
    return G_SOURCE_CONTINUE;
}


/*
 * Ready once the name is ours and the domains are known: a unit ordered
 * after this one finds the API serving every domain, not an empty list.
 */
static void
hbDaemonCheckReady(HbDaemon *daemon)
{
    if (daemon->ready || !daemon->named || !daemon->resynced)
        return;
    daemon->ready = TRUE;
    hbDaemonUpdateStatus(daemon);
    hbNotifyReady(daemon->notify);
    g_debug("Ready: the bus name is owned and the first resync is done");
}


static void
hbDaemonOnResynced(gpointer data)
{
    HbDaemon *daemon = data;

    daemon->resynced = TRUE;
    hbDaemonCheckReady(daemon);
}


static void
hbDaemonOnNameAcquired(GDBusConnection *bus G_GNUC_UNUSED, const char *name, gpointer data)
{
    HbDaemon *daemon = data;

    g_message("Serving %s on the system bus", name);
    daemon->named = TRUE;
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
    hbNotifyStopping(daemon->notify);
    g_main_loop_quit(daemon->loop);
    return G_SOURCE_CONTINUE;
}


/* Load the file on top of the built-in defaults; every error is in @errors. */
static int
hbDaemonLoadConf(HbDaemonConf *conf, const char *path, const char *uri, GPtrArray *errors)
{
    gboolean explicit = path != NULL;

    hbDaemonConfInit(conf);
    if (hbDaemonConfLoad(conf, explicit ? path : HB_DAEMON_CONF_DEFAULT, !explicit,
                         errors) < 0)
        return -1;
    if (uri) {
        g_free(conf->uri);
        conf->uri = g_strdup(uri);
    }
    return 0;
}


/*
 * SIGHUP: read the file again. A file with any error is refused whole,
 * the running configuration kept: half a file applied is a configuration
 * nobody wrote. Keys that cannot change live are said and kept.
 */
static void
hbDaemonReload(HbDaemon *daemon)
{
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) next = { 0 };
    g_auto(GStrv) live = NULL;
    g_auto(GStrv) restart = NULL;
    g_autofree char *live_text = NULL;

    if (hbDaemonLoadConf(&next, daemon->conf_path, daemon->uri, errors) < 0) {
        for (guint i = 0; i < errors->len; i++)
            g_warning("%s", (const char *) errors->pdata[i]);
        g_warning("Configuration not reloaded: %u error%s in the file; the running one "
                  "is kept", errors->len, errors->len == 1 ? "" : "s");
        return;
    }
    live = hbDaemonConfChanged(daemon->conf, &next, TRUE);
    restart = hbDaemonConfChanged(daemon->conf, &next, FALSE);
    for (guint i = 0; restart[i]; i++)
        g_warning("Configuration reloaded: %s changed, which needs a restart of "
                  "virt-heartbeatd; the running value is kept", restart[i]);
    hbDaemonConfApplyLive(daemon->conf, &next);
    hbMonitorReconfigure(daemon->monitor, daemon->conf);
    live_text = g_strjoinv(", ", live);
    g_message("Configuration reloaded: %s", live[0] ? live_text : "nothing changed live");
    if (daemon->conf->dry_run && g_strv_contains((const char *const *) live, "dry_run"))
        g_warning("dry run ([daemon] dry_run): restart attempts are decided and reported "
                  "as what they would do, and none is made, whatever the domain's action");
}


static gboolean
hbDaemonOnReload(gpointer data)
{
    HbDaemon *daemon = data;

    /* Only a daemon that was ready reloads in systemd's eyes; one still
     * starting says READY=1 after its first resync, with this file. */
    if (daemon->ready)
        hbNotifyReloading(daemon->notify);
    hbDaemonReload(daemon);
    if (daemon->ready)
        hbNotifyReady(daemon->notify);
    return G_SOURCE_CONTINUE;
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
    g_autoptr(HbMetrics) metrics = NULL;
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) conf = { 0 };
    HbDaemon daemon = { .status = EXIT_SUCCESS, .conf = &conf };
    guint owner;
    guint status_timer;

    /* SIGHUP's default action ends the process: one while starting (a
     * reload before READY=1) is caught from the first, and is a reload
     * once the main loop runs, with everything in place. */
    g_unix_signal_add(SIGHUP, hbDaemonOnReload, &daemon);
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

    if (hbDaemonLoadConf(&conf, conf_path, uri, errors) < 0) {
        for (guint i = 0; i < errors->len; i++)
            g_printerr("%s\n", (const char *) errors->pdata[i]);
        return EXIT_FAILURE;
    }
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
    daemon.conf_path = conf_path;
    daemon.uri = uri;
    daemon.notify = hbNotifyNew();
    daemon.monitor = hbMonitorNew(&conf, hbAgentPing);
    hbMonitorSetResyncFunc(daemon.monitor, hbDaemonOnResynced, &daemon);
    if (!(dbus = hbDBusNew(bus, daemon.monitor, conf.uri, &err))) {
        g_printerr("virt-heartbeatd: cannot export the D-Bus API: %s\n", err->message);
        daemon.status = EXIT_FAILURE;
        goto cleanup;
    }
    /* Bound before the name is owned: a port taken is an error at startup. */
    if (conf.metrics_listen &&
        !(metrics = hbMetricsNew(daemon.monitor, conf.metrics_listen, &err))) {
        g_printerr("virt-heartbeatd: cannot serve metrics on %s: %s\n", conf.metrics_listen,
                   err->message);
        daemon.status = EXIT_FAILURE;
        goto cleanup;
    }
    if (metrics)
        g_message("Serving Prometheus metrics on http://%s" HB_METRICS_PATH,
                  conf.metrics_listen);
    owner = g_bus_own_name_on_connection(bus, HB_DBUS_NAME,
                                         G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                         hbDaemonOnNameAcquired, hbDaemonOnNameLost,
                                         &daemon, NULL);
    g_unix_signal_add(SIGINT, hbDaemonOnSignal, &daemon);
    g_unix_signal_add(SIGTERM, hbDaemonOnSignal, &daemon);
    status_timer = g_timeout_add_seconds(HB_STATUS_PERIOD_S, hbDaemonOnStatusTimer, &daemon);
    if (hbNotifyWatchdogPeriod(daemon.notify))
        g_message("Watchdog: telling systemd every %" G_GUINT64_FORMAT " ms",
                  hbNotifyWatchdogPeriod(daemon.notify) / 1000);
    g_message("virt-heartbeatd %s starting, libvirt URI %s", PACKAGE_VERSION, conf.uri);
    if (conf.dry_run)
        g_warning("dry run ([daemon] dry_run): restart attempts are decided and reported "
                  "as what they would do, and none is made, whatever the domain's action");

    hbDaemonUpdateStatus(&daemon);
    g_main_loop_run(daemon.loop);
    g_source_remove(status_timer);
    g_bus_unown_name(owner);

 cleanup:
    g_clear_pointer(&metrics, hbMetricsFree);
    g_clear_pointer(&dbus, hbDBusFree);
    hbMonitorFree(daemon.monitor);
    hbNotifyFree(daemon.notify);
    g_main_loop_unref(daemon.loop);
    return daemon.status;
}
