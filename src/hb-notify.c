/*
 * sd_notify(3) for the daemon: readiness, status, watchdog, reload, stop.
 */
#include <config.h>

#include <systemd/sd-daemon.h>

#include "hb-notify.h"

struct _HbNotify {
    gboolean enabled;     /* NOTIFY_SOCKET is set */
    guint64 watchdog_us;  /* half of WATCHDOG_USEC; 0: none */
    guint watchdog_timer;
    char *status_sent;    /* the last STATUS= sent */
    char *status_pending; /* one that waits for the rate limit */
    gint64 status_at;     /* monotonic: when the last was sent */
    guint status_timer;
};


/* A failed send is said once: systemd gone away is no reason to stop. */
static void
hbNotifySend(HbNotify *notify, const char *text)
{
    static gboolean warned;
    int rc;

    if (!notify->enabled)
        return;
    if ((rc = sd_notify(0, text)) < 0 && !warned) {
        g_warning("Cannot notify systemd: %s", g_strerror(-rc));
        warned = TRUE;
    }
}


static gboolean
hbNotifyOnWatchdog(gpointer data)
{
    hbNotifySend(data, "WATCHDOG=1");
    return G_SOURCE_CONTINUE;
}


HbNotify *
hbNotifyNew(void)
{
    HbNotify *notify = g_new0(HbNotify, 1);
    const char *socket = g_getenv("NOTIFY_SOCKET");
    uint64_t usec = 0;

    notify->enabled = socket && socket[0];
    /* Checks WATCHDOG_PID too: a watchdog meant for another process is not ours. */
    if (notify->enabled && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        /* Half the period, as sd_watchdog_enabled(3) advises: one late
         * turn of a busy loop must not cost a restart. */
        notify->watchdog_us = MAX(usec / 2, 1000);
        notify->watchdog_timer = g_timeout_add(notify->watchdog_us / 1000,
                                               hbNotifyOnWatchdog, notify);
    }
    return notify;
}


void
hbNotifyFree(HbNotify *notify)
{
    if (!notify)
        return;
    g_clear_handle_id(&notify->watchdog_timer, g_source_remove);
    g_clear_handle_id(&notify->status_timer, g_source_remove);
    g_free(notify->status_sent);
    g_free(notify->status_pending);
    g_free(notify);
}


gboolean
hbNotifyEnabled(HbNotify *notify)
{
    return notify->enabled;
}


guint64
hbNotifyWatchdogPeriod(HbNotify *notify)
{
    return notify->watchdog_us;
}


static void
hbNotifySendStatus(HbNotify *notify, const char *prefix)
{
    g_autofree char *text = NULL;

    g_clear_handle_id(&notify->status_timer, g_source_remove);
    if (notify->status_pending) {
        g_free(notify->status_sent);
        notify->status_sent = g_steal_pointer(&notify->status_pending);
        notify->status_at = g_get_monotonic_time();
        text = g_strdup_printf("%sSTATUS=%s", prefix, notify->status_sent);
    } else {
        text = g_strdup(prefix);
    }
    hbNotifySend(notify, text);
}


static gboolean
hbNotifyOnStatusTimer(gpointer data)
{
    HbNotify *notify = data;

    notify->status_timer = 0;
    hbNotifySendStatus(notify, "");
    return G_SOURCE_REMOVE;
}


void
hbNotifyStatus(HbNotify *notify, const char *status)
{
    gint64 wait;

    if (!notify->enabled)
        return;
    g_clear_pointer(&notify->status_pending, g_free);
    if (g_strcmp0(status, notify->status_sent) == 0) {
        /* Back to what systemd shows: nothing to send. */
        g_clear_handle_id(&notify->status_timer, g_source_remove);
        return;
    }
    notify->status_pending = g_strdup(status);
    if (notify->status_timer)
        return;
    wait = notify->status_at + HB_NOTIFY_STATUS_MIN_US - g_get_monotonic_time();
    if (!notify->status_sent || wait <= 0)
        hbNotifySendStatus(notify, "");
    else
        notify->status_timer = g_timeout_add(wait / 1000 + 1, hbNotifyOnStatusTimer, notify);
}


void
hbNotifyReady(HbNotify *notify)
{
    /* The status waiting goes with it: systemd shows both at once. */
    hbNotifySendStatus(notify, notify->status_pending ? "READY=1\n" : "READY=1");
}


void
hbNotifyReloading(HbNotify *notify)
{
    g_autofree char *text = NULL;

    /* MONOTONIC_USEC: what Type=notify-reload (systemd 253) asks for. */
    text = g_strdup_printf("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT,
                           g_get_monotonic_time());
    hbNotifySend(notify, text);
}


void
hbNotifyStopping(HbNotify *notify)
{
    hbNotifySend(notify, "STOPPING=1");
}
