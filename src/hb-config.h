/*
 * Per-domain heartbeat configuration: defaults, the <heartbeat/> metadata
 * element and its validation.
 */
#pragma once

#include <glib.h>

#include "hb-enum.h"

#define HB_METADATA_URI "urn:virt-heartbeat:1"
#define HB_METADATA_KEY "hb"
#define HB_METADATA_ELEMENT "heartbeat"
/*
 * The attribute that holds the end of a maintenance window (hb-api.h): not
 * a key (SetParameter, [defaults] and the Config property do not take it),
 * written by Pause and Resume only.
 */
#define HB_METADATA_MAINTENANCE "maintenance_until"

typedef enum {
    HB_ACTION_RESET,    /* virDomainReset, or start a crashed shut-off domain */
    HB_ACTION_RESTART,  /* destroy + start */
    HB_ACTION_NONE,     /* notify only */
    HB_ACTION_OBSERVE,  /* every decision made and reported as what a reset would do, no call */
    HB_ACTION_LADDER,   /* per episode: NMI, then reset, then destroy + start */

    HB_ACTION_LAST
} HbAction;

/* What must confirm a stopped heartbeat before a restart attempt. */
typedef enum {
    HB_CONFIRM_NONE,      /* nothing: the silence is enough */
    HB_CONFIRM_ACTIVITY,  /* no restart while the guest works without its agent */

    HB_CONFIRM_LAST
} HbConfirm;

/* What is saved before each restart attempt of an episode (hb-diag.c). */
typedef enum {
    HB_DIAG_NONE,
    HB_DIAG_SCREENSHOT, /* virDomainScreenshot, with a video device */
    HB_DIAG_CONSOLE,    /* the tail of the serial console's log file */
    HB_DIAG_DUMP,       /* a memory-only kdump-compressed core, first attempt only */

    HB_DIAG_LAST
} HbDiagnostics;

/* Where a guest goes once the attempts in place are exhausted (hb-cluster.h). */
typedef enum {
    HB_ESCALATE_NONE,
    HB_ESCALATE_CLUSTER, /* its failure reported to the Pacemaker resource that owns it */

    HB_ESCALATE_LAST
} HbEscalate;

typedef struct {
    gboolean enabled;
    guint time;             /* seconds per block */
    guint rate;             /* expected ticks per block */
    guint failure_interval; /* seconds between restart attempts */
    guint failure_attempts; /* attempts per episode; 0: none, notify (or escalate) at once */
    guint boot_grace;       /* seconds after a start or reset */
    HbAction action;
    guint max_episodes;     /* episodes with action per window; 0 = no cap */
    guint episode_window;   /* seconds */
    guint ping_timeout;     /* seconds */
    gboolean time_sync;     /* set the guest clock from the host */
    guint time_sync_interval; /* minutes between time syncs */
    HbConfirm confirm;
    /* End of the maintenance window, seconds since the epoch; 0: none.
     * Past ones are kept until Resume: only the daemon's clock says. */
    guint maintenance_until;
    HbDiagnostics diagnostics;
    HbEscalate escalate;
} HbConfig;

/* One key of HbConfig, for parsers that set keys by name. */
typedef enum {
    HB_KEY_ENABLED,
    HB_KEY_TIME,
    HB_KEY_RATE,
    HB_KEY_FAILURE_INTERVAL,
    HB_KEY_FAILURE_ATTEMPTS,
    HB_KEY_BOOT_GRACE,
    HB_KEY_ACTION,
    HB_KEY_MAX_EPISODES,
    HB_KEY_EPISODE_WINDOW,
    HB_KEY_PING_TIMEOUT,
    HB_KEY_TIME_SYNC,
    HB_KEY_TIME_SYNC_INTERVAL,
    HB_KEY_CONFIRM,
    HB_KEY_DIAGNOSTICS,
    HB_KEY_ESCALATE,

    HB_KEY_LAST
} HbKey;

void hbConfigInitDefaults(HbConfig *cfg);

HB_ENUM_DECL(hbKey, HbKey);
int hbConfigSetKey(HbConfig *cfg, HbKey key, const char *value, GError **error);
/* The value of @key as D-Bus carries it: b (yes/no), u (numbers) or s
 * (action, confirm, diagnostics, escalate); floating. */
GVariant *hbConfigValue(const HbConfig *cfg, HbKey key);
/* Every key: the Config property of Domain1, a{sv} in key order; floating. */
GVariant *hbConfigToVariant(const HbConfig *cfg);
int hbConfigCheck(const HbConfig *cfg, GError **error);

int hbConfigParseMetadata(const char *xml, const HbConfig *defaults,
                          HbConfig *cfg, GError **error);
char *hbConfigEditMetadata(const char *xml, GHashTable *changes,
                           const HbConfig *defaults, GError **error);
char *hbConfigFormat(const HbConfig *cfg);

HB_ENUM_DECL(hbAction, HbAction);
HB_ENUM_DECL(hbConfirm, HbConfirm);
HB_ENUM_DECL(hbDiagnostics, HbDiagnostics);
HB_ENUM_DECL(hbEscalate, HbEscalate);

/* Ping interval in microseconds: time/rate. */
gint64 hbConfigIntervalUs(const HbConfig *cfg);
/* ping_timeout bounded by the ping interval (at least 1 s, libvirt's unit). */
guint hbConfigEffectivePingTimeout(const HbConfig *cfg);
