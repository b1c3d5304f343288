/*
 * How a hung guest agent delays pings to a healthy guest: one thread pings
 * the hung guest, another the healthy one, over one shared connection or
 * over one connection each. Prints the healthy guest's ping latencies.
 *
 *   ping-bench URI HEALTHY HUNG SECONDS shared|separate|alone
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <libvirt/libvirt-qemu.h>

#include "hb-util.h"

#define PING "{\"execute\":\"guest-ping\"}"

typedef struct {
    virConnectPtr conn;
    const char *name;
    gint64 until;
    GArray *latencies; /* gint64 µs, successful pings */
    guint failures;
} Pinger;


static gpointer
pingLoop(gpointer data)
{
    Pinger *p = data;
    g_autoptr(virDomain) dom = virDomainLookupByName(p->conn, p->name);

    if (!dom) {
        g_printerr("ping-bench: %s: %s\n", p->name, hbUtilLastError());
        exit(EXIT_FAILURE);
    }
    while (g_get_monotonic_time() < p->until) {
        gint64 start = g_get_monotonic_time();
        g_autofree char *reply = virDomainQemuAgentCommand(dom, PING, 2, 0);
        gint64 took = g_get_monotonic_time() - start;

        if (reply)
            g_array_append_val(p->latencies, took);
        else
            p->failures++;
    }
    return NULL;
}


static gint
compareInt64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

    return x < y ? -1 : x > y;
}


static double
percentileMs(GArray *sorted, double p)
{
    guint i;

    if (sorted->len == 0)
        return 0;
    i = MIN(sorted->len - 1, (guint) (p * sorted->len));
    return g_array_index(sorted, gint64, i) / 1000.0;
}


int
main(int argc, char **argv)
{
    Pinger healthy = { 0 }, hung = { 0 };
    GThread *th_healthy, *th_hung = NULL;
    virConnectPtr a, b;
    const char *mode;
    gint64 until;

    if (argc != 6) {
        g_printerr("usage: ping-bench URI HEALTHY HUNG SECONDS shared|separate|alone\n");
        return 2;
    }
    mode = argv[5];
    hbUtilInitLibvirt();
    if (!(a = virConnectOpen(argv[1])))
        g_error("cannot connect: %s", hbUtilLastError());
    b = g_str_equal(mode, "shared") ? a : virConnectOpen(argv[1]);
    until = g_get_monotonic_time() + (gint64) atoi(argv[4]) * G_USEC_PER_SEC;

    healthy = (Pinger) { b, argv[2], until, g_array_new(FALSE, FALSE, sizeof(gint64)), 0 };
    hung = (Pinger) { a, argv[3], until, g_array_new(FALSE, FALSE, sizeof(gint64)), 0 };
    if (!g_str_equal(mode, "alone"))
        th_hung = g_thread_new("hung", pingLoop, &hung);
    th_healthy = g_thread_new("healthy", pingLoop, &healthy);
    g_thread_join(th_healthy);
    if (th_hung)
        g_thread_join(th_hung);

    g_array_sort(healthy.latencies, compareInt64);
    printf("%-8s healthy: %6u pings %5.0f/s  p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  "
           "failed %u | hung: %u calls\n", mode, healthy.latencies->len,
           healthy.latencies->len / (double) atoi(argv[4]),
           percentileMs(healthy.latencies, 0.50), percentileMs(healthy.latencies, 0.99),
           percentileMs(healthy.latencies, 1.0), healthy.failures,
           hung.failures + hung.latencies->len);
    return 0;
}
