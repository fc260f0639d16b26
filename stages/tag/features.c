/* stages/tag/features.c — feature extraction, shared by the tagger and the
 * trainer.
 *
 * A document pass (nlpd__tag_fx_doc) reads every token once: hashes of
 * its form, lower-cased form, shapes, prefixes and suffixes, its word
 * cluster, gazetteer bits and pattern label, the casing of its sentence,
 * and whether its lower-cased form occurs elsewhere in the text in lower
 * case. nlpd__tag_fx_token then combines those of a token and its
 * neighbours into hashed feature rows without touching the text again.
 * Nothing here allocates except the document pass growing its arrays.
 * stages/tag/README.md lists the features.
 */
#include <string.h>

#include <utf8proc.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "tag_internal.h"

/* --- The document pass ----------------------------------------------------------- */

/* The class letter of a code point for the fine shapes. */
static char
shape_char(int32_t cp)
{
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z')
            return 'X';
        if (cp >= 'a' && cp <= 'z')
            return 'x';
        if (cp >= '0' && cp <= '9')
            return 'd';
        return (char)cp;
    }
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LT:
        return 'X';
    case UTF8PROC_CATEGORY_LL:
        return 'x';
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return 'l';
    case UTF8PROC_CATEGORY_ND:
        return 'd';
    default:
        return 'o';
    }
}

/* Fills the hashes of one token. */
static void
token_hashes(const nlpd_tag_model *m, const char *s, size_t n, nlpd__tag_tok *t)
{
    /* A token holds at most NLPD_SPLIT_MAX_TOKEN_BYTES bytes (split.h); a
     * longer one (from another tokenizer) is read up to that. */
    if (n > NLPD_SPLIT_MAX_TOKEN_BYTES)
        n = NLPD_SPLIT_MAX_TOKEN_BYTES;
    unsigned char low[4 * NLPD_SPLIT_MAX_TOKEN_BYTES + 4];
    size_t lowlen = 0;
    size_t cpoff[5] = {0, 0, 0, 0, 0}; /* ring: lower offsets of the last cps */
    uint64_t fs = NLPD__FNV_INIT, cs = NLPD__FNV_INIT;
    char last = 0;
    int run = 0;
    size_t ncp = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t p = 0; p < n;) {
        int32_t cp;
        size_t k;
        if (u[p] < 0x80) {
            cp = u[p];
            k = 1;
        } else {
            utf8proc_ssize_t r = utf8proc_iterate(u + p, (utf8proc_ssize_t)(n - p), &cp);
            if (r <= 0) {
                cp = 0xFFFD;
                k = 1;
            } else {
                k = (size_t)r;
            }
        }
        p += k;
        cpoff[ncp % 5] = lowlen;
        if (cp < 0x80) {
            low[lowlen++] = (unsigned char)((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
        } else {
            lowlen += (size_t)utf8proc_encode_char(utf8proc_tolower(cp), low + lowlen);
        }
        ncp++;
        if (ncp <= 4)
            t->pre[ncp - 1] = nlpd__fnv(NLPD__FNV_INIT, low, lowlen);
        char c = shape_char(cp);
        if (c != last) {
            cs = nlpd__fnv(cs, &c, 1);
            run = 0;
        }
        if (run < 4)
            fs = nlpd__fnv(fs, &c, 1);
        run++;
        last = c;
    }
    for (size_t k = ncp; k < 4; k++)
        t->pre[k] = t->pre[ncp ? ncp - 1 : 0];
    for (size_t k = 1; k <= 4; k++) {
        if (k <= ncp) {
            size_t off = cpoff[(ncp - k) % 5];
            t->suf[k - 1] = nlpd__fnv(NLPD__FNV_INIT, low + off, lowlen - off);
        } else {
            t->suf[k - 1] = t->suf[k - 2 < 4 ? k - 2 : 0];
        }
    }
    if (ncp == 0) {
        for (int k = 0; k < 4; k++)
            t->pre[k] = t->suf[k] = NLPD__FNV_INIT;
    }
    t->word = nlpd__fnv(NLPD__FNV_INIT, s, n);
    t->lower = nlpd__fnv(NLPD__FNV_INIT, low, lowlen);
    t->fshape = fs;
    t->cshape = cs;
    t->ncp = (uint8_t)(ncp > 255 ? 255 : ncp);
    t->cluster_len = nlpd__clusters_get(&m->clusters, t->word, &t->cluster);
    if (t->cluster_len == 0)
        t->cluster_len = nlpd__clusters_get(&m->clusters, t->lower, &t->cluster);
    t->emb_len = m->emb.n ? nlpd__clusters_get(&m->emb, t->lower, &t->emb) : 0;
}

static int
is_wordy(uint8_t shape)
{
    return shape == NLPD_SHAPE_LOWER || shape == NLPD_SHAPE_CAPITALIZED ||
           shape == NLPD_SHAPE_UPPER || shape == NLPD_SHAPE_MIXED;
}

/* The casing of the sentence [a, b): headline (title case), all caps or
 * normal. Only words of two or more letters count. */
static uint8_t
sentence_casing(const nlpd__tag_tok *t, size_t a, size_t b)
{
    size_t words = 0, lower = 0, upper = 0;
    for (size_t i = a; i < b; i++) {
        if (!is_wordy(t[i].shape) || t[i].ncp < 2)
            continue;
        words++;
        if (t[i].shape == NLPD_SHAPE_LOWER)
            lower++;
        else if (t[i].shape == NLPD_SHAPE_UPPER)
            upper++;
    }
    if (words >= 2 && upper == words)
        return NLPD__TAG_SENT_ALLCAPS;
    if (words >= 3 && lower * 4 <= words)
        return NLPD__TAG_SENT_TITLE;
    return NLPD__TAG_SENT_NORMAL;
}

static size_t
set_slot(const nlpd__tag_fx *fx, uint64_t key)
{
    size_t mask = fx->set_cap - 1;
    size_t j = (size_t)nlpd__mix64(key) & mask;
    while (fx->set_keys[j] != 0 && fx->set_keys[j] != key)
        j = (j + 1) & mask;
    return j;
}

void
nlpd__tag_fx_release(nlpd__tag_fx *fx)
{
    nlpd_free(fx->tok);
    nlpd_free(fx->set_keys);
    nlpd_free(fx->set_vals);
    nlpd_free(fx->gazbits);
#ifdef NLPD_TAG_HAVE_PATTERNS
    nlpd_free(fx->pm);
#endif
    nlpd_free(fx->patlab);
    memset(fx, 0, sizeof(*fx));
}

static int
fx_reserve(nlpd__tag_fx *fx, size_t n)
{
    if (nlpd_grow((void **)&fx->tok, &fx->tok_cap, n, sizeof(*fx->tok)) != 0)
        return NLPD_ENOMEM;
    if (nlpd_grow((void **)&fx->gazbits, &fx->gaz_cap, n, sizeof(*fx->gazbits)) != 0)
        return NLPD_ENOMEM;
    if (nlpd_grow((void **)&fx->patlab, &fx->patlab_cap, n, 1) != 0)
        return NLPD_ENOMEM;
#ifdef NLPD_TAG_HAVE_PATTERNS
    if (nlpd_grow((void **)&fx->pm, &fx->pm_cap, n, sizeof(*fx->pm)) != 0)
        return NLPD_ENOMEM;
#endif
    size_t want = 64;
    while (want < 2 * n)
        want *= 2;
    if (want > fx->set_cap) {
        uint64_t *k = nlpd_malloc(want * sizeof(*k));
        uint8_t *v = nlpd_malloc(want);
        if (k == NULL || v == NULL) {
            nlpd_free(k);
            nlpd_free(v);
            return NLPD_ENOMEM;
        }
        nlpd_free(fx->set_keys);
        nlpd_free(fx->set_vals);
        fx->set_keys = k;
        fx->set_vals = v;
        fx->set_cap = want;
    }
    return 0;
}

int
nlpd__tag_fx_doc(nlpd__tag_fx *fx, const nlpd_tag_model *m, const char *text,
                 const nlpd_split_token *tok, size_t n_tokens, const nlpd_split_sentence *sen,
                 size_t n_sentences)
{
    int rc = fx_reserve(fx, n_tokens);
    if (rc != 0)
        return rc;
    nlpd__tag_tok *t = fx->tok;
    memset(t, 0, n_tokens * sizeof(*t));
    memset(fx->gazbits, 0, n_tokens * sizeof(*fx->gazbits));
    memset(fx->patlab, 0, n_tokens);
    size_t set_cap = 64;
    while (set_cap < 2 * n_tokens)
        set_cap *= 2;
    /* Use only as much of the set as this text needs: clearing is linear
     * in the text, not in the largest text seen. */
    size_t full_cap = fx->set_cap;
    fx->set_cap = set_cap;
    memset(fx->set_keys, 0, set_cap * sizeof(*fx->set_keys));
    memset(fx->set_vals, 0, set_cap);
    for (size_t i = 0; i < n_tokens; i++) {
        token_hashes(m, text + tok[i].start, tok[i].end - tok[i].start, &t[i]);
        t[i].shape = tok[i].shape;
        t[i].flags = tok[i].flags;
    }
    fx->n_pm = 0;
    for (size_t s = 0; s < n_sentences; s++) {
        size_t a = sen[s].first_token, b = a + sen[s].n_tokens;
        uint8_t casing = sentence_casing(t, a, b);
        for (size_t i = a; i < b; i++) {
            t[i].sent = casing;
            t[i].pos = (uint8_t)(i - a < 2 ? i - a : 2);
            uint8_t bit = 0;
            if (t[i].shape == NLPD_SHAPE_LOWER)
                bit = NLPD__TAG_DOC_SEEN_LOWER;
            else if (t[i].shape == NLPD_SHAPE_CAPITALIZED && i > a &&
                     casing == NLPD__TAG_SENT_NORMAL)
                bit = NLPD__TAG_DOC_SEEN_CAP;
            if (bit != 0) {
                size_t j = set_slot(fx, t[i].lower);
                fx->set_keys[j] = t[i].lower;
                fx->set_vals[j] |= bit;
            }
        }
#ifdef NLPD_TAG_HAVE_GAZETTEER
        if (m->gaz != NULL)
            nlpd__gaz_match(m->gaz, text, tok + a, b - a, fx->gazbits + a);
#endif
#ifdef NLPD_TAG_HAVE_PATTERNS
        size_t np = nlpd__patterns_match(text, tok + a, b - a, 1, fx->pm + fx->n_pm);
        /* The matches are entities whatever the model; they are features
         * only for a model trained with them. */
        int feats = (m->features & NLPD__TAG_F_PATTERNS) != 0;
        for (size_t k = 0; k < np; k++) {
            nlpd__pattern_match *pm = &fx->pm[fx->n_pm + k];
            pm->first_token += (uint32_t)a;
            for (size_t j = 0; feats && j < pm->n_tokens; j++)
                fx->patlab[pm->first_token + j] = pm->label;
        }
        fx->n_pm += np;
#endif
    }
    for (size_t i = 0; i < n_tokens; i++) {
        size_t j = set_slot(fx, t[i].lower);
        t[i].doc = fx->set_keys[j] == t[i].lower ? fx->set_vals[j] : 0;
        t[i].gaz = fx->gazbits[i];
        t[i].pat = fx->patlab[i];
    }
    fx->set_cap = full_cap;
    return 0;
}

/* --- Features of one token ------------------------------------------------------------ */

/* Feature templates: each is a small number mixed into the value's hash. */
enum {
    T_BIAS = 1,
    T_WORD,
    T_LOWER,
    T_SHAPE,
    T_FSHAPE,
    T_CSHAPE,
    T_PRE1,
    T_SUF1 = T_PRE1 + 4,
    T_LOWER_M2 = T_SUF1 + 4,
    T_LOWER_M1,
    T_LOWER_P1,
    T_LOWER_P2,
    T_SHAPE_M2,
    T_SHAPE_M1,
    T_SHAPE_P1,
    T_SHAPE_P2,
    T_CSHAPE_M1,
    T_CSHAPE_P1,
    T_POS_SHAPE,
    T_CASING_SHAPE,
    T_DOC,
    T_FLAGS,
    T_GAZ,
    T_GAZ_M1,
    T_GAZ_P1,
    T_CL4,
    T_CL6,
    T_CL10,
    T_CL20,
    T_CL6_M1,
    T_CL6_P1,
    T_CL10_M1,
    T_CL10_P1,
    T_PAT,
    T_PAT_M1,
    T_PAT_P1,
    T_BI_M1,     /* lower(-1) lower(0) */
    T_BI_P1,     /* lower(0) lower(+1) */
    T_SHAPE3,    /* shapes -1 0 +1 */
    T_LOWM1_SH,  /* lower(-1) shape(0) */
    T_SH_LOWP1,  /* shape(0) lower(+1) */
    T_LEN,
    T_EM4,
    T_EM8,
    T_EM12,
    T_EM16,
    T_EM8_M1,
    T_EM8_P1,
    T_EM12_M1,
    T_EM12_P1,
};

#define BOS_HASH 0x5bd1e9955bd1e995ull
#define EOS_HASH 0x2545f4914f6cdd1dull

static inline uint32_t
feat(const nlpd_tag_model *m, uint64_t tmpl, uint64_t v)
{
    return (uint32_t)(nlpd__mix64(v ^ (tmpl * 0x9e3779b97f4a7c15ull)) >> (64 - m->hash_bits));
}

static inline uint64_t
pair(uint64_t a, uint64_t b)
{
    return nlpd__mix64(a) ^ (b * 0xff51afd7ed558ccdull);
}

size_t
nlpd__tag_fx_token(const nlpd__tag_fx *fx, const nlpd_tag_model *m, size_t a, size_t b,
                   size_t i, uint32_t *out)
{
    const nlpd__tag_tok *t = fx->tok;
    const nlpd__tag_tok *c = &t[i];
    const nlpd__tag_tok *p1 = i > a ? &t[i - 1] : NULL;
    const nlpd__tag_tok *p2 = i > a + 1 ? &t[i - 2] : NULL;
    const nlpd__tag_tok *n1 = i + 1 < b ? &t[i + 1] : NULL;
    const nlpd__tag_tok *n2 = i + 2 < b ? &t[i + 2] : NULL;
    size_t k = 0;
    /* In an all-caps or title-case sentence, the exact form says little
     * about a word's being a name; its lower-cased form still says what
     * word it is. */
    int plain = c->sent == NLPD__TAG_SENT_NORMAL;

    out[k++] = feat(m, T_BIAS, 0);
    out[k++] = feat(m, T_WORD, c->word ^ (uint64_t)plain);
    out[k++] = feat(m, T_LOWER, c->lower);
    out[k++] = feat(m, T_SHAPE, c->shape);
    out[k++] = feat(m, T_FSHAPE, c->fshape);
    out[k++] = feat(m, T_CSHAPE, c->cshape);
    for (uint64_t j = 0; j < 4; j++) {
        out[k++] = feat(m, T_PRE1 + j, c->pre[j]);
        out[k++] = feat(m, T_SUF1 + j, c->suf[j]);
    }
    out[k++] = feat(m, T_LOWER_M2, p2 ? p2->lower : BOS_HASH);
    out[k++] = feat(m, T_LOWER_M1, p1 ? p1->lower : BOS_HASH);
    out[k++] = feat(m, T_LOWER_P1, n1 ? n1->lower : EOS_HASH);
    out[k++] = feat(m, T_LOWER_P2, n2 ? n2->lower : EOS_HASH);
    out[k++] = feat(m, T_SHAPE_M2, p2 ? p2->shape : 99);
    out[k++] = feat(m, T_SHAPE_M1, p1 ? p1->shape : 99);
    out[k++] = feat(m, T_SHAPE_P1, n1 ? n1->shape : 99);
    out[k++] = feat(m, T_SHAPE_P2, n2 ? n2->shape : 99);
    out[k++] = feat(m, T_CSHAPE_M1, p1 ? p1->cshape : BOS_HASH);
    out[k++] = feat(m, T_CSHAPE_P1, n1 ? n1->cshape : EOS_HASH);
    out[k++] = feat(m, T_POS_SHAPE, (uint64_t)c->pos * 32 + c->shape);
    out[k++] = feat(m, T_CASING_SHAPE, (uint64_t)c->sent * 32 + c->shape);
    if (c->shape == NLPD_SHAPE_CAPITALIZED || c->shape == NLPD_SHAPE_UPPER ||
        c->shape == NLPD_SHAPE_MIXED)
        out[k++] = feat(m, T_DOC,
                        (((uint64_t)c->doc * 4 + c->sent) * 4 + (c->pos ? 1u : 0u)) * 32 +
                            c->shape);
    out[k++] = feat(m, T_FLAGS, c->flags & (NLPD_TOKEN_SPACE_AFTER | NLPD_TOKEN_CLITIC |
                                            NLPD_TOKEN_ABBREV));
    out[k++] = feat(m, T_LEN, c->ncp > 12 ? 12 : c->ncp);
    /* Gazetteer bits of the token and its neighbours (a few classes each). */
    uint64_t gm = m->gaz_feat_mask;
    for (uint64_t bits = c->gaz & gm; bits != 0 && k < NLPD__TAG_MAX_FEATS - 40; bits &= bits - 1)
        out[k++] = feat(m, T_GAZ, (uint64_t)__builtin_ctzll(bits));
    if (p1)
        for (uint64_t bits = p1->gaz & gm; bits != 0 && k < NLPD__TAG_MAX_FEATS - 36;
             bits &= bits - 1)
            out[k++] = feat(m, T_GAZ_M1, (uint64_t)__builtin_ctzll(bits));
    if (n1)
        for (uint64_t bits = n1->gaz & gm; bits != 0 && k < NLPD__TAG_MAX_FEATS - 32;
             bits &= bits - 1)
            out[k++] = feat(m, T_GAZ_P1, (uint64_t)__builtin_ctzll(bits));
    /* Word cluster path prefixes. */
    if (c->cluster_len) {
        static const uint8_t plen[4] = {4, 6, 10, 20};
        for (int j = 0; j < 4; j++) {
            uint32_t l = plen[j] < c->cluster_len ? plen[j] : c->cluster_len;
            out[k++] = feat(m, (uint64_t)(T_CL4 + j), ((uint64_t)l << 32) |
                                                          (c->cluster >> (32 - l)));
        }
    }
    if (p1 && p1->cluster_len) {
        uint32_t l6 = p1->cluster_len < 6 ? p1->cluster_len : 6;
        uint32_t l10 = p1->cluster_len < 10 ? p1->cluster_len : 10;
        out[k++] = feat(m, T_CL6_M1, ((uint64_t)l6 << 32) | (p1->cluster >> (32 - l6)));
        out[k++] = feat(m, T_CL10_M1, ((uint64_t)l10 << 32) | (p1->cluster >> (32 - l10)));
    }
    if (n1 && n1->cluster_len) {
        uint32_t l6 = n1->cluster_len < 6 ? n1->cluster_len : 6;
        uint32_t l10 = n1->cluster_len < 10 ? n1->cluster_len : 10;
        out[k++] = feat(m, T_CL6_P1, ((uint64_t)l6 << 32) | (n1->cluster >> (32 - l6)));
        out[k++] = feat(m, T_CL10_P1, ((uint64_t)l10 << 32) | (n1->cluster >> (32 - l10)));
    }
    /* Embedding class path prefixes. */
    if (c->emb_len) {
        static const uint8_t plen[4] = {4, 8, 12, 16};
        for (int j = 0; j < 4; j++) {
            uint32_t l = plen[j] < c->emb_len ? plen[j] : c->emb_len;
            out[k++] = feat(m, (uint64_t)(T_EM4 + j), ((uint64_t)l << 32) | (c->emb >> (32 - l)));
        }
    }
    if (p1 && p1->emb_len) {
        uint32_t l8 = p1->emb_len < 8 ? p1->emb_len : 8;
        uint32_t l12 = p1->emb_len < 12 ? p1->emb_len : 12;
        out[k++] = feat(m, T_EM8_M1, ((uint64_t)l8 << 32) | (p1->emb >> (32 - l8)));
        out[k++] = feat(m, T_EM12_M1, ((uint64_t)l12 << 32) | (p1->emb >> (32 - l12)));
    }
    if (n1 && n1->emb_len) {
        uint32_t l8 = n1->emb_len < 8 ? n1->emb_len : 8;
        uint32_t l12 = n1->emb_len < 12 ? n1->emb_len : 12;
        out[k++] = feat(m, T_EM8_P1, ((uint64_t)l8 << 32) | (n1->emb >> (32 - l8)));
        out[k++] = feat(m, T_EM12_P1, ((uint64_t)l12 << 32) | (n1->emb >> (32 - l12)));
    }
    /* Pattern labels (dates, money...): a name seldom overlaps one. */
    if (c->pat)
        out[k++] = feat(m, T_PAT, c->pat);
    if (p1 && p1->pat)
        out[k++] = feat(m, T_PAT_M1, p1->pat);
    if (n1 && n1->pat)
        out[k++] = feat(m, T_PAT_P1, n1->pat);
    /* Conjunctions. */
    out[k++] = feat(m, T_BI_M1, pair(p1 ? p1->lower : BOS_HASH, c->lower));
    out[k++] = feat(m, T_BI_P1, pair(c->lower, n1 ? n1->lower : EOS_HASH));
    out[k++] = feat(m, T_SHAPE3, ((uint64_t)(p1 ? p1->shape : 99) * 128 + c->shape) * 128 +
                                     (n1 ? n1->shape : 99));
    out[k++] = feat(m, T_LOWM1_SH, pair(p1 ? p1->lower : BOS_HASH, c->shape));
    out[k++] = feat(m, T_SH_LOWP1, pair(c->shape, n1 ? n1->lower : EOS_HASH));
    return k;
}
