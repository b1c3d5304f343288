/*
 * Pacemaker: the cluster resource (ocf:heartbeat:VirtualDomain) that owns
 * a domain, found in the CIB, and a failure of it reported to the cluster
 * with crm_resource --fail. Synchronous, every command bounded: for
 * worker threads only.
 */
#pragma once

#include <glib.h>

#define HB_CLUSTER_TOOLS_DEFAULT "/usr/sbin"
/* Where Pacemaker keeps the CIB of a node that has been in a cluster. */
#define HB_CLUSTER_CIB_DEFAULT "/var/lib/pacemaker/cib/cib.xml"
/* Each of Pacemaker's tools is given this long, then killed. */
#define HB_CLUSTER_TIMEOUT_DEFAULT 15
/* A VirtualDomain config file larger than this is no domain XML. */
#define HB_CLUSTER_CONFIG_MAX (1024 * 1024)
/* A tool that prints more than this, on either stream, is killed: a CIB is far smaller. */
#define HB_CLUSTER_OUTPUT_MAX (64u * 1024 * 1024)

/*
 * A Pacemaker Remote node keeps no CIB: pacemaker-remoted among the tools
 * says this is one (/etc/pacemaker/authkey would not: Debian's
 * pacemaker-common makes one on every host it is installed on).
 */
typedef struct {
    const char *tools;    /* the directory of cibadmin, crm_node, crm_resource */
    const char *cib_file; /* the CIB on disk: none, the node never was in a cluster */
    guint timeout;        /* seconds each tool may run */
    /* hbClusterFail asks right before its report, after its checks (which
     * take up to 2 timeouts); FALSE, with why in @error: none is made. */
    gboolean (*wanted)(gpointer data, GError **error);
    gpointer wanted_data;
} HbCluster;

/* A VirtualDomain primitive of the CIB. */
typedef struct {
    char *id;
    char *config;  /* its config parameter: the domain's XML file; NULL: none */
} HbClusterResource;

void hbClusterResourceFree(HbClusterResource *rsc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HbClusterResource, hbClusterResourceFree)

/*
 * Pure: the ocf:heartbeat:VirtualDomain primitives of @xml (the output of
 * cibadmin --query, whole or its resources section), those made from a
 * VirtualDomain resource template too, in document order: an
 * HbClusterResource for each config parameter (its own, in any
 * instance_attributes set, and its template's), or one with none; NULL if
 * it is not well-formed.
 */
GPtrArray *hbClusterParseResources(const char *xml, gsize len, GError **error);

/*
 * Pure: whether the domain XML @xml (a VirtualDomain config file) defines
 * the domain @name with @uuid. With a <uuid>, the UUID decides; without
 * one (libvirt makes one up at each start), the name does.
 */
gboolean hbClusterConfigDefines(const char *xml, gsize len, const char *name,
                                const char *uuid);

typedef enum {
    HB_CLUSTER_NONE,    /* no cluster: no Pacemaker tools, or no CIB ever */
    HB_CLUSTER_FREE,    /* a cluster, and none of its resources runs the domain */
    HB_CLUSTER_OWNED,   /* a resource of the cluster runs it */
    HB_CLUSTER_UNKNOWN, /* a cluster whose CIB, or a config file of it, cannot be read */

    HB_CLUSTER_LAST
} HbClusterOwner;

/*
 * Who owns the domain @name with @uuid: with HB_CLUSTER_OWNED, the
 * resource's id in *@resource; with HB_CLUSTER_UNKNOWN, why in @error.
 */
HbClusterOwner hbClusterOwner(const HbCluster *cluster, const char *name, const char *uuid,
                              char **resource, GError **error);

/*
 * Report a failure of @resource on this node (crm_resource --fail): the
 * cluster recovers it by its own policy. Only where the cluster runs it:
 * on another node it is not ours to fail. This node's name in *@node.
 */
int hbClusterFail(const HbCluster *cluster, const char *resource, char **node,
                  GError **error);
