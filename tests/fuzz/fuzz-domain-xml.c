/*
 * libFuzzer harness: a domain's XML (hbDomainXmlInspect), and the
 * metadata element found in it, as the daemon reads both; the same bytes
 * as a VirtualDomain config file and as Pacemaker's CIB (hb-cluster.h).
 */
#include "fuzz-common.h"
#include "hb-cluster.h"
#include "hb-domxml.h"

int
LLVMFuzzerInitialize(int *argc G_GNUC_UNUSED, char ***argv G_GNUC_UNUSED)
{
    fuzzInit();
    return 0;
}

/* What the daemon reads of Pacemaker: the CIB, and a config file, raw bytes both. */
static void
fuzzCluster(const uint8_t *data, size_t size)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) resources = hbClusterParseResources((const char *) data, size, &err);

    if (!resources)
        fuzzCheckError(err);
    for (guint i = 0; resources && i < resources->len; i++) {
        HbClusterResource *rsc = resources->pdata[i];
        FUZZ_ASSERT(rsc->id != NULL);
    }
    hbClusterConfigDefines((const char *) data, size, "vm1",
                           "6695eb01-f6a4-8304-79aa-97f2502e193f");
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
    fuzzCluster(data, size);
    return 0;
}
