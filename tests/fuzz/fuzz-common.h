/*
 * What every libFuzzer harness shares: GLib criticals and warnings abort
 * (libFuzzer reports them as crashes), the chatter of lower levels is
 * dropped, and the input is handed over as a NUL-terminated copy, as
 * libvirt and GLib hand strings to the parsers.
 */
#pragma once

#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <libxml/parser.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A harness's own invariant: abort, so that libFuzzer keeps the input. */
#define FUZZ_ASSERT(cond) \
    do { \
        if (!(cond)) { \
            g_printerr("%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

/*
 * GLib 2.74's GKeyFile sets its error twice on a value with a bad escape
 * and a backslash at its end (g_key_file_parse_value_as_string), which
 * warns. It is GLib's, and harmless: the second error is dropped, the
 * value still returned. Found by fuzz-state; every other warning aborts.
 */
static gboolean
fuzzKnownGLibWarning(const char *domain, const char *message)
{
    return g_strcmp0(domain, "GLib") == 0 &&
        g_str_has_prefix(message, "GError set over the top of a previous GError") &&
        strstr(message, "Key file contains escape character at end of line");
}

static void
fuzzLogHandler(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    /* Messages, info and debug are what the code says about bad input. */
    if (!(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)))
        return;
    if ((level & G_LOG_LEVEL_WARNING) && fuzzKnownGLibWarning(domain, message))
        return;
    g_log_default_handler(domain, level, message, data);
    if (level & G_LOG_LEVEL_WARNING)
        abort();
}

static inline void
fuzzInit(void)
{
    /* Warnings abort in the handler, which knows GLib's own (above). */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    g_log_set_default_handler(fuzzLogHandler, NULL);
    xmlInitParser();
}

/* The input as a string; it stops at the first NUL, as a C string does. */
static inline char *
fuzzString(const uint8_t *data, size_t size)
{
    return g_strndup((const char *) data, size);
}

/* An error message goes to the log and over D-Bus: it must be UTF-8. */
static inline void
fuzzCheckError(const GError *err)
{
    FUZZ_ASSERT(err && err->message && g_utf8_validate(err->message, -1, NULL));
}
