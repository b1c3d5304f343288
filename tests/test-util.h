/*
 * Helpers for tests that run the monitor on libvirt's test driver.
 */
#pragma once

#include "hb-monitor.h"

#define TEST_URI "test:///default"

typedef gboolean (*TestCond)(gpointer data);

gboolean testWaitFor(TestCond cond, gpointer data, guint seconds);
void testSpin(guint ms);
virDomainPtr testDomainStart(virConnectPtr conn, const char *name, gboolean agent,
                             const char *hb_attrs);
void testDomainRemove(virConnectPtr conn, const char *name);
char *testDomainUUID(virDomainPtr dom);
/* @text is valid UTF-8 of at most @max bytes: text from a guest or a
 * caller, as the daemon passes it on. */
void testAssertClean(const char *text, gsize max);
