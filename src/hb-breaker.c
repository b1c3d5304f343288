/*
 * The host-wide circuit breaker: many guests stopping at once say more
 * about the host than about each guest, and resetting them all would
 * only add load to a host that is already stalled.
 */
#include <config.h>

#include "hb-breaker.h"

HB_ENUM_IMPL(hbBreakerState, HbBreakerState, HB_BREAKER_LAST,
             "closed",
             "holding",
             "expired",
);


void
hbBreakerConfInit(HbBreakerConf *conf)
{
    *conf = (HbBreakerConf) {
        .share = 50,
        .min = 4,
        .hold = 300,
        .window = 0,
    };
}


void
hbBreakerInit(HbBreaker *breaker, const HbBreakerConf *conf)
{
    *breaker = (HbBreaker) { .conf = *conf, .state = HB_BREAKER_CLOSED };
}


gboolean
hbBreakerTrips(const HbBreakerConf *conf, guint stopped, guint watched)
{
    return stopped >= conf->min && (guint64) stopped * 100 > (guint64) conf->share * watched;
}


static gint
hbBreakerCompareStops(gconstpointer a, gconstpointer b)
{
    gint64 x = ((const HbBreakerStop *) a)->since;
    gint64 y = ((const HbBreakerStop *) b)->since;

    return x < y ? -1 : x > y;
}


/* The most stops within @window of each other; the first of them in @first. */
static guint
hbBreakerFullestWindow(GArray *stops, gint64 window, guint *first)
{
    guint best = 0;
    guint i = 0;

    *first = 0;
    g_array_sort(stops, hbBreakerCompareStops);
    for (guint j = 0; j < stops->len; j++) {
        gint64 last = g_array_index(stops, HbBreakerStop, j).since;

        while (last - g_array_index(stops, HbBreakerStop, i).since > window)
            i++;
        if (j - i + 1 > best) {
            best = j - i + 1;
            *first = i;
        }
    }
    return best;
}


HbBreakerChange
hbBreakerUpdate(HbBreaker *breaker, GArray *stops, guint watched, gint64 window,
                gint64 now, GPtrArray *in_window)
{
    guint first;
    guint stopped = hbBreakerFullestWindow(stops, window, &first);
    guint judged = watched, counted = stopped;
    gboolean trips;

    /*
     * While it holds, only stopped guests that come back clear it. Guests
     * started since (in boot grace, not back) do not make the share
     * smaller; guests gone from the watched set since (paused on an I/O
     * error of the stalled storage, destroyed) count as still stopped: who
     * left is not known here, and a healthy guest shut down meanwhile only
     * keeps the hold, up to host_hold.
     */
    if (breaker->state == HB_BREAKER_HOLDING) {
        judged = breaker->watched_trip;
        if (watched < breaker->watched_trip)
            counted += breaker->watched_trip - watched;
    }
    trips = hbBreakerTrips(&breaker->conf, counted, judged);

    breaker->stopped = stopped;
    breaker->watched = watched;
    breaker->window = window;
    for (guint i = first; in_window && i < first + stopped; i++)
        g_ptr_array_add(in_window, (gpointer) g_array_index(stops, HbBreakerStop, i).who);

    switch (breaker->state) {
    case HB_BREAKER_CLOSED:
        if (!trips)
            return HB_BREAKER_SAME;
        breaker->state = HB_BREAKER_HOLDING;
        breaker->since = now;
        breaker->watched_trip = watched;
        return HB_BREAKER_SUSPECTED;
    case HB_BREAKER_HOLDING:
        if (!trips)
            breaker->state = HB_BREAKER_CLOSED;
        else if (now >= hbBreakerDeadline(breaker))
            breaker->state = HB_BREAKER_EXPIRED;
        else
            return HB_BREAKER_SAME;
        return HB_BREAKER_CLEARED;
    case HB_BREAKER_EXPIRED:
        /* Quietly: it was cleared when host_hold passed. Only guests that
         * came back and stop again trip it anew. */
        if (!trips)
            breaker->state = HB_BREAKER_CLOSED;
        return HB_BREAKER_SAME;
    case HB_BREAKER_LAST:
        break;
    }
    g_return_val_if_reached(HB_BREAKER_SAME);
}


gboolean
hbBreakerHolds(const HbBreaker *breaker, gboolean crashed)
{
    /* A crash is the guest's own and libvirt says so: no host doubt. */
    return breaker->state == HB_BREAKER_HOLDING && !crashed;
}


gint64
hbBreakerDeadline(const HbBreaker *breaker)
{
    if (breaker->state != HB_BREAKER_HOLDING)
        return G_MAXINT64;
    return breaker->since + (gint64) breaker->conf.hold * G_USEC_PER_SEC;
}


char *
hbBreakerReason(const HbBreaker *breaker)
{
    guint window = breaker->window / G_USEC_PER_SEC;

    switch (breaker->state) {
    case HB_BREAKER_CLOSED:
        return g_strdup_printf("guests back: %u of %u watched guests stopped within %u s",
                               breaker->stopped, breaker->watched, window);
    case HB_BREAKER_HOLDING:
        return g_strdup_printf("%u of %u watched guests stopped within %u s: host suspected "
                               "(storage stall or CPU steal); restart attempts held for up "
                               "to %u s", breaker->stopped, breaker->watched, window,
                               breaker->conf.hold);
    case HB_BREAKER_EXPIRED:
        return g_strdup_printf("host_hold passed (%u s) with %u of %u watched guests "
                               "stopped: the normal rules apply", breaker->conf.hold,
                               breaker->stopped, breaker->watched);
    case HB_BREAKER_LAST:
        break;
    }
    g_return_val_if_reached(NULL);
}
