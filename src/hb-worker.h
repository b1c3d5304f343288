/*
 * Worker threads for everything that talks to libvirt on behalf of the
 * monitor: pings, restart attempts and domain reads. Each job borrows a
 * connection no other job uses meanwhile; results return to the main loop.
 */
#pragma once

#include "hb-config.h"
#include "hb-probe.h"

typedef enum {
    HB_JOB_PING,
    HB_JOB_RESTART,
    HB_JOB_SYNC,  /* read one domain */
    HB_JOB_LIST,  /* read every domain */

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
    char *metadata;     /* the <heartbeat/> element, or NULL */
    char *error;        /* the domain XML could not be read or inspected */
} HbDomainInfo;

void hbDomainInfoFree(HbDomainInfo *info);

typedef struct {
    HbJobKind kind;
    char *uuid;          /* PING, RESTART, SYNC */
    guint timeout;       /* PING: seconds */
    HbAction action;     /* RESTART */
    guint64 generation;  /* the monitor's connection generation when queued */

    HbProbeResult probe; /* PING */
    gboolean ok;         /* RESTART, SYNC, LIST */
    char *detail;        /* PING: the error; RESTART: what was done, or the error */
    GPtrArray *infos;    /* SYNC (empty: the domain is gone), LIST: HbDomainInfo */
} HbJob;

HbJob *hbJobNew(HbJobKind kind, const char *uuid);
void hbJobFree(HbJob *job);

typedef void (*HbJobDoneFunc)(HbJob *job, gpointer data);

typedef struct _HbWorker HbWorker;

HbWorker *hbWorkerNew(const char *uri, guint threads, HbProbeFunc probe,
                      gpointer probe_data, HbJobDoneFunc done, gpointer done_data);
void hbWorkerPush(HbWorker *worker, HbJob *job);
void hbWorkerFree(HbWorker *worker);

/* Exposed for tests: what a domain's XML says. */
int hbDomainXmlInspect(const char *xml, HbDomainInfo *info, GError **error);
