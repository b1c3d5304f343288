/*
 * Diagnostics before a restart attempt: when one is due, its directory
 * and files (names, retention, no symbolic links), the console's tail,
 * and each kind saved against libvirt's test driver before the reset.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb-diag.h"
#include "hb-restart.h"
#include "hb-util.h"
#include "test-util.h"

#define UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"


static char *
makeTmpDir(void)
{
    g_autoptr(GError) err = NULL;
    char *dir = g_dir_make_tmp("hb-diag-XXXXXX", &err);

    if (!dir)
        fail_msg("%s", err->message);
    return dir;
}


static void
removeTree(const char *path)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", path);

    assert_int_equal(system(cmd), 0);
}


static void
test_wanted(void **state G_GNUC_UNUSED)
{
    g_autoptr(HbJob) job = hbJobNew(HB_JOB_RESTART, UUID);

    job->attempt = 1;
    assert_false(hbDiagWanted(job, VIR_DOMAIN_RUNNING, 0));
    job->diagnostics = HB_DIAG_SCREENSHOT;
    assert_true(hbDiagWanted(job, VIR_DOMAIN_RUNNING, 0));
    assert_true(hbDiagWanted(job, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_CRASHED));
    assert_true(hbDiagWanted(job, VIR_DOMAIN_CRASHED, 0));
    assert_false(hbDiagWanted(job, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER));
    assert_false(hbDiagWanted(job, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED));
    job->attempt = 2;
    assert_true(hbDiagWanted(job, VIR_DOMAIN_RUNNING, 0));
    /* A dump: the first attempt of the episode only, and once in it. */
    job->diagnostics = HB_DIAG_DUMP;
    job->episode = 7;
    assert_false(hbDiagWanted(job, VIR_DOMAIN_RUNNING, 0));
    job->attempt = 1;
    assert_false(hbDiagWanted(job, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER));
    assert_true(hbDiagWanted(job, VIR_DOMAIN_RUNNING, 0));
    assert_false(hbDiagWanted(job, VIR_DOMAIN_RUNNING, 0));
    job->episode = 8;
    assert_true(hbDiagWanted(job, VIR_DOMAIN_RUNNING, 0));
    job->episode = 9;
    /* Observed only: nothing is done to the guest, a dump neither. */
    job->observe = TRUE;
    assert_false(hbDiagWanted(job, VIR_DOMAIN_RUNNING, 0));
    job->observe = FALSE;
    assert_true(hbDiagWanted(job, VIR_DOMAIN_RUNNING, 0));
}


static void
test_file_name(void **state G_GNUC_UNUSED)
{
    g_autoptr(GDateTime) t1 = g_date_time_new_utc(2026, 11, 30, 9, 5, 7.25);
    g_autoptr(GDateTime) t2 = g_date_time_new_utc(2026, 11, 30, 9, 5, 7.5);
    g_autofree char *n1 = hbDiagFileName(t1, 3, 1, "kdump");
    g_autofree char *n2 = hbDiagFileName(t2, 3, 2, NULL);

    assert_string_equal(n1, "20261130T090507.250Z-e3-a1.kdump");
    assert_string_equal(n2, "20261130T090507.500Z-e3-a2");
    assert_true(strcmp(n1, n2) < 0);
}


static void
test_open_dir(void **state G_GNUC_UNUSED)
{
    g_autofree char *tmp = makeTmpDir();
    g_autofree char *top = g_build_filename(tmp, HB_DIAG_SUBDIR, NULL);
    g_autofree char *dir = g_build_filename(top, UUID, NULL);
    g_autofree char *elsewhere = g_build_filename(tmp, "elsewhere", NULL);
    g_autoptr(GError) err = NULL;
    struct stat st;
    int fd;

    assert_int_equal(hbDiagOpenDir("", UUID, &err), -1);
    g_clear_error(&err);
    assert_int_equal(hbDiagOpenDir(tmp, "../x", &err), -1);
    g_clear_error(&err);

    fd = hbDiagOpenDir(tmp, UUID, &err);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(top, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    /* Readable by others: a dump holds the guest's memory. */
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(hbDiagOpenDir(tmp, UUID, &err), -1);
    assert_non_null(strstr(err->message, "mode 0700"));
    g_clear_error(&err);

    /* A symbolic link in place of the domain's directory is not followed. */
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(g_mkdir(elsewhere, 0700), 0);
    assert_int_equal(symlink(elsewhere, dir), 0);
    assert_int_equal(hbDiagOpenDir(tmp, UUID, &err), -1);
    assert_non_null(strstr(err->message, "symbolic link"));
    removeTree(tmp);
}


static void
test_prune(void **state G_GNUC_UNUSED)
{
    g_autofree char *tmp = makeTmpDir();
    const char *names[] = {
        "20261130T090507.500Z-e1-a2.png", "20261130T090507.250Z-e1-a1.png",
        "20261201T000000.000Z-e2-a1.kdump", "20251201T000000.000Z-e1-a1.kdump.part",
    };
    g_autofree char *other = g_build_filename(tmp, "notes", NULL);
    int fd = open(tmp, O_RDONLY | O_DIRECTORY);

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = g_build_filename(tmp, names[i], NULL);
        assert_true(g_file_set_contents(path, "x", 1, NULL));
    }
    assert_true(g_file_set_contents(other, "x", 1, NULL));
    hbDiagPrune(fd, 2);
    close(fd);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = g_build_filename(tmp, names[i], NULL);
        /* The newest two stay: the 2026-12-01 dump, then attempt 2. */
        assert_int_equal(g_file_test(path, G_FILE_TEST_EXISTS), i == 0 || i == 2);
    }
    /* Not one of ours: left alone. */
    assert_true(g_file_test(other, G_FILE_TEST_EXISTS));
    removeTree(tmp);
}


static void
test_console_path(void **state G_GNUC_UNUSED)
{
    g_autofree char *logged = hbDiagConsolePath(
        "<domain><devices><serial type='pty'><log file='/var/log/libvirt/qemu/g.log'/>"
        "</serial></devices></domain>");
    g_autofree char *file = hbDiagConsolePath(
        "<domain><devices><serial type='file'><source path='/tmp/c.log'/></serial>"
        "</devices></domain>");
    g_autofree char *none = hbDiagConsolePath(
        "<domain><devices><serial type='pty'/></devices></domain>");
    g_autofree char *relative = hbDiagConsolePath(
        "<domain><devices><serial type='file'><source path='c.log'/></serial>"
        "</devices></domain>");

    assert_string_equal(logged, "/var/log/libvirt/qemu/g.log");
    assert_string_equal(file, "/tmp/c.log");
    assert_null(none);
    assert_null(relative);
}


static void
test_copy_tail(void **state G_GNUC_UNUSED)
{
    g_autofree char *tmp = makeTmpDir();
    g_autofree char *log = g_build_filename(tmp, "console.log", NULL);
    g_autofree char *out = g_build_filename(tmp, "out", NULL);
    g_autofree char *link = g_build_filename(tmp, "link", NULL);
    g_autofree char *fifo = g_build_filename(tmp, "fifo", NULL);
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *got = NULL;
    gsize len;
    int fd;

    for (guint i = 0; text->len < 3 * HB_DIAG_CONSOLE_MAX; i++)
        g_string_append_printf(text, "line %u\n", i);
    assert_true(g_file_set_contents(log, text->str, text->len, NULL));
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(hbDiagCopyTail(log, fd, HB_DIAG_CONSOLE_MAX, &err), 0);
    close(fd);
    assert_true(g_file_get_contents(out, &got, &len, NULL));
    assert_int_equal(len, HB_DIAG_CONSOLE_MAX);
    assert_memory_equal(got, text->str + text->len - len, len);

    assert_int_equal(symlink(log, link), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    fd = open(out, O_WRONLY | O_TRUNC);
    assert_int_equal(hbDiagCopyTail(link, fd, HB_DIAG_CONSOLE_MAX, &err), -1);
    g_clear_error(&err);
    assert_int_equal(hbDiagCopyTail(fifo, fd, HB_DIAG_CONSOLE_MAX, &err), -1);
    assert_non_null(strstr(err->message, "not a regular file"));
    close(fd);
    removeTree(tmp);
}


/* A restart attempt of @kind on the test driver's @dom, saving under @state_dir. */
static HbJob *
runJob(virConnectPtr conn, virDomainPtr dom, HbDiagnostics kind, guint attempt,
       const char *state_dir)
{
    g_autofree char *uuid = testDomainUUID(dom);
    HbJob *job = hbJobNew(HB_JOB_RESTART, uuid);

    job->action = HB_ACTION_RESET;
    job->attempt = attempt;
    job->episode = 1;
    job->diagnostics = kind;
    job->diag_dir = g_strdup(state_dir);
    job->ticket = hbTicketNew();
    hbRestartRun(job, conn);
    return job;
}


static void
assertFileStarts(const char *path, const char *magic, gsize len)
{
    g_autofree char *got = NULL;
    gsize got_len;

    assert_true(g_file_get_contents(path, &got, &got_len, NULL));
    assert_true(got_len >= len);
    assert_memory_equal(got, magic, len);
}


/* The files in the directory of @path. */
static guint
countFiles(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    guint n = 0;

    assert_non_null(d);
    while (g_dir_read_name(d))
        n++;
    return n;
}


/*
 * The test driver takes screenshots (a PNG): saved, named in the result,
 * and the reset made after it. A dump is tried on attempt 1 only.
 */
static void
test_save_screenshot_dump(void **state G_GNUC_UNUSED)
{
    g_autoptr(virConnect) conn = virConnectOpen(TEST_URI);
    g_autoptr(virDomain) dom = testDomainStart(conn, "hb-diag", TRUE, NULL);
    g_autofree char *tmp = makeTmpDir();
    g_autoptr(HbJob) shot = runJob(conn, dom, HB_DIAG_SCREENSHOT, 2, tmp);
    g_autoptr(HbJob) dump = runJob(conn, dom, HB_DIAG_DUMP, 1, tmp);
    g_autoptr(HbJob) late = runJob(conn, dom, HB_DIAG_DUMP, 2, tmp);
    g_autofree char *desc = hbDiagDescribe(shot);
    struct stat st;

    assert_null(shot->error);
    assert_string_equal(shot->done, "reset");
    if (!shot->diag_file)
        fail_msg("no screenshot: %s", shot->diag_error);
    assert_true(g_str_has_suffix(shot->diag_file, "-e1-a2.png"));
    assert_true(g_str_has_prefix(shot->diag_file, tmp));
    assertFileStarts(shot->diag_file, "\x89PNG", 4);
    assert_int_equal(stat(shot->diag_file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_string_equal(desc + strlen("screenshot: "), shot->diag_file);

    /* The test driver makes no memory-only dump: the failure is
     * reported, its partial file removed, and the reset made all the same. */
    assert_null(dump->error);
    assert_string_equal(dump->done, "reset");
    assert_null(dump->diag_file);
    assert_non_null(strstr(dump->diag_error, "unsupported flags"));
    assert_int_equal(countFiles(shot->diag_file), 1);

    assert_null(late->diag_file);
    assert_null(late->diag_error);
    assert_null(hbDiagDescribe(late));
    assert_string_equal(late->done, "reset");
    testDomainRemove(conn, "hb-diag");
    removeTree(tmp);
}


/* The console's tail is saved; a domain with no log file gets none, and the reset still. */
static void
test_save_console(void **state G_GNUC_UNUSED)
{
    g_autoptr(virConnect) conn = virConnectOpen(TEST_URI);
    g_autofree char *tmp = makeTmpDir();
    g_autofree char *log = g_build_filename(tmp, "serial.log", NULL);
    g_autofree char *xml = g_strdup_printf(
        "<domain type='test'><name>hb-console</name><memory>65536</memory>"
        "<os><type>hvm</type></os><devices><serial type='file'><source path='%s'/>"
        "<target port='0'/></serial></devices></domain>", log);
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomain) plain = testDomainStart(conn, "hb-plain", FALSE, NULL);
    g_autoptr(HbJob) job = NULL;
    g_autoptr(HbJob) none = NULL;
    g_autofree char *desc = NULL;
    g_autofree char *got = NULL;

    assert_true(g_file_set_contents(log, "Kernel panic - not syncing\n", -1, NULL));
    dom = virDomainCreateXML(conn, xml, 0);
    assert_non_null(dom);
    job = runJob(conn, dom, HB_DIAG_CONSOLE, 1, tmp);
    if (!job->diag_file)
        fail_msg("no console: %s", job->diag_error);
    assert_true(g_str_has_suffix(job->diag_file, ".console.txt"));
    assert_true(g_file_get_contents(job->diag_file, &got, NULL, NULL));
    assert_string_equal(got, "Kernel panic - not syncing\n");
    assert_string_equal(job->done, "reset");

    none = runJob(conn, plain, HB_DIAG_CONSOLE, 1, tmp);
    assert_null(none->diag_file);
    assert_string_equal(none->done, "reset");
    desc = hbDiagDescribe(none);
    assert_string_equal(desc, "console failed: the serial console logs to no file");
    virDomainDestroy(dom);
    testDomainRemove(conn, "hb-plain");
    removeTree(tmp);
}


/* A diagnostic that fails (here: no state_dir) is reported, and the reset made. */
static void
test_failed_diag_resets(void **state G_GNUC_UNUSED)
{
    g_autoptr(virConnect) conn = virConnectOpen(TEST_URI);
    g_autoptr(virDomain) dom = testDomainStart(conn, "hb-nodir", TRUE, NULL);
    g_autoptr(HbJob) job = runJob(conn, dom, HB_DIAG_SCREENSHOT, 1, "");
    g_autofree char *desc = hbDiagDescribe(job);

    assert_null(job->error);
    assert_string_equal(job->done, "reset");
    assert_null(job->diag_file);
    assert_string_equal(desc, "screenshot failed: no state_dir");
    testDomainRemove(conn, "hb-nodir");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wanted),
        cmocka_unit_test(test_file_name),
        cmocka_unit_test(test_open_dir),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_console_path),
        cmocka_unit_test(test_copy_tail),
        cmocka_unit_test(test_save_screenshot_dump),
        cmocka_unit_test(test_save_console),
        cmocka_unit_test(test_failed_diag_resets),
    };

    hbUtilInitLibvirt();
    return cmocka_run_group_tests_name("diag", tests, NULL, NULL);
}
