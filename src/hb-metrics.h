/*
 * The Prometheus endpoint: GET /metrics on the daemon's main loop, served
 * by libsoup, in the text format of hb-stats.h.
 */
#pragma once

#include "hb-monitor.h"

#define HB_METRICS_PATH "/metrics"
/* Connections served at once; more are closed as they come. */
#define HB_METRICS_MAX_CONNECTIONS 16
/* A connection with nothing read or written for this long is closed. */
#define HB_METRICS_IDLE_S 10

typedef struct _HbMetrics HbMetrics;

/*
 * Serve the figures of @monitor on @listen (hbDaemonConfListenAddress).
 * NULL, with @err set, if it cannot listen there.
 */
HbMetrics *hbMetricsNew(HbMonitor *monitor, const char *listen, GError **err);
void hbMetricsFree(HbMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbMetrics, hbMetricsFree)
/* The port it listens on, @listen's. */
guint hbMetricsPort(HbMetrics *metrics);

/* Appends every metric of @monitor, as GET /metrics serves it, at wall clock @now (µs). */
void hbMetricsFormat(HbMonitor *monitor, gint64 now, GString *out);
/* Appends step @step (from 0) of that; whether there are more. GET /metrics
 * takes one step a main-loop iteration. */
gboolean hbMetricsFormatStep(HbMonitor *monitor, gint64 now, guint step, GString *out);
