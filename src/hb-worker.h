/*
 * Worker threads for everything that talks to libvirt on behalf of the
 * monitor: pings, restart attempts, domain reads and guest requests. Each
 * kind has threads of its own, so nothing waits behind another kind; each
 * job borrows a connection no other job uses meanwhile; results return to
 * the main loop.
 */
#pragma once

#include "hb-config.h"
#include "hb-guest.h"
#include "hb-probe.h"

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

    HB_JOB_LAST
} HbJobKind;

/* What the monitor needs to know of a domain, read in one go. */
typedef struct {
    char *uuid;
    char *name;
    int state;          /* virDomainState */
    int reason;
    gboolean persistent;
    gboolean has_agent; /* an org.qemu.guest_agent.0 channel is defined */
    gboolean agent_connected; /* its port is open (live XML) */
    gboolean has_serial_controller; /* a channel can be hot-plugged */
    gboolean crash_handled; /* <on_crash> is not preserve: libvirt destroys or restarts */
    gboolean reset_stops;   /* <on_reboot>destroy: a reset shuts the domain off */
    char *metadata;     /* the <heartbeat/> element, or NULL */
    char *error;        /* the domain XML could not be read or inspected */
} HbDomainInfo;

void hbDomainInfoFree(HbDomainInfo *info);

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

/* The capacity each kind of job has; none waits behind another kind. */
typedef enum {
    HB_LANE_RESTART,  /* restart attempts: first, never behind a ping */
    HB_LANE_PING,     /* pings to domains whose last ping did not miss */
    HB_LANE_SUSPECT,  /* pings to domains whose last ping missed: these may hang */
    HB_LANE_READ,     /* domain reads */
    HB_LANE_GUEST,    /* guest requests: info, exec, shutdown, time, metadata */

    HB_LANE_LAST
} HbLane;

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
    HbTicket *ticket;    /* RESTART: closed when the episode ends */
    gboolean dropped;    /* RESTART: not made, the ticket was closed */
    gboolean not_made;   /* RESTART: no call reached the domain (libvirtd
                          * unreachable, its state lock busy): it is as it was */
    gboolean stopped_by_other; /* RESTART: shut off already when our destroy came */
    guint64 generation;  /* the monitor's connection generation when queued */
    guint64 event_seq;   /* SYNC, LIST: the monitor's last lifecycle event when queued */
    gint64 queued;       /* monotonic: handed to the worker */
    gint64 sent;         /* monotonic: the worker began the libvirt call */
    gboolean cancelled;  /* never run: the worker stopped first */

    HbProbeResult probe; /* PING */
    gboolean ok;         /* RESTART, SYNC, LIST */
    char *detail;        /* PING: the error; RESTART: what was done, or the error */
    GPtrArray *infos;    /* SYNC (empty: the domain is gone), LIST: HbDomainInfo */

    /* requests */
    char *path;           /* EXEC */
    char **args;          /* EXEC */
    guint exec_timeout;   /* EXEC: seconds */
    unsigned int flags;   /* METADATA: VIR_DOMAIN_AFFECT_* or HB_AFFECT_APPLICABLE */
    GHashTable *changes;  /* METADATA: key -> value (NULL: unset) */
    HbConfig defaults;    /* METADATA: what the new element is checked against */
    GError *error;        /* requests: why it failed */
    HbGuestInfo info;     /* GUEST_INFO */
    HbExecStatus exec;    /* EXEC */
    gboolean already;     /* INSTALL_AGENT: the channel was there */
    gboolean next_boot;   /* INSTALL_AGENT: the running domain gets it at its next boot */
    char *metadata;       /* METADATA: the element read or written */
    char *key;            /* RESOLVE: a UUID (tried first) or an exact name */
    char *name;           /* RESOLVE: the name of the domain found (sets uuid too);
                           * the request it is for gets both */
    HbJob *then;          /* RESOLVE: the request to queue for the domain found */
    HbJobDoneFunc reply;  /* set: the requester gets the finished job */
    gpointer reply_data;
};

HbJob *hbJobNew(HbJobKind kind, const char *uuid);
HbLane hbJobLane(const HbJob *job);
void hbJobFree(HbJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbJob, hbJobFree)

typedef struct _HbWorker HbWorker;

/* Thread counts per lane; libvirt connections are one per thread. */
typedef struct {
    guint threads[HB_LANE_LAST];
} HbWorkerLimits;

HbWorker *hbWorkerNew(const char *uri, const HbWorkerLimits *limits, HbProbeFunc probe,
                      gpointer probe_data, HbJobDoneFunc done, gpointer done_data);
/* On the main loop. The job waits for a thread of its lane, never another's. */
void hbWorkerPush(HbWorker *worker, HbJob *job);
/* Jobs of @lane queued or running. */
guint hbWorkerPending(HbWorker *worker, HbLane lane);
/* Jobs of @lane running: libvirt calls in flight. */
guint hbWorkerBusy(HbWorker *worker, HbLane lane);
/*
 * Stop: queued jobs are delivered cancelled at once, running ones are
 * waited for up to @wait_s seconds; a job still running then is left to
 * the process's exit. Every job delivered has its done function called.
 */
void hbWorkerFree(HbWorker *worker, guint wait_s);

/* Exposed for tests: what a domain's XML says. */
int hbDomainXmlInspect(const char *xml, HbDomainInfo *info, GError **error);
