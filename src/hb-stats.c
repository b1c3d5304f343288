/*
 * Histograms and the text format of the daemon's figures.
 */
#include <config.h>

#include <math.h>

#include "hb-stats.h"

/* From 100 us (a ping on an idle host) to 30 s (past libvirt's waits). */
static const double hbHistogramBounds[HB_HISTOGRAM_BOUNDS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30,
};


void
hbHistogramAdd(HbHistogram *histogram, gint64 us)
{
    double s = MAX(us, 0) / 1e6;
    guint i;

    for (i = 0; i < HB_HISTOGRAM_BOUNDS && s > hbHistogramBounds[i]; i++)
        ;
    histogram->counts[i]++;
    histogram->count++;
    histogram->sum_us += MAX(us, 0);
}


GVariant *
hbHistogramToVariant(const HbHistogram *histogram)
{
    GVariantBuilder buckets;
    guint64 cumulative = 0;

    g_variant_builder_init(&buckets, G_VARIANT_TYPE("a(dt)"));
    for (guint i = 0; i <= HB_HISTOGRAM_BOUNDS; i++) {
        cumulative += histogram->counts[i];
        g_variant_builder_add(&buckets, "(dt)",
                              i < HB_HISTOGRAM_BOUNDS ? hbHistogramBounds[i] : INFINITY,
                              cumulative);
    }
    return g_variant_new("(a(dt)dt)", &buckets, histogram->sum_us / 1e6, histogram->count);
}


/* The cumulative count of bucket @i of @histogram; 0 past its end or for NULL. */
static guint64
hbHistogramBucket(GVariant *histogram, gsize i, double *bound)
{
    g_autoptr(GVariant) buckets = NULL;
    guint64 count = 0;

    if (!histogram)
        return 0;
    buckets = g_variant_get_child_value(histogram, 0);
    if (i >= g_variant_n_children(buckets))
        return 0;
    g_variant_get_child(buckets, i, "(dt)", bound, &count);
    return count;
}


double
hbHistogramQuantile(GVariant *after, GVariant *before, double q)
{
    g_autoptr(GVariant) buckets = NULL;
    double unused, lower = 0, bound = 0;
    guint64 total, below = 0;
    gsize n;

    if (!after || !g_variant_is_of_type(after, G_VARIANT_TYPE(HB_HISTOGRAM_TYPE)) ||
        (before && !g_variant_is_of_type(before, G_VARIANT_TYPE(HB_HISTOGRAM_TYPE))))
        return -1;
    buckets = g_variant_get_child_value(after, 0);
    n = g_variant_n_children(buckets);
    if (n == 0)
        return -1;
    total = hbHistogramBucket(after, n - 1, &bound) - hbHistogramBucket(before, n - 1, &unused);
    if (total == 0)
        return -1;
    /* Counters that went back (the daemon restarted in between): no figure. */
    for (gsize i = 0; i < n; i++) {
        if (hbHistogramBucket(after, i, &bound) < hbHistogramBucket(before, i, &unused))
            return -1;
    }
    for (gsize i = 0; i < n; i++) {
        guint64 upto = hbHistogramBucket(after, i, &bound) -
            hbHistogramBucket(before, i, &unused);
        if (isinf(bound))
            return lower;
        if (upto >= q * total) {
            if (upto == below)
                return bound;
            return lower + (bound - lower) * (q * total - below) / (upto - below);
        }
        below = upto;
        lower = bound;
    }
    return lower;
}


double
hbLoadCpus(guint watched, double pings)
{
    return (HB_COST_PING_US * MAX(pings, 0) + HB_COST_DOMAIN_US * (double) watched) / 1e6;
}


HbLoadChange
hbLoadJudge(gboolean *past, double load, guint cpus)
{
    double budget = cpus / 2.0;

    if (!cpus)
        return HB_LOAD_SAME;
    if (*past && load < 0.8 * budget) {
        *past = FALSE;
        return HB_LOAD_BACK;
    }
    if (!*past && load > budget) {
        *past = TRUE;
        return HB_LOAD_PAST;
    }
    return HB_LOAD_SAME;
}


/* What each key of GetStatistics is, in the order it is printed. */
typedef struct {
    const char *key;
    const char *name;
    const char *type;   /* Prometheus' */
    const char *label;  /* of an a{st}'s keys */
    const char *help;
} HbStatsMetric;

static const HbStatsMetric hbStatsMetrics[] = {
    { "domains", "virt_heartbeat_domains", "gauge", "state",
      "Monitored domains, by heartbeat state." },
    { "pings", "virt_heartbeat_pings_total", "counter", "result",
      "Pings answered since the daemon started, by what they found." },
    { "ping_rtt", "virt_heartbeat_ping_rtt_seconds", "histogram", NULL,
      "How long each ping's libvirt call took." },
    { "ping_lateness", "virt_heartbeat_ping_lateness_seconds", "histogram", NULL,
      "How long after its slot each ping was sent: the daemon's own delay." },
};


void
hbPromFamily(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}


void
hbPromFloat(GString *out, double value)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    if (isinf(value))
        g_string_append(out, value > 0 ? "+Inf" : "-Inf");
    else if (isnan(value))
        g_string_append(out, "NaN");
    else
        g_string_append(out, g_ascii_formatd(buf, sizeof(buf), "%.15g", value));
}


/* Without printf: a scrape of thousands of domains writes a number per line. */
void
hbPromUnsigned(GString *out, guint64 value)
{
    char buf[24];
    char *p = buf + sizeof(buf);

    do {
        *--p = '0' + value % 10;
        value /= 10;
    } while (value);
    hbPromPut(out, p, buf + sizeof(buf) - p);
}


void
hbPromMicros(GString *out, guint64 us)
{
    char frac[8];
    guint64 rest = us % G_USEC_PER_SEC;
    int len = 6;

    hbPromUnsigned(out, us / G_USEC_PER_SEC);
    if (!rest)
        return;
    for (int i = 5; i >= 0; i--, rest /= 10)
        frac[i] = '0' + rest % 10;
    while (frac[len - 1] == '0')
        len--;
    hbPromPut(out, ".", 1);
    hbPromPut(out, frac, len);
}


void
hbPromLabelValue(GString *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            g_string_append(out, "\\\\");
        else if (*p == '"')
            g_string_append(out, "\\\"");
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
}


void
hbPromHistogram(GString *out, const char *name, GVariant *value)
{
    g_autoptr(GVariantIter) buckets = NULL;
    guint64 count, cumulative;
    double bound, sum;

    g_variant_get(value, "(a(dt)dt)", &buckets, &sum, &count);
    while (g_variant_iter_next(buckets, "(dt)", &bound, &cumulative)) {
        g_string_append_printf(out, "%s_bucket{le=\"", name);
        hbPromFloat(out, bound);
        g_string_append(out, "\"} ");
        hbPromUnsigned(out, cumulative);
        g_string_append_c(out, '\n');
    }
    g_string_append_printf(out, "%s_sum ", name);
    hbPromFloat(out, sum);
    g_string_append_printf(out, "\n%s_count ", name);
    hbPromUnsigned(out, count);
    g_string_append_c(out, '\n');
}


/* Label values are the daemon's own names (states, results): nothing to escape. */
static void
hbStatsFormatLabelled(const HbStatsMetric *metric, GVariant *value, GString *out)
{
    GVariantIter iter;
    const char *label;
    guint64 count;

    g_variant_iter_init(&iter, value);
    while (g_variant_iter_next(&iter, "{&st}", &label, &count)) {
        if (!g_regex_match_simple("^[a-z_-]+$", label, 0, 0))
            continue;
        g_string_append_printf(out, "%s{%s=\"", metric->name, metric->label);
        hbPromLabelValue(out, label);
        g_string_append(out, "\"} ");
        hbPromUnsigned(out, count);
        g_string_append_c(out, '\n');
    }
}


void
hbStatsFormat(GVariant *stats, GString *out)
{
    for (gsize i = 0; i < G_N_ELEMENTS(hbStatsMetrics); i++) {
        const HbStatsMetric *metric = &hbStatsMetrics[i];
        const GVariantType *type = G_VARIANT_TYPE(metric->label ? "a{st}" : HB_HISTOGRAM_TYPE);
        g_autoptr(GVariant) value = g_variant_lookup_value(stats, metric->key, type);

        if (!value)
            continue;
        hbPromFamily(out, metric->name, metric->type, metric->help);
        if (metric->label)
            hbStatsFormatLabelled(metric, value, out);
        else
            hbPromHistogram(out, metric->name, value);
    }
}
