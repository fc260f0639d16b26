/* stages/summarize/summarize.c — the summarizer: features, scores, and
 * selection by maximal marginal relevance under a budget (see
 * include/nlpd/summarize.h for what each feature is).
 *
 * Layout of one run. Every term of the document gets a local id through an
 * open-addressing table keyed by its hash (generation-stamped, so it is
 * never cleared). A candidate sentence is a run of postings (term id, unit
 * TF-IDF weight). Everything that compares sentences works over postings
 * and dense arrays indexed by term id, so a run costs O(postings) per
 * PageRank step and per MMR step: no n x n matrix exists.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "summarize_internal.h"

/* Term scanning has a second build for x86-64 machines with AVX2, popcnt
 * and BMI1/2, chosen at run time (-DNLPD_SUMMARIZE_NO_BMI leaves it out,
 * to test the baseline path on such a machine). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(NLPD_SUMMARIZE_NO_BMI)
#define SUM_BMI 1
#include <immintrin.h>
#else
#define SUM_BMI 0
#endif

enum { ROLE_NONE = 0, ROLE_CAND = 1, ROLE_TITLE = 2, ROLE_LEDE = 3 };

enum { F_CENTRALITY, F_CENTROID, F_POSITION, F_TITLE, F_LEDE, F_ENTITY, F_LENGTH };

#define PAGERANK_STEPS   3 /* as good on dev as 24 steps; 2 lose 0.004 RL */
#define PAGERANK_DAMPING 0.85f
#define MMR_POOL         256 /* MMR looks at the best this many candidates */
#define MMR_STEPS        64  /* ...for this many choices; then by score */

/* A u64 -> u32 table with generation stamps (cleared by bumping gen); a
 * slot is one 16-byte record, so a probe touches one cache line. */
typedef struct tslot {
    uint64_t key;
    uint32_t val;
    uint32_t gen;
} tslot;

typedef struct table {
    tslot *slots;
    size_t mask;
    size_t used;
    uint32_t cur;
} table;

/* What a run keeps of a term of the document. */
typedef struct vterm {
    float idf;
    uint32_t last; /* the last sentence that had it */
    uint32_t slot; /* its posting in that sentence */
    uint32_t df;   /* the candidates that have it */
} vterm;

typedef struct ranked {
    float score;
    uint32_t i;
} ranked;

struct nlpd_summarizer {
    const nlpd_summarize_model *model;
    nlpd_summarize_weights w;

    /* Per sentence (cap_s). */
    size_t cap_s;
    uint8_t *role;
    uint8_t *chosen;
    uint32_t *words;
    uint32_t *post_lo; /* postings of sentence i: [post_lo[i], post_lo[i] + post_n[i]) */
    uint32_t *post_n;
    uint32_t *rep; /* the first candidate with the same content */
    uint32_t *cand_k;
    float *feat; /* NLPD_SUMMARIZE_N_FEATURES per sentence */
    float *score;
    float *pr, *pr_next, *deg;
    uint32_t *selected;
    ranked *order;
    size_t n_s, n_selected;

    /* Postings. */
    uint32_t *post_term;
    float *post_w;
    size_t n_post, cap_post;
    /* The shared postings of candidate i, those of terms that another
     * candidate has too, in the same order: [sh_lo[i], sh_lo[i] + sh_n[i])
     * (sh_lo, sh_n: cap_s), and self_w[i] the sum of their squared
     * weights. Only they link two sentences, in the graph and in MMR. */
    uint32_t *sh_term, *sh_lo, *sh_n;
    float *sh_w, *self_w;

    /* Vocabulary (cap_v), through `vocab`. */
    table vocab;
    size_t n_v, cap_v;
    vterm *v_term;
    float *v_acc, *v_cent, *v_title, *v_lede;
    size_t title_hi, lede_hi; /* v_title, v_lede are 0 from these ids on */

    /* Content hashes (repeats) and entities. */
    table dup;
    table ents;
    uint32_t *ent_count;
    float *ent_log; /* log(1 + ent_count) */
    uint32_t *m_sent, *m_ent;
    size_t cap_e, cap_ec;

    /* MMR pool. */
    float *maxsim;
    uint32_t *upto; /* the chosen sentences maxsim[c] accounts for */

    size_t text_words; /* of the whole text */
    int bmi;           /* scan_terms_bmi runs here */
    uint64_t *scratch; /* the term hashes of one sentence, title or lede */
    size_t cap_scratch;
};

/* --- Tables ------------------------------------------------------------------ */

static int
table_reserve(table *t, size_t n)
{
    size_t cap = 64;
    while (cap < 2 * n + 2)
        cap *= 2;
    if (t->slots != NULL && cap <= t->mask + 1) {
        if (++t->cur == 0) { /* wrapped: clear for real */
            for (size_t i = 0; i <= t->mask; i++)
                t->slots[i].gen = 0;
            t->cur = 1;
        }
        t->used = 0;
        return 0;
    }
    tslot *sl = nlpd_calloc(cap, sizeof(*sl));
    if (sl == NULL)
        return NLPD_ENOMEM;
    nlpd_free(t->slots);
    t->slots = sl;
    t->mask = cap - 1;
    t->cur = 1;
    t->used = 0;
    return 0;
}

/* Returns the slot of h; *found says whether it held h (else it is free,
 * and the caller fills it with table_put). */
static inline size_t
table_find(const table *t, uint64_t h, int *found)
{
    size_t i = (size_t)h & t->mask;
    while (t->slots[i].gen == t->cur) {
        if (t->slots[i].key == h) {
            *found = 1;
            return i;
        }
        i = (i + 1) & t->mask;
    }
    *found = 0;
    return i;
}

static inline void
table_put(table *t, size_t i, uint64_t h, uint32_t v)
{
    t->slots[i] = (tslot){h, v, t->cur};
    t->used++;
}

/* Doubles a table, keeping its entries. Returns 0 or NLPD_ENOMEM. */
static int
table_grow(table *t)
{
    size_t cap = 2 * (t->mask + 1);
    tslot *sl = nlpd_calloc(cap, sizeof(*sl));
    if (sl == NULL)
        return NLPD_ENOMEM;
    table old = *t;
    t->slots = sl;
    t->mask = cap - 1;
    t->cur = 1;
    t->used = 0;
    for (size_t i = 0; i <= old.mask; i++) {
        if (old.slots[i].gen != old.cur)
            continue;
        int found;
        size_t j = table_find(t, old.slots[i].key, &found);
        table_put(t, j, old.slots[i].key, old.slots[i].val);
    }
    nlpd_free(old.slots);
    return 0;
}

static void
table_free(table *t)
{
    nlpd_free(t->slots);
    memset(t, 0, sizeof(*t));
}

/* --- Weights and budgets ------------------------------------------------------ */

nlpd_summarize_weights
nlpd_summarize_weights_default(void)
{
    /* Tuned on the dev sets (stages/summarize/README.md, "Weights"). */
    nlpd_summarize_weights w = {
        .centrality = 5.0f,
        .centroid = 3.0f,
        .position = 0.5f,
        .title = 0.0f,
        .lede = 0.5f,
        .entity = 0.2f,
        .length = 3.0f,
        .length_words = 0.0f,
        .redundancy = 0.1f,
        .position_scale = 0.5f,
    };
    return w;
}

static int
weights_ok(const nlpd_summarize_weights *w)
{
    const float v[] = {w->centrality, w->centroid,      w->position, w->title,
                       w->lede,       w->entity,        w->length,   w->length_words,
                       w->redundancy, w->position_scale};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        if (!isfinite(v[i]))
            return 0;
    return w->position_scale > 0.0f && w->redundancy >= 0.0f;
}

static void
say(char *why, size_t why_len, const char *msg)
{
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "%s", msg);
}

int
nlpd_summarize_check_budget(const nlpd_summarize_budget *b, char *why, size_t why_len)
{
    if (b == NULL)
        return 0;
    int set = (b->sentences != 0) + (b->words != 0) + (b->ratio != 0.0);
    if (b->ratio != 0.0 && !(b->ratio > 0.0 && b->ratio <= 1.0)) {
        say(why, why_len, "summary_ratio must be a number in (0, 1]");
        return NLPD_EINVAL;
    }
    if (set > 1) {
        say(why, why_len,
            "give one budget: summary_sentences, summary_words or summary_ratio, not several");
        return NLPD_EINVAL;
    }
    if (b->sentences > NLPD_SUMMARIZE_MAX_SENTENCES) {
        say(why, why_len, "summary_sentences is larger than 100000");
        return NLPD_EINVAL;
    }
    if (b->words > NLPD_SUMMARIZE_MAX_WORDS) {
        say(why, why_len, "summary_words is larger than 100000000");
        return NLPD_EINVAL;
    }
    return 0;
}

/* --- Life cycle ------------------------------------------------------------------ */

int
nlpd_summarizer_new(nlpd_summarizer **out, const nlpd_summarize_model *model,
                    const nlpd_summarize_weights *weights)
{
    if (out == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    if (model == NULL)
        return NLPD_EINVAL;
    nlpd_summarize_weights w = weights != NULL ? *weights : nlpd_summarize_weights_default();
    if (!weights_ok(&w))
        return NLPD_EINVAL;
    nlpd_summarizer *s = nlpd_calloc(1, sizeof(*s));
    if (s == NULL)
        return NLPD_ENOMEM;
    s->model = model;
    s->w = w;
#if SUM_BMI
    s->bmi = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
             __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
#endif
    *out = s;
    return 0;
}

void
nlpd_summarizer_free(nlpd_summarizer **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_summarizer *s = *self_p;
    void *arrays[] = {s->role,     s->chosen,  s->words,     s->post_lo,   s->post_n,  s->rep,
                      s->cand_k,   s->feat,    s->score,     s->pr,        s->pr_next, s->deg,
                      s->selected, s->order,   s->post_term, s->post_w,    s->v_term,  s->v_acc,
                      s->v_cent,   s->v_title, s->v_lede,    s->ent_count, s->m_sent,  s->m_ent,   s->ent_log,
                      s->maxsim,   s->upto,    s->scratch,   s->sh_term,   s->sh_lo,
                      s->sh_n,     s->sh_w,    s->self_w};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        nlpd_free(arrays[i]);
    table_free(&s->vocab);
    table_free(&s->dup);
    table_free(&s->ents);
    nlpd_free(s);
    *self_p = NULL;
}

/* Grows each array of `list` (n of them, elements of the given sizes) to
 * `cap` elements. Returns 0 or NLPD_ENOMEM (arrays already grown stay). */
static int
grow_all(void **const *list, const size_t *elem, size_t n, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        void *p = nlpd_realloc(*list[i], cap * elem[i] + 1);
        if (p == NULL)
            return NLPD_ENOMEM;
        *list[i] = p;
    }
    return 0;
}

static int
reserve_sentences(nlpd_summarizer *s, size_t n)
{
    if (n <= s->cap_s)
        return 0;
    size_t cap = s->cap_s ? s->cap_s : 64;
    while (cap < n)
        cap *= 2;
    void **const list[] = {(void **)&s->role,    (void **)&s->chosen, (void **)&s->words,
                           (void **)&s->post_lo, (void **)&s->post_n, (void **)&s->rep,
                           (void **)&s->cand_k,  (void **)&s->score,  (void **)&s->pr,
                           (void **)&s->pr_next, (void **)&s->deg,    (void **)&s->selected,
                           (void **)&s->order,   (void **)&s->maxsim, (void **)&s->upto,
                           (void **)&s->sh_lo,   (void **)&s->sh_n,   (void **)&s->self_w};
    const size_t elem[] = {1,
                           1,
                           sizeof(uint32_t),
                           sizeof(uint32_t),
                           sizeof(uint32_t),
                           sizeof(uint32_t),
                           sizeof(uint32_t),
                           sizeof(float),
                           sizeof(float),
                           sizeof(float),
                           sizeof(float),
                           sizeof(uint32_t),
                           sizeof(ranked),
                           sizeof(float),
                           sizeof(uint32_t),
                           sizeof(uint32_t),
                           sizeof(uint32_t),
                           sizeof(float)};
    int rc = grow_all(list, elem, sizeof(elem) / sizeof(elem[0]), cap);
    if (rc == 0) {
        float *f = nlpd_realloc(s->feat, cap * NLPD_SUMMARIZE_N_FEATURES * sizeof(float));
        if (f == NULL)
            return NLPD_ENOMEM;
        s->feat = f;
        s->cap_s = cap;
    }
    return rc;
}

static int
reserve_vocab(nlpd_summarizer *s, size_t n)
{
    if (n <= s->cap_v)
        return 0;
    size_t cap = s->cap_v ? s->cap_v : 256;
    while (cap < n)
        cap *= 2;
    void **const list[] = {(void **)&s->v_term, (void **)&s->v_acc, (void **)&s->v_cent,
                           (void **)&s->v_title, (void **)&s->v_lede};
    const size_t elem[] = {sizeof(vterm), sizeof(float), sizeof(float), sizeof(float),
                           sizeof(float)};
    int rc = grow_all(list, elem, sizeof(elem) / sizeof(elem[0]), cap);
    if (rc == 0)
        s->cap_v = cap;
    return rc;
}

static int
reserve_postings(nlpd_summarizer *s, size_t n)
{
    if (n <= s->cap_post)
        return 0;
    size_t cap = s->cap_post ? s->cap_post : 1024;
    while (cap < n)
        cap *= 2;
    void **const list[] = {(void **)&s->post_term, (void **)&s->post_w, (void **)&s->sh_term,
                           (void **)&s->sh_w};
    const size_t elem[] = {sizeof(uint32_t), sizeof(float), sizeof(uint32_t), sizeof(float)};
    int rc = grow_all(list, elem, 4, cap);
    if (rc == 0)
        s->cap_post = cap;
    return rc;
}

/* --- Terms ------------------------------------------------------------------------ */

/* Makes room for n more terms in the vocabulary (its table at most half
 * full). Returns 0 or NLPD_ENOMEM. */
static int
reserve_terms(nlpd_summarizer *s, size_t n)
{
    if (s->n_v + n > s->cap_v && reserve_vocab(s, s->n_v + n) != 0)
        return NLPD_ENOMEM;
    while (2 * (s->vocab.used + n) > s->vocab.mask + 1)
        if (table_grow(&s->vocab) != 0)
            return NLPD_ENOMEM;
    return 0;
}

/* Adds term hash h, not in the vocabulary, at `slot` (from table_find),
 * with room made by reserve_terms. Returns its id. */
static uint32_t
term_add(nlpd_summarizer *s, size_t slot, uint64_t h)
{
    uint32_t id = (uint32_t)s->n_v++;
    table_put(&s->vocab, slot, h, id);
    s->v_term[id] = (vterm){nlpd__sum_model_idf_hash(s->model, h), UINT32_MAX, 0, 0};
    s->v_acc[id] = 0.0f;
    s->v_cent[id] = 0.0f;
    s->v_title[id] = 0.0f;
    s->v_lede[id] = 0.0f;
    return id;
}

/* The local id of term hash h, added to the vocabulary when new (room
 * made by reserve_terms). */
static inline uint32_t
term_id(nlpd_summarizer *s, uint64_t h)
{
    int found;
    size_t slot = table_find(&s->vocab, h, &found);
    if (found)
        return s->vocab.slots[slot].val;
    return term_add(s, slot, h);
}

/* The set bits of x (a call into libgcc when the target has no popcnt
 * instruction, as the x86-64 baseline has not). */
static inline size_t
popcount64(uint64_t x)
{
#if defined(__POPCNT__)
    return (size_t)__builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (size_t)((x * 0x0101010101010101ull) >> 56);
#endif
}

/* The term and whitespace bits of n <= 64 bytes at p: bit i of *term is
 * set when p[i] is an ASCII letter or digit, of *space when it is ASCII
 * whitespace. `room` (>= n) bytes at p may be read. */
static inline void
classify64(const unsigned char *p, size_t n, size_t room, uint64_t *term, uint64_t *space)
{
#if defined(__SSE2__)
    unsigned char tail[64];
    if (room < 64) { /* fewer than 64 bytes may be read: a copy */
        memset(tail, 0, sizeof(tail));
        memcpy(tail, p, n);
        p = tail;
    }
    const __m128i bias = _mm_set1_epi8((char)0x80);
    const __m128i lo = _mm_set1_epi8(0x20), a = _mm_set1_epi8('a'), zero = _mm_set1_epi8('0');
    const __m128i n26 = _mm_set1_epi8((char)(26 - 128)), n10 = _mm_set1_epi8((char)(10 - 128));
    const __m128i tab = _mm_set1_epi8(9), n5 = _mm_set1_epi8((char)(5 - 128));
    uint64_t t = 0, sp = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i letter =
            _mm_cmplt_epi8(_mm_xor_si128(_mm_sub_epi8(_mm_or_si128(v, lo), a), bias), n26);
        __m128i digit = _mm_cmplt_epi8(_mm_xor_si128(_mm_sub_epi8(v, zero), bias), n10);
        __m128i ctl = _mm_cmplt_epi8(_mm_xor_si128(_mm_sub_epi8(v, tab), bias), n5);
        __m128i blank = _mm_cmpeq_epi8(v, lo);
        t |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_or_si128(letter, digit)) << (16 * k);
        sp |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_or_si128(ctl, blank)) << (16 * k);
    }
    uint64_t valid = n >= 64 ? ~0ull : (1ull << n) - 1;
    *term = t & valid;
    *space = sp & valid;
#else
    (void)room;
    uint64_t t = 0, sp = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = nlpd__sum_class[p[i]];
        t |= (uint64_t)(c & NLPD__SUM_TERM) << i;
        sp |= (uint64_t)((c >> 1) & 1u) << i;
    }
    *term = t;
    *space = sp;
#endif
}

#if SUM_BMI
/* classify64 32 bytes at a time (not always_inline: the baseline build of
 * scan_terms_body calls it on a dead branch; the AVX2 build inlines it). */
static __attribute__((target("avx2"))) void
classify64_avx2(const unsigned char *p, size_t n, size_t room, uint64_t *term, uint64_t *space)
{
    unsigned char tail[64];
    if (room < 64) { /* fewer than 64 bytes may be read: a copy */
        memset(tail, 0, sizeof(tail));
        memcpy(tail, p, n);
        p = tail;
    }
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    const __m256i lo = _mm256_set1_epi8(0x20), a = _mm256_set1_epi8('a');
    const __m256i zero = _mm256_set1_epi8('0'), tab = _mm256_set1_epi8(9);
    const __m256i n26 = _mm256_set1_epi8((char)(26 - 128)), n10 = _mm256_set1_epi8((char)(10 - 128));
    const __m256i n5 = _mm256_set1_epi8((char)(5 - 128));
    uint64_t t = 0, sp = 0;
    for (int k = 0; k < 2; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * k));
        __m256i letter = _mm256_cmpgt_epi8(
            n26, _mm256_xor_si256(_mm256_sub_epi8(_mm256_or_si256(v, lo), a), bias));
        __m256i digit = _mm256_cmpgt_epi8(n10, _mm256_xor_si256(_mm256_sub_epi8(v, zero), bias));
        __m256i ctl = _mm256_cmpgt_epi8(n5, _mm256_xor_si256(_mm256_sub_epi8(v, tab), bias));
        __m256i blank = _mm256_cmpeq_epi8(v, lo);
        t |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_or_si256(letter, digit)) << (32 * k);
        sp |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_or_si256(ctl, blank)) << (32 * k);
    }
    uint64_t valid = n >= 64 ? ~0ull : (1ull << n) - 1;
    *term = t & valid;
    *space = sp & valid;
}
#endif

/* Writes the hashes of the terms of [p, end) to out (room for
 * max_terms(end - p) of them) and returns their number; *words gets the
 * number of whitespace-separated words. 64 bytes at a time: the byte
 * classes as bit masks, then a word starts where a non-blank follows a
 * blank, and each run of term bits is one term. */
static inline __attribute__((always_inline)) size_t
scan_terms_body(const char *text, const char *end, const char *limit, uint64_t *out,
                uint32_t *words, int bmi)
{
    const unsigned char *p = (const unsigned char *)text, *e = (const unsigned char *)end;
    size_t readable = (size_t)(limit - text); /* >= end - text */
    size_t n = 0;
    uint32_t w = 0;
    uint64_t prev_word = 0, prev_term = 0; /* the last byte of the previous block */
    for (size_t off = 0; off < (size_t)(e - p); off += 64) {
        size_t len = (size_t)(e - p) - off < 64 ? (size_t)(e - p) - off : 64;
        uint64_t tm, sm;
#if SUM_BMI
        if (bmi)
            classify64_avx2(p + off, len, readable - off, &tm, &sm);
        else
#endif
            classify64(p + off, len, readable - off, &tm, &sm);
        uint64_t valid = len >= 64 ? ~0ull : (1ull << len) - 1;
        uint64_t word = ~sm & valid;
        uint64_t word_starts = word & ~((word << 1) | prev_word);
        w += (uint32_t)(bmi ? (size_t)__builtin_popcountll(word_starts) : popcount64(word_starts));
        prev_word = word >> 63;
        uint64_t starts = tm & ~((tm << 1) | prev_term);
        prev_term = tm >> 63;
        while (starts != 0) {
            unsigned b = (unsigned)__builtin_ctzll(starts);
            starts &= starts - 1;
            uint64_t rest = ~tm >> b; /* the first non-term bit at or after b ends it */
            size_t t0 = off + b, t1;
            if (rest != 0) {
                t1 = t0 + (size_t)__builtin_ctzll(rest);
            } else { /* runs into the next block */
                t1 = off + 64;
                while (p + t1 < e && (nlpd__sum_class[p[t1]] & NLPD__SUM_TERM))
                    t1++;
            }
            out[n++] =
                nlpd__sum_term_hash_room((const char *)p + t0, t1 - t0, readable - t0);
        }
    }
    *words = w;
    return n;
}

/* scan_terms_body for any x86-64 (or other) machine... */
static size_t
scan_terms_base(const char *text, const char *end, const char *limit, uint64_t *out,
                uint32_t *words)
{
    return scan_terms_body(text, end, limit, out, words, 0);
}

#if SUM_BMI
/* ...and the same compiled for AVX2, popcnt, BMI1 and BMI2 (32 bytes a
 * compare; tzcnt, blsr, shrx: a term costs fewer instructions), when the
 * machine has them. */
static __attribute__((target("avx2,popcnt,bmi,bmi2"))) size_t
scan_terms_bmi(const char *text, const char *end, const char *limit, uint64_t *out,
               uint32_t *words)
{
    return scan_terms_body(text, end, limit, out, words, 1);
}
#endif

/* scan_terms_body by the summarizer's machine. */
static size_t
scan_terms(const nlpd_summarizer *s, const char *text, const char *end, const char *limit,
           uint64_t *out, uint32_t *words)
{
#if SUM_BMI
    if (s->bmi)
        return scan_terms_bmi(text, end, limit, out, words);
#else
    (void)s;
#endif
    return scan_terms_base(text, end, limit, out, words);
}

/* An upper bound of the terms of [p, end): a term and what ends it take
 * two bytes, but for the last one. */
static size_t
max_terms(size_t len)
{
    return len / 2 + 1;
}

/* Counts the terms and the whitespace-separated words of [text, end). */
static size_t
count_terms_words(const char *text, const char *end, size_t *words)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t n = (size_t)(end - text), w = 0, t = 0;
    uint64_t prev_w = 0, prev_t = 0;
    for (size_t off = 0; off < n; off += 64) {
        size_t len = n - off < 64 ? n - off : 64;
        uint64_t tm, sm;
        classify64(p + off, len, n - off, &tm, &sm);
        uint64_t word = ~sm & (len >= 64 ? ~0ull : (1ull << len) - 1);
        w += popcount64(word & ~((word << 1) | prev_w));
        t += popcount64(tm & ~((tm << 1) | prev_t));
        prev_w = word >> 63;
        prev_t = tm >> 63;
    }
    if (words != NULL)
        *words = w;
    return t;
}

/* Adds the terms of [p, end) to the title's evidence vector (term counts),
 * or the lede's when `lede`; bytes up to `limit` may be read. *words gets
 * the words of [p, end). Returns 0 or NLPD_ENOMEM. */
static int
add_evidence(nlpd_summarizer *s, int lede, const char *p, const char *end, const char *limit,
             uint32_t *words)
{
    size_t n = scan_terms(s, p, end, limit, s->scratch, words);
    if (reserve_terms(s, n) != 0)
        return NLPD_ENOMEM;
    size_t *hi = lede ? &s->lede_hi : &s->title_hi;
    float *v = lede ? s->v_lede : s->v_title;
    for (size_t k = 0; k < n; k++) {
        uint32_t id = term_id(s, s->scratch[k]);
        v[id] += 1.0f;
        *hi = id + 1u > *hi ? id + 1u : *hi;
    }
    return 0;
}

/* --- Features ------------------------------------------------------------------------ */

/* The dot product of n postings (terms t, weights w) with dense v. */
static inline float
dot_postings(const uint32_t *t, const float *w, uint32_t n, const float *v)
{
    float d = 0.0f;
    uint32_t k = 0;
    for (; k + 4 <= n; k += 4) { /* in order: the same sum, fewer branches */
        d += w[k] * v[t[k]];
        d += w[k + 1] * v[t[k + 1]];
        d += w[k + 2] * v[t[k + 2]];
        d += w[k + 3] * v[t[k + 3]];
    }
    for (; k < n; k++)
        d += w[k] * v[t[k]];
    return d;
}

/* Turns term counts v (0 from id `hi` on) into TF-IDF weights in place and
 * returns the norm. */
static float
weigh_evidence(nlpd_summarizer *s, float *v, size_t hi)
{
    double n2 = 0.0;
    for (size_t id = 0; id < hi; id++) {
        v[id] *= s->v_term[id].idf;
        n2 += (double)v[id] * v[id];
    }
    return (float)sqrt(n2);
}

/* Continuous LexRank over the candidates: PageRank on the complete graph
 * of cosine similarities without self-loops, W = S S^T - I. The degrees
 * W 1 = S (S^T 1) - 1 are in deg[] (score_features) and pr[] is 1 / m.
 * A step is S (S^T r) - r over the shared postings: a term that one
 * sentence alone has only adds to that sentence's self-loop, which the
 * step takes away again, so it is left out of both (self_w). */
static void
centrality(nlpd_summarizer *s, const uint32_t *cand, size_t m)
{
    float *acc = s->v_acc;
    for (int step = 0; step < PAGERANK_STEPS; step++) {
        memset(acc, 0, s->n_v * sizeof(*acc));
        for (size_t c = 0; c < m; c++) {
            size_t i = cand[c];
            if (s->deg[i] == 0.0f)
                continue;
            float r = s->pr[i] / s->deg[i];
            const uint32_t *t = s->sh_term + s->sh_lo[i];
            const float *w = s->sh_w + s->sh_lo[i];
            uint32_t k = 0, n = s->sh_n[i];
            for (; k + 4 <= n; k += 4) { /* a sentence holds a term once */
                acc[t[k]] += r * w[k];
                acc[t[k + 1]] += r * w[k + 1];
                acc[t[k + 2]] += r * w[k + 2];
                acc[t[k + 3]] += r * w[k + 3];
            }
            for (; k < n; k++)
                acc[t[k]] += r * w[k];
        }
        double sum = 0.0;
        for (size_t c = 0; c < m; c++) {
            size_t i = cand[c];
            float q = 0.0f;
            if (s->deg[i] > 0.0f) /* less the self-loop, over the shared postings too */
                q = dot_postings(s->sh_term + s->sh_lo[i], s->sh_w + s->sh_lo[i], s->sh_n[i], acc) -
                    s->pr[i] / s->deg[i] * s->self_w[i];
            if (q < 0.0f)
                q = 0.0f; /* rounding */
            s->pr_next[i] = (1.0f - PAGERANK_DAMPING) / (float)m + PAGERANK_DAMPING * q;
            sum += s->pr_next[i];
        }
        for (size_t c = 0; c < m; c++) {
            size_t i = cand[c];
            s->pr[i] = sum > 0.0 ? (float)(s->pr_next[i] / sum) : 0.0f;
        }
    }
    for (size_t c = 0; c < m; c++)
        s->feat[cand[c] * NLPD_SUMMARIZE_N_FEATURES + F_CENTRALITY] = s->pr[cand[c]];
}

/* The FNV fold of the hashes of the terms of [p, end), as scan_terms finds
 * them (runs of term bytes, cut at p and at end), byte by byte (a mention
 * is a few words); bytes up to `limit` may be read. *nt gets their
 * number. */
static uint64_t
fold_terms(const char *p, const char *end, const char *limit, size_t *nt)
{
    uint64_t key = 1469598103934665603ull;
    size_t n = 0;
    const char *q = p;
    for (;;) {
        while (q < end && !nlpd__sum_is_term_byte((unsigned char)*q))
            q++;
        if (q == end)
            break;
        const char *t0 = q;
        while (q < end && nlpd__sum_is_term_byte((unsigned char)*q))
            q++;
        uint64_t h = nlpd__sum_term_hash_room(t0, (size_t)(q - t0), (size_t)(limit - t0));
        key = (key ^ h) * 1099511628211ull;
        n++;
    }
    *nt = n;
    return key;
}

/* Entity salience: each candidate's mentions, weighted by log(1 + how
 * often the document names that entity; a mention in the headline or the
 * lede counts twice). */
static int
entities(nlpd_summarizer *s, const nlpd_summarize_input *in)
{
    size_t ne = in->n_entities;
    if (ne == 0 || in->entities == NULL)
        return 0;
    if (ne > s->cap_e) {
        uint32_t *a = nlpd_realloc(s->m_sent, ne * sizeof(*a));
        if (a == NULL)
            return NLPD_ENOMEM;
        s->m_sent = a;
        uint32_t *b = nlpd_realloc(s->m_ent, ne * sizeof(*b));
        if (b == NULL)
            return NLPD_ENOMEM;
        s->m_ent = b;
        s->cap_e = ne;
    }
    int rc = table_reserve(&s->ents, ne);
    if (rc != 0)
        return rc;
    if (ne > s->cap_ec) {
        uint32_t *c = nlpd_realloc(s->ent_count, ne * sizeof(*c));
        if (c == NULL)
            return NLPD_ENOMEM;
        s->ent_count = c;
        float *l = nlpd_realloc(s->ent_log, ne * sizeof(*l));
        if (l == NULL)
            return NLPD_ENOMEM;
        s->ent_log = l;
        s->cap_ec = ne;
    }
    uint32_t n_ent = 0;
    size_t ns = in->n_sentences, lo = 0;
    for (size_t j = 0; j < ne; j++) {
        nlpd_span e = in->entities[j];
        s->m_sent[j] = UINT32_MAX;
        if (e.start >= e.end || e.end > in->len)
            continue;
        /* The sentence holding the mention: the last one starting at or
         * before it, lo - 1 where lo counts the sentences that do (the
         * previous mention's or the next when mentions come in order). */
        if (!(lo > 0 && in->starts[lo - 1] <= e.start && (lo == ns || in->starts[lo] > e.start))) {
            if (lo < ns && in->starts[lo] <= e.start &&
                (lo + 1 == ns || in->starts[lo + 1] > e.start)) {
                lo++;
            } else {
                size_t hi = ns;
                lo = 0;
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    if (in->starts[mid] <= e.start)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
            }
        }
        if (lo == 0 || e.end > in->ends[lo - 1])
            continue;
        size_t i = lo - 1;
        if (s->role[i] == ROLE_NONE)
            continue;
        size_t nt;
        uint64_t key = fold_terms(in->text + e.start, in->text + e.end, in->text + in->len, &nt);
        if (nt == 0)
            continue;
        key = key != 0 ? key : 1;
        int found;
        size_t slot = table_find(&s->ents, key, &found);
        if (!found) {
            table_put(&s->ents, slot, key, n_ent);
            s->ent_count[n_ent++] = 0;
        }
        uint32_t id = s->ents.slots[slot].val;
        s->ent_count[id] += s->role[i] == ROLE_CAND ? 1 : 2;
        s->m_sent[j] = (uint32_t)i;
        s->m_ent[j] = id;
    }
    for (uint32_t id = 0; id < n_ent; id++)
        s->ent_log[id] = logf(1.0f + (float)s->ent_count[id]);
    for (size_t j = 0; j < ne; j++) {
        uint32_t i = s->m_sent[j];
        if (i != UINT32_MAX && s->role[i] == ROLE_CAND)
            s->feat[(size_t)i * NLPD_SUMMARIZE_N_FEATURES + F_ENTITY] += s->ent_log[s->m_ent[j]];
    }
    return 0;
}

static int
by_score(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Sorts by descending score, then ascending index (a total order: the
 * result is the same whatever the algorithm). */
static void
sort_by_score(ranked *r, size_t n)
{
    if (n > 48) {
        qsort(r, n, sizeof(*r), by_score);
        return;
    }
    for (size_t i = 1; i < n; i++) { /* a news article: insertion */
        ranked x = r[i];
        size_t j = i;
        while (j > 0 && (r[j - 1].score < x.score ||
                         (r[j - 1].score == x.score && r[j - 1].i > x.i))) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = x;
    }
}

/* --- A run ------------------------------------------------------------------------------ */

/* Marks each sentence's role from the regions (the region holding its
 * start). */
static int
mark_roles(nlpd_summarizer *s, const nlpd_summarize_input *in)
{
    size_t r = 0;
    for (size_t i = 0; i < in->n_sentences; i++) {
        uint32_t kind = NLPD_REGION_BODY;
        if (in->regions != NULL && in->n_regions > 0) {
            while (r < in->n_regions && in->regions[r].end <= in->starts[i])
                r++;
            kind = r < in->n_regions && in->regions[r].start <= in->starts[i]
                       ? in->regions[r].kind
                       : NLPD_REGION_UNSPECIFIED;
        }
        switch (kind) {
        case NLPD_REGION_BODY:
        case NLPD_REGION_UNSPECIFIED:
            s->role[i] = ROLE_CAND;
            break;
        case NLPD_REGION_HEADLINE:
            s->role[i] = ROLE_TITLE;
            break;
        case NLPD_REGION_LEDE:
            s->role[i] = ROLE_LEDE;
            break;
        default:
            s->role[i] = ROLE_NONE;
            break;
        }
    }
    return 0;
}

static int
check_input(const nlpd_summarize_input *in)
{
    if (in == NULL || (in->text == NULL && in->len > 0) || in->len >= UINT32_MAX)
        return NLPD_EINVAL;
    if (in->n_sentences > 0 && (in->starts == NULL || in->ends == NULL))
        return NLPD_EINVAL;
    for (size_t i = 0; i < in->n_sentences; i++) {
        if (in->starts[i] > in->ends[i] || in->ends[i] > in->len)
            return NLPD_EINVAL;
        if (i > 0 && in->starts[i] < in->ends[i - 1])
            return NLPD_EINVAL;
    }
    for (size_t r = 0; in->regions != NULL && r < in->n_regions; r++) {
        if (in->regions[r].start > in->regions[r].end || in->regions[r].end > in->len)
            return NLPD_EINVAL;
        if (r > 0 && in->regions[r].start < in->regions[r - 1].end)
            return NLPD_EINVAL;
    }
    return 0;
}

/* The words that start in [a, b) of the text, given `local`, the words of
 * [a, b) counted alone (which count a word running into a from before). */
static size_t
words_from(const char *text, size_t a, size_t b, size_t local)
{
    if (a > 0 && a < b && !(nlpd__sum_class[(unsigned char)text[a]] & NLPD__SUM_SPACE) &&
        !(nlpd__sum_class[(unsigned char)text[a - 1]] & NLPD__SUM_SPACE))
        return local - 1; /* local counted the word that began before a */
    return local;
}

/* The words that start in [a, b) of the text: byte by byte for the gap
 * between two sentences (a space or two), else by count_terms_words. */
static size_t
gap_words(const char *text, size_t a, size_t b)
{
    if (a >= b)
        return 0;
    size_t w = 0;
    if (b - a <= 16) {
        int prev = a > 0 && !(nlpd__sum_class[(unsigned char)text[a - 1]] & NLPD__SUM_SPACE);
        for (size_t i = a; i < b; i++) {
            int cur = !(nlpd__sum_class[(unsigned char)text[i]] & NLPD__SUM_SPACE);
            w += (size_t)(cur & !prev);
            prev = cur;
        }
        return w;
    }
    count_terms_words(text + a, text + b, &w);
    return words_from(text, a, b, w);
}

/* Builds postings, evidence vectors and the simple features, and S^T 1 in
 * v_acc (the sum of the candidates' unit rows: the graph's degrees). */
static int
index_text(nlpd_summarizer *s, const nlpd_summarize_input *in, uint32_t *cand, size_t *m_out)
{
    size_t n = in->n_sentences;
    /* A first guess of the document's terms; the arrays grow as needed
     * and keep their size for the next document. */
    size_t guess = in->len / 16 + 64;
    int rc = reserve_vocab(s, guess);
    if (rc == 0)
        rc = reserve_postings(s, guess);
    if (rc == 0)
        rc = table_reserve(&s->vocab, guess);
    if (rc == 0)
        rc = table_reserve(&s->dup, n);
    size_t longest = in->title_len > in->lede_len ? in->title_len : in->lede_len;
    for (size_t i = 0; i < n; i++)
        longest = in->ends[i] - in->starts[i] > longest ? in->ends[i] - in->starts[i] : longest;
    if (rc == 0 && max_terms(longest) > s->cap_scratch) {
        uint64_t *p = nlpd_realloc(s->scratch, max_terms(longest) * sizeof(*p));
        if (p == NULL)
            return NLPD_ENOMEM;
        s->scratch = p;
        s->cap_scratch = max_terms(longest);
    }
    if (rc != 0)
        return rc;
    /* The vectors indexed by term id are cleared as each term comes
     * (term_add). */
    s->n_v = 0;
    s->n_post = 0;
    s->title_hi = 0;
    s->lede_hi = 0;
    size_t m = 0, text_words = 0, gap_from = 0;
    uint32_t words;
    if (in->title != NULL &&
        add_evidence(s, 0, in->title, in->title + in->title_len, in->title + in->title_len,
                     &words) != 0)
        return NLPD_ENOMEM;
    if (in->lede != NULL &&
        add_evidence(s, 1, in->lede, in->lede + in->lede_len, in->lede + in->lede_len, &words) !=
            0)
        return NLPD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t a = in->starts[i], b = in->ends[i];
        const char *p = in->text + a, *end = in->text + b;
        float *f = s->feat + i * NLPD_SUMMARIZE_N_FEATURES;
        memset(f, 0, NLPD_SUMMARIZE_N_FEATURES * sizeof(*f));
        s->post_lo[i] = (uint32_t)s->n_post;
        s->post_n[i] = 0;
        s->words[i] = 0;
        s->chosen[i] = 0;
        s->rep[i] = (uint32_t)i;
        /* The words of the whole text (a ratio's budget): the gap before
         * the sentence, then the sentence. */
        text_words += gap_words(in->text, gap_from, a);
        gap_from = b;
        if (s->role[i] == ROLE_TITLE || s->role[i] == ROLE_LEDE) {
            if (add_evidence(s, s->role[i] == ROLE_LEDE, p, end, in->text + in->len, &words) != 0)
                return NLPD_ENOMEM;
            text_words += words_from(in->text, a, b, words);
            continue;
        }
        if (s->role[i] != ROLE_CAND) {
            text_words += gap_words(in->text, a, b);
            continue;
        }
        if (s->n_post + max_terms(b - a) > s->cap_post &&
            reserve_postings(s, s->n_post + max_terms(b - a)) != 0)
            return NLPD_ENOMEM;
        uint64_t content = 1469598103934665603ull;
        uint32_t si = (uint32_t)i;
        size_t nt = scan_terms(s, p, end, in->text + in->len, s->scratch, &words);
        if (reserve_terms(s, nt) != 0)
            return NLPD_ENOMEM;
        uint32_t *post_term = s->post_term;
        float *post_w = s->post_w;
        size_t lo = s->n_post, np = lo;
        for (size_t q = 0; q < nt; q++) {
            uint64_t h = s->scratch[q];
            uint32_t id = term_id(s, h);
            content = (content ^ h) * 1099511628211ull;
            vterm *vt = &s->v_term[id];
            if (vt->last != si) { /* the term's first time in the sentence */
                vt->last = si;
                vt->slot = (uint32_t)np;
                vt->df++;
                post_term[np] = id;
                post_w[np] = 1.0f;
                np++;
            } else {
                post_w[vt->slot] += 1.0f;
            }
        }
        s->n_post = np;
        uint32_t pn = (uint32_t)(np - lo);
        s->post_n[i] = pn;
        s->words[i] = words;
        text_words += words_from(in->text, a, b, words);
        if (pn == 0) /* no terms (another script, symbols): the bytes decide */
            content = nlpd__sum_term_hash(p, (size_t)(end - p)) ^ 0x9e3779b97f4a7c15ull;
        content = content != 0 ? content : 1;
        int found;
        size_t slot = table_find(&s->dup, content, &found);
        if (found)
            s->rep[i] = s->dup.slots[slot].val;
        else
            table_put(&s->dup, slot, content, (uint32_t)i);
        /* TF-IDF, the centroid, then unit length (and S^T 1). */
        const vterm *vterms = s->v_term;
        float *v_cent = s->v_cent, *v_acc = s->v_acc;
        double n2 = 0.0;
        for (size_t q = lo; q < np; q++) {
            float w = post_w[q] * vterms[post_term[q]].idf;
            post_w[q] = w;
            v_cent[post_term[q]] += w;
            n2 += (double)w * w;
        }
        float norm = (float)sqrt(n2);
        if (norm > 0.0f) {
            for (size_t q = lo; q < np; q++) {
                post_w[q] = post_w[q] / norm;
                v_acc[post_term[q]] += post_w[q];
            }
        } else {
            s->post_n[i] = 0;
        }
        s->cand_k[i] = (uint32_t)m;
        cand[m++] = (uint32_t)i;
    }
    s->text_words = text_words + gap_words(in->text, gap_from, in->len);
    *m_out = m;
    return 0;
}

/* The features but centrality and entities, and the degrees of the
 * similarity graph, W 1 = S (S^T 1) - 1 (v_acc holds S^T 1, index_text),
 * with pr[] at 1 / m for centrality(). */
static void
score_features(nlpd_summarizer *s, const uint32_t *cand, size_t m)
{
    float tn = weigh_evidence(s, s->v_title, s->title_hi);
    float ln = weigh_evidence(s, s->v_lede, s->lede_hi);
    double c2 = 0.0;
    for (size_t id = 0; id < s->n_v; id++)
        c2 += (double)s->v_cent[id] * s->v_cent[id];
    float cn = (float)sqrt(c2);
    const float *vc = s->v_cent, *va = s->v_acc, *vtit = s->v_title;
    const vterm *vt = s->v_term;
    uint32_t *sh_term = s->sh_term;
    float *sh_w = s->sh_w;
    uint32_t ns = 0;
    for (size_t c = 0; c < m; c++) {
        size_t i = cand[c];
        float *f = s->feat + i * NLPD_SUMMARIZE_N_FEATURES;
        const uint32_t *t = s->post_term + s->post_lo[i];
        const float *w = s->post_w + s->post_lo[i];
        uint32_t n = s->post_n[i];
        float dc = 0.0f, dt = 0.0f, dd = 0.0f, self = 0.0f;
        uint32_t lo = ns;
        if (tn > 0.0f) {
            for (uint32_t k = 0; k < n; k++) {
                uint32_t tk = t[k];
                dc += w[k] * vc[tk];
                dt += w[k] * vtit[tk];
                sh_term[ns] = tk; /* the shared postings, copied without a branch */
                sh_w[ns] = w[k];
                ns += vt[tk].df > 1;
            }
        } else {
            for (uint32_t k = 0; k < n; k++) {
                uint32_t tk = t[k];
                dc += w[k] * vc[tk];
                sh_term[ns] = tk;
                sh_w[ns] = w[k];
                ns += vt[tk].df > 1;
            }
        }
        s->sh_lo[i] = lo;
        s->sh_n[i] = ns - lo;
        for (uint32_t k = lo; k < ns; k++) {
            dd += sh_w[k] * va[sh_term[k]];
            self += sh_w[k] * sh_w[k];
        }
        s->self_w[i] = self;
        /* The lede: a cosine is 0 without it (as the title's). */
        float dl = ln > 0.0f ? dot_postings(t, w, n, s->v_lede) : 0.0f;
        f[F_CENTROID] = cn > 0.0f ? dc / cn : 0.0f;
        f[F_TITLE] = tn > 0.0f ? dt / tn : 0.0f;
        f[F_LEDE] = ln > 0.0f ? dl / ln : 0.0f;
        f[F_POSITION] = s->w.position_scale / (s->w.position_scale + (float)c);
        f[F_LENGTH] = (float)s->words[i];
        /* S_i . S^T 1 - 1, over the shared postings: a term of S_i alone
         * adds w^2 to both terms (its S^T 1 is w), so it is left out of
         * both, and 1 becomes the shared part of |S_i|^2. */
        float d = n > 0 ? dd - self : 0.0f;
        s->deg[i] = d > 1e-6f ? d : 0.0f;
        s->pr[i] = 1.0f / (float)m;
    }
}

static void
normalize_features(nlpd_summarizer *s, const uint32_t *cand, size_t m, int word_budget)
{
    /* Every feature but position, scaled by its largest value. */
    float mx[NLPD_SUMMARIZE_N_FEATURES] = {0};
    for (size_t c = 0; c < m; c++) {
        const float *f = s->feat + cand[c] * NLPD_SUMMARIZE_N_FEATURES;
        for (int k = 0; k < NLPD_SUMMARIZE_N_FEATURES; k++)
            mx[k] = f[k] > mx[k] ? f[k] : mx[k];
    }
    mx[F_POSITION] = 0.0f;
    const nlpd_summarize_weights *w = &s->w;
    float w_len = word_budget ? w->length_words : w->length;
    for (size_t c = 0; c < m; c++) {
        size_t i = cand[c];
        float *f = s->feat + i * NLPD_SUMMARIZE_N_FEATURES;
        for (int k = 0; k < NLPD_SUMMARIZE_N_FEATURES; k++)
            if (mx[k] > 0.0f)
                f[k] /= mx[k];
        s->score[i] = w->centrality * f[F_CENTRALITY] + w->centroid * f[F_CENTROID] +
                      w->position * f[F_POSITION] + w->title * f[F_TITLE] + w->lede * f[F_LEDE] +
                      w->entity * f[F_ENTITY] + w_len * f[F_LENGTH];
    }
}

/* Chooses sentences until the budget is met. words_budget < 0: a budget
 * of k sentences. */
static void
select_sentences(nlpd_summarizer *s, const uint32_t *cand, size_t m, size_t k, double words_budget)
{
    for (size_t c = 0; c < m; c++)
        s->order[c] = (ranked){s->score[cand[c]], cand[c]};
    sort_by_score(s->order, m);
    size_t pool = m < MMR_POOL ? m : MMR_POOL;
    for (size_t c = 0; c < pool; c++) {
        s->maxsim[c] = 0.0f;
        s->upto[c] = 0;
    }
    float lambda = s->w.redundancy;
    size_t n_sel = 0, next = 0;
    double used = 0.0;
    float *acc = s->v_acc;
    memset(acc, 0, s->n_v * sizeof(*acc));
    for (;;) {
        if (words_budget < 0.0 ? n_sel >= k : used >= words_budget)
            break;
        size_t best = SIZE_MAX;
        if (n_sel < MMR_STEPS && lambda != 0.0f) {
            /* Lazy MMR: candidates in order of score; a candidate's
             * highest cosine to the chosen is brought up to date only when
             * it is looked at, and since score - lambda x cosine <= score,
             * the scan stops at the first score under the best value. */
            float bv = -INFINITY;
            for (size_t c = 0; c < pool; c++) {
                uint32_t i = s->order[c].i;
                if ((s->chosen[i] & 1) || (s->chosen[s->rep[i]] & 2))
                    continue;
                if (s->order[c].score <= bv)
                    break;
                if (s->upto[c] < n_sel && s->sh_n[i] > 0) {
                    /* Cosines over shared postings: a term that no
                     * other candidate has would add an exact 0. */
                    const uint32_t *t = s->sh_term + s->sh_lo[i];
                    const float *w = s->sh_w + s->sh_lo[i];
                    for (uint32_t q = 0; q < s->sh_n[i]; q++)
                        acc[t[q]] = w[q];
                    float mx = s->maxsim[c];
                    for (size_t q = s->upto[c]; q < n_sel; q++) {
                        uint32_t j = s->selected[q];
                        float d = dot_postings(s->sh_term + s->sh_lo[j], s->sh_w + s->sh_lo[j],
                                               s->sh_n[j], acc);
                        mx = d > mx ? d : mx;
                    }
                    s->maxsim[c] = mx;
                    for (uint32_t q = 0; q < s->sh_n[i]; q++)
                        acc[t[q]] = 0.0f;
                }
                s->upto[c] = (uint32_t)n_sel;
                float v = s->order[c].score - lambda * s->maxsim[c];
                if (v > bv) {
                    bv = v;
                    best = c;
                }
            }
        }
        if (best == SIZE_MAX) {
            while (next < m &&
                   ((s->chosen[s->order[next].i] & 1) || (s->chosen[s->rep[s->order[next].i]] & 2)))
                next++;
            if (next == m)
                break; /* every candidate (or a repeat of it) is in */
            best = next;
        }
        uint32_t j = s->order[best].i;
        s->chosen[j] |= 1;         /* selected */
        s->chosen[s->rep[j]] |= 2; /* its content is in: repeats are not chosen */
        s->selected[n_sel++] = j;
        used += s->words[j];
    }
    /* In document order: a few by insertion, many by their marks. */
    if (n_sel <= 32) {
        for (size_t a = 1; a < n_sel; a++) {
            uint32_t x = s->selected[a];
            size_t b = a;
            for (; b > 0 && s->selected[b - 1] > x; b--)
                s->selected[b] = s->selected[b - 1];
            s->selected[b] = x;
        }
    } else {
        size_t q = 0;
        for (uint32_t i = 0; q < n_sel; i++)
            if (s->chosen[i] & 1)
                s->selected[q++] = i;
    }
    s->n_selected = n_sel;
}

int
nlpd_summarize_run(nlpd_summarizer *self, const nlpd_summarize_input *in,
                   const nlpd_summarize_budget *budget)
{
    if (self == NULL)
        return NLPD_EINVAL;
    self->n_s = 0;
    self->n_selected = 0;
    int rc = check_input(in);
    if (rc == 0)
        rc = nlpd_summarize_check_budget(budget, NULL, 0);
    if (rc != 0)
        return rc;
    size_t n = in->n_sentences;
    rc = reserve_sentences(self, n + 1);
    if (rc != 0)
        return rc;
    mark_roles(self, in);
    uint32_t *cand = self->selected; /* borrowed until selection */
    size_t m = 0;
    rc = index_text(self, in, cand, &m);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        self->score[i] = 0.0f;
    self->n_s = n;
    if (m == 0)
        return 0;
    score_features(self, cand, m);
    centrality(self, cand, m);
    rc = entities(self, in);
    if (rc != 0) {
        self->n_s = 0;
        return rc;
    }
    size_t k = NLPD_SUMMARIZE_DEFAULT_SENTENCES;
    double words = -1.0;
    if (budget != NULL && budget->sentences != 0)
        k = budget->sentences;
    else if (budget != NULL && budget->words != 0)
        words = budget->words;
    else if (budget != NULL && budget->ratio != 0.0)
        words = budget->ratio * (double)self->text_words;
    normalize_features(self, cand, m, words >= 0.0);
    /* order[] and selected[] are both used by selection: the candidates
     * move into order[] first. */
    select_sentences(self, cand, m, k, words);
    return 0;
}

size_t
nlpd_summarize_selected(const nlpd_summarizer *self, const uint32_t **out)
{
    if (self == NULL) {
        if (out != NULL)
            *out = NULL;
        return 0;
    }
    if (out != NULL)
        *out = self->selected;
    return self->n_selected;
}

size_t
nlpd_summarize_scores(const nlpd_summarizer *self, const float **out)
{
    if (self == NULL) {
        if (out != NULL)
            *out = NULL;
        return 0;
    }
    if (out != NULL)
        *out = self->score;
    return self->n_s;
}

const float *
nlpd_summarize_features(const nlpd_summarizer *self, size_t i)
{
    if (self == NULL || i >= self->n_s)
        return NULL;
    return self->feat + i * NLPD_SUMMARIZE_N_FEATURES;
}
