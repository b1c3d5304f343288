/*
 * Many deadlines on one main-loop source. A GSource per domain costs
 * every main-loop iteration a visit to each of them (GLib prepares and
 * checks every source): at 10,000 domains that was most of the daemon's
 * CPU. Here the deadlines are kept in order and one source waits for the
 * first.
 */
#pragma once

#include <glib.h>

typedef struct _HbTimers HbTimers;

/* Called on the main loop for an item whose deadline came; it is unset first. */
typedef void (*HbTimerFunc)(gpointer item);

/* One item's place in the queue; NULL iter: unset. */
typedef struct {
    GSequenceIter *iter;
} HbTimer;

HbTimers *hbTimersNew(HbTimerFunc func);
/* Every timer still set is dropped, none fires. */
void hbTimersFree(HbTimers *timers);
/* Fire @item once at monotonic time @deadline; -1: never. Replaces its last deadline. */
void hbTimerSet(HbTimers *timers, HbTimer *timer, gint64 deadline, gpointer item);
