/* stages/tag/tag.c — the public API of the tagger: per sentence, the
 * features of each token (features.c), the CRF's best labels (Viterbi),
 * a marginal probability for each name found (forward-backward); then the
 * document pass over the names (docpass.c) and the pattern entities (dates, times, money, percentages, numbers) merged with
 * the names so that none overlap.
 */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <math.h>
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "tag_internal.h"

#define L NLPD__TAG_LABELS

static const char *const label_names[NLPD_ENT_COUNT_] = {
    "", "PER", "ORG", "LOC", "MISC", "DATE", "TIME", "MONEY", "PERCENT", "CARDINAL", "ORDINAL",
};

const char *
nlpd_entity_label_name(int label)
{
    return label > 0 && label < NLPD_ENT_COUNT_ ? label_names[label] : "";
}

int
nlpd_entity_label_parse(const char *name)
{
    if (name == NULL)
        return NLPD_ENT_NONE;
    for (int i = 1; i < NLPD_ENT_COUNT_; i++)
        if (strcmp(name, label_names[i]) == 0)
            return i;
    return NLPD_ENT_NONE;
}

struct nlpd_tagger {
    const nlpd_tag_model *m;
    nlpd_tag_opts opts;
    nlpd__tag_fx fx;
    nlpd__tag_dc dc;
    /* Per sentence (grown to the longest sentence seen). */
    float *emit;    /* n * L */
    double *demit;  /* n * L, for forward-backward */
    double *alpha, *beta, *c;
    uint8_t *back;  /* n * L */
    uint8_t *path;  /* n */
    uint32_t *feats; /* n * NLPD__TAG_MAX_FEATS */
    uint8_t *nfeats; /* n */
    size_t sent_cap;
    double mstart[L], mtrans[L * L];
    nlpd__tag_dc_classes dcc; /* the gazetteer classes the document pass reads */
    /* Results. */
    nlpd_tag_entity *names; /* names of the current run */
    size_t n_names, names_cap;
    nlpd_tag_entity *ent;
    size_t n_ent, ent_cap;
};

int
nlpd_tagger_new(nlpd_tagger **out, const nlpd_tag_model *model, const nlpd_tag_opts *opts)
{
    if (out == NULL || model == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    nlpd_tagger *tg = nlpd_calloc(1, sizeof(*tg));
    if (tg == NULL)
        return NLPD_ENOMEM;
    tg->m = model;
#ifdef NLPD_TAG_HAVE_GAZETTEER
    nlpd__tag_dc_classes_init(&tg->dcc, model->gaz);
#else
    nlpd__tag_dc_classes_init(&tg->dcc, NULL);
#endif
    nlpd_tag_opts def = NLPD_TAG_OPTS_INIT;
    tg->opts = opts ? *opts : def;
    for (int y = 0; y < L; y++)
        tg->mstart[y] = nlpd__tag_transition_ok(-1, y) ? exp((double)model->start[y]) : 0.0;
    for (int x = 0; x < L; x++)
        for (int y = 0; y < L; y++)
            tg->mtrans[x * L + y] =
                nlpd__tag_transition_ok(x, y) ? exp((double)model->trans[x * L + y]) : 0.0;
    *out = tg;
    return 0;
}

void
nlpd_tagger_free(nlpd_tagger **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_tagger *tg = *self_p;
    nlpd__tag_fx_release(&tg->fx);
    nlpd__tag_dc_release(&tg->dc);
    nlpd_free(tg->emit);
    nlpd_free(tg->demit);
    nlpd_free(tg->alpha);
    nlpd_free(tg->beta);
    nlpd_free(tg->c);
    nlpd_free(tg->back);
    nlpd_free(tg->path);
    nlpd_free(tg->feats);
    nlpd_free(tg->nfeats);
    nlpd_free(tg->names);
    nlpd_free(tg->ent);
    nlpd_free(tg);
    *self_p = NULL;
}

size_t
nlpd_tagger_entities(const nlpd_tagger *self, const nlpd_tag_entity **out)
{
    if (self == NULL) {
        if (out)
            *out = NULL;
        return 0;
    }
    if (out)
        *out = self->ent;
    return self->n_ent;
}

static int
reserve_sentence(nlpd_tagger *tg, size_t n)
{
    if (n <= tg->sent_cap)
        return 0;
    size_t cap = tg->sent_cap ? tg->sent_cap : 64;
    while (cap < n)
        cap *= 2;
    float *emit = nlpd_realloc(tg->emit, cap * L * sizeof(*emit));
    if (emit)
        tg->emit = emit;
    double *de = nlpd_realloc(tg->demit, cap * L * sizeof(*de));
    if (de)
        tg->demit = de;
    double *al = nlpd_realloc(tg->alpha, cap * L * sizeof(*al));
    if (al)
        tg->alpha = al;
    double *be = nlpd_realloc(tg->beta, cap * L * sizeof(*be));
    if (be)
        tg->beta = be;
    double *c = nlpd_realloc(tg->c, cap * sizeof(*c));
    if (c)
        tg->c = c;
    uint8_t *back = nlpd_realloc(tg->back, cap * L);
    if (back)
        tg->back = back;
    uint8_t *path = nlpd_realloc(tg->path, cap);
    if (path)
        tg->path = path;
    uint32_t *feats = nlpd_realloc(tg->feats, cap * NLPD__TAG_MAX_FEATS * sizeof(*feats));
    if (feats)
        tg->feats = feats;
    uint8_t *nfeats = nlpd_realloc(tg->nfeats, cap);
    if (nfeats)
        tg->nfeats = nfeats;
    if (!emit || !de || !al || !be || !c || !back || !path || !feats || !nfeats)
        return NLPD_ENOMEM;
    tg->sent_cap = cap;
    return 0;
}

static int
push(nlpd_tag_entity **v, size_t *n, size_t *cap, const nlpd_tag_entity *e)
{
    if (nlpd_grow((void **)v, cap, *n + 1, sizeof(**v)) != 0)
        return NLPD_ENOMEM;
    (*v)[(*n)++] = *e;
    return 0;
}

/* The emission scores of the sentence [a, b). The features of every token
 * are computed first and their weight rows prefetched, so the rows' cache
 * misses overlap instead of coming one after the other. */
static void
emissions(nlpd_tagger *tg, size_t a, size_t b)
{
    const nlpd_tag_model *m = tg->m;
    for (size_t i = a; i < b; i++) {
        uint32_t *f = tg->feats + (i - a) * NLPD__TAG_MAX_FEATS;
        size_t nf = nlpd__tag_fx_token(&tg->fx, m, a, b, i, f);
        tg->nfeats[i - a] = (uint8_t)nf;
        for (size_t k = 0; k < nf; k++)
            __builtin_prefetch(m->w + (size_t)f[k] * NLPD__TAG_ROW);
    }
    for (size_t i = a; i < b; i++) {
        const uint32_t *f = tg->feats + (i - a) * NLPD__TAG_MAX_FEATS;
        size_t nf = tg->nfeats[i - a];
        /* Sums of up to NLPD__TAG_QGROUP rows fit int16 lanes (model.c
         * refuses weights beyond NLPD__TAG_QMAX). */
        int32_t acc[NLPD__TAG_ROW] = {0};
#if defined(__SSE2__) && NLPD__TAG_ROW == 16
        /* A row is two 128-bit vectors of 8 int16: SSE2 is in every x86-64
         * (GCC left the plain loop below scalar: 32 instructions a row). */
        __m128i va[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(),
                        _mm_setzero_si128()};
        for (size_t k0 = 0; k0 < nf; k0 += NLPD__TAG_QGROUP) {
            size_t k1 = nf - k0 < NLPD__TAG_QGROUP ? nf : k0 + NLPD__TAG_QGROUP;
            __m128i p0 = _mm_setzero_si128(), p1 = _mm_setzero_si128();
            for (size_t k = k0; k < k1; k++) {
                const __m128i *w = (const __m128i *)__builtin_assume_aligned(
                    m->w + (size_t)f[k] * NLPD__TAG_ROW, 32);
                p0 = _mm_add_epi16(p0, _mm_load_si128(w));
                p1 = _mm_add_epi16(p1, _mm_load_si128(w + 1));
            }
            /* Sign-extend the int16 sums to int32 and add them up. */
            va[0] = _mm_add_epi32(va[0], _mm_srai_epi32(_mm_unpacklo_epi16(p0, p0), 16));
            va[1] = _mm_add_epi32(va[1], _mm_srai_epi32(_mm_unpackhi_epi16(p0, p0), 16));
            va[2] = _mm_add_epi32(va[2], _mm_srai_epi32(_mm_unpacklo_epi16(p1, p1), 16));
            va[3] = _mm_add_epi32(va[3], _mm_srai_epi32(_mm_unpackhi_epi16(p1, p1), 16));
        }
        for (int j = 0; j < 4; j++)
            memcpy(acc + 4 * j, &va[j], sizeof(va[j]));
#else
        for (size_t k0 = 0; k0 < nf; k0 += NLPD__TAG_QGROUP) {
            size_t k1 = nf - k0 < NLPD__TAG_QGROUP ? nf : k0 + NLPD__TAG_QGROUP;
            int16_t part[NLPD__TAG_ROW] = {0};
            for (size_t k = k0; k < k1; k++) {
                const int16_t *w =
                    __builtin_assume_aligned(m->w + (size_t)f[k] * NLPD__TAG_ROW, 32);
                for (int y = 0; y < NLPD__TAG_ROW; y++)
                    part[y] = (int16_t)(part[y] + w[y]);
            }
            for (int y = 0; y < NLPD__TAG_ROW; y++)
                acc[y] += part[y];
        }
#endif
        float *e = tg->emit + (i - a) * L;
        for (int y = 0; y < L; y++)
            e[y] = (float)acc[y] * m->scale;
    }
}

/* Whether tokens [i, j) of the document are exactly one match of the
 * gazetteer's nationality class ("Russian", "North Korean"). */
static int
is_nationality(const nlpd_tagger *tg, size_t i, size_t j, size_t b)
{
    if (tg->dcc.nationality < 0)
        return 0;
    const uint64_t *bits = tg->fx.gazbits;
    uint64_t begin = 1ull << (2 * tg->dcc.nationality), inside = begin << 1;
    if (!(bits[i] & begin))
        return 0;
    for (size_t t = i + 1; t < j; t++)
        if (!(bits[t] & inside))
            return 0;
    return j >= b || !(bits[j] & inside);
}

/* Names of the sentence [a, b) from its best path, each with the marginal
 * probability of its labels. A LOC span that is exactly a nationality
 * ("North Korean troops") is MISC, as CoNLL has it: the training sets
 * that annotate no MISC teach the model to see a place in it. */
static int
sentence_names(nlpd_tagger *tg, const nlpd_split_token *tok, size_t a, size_t b)
{
    size_t n = b - a;
    int rc = reserve_sentence(tg, n);
    if (rc != 0)
        return rc;
    emissions(tg, a, b);
    float score[2 * L];
    nlpd__crf_viterbi(n, tg->emit, tg->m->start, tg->m->trans, score, tg->back, tg->path);
    const uint8_t *path = tg->path;
    int any = 0;
    for (size_t i = 0; i < n && !any; i++)
        any = path[i] != 0;
    if (!any)
        return 0;
    for (size_t i = 0; i < n * L; i++)
        tg->demit[i] = (double)tg->emit[i];
    double logz = nlpd__crf_forward_backward(n, tg->demit, tg->mstart, tg->mtrans, NULL,
                                             tg->alpha, tg->beta, tg->c);
    for (size_t i = 0; i < n;) {
        if (path[i] == 0) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && nlpd__tag_label_is_i(path[j]))
            j++;
        double p = logz > -HUGE_VAL ? tg->alpha[i * L + path[i]] : 0;
        for (size_t t = i + 1; t < j; t++)
            p *= tg->mtrans[path[t - 1] * L + path[t]] * tg->demit[t * L + path[t]] / tg->c[t];
        p *= tg->beta[(j - 1) * L + path[j - 1]];
        if (!(p > 0))
            p = 1e-6;
        if (p > 1)
            p = 1;
        int label = nlpd__tag_label_type(path[i]);
        if (label == NLPD_ENT_LOC && is_nationality(tg, a + i, a + j, b))
            label = NLPD_ENT_MISC;
        nlpd_tag_entity e = {
            .start = tok[a + i].start,
            .end = tok[a + j - 1].end,
            .first_token = (uint32_t)(a + i),
            .n_tokens = (uint32_t)(j - i),
            .label = (uint8_t)label,
            .score = (float)p,
        };
        rc = push(&tg->names, &tg->n_names, &tg->names_cap, &e);
        if (rc != 0)
            return rc;
        i = j;
    }
    return 0;
}

static int
check_input(const char *text, size_t len, const nlpd_split_token *tok, size_t nt,
            const nlpd_split_sentence *sen, size_t ns)
{
    if (len >= UINT32_MAX || (text == NULL && len > 0) || (tok == NULL && nt > 0) ||
        (sen == NULL && ns > 0))
        return NLPD_EINVAL;
    uint32_t prev_end = 0;
    for (size_t i = 0; i < nt; i++) {
        if (tok[i].start < prev_end || tok[i].end < tok[i].start || tok[i].end > len)
            return NLPD_EINVAL;
        prev_end = tok[i].end;
    }
    size_t next = 0;
    for (size_t s = 0; s < ns; s++) {
        if (sen[s].n_tokens == 0 || sen[s].first_token < next ||
            sen[s].first_token > nt || sen[s].n_tokens > nt - sen[s].first_token)
            return NLPD_EINVAL;
        next = (size_t)sen[s].first_token + sen[s].n_tokens;
    }
    return 0;
}

/* Merges the names with the pattern entities: a pattern entity is kept
 * unless it overlaps a name that is not MISC; the MISC names it overlaps
 * give way ("Tuesday" and "June 4" are dates). Both lists are in text
 * order and free of overlaps within themselves. */
static int
merge(nlpd_tagger *tg)
{
    tg->n_ent = 0;
    size_t i = 0;
#ifdef NLPD_TAG_HAVE_PATTERNS
    const nlpd__tag_fx *fx = &tg->fx;
    size_t npm = tg->opts.patterns ? fx->n_pm : 0;
    size_t k0 = 0; /* the first name that may overlap the next match */
    for (size_t j = 0; j < npm; j++) {
        const nlpd__pattern_match *pm = &fx->pm[j];
        if (!tg->opts.numbers &&
            (pm->label == NLPD_ENT_CARDINAL || pm->label == NLPD_ENT_ORDINAL))
            continue;
        uint32_t pa = pm->first_token, pb = pm->first_token + pm->n_tokens;
        while (k0 < tg->n_names && tg->names[k0].first_token + tg->names[k0].n_tokens <= pa)
            k0++;
        int blocked = 0;
        for (size_t k = k0; k < tg->n_names && tg->names[k].first_token < pb; k++)
            if (tg->names[k].label != NLPD_ENT_MISC)
                blocked = 1;
        if (blocked)
            continue;
        /* The names before the match, then the match; overlapped MISC
         * names are skipped. */
        for (; i < tg->n_names && tg->names[i].first_token < pa; i++)
            if (tg->names[i].first_token + tg->names[i].n_tokens <= pa &&
                push(&tg->ent, &tg->n_ent, &tg->ent_cap, &tg->names[i]) != 0)
                return NLPD_ENOMEM;
        while (i < tg->n_names && tg->names[i].first_token < pb)
            i++;
        nlpd_tag_entity e = {
            .first_token = pa, .n_tokens = pm->n_tokens, .label = pm->label, .score = 1.0f,
        };
        if (push(&tg->ent, &tg->n_ent, &tg->ent_cap, &e) != 0)
            return NLPD_ENOMEM;
    }
#endif
    for (; i < tg->n_names; i++)
        if (push(&tg->ent, &tg->n_ent, &tg->ent_cap, &tg->names[i]) != 0)
            return NLPD_ENOMEM;
    return 0;
}

int
nlpd_tagger_run(nlpd_tagger *self, const char *text, size_t len, const nlpd_split_token *tokens,
                size_t n_tokens, const nlpd_split_sentence *sentences, size_t n_sentences)
{
    if (self == NULL)
        return NLPD_EINVAL;
    self->n_ent = 0;
    self->n_names = 0;
    int rc = check_input(text, len, tokens, n_tokens, sentences, n_sentences);
    if (rc != 0 || n_tokens == 0)
        return rc; /* no tokens: no entities (and no arrays to fill) */
    rc = nlpd__tag_fx_doc(&self->fx, self->m, text, tokens, n_tokens, sentences, n_sentences);
    if (rc != 0)
        return rc;
    if (self->opts.names) {
        for (size_t s = 0; s < n_sentences && rc == 0; s++) {
            size_t a = sentences[s].first_token;
            rc = sentence_names(self, tokens, a, a + sentences[s].n_tokens);
        }
    }
    if (rc == 0 && self->opts.names) {
        unsigned what = self->opts.document ? NLPD__TAG_DC_ALL : 0;
        rc = nlpd__tag_docpass(&self->dc, &self->fx, text, tokens, sentences, n_sentences,
                               n_tokens, &self->dcc, what, &self->names, &self->n_names,
                               &self->names_cap);
    }
    if (rc == 0)
        rc = merge(self);
    if (rc != 0) {
        self->n_ent = 0;
        return rc;
    }
    /* Pattern entities were pushed with token indices only. */
    for (size_t k = 0; k < self->n_ent; k++) {
        nlpd_tag_entity *e = &self->ent[k];
        e->start = tokens[e->first_token].start;
        e->end = tokens[e->first_token + e->n_tokens - 1].end;
    }
    return 0;
}
