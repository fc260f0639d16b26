/* stages/tag/model.c — tag model files: reading (from a file with one
 * read, or from a buffer), writing (for the trainer), and the word cluster
 * table they carry.
 *
 * The format (all integers little-endian; stages/tag/README.md has it in
 * full):
 *
 *     "NLPDTAG\n"                  magic, 8 bytes
 *     u32 format version           NLPD__TAG_FORMAT_VERSION (newer: NLPD_EVERSION)
 *     u32 trainer version
 *     u32 labels                   9 (BIO over PER ORG LOC MISC)
 *     u32 hash bits                the weight table has 2^bits rows
 *     u32 feature flags            NLPD__TAG_F_*: gazetteer, clusters, patterns
 *     u64 gazetteer digest         of the gazetteer the model was trained with
 *     u32 n, n bytes               the trainer's description
 *     f32 scale                    weight = int16 * scale
 *     f32 start[L], f32 trans[L*L]
 *     u32 rows, then per row: varint row delta (from the previous row + 1),
 *         u16 label mask, i16 per label in the mask
 *     u32 clusters, then per word: u8 path bits, u32 path, u8 n, n bytes
 *     with NLPD__TAG_F_EMB: the embedding classes, in the same layout
 *     u64 checksum of everything before it (nlpd__tag_checksum)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/log.h"
#include "tag_internal.h"

#define L NLPD__TAG_LABELS
#define MAGIC "NLPDTAG\n"
#define MIN_HASH_BITS 8
#define MAX_HASH_BITS 24

extern const unsigned char nlpd__tag_builtin_en[];
extern const size_t nlpd__tag_builtin_en_len;

/* --- Word clusters ---------------------------------------------------------------- */

/* Rehashes into a table of `ns` slots (a power of two). */
static int
clusters_rehash(nlpd__clusters *c, size_t ns)
{
    nlpd__cl_slot *t = nlpd_calloc(ns, sizeof(*t));
    if (t == NULL)
        return NLPD_ENOMEM;
    for (size_t i = 0; c->mask != 0 && i <= c->mask; i++) {
        if (c->slots[i].key == 0)
            continue;
        size_t j = (size_t)nlpd__mix64(c->slots[i].key) & (ns - 1);
        while (t[j].key != 0)
            j = (j + 1) & (ns - 1);
        t[j] = c->slots[i];
    }
    nlpd_free(c->slots);
    c->slots = t;
    c->mask = ns - 1;
    return 0;
}

int
nlpd__clusters_reserve(nlpd__clusters *c, size_t n, size_t pool_bytes)
{
    size_t ns = 1024;
    while (ns < 2 * n + 2)
        ns *= 2;
    if (ns > c->mask + 1 && clusters_rehash(c, ns) != 0)
        return NLPD_ENOMEM;
    if (pool_bytes > c->pool_cap) {
        size_t cap = c->pool_cap;
        if (nlpd_grow((void **)&c->pool, &cap, pool_bytes, 1) != 0)
            return NLPD_ENOMEM;
        c->pool_cap = cap;
    }
    return 0;
}

int
nlpd__clusters_add(nlpd__clusters *c, const char *w, size_t n, uint32_t path, uint8_t len)
{
    if (n == 0 || n > 255 || len == 0 || len > 32)
        return NLPD_EINVAL;
    if ((c->n + 1) * 2 > c->mask &&
        clusters_rehash(c, c->mask == 0 ? 1024 : (c->mask + 1) * 2) != 0)
        return NLPD_ENOMEM;
    uint64_t key = nlpd__fnv(NLPD__FNV_INIT, w, n);
    if (key == 0)
        key = 1;
    size_t j = (size_t)nlpd__mix64(key) & c->mask;
    while (c->slots[j].key != 0 && c->slots[j].key != key)
        j = (j + 1) & c->mask;
    if (c->slots[j].key == key)
        return 0; /* the first entry of a word wins */
    /* Keep the entry for saving: u8 len, u32 path, u8 n, bytes. */
    size_t need = c->pool_len + 6 + n;
    /* Grown geometrically: one realloc a word was quadratic in copies
     * (11.6 GB copied for 41,224 words under valgrind, 15 s to load under
     * ASan). */
    if (nlpd_grow((void **)&c->pool, &c->pool_cap, need, 1) != 0)
        return NLPD_ENOMEM;
    char *q = c->pool + c->pool_len;
    q[0] = (char)len;
    memcpy(q + 1, &path, 4);
    q[5] = (char)n;
    memcpy(q + 6, w, n);
    c->pool_len = need;
    c->slots[j] = (nlpd__cl_slot){.key = key, .path = path, .len = len};
    c->n++;
    return 0;
}

uint8_t
nlpd__clusters_get(const nlpd__clusters *c, uint64_t key, uint32_t *path)
{
    if (c->mask == 0)
        return 0;
    if (key == 0)
        key = 1;
    for (size_t j = (size_t)nlpd__mix64(key) & c->mask;; j = (j + 1) & c->mask) {
        const nlpd__cl_slot *s = &c->slots[j];
        if (s->key == key) {
            *path = s->path;
            return s->len;
        }
        if (s->key == 0)
            return 0;
    }
}

void
nlpd__clusters_release(nlpd__clusters *c)
{
    nlpd_free(c->slots);
    nlpd_free(c->pool);
    memset(c, 0, sizeof(*c));
}

int
nlpd__clusters_read(nlpd__clusters *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    char line[1024];
    int rc = 0;
    long lineno = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *tab = strchr(line, '\t');
        if (tab == NULL || line[0] == '#')
            continue;
        char *w = tab + 1;
        char *tab2 = strchr(w, '\t');
        size_t wn = tab2 ? (size_t)(tab2 - w) : strcspn(w, "\n");
        size_t bl = (size_t)(tab - line);
        uint32_t bits = 0;
        int ok = bl >= 1;
        for (size_t i = 0; i < bl && ok; i++) {
            if (line[i] != '0' && line[i] != '1')
                ok = 0;
            else if (i < 32)
                bits |= (uint32_t)(line[i] - '0') << (31 - i);
        }
        if (!ok || wn == 0 || wn > 255) {
            NLPD_LOG(NLPD_LOG_WARNING, "stage=tag clusters=%s line=%ld msg=\"skipped\"", path,
                     lineno);
            continue;
        }
        rc = nlpd__clusters_add(c, w, wn, bits, (uint8_t)(bl > 32 ? 32 : bl));
    }
    fclose(f);
    return rc;
}

/* --- Models ------------------------------------------------------------------------- */

static void
set_version(nlpd_tag_model *m)
{
    size_t rows = (size_t)1 << m->hash_bits;
    snprintf(m->version, sizeof(m->version),
             "%s crf %u labels, %zu x %u weights, %zu clusters, %zu word classes%s",
             m->desc[0] ? m->desc : "(untrained)", m->n_labels, rows, m->n_labels,
             m->clusters.n, m->emb.n, (m->features & NLPD__TAG_F_GAZ) ? ", gazetteer" : "");
}

#ifdef NLPD_TAG_HAVE_GAZETTEER
/* The document pass reads place_lower apart: its bits are no feature. */
static void
set_gaz_mask(nlpd_tag_model *m)
{
    int c = nlpd__gaz_class_find(m->gaz, "place_lower");
    m->gaz_feat_mask = c >= 0 ? ~(3ull << (2 * c)) : ~(uint64_t)0;
}
#endif

static void
forbid_transitions(nlpd_tag_model *m)
{
    for (int y = 0; y < L; y++) {
        if (!nlpd__tag_transition_ok(-1, y))
            m->start[y] = -1e30f;
        for (int x = 0; x < L; x++)
            if (!nlpd__tag_transition_ok(x, y))
                m->trans[x * L + y] = -1e30f;
    }
}

static int
model_alloc(nlpd_tag_model **out, uint32_t hash_bits)
{
    nlpd_tag_model *m = nlpd_calloc(1, sizeof(*m));
    if (m == NULL)
        return NLPD_ENOMEM;
    m->n_labels = L;
    m->hash_bits = hash_bits;
    m->gaz_feat_mask = ~(uint64_t)0;
    m->scale = 1.0f;
    m->w_mem = nlpd_calloc(((size_t)1 << hash_bits) * NLPD__TAG_ROW + 32, sizeof(*m->w));
    m->w = (int16_t *)(((uintptr_t)m->w_mem + 63) & ~(uintptr_t)63);
    if (m->w_mem == NULL) {
        nlpd_free(m);
        return NLPD_ENOMEM;
    }
    forbid_transitions(m);
    *out = m;
    return 0;
}

int
nlpd__tag_model_new(nlpd_tag_model **out, uint32_t hash_bits)
{
    if (hash_bits < MIN_HASH_BITS || hash_bits > MAX_HASH_BITS)
        return NLPD_EINVAL;
    int rc = model_alloc(out, hash_bits);
    if (rc != 0)
        return rc;
#ifdef NLPD_TAG_HAVE_GAZETTEER
    rc = nlpd__gaz_load_builtin(&(*out)->gaz, "en");
    if (rc != 0) {
        nlpd_tag_model_free(out);
        return rc;
    }
    (*out)->features |= NLPD__TAG_F_GAZ;
    (*out)->gaz_digest = nlpd__gaz_digest((*out)->gaz);
    set_gaz_mask(*out);
#endif
#ifdef NLPD_TAG_HAVE_PATTERNS
    (*out)->features |= NLPD__TAG_F_PATTERNS;
#endif
    set_version(*out);
    return 0;
}

void
nlpd_tag_model_free(nlpd_tag_model **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_tag_model *m = *self_p;
    nlpd_free(m->w_mem);
    nlpd__clusters_release(&m->clusters);
    nlpd__clusters_release(&m->emb);
#ifdef NLPD_TAG_HAVE_GAZETTEER
    nlpd__gaz_free(&m->gaz);
#endif
    nlpd_free(m);
    *self_p = NULL;
}

const char *
nlpd_tag_model_version(const nlpd_tag_model *self)
{
    return self ? self->version : "";
}

static float
weights_scale(const double *w, size_t n)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(w[i]) > mx)
            mx = fabs(w[i]);
    return mx > 0 ? (float)(mx / NLPD__TAG_QMAX) : 1.0f;
}

static int16_t
quantize(double w, float scale)
{
    double q = nearbyint(w / scale);
    if (q > NLPD__TAG_QMAX)
        q = NLPD__TAG_QMAX;
    if (q < -NLPD__TAG_QMAX)
        q = -NLPD__TAG_QMAX;
    return (int16_t)q;
}

int
nlpd__tag_model_set_weights(nlpd_tag_model *m, const double *w)
{
    size_t nw = ((size_t)1 << m->hash_bits) * L;
    m->scale = weights_scale(w, nw);
    for (size_t i = 0; i < nw; i++)
        m->w[i / L * NLPD__TAG_ROW + i % L] = quantize(w[i], m->scale);
    for (int y = 0; y < L; y++)
        m->start[y] = (float)w[nw + (size_t)y];
    for (int i = 0; i < L * L; i++)
        m->trans[i] = (float)w[nw + L + (size_t)i];
    forbid_transitions(m);
    return 0;
}

/* --- Writing ------------------------------------------------------------------------- */

typedef struct wbuf {
    unsigned char *p;
    size_t n, cap;
    int err;
} wbuf;

static void
put(wbuf *b, const void *p, size_t n)
{
    if (b->err || n == 0)
        return;
    if (nlpd_grow((void **)&b->p, &b->cap, b->n + n, 1) != 0) {
        b->err = NLPD_ENOMEM;
        return;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void
put_u32(wbuf *b, uint32_t v)
{
    unsigned char q[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, q, 4);
}

static void
put_u64(wbuf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void
put_f32(wbuf *b, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(b, v);
}

static void
put_varint(wbuf *b, uint32_t v)
{
    unsigned char q[5];
    size_t n = 0;
    while (v >= 0x80) {
        q[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    q[n++] = (unsigned char)v;
    put(b, q, n);
}

int
nlpd__tag_model_save(const nlpd_tag_model *m, const double *w, const char *desc,
                     const char *path)
{
    wbuf b = {0};
    size_t rows = (size_t)1 << m->hash_bits;
    size_t nw = rows * L;
    put(&b, MAGIC, 8);
    put_u32(&b, NLPD__TAG_FORMAT_VERSION);
    put_u32(&b, NLPD__TAG_TRAINER_VERSION);
    put_u32(&b, L);
    put_u32(&b, m->hash_bits);
    put_u32(&b, m->features | (m->clusters.n ? NLPD__TAG_F_CLUSTERS : 0) |
                    (m->emb.n ? NLPD__TAG_F_EMB : 0));
    put_u64(&b, m->gaz_digest);
    size_t dn = strlen(desc);
    if (dn > 120)
        dn = 120;
    put_u32(&b, (uint32_t)dn);
    put(&b, desc, dn);
    float scale = weights_scale(w, nw);
    put_f32(&b, scale);
    for (size_t y = 0; y < L; y++)
        put_f32(&b, (float)w[nw + y]);
    for (size_t i = 0; i < L * L; i++)
        put_f32(&b, (float)w[nw + L + i]);
    uint32_t nrows = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t y = 0; y < L; y++)
            if (quantize(w[r * L + y], scale) != 0) {
                nrows++;
                break;
            }
    put_u32(&b, nrows);
    size_t next = 0;
    for (size_t r = 0; r < rows; r++) {
        int16_t q[L];
        uint16_t mask = 0;
        for (size_t y = 0; y < L; y++) {
            q[y] = quantize(w[r * L + y], scale);
            if (q[y] != 0)
                mask |= (uint16_t)(1u << y);
        }
        if (mask == 0)
            continue;
        put_varint(&b, (uint32_t)(r - next));
        next = r + 1;
        unsigned char mk[2] = {(unsigned char)mask, (unsigned char)(mask >> 8)};
        put(&b, mk, 2);
        for (size_t y = 0; y < L; y++)
            if (mask >> y & 1) {
                uint16_t u = (uint16_t)q[y];
                unsigned char qq[2] = {(unsigned char)u, (unsigned char)(u >> 8)};
                put(&b, qq, 2);
            }
    }
    put_u32(&b, (uint32_t)m->clusters.n);
    put(&b, m->clusters.pool, m->clusters.pool_len);
    if (m->emb.n) {
        put_u32(&b, (uint32_t)m->emb.n);
        put(&b, m->emb.pool, m->emb.pool_len);
    }
    put_u64(&b, nlpd__tag_checksum(b.p, b.n));
    if (b.err) {
        nlpd_free(b.p);
        return b.err;
    }
    FILE *f = fopen(path, "wb");
    int rc = 0;
    if (f == NULL) {
        rc = -errno;
    } else {
        if (fwrite(b.p, 1, b.n, f) != b.n)
            rc = -EIO;
        if (fclose(f) != 0 && rc == 0)
            rc = -errno;
    }
    nlpd_free(b.p);
    return rc;
}

/* --- Reading --------------------------------------------------------------------------- */

typedef struct rbuf {
    const unsigned char *p;
    size_t n, at;
    const char *why; /* the first problem */
} rbuf;

static int
get(rbuf *r, void *out, size_t n, const char *what)
{
    if (r->why != NULL)
        return -1;
    if (r->n - r->at < n) {
        r->why = what;
        return -1;
    }
    memcpy(out, r->p + r->at, n);
    r->at += n;
    return 0;
}

static uint32_t
get_u32(rbuf *r, const char *what)
{
    unsigned char q[4] = {0, 0, 0, 0};
    get(r, q, 4, what);
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

static uint64_t
get_u64(rbuf *r, const char *what)
{
    uint64_t lo = get_u32(r, what);
    return lo | (uint64_t)get_u32(r, what) << 32;
}

static float
get_f32(rbuf *r, const char *what)
{
    uint32_t v = get_u32(r, what);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* A cluster table: u32 count, then per word u8 path bits, u32 path, u8 n,
 * n bytes. Returns NLPD_ENOMEM, else 0 (a malformed one sets r->why). */
static int
read_clusters(rbuf *r, nlpd__clusters *c)
{
    uint32_t nc = get_u32(r, "truncated clusters");
    /* At least 7 bytes a word: a count beyond what is left is malformed
     * (and must not size the table). */
    if (r->why == NULL && nc > (r->n - r->at) / 7)
        r->why = "truncated clusters";
    if (r->why == NULL && nlpd__clusters_reserve(c, c->n + nc, c->pool_len + (r->n - r->at)) != 0)
        return NLPD_ENOMEM;
    for (uint32_t i = 0; i < nc && r->why == NULL; i++) {
        unsigned char hdr[6];
        if (get(r, hdr, 6, "truncated clusters") != 0)
            break;
        uint32_t path = (uint32_t)hdr[1] | (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3] << 16 |
                        (uint32_t)hdr[4] << 24;
        size_t wn = hdr[5];
        if (r->n - r->at < wn) {
            r->why = "truncated clusters";
            break;
        }
        int rc = nlpd__clusters_add(c, (const char *)r->p + r->at, wn, path, hdr[0]);
        if (rc == NLPD_ENOMEM)
            return rc;
        if (rc != 0)
            r->why = "bad cluster entry";
        r->at += wn;
    }
    return 0;
}

static int
model_parse(nlpd_tag_model **out, const unsigned char *p, size_t len)
{
    rbuf r = {p, len, 0, NULL};
    nlpd_tag_model *m = NULL;
    int rc = NLPD_EMODEL;
    const char *why = NULL;
    if (len < 8 || memcmp(p, MAGIC, 8) != 0) {
        why = "not a tag model (bad magic)";
        goto fail;
    }
    r.at = 8;
    uint32_t fmt = get_u32(&r, "truncated header");
    if (r.why == NULL && fmt > NLPD__TAG_FORMAT_VERSION) {
        NLPD_LOG(NLPD_LOG_ERR,
                 "stage=tag msg=\"model format %u is newer than this library's %u\"", fmt,
                 NLPD__TAG_FORMAT_VERSION);
        return NLPD_EVERSION;
    }
    if (len < 16 || fmt == 0) {
        why = len < 16 ? "truncated header" : "bad format version";
        goto fail;
    }
    /* Everything else is covered by the checksum at the end. */
    uint64_t sum = 0;
    memcpy(&sum, p + len - 8, 8); /* little-endian hosts only, as the rest */
    if (nlpd__tag_checksum(p, len - 8) != sum) {
        why = "checksum mismatch (corrupt or truncated)";
        goto fail;
    }
    r.n = len - 8;
    uint32_t trainer = get_u32(&r, "truncated header");
    uint32_t labels = get_u32(&r, "truncated header");
    uint32_t bits = get_u32(&r, "truncated header");
    uint32_t features = get_u32(&r, "truncated header");
    uint64_t digest = get_u64(&r, "truncated header");
    uint32_t dn = get_u32(&r, "truncated header");
    if (r.why) {
        why = r.why;
        goto fail;
    }
    if (trainer > NLPD__TAG_TRAINER_VERSION) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=tag msg=\"model made by trainer version %u, newer than %u\"",
                 trainer, NLPD__TAG_TRAINER_VERSION);
        return NLPD_EVERSION;
    }
    if (features & ~(uint32_t)NLPD__TAG_F_KNOWN_) {
        NLPD_LOG(NLPD_LOG_ERR,
                 "stage=tag msg=\"model uses features (0x%x) that this version does not know\"",
                 features & ~(uint32_t)NLPD__TAG_F_KNOWN_);
        return NLPD_EVERSION;
    }
    if (labels != L) {
        why = "unknown label set";
        goto fail;
    }
    if (bits < MIN_HASH_BITS || bits > MAX_HASH_BITS) {
        why = "hash bits out of range";
        goto fail;
    }
    if (dn > 120) {
        why = "description too long";
        goto fail;
    }
    rc = model_alloc(&m, bits);
    if (rc != 0)
        return rc;
    rc = NLPD_EMODEL;
    m->features = features;
    m->gaz_digest = digest;
    get(&r, m->desc, dn, "truncated description");
    m->desc[dn] = 0;
    m->scale = get_f32(&r, "truncated weights");
    if (!(m->scale > 0) || !isfinite(m->scale)) {
        why = r.why ? r.why : "bad weight scale";
        goto fail;
    }
    for (int y = 0; y < L; y++)
        m->start[y] = get_f32(&r, "truncated transitions");
    for (int i = 0; i < L * L; i++)
        m->trans[i] = get_f32(&r, "truncated transitions");
    for (int i = 0; i < L * L && r.why == NULL; i++)
        if (!isfinite(m->trans[i]) || (i < L && !isfinite(m->start[i])))
            r.why = "transition weight not finite";
    forbid_transitions(m);
    uint32_t nrows = get_u32(&r, "truncated weights");
    size_t rows = (size_t)1 << bits;
    if (r.why == NULL && nrows > rows)
        r.why = "more weight rows than the table";
    /* The rows, read in place: this is most of the file. */
    size_t next = 0;
    const unsigned char *q = r.p + r.at, *qend = r.p + r.n;
    for (uint32_t i = 0; i < nrows && r.why == NULL; i++) {
        uint32_t delta = 0;
        int shift = 0;
        for (;;) {
            if (q == qend || shift > 28) {
                r.why = "truncated weights";
                break;
            }
            unsigned char c = *q++;
            delta |= (uint32_t)(c & 0x7f) << shift;
            shift += 7;
            if (!(c & 0x80))
                break;
        }
        if (r.why || qend - q < 2) {
            r.why = "truncated weights";
            break;
        }
        size_t row = next + delta;
        uint16_t mask = (uint16_t)(q[0] | q[1] << 8);
        q += 2;
        if (row >= rows || mask >> L != 0) {
            r.why = "weight row out of range";
            break;
        }
        if ((size_t)(qend - q) < 2 * (size_t)__builtin_popcount(mask)) {
            r.why = "truncated weights";
            break;
        }
        int16_t *w = m->w + row * NLPD__TAG_ROW;
        for (int y = 0; y < L; y++)
            if (mask >> y & 1) {
                w[y] = (int16_t)(uint16_t)(q[0] | q[1] << 8);
                q += 2;
                if (w[y] > NLPD__TAG_QMAX || w[y] < -NLPD__TAG_QMAX)
                    r.why = "weight out of range";
            }
        next = row + 1;
    }
    r.at = (size_t)(q - r.p);
    if (read_clusters(&r, &m->clusters) == NLPD_ENOMEM ||
        ((features & NLPD__TAG_F_EMB) && read_clusters(&r, &m->emb) == NLPD_ENOMEM)) {
        nlpd_tag_model_free(&m);
        return NLPD_ENOMEM;
    }
    if (r.why == NULL && r.at != r.n)
        r.why = "trailing bytes";
    if (r.why) {
        why = r.why;
        goto fail;
    }
#ifdef NLPD_TAG_HAVE_GAZETTEER
    if (features & NLPD__TAG_F_GAZ) {
        rc = nlpd__gaz_load_builtin(&m->gaz, "en");
        if (rc != 0) {
            nlpd_tag_model_free(&m);
            return rc;
        }
        set_gaz_mask(m);
        if (nlpd__gaz_digest(m->gaz) != digest)
            NLPD_LOG(NLPD_LOG_WARNING,
                     "stage=tag msg=\"model trained with another gazetteer (digest %016llx, "
                     "built in %016llx): names may be found less well\"",
                     (unsigned long long)digest, (unsigned long long)nlpd__gaz_digest(m->gaz));
    }
#else
    if (features & NLPD__TAG_F_GAZ)
        NLPD_LOG(NLPD_LOG_WARNING,
                 "stage=tag msg=\"model trained with a gazetteer this library lacks\"");
#endif
    set_version(m);
    *out = m;
    return 0;
fail:
    NLPD_LOG(NLPD_LOG_ERR, "stage=tag msg=\"model rejected: %s\"", why ? why : "malformed");
    nlpd_tag_model_free(&m);
    return NLPD_EMODEL;
}

int
nlpd_tag_model_load_buffer(nlpd_tag_model **out, const void *buf, size_t len)
{
    if (out == NULL || (buf == NULL && len > 0))
        return NLPD_EINVAL;
    *out = NULL;
    return model_parse(out, buf, len);
}

int
nlpd_tag_model_load(nlpd_tag_model **out, const char *path)
{
    if (out == NULL || path == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    char *p = NULL;
    size_t len = 0;
    int rc = nlpd_read_file(path, (size_t)1 << 30, &p, &len);
    if (rc != 0)
        return rc == NLPD_EMSGSIZE ? NLPD_EMODEL : rc;
    rc = model_parse(out, (const unsigned char *)p, len);
    nlpd_free(p);
    if (rc == NLPD_EMODEL)
        NLPD_LOG(NLPD_LOG_ERR, "stage=tag model=%s msg=\"model file rejected\"", path);
    return rc;
}

int
nlpd_tag_model_load_builtin(nlpd_tag_model **out, const char *lang)
{
    if (out == NULL || lang == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    if (strcmp(lang, "en") != 0)
        return NLPD_EINVAL;
    return nlpd_tag_model_load_buffer(out, nlpd__tag_builtin_en, nlpd__tag_builtin_en_len);
}
