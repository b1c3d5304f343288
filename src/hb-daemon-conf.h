/*
 * The daemon's own configuration file (a GLib key file).
 */
#pragma once

#include <gio/gio.h>

#include "hb-breaker.h"
#include "hb-config.h"

#define HB_DAEMON_CONF_DEFAULT SYSCONFDIR "/virt-heartbeat/virt-heartbeatd.conf"
#define HB_STATE_DIR_DEFAULT LOCALSTATEDIR "/lib/virt-heartbeat"

typedef struct {
    char *uri;            /* NULL: libvirt's default */
    gboolean monitor_all; /* watch domains with an agent channel but no metadata */
    gboolean dry_run;     /* every restart attempt observed only, whatever the action */
    guint ping_workers;    /* threads for pings to answering domains */
    guint suspect_workers; /* threads for pings to domains whose last ping missed */
    guint request_workers; /* threads for guest requests */
    char *state_dir;      /* what outlives the daemon; "": nothing does */
    HbConfig defaults;    /* daemon-wide defaults for the per-domain keys */
    HbBreakerConf breaker; /* the host-wide circuit breaker */
    char *metrics_listen; /* [metrics] listen: "host:port" of /metrics; NULL: none */
    char *hooks_dir;      /* hook scripts (hb-hooks.h); "": none */
    guint hook_timeout;   /* seconds a hook may run */
    char *cluster_tools;  /* Pacemaker's tools (hb-cluster.h); "": no cluster here */
} HbDaemonConf;

void hbDaemonConfInit(HbDaemonConf *conf);
void hbDaemonConfClear(HbDaemonConf *conf);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HbDaemonConf, hbDaemonConfClear)
void hbDaemonConfCopy(HbDaemonConf *dst, const HbDaemonConf *src);
/* Pure: @text is the file's contents, @path names it in messages. */
int hbDaemonConfParse(HbDaemonConf *conf, const char *path, const char *text,
                      GPtrArray *errors);
/*
 * [metrics] listen: a literal IPv4 or IPv6 address and a port, "127.0.0.1:9101"
 * or "[::1]:9101". A host name is refused: what it resolves to at startup
 * may not be the interface meant. NULL, with @err set, if it is not that.
 */
GSocketAddress *hbDaemonConfListenAddress(const char *listen, GError **err);
/* The file at most: a configuration is a few KiB, and more none. */
#define HB_DAEMON_CONF_MAX (1024 * 1024)
/*
 * @path on top of what @conf holds; missing, with @missing_ok, it is no
 * error. A FIFO, a device, or a file larger than HB_DAEMON_CONF_MAX is
 * refused, without blocking.
 */
int hbDaemonConfLoad(HbDaemonConf *conf, const char *path, gboolean missing_ok,
                     GPtrArray *errors);

/*
 * A reload (SIGHUP): the keys that differ between @running and @next, a
 * file that loaded without error; @live: those that apply at once
 * (dry_run, host_*, [defaults]), else those that need a restart (the
 * connection, threads, directories, hooks, the metrics listener). NULL-
 * terminated; empty when none differ.
 */
GStrv hbDaemonConfChanged(const HbDaemonConf *running, const HbDaemonConf *next,
                          gboolean live);
/* Copy into @running the keys of @next that apply live; the rest stay. */
void hbDaemonConfApplyLive(HbDaemonConf *running, const HbDaemonConf *next);
