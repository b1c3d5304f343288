/*
 * The deadlines of many items, in order, on one GSource.
 */
#include <config.h>

#include "hb-timers.h"

struct _HbTimers {
    GSource *source;
    GSequence *queue;  /* HbTimerEntry, by deadline, then by when it was set */
    HbTimerFunc func;
    guint64 serial;
};

typedef struct {
    gint64 deadline;
    guint64 serial;    /* among equal deadlines, the first set fires first */
    gpointer item;
    HbTimer *timer;
} HbTimerEntry;


static int
hbTimerCompare(gconstpointer a, gconstpointer b, gpointer data G_GNUC_UNUSED)
{
    const HbTimerEntry *x = a, *y = b;

    if (x->deadline != y->deadline)
        return x->deadline < y->deadline ? -1 : 1;
    return x->serial < y->serial ? -1 : x->serial > y->serial;
}


static void
hbTimersArm(HbTimers *timers)
{
    GSequenceIter *first = g_sequence_get_begin_iter(timers->queue);

    if (g_sequence_iter_is_end(first))
        g_source_set_ready_time(timers->source, -1);
    else
        g_source_set_ready_time(timers->source,
                                ((HbTimerEntry *) g_sequence_get(first))->deadline);
}


static void
hbTimerUnset(HbTimer *timer)
{
    if (!timer->iter)
        return;
    g_sequence_remove(timer->iter);
    *timer = (HbTimer) { 0 };
}


static gboolean
hbTimersDispatch(GSource *source, GSourceFunc callback G_GNUC_UNUSED, gpointer data)
{
    HbTimers *timers = data;
    gint64 now = g_get_monotonic_time();
    /* What an item sets while it runs waits for the next dispatch: an item
     * that sets a deadline already past never keeps the loop here. */
    guint64 serial = timers->serial;
    GSequenceIter *first;

    g_source_set_ready_time(source, -1);
    /* Each entry is taken out before its item runs: the item may set it again. */
    while (!g_sequence_iter_is_end(first = g_sequence_get_begin_iter(timers->queue))) {
        HbTimerEntry *entry = g_sequence_get(first);
        gpointer item = entry->item;

        if (entry->deadline > now || entry->serial >= serial)
            break;
        hbTimerUnset(entry->timer);
        timers->func(item);
    }
    hbTimersArm(timers);
    return G_SOURCE_CONTINUE;
}


static GSourceFuncs hbTimersFuncs = {
    .dispatch = hbTimersDispatch,
};


HbTimers *
hbTimersNew(HbTimerFunc func)
{
    HbTimers *timers = g_new0(HbTimers, 1);

    timers->func = func;
    timers->queue = g_sequence_new(g_free);
    timers->source = g_source_new(&hbTimersFuncs, sizeof(GSource));
    g_source_set_callback(timers->source, NULL, timers, NULL);
    g_source_set_name(timers->source, "hb-timers");
    g_source_attach(timers->source, NULL);
    return timers;
}


void
hbTimersFree(HbTimers *timers)
{
    GSequenceIter *iter;

    if (!timers)
        return;
    /* The items' HbTimer outlive the queue: leave them unset. */
    for (iter = g_sequence_get_begin_iter(timers->queue); !g_sequence_iter_is_end(iter);
         iter = g_sequence_iter_next(iter)) {
        HbTimerEntry *entry = g_sequence_get(iter);
        *entry->timer = (HbTimer) { 0 };
    }
    g_sequence_free(timers->queue);
    g_source_destroy(timers->source);
    g_source_unref(timers->source);
    g_free(timers);
}


void
hbTimerSet(HbTimers *timers, HbTimer *timer, gint64 deadline, gpointer item)
{
    HbTimerEntry *entry;
    gboolean was_first = timer->iter && g_sequence_iter_is_begin(timer->iter);

    if (timer->iter && ((HbTimerEntry *) g_sequence_get(timer->iter))->deadline == deadline)
        return;
    hbTimerUnset(timer);
    if (deadline >= 0) {
        entry = g_new0(HbTimerEntry, 1);
        entry->deadline = deadline;
        entry->serial = timers->serial++;
        entry->item = item;
        entry->timer = timer;
        timer->iter = g_sequence_insert_sorted(timers->queue, entry, hbTimerCompare, NULL);
    }
    /* The source waits for the first deadline: only a change of the first matters. */
    if (was_first || (timer->iter && g_sequence_iter_is_begin(timer->iter)))
        hbTimersArm(timers);
}
