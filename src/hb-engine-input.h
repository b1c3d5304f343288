/*
 * What libvirt and the agent probe report, as engine inputs. Pure: tables
 * from libvirt's domain states, lifecycle events and probe results to the
 * inputs of hb-engine.h.
 */
#pragma once

#include "hb-engine.h"
#include "hb-probe.h"

/*
 * The input that the state libvirt reports (virDomainState, its reason)
 * stands for; TIMER when it says nothing. @crash_handled: <on_crash> has
 * libvirt destroy or restart the domain.
 */
HbInput hbEngineInputForState(int state, int reason, gboolean crash_handled);
/* The input for a lifecycle event (virDomainEventType, its detail); TIMER: no change. */
HbInput hbEngineInputForEvent(int event, int detail, gboolean crash_handled);
/* The verdict of a ping from what the probe found. */
HbPing hbEngineInputForProbe(HbProbeResult probe);
