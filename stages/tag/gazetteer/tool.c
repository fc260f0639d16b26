/* stages/tag/gazetteer/tool.c — nlpd-tag-gazetteer: builds the gazetteer
 * file from a list of names, and measures a gazetteer.
 *
 *   nlpd-tag-gazetteer build < list.txt > gazetteer.txt
 *       Reads `@lang`, `@version` and `@class NAME [cased]` lines and
 *       entries `class<TAB>name` (what sources.py writes), cuts each name
 *       into tokens with nlpd_split's built-in model, and writes the
 *       gazetteer file: the header, then the entries as `class<TAB>token
 *       token ...`, sorted bytewise, duplicates removed, with their count
 *       and checksum. The same list gives the same bytes.
 *
 *   nlpd-tag-gazetteer eval [--gaz FILE] [--verbose] GOLD.jsonl...
 *       Coverage of the gold entities by the gazetteer (exact span, every
 *       token covered, some token covered) per label, and per class how
 *       many matches fall inside a gold entity (a precision proxy);
 *       --verbose adds the most frequent matches outside gold entities.
 *
 *   nlpd-tag-gazetteer bench [--gaz FILE] [--rounds N] CORPUS.jsonl...
 *       Load time and the cost of nlpd__gaz_match per token over the
 *       sentences of the corpus (the documents' "text", split by nlpd_split).
 *
 *   nlpd-tag-gazetteer match [--gaz FILE] < text
 *       Prints each line's tokens with the classes that match there.
 *
 *   nlpd-tag-gazetteer check FILE
 *       Loads FILE, then cuts every entry's tokens, joined by blanks (none
 *       before a clitic), with nlpd_split again and reports the entries
 *       that no longer come out as the same tokens: the file was built with
 *       another tokenizer and needs rebuilding. Exit status 1 when there is
 *       one.
 *
 * Without --gaz the built-in gazetteer is used.
 */
#include "gazetteer.h"
#include "nlpd/error.h"
#include "nlpd/log.h"
#include "nlpd/split.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
usage(FILE *f)
{
    fprintf(f, "usage: nlpd-tag-gazetteer build < list.txt > gazetteer.txt\n"
               "       nlpd-tag-gazetteer eval [--gaz FILE] [--verbose] GOLD.jsonl...\n"
               "       nlpd-tag-gazetteer bench [--gaz FILE] [--rounds N] CORPUS.jsonl...\n"
               "       nlpd-tag-gazetteer match [--gaz FILE] < text\n"
               "       nlpd-tag-gazetteer check FILE\n");
}

static int
make_splitter(nlpd_split_model **m, nlpd_split **sp, int sentences)
{
    int rc = nlpd_split_model_load_builtin(m, "en");
    if (rc == 0) {
        nlpd_split_opts o = NLPD_SPLIT_OPTS_INIT;
        o.sentences = sentences;
        rc = nlpd_split_new(sp, *m, &o);
    }
    if (rc != 0)
        fprintf(stderr, "nlpd-tag-gazetteer: split: %s\n", nlpd_strerror(rc));
    return rc;
}

/* --- build -------------------------------------------------------------------- */

typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

static int
push(strvec *s, char *str)
{
    if (str == NULL)
        return -1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Cuts `name` into tokens; returns the entry line (malloc'd) or NULL when
 * the name cannot be an entry (no tokens, too many, a token with a
 * blank). */
static char *
tokenize_entry(nlpd_split *sp, const char *cls, const char *name, size_t len, long *dropped)
{
    if (nlpd_split_run(sp, name, len, NULL, 0) != 0)
        return NULL;
    const nlpd_split_token *tok;
    size_t nt = nlpd_split_tokens(sp, &tok);
    if (nt == 0 || nt > NLPD_GAZ_MAX_TOKENS) {
        (*dropped)++;
        return NULL;
    }
    size_t cl = strlen(cls), need = cl + 1 + len + nt + 1;
    char *out = malloc(need), *p = out;
    if (out == NULL)
        return NULL;
    memcpy(p, cls, cl);
    p += cl;
    *p++ = '\t';
    for (size_t i = 0; i < nt; i++) {
        const char *t = name + tok[i].start;
        size_t tl = tok[i].end - tok[i].start;
        if (memchr(t, ' ', tl) != NULL || memchr(t, '\t', tl) != NULL ||
            memchr(t, '\r', tl) != NULL) {
            free(out);
            (*dropped)++;
            return NULL;
        }
        if (i > 0)
            *p++ = ' ';
        memcpy(p, t, tl);
        p += tl;
    }
    *p = '\0';
    return out;
}

static int
cmd_build(void)
{
    nlpd_split_model *m = NULL;
    nlpd_split *sp = NULL;
    if (make_splitter(&m, &sp, 0) != 0)
        return 1;
    strvec header = {0}, entries = {0}, classes = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0, dropped = 0;
    int rc = 0;
    while (rc == 0 && (got = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        line[n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        if (line[0] == '@') {
            if (strncmp(line, "@class ", 7) == 0) {
                char *name = strndup(line + 7, strcspn(line + 7, " "));
                rc = push(&classes, name);
            } else if (strncmp(line, "@lang ", 6) != 0 && strncmp(line, "@version ", 9) != 0) {
                fprintf(stderr, "nlpd-tag-gazetteer: line %ld: unknown directive\n", lineno);
                rc = -1;
                break;
            }
            if (rc == 0)
                rc = push(&header, strdup(line + 1));
            continue;
        }
        char *tab = strchr(line, '\t');
        if (tab == NULL) {
            fprintf(stderr, "nlpd-tag-gazetteer: line %ld: no tab\n", lineno);
            rc = -1;
            break;
        }
        *tab = '\0';
        size_t c = 0;
        while (c < classes.n && strcmp(classes.v[c], line) != 0)
            c++;
        if (c == classes.n) {
            fprintf(stderr, "nlpd-tag-gazetteer: line %ld: undeclared class %s\n", lineno, line);
            rc = -1;
            break;
        }
        const char *name = tab + 1;
        while (*name == ' ')
            name++;
        char *e = tokenize_entry(sp, line, name, strlen(name), &dropped);
        if (e != NULL)
            rc = push(&entries, e);
    }
    free(line);
    if (rc == 0 && classes.n == 0) {
        fprintf(stderr, "nlpd-tag-gazetteer: no @class lines\n");
        rc = -1;
    }
    if (rc == 0 && classes.n > NLPD_GAZ_MAX_CLASSES) {
        fprintf(stderr, "nlpd-tag-gazetteer: more than %d classes\n", NLPD_GAZ_MAX_CLASSES);
        rc = -1;
    }
    if (rc == 0) {
        qsort(entries.v, entries.n, sizeof(*entries.v), cmp_str);
        size_t k = 0;
        for (size_t i = 0; i < entries.n; i++) {
            if (k > 0 && strcmp(entries.v[k - 1], entries.v[i]) == 0)
                free(entries.v[i]);
            else
                entries.v[k++] = entries.v[i];
        }
        entries.n = k;
        /* The checksum covers every line but its own. */
        char head[8192];
        size_t hl = (size_t)snprintf(head, sizeof(head), "nlpd-gazetteer 1\n");
        for (size_t i = 0; i < header.n && hl < sizeof(head); i++)
            hl += (size_t)snprintf(head + hl, sizeof(head) - hl, "%s\n", header.v[i]);
        if (hl < sizeof(head))
            hl += (size_t)snprintf(head + hl, sizeof(head) - hl, "entries %zu\n", entries.n);
        if (hl >= sizeof(head)) {
            fprintf(stderr, "nlpd-tag-gazetteer: header too long\n");
            rc = -1;
        } else {
            /* one buffer, so the checksum's words fall as the loader reads them */
            size_t total = 0;
            for (size_t i = 0; i < entries.n; i++)
                total += strlen(entries.v[i]) + 1;
            char *body = malloc(total + 1), *q = body;
            if (body == NULL) {
                rc = -1;
                goto out;
            }
            for (size_t i = 0; i < entries.n; i++) {
                size_t l = strlen(entries.v[i]);
                memcpy(q, entries.v[i], l);
                q[l] = '\n';
                q += l + 1;
            }
            uint64_t h = nlpd__gaz_checksum(14695981039346656037ull, head, hl);
            h = nlpd__gaz_checksum(h, body, total);
            fwrite(head, 1, hl, stdout);
            printf("checksum %016llx\n", (unsigned long long)h);
            fwrite(body, 1, total, stdout);
            free(body);
            fprintf(stderr, "nlpd-tag-gazetteer: %zu entries in %zu classes (%ld names dropped)\n",
                    entries.n, classes.n, dropped);
        }
    }
out:
    for (size_t i = 0; i < entries.n; i++)
        free(entries.v[i]);
    for (size_t i = 0; i < header.n; i++)
        free(header.v[i]);
    for (size_t i = 0; i < classes.n; i++)
        free(classes.v[i]);
    free(entries.v);
    free(header.v);
    free(classes.v);
    nlpd_split_free(&sp);
    nlpd_split_model_free(&m);
    if (rc == 0 && fflush(stdout) != 0)
        rc = -1;
    return rc == 0 ? 0 : 1;
}

/* --- Reading corpora ------------------------------------------------------------- */

typedef int (*doc_fn)(void *arg, const char *text, size_t len, json_t *doc);

static int
each_doc(const char *path, doc_fn fn, void *arg)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "nlpd-tag-gazetteer: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    while (rc == 0 && (got = getline(&line, &cap, f)) > 0) {
        json_error_t err;
        json_t *doc = json_loadb(line, (size_t)got, 0, &err);
        json_t *text = doc != NULL ? json_object_get(doc, "text") : NULL;
        if (!json_is_string(text)) {
            fprintf(stderr, "nlpd-tag-gazetteer: %s: a line without \"text\"\n", path);
            rc = -1;
        } else {
            rc = fn(arg, json_string_value(text), json_string_length(text), doc);
        }
        json_decref(doc);
    }
    free(line);
    fclose(f);
    return rc;
}

/* --- eval ----------------------------------------------------------------------- */

#define LABELS 5
static const char *const label_names[LABELS] = {"PER", "ORG", "LOC", "MISC", "other"};

typedef struct eval {
    const nlpd_gaz *g;
    nlpd_split *sp;
    uint64_t *bits;
    size_t bits_cap;
    long n[LABELS], exact[LABELS], cover[LABELS], partial[LABELS], misaligned[LABELS];
    long exact_by[LABELS][NLPD_GAZ_MAX_CLASSES];
    long begin_in[NLPD_GAZ_MAX_CLASSES], begin_out[NLPD_GAZ_MAX_CLASSES];
    long cap_out, cap_out_hit, cap_out_mid, cap_out_mid_hit;
    int verbose;
    strvec misses; /* with --verbose: "class token" of each match outside the gold */
} eval;

static int
label_index(const char *l)
{
    for (int i = 0; i < LABELS - 1; i++)
        if (strcmp(l, label_names[i]) == 0)
            return i;
    return LABELS - 1;
}

typedef struct gold_ent {
    size_t start, end;
    int label;
} gold_ent;

static int
cmp_ent(const void *a, const void *b)
{
    const gold_ent *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int
eval_doc(void *arg, const char *text, size_t len, json_t *doc)
{
    eval *ev = arg;
    json_t *ents = json_object_get(doc, "entities");
    size_t ne = json_array_size(ents);
    gold_ent *ge = calloc(ne + 1, sizeof(*ge));
    if (ge == NULL)
        return -1;
    for (size_t i = 0; i < ne; i++) {
        json_t *e = json_array_get(ents, i);
        ge[i].start = (size_t)json_integer_value(json_object_get(e, "start"));
        ge[i].end = (size_t)json_integer_value(json_object_get(e, "end"));
        const char *l = json_string_value(json_object_get(e, "label"));
        ge[i].label = label_index(l != NULL ? l : "");
    }
    qsort(ge, ne, sizeof(*ge), cmp_ent);
    int rc = nlpd_split_run(ev->sp, text, len, NULL, 0);
    if (rc != 0) {
        free(ge);
        return -1;
    }
    const nlpd_split_token *tok;
    size_t nt = nlpd_split_tokens(ev->sp, &tok);
    const nlpd_split_sentence *sen;
    size_t ns = nlpd_split_sentences(ev->sp, &sen);
    if (nt > ev->bits_cap) {
        free(ev->bits);
        ev->bits = malloc(nt * sizeof(*ev->bits));
        ev->bits_cap = nt;
        if (ev->bits == NULL) {
            free(ge);
            return -1;
        }
    }
    long *in_ent = malloc((nt + 1) * sizeof(*in_ent)); /* entity index or -1 */
    char *first = calloc(nt + 1, 1);                   /* sentence-initial */
    if (in_ent == NULL || first == NULL) {
        free(ge);
        free(in_ent);
        free(first);
        return -1;
    }
    for (size_t s = 0; s < ns; s++) {
        nlpd__gaz_match(ev->g, text, tok + sen[s].first_token, sen[s].n_tokens,
                        ev->bits + sen[s].first_token);
        first[sen[s].first_token] = 1;
    }
    size_t e = 0;
    for (size_t t = 0; t < nt; t++) {
        while (e < ne && ge[e].end <= tok[t].start)
            e++;
        in_ent[t] = (e < ne && tok[t].start < ge[e].end && tok[t].end > ge[e].start) ? (long)e : -1;
    }
    /* Entities: exact, every token covered, some token covered. */
    size_t t0 = 0;
    for (size_t i = 0; i < ne; i++) {
        int l = ge[i].label;
        ev->n[l]++;
        while (t0 < nt && tok[t0].end <= ge[i].start)
            t0++;
        size_t t1 = t0;
        int covered_all = 1, covered_some = 0;
        while (t1 < nt && tok[t1].start < ge[i].end) {
            if (ev->bits[t1] != 0)
                covered_some = 1;
            else
                covered_all = 0;
            t1++;
        }
        if (t1 == t0 || tok[t0].start != ge[i].start || tok[t1 - 1].end != ge[i].end) {
            ev->misaligned[l]++;
            covered_all = 0;
        } else {
            /* the sentence holding t0, for the match's bounds */
            size_t s = 0;
            while (s + 1 < ns && sen[s + 1].first_token <= t0)
                s++;
            size_t k = t1 - t0;
            uint32_t by_len[NLPD_GAZ_MAX_TOKENS + 1];
            if (k <= NLPD_GAZ_MAX_TOKENS && t1 <= sen[s].first_token + sen[s].n_tokens) {
                nlpd__gaz_match_at(ev->g, text, tok + sen[s].first_token, sen[s].n_tokens,
                                   t0 - sen[s].first_token, by_len);
                if (by_len[k] != 0) {
                    ev->exact[l]++;
                    for (size_t c = 0; c < nlpd__gaz_classes(ev->g); c++)
                        if (by_len[k] & (1u << c))
                            ev->exact_by[l][c]++;
                }
            }
        }
        ev->cover[l] += covered_all;
        ev->partial[l] += covered_some;
    }
    /* Matches: inside a gold entity or not; capitalized tokens outside
     * entities that some match covers. */
    for (size_t t = 0; t < nt; t++) {
        for (size_t c = 0; c < nlpd__gaz_classes(ev->g); c++) {
            if (ev->bits[t] & (1ull << (2 * c))) {
                if (in_ent[t] >= 0)
                    ev->begin_in[c]++;
                else
                    ev->begin_out[c]++;
                if (in_ent[t] < 0 && ev->verbose) {
                    char *m = NULL;
                    if (asprintf(&m, "%s %.*s", nlpd__gaz_class_name(ev->g, c),
                                 (int)(tok[t].end - tok[t].start), text + tok[t].start) < 0 ||
                        push(&ev->misses, m) != 0) {
                        free(m);
                        free(in_ent);
                        free(first);
                        free(ge);
                        return -1;
                    }
                }
            }
        }
        unsigned char ch = (unsigned char)text[tok[t].start];
        if (in_ent[t] < 0 && ch >= 'A' && ch <= 'Z') {
            ev->cap_out++;
            ev->cap_out_hit += ev->bits[t] != 0;
            if (!first[t]) {
                ev->cap_out_mid++;
                ev->cap_out_mid_hit += ev->bits[t] != 0;
            }
        }
    }
    free(in_ent);
    free(first);
    free(ge);
    return 0;
}

static double
pct(long a, long b)
{
    return b > 0 ? 100.0 * (double)a / (double)b : 0.0;
}

typedef struct miss_count {
    const char *what;
    long n;
} miss_count;

static int
cmp_miss(const void *a, const void *b)
{
    const miss_count *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->what, y->what);
}

/* The 40 most frequent (class, token) of the matches outside gold entities. */
static void
print_misses(strvec *v)
{
    qsort(v->v, v->n, sizeof(*v->v), cmp_str);
    miss_count *c = calloc(v->n + 1, sizeof(*c));
    if (c == NULL)
        return;
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (k > 0 && strcmp(c[k - 1].what, v->v[i]) == 0)
            c[k - 1].n++;
        else
            c[k++] = (miss_count){v->v[i], 1};
    }
    qsort(c, k, sizeof(*c), cmp_miss);
    printf("most frequent matches outside gold entities:");
    for (size_t i = 0; i < k && i < 40; i++)
        printf("%s %s:%ld", i % 5 ? "," : "\n ", c[i].what, c[i].n);
    printf("\n");
    free(c);
}

static int
cmd_eval(const nlpd_gaz *g, char **files, int nfiles, int verbose)
{
    nlpd_split_model *m = NULL;
    eval ev = {.g = g, .verbose = verbose};
    if (make_splitter(&m, &ev.sp, 1) != 0)
        return 1;
    int rc = 0;
    for (int f = 0; f < nfiles && rc == 0; f++)
        rc = each_doc(files[f], eval_doc, &ev);
    if (rc == 0) {
        size_t nc = nlpd__gaz_classes(g);
        printf("gazetteer: %s\n", nlpd__gaz_version(g));
        printf("%-6s %6s %8s %8s %8s %8s  exact by class\n", "label", "n", "exact%", "cover%",
               "partial%", "misal%");
        for (int l = 0; l < LABELS; l++) {
            if (ev.n[l] == 0)
                continue;
            printf("%-6s %6ld %8.1f %8.1f %8.1f %8.1f ", label_names[l], ev.n[l],
                   pct(ev.exact[l], ev.n[l]), pct(ev.cover[l], ev.n[l]),
                   pct(ev.partial[l], ev.n[l]), pct(ev.misaligned[l], ev.n[l]));
            for (size_t c = 0; c < nc; c++)
                if (ev.exact_by[l][c] > 0)
                    printf(" %s:%ld", nlpd__gaz_class_name(g, c), ev.exact_by[l][c]);
            printf("\n");
        }
        printf("%-14s %8s %8s %8s\n", "class", "matches", "in-ent", "in-ent%");
        for (size_t c = 0; c < nc; c++) {
            long all = ev.begin_in[c] + ev.begin_out[c];
            printf("%-14s %8ld %8ld %8.1f\n", nlpd__gaz_class_name(g, c), all, ev.begin_in[c],
                   pct(ev.begin_in[c], all));
        }
        printf("capitalized tokens outside entities: %ld, %.1f%% covered by a match; "
               "not sentence-initial: %ld, %.1f%% covered\n",
               ev.cap_out, pct(ev.cap_out_hit, ev.cap_out), ev.cap_out_mid,
               pct(ev.cap_out_mid_hit, ev.cap_out_mid));
        if (ev.verbose)
            print_misses(&ev.misses);
    }
    for (size_t i = 0; i < ev.misses.n; i++)
        free(ev.misses.v[i]);
    free(ev.misses.v);
    free(ev.bits);
    nlpd_split_free(&ev.sp);
    nlpd_split_model_free(&m);
    return rc == 0 ? 0 : 1;
}

/* --- bench ---------------------------------------------------------------------- */

typedef struct corpus {
    nlpd_split *sp;
    char *text;
    size_t len, cap;
    nlpd_split_token *tok;
    size_t nt, tcap;
    nlpd_span *sen; /* token ranges: start = first token, end = one past the last */
    size_t ns, scap;
} corpus;

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *v = realloc(*p, c * elem);
    if (v == NULL)
        return -1;
    *p = v;
    *cap = c;
    return 0;
}

static int
corpus_doc(void *arg, const char *text, size_t len, json_t *doc)
{
    (void)doc;
    corpus *cp = arg;
    if (nlpd_split_run(cp->sp, text, len, NULL, 0) != 0)
        return -1;
    const nlpd_split_token *tok;
    size_t nt = nlpd_split_tokens(cp->sp, &tok);
    const nlpd_split_sentence *sen;
    size_t ns = nlpd_split_sentences(cp->sp, &sen);
    if (grow((void **)&cp->text, &cp->cap, cp->len + len, 1) != 0 ||
        grow((void **)&cp->tok, &cp->tcap, cp->nt + nt, sizeof(*cp->tok)) != 0 ||
        grow((void **)&cp->sen, &cp->scap, cp->ns + ns, sizeof(*cp->sen)) != 0)
        return -1;
    memcpy(cp->text + cp->len, text, len);
    for (size_t i = 0; i < nt; i++) {
        cp->tok[cp->nt + i] = tok[i];
        cp->tok[cp->nt + i].start += (uint32_t)cp->len;
        cp->tok[cp->nt + i].end += (uint32_t)cp->len;
    }
    for (size_t s = 0; s < ns; s++)
        cp->sen[cp->ns + s] =
            (nlpd_span){(uint32_t)(cp->nt + sen[s].first_token),
                        (uint32_t)(cp->nt + sen[s].first_token + sen[s].n_tokens)};
    cp->len += len;
    cp->nt += nt;
    cp->ns += ns;
    return 0;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
cmd_bench(const char *gaz_path, char **files, int nfiles, long rounds)
{
    /* Load time: the best of five. */
    double best_load = 1e9;
    nlpd_gaz *g = NULL;
    for (int r = 0; r < 5; r++) {
        nlpd__gaz_free(&g);
        double t = now();
        int rc = gaz_path != NULL ? nlpd__gaz_load(&g, gaz_path) : nlpd__gaz_load_builtin(&g, "en");
        t = now() - t;
        if (rc != 0) {
            fprintf(stderr, "nlpd-tag-gazetteer: load: %s\n", nlpd_strerror(rc));
            return 1;
        }
        if (t < best_load)
            best_load = t;
    }
    nlpd_split_model *m = NULL;
    corpus cp = {0};
    int rc = make_splitter(&m, &cp.sp, 1);
    for (int f = 0; f < nfiles && rc == 0; f++)
        rc = each_doc(files[f], corpus_doc, &cp);
    uint64_t *bits = malloc((cp.nt + 1) * sizeof(*bits));
    if (rc == 0 && bits != NULL && cp.nt > 0) {
        double best = 1e9;
        uint64_t sink = 0;
        for (int trial = 0; trial < 3; trial++) {
            double t = now();
            for (long r = 0; r < rounds; r++)
                for (size_t s = 0; s < cp.ns; s++)
                    nlpd__gaz_match(g, cp.text, cp.tok + cp.sen[s].start,
                                    cp.sen[s].end - cp.sen[s].start, bits + cp.sen[s].start);
            t = now() - t;
            for (size_t i = 0; i < cp.nt; i++)
                sink += bits[i];
            if (t < best)
                best = t;
        }
        size_t hit = 0;
        for (size_t i = 0; i < cp.nt; i++)
            hit += bits[i] != 0;
        printf("gazetteer: %s\n", nlpd__gaz_version(g));
        printf("load: %.1f ms (best of 5)\n", best_load * 1e3);
        printf("match: %zu tokens in %zu sentences x %ld rounds: %.1f ns/token (best of 3), "
               "%.1f%% of tokens in a match [%llx]\n",
               cp.nt, cp.ns, rounds, best * 1e9 / ((double)cp.nt * (double)rounds),
               100.0 * (double)hit / (double)cp.nt, (unsigned long long)(sink & 0xf));
    } else if (rc == 0) {
        rc = -1;
    }
    free(bits);
    free(cp.text);
    free(cp.tok);
    free(cp.sen);
    nlpd_split_free(&cp.sp);
    nlpd_split_model_free(&m);
    nlpd__gaz_free(&g);
    return rc == 0 ? 0 : 1;
}

/* --- match ---------------------------------------------------------------------- */

static int
cmd_match(const nlpd_gaz *g)
{
    nlpd_split_model *m = NULL;
    nlpd_split *sp = NULL;
    if (make_splitter(&m, &sp, 0) != 0)
        return 1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint64_t *bits = NULL;
    while ((got = getline(&line, &cap, stdin)) > 0) {
        if (nlpd_split_run(sp, line, (size_t)got, NULL, 0) != 0)
            break;
        const nlpd_split_token *tok;
        size_t nt = nlpd_split_tokens(sp, &tok);
        uint64_t *nb = realloc(bits, (nt + 1) * sizeof(*bits));
        if (nb == NULL)
            break;
        bits = nb;
        nlpd__gaz_match(g, line, tok, nt, bits);
        for (size_t i = 0; i < nt; i++) {
            printf("%.*s", (int)(tok[i].end - tok[i].start), line + tok[i].start);
            for (size_t c = 0; c < nlpd__gaz_classes(g); c++) {
                if (bits[i] & (1ull << (2 * c)))
                    printf(" B-%s", nlpd__gaz_class_name(g, c));
                if (bits[i] & (1ull << (2 * c + 1)))
                    printf(" I-%s", nlpd__gaz_class_name(g, c));
            }
            printf("\n");
        }
        printf("\n");
    }
    free(bits);
    free(line);
    nlpd_split_free(&sp);
    nlpd_split_model_free(&m);
    return 0;
}

/* --- check ---------------------------------------------------------------------- */

static int
cmd_check(const char *path)
{
    nlpd_gaz *g = NULL;
    int rc = nlpd__gaz_load(&g, path);
    if (rc != 0) {
        fprintf(stderr, "nlpd-tag-gazetteer: %s: %s\n", path, nlpd_strerror(rc));
        return 1;
    }
    nlpd__gaz_free(&g);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 1;
    nlpd_split_model *m = NULL;
    nlpd_split *sp = NULL;
    if (make_splitter(&m, &sp, 0) != 0) {
        fclose(f);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int body = 0;
    long entries = 0, differ = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        size_t n = (size_t)got;
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (!body) {
            body = strncmp(line, "checksum ", 9) == 0;
            continue;
        }
        const char *toks = strchr(line, '\t') + 1; /* the loader checked the line */
        entries++;
        /* The stored tokens, and the text they came from: blanks between
         * them, except before a clitic ("King's" gave "King" "'s"). */
        const char *st[NLPD_GAZ_MAX_TOKENS];
        size_t sl[NLPD_GAZ_MAX_TOKENS], ns = 0;
        char text[4096];
        size_t tl = 0;
        for (const char *p = toks; ns < NLPD_GAZ_MAX_TOKENS;) {
            const char *e = strchr(p, ' ');
            size_t l = e != NULL ? (size_t)(e - p) : strlen(p);
            int clitic = p[0] == '\'' || strncmp(p, "\xe2\x80\x99", 3) == 0;
            if (ns > 0 && !clitic && tl < sizeof(text))
                text[tl++] = ' ';
            if (tl + l < sizeof(text)) {
                memcpy(text + tl, p, l);
                tl += l;
            }
            st[ns] = p;
            sl[ns++] = l;
            if (e == NULL)
                break;
            p = e + 1;
        }
        if (nlpd_split_run(sp, text, tl, NULL, 0) != 0)
            break;
        const nlpd_split_token *tok;
        size_t nt = nlpd_split_tokens(sp, &tok);
        int same = nt == ns;
        for (size_t k = 0; k < nt && same; k++)
            same = tok[k].end - tok[k].start == sl[k] &&
                   memcmp(text + tok[k].start, st[k], sl[k]) == 0;
        if (!same) {
            if (differ < 20)
                fprintf(stderr, "nlpd-tag-gazetteer: tokens differ: %s\n", line);
            differ++;
        }
    }
    free(line);
    fclose(f);
    nlpd_split_free(&sp);
    nlpd_split_model_free(&m);
    printf("%s: %ld entries, %ld no longer tokenized as stored\n", path, entries, differ);
    return differ == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    nlpd_log_set_sink(nlpd_log_stderr, NULL, NLPD_LOG_WARNING);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "build") == 0 && argc == 2)
        return cmd_build();
    if (strcmp(cmd, "check") == 0 && argc == 3)
        return cmd_check(argv[2]);
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    const char *gaz_path = NULL;
    long rounds = 20;
    int verbose = 0;
    int i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--gaz") == 0 && i + 1 < argc) {
            gaz_path = argv[++i];
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = strtol(argv[++i], NULL, 10);
            if (rounds < 1) {
                fprintf(stderr, "nlpd-tag-gazetteer: --rounds needs a positive number\n");
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(cmd, "bench") == 0 && i < argc)
        return cmd_bench(gaz_path, argv + i, argc - i, rounds);
    if ((strcmp(cmd, "eval") == 0 && i < argc) || (strcmp(cmd, "match") == 0 && i == argc)) {
        nlpd_gaz *g = NULL;
        int rc = gaz_path != NULL ? nlpd__gaz_load(&g, gaz_path) : nlpd__gaz_load_builtin(&g, "en");
        if (rc != 0) {
            fprintf(stderr, "nlpd-tag-gazetteer: %s: %s\n", gaz_path ? gaz_path : "builtin",
                    nlpd_strerror(rc));
            return 1;
        }
        rc = cmd[0] == 'e' ? cmd_eval(g, argv + i, argc - i, verbose) : cmd_match(g);
        nlpd__gaz_free(&g);
        return rc;
    }
    usage(stderr);
    return 2;
}
