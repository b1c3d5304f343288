/*
 * The host-wide circuit breaker: when more than a share of the watched
 * guests stop within one window, the host is suspected (a storage stall,
 * CPU steal) and restart attempts are held. Pure: counts and times in,
 * the decision out; times are monotonic microseconds.
 */
#pragma once

#include <glib.h>

#include "hb-enum.h"

typedef struct {
    guint share;   /* host_share: percent of the watched guests; 100: never trips */
    guint min;     /* host_min: and at least this many stopped guests */
    guint hold;    /* host_hold: seconds attempts are held at most */
    guint window;  /* host_window: seconds; 0: the largest time of the watched guests */
} HbBreakerConf;

void hbBreakerConfInit(HbBreakerConf *conf);

typedef enum {
    HB_BREAKER_CLOSED,   /* the normal rules */
    HB_BREAKER_HOLDING,  /* host suspected: restart attempts are held */
    HB_BREAKER_EXPIRED,  /* held host_hold already: the normal rules, until the
                          * guests come back and it may trip again */

    HB_BREAKER_LAST
} HbBreakerState;

/* What an update changed, for the signals. */
typedef enum {
    HB_BREAKER_SAME,
    HB_BREAKER_SUSPECTED, /* it tripped: HOLDING */
    HB_BREAKER_CLEARED,   /* the guests came back (CLOSED) or host_hold passed (EXPIRED) */
} HbBreakerChange;

/* One watched guest whose heartbeat has stopped. */
typedef struct {
    gint64 since;      /* when its heartbeat stopped */
    gconstpointer who; /* the caller's, handed back in the window found */
} HbBreakerStop;

typedef struct {
    HbBreakerConf conf;
    HbBreakerState state;
    gint64 since;       /* HOLDING, EXPIRED: when it tripped */
    guint stopped;      /* the most stopped guests within one window, last update */
    guint watched;      /* the watched guests, last update */
    guint watched_trip; /* HOLDING: the watched guests when it tripped */
    gint64 window;      /* the window of the last update, µs */
} HbBreaker;

void hbBreakerInit(HbBreaker *breaker, const HbBreakerConf *conf);
/* Whether @stopped of @watched guests are more than the share and at least the minimum. */
gboolean hbBreakerTrips(const HbBreakerConf *conf, guint stopped, guint watched);
/*
 * Judge at @now: @stops (sorted here by time) are the watched guests whose
 * heartbeat has stopped, of @watched; @window (µs) the span within which
 * they count together. @in_window, if not NULL, gets the `who` of the
 * stops in the fullest window (the caller owns the array, not the
 * elements).
 */
HbBreakerChange hbBreakerUpdate(HbBreaker *breaker, GArray *stops, guint watched,
                                gint64 window, gint64 now, GPtrArray *in_window);
/* Whether a restart attempt is held now; a crashed guest's never is. */
gboolean hbBreakerHolds(const HbBreaker *breaker, gboolean crashed);
/* When a hold ends by itself (host_hold); G_MAXINT64: none under way. */
gint64 hbBreakerDeadline(const HbBreaker *breaker);
/* Why it is as it is, for signals and logs; the caller frees it. */
char *hbBreakerReason(const HbBreaker *breaker);

HB_ENUM_DECL(hbBreakerState, HbBreakerState);
