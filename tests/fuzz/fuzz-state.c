/*
 * libFuzzer harness: the state file (hbStateParse). Whatever it reads is
 * bounded, formats back to a file that reads the same, and can be handed
 * to an engine.
 */
#include "fuzz-common.h"
#include "hb-state.h"

/* A host up for a day, at 2026-11-29: fixed, so that runs repeat. */
#define FUZZ_NOW ((gint64) 86400 * G_USEC_PER_SEC)
#define FUZZ_OFFSET ((gint64) 1795910400 * G_USEC_PER_SEC)

int
LLVMFuzzerInitialize(int *argc G_GNUC_UNUSED, char ***argv G_GNUC_UNUSED)
{
    fuzzInit();
    return 0;
}

static void
fuzzCheckMemory(const HbEngineMemory *memory)
{
    gint64 ahead = FUZZ_NOW + (gint64) HB_STATE_AHEAD_MAX_S * G_USEC_PER_SEC;

    FUZZ_ASSERT(memory->next_attempt >= 0 && memory->next_attempt <= ahead);
    FUZZ_ASSERT(memory->boot_time >= 0);
    FUZZ_ASSERT(memory->attempts <= 1000);
    FUZZ_ASSERT(memory->episode_starts && memory->episode_starts->len <= HB_STATE_STARTS_MAX);
    for (guint i = 0; i < memory->episode_starts->len; i++)
        FUZZ_ASSERT(g_array_index(memory->episode_starts, gint64, i) <= ahead);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_auto(HbEngineMemory) memory = { 0 };
    g_auto(HbEngineMemory) again = { 0 };
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    g_autoptr(HbEngine) engine = NULL;
    HbConfig cfg;
    HbActions actions;

    if (hbStateParse((const char *) data, size, FUZZ_OFFSET, FUZZ_NOW, NULL, &memory, &err) < 0) {
        fuzzCheckError(err);
        return 0;
    }
    fuzzCheckMemory(&memory);

    text = hbStateFormat("fuzz", &memory, FUZZ_OFFSET);
    FUZZ_ASSERT(hbStateParse(text, strlen(text), FUZZ_OFFSET, FUZZ_NOW, NULL, &again, NULL) == 0);
    FUZZ_ASSERT(again.episode == memory.episode && again.open == memory.open &&
                again.failed == memory.failed && again.storm_capped == memory.storm_capped &&
                again.attempts == memory.attempts &&
                again.next_attempt == memory.next_attempt &&
                again.restart_in_flight == memory.restart_in_flight &&
                again.start_if_off == memory.start_if_off &&
                again.boot_time == memory.boot_time &&
                again.episode_starts->len == memory.episode_starts->len);
    for (guint i = 0; i < memory.episode_starts->len; i++)
        FUZZ_ASSERT(g_array_index(again.episode_starts, gint64, i) ==
                    g_array_index(memory.episode_starts, gint64, i));

    hbConfigInitDefaults(&cfg);
    engine = hbEngineNew(&cfg, TRUE, 0);
    hbEngineRecall(engine, &memory, FUZZ_NOW, &actions);
    (void) hbEngineNextDeadline(engine);

    return 0;
}
