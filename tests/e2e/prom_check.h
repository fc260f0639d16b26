/* tests/e2e/prom_check.h — a strict reader of the Prometheus text
 * exposition format 0.0.4, for the stats unit test and the metrics e2e
 * test (header-only: static functions).
 *
 * prom_check() accepts only what nlpd should write: every sample belongs to
 * a family with a TYPE line before it (summary samples may add _sum and
 * _count), counters end in _total, summaries' quantile samples have a
 * quantile label, names and label names are valid, label values use only
 * the \\ \" \n escapes, values are numbers, NaN, +Inf or -Inf, a family's
 * HELP and TYPE come once, and every line ends with a line feed.
 */
#ifndef NLPD_TEST_PROM_CHECK_H
#define NLPD_TEST_PROM_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_MAX_FAMILIES 256

typedef struct prom_family {
    char name[128];
    char type[16];
    int help;
} prom_family;

static int
prom_name_ok(const char *s, size_t n, int colon)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static prom_family *
prom_find(prom_family *f, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++) {
        if (strlen(f[i].name) == len && strncmp(f[i].name, name, len) == 0)
            return &f[i];
    }
    return NULL;
}

static int
prom_fail(char *why, size_t why_len, int line, const char *what)
{
    snprintf(why, why_len, "line %d: %s", line, what);
    return -1;
}

static int
prom_value_ok(const char *s)
{
    if (strcmp(s, "NaN") == 0 || strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0)
        return 1;
    char *end;
    strtod(s, &end);
    return end != s && *end == '\0';
}

/* Returns the number of samples, or -1 with the reason in `why`. */
static int
prom_check(const char *text, char *why, size_t why_len)
{
    static prom_family fam[PROM_MAX_FAMILIES];
    int nfam = 0, samples = 0, lineno = 0;
    const char *p = text;
    while (*p != '\0') {
        lineno++;
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            return prom_fail(why, why_len, lineno, "no line feed at the end");
        size_t len = (size_t)(nl - p);
        char line[2048];
        if (len >= sizeof(line))
            return prom_fail(why, why_len, lineno, "line too long");
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl + 1;
        if (len == 0)
            continue;
        if (line[0] == '#') {
            int help = strncmp(line, "# HELP ", 7) == 0, type = strncmp(line, "# TYPE ", 7) == 0;
            if (!help && !type)
                continue; /* a comment */
            const char *name = line + 7;
            size_t nlen = strcspn(name, " ");
            if (!prom_name_ok(name, nlen, 1) || name[nlen] != ' ')
                return prom_fail(why, why_len, lineno, "bad metric name in HELP/TYPE");
            prom_family *f = prom_find(fam, nfam, name, nlen);
            if (f == NULL) {
                if (nfam >= PROM_MAX_FAMILIES || nlen >= sizeof(fam[0].name))
                    return prom_fail(why, why_len, lineno, "too many families");
                f = &fam[nfam++];
                memset(f, 0, sizeof(*f));
                memcpy(f->name, name, nlen);
            }
            const char *rest = name + nlen + 1;
            if (help) {
                if (f->help++)
                    return prom_fail(why, why_len, lineno, "HELP twice");
                for (const char *c = rest; *c; c++) {
                    if (*c == '\\' && c[1] != '\\' && c[1] != 'n')
                        return prom_fail(why, why_len, lineno, "bad escape in HELP");
                    if (*c == '\\')
                        c++;
                }
            } else {
                if (f->type[0] != '\0')
                    return prom_fail(why, why_len, lineno, "TYPE twice");
                if (strcmp(rest, "counter") != 0 && strcmp(rest, "gauge") != 0 &&
                    strcmp(rest, "summary") != 0 && strcmp(rest, "histogram") != 0 &&
                    strcmp(rest, "untyped") != 0)
                    return prom_fail(why, why_len, lineno, "unknown TYPE");
                if (strcmp(rest, "counter") == 0 &&
                    (nlen < 6 || strncmp(name + nlen - 6, "_total", 6) != 0))
                    return prom_fail(why, why_len, lineno, "a counter not named *_total");
                snprintf(f->type, sizeof(f->type), "%s", rest);
            }
            continue;
        }
        /* A sample: name[{labels}] value */
        size_t nlen = strcspn(line, "{ ");
        if (!prom_name_ok(line, nlen, 1))
            return prom_fail(why, why_len, lineno, "bad sample name");
        prom_family *f = prom_find(fam, nfam, line, nlen);
        int quantile_needed = 0;
        if (f != NULL && strcmp(f->type, "summary") == 0)
            quantile_needed = 1;
        if (f == NULL && nlen > 4 && strncmp(line + nlen - 4, "_sum", 4) == 0)
            f = prom_find(fam, nfam, line, nlen - 4);
        if (f == NULL && nlen > 6 && strncmp(line + nlen - 6, "_count", 6) == 0)
            f = prom_find(fam, nfam, line, nlen - 6);
        if (f == NULL || f->type[0] == '\0')
            return prom_fail(why, why_len, lineno, "a sample without a TYPE line before it");
        const char *c = line + nlen;
        int has_quantile = 0;
        if (*c == '{') {
            c++;
            while (*c != '}') {
                size_t ln = strcspn(c, "=");
                if (!prom_name_ok(c, ln, 0) || c[ln] != '=' || c[ln + 1] != '"')
                    return prom_fail(why, why_len, lineno, "bad label");
                if (ln == 8 && strncmp(c, "quantile", 8) == 0)
                    has_quantile = 1;
                c += ln + 2;
                while (*c != '"') {
                    if (*c == '\0')
                        return prom_fail(why, why_len, lineno, "unterminated label value");
                    if (*c == '\\') {
                        if (c[1] != '\\' && c[1] != '"' && c[1] != 'n')
                            return prom_fail(why, why_len, lineno, "bad escape in label value");
                        c++;
                    }
                    c++;
                }
                c++;
                if (*c == ',')
                    c++;
                else if (*c != '}')
                    return prom_fail(why, why_len, lineno, "bad label list");
            }
            c++;
        }
        if (*c != ' ')
            return prom_fail(why, why_len, lineno, "no space before the value");
        c++;
        char value[64];
        size_t vl = strcspn(c, " ");
        if (vl == 0 || vl >= sizeof(value))
            return prom_fail(why, why_len, lineno, "no value");
        memcpy(value, c, vl);
        value[vl] = '\0';
        if (!prom_value_ok(value))
            return prom_fail(why, why_len, lineno, "a value that is not a number");
        if (quantile_needed && !has_quantile)
            return prom_fail(why, why_len, lineno, "a summary sample without a quantile label");
        samples++;
    }
    return samples;
}

/* The value of sample `name` with the one label `key`="`escaped_value`"
 * (NULL key: no labels). Returns 0 or -1 when absent. */
static int
prom_value(const char *text, const char *name, const char *key, const char *escaped_value,
           double *out)
{
    char head[512];
    if (key != NULL)
        snprintf(head, sizeof(head), "\n%s{%s=\"%s\"} ", name, key, escaped_value);
    else
        snprintf(head, sizeof(head), "\n%s ", name);
    const char *at = strstr(text, head);
    if (at == NULL && strncmp(text, head + 1, strlen(head + 1)) == 0)
        at = text - 1;
    if (at == NULL)
        return -1;
    const char *v = at + strlen(head);
    if (strncmp(v, "NaN", 3) == 0) {
        *out = 0.0 / 0.0;
        return 0;
    }
    *out = strtod(v, NULL);
    return 0;
}

#endif /* NLPD_TEST_PROM_CHECK_H */
