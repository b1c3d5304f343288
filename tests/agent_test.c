/*
 * The guest agent: its replies (captured from the real qemu-ga of
 * the end-to-end guest) parsed, and the guest-exec command built.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb-agent.h"
#include "test-util.h"


static char *
agentReply(const char *name)
{
    g_autofree char *path = g_strdup_printf("%s/data/agent/%s.json", TEST_SRCDIR, name);
    char *text = NULL;

    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}


static void
test_guest_info(void **state G_GNUC_UNUSED)
{
    g_autofree char *info = agentReply("guest-info");
    g_autofree char *os = agentReply("guest-get-osinfo");
    g_autoptr(GError) err = NULL;
    g_auto(HbGuestInfo) gi = { 0 };

    assert_int_equal(hbAgentParseInfo(info, &gi, &err), 0);
    assert_string_equal(gi.version, "7.2.22");
    assert_true(gi.can_shutdown);
    assert_int_equal(hbAgentParseOsInfo(os, &gi, &err), 0);
    assert_string_equal(gi.os_name, "virt-heartbeat test guest (busybox)");

    /* guest-shutdown disabled (qemu-ga --block-rpcs): it cannot shut down. */
    assert_int_equal(hbAgentParseInfo(
        "{\"return\":{\"version\":\"8.0\",\"supported_commands\":"
        "[{\"enabled\":false,\"name\":\"guest-shutdown\"}]}}", &gi, &err), 0);
    assert_false(gi.can_shutdown);
    /* No os-release in the guest: the kernel release stands in. */
    assert_int_equal(hbAgentParseOsInfo(
        "{\"return\":{\"kernel-release\":\"6.1.0\"}}", &gi, &err), 0);
    assert_string_equal(gi.os_name, "6.1.0");

    assert_int_equal(hbAgentParseInfo("{\"error\":{\"class\":\"x\"}}", &gi, &err), -1);
    assert_int_equal(err->code, HB_ERROR_FAILED);
    g_clear_error(&err);
    assert_int_equal(hbAgentParseOsInfo("not json", &gi, &err), -1);
}


static void
test_exec_status(void **state G_GNUC_UNUSED)
{
    g_autofree char *done = agentReply("guest-exec-status");
    g_autoptr(GError) err = NULL;
    g_auto(HbExecStatus) st = { 0 };
    gint64 pid;
    gsize len;

    assert_int_equal(hbAgentParseExecStatus(done, &st, &err), 0);
    assert_true(st.exited);
    assert_int_equal(st.exit_code, 3);
    assert_string_equal(g_bytes_get_data(st.out, &len), "out\n");
    assert_int_equal(len, 4);
    assert_int_equal(g_bytes_get_size(st.err), 4);
    assert_false(st.truncated);

    assert_int_equal(hbAgentParseExecStatus("{\"return\":{\"exited\":false}}", &st, &err), 0);
    assert_false(st.exited);
    assert_int_equal(hbAgentParseExecStatus(
        "{\"return\":{\"exited\":true,\"signal\":9}}", &st, &err), 0);
    assert_int_equal(st.exit_code, 137);
    assert_int_equal(g_bytes_get_size(st.out), 0);
    assert_int_equal(hbAgentParseExecStatus(
        "{\"return\":{\"exited\":true,\"exitcode\":0,\"out-truncated\":true}}", &st, &err), 0);
    assert_true(st.truncated);

    assert_int_equal(hbAgentParseExecPid("{\"return\":{\"pid\":112}}", &pid, &err), 0);
    assert_int_equal(pid, 112);
    assert_int_equal(hbAgentParseExecPid("{\"return\":{}}", &pid, &err), -1);
}


static void
test_exec_output_bounded(void **state G_GNUC_UNUSED)
{
    g_autofree char *big = g_malloc0(HB_EXEC_OUTPUT_MAX + 10);
    g_autofree char *b64 = NULL;
    g_autofree char *reply = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(HbExecStatus) st = { 0 };

    memset(big, 'x', HB_EXEC_OUTPUT_MAX + 10);
    b64 = g_base64_encode((guchar *) big, HB_EXEC_OUTPUT_MAX + 10);
    reply = g_strdup_printf("{\"return\":{\"exited\":true,\"exitcode\":0,"
                            "\"out-data\":\"%s\"}}", b64);
    assert_int_equal(hbAgentParseExecStatus(reply, &st, &err), 0);
    assert_int_equal(g_bytes_get_size(st.out), HB_EXEC_OUTPUT_MAX);
    assert_true(st.truncated);
}


static void
test_exec_command(void **state G_GNUC_UNUSED)
{
    const char *args[] = { "-c", "echo \"quoted\" \\ back", NULL };
    g_autofree char *cmd = hbAgentExecCommand("/bin/sh", args);

    assert_string_equal(cmd,
        "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\",\"arg\":"
        "[\"-c\",\"echo \\\"quoted\\\" \\\\ back\"],\"capture-output\":true}}");
}


/* A reply whose "return" holds one string member @key set to @json_value. */
static char *
replyWith(const char *key, const char *json_value)
{
    return g_strdup_printf("{\"return\":{\"%s\":%s}}", key, json_value);
}


/* What a hostile guest can put in guest-info and guest-get-osinfo. */
static void
test_guest_strings_hostile(void **state G_GNUC_UNUSED)
{
    g_autofree char *huge = g_strnfill(1024 * 1024, 'A');
    g_autofree char *huge_json = g_strdup_printf("\"%s\"", huge);
    struct { const char *json; const char *want; } strings[] = {
        /* json-glib turns lone surrogates into bytes that are not UTF-8 */
        { "\"x\\udc00y\"", NULL },
        { "\"x\\ud800y\"", NULL },
        /* libvirt hands on such bytes raw */
        { "\"raw \xed\xb0\x80 \xff\xfe\"", NULL },
        { "\"nul\\u0000after\"", "nul" },
        { "\"esc \\u001b[31mred\"", "esc \x1b[31mred" },
        { huge_json, NULL },
    };
    g_autoptr(GError) err = NULL;
    g_auto(HbGuestInfo) gi = { 0 };

    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++) {
        g_autofree char *info = replyWith("version", strings[i].json);
        g_autofree char *os = replyWith("pretty-name", strings[i].json);

        assert_int_equal(hbAgentParseInfo(info, &gi, &err), 0);
        testAssertClean(gi.version, HB_UTIL_TEXT_MAX);
        assert_int_equal(hbAgentParseOsInfo(os, &gi, &err), 0);
        testAssertClean(gi.os_name, HB_UTIL_TEXT_MAX);
        assert_non_null(gi.os_name[0] ? gi.os_name : NULL);
        if (strings[i].want) {
            assert_string_equal(gi.version, strings[i].want);
            assert_string_equal(gi.os_name, strings[i].want);
        }
    }
    /* The huge one is cut, with a marker. */
    assert_true(g_str_has_prefix(gi.os_name, "AAAA"));
    assert_true(g_str_has_suffix(gi.os_name, "..."));
}


/* A member of the wrong type is an error, never a critical or a default. */
static void
test_guest_types_hostile(void **state G_GNUC_UNUSED)
{
    const char *info[] = {
        "{\"return\":{\"version\":{}}}",
        "{\"return\":{\"version\":7}}",
        "{\"return\":{\"version\":[\"7\"]}}",
        "{\"return\":{\"version\":\"7\",\"supported_commands\":\"all\"}}",
        "{\"return\":{\"version\":\"7\",\"supported_commands\":[1]}}",
        "{\"return\":{\"version\":\"7\",\"supported_commands\":[{\"name\":{},\"enabled\":true}]}}",
        /* One reply in two literals: the parentheses tell the compiler so. */
        ("{\"return\":{\"version\":\"7\",\"supported_commands\":"
         "[{\"name\":\"guest-shutdown\",\"enabled\":\"yes\"}]}}"),
        "{\"return\":[]}",
        "{\"return\":\"x\"}",
        "[1,2]",
        "",
    };
    const char *os[] = {
        "{\"return\":{\"pretty-name\":{}}}",
        "{\"return\":{\"pretty-name\":\"\",\"name\":[]}}",
        "{\"return\":{\"kernel-release\":1.5}}",
    };
    g_autoptr(GError) err = NULL;
    g_auto(HbGuestInfo) gi = { 0 };

    for (size_t i = 0; i < G_N_ELEMENTS(info); i++) {
        assert_int_equal(hbAgentParseInfo(info[i], &gi, &err), -1);
        assert_int_equal(err->code, HB_ERROR_FAILED);
        testAssertClean(err->message, HB_UTIL_ERROR_MAX);
        g_clear_error(&err);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(os); i++) {
        assert_int_equal(hbAgentParseOsInfo(os[i], &gi, &err), -1);
        assert_non_null(strstr(err->message, "is not a string"));
        g_clear_error(&err);
    }
    /* null is as good as absent */
    assert_int_equal(hbAgentParseInfo("{\"return\":{\"version\":null,"
                                      "\"supported_commands\":null}}", &gi, &err), 0);
    assert_string_equal(gi.version, "");
    assert_false(gi.can_shutdown);
}


/* An unparsable reply is quoted in the error, sanitized and bounded. */
static void
test_guest_reply_quoted(void **state G_GNUC_UNUSED)
{
    g_autofree char *huge = g_strnfill(100000, 'z');
    g_autofree char *reply = g_strdup_printf("garbage \xed\xb0\x80\x1b %s", huge);
    g_autoptr(GError) err = NULL;
    g_auto(HbGuestInfo) gi = { 0 };

    assert_int_equal(hbAgentParseInfo(reply, &gi, &err), -1);
    testAssertClean(err->message, 300);
    assert_true(g_str_has_prefix(err->message,
                                 "unexpected guest agent reply: garbage \xef\xbf\xbd"));
}


/*
 * A reply nested very deep would overflow the stack in json-glib, and one
 * of millions of small values would take hundreds of MB: both are refused
 * before they are parsed. Strings may hold any bracket or comma.
 */
static void
test_guest_reply_shape_bounded(void **state G_GNUC_UNUSED)
{
    g_autoptr(GString) deep = g_string_new("{\"return\":{\"version\":");
    g_autoptr(GString) wide = g_string_new("{\"return\":{\"version\":\"1\","
                                           "\"supported_commands\":[");
    g_autofree char *brackets = g_strnfill(200000, '[');
    g_autofree char *text = g_strdup_printf("{\"return\":{\"version\":\"%s,,{\\\"\"}}",
                                            brackets);
    g_autoptr(GError) err = NULL;
    g_auto(HbGuestInfo) gi = { 0 };

    for (guint i = 0; i < 500000; i++)
        g_string_append_c(deep, '[');
    for (guint i = 0; i < 500000; i++)
        g_string_append_c(deep, ']');
    g_string_append(deep, "}}");
    assert_int_equal(hbAgentParseInfo(deep->str, &gi, &err), -1);
    assert_non_null(strstr(err->message, "deeper"));
    g_clear_error(&err);

    for (guint i = 0; i < 200000; i++)
        g_string_append_printf(wide, "%s{\"name\":\"c%u\",\"enabled\":true}", i ? "," : "", i);
    g_string_append(wide, "]}}");
    assert_int_equal(hbAgentParseInfo(wide->str, &gi, &err), -1);
    assert_non_null(strstr(err->message, "values"));
    g_clear_error(&err);

    /* Brackets, commas and escaped quotes inside a string count for nothing. */
    assert_int_equal(hbAgentParseInfo(text, &gi, &err), 0);
    assert_int_equal(strlen(gi.version), HB_UTIL_TEXT_MAX);
}


/* pids, exit codes and signals: in range or a clear error. */
static void
test_exec_numbers_hostile(void **state G_GNUC_UNUSED)
{
    struct { const char *ret; int code; } good[] = {
        { "\"exitcode\":0", 0 },
        { "\"exitcode\":255", 255 },
        { "\"signal\":1", 129 },
        { "\"signal\":127", 255 },
        { "\"signal\":9,\"exitcode\":0", 137 },
        /* Windows: STATUS_ACCESS_VIOLATION, as Windows shows it */
        { "\"exitcode\":3221225477", -1073741819 },
        { "\"exitcode\":4294967295", -1 },
        { "\"exitcode\":256", 256 },
    };
    const char *bad[] = {
        "\"exitcode\":-1",
        "\"exitcode\":4294967296",
        "\"exitcode\":9223372036854775807",
        "\"exitcode\":99999999999999999999",
        "\"exitcode\":\"0\"",
        "\"exitcode\":1.0",
        "\"exitcode\":{}",
        "\"signal\":0",
        "\"signal\":128",
        "\"signal\":-9",
        "\"signal\":2147483647",
        "\"signal\":9223372036854775807",
        "\"signal\":[9]",
        "\"exitcode\":0,\"out-data\":7",
        "\"exitcode\":0,\"err-data\":{}",
        "\"exitcode\":0,\"out-truncated\":\"no\"",
        "\"out-data\":\"\"",
    };
    const char *pids[] = {
        "{\"return\":{\"pid\":0}}",
        "{\"return\":{\"pid\":-5}}",
        "{\"return\":{\"pid\":4294967296}}",
        "{\"return\":{\"pid\":99999999999999999999}}",
        "{\"return\":{\"pid\":\"12\"}}",
        "{\"return\":{\"pid\":{}}}",
        "{\"return\":{\"pid\":null}}",
    };
    g_autoptr(GError) err = NULL;
    g_auto(HbExecStatus) st = { 0 };
    gint64 pid;

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *reply = g_strdup_printf("{\"return\":{\"exited\":true,%s}}",
                                                 good[i].ret);
        assert_int_equal(hbAgentParseExecStatus(reply, &st, &err), 0);
        assert_int_equal(st.exit_code, good[i].code);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *reply = g_strdup_printf("{\"return\":{\"exited\":true,%s}}", bad[i]);
        assert_int_equal(hbAgentParseExecStatus(reply, &st, &err), -1);
        assert_int_equal(err->code, HB_ERROR_FAILED);
        assert_false(st.exited);
        g_clear_error(&err);
    }
    assert_int_equal(hbAgentParseExecStatus("{\"return\":{\"exited\":\"true\"}}", &st, &err), -1);
    g_clear_error(&err);

    assert_int_equal(hbAgentParseExecPid("{\"return\":{\"pid\":4294967295}}", &pid, &err), 0);
    assert_int_equal(pid, 4294967295LL);
    for (size_t i = 0; i < G_N_ELEMENTS(pids); i++) {
        assert_int_equal(hbAgentParseExecPid(pids[i], &pid, &err), -1);
        g_clear_error(&err);
    }
}


/* Output beyond the limit is not even decoded; base64 that is not is skipped. */
static void
test_exec_output_hostile(void **state G_GNUC_UNUSED)
{
    g_autofree char *huge = g_strnfill(4 * 1024 * 1024, 'Q');
    g_autofree char *reply = g_strdup_printf(
        "{\"return\":{\"exited\":true,\"exitcode\":0,\"out-data\":\"%s\","
        "\"err-data\":\"!!\\u0000\"}}", huge);
    g_autoptr(GError) err = NULL;
    g_auto(HbExecStatus) st = { 0 };

    assert_int_equal(hbAgentParseExecStatus(reply, &st, &err), 0);
    assert_int_equal(g_bytes_get_size(st.out), HB_EXEC_OUTPUT_MAX);
    assert_true(st.truncated);
    assert_int_equal(g_bytes_get_size(st.err), 0);
}


/* Only the agent's own silence is a miss; libvirt's troubles are no verdict. */
static void
test_ping_errors(void **state G_GNUC_UNUSED)
{
    assert_int_equal(hbAgentClassifyError(VIR_ERR_AGENT_UNRESPONSIVE, TRUE), HB_PROBE_MISS);
    assert_int_equal(hbAgentClassifyError(VIR_ERR_AGENT_UNRESPONSIVE, FALSE), HB_PROBE_VOID);
    assert_int_equal(hbAgentClassifyError(VIR_ERR_OPERATION_TIMEOUT, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbAgentClassifyError(VIR_ERR_OPERATION_INVALID, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbAgentClassifyError(VIR_ERR_NO_DOMAIN, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbAgentClassifyError(VIR_ERR_RPC, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbAgentClassifyError(VIR_ERR_INTERNAL_ERROR, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbAgentClassifyError(VIR_ERR_ARGUMENT_UNSUPPORTED, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbAgentClassifyError(VIR_ERR_AGENT_UNSYNCED, TRUE), HB_PROBE_VOID);
    assert_int_equal(hbAgentClassifyError(VIR_ERR_ACCESS_DENIED, TRUE), HB_PROBE_VOID);
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
        cmocka_unit_test(test_guest_strings_hostile),
        cmocka_unit_test(test_guest_types_hostile),
        cmocka_unit_test(test_guest_reply_quoted),
        cmocka_unit_test(test_guest_reply_shape_bounded),
        cmocka_unit_test(test_exec_numbers_hostile),
        cmocka_unit_test(test_exec_output_hostile),
    };

    /* A GLib critical or warning (invalid UTF-8 into GVariant, a json-glib
     * type check) is a failure here, not a message. */
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
    hbUtilInitLibvirt();
    return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
