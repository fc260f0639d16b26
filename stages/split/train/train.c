/* stages/split/train/train.c — nlpd-split-train: builds the split model's
 * learned part from text with gold sentence breaks, and runs a model over
 * JSON Lines for quick evaluation.
 *
 *   nlpd-split-train train [--base FILE] GOLD.jsonl... > model.txt
 *       Reads documents in the format of FORMAT.md (text + sentences, byte
 *       spans) and writes a model file: the sentence starters (the share of
 *       a word's capitalized uses that begin a sentence) and the
 *       abbreviations the gold breaks reveal (a word whose period seldom
 *       ends a sentence). The abbreviation list that ships beside the model
 *       (data/en/abbreviations.txt, or --base) is loaded first, so learned
 *       entries only add to it. The output is the same for the same input.
 *
 *   nlpd-split-train annotate [--model FILE] < docs.jsonl > annotated.jsonl
 *       Splits each document's text (no regions: paragraphs by blank lines)
 *       and writes id, text and sentences, for tools/score.py.
 *
 * The shipped model is trained on UD English EWT (CC BY-SA 4.0) only; see
 * stages/split/data/README.md for the command.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nlpd/error.h"
#include "nlpd/split.h"
#include "split_internal.h"

/* Starters: a word needs this many sentence-initial uses to be listed. */
#define MIN_STARTS 3
/* Abbreviations: this many uses of "word." and at most this share of them
 * ending a sentence. */
#define MIN_ABBREV_USES 3
#define MAX_ABBREV_END  0.25

static void
usage(FILE *f)
{
    fprintf(f, "usage: nlpd-split-train train [--base FILE] GOLD.jsonl... > model.txt\n"
               "       nlpd-split-train annotate [--model FILE] < docs.jsonl > out.jsonl\n");
}

/* --- Counting words ------------------------------------------------------------- */

typedef struct count {
    char *word;
    long starts;   /* capitalized and first in a gold sentence */
    long inside;   /* capitalized elsewhere */
    long abbr_in;  /* "word." with the sentence going on */
    long abbr_end; /* "word." ending a sentence */
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

static int
train_doc(void *arg, const char *id, const char *text, size_t len, json_t *gold)
{
    trainer *t = arg;
    if (!json_is_array(gold))
        return 0;
    if (len + 1 > t->cap) {
        free(t->is_start);
        free(t->is_end);
        t->cap = (len + 1) * 2;
        t->is_start = malloc(t->cap);
        t->is_end = malloc(t->cap);
        if (t->is_start == NULL || t->is_end == NULL)
            return 1;
    }
    memset(t->is_start, 0, len + 1);
    memset(t->is_end, 0, len + 1);
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
        t->sentences++;
    }
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

static int
cmd_train(int argc, char **argv)
{
    const char *base = NULL;
    int first = 0;
    while (first < argc && strncmp(argv[first], "--", 2) == 0) {
        if (strcmp(argv[first], "--base") == 0 && first + 1 < argc) {
            base = argv[first + 1];
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
    if (rc == 0) {
        qsort(t.words.v, t.words.n, sizeof(*t.words.v), cmp_word);
        printf("# Learned by nlpd-split-train from %ld documents, %ld sentences.\n"
               "# Do not edit: regenerate (stages/split/data/README.md).\n",
               t.docs, t.sentences);
        printf("[meta]\nlang en\nversion ewt-%ld\n", t.sentences);
        printf("[abbreviations]\n");
        for (size_t i = 0; i < t.words.n; i++) {
            const count *c = &t.words.v[i];
            long uses = c->abbr_in + c->abbr_end;
            if (uses >= MIN_ABBREV_USES && (double)c->abbr_end <= MAX_ABBREV_END * (double)uses &&
                strlen(c->word) <= 6 && nlpd__model_abbrev(m, c->word, strlen(c->word)) == ABBR_NONE)
                printf("%s plain\n", c->word);
        }
        printf("[starters]\n");
        for (size_t i = 0; i < t.words.n; i++) {
            const count *c = &t.words.v[i];
            if (c->starts >= MIN_STARTS)
                printf("%s %.3f\n", c->word, (double)c->starts / (double)(c->starts + c->inside));
        }
    }
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
