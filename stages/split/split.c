/* stages/split/split.c — the public API: a run over the text regions of a
 * document, tokens first, then the sentences of each region.
 */
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "split_internal.h"

struct nlpd_split {
    const nlpd_split_model *model;
    nlpd__abbrev_filter abbrevs; /* of the model, made once */
    nlpd_split_opts opts;
    nlpd__toks toks;
    nlpd__sents sents;
};

/* The filter of the model's abbreviations: its table keeps every key,
 * lower case, NUL after it, in one pool. A NUL inside a key would only
 * add bits (a superset), and no token holds a NUL. */
static void
abbrev_filter_init(nlpd__abbrev_filter *f, const nlpd__wordtab *t)
{
    memset(f, 0, sizeof(*f));
    size_t k = 0;
    while (k < t->pool_len) {
        size_t e = k;
        while (e < t->pool_len && t->pool[e] != '\0')
            e++;
        size_t n = e - k;
        if (n >= 1 && n <= NLPD__WORD_MAX)
            f->bits[n] |= (uint64_t)1 << nlpd__abbrev_filter_bit((unsigned char)t->pool[k],
                                                                 (unsigned char)t->pool[e - 1]);
        k = e + 1;
    }
}

int
nlpd_split_new(nlpd_split **out, const nlpd_split_model *model, const nlpd_split_opts *opts)
{
    if (out == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    nlpd_split_opts o = NLPD_SPLIT_OPTS_INIT;
    if (opts != NULL)
        o = *opts;
    if (model == NULL || o.max_sentence_tokens == 0 || o.max_sentence_bytes == 0)
        return NLPD_EINVAL;
    nlpd_split *self = nlpd_calloc(1, sizeof(*self));
    if (self == NULL)
        return NLPD_ENOMEM;
    self->model = model;
    abbrev_filter_init(&self->abbrevs, &model->abbrevs);
    self->opts = o;
    *out = self;
    return 0;
}

void
nlpd_split_free(nlpd_split **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_split *self = *self_p;
    nlpd_free(self->toks.v);
    nlpd_free(self->toks.plain);
    nlpd_free(self->sents.v);
    nlpd_free(self);
    *self_p = NULL;
}

static int
run_region(nlpd_split *self, const char *text, size_t from, size_t to)
{
    size_t t0 = self->toks.n;
    int rc = nlpd__tokenize(self->model, &self->abbrevs, text, from, to, &self->toks);
    if (rc != 0)
        return rc;
    if (self->toks.n == t0)
        return 0;
    return nlpd__split_region(self->model, &self->opts, text, self->toks.v, self->toks.plain, t0,
                              self->toks.n, &self->sents);
}

int
nlpd_split_run(nlpd_split *self, const char *text, size_t len, const nlpd_region *regions,
               size_t n_regions)
{
    if (self == NULL || (text == NULL && len > 0) || len >= UINT32_MAX ||
        (regions == NULL && n_regions > 0))
        return NLPD_EINVAL;
    self->toks.n = 0;
    self->sents.n = 0;
    uint32_t prev_end = 0;
    for (size_t r = 0; r < n_regions; r++) {
        const nlpd_region *g = &regions[r];
        if (g->start > g->end || g->end > len || g->start < prev_end)
            return NLPD_EINVAL;
        prev_end = g->end;
    }
    int rc = 0;
    if (regions == NULL) {
        rc = run_region(self, text, 0, len);
    } else {
        for (size_t r = 0; r < n_regions && rc == 0; r++) {
            if (nlpd_region_is_text(regions[r].kind))
                rc = run_region(self, text, regions[r].start, regions[r].end);
        }
    }
    if (rc != 0) {
        self->toks.n = 0;
        self->sents.n = 0;
    }
    return rc;
}

size_t
nlpd_split_tokens(const nlpd_split *self, const nlpd_split_token **out)
{
    *out = self->toks.v;
    return self->toks.n;
}

size_t
nlpd_split_sentences(const nlpd_split *self, const nlpd_split_sentence **out)
{
    *out = self->sents.v;
    return self->sents.n;
}
