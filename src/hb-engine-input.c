/*
 * libvirt's states and events, and the probe's results, as engine inputs.
 * Every switch lists every libvirt value and has no default, so that a new
 * one shows as a warning here.
 */
#include <config.h>

#include "hb-engine-input.h"


HbInput
hbEngineInputForState(int state, int reason, gboolean crash_handled)
{
    HbInput crashed = crash_handled ? HB_INPUT_CRASH_HANDLED : HB_INPUT_CRASHED;

    switch ((virDomainState) state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
        return HB_INPUT_STARTED;
    case VIR_DOMAIN_PAUSED:
        return reason == VIR_DOMAIN_PAUSED_CRASHED ? crashed : HB_INPUT_PAUSED;
    case VIR_DOMAIN_PMSUSPENDED:
        return HB_INPUT_PAUSED;
    case VIR_DOMAIN_CRASHED:
        return crashed;
    case VIR_DOMAIN_SHUTOFF:
        if (reason == VIR_DOMAIN_SHUTOFF_CRASHED || reason == VIR_DOMAIN_SHUTOFF_FAILED)
            return HB_INPUT_CRASHED;
        return HB_INPUT_STOPPED;
    case VIR_DOMAIN_NOSTATE:
    case VIR_DOMAIN_SHUTDOWN:
    case VIR_DOMAIN_LAST:
        break;
    }
    return HB_INPUT_TIMER;
}


/*
 * A crash whose <on_crash> has libvirt destroy or restart the domain is
 * waited for: the stop or the resume that follows says what became of it.
 */
HbInput
hbEngineInputForEvent(int event, int detail, gboolean crash_handled)
{
    switch ((virDomainEventType) event) {
    case VIR_DOMAIN_EVENT_STARTED:
        return HB_INPUT_STARTED;
    case VIR_DOMAIN_EVENT_SUSPENDED:
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
        return HB_INPUT_PAUSED;
    case VIR_DOMAIN_EVENT_RESUMED:
        return HB_INPUT_RESUMED;
    case VIR_DOMAIN_EVENT_STOPPED:
        switch ((virDomainEventStoppedDetailType) detail) {
        case VIR_DOMAIN_EVENT_STOPPED_FAILED:
        case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
            return HB_INPUT_CRASHED;
        case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
        case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
        case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
        case VIR_DOMAIN_EVENT_STOPPED_SAVED:
        case VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT:
        case VIR_DOMAIN_EVENT_STOPPED_LAST:
            break;
        }
        return HB_INPUT_STOPPED;
    case VIR_DOMAIN_EVENT_CRASHED:
        switch ((virDomainEventCrashedDetailType) detail) {
        case VIR_DOMAIN_EVENT_CRASHED_PANICKED:
            return crash_handled ? HB_INPUT_CRASH_HANDLED : HB_INPUT_CRASHED;
        case VIR_DOMAIN_EVENT_CRASHED_CRASHLOADED:
            /* A crash kernel took over and runs: the guest reboots itself
             * once it has written its dump. */
            return HB_INPUT_CRASHLOADED;
        case VIR_DOMAIN_EVENT_CRASHED_LAST:
            break;
        }
        return HB_INPUT_CRASHED;
    case VIR_DOMAIN_EVENT_DEFINED:
    case VIR_DOMAIN_EVENT_UNDEFINED:
    case VIR_DOMAIN_EVENT_SHUTDOWN:
    case VIR_DOMAIN_EVENT_LAST:
        break;
    }
    return HB_INPUT_TIMER;
}


HbPing
hbEngineInputForProbe(HbProbeResult probe)
{
    switch (probe) {
    case HB_PROBE_OK:
        return HB_PING_TICK;
    case HB_PROBE_MISS:
        return HB_PING_MISS;
    case HB_PROBE_SUPPRESSED:
        return HB_PING_SUPPRESSED;
    case HB_PROBE_VOID:
    case HB_PROBE_LAST:
        break;
    }
    return HB_PING_VOID;
}
