/*
 * The heartbeat state machine of one domain. Pure: every input carries the
 * time, no I/O, no libvirt, no clock reads. Times are monotonic microseconds.
 */
#pragma once

#include "hb-config.h"

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

    HB_STATE_LAST
} HbState;

typedef enum {
    HB_INPUT_TIMER,        /* time has passed: check slots and deadlines */
    HB_INPUT_STARTED,      /* a new boot: started, restored, found running */
    HB_INPUT_REBOOT,       /* guest reboot or reset; repeats are ignored */
    HB_INPUT_STOPPED,      /* shut off by will: shutdown, destroy, migrated, saved */
    HB_INPUT_CRASHED,      /* crashed or failed: an episode starts at once */
    HB_INPUT_PAUSED,
    HB_INPUT_RESUMED,
    HB_INPUT_TICK,         /* the ping in flight was answered */
    HB_INPUT_MISS,         /* the ping in flight failed or timed out */
    HB_INPUT_PING_VOID,    /* the ping found the domain not running: no result */
    HB_INPUT_RESTART_DONE, /* the restart attempt in flight has finished */
    HB_INPUT_REARM,
    HB_INPUT_RESYNCED,     /* libvirtd was out of sight until now */
    HB_INPUT_SHUTDOWN_REQUESTED, /* a clean shutdown was asked for: grace */

    HB_INPUT_LAST
} HbInput;

typedef enum {
    HB_EVENT_STOPPED = 1 << 0,
    HB_EVENT_RESUMED = 1 << 1,
    HB_EVENT_EXHAUSTED = 1 << 2,
    HB_EVENT_STATE_CHANGED = 1 << 3,
} HbEventFlags;

typedef struct {
    gboolean ping;    /* send one ping now */
    gboolean restart; /* make restart attempt number hbEngineAttempts() now */
    guint events;     /* HbEventFlags */
} HbActions;

/* Repeated reboot reports within this span belong to one reboot. */
#define HB_REBOOT_DEDUP_US (5 * G_USEC_PER_SEC)

typedef struct _HbEngine HbEngine;

HbEngine *hbEngineNew(const HbConfig *cfg, gboolean has_agent, gint64 phase_us);
void hbEngineFree(HbEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbEngine, hbEngineFree)

void hbEngineFeed(HbEngine *engine, HbInput input, gint64 now, HbActions *actions);
void hbEngineConfigure(HbEngine *engine, const HbConfig *cfg, gboolean has_agent,
                       gint64 now, HbActions *actions);

HbState hbEngineState(const HbEngine *engine);
guint hbEnginePercentage(const HbEngine *engine);
gboolean hbEngineIsHeartbeating(const HbEngine *engine, gint64 now);
guint hbEngineAttempts(const HbEngine *engine);
gint64 hbEngineLastTick(const HbEngine *engine);
gint64 hbEngineBoot(const HbEngine *engine);
gint64 hbEngineNextDeadline(const HbEngine *engine);
const HbConfig *hbEngineConfig(const HbEngine *engine);
gboolean hbEngineStormCapped(const HbEngine *engine);

/*
 * What outlives the daemon: a failed episode, the storm cap, and the start
 * times of the recent episodes with action (monotonic, like every time here).
 */
typedef struct {
    gboolean failed;
    gboolean storm_capped;
    GArray *episode_starts; /* gint64 */
} HbEngineMemory;

void hbEngineRemember(const HbEngine *engine, HbEngineMemory *memory);
void hbEngineRecall(HbEngine *engine, const HbEngineMemory *memory, gint64 now,
                    HbActions *actions);
void hbEngineMemoryClear(HbEngineMemory *memory);

const char *hbStateToString(HbState state);
