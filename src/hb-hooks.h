/*
 * Hook scripts: the executables of hooks_dir, run on the daemon's events
 * off the main loop's critical path; before-restart may veto an attempt.
 */
#pragma once

#include <glib.h>

#define HB_HOOKS_DIR_DEFAULT SYSCONFDIR "/virt-heartbeat/hooks.d"
#define HB_HOOK_TIMEOUT_DEFAULT 10
/* Kept well under HB_ATTEMPT_HUNG_US: a before-restart run, its queue
 * wait included, ends within the timeout and one grace period. */
#define HB_HOOK_TIMEOUT_MAX 30
#define HB_HOOK_BEFORE_RESTART "before-restart"

typedef struct _HbHooks HbHooks;

/* What a hook is told; NULL fields (0: attempt) are left out of its environment. */
typedef struct {
    const char *event;
    const char *domain;
    const char *uuid;
    guint attempt;
    const char *action;
    const char *result;
    const char *verdict;
    const char *evidence;
    const char *resource; /* escalated: the cluster resource */
} HbHookEvent;

/* A before-restart run ended: @veto NULL, the attempt goes ahead; else why not
 * ("vetoed by hook NAME (exit N)"). */
typedef void (*HbHooksAnswerFunc)(const char *veto, gpointer data);

/* The hooks of @dir, each given at most @timeout seconds. */
HbHooks *hbHooksNew(const char *dir, guint timeout);
/* Queued runs that must answer are answered (vetoed); running hooks are sent SIGTERM. */
void hbHooksFree(HbHooks *hooks);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbHooks, hbHooksFree)

/* Run every hook on @event, queued; nothing waits for them. */
void hbHooksRun(HbHooks *hooks, const HbHookEvent *event);
/*
 * Run every hook on @event in turn until one refuses, and tell @answer on
 * the main loop. FALSE: there is no hook, nothing is run and @answer is
 * never called: the caller goes on at once.
 */
gboolean hbHooksAsk(HbHooks *hooks, const HbHookEvent *event, HbHooksAnswerFunc answer,
                    gpointer data);
/* Hook runs queued or under way (tests). */
guint hbHooksPending(HbHooks *hooks);
