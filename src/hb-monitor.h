/*
 * The table of monitored domains: it turns libvirt events and worker
 * results into engine inputs, and engine actions into worker jobs.
 */
#pragma once

#include "hb-breaker.h"
#include "hb-daemon-conf.h"
#include "hb-domain.h"
#include "hb-engine.h"
#include "hb-stats.h"
#include "hb-timers.h"
#include "hb-worker.h"

typedef struct _HbMonitor HbMonitor;

typedef struct {
    void (*added)(HbDomain *dom, gpointer data);
    void (*removed)(HbDomain *dom, gpointer data);
    void (*changed)(HbDomain *dom, gpointer data);
    void (*notice)(HbDomain *dom, const HbNotice *notice, gpointer data);
    void (*connection)(gboolean connected, gpointer data);
    /* The host-wide breaker tripped or cleared (hb-breaker.h). */
    void (*host)(const HbBreaker *breaker, HbBreakerChange change, gpointer data);
} HbMonitorObserver;

HbMonitor *hbMonitorNew(const HbDaemonConf *conf, HbProbeFunc probe);
void hbMonitorSetObserver(HbMonitor *monitor, const HbMonitorObserver *observer,
                          gpointer data);
void hbMonitorStart(HbMonitor *monitor);
void hbMonitorFree(HbMonitor *monitor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbMonitor, hbMonitorFree)

HbDomain *hbMonitorLookup(HbMonitor *monitor, const char *name_or_uuid);
GList *hbMonitorDomains(HbMonitor *monitor);
void hbMonitorRearm(HbMonitor *monitor, HbDomain *dom);
void hbMonitorRequest(HbMonitor *monitor, HbDomain *dom, HbJob *job);
void hbMonitorEdit(HbMonitor *monitor, const char *key, HbJob *job);
gboolean hbMonitorIsConnected(HbMonitor *monitor);
const HbBreaker *hbMonitorBreaker(HbMonitor *monitor);

/* For its domains (hb-domain.c). */
/* Hand @job to the workers; a stopping monitor finishes it cancelled. */
void hbMonitorPushJob(HbMonitor *monitor, HbJob *job);
/*
 * Run the before-restart hooks on the restart @job of @dom, then push it,
 * or finish it vetoed, dropped or held. FALSE: no hook, the caller pushes
 * it at once.
 */
gboolean hbMonitorBeforeRestart(HbMonitor *monitor, HbDomain *dom, HbJob *job);
/* Room for one more guest request for @uuid; NULL, or why not. */
const char *hbMonitorRequestRoom(HbMonitor *monitor, const char *uuid);
void hbMonitorNotify(HbMonitor *monitor, HbDomain *dom, const HbNotice *notice);
void hbMonitorChanged(HbMonitor *monitor, HbDomain *dom);
gboolean hbMonitorIsClosing(HbMonitor *monitor);
/* Judge the host afresh; whether a restart attempt (a crashed guest's if
 * @crashed) is held now. */
gboolean hbMonitorHostHolds(HbMonitor *monitor, gboolean crashed);
/* For a restart job: closed if the breaker trips before it runs; NULL
 * (never closed) for a crashed guest's, which the breaker does not hold. */
HbTicket *hbMonitorHostGate(HbMonitor *monitor, gboolean crashed);
/* "": none, nothing outlives the daemon (hb-statefile.h). */
const char *hbMonitorStateDir(HbMonitor *monitor);
/* [daemon] cluster_tools: Pacemaker's tools; "": no cluster here. */
const char *hbMonitorClusterTools(HbMonitor *monitor);
/* Count a ping's result, and its times if it was sent. */
void hbMonitorCountPing(HbMonitor *monitor, HbPing ping, const HbJob *job);
/* The figures Manager1.GetStatistics serves (hb-stats.h): a floating a{sv}. */
GVariant *hbMonitorStatistics(HbMonitor *monitor);
/* The same, with the domains in each state counted by the caller
 * (@states[HB_STATE_LAST]), who has been over them already. */
GVariant *hbMonitorStatisticsCounted(HbMonitor *monitor, const guint64 *states);
/* Call @func on every domain (key: its UUID, value: the HbDomain); nothing allocated. */
void hbMonitorForeach(HbMonitor *monitor, GHFunc func, gpointer data);
/* Its worker threads. */
HbWorker *hbMonitorWorker(HbMonitor *monitor);
/* Where its domains keep their deadlines. */
HbTimers *hbMonitorTimers(HbMonitor *monitor);
/* The host-wide maintenance window's end, seconds since the epoch; 0: none
 * (a past one may stay until ResumeAll). */
gint64 hbMonitorMaintenanceUntil(HbMonitor *monitor);
/*
 * Start (@until, seconds since the epoch) or end (0) the host-wide window,
 * kept in the state directory first: -1, nothing changed, if it cannot be.
 */
int hbMonitorSetMaintenance(HbMonitor *monitor, gint64 until, GError **error);
/* [daemon] dry_run: every restart attempt is observed only. */
gboolean hbMonitorDryRun(HbMonitor *monitor);

/* Called on the main loop after every full resync, its domains applied. */
typedef void (*HbMonitorResyncFunc)(gpointer data);
void hbMonitorSetResyncFunc(HbMonitor *monitor, HbMonitorResyncFunc func, gpointer data);
/* Domains in the table; of them @watched watched and running, @silent
 * their heartbeat stopped. Kept up to date: costs no walk. */
void hbMonitorCounts(HbMonitor *monitor, guint *domains, guint *watched, guint *silent);
/*
 * Apply what of @conf can change while running (hbDaemonConfApplyLive):
 * dry_run and the breaker at once, [defaults] by a read of every domain.
 * No domain's engine is made anew: episodes, attempts and counters stay.
 */
void hbMonitorReconfigure(HbMonitor *monitor, const HbDaemonConf *conf);
