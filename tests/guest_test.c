/*
 * The guest OS interface: agent replies (captured from the real qemu-ga of
 * the end-to-end guest) parsed, and the guest-exec command built.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-guest.h"
#include "hb-probe.h"


static char *
agentReply(const char *name)
{
    g_autofree char *path = g_strdup_printf("%s/data/agent/%s.json", TEST_SRCDIR, name);
    char *text = NULL;

    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}


static void
test_guest_info(void **state)
{
    g_autofree char *info = agentReply("guest-info");
    g_autofree char *os = agentReply("guest-get-osinfo");
    g_autoptr(GError) err = NULL;
    HbGuestInfo gi = { 0 };

    assert_int_equal(hbGuestParseInfo(info, &gi, &err), 0);
    assert_string_equal(gi.version, "7.2.22");
    assert_true(gi.can_shutdown);
    assert_int_equal(hbGuestParseOsInfo(os, &gi, &err), 0);
    assert_string_equal(gi.os_name, "virt-heartbeat test guest (busybox)");

    /* guest-shutdown disabled (qemu-ga --block-rpcs): it cannot shut down. */
    assert_int_equal(hbGuestParseInfo(
        "{\"return\":{\"version\":\"8.0\",\"supported_commands\":"
        "[{\"enabled\":false,\"name\":\"guest-shutdown\"}]}}", &gi, &err), 0);
    assert_false(gi.can_shutdown);
    /* No os-release in the guest: the kernel release stands in. */
    assert_int_equal(hbGuestParseOsInfo(
        "{\"return\":{\"kernel-release\":\"6.1.0\"}}", &gi, &err), 0);
    assert_string_equal(gi.os_name, "6.1.0");

    assert_int_equal(hbGuestParseInfo("{\"error\":{\"class\":\"x\"}}", &gi, &err), -1);
    assert_int_equal(err->code, HB_ERROR_FAILED);
    g_clear_error(&err);
    assert_int_equal(hbGuestParseOsInfo("not json", &gi, &err), -1);
    hbGuestInfoClear(&gi);
}


static void
test_exec_status(void **state)
{
    g_autofree char *done = agentReply("guest-exec-status");
    g_autoptr(GError) err = NULL;
    HbExecStatus st = { 0 };
    gint64 pid;
    gsize len;

    assert_int_equal(hbGuestParseExecStatus(done, &st, &err), 0);
    assert_true(st.exited);
    assert_int_equal(st.exit_code, 3);
    assert_string_equal(g_bytes_get_data(st.out, &len), "out\n");
    assert_int_equal(len, 4);
    assert_int_equal(g_bytes_get_size(st.err), 4);
    assert_false(st.truncated);

    assert_int_equal(hbGuestParseExecStatus("{\"return\":{\"exited\":false}}", &st, &err), 0);
    assert_false(st.exited);
    assert_int_equal(hbGuestParseExecStatus(
        "{\"return\":{\"exited\":true,\"signal\":9}}", &st, &err), 0);
    assert_int_equal(st.exit_code, 137);
    assert_int_equal(g_bytes_get_size(st.out), 0);
    assert_int_equal(hbGuestParseExecStatus(
        "{\"return\":{\"exited\":true,\"exitcode\":0,\"out-truncated\":true}}", &st, &err), 0);
    assert_true(st.truncated);

    assert_int_equal(hbGuestParseExecPid("{\"return\":{\"pid\":112}}", &pid, &err), 0);
    assert_int_equal(pid, 112);
    assert_int_equal(hbGuestParseExecPid("{\"return\":{}}", &pid, &err), -1);
    hbExecStatusClear(&st);
}


static void
test_exec_output_bounded(void **state)
{
    g_autofree char *big = g_malloc0(HB_EXEC_OUTPUT_MAX + 10);
    g_autofree char *b64 = NULL;
    g_autofree char *reply = NULL;
    g_autoptr(GError) err = NULL;
    HbExecStatus st = { 0 };

    memset(big, 'x', HB_EXEC_OUTPUT_MAX + 10);
    b64 = g_base64_encode((guchar *) big, HB_EXEC_OUTPUT_MAX + 10);
    reply = g_strdup_printf("{\"return\":{\"exited\":true,\"exitcode\":0,\"out-data\":\"%s\"}}", b64);
    assert_int_equal(hbGuestParseExecStatus(reply, &st, &err), 0);
    assert_int_equal(g_bytes_get_size(st.out), HB_EXEC_OUTPUT_MAX);
    assert_true(st.truncated);
    hbExecStatusClear(&st);
}


static void
test_exec_command(void **state)
{
    const char *args[] = { "-c", "echo \"quoted\" \\ back", NULL };
    g_autofree char *cmd = hbGuestExecCommand("/bin/sh", args);

    assert_string_equal(cmd,
        "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\",\"arg\":"
        "[\"-c\",\"echo \\\"quoted\\\" \\\\ back\"],\"capture-output\":true}}");
}


/* Only the agent's own silence is a miss; libvirt's troubles are no verdict. */
static void
test_ping_errors(void **state)
{
    assert_int_equal(hbProbeClassifyError(VIR_ERR_AGENT_UNRESPONSIVE, TRUE), HB_PROBE_MISS);
    assert_int_equal(hbProbeClassifyError(VIR_ERR_AGENT_UNRESPONSIVE, FALSE), HB_PROBE_VOID);
    assert_int_equal(hbProbeClassifyError(VIR_ERR_OPERATION_TIMEOUT, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbProbeClassifyError(VIR_ERR_OPERATION_INVALID, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbProbeClassifyError(VIR_ERR_NO_DOMAIN, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbProbeClassifyError(VIR_ERR_RPC, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbProbeClassifyError(VIR_ERR_INTERNAL_ERROR, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbProbeClassifyError(VIR_ERR_ARGUMENT_UNSUPPORTED, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbProbeClassifyError(VIR_ERR_AGENT_UNSYNCED, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbProbeClassifyError(VIR_ERR_ACCESS_DENIED, TRUE), HB_PROBE_VOID);
}


/*
 * Replies a guest may send (found by tests/fuzz/fuzz-agent): wrong types
 * are no GLib critical, numbers are bounded, and what is quoted is UTF-8.
 */
static void
test_hostile_replies(void **state)
{
    GLogLevelFlags old = g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL |
                                                G_LOG_LEVEL_WARNING);
    g_autoptr(GError) err = NULL;
    g_autofree char *long_reply = NULL;
    HbGuestInfo info = { 0 };
    HbExecStatus status = { 0 };
    gint64 pid = 7;

    assert_int_equal(hbGuestParseInfo("{\"return\":{\"version\":\"1\"}}", &info, NULL), 0);
    assert_string_equal(info.version, "1");
    assert_false(info.can_shutdown);
    assert_int_equal(hbGuestParseInfo("{\"return\":{\"version\":[],\"supported_commands\":"
                                      "{\"name\":\"guest-shutdown\"}}}", &info, NULL), 0);
    assert_string_equal(info.version, "");
    assert_int_equal(hbGuestParseInfo("{\"return\":{\"supported_commands\":[1,null,[],"
                                      "{\"name\":\"guest-shutdown\",\"enabled\":true}]}}",
                                      &info, NULL), 0);
    assert_true(info.can_shutdown);
    assert_int_equal(hbGuestParseOsInfo("{\"return\":{\"pretty-name\":{},\"name\":\"a\\u00ff\"}}",
                                        &info, NULL), 0);
    assert_true(g_utf8_validate(info.os_name, -1, NULL));
    hbGuestInfoClear(&info);

    assert_int_equal(hbGuestParseExecPid("{\"return\":{\"pid\":{}}}", &pid, NULL), -1);
    assert_int_equal(hbGuestParseExecPid("{\"return\":{\"pid\":\"12\"}}", &pid, NULL), -1);
    assert_int_equal(hbGuestParseExecPid("{\"return\":{\"pid\":-3}}", &pid, NULL), -1);
    assert_int_equal(pid, 7);

    assert_int_equal(hbGuestParseExecStatus("{\"return\":{\"exited\":true,"
                                            "\"signal\":9223372036854775807}}", &status, NULL), 0);
    assert_int_equal(status.exit_code, 255);
    assert_int_equal(hbGuestParseExecStatus("{\"return\":{\"exited\":true,\"signal\":[]}}",
                                            &status, NULL), 0);
    assert_int_equal(status.exit_code, 128);
    assert_int_equal(hbGuestParseExecStatus("{\"return\":{\"exited\":true,"
                                            "\"exitcode\":-9223372036854775807}}", &status, NULL), 0);
    assert_int_equal(status.exit_code, G_MININT);
    hbExecStatusClear(&status);

    long_reply = g_strnfill(100000, '\xff');
    assert_int_equal(hbGuestParseInfo(long_reply, &info, &err), -1);
    assert_true(g_utf8_validate(err->message, -1, NULL));
    assert_true(strlen(err->message) < 1024);
    g_log_set_always_fatal(old);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guest_info),
        cmocka_unit_test(test_exec_status),
        cmocka_unit_test(test_exec_output_bounded),
        cmocka_unit_test(test_exec_command),
        cmocka_unit_test(test_ping_errors),
        cmocka_unit_test(test_hostile_replies),
    };

    return cmocka_run_group_tests_name("guest", tests, NULL, NULL);
}
