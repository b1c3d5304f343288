/*
 * Per-domain heartbeat configuration: defaults, limits and the
 * <heartbeat/> element kept in the domain's <metadata>.
 */
#include <config.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "hb-config.h"
#include "hb-util.h"

GQuark
hbConfigErrorQuark(void)
{
    return g_quark_from_static_string("hb-config-error-quark");
}

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
);

typedef struct {
    guint min;
    guint max;
} HbKeyInfo;

/* Ranges for the numeric keys; enabled, time_sync and action are words. */
static const HbKeyInfo hbKeys[HB_KEY_LAST] = {
    [HB_KEY_ENABLED] = { 0, 0 },
    [HB_KEY_TIME] = { 2, 86400 },
    [HB_KEY_RATE] = { 1, 1000 },
    [HB_KEY_FAILURE_INTERVAL] = { 1, 86400 },
    [HB_KEY_FAILURE_ATTEMPTS] = { 1, 1000 },
    [HB_KEY_BOOT_GRACE] = { 0, 86400 },
    [HB_KEY_ACTION] = { 0, 0 },
    [HB_KEY_MAX_EPISODES] = { 0, 1000 },
    [HB_KEY_EPISODE_WINDOW] = { 1, 604800 },
    [HB_KEY_PING_TIMEOUT] = { 1, 300 },
    [HB_KEY_TIME_SYNC] = { 0, 0 },
    [HB_KEY_TIME_SYNC_INTERVAL] = { 1, 1440 },
};

HB_ENUM_IMPL(hbAction, HbAction, HB_ACTION_LAST,
             "reset",
             "restart",
             "none",
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
    };
}


static gboolean *
hbConfigFlag(HbConfig *cfg, HbKey key)
{
    if (key == HB_KEY_ENABLED)
        return &cfg->enabled;
    if (key == HB_KEY_TIME_SYNC)
        return &cfg->time_sync;
    return NULL;
}


static guint *
hbConfigField(HbConfig *cfg, HbKey key)
{
    switch (key) {
    case HB_KEY_TIME: return &cfg->time;
    case HB_KEY_RATE: return &cfg->rate;
    case HB_KEY_FAILURE_INTERVAL: return &cfg->failure_interval;
    case HB_KEY_FAILURE_ATTEMPTS: return &cfg->failure_attempts;
    case HB_KEY_BOOT_GRACE: return &cfg->boot_grace;
    case HB_KEY_MAX_EPISODES: return &cfg->max_episodes;
    case HB_KEY_EPISODE_WINDOW: return &cfg->episode_window;
    case HB_KEY_PING_TIMEOUT: return &cfg->ping_timeout;
    case HB_KEY_TIME_SYNC_INTERVAL: return &cfg->time_sync_interval;
    case HB_KEY_ENABLED:
    case HB_KEY_TIME_SYNC:
    case HB_KEY_ACTION:
    case HB_KEY_LAST:
        break;
    }
    return NULL;
}


const gboolean *
hbConfigFlagOf(const HbConfig *cfg, HbKey key)
{
    return hbConfigFlag((HbConfig *) cfg, key);
}


const guint *
hbConfigNumberOf(const HbConfig *cfg, HbKey key)
{
    return hbConfigField((HbConfig *) cfg, key);
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
    guint64 num;

    if (hbConfigFlag(cfg, key)) {
        if (g_str_equal(token, "yes")) {
            *hbConfigFlag(cfg, key) = TRUE;
        } else if (g_str_equal(token, "no")) {
            *hbConfigFlag(cfg, key) = FALSE;
        } else {
            g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
                        "%s: '%s' is not yes or no", hbKeyToString(key), quoted);
            return -1;
        }
        return 0;
    }

    if (key == HB_KEY_ACTION) {
        int action = hbActionFromString(token);
        if (action < 0) {
            g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
                        "%s: '%s' is not reset, restart or none", hbKeyToString(key), quoted);
            return -1;
        }
        cfg->action = action;
        return 0;
    }

    if (!hbConfigParseUnsigned(value, info->min, info->max, &num)) {
        g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
                    "%s: '%s' is not a whole number from %u to %u",
                    hbKeyToString(key), quoted, info->min, info->max);
        return -1;
    }
    *hbConfigField(cfg, key) = num;
    return 0;
}


/* Constraints between keys, checked once all keys are set. */
int
hbConfigCheck(const HbConfig *cfg, GError **error)
{
    if (cfg->rate > cfg->time * HB_MAX_TICKS_PER_SECOND) {
        g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
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

    g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
                "malformed XML: %s", g_strchomp(msg));
}


static int
hbConfigParseElement(xmlNodePtr root, HbConfig *cfg, GError **error)
{
    if (!g_str_equal((const char *) root->name, HB_METADATA_ELEMENT)) {
        g_autofree char *found = hbConfigQuote((const char *) root->name);

        g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
                    "expected element <%s>, found <%s>", HB_METADATA_ELEMENT, found);
        return -1;
    }
    if (root->ns && !g_str_equal((const char *) root->ns->href, HB_METADATA_URI)) {
        g_autofree char *href = hbConfigQuote((const char *) root->ns->href);

        g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
                    "element <%s> is in namespace '%s', not '%s'", HB_METADATA_ELEMENT,
                    href, HB_METADATA_URI);
        return -1;
    }
    for (xmlNodePtr child = root->children; child; child = child->next) {
        if (child->type == XML_ELEMENT_NODE) {
            g_autofree char *found = hbConfigQuote((const char *) child->name);

            g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
                        "unexpected element <%s> inside <%s>", found, HB_METADATA_ELEMENT);
            return -1;
        }
        /* Empty, as in the schema: whitespace, comments and PIs only. */
        if ((child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) &&
            !xmlIsBlankNode(child)) {
            g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
                        "unexpected text inside <%s>", HB_METADATA_ELEMENT);
            return -1;
        }
        if (child->type == XML_ENTITY_REF_NODE) {
            g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
                        "unexpected entity reference inside <%s>", HB_METADATA_ELEMENT);
            return -1;
        }
    }

    for (xmlAttrPtr attr = root->properties; attr; attr = attr->next) {
        const char *name = (const char *) attr->name;
        g_autofree char *value = (char *) xmlNodeGetContent((xmlNodePtr) attr);
        int key = hbKeyFromString(name);

        if (key < 0 || attr->ns) {
            g_autofree char *full = g_strconcat(attr->ns ? (const char *) attr->ns->href : "",
                                                attr->ns ? ":" : "", name, NULL);
            g_autofree char *quoted = hbConfigQuote(full);

            g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
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
    GString *out = g_string_new(NULL);

    for (int key = 0; key < HB_KEY_LAST; key++) {
        g_autofree char *value = NULL;

        if (hbConfigFlagOf(cfg, key))
            value = g_strdup(*hbConfigFlagOf(cfg, key) ? "yes" : "no");
        else if (key == HB_KEY_ACTION)
            value = g_strdup(hbActionToString(cfg->action));
        else
            value = g_strdup_printf("%u", *hbConfigNumberOf(cfg, key));
        g_string_append_printf(out, "%s=%s\n", hbKeyToString(key), value);
    }
    return g_string_free(out, FALSE);
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
            g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
                        "a key or value is not UTF-8");
            return NULL;
        }
        if (hbKeyFromString(name) < 0) {
            g_set_error(error, HB_CONFIG_ERROR, HB_CONFIG_ERROR_INVALID,
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
