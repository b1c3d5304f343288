/*
 * libFuzzer harness: hbConfigEditMetadata. The input is changes, one
 * "key=value" (set) or "key" (remove) a line, then a line "%%" and the
 * metadata element; without "%%" it is all element. An empty element
 * stands for a domain without metadata yet.
 */
#include "fuzz-common.h"
#include "hb-config.h"

int
LLVMFuzzerInitialize(int *argc G_GNUC_UNUSED, char ***argv G_GNUC_UNUSED)
{
    fuzzInit();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *input = fuzzString(data, size);
    g_autoptr(GHashTable) changes = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                          g_free, g_free);
    g_autoptr(GError) err = NULL;
    g_autofree char *result = NULL;
    const char *xml = input;
    char *sep = strstr(input, "\n%%\n");
    HbConfig defaults;
    HbConfig cfg;

    if (g_str_has_prefix(input, "%%\n")) {
        xml = input + 3;
    } else if (sep) {
        g_auto(GStrv) lines = NULL;

        *sep = '\0';
        xml = sep + 4;
        lines = g_strsplit(input, "\n", -1);
        for (guint i = 0; lines[i]; i++) {
            char *eq = strchr(lines[i], '=');
            if (eq)
                *eq = '\0';
            g_hash_table_replace(changes, g_strdup(lines[i]), eq ? g_strdup(eq + 1) : NULL);
        }
    }

    hbConfigInitDefaults(&defaults);
    result = hbConfigEditMetadata(xml[0] ? xml : NULL, changes, &defaults, &err);
    if (!result) {
        fuzzCheckError(err);
        return 0;
    }
    /* What an edit stores, the daemon must read back. */
    FUZZ_ASSERT(hbConfigParseMetadata(result, &defaults, &cfg, NULL) == 0);
    return 0;
}
