/*
 * The shared glue: text from guests made safe, libvirt's errors, the log
 * writer, and the one XML reader.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <libxml/xmlerror.h>

#include "hb-util.h"
#include "test-util.h"


static void
test_sanitize(void **state G_GNUC_UNUSED)
{
    g_autofree char *a = hbUtilSanitize("ok \xed\xb0\x80 \xff end", -1, 0);
    g_autofree char *b = hbUtilSanitize("a\0b", 3, 0);
    g_autofree char *c = hbUtilSanitize("0123456789", -1, 8);
    g_autofree char *d = hbUtilSanitize("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", -1, 6);
    g_autofree char *e = hbUtilSanitize(NULL, -1, 8);
    g_autofree char *f = hbUtilSanitize("short", -1, 8);

    /* Each bad byte becomes U+FFFD; a NUL within the length too. */
    assert_string_equal(a, "ok \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd end");
    assert_string_equal(b, "a\xef\xbf\xbd" "b");
    /* Cut to the limit with the marker, never inside a character. */
    assert_string_equal(c, "01234...");
    assert_string_equal(d, "\xc3\xa9...");
    assert_string_equal(e, "");
    assert_string_equal(f, "short");
}


static void
test_escape(void **state G_GNUC_UNUSED)
{
    struct { const char *in, *out; } cases[] = {
        { "plain name-1.0 (x86_64)", "plain name-1.0 (x86_64)" },
        { "red\x1b[31m", "red\\x1b[31m" },
        { "cr\rtab\tnl\ndel\x7f", "cr\\x0dtab\\x09nl\\x0adel\\x7f" },
        { "c1 csi \xc2\x9b" "31m", "c1 csi \\u009b31m" },
        { "bidi \xe2\x80\xae" "evil", "bidi \\u202eevil" },
        { "bad \xff\xed\xb0\x80", "bad \\xff\\xed\\xb0\\x80" },
        { "back\\slash", "back\\\\slash" },
        { "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80",
          "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80" },
        { "tag \xf3\xa0\x80\x81", "tag \\U000e0001" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = hbUtilEscape(cases[i].in);
        assert_string_equal(got, cases[i].out);
    }
}


/*
 * libvirt's error messages quote what they were given: sanitized and
 * bounded. libxml2 quotes bad XML, bytes that are not UTF-8 and all.
 */
static void
test_libvirt_error_sanitized(void **state G_GNUC_UNUSED)
{
    g_autoptr(virConnect) conn = virConnectOpen("test:///default");
    g_autofree char *huge = g_strnfill(100000, 'n');
    g_autofree char *xml = g_strdup_printf("<domain type='test'><name>\xed\xb0\x80\xff%s</name>"
                                           "</domain>", huge);
    g_autoptr(GError) err = NULL;
    const char *last;

    assert_non_null(conn);
    assert_null(virDomainDefineXML(conn, xml));
    assert_false(g_utf8_validate(virGetLastErrorMessage(), -1, NULL));
    assert_true(strlen(virGetLastErrorMessage()) > HB_UTIL_ERROR_MAX);
    last = hbUtilLastError();
    testAssertClean(last, HB_UTIL_ERROR_MAX);
    assert_non_null(strstr(last, "\xef\xbf\xbd"));
    assert_true(g_str_has_suffix(last, "..."));
    hbUtilSetLibvirtError(&err, "cannot define");
    assert_true(g_str_has_prefix(err->message, "cannot define: "));
    testAssertClean(err->message + strlen("cannot define: "), HB_UTIL_ERROR_MAX);
}


static char *capturedLog;

static GLogWriterOutput
captureLog(GLogLevelFlags level G_GNUC_UNUSED,
           const GLogField *fields,
           gsize n_fields,
           gpointer data G_GNUC_UNUSED)
{
    for (gsize i = 0; i < n_fields; i++) {
        if (g_str_equal(fields[i].key, "MESSAGE")) {
            g_free(capturedLog);
            capturedLog = g_strdup(fields[i].value);
        }
    }
    return G_LOG_WRITER_HANDLED;
}


/* The daemon's log lines carry no control character from a name or guest. */
static void
test_log_writer_escapes(void **state G_GNUC_UNUSED)
{
    GLogField fields[] = {
        { "GLIB_DOMAIN", "test", -1 },
        { "MESSAGE", "Domain 'evil\r\x1b[31m\n** Message: forged': ok", -1 },
    };

    assert_int_equal(hbUtilLogWriter(G_LOG_LEVEL_MESSAGE, fields, G_N_ELEMENTS(fields),
                                     (gpointer) captureLog), G_LOG_WRITER_HANDLED);
    assert_string_equal(capturedLog,
                        "Domain 'evil\\x0d\\x1b[31m\\x0a** Message: forged': ok");
    /* The caller's fields are not changed. */
    assert_string_equal(fields[1].value, "Domain 'evil\r\x1b[31m\n** Message: forged': ok");
    g_clear_pointer(&capturedLog, g_free);
}


/* The one XML reader: well-formed text in, the node back out as it was. */
static void
test_xml_read_dump(void **state G_GNUC_UNUSED)
{
    const char *text = "<heartbeat xmlns=\"urn:virt-heartbeat:1\" time=\"6\"/>";
    g_autoptr(xmlDoc) doc = hbUtilXmlRead(text, "test.xml");
    g_autoptr(xmlDoc) bad = hbUtilXmlRead("<heartbeat>", "test.xml");
    g_autofree char *dumped = NULL;

    assert_non_null(doc);
    dumped = hbUtilXmlDump(doc, xmlDocGetRootElement(doc));
    assert_string_equal(dumped, text);
    /* Not well-formed: no document, the reason left for the caller. */
    assert_null(bad);
    assert_non_null(xmlGetLastError());
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_log_writer_escapes),
        cmocka_unit_test(test_libvirt_error_sanitized),
        cmocka_unit_test(test_xml_read_dump),
    };

    /* A GLib critical or warning is a failure here, not a message. */
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
    hbUtilInitLibvirt();
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
