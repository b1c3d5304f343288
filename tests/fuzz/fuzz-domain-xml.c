/*
 * libFuzzer harness: a domain's XML (hbDomainXmlInspect), and the
 * metadata element found in it, as the daemon reads both.
 */
#include "fuzz-common.h"
#include "hb-domxml.h"

int
LLVMFuzzerInitialize(int *argc G_GNUC_UNUSED, char ***argv G_GNUC_UNUSED)
{
    fuzzInit();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = fuzzString(data, size);
    HbDomainInfo *info = g_new0(HbDomainInfo, 1);
    g_autoptr(GError) err = NULL;

    if (hbDomainXmlInspect(xml, info, &err) < 0) {
        fuzzCheckError(err);
    } else if (info->metadata) {
        HbConfig defaults;
        HbConfig cfg;
        g_autoptr(GError) merr = NULL;

        FUZZ_ASSERT(g_utf8_validate(info->metadata, -1, NULL));
        hbConfigInitDefaults(&defaults);
        if (hbConfigParseMetadata(info->metadata, &defaults, &cfg, &merr) < 0)
            fuzzCheckError(merr);
    }
    hbDomainInfoFree(info);
    return 0;
}
