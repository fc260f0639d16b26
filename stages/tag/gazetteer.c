/* stages/tag/gazetteer.c — gazetteer files and the matcher over tokens.
 *
 * The file (stages/tag/data/README.md) is text: a header, then one entry a
 * line, `class<TAB>token token ...`, tokens as nlpd_split cuts them. At load
 * every prefix of every entry becomes one key in an open-addressing table:
 * the hash of its normalized tokens, chained. A key records the classes of
 * the entries that end there and whether some longer entry goes on from it.
 * Matching from a token then hashes one token at a time and probes once per
 * token until a prefix is unknown or nothing longer exists: most tokens
 * cost one token hash and one probe.
 */
#include "gazetteer.h"

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/log.h"

#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

extern const unsigned char nlpd__gaz_builtin_en[];
extern const size_t nlpd__gaz_builtin_en_len;

#define GAZ_FORMAT 1
#define GAZ_MAGIC  "nlpd-gazetteer "
#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME  1099511628211ull

/* One prefix of one or more entries. key 0 marks an empty slot. */
typedef struct gaz_slot {
    uint64_t key;
    uint32_t end;  /* classes of the entries that end with this prefix */
    uint32_t more; /* 1 when a longer entry starts with this prefix */
} gaz_slot;

typedef struct gaz_class {
    char name[32];
    size_t len;
    int cased;
    size_t entries;
} gaz_class;

struct nlpd_gaz {
    gaz_slot *slots;
    size_t mask;    /* slots - 1 */
    unsigned shift; /* 64 - log2(slots): a key's home slot is key >> shift */
    gaz_slot *rec;  /* while loading: one record per prefix of each entry */
    size_t n_rec, rec_cap;
    size_t n_keys;
    size_t n_entries;
    size_t n_classes;
    uint32_t uncased; /* classes that also match from a lower-case token */
    uint64_t digest;
    gaz_class classes[NLPD_GAZ_MAX_CLASSES];
    char lang[16];
    char tag[64];
    char version[160];
};

/* --- Hashing ------------------------------------------------------------------ */

/* murmur3's finalizer: FNV's low bits are weak, and the table indexes by
 * them. */
static inline uint64_t
mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* The key of a prefix: the previous prefix's key (0 before the first
 * token) and the next token's hash. Never 0. */
static inline uint64_t
chain(uint64_t key, uint64_t tok)
{
    uint64_t k = mix64(key * 0x9e3779b97f4a7c15ull + tok);
    return k != 0 ? k : 1;
}

static inline uint64_t
fnv_byte(uint64_t h, unsigned char c)
{
    return (h ^ c) * FNV_PRIME;
}

/* Hashes code point cp folded: apostrophes and dashes as ASCII, otherwise
 * compatibility-decomposed, case-folded and without combining marks. */
static uint64_t
hash_folded(uint64_t h, int32_t cp)
{
    switch (cp) {
    case 0x2018: /* left and right single quotation marks, modifier apostrophe, prime */
    case 0x2019:
    case 0x02bc:
    case 0x2032:
        return fnv_byte(h, '\'');
    case 0x2010: /* hyphen, non-breaking hyphen, figure dash, en and em dash, minus */
    case 0x2011:
    case 0x2012:
    case 0x2013:
    case 0x2014:
    case 0x2212:
        return fnv_byte(h, '-');
    default:
        break;
    }
    utf8proc_int32_t out[8];
    int bc = 0;
    utf8proc_ssize_t m =
        utf8proc_decompose_char(cp, out, 8,
                                (utf8proc_option_t)(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT |
                                                    UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK),
                                &bc);
    if (m < 0 || m > 8) { /* cannot happen for a valid code point; hash it as it is */
        out[0] = cp;
        m = 1;
    }
    for (utf8proc_ssize_t k = 0; k < m; k++) {
        utf8proc_uint8_t b[4];
        utf8proc_ssize_t nb = utf8proc_encode_char(out[k], b);
        for (utf8proc_ssize_t q = 0; q < nb; q++)
            h = fnv_byte(h, b[q]);
    }
    return h;
}

uint64_t
nlpd__gaz_token_hash(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    uint64_t h = FNV_OFFSET;
    size_t kept = 0;
    size_t p = 0;
    while (p < len) {
        unsigned char c = u[p];
        if (c < 0x80) {
            p++;
            if (c == '.')
                continue;
            if (c >= 'A' && c <= 'Z')
                c = (unsigned char)(c + 32);
            h = fnv_byte(h, c);
            kept++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t nb = utf8proc_iterate(u + p, (utf8proc_ssize_t)(len - p), &cp);
        if (nb <= 0) { /* not UTF-8: the byte as it is */
            h = fnv_byte(h, c);
            p++;
        } else {
            h = hash_folded(h, cp);
            p += (size_t)nb;
        }
        kept++;
    }
    if (kept == 0) { /* only periods ("...", "."): those are the token */
        h = FNV_OFFSET;
        for (size_t i = 0; i < len; i++)
            h = fnv_byte(h, u[i]);
    }
    return h != 0 ? h : 1;
}

/* 1 when the token starts with a lower-case letter ("will", "élan"). */
static inline int
starts_lower(const char *s, size_t len)
{
    unsigned char c = (unsigned char)s[0];
    if (c < 0x80)
        return c >= 'a' && c <= 'z';
    utf8proc_int32_t cp;
    if (utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &cp) <= 0)
        return 0;
    return utf8proc_category(cp) == UTF8PROC_CATEGORY_LL;
}

/* --- The table ------------------------------------------------------------------ */

/* A key's home slot: its top bits. Keys sorted by value are then sorted by
 * slot, which the loader uses to fill the table in memory order. */
static inline size_t
home(const nlpd_gaz *g, uint64_t key)
{
    return (size_t)(key >> g->shift);
}

static const gaz_slot *
lookup(const nlpd_gaz *g, uint64_t key)
{
    for (size_t i = home(g, key);; i = (i + 1) & g->mask) {
        const gaz_slot *s = &g->slots[i];
        if (s->key == key)
            return s;
        if (s->key == 0)
            return NULL;
    }
}

/* Records one prefix (the table is sized for all of them). */
static void
insert(nlpd_gaz *g, const gaz_slot *r)
{
    size_t i = home(g, r->key);
    for (; g->slots[i].key != 0; i = (i + 1) & g->mask) {
        if (g->slots[i].key == r->key) {
            g->slots[i].end |= r->end;
            g->slots[i].more |= r->more;
            return;
        }
    }
    g->slots[i] = *r;
    g->n_keys++;
}

/* Sorts the n records by their home slot (the top `bits` bits of the key),
 * least significant digit first, 11 bits a pass; tmp has room for n. The
 * table then fills front to back instead of at random: at load, cache and
 * TLB misses cost more than everything else together. */
static void
sort_by_home(gaz_slot *rec, gaz_slot *tmp, size_t n, unsigned bits)
{
    size_t count[1u << 11];
    gaz_slot *from = rec, *to = tmp;
    for (unsigned lo = 64 - bits; lo < 64; lo += 11) {
        unsigned w = 64 - lo < 11 ? 64 - lo : 11;
        uint64_t m = ((uint64_t)1 << w) - 1;
        memset(count, 0, sizeof(count));
        for (size_t i = 0; i < n; i++)
            count[(from[i].key >> lo) & m]++;
        size_t sum = 0;
        for (size_t d = 0; d <= m; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            to[count[(from[i].key >> lo) & m]++] = from[i];
        gaz_slot *t = from;
        from = to;
        to = t;
    }
    if (from != rec)
        memcpy(rec, from, n * sizeof(*rec));
}

/* --- Parsing ------------------------------------------------------------------ */

typedef struct parser {
    nlpd_gaz *g;
    const char *name; /* for messages */
    size_t line;
} parser;

static int
bad(const parser *ps, const char *why)
{
    NLPD_LOG(NLPD_LOG_ERR, "msg=\"gazetteer rejected\" file=\"%s\" line=%zu reason=\"%s\"",
             ps->name, ps->line, why);
    return NLPD_EMODEL;
}

static int
word_is(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    return n == k && memcmp(s, w, k) == 0;
}

/* Reads a decimal number of at most 12 digits. */
static int
parse_count(const char *s, size_t n, size_t *out)
{
    if (n == 0 || n > 12)
        return -1;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int
parse_hex64(const char *s, size_t n, uint64_t *out)
{
    if (n != 16)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static void
copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(dst, s, k);
    dst[k] = '\0';
}

/* One header line (without its newline); sets *done at the checksum line. */
static int
header_line(parser *ps, const char *s, size_t n, size_t *entries, uint64_t *sum, int *done)
{
    nlpd_gaz *g = ps->g;
    if (n == 0 || s[0] == '#')
        return 0;
    const char *sp = memchr(s, ' ', n);
    size_t kw = sp != NULL ? (size_t)(sp - s) : n;
    const char *v = sp != NULL ? sp + 1 : s + n;
    size_t vn = n - kw - (sp != NULL);
    if (word_is(s, kw, "lang")) {
        copy_field(g->lang, sizeof(g->lang), v, vn);
    } else if (word_is(s, kw, "version")) {
        copy_field(g->tag, sizeof(g->tag), v, vn);
    } else if (word_is(s, kw, "class")) {
        if (g->n_classes == NLPD_GAZ_MAX_CLASSES)
            return bad(ps, "more than 32 classes");
        const char *sp2 = memchr(v, ' ', vn);
        size_t cn = sp2 != NULL ? (size_t)(sp2 - v) : vn;
        if (cn == 0 || cn >= sizeof(g->classes[0].name) || memchr(v, '\t', cn) != NULL)
            return bad(ps, "a class needs a name of 1 to 31 bytes");
        gaz_class *c = &g->classes[g->n_classes];
        if (sp2 != NULL) {
            if (!word_is(sp2 + 1, vn - cn - 1, "cased"))
                return bad(ps, "a class name may only be followed by \"cased\"");
            c->cased = 1;
        }
        memcpy(c->name, v, cn);
        c->name[cn] = '\0';
        c->len = cn;
        for (size_t i = 0; i < g->n_classes; i++)
            if (strcmp(g->classes[i].name, c->name) == 0)
                return bad(ps, "a class declared twice");
        if (!c->cased)
            g->uncased |= 1u << g->n_classes;
        g->n_classes++;
    } else if (word_is(s, kw, "entries")) {
        if (parse_count(v, vn, entries) != 0)
            return bad(ps, "bad entry count");
    } else if (word_is(s, kw, "checksum")) {
        if (parse_hex64(v, vn, sum) != 0)
            return bad(ps, "the checksum needs 16 lower-case hex digits");
        *done = 1;
    } else {
        return bad(ps, "unknown header line");
    }
    return 0;
}

/* The class of an entry line, or -1; `last` caches the previous answer
 * (entries are sorted, so runs share a class). */
static int
find_class(const nlpd_gaz *g, const char *s, size_t n, int *last)
{
    if (*last >= 0 && g->classes[*last].len == n && memcmp(s, g->classes[*last].name, n) == 0)
        return *last;
    for (size_t c = 0; c < g->n_classes; c++) {
        if (g->classes[c].len == n && memcmp(s, g->classes[c].name, n) == 0) {
            *last = (int)c;
            return (int)c;
        }
    }
    return -1;
}

static int
add_record(nlpd_gaz *g, uint64_t key, uint32_t end, uint32_t more)
{
    if (g->n_rec == g->rec_cap) {
        size_t cap = g->rec_cap ? g->rec_cap * 2 : 1024;
        gaz_slot *v = nlpd_realloc(g->rec, cap * sizeof(*v));
        if (v == NULL)
            return NLPD_ENOMEM;
        g->rec = v;
        g->rec_cap = cap;
    }
    g->rec[g->n_rec++] = (gaz_slot){key, end, more};
    return 0;
}

static int
entry_line(parser *ps, const char *s, size_t n, int *last)
{
    nlpd_gaz *g = ps->g;
    size_t i = 0;
    while (i < n && s[i] != '\t')
        i++;
    if (i == n)
        return bad(ps, "an entry needs a class, a tab and tokens");
    int c = find_class(g, s, i, last);
    if (c < 0)
        return bad(ps, "an entry of an undeclared class");
    if (++i == n)
        return bad(ps, "an entry without tokens");
    uint64_t key = 0;
    size_t k = 0;
    while (i <= n) {
        size_t st = i;
        while (i < n && s[i] != ' ') {
            if (s[i] == '\t' || s[i] == '\r')
                return bad(ps, "a tab or carriage return inside an entry");
            i++;
        }
        if (i == st)
            return bad(ps, "an empty token (two spaces, or a space at an end)");
        if (++k > NLPD_GAZ_MAX_TOKENS)
            return bad(ps, "an entry of more than 12 tokens");
        if (k > 1 && add_record(g, key, 0, 1) != 0)
            return NLPD_ENOMEM;
        key = chain(key, nlpd__gaz_token_hash(s + st, i - st));
        i++;
    }
    if (add_record(g, key, 1u << c, 0) != 0)
        return NLPD_ENOMEM;
    g->classes[c].entries++;
    g->n_entries++;
    return 0;
}

/* The file checksum: FNV-1a's step over 8-byte little-endian words (the
 * tail a byte at a time), with a shift to carry high bits down: eight times
 * fewer dependent multiplies than FNV over bytes. */
uint64_t
nlpd__gaz_checksum(uint64_t h, const void *buf, size_t n)
{
    const unsigned char *u = buf;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, u + i, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        h = (h ^ w) * FNV_PRIME;
        h ^= h >> 29;
    }
    for (; i < n; i++) {
        h = (h ^ u[i]) * FNV_PRIME;
        h ^= h >> 29;
    }
    return h;
}

static size_t
next_pow2(size_t v)
{
    size_t p = 16;
    while (p < v)
        p <<= 1;
    return p;
}

static int
parse(parser *ps, const char *buf, size_t len)
{
    nlpd_gaz *g = ps->g;
    if (len < sizeof(GAZ_MAGIC) || memcmp(buf, GAZ_MAGIC, sizeof(GAZ_MAGIC) - 1) != 0)
        return bad(ps, "not a gazetteer file (no \"nlpd-gazetteer\" first line)");
    if (memchr(buf, '\0', len) != NULL)
        return bad(ps, "NUL byte");
    /* The header, up to the checksum line; the checksum covers every byte
     * but that line's. */
    size_t p = 0, entries = 0;
    uint64_t sum = 0, h;
    size_t hdr_end = 0;
    int done = 0;
    while (!done) {
        if (p >= len)
            return bad(ps, "truncated header (no checksum line)");
        const char *nl = memchr(buf + p, '\n', len - p);
        if (nl == NULL)
            return bad(ps, "truncated header (no checksum line)");
        size_t e = (size_t)(nl - buf);
        ps->line++;
        if (ps->line == 1) {
            size_t vn = e - (sizeof(GAZ_MAGIC) - 1);
            size_t fmt = 0;
            if (parse_count(buf + sizeof(GAZ_MAGIC) - 1, vn, &fmt) != 0)
                return bad(ps, "bad format number");
            if (fmt != GAZ_FORMAT)
                return bad(ps, fmt > GAZ_FORMAT ? "made by a newer builder (format > 1)"
                                                : "unknown format");
        } else {
            int rc = header_line(ps, buf + p, e - p, &entries, &sum, &done);
            if (rc != 0)
                return rc;
        }
        if (!done)
            hdr_end = e + 1;
        p = e + 1;
    }
    size_t body = p;
    /* the header before the checksum line, then the body */
    h = nlpd__gaz_checksum(FNV_OFFSET, buf, hdr_end);
    h = nlpd__gaz_checksum(h, buf + body, len - body);
    if (h != sum)
        return bad(ps, "checksum mismatch (truncated or corrupt)");
    if (g->n_classes == 0)
        return bad(ps, "no classes");
    g->digest = sum;

    if (entries > ((size_t)1 << 26))
        return bad(ps, "too many entries");
    g->rec_cap = entries + entries / 2 + 16; /* about 1.1 tokens an entry in English */
    g->rec = nlpd_malloc(g->rec_cap * sizeof(*g->rec));
    if (g->rec == NULL)
        return NLPD_ENOMEM;
    int last = -1;
    for (p = body; p < len;) {
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl != NULL ? (size_t)(nl - buf) : len;
        ps->line++;
        if (e == p)
            return bad(ps, "an empty line among the entries");
        int rc = entry_line(ps, buf + p, e - p, &last);
        if (rc != 0)
            return rc;
        p = e + 1;
    }
    if (g->n_entries != entries)
        return bad(ps, "the number of entries differs from the header's");

    /* Twice as many slots as records: at least half of the slots stay
     * empty, so probes are short. */
    size_t size = next_pow2(g->n_rec * 2);
    unsigned bits = 0;
    while (((size_t)1 << bits) < size)
        bits++;
    g->slots = nlpd_calloc(size, sizeof(*g->slots));
    gaz_slot *tmp = nlpd_malloc((g->n_rec + 1) * sizeof(*tmp));
    if (g->slots == NULL || tmp == NULL) {
        nlpd_free(tmp);
        return NLPD_ENOMEM;
    }
    g->mask = size - 1;
    g->shift = 64 - bits;
    sort_by_home(g->rec, tmp, g->n_rec, bits);
    nlpd_free(tmp);
    for (size_t i = 0; i < g->n_rec; i++)
        insert(g, &g->rec[i]);
    nlpd_free(g->rec);
    g->rec = NULL;
    g->n_rec = g->rec_cap = 0;
    return 0;
}

static int
load(nlpd_gaz **out, const void *buf, size_t len, const char *name)
{
    nlpd_gaz *g = nlpd_calloc(1, sizeof(*g));
    if (g == NULL)
        return NLPD_ENOMEM;
    parser ps = {.g = g, .name = name};
    int rc = parse(&ps, buf, len);
    if (rc != 0) {
        nlpd__gaz_free(&g);
        return rc;
    }
    snprintf(g->version, sizeof(g->version), "%s %s (%zu classes, %zu entries)",
             g->lang[0] ? g->lang : "?", g->tag[0] ? g->tag : "unversioned", g->n_classes,
             g->n_entries);
    *out = g;
    return 0;
}

int
nlpd__gaz_load_buffer(nlpd_gaz **out, const void *buf, size_t len)
{
    if (out == NULL || (buf == NULL && len > 0))
        return NLPD_EINVAL;
    *out = NULL;
    return load(out, buf, len, "(buffer)");
}

/* Reads a gazetteer file: none is larger than 256 MB. */
static int
read_file(const char *path, char **out, size_t *len)
{
    int rc = nlpd_read_file(path, (size_t)256 << 20, out, len);
    return rc == NLPD_EMSGSIZE ? NLPD_EMODEL : rc;
}

int
nlpd__gaz_load(nlpd_gaz **out, const char *path)
{
    if (out == NULL || path == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file(path, &buf, &len);
    if (rc == NLPD_EMODEL)
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"gazetteer rejected\" file=\"%s\" reason=\"over 256 MB\"",
                 path);
    if (rc != 0)
        return rc;
    rc = load(out, buf, len, path);
    nlpd_free(buf);
    return rc;
}

int
nlpd__gaz_load_builtin(nlpd_gaz **out, const char *lang)
{
    if (out == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    if (lang == NULL || strcmp(lang, "en") != 0)
        return NLPD_EINVAL;
    return load(out, nlpd__gaz_builtin_en, nlpd__gaz_builtin_en_len, "(builtin en)");
}

void
nlpd__gaz_free(nlpd_gaz **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_free((*self_p)->slots);
    nlpd_free((*self_p)->rec);
    nlpd_free(*self_p);
    *self_p = NULL;
}

size_t
nlpd__gaz_classes(const nlpd_gaz *g)
{
    return g != NULL ? g->n_classes : 0;
}

const char *
nlpd__gaz_class_name(const nlpd_gaz *g, size_t c)
{
    return g != NULL && c < g->n_classes ? g->classes[c].name : "";
}

int
nlpd__gaz_class_find(const nlpd_gaz *g, const char *name)
{
    for (size_t c = 0; g != NULL && name != NULL && c < g->n_classes; c++)
        if (strcmp(g->classes[c].name, name) == 0)
            return (int)c;
    return -1;
}

size_t
nlpd__gaz_class_size(const nlpd_gaz *g, size_t c)
{
    return g != NULL && c < g->n_classes ? g->classes[c].entries : 0;
}

const char *
nlpd__gaz_version(const nlpd_gaz *g)
{
    return g != NULL ? g->version : "";
}

uint64_t
nlpd__gaz_digest(const nlpd_gaz *g)
{
    return g != NULL ? g->digest : 0;
}

/* --- Matching ------------------------------------------------------------------ */

/* Class bits (bit c) spread to the even bits of the match word (bit 2c). */
static inline uint64_t
spread(uint32_t m)
{
    uint64_t x = m;
    x = (x | (x << 16)) & 0x0000ffff0000ffffull;
    x = (x | (x << 8)) & 0x00ff00ff00ff00ffull;
    x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0full;
    x = (x | (x << 2)) & 0x3333333333333333ull;
    x = (x | (x << 1)) & 0x5555555555555555ull;
    return x;
}

size_t
nlpd__gaz_match_at(const nlpd_gaz *g, const char *text, const nlpd_split_token *tok, size_t n,
                   size_t i, uint32_t by_len[NLPD_GAZ_MAX_TOKENS + 1])
{
    memset(by_len, 0, (NLPD_GAZ_MAX_TOKENS + 1) * sizeof(*by_len));
    if (g == NULL || g->n_keys == 0 || i >= n || tok[i].end == tok[i].start)
        return 0;
    const uint32_t all = g->n_classes == 32 ? 0xffffffffu : (1u << g->n_classes) - 1;
    uint32_t allowed =
        starts_lower(text + tok[i].start, tok[i].end - tok[i].start) ? g->uncased : all;
    size_t longest = 0;
    uint64_t key = 0;
    for (size_t j = 0; j < NLPD_GAZ_MAX_TOKENS && i + j < n && allowed != 0; j++) {
        const nlpd_split_token *t = &tok[i + j];
        key = chain(key, nlpd__gaz_token_hash(text + t->start, t->end - t->start));
        const gaz_slot *s = lookup(g, key);
        if (s == NULL)
            break;
        by_len[j + 1] = s->end & allowed;
        if (by_len[j + 1] != 0)
            longest = j + 1;
        if (!s->more)
            break;
    }
    return longest;
}

#define RING 16 /* a power of two above NLPD_GAZ_MAX_TOKENS */

void
nlpd__gaz_match(const nlpd_gaz *g, const char *text, const nlpd_split_token *tok, size_t n,
                uint64_t *bits)
{
    if (n == 0)
        return;
    memset(bits, 0, n * sizeof(*bits));
    if (g == NULL || g->n_keys == 0)
        return;
    uint64_t ring[RING]; /* token hashes of [i, hashed), by index mod RING */
    size_t hashed = 0;
    const uint32_t all = g->n_classes == 32 ? 0xffffffffu : (1u << g->n_classes) - 1;
    for (size_t i = 0; i < n; i++) {
        size_t len = tok[i].end - tok[i].start;
        if (len == 0)
            continue;
        uint32_t allowed = starts_lower(text + tok[i].start, len) ? g->uncased : all;
        if (allowed == 0)
            continue;

        struct {
            uint32_t len, mask;
        } found[NLPD_GAZ_MAX_TOKENS];

        size_t nf = 0;
        uint64_t key = 0;
        for (size_t j = 0; j < NLPD_GAZ_MAX_TOKENS && i + j < n; j++) {
            size_t t = i + j;
            for (; hashed <= t; hashed++) {
                if (hashed < i)
                    hashed = i;
                ring[hashed & (RING - 1)] = nlpd__gaz_token_hash(
                    text + tok[hashed].start, tok[hashed].end - tok[hashed].start);
            }
            key = chain(key, ring[t & (RING - 1)]);
            const gaz_slot *s = lookup(g, key);
            if (s == NULL)
                break;
            uint32_t m = s->end & allowed;
            if (m != 0) {
                found[nf].len = (uint32_t)(j + 1);
                found[nf].mask = m;
                nf++;
            }
            if (!s->more)
                break;
        }
        uint32_t done = 0;
        while (nf-- > 0) { /* longest first: each class keeps its longest */
            uint32_t m = found[nf].mask & ~done;
            if (m == 0)
                continue;
            done |= m;
            uint64_t b = spread(m);
            bits[i] |= b;
            for (size_t k = 1; k < found[nf].len; k++)
                bits[i + k] |= b << 1;
        }
    }
}
