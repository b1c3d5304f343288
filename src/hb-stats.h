/*
 * The daemon's own figures: how many pings found what, how long they took,
 * how late they left their slots. The daemon keeps histograms of them and
 * serves everything as one a{sv} (Manager1.GetStatistics); its clients
 * print that in the Prometheus text format. Nothing here needs libvirt.
 */
#pragma once

#include <glib.h>

/* The buckets' upper bounds in seconds; one more, +Inf, counts the rest. */
#define HB_HISTOGRAM_BOUNDS 18
/* A histogram as GetStatistics serves it: the cumulative buckets (upper
 * bound in seconds, count), then the sum in seconds and the count. */
#define HB_HISTOGRAM_TYPE "(a(dt)dt)"

typedef struct {
    guint64 counts[HB_HISTOGRAM_BOUNDS + 1]; /* per bucket, not cumulative */
    guint64 count;
    gint64 sum_us;
} HbHistogram;

void hbHistogramAdd(HbHistogram *histogram, gint64 us);
GVariant *hbHistogramToVariant(const HbHistogram *histogram);
/*
 * The @q quantile (0 to 1) in seconds of what the HB_HISTOGRAM_TYPE
 * @after holds, less what @before (NULL: nothing) held, interpolated
 * within its bucket as Prometheus' histogram_quantile() does; -1 for none, or
 * when a count went back (a daemon restarted between the two).
 * A quantile in the +Inf bucket is the largest finite bound.
 */
double hbHistogramQuantile(GVariant *after, GVariant *before, double q);

/*
 * Appends the a{sv} GetStatistics returns in the Prometheus text format,
 * the keys it knows in a fixed order; others, and values of another type,
 * are left out.
 */
void hbStatsFormat(GVariant *stats, GString *out);
