/*
 * libFuzzer harness: the guest agent's replies, which the guest controls.
 * A first byte I, O, P or S picks one parser (guest-info, guest-get-osinfo,
 * guest-exec, guest-exec-status) for the rest of the input, which keeps
 * the runs fast; any other input goes to all four parsers.
 */
#include "fuzz-common.h"
#include "hb-agent.h"

#include <string.h>

int
LLVMFuzzerInitialize(int *argc G_GNUC_UNUSED, char ***argv G_GNUC_UNUSED)
{
    fuzzInit();
    return 0;
}

/* What the parsers keep ends up in D-Bus strings: it must be UTF-8. */
static void
fuzzCheckString(const char *s)
{
    FUZZ_ASSERT(!s || g_utf8_validate(s, -1, NULL));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char pick = size > 0 && data[0] && strchr("IOPS", data[0]) ? data[0] : 0;
    g_autofree char *reply = pick ? fuzzString(data + 1, size - 1) : fuzzString(data, size);
    g_auto(HbGuestInfo) info = { 0 };
    g_auto(HbExecStatus) status = { 0 };
    gint64 pid = 0;

    if (!pick || pick == 'I') {
        g_autoptr(GError) err = NULL;
        if (hbAgentParseInfo(reply, &info, &err) < 0)
            fuzzCheckError(err);
    }
    if (!pick || pick == 'O') {
        g_autoptr(GError) err = NULL;
        if (hbAgentParseOsInfo(reply, &info, &err) < 0)
            fuzzCheckError(err);
    }
    fuzzCheckString(info.version);
    fuzzCheckString(info.os_name);
    if (!pick || pick == 'P') {
        g_autoptr(GError) err = NULL;
        if (hbAgentParseExecPid(reply, &pid, &err) < 0)
            fuzzCheckError(err);
        else
            FUZZ_ASSERT(pid > 0);
    }
    if (!pick || pick == 'S') {
        g_autoptr(GError) err = NULL;
        if (hbAgentParseExecStatus(reply, &status, &err) < 0) {
            fuzzCheckError(err);
        } else if (status.exited) {
            FUZZ_ASSERT(g_bytes_get_size(status.out) <= HB_EXEC_OUTPUT_MAX);
            FUZZ_ASSERT(g_bytes_get_size(status.err) <= HB_EXEC_OUTPUT_MAX);
        }
    }
    return 0;
}
