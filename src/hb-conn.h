/*
 * The event connection: open, keepalive, close callback, reconnect with
 * backoff, and the domain event registrations. Nothing else calls libvirt
 * on this connection, so no slow call can hold up an event.
 */
#pragma once

#include "hb-util.h"

typedef struct {
    /* A (re)connection is up with every event registered: resync now. */
    void (*connected)(gpointer data);
    /* The connection is lost; a reconnect is scheduled. */
    void (*disconnected)(gpointer data);
    void (*lifecycle)(virDomainPtr dom, int event, int detail, gpointer data);
    void (*reboot)(virDomainPtr dom, gpointer data);
    void (*agent)(virDomainPtr dom, int state, int reason, gpointer data);
    /* The guest's watchdog device fired; @action: virDomainEventWatchdogAction. */
    void (*watchdog)(virDomainPtr dom, int action, gpointer data);
    void (*metadata)(virDomainPtr dom, int type, const char *nsuri, gpointer data);
    /* A device was hot-plugged or unplugged, the agent channel perhaps. */
    void (*device)(virDomainPtr dom, const char *alias, gpointer data);
} HbConnCallbacks;

typedef struct _HbConn HbConn;

int hbConnSetKeepAlive(virConnectPtr conn);

HbConn *hbConnNew(const char *uri, const HbConnCallbacks *cb, gpointer data);
void hbConnStart(HbConn *conn);
void hbConnFree(HbConn *conn);
