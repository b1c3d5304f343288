/*
 * The probe the monitor pings with: hbAgentPing (hb-agent.h), or a fake in
 * the tests, because libvirt's test driver has no guest agent.
 */
#pragma once

#include "hb-util.h"

typedef enum {
    HB_PROBE_OK,          /* the agent answered */
    HB_PROBE_MISS,        /* no answer in time, or the agent failed */
    HB_PROBE_VOID,        /* no verdict: domain not running, libvirtd unreachable */
    HB_PROBE_SUPPRESSED,  /* a miss while a domain job was under way; the
                           * detail names the job */

    HB_PROBE_LAST
} HbProbeResult;

/* Runs on a worker thread, with a connection no other thread uses meanwhile. */
typedef HbProbeResult (*HbProbeFunc)(virConnectPtr conn, const char *uuid,
                                     guint timeout, char **detail);
