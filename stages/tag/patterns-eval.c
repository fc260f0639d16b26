/* stages/tag/patterns-eval.c — runs the date, time, money, percent and
 * number patterns (patterns.h) over JSON Lines documents split by
 * nlpd_split. A development tool:
 *
 *   nlpd-tag-patterns-eval --fixture tests/fixtures/tag/patterns.jsonl [-v]
 *       scores our own cases: each line {"id", "text", "expect": [[surface,
 *       label], ...]} lists the expected entities in text order (numbers
 *       on); prints precision, recall and F1 per label and overall, and
 *       with -v every case that differs.
 *   nlpd-tag-patterns-eval --annotate [--numbers] < docs.jsonl > out.jsonl
 *       writes each document back with "entities" (FORMAT.md), for
 *       ../shared/tools/score.py.
 *   nlpd-tag-patterns-eval --gold GOLD.jsonl
 *       scores the labels DATE ... ORDINAL that a gold file annotates (exact
 *       span and label; score.py leaves them out) and lists the differences.
 *   nlpd-tag-patterns-eval --keyword-slots
 *       prints the body of kw_slots, the hash index of the keyword table in
 *       patterns.c, to paste between its BEGIN and END lines after a change
 *       to the keywords (tag_patterns_test fails until then).
 *   nlpd-tag-patterns-eval --bench [--runs N] docs.jsonl...
 *       splits every document once, then times the patterns alone over all
 *       sentences (numbers on), N runs (default 5), and prints the best
 *       and median ns/token.
 */
#define _POSIX_C_SOURCE 200809L
#include "nlpd/split.h"
#include "nlpd/tag.h"
#include "patterns.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_LABELS NLPD_ENT_COUNT_

static const char *const label_names[N_LABELS] = {
    "", "PER", "ORG", "LOC", "MISC", "DATE", "TIME", "MONEY", "PERCENT", "CARDINAL", "ORDINAL"};

static int
label_of(const char *name)
{
    for (int k = 1; k < N_LABELS; k++) {
        if (strcmp(label_names[k], name) == 0)
            return k;
    }
    return 0;
}

typedef struct span {
    size_t start, end;
    int label;
} span;

/* Splits `text` and runs the patterns sentence by sentence; returns the
 * entities in a malloc'd array (*n of them). */
static span *
run_doc(nlpd_split *sp, const char *text, size_t len, int numbers, size_t *n)
{
    *n = 0;
    if (nlpd_split_run(sp, text, len, NULL, 0) != 0)
        return NULL;
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t ns = nlpd_split_sentences(sp, &sen);
    span *out = malloc((nt + 1) * sizeof(*out));
    nlpd__pattern_match *m = malloc((nt + 1) * sizeof(*m));
    if (out == NULL || m == NULL) {
        free(out);
        free(m);
        return NULL;
    }
    for (size_t k = 0; k < ns; k++) {
        const nlpd_split_token *st = tok + sen[k].first_token;
        size_t nm = nlpd__patterns_match(text, st, sen[k].n_tokens, numbers, m);
        for (size_t q = 0; q < nm; q++) {
            out[*n].start = st[m[q].first_token].start;
            out[*n].end = st[m[q].first_token + m[q].n_tokens - 1].end;
            out[*n].label = m[q].label;
            (*n)++;
        }
    }
    free(m);
    return out;
}

static int
for_lines(FILE *f, int (*fn)(json_t *doc, void *arg), void *arg)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t r;
    int rc = 0;
    while ((r = getline(&line, &cap, f)) > 0) {
        json_error_t err;
        json_t *doc = json_loadb(line, (size_t)r, 0, &err);
        if (doc == NULL) {
            if (r > 1)
                fprintf(stderr, "bad JSON: %s\n", err.text);
            continue;
        }
        rc = fn(doc, arg);
        json_decref(doc);
        if (rc != 0)
            break;
    }
    free(line);
    return rc;
}

/* ---- --fixture ---------------------------------------------------------- */

typedef struct fix_state {
    nlpd_split *sp;
    int verbose;
    size_t tp[N_LABELS], fp[N_LABELS], fn[N_LABELS];
    size_t cases, exact;
} fix_state;

static int
fix_case(json_t *doc, void *arg)
{
    fix_state *st = arg;
    const char *text = json_string_value(json_object_get(doc, "text"));
    json_t *exp = json_object_get(doc, "expect");
    if (text == NULL || !json_is_array(exp))
        return 0;
    size_t len = strlen(text), ne = json_array_size(exp), ng;
    span *gold = calloc(ne + 1, sizeof(*gold));
    size_t from = 0;
    ng = 0;
    for (size_t k = 0; k < ne; k++) {
        json_t *e = json_array_get(exp, k);
        const char *surf = json_string_value(json_array_get(e, 0));
        const char *lab = json_string_value(json_array_get(e, 1));
        /* an optional third element skips that many earlier occurrences */
        json_int_t skip = json_integer_value(json_array_get(e, 2));
        const char *at = surf != NULL ? strstr(text + from, surf) : NULL;
        while (at != NULL && skip-- > 0)
            at = strstr(at + 1, surf);
        if (at == NULL || lab == NULL || label_of(lab) == 0) {
            fprintf(stderr, "%s: expected \"%s\" not found in order\n",
                    json_string_value(json_object_get(doc, "id")), surf != NULL ? surf : "?");
            continue;
        }
        gold[ng].start = (size_t)(at - text);
        gold[ng].end = gold[ng].start + strlen(surf);
        gold[ng].label = label_of(lab);
        from = gold[ng].end;
        ng++;
    }
    size_t nsys;
    span *sys = run_doc(st->sp, text, len, 1, &nsys);
    int same = nsys == ng;
    for (size_t a = 0; a < nsys; a++) {
        int hit = 0;
        for (size_t b = 0; b < ng; b++) {
            if (sys[a].start == gold[b].start && sys[a].end == gold[b].end &&
                sys[a].label == gold[b].label)
                hit = 1;
        }
        if (hit)
            st->tp[sys[a].label]++;
        else
            st->fp[sys[a].label]++, same = 0;
    }
    for (size_t b = 0; b < ng; b++) {
        int hit = 0;
        for (size_t a = 0; a < nsys; a++) {
            if (sys[a].start == gold[b].start && sys[a].end == gold[b].end &&
                sys[a].label == gold[b].label)
                hit = 1;
        }
        if (!hit)
            st->fn[gold[b].label]++, same = 0;
    }
    st->cases++;
    st->exact += (size_t)same;
    if (!same && st->verbose) {
        printf("%s: %s\n  expected:", json_string_value(json_object_get(doc, "id")), text);
        for (size_t b = 0; b < ng; b++)
            printf(" [%.*s]%s", (int)(gold[b].end - gold[b].start), text + gold[b].start,
                   label_names[gold[b].label]);
        printf("\n  got:     ");
        for (size_t a = 0; a < nsys; a++)
            printf(" [%.*s]%s", (int)(sys[a].end - sys[a].start), text + sys[a].start,
                   label_names[sys[a].label]);
        printf("\n");
    }
    free(sys);
    free(gold);
    return 0;
}

static void
print_prf(const char *name, size_t tp, size_t fp, size_t fn)
{
    double p = tp + fp ? (double)tp / (double)(tp + fp) : 0;
    double r = tp + fn ? (double)tp / (double)(tp + fn) : 0;
    double f = p + r > 0 ? 2 * p * r / (p + r) : 0;
    printf("%-9s P %.3f  R %.3f  F1 %.3f  (tp %zu fp %zu fn %zu)\n", name, p, r, f, tp, fp, fn);
}

/* ---- --gold ------------------------------------------------------------- */

/* Scores the labels DATE ... ORDINAL that a gold file (FORMAT.md) annotates
 * somewhere, by exact span and label (what score.py does for PER ... MISC;
 * it leaves these labels out). */
typedef struct gold_state {
    nlpd_split *sp;
    int in_gold[N_LABELS];
    size_t tp[N_LABELS], fp[N_LABELS], fn[N_LABELS];
} gold_state;

static int
gold_doc(json_t *doc, void *arg)
{
    gold_state *st = arg;
    json_t *t = json_object_get(doc, "text");
    json_t *ents = json_object_get(doc, "entities");
    if (!json_is_string(t))
        return 0;
    size_t n, ng = json_array_size(ents);
    span *sys = run_doc(st->sp, json_string_value(t), json_string_length(t), 1, &n);
    span *gold = calloc(ng + 1, sizeof(*gold));
    for (size_t k = 0; k < ng; k++) {
        json_t *g = json_array_get(ents, k);
        gold[k].start = (size_t)json_integer_value(json_object_get(g, "start"));
        gold[k].end = (size_t)json_integer_value(json_object_get(g, "end"));
        const char *lab = json_string_value(json_object_get(g, "label"));
        gold[k].label = label_of(lab != NULL ? lab : "");
        if (gold[k].label >= NLPD_ENT_DATE)
            st->in_gold[gold[k].label] = 1;
    }
    for (size_t a = 0; a < n; a++) {
        int hit = 0;
        for (size_t b = 0; b < ng; b++)
            hit |= sys[a].start == gold[b].start && sys[a].end == gold[b].end &&
                   sys[a].label == gold[b].label;
        if (hit)
            st->tp[sys[a].label]++;
        else
            st->fp[sys[a].label]++;
    }
    for (size_t b = 0; b < ng; b++) {
        if (gold[b].label < NLPD_ENT_DATE)
            continue;
        int hit = 0;
        for (size_t a = 0; a < n; a++)
            hit |= sys[a].start == gold[b].start && sys[a].end == gold[b].end &&
                   sys[a].label == gold[b].label;
        if (!hit) {
            st->fn[gold[b].label]++;
            printf("missed %s \"%.*s\"\n", label_names[gold[b].label],
                   (int)(gold[b].end - gold[b].start), json_string_value(t) + gold[b].start);
        }
    }
    for (size_t a = 0; a < n; a++) {
        int hit = 0;
        for (size_t b = 0; b < ng; b++)
            hit |= sys[a].start == gold[b].start && sys[a].end == gold[b].end &&
                   sys[a].label == gold[b].label;
        if (!hit && sys[a].label >= NLPD_ENT_DATE && st->in_gold[sys[a].label])
            printf("extra  %s \"%.*s\"\n", label_names[sys[a].label],
                   (int)(sys[a].end - sys[a].start), json_string_value(t) + sys[a].start);
    }
    free(gold);
    free(sys);
    return 0;
}

/* ---- --annotate --------------------------------------------------------- */

typedef struct ann_state {
    nlpd_split *sp;
    int numbers;
} ann_state;

static int
ann_doc(json_t *doc, void *arg)
{
    ann_state *st = arg;
    const char *text = json_string_value(json_object_get(doc, "text"));
    if (text == NULL)
        return 0;
    size_t n, len = json_string_length(json_object_get(doc, "text"));
    span *e = run_doc(st->sp, text, len, st->numbers, &n);
    json_t *arr = json_array();
    for (size_t k = 0; k < n; k++) {
        json_array_append_new(arr, json_pack("{s:I,s:I,s:s,s:s%}", "start", (json_int_t)e[k].start,
                                             "end", (json_int_t)e[k].end, "label",
                                             label_names[e[k].label], "text", text + e[k].start,
                                             e[k].end - e[k].start));
    }
    json_t *out = json_pack("{s:O,s:O,s:o}", "id", json_object_get(doc, "id"), "text",
                            json_object_get(doc, "text"), "entities", arr);
    char *s = json_dumps(out, JSON_COMPACT);
    if (s != NULL)
        puts(s);
    free(s);
    json_decref(out);
    free(e);
    return 0;
}

/* ---- --bench ------------------------------------------------------------ */

typedef struct sent {
    const char *text;
    nlpd_split_token *tok;
    size_t n;
} sent;

typedef struct bench_state {
    nlpd_split *sp;
    sent *s;
    size_t n, cap, tokens;
    char **texts;
    size_t ntexts;
} bench_state;

static int
bench_doc(json_t *doc, void *arg)
{
    bench_state *st = arg;
    json_t *t = json_object_get(doc, "text");
    if (!json_is_string(t))
        return 0;
    size_t len = json_string_length(t);
    char *text = malloc(len + 1);
    memcpy(text, json_string_value(t), len + 1);
    st->texts = realloc(st->texts, (st->ntexts + 1) * sizeof(*st->texts));
    st->texts[st->ntexts++] = text;
    if (nlpd_split_run(st->sp, text, len, NULL, 0) != 0)
        return 0;
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    nlpd_split_tokens(st->sp, &tok);
    size_t ns = nlpd_split_sentences(st->sp, &sen);
    for (size_t k = 0; k < ns; k++) {
        if (st->n == st->cap) {
            st->cap = st->cap ? 2 * st->cap : 1024;
            st->s = realloc(st->s, st->cap * sizeof(*st->s));
        }
        sent *x = &st->s[st->n++];
        x->text = text;
        x->n = sen[k].n_tokens;
        x->tok = malloc(x->n * sizeof(*x->tok));
        memcpy(x->tok, tok + sen[k].first_token, x->n * sizeof(*x->tok));
        st->tokens += x->n;
    }
    return 0;
}

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int
bench(nlpd_split *sp, int runs, char **files, int nfiles)
{
    bench_state st = {.sp = sp};
    for (int k = 0; k < nfiles; k++) {
        FILE *f = fopen(files[k], "r");
        if (f == NULL) {
            perror(files[k]);
            return 1;
        }
        for_lines(f, bench_doc, &st);
        fclose(f);
    }
    size_t maxn = 1;
    for (size_t k = 0; k < st.n; k++)
        maxn = st.s[k].n > maxn ? st.s[k].n : maxn;
    nlpd__pattern_match *m = malloc(maxn * sizeof(*m));
    double *ns = calloc((size_t)runs, sizeof(*ns));
    size_t found = 0;
    /* each run passes over the corpus enough times for ~10 M tokens */
    size_t reps = st.tokens > 0 ? 10000000 / st.tokens + 1 : 1;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ns();
        for (size_t p = 0; p < reps; p++) {
            for (size_t k = 0; k < st.n; k++)
                found += nlpd__patterns_match(st.s[k].text, st.s[k].tok, st.s[k].n, 1, m);
        }
        ns[r] = (now_ns() - t0) / (double)(st.tokens * reps);
    }
    qsort(ns, (size_t)runs, sizeof(*ns), cmp_double);
    printf("corpus: %zu documents, %zu sentences, %zu tokens; %zu passes per run, %d runs\n",
           st.ntexts, st.n, st.tokens, reps, runs);
    printf("patterns (numbers on): best %.1f ns/token, median %.1f ns/token "
           "(%.1f M tokens/s best); %zu matches per pass\n",
           ns[0], ns[runs / 2], 1e3 / ns[0], found / (reps * (size_t)runs));
    for (size_t k = 0; k < st.n; k++)
        free(st.s[k].tok);
    for (size_t k = 0; k < st.ntexts; k++)
        free(st.texts[k]);
    free(st.s);
    free(st.texts);
    free(m);
    free(ns);
    return 0;
}

int
main(int argc, char **argv)
{
    nlpd_split_model *model = NULL;
    nlpd_split *sp = NULL;
    if (nlpd_split_model_load_builtin(&model, "en") != 0 || nlpd_split_new(&sp, model, NULL) != 0) {
        fprintf(stderr, "cannot load the split model\n");
        return 1;
    }
    int rc = 0;
    if (argc >= 3 && strcmp(argv[1], "--fixture") == 0) {
        fix_state st = {.sp = sp, .verbose = argc > 3 && strcmp(argv[3], "-v") == 0};
        FILE *f = fopen(argv[2], "r");
        if (f == NULL) {
            perror(argv[2]);
            rc = 1;
        } else {
            for_lines(f, fix_case, &st);
            fclose(f);
            size_t tp = 0, fp = 0, fn = 0, tp4 = 0, fp4 = 0, fn4 = 0;
            printf("%zu cases, %zu exactly right\n", st.cases, st.exact);
            for (int k = NLPD_ENT_DATE; k < N_LABELS; k++) {
                print_prf(label_names[k], st.tp[k], st.fp[k], st.fn[k]);
                tp += st.tp[k], fp += st.fp[k], fn += st.fn[k];
                if (k <= NLPD_ENT_PERCENT)
                    tp4 += st.tp[k], fp4 += st.fp[k], fn4 += st.fn[k];
            }
            print_prf("D/T/M/P", tp4, fp4, fn4);
            print_prf("all", tp, fp, fn);
        }
    } else if (argc >= 3 && strcmp(argv[1], "--gold") == 0) {
        gold_state st = {.sp = sp};
        FILE *f = fopen(argv[2], "r");
        if (f == NULL) {
            perror(argv[2]);
            rc = 1;
        } else {
            for_lines(f, gold_doc, &st);
            fclose(f);
            for (int k = NLPD_ENT_DATE; k < N_LABELS; k++) {
                if (st.in_gold[k])
                    print_prf(label_names[k], st.tp[k], st.fp[k], st.fn[k]);
            }
        }
    } else if (argc >= 2 && strcmp(argv[1], "--keyword-slots") == 0) {
        /* the body of kw_slots in patterns.c, 16 a line */
        uint16_t slots[2048];
        if (nlpd__patterns_keyword_slots(slots, 2048) != 0) {
            fprintf(stderr, "the keyword table does not fit 2048 slots at half load\n");
            rc = 1;
        } else {
            for (size_t k = 0; k < 2048; k++)
                printf("%s%u,%s", k % 16 == 0 ? "    " : " ", slots[k], k % 16 == 15 ? "\n" : "");
        }
    } else if (argc >= 2 && strcmp(argv[1], "--annotate") == 0) {
        ann_state st = {.sp = sp, .numbers = argc > 2 && strcmp(argv[2], "--numbers") == 0};
        for_lines(stdin, ann_doc, &st);
    } else if (argc >= 3 && strcmp(argv[1], "--bench") == 0) {
        int runs = 5, first = 2;
        if (argc >= 5 && strcmp(argv[2], "--runs") == 0) {
            runs = atoi(argv[3]);
            first = 4;
            if (runs < 1)
                runs = 1;
        }
        rc = bench(sp, runs, argv + first, argc - first);
    } else {
        fprintf(stderr,
                "usage: %s --fixture FILE [-v] | --gold FILE | --annotate [--numbers] | "
                "--keyword-slots | "
                "--bench [--runs N] FILE...\n",
                argv[0]);
        rc = 2;
    }
    nlpd_split_free(&sp);
    nlpd_split_model_free(&model);
    return rc;
}
