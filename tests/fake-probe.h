/*
 * A probe for libvirt's test driver, which has no guest agent: each
 * domain's answer is set by the test. Only tests link this.
 */
#pragma once

#include "hb-probe.h"

typedef enum {
    FAKE_AGENT_OK,
    FAKE_AGENT_MISS,
    FAKE_AGENT_HANG,  /* the call blocks for the whole timeout, then misses */
    FAKE_AGENT_MISS_IN_JOB, /* misses while a dump runs; the test driver has no jobs */
} FakeAgent;

void fakeProbeReset(void);
void fakeProbeSet(const char *uuid, FakeAgent agent);
guint fakeProbePings(const char *uuid);
HbProbeResult fakeProbePing(virConnectPtr conn, const char *uuid, guint timeout,
                            char **detail);
