/*
 * One monitored domain: its engine and its timers, and the cycle that
 * feeds the engine an input, acts on what it decides (jobs, notices, the
 * state file) and arms the timer for the next deadline. It lives in the
 * table of its monitor, which sends its jobs and shows its changes.
 */
#pragma once

#include "hb-engine.h"
#include "hb-verdict.h"
#include "hb-worker.h"

typedef enum {
    HB_NOTICE_STOPPED,          /* heartbeat stopped */
    HB_NOTICE_RESUMED,          /* heartbeat back; the episode is over */
    HB_NOTICE_RESTART_ATTEMPT,
    HB_NOTICE_EXHAUSTED,
    HB_NOTICE_STATE_CHANGED,
    HB_NOTICE_ESCALATED,        /* the failure reported to the cluster, or why not */

    HB_NOTICE_LAST
} HbNoticeKind;

typedef struct {
    HbNoticeKind kind;
    guint attempt;      /* RESTART_ATTEMPT */
    guint max;          /* RESTART_ATTEMPT */
    const char *action; /* RESTART_ATTEMPT: what was done */
    const char *result; /* RESTART_ATTEMPT: "ok" or the error */
    HbVerdict verdict;  /* STOPPED */
    const char *evidence; /* STOPPED: what the verdict rests on */
    const char *resource; /* ESCALATED: the cluster resource; "": none found */
} HbNotice;

HB_ENUM_DECL(hbNoticeKind, HbNoticeKind);

/* How a restart attempt ended, as /metrics counts them (hb-metrics.c). */
typedef enum {
    HB_OUTCOME_OK,        /* the domain was reset or started */
    HB_OUTCOME_FAILED,    /* a call failed, or nothing was to be done */
    HB_OUTCOME_NOT_MADE,  /* no call reached the domain (libvirtd's trouble): not spent */
    HB_OUTCOME_NO_BOOT,   /* made, and no boot follows: an NMI */
    HB_OUTCOME_OBSERVED,  /* action=observe or dry_run: decided, nothing done */
    HB_OUTCOME_WITHHELD,  /* confirm=activity: the guest works without its agent */
    HB_OUTCOME_HUNG,      /* no reply for HB_ATTEMPT_HUNG_US: given up */
    HB_OUTCOME_VETOED,    /* a before-restart hook refused it: not made, spent */

    HB_OUTCOME_LAST
} HbOutcome;

HB_ENUM_DECL(hbOutcome, HbOutcome);

typedef struct _HbDomain HbDomain;
struct _HbMonitor;

/*
 * The domain that @info describes, watched with @cfg for @monitor, with
 * the episode kept for it in the state directory. hbDomainUpdate() with
 * @resync brings it in line.
 */
HbDomain *hbDomainNew(struct _HbMonitor *monitor, const HbDomainInfo *info,
                      const HbConfig *cfg);
void hbDomainFree(HbDomain *dom);

/*
 * Bring @dom in line with what was read of it: @info, to be watched with
 * @cfg; @config_error: why its metadata is invalid (NULL: it is valid).
 * @resync: libvirtd was out of sight until now. @fresh: no lifecycle
 * event came while it was read, so the state read is fed too.
 */
void hbDomainUpdate(HbDomain *dom, const HbDomainInfo *info, const HbConfig *cfg,
                    const char *config_error, gboolean resync, gboolean fresh);
void hbDomainFeed(HbDomain *dom, HbInput input);
/* Its deadline came (the monitor's HbTimers). */
void hbDomainOnTimer(gpointer dom);
/* A lifecycle event of libvirt's (virDomainEventType, its detail). */
void hbDomainLifecycleEvent(HbDomain *dom, int event, int detail);
/* The guest opened or closed its agent port. */
void hbDomainAgentEvent(HbDomain *dom, gboolean connected);
/* The guest's watchdog fired (@action: virDomainEventWatchdogAction): a verdict input. */
void hbDomainWatchdogEvent(HbDomain *dom, int action);
/* The open episode's ticket, which its restart jobs hold (a reference); NULL: none. */
HbTicket *hbDomainTicket(HbDomain *dom);
/* A job of the domain's own (PING, RESTART, GUEST_INFO, TIME_SYNC) is done. */
void hbDomainJobDone(HbDomain *dom, HbJob *job);
/* A reading of the domain's counters (HB_JOB_STATS). */
void hbDomainStatsSample(HbDomain *dom, const HbStatsSample *sample);
/*
 * Its own maintenance window ends at @until (seconds since the epoch, as
 * the metadata has it; 0: none): Pause and Resume apply it at once, not
 * only once the metadata is read back.
 */
void hbDomainSetMaintenance(HbDomain *dom, gint64 until);
/* Its own window's end as last set (metadata, Pause); 0: none. */
gint64 hbDomainMaintenanceKey(HbDomain *dom);
/* The host-wide window changed (hbMonitorMaintenanceUntil), or its own. */
void hbDomainSyncMaintenance(HbDomain *dom);
/* The end of the window it is in, seconds since the epoch; 0: none. */
gint64 hbDomainMaintenanceUntil(HbDomain *dom);
/* Arm the timer for the engine's next deadline; none while disconnected. */
void hbDomainArm(HbDomain *dom);
void hbDomainRearm(HbDomain *dom);

const char *hbDomainName(HbDomain *dom);
const char *hbDomainUUID(HbDomain *dom);
HbState hbDomainState(HbDomain *dom);
guint hbDomainPercentage(HbDomain *dom);
gboolean hbDomainIsHeartbeating(HbDomain *dom);
/* What the host-wide breaker reads (hbEngineWatchedRunning, hbEngineSilentSince). */
gboolean hbDomainWatchedRunning(HbDomain *dom);
gint64 hbDomainSilentSince(HbDomain *dom);
guint hbDomainAttempts(HbDomain *dom);
guint64 hbDomainEpisode(HbDomain *dom);
guint64 hbDomainPings(HbDomain *dom, HbPing ping);
gint64 hbDomainLastTick(HbDomain *dom);          /* wall clock, µs; 0: none */
const HbConfig *hbDomainConfig(HbDomain *dom);
const char *hbDomainConfigError(HbDomain *dom);  /* NULL: the metadata is valid */
gboolean hbDomainAgentConnected(HbDomain *dom);
/* Why failed pings are no verdict now, as text; "": nothing is suppressed. */
const char *hbDomainSuppressed(HbDomain *dom);
gint64 hbDomainSuppressedSince(HbDomain *dom);  /* wall clock, µs; 0: none */
/* The last restart attempt reported, "N ACTION: RESULT" as its notice had
 * it ("1 would reset: observed"); NULL: none since the daemon started. */
const char *hbDomainLastAttempt(HbDomain *dom);
/* What the agent said this boot; NULL fields: not known yet. */
const HbGuestInfo *hbDomainGuestInfo(HbDomain *dom);
/* The last verdict on a stopped heartbeat (unknown: none yet) and its evidence ("": none). */
HbVerdict hbDomainVerdict(HbDomain *dom);
gboolean hbDomainStormCapped(HbDomain *dom);
/* Restart attempts since the daemon started, decided under @action, that ended so. */
guint64 hbDomainRestarts(HbDomain *dom, HbAction action, HbOutcome outcome);
/* Wall clock, µs, of the last attempt that reset, started or NMIed it; 0: none. */
gint64 hbDomainLastRestart(HbDomain *dom);
/* Its labels in /metrics, domain="NAME",uuid="UUID", escaped; made once a name. */
const char *hbDomainMetricLabels(HbDomain *dom);
const char *hbDomainEvidence(HbDomain *dom);
