/*
 * hb-cluster: the CIB and VirtualDomain config files parsed, and
 * Pacemaker's tools run for real as small shell scripts in a private
 * directory that answer as cibadmin, crm_node and crm_resource do (their
 * XML as Pacemaker 2.1.5 prints it) and log how they were called.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "hb-cluster.h"

#define UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define NAME "vm1"

typedef struct {
    char *dir;      /* the fake tools */
    char *cib_file; /* absent unless a test writes it */
    char *calls;    /* every call of a tool, one line each */
    HbCluster cluster;
} Fixture;


static char *
writeFile(const char *dir, const char *name, const char *text, int mode)
{
    char *path = g_build_filename(dir, name, NULL);

    assert_true(g_file_set_contents(path, text, -1, NULL));
    assert_int_equal(g_chmod(path, mode), 0);
    return path;
}


/* A tool that logs its arguments, prints @out, @err to stderr, exits @status. */
static void
writeTool(Fixture *f, const char *tool, const char *out, const char *err, int status)
{
    g_autofree char *script = g_strdup_printf(
        "#!/bin/sh\necho \"%s $*\" >> '%s'\ncat <<'EOF'\n%s\nEOF\n%s%s%s\nexit %d\n", tool,
        f->calls, out, err ? "echo '" : "", err ? err : "", err ? "' >&2" : "", status);
    g_autofree char *path = writeFile(f->dir, tool, script, 0755);
}


static char *
readCalls(Fixture *f)
{
    char *text = NULL;

    if (!g_file_get_contents(f->calls, &text, NULL, NULL))
        return g_strdup("");
    return text;
}


static char *
domainXml(const char *name, const char *uuid)
{
    return g_strdup_printf("<domain type='qemu'>\n  <name>%s</name>\n%s%s%s  <memory>1</memory>"
                           "\n</domain>\n", name, uuid ? "  <uuid>" : "", uuid ? uuid : "",
                           uuid ? "</uuid>\n" : "");
}


/* A CIB's resources section with the VirtualDomain @id of config @config. */
static char *
cibWith(const char *id, const char *config)
{
    return g_strdup_printf(
        "<resources>\n"
        "  <primitive id=\"ip\" class=\"ocf\" provider=\"heartbeat\" type=\"IPaddr2\">\n"
        "    <instance_attributes id=\"ip-a\">\n"
        "      <nvpair id=\"ip-a-config\" name=\"config\" value=\"/nonexistent\"/>\n"
        "    </instance_attributes>\n"
        "  </primitive>\n"
        "  <group id=\"g\">\n"
        "    <primitive id=\"%s\" class=\"ocf\" provider=\"heartbeat\" type=\"VirtualDomain\">\n"
        "      <instance_attributes id=\"%s-a\">\n"
        "        <nvpair id=\"%s-a-h\" name=\"hypervisor\" value=\"qemu:///system\"/>\n"
        "        <nvpair id=\"%s-a-c\" name=\"config\" value=\"%s\"/>\n"
        "      </instance_attributes>\n"
        "    </primitive>\n"
        "  </group>\n"
        "</resources>", id, id, id, id, config);
}


static const char *const locateHere =
    "<pacemaker-result api-version=\"2.25\" request=\"crm_resource --locate\">\n"
    "  <nodes resource=\"rsc1\">\n    <node>node1</node>\n  </nodes>\n"
    "  <status code=\"0\" message=\"OK\"/>\n</pacemaker-result>";
static const char *const locateElsewhere =
    "<pacemaker-result api-version=\"2.25\" request=\"crm_resource --locate\">\n"
    "  <nodes resource=\"rsc1\">\n    <node>node2</node>\n  </nodes>\n"
    "  <status code=\"0\" message=\"OK\"/>\n</pacemaker-result>";
static const char *const locateNowhere =
    "<pacemaker-result api-version=\"2.25\" request=\"crm_resource --locate\">\n"
    "  <nodes resource=\"rsc1\"/>\n"
    "  <status code=\"0\" message=\"OK\"/>\n</pacemaker-result>";
static const char *const locateUnknown =
    "<pacemaker-result api-version=\"2.25\" request=\"crm_resource --locate\">\n"
    "  <status code=\"105\" message=\"No such object\">\n"
    "    <errors>\n      <error>crm_resource: Resource 'rsc1' not found</error>\n"
    "    </errors>\n  </status>\n</pacemaker-result>";


static int
setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);

    f->dir = g_dir_make_tmp("hb-cluster-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->cib_file = g_build_filename(f->dir, "cib.xml", NULL);
    f->calls = g_build_filename(f->dir, "calls", NULL);
    f->cluster = (HbCluster) { f->dir, f->cib_file, 10 };
    *state = f;
    return 0;
}


static int
teardown(void **state)
{
    Fixture *f = *state;
    g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(f->dir, name, NULL);
        g_unlink(path);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->cib_file);
    g_free(f->calls);
    g_free(f);
    return 0;
}


static void
test_parse_resources(void **state G_GNUC_UNUSED)
{
    g_autofree char *cib = cibWith("rsc1", "/etc/vm1.xml");
    g_autofree char *whole = g_strdup_printf(
        "<cib><configuration><resources>"
        "<clone id=\"c\"><primitive id=\"a\" class=\"ocf\" provider=\"heartbeat\" "
        "type=\"VirtualDomain\"/></clone>"
        "<primitive id=\"b\" class=\"ocf\" provider=\"other\" type=\"VirtualDomain\"/>"
        "<primitive class=\"ocf\" provider=\"heartbeat\" type=\"VirtualDomain\"/>"
        "</resources></configuration></cib>");
    g_autoptr(GPtrArray) found = hbClusterParseResources(cib, strlen(cib), NULL);
    g_autoptr(GPtrArray) clone = hbClusterParseResources(whole, strlen(whole), NULL);
    g_autoptr(GError) err = NULL;
    HbClusterResource *rsc;

    assert_non_null(found);
    assert_int_equal(found->len, 1);
    rsc = found->pdata[0];
    assert_string_equal(rsc->id, "rsc1");
    assert_string_equal(rsc->config, "/etc/vm1.xml");
    /* In a clone, with no config; another provider's and one with no id are not ours. */
    assert_non_null(clone);
    assert_int_equal(clone->len, 1);
    rsc = clone->pdata[0];
    assert_string_equal(rsc->id, "a");
    assert_null(rsc->config);
    assert_null(hbClusterParseResources("<resources>", 11, &err));
    assert_non_null(err);
    /* Not the whole of the text: what was read is cut short. */
    assert_null(hbClusterParseResources(cib, 40, NULL));
}


static void
test_config_defines(void **state G_GNUC_UNUSED)
{
    g_autofree char *with_uuid = domainXml(NAME, UUID);
    g_autofree char *upper = domainXml("other", "6695EB01F6A4830479AA97F2502E193F");
    g_autofree char *other_uuid = domainXml(NAME, "6695eb01-f6a4-8304-79aa-97f2502e1930");
    g_autofree char *no_uuid = domainXml(NAME, NULL);
    g_autofree char *prefix = domainXml("vm", NULL);
    const char *bad = "<domain><name>vm1</name>";

    assert_true(hbClusterConfigDefines(with_uuid, strlen(with_uuid), NAME, UUID));
    /* The UUID decides, however it is written: the name then does not matter. */
    assert_true(hbClusterConfigDefines(upper, strlen(upper), NAME, UUID));
    assert_false(hbClusterConfigDefines(other_uuid, strlen(other_uuid), NAME, UUID));
    /* Without one, the name: whole, not a prefix. */
    assert_true(hbClusterConfigDefines(no_uuid, strlen(no_uuid), NAME, UUID));
    assert_false(hbClusterConfigDefines(prefix, strlen(prefix), NAME, UUID));
    assert_false(hbClusterConfigDefines(bad, strlen(bad), NAME, UUID));
    assert_false(hbClusterConfigDefines("", 0, NAME, UUID));
}


static void
test_owner_none(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) err = NULL;
    g_autofree char *rsc = NULL;

    /* No Pacemaker here at all. */
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_NONE);
    assert_null(rsc);
    /* Installed, never in a cluster: cibadmin fails, and there is no CIB on disk. */
    writeTool(f, "cibadmin", "", "Could not connect to the CIB: Transport endpoint is not "
              "connected", 102);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_NONE);
    assert_null(err);
}


/*
 * A Pacemaker Remote node keeps no CIB, but has pacemaker-remoted:
 * cibadmin failing there (pacemaker-remoted down) is no "none". An
 * /etc/pacemaker/authkey says nothing: Debian makes one on every host.
 */
static void
test_owner_remote(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) err = NULL;
    g_autofree char *rsc = NULL;

    writeTool(f, "cibadmin", "", "Could not connect to the CIB: Transport endpoint is not "
              "connected", 102);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_NONE);
    writeTool(f, "pacemaker-remoted", "", NULL, 0);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_UNKNOWN);
    assert_non_null(strstr(err->message, "cannot read the CIB"));
}


static void
test_owner_unknown(void **state)
{
    Fixture *f = *state;
    g_autofree char *cib_path = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *rsc = NULL;
    g_autofree char *cib = cibWith("rsc1", "/nonexistent/vm1.xml");

    /* A node of a cluster whose CIB cannot be read: the cluster may own it. */
    writeTool(f, "cibadmin", "", "Could not connect to the CIB: Transport endpoint is not "
              "connected", 102);
    cib_path = writeFile(f->dir, "cib.xml", "<cib/>", 0600);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_UNKNOWN);
    assert_non_null(strstr(err->message, "cannot read the CIB: cibadmin exited with status "
                           "102: Could not connect to the CIB"));
    g_clear_error(&err);
    /* Its CIB read, a VirtualDomain's config file is not: it may be this domain's. */
    writeTool(f, "cibadmin", cib, NULL, 0);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_UNKNOWN);
    assert_non_null(strstr(err->message, "resource rsc1: /nonexistent/vm1.xml: "));
    assert_null(rsc);
    g_clear_error(&err);
    /* Output that is not XML. */
    writeTool(f, "cibadmin", "<resources", NULL, 0);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_UNKNOWN);
    assert_string_equal(err->message, "the CIB is not well-formed XML");
}


static void
test_owner_found(void **state)
{
    Fixture *f = *state;
    g_autofree char *mine = domainXml(NAME, UUID);
    g_autofree char *theirs = domainXml("vm2", NULL);
    g_autofree char *mine_path = writeFile(f->dir, "vm1.xml", mine, 0644);
    g_autofree char *theirs_path = writeFile(f->dir, "vm2.xml", theirs, 0644);
    g_autofree char *cib_mine = cibWith("rsc1", mine_path);
    g_autofree char *cib_theirs = cibWith("rsc2", theirs_path);
    g_autofree char *calls = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *rsc = NULL;
    g_autofree char *fifo = g_build_filename(f->dir, "fifo", NULL);
    g_autofree char *link = g_build_filename(f->dir, "link.xml", NULL);
    g_autofree char *big = g_build_filename(f->dir, "big.xml", NULL);
    g_autofree char *padding = g_malloc0(HB_CLUSTER_CONFIG_MAX + 1);

    writeTool(f, "cibadmin", cib_mine, NULL, 0);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_OWNED);
    assert_string_equal(rsc, "rsc1");
    calls = readCalls(f);
    assert_string_equal(calls, "cibadmin --query --scope resources\n");
    g_clear_pointer(&rsc, g_free);
    /* A cluster that runs other domains only. */
    writeTool(f, "cibadmin", cib_theirs, NULL, 0);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_FREE);
    assert_null(rsc);
    assert_null(err);
    /* Not a regular file: a FIFO would never end. */
    g_clear_pointer(&cib_mine, g_free);
    cib_mine = cibWith("rsc1", "/dev/null");
    writeTool(f, "cibadmin", cib_mine, NULL, 0);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_UNKNOWN);
    assert_string_equal(err->message, "resource rsc1: /dev/null: not a regular file");
    g_clear_error(&err);
    /* A FIFO behind a symbolic link is found out once open, without blocking. */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(symlink(fifo, link), 0);
    g_clear_pointer(&cib_mine, g_free);
    cib_mine = cibWith("rsc1", link);
    writeTool(f, "cibadmin", cib_mine, NULL, 0);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_UNKNOWN);
    assert_non_null(strstr(err->message, "not a regular file"));
    g_clear_error(&err);
    /* Too large to be a domain's XML. */
    g_clear_pointer(&cib_mine, g_free);
    cib_mine = cibWith("rsc1", big);
    assert_true(g_file_set_contents(big, padding, HB_CLUSTER_CONFIG_MAX + 1, NULL));
    writeTool(f, "cibadmin", cib_mine, NULL, 0);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_UNKNOWN);
    assert_non_null(strstr(err->message, "larger than expected"));
}


/*
 * A VirtualDomain made from a resource template (<primitive template=...>
 * carries no class of its own), and one with a config in more than one
 * instance_attributes set (rules): each is the cluster's.
 */
static void
test_owner_template(void **state)
{
    Fixture *f = *state;
    g_autofree char *mine = domainXml(NAME, UUID);
    g_autofree char *theirs = domainXml("vm2", NULL);
    g_autofree char *mine_path = writeFile(f->dir, "vm1.xml", mine, 0644);
    g_autofree char *theirs_path = writeFile(f->dir, "vm2.xml", theirs, 0644);
    g_autofree char *templated = g_strdup_printf(
        "<resources>\n"
        "  <template id=\"vm-t\" class=\"ocf\" provider=\"heartbeat\" type=\"VirtualDomain\">\n"
        "    <instance_attributes id=\"vm-t-a\">\n"
        "      <nvpair id=\"vm-t-h\" name=\"hypervisor\" value=\"qemu:///system\"/>\n"
        "    </instance_attributes>\n"
        "  </template>\n"
        "  <primitive id=\"rsc1\" template=\"vm-t\">\n"
        "    <instance_attributes id=\"rsc1-a\">\n"
        "      <nvpair id=\"rsc1-c\" name=\"config\" value=\"%s\"/>\n"
        "    </instance_attributes>\n"
        "  </primitive>\n"
        "</resources>", mine_path);
    g_autofree char *sets = g_strdup_printf(
        "<resources>\n"
        "  <primitive id=\"rsc1\" class=\"ocf\" provider=\"heartbeat\" type=\"VirtualDomain\">\n"
        "    <instance_attributes id=\"a1\" score=\"2\">\n"
        "      <nvpair id=\"a1-c\" name=\"config\" value=\"%s\"/>\n"
        "    </instance_attributes>\n"
        "    <instance_attributes id=\"a2\" score=\"1\">\n"
        "      <nvpair id=\"a2-c\" name=\"config\" value=\"%s\"/>\n"
        "    </instance_attributes>\n"
        "  </primitive>\n"
        "</resources>", theirs_path, mine_path);
    g_autoptr(GError) err = NULL;
    g_autofree char *rsc = NULL;

    writeTool(f, "cibadmin", templated, NULL, 0);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_OWNED);
    assert_string_equal(rsc, "rsc1");
    g_clear_pointer(&rsc, g_free);
    writeTool(f, "cibadmin", sets, NULL, 0);
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_OWNED);
    assert_string_equal(rsc, "rsc1");
}


static void
test_fail(void **state)
{
    Fixture *f = *state;
    g_autofree char *calls = NULL;
    g_autofree char *node = NULL;
    g_autoptr(GError) err = NULL;

    writeTool(f, "crm_node", "node1", NULL, 0);
    writeTool(f, "crm_resource", locateHere, NULL, 0);
    assert_int_equal(hbClusterFail(&f->cluster, "rsc1", &node, &err), 0);
    assert_null(err);
    assert_string_equal(node, "node1");
    calls = readCalls(f);
    assert_string_equal(calls, "crm_node --name\n"
                        "crm_resource --locate --resource rsc1 --output-as=xml\n"
                        "crm_resource --fail --resource rsc1 --node node1\n");
}


/* Where the cluster does not run it here, nothing is failed. */
static gboolean
notWanted(gpointer data, GError **error)
{
    g_autofree char *calls = readCalls(data);

    /* Asked after the checks, right before the report. */
    assert_non_null(strstr(calls, "crm_resource --locate"));
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "the guest came back");
    return FALSE;
}


/* The heartbeat back while crm_node and crm_resource --locate ran: no report. */
static void
test_fail_not_wanted(void **state)
{
    Fixture *f = *state;
    g_autofree char *calls = NULL;
    g_autofree char *node = NULL;
    g_autoptr(GError) err = NULL;

    writeTool(f, "crm_node", "node1", NULL, 0);
    writeTool(f, "crm_resource", locateHere, NULL, 0);
    f->cluster.wanted = notWanted;
    f->cluster.wanted_data = f;
    assert_int_equal(hbClusterFail(&f->cluster, "rsc1", &node, &err), -1);
    assert_string_equal(err->message, "the guest came back");
    assert_null(node);
    calls = readCalls(f);
    assert_null(strstr(calls, "--fail"));
}


static void
test_fail_not_here(void **state)
{
    Fixture *f = *state;
    g_autofree char *calls = NULL;
    g_autofree char *node = NULL;
    g_autoptr(GError) err = NULL;

    writeTool(f, "crm_node", "node1", NULL, 0);
    writeTool(f, "crm_resource", locateElsewhere, NULL, 0);
    assert_int_equal(hbClusterFail(&f->cluster, "rsc1", &node, &err), -1);
    assert_string_equal(err->message,
                        "the cluster runs resource rsc1 on node2, not on this node (node1)");
    g_clear_error(&err);
    writeTool(f, "crm_resource", locateNowhere, NULL, 0);
    assert_int_equal(hbClusterFail(&f->cluster, "rsc1", &node, &err), -1);
    assert_string_equal(err->message,
                        "the cluster runs resource rsc1 nowhere, not on this node (node1)");
    g_clear_error(&err);
    writeTool(f, "crm_resource", locateUnknown, NULL, 105);
    assert_int_equal(hbClusterFail(&f->cluster, "rsc1", &node, &err), -1);
    assert_string_equal(err->message, "crm_resource --locate exited with status 105: "
                        "No such object");
    assert_null(node);
    calls = readCalls(f);
    assert_null(strstr(calls, "--fail"));
}


static void
test_fail_errors(void **state)
{
    Fixture *f = *state;
    g_autofree char *node = NULL;
    g_autoptr(GError) err = NULL;

    /* No tools at all. */
    assert_int_equal(hbClusterFail(&f->cluster, "rsc1", &node, &err), -1);
    assert_non_null(strstr(err->message, "crm_node: "));
    g_clear_error(&err);
    writeTool(f, "crm_node", "", NULL, 0);
    assert_int_equal(hbClusterFail(&f->cluster, "rsc1", &node, &err), -1);
    assert_string_equal(err->message, "crm_node --name: no node name");
    g_clear_error(&err);
    writeTool(f, "crm_node", "node1", NULL, 0);
    writeTool(f, "crm_resource", "not xml", NULL, 0);
    assert_int_equal(hbClusterFail(&f->cluster, "rsc1", &node, &err), -1);
    assert_string_equal(err->message, "crm_resource --locate exited with status 0 and no "
                        "well-formed XML");
    assert_null(node);
}


/* The --fail itself refused: its message, its first line, is the error. */
static void
test_fail_refused(void **state)
{
    Fixture *f = *state;
    g_autofree char *script = g_strdup_printf(
        "#!/bin/sh\ncase \"$*\" in *--locate*) cat <<'EOF'\n%s\nEOF\nexit 0;; esac\n"
        "printf 'Error performing operation: Permission denied\\nmore\\n' >&2\nexit 13\n",
        locateHere);
    g_autofree char *path = writeFile(f->dir, "crm_resource", script, 0755);
    g_autofree char *node = NULL;
    g_autoptr(GError) err = NULL;

    writeTool(f, "crm_node", "node1", NULL, 0);
    assert_int_equal(hbClusterFail(&f->cluster, "rsc1", &node, &err), -1);
    assert_string_equal(err->message, "crm_resource exited with status 13: Error performing "
                        "operation: Permission denied");
}


/* A tool that hangs is killed at the timeout, and so is its output's holder. */
static void
test_timeout(void **state)
{
    Fixture *f = *state;
    g_autofree char *path = writeFile(f->dir, "crm_node", "#!/bin/sh\nexec sleep 60\n", 0755);
    g_autofree char *node = NULL;
    g_autoptr(GError) err = NULL;
    gint64 start = g_get_monotonic_time();

    f->cluster.timeout = 1;
    assert_int_equal(hbClusterFail(&f->cluster, "rsc1", &node, &err), -1);
    assert_string_equal(err->message, "crm_node timed out after 1 s, killed");
    assert_true(g_get_monotonic_time() - start < 30 * G_USEC_PER_SEC);
}


/* A tool that prints without end is killed at HB_CLUSTER_OUTPUT_MAX, long before its timeout. */
static void
test_output_max(void **state)
{
    Fixture *f = *state;
    g_autofree char *path = writeFile(f->dir, "cibadmin", "#!/bin/sh\nexec yes '<resources>'\n",
                                      0755);
    g_autofree char *cib_path = writeFile(f->dir, "cib.xml", "<cib/>", 0600);
    g_autoptr(GError) err = NULL;
    g_autofree char *rsc = NULL;

    f->cluster.timeout = 60;
    assert_int_equal(hbClusterOwner(&f->cluster, NAME, UUID, &rsc, &err), HB_CLUSTER_UNKNOWN);
    assert_non_null(strstr(err->message, "cibadmin printed more than 67108864 bytes, killed"));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_resources),
        cmocka_unit_test(test_config_defines),
        cmocka_unit_test_setup_teardown(test_owner_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_remote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_template, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_not_wanted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_not_here, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_max, setup, teardown),
    };

    return cmocka_run_group_tests_name("cluster", tests, NULL, NULL);
}
