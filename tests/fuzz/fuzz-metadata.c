/* libFuzzer harness: the <heartbeat/> metadata element (hbConfigParseMetadata). */
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
    g_autofree char *xml = fuzzString(data, size);
    g_autoptr(GError) err = NULL;
    HbConfig defaults;
    HbConfig cfg;

    hbConfigInitDefaults(&defaults);
    cfg = defaults;
    if (hbConfigParseMetadata(xml, &defaults, &cfg, &err) < 0) {
        fuzzCheckError(err);
        /* The last valid config is kept. */
        FUZZ_ASSERT(memcmp(&cfg, &defaults, sizeof(cfg)) == 0);
    } else {
        g_autofree char *text = hbConfigFormat(&cfg);
        /* What the engine derives must be defined for every accepted config. */
        FUZZ_ASSERT(hbConfigCheck(&cfg, NULL) == 0);
        FUZZ_ASSERT(hbConfigIntervalUs(&cfg) > 0);
        FUZZ_ASSERT(hbConfigEffectivePingTimeout(&cfg) >= 1);
        FUZZ_ASSERT(text && g_utf8_validate(text, -1, NULL));
    }
    return 0;
}
