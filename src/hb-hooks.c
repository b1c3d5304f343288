/*
 * Hook scripts, libvirt-hook style: every executable of hooks_dir runs on
 * each event, directly (no shell), in its own process group, on a clean
 * environment, with a timeout and a bound on how many events run at once.
 * Everything is asynchronous on the main loop: a hook that hangs or floods
 * its output costs it a read now and then, never a wait.
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>

#include "hb-hooks.h"
#include "hb-util.h"

/* Events whose hooks run at once, the last one kept for before-restart;
 * the others wait in the queue. */
#define HB_HOOKS_RUNNING 4
/* Notifications waiting past this are dropped (a mass event must not
 * grow the queue without bound); a before-restart run never is. */
#define HB_HOOKS_QUEUED 1024
/* From SIGTERM to SIGKILL; and from a hook's exit to giving up its output. */
#define HB_HOOK_GRACE_MS 2000
/* Output logged per hook run; the rest is read and counted only. */
#define HB_HOOK_LOG_MAX 4096
#define HB_HOOK_READ 65536
#define HB_HOOK_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct _HbHookRun HbHookRun;

/* One hook process. It outlives its run if the hooks are freed under it:
 * its pending callbacks free it. */
typedef struct {
    HbHookRun *run;      /* NULL: orphaned */
    char *name;
    GPid pid;            /* also its process group's; ours to reap, so it stays
                          * its own until the exit is seen */
    GInputStream *out;
    GCancellable *cancel;
    GString *log;        /* the output kept for the log */
    guint64 unlogged;    /* output bytes past HB_HOOK_LOG_MAX */
    guint timer;         /* the timeout, then SIGKILL; after the exit, the output's grace */
    gboolean terminated; /* SIGTERM sent at the timeout */
    gboolean exited;
    gboolean eof;
    int status;          /* wait status, once exited */
    char *error;         /* it could not be started or waited for */
} HbHookProc;

/* One event: its hooks run one after another, in name order. */
struct _HbHookRun {
    HbHooks *hooks;
    char *event;
    char *domain;
    char *uuid;
    GStrv argv_tail;     /* EVENT DOMAIN UUID */
    GStrv env;
    GPtrArray *names;
    guint next;
    HbHooksAnswerFunc answer; /* before-restart; NULL: a notification */
    gpointer answer_data;
    gint64 deadline;     /* before-restart, monotonic: answered by then */
    guint deadline_timer; /* while it waits in the queue */
    HbHookProc *proc;
};

struct _HbHooks {
    char *dir;
    guint timeout;
    GQueue queue;          /* HbHookRun: before-restart runs first */
    guint queued_asks;     /* before-restart runs in the queue, at its head */
    GHashTable *running;   /* HbHookRun set */
    GHashTable *skipped;   /* file name -> why it is skipped, as logged */
    char *refused;         /* why hooks_dir is refused, as logged; NULL: it is not */
    gboolean missing_said;
    gboolean dropping;     /* notifications are dropped, and it was said */
};

static void hbHookRunNext(HbHookRun *run);
static void hbHooksStart(HbHooks *hooks);


HbHooks *
hbHooksNew(const char *dir, guint timeout)
{
    HbHooks *hooks = g_new0(HbHooks, 1);

    hooks->dir = g_strdup(dir);
    hooks->timeout = timeout;
    g_queue_init(&hooks->queue);
    hooks->running = g_hash_table_new(NULL, NULL);
    hooks->skipped = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return hooks;
}


static void
hbHookProcFree(HbHookProc *proc)
{
    g_clear_handle_id(&proc->timer, g_source_remove);
    g_clear_object(&proc->out);
    g_clear_object(&proc->cancel);
    g_string_free(proc->log, TRUE);
    g_free(proc->name);
    g_free(proc->error);
    g_free(proc);
}


static void
hbHookRunFree(HbHookRun *run)
{
    g_clear_handle_id(&run->deadline_timer, g_source_remove);
    g_free(run->event);
    g_free(run->domain);
    g_free(run->uuid);
    g_strfreev(run->argv_tail);
    g_strfreev(run->env);
    g_ptr_array_unref(run->names);
    g_free(run);
}


/*
 * Who may write what runs as the daemon's user: root or that user only.
 * NULL: @st is safe; else why not.
 */
static char *
hbHooksUnsafe(const struct stat *st)
{
    if (st->st_uid != 0 && st->st_uid != geteuid())
        return g_strdup_printf("owned by uid %u, neither root nor the daemon's user",
                               (unsigned) st->st_uid);
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return g_strdup("writable by its group or by others");
    return NULL;
}


/* hooks_dir as it is now: TRUE, it may be listed. Each change of its state is logged once. */
static gboolean
hbHooksDirUsable(HbHooks *hooks)
{
    g_autofree char *why = NULL;
    struct stat st;

    if (stat(hooks->dir, &st) < 0 && errno == ENOENT) {
        if (!hooks->missing_said)
            g_debug("No hooks: %s does not exist", hooks->dir);
        hooks->missing_said = TRUE;
        return FALSE;
    }
    hooks->missing_said = FALSE;
    if (stat(hooks->dir, &st) < 0)
        why = g_strdup(g_strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        why = g_strdup("not a directory");
    else
        why = hbHooksUnsafe(&st);
    if (!why) {
        g_clear_pointer(&hooks->refused, g_free);
        return TRUE;
    }
    if (g_strcmp0(why, hooks->refused) != 0)
        g_warning("Hooks of %s not run: %s", hooks->dir, why);
    g_free(hooks->refused);
    hooks->refused = g_steal_pointer(&why);
    return FALSE;
}


/* run-parts's rule: letters, digits, '_' and '-', so that dotfiles,
 * editor backups ("x~") and package leftovers ("x.dpkg-old") never run. */
static gboolean
hbHooksNameValid(const char *name)
{
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
            return FALSE;
    }
    return name[0] != '\0';
}


/* NULL: @name is a hook to run; else why it is skipped. */
static char *
hbHooksSkips(HbHooks *hooks, const char *name)
{
    g_autofree char *path = g_build_filename(hooks->dir, name, NULL);
    struct stat st;

    if (!hbHooksNameValid(name))
        return g_strdup("its name is not only letters, digits, '_' and '-'");
    if (stat(path, &st) < 0)
        return g_strdup(g_strerror(errno));
    if (!S_ISREG(st.st_mode))
        return g_strdup("not a regular file");
    if (access(path, X_OK) < 0)
        return g_strdup("not executable");
    return hbHooksUnsafe(&st);
}


static gint
hbHooksCompare(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}


/* The hooks to run now, in name order; each file skipped is logged once, with why. */
static GPtrArray *
hbHooksList(HbHooks *hooks)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) dir = NULL;
    const char *name;

    if (!hbHooksDirUsable(hooks))
        return g_steal_pointer(&names);
    if (!(dir = g_dir_open(hooks->dir, 0, &err))) {
        g_warning("Hooks of %s not run: %s", hooks->dir, err->message);
        return g_steal_pointer(&names);
    }
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *why = hbHooksSkips(hooks, name);

        if (!why) {
            g_hash_table_remove(hooks->skipped, name);
            g_ptr_array_add(names, g_strdup(name));
        } else if (g_strcmp0(why, g_hash_table_lookup(hooks->skipped, name)) != 0) {
            g_message("Hook %s/%s skipped: %s", hooks->dir, name, why);
            g_hash_table_insert(hooks->skipped, g_strdup(name), g_steal_pointer(&why));
        }
    }
    g_ptr_array_sort(names, hbHooksCompare);
    return g_steal_pointer(&names);
}


/* A clean, small environment: nothing of the daemon's leaks into a hook. */
static GStrv
hbHooksEnv(const HbHookEvent *event)
{
    g_autoptr(GStrvBuilder) env = g_strv_builder_new();
    const struct {
        const char *name;
        const char *value;
    } vars[] = {
        { "EVENT", event->event },
        { "DOMAIN", event->domain },
        { "UUID", event->uuid },
        { "ACTION", event->action },
        { "RESULT", event->result },
        { "VERDICT", event->verdict },
        { "EVIDENCE", event->evidence },
        { "RESOURCE", event->resource },
    };

    g_strv_builder_add(env, HB_HOOK_PATH);
    g_strv_builder_add(env, "LANG=C.UTF-8");
    for (guint i = 0; i < G_N_ELEMENTS(vars); i++) {
        g_autofree char *var = NULL;

        if (!vars[i].value)
            continue;
        var = g_strdup_printf("VIRT_HEARTBEAT_%s=%s", vars[i].name, vars[i].value);
        g_strv_builder_add(env, var);
    }
    if (event->attempt) {
        g_autofree char *var = g_strdup_printf("VIRT_HEARTBEAT_ATTEMPT=%u", event->attempt);

        g_strv_builder_add(env, var);
    }
    return g_strv_builder_end(env);
}


static HbHookRun *
hbHookRunNew(HbHooks *hooks, const HbHookEvent *event, GPtrArray *names)
{
    HbHookRun *run = g_new0(HbHookRun, 1);
    const char *tail[] = { event->event, event->domain, event->uuid, NULL };

    run->hooks = hooks;
    run->event = g_strdup(event->event);
    run->domain = g_strdup(event->domain);
    run->uuid = g_strdup(event->uuid);
    run->argv_tail = g_strdupv((char **) tail);
    run->env = hbHooksEnv(event);
    run->names = names;
    run->deadline = G_MAXINT64;
    return run;
}


/* The event is done: its answer given, the next event started. */
static void
hbHookRunEnd(HbHookRun *run, const char *veto)
{
    HbHooks *hooks = run->hooks;
    HbHooksAnswerFunc answer = run->answer;
    gpointer data = run->answer_data;

    g_hash_table_remove(hooks->running, run);
    hbHookRunFree(run);
    if (answer)
        answer(veto, data);
    hbHooksStart(hooks);
}


/* The child, between fork and exec: a process group of its own, that the timeout kills whole. */
static void
hbHookChildSetup(gpointer data G_GNUC_UNUSED)
{
    setsid();
}


/* What became of the hook, for the log and a veto: "exit 1", "timed out after 10 s", ... */
static char *
hbHookProcOutcome(HbHookProc *proc, guint timeout)
{
    if (proc->error)
        return g_strdup_printf("cannot run: %s", proc->error);
    if (proc->terminated)
        return g_strdup_printf("timed out after %u s, killed", timeout);
    if (WIFEXITED(proc->status))
        return g_strdup_printf("exit %d", WEXITSTATUS(proc->status));
    if (WIFSIGNALED(proc->status))
        return g_strdup_printf("killed by signal %d", WTERMSIG(proc->status));
    return g_strdup_printf("wait status %d", proc->status);
}


/* Its output, line by line with the domain's name, then how it ended. */
static void
hbHookProcLog(HbHookProc *proc, const char *outcome, gboolean ok)
{
    HbHookRun *run = proc->run;
    g_autofree char *text = hbUtilSanitize(proc->log->str, proc->log->len, 0);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        if (lines[i][0] || lines[i + 1])
            g_message("Hook %s (%s, domain '%s'): %s", proc->name, run->event, run->domain,
                      lines[i]);
    }
    if (proc->unlogged)
        g_message("Hook %s (%s, domain '%s'): %" G_GUINT64_FORMAT " more bytes of output "
                  "not logged", proc->name, run->event, run->domain, proc->unlogged);
    if (ok)
        g_debug("Hook %s (%s, domain '%s'): exit 0", proc->name, run->event, run->domain);
    else
        g_warning("Hook %s (%s, domain '%s') failed: %s", proc->name, run->event,
                  run->domain, outcome);
}


/* Both the exit and the end of its output are in (or given up): on to the next hook. */
static void
hbHookProcMaybeDone(HbHookProc *proc)
{
    HbHookRun *run = proc->run;
    g_autofree char *outcome = NULL;
    g_autofree char *veto = NULL;
    gboolean ok;

    if (!proc->exited || !proc->eof)
        return;
    if (!run) {
        hbHookProcFree(proc);
        return;
    }
    ok = !proc->error && !proc->terminated && WIFEXITED(proc->status) &&
         WEXITSTATUS(proc->status) == 0;
    outcome = hbHookProcOutcome(proc, run->hooks->timeout);
    hbHookProcLog(proc, outcome, ok);
    if (!ok && run->answer)
        veto = g_strdup_printf("vetoed by hook %s (%s)", proc->name, outcome);
    run->proc = NULL;
    hbHookProcFree(proc);
    if (veto)
        hbHookRunEnd(run, veto);
    else
        hbHookRunNext(run);
}


/* After the exit, output still held open by something that escaped the group is not waited for. */
static gboolean
hbHookProcDrained(gpointer data)
{
    HbHookProc *proc = data;

    proc->timer = 0;
    g_cancellable_cancel(proc->cancel);
    return G_SOURCE_REMOVE;
}


/* To the hook's whole process group; never to ours (a hook not started has no pid). */
static void
hbHookProcSignal(HbHookProc *proc, int sig)
{
    if (proc->pid > 0)
        kill(-proc->pid, sig);
}


static gboolean
hbHookProcKill(gpointer data)
{
    HbHookProc *proc = data;

    proc->timer = 0;
    if (!proc->terminated) {
        proc->terminated = TRUE;
        hbHookProcSignal(proc, SIGTERM);
        proc->timer = g_timeout_add(HB_HOOK_GRACE_MS, hbHookProcKill, proc);
    } else {
        hbHookProcSignal(proc, SIGKILL);
    }
    return G_SOURCE_REMOVE;
}


static void
hbHookProcExited(GPid pid, gint status, gpointer data)
{
    HbHookProc *proc = data;

    proc->status = status;
    proc->exited = TRUE;
    g_clear_handle_id(&proc->timer, g_source_remove);
    /* What it left behind in its group goes with it. The group outlives its
     * leader while a member lives, so its number cannot be anyone else's. */
    hbHookProcSignal(proc, SIGKILL);
    g_spawn_close_pid(pid);
    if (!proc->eof)
        proc->timer = g_timeout_add(HB_HOOK_GRACE_MS, hbHookProcDrained, proc);
    hbHookProcMaybeDone(proc);
}


static void
hbHookProcRead(GObject *source, GAsyncResult *res, gpointer data)
{
    HbHookProc *proc = data;
    g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res,
                                                               NULL);
    gsize len = bytes ? g_bytes_get_size(bytes) : 0;
    gsize keep;

    if (len == 0) {
        proc->eof = TRUE;
        if (proc->exited)
            g_clear_handle_id(&proc->timer, g_source_remove);
        hbHookProcMaybeDone(proc);
        return;
    }
    keep = MIN(len, HB_HOOK_LOG_MAX - proc->log->len);
    g_string_append_len(proc->log, g_bytes_get_data(bytes, NULL), keep);
    proc->unlogged += len - keep;
    /* Low priority: a hook that floods its output slows nothing else. */
    g_input_stream_read_bytes_async(proc->out, HB_HOOK_READ, G_PRIORITY_LOW, proc->cancel,
                                    hbHookProcRead, proc);
}


/*
 * Checked again just before @name runs: its event's list may be minutes old
 * (events wait in the queue, hooks run in turn), and a hook or hooks_dir
 * made unsafe meanwhile must not run. NULL: it may; else why not. What is
 * left is the instant between this stat and the exec.
 */
static char *
hbHooksRefusesNow(HbHooks *hooks, const char *name)
{
    g_autofree char *why = NULL;
    struct stat st;

    if (stat(hooks->dir, &st) < 0)
        return g_strdup_printf("%s: %s", hooks->dir, g_strerror(errno));
    if ((why = hbHooksUnsafe(&st)))
        return g_strdup_printf("%s %s", hooks->dir, why);
    return hbHooksSkips(hooks, name);
}


/* Start the hook @name of @run; one that cannot start is done at once, with its error. */
static HbHookProc *
hbHookProcStart(HbHookRun *run, const char *name)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = g_build_filename(run->hooks->dir, name, NULL);
    const char *argv[] = { path, run->argv_tail[0], run->argv_tail[1], run->argv_tail[2],
                           NULL };
    gint64 timeout_ms = (gint64) run->hooks->timeout * 1000;
    HbHookProc *proc = g_new0(HbHookProc, 1);
    int out[2];

    proc->run = run;
    proc->name = g_strdup(name);
    proc->log = g_string_new(NULL);
    proc->exited = proc->eof = TRUE;
    if ((proc->error = hbHooksRefusesNow(run->hooks, name)))
        return proc;
    if (!g_unix_open_pipe(out, FD_CLOEXEC, &err)) {
        proc->error = g_strdup(err->message);
        return proc;
    }
    /* Not reaped by GLib: the pid, and so the group, stays ours until the child watch. */
    if (!g_spawn_async_with_pipes_and_fds("/", argv, (const char * const *) run->env,
                                          G_SPAWN_DO_NOT_REAP_CHILD |
                                          G_SPAWN_STDIN_FROM_DEV_NULL,
                                          hbHookChildSetup, NULL, -1, out[1], out[1],
                                          NULL, NULL, 0, &proc->pid, NULL, NULL, NULL,
                                          &err)) {
        proc->error = g_strdup(err->message);
        close(out[0]);
        close(out[1]);
        return proc;
    }
    close(out[1]);
    proc->exited = proc->eof = FALSE;
    proc->out = g_unix_input_stream_new(out[0], TRUE);
    proc->cancel = g_cancellable_new();
    if (run->deadline != G_MAXINT64)
        timeout_ms = MIN(timeout_ms, MAX(0, (run->deadline - g_get_monotonic_time()) / 1000));
    proc->timer = g_timeout_add(timeout_ms, hbHookProcKill, proc);
    g_child_watch_add(proc->pid, hbHookProcExited, proc);
    g_input_stream_read_bytes_async(proc->out, HB_HOOK_READ, G_PRIORITY_LOW, proc->cancel,
                                    hbHookProcRead, proc);
    return proc;
}


static void
hbHookRunNext(HbHookRun *run)
{
    if (run->next >= run->names->len) {
        hbHookRunEnd(run, NULL);
        return;
    }
    run->proc = hbHookProcStart(run, run->names->pdata[run->next++]);
    /* Not started: done at once, and told as a failure. */
    if (run->proc->error)
        hbHookProcMaybeDone(run->proc);
}


/*
 * Start what the bound allows, first come first served, before-restart runs
 * first. Notifications get all slots but one: hooks that hang on them must
 * not hold a restart attempt until its deadline vetoes it.
 */
static void
hbHooksStart(HbHooks *hooks)
{
    while (!g_queue_is_empty(&hooks->queue)) {
        HbHookRun *run = g_queue_peek_head(&hooks->queue);
        guint running = g_hash_table_size(hooks->running);

        if (running >= HB_HOOKS_RUNNING || (!run->answer && running >= HB_HOOKS_RUNNING - 1))
            break;
        g_queue_pop_head(&hooks->queue);

        if (run->answer)
            hooks->queued_asks--;
        g_clear_handle_id(&run->deadline_timer, g_source_remove);
        g_hash_table_add(hooks->running, run);
        hbHookRunNext(run);
    }
    if (g_queue_is_empty(&hooks->queue))
        hooks->dropping = FALSE;
}


void
hbHooksRun(HbHooks *hooks, const HbHookEvent *event)
{
    GPtrArray *names = hbHooksList(hooks);

    if (names->len == 0) {
        g_ptr_array_unref(names);
        return;
    }
    if (g_queue_get_length(&hooks->queue) >= HB_HOOKS_QUEUED) {
        if (!hooks->dropping)
            g_warning("Hooks not run on %s of domain '%s' and later events: %u events "
                      "wait already", event->event, event->domain, HB_HOOKS_QUEUED);
        hooks->dropping = TRUE;
        g_ptr_array_unref(names);
        return;
    }
    g_queue_push_tail(&hooks->queue, hbHookRunNew(hooks, event, names));
    hbHooksStart(hooks);
}


/* A before-restart run still queued at its deadline is answered: vetoed. */
static gboolean
hbHooksAskExpired(gpointer data)
{
    HbHookRun *run = data;
    HbHooks *hooks = run->hooks;
    g_autofree char *veto = g_strdup_printf("vetoed: hooks did not start within %u s, "
                                            "other hooks ran", hooks->timeout);

    run->deadline_timer = 0;
    g_queue_remove(&hooks->queue, run);
    hooks->queued_asks--;
    g_warning("Hooks (%s, domain '%s'): %s", run->event, run->domain, veto);
    hbHookRunEnd(run, veto);
    return G_SOURCE_REMOVE;
}


gboolean
hbHooksAsk(HbHooks *hooks, const HbHookEvent *event, HbHooksAnswerFunc answer,
           gpointer data)
{
    GPtrArray *names = hbHooksList(hooks);
    HbHookRun *run;

    if (names->len == 0) {
        g_ptr_array_unref(names);
        return FALSE;
    }
    run = hbHookRunNew(hooks, event, names);
    run->answer = answer;
    run->answer_data = data;
    /* The whole run, its wait in the queue included, is bounded by the timeout. */
    run->deadline = g_get_monotonic_time() + hooks->timeout * G_USEC_PER_SEC;
    run->deadline_timer = g_timeout_add_seconds(hooks->timeout, hbHooksAskExpired, run);
    g_queue_push_nth(&hooks->queue, run, hooks->queued_asks++);
    hbHooksStart(hooks);
    return TRUE;
}


guint
hbHooksPending(HbHooks *hooks)
{
    return g_queue_get_length(&hooks->queue) + g_hash_table_size(hooks->running);
}


void
hbHooksFree(HbHooks *hooks)
{
    GHashTableIter iter;
    gpointer key;
    HbHookRun *run;

    if (!hooks)
        return;
    while ((run = g_queue_pop_head(&hooks->queue))) {
        HbHooksAnswerFunc answer = run->answer;
        gpointer data = run->answer_data;

        hbHookRunFree(run);
        if (answer)
            answer("vetoed: virt-heartbeatd is stopping", data);
    }
    g_hash_table_iter_init(&iter, hooks->running);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        HbHooksAnswerFunc answer;
        gpointer data;

        run = key;
        answer = run->answer;
        data = run->answer_data;
        /* Its callbacks, cancelled, free it. */
        if (run->proc) {
            run->proc->run = NULL;
            g_clear_handle_id(&run->proc->timer, g_source_remove);
            hbHookProcSignal(run->proc, SIGTERM);
            g_cancellable_cancel(run->proc->cancel);
        }
        g_hash_table_iter_remove(&iter);
        hbHookRunFree(run);
        if (answer)
            answer("vetoed: virt-heartbeatd is stopping", data);
    }
    g_hash_table_unref(hooks->running);
    g_hash_table_unref(hooks->skipped);
    g_free(hooks->refused);
    g_free(hooks->dir);
    g_free(hooks);
}
