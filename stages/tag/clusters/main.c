/* stages/tag/clusters/main.c — nlpd-tag-clusters: Brown word clusters from
 * unlabeled text, for the tagger's cluster features.
 *
 *   nlpd-tag-clusters [--clusters C] [--min-count N] [--lower] [--verbose]
 *                     TEXT.jsonl... > clusters.txt
 *
 * Reads JSON Lines whose objects have a "text" string (any other member
 * is ignored; labels are never read), tokenizes and splits each text with
 * the pipeline's own splitter (nlpd_split, built-in English model), and
 * clusters the tokens of every sentence (brown.h). Writes one line per
 * word seen at least N times: "<bit path>\t<word>\t<count>", sorted by path
 * and then word. With --lower, words are lower-cased (ASCII letters only)
 * before counting. The same input gives the same output, byte for byte.
 *
 * stages/tag/clusters/make-clusters.sh makes the shipped
 * stages/tag/data/en/clusters.txt; README.md beside this file has the
 * sources and the figures.
 */
#include "brown.h"
#include "nlpd/error.h"
#include "nlpd/split.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct tool {
    nlpd_split *sp;
    nlpd_brown *brown;
    int lower;
    int verbose;
    nlpd_brown_word *words;
    size_t wcap;
    char *lowbuf;
    size_t lowcap;
    long docs;
} tool;

static void
usage(FILE *f)
{
    fprintf(f, "usage: nlpd-tag-clusters [--clusters C] [--min-count N] [--lower] [--verbose] "
               "TEXT.jsonl... > clusters.txt\n");
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Tokenizes one text and adds its sentences. */
static int
add_text(tool *t, const char *text, size_t len)
{
    int rc = nlpd_split_run(t->sp, text, len, NULL, 0);
    if (rc != 0)
        return rc;
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(t->sp, &tok);
    size_t ns = nlpd_split_sentences(t->sp, &sen);
    (void)nt;
    const char *src = text;
    if (t->lower) {
        if (len + 1 > t->lowcap) {
            char *b = realloc(t->lowbuf, len + 1);
            if (b == NULL)
                return NLPD_ENOMEM;
            t->lowbuf = b;
            t->lowcap = len + 1;
        }
        for (size_t i = 0; i < len; i++) {
            char c = text[i];
            t->lowbuf[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        src = t->lowbuf;
    }
    for (size_t i = 0; i < ns; i++) {
        size_t n = sen[i].n_tokens;
        if (n > t->wcap) {
            nlpd_brown_word *w = realloc(t->words, n * sizeof(*w));
            if (w == NULL)
                return NLPD_ENOMEM;
            t->words = w;
            t->wcap = n;
        }
        for (size_t j = 0; j < n; j++) {
            const nlpd_split_token *k = &tok[sen[i].first_token + j];
            t->words[j].s = src + k->start;
            t->words[j].len = k->end - k->start;
        }
        rc = nlpd_brown_add_sentence(t->brown, t->words, n);
        if (rc != 0)
            return rc;
    }
    t->docs++;
    return 0;
}

static int
read_jsonl(tool *t, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "nlpd-tag-clusters: %s: %s\n", path, strerror(errno));
        return 1;
    }
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
            fprintf(stderr, "nlpd-tag-clusters: %s:%ld: not JSON: %s\n", path, lineno, err.text);
            rc = 1;
            break;
        }
        json_t *text = json_object_get(doc, "text");
        if (!json_is_string(text)) {
            fprintf(stderr, "nlpd-tag-clusters: %s:%ld: no \"text\"\n", path, lineno);
            rc = 1;
        } else {
            int e = add_text(t, json_string_value(text), json_string_length(text));
            if (e != 0) {
                fprintf(stderr, "nlpd-tag-clusters: %s:%ld: %s\n", path, lineno, nlpd_strerror(e));
                rc = 1;
            }
        }
        json_decref(doc);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

static void
progress(void *arg, size_t done, size_t total)
{
    const double *start = arg;
    fprintf(stderr, "nlpd-tag-clusters: %zu/%zu words, %.1f s\n", done, total, now() - *start);
}

static int
parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int
main(int argc, char **argv)
{
    nlpd_brown_opts opts = NLPD_BROWN_OPTS_INIT;
    tool t;
    memset(&t, 0, sizeof(t));
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--clusters") == 0 && i + 1 < argc) {
            if (parse_u32(argv[++i], &opts.clusters) != 0)
                goto bad;
        } else if (strcmp(a, "--min-count") == 0 && i + 1 < argc) {
            if (parse_u32(argv[++i], &opts.min_count) != 0)
                goto bad;
        } else if (strcmp(a, "--lower") == 0) {
            t.lower = 1;
        } else if (strcmp(a, "--verbose") == 0) {
            t.verbose = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            goto bad;
        }
    }
    if (i == argc)
        goto bad;

    nlpd_split_model *model = NULL;
    int rc = nlpd_split_model_load_builtin(&model, "en");
    if (rc == 0)
        rc = nlpd_split_new(&t.sp, model, NULL);
    if (rc == 0)
        rc = nlpd_brown_new(&t.brown, &opts);
    if (rc != 0) {
        fprintf(stderr, "nlpd-tag-clusters: %s\n", nlpd_strerror(rc));
        nlpd_split_free(&t.sp);
        nlpd_split_model_free(&model);
        return 1;
    }
    double start = now();
    int status = 0;
    for (; i < argc && status == 0; i++)
        status = read_jsonl(&t, argv[i]);
    nlpd_split_free(&t.sp);
    nlpd_split_model_free(&model);
    if (status == 0) {
        if (t.verbose)
            fprintf(stderr, "nlpd-tag-clusters: %ld texts read in %.1f s, clustering\n", t.docs,
                    now() - start);
        rc = nlpd_brown_run(t.brown, t.verbose ? progress : NULL, &start);
        if (rc == 0)
            rc = nlpd_brown_write(t.brown, stdout);
        if (rc == 0 && fflush(stdout) != 0)
            rc = -errno;
        if (rc != 0) {
            fprintf(stderr, "nlpd-tag-clusters: %s\n", nlpd_strerror(rc));
            status = 1;
        } else {
            nlpd_brown_stats st;
            nlpd_brown_get_stats(t.brown, &st);
            fprintf(stderr,
                    "nlpd-tag-clusters: %ld texts, %llu tokens, %zu types, %zu words kept "
                    "(min count %u), %llu bigrams, C %u, AMI %.4f nats, %.1f s\n",
                    t.docs, (unsigned long long)st.tokens, st.types, st.kept, opts.min_count,
                    (unsigned long long)st.bigrams, opts.clusters, st.ami, now() - start);
        }
    }
    nlpd_brown_free(&t.brown);
    free(t.words);
    free(t.lowbuf);
    return status;
bad:
    usage(stderr);
    return 2;
}
