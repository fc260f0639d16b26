/* tests/unit/tag_clusters_test.c — Brown clustering (stages/tag/clusters/
 * brown.h), the core of nlpd-tag-clusters: tiny corpora whose right
 * clustering is known (two languages that never meet split at the root;
 * determiners, nouns and verbs of a toy grammar become three clusters),
 * the reported AMI against one recomputed from scratch, the output format
 * (prefix-free bit paths, sorted, counts, min count),
 * determinism, bad options and words, allocation failures; and the
 * shipped clusters file.
 */
#include "brown.h"
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/split.h"
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A fixed linear congruential generator, so every corpus is the same. */
static uint32_t
lcg(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

static void
add_words(nlpd_brown *b, const char *const *w, size_t n)
{
    nlpd_brown_word words[64];
    assert_true(n <= N_ELEMS(words));
    for (size_t i = 0; i < n; i++) {
        words[i].s = w[i];
        words[i].len = strlen(w[i]);
    }
    assert_int_equal(nlpd_brown_add_sentence(b, words, n), 0);
}

/* The path of `word` in a run's output, or NULL. */
static const char *
path_of(const nlpd_brown *b, const char *word)
{
    nlpd_brown_stats st;
    nlpd_brown_get_stats(b, &st);
    for (size_t i = 0; i < st.kept; i++) {
        const char *path, *w;
        size_t len;
        uint64_t count;
        assert_int_equal(nlpd_brown_entry(b, i, &path, &w, &len, &count), 0);
        if (len == strlen(word) && memcmp(w, word, len) == 0)
            return path;
    }
    return NULL;
}

static uint64_t
count_of(const nlpd_brown *b, const char *word)
{
    nlpd_brown_stats st;
    nlpd_brown_get_stats(b, &st);
    for (size_t i = 0; i < st.kept; i++) {
        const char *path, *w;
        size_t len;
        uint64_t count;
        assert_int_equal(nlpd_brown_entry(b, i, &path, &w, &len, &count), 0);
        if (len == strlen(word) && memcmp(w, word, len) == 0)
            return count;
    }
    return 0;
}

/* The output as one malloc'd string. */
static char *
output(const nlpd_brown *b)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(nlpd_brown_write(b, f), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static const char *const lang_a[] = {"ka", "ke", "ki", "ko", "ku"};
static const char *const lang_b[] = {"zu", "zo", "zi", "ze", "za", "zy"};

/* Sentences of 3 to 8 words, each all from one language. */
static void
two_languages(nlpd_brown *b, uint32_t seed, int sentences)
{
    uint32_t st = seed;
    for (int s = 0; s < sentences; s++) {
        const char *w[8];
        size_t n = 3 + lcg(&st) % 6;
        int which = (int)(lcg(&st) % 2);
        for (size_t i = 0; i < n; i++)
            w[i] = which ? lang_b[lcg(&st) % N_ELEMS(lang_b)] : lang_a[lcg(&st) % N_ELEMS(lang_a)];
        add_words(b, w, n);
    }
}

static nlpd_brown *
run_two_languages(uint32_t clusters)
{
    nlpd_brown *b;
    nlpd_brown_opts o = {clusters, 1};
    assert_int_equal(nlpd_brown_new(&b, &o), 0);
    two_languages(b, 7, 400);
    assert_int_equal(nlpd_brown_run(b, NULL, NULL), 0);
    return b;
}

/* Words of two languages that never share a sentence end up on the two
 * sides of the root, whether all words fit in the window (C = 20: the
 * whole tree comes from the final phase) or not (C = 3: most merges happen
 * while words are still being added). */
static void
test_disjoint_languages_split_at_root(void **state)
{
    (void)state;
    uint32_t cs[] = {20, 3, 2};
    for (size_t c = 0; c < N_ELEMS(cs); c++) {
        nlpd_brown *b = run_two_languages(cs[c]);
        const char *pa = path_of(b, lang_a[0]), *pb = path_of(b, lang_b[0]);
        assert_non_null(pa);
        assert_non_null(pb);
        assert_true(pa[0] != pb[0]);
        for (size_t i = 0; i < N_ELEMS(lang_a); i++)
            assert_int_equal(path_of(b, lang_a[i])[0], pa[0]);
        for (size_t i = 0; i < N_ELEMS(lang_b); i++)
            assert_int_equal(path_of(b, lang_b[i])[0], pb[0]);
        nlpd_brown_stats st;
        nlpd_brown_get_stats(b, &st);
        assert_int_equal(st.kept, N_ELEMS(lang_a) + N_ELEMS(lang_b));
        assert_true(st.ami > 0.0);
        nlpd_brown_free(&b);
    }
}

/* Sentences of one to three "D N V" clauses: with three clusters, the
 * determiners, the nouns and the verbs each become one cluster (one shared
 * path), and the paths of the three differ. (With one clause a sentence,
 * determiners and verbs never meet, and putting them together costs no
 * mutual information at all: the clauses must follow each other.) */
static void
test_word_classes(void **state)
{
    (void)state;
    static const char *const det[] = {"the", "a", "this", "every"};
    static const char *const noun[] = {"cat", "dog", "man", "bird", "fish"};
    static const char *const verb[] = {"ran", "sat", "ate", "slept"};
    nlpd_brown *b;
    nlpd_brown_opts o = {3, 1};
    assert_int_equal(nlpd_brown_new(&b, &o), 0);
    uint32_t st = 11;
    for (int s = 0; s < 300; s++) {
        const char *w[9];
        size_t n = 3 * (1 + lcg(&st) % 3);
        for (size_t i = 0; i < n; i += 3) {
            w[i] = det[lcg(&st) % 4];
            w[i + 1] = noun[lcg(&st) % 5];
            w[i + 2] = verb[lcg(&st) % 4];
        }
        add_words(b, w, n);
    }
    assert_int_equal(nlpd_brown_run(b, NULL, NULL), 0);
    const char *pd = path_of(b, det[0]), *pn = path_of(b, noun[0]), *pv = path_of(b, verb[0]);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(path_of(b, det[i]), pd);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(path_of(b, noun[i]), pn);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(path_of(b, verb[i]), pv);
    assert_string_not_equal(pd, pn);
    assert_string_not_equal(pn, pv);
    assert_string_not_equal(pd, pv);
    nlpd_brown_free(&b);
}

/* The AMI the clusterer reports (from its incrementally updated tables)
 * equals the AMI of its final clusters recomputed here from scratch:
 * words sharing a path are one cluster; bigrams within sentences. */
static void
test_ami_recomputed(void **state)
{
    (void)state;

    enum { NW = 12, NS = 500 };

    static const char *const vocab[NW] = {"a", "b", "c", "d", "e", "f",
                                          "g", "h", "i", "j", "k", "l"};
    static int sent[NS][8];
    static size_t len[NS];
    uint32_t st = 5;
    nlpd_brown *b;
    nlpd_brown_opts o = {4, 1};
    assert_int_equal(nlpd_brown_new(&b, &o), 0);
    for (int s = 0; s < NS; s++) {
        const char *w[8];
        len[s] = 2 + lcg(&st) % 7;
        int prev = (int)(lcg(&st) % NW);
        for (size_t i = 0; i < len[s]; i++) {
            /* A skewed Markov chain, so the words have something to learn. */
            int next = (lcg(&st) % 3 == 0) ? (int)(lcg(&st) % NW) : (prev * 5 + 3) % NW;
            sent[s][i] = next;
            w[i] = vocab[next];
            prev = next;
        }
        add_words(b, w, len[s]);
    }
    assert_int_equal(nlpd_brown_run(b, NULL, NULL), 0);
    int cl[NW];
    char paths[NW][64];
    int ncl = 0;
    for (int i = 0; i < NW; i++) {
        const char *p = path_of(b, vocab[i]);
        assert_non_null(p);
        cl[i] = -1;
        for (int c = 0; c < ncl; c++)
            if (strcmp(paths[c], p) == 0)
                cl[i] = c;
        if (cl[i] < 0) {
            strcpy(paths[ncl], p);
            cl[i] = ncl++;
        }
    }
    assert_int_equal(ncl, 4);
    double n2[4][4] = {{0}}, left[4] = {0}, right[4] = {0}, n = 0;
    for (int s = 0; s < NS; s++)
        for (size_t i = 0; i + 1 < len[s]; i++) {
            int x = cl[sent[s][i]], y = cl[sent[s][i + 1]];
            n2[x][y] += 1;
            left[x] += 1;
            right[y] += 1;
            n += 1;
        }
    double ami = 0;
    for (int x = 0; x < 4; x++)
        for (int y = 0; y < 4; y++)
            if (n2[x][y] > 0)
                ami += n2[x][y] / n * log(n2[x][y] * n / (left[x] * right[y]));
    nlpd_brown_stats bs;
    nlpd_brown_get_stats(b, &bs);
    assert_true(ami > 0.1);
    assert_true(fabs(bs.ami - ami) < 1e-9);
    nlpd_brown_free(&b);
}

/* The shipped stages/tag/data/en/clusters.txt (README.md in
 * stages/tag/clusters): the format, sorted, prefix-free paths of at most
 * 32 bits, unique words, counts of at least the min count 3, a few MB at
 * most; and its words are still tokens of nlpd_split as it is now (a
 * word that, alone, no longer comes out as one token means the tokenizer
 * changed under the clusters; a few do not by nature, such as a period
 * read as a sentence end). CLUSTERS_FILE overrides the path. */
static void
test_shipped_file(void **state)
{
    (void)state;
    char path[4096];
    const char *env = getenv("CLUSTERS_FILE");
    if (env != NULL)
        snprintf(path, sizeof(path), "%s", env);
    else
        snprintf(path, sizeof(path), "%s/stages/tag/data/en/clusters.txt",
                 getenv("NLPD_SOURCE_DIR") ? getenv("NLPD_SOURCE_DIR") : ".");
    size_t size;
    char *buf = nlpd_test_read_file(path, &size);
    if (buf == NULL) {
        print_message("skipped: %s not found\n", path);
        skip();
    }
    assert_true(size < 4u << 20);
    nlpd_split_model *model;
    nlpd_split *sp;
    assert_int_equal(nlpd_split_model_load_builtin(&model, "en"), 0);
    assert_int_equal(nlpd_split_new(&sp, model, NULL), 0);
    const char *prev_path = "", *prev_word = "";
    size_t prev_plen = 0, prev_wlen = 0, lines = 0, paths = 0, not_token = 0;
    for (char *line = buf; *line != '\0';) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        char *t1 = memchr(line, '\t', (size_t)(nl - line));
        assert_non_null(t1);
        char *t2 = memchr(t1 + 1, '\t', (size_t)(nl - t1 - 1));
        assert_non_null(t2);
        size_t plen = (size_t)(t1 - line), wlen = (size_t)(t2 - t1 - 1);
        assert_true(plen >= 1 && plen <= 32);
        for (size_t i = 0; i < plen; i++)
            assert_true(line[i] == '0' || line[i] == '1');
        assert_true(wlen >= 1);
        char *end;
        unsigned long long count = strtoull(t2 + 1, &end, 10);
        assert_ptr_equal(end, nl);
        assert_true(count >= 3);
        /* Sorted by path, then word; a new path is no extension of the
         * one before (adjacent checks suffice for sorted strings). */
        int c = memcmp(prev_path, line, prev_plen < plen ? prev_plen : plen);
        if (prev_plen > 0 && c == 0 && prev_plen == plen) {
            size_t m = prev_wlen < wlen ? prev_wlen : wlen;
            int cw = memcmp(prev_word, t1 + 1, m);
            assert_true(cw < 0 || (cw == 0 && prev_wlen < wlen));
        } else {
            assert_true(prev_plen == 0 || c < 0);
            paths++;
        }
        int rc = nlpd_split_run(sp, t1 + 1, wlen, NULL, 0);
        assert_int_equal(rc, 0);
        const nlpd_split_token *tok;
        size_t nt = nlpd_split_tokens(sp, &tok);
        if (!(nt == 1 && tok[0].start == 0 && tok[0].end == wlen))
            not_token++;
        prev_path = line;
        prev_plen = plen;
        prev_word = t1 + 1;
        prev_wlen = wlen;
        lines++;
        line = nl + 1;
    }
    print_message("%s: %zu words, %zu clusters, %zu not one token alone\n", path, lines, paths,
                  not_token);
    assert_true(lines > 10000);
    assert_true(paths >= 100 && paths <= 1000);
    assert_true(not_token * 200 < lines);
    nlpd_split_free(&sp);
    nlpd_split_model_free(&model);
    free(buf);
}

/* Every line is "<bits>\t<word>\t<count>", lines sorted by path then word,
 * and no leaf's path is a proper prefix of another's. */
static void
test_format_sorted_prefix_free(void **state)
{
    (void)state;
    nlpd_brown *b = run_two_languages(4);
    char *out = output(b);
    char prev_path[256] = "", prev_word[256] = "";
    char paths[64][256];
    size_t npaths = 0, lines = 0;
    for (char *line = out; *line != '\0';) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        char *t1 = strchr(line, '\t');
        assert_non_null(t1);
        char *t2 = strchr(t1 + 1, '\t');
        assert_non_null(t2);
        assert_null(strchr(t2 + 1, '\t'));
        *t1 = *t2 = '\0';
        assert_true(strlen(line) > 0 && strlen(line) < 256);
        assert_int_equal(strspn(line, "01"), strlen(line));
        assert_true(strlen(t1 + 1) > 0 && strlen(t1 + 1) < 256);
        assert_true(strlen(t2 + 1) > 0);
        assert_int_equal(strspn(t2 + 1, "0123456789"), strlen(t2 + 1));
        int c = strcmp(prev_path, line);
        assert_true(c < 0 || (c == 0 && strcmp(prev_word, t1 + 1) < 0));
        if (c != 0) {
            assert_true(npaths < N_ELEMS(paths));
            strcpy(paths[npaths++], line);
        }
        strcpy(prev_path, line);
        strcpy(prev_word, t1 + 1);
        lines++;
        line = nl + 1;
    }
    assert_int_equal(lines, N_ELEMS(lang_a) + N_ELEMS(lang_b));
    assert_true(npaths <= 4);
    for (size_t i = 0; i < npaths; i++)
        for (size_t j = 0; j < npaths; j++)
            if (i != j)
                assert_false(strncmp(paths[i], paths[j], strlen(paths[i])) == 0);
    free(out);
    nlpd_brown_free(&b);
}

/* The same sentences give the same bytes. */
static void
test_deterministic(void **state)
{
    (void)state;
    nlpd_brown *b1 = run_two_languages(3), *b2 = run_two_languages(3);
    char *o1 = output(b1), *o2 = output(b2);
    assert_string_equal(o1, o2);
    free(o1);
    free(o2);
    nlpd_brown_free(&b1);
    nlpd_brown_free(&b2);
}

/* Counts are token counts; words under the min count are left out, and
 * so are empty words and words holding a tab or newline. */
static void
test_counts_and_min_count(void **state)
{
    (void)state;
    nlpd_brown *b;
    nlpd_brown_opts o = {4, 3};
    assert_int_equal(nlpd_brown_new(&b, &o), 0);
    static const char *const s1[] = {"Paris", "is", "big"};
    static const char *const s2[] = {"Rome", "is", "old"};
    static const char *const s3[] = {"Paris", "is", "old", "and", "big"};
    add_words(b, s1, 3);
    add_words(b, s2, 3);
    add_words(b, s3, 5);
    add_words(b, s1, 3);
    nlpd_brown_word odd[] = {{"a\tb", 3}, {"", 0}, {"x\ny", 3}, {"is", 2}};
    assert_int_equal(nlpd_brown_add_sentence(b, odd, N_ELEMS(odd)), 0);
    assert_int_equal(nlpd_brown_run(b, NULL, NULL), 0);
    nlpd_brown_stats st;
    nlpd_brown_get_stats(b, &st);
    assert_int_equal(st.tokens, 15);
    assert_int_equal(st.types, 6);
    assert_int_equal(st.kept, 3); /* is 5, Paris 3, big 3 */
    assert_int_equal(count_of(b, "is"), 5);
    assert_int_equal(count_of(b, "Paris"), 3);
    assert_int_equal(count_of(b, "big"), 3);
    assert_null(path_of(b, "Rome"));
    assert_null(path_of(b, "old"));
    /* Bigrams between kept words only, within sentences: Paris is (3),
     * is big (2). */
    assert_int_equal(st.bigrams, 5);
    const char *path, *w;
    size_t len;
    uint64_t count;
    assert_int_equal(nlpd_brown_entry(b, 3, &path, &w, &len, &count), NLPD_EINVAL);
    assert_int_equal(nlpd_brown_run(b, NULL, NULL), NLPD_EINVAL);
    assert_int_equal(nlpd_brown_add_sentence(b, odd, 1), NLPD_EINVAL);
    nlpd_brown_free(&b);
}

static void
test_edge_cases(void **state)
{
    (void)state;
    nlpd_brown *b = NULL;
    nlpd_brown_opts bad1 = {1, 1}, bad2 = {10, 0};
    assert_int_equal(nlpd_brown_new(&b, &bad1), NLPD_EINVAL);
    assert_int_equal(nlpd_brown_new(&b, &bad2), NLPD_EINVAL);
    assert_null(b);
    nlpd_brown_free(&b);

    /* Nothing read: an empty file. */
    nlpd_brown_opts o = {4, 1};
    assert_int_equal(nlpd_brown_new(&b, &o), 0);
    assert_int_equal(nlpd_brown_write(b, stdout), NLPD_EINVAL);
    assert_int_equal(nlpd_brown_run(b, NULL, NULL), 0);
    char *out = output(b);
    assert_string_equal(out, "");
    free(out);
    nlpd_brown_free(&b);

    /* One word: a tree of one leaf still has a path. */
    assert_int_equal(nlpd_brown_new(&b, &o), 0);
    static const char *const one[] = {"hello", "hello"};
    add_words(b, one, 2);
    assert_int_equal(nlpd_brown_run(b, NULL, NULL), 0);
    out = output(b);
    assert_string_equal(out, "0\thello\t2\n");
    free(out);
    nlpd_brown_free(&b);
}

static size_t progress_calls, progress_last;

static void
on_progress(void *arg, size_t done, size_t total)
{
    (void)arg;
    assert_true(done <= total);
    progress_calls++;
    progress_last = done;
}

static void
test_progress(void **state)
{
    (void)state;
    nlpd_brown *b;
    nlpd_brown_opts o = {3, 1};
    assert_int_equal(nlpd_brown_new(&b, &o), 0);
    two_languages(b, 3, 100);
    progress_calls = 0;
    assert_int_equal(nlpd_brown_run(b, on_progress, NULL), 0);
    assert_int_equal(progress_calls, 1);
    assert_int_equal(progress_last, N_ELEMS(lang_a) + N_ELEMS(lang_b));
    nlpd_brown_free(&b);
}

/* Every allocation may fail: the error comes back and nothing leaks. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    nlpd_test_alloc_install();
    int ok = 0;
    for (long n = 0; n < 10000 && !ok; n++) {
        nlpd_test_alloc_reset();
        nlpd_test_alloc_fail_after(n);
        nlpd_brown *b = NULL;
        nlpd_brown_opts o = {3, 1};
        int rc = nlpd_brown_new(&b, &o);
        if (rc == 0) {
            static const char *const s[] = {"the", "cat", "sat", "on", "the", "mat"};
            nlpd_brown_word w[6];
            for (size_t i = 0; i < 6; i++)
                w[i] = (nlpd_brown_word){s[i], strlen(s[i])};
            rc = nlpd_brown_add_sentence(b, w, 6);
            if (rc == 0)
                rc = nlpd_brown_run(b, NULL, NULL);
        }
        assert_true(rc == 0 || rc == NLPD_ENOMEM);
        nlpd_brown_free(&b);
        assert_int_equal(nlpd_test_alloc_live(), 0);
        ok = rc == 0;
    }
    assert_true(ok);
    nlpd_test_alloc_fail_after(-1);
    nlpd_test_alloc_reset();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disjoint_languages_split_at_root),
        cmocka_unit_test(test_word_classes),
        cmocka_unit_test(test_ami_recomputed),
        cmocka_unit_test(test_format_sorted_prefix_free),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_counts_and_min_count),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_shipped_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
