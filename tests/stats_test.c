/*
 * The daemon's histograms, their quantiles and the Prometheus text format.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "hb-stats.h"


static void
test_histogram_buckets(void **state G_GNUC_UNUSED)
{
    HbHistogram h = { 0 };
    g_autoptr(GVariant) v = NULL;
    g_autoptr(GVariantIter) buckets = NULL;
    double bound, sum, last = 0;
    guint64 count, cumulative, before = 0;
    guint n = 0;

    hbHistogramAdd(&h, 50);                  /* 0.00005 s: the first bucket */
    hbHistogramAdd(&h, 100);                 /* on a bound: that bucket */
    hbHistogramAdd(&h, 101);                 /* just past it: the next */
    hbHistogramAdd(&h, 3 * G_USEC_PER_SEC);
    hbHistogramAdd(&h, 100 * G_USEC_PER_SEC); /* past every bound: +Inf */
    hbHistogramAdd(&h, -5);                  /* a clock step back: counted as 0 */

    v = g_variant_ref_sink(hbHistogramToVariant(&h));
    assert_true(g_variant_is_of_type(v, G_VARIANT_TYPE(HB_HISTOGRAM_TYPE)));
    g_variant_get(v, "(a(dt)dt)", &buckets, &sum, &count);
    assert_int_equal(count, 6);
    assert_true(fabs(sum - 103.000251) < 1e-9);
    while (g_variant_iter_next(buckets, "(dt)", &bound, &cumulative)) {
        assert_true(bound > last);
        assert_true(cumulative >= before);
        if (bound == 0.0001)
            assert_int_equal(cumulative, 3);
        if (bound == 0.00025)
            assert_int_equal(cumulative, 4);
        if (bound == 2.5)
            assert_int_equal(cumulative, 4);
        if (bound == 5)
            assert_int_equal(cumulative, 5);
        last = bound;
        before = cumulative;
        n++;
    }
    assert_int_equal(n, HB_HISTOGRAM_BOUNDS + 1);
    assert_true(isinf(last));
    assert_int_equal(before, 6);
}


static void
test_quantiles(void **state G_GNUC_UNUSED)
{
    HbHistogram h = { 0 };
    g_autoptr(GVariant) empty = g_variant_ref_sink(hbHistogramToVariant(&h));
    g_autoptr(GVariant) first = NULL;
    g_autoptr(GVariant) second = NULL;
    double q;

    assert_true(hbHistogramQuantile(empty, NULL, 0.5) < 0);
    assert_true(hbHistogramQuantile(NULL, NULL, 0.5) < 0);
    assert_true(hbHistogramQuantile(g_variant_new_string("x"), NULL, 0.5) < 0);

    /* 99 pings of 0.8 ms and one of 3 s. */
    for (int i = 0; i < 99; i++)
        hbHistogramAdd(&h, 800);
    hbHistogramAdd(&h, 3 * G_USEC_PER_SEC);
    first = g_variant_ref_sink(hbHistogramToVariant(&h));
    q = hbHistogramQuantile(first, NULL, 0.5);
    assert_true(q > 0.0005 && q <= 0.001);
    q = hbHistogramQuantile(first, NULL, 0.99);
    assert_true(q > 0.0005 && q <= 0.001);
    q = hbHistogramQuantile(first, NULL, 1.0);
    assert_true(q > 2.5 && q <= 5);

    /* Of the difference only: 10 more of 30 ms. */
    for (int i = 0; i < 10; i++)
        hbHistogramAdd(&h, 30000);
    second = g_variant_ref_sink(hbHistogramToVariant(&h));
    q = hbHistogramQuantile(second, first, 0.5);
    assert_true(q > 0.025 && q <= 0.05);
    assert_true(hbHistogramQuantile(first, first, 0.5) < 0);
    /* The daemon restarted between the two: its counters started again. */
    assert_true(hbHistogramQuantile(first, second, 0.5) < 0);
    assert_true(hbHistogramQuantile(empty, first, 1.0) < 0);

    /* All past the last bound: that bound. */
    h = (HbHistogram) { 0 };
    hbHistogramAdd(&h, 60 * G_USEC_PER_SEC);
    g_clear_pointer(&first, g_variant_unref);
    first = g_variant_ref_sink(hbHistogramToVariant(&h));
    assert_true(hbHistogramQuantile(first, NULL, 0.5) == 30);
}


/* Label values from outside (domain names) are escaped as the text format wants. */
static void
test_prom_writer(void **state G_GNUC_UNUSED)
{
    g_autoptr(GString) out = g_string_new(NULL);

    hbPromLabelValue(out, "a\\b\"c\nd\u00e9}");
    assert_string_equal(out->str, "a\\\\b\\\"c\\nd\u00e9}");
    g_string_truncate(out, 0);
    hbPromUnsigned(out, 0);
    g_string_append_c(out, ' ');
    hbPromUnsigned(out, G_MAXUINT64);
    g_string_append_c(out, ' ');
    hbPromFloat(out, 0.25);
    g_string_append_c(out, ' ');
    hbPromFloat(out, INFINITY);
    g_string_append_c(out, ' ');
    hbPromFloat(out, NAN);
    g_string_append_c(out, ' ');
    hbPromMicros(out, 0);
    g_string_append_c(out, ' ');
    hbPromMicros(out, 250000);
    g_string_append_c(out, ' ');
    hbPromMicros(out, 1796052189577920);
    g_string_append_c(out, ' ');
    hbPromMicros(out, 1000001);
    assert_string_equal(out->str, "0 18446744073709551615 0.25 +Inf NaN 0 0.25 "
                        "1796052189.57792 1.000001");
}


static void
test_format(void **state G_GNUC_UNUSED)
{
    HbHistogram h = { 0 };
    GVariantBuilder b, pings;
    g_autoptr(GVariant) stats = NULL;
    g_autoptr(GString) out = g_string_new(NULL);

    hbHistogramAdd(&h, 2000);
    g_variant_builder_init(&pings, G_VARIANT_TYPE("a{st}"));
    g_variant_builder_add(&pings, "{st}", "tick", (guint64) 7);
    g_variant_builder_add(&pings, "{st}", "no-verdict", (guint64) 1);
    /* Not a name the daemon gives: never printed as a label. */
    g_variant_builder_add(&pings, "{st}", "a\"}\n1", (guint64) 9);
    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&b, "{sv}", "future_key", g_variant_new_uint32(3));
    g_variant_builder_add(&b, "{sv}", "ping_rtt", hbHistogramToVariant(&h));
    g_variant_builder_add(&b, "{sv}", "pings", g_variant_builder_end(&pings));
    /* Of the wrong type: left out. */
    g_variant_builder_add(&b, "{sv}", "domains", g_variant_new_string("ok"));
    stats = g_variant_ref_sink(g_variant_builder_end(&b));

    hbStatsFormat(stats, out);
    assert_string_equal(out->str,
        "# HELP virt_heartbeat_pings_total Pings answered since the daemon started, "
        "by what they found.\n"
        "# TYPE virt_heartbeat_pings_total counter\n"
        "virt_heartbeat_pings_total{result=\"tick\"} 7\n"
        "virt_heartbeat_pings_total{result=\"no-verdict\"} 1\n"
        "# HELP virt_heartbeat_ping_rtt_seconds How long each ping's libvirt call took.\n"
        "# TYPE virt_heartbeat_ping_rtt_seconds histogram\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.0001\"} 0\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.00025\"} 0\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.0005\"} 0\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.001\"} 0\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.0025\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.005\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.01\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.025\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.05\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.1\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.25\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"0.5\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"1\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"2.5\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"5\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"10\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"20\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"30\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_bucket{le=\"+Inf\"} 1\n"
        "virt_heartbeat_ping_rtt_seconds_sum 0.002\n"
        "virt_heartbeat_ping_rtt_seconds_count 1\n");
}


/* The cost model's budget: half of libvirtd's host, said once each way. */
static void
test_load_judge(void **state G_GNUC_UNUSED)
{
    gboolean past = FALSE;

    /* BENCHMARKS.md: a 2-core host serves 936 domains at the default rate. */
    assert_true(fabs(hbLoadCpus(1000, 1000.0 / 6) - 1.0717) < 0.001);
    assert_true(hbLoadCpus(900, 900.0 / 6) < 1.0);
    assert_true(hbLoadCpus(940, 940.0 / 6) > 1.0);
    assert_true(hbLoadCpus(0, -3) == 0);

    /* Unknown host: never judged. */
    assert_int_equal(hbLoadJudge(&past, 100, 0), HB_LOAD_SAME);
    assert_false(past);

    assert_int_equal(hbLoadJudge(&past, 0.9, 2), HB_LOAD_SAME);
    assert_int_equal(hbLoadJudge(&past, 1.1, 2), HB_LOAD_PAST);
    assert_true(past);
    assert_int_equal(hbLoadJudge(&past, 1.5, 2), HB_LOAD_SAME);
    /* Between 80 % and 100 % of the budget: still past, not said again. */
    assert_int_equal(hbLoadJudge(&past, 0.9, 2), HB_LOAD_SAME);
    assert_int_equal(hbLoadJudge(&past, 1.1, 2), HB_LOAD_SAME);
    assert_int_equal(hbLoadJudge(&past, 0.7, 2), HB_LOAD_BACK);
    assert_false(past);
    assert_int_equal(hbLoadJudge(&past, 0.7, 2), HB_LOAD_SAME);
    assert_int_equal(hbLoadJudge(&past, 1.01, 2), HB_LOAD_PAST);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_prom_writer),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_load_judge),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
