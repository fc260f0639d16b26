/* stages/summarize/train/tune.c — nlpd-summarize-tune: scores the
 * summarizer's weights on annotated dev sets and searches them.
 *
 * usage: nlpd-summarize-tune [--search] [--weight NAME=V]... SET...
 *   SET is FILE:BUDGET, BUDGET one of sentences=N, words=N, ratio=R. FILE is
 *   JSON Lines with text, sentences ([start, end) byte offsets, as the split
 *   stage made them), summary_text (the reference) and optionally title,
 *   lede, regions ([[kind, start, end], ...]) and entities.
 *
 * It prints ROUGE-1/2/L F1 per set as ../shared/tools/score.py computes them
 * (lower-cased [a-z0-9]+ tokens, no stemming; the chosen sentences joined
 * by a space), for the whole set and for its two halves (documents at even
 * and odd lines), and the same for Lead (the first sentences until the
 * budget is met, as ../shared/tools/lead.py).
 *
 * --search: coordinate ascent over the weights, maximizing the mean of
 * (R1 + R2 + RL) / 3 over the sets on the even half only (--fold 1: the odd
 * half); the other half is held out and its figures printed for each step.
 * Only the weights are written (a line to paste into summarize.c).
 */
#include "nlpd/summarize.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct doc {
    char *text;
    size_t len;
    char *title, *lede;
    uint32_t *starts, *ends;
    size_t ns;
    nlpd_region *regions;
    size_t nr;
    nlpd_span *ents;
    size_t ne;
    uint64_t *ref; /* reference tokens */
    size_t nref;
} doc;

typedef struct set {
    const char *path;
    doc *docs;
    size_t n;
    nlpd_summarize_budget b;
} set;

typedef struct rouge {
    double r1, r2, rl;
    size_t n;
} rouge;

static void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static uint64_t
hash_tok(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Appends the [a-z0-9]+ tokens of lower-cased s[0, n) to *v. */
static void
tokens(const char *s, size_t n, uint64_t **v, size_t *nv, size_t *cap)
{
    size_t i = 0;
    char buf[256];
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        int al = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!al) {
            i++;
            continue;
        }
        size_t k = 0;
        uint64_t h = 1469598103934665603ull;
        while (i < n) {
            c = (unsigned char)s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
                break;
            if (c >= 'A' && c <= 'Z')
                c = (unsigned char)(c + 32);
            h ^= c;
            h *= 1099511628211ull;
            if (k < sizeof(buf))
                buf[k++] = (char)c;
            i++;
        }
        (void)hash_tok;
        if (*nv == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            uint64_t *p = realloc(*v, *cap * sizeof(**v));
            if (p == NULL)
                exit(2);
            *v = p;
        }
        (*v)[(*nv)++] = h;
    }
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double
f1(size_t overlap, size_t nh, size_t nr)
{
    if (overlap == 0 || nh == 0 || nr == 0)
        return 0.0;
    double p = (double)overlap / (double)nh, r = (double)overlap / (double)nr;
    return 2 * p * r / (p + r);
}

static double
rouge_n(const uint64_t *ref, size_t nr, const uint64_t *hyp, size_t nh, int n)
{
    if (nr < (size_t)n || nh < (size_t)n)
        return 0.0;
    size_t a = nr - (size_t)n + 1, b = nh - (size_t)n + 1;
    uint64_t *x = xmalloc(a * sizeof(*x)), *y = xmalloc(b * sizeof(*y));
    for (size_t i = 0; i < a; i++)
        x[i] = n == 1 ? ref[i] : ref[i] * 31 + ref[i + 1] * 1000003;
    for (size_t i = 0; i < b; i++)
        y[i] = n == 1 ? hyp[i] : hyp[i] * 31 + hyp[i + 1] * 1000003;
    qsort(x, a, sizeof(*x), cmp_u64);
    qsort(y, b, sizeof(*y), cmp_u64);
    size_t i = 0, j = 0, ov = 0;
    while (i < a && j < b) {
        if (x[i] == y[j]) {
            ov++;
            i++;
            j++;
        } else if (x[i] < y[j]) {
            i++;
        } else {
            j++;
        }
    }
    free(x);
    free(y);
    return f1(ov, b, a);
}

static double
rouge_l(const uint64_t *ref, size_t nr, const uint64_t *hyp, size_t nh)
{
    if (nr == 0 || nh == 0)
        return 0.0;
    uint32_t *prev = calloc(nh + 1, sizeof(*prev)), *cur = calloc(nh + 1, sizeof(*cur));
    if (prev == NULL || cur == NULL)
        exit(2);
    for (size_t i = 0; i < nr; i++) {
        cur[0] = 0;
        for (size_t j = 1; j <= nh; j++)
            cur[j] = ref[i] == hyp[j - 1] ? prev[j - 1] + 1
                                          : (prev[j] > cur[j - 1] ? prev[j] : cur[j - 1]);
        uint32_t *t = prev;
        prev = cur;
        cur = t;
    }
    size_t m = prev[nh];
    free(prev);
    free(cur);
    return f1(m, nh, nr);
}

static char *
dup_str(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void
load_set(set *st)
{
    FILE *f = fopen(st->path, "r");
    if (f == NULL) {
        perror(st->path);
        exit(2);
    }
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, f)) > 0) {
        json_error_t err;
        json_t *j = json_loadb(line, (size_t)got, 0, &err);
        if (j == NULL)
            continue;
        json_t *ref = json_object_get(j, "summary_text");
        json_t *sents = json_object_get(j, "sentences");
        if (!json_is_string(ref) || !json_is_array(sents)) {
            json_decref(j);
            continue;
        }
        if (st->n == cap) {
            cap = cap ? cap * 2 : 64;
            doc *p = realloc(st->docs, cap * sizeof(*p));
            if (p == NULL)
                exit(2);
            st->docs = p;
        }
        doc *d = &st->docs[st->n++];
        memset(d, 0, sizeof(*d));
        json_t *t = json_object_get(j, "text");
        d->len = json_string_length(t);
        d->text = dup_str(json_string_value(t), d->len);
        const char *ti = json_string_value(json_object_get(j, "title"));
        d->title = ti != NULL ? dup_str(ti, strlen(ti)) : NULL;
        const char *le = json_string_value(json_object_get(j, "lede"));
        d->lede = le != NULL ? dup_str(le, strlen(le)) : NULL;
        d->ns = json_array_size(sents);
        d->starts = xmalloc(d->ns * sizeof(uint32_t));
        d->ends = xmalloc(d->ns * sizeof(uint32_t));
        for (size_t i = 0; i < d->ns; i++) {
            json_t *p = json_array_get(sents, i);
            d->starts[i] = (uint32_t)json_integer_value(json_array_get(p, 0));
            d->ends[i] = (uint32_t)json_integer_value(json_array_get(p, 1));
        }
        json_t *rg = json_object_get(j, "regions");
        d->nr = json_array_size(rg);
        d->regions = xmalloc(d->nr * sizeof(nlpd_region));
        for (size_t i = 0; i < d->nr; i++) {
            json_t *p = json_array_get(rg, i);
            d->regions[i].kind = (uint32_t)json_integer_value(json_array_get(p, 0));
            d->regions[i].start = (uint32_t)json_integer_value(json_array_get(p, 1));
            d->regions[i].end = (uint32_t)json_integer_value(json_array_get(p, 2));
        }
        json_t *en = json_object_get(j, "entities");
        d->ne = json_array_size(en);
        d->ents = xmalloc(d->ne * sizeof(nlpd_span));
        for (size_t i = 0; i < d->ne; i++) {
            json_t *p = json_array_get(en, i);
            d->ents[i].start = (uint32_t)json_integer_value(json_object_get(p, "start"));
            d->ents[i].end = (uint32_t)json_integer_value(json_object_get(p, "end"));
        }
        size_t rc = 0;
        tokens(json_string_value(ref), json_string_length(ref), &d->ref, &d->nref, &rc);
        json_decref(j);
    }
    free(line);
    fclose(f);
}

/* Scores one set; fold -1: all, 0: even docs, 1: odd docs. lead: Lead
 * instead of the summarizer. use_ents 0 hides the entities. */
static rouge
score_set(const set *st, nlpd_summarizer *sz, int fold, int lead, int use_ents)
{
    rouge r = {0, 0, 0, 0};
    uint64_t *hyp = NULL;
    size_t nh = 0, hcap = 0;
    for (size_t k = 0; k < st->n; k++) {
        if (fold >= 0 && (int)(k % 2) != fold)
            continue;
        const doc *d = &st->docs[k];
        const uint32_t *sel = NULL;
        size_t n_sel = 0;
        uint32_t lead_sel[4096];
        if (lead) {
            double budget = st->b.sentences ? (double)st->b.sentences : 0.0;
            if (st->b.ratio > 0.0 || st->b.words > 0) {
                size_t tw = 0;
                int in = 0;
                for (size_t i = 0; i < d->len; i++) {
                    unsigned char c = (unsigned char)d->text[i];
                    int sp =
                        c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
                    tw += !sp && !in;
                    in = !sp;
                }
                budget = st->b.words ? (double)st->b.words : st->b.ratio * (double)tw;
            }
            double used = 0;
            for (size_t i = 0; i < d->ns && n_sel < 4096; i++) {
                if (st->b.sentences ? n_sel >= st->b.sentences : used >= budget)
                    break;
                lead_sel[n_sel++] = (uint32_t)i;
                int in = 0;
                for (uint32_t b = d->starts[i]; b < d->ends[i]; b++) {
                    unsigned char c = (unsigned char)d->text[b];
                    int sp = c == ' ' || c == '\t' || c == '\n' || c == '\r';
                    used += !sp && !in;
                    in = !sp;
                }
            }
            sel = lead_sel;
        } else {
            nlpd_summarize_input in = {
                .text = d->text,
                .len = d->len,
                .starts = d->starts,
                .ends = d->ends,
                .n_sentences = d->ns,
                .regions = d->nr ? d->regions : NULL,
                .n_regions = d->nr,
                .title = d->title,
                .title_len = d->title ? strlen(d->title) : 0,
                .lede = d->lede,
                .lede_len = d->lede ? strlen(d->lede) : 0,
                .entities = use_ents && d->ne ? d->ents : NULL,
                .n_entities = use_ents ? d->ne : 0,
            };
            if (nlpd_summarize_run(sz, &in, &st->b) != 0) {
                fprintf(stderr, "%s: doc %zu rejected\n", st->path, k);
                exit(2);
            }
            n_sel = nlpd_summarize_selected(sz, &sel);
            if (getenv("NLPD_TUNE_DUMP") != NULL) {
                fprintf(stderr, "doc %zu:", k);
                for (size_t q = 0; q < n_sel; q++)
                    fprintf(stderr, " %u", sel[q]);
                fprintf(stderr, "\n");
            }
        }
        nh = 0;
        for (size_t q = 0; q < n_sel; q++)
            tokens(d->text + d->starts[sel[q]], d->ends[sel[q]] - d->starts[sel[q]], &hyp, &nh,
                   &hcap);
        r.r1 += rouge_n(d->ref, d->nref, hyp, nh, 1);
        r.r2 += rouge_n(d->ref, d->nref, hyp, nh, 2);
        r.rl += rouge_l(d->ref, d->nref, hyp, nh);
        r.n++;
    }
    free(hyp);
    if (r.n) {
        r.r1 /= (double)r.n;
        r.r2 /= (double)r.n;
        r.rl /= (double)r.n;
    }
    return r;
}

static double
objective(const set *sets, size_t n, const nlpd_summarize_model *m, const nlpd_summarize_weights *w,
          int fold)
{
    nlpd_summarizer *sz;
    if (nlpd_summarizer_new(&sz, m, w) != 0)
        return -1.0;
    double o = 0.0;
    for (size_t i = 0; i < n; i++) {
        rouge r = score_set(&sets[i], sz, fold, 0, 1);
        o += (r.r1 + r.r2 + r.rl) / 3.0;
    }
    nlpd_summarizer_free(&sz);
    return o / (double)n;
}

#define NW 10

static float *
wref(nlpd_summarize_weights *w, int k)
{
    float *f[NW] = {&w->centrality, &w->centroid,      &w->position, &w->title,
                    &w->lede,       &w->entity,        &w->length,   &w->length_words,
                    &w->redundancy, &w->position_scale};
    return f[k];
}

static const char *const wname[NW] = {"centrality", "centroid",      "position", "title",
                                      "lede",       "entity",        "length",   "length_words",
                                      "redundancy", "position_scale"};

static void
print_weights(const nlpd_summarize_weights *w)
{
    for (int k = 0; k < NW; k++)
        printf("%s%s=%g", k ? " " : "", wname[k], (double)*wref((nlpd_summarize_weights *)w, k));
    printf("\n");
}

static void
report(const set *sets, size_t n, const nlpd_summarize_model *m, const nlpd_summarize_weights *w)
{
    nlpd_summarizer *sz;
    if (nlpd_summarizer_new(&sz, m, w) != 0)
        exit(2);
    for (size_t i = 0; i < n; i++) {
        for (int lead = 0; lead < 2; lead++) {
            rouge a = score_set(&sets[i], sz, -1, lead, 1);
            rouge e = score_set(&sets[i], sz, 0, lead, 1);
            rouge o = score_set(&sets[i], sz, 1, lead, 1);
            printf("%-40s %-7s all %.3f/%.3f/%.3f  even %.3f/%.3f/%.3f  odd %.3f/%.3f/%.3f"
                   " (n=%zu)\n",
                   sets[i].path, lead ? "lead" : "system", a.r1, a.r2, a.rl, e.r1, e.r2, e.rl, o.r1,
                   o.r2, o.rl, a.n);
        }
        rouge ne = score_set(&sets[i], sz, -1, 0, 0);
        printf("%-40s %-7s all %.3f/%.3f/%.3f (entities hidden)\n", sets[i].path, "system", ne.r1,
               ne.r2, ne.rl);
    }
    nlpd_summarizer_free(&sz);
}

int
main(int argc, char **argv)
{
    int search = 0, fold = 0;
    nlpd_summarize_weights w = nlpd_summarize_weights_default();
    set sets[16];
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--search") == 0) {
            search = 1;
        } else if (strcmp(argv[i], "--fold") == 0 && i + 1 < argc) {
            fold = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--weight") == 0 && i + 1 < argc) {
            const char *a = argv[++i];
            const char *eq = strchr(a, '=');
            int ok = 0;
            for (int k = 0; eq != NULL && k < NW; k++)
                if (strlen(wname[k]) == (size_t)(eq - a) &&
                    strncmp(wname[k], a, (size_t)(eq - a)) == 0) {
                    *wref(&w, k) = strtof(eq + 1, NULL);
                    ok = 1;
                }
            if (!ok) {
                fprintf(stderr, "bad --weight %s\n", a);
                return 2;
            }
        } else if (n < 16 && strchr(argv[i], ':') != NULL) {
            set *st = &sets[n++];
            memset(st, 0, sizeof(*st));
            char *c = strrchr(argv[i], ':');
            *c = '\0';
            st->path = argv[i];
            if (strncmp(c + 1, "sentences=", 10) == 0)
                st->b.sentences = (uint32_t)atoi(c + 11);
            else if (strncmp(c + 1, "words=", 6) == 0)
                st->b.words = (uint32_t)atoi(c + 7);
            else if (strncmp(c + 1, "ratio=", 6) == 0)
                st->b.ratio = atof(c + 7);
            else {
                fprintf(stderr, "bad budget %s\n", c + 1);
                return 2;
            }
            load_set(st);
        } else {
            fprintf(stderr, "usage: nlpd-summarize-tune [--search [--fold 0|1]] "
                            "[--weight NAME=V]... FILE:BUDGET...\n");
            return 2;
        }
    }
    nlpd_summarize_model *m;
    if (nlpd_summarize_model_load_builtin(&m) != 0)
        return 2;
    if (search) {
        static const float grid[] = {0.0f, 0.1f, 0.2f, 0.3f, 0.5f, 0.75f,
                                     1.0f, 1.5f, 2.0f, 3.0f, 5.0f};
        static const float scales[] = {0.25f, 0.5f, 1.0f, 2.0f, 3.0f, 5.0f, 8.0f, 13.0f, 20.0f};
        double best = objective(sets, n, m, &w, fold);
        for (int round = 0; round < 3; round++) {
            int changed = 0;
            for (int k = 0; k < NW; k++) {
                const float *g = k == 9 ? scales : grid;
                size_t ng =
                    k == 9 ? sizeof(scales) / sizeof(scales[0]) : sizeof(grid) / sizeof(grid[0]);
                float keep = *wref(&w, k);
                for (size_t q = 0; q < ng; q++) {
                    *wref(&w, k) = g[q];
                    double o = objective(sets, n, m, &w, fold);
                    if (o > best + 1e-6) {
                        best = o;
                        keep = g[q];
                        changed = 1;
                    }
                }
                *wref(&w, k) = keep;
            }
            printf("round %d: fit %.4f held-out %.4f  ", round, best,
                   objective(sets, n, m, &w, 1 - fold));
            print_weights(&w);
            if (!changed)
                break;
        }
    }
    print_weights(&w);
    report(sets, n, m, &w);
    nlpd_summarize_model_free(&m);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sets[i].n; k++) {
            doc *d = &sets[i].docs[k];
            free(d->text);
            free(d->title);
            free(d->lede);
            free(d->starts);
            free(d->ends);
            free(d->regions);
            free(d->ents);
            free(d->ref);
        }
        free(sets[i].docs);
    }
    return 0;
}
