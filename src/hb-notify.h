/*
 * What the daemon tells systemd through sd_notify(3): ready, its status
 * line, the watchdog's keep-alive, reloading and stopping. Outside a
 * service of Type=notify (no NOTIFY_SOCKET) every call does nothing.
 */
#pragma once

#include <glib.h>

/* STATUS= is sent at most this often; the latest text wins. */
#define HB_NOTIFY_STATUS_MIN_US (1 * G_USEC_PER_SEC)

typedef struct _HbNotify HbNotify;

/*
 * Reads NOTIFY_SOCKET and WATCHDOG_USEC: with a watchdog, WATCHDOG=1 is
 * sent from a timer of the thread-default main context every half period,
 * so that a main loop that stops turning stops it too.
 */
HbNotify *hbNotifyNew(void);
void hbNotifyFree(HbNotify *notify);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbNotify, hbNotifyFree)

/* Whether systemd listens (NOTIFY_SOCKET was set). */
gboolean hbNotifyEnabled(HbNotify *notify);
/* The watchdog's keep-alive period in µs; 0: no watchdog. */
guint64 hbNotifyWatchdogPeriod(HbNotify *notify);
/* READY=1, with the status line pending if any. */
void hbNotifyReady(HbNotify *notify);
/* STATUS=@status if it differs from the last one sent, at most every
 * HB_NOTIFY_STATUS_MIN_US: a newer text replaces one still waiting. */
void hbNotifyStatus(HbNotify *notify, const char *status);
/* RELOADING=1: READY=1 (hbNotifyReady) says the reload is over. */
void hbNotifyReloading(HbNotify *notify);
void hbNotifyStopping(HbNotify *notify);
