/* libFuzzer harness: the daemon's configuration file (hbDaemonConfParse). */
#include "fuzz-common.h"
#include "hb-daemon-conf.h"

int
LLVMFuzzerInitialize(int *argc G_GNUC_UNUSED, char ***argv G_GNUC_UNUSED)
{
    fuzzInit();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = fuzzString(data, size);
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_auto(HbDaemonConf) conf = { 0 };

    hbDaemonConfInit(&conf);
    if (hbDaemonConfParse(&conf, "fuzz.conf", text, errors) < 0) {
        FUZZ_ASSERT(errors->len > 0);
    } else {
        FUZZ_ASSERT(errors->len == 0);
        FUZZ_ASSERT(hbConfigCheck(&conf.defaults, NULL) == 0);
        FUZZ_ASSERT(hbConfigIntervalUs(&conf.defaults) > 0);
        FUZZ_ASSERT(conf.ping_workers >= 1 && conf.suspect_workers >= 1 &&
                    conf.request_workers >= 1);
        FUZZ_ASSERT(!conf.state_dir[0] || g_path_is_absolute(conf.state_dir));
    }
    return 0;
}
