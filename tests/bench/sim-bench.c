/*
 * sim-bench: the daemon's code at scale, in this process, on libvirt's
 * test driver with a simulated guest agent (BENCHMARKS.md, "10,000
 * domains in simulation"). It runs in real time and prints each figure
 * beside its target:
 *
 *   1. startup: list and resync every domain;
 *   2. a steady window: CPU, RSS, ping lateness (dispatch vs slot) minute
 *      by minute, and the signals a bus monitor sees;
 *   3. `virt-heartbeat list` and `status` against the daemon, and GET
 *      /metrics (its build, the HTTP round trip, and ping lateness while
 *      it is scraped every second);
 *   4. a number of domains hang at once: how long until each one's
 *      HeartbeatStopped, and whether any healthy domain got one.
 *
 * The domains live in test:///default, the one test driver every
 * connection of a process shares: a test:///FILE.xml URI gives each
 * connection a private copy of the file, and the daemon opens one per
 * worker thread.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <glib-unix.h>
#include <libvirt-glib/libvirt-glib.h>

#include "hb-dbus.h"
#include "hb-metrics.h"
#include "hb-monitor.h"

#define SIM_URI "test:///default"
#define SIM_UUID_FORMAT "5e1a0000-0000-4000-8000-%012x"
/* libvirt 9.0 answers a call to a hung agent after 5 s, whatever its timeout. */
#define SIM_HUNG_CALL_S 5

typedef enum {
    SIM_AGENT_OK,
    SIM_AGENT_HUNG,
} SimAgent;

typedef struct {
    int domains;
    int seconds;
    int time;
    int rate;
    double latency_ms;   /* the median ping round trip */
    double sigma;        /* of its logarithm */
    double fail_share;   /* of healthy pings that fail anyway */
    int hangs;
    int settle;          /* seconds after warm-up before the window */
    int ping_workers;
    int suspect_workers;
    int scrapes;         /* GET /metrics, one every scrape_every seconds */
    int scrape_every;
    char *cli;
} SimOptions;

static SimOptions simOpt = {
    .domains = 10000, .seconds = 300, .time = 60, .rate = 10,
    .latency_ms = 1.0, .sigma = 0.5, .fail_share = 0, .hangs = 100, .settle = 60,
    .ping_workers = 8, .suspect_workers = 100, .scrapes = 20, .scrape_every = 1,
};
static gint *simAgents;      /* SimAgent, by domain index */
static GPrivate simRandKey = G_PRIVATE_INIT((GDestroyNotify) g_rand_free);


static int
simIndex(const char *uuid)
{
    const char *tail = strrchr(uuid, '-');

    return tail ? (int) g_ascii_strtoull(tail + 1, NULL, 16) : -1;
}


static double
simGauss(GRand *rand)
{
    double u = g_rand_double_range(rand, 1e-12, 1.0);

    return sqrt(-2 * log(u)) * cos(2 * G_PI * g_rand_double(rand));
}


/* The simulated agent: a log-normal round trip, a share of failures, hangs. */
static HbProbeResult
simProbe(virConnectPtr conn G_GNUC_UNUSED, const char *uuid, guint timeout, char **detail)
{
    GRand *rand = g_private_get(&simRandKey);
    int i = simIndex(uuid);
    double ms;

    if (!rand) {
        rand = g_rand_new();
        g_private_set(&simRandKey, rand);
    }
    if (i < 0 || i >= simOpt.domains) {
        *detail = g_strdup("domain is not running");
        return HB_PROBE_VOID;
    }
    if (g_atomic_int_get(&simAgents[i]) == SIM_AGENT_HUNG) {
        g_usleep(MIN(timeout, SIM_HUNG_CALL_S) * G_USEC_PER_SEC);
        *detail = g_strdup("guest agent is not responding");
        return HB_PROBE_MISS;
    }
    ms = simOpt.latency_ms * exp(simOpt.sigma * simGauss(rand));
    g_usleep((gulong) (ms * 1000));
    if (simOpt.fail_share > 0 && g_rand_double(rand) < simOpt.fail_share) {
        *detail = g_strdup("simulated failure");
        return HB_PROBE_MISS;
    }
    return HB_PROBE_OK;
}


/* This process's CPU time in seconds, all threads. */
static double
simCpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
        (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}


/* Resident set in KiB. */
static long
simRss(void)
{
    g_autofree char *text = NULL;
    long pages = 0, resident = 0;

    if (g_file_get_contents("/proc/self/statm", &text, NULL, NULL))
        sscanf(text, "%ld %ld", &pages, &resident);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}


/* Heap in use in KiB, all malloc arenas. */
static long
simHeap(void)
{
    return (long) (mallinfo2().uordblks / 1024);
}


static gboolean
simTimeout(gpointer data)
{
    *(gboolean *) data = TRUE;
    return G_SOURCE_REMOVE;
}


typedef gboolean (*SimCond)(gpointer data);

/* Run the main loop until @cond holds or @seconds pass (0: for @seconds). */
static gboolean
simRun(SimCond cond, gpointer data, double seconds)
{
    gboolean expired = FALSE;
    guint id = g_timeout_add((guint) (seconds * 1000), simTimeout, &expired);

    while (!(cond && cond(data)) && !expired)
        g_main_context_iteration(NULL, TRUE);
    if (!expired)
        g_source_remove(id);
    return cond && cond(data);
}


/* 10,000 "monitored" lines say nothing here: warnings and worse only. */
static GLogWriterOutput
simLogWriter(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
    if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG))
        return G_LOG_WRITER_HANDLED;
    return hbUtilLogWriter(level, fields, n, data);
}


typedef struct {
    HbMonitor *monitor;
    gboolean owned;
} SimDaemon;


static void
simOnAcquired(GDBusConnection *c G_GNUC_UNUSED, const char *name G_GNUC_UNUSED, gpointer data)
{
    SimDaemon *d = data;

    d->owned = TRUE;
    hbMonitorStart(d->monitor);
}


static gboolean
simResynced(gpointer data)
{
    SimDaemon *d = data;
    g_autoptr(GList) doms = NULL;

    if (!d->owned || !hbMonitorIsConnected(d->monitor))
        return FALSE;
    doms = hbMonitorDomains(d->monitor);
    return (int) g_list_length(doms) == simOpt.domains;
}


static gboolean
simAllOk(gpointer data)
{
    SimDaemon *d = data;
    g_autoptr(GList) doms = hbMonitorDomains(d->monitor);

    for (GList *l = doms; l; l = l->next) {
        if (hbDomainState(l->data) != HB_STATE_OK || hbDomainPercentage(l->data) != 100)
            return FALSE;
    }
    return TRUE;
}


static int
simCreateDomains(virConnectPtr conn)
{
    for (int i = 0; i < simOpt.domains; i++) {
        g_autofree char *xml = g_strdup_printf(
            "<domain type='test'><name>sim%05d</name><uuid>" SIM_UUID_FORMAT "</uuid>"
            "<memory>65536</memory><os><type>hvm</type></os>"
            "<metadata><hb:heartbeat xmlns:hb='urn:virt-heartbeat:1' time='%d' rate='%d'/>"
            "</metadata><devices><channel type='unix'><target type='virtio' "
            "name='org.qemu.guest_agent.0'/></channel></devices></domain>",
            i, i, simOpt.time, simOpt.rate);
        g_autoptr(virDomain) dom = virDomainCreateXML(conn, xml, 0);

        if (!dom) {
            g_printerr("sim-bench: cannot start sim%05d: %s\n", i, virGetLastErrorMessage());
            return -1;
        }
    }
    return 0;
}


/* The statistics' lateness histogram now. */
static GVariant *
simLateness(SimDaemon *d)
{
    g_autoptr(GVariant) stats = g_variant_ref_sink(hbMonitorStatistics(d->monitor));

    return g_variant_lookup_value(stats, "ping_lateness", G_VARIANT_TYPE(HB_HISTOGRAM_TYPE));
}


static guint64
simCount(GVariant *histogram)
{
    guint64 count = 0;

    g_variant_get(histogram, "(a(dt)dt)", NULL, NULL, &count);
    return count;
}


/* The largest bucket bound any of the difference reached: the maximum's upper bound. */
static double
simMaxBound(GVariant *after, GVariant *before)
{
    return hbHistogramQuantile(after, before, 1.0);
}


/*
 * The CLI is timed by a small process forked before this one grows: a
 * fork of a process of 200 MB and 80 threads would be timed too. It reads
 * "BUS-ADDRESS<TAB>ARG<TAB>ARG...", runs the CLI with those arguments and
 * writes back its wall time in seconds, or -1 if it failed. With "-" for
 * the address, ARG... is a command of its own (curl for GET /metrics), and
 * what it prints is the figure written back.
 */
static int simRunnerIn = -1;   /* to the runner */
static int simRunnerOut = -1;  /* from it */


static void G_GNUC_NORETURN
simRunnerLoop(int in, int out, const char *cli)
{
    char line[4096];
    FILE *cmds = fdopen(in, "r");

    while (fgets(line, sizeof(line), cmds)) {
        g_auto(GStrv) args = g_strsplit(g_strchomp(line), "\t", -1);
        g_autofree char *env = g_strconcat("DBUS_SYSTEM_BUS_ADDRESS=", args[0], NULL);
        struct timespec t0, t1;
        char reply[64];
        int status = -1;
        pid_t pid;

        gboolean own = g_str_equal(args[0], "-");

        if (!own) {
            g_free(args[0]);
            args[0] = g_strdup(cli);   /* the address is in env */
        }
        int said[2] = { -1, -1 };
        ssize_t n = 0;

        if (own && pipe(said) < 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if ((pid = fork()) == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(own ? said[1] : null, STDOUT_FILENO);
            if (own)
                execvp(args[1], args + 1);
            putenv(env);
            execv(cli, args);
            _exit(127);
        }
        if (own) {
            close(said[1]);
            n = pid > 0 ? read(said[0], reply, sizeof(reply) - 2) : -1;
            close(said[0]);
        }
        if (pid > 0)
            waitpid(pid, &status, 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || (own && n <= 0))
            g_snprintf(reply, sizeof(reply), "-1\n");
        else if (own)
            memcpy(reply + n, "\n", 2);   /* the command's own figure */
        else
            g_snprintf(reply, sizeof(reply), "%f\n",
                       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        if (write(out, reply, strlen(reply)) < 0)
            break;
    }
    _exit(0);
}


static int
simRunnerStart(const char *cli)
{
    int to[2], from[2];
    pid_t pid;

    if (pipe(to) < 0 || pipe(from) < 0)
        return -1;
    if ((pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        close(to[1]);
        close(from[0]);
        simRunnerLoop(to[0], from[1], cli);
    }
    close(to[0]);
    close(from[1]);
    simRunnerIn = to[1];
    simRunnerOut = from[0];
    return 0;
}


typedef struct {
    char buf[64];
    gsize len;
    gboolean done;
} SimReply;


static gboolean
simRunnerReadable(gint fd, GIOCondition cond G_GNUC_UNUSED, gpointer data)
{
    SimReply *reply = data;
    ssize_t n = read(fd, reply->buf + reply->len, sizeof(reply->buf) - 1 - reply->len);

    if (n <= 0) {
        reply->done = TRUE;
        return G_SOURCE_REMOVE;
    }
    reply->len += n;
    reply->buf[reply->len] = '\0';
    if (strchr(reply->buf, '\n')) {
        reply->done = TRUE;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}


static gboolean
simReplied(gpointer data)
{
    return ((SimReply *) data)->done;
}


/* Run the CLI while this process serves the bus; its wall time in s, -1 if it failed. */
static double
simCli(const char *address, const char *const *argv)
{
    g_autofree char *args = g_strjoinv("\t", (char **) argv);
    g_autofree char *cmd = g_strdup_printf("%s\t%s\n", address, args);
    SimReply reply = { 0 };
    guint id;

    if (write(simRunnerIn, cmd, strlen(cmd)) < 0)
        return -1;
    id = g_unix_fd_add(simRunnerOut, G_IO_IN | G_IO_HUP, simRunnerReadable, &reply);
    if (!simRun(simReplied, &reply, 120)) {
        g_source_remove(id);
        return -1;
    }
    return g_ascii_strtod(reply.buf, NULL);
}


static int
simCompareDouble(gconstpointer a, gconstpointer b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}


/* The @q quantile of @values (sorted in place). */
static double
simQuantile(GArray *values, double q)
{
    guint i;

    if (values->len == 0)
        return -1;
    g_array_sort(values, simCompareDouble);
    i = (guint) ceil(q * values->len) - 1;
    return g_array_index(values, double, MIN(i, values->len - 1));
}


typedef struct {
    GHashTable *hung;     /* uuid -> nothing: the domains made to hang */
    GHashTable *stopped;  /* uuid -> when its HeartbeatStopped came, monotonic us */
    guint false_stops;    /* HeartbeatStopped of a domain that was not hung */
} SimStops;


static void
simOnStopped(GDBusConnection *c G_GNUC_UNUSED, const char *sender G_GNUC_UNUSED,
             const char *path G_GNUC_UNUSED, const char *iface G_GNUC_UNUSED,
             const char *signal G_GNUC_UNUSED, GVariant *params, gpointer data)
{
    SimStops *stops = data;
    const char *name, *uuid;

    g_variant_get(params, "(&s&s&s&s)", &name, &uuid, NULL, NULL);
    if (!g_hash_table_contains(stops->hung, uuid)) {
        stops->false_stops++;
        g_printerr("sim-bench: healthy domain %s reported stopped\n", name);
        return;
    }
    if (!g_hash_table_contains(stops->stopped, uuid))
        g_hash_table_insert(stops->stopped, g_strdup(uuid),
                            g_memdup2(&(gint64) { g_get_monotonic_time() }, sizeof(gint64)));
}


static gboolean
simAllStopped(gpointer data)
{
    SimStops *stops = data;

    return g_hash_table_size(stops->stopped) == g_hash_table_size(stops->hung);
}


static const char *
simVerdict(gboolean met)
{
    return met ? "met" : "NOT MET";
}


/* Counts the signals a bus monitor prints, by reading its --profile lines. */
/* Run @seconds, print the pings of that span and their lateness, and
 * move *@mark (the lateness histogram at its start) to its end. */
static void
simSpan(SimDaemon *d, GVariant **mark, double seconds, const char *what)
{
    g_autoptr(GVariant) now = NULL;

    simRun(NULL, NULL, seconds);
    now = simLateness(d);
    printf("  %s: %" G_GUINT64_FORMAT " pings, lateness p50 %.1f ms p99 %.1f ms "
           "max <= %.1f ms\n", what, simCount(now) - simCount(*mark),
           hbHistogramQuantile(now, *mark, 0.5) * 1000,
           hbHistogramQuantile(now, *mark, 0.99) * 1000,
           simMaxBound(now, *mark) * 1000);
    g_variant_unref(*mark);
    *mark = g_steal_pointer(&now);
}


typedef struct {
    GSubprocess *proc;
    GDataInputStream *out;
    guint64 signals;
    GCancellable *cancel;
} SimMonitor;


static void
simMonitorLine(GObject *source, GAsyncResult *res, gpointer data)
{
    SimMonitor *mon = data;
    g_autofree char *line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source),
                                                                 res, NULL, NULL);

    if (!line)
        return;
    if (g_str_has_prefix(line, "sig"))
        mon->signals++;
    g_data_input_stream_read_line_async(mon->out, G_PRIORITY_DEFAULT, mon->cancel,
                                        simMonitorLine, mon);
}


static int
simMonitorStart(SimMonitor *mon, const char *address, const char *owner)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *match = g_strdup_printf("type='signal',sender='%s'", owner);

    mon->proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                 G_SUBPROCESS_FLAGS_STDERR_SILENCE, &err,
                                 "dbus-monitor", "--address", address, "--profile", match,
                                 NULL);
    if (!mon->proc) {
        g_printerr("sim-bench: cannot run dbus-monitor: %s\n", err->message);
        return -1;
    }
    mon->cancel = g_cancellable_new();
    mon->out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(mon->proc));
    g_data_input_stream_read_line_async(mon->out, G_PRIORITY_DEFAULT, mon->cancel,
                                        simMonitorLine, mon);
    return 0;
}


static void
simMonitorStop(SimMonitor *mon)
{
    if (!mon->proc)
        return;
    g_cancellable_cancel(mon->cancel);
    g_subprocess_force_exit(mon->proc);
    g_subprocess_wait(mon->proc, NULL, NULL);
    g_clear_object(&mon->out);
    g_clear_object(&mon->cancel);
    g_clear_object(&mon->proc);
}


/* A loopback port nobody listens on now: bound and closed again. */
static guint
simFreePort(void)
{
    g_autoptr(GSocket) sock = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    g_autoptr(GSocketAddress) bound = NULL;

    if (!sock || !g_socket_bind(sock, any, FALSE, NULL) ||
        !(bound = g_socket_get_local_address(sock, NULL)))
        return 0;
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}


/* This thread's CPU time in s. */
static double
simThreadCpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* The longest the main loop went without running a 10 ms timer, beyond its 10 ms. */
typedef struct {
    gint64 last;
    gint64 max_gap;
    double last_cpu;
    double max_cpu;     /* the most CPU the main thread used between two ticks */
} SimLoopGap;


static gboolean
simLoopTick(gpointer data)
{
    SimLoopGap *gap = data;
    gint64 now = g_get_monotonic_time();

    double cpu = simThreadCpu();

    if (gap->last) {
        gap->max_gap = MAX(gap->max_gap, now - gap->last - 10000);
        gap->max_cpu = MAX(gap->max_cpu, cpu - gap->last_cpu);
    }
    gap->last = now;
    gap->last_cpu = cpu;
    return G_SOURCE_CONTINUE;
}


/*
 * 3b. /metrics: the snapshot of one scrape (the time the main loop is held)
 * and the text written from it (on another thread in the daemon), then @n
 * GETs, one every --scrape-every seconds, and the ping lateness meanwhile
 * beside the window's p99 @window_p99. Whether every GET took <= 100 ms,
 * and pings stayed as punctual.
 */
static gboolean
simMetrics(SimDaemon *d, int n, double window_p99)
{
    g_autoptr(GArray) build_s = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) get_s = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) step_s = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) step_cpu = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) build_cpu = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(HbMetrics) metrics = NULL;
    g_autoptr(GVariant) late0 = NULL;
    g_autoptr(GVariant) late1 = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *listen = g_strdup_printf("127.0.0.1:%u", simFreePort());
    g_autofree char *uri = g_strdup_printf("http://%s" HB_METRICS_PATH, listen);
    gsize len = 0;
    double p99;
    SimLoopGap gap = { 0 };
    g_autoptr(GString) out = NULL;
    double first = 0;
    double get_first = 0;
    gint64 quiet_gap;
    double quiet_cpu;
    guint gap_id;

    if (!(metrics = hbMetricsNew(d->monitor, listen, &err))) {
        g_printerr("sim-bench: cannot serve metrics on %s: %s\n", listen, err->message);
        return FALSE;
    }
    /* As the daemon does: the text's buffer kept from one scrape to the next. */
    out = g_string_new(NULL);
    for (int i = 0; i < n; i++) {
        g_autoptr(HbMetricsSnapshot) snap = NULL;
        gint64 t0 = g_get_monotonic_time();
        double c0 = simThreadCpu();
        double s;

        snap = hbMetricsSnapshotNew(d->monitor, g_get_real_time());
        s = (g_get_monotonic_time() - t0) / 1e6;
        g_array_append_val(step_s, s);
        s = simThreadCpu() - c0;
        g_array_append_val(step_cpu, s);
        g_string_truncate(out, 0);
        t0 = g_get_monotonic_time();
        c0 = simThreadCpu();
        hbMetricsSnapshotFormat(snap, out);
        s = (g_get_monotonic_time() - t0) / 1e6;
        if (i == 0)
            first = s;
        else
            g_array_append_val(build_s, s);
        s = simThreadCpu() - c0;
        if (i > 0)
            g_array_append_val(build_cpu, s);
        len = out->len;
    }
    gap_id = g_timeout_add(10, simLoopTick, &gap);
    simRun(NULL, NULL, 5);
    quiet_gap = gap.max_gap;
    quiet_cpu = gap.max_cpu;
    gap.max_gap = 0;
    gap.max_cpu = 0;
    late0 = simLateness(d);
    for (int i = 0; i < n; i++) {
        gint64 t0 = g_get_monotonic_time();
        const char *curl[] = {
            "curl", "-sf", "-o", "/dev/null", "-w", "%{time_total}", uri, NULL
        };
        double s = simCli("-", curl);

        if (s < 0) {
            g_printerr("sim-bench: GET %s failed\n", uri);
            return FALSE;
        }
        if (i == 0)
            get_first = s;   /* its text written into fresh memory */
        else
            g_array_append_val(get_s, s);
        simRun(NULL, NULL, MAX(0, simOpt.scrape_every - (g_get_monotonic_time() - t0) / 1e6));
    }
    late1 = simLateness(d);
    g_source_remove(gap_id);
    p99 = hbHistogramQuantile(late1, late0, 0.99);
    printf("metrics: main loop's longest stall %.1f ms while scraped, of which at most %.1f ms "
           "its own CPU (%.1f ms, %.1f ms CPU in the 5 s before)\n", gap.max_gap / 1000.0,
           gap.max_cpu * 1000, quiet_gap / 1000.0, quiet_cpu * 1000);
    printf("metrics: %zu bytes a scrape; snapshot (main loop held) median %.1f ms (CPU %.1f "
           "ms), max %.1f ms; text median %.1f ms (CPU %.1f ms), max %.1f ms (the first, "
           "into fresh memory, %.1f ms); GET /metrics after the first median %.1f ms, max %.1f "
           "ms (n=%d; the first, into fresh memory, %.1f ms; target <= 100 ms: %s)\n", len,
           simQuantile(step_s, 0.5) * 1000, simQuantile(step_cpu, 0.5) * 1000,
           simQuantile(step_s, 1) * 1000, simQuantile(build_s, 0.5) * 1000,
           simQuantile(build_cpu, 0.5) * 1000, simQuantile(build_s, 1) * 1000, first * 1000,
           simQuantile(get_s, 0.5) * 1000, simQuantile(get_s, 1) * 1000, n - 1,
           get_first * 1000, simVerdict(simQuantile(get_s, 1) <= 0.1));
    printf("metrics: lateness while scraped every %d s: %" G_GUINT64_FORMAT " pings, p50 "
           "%.2f ms, p99 %.2f ms, max <= %.0f ms (the window's p99 %.2f ms; target p99 <= "
           "50 ms: %s)\n", simOpt.scrape_every, simCount(late1) - simCount(late0),
           hbHistogramQuantile(late1, late0, 0.5) * 1000, p99 * 1000,
           simMaxBound(late1, late0) * 1000, window_p99 * 1000, simVerdict(p99 <= 0.05));
    return simQuantile(get_s, 1) <= 0.1 && p99 <= 0.05;
}


int
main(int argc, char **argv)
{
    GOptionEntry entries[] = {
        { "domains", 'n', 0, G_OPTION_ARG_INT, &simOpt.domains, "Domains (10000)", "N" },
        { "seconds", 's', 0, G_OPTION_ARG_INT, &simOpt.seconds,
          "Length of the steady window (300)", "S" },
        { "time", 0, 0, G_OPTION_ARG_INT, &simOpt.time, "Each domain's time (60)", "S" },
        { "rate", 0, 0, G_OPTION_ARG_INT, &simOpt.rate, "Each domain's rate (10)", "N" },
        { "latency-ms", 0, 0, G_OPTION_ARG_DOUBLE, &simOpt.latency_ms,
          "Median ping round trip (1.0)", "MS" },
        { "sigma", 0, 0, G_OPTION_ARG_DOUBLE, &simOpt.sigma,
          "Sigma of the round trip's logarithm (0.5)", "X" },
        { "fail-share", 0, 0, G_OPTION_ARG_DOUBLE, &simOpt.fail_share,
          "Share of healthy pings that fail (0)", "P" },
        { "hangs", 0, 0, G_OPTION_ARG_INT, &simOpt.hangs, "Domains that hang at once (100)",
          "N" },
        { "settle", 0, 0, G_OPTION_ARG_INT, &simOpt.settle,
          "Seconds after warm-up before the window, reported by 10 s (60)", "S" },
        { "ping-workers", 0, 0, G_OPTION_ARG_INT, &simOpt.ping_workers,
          "[daemon] ping_workers (8)", "N" },
        { "suspect-workers", 0, 0, G_OPTION_ARG_INT, &simOpt.suspect_workers,
          "[daemon] suspect_workers (100)", "N" },
        { "scrapes", 0, 0, G_OPTION_ARG_INT, &simOpt.scrapes,
          "GET /metrics this many times (20; 0: none)", "N" },
        { "scrape-every", 0, 0, G_OPTION_ARG_INT, &simOpt.scrape_every,
          "Seconds from one GET /metrics to the next (1)", "S" },
        { "cli", 0, 0, G_OPTION_ARG_FILENAME, &simOpt.cli, "The virt-heartbeat CLI", "PATH" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- the daemon at scale, simulated");
    g_autoptr(GError) err = NULL;
    g_autoptr(GTestDBus) testbus = NULL;
    g_autoptr(GDBusConnection) bus = NULL;
    g_autoptr(GDBusConnection) listener = NULL;
    g_autoptr(HbDBus) dbus = NULL;
    g_autoptr(GVariant) late0 = NULL;
    g_autoptr(GVariant) late1 = NULL;
    g_autoptr(GVariant) late_min = NULL;
    g_autoptr(GArray) list_s = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) status_s = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) detect_s = g_array_new(FALSE, FALSE, sizeof(double));
    g_auto(HbDaemonConf) conf = { 0 };
    SimStops stops = { 0 };
    SimMonitor mon = { 0 };
    SimDaemon d = { 0 };
    virConnectPtr conn;
    gint64 t0, hang_at;
    double cpu0, cpu1, startup, wall, cpu_pct, bound, p99 = 0;
    long rss_base, rss, heap_base, heap;
    guint64 pings_expected;
    int owner;
    const char *list_argv[] = { "list", NULL };
    g_autofree char *probed = NULL;
    const char *status_argv[] = { "status", NULL, NULL };
    gboolean ok = TRUE;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx, "Prints each figure of BENCHMARKS.md's \"10,000 "
                                     "domains in simulation\" beside its target; exits 1 if "
                                     "one is not met.");
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1 || simOpt.domains < 1 ||
        simOpt.hangs < 0 || simOpt.hangs > simOpt.domains || !simOpt.cli) {
        g_printerr("sim-bench: %s\n", err ? err->message : "bad arguments (--cli is needed)");
        return 2;
    }
    probed = g_strdup_printf("sim%05d", simOpt.domains / 2);
    status_argv[1] = probed;
    if (simRunnerStart(simOpt.cli) < 0) {
        g_printerr("sim-bench: cannot start the CLI runner: %s\n", g_strerror(errno));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    simAgents = g_new0(gint, simOpt.domains);
    g_log_set_writer_func(simLogWriter, NULL, NULL);

    testbus = g_test_dbus_new(G_TEST_DBUS_NONE);
    g_test_dbus_up(testbus);
    g_setenv("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address(testbus), TRUE);
    bus = g_dbus_connection_new_for_address_sync(
        g_test_dbus_get_bus_address(testbus),
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &err);
    listener = g_dbus_connection_new_for_address_sync(
        g_test_dbus_get_bus_address(testbus),
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &err);
    if (!bus || !listener) {
        g_printerr("sim-bench: cannot connect to the private bus: %s\n", err->message);
        return 1;
    }

    hbUtilInitLibvirt();
    gvir_event_register();
    if (!(conn = virConnectOpen(SIM_URI)) || simCreateDomains(conn) < 0)
        return 1;
    rss_base = simRss();
    heap_base = simHeap();

    hbDaemonConfInit(&conf);
    /* Never the host's own cluster. */
    g_free(conf.cluster_tools);
    conf.cluster_tools = g_strdup("");
    g_free(conf.uri);
    conf.uri = g_strdup(SIM_URI);
    g_free(conf.state_dir);
    conf.state_dir = g_strdup("");
    conf.ping_workers = simOpt.ping_workers;
    conf.suspect_workers = simOpt.suspect_workers;
    printf("sim-bench: %d domains, time=%d rate=%d (%.0f pings/s), round trip median %.2f ms "
           "sigma %.2f, fail share %g, ping_workers=%d suspect_workers=%d\n",
           simOpt.domains, simOpt.time, simOpt.rate,
           (double) simOpt.domains * simOpt.rate / simOpt.time, simOpt.latency_ms, simOpt.sigma,
           simOpt.fail_share, simOpt.ping_workers, simOpt.suspect_workers);

    /* 1. Startup. */
    t0 = g_get_monotonic_time();
    d.monitor = hbMonitorNew(&conf, simProbe);
    if (!(dbus = hbDBusNew(bus, d.monitor, conf.uri, &err))) {
        g_printerr("sim-bench: %s\n", err->message);
        return 1;
    }
    owner = g_bus_own_name_on_connection(bus, HB_DBUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                                         simOnAcquired, NULL, &d, NULL);
    if (!simRun(simResynced, &d, 600)) {
        g_printerr("sim-bench: not resynced after 600 s\n");
        return 1;
    }
    startup = (g_get_monotonic_time() - t0) / 1e6;
    ok &= startup <= 10;
    printf("startup: listed and resynced %d domains in %.2f s (target <= 10 s: %s)\n",
           simOpt.domains, startup, simVerdict(startup <= 10));
    if (!simRun(simAllOk, &d, 3 * simOpt.time)) {
        g_printerr("sim-bench: not every domain at ok/100 after %d s\n", 3 * simOpt.time);
        return 1;
    }
    printf("warm-up: every domain ok at 100 %% after %.1f s\n",
           (g_get_monotonic_time() - t0) / 1e6);
    /* What startup left queued drains here, in view. */
    late_min = simLateness(&d);
    for (int s = 10; s <= simOpt.settle; s += 10) {
        g_autofree char *what = g_strdup_printf("settling, %3d s", s);
        simSpan(&d, &late_min, 10, what);
    }
    g_clear_pointer(&late_min, g_variant_unref);

    /* 2. The steady window. */
    if (simMonitorStart(&mon, g_test_dbus_get_bus_address(testbus),
                        g_dbus_connection_get_unique_name(bus)) < 0)
        return 1;
    simRun(NULL, NULL, 1);  /* dbus-monitor's match is in place */
    mon.signals = 0;
    late0 = simLateness(&d);
    late_min = g_variant_ref(late0);
    cpu0 = simCpu();
    t0 = g_get_monotonic_time();
    for (int minute = 1; minute * 60 <= simOpt.seconds || minute == 1; minute++) {
        g_autofree char *what = g_strdup_printf("minute %d", minute);

        simSpan(&d, &late_min, MIN(60, simOpt.seconds - (minute - 1) * 60), what);
        if (minute * 60 >= simOpt.seconds)
            break;
    }
    wall = (g_get_monotonic_time() - t0) / 1e6;
    cpu1 = simCpu();
    late1 = simLateness(&d);
    rss = simRss();
    heap = simHeap();
    simRun(NULL, NULL, 0.5);
    simMonitorStop(&mon);

    cpu_pct = (cpu1 - cpu0) / wall * 100;
    pings_expected = (guint64) (wall * simOpt.domains * simOpt.rate / simOpt.time);
    p99 = hbHistogramQuantile(late1, late0, 0.99);
    printf("window: %.0f s, %" G_GUINT64_FORMAT " pings sent (%.0f/s; %" G_GUINT64_FORMAT
           " expected)\n", wall, simCount(late1) - simCount(late0),
           (simCount(late1) - simCount(late0)) / wall, pings_expected);
    printf("lateness (ping sent vs its slot): p50 %.2f ms, p99 %.2f ms, max <= %.0f ms "
           "(target p99 <= 50 ms: %s)\n", hbHistogramQuantile(late1, late0, 0.5) * 1000,
           p99 * 1000, simMaxBound(late1, late0) * 1000, simVerdict(p99 <= 0.05));
    ok &= p99 <= 0.05;
    printf("CPU: %.1f %% of one core, %.2f %% per 1,000 domains (target <= 5 %%: %s)\n",
           cpu_pct, cpu_pct * 1000 / simOpt.domains,
           simVerdict(cpu_pct * 1000 / simOpt.domains <= 5));
    ok &= cpu_pct * 1000 / simOpt.domains <= 5;
    printf("RSS: %ld KiB with the test driver's %ld KiB; the daemon's %ld KiB = 16 MiB + "
           "%.1f KiB per domain (target 16 MiB + 4 KiB per domain = %d KiB: %s)\n",
           rss, rss_base, rss - rss_base,
           ((rss - rss_base) - 16384.0) / simOpt.domains, 16384 + 4 * simOpt.domains,
           simVerdict(rss - rss_base <= 16384 + 4 * simOpt.domains));
    ok &= rss - rss_base <= 16384 + 4 * simOpt.domains;
    printf("heap in use (malloc): %ld KiB with the test driver's %ld KiB; the daemon's %ld "
           "KiB, %.1f KiB per domain\n", heap, heap_base, heap - heap_base,
           (double) (heap - heap_base) / simOpt.domains);
    printf("signals: %" G_GUINT64_FORMAT " from the daemon in %.0f s, %.2f/s "
           "(target <= 10/s: %s)\n", mon.signals, wall, mon.signals / wall,
           simVerdict(mon.signals / wall <= 10));
    ok &= mon.signals / wall <= 10;

    /* 3. The CLI. */
    for (int i = 0; i < 5; i++) {
        double s = simCli(g_test_dbus_get_bus_address(testbus), list_argv);
        if (s < 0) {
            g_printerr("sim-bench: virt-heartbeat list failed\n");
            return 1;
        }
        g_array_append_val(list_s, s);
    }
    for (int i = 0; i < 20; i++) {
        double s = simCli(g_test_dbus_get_bus_address(testbus), status_argv);
        if (s < 0) {
            g_printerr("sim-bench: virt-heartbeat status failed\n");
            return 1;
        }
        g_array_append_val(status_s, s);
    }
    printf("virt-heartbeat list: median %.3f s, max %.3f s (n=5; target <= 1 s: %s)\n",
           simQuantile(list_s, 0.5), simQuantile(list_s, 1),
           simVerdict(simQuantile(list_s, 1) <= 1));
    ok &= simQuantile(list_s, 1) <= 1;
    printf("virt-heartbeat status: median %.1f ms, max %.1f ms (n=20; target <= 50 ms: %s)\n",
           simQuantile(status_s, 0.5) * 1000, simQuantile(status_s, 1) * 1000,
           simVerdict(simQuantile(status_s, 1) <= 0.05));
    ok &= simQuantile(status_s, 1) <= 0.05;
    if (simOpt.scrapes > 0)
        ok &= simMetrics(&d, simOpt.scrapes, p99);

    /* 4. Hangs. */
    if (simOpt.hangs > 0) {
        g_autoptr(GRand) rand = g_rand_new_with_seed(42);
        GHashTableIter iter;
        gpointer key, value;
        guint sub;

        stops.hung = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        stops.stopped = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        sub = g_dbus_connection_signal_subscribe(listener, NULL, "org.virt_heartbeat.Manager1",
                                                 "HeartbeatStopped", HB_DBUS_PATH, NULL,
                                                 G_DBUS_SIGNAL_FLAGS_NONE, simOnStopped,
                                                 &stops, NULL);
        simRun(NULL, NULL, 1);
        while ((int) g_hash_table_size(stops.hung) < simOpt.hangs) {
            int i = g_rand_int_range(rand, 0, simOpt.domains);
            g_autofree char *uuid = g_strdup_printf(SIM_UUID_FORMAT, i);
            if (g_hash_table_add(stops.hung, g_steal_pointer(&uuid)))
                g_atomic_int_set(&simAgents[i], SIM_AGENT_HUNG);
        }
        hang_at = g_get_monotonic_time();
        bound = simOpt.time + (double) simOpt.time / simOpt.rate + 1;
        simRun(simAllStopped, &stops, 3 * bound);
        g_hash_table_iter_init(&iter, stops.stopped);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
            double s = (*(gint64 *) value - hang_at) / 1e6;
            g_array_append_val(detect_s, s);
        }
        printf("hangs: %u of %d detected, p50 %.1f s, max %.1f s (bound time + time/rate + 1 "
               "= %.0f s: %s); healthy domains reported stopped: %u\n",
               g_hash_table_size(stops.stopped), simOpt.hangs, simQuantile(detect_s, 0.5),
               simQuantile(detect_s, 1), bound,
               simVerdict((int) detect_s->len == simOpt.hangs &&
                          simQuantile(detect_s, 1) <= bound), stops.false_stops);
        ok &= (int) detect_s->len == simOpt.hangs && simQuantile(detect_s, 1) <= bound &&
            stops.false_stops == 0;
        g_dbus_connection_signal_unsubscribe(listener, sub);
        g_hash_table_unref(stops.hung);
        g_hash_table_unref(stops.stopped);
    }

    printf("sim-bench: %s\n", ok ? "every target met" : "some target NOT MET");
    g_bus_unown_name(owner);
    g_clear_pointer(&dbus, hbDBusFree);
    hbMonitorFree(d.monitor);
    virConnectClose(conn);
    g_test_dbus_down(testbus);
    g_free(simAgents);
    return ok ? 0 : 1;
}
