/* stages/tag/train/train.c — nlpd-tag-train: trains the tag stage's CRF
 * from annotated JSON Lines, tags JSON Lines for score.py, and measures
 * the tagger's speed.
 *
 *   nlpd-tag-train train [options] -o MODEL FILE[:w=X][:misc|:nomisc]...
 *       --bits N       feature hash table of 2^N rows (default 19)
 *       --l2 X         L2 penalty (default 1.0)
 *       --l1 X         L1 penalty (OWL-QN; default 0: off)
 *       --iter N       L-BFGS iterations at most (default 200)
 *       --clusters F   word clusters (lines "<bitpath>\t<word>\t<count>")
 *       --word-classes F  word vector classes (nlpd-tag-embclusters output,
 *                      the same format), looked up by the lower-cased form
 *       --no-partial   in files without MISC, O means O (default: O or MISC,
 *                      MISC beginning only at a capitalized word or number)
 *       --partial-all  ... MISC beginning anywhere
 *       --desc S       the model's description (default "en crf")
 *     Documents are tokenized and split into sentences by nlpd_split's
 *     built-in model, exactly as at tagging time. Gold spans that do not
 *     fall on token boundaries (or cross a sentence) are counted, and
 *     their tokens left unlabelled (any label allowed). A file that
 *     annotates no MISC anywhere (or :nomisc) lets its O tokens be MISC
 *     too: the likelihood sums over the allowed labels (constrained
 *     forward-backward). :w=X weighs a file's sentences. Training is
 *     single-threaded and deterministic: the same files and options give a
 *     byte-identical model.
 *
 *   nlpd-tag-train annotate [--model F] [--names-only] [--sentences-only] < docs.jsonl > out.jsonl
 *       Tags each document (text only) and writes id, text and entities.
 *
 *   nlpd-tag-train bench [--model F] [--repeat N] FILE.jsonl...
 *       Model load time, and tokens/s of the tagger alone over the texts
 *       (tokenized beforehand).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <lbfgs.h>

#include "nlpd/error.h"
#include "nlpd/log.h"
#include "nlpd/split.h"
#include "nlpd/tag.h"
#include "tag_internal.h"

#define L NLPD__TAG_LABELS
#define ALL_LABELS ((uint16_t)((1u << L) - 1))

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: nlpd-tag-train train [--bits N] [--l2 X] [--l1 X] [--iter N] [--clusters F]\n"
            "                            [--word-classes F] [--no-partial|--partial-all] [--desc S] -o MODEL FILE[:w=X][:misc|:nomisc]...\n"
            "       nlpd-tag-train annotate [--model F] [--names-only] [--sentences-only] < docs.jsonl > out.jsonl\n"
            "       nlpd-tag-train bench [--model F] [--repeat N] FILE.jsonl...\n");
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --- Reading JSON Lines ------------------------------------------------------------ */

typedef int (*doc_fn)(void *arg, json_t *doc, const char *text, size_t len);

static int
each_doc(FILE *f, const char *name, doc_fn fn, void *arg)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && (got = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (got <= 1)
            continue;
        json_error_t err;
        json_t *doc = json_loadb(line, (size_t)got, 0, &err);
        if (doc == NULL) {
            fprintf(stderr, "%s:%ld: not JSON: %s\n", name, lineno, err.text);
            rc = 1;
            break;
        }
        json_t *text = json_object_get(doc, "text");
        if (!json_is_string(text)) {
            fprintf(stderr, "%s:%ld: no \"text\"\n", name, lineno);
            rc = 1;
        } else {
            rc = fn(arg, doc, json_string_value(text), json_string_length(text));
        }
        json_decref(doc);
    }
    free(line);
    return rc;
}

static int
load_model(nlpd_tag_model **m, const char *path)
{
    int rc = path ? nlpd_tag_model_load(m, path) : nlpd_tag_model_load_builtin(m, "en");
    if (rc != 0)
        fprintf(stderr, "nlpd-tag-train: cannot load model %s: %s\n", path ? path : "(built in)",
                nlpd_strerror(rc));
    return rc;
}

/* --- annotate ---------------------------------------------------------------------- */

typedef struct annotator {
    nlpd_split *sp;
    nlpd_tagger *tg;
} annotator;

static int
annotate_doc(void *arg, json_t *doc, const char *text, size_t len)
{
    annotator *an = arg;
    int rc = nlpd_split_run(an->sp, text, len, NULL, 0);
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(an->sp, &tok);
    size_t ns = nlpd_split_sentences(an->sp, &sen);
    if (rc == 0)
        rc = nlpd_tagger_run(an->tg, text, len, tok, nt, sen, ns);
    if (rc != 0) {
        fprintf(stderr, "nlpd-tag-train: %s\n", nlpd_strerror(rc));
        return 1;
    }
    const nlpd_tag_entity *e;
    size_t ne = nlpd_tagger_entities(an->tg, &e);
    json_t *out = json_object();
    json_t *id = json_object_get(doc, "id");
    if (id)
        json_object_set(out, "id", id);
    json_object_set_new(out, "text", json_stringn(text, len));
    json_t *arr = json_array();
    for (size_t i = 0; i < ne; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "start", json_integer(e[i].start));
        json_object_set_new(o, "end", json_integer(e[i].end));
        json_object_set_new(o, "label", json_string(nlpd_entity_label_name(e[i].label)));
        json_object_set_new(o, "text", json_stringn(text + e[i].start, e[i].end - e[i].start));
        json_object_set_new(o, "score", json_real(round((double)e[i].score * 1000) / 1000));
        json_array_append_new(arr, o);
    }
    json_object_set_new(out, "entities", arr);
    char *dump = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (dump == NULL)
        return 1;
    puts(dump);
    free(dump);
    return 0;
}

static int
cmd_annotate(int argc, char **argv)
{
    const char *model = NULL;
    nlpd_tag_opts opts = NLPD_TAG_OPTS_INIT;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--names-only") == 0) {
            opts.patterns = 0;
        } else if (strcmp(argv[i], "--sentences-only") == 0) {
            opts.document = 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    nlpd_split_model *smod;
    nlpd_tag_model *m;
    if (nlpd_split_model_load_builtin(&smod, "en") != 0)
        return 1;
    if (load_model(&m, model) != 0) {
        nlpd_split_model_free(&smod);
        return 1;
    }
    annotator an = {0};
    int rc = 1;
    if (nlpd_split_new(&an.sp, smod, NULL) == 0 && nlpd_tagger_new(&an.tg, m, &opts) == 0)
        rc = each_doc(stdin, "stdin", annotate_doc, &an);
    nlpd_tagger_free(&an.tg);
    nlpd_split_free(&an.sp);
    nlpd_tag_model_free(&m);
    nlpd_split_model_free(&smod);
    return rc;
}

/* --- bench ------------------------------------------------------------------------- */

typedef struct bdoc {
    char *text;
    size_t len;
    nlpd_split_token *tok;
    size_t nt;
    nlpd_split_sentence *sen;
    size_t ns;
} bdoc;

typedef struct bench {
    nlpd_split *sp;
    bdoc *docs;
    size_t n, cap;
} bench;

static int
bench_doc(void *arg, json_t *doc, const char *text, size_t len)
{
    (void)doc;
    bench *b = arg;
    if (nlpd_split_run(b->sp, text, len, NULL, 0) != 0)
        return 1;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->docs = realloc(b->docs, b->cap * sizeof(*b->docs));
        if (b->docs == NULL)
            return 1;
    }
    bdoc *d = &b->docs[b->n++];
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    d->nt = nlpd_split_tokens(b->sp, &tok);
    d->ns = nlpd_split_sentences(b->sp, &sen);
    d->text = malloc(len + 1);
    d->tok = malloc((d->nt + 1) * sizeof(*tok));
    d->sen = malloc((d->ns + 1) * sizeof(*sen));
    if (!d->text || !d->tok || !d->sen)
        return 1;
    memcpy(d->text, text, len);
    memcpy(d->tok, tok, d->nt * sizeof(*tok));
    memcpy(d->sen, sen, d->ns * sizeof(*sen));
    d->len = len;
    return 0;
}

/* A whole number in [lo, hi] from `s`, for option `opt`: the value is
 * stored and 0 returned, or an error printed and -1 returned. */
static int
parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != 0 || v < lo || v > hi) {
        fprintf(stderr, "nlpd-tag-train: %s: '%s' is not a whole number from %ld to %ld\n", opt,
                s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* A finite number >= 0 from `s`, for option `opt` (as parse_long). */
static int
parse_nonneg(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != 0 || !isfinite(v) || v < 0) {
        fprintf(stderr, "nlpd-tag-train: %s: '%s' is not a number >= 0\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* An input argument FILE[:w=X][:misc|:nomisc]...: the path into `path`,
 * the weight (default 1) and the MISC mode (-1: look, 0, 1). Returns 0, or
 * -1 with the error printed when a weight is no number >= 0. */
static int
file_spec(const char *arg, char *path, size_t cap, float *weight, int *misc)
{
    snprintf(path, cap, "%s", arg);
    *weight = 1.0f;
    *misc = -1;
    char *colon;
    while ((colon = strrchr(path, ':')) != NULL) {
        double w;
        if (strncmp(colon, ":w=", 3) == 0) {
            if (parse_nonneg(":w=", colon + 3, &w) != 0)
                return -1;
            *weight = (float)w;
        } else if (strcmp(colon, ":misc") == 0) {
            *misc = 1;
        } else if (strcmp(colon, ":nomisc") == 0) {
            *misc = 0;
        } else {
            break;
        }
        *colon = 0;
    }
    return 0;
}

static int
cmd_bench(int argc, char **argv)
{
    const char *model = NULL;
    int repeat = 5;
    bench b = {0};
    nlpd_split_model *smod;
    if (nlpd_split_model_load_builtin(&smod, "en") != 0 || nlpd_split_new(&b.sp, smod, NULL) != 0)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            long v;
            if (parse_long("--repeat", argv[++i], 1, 1000000, &v) != 0)
                return 2;
            repeat = (int)v;
        } else {
            FILE *f = fopen(argv[i], "r");
            if (f == NULL) {
                fprintf(stderr, "nlpd-tag-train: %s: %s\n", argv[i], strerror(errno));
                return 1;
            }
            int rc = each_doc(f, argv[i], bench_doc, &b);
            fclose(f);
            if (rc != 0)
                return 1;
        }
    }
    double best_load = 1e9;
    nlpd_tag_model *m = NULL;
    for (int r = 0; r < 5; r++) {
        nlpd_tag_model_free(&m);
        double t0 = now();
        if (load_model(&m, model) != 0)
            return 1;
        double t = now() - t0;
        if (t < best_load)
            best_load = t;
    }
    nlpd_tagger *tg;
    if (nlpd_tagger_new(&tg, m, NULL) != 0)
        return 1;
    size_t tokens = 0, ents = 0;
    for (size_t i = 0; i < b.n; i++)
        tokens += b.docs[i].nt;
    double best = 1e9;
    for (int r = 0; r < repeat; r++) {
        double t0 = now();
        ents = 0;
        for (size_t i = 0; i < b.n; i++) {
            bdoc *d = &b.docs[i];
            if (nlpd_tagger_run(tg, d->text, d->len, d->tok, d->nt, d->sen, d->ns) != 0)
                return 1;
            ents += nlpd_tagger_entities(tg, NULL);
        }
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    printf("model: %s\nload: %.1f ms (best of 5)\n", nlpd_tag_model_version(m), best_load * 1e3);
    printf("tagging: %zu docs, %zu tokens, %zu entities in %.3f s (best of %d): %.0f tokens/s, "
           "%.0f docs/s\n",
           b.n, tokens, ents, best, repeat, (double)tokens / best, (double)b.n / best);
    nlpd_tagger_free(&tg);
    nlpd_tag_model_free(&m);
    for (size_t i = 0; i < b.n; i++) {
        free(b.docs[i].text);
        free(b.docs[i].tok);
        free(b.docs[i].sen);
    }
    free(b.docs);
    nlpd_split_free(&b.sp);
    nlpd_split_model_free(&smod);
    return 0;
}

/* --- train ------------------------------------------------------------------------- */

typedef struct tsent {
    size_t tok0;  /* first token in the trainer's arrays */
    uint32_t n;
    float weight;
} tsent;

typedef struct trainer {
    nlpd_split *sp;
    nlpd_tag_model *fm; /* feature model: hash bits, clusters, gazetteer */
    nlpd__tag_fx fx;
    /* Training data. */
    uint32_t *feats;
    size_t n_feats, feats_cap;
    size_t foff_cap;
    size_t *foff; /* per token: its features are feats[foff[t] .. foff[t + 1]) */
    uint16_t *allow;
    size_t n_tok, tok_cap;
    tsent *sents;
    size_t n_sents, sents_cap;
    /* Per file while reading. */
    int partial; /* O tokens may be MISC */
    int partial_all; /* ... beginning at any token */
    float weight;
    long spans, misaligned, docs;
    /* Options. */
    double l2;
    /* Scratch for the objective. */
    double *e1, *e2, *a1, *b1, *c1, *a2, *b2, *c2;
    size_t scratch;
    size_t n_emit; /* emission weights: rows * L */
    int iter;
    double t0;
} trainer;

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* Marks a gold span's tokens; returns 1 when it does not align. */
static int
mark_span(trainer *t, const nlpd_split_token *tok, size_t nt, const int *sent_of, size_t base,
          size_t s, size_t e, int type)
{
    size_t i0 = 0;
    while (i0 < nt && tok[i0].end <= s)
        i0++;
    size_t i1 = i0;
    while (i1 < nt && tok[i1].start < e)
        i1++;
    if (i1 == i0)
        return 1; /* no token inside (whitespace only) */
    int ok = tok[i0].start == s && tok[i1 - 1].end == e && sent_of[i0] == sent_of[i1 - 1];
    for (size_t i = i0; i < i1; i++) {
        uint16_t *a = &t->allow[base + i];
        if (!ok) {
            *a = ALL_LABELS;
        } else {
            int y = i == i0 ? nlpd__tag_label_b(type) : nlpd__tag_label_b(type) + 1;
            *a = (uint16_t)(1u << y);
        }
    }
    return !ok;
}

static int
train_doc(void *arg, json_t *doc, const char *text, size_t len)
{
    trainer *t = arg;
    if (nlpd_split_run(t->sp, text, len, NULL, 0) != 0)
        return 1;
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(t->sp, &tok);
    size_t ns = nlpd_split_sentences(t->sp, &sen);
    if (nlpd__tag_fx_doc(&t->fx, t->fm, text, tok, nt, sen, ns) != 0)
        return 1;
    size_t base = t->n_tok;
    if (grow((void **)&t->allow, &t->tok_cap, base + nt + 1, sizeof(*t->allow)) != 0)
        return 1;
    if (grow((void **)&t->foff, &t->foff_cap, base + nt + 2, sizeof(*t->foff)) != 0)
        return 1;
    /* In a set that does not annotate MISC, an O token may be MISC: B-MISC
     * where a name may begin (a capitalized or upper-case word, a number),
     * I-MISC anywhere (with --partial all: B-MISC anywhere too). */
    const uint16_t b_misc = (uint16_t)(1u << nlpd__tag_label_b(NLPD_ENT_MISC));
    const uint16_t i_misc = (uint16_t)(1u << (nlpd__tag_label_b(NLPD_ENT_MISC) + 1));
    int *sent_of = calloc(nt + 1, sizeof(*sent_of));
    if (sent_of == NULL)
        return 1;
    for (size_t i = 0; i < nt; i++) {
        uint16_t o_mask = 1u;
        if (t->partial) {
            uint8_t sh = tok[i].shape;
            int may_begin = t->partial_all || sh == NLPD_SHAPE_CAPITALIZED ||
                            sh == NLPD_SHAPE_UPPER || sh == NLPD_SHAPE_MIXED ||
                            sh == NLPD_SHAPE_NUMBER || sh == NLPD_SHAPE_ALNUM ||
                            sh == NLPD_SHAPE_HASHTAG;
            o_mask = (uint16_t)(1u | i_misc | (may_begin ? b_misc : 0));
        }
        t->allow[base + i] = o_mask;
        sent_of[i] = -1;
    }
    for (size_t s = 0; s < ns; s++)
        for (size_t i = sen[s].first_token; i < sen[s].first_token + sen[s].n_tokens; i++)
            sent_of[i] = (int)s;
    json_t *ents = json_object_get(doc, "entities");
    size_t k;
    json_t *e;
    json_array_foreach(ents, k, e) {
        json_int_t a = json_integer_value(json_object_get(e, "start"));
        json_int_t b = json_integer_value(json_object_get(e, "end"));
        int type = nlpd_entity_label_parse(json_string_value(json_object_get(e, "label")));
        if (type < NLPD_ENT_PER || type > NLPD_ENT_MISC || a < 0 || b <= a || (size_t)b > len)
            continue;
        t->spans++;
        t->misaligned += mark_span(t, tok, nt, sent_of, base, (size_t)a, (size_t)b, type);
    }
    free(sent_of);
    uint32_t f[NLPD__TAG_MAX_FEATS];
    for (size_t s = 0; s < ns; s++) {
        size_t a = sen[s].first_token, b = a + sen[s].n_tokens;
        if (grow((void **)&t->sents, &t->sents_cap, t->n_sents + 1, sizeof(*t->sents)) != 0)
            return 1;
        t->sents[t->n_sents++] = (tsent){base + a, (uint32_t)(b - a), t->weight};
        for (size_t i = a; i < b; i++) {
            size_t nf = nlpd__tag_fx_token(&t->fx, t->fm, a, b, i, f);
            if (grow((void **)&t->feats, &t->feats_cap, t->n_feats + nf, sizeof(*f)) != 0)
                return 1;
            t->foff[base + i] = t->n_feats;
            memcpy(t->feats + t->n_feats, f, nf * sizeof(*f));
            t->n_feats += nf;
            t->foff[base + i + 1] = t->n_feats;
        }
    }
    /* Tokens outside every sentence (none from nlpd_split) get no features. */
    t->n_tok = base + nt;
    t->docs++;
    return 0;
}

static int
scratch(trainer *t, size_t n)
{
    if (n <= t->scratch)
        return 0;
    double **v[] = {&t->e1, &t->e2, &t->a1, &t->b1, &t->a2, &t->b2};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        free(*v[i]);
        *v[i] = malloc(n * L * sizeof(double));
        if (*v[i] == NULL)
            return -1;
    }
    free(t->c1);
    free(t->c2);
    t->c1 = malloc(n * sizeof(double));
    t->c2 = malloc(n * sizeof(double));
    if (!t->c1 || !t->c2)
        return -1;
    t->scratch = n;
    return 0;
}

static lbfgsfloatval_t
evaluate(void *inst, const lbfgsfloatval_t *x, lbfgsfloatval_t *g, const int n,
         const lbfgsfloatval_t step)
{
    (void)step;
    trainer *t = inst;
    memset(g, 0, (size_t)n * sizeof(*g));
    const double *xs = x + t->n_emit, *xt = xs + L;
    double *gs = g + t->n_emit, *gt = gs + L;
    double mstart[L], mtrans[L * L];
    for (int y = 0; y < L; y++)
        mstart[y] = nlpd__tag_transition_ok(-1, y) ? exp(xs[y]) : 0.0;
    for (int i = 0; i < L; i++)
        for (int y = 0; y < L; y++)
            mtrans[i * L + y] = nlpd__tag_transition_ok(i, y) ? exp(xt[i * L + y]) : 0.0;
    double loss = 0;
    for (size_t s = 0; s < t->n_sents; s++) {
        const tsent *st = &t->sents[s];
        size_t m = st->n;
        /* The rows are spread over a large table: ask for all of them
         * first, so that their cache misses overlap. */
        for (size_t k = t->foff[st->tok0]; k < t->foff[st->tok0 + m]; k++) {
            __builtin_prefetch(x + (size_t)t->feats[k] * L);
            __builtin_prefetch(g + (size_t)t->feats[k] * L, 1);
        }
        for (size_t i = 0; i < m; i++) {
            size_t tk = st->tok0 + i;
            double *e = t->e1 + i * L;
            for (int y = 0; y < L; y++)
                e[y] = 0;
            for (size_t k = t->foff[tk]; k < t->foff[tk + 1]; k++) {
                const double *w = x + (size_t)t->feats[k] * L;
                for (int y = 0; y < L; y++)
                    e[y] += w[y];
            }
        }
        memcpy(t->e2, t->e1, m * L * sizeof(double));
        double lz = nlpd__crf_forward_backward(m, t->e1, mstart, mtrans, NULL, t->a1, t->b1,
                                               t->c1);
        double lzc = nlpd__crf_forward_backward(m, t->e2, mstart, mtrans, t->allow + st->tok0,
                                                t->a2, t->b2, t->c2);
        if (!(lzc > -HUGE_VAL))
            continue; /* no allowed path (cannot happen with BIO gold) */
        double wgt = st->weight;
        loss += wgt * (lz - lzc);
        for (size_t i = 0; i < m; i++) {
            size_t tk = st->tok0 + i;
            double d[L];
            for (int y = 0; y < L; y++)
                d[y] = wgt * (t->a1[i * L + y] * t->b1[i * L + y] -
                              t->a2[i * L + y] * t->b2[i * L + y]);
            for (size_t k = t->foff[tk]; k < t->foff[tk + 1]; k++) {
                double *gw = g + (size_t)t->feats[k] * L;
                for (int y = 0; y < L; y++)
                    gw[y] += d[y];
            }
            if (i == 0) {
                for (int y = 0; y < L; y++)
                    gs[y] += d[y];
                continue;
            }
            /* Pairwise marginals (i - 1, i). */
            for (int a = 0; a < L; a++) {
                double pa1 = t->a1[(i - 1) * L + a], pa2 = t->a2[(i - 1) * L + a];
                if (pa1 == 0 && pa2 == 0)
                    continue;
                for (int y = 0; y < L; y++) {
                    double m1 = pa1 * mtrans[a * L + y] * t->e1[i * L + y] *
                                t->b1[i * L + y] / t->c1[i];
                    double m2 = pa2 * mtrans[a * L + y] * t->e2[i * L + y] *
                                t->b2[i * L + y] / t->c2[i];
                    gt[a * L + y] += wgt * (m1 - m2);
                }
            }
        }
    }
    double reg = 0;
    for (int i = 0; i < n; i++) {
        reg += x[i] * x[i];
        g[i] += t->l2 * x[i];
    }
    return loss + 0.5 * t->l2 * reg;
}

static int
progress(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g, const lbfgsfloatval_t fx,
         const lbfgsfloatval_t xnorm, const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step,
         int n, int k, int ls)
{
    (void)x;
    (void)g;
    (void)step;
    (void)ls;
    trainer *t = inst;
    size_t nz = 0;
    for (int i = 0; i < n; i++)
        nz += x[i] != 0;
    if (k % 10 == 0 || k == 1)
        fprintf(stderr, "iter %d: loss %.2f |x| %.2f |g| %.3f, %zu non-zero, %.1f s\n", k, fx,
                xnorm, gnorm, nz, now() - t->t0);
    t->iter = k;
    return 0;
}

static int
cmd_train(int argc, char **argv)
{
    trainer t = {0};
    unsigned bits = 19;
    double l1 = 0;
    int iters = 200;
    int partial = 1;
    const char *clusters = NULL, *classes = NULL, *out = NULL, *desc = "en crf";
    t.l2 = 1.0;
    int first_file = -1;
    for (int i = 0; i < argc; i++) {
        long v;
        if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc) {
            /* The range is the model's (nlpd__tag_model_new says why). */
            if (parse_long("--bits", argv[++i], 0, 64, &v) != 0)
                return 2;
            bits = (unsigned)v;
        } else if (strcmp(argv[i], "--l2") == 0 && i + 1 < argc) {
            if (parse_nonneg("--l2", argv[++i], &t.l2) != 0)
                return 2;
        } else if (strcmp(argv[i], "--l1") == 0 && i + 1 < argc) {
            if (parse_nonneg("--l1", argv[++i], &l1) != 0)
                return 2;
        } else if (strcmp(argv[i], "--iter") == 0 && i + 1 < argc) {
            if (parse_long("--iter", argv[++i], 1, 1000000, &v) != 0)
                return 2;
            iters = (int)v;
        } else if (strcmp(argv[i], "--clusters") == 0 && i + 1 < argc) {
            clusters = argv[++i];
        } else if (strcmp(argv[i], "--word-classes") == 0 && i + 1 < argc) {
            classes = argv[++i];
        } else if (strcmp(argv[i], "--no-partial") == 0) {
            partial = 0;
        } else if (strcmp(argv[i], "--partial-all") == 0) {
            t.partial_all = 1;
        } else if (strcmp(argv[i], "--desc") == 0 && i + 1 < argc) {
            desc = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            usage(stderr);
            return 2;
        } else {
            first_file = i;
            break;
        }
    }
    if (out == NULL || first_file < 0 || !(t.l2 >= 0) || !(l1 >= 0) || iters < 1) {
        usage(stderr);
        return 2;
    }
    for (int i = first_file; i < argc; i++) {
        char path[4096];
        float w;
        int misc;
        if (file_spec(argv[i], path, sizeof(path), &w, &misc) != 0)
            return 2;
    }
    int rc = nlpd__tag_model_new(&t.fm, bits);
    if (rc != 0) {
        fprintf(stderr, "nlpd-tag-train: --bits %u: %s\n", bits, nlpd_strerror(rc));
        return 2;
    }
    if (clusters != NULL) {
        rc = nlpd__clusters_read(&t.fm->clusters, clusters);
        if (rc != 0) {
            fprintf(stderr, "nlpd-tag-train: %s: %s\n", clusters, nlpd_strerror(rc));
            return 1;
        }
        fprintf(stderr, "clusters: %zu words\n", t.fm->clusters.n);
    }
    if (classes != NULL) {
        rc = nlpd__clusters_read(&t.fm->emb, classes);
        if (rc != 0) {
            fprintf(stderr, "nlpd-tag-train: %s: %s\n", classes, nlpd_strerror(rc));
            return 1;
        }
        fprintf(stderr, "word classes: %zu words\n", t.fm->emb.n);
    }
    nlpd_split_model *smod;
    if (nlpd_split_model_load_builtin(&smod, "en") != 0 || nlpd_split_new(&t.sp, smod, NULL) != 0)
        return 1;
    t.t0 = now();
    for (int i = first_file; i < argc; i++) {
        char path[4096];
        int misc;
        file_spec(argv[i], path, sizeof(path), &t.weight, &misc); /* checked above */
        if (misc < 0) {
            /* Does the file annotate MISC anywhere? */
            FILE *f = fopen(path, "r");
            if (f == NULL) {
                fprintf(stderr, "nlpd-tag-train: %s: %s\n", path, strerror(errno));
                return 1;
            }
            char *line = NULL;
            size_t cap = 0;
            misc = 0;
            while (!misc && getline(&line, &cap, f) > 0)
                misc = strstr(line, "\"label\": \"MISC\"") != NULL ||
                       strstr(line, "\"label\":\"MISC\"") != NULL;
            free(line);
            fclose(f);
        }
        t.partial = partial && !misc;
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            fprintf(stderr, "nlpd-tag-train: %s: %s\n", path, strerror(errno));
            return 1;
        }
        long spans0 = t.spans, mis0 = t.misaligned, docs0 = t.docs;
        size_t sents0 = t.n_sents, tok0 = t.n_tok;
        rc = each_doc(f, path, train_doc, &t);
        fclose(f);
        if (rc != 0)
            return 1;
        fprintf(stderr, "%s: %ld docs, %zu sentences, %zu tokens, %ld spans (%ld not on token "
                        "boundaries), weight %g, MISC %s\n",
                path, t.docs - docs0, t.n_sents - sents0, t.n_tok - tok0, t.spans - spans0,
                t.misaligned - mis0, (double)t.weight,
                misc ? "annotated" : (t.partial ? "unannotated (O or MISC)" : "unannotated (O)"));
    }
    fprintf(stderr, "features: %zu (%.1f per token), read in %.1f s\n", t.n_feats,
            (double)t.n_feats / (double)(t.n_tok ? t.n_tok : 1), now() - t.t0);
    size_t maxn = 1;
    for (size_t s = 0; s < t.n_sents; s++)
        if (t.sents[s].n > maxn)
            maxn = t.sents[s].n;
    if (scratch(&t, maxn) != 0)
        return 1;
    t.n_emit = ((size_t)1 << bits) * L;
    int n = (int)(t.n_emit + L + L * L);
    lbfgsfloatval_t *x = lbfgs_malloc(n);
    if (x == NULL)
        return 1;
    memset(x, 0, (size_t)n * sizeof(*x));
    lbfgs_parameter_t param;
    lbfgs_parameter_init(&param);
    param.max_iterations = iters;
    param.epsilon = 1e-5;
    param.past = 10;
    param.delta = 1e-5;
    if (l1 > 0) {
        param.orthantwise_c = l1;
        param.orthantwise_start = 0;
        param.orthantwise_end = (int)t.n_emit;
        param.linesearch = LBFGS_LINESEARCH_BACKTRACKING;
    }
    lbfgsfloatval_t fx = 0;
    t.t0 = now();
    rc = lbfgs(n, x, &fx, evaluate, progress, &t, &param);
    fprintf(stderr, "L-BFGS: %d (%s), %d iterations, loss %.2f, %.1f s\n", rc,
            rc == 0 || rc == LBFGS_ALREADY_MINIMIZED || rc == LBFGSERR_MAXIMUMITERATION ||
                    rc == 1
                ? "done"
                : "stopped early",
            t.iter, fx, now() - t.t0);
    size_t nz = 0;
    for (size_t i = 0; i < t.n_emit; i++)
        nz += x[i] != 0;
    fprintf(stderr, "non-zero emission weights: %zu of %zu\n", nz, t.n_emit);
    rc = nlpd__tag_model_save(t.fm, x, desc, out);
    if (rc != 0)
        fprintf(stderr, "nlpd-tag-train: %s: %s\n", out, nlpd_strerror(rc));
    lbfgs_free(x);
    nlpd__tag_fx_release(&t.fx);
    nlpd_tag_model_free(&t.fm);
    nlpd_split_free(&t.sp);
    nlpd_split_model_free(&smod);
    free(t.feats);
    free(t.foff);
    free(t.allow);
    free(t.sents);
    free(t.e1);
    free(t.e2);
    free(t.a1);
    free(t.b1);
    free(t.c1);
    free(t.a2);
    free(t.b2);
    free(t.c2);
    return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    nlpd_log_set_sink(nlpd_log_stderr, NULL, NLPD_LOG_WARNING);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "train") == 0)
        return cmd_train(argc - 2, argv + 2);
    if (strcmp(argv[1], "annotate") == 0)
        return cmd_annotate(argc - 2, argv + 2);
    if (strcmp(argv[1], "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    usage(stderr);
    return 2;
}
