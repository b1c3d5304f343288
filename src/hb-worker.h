/*
 * Worker threads for everything that talks to libvirt on behalf of the
 * monitor: pings, restart attempts and domain reads. Each job borrows a
 * connection no other job uses meanwhile; results return to the main loop.
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
    char *metadata;     /* the <heartbeat/> element, or NULL */
    char *error;        /* the domain XML could not be read or inspected */
} HbDomainInfo;

void hbDomainInfoFree(HbDomainInfo *info);

typedef struct _HbJob HbJob;
typedef void (*HbJobDoneFunc)(HbJob *job, gpointer data);

struct _HbJob {
    HbJobKind kind;
    char *uuid;          /* PING, RESTART, SYNC */
    guint timeout;       /* PING: seconds */
    HbAction action;     /* RESTART */
    guint64 generation;  /* the monitor's connection generation when queued */

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
    HbJobDoneFunc reply;  /* set: the requester gets the finished job */
    gpointer reply_data;
};

HbJob *hbJobNew(HbJobKind kind, const char *uuid);
void hbJobFree(HbJob *job);

typedef struct _HbWorker HbWorker;

HbWorker *hbWorkerNew(const char *uri, guint threads, HbProbeFunc probe,
                      gpointer probe_data, HbJobDoneFunc done, gpointer done_data);
void hbWorkerPush(HbWorker *worker, HbJob *job);
void hbWorkerFree(HbWorker *worker);

/* Exposed for tests: what a domain's XML says. */
int hbDomainXmlInspect(const char *xml, HbDomainInfo *info, GError **error);
