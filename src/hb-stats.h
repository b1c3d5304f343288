/*
 * The daemon's own figures: how many pings found what, how long they took,
 * how late they left their slots. The daemon keeps histograms of them and
 * serves everything as one a{sv} (Manager1.GetStatistics); its clients
 * print that in the Prometheus text format. Nothing here needs libvirt.
 */
#pragma once

#include <glib.h>
#include <string.h>

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
 * The cost model of BENCHMARKS.md ("Real guests at the machine's limit"):
 * libvirtd's CPU per ping, and per running domain and second for the bulk
 * counter read.
 */
#define HB_COST_PING_US 2050
#define HB_COST_DOMAIN_US 730

/* The CPUs of libvirtd's host that @watched domains pinging @pings times a
 * second, all together, take. */
double hbLoadCpus(guint watched, double pings);

typedef enum {
    HB_LOAD_SAME,
    HB_LOAD_PAST,    /* past half of the host's CPUs: a 2x margin no more */
    HB_LOAD_BACK,    /* back below 80 % of that */
} HbLoadChange;

/* Judge @load (CPUs) on a host of @cpus (0: not known, never judged); @past
 * is whether it was past, and is kept up to date. */
HbLoadChange hbLoadJudge(gboolean *past, double load, guint cpus);

/*
 * The Prometheus text format, version 0.0.4: the one writer of the CLI's
 * `stats` and of the daemon's /metrics. Each appends to @out.
 */
#define HB_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * g_string_append_len() without its call where there is room: a scrape at
 * 10,000 domains is some 200,000 lines of five pieces each, and GLib 2.74
 * does not inline it.
 */
static inline void
hbPromPut(GString *out, const char *text, gsize len)
{
    if (G_UNLIKELY(out->len + len >= out->allocated_len)) {
        g_string_append_len(out, text, len);
        return;
    }
    memcpy(out->str + out->len, text, len);
    out->len += len;
    out->str[out->len] = '\0';
}

/* The HELP and TYPE lines that open the family @name. */
void hbPromFamily(GString *out, const char *name, const char *type, const char *help);
/* A sample value: +Inf, -Inf, NaN, or 15 significant digits in the C locale. */
void hbPromFloat(GString *out, double value);
void hbPromUnsigned(GString *out, guint64 value);
/* @us millionths as a decimal number ("0.25" for 250000): a float without printf. */
void hbPromMicros(GString *out, guint64 us);
/* A label value, its backslashes, double quotes and newlines escaped. */
void hbPromLabelValue(GString *out, const char *value);
/* The samples of the histogram @name from its HB_HISTOGRAM_TYPE @value. */
void hbPromHistogram(GString *out, const char *name, GVariant *value);

/*
 * Appends the a{sv} GetStatistics returns in the Prometheus text format,
 * the keys it knows in a fixed order; others, and values of another type,
 * are left out.
 */
void hbStatsFormat(GVariant *stats, GString *out);
