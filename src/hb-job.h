/*
 * Jobs: what the monitor asks of libvirt off the main loop (pings,
 * restart attempts, domain reads, guest requests), and what each kind
 * does on a worker thread's connection.
 */
#pragma once

#include "hb-agent.h"
#include "hb-config.h"
#include "hb-domxml.h"
#include "hb-probe.h"
#include "hb-verdict.h"

typedef enum {
    HB_JOB_PING,
    HB_JOB_RESTART,
    HB_JOB_SYNC,  /* read one domain */
    HB_JOB_LIST,  /* read every domain */
    /* requests of the guest OS interface */
    HB_JOB_GUEST_INFO,
    HB_JOB_SHUTDOWN,
    HB_JOB_EXEC,
    HB_JOB_TIME_SYNC,
    HB_JOB_INSTALL_AGENT,
    HB_JOB_METADATA,
    HB_JOB_RESOLVE,  /* find the domain a METADATA request by name or UUID is for */
    HB_JOB_STATS,    /* read the counters of every running domain at once */
    HB_JOB_ESCALATE, /* report the failure to the cluster resource that owns the domain */

    HB_JOB_LAST
} HbJobKind;

/*
 * Whether what a job was queued for still holds: the monitor closes it
 * (an episode ended, a domain left) and the worker checks it right before
 * it acts. Thread-safe.
 */
typedef struct _HbTicket HbTicket;

HbTicket *hbTicketNew(void);
HbTicket *hbTicketRef(HbTicket *ticket);
void hbTicketUnref(HbTicket *ticket);
void hbTicketClose(HbTicket *ticket);
gboolean hbTicketIsOpen(HbTicket *ticket);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbTicket, hbTicketUnref)

/* STATS: one domain's counters. */
typedef struct {
    char uuid[VIR_UUID_STRING_BUFLEN];
    HbStatsSample sample;
} HbStatsRecord;

typedef struct _HbJob HbJob;
typedef void (*HbJobDoneFunc)(HbJob *job, gpointer data);

struct _HbJob {
    HbJobKind kind;
    char *uuid;          /* PING, RESTART, SYNC */
    guint timeout;       /* PING: seconds */
    gboolean suspect;    /* PING: the last ping missed */
    HbAction action;     /* RESTART */
    guint64 episode;     /* RESTART: the episode it was decided in */
    guint attempt;       /* RESTART: its number in that episode */
    gboolean start_if_off; /* RESTART: a destroyed domain is ours to start */
    gboolean reset_stops;  /* RESTART: <on_reboot>destroy, so destroy+start, never reset */
    gboolean observe;    /* RESTART, ESCALATE: work out the step, make no call (observe,
                          * dry_run) */
    char *cluster_tools; /* RESTART, ESCALATE: Pacemaker's tools (hb-cluster.h); "": none */
    char *resource;      /* RESTART, ESCALATE: the cluster resource found to own the domain */
    HbTicket *ticket;    /* RESTART: closed when the episode ends; ESCALATE: when the
                          * failed episode does */
    HbTicket *host_gate; /* RESTART, ESCALATE: closed when the host-wide breaker trips */
    gboolean dropped;    /* RESTART: not made, the ticket was closed */
    gboolean held;       /* RESTART: not made, the breaker tripped after it was decided */
    gboolean vetoed;     /* RESTART: not made, a before-restart hook refused; it counts */
    gboolean not_made;   /* RESTART: no call reached the domain (libvirtd
                          * unreachable, its state lock busy): it is as it was */
    gboolean stopped_by_other; /* RESTART: shut off already when our destroy came */
    HbDiagnostics diagnostics; /* RESTART: what to save before the call (hb-diag.h) */
    char *diag_dir;      /* RESTART: the daemon's state_dir; "": none, nothing is saved */
    char *diag_file;     /* RESTART: the diagnostic saved, its path */
    char *diag_error;    /* RESTART: why none was saved, though one was due */
    gint64 diag_us;      /* RESTART: how long the attempt waited for it */
    gboolean diag_pending; /* RESTART: our dump, given up at its bound, still written */
    guint64 generation;  /* the monitor's connection generation when queued */
    guint64 event_seq;   /* SYNC, LIST: the monitor's last lifecycle event when queued */
    gint64 queued;       /* monotonic: handed to the worker */
    gint64 started;      /* monotonic, the worker's main loop: given a thread */
    guint lane;          /* the worker's HbLane whose capacity it holds */
    gint64 sent;         /* monotonic: the worker began the libvirt call */
    gint64 slot;         /* PING, monotonic: when it was due */
    gint64 finished;     /* PING, monotonic: the libvirt call returned */
    gboolean cancelled;  /* never run: the worker stopped first */

    HbProbeResult probe; /* PING */
    char *detail;        /* PING: the error */
    const char *done;    /* RESTART: what was done, a step's name; NULL: nothing */
    gboolean no_boot;    /* RESTART: done, and no boot follows (an NMI, or observed only) */
    GError *error;       /* why it failed; NULL: it did not, or never ran (cancelled,
                          * or a restart dropped before it began) */
    GPtrArray *infos;    /* SYNC (empty: the domain is gone), LIST: HbDomainInfo */

    /* requests */
    char *path;           /* EXEC */
    char **args;          /* EXEC */
    guint exec_timeout;   /* EXEC: seconds */
    unsigned int flags;   /* METADATA: VIR_DOMAIN_AFFECT_* or HB_AFFECT_APPLICABLE */
    GHashTable *changes;  /* METADATA: key -> value (NULL: unset) */
    HbConfig defaults;    /* METADATA: what the new element is checked against */
    HbGuestInfo info;     /* GUEST_INFO */
    HbExecStatus exec;    /* EXEC */
    gboolean already;     /* INSTALL_AGENT: the channel was there */
    gboolean next_boot;   /* INSTALL_AGENT: the running domain gets it at its next boot */
    char *metadata;       /* METADATA: the element read or written */
    char *key;            /* RESOLVE: a UUID (tried first) or an exact name */
    char *name;           /* RESOLVE: the name of the domain found (sets uuid too);
                           * the request it is for gets both. ESCALATE: the domain's */
    HbJob *then;          /* RESOLVE: the request to queue for the domain found */
    GArray *stats;        /* STATS: HbStatsRecord, the domains read */
    guint node_cpus;      /* LIST: the CPUs of libvirtd's host; 0: not known */
    HbJobDoneFunc reply;  /* set: the requester gets the finished job */
    gpointer reply_data;
};

HbJob *hbJobNew(HbJobKind kind, const char *uuid);
void hbJobFree(HbJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbJob, hbJobFree)

/* On a worker thread, with @conn no other job uses meanwhile: do the job,
 * its result in the job. @cancellable: the worker is stopping. */
void hbJobRun(HbJob *job, virConnectPtr conn, HbProbeFunc probe, GCancellable *cancellable);
/* Forget a result, before the job runs (again). */
void hbJobClearResult(HbJob *job);
/* May a job of @kind run again after its connection died under it? */
gboolean hbJobRepeatable(HbJobKind kind);
