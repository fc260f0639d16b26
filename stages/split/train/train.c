/* stages/split/train/train.c — nlpd-split-train: builds the split model's
 * learned part from text with gold sentence breaks, and runs a model over
 * JSON Lines for quick evaluation.
 *
 *   nlpd-split-train train [--base FILE] [--l2 X] [--min-count N] GOLD.jsonl... > model.txt
 *       Reads documents in the format of FORMAT.md (text + sentences, byte
 *       spans) and writes a model file: the sentence starters (the share of
 *       a word's capitalized uses that begin a sentence) and the
 *       abbreviations the gold breaks reveal (a word whose period seldom
 *       ends a sentence). The abbreviation list that ships beside the model
 *       (data/en/abbreviations.txt, or --base) is loaded first, so learned
 *       entries only add to it. The output is the same for the same input.
 *
 *   nlpd-split-train annotate [--model FILE] [--tokens] < docs.jsonl > out.jsonl
 *       Splits each document's text (no regions: paragraphs by blank lines)
 *       and writes id, text and sentences (and tokens), for tools/score.py.
 *
 * The shipped model is trained on UD English EWT (CC BY-SA 4.0) only; see
 * stages/split/data/README.md for the command.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nlpd/error.h"
#include "nlpd/split.h"
#include "split_internal.h"

/* Starters: a word needs this many sentence-initial uses to be listed. */
#define MIN_STARTS 3
/* Lower-case starters: a word needs this many sentence starts after a
 * period. */
#define MIN_LOWER_STARTS 2
/* Abbreviations: this many uses of "word." and at most this share of them
 * ending a sentence. */
#define MIN_ABBREV_USES 3
#define MAX_ABBREV_END  0.25

static void
usage(FILE *f)
{
    fprintf(f, "usage: nlpd-split-train train [--base FILE] [--l2 X] [--min-count N] [--name S]\n"
               "                              [--licence TEXT] GOLD.jsonl... > model.txt\n"
               "       nlpd-split-train annotate [--model FILE] [--tokens] < docs.jsonl > out.jsonl\n");
}

/* --- Counting words ------------------------------------------------------------- */

typedef struct count {
    char *word;
    long starts;   /* capitalized and first in a gold sentence */
    long inside;   /* capitalized elsewhere */
    long abbr_in;  /* "word." with the sentence going on */
    long abbr_end; /* "word." ending a sentence */
    long low_start; /* lower case after "word. ", starting a sentence */
    long low_in;    /* the same, going on */
} count;

typedef struct counts {
    count *v;
    size_t n, cap;
    size_t *slots; /* index + 1, 0 empty */
    size_t mask;
} counts;

static size_t
hash_word(const char *w, size_t n)
{
    size_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)w[i];
        h *= 1099511628211u;
    }
    return h;
}

static count *
counts_get(counts *c, const char *w, size_t n)
{
    if ((c->n + 1) * 2 > c->mask) {
        size_t ns = c->mask ? (c->mask + 1) * 2 : 4096;
        size_t *sl = calloc(ns, sizeof(*sl));
        if (sl == NULL)
            return NULL;
        for (size_t i = 0; i < c->n; i++) {
            size_t j = hash_word(c->v[i].word, strlen(c->v[i].word)) & (ns - 1);
            while (sl[j] != 0)
                j = (j + 1) & (ns - 1);
            sl[j] = i + 1;
        }
        free(c->slots);
        c->slots = sl;
        c->mask = ns - 1;
    }
    size_t j = hash_word(w, n) & c->mask;
    for (; c->slots[j] != 0; j = (j + 1) & c->mask) {
        count *e = &c->v[c->slots[j] - 1];
        if (strlen(e->word) == n && memcmp(e->word, w, n) == 0)
            return e;
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 4096;
        count *v = realloc(c->v, nc * sizeof(*v));
        if (v == NULL)
            return NULL;
        c->v = v;
        c->cap = nc;
    }
    count *e = &c->v[c->n];
    memset(e, 0, sizeof(*e));
    e->word = strndup(w, n);
    if (e->word == NULL)
        return NULL;
    c->slots[j] = ++c->n;
    return e;
}

static void
counts_free(counts *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].word);
    free(c->v);
    free(c->slots);
}

/* The word lower-cased (ASCII) into buf; returns its length or 0 when it
 * is too long or not a plain word. */
static size_t
lower_word(const char *s, size_t n, char *buf)
{
    if (n == 0 || n > NLPD__WORD_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '\t' || ch == '\n')
            return 0;
        buf[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
    }
    return n;
}

/* --- Reading gold documents ------------------------------------------------------ */

typedef int (*doc_fn)(void *arg, const char *id, const char *text, size_t len, json_t *sentences);

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
        json_t *id = json_object_get(doc, "id");
        if (!json_is_string(text)) {
            fprintf(stderr, "%s:%ld: no \"text\"\n", name, lineno);
            rc = 1;
        } else {
            char idbuf[32];
            const char *ids = json_is_string(id) ? json_string_value(id) : NULL;
            if (ids == NULL) {
                snprintf(idbuf, sizeof(idbuf), "%ld", lineno);
                ids = idbuf;
            }
            rc = fn(arg, ids, json_string_value(text), json_string_length(text),
                    json_object_get(doc, "sentences"));
        }
        json_decref(doc);
    }
    free(line);
    return rc;
}

/* --- annotate ---------------------------------------------------------------------- */

/* annotate --tokens: also write [start, end, shape] for each token. */
static int want_tokens;

static int
annotate_doc(void *arg, const char *id, const char *text, size_t len, json_t *gold)
{
    (void)gold;
    nlpd_split *sp = arg;
    int rc = nlpd_split_run(sp, text, len, NULL, 0);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", id, nlpd_strerror(rc));
        return 1;
    }
    const nlpd_split_sentence *s;
    size_t n = nlpd_split_sentences(sp, &s);
    json_t *out = json_object();
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("[I,I]", (json_int_t)s[i].start, (json_int_t)s[i].end));
    json_object_set_new(out, "id", json_string(id));
    json_object_set_new(out, "text", json_stringn(text, len));
    json_object_set_new(out, "sentences", arr);
    if (want_tokens) {
        const nlpd_split_token *t;
        size_t nt = nlpd_split_tokens(sp, &t);
        json_t *toks = json_array();
        for (size_t i = 0; i < nt; i++)
            json_array_append_new(toks, json_pack("[I,I,i,i]", (json_int_t)t[i].start,
                                                  (json_int_t)t[i].end, (int)t[i].shape,
                                                  (int)t[i].flags));
        json_object_set_new(out, "tokens", toks);
    }
    char *dump = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (dump == NULL)
        return 1;
    puts(dump);
    free(dump);
    return 0;
}

static int
load_model(nlpd_split_model **m, const char *path)
{
    int rc = path ? nlpd_split_model_load(m, path) : nlpd_split_model_load_builtin(m, "en");
    if (rc != 0)
        fprintf(stderr, "nlpd-split-train: cannot load model %s: %s\n", path ? path : "(built in)",
                nlpd_strerror(rc));
    return rc;
}

static int
cmd_annotate(int argc, char **argv)
{
    const char *model = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--tokens") == 0) {
            want_tokens = 1;
        } else {
            usage(stderr);
            return 2;
        }
    }
    nlpd_split_model *m;
    if (load_model(&m, model) != 0)
        return 1;
    nlpd_split *sp;
    if (nlpd_split_new(&sp, m, NULL) != 0) {
        nlpd_split_model_free(&m);
        return 1;
    }
    int rc = each_doc(stdin, "stdin", annotate_doc, sp);
    nlpd_split_free(&sp);
    nlpd_split_model_free(&m);
    return rc;
}

/* --- train ------------------------------------------------------------------------- */

typedef struct trainer {
    nlpd_split *sp;
    const nlpd_split_model *m;
    counts words;
    unsigned char *is_start; /* per byte of the text: a gold sentence starts here */
    unsigned char *is_end;   /* a gold sentence ends here (trimmed) */
    size_t cap;
    long docs, sentences;
} trainer;

static int
is_space_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Marks where the gold sentences of a document start and end (trimmed of
 * whitespace) in t->is_start and t->is_end. Returns their number, or -1
 * when out of memory. */
static long
mark_gold(trainer *t, const char *text, size_t len, json_t *gold)
{
    if (len + 1 > t->cap) {
        free(t->is_start);
        free(t->is_end);
        t->cap = (len + 1) * 2;
        t->is_start = malloc(t->cap);
        t->is_end = malloc(t->cap);
        if (t->is_start == NULL || t->is_end == NULL)
            return -1;
    }
    memset(t->is_start, 0, len + 1);
    memset(t->is_end, 0, len + 1);
    long n = 0;
    size_t k;
    json_t *span;
    json_array_foreach(gold, k, span) {
        json_int_t a = json_integer_value(json_array_get(span, 0));
        json_int_t b = json_integer_value(json_array_get(span, 1));
        if (a < 0 || b < a || (size_t)b > len)
            continue;
        while (a < b && is_space_byte((unsigned char)text[a]))
            a++;
        while (b > a && is_space_byte((unsigned char)text[b - 1]))
            b--;
        t->is_start[a] = 1;
        t->is_end[b] = 1;
        n++;
    }
    return n;
}

static int
train_doc(void *arg, const char *id, const char *text, size_t len, json_t *gold)
{
    trainer *t = arg;
    if (!json_is_array(gold))
        return 0;
    long marked = mark_gold(t, text, len, gold);
    if (marked < 0)
        return 1;
    t->sentences += marked;
    t->docs++;
    if (nlpd_split_run(t->sp, text, len, NULL, 0) != 0) {
        fprintf(stderr, "%s: cannot split\n", id);
        return 1;
    }
    const nlpd_split_token *tok;
    size_t n = nlpd_split_tokens(t->sp, &tok);
    char buf[NLPD__WORD_MAX + 1];
    int sentence_start = 1; /* no word seen yet in this gold sentence */
    for (size_t i = 0; i < n; i++) {
        if (t->is_start[tok[i].start])
            sentence_start = 1;
        const char *w = text + tok[i].start;
        size_t wl = tok[i].end - tok[i].start;
        int word = tok[i].shape == NLPD_SHAPE_CAPITALIZED || tok[i].shape == NLPD_SHAPE_LOWER ||
                   tok[i].shape == NLPD_SHAPE_UPPER || tok[i].shape == NLPD_SHAPE_MIXED;
        if (word && (tok[i].flags & NLPD_TOKEN_ABBREV))
            wl--; /* the word without its period */
        if (word && tok[i].shape == NLPD_SHAPE_CAPITALIZED && !(tok[i].flags & NLPD_TOKEN_CLITIC)) {
            size_t l = lower_word(w, wl, buf);
            if (l > 0) {
                count *c = counts_get(&t->words, buf, l);
                if (c == NULL)
                    return 1;
                if (sentence_start)
                    c->starts++;
                else
                    c->inside++;
            }
        }
        /* "word" + "." with no space: does the gold end a sentence there? */
        if (word && !(tok[i].flags & NLPD_TOKEN_ABBREV) && i + 1 < n &&
            tok[i + 1].start == tok[i].end && tok[i + 1].end == tok[i].end + 1 &&
            text[tok[i].end] == '.' && i + 2 < n) {
            size_t l = lower_word(w, wl, buf);
            if (l > 0) {
                count *c = counts_get(&t->words, buf, l);
                if (c == NULL)
                    return 1;
                if (t->is_end[tok[i + 1].end])
                    c->abbr_end++;
                else
                    c->abbr_in++;
            }
        }
        /* "word. w" with w in lower case: does w start a sentence? */
        if (i >= 1 && i + 1 < n && tok[i].end - tok[i].start == 1 && text[tok[i].start] == '.' &&
            tok[i - 1].end == tok[i].start && tok[i - 1].end - tok[i - 1].start >= 3 &&
            (tok[i].flags & NLPD_TOKEN_SPACE_AFTER) && tok[i + 1].shape == NLPD_SHAPE_LOWER &&
            !(tok[i + 1].flags & NLPD_TOKEN_CLITIC)) {
            size_t l = lower_word(text + tok[i + 1].start, tok[i + 1].end - tok[i + 1].start, buf);
            if (l > 0) {
                count *c = counts_get(&t->words, buf, l);
                if (c == NULL)
                    return 1;
                if (t->is_end[tok[i].end])
                    c->low_start++;
                else
                    c->low_in++;
            }
        }
        if (tok[i].shape != NLPD_SHAPE_PUNCT)
            sentence_start = 0;
    }
    return 0;
}

static int
cmp_word(const void *a, const void *b)
{
    return strcmp(((const count *)a)->word, ((const count *)b)->word);
}


/* --- The gap classifier: logistic regression by SGD ---------------------------------- */

#define N_SHAPE NLPD__SHAPES
/* Dense feature slots: three shape pairs, the length buckets, the bias. */
#define F_PAIR  0
#define F_PREV  (F_PAIR + N_SHAPE * N_SHAPE)
#define F_NEXT  (F_PREV + N_SHAPE * N_SHAPE)
#define F_LEN   (F_NEXT + N_SHAPE * N_SHAPE)
#define F_BIAS  (F_LEN + NLPD__LEN_BUCKETS)
#define F_DENSE (F_BIAS + 1)
/* Word features need this many examples to get a weight. */
#define MIN_FEATURE_COUNT 3
#define EPOCHS 15
#define L2 1e-5

/* The classifier's settings (--l2, --min-count override the defaults). */
static double opt_l2 = L2;
static long opt_min_count = MIN_FEATURE_COUNT;
/* What the model file says of its data: the version's prefix and the
 * licence line (the built-in model's by default). */
static const char *opt_name = "ewt";
static const char *opt_licence = "CC BY-SA 4.0, as its training data (UD English EWT).";

typedef struct example {
    uint32_t f[8]; /* feature indices; word features are F_DENSE + their number */
    uint8_t nf;
    uint8_t label;
} example;

typedef struct examples {
    example *v;
    size_t n, cap;
    counts feats; /* word feature -> number (in .starts) and count (in .inside) */
} examples;

static int
word_feature(examples *ex, char side, const char *w, size_t n, uint32_t *out)
{
    char key[NLPD__WORD_MAX + 1];
    if (n + 2 > NLPD__WORD_MAX)
        return 0;
    key[0] = side;
    key[1] = ':';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)w[i];
        if (ch <= ' ')
            return 0;
        key[i + 2] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
    }
    count *c = counts_get(&ex->feats, key, n + 2);
    if (c == NULL)
        return -1;
    if (c->inside == 0)
        c->starts = (long)ex->feats.n - 1;
    c->inside++;
    *out = F_DENSE + (uint32_t)c->starts;
    return 1;
}

typedef struct pass2 {
    nlpd_split *sp;
    examples ex;
    trainer *t;
} pass2;

static int
collect_doc(void *arg, const char *id, const char *text, size_t len, json_t *gold)
{
    pass2 *p = arg;
    trainer *t = p->t;
    (void)id;
    if (!json_is_array(gold))
        return 0;
    if (mark_gold(t, text, len, gold) < 0)
        return 1;
    if (nlpd_split_run(p->sp, text, len, NULL, 0) != 0)
        return 1;
    const nlpd_split_token *tok;
    size_t nt = nlpd_split_tokens(p->sp, &tok);
    const nlpd_split_sentence *sen;
    size_t ns = nlpd_split_sentences(p->sp, &sen);
    for (size_t q = 0; q < ns; q++) {
        size_t s0 = sen[q].first_token, s1 = s0 + sen[q].n_tokens;
        for (size_t i = s0; i + 1 < s1; i++) {
            nlpd__gap g;
            if (!nlpd__gap_candidate(text, tok, s0, nt, s0, i, &g))
                continue;
            if (p->ex.n == p->ex.cap) {
                size_t nc = p->ex.cap ? p->ex.cap * 2 : 65536;
                example *v = realloc(p->ex.v, nc * sizeof(*v));
                if (v == NULL)
                    return 1;
                p->ex.v = v;
                p->ex.cap = nc;
            }
            example *e = &p->ex.v[p->ex.n++];
            e->nf = 0;
            e->label = t->is_end[tok[i].end];
            e->f[e->nf++] = F_PAIR + g.prev * N_SHAPE + g.next;
            e->f[e->nf++] = F_PREV + g.prev2 * N_SHAPE + g.prev;
            e->f[e->nf++] = F_NEXT + g.next * N_SHAPE + g.next2;
            e->f[e->nf++] = F_LEN + g.len;
            uint32_t wf;
            int r = word_feature(&p->ex, 'p', g.pw, g.pwl, &wf);
            if (r < 0)
                return 1;
            if (r > 0)
                e->f[e->nf++] = wf;
            r = word_feature(&p->ex, 'n', g.nw, g.nwl, &wf);
            if (r < 0)
                return 1;
            if (r > 0)
                e->f[e->nf++] = wf;
            r = g.qwl > 0 ? word_feature(&p->ex, 'q', g.qw, g.qwl, &wf) : 0;
            if (r < 0)
                return 1;
            if (r > 0)
                e->f[e->nf++] = wf;
        }
    }
    return 0;
}

/* A fixed pseudo-random order, so training is reproducible. */
static uint64_t
next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void
fit(examples *ex, double *w, size_t nw, const long *fcount)
{
    uint64_t seed = 88172645463325252ull;
    size_t *order = malloc(ex->n * sizeof(*order));
    if (order == NULL)
        return;
    for (size_t i = 0; i < ex->n; i++)
        order[i] = i;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        for (size_t i = ex->n; i > 1; i--) {
            size_t j = next_rand(&seed) % i;
            size_t tmp = order[i - 1];
            order[i - 1] = order[j];
            order[j] = tmp;
        }
        double lr = 0.2 / (1.0 + epoch);
        for (size_t k = 0; k < ex->n; k++) {
            const example *e = &ex->v[order[k]];
            double z = w[F_BIAS];
            for (int f = 0; f < e->nf; f++)
                if (e->f[f] < F_DENSE || fcount[e->f[f] - F_DENSE] >= opt_min_count)
                    z += w[e->f[f]];
            double pr = 1.0 / (1.0 + exp(-z));
            double gr = (double)e->label - pr;
            w[F_BIAS] += lr * gr;
            for (int f = 0; f < e->nf; f++) {
                uint32_t fi = e->f[f];
                if (fi >= F_DENSE && fcount[fi - F_DENSE] < opt_min_count)
                    continue;
                w[fi] += lr * (gr - opt_l2 * w[fi]);
            }
        }
    }
    (void)nw;
    free(order);
}

static int
second_pass(trainer *t, const char *base, int nfiles, char **files)
{
    /* The first pass's abbreviations and starters, as a model. */
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    if (mf == NULL)
        return 1;
    if (base != NULL) {
        FILE *bf = fopen(base, "r");
        if (bf == NULL) {
            fclose(mf);
            free(text);
            return 1;
        }
        char buf[4096];
        size_t got;
        while ((got = fread(buf, 1, sizeof(buf), bf)) > 0)
            fwrite(buf, 1, got, mf);
        fclose(bf);
        fputc('\n', mf);
    }
    size_t learned_at = (size_t)ftell(mf);
    qsort(t->words.v, t->words.n, sizeof(*t->words.v), cmp_word);
    fprintf(mf, "[abbreviations]\n");
    for (size_t i = 0; i < t->words.n; i++) {
        const count *c = &t->words.v[i];
        long uses = c->abbr_in + c->abbr_end;
        if (uses >= MIN_ABBREV_USES && (double)c->abbr_end <= MAX_ABBREV_END * (double)uses &&
            strlen(c->word) <= 6 && nlpd__model_abbrev(t->m, c->word, strlen(c->word)) == ABBR_NONE)
            fprintf(mf, "%s plain\n", c->word);
    }
    fprintf(mf, "[starters]\n");
    for (size_t i = 0; i < t->words.n; i++) {
        const count *c = &t->words.v[i];
        if (c->starts >= MIN_STARTS)
            fprintf(mf, "%s %.3f\n", c->word, (double)c->starts / (double)(c->starts + c->inside));
    }
    fprintf(mf, "[lower-starters]\n");
    for (size_t i = 0; i < t->words.n; i++) {
        const count *c = &t->words.v[i];
        if (c->low_start >= MIN_LOWER_STARTS)
            fprintf(mf, "%s %.3f\n", c->word,
                    (double)c->low_start / (double)(c->low_start + c->low_in));
    }
    fclose(mf);

    nlpd_split_model *m2 = NULL;
    int rc = nlpd_split_model_load_buffer(&m2, text, len) != 0;
    pass2 p = {0};
    p.t = t;
    if (rc == 0)
        rc = nlpd_split_new(&p.sp, m2, NULL) != 0;
    for (int i = 0; i < nfiles && rc == 0; i++) {
        FILE *f = fopen(files[i], "r");
        if (f == NULL)
            rc = 1;
        else {
            rc = each_doc(f, files[i], collect_doc, &p);
            fclose(f);
        }
    }
    if (rc == 0) {
        size_t nwf = p.ex.feats.n;
        long *fcount = calloc(nwf + 1, sizeof(*fcount));
        double *w = calloc(F_DENSE + nwf, sizeof(*w));
        if (fcount == NULL || w == NULL) {
            rc = 1;
        } else {
            for (size_t i = 0; i < nwf; i++)
                fcount[p.ex.feats.v[i].starts] = p.ex.feats.v[i].inside;
            fit(&p.ex, w, F_DENSE + nwf, fcount);
            size_t pos = 0;
            for (size_t i = 0; i < p.ex.n; i++)
                pos += p.ex.v[i].label;
            printf("# Learned by nlpd-split-train from %ld documents, %ld sentences;\n"
                   "# the gap classifier from %zu gaps (%zu sentence ends).\n"
                   "# Licence: %s\n"
                   "# Do not edit: regenerate (stages/split/data/README.md).\n",
                   t->docs, t->sentences, p.ex.n, pos, opt_licence);
            printf("[meta]\nlang en\nversion %s-%ld-%zu\nbias %.3f\nthreshold 0\n", opt_name,
                   t->sentences, p.ex.n, w[F_BIAS]);
            fwrite(text + learned_at, 1, len - learned_at, stdout);
            printf("[weights]\n");
            for (unsigned a = 0; a < N_SHAPE; a++)
                for (unsigned b = 0; b < N_SHAPE; b++) {
                    if (fabs(w[F_PAIR + a * N_SHAPE + b]) >= 0.0005)
                        printf("sp:%u,%u %.3f\n", a, b, w[F_PAIR + a * N_SHAPE + b]);
                    if (fabs(w[F_PREV + a * N_SHAPE + b]) >= 0.0005)
                        printf("pp:%u,%u %.3f\n", a, b, w[F_PREV + a * N_SHAPE + b]);
                    if (fabs(w[F_NEXT + a * N_SHAPE + b]) >= 0.0005)
                        printf("nn:%u,%u %.3f\n", a, b, w[F_NEXT + a * N_SHAPE + b]);
                }
            for (unsigned k = 0; k < NLPD__LEN_BUCKETS; k++)
                printf("len:%u %.3f\n", k, w[F_LEN + k]);
            qsort(p.ex.feats.v, nwf, sizeof(*p.ex.feats.v), cmp_word);
            for (size_t i = 0; i < nwf; i++) {
                const count *c = &p.ex.feats.v[i];
                double v = w[F_DENSE + c->starts];
                if (c->inside >= opt_min_count && fabs(v) >= 0.05)
                    printf("%s %.3f\n", c->word, v);
            }
        }
        free(fcount);
        free(w);
    }
    nlpd_split_free(&p.sp);
    nlpd_split_model_free(&m2);
    free(p.ex.v);
    counts_free(&p.ex.feats);
    free(text);
    return rc;
}

static int
cmd_train(int argc, char **argv)
{
    const char *base = NULL;
    int first = 0;
    while (first < argc && strncmp(argv[first], "--", 2) == 0) {
        if (strcmp(argv[first], "--base") == 0 && first + 1 < argc) {
            base = argv[first + 1];
            first += 2;
        } else if (strcmp(argv[first], "--l2") == 0 && first + 1 < argc) {
            char *end;
            opt_l2 = strtod(argv[first + 1], &end);
            if (*end != '\0' || !isfinite(opt_l2) || opt_l2 < 0) {
                fprintf(stderr, "nlpd-split-train: --l2 needs a number >= 0\n");
                return 2;
            }
            first += 2;
        } else if (strcmp(argv[first], "--name") == 0 && first + 1 < argc) {
            /* One word of the version line: letters, digits, '.', '_', '-'. */
            opt_name = argv[first + 1];
            size_t n = strlen(opt_name);
            if (n == 0 || n > 64 || strspn(opt_name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                                     "qrstuvwxyz0123456789._-") != n) {
                fprintf(stderr, "nlpd-split-train: --name needs 1 to 64 letters, digits, "
                                "'.', '_' or '-'\n");
                return 2;
            }
            first += 2;
        } else if (strcmp(argv[first], "--licence") == 0 && first + 1 < argc) {
            opt_licence = argv[first + 1];
            size_t n = strlen(opt_licence);
            int ok = n > 0 && n <= 200;
            for (size_t k = 0; k < n && ok; k++)
                ok = (unsigned char)opt_licence[k] >= 0x20 && opt_licence[k] != 0x7f;
            if (!ok) {
                fprintf(stderr, "nlpd-split-train: --licence needs one line of 1 to 200 "
                                "bytes\n");
                return 2;
            }
            first += 2;
        } else if (strcmp(argv[first], "--min-count") == 0 && first + 1 < argc) {
            char *end;
            opt_min_count = strtol(argv[first + 1], &end, 10);
            if (*end != '\0' || opt_min_count < 1 || opt_min_count > 1000000) {
                fprintf(stderr, "nlpd-split-train: --min-count needs a count from 1\n");
                return 2;
            }
            first += 2;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (first >= argc) {
        usage(stderr);
        return 2;
    }
    /* Tokenize with the shipped abbreviations only, so that learned
     * statistics do not depend on an earlier learned model. */
    nlpd_split_model *m = NULL;
    int rc = base ? nlpd_split_model_load(&m, base) : nlpd_split_model_load_buffer(&m, "", 0);
    if (rc != 0) {
        fprintf(stderr, "nlpd-split-train: cannot load %s: %s\n", base ? base : "(empty)",
                nlpd_strerror(rc));
        return 1;
    }
    trainer t = {0};
    t.m = m;
    if (nlpd_split_new(&t.sp, m, NULL) != 0)
        return 1;
    for (int i = first; i < argc && rc == 0; i++) {
        FILE *f = fopen(argv[i], "r");
        if (f == NULL) {
            fprintf(stderr, "nlpd-split-train: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
            break;
        }
        rc = each_doc(f, argv[i], train_doc, &t);
        fclose(f);
    }
    if (rc == 0)
        rc = second_pass(&t, base, argc - first, argv + first);
    nlpd_split_free(&t.sp);
    nlpd_split_model_free(&m);
    counts_free(&t.words);
    free(t.is_start);
    free(t.is_end);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "annotate") == 0)
        return cmd_annotate(argc - 2, argv + 2);
    if (strcmp(argv[1], "train") == 0)
        return cmd_train(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
