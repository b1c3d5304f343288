/*
 * The heartbeat state machine of one domain. Pure: every input carries the
 * time, no I/O, no libvirt, no clock reads. Times are monotonic microseconds.
 */
#pragma once

#include "hb-config.h"
#include "hb-enum.h"

typedef enum {
    HB_STATE_DISABLED,
    HB_STATE_NOT_RUNNING,
    HB_STATE_PAUSED,
    HB_STATE_NO_AGENT,
    HB_STATE_WAITING,
    HB_STATE_OK,
    HB_STATE_DEGRADED,
    HB_STATE_STOPPED,
    HB_STATE_FAILED,
    HB_STATE_MAINTENANCE,  /* a maintenance window: pinged, never acted on */

    HB_STATE_LAST
} HbState;

typedef enum {
    HB_INPUT_TIMER,        /* time has passed: check slots and deadlines */
    HB_INPUT_STARTED,      /* a new boot: started, restored, found running */
    HB_INPUT_REBOOT,       /* guest reboot or reset; repeats are ignored */
    HB_INPUT_STOPPED,      /* shut off by will: shutdown, destroy, migrated, saved */
    HB_INPUT_STOPPED_OTHER, /* our destroy+start found it shut off already: someone
                             * else's will, not ours to start */
    HB_INPUT_CRASHED,      /* crashed or failed: an episode starts at once */
    HB_INPUT_CRASH_HANDLED, /* crashed, and libvirt itself destroys or restarts it
                             * (<on_crash>): wait for that outcome */
    HB_INPUT_PAUSED,
    HB_INPUT_RESUMED,
    HB_INPUT_TICK,         /* the ping in flight was answered */
    HB_INPUT_MISS,         /* the ping in flight failed or timed out */
    HB_INPUT_PING_VOID,    /* the ping got no verdict: not running, libvirtd away... */
    HB_INPUT_RESTART_DONE, /* the restart of the open episode succeeded */
    HB_INPUT_REARM,
    HB_INPUT_RESYNCED,     /* libvirtd was out of sight until now */
    HB_INPUT_SHUTDOWN_REQUESTED, /* a clean shutdown was asked for: grace */
    HB_INPUT_AGENT_CONNECTED, /* the guest opened its agent port: it makes progress */
    HB_INPUT_CRASHLOADED,  /* a crash kernel took over (kdump): it dumps, then reboots */

    HB_INPUT_LAST
} HbInput;

typedef enum {
    HB_EVENT_STOPPED = 1 << 0,
    HB_EVENT_RESUMED = 1 << 1,
    HB_EVENT_EXHAUSTED = 1 << 2,
    HB_EVENT_STATE_CHANGED = 1 << 3,
    HB_EVENT_ATTEMPT_HUNG = 1 << 4, /* the attempt in flight is given up (hbEngineHung) */
    HB_EVENT_ATTEMPT_WAITING = 1 << 5, /* it hung, and is waited for: no attempt gets past it */
} HbEventFlags;

typedef struct {
    gboolean ping;    /* send one ping now */
    gint64 ping_slot; /* monotonic: the slot it is for, now or earlier */
    gboolean restart; /* make restart attempt hbEngineAttempts() of hbEngineEpisode() now */
    gboolean start_if_off; /* restart: a shut-off domain was destroyed by this episode */
    guint events;     /* HbEventFlags */
} HbActions;

/* Repeated reboot reports within this span belong to one reboot. */
#define HB_REBOOT_DEDUP_US (5 * G_USEC_PER_SEC)
/* libvirt 9.0 waits this long for a hung agent, whatever the call's timeout. */
#define HB_AGENT_WAIT_S 5
/*
 * An attempt still in flight after this is hung, most likely in QEMU (a
 * reset waits for every vCPU to stop, for ever if one is frozen): twice
 * libvirt's 30 s wait for a domain's lock. Only a destroy gets past a hung
 * call, as libvirt kills QEMU before it waits for that lock; so a hung
 * attempt is given up only when the next one destroys.
 */
#define HB_ATTEMPT_HUNG_US (60 * G_USEC_PER_SEC)
/* How long libvirt may take to carry out <on_crash> before the daemon acts. */
#define HB_CRASH_WAIT_US (30 * G_USEC_PER_SEC)

/* How a restart attempt ended. */
typedef enum {
    HB_ATTEMPT_OK,       /* the domain was reset or started: it boots */
    HB_ATTEMPT_FAILED,   /* a call was made and failed, or nothing was to be done */
    HB_ATTEMPT_NOT_MADE, /* no call reached the domain: libvirtd unreachable, its
                          * state lock held by another job, the episode over */
    HB_ATTEMPT_NO_BOOT,  /* made, and no boot follows: an NMI (the guest may dump or
                          * do nothing), or observed only (action=observe, dry_run) */

    HB_ATTEMPT_LAST
} HbAttemptResult;

/* What one ping found out; pings are counted by it. */
typedef enum {
    HB_PING_TICK,
    HB_PING_MISS,
    HB_PING_VOID,
    /* Missed while a domain job was under way: no verdict within the job's
     * cap, a miss past it. Counted as suppressed, or as a miss past the cap. */
    HB_PING_SUPPRESSED,

    HB_PING_LAST
} HbPing;

/*
 * Why failed pings are no verdict for now. Each has a cap, counted from
 * the first failed ping under it (a kdump: from the crash), past which
 * the normal rules apply again.
 */
typedef enum {
    HB_SUPPRESS_NONE,
    HB_SUPPRESS_JOB,   /* a domain job: migration, save, dump, backup, snapshot */
    HB_SUPPRESS_KDUMP, /* a crash kernel runs (CRASHED_CRASHLOADED) until it reboots */

    HB_SUPPRESS_LAST
} HbSuppress;

/* A backup or the migration of a big guest over a slow link takes hours. */
#define HB_SUPPRESS_JOB_CAP_US (G_GINT64_CONSTANT(6 * 3600) * G_USEC_PER_SEC)
/* makedumpfile of a guest of some hundred GiB takes minutes, not an hour. */
#define HB_SUPPRESS_KDUMP_CAP_US (G_GINT64_CONSTANT(30 * 60) * G_USEC_PER_SEC)

typedef struct _HbEngine HbEngine;

HbEngine *hbEngineNew(const HbConfig *cfg, gboolean has_agent, gint64 phase_us);
void hbEngineFree(HbEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbEngine, hbEngineFree)

void hbEngineFeed(HbEngine *engine, HbInput input, gint64 now, HbActions *actions);
/*
 * The ping asked for last came back at @now; the worker sent it at @sent.
 * Time it waited to be sent, and time a ping without verdict took, is no
 * verdict: only the time a sent ping went unanswered counts as silence.
 */
void hbEngineFeedPing(HbEngine *engine, HbPing ping, gint64 sent, gint64 now,
                      HbActions *actions);
/*
 * The restart made for @episode finished; a stale one changes nothing. One
 * not made is not counted: the episode asks again after failure_interval.
 */
void hbEngineRestartDone(HbEngine *engine, guint64 episode, HbAttemptResult result,
                         gint64 now, HbActions *actions);
void hbEngineConfigure(HbEngine *engine, const HbConfig *cfg, gboolean has_agent,
                       gint64 now, HbActions *actions);
/*
 * An attempt destroys and starts the domain whatever the action: a reset
 * would stop it for good (<on_reboot>destroy). A domain left shut off by
 * such an attempt is the episode's to start.
 */
void hbEngineSetAttemptDestroys(HbEngine *engine, gboolean destroys);
/*
 * A maintenance window until @until (monotonic; 0 or past: none). It
 * ends the open or failed episode, so that a restart decided before it is
 * dropped (its ticket closes); within it pings go on for the percentage,
 * but no silence or crash opens an episode. When it ends, at @until or
 * with @until 0, watching starts afresh with boot grace.
 */
void hbEngineSetMaintenance(HbEngine *engine, gint64 until, gint64 now, HbActions *actions);
/* The end of the maintenance window under way (monotonic); 0: none. */
gint64 hbEngineMaintenanceUntil(const HbEngine *engine);

/*
 * A window's end is kept in wall-clock time and counted on the monotonic
 * clock; the wall clock may be stepped meanwhile (a host booted with a
 * wrong clock that NTP sets right, a clock set by hand). A window is
 * checked against it at least this often, and counted again when the two
 * drifted apart by more than HB_MAINTENANCE_SLACK_US.
 */
#define HB_MAINTENANCE_RECHECK_US (60 * G_USEC_PER_SEC)
#define HB_MAINTENANCE_SLACK_US (2 * G_USEC_PER_SEC)
/*
 * Pure: the monotonic end of a window ending at @until (wall clock, s),
 * with the wall clock at @real and the monotonic clock at @now (both us);
 * 0: over already.
 */
gint64 hbEngineMaintenanceEnd(gint64 until, gint64 real, gint64 now);
/*
 * Pure: whether a window the engine counts to @end (monotonic; 0: none,
 * or ended at its time) must be counted again for its wall-clock end
 * @until, at @real and @now: the clocks drifted apart by more than
 * HB_MAINTENANCE_SLACK_US. A window the engine ended is not begun again.
 */
gboolean hbEngineMaintenanceDrifted(gint64 end, gint64 until, gint64 real, gint64 now);

HbState hbEngineState(const HbEngine *engine);
guint hbEnginePercentage(const HbEngine *engine);
gboolean hbEngineIsHeartbeating(const HbEngine *engine, gint64 now);
guint hbEngineAttempts(const HbEngine *engine);
guint64 hbEngineEpisode(const HbEngine *engine);
/* A restart for @episode would still be wanted now. */
gboolean hbEngineEpisodeOpen(const HbEngine *engine, guint64 episode);
/* The last ping of this domain missed: its next one may hang. */
gboolean hbEngineSuspect(const HbEngine *engine);
guint64 hbEnginePings(const HbEngine *engine, HbPing ping);
/* The longest time from a start to the first tick seen, µs; 0: not known. */
gint64 hbEngineBootTime(const HbEngine *engine);
gint64 hbEngineLastTick(const HbEngine *engine);
gint64 hbEngineBoot(const HbEngine *engine);
gint64 hbEngineNextDeadline(const HbEngine *engine);
const HbConfig *hbEngineConfig(const HbEngine *engine);
gboolean hbEngineStormCapped(const HbEngine *engine);
/* For the host-wide breaker (hb-breaker.h): the heartbeat is watched and the
 * domain runs (or an attempt's destroy stopped it); since when its heartbeat
 * has stopped (0: it has not). */
gboolean hbEngineWatchedRunning(const HbEngine *engine);
gint64 hbEngineSilentSince(const HbEngine *engine);
/* The domain crashed: its attempts are about the crash, not its silence. */
gboolean hbEngineCrashed(const HbEngine *engine);
/* Running, as libvirt last said: neither shut off, paused nor crashed. */
gboolean hbEngineRunning(const HbEngine *engine);
/* What makes failed pings no verdict now; NONE: nothing, or past its cap. */
HbSuppress hbEngineSuppressed(const HbEngine *engine);
/* Since when (monotonic) the suppression hbEngineSuppressed() reports holds. */
gint64 hbEngineSuppressedSince(const HbEngine *engine);
/* The last suppression ended at its cap, not because what it was for ended. */
gboolean hbEngineSuppressCapped(const HbEngine *engine);
/* The cap of a suppression of @suppress, µs. */
gint64 hbEngineSuppressCap(HbSuppress suppress);
/*
 * The last attempt given up as hung: it counts, as made with no boot after
 * it, and the next one may come. Its result, whenever it comes, is stale
 * and is not fed back (hbEngineRestartDone would take it for the attempt
 * in flight). FALSE if none was.
 */
gboolean hbEngineHung(const HbEngine *engine, guint64 *episode, guint *attempt);

/*
 * What outlives the daemon: the open or failed episode with its attempts,
 * the storm cap, the start times of the recent episodes with action and
 * the learned boot time (monotonic, like every time here).
 */
typedef struct {
    guint64 episode;        /* the number of the last episode */
    gboolean open;          /* attempts under way */
    gboolean failed;
    gboolean storm_capped;
    guint attempts;
    gint64 next_attempt;    /* 0: as soon as the episode is confirmed */
    gboolean restart_in_flight; /* the daemon died during an attempt */
    gboolean start_if_off;
    gint64 boot_time;
    GArray *episode_starts; /* gint64 */
} HbEngineMemory;

void hbEngineRemember(const HbEngine *engine, HbEngineMemory *memory);
void hbEngineRecall(HbEngine *engine, const HbEngineMemory *memory, gint64 now,
                    HbActions *actions);
void hbEngineMemoryClear(HbEngineMemory *memory);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HbEngineMemory, hbEngineMemoryClear)

HB_ENUM_DECL(hbState, HbState);
HB_ENUM_DECL(hbSuppress, HbSuppress);
HB_ENUM_DECL(hbPing, HbPing);
