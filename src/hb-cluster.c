/*
 * Pacemaker: who owns a domain, and its failure reported to the cluster.
 * Only Pacemaker's own command-line tools are used, as its documentation
 * asks of other programs: the CIB read with cibadmin, the node's name from
 * crm_node, the resource located and failed with crm_resource.
 */
#include <config.h>

#include <string.h>
#include <gio/gio.h>
#include <libxml/xpath.h>

#include "hb-api.h"
#include "hb-cluster.h"
#include "hb-util.h"


void
hbClusterResourceFree(HbClusterResource *rsc)
{
    if (!rsc)
        return;
    g_free(rsc->id);
    g_free(rsc->config);
    g_free(rsc);
}


/* The first line of a tool's message, fit for a log line and D-Bus. */
static char *
hbClusterMessage(GBytes *bytes)
{
    gsize len = 0;
    const char *data = bytes ? g_bytes_get_data(bytes, &len) : NULL;
    const char *end = data ? memchr(data, '\n', len) : NULL;
    g_autofree char *line = NULL;

    if (!data || len == 0)
        return g_strdup("no message");
    line = hbUtilSanitize(data, end ? end - data : (gssize) len, HB_UTIL_ERROR_MAX);
    return g_strdup(g_strstrip(line));
}


typedef struct _HbClusterRun HbClusterRun;

/* One output stream of a tool, read to its end or to HB_CLUSTER_OUTPUT_MAX. */
typedef struct {
    HbClusterRun *run;
    GInputStream *in;
    GByteArray *data;
    gboolean done;
} HbClusterStream;

struct _HbClusterRun {
    gboolean waited;
    gboolean timed_out;
    gboolean too_much;
    GCancellable *cancellable;
    HbClusterStream out;
    HbClusterStream err;
    GError *error;
};


static void hbClusterRead(HbClusterStream *stream);


static void
hbClusterReadDone(GObject *source, GAsyncResult *res, gpointer data)
{
    HbClusterStream *stream = data;
    HbClusterRun *run = stream->run;
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res,
                                                               &err);
    gsize len = bytes ? g_bytes_get_size(bytes) : 0;

    if (!bytes && !run->error && !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        run->error = g_steal_pointer(&err);
    if (!bytes || len == 0) {
        stream->done = TRUE;
        return;
    }
    /* Output that would fill the daemon's memory: no tool of Pacemaker's. */
    if (stream->data->len + len > HB_CLUSTER_OUTPUT_MAX) {
        run->too_much = TRUE;
        g_cancellable_cancel(run->cancellable);
        stream->done = TRUE;
        return;
    }
    g_byte_array_append(stream->data, g_bytes_get_data(bytes, NULL), len);
    hbClusterRead(stream);
}


static void
hbClusterRead(HbClusterStream *stream)
{
    g_input_stream_read_bytes_async(stream->in, 64 * 1024, G_PRIORITY_DEFAULT,
                                    stream->run->cancellable, hbClusterReadDone, stream);
}


static void
hbClusterWaited(GObject *source, GAsyncResult *res, gpointer data)
{
    HbClusterRun *run = data;
    g_autoptr(GError) err = NULL;

    if (!g_subprocess_wait_finish(G_SUBPROCESS(source), res, &err) && !run->error &&
        !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        run->error = g_steal_pointer(&err);
    run->waited = TRUE;
}


static gboolean
hbClusterTimedOut(gpointer data)
{
    HbClusterRun *run = data;

    run->timed_out = TRUE;
    g_cancellable_cancel(run->cancellable);
    return G_SOURCE_REMOVE;
}


/*
 * Run @tool of cluster->tools with @args (NULL-terminated), for at most
 * cluster->timeout seconds and HB_CLUSTER_OUTPUT_MAX bytes of each output,
 * on a main context of this thread's own. Its exit status, its standard
 * output in *@out; -1 if it could not be run or was killed, with why in
 * @error.
 */
static int
hbClusterRunTool(const HbCluster *cluster, const char *tool, const char *const *args,
                 GBytes **out, GBytes **err, GError **error)
{
    g_autoptr(GMainContext) context = g_main_context_new();
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    g_autoptr(GSource) timer = g_timeout_source_new_seconds(cluster->timeout);
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GSubprocess) proc = NULL;
    HbClusterRun run = { .cancellable = cancellable };
    int status = -1;

    run.out = (HbClusterStream) { &run, NULL, g_byte_array_new(), FALSE };
    run.err = (HbClusterStream) { &run, NULL, g_byte_array_new(), FALSE };
    g_ptr_array_add(argv, g_build_filename(cluster->tools, tool, NULL));
    for (guint i = 0; args[i]; i++)
        g_ptr_array_add(argv, g_strdup(args[i]));
    g_ptr_array_add(argv, NULL);

    g_main_context_push_thread_default(context);
    proc = g_subprocess_newv((const char *const *) argv->pdata,
                             G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                             error);
    if (proc) {
        g_source_set_callback(timer, hbClusterTimedOut, &run, NULL);
        g_source_attach(timer, context);
        run.out.in = g_subprocess_get_stdout_pipe(proc);
        run.err.in = g_subprocess_get_stderr_pipe(proc);
        hbClusterRead(&run.out);
        hbClusterRead(&run.err);
        g_subprocess_wait_async(proc, cancellable, hbClusterWaited, &run);
        while (!run.out.done || !run.err.done || !run.waited)
            g_main_context_iteration(context, TRUE);
        g_source_destroy(timer);
        if (run.timed_out || run.too_much) {
            g_subprocess_force_exit(proc);
            g_subprocess_wait(proc, NULL, NULL);
            if (run.timed_out)
                g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "%s timed out after %u s, "
                            "killed", tool, cluster->timeout);
            else
                g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "%s printed more than %u "
                            "bytes, killed", tool, HB_CLUSTER_OUTPUT_MAX);
        } else if (run.error) {
            g_propagate_prefixed_error(error, g_steal_pointer(&run.error), "%s: ", tool);
        } else if (g_subprocess_get_if_exited(proc)) {
            status = g_subprocess_get_exit_status(proc);
        } else {
            g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "%s killed by signal %d", tool,
                        g_subprocess_get_term_sig(proc));
        }
    }
    g_main_context_pop_thread_default(context);
    if (!proc)
        g_prefix_error(error, "%s: ", tool);
    g_clear_error(&run.error);
    if (status >= 0) {
        *out = g_byte_array_free_to_bytes(g_steal_pointer(&run.out.data));
        if (err)
            *err = g_byte_array_free_to_bytes(g_steal_pointer(&run.err.data));
    }
    g_clear_pointer(&run.out.data, g_byte_array_unref);
    g_clear_pointer(&run.err.data, g_byte_array_unref);
    return status;
}


/* @tool ran and exited 0, its output in *@out; else why not in @error. */
static int
hbClusterRunOk(const HbCluster *cluster, const char *tool, const char *const *args,
               GBytes **out, GError **error)
{
    g_autoptr(GBytes) err = NULL;
    g_autofree char *message = NULL;
    int status = hbClusterRunTool(cluster, tool, args, out, &err, error);

    if (status <= 0)
        return status;
    message = hbClusterMessage(err);
    g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "%s exited with status %d: %s", tool,
                status, message);
    g_clear_pointer(out, g_bytes_unref);
    return -1;
}


static char *
hbClusterProp(xmlNodePtr node, const char *name)
{
    xmlChar *value = xmlGetProp(node, BAD_CAST name);
    char *copy = value ? g_strdup((const char *) value) : NULL;

    xmlFree(value);
    return copy;
}


/* @doc parsed from @xml of @len bytes, NULL if it is not well-formed. */
static xmlDocPtr
hbClusterXmlRead(const char *xml, gsize len, const char *name)
{
    if (len > G_MAXINT)
        return NULL;
    return xmlReadMemory(xml, (int) len, name, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}


#define HB_CLUSTER_VIRTUAL_DOMAIN \
    "@class='ocf' and @provider='heartbeat' and @type='VirtualDomain'"

static gboolean
hbClusterAttrIs(xmlNodePtr node, const char *name, const char *value)
{
    xmlChar *attr = xmlGetProp(node, BAD_CAST name);
    gboolean is = attr && xmlStrEqual(attr, BAD_CAST value);

    xmlFree(attr);
    return is;
}


static gboolean
hbClusterIsVirtualDomain(xmlNodePtr node)
{
    return hbClusterAttrIs(node, "class", "ocf") &&
        hbClusterAttrIs(node, "provider", "heartbeat") &&
        hbClusterAttrIs(node, "type", "VirtualDomain");
}


/* The VirtualDomain template of @templates that @node, a primitive, is made from. */
static xmlNodePtr
hbClusterTemplateOf(xmlNodePtr node, xmlNodeSetPtr templates)
{
    xmlChar *name = xmlGetProp(node, BAD_CAST "template");
    xmlNodePtr found = NULL;

    for (int i = 0; name && templates && i < templates->nodeNr && !found; i++) {
        xmlChar *id = xmlGetProp(templates->nodeTab[i], BAD_CAST "id");

        if (id && xmlStrEqual(id, name))
            found = templates->nodeTab[i];
        xmlFree(id);
    }
    xmlFree(name);
    return found;
}


/* Every config parameter of @node, whatever instance_attributes set (rule) holds it. */
static void
hbClusterAddConfigs(GPtrArray *resources, xmlXPathContextPtr ctxt, xmlNodePtr node,
                    const char *id, gboolean *any)
{
    xmlXPathObjectPtr config;

    ctxt->node = node;
    config = xmlXPathEval(BAD_CAST "instance_attributes/nvpair[@name='config']", ctxt);
    for (int i = 0; config && config->nodesetval && i < config->nodesetval->nodeNr; i++) {
        HbClusterResource *rsc = g_new0(HbClusterResource, 1);

        rsc->id = g_strdup(id);
        /* An id-ref, or no value: NULL, so the resource may run any domain. */
        rsc->config = hbClusterProp(config->nodesetval->nodeTab[i], "value");
        g_ptr_array_add(resources, rsc);
        *any = TRUE;
    }
    xmlXPathFreeObject(config);
}


GPtrArray *
hbClusterParseResources(const char *xml, gsize len, GError **error)
{
    g_autoptr(xmlDoc) doc = hbClusterXmlRead(xml, len, "cib.xml");
    g_autoptr(GPtrArray) resources = NULL;
    xmlXPathContextPtr ctxt;
    xmlXPathObjectPtr templates;
    xmlXPathObjectPtr obj;

    if (!doc) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "the CIB is not well-formed XML");
        return NULL;
    }
    resources = g_ptr_array_new_with_free_func((GDestroyNotify) hbClusterResourceFree);
    ctxt = xmlXPathNewContext(doc);
    /* A primitive made from a resource template has no class of its own. */
    templates = xmlXPathEval(BAD_CAST "//template[" HB_CLUSTER_VIRTUAL_DOMAIN "]", ctxt);
    obj = xmlXPathEval(BAD_CAST "//primitive", ctxt);
    for (int i = 0; obj && obj->nodesetval && i < obj->nodesetval->nodeNr; i++) {
        xmlNodePtr node = obj->nodesetval->nodeTab[i];
        xmlNodePtr template = hbClusterTemplateOf(node, templates ? templates->nodesetval :
                                                  NULL);
        g_autofree char *id = hbClusterProp(node, "id");
        gboolean any = FALSE;

        if (!id || (!template && !hbClusterIsVirtualDomain(node)))
            continue;
        hbClusterAddConfigs(resources, ctxt, node, id, &any);
        if (template)
            hbClusterAddConfigs(resources, ctxt, template, id, &any);
        if (!any) {
            HbClusterResource *rsc = g_new0(HbClusterResource, 1);

            rsc->id = g_steal_pointer(&id);
            g_ptr_array_add(resources, rsc);
        }
    }
    xmlXPathFreeObject(obj);
    xmlXPathFreeObject(templates);
    xmlXPathFreeContext(ctxt);
    return g_steal_pointer(&resources);
}


/* A UUID as libvirt prints it: lower case, with dashes (libvirt takes both). */
static char *
hbClusterUUIDKey(const char *uuid)
{
    GString *key = g_string_new(NULL);

    for (const char *p = uuid; *p; p++) {
        if (g_ascii_isxdigit(*p))
            g_string_append_c(key, g_ascii_tolower(*p));
        else if (*p != '-' && !g_ascii_isspace(*p))
            g_string_append_c(key, '?'); /* matches no UUID */
    }
    return g_string_free(key, FALSE);
}


gboolean
hbClusterConfigDefines(const char *xml, gsize len, const char *name, const char *uuid)
{
    g_autoptr(xmlDoc) doc = hbClusterXmlRead(xml, len, "config.xml");
    xmlXPathContextPtr ctxt;
    xmlXPathObjectPtr obj;
    gboolean defines = FALSE;

    if (!doc)
        return FALSE;
    ctxt = xmlXPathNewContext(doc);
    obj = xmlXPathEval(BAD_CAST "string(/domain/uuid)", ctxt);
    if (obj && obj->stringval && obj->stringval[0]) {
        g_autofree char *mine = hbClusterUUIDKey((const char *) obj->stringval);
        g_autofree char *theirs = hbClusterUUIDKey(uuid);
        defines = g_str_equal(mine, theirs);
    } else {
        xmlXPathFreeObject(obj);
        obj = xmlXPathEval(BAD_CAST "string(/domain/name)", ctxt);
        defines = obj && obj->stringval && g_str_equal((const char *) obj->stringval, name);
    }
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctxt);
    return defines;
}


/* The config file @path: a regular file of at most HB_CLUSTER_CONFIG_MAX bytes. */
static int
hbClusterReadConfig(const char *path, char **contents, gsize *len, GError **error)
{
    return hbApiReadRegular(path, HB_CLUSTER_CONFIG_MAX, contents, len, error);
}


/* Which of @resources runs the domain; UNKNOWN if one that may is unreadable. */
static HbClusterOwner
hbClusterFind(GPtrArray *resources, const char *name, const char *uuid, char **resource,
              GError **error)
{
    g_autoptr(GError) unreadable = NULL;

    for (guint i = 0; i < resources->len; i++) {
        HbClusterResource *rsc = resources->pdata[i];
        g_autoptr(GError) err = NULL;
        g_autofree char *xml = NULL;
        gsize len;

        if (!rsc->config) {
            err = g_error_new(HB_ERROR, HB_ERROR_FAILED, "no config parameter");
        } else if (hbClusterReadConfig(rsc->config, &xml, &len, &err) == 0) {
            if (hbClusterConfigDefines(xml, len, name, uuid)) {
                *resource = g_strdup(rsc->id);
                return HB_CLUSTER_OWNED;
            }
            continue;
        }
        if (!unreadable)
            unreadable = g_error_new(HB_ERROR, HB_ERROR_FAILED, "resource %s: %s", rsc->id,
                                     err->message);
    }
    if (unreadable) {
        g_propagate_error(error, g_steal_pointer(&unreadable));
        return HB_CLUSTER_UNKNOWN;
    }
    return HB_CLUSTER_FREE;
}


HbClusterOwner
hbClusterOwner(const HbCluster *cluster, const char *name, const char *uuid, char **resource,
               GError **error)
{
    static const char *const query[] = { "--query", "--scope", "resources", NULL };
    g_autofree char *cibadmin = g_build_filename(cluster->tools, "cibadmin", NULL);
    g_autofree char *remoted = g_build_filename(cluster->tools, "pacemaker-remoted", NULL);
    g_autoptr(GPtrArray) resources = NULL;
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GError) err = NULL;
    gsize len;
    const char *xml;

    *resource = NULL;
    if (!g_file_test(cibadmin, G_FILE_TEST_IS_EXECUTABLE))
        return HB_CLUSTER_NONE;
    if (hbClusterRunOk(cluster, "cibadmin", query, &out, &err) < 0) {
        /* Pacemaker installed, and never set up: no cluster to ask. A
         * Pacemaker Remote node has no CIB on disk, but pacemaker-remoted. */
        if (!g_file_test(cluster->cib_file, G_FILE_TEST_EXISTS) &&
            !g_file_test(remoted, G_FILE_TEST_IS_EXECUTABLE))
            return HB_CLUSTER_NONE;
        g_propagate_prefixed_error(error, g_steal_pointer(&err), "cannot read the CIB: ");
        return HB_CLUSTER_UNKNOWN;
    }
    xml = g_bytes_get_data(out, &len);
    if (!(resources = hbClusterParseResources(xml, len, error)))
        return HB_CLUSTER_UNKNOWN;
    return hbClusterFind(resources, name, uuid, resource, error);
}


/* What a tool's --output-as=xml says went wrong: its status message. */
static char *
hbClusterXmlStatus(xmlXPathContextPtr ctxt)
{
    xmlXPathObjectPtr obj = xmlXPathEval(BAD_CAST "string(/pacemaker-result/status/@message)",
                                         ctxt);
    char *message = hbUtilSanitize(obj && obj->stringval && obj->stringval[0] ?
                                   (const char *) obj->stringval : "no message", -1,
                                   HB_UTIL_ERROR_MAX);

    xmlXPathFreeObject(obj);
    return message;
}


/* Where the cluster runs @resource, from crm_resource --locate --output-as=xml. */
static GStrv
hbClusterLocate(const HbCluster *cluster, const char *resource, GError **error)
{
    const char *const args[] = { "--locate", "--resource", resource, "--output-as=xml", NULL };
    g_autoptr(GStrvBuilder) nodes = g_strv_builder_new();
    g_autoptr(GBytes) out = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    xmlXPathContextPtr ctxt;
    xmlXPathObjectPtr obj;
    const char *xml;
    gsize len;
    int status;

    if ((status = hbClusterRunTool(cluster, "crm_resource", args, &out, NULL, error)) < 0)
        return NULL;
    xml = g_bytes_get_data(out, &len);
    if (!(doc = hbClusterXmlRead(xml, len, "locate.xml"))) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "crm_resource --locate exited with "
                    "status %d and no well-formed XML", status);
        return NULL;
    }
    ctxt = xmlXPathNewContext(doc);
    if (status != 0) {
        g_autofree char *message = hbClusterXmlStatus(ctxt);
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "crm_resource --locate exited with "
                    "status %d: %s", status, message);
        xmlXPathFreeContext(ctxt);
        return NULL;
    }
    obj = xmlXPathEval(BAD_CAST "/pacemaker-result/nodes/node", ctxt);
    for (int i = 0; obj && obj->nodesetval && i < obj->nodesetval->nodeNr; i++) {
        xmlChar *text = xmlNodeGetContent(obj->nodesetval->nodeTab[i]);
        g_autofree char *name = hbUtilSanitize((const char *) text, -1, 0);

        g_strv_builder_add(nodes, g_strstrip(name));
        xmlFree(text);
    }
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctxt);
    return g_strv_builder_end(nodes);
}


/* This node's name in the cluster (crm_node --name). */
static char *
hbClusterNodeName(const HbCluster *cluster, GError **error)
{
    static const char *const args[] = { "--name", NULL };
    g_autoptr(GBytes) out = NULL;
    g_autofree char *name = NULL;
    gsize len;
    const char *data;

    if (hbClusterRunOk(cluster, "crm_node", args, &out, error) < 0)
        return NULL;
    data = g_bytes_get_data(out, &len);
    name = g_strstrip(hbUtilSanitize(data ? data : "", len, 0));
    if (!name[0] || strchr(name, '\n')) {
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED, "crm_node --name: no node name");
        return NULL;
    }
    return g_steal_pointer(&name);
}


int
hbClusterFail(const HbCluster *cluster, const char *resource, char **node, GError **error)
{
    g_autofree char *name = NULL;
    g_auto(GStrv) nodes = NULL;
    g_autoptr(GBytes) out = NULL;
    const char *args[] = { "--fail", "--resource", resource, "--node", NULL, NULL };

    if (!(name = hbClusterNodeName(cluster, error)) ||
        !(nodes = hbClusterLocate(cluster, resource, error)))
        return -1;
    if (!g_strv_contains((const char *const *) nodes, name)) {
        g_autofree char *where = nodes[0] ? g_strjoinv(", ", nodes) : NULL;
        g_set_error(error, HB_ERROR, HB_ERROR_FAILED,
                    "the cluster runs resource %s %s%s, not on this node (%s)", resource,
                    where ? "on " : "nowhere", where ? where : "", name);
        return -1;
    }
    /* The checks took their time: the guest may be back meanwhile. */
    if (cluster->wanted && !cluster->wanted(cluster->wanted_data, error))
        return -1;
    args[4] = name;
    if (hbClusterRunOk(cluster, "crm_resource", args, &out, error) < 0)
        return -1;
    *node = g_steal_pointer(&name);
    return 0;
}
