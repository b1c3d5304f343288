/*
 * The table of monitored domains: it turns libvirt events and worker
 * results into engine inputs, and engine actions into worker jobs.
 */
#pragma once

#include "hb-daemon-conf.h"
#include "hb-engine.h"
#include "hb-worker.h"

typedef enum {
    HB_NOTICE_STOPPED,          /* heartbeat stopped */
    HB_NOTICE_RESUMED,          /* heartbeat back; the episode is over */
    HB_NOTICE_RESTART_ATTEMPT,
    HB_NOTICE_EXHAUSTED,
    HB_NOTICE_STATE_CHANGED,

    HB_NOTICE_LAST
} HbNoticeKind;

typedef struct {
    HbNoticeKind kind;
    guint attempt;      /* RESTART_ATTEMPT */
    guint max;          /* RESTART_ATTEMPT */
    const char *action; /* RESTART_ATTEMPT: what was done */
    const char *result; /* RESTART_ATTEMPT: "ok" or the error */
} HbNotice;

typedef struct _HbMonitor HbMonitor;
typedef struct _HbDomain HbDomain;

typedef struct {
    void (*added)(HbDomain *dom, gpointer data);
    void (*removed)(HbDomain *dom, gpointer data);
    void (*changed)(HbDomain *dom, gpointer data);
    void (*notice)(HbDomain *dom, const HbNotice *notice, gpointer data);
    void (*connection)(gboolean connected, gpointer data);
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

const char *hbDomainName(HbDomain *dom);
const char *hbDomainUUID(HbDomain *dom);
HbState hbDomainState(HbDomain *dom);
guint hbDomainPercentage(HbDomain *dom);
gboolean hbDomainIsHeartbeating(HbDomain *dom);
guint hbDomainAttempts(HbDomain *dom);
guint64 hbDomainEpisode(HbDomain *dom);
guint64 hbDomainPings(HbDomain *dom, HbPing ping);
gint64 hbDomainLastTick(HbDomain *dom);          /* wall clock, µs; 0: none */
const HbConfig *hbDomainConfig(HbDomain *dom);
const char *hbDomainConfigError(HbDomain *dom);  /* NULL: the metadata is valid */
gboolean hbDomainAgentConnected(HbDomain *dom);
/* What the agent said this boot; NULL fields: not known yet. */
const HbGuestInfo *hbDomainGuestInfo(HbDomain *dom);

const char *hbNoticeKindToString(HbNoticeKind kind);
