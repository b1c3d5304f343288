/*
 * The Prometheus endpoint: GET /metrics on the daemon's main loop, served
 * by libsoup (the text written on another thread), in the text format of hb-stats.h.
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
/* For tests: the requests waiting for their scrape, and the builds started
 * (in *@builds); a mutex that builds started after this wait for, before
 * they write the text, while the test holds it (NULL: none). */
guint hbMetricsRequests(HbMetrics *metrics, guint *builds);
void hbMetricsSetGate(HbMetrics *metrics, GMutex *gate);
/* For tests: domains copied a main-loop iteration (500). Main thread, before requests. */
void hbMetricsSetChunk(HbMetrics *metrics, guint chunk);

/*
 * Everything a scrape serves, read from the monitor: taken on the main loop
 * (it is the only part of a GET that holds it), written out on any thread.
 */
typedef struct _HbMetricsSnapshot HbMetricsSnapshot;
HbMetricsSnapshot *hbMetricsSnapshotNew(HbMonitor *monitor, gint64 now);
void hbMetricsSnapshotFree(HbMetricsSnapshot *snap);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbMetricsSnapshot, hbMetricsSnapshotFree)
/* Appends the snapshot in the Prometheus text format, as GET /metrics serves it. */
void hbMetricsSnapshotFormat(const HbMetricsSnapshot *snap, GString *out);
/* Both at once: every metric of @monitor at wall clock @now (µs). */
void hbMetricsFormat(HbMonitor *monitor, gint64 now, GString *out);
