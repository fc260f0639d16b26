/* stages/split/model.c — split models: abbreviations, sentence starters and
 * the weights of the gap classifier, read from a line-oriented text file.
 *
 * The format (stages/split/data/README.md has the full description):
 *
 *     # a comment
 *     [meta]
 *     lang en
 *     bias -2.5
 *     [abbreviations]
 *     dr title          word (its final period optional) and class:
 *     inc               plain (default), title, number or time
 *     [starters]
 *     the 0.97          share of capitalized uses that start a sentence
 *     [weights]
 *     p=and 0.42        feature and weight of the gap classifier
 *
 * A model is built once and only read afterwards, so splitters on several
 * threads share it without locks.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/log.h"
#include "split_internal.h"

extern const unsigned char nlpd__split_builtin_en[];
extern const size_t nlpd__split_builtin_en_len;

struct nlpd__wordent {
    uint32_t hash; /* 0 marks an empty slot */
    uint32_t key;  /* offset of the key in the pool */
    int32_t value;
    uint32_t len;
};

/* --- Feature tables (nlpd__feattab_get is inline, split_internal.h) ------------ */

static int
feattab_put(nlpd__feattab *t, uint64_t h, int32_t value)
{
    if ((t->n + 1) * 2 > t->mask) {
        size_t ns = t->mask == 0 ? 256 : (t->mask + 1) * 2;
        struct nlpd__featent *v = nlpd_calloc(ns, sizeof(*v));
        uint16_t *g = nlpd_calloc(ns, sizeof(*g));
        if (v == NULL || g == NULL) {
            nlpd_free(v);
            nlpd_free(g);
            return NLPD_ENOMEM;
        }
        for (size_t i = 0; t->mask != 0 && i <= t->mask; i++) {
            uint64_t k = t->slots[i].key;
            if (k == 0)
                continue;
            size_t j = nlpd__feat_slot(k) & (ns - 1);
            while (v[j].key != 0)
                j = (j + 1) & (ns - 1);
            v[j] = t->slots[i];
            g[j] = nlpd__feat_tag(k);
        }
        nlpd_free(t->slots);
        nlpd_free(t->tags);
        t->slots = v;
        t->tags = g;
        t->mask = ns - 1;
    }
    size_t i = nlpd__feat_slot(h) & t->mask;
    for (; t->slots[i].key != 0; i = (i + 1) & t->mask) {
        if (t->slots[i].key == h) {
            t->slots[i].value = value;
            return 0;
        }
    }
    t->slots[i] = (struct nlpd__featent){h, value};
    t->tags[i] = nlpd__feat_tag(h);
    t->n++;
    return 0;
}

/* --- Word tables -------------------------------------------------------------- */

static inline unsigned char
lower_ascii(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* FNV-1a over the ASCII-lowercased bytes; never 0. */
static inline uint32_t
word_hash(const char *w, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= lower_ascii((unsigned char)w[i]);
        h *= 16777619u;
    }
    return h != 0 ? h : 1;
}

static int
key_equal(const nlpd__wordtab *t, const struct nlpd__wordent *e, const char *w, size_t n)
{
    if (e->len != n)
        return 0;
    const char *k = t->pool + e->key;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] != lower_ascii((unsigned char)w[i]))
            return 0;
    return 1;
}

int
nlpd__wordtab_get(const nlpd__wordtab *t, const char *w, size_t n, int32_t *value)
{
    if (t->mask == 0 || n == 0 || n > NLPD__WORD_MAX)
        return 0;
    uint32_t h = word_hash(w, n);
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const struct nlpd__wordent *e = &t->slots[i];
        if (e->hash == 0)
            return 0;
        if (e->hash == h && key_equal(t, e, w, n)) {
            *value = e->value;
            return 1;
        }
    }
}

static int
wordtab_rehash(nlpd__wordtab *t, size_t slots)
{
    struct nlpd__wordent *v = nlpd_calloc(slots, sizeof(*v));
    if (v == NULL)
        return NLPD_ENOMEM;
    for (size_t i = 0; t->mask != 0 && i <= t->mask; i++) {
        struct nlpd__wordent *e = &t->slots[i];
        if (e->hash == 0)
            continue;
        size_t j = e->hash & (slots - 1);
        while (v[j].hash != 0)
            j = (j + 1) & (slots - 1);
        v[j] = *e;
    }
    nlpd_free(t->slots);
    t->slots = v;
    t->mask = slots - 1;
    return 0;
}

int
nlpd__wordtab_put(nlpd__wordtab *t, const char *w, size_t n, int32_t value)
{
    if (n == 0 || n > NLPD__WORD_MAX)
        return NLPD_EINVAL;
    if ((t->n + 1) * 2 > t->mask) { /* keep the load under one half */
        int rc = wordtab_rehash(t, t->mask == 0 ? 64 : (t->mask + 1) * 2);
        if (rc != 0)
            return rc;
    }
    uint32_t h = word_hash(w, n);
    size_t i = h & t->mask;
    for (; t->slots[i].hash != 0; i = (i + 1) & t->mask) {
        if (t->slots[i].hash == h && key_equal(t, &t->slots[i], w, n)) {
            t->slots[i].value = value;
            return 0;
        }
    }
    if (t->pool_len + n + 1 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap * 2 : 1024;
        while (cap < t->pool_len + n + 1)
            cap *= 2;
        char *p = nlpd_realloc(t->pool, cap);
        if (p == NULL)
            return NLPD_ENOMEM;
        t->pool = p;
        t->pool_cap = cap;
    }
    for (size_t k = 0; k < n; k++)
        t->pool[t->pool_len + k] = (char)lower_ascii((unsigned char)w[k]);
    t->pool[t->pool_len + n] = '\0';
    t->slots[i] = (struct nlpd__wordent){h, (uint32_t)t->pool_len, value, (uint32_t)n};
    t->pool_len += n + 1;
    t->n++;
    return 0;
}

void
nlpd__wordtab_release(nlpd__wordtab *t)
{
    nlpd_free(t->slots);
    nlpd_free(t->pool);
    memset(t, 0, sizeof(*t));
}

abbrev_class
nlpd__model_abbrev(const nlpd_split_model *m, const char *w, size_t n)
{
    int32_t v;
    return nlpd__wordtab_get(&m->abbrevs, w, n, &v) ? (abbrev_class)v : ABBR_NONE;
}

int32_t
nlpd__model_starter(const nlpd_split_model *m, const char *w, size_t n)
{
    int32_t v;
    return nlpd__wordtab_get(&m->starters, w, n, &v) ? v : -1;
}

/* --- Parsing ------------------------------------------------------------------ */

enum section { SEC_NONE, SEC_META, SEC_ABBREV, SEC_STARTERS, SEC_LOWER, SEC_WEIGHTS };

typedef struct parser {
    nlpd_split_model *m;
    const char *name; /* for messages */
    size_t line;
    enum section sec;
} parser;

static int
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Splits a line into at most two fields separated by blanks. */
static size_t
fields(const char *s, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t k = 0, i = 0;
    while (i < n && k < max + 1) {
        while (i < n && is_blank(s[i]))
            i++;
        if (i == n)
            break;
        size_t st = i;
        while (i < n && !is_blank(s[i]))
            i++;
        if (k < max) {
            f[k] = s + st;
            fl[k] = i - st;
        }
        k++;
    }
    return k;
}

static int
bad_line(const parser *ps, const char *why)
{
    NLPD_LOG(NLPD_LOG_ERR, "msg=\"split model rejected\" file=\"%s\" line=%zu reason=\"%s\"",
             ps->name, ps->line, why);
    return NLPD_EMODEL;
}

static int
parse_number(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int
fixed(double v, int32_t *out)
{
    if (v < -1e6 || v > 1e6)
        return -1;
    *out = (int32_t)lround(v * 1000.0);
    return 0;
}

static int
parse_class(const char *s, size_t n, abbrev_class *out)
{
    static const struct {
        const char *name;
        abbrev_class c;
    } names[] = {{"plain", ABBR_PLAIN}, {"title", ABBR_TITLE}, {"number", ABBR_NUMBER},
                 {"time", ABBR_TIME}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].name) == n && memcmp(names[i].name, s, n) == 0) {
            *out = names[i].c;
            return 0;
        }
    }
    return -1;
}

/* Reads "A,B" (two shape numbers) or "K" (one bucket) after a prefix. */
static int
small_ints(const char *s, size_t n, unsigned *a, unsigned *b, unsigned max)
{
    unsigned v[2] = {0, 0};
    size_t k = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
            v[k] = v[k] * 10 + (unsigned)(s[i] - '0');
            digits++;
        } else if (s[i] == ',' && k == 0 && digits > 0) {
            k = 1;
            digits = 0;
        } else {
            return -1;
        }
    }
    if (digits == 0 || v[0] >= max || v[1] >= max)
        return -1;
    *a = v[0];
    *b = v[1];
    return (int)k + 1;
}

static int
put_weight(parser *ps, const char *f, size_t n, int32_t w)
{
    nlpd_split_model *m = ps->m;
    unsigned a, b;
    if (n > 3 && f[2] == ':' && (memcmp(f, "sp", 2) == 0 || memcmp(f, "pp", 2) == 0 ||
                                 memcmp(f, "nn", 2) == 0)) {
        if (small_ints(f + 3, n - 3, &a, &b, NLPD__SHAPES) != 2)
            return bad_line(ps, "a shape pair feature needs two shapes below 16");
        int32_t(*t)[NLPD__SHAPES] = f[0] == 's' ? m->pair : f[0] == 'p' ? m->prev_pair : m->next_pair;
        t[a][b] = w;
        return 0;
    }
    if (n > 4 && memcmp(f, "len:", 4) == 0) {
        if (small_ints(f + 4, n - 4, &a, &b, NLPD__LEN_BUCKETS) != 1)
            return bad_line(ps, "a length feature needs a bucket below 8");
        m->len[a] = w;
        return 0;
    }
    if (n > 2 && (f[0] == 'p' || f[0] == 'n' || f[0] == 'q') && f[1] == ':') {
        int32_t *top = &m->word_max[f[0] == 'p' ? 0 : f[0] == 'n' ? 1 : 2][nlpd__len_slot(n - 2)];
        if (w > *top)
            *top = w;
        return feattab_put(&m->weights, nlpd__feat_hash(f[0], f + 2, n - 2), w);
    }
    return bad_line(ps, "unknown feature");
}

static int
parse_line(parser *ps, const char *s, size_t n)
{
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    while (n > 0 && is_blank(*s)) {
        s++;
        n--;
    }
    if (n == 0 || s[0] == '#')
        return 0;
    if (s[0] == '[') {
        static const struct {
            const char *name;
            enum section sec;
        } secs[] = {{"[meta]", SEC_META},
                    {"[abbreviations]", SEC_ABBREV},
                    {"[starters]", SEC_STARTERS},
                    {"[lower-starters]", SEC_LOWER},
                    {"[weights]", SEC_WEIGHTS}};
        for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
            if (strlen(secs[i].name) == n && memcmp(secs[i].name, s, n) == 0) {
                ps->sec = secs[i].sec;
                return 0;
            }
        }
        return bad_line(ps, "unknown section");
    }
    const char *f[2];
    size_t fl[2];
    size_t k = fields(s, n, f, fl, 2);
    if (k > 2)
        return bad_line(ps, "more than two fields");
    double v = 0;
    int32_t iv;
    switch (ps->sec) {
    case SEC_NONE:
        return bad_line(ps, "an entry before any [section]");
    case SEC_META:
        if (k != 2)
            return bad_line(ps, "a meta entry needs a name and a value");
        if (fl[0] == 4 && memcmp(f[0], "lang", 4) == 0) {
            if (fl[1] >= sizeof(ps->m->lang))
                return bad_line(ps, "language name too long");
            memcpy(ps->m->lang, f[1], fl[1]);
            ps->m->lang[fl[1]] = '\0';
        } else if (fl[0] == 7 && memcmp(f[0], "version", 7) == 0) {
            size_t cap = sizeof(ps->m->tag) - 1;
            size_t len = fl[1] < cap ? fl[1] : cap;
            memcpy(ps->m->tag, f[1], len);
            ps->m->tag[len] = '\0';
        } else if ((fl[0] == 4 && memcmp(f[0], "bias", 4) == 0) ||
                   (fl[0] == 9 && memcmp(f[0], "threshold", 9) == 0)) {
            if (parse_number(f[1], fl[1], &v) != 0 || fixed(v, &iv) != 0)
                return bad_line(ps, "not a number");
            if (f[0][0] == 'b')
                ps->m->bias = iv;
            else
                ps->m->threshold = iv;
        } /* other meta entries are informational */
        return 0;
    case SEC_ABBREV: {
        abbrev_class c = ABBR_PLAIN;
        if (k == 2 && parse_class(f[1], fl[1], &c) != 0)
            return bad_line(ps, "unknown abbreviation class (plain, title, number, time)");
        size_t len = fl[0];
        if (len > 1 && f[0][len - 1] == '.')
            len--;
        if (len > NLPD__WORD_MAX)
            return bad_line(ps, "abbreviation too long");
        return nlpd__wordtab_put(&ps->m->abbrevs, f[0], len, (int32_t)c);
    }
    case SEC_STARTERS:
    case SEC_LOWER:
        if (k != 2 || parse_number(f[1], fl[1], &v) != 0 || v < 0 || v > 1)
            return bad_line(ps, "a starter needs a word and a share between 0 and 1");
        if (fl[0] > NLPD__WORD_MAX)
            return 0; /* never looked up */
        return nlpd__wordtab_put(ps->sec == SEC_LOWER ? &ps->m->lower_starters : &ps->m->starters,
                                 f[0], fl[0], (int32_t)lround(v * 1000.0));
    case SEC_WEIGHTS:
        if (k != 2 || parse_number(f[1], fl[1], &v) != 0 || fixed(v, &iv) != 0)
            return bad_line(ps, "a weight needs a feature and a number");
        ps->m->has_gap = 1;
        return put_weight(ps, f[0], fl[0], iv);
    }
    return 0;
}

static int
parse(parser *ps, const char *buf, size_t len)
{
    size_t p = 0;
    while (p < len) {
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl != NULL ? (size_t)(nl - buf) : len;
        ps->line++;
        if (memchr(buf + p, '\0', e - p) != NULL)
            return bad_line(ps, "NUL byte");
        int rc = parse_line(ps, buf + p, e - p);
        if (rc != 0)
            return rc;
        p = e + 1;
    }
    return 0;
}

static void
describe(nlpd_split_model *m)
{
    snprintf(m->version, sizeof(m->version), "%s %s (%zu abbreviations, %zu starters, %zu weights)",
             m->lang[0] ? m->lang : "?", m->tag[0] ? m->tag : "unversioned", m->abbrevs.n,
             m->starters.n, m->weights.n);
}

/* A model from `len` bytes; `name` is for messages. */
static int
load(nlpd_split_model **out, const void *buf, size_t len, const char *name)
{
    nlpd_split_model *m = nlpd_calloc(1, sizeof(*m));
    if (m == NULL)
        return NLPD_ENOMEM;
    parser ps = {.m = m, .name = name};
    int rc = parse(&ps, buf, len);
    if (rc != 0) {
        nlpd_split_model_free(&m);
        return rc;
    }
    describe(m);
    *out = m;
    return 0;
}

int
nlpd_split_model_load_buffer(nlpd_split_model **out, const void *buf, size_t len)
{
    if (out == NULL || (buf == NULL && len > 0))
        return NLPD_EINVAL;
    *out = NULL;
    return load(out, buf, len, "(buffer)");
}

/* Reads a model or list file: no model is larger than 64 MB. */
static int
read_file(const char *path, char **out, size_t *len)
{
    int rc = nlpd_read_file(path, (size_t)64 << 20, out, len);
    return rc == NLPD_EMSGSIZE ? NLPD_EMODEL : rc;
}

int
nlpd_split_model_load(nlpd_split_model **out, const char *path)
{
    if (out == NULL || path == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    char *buf;
    size_t len;
    int rc = read_file(path, &buf, &len);
    if (rc != 0)
        return rc;
    rc = load(out, buf, len, path);
    nlpd_free(buf);
    return rc;
}

int
nlpd_split_model_load_builtin(nlpd_split_model **out, const char *lang)
{
    if (out == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    if (lang == NULL || strcmp(lang, "en") != 0)
        return NLPD_EINVAL;
    return nlpd_split_model_load_buffer(out, nlpd__split_builtin_en, nlpd__split_builtin_en_len);
}

int
nlpd_split_model_add_abbreviations(nlpd_split_model *self, const char *path)
{
    if (self == NULL || path == NULL)
        return NLPD_EINVAL;
    char *buf;
    size_t len;
    int rc = read_file(path, &buf, &len);
    if (rc != 0)
        return rc;
    /* A bare list (no section header) is a list of abbreviations. */
    parser ps = {.m = self, .name = path, .sec = SEC_ABBREV};
    rc = parse(&ps, buf, len);
    nlpd_free(buf);
    describe(self); /* the counts changed */
    return rc;
}

const char *
nlpd_split_model_version(const nlpd_split_model *self)
{
    return self != NULL ? self->version : "";
}

void
nlpd_split_model_free(nlpd_split_model **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_split_model *m = *self_p;
    nlpd__wordtab_release(&m->abbrevs);
    nlpd__wordtab_release(&m->starters);
    nlpd__wordtab_release(&m->lower_starters);
    nlpd_free(m->weights.slots);
    nlpd_free(m->weights.tags);
    nlpd_free(m);
    *self_p = NULL;
}
