/*
 * Enum <-> string tables, in the style of libvirt's VIR_ENUM_DECL and
 * VIR_ENUM_IMPL: one `const char *const` table per enum, its length checked
 * against the enum's _LAST at compile time, and ToString/FromString made
 * from it. Header only, so that daemon and CLI can both use it.
 */
#pragma once

#include <glib.h>

/* The name of @value in @names, or NULL out of range. */
static inline const char *
hbEnumToString(const char *const *names, guint n_names, int value)
{
    if (value < 0 || (guint) value >= n_names)
        return NULL;
    return names[value];
}


/* The value named @str in @names, or -1 if none is. */
static inline int
hbEnumFromString(const char *const *names, guint n_names, const char *str)
{
    if (!str)
        return -1;
    for (guint i = 0; i < n_names; i++) {
        if (g_str_equal(names[i], str))
            return i;
    }
    return -1;
}


/* Declares name##ToString(type) and name##FromString(const char *). */
#define HB_ENUM_DECL(name, type) \
    const char *name##ToString(type value); \
    int name##FromString(const char *str)

/*
 * Defines them from the names, in the enum's order; there must be exactly
 * @last of them. Ends in a declaration: write a semicolon after it.
 */
#define HB_ENUM_IMPL(name, type, last, ...) \
    static const char *const name##Names[] = { __VA_ARGS__ }; \
    const char * \
    name##ToString(type value) \
    { \
        return hbEnumToString(name##Names, G_N_ELEMENTS(name##Names), value); \
    } \
    int \
    name##FromString(const char *str) \
    { \
        return hbEnumFromString(name##Names, G_N_ELEMENTS(name##Names), str); \
    } \
    G_STATIC_ASSERT(G_N_ELEMENTS(name##Names) == (last))
