/*
 * Per-domain heartbeat configuration: defaults, limits and the
 * <heartbeat/> element kept in the domain's <metadata>.
 */
#include <config.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "hb-api.h"
#include "hb-config.h"
#include "hb-util.h"

HB_ENUM_IMPL(hbKey, HbKey, HB_KEY_LAST,
             "enabled",
             "time",
             "rate",
             "failure_interval",
             "failure_attempts",
             "boot_grace",
             "action",
             "max_episodes",
             "episode_window",
             "ping_timeout",
             "time_sync",
             "time_sync_interval",
             "confirm",
             "diagnostics",
             "escalate",
);

typedef enum {
    HB_KEY_TYPE_FLAG,    /* gboolean: yes or no */
    HB_KEY_TYPE_NUMBER,  /* guint from min to max */
    HB_KEY_TYPE_ENUM,    /* an enum (HbAction...), by its name */
} HbKeyType;

typedef struct {
    HbKeyType type;
    gsize offset;        /* of its member in HbConfig */
    guint min;
    guint max;
    /* HB_KEY_TYPE_ENUM: the enum's names, and all of them for errors */
    const char *(*to_string)(guint value);
    int (*from_string)(const char *str);
    const char *choices;
} HbKeyInfo;

#define HB_KEY_FLAG(member) \
    { HB_KEY_TYPE_FLAG, G_STRUCT_OFFSET(HbConfig, member), 0, 0, NULL, NULL, NULL }
#define HB_KEY_NUMBER(member, min, max) \
    { HB_KEY_TYPE_NUMBER, G_STRUCT_OFFSET(HbConfig, member), min, max, NULL, NULL, NULL }
/* Every enum of HbConfig is stored where a guint could be, and read so. */
#define HB_KEY_ENUM(member, name, choices) \
    { HB_KEY_TYPE_ENUM, G_STRUCT_OFFSET(HbConfig, member), 0, 0, \
      (const char *(*)(guint)) name##ToString, name##FromString, choices }

/* Where each key lives in HbConfig, and what it may be. */
static const HbKeyInfo hbKeys[] = {
    [HB_KEY_ENABLED] = HB_KEY_FLAG(enabled),
    [HB_KEY_TIME] = HB_KEY_NUMBER(time, 2, 86400),
    [HB_KEY_RATE] = HB_KEY_NUMBER(rate, 1, 1000),
    [HB_KEY_FAILURE_INTERVAL] = HB_KEY_NUMBER(failure_interval, 1, 86400),
    [HB_KEY_FAILURE_ATTEMPTS] = HB_KEY_NUMBER(failure_attempts, 0, 1000),
    [HB_KEY_BOOT_GRACE] = HB_KEY_NUMBER(boot_grace, 0, 86400),
    [HB_KEY_ACTION] = HB_KEY_ENUM(action, hbAction, "reset, restart, none, observe or ladder"),
    [HB_KEY_MAX_EPISODES] = HB_KEY_NUMBER(max_episodes, 0, 1000),
    [HB_KEY_EPISODE_WINDOW] = HB_KEY_NUMBER(episode_window, 1, 604800),
    [HB_KEY_PING_TIMEOUT] = HB_KEY_NUMBER(ping_timeout, 1, 300),
    [HB_KEY_TIME_SYNC] = HB_KEY_FLAG(time_sync),
    [HB_KEY_TIME_SYNC_INTERVAL] = HB_KEY_NUMBER(time_sync_interval, 1, 1440),
    [HB_KEY_CONFIRM] = HB_KEY_ENUM(confirm, hbConfirm, "none or activity"),
    [HB_KEY_DIAGNOSTICS] = HB_KEY_ENUM(diagnostics, hbDiagnostics,
                                       "none, screenshot, console or dump"),
    [HB_KEY_ESCALATE] = HB_KEY_ENUM(escalate, hbEscalate, "none or cluster"),
};
G_STATIC_ASSERT(G_N_ELEMENTS(hbKeys) == HB_KEY_LAST);
G_STATIC_ASSERT(sizeof(HbAction) == sizeof(guint));
G_STATIC_ASSERT(sizeof(HbConfirm) == sizeof(guint));
G_STATIC_ASSERT(sizeof(HbDiagnostics) == sizeof(guint));
G_STATIC_ASSERT(sizeof(HbEscalate) == sizeof(guint));

HB_ENUM_IMPL(hbAction, HbAction, HB_ACTION_LAST,
             "reset",
             "restart",
             "none",
             "observe",
             "ladder",
);

HB_ENUM_IMPL(hbConfirm, HbConfirm, HB_CONFIRM_LAST,
             "none",
             "activity",
);

HB_ENUM_IMPL(hbDiagnostics, HbDiagnostics, HB_DIAG_LAST,
             "none",
             "screenshot",
             "console",
             "dump",
);

HB_ENUM_IMPL(hbEscalate, HbEscalate, HB_ESCALATE_LAST,
             "none",
             "cluster",
);

/* The shortest ping interval: rate may be at most this many per second of time. */
#define HB_MAX_TICKS_PER_SECOND 10


void
hbConfigInitDefaults(HbConfig *cfg)
{
    *cfg = (HbConfig) {
        .enabled = TRUE,
        .time = 60,
        .rate = 10,
        .failure_interval = 10,
        .failure_attempts = 12,
        .boot_grace = 120,
        .action = HB_ACTION_RESET,
        .max_episodes = 3,
        .episode_window = 3600,
        .ping_timeout = 5,
        .time_sync = FALSE,
        .time_sync_interval = 15,
        .confirm = HB_CONFIRM_NONE,
        .diagnostics = HB_DIAG_NONE,
        .escalate = HB_ESCALATE_NONE,
    };
}


/* The member of @cfg that holds @key. */
static void *
hbConfigMember(HbConfig *cfg, HbKey key)
{
    return (char *) cfg + hbKeys[key].offset;
}


GVariant *
hbConfigValue(const HbConfig *cfg, HbKey key)
{
    const void *member = (const char *) cfg + hbKeys[key].offset;

    switch (hbKeys[key].type) {
    case HB_KEY_TYPE_FLAG:
        return g_variant_new_boolean(*(const gboolean *) member);
    case HB_KEY_TYPE_NUMBER:
        return g_variant_new_uint32(*(const guint *) member);
    case HB_KEY_TYPE_ENUM:
        break;
    }
    return g_variant_new_string(hbKeys[key].to_string(*(const guint *) member));
}


GVariant *
hbConfigToVariant(const HbConfig *cfg)
{
    GVariantBuilder b;

    g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
    for (int key = 0; key < HB_KEY_LAST; key++)
        g_variant_builder_add(&b, "{sv}", hbKeyToString(key), hbConfigValue(cfg, key));
    return g_variant_builder_end(&b);
}


/* Metadata text quoted in an error keeps at most this many bytes. */
#define HB_CONFIG_QUOTE_MAX 64


/*
 * Metadata text to quote in an error: the error becomes ConfigError, which
 * anyone may read on D-Bus, and a log line, so a value of megabytes must
 * not make it megabytes. Valid UTF-8, cut with "...".
 */
static char *
hbConfigQuote(const char *text)
{
    return hbUtilSanitize(text, -1, HB_CONFIG_QUOTE_MAX);
}


/*
 * The schema's yes/no and action values are tokens: whitespace around them
 * collapses (space, tab, CR and LF only), so it does here too.
 */
static char *
hbConfigCollapse(const char *value)
{
    const char *ws = " \t\r\n";
    size_t start = strspn(value, ws);
    size_t end = strlen(value);

    while (end > start && strchr(ws, value[end - 1]))
        end--;
    return g_strndup(value + start, end - start);
}


/*
 * A number as the schema has it: plain digits within range, no sign and
 * no whitespace (libxml2 checks the schema's pattern before it collapses).
 */
static gboolean
hbConfigParseUnsigned(const char *value, guint min, guint max, guint64 *num)
{
    if (!*value || strspn(value, "0123456789") != strlen(value))
        return FALSE;
    return g_ascii_string_to_unsigned(value, 10, min, max, num, NULL);
}


int
hbConfigSetKey(HbConfig *cfg, HbKey key, const char *value, GError **error)
{
    const HbKeyInfo *info = &hbKeys[key];
    g_autofree char *token = hbConfigCollapse(value);
    g_autofree char *quoted = hbConfigQuote(value);
    void *member = hbConfigMember(cfg, key);
    guint64 num;

    if (info->type == HB_KEY_TYPE_FLAG) {
        if (g_str_equal(token, "yes")) {
            *(gboolean *) member = TRUE;
        } else if (g_str_equal(token, "no")) {
            *(gboolean *) member = FALSE;
        } else {
            g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not yes or no", hbKeyToString(key), quoted);
            return -1;
        }
        return 0;
    }

    if (info->type == HB_KEY_TYPE_ENUM) {
        int found = info->from_string(token);
        if (found < 0) {
            g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT, "%s: '%s' is not %s",
                        hbKeyToString(key), quoted, info->choices);
            return -1;
        }
        *(guint *) member = found;
        return 0;
    }

    if (!hbConfigParseUnsigned(value, info->min, info->max, &num)) {
        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                    "%s: '%s' is not a whole number from %u to %u",
                    hbKeyToString(key), quoted, info->min, info->max);
        return -1;
    }
    *(guint *) member = num;
    return 0;
}


/* Constraints between keys, checked once all keys are set. */
int
hbConfigCheck(const HbConfig *cfg, GError **error)
{
    if (cfg->rate > cfg->time * HB_MAX_TICKS_PER_SECOND) {
        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                    "rate: %u ticks per %u s is more than %d a second",
                    cfg->rate, cfg->time, HB_MAX_TICKS_PER_SECOND);
        return -1;
    }
    return 0;
}


gint64
hbConfigIntervalUs(const HbConfig *cfg)
{
    return (gint64) cfg->time * G_USEC_PER_SEC / cfg->rate;
}


guint
hbConfigEffectivePingTimeout(const HbConfig *cfg)
{
    guint interval = cfg->time / cfg->rate;

    return MIN(cfg->ping_timeout, MAX(interval, 1));
}


static void
hbConfigSetXmlError(GError **error)
{
    xmlErrorPtr xerr = xmlGetLastError();
    /* libxml2 quotes the input as is: the message goes to D-Bus, which wants UTF-8. */
    g_autofree char *msg = g_utf8_make_valid(xerr && xerr->message ? xerr->message :
                                             "no element", -1);

    g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                "malformed XML: %s", g_strchomp(msg));
}


/* The end of a maintenance window: a UTC time as the schema has it. */
static int
hbConfigParseMaintenance(HbConfig *cfg, const char *value, GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *quoted = hbConfigQuote(value);
    gint64 secs;

    if (hbApiParseUtc(value, &secs, &err) < 0) {
        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                    "%s: '%s' is not a UTC time YYYY-MM-DDTHH:MM:SSZ from 1970 to 2106",
                    HB_METADATA_MAINTENANCE, quoted);
        return -1;
    }
    cfg->maintenance_until = secs;
    return 0;
}


static int
hbConfigParseElement(xmlNodePtr root, HbConfig *cfg, GError **error)
{
    if (!g_str_equal((const char *) root->name, HB_METADATA_ELEMENT)) {
        g_autofree char *found = hbConfigQuote((const char *) root->name);

        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                    "expected element <%s>, found <%s>", HB_METADATA_ELEMENT, found);
        return -1;
    }
    if (root->ns && !g_str_equal((const char *) root->ns->href, HB_METADATA_URI)) {
        g_autofree char *href = hbConfigQuote((const char *) root->ns->href);

        g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                    "element <%s> is in namespace '%s', not '%s'", HB_METADATA_ELEMENT,
                    href, HB_METADATA_URI);
        return -1;
    }
    for (xmlNodePtr child = root->children; child; child = child->next) {
        if (child->type == XML_ELEMENT_NODE) {
            g_autofree char *found = hbConfigQuote((const char *) child->name);

            g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                        "unexpected element <%s> inside <%s>", found, HB_METADATA_ELEMENT);
            return -1;
        }
        /* Empty, as in the schema: whitespace, comments and PIs only. */
        if ((child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) &&
            !xmlIsBlankNode(child)) {
            g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                        "unexpected text inside <%s>", HB_METADATA_ELEMENT);
            return -1;
        }
        if (child->type == XML_ENTITY_REF_NODE) {
            g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                        "unexpected entity reference inside <%s>", HB_METADATA_ELEMENT);
            return -1;
        }
    }

    for (xmlAttrPtr attr = root->properties; attr; attr = attr->next) {
        const char *name = (const char *) attr->name;
        g_autofree char *value = (char *) xmlNodeGetContent((xmlNodePtr) attr);
        int key = hbKeyFromString(name);

        if (!attr->ns && g_str_equal(name, HB_METADATA_MAINTENANCE)) {
            if (hbConfigParseMaintenance(cfg, value ? value : "", error) < 0)
                return -1;
            continue;
        }
        if (key < 0 || attr->ns) {
            g_autofree char *full = g_strconcat(attr->ns ? (const char *) attr->ns->href : "",
                                                attr->ns ? ":" : "", name, NULL);
            g_autofree char *quoted = hbConfigQuote(full);

            g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                        "unknown attribute '%s'", quoted);
            return -1;
        }
        if (hbConfigSetKey(cfg, key, value ? value : "", error) < 0)
            return -1;
    }
    return hbConfigCheck(cfg, error);
}


/*
 * Parse @xml, the element virDomainGetMetadata returns, on top of @defaults.
 * @cfg is written only on success, so a caller keeps its last valid config.
 */
int
hbConfigParseMetadata(const char *xml, const HbConfig *defaults,
                      HbConfig *cfg, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    HbConfig tmp = *defaults;

    doc = hbUtilXmlRead(xml, "metadata.xml");
    if (!doc || !xmlDocGetRootElement(doc)) {
        hbConfigSetXmlError(error);
        return -1;
    }
    if (hbConfigParseElement(xmlDocGetRootElement(doc), &tmp, error) < 0)
        return -1;

    *cfg = tmp;
    return 0;
}


/* Every key as key=value lines, in a fixed order: the normalized form. */
char *
hbConfigFormat(const HbConfig *cfg)
{
    g_autoptr(GVariant) config = g_variant_ref_sink(hbConfigToVariant(cfg));
    g_autofree char *text = hbApiConfigText(config, "\n");

    return g_strconcat(text, "\n", NULL);
}


/*
 * Apply @changes (key name -> value, NULL value removes the key) to the
 * metadata element @xml (NULL: none yet) and return the new element.
 * Keys not named keep their text, so unset keys keep following the
 * daemon's defaults. The result is validated on top of @defaults.
 */
char *
hbConfigEditMetadata(const char *xml, GHashTable *changes,
                     const HbConfig *defaults, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root;
    GHashTableIter iter;
    gpointer name, value;
    char *result;
    HbConfig check;

    if (xml) {
        doc = hbUtilXmlRead(xml, "metadata.xml");
        if (!doc || !xmlDocGetRootElement(doc)) {
            hbConfigSetXmlError(error);
            return NULL;
        }
        root = xmlDocGetRootElement(doc);
    } else {
        doc = xmlNewDoc(BAD_CAST "1.0");
        root = xmlNewNode(NULL, BAD_CAST HB_METADATA_ELEMENT);
        xmlDocSetRootElement(doc, root);
    }

    g_hash_table_iter_init(&iter, changes);
    while (g_hash_table_iter_next(&iter, &name, &value)) {
        if (!g_utf8_validate(name, -1, NULL) || (value && !g_utf8_validate(value, -1, NULL))) {
            g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                        "a key or value is not UTF-8");
            return NULL;
        }
        if (hbKeyFromString(name) < 0 && !g_str_equal(name, HB_METADATA_MAINTENANCE)) {
            g_set_error(error, HB_ERROR, HB_ERROR_INVALID_ARGUMENT,
                        "unknown key '%s'", (const char *) name);
            return NULL;
        }
        if (value)
            xmlSetProp(root, BAD_CAST name, BAD_CAST value);
        else
            xmlUnsetProp(root, BAD_CAST name);
    }

    result = hbUtilXmlDump(doc, root);
    if (hbConfigParseMetadata(result, defaults, &check, error) < 0) {
        g_free(result);
        return NULL;
    }
    return result;
}
