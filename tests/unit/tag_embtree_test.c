/* tests/unit/tag_embtree_test.c — the word vector tree (stages/tag/clusters/
 * embtree.h), the core of nlpd-tag-embclusters: groups whose right split is
 * known, paths (prefix-free, ordered sides), determinism, the depth and
 * leaf limits, degenerate vectors and bad options; and the shipped
 * wordclasses.txt (format, sizes, words that must share a class).
 */
#include "embtree.h"
#include "nlpd/error.h"
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 4

/* A fixed linear congruential generator: small noise, the same each run. */
static float
noise(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return (float)((*state >> 16) & 0x7fff) / 32768.0f * 0.1f - 0.05f;
}

/* Four groups of `per` words around four axes; group g of word i is i % 4. */
static float *
four_groups(size_t per)
{
    float *v = calloc(per * 4 * DIM, sizeof(float));
    assert_non_null(v);
    uint32_t st = 7;
    for (size_t i = 0; i < per * 4; i++)
        for (size_t k = 0; k < DIM; k++)
            v[i * DIM + k] = (k == i % 4 ? 1.0f : 0.0f) + noise(&st);
    return v;
}

static uint32_t
prefix(uint32_t path, unsigned bits)
{
    return bits == 0 ? 0 : path >> (32 - bits);
}

static void
test_groups(void **state)
{
    (void)state;
    const size_t per = 25, n = per * 4;
    float *v = four_groups(per);
    uint32_t path[100], path2[100];
    uint8_t bits[100], bits2[100];
    nlpd_embtree_opts opts = NLPD_EMBTREE_OPTS_INIT;
    assert_int_equal(nlpd_embtree_run(v, n, DIM, &opts, path, bits), 0);
    /* Each group shares its first two bits, and the four groups differ. */
    for (size_t i = 0; i < n; i++) {
        assert_true(bits[i] >= 2 && bits[i] <= opts.depth);
        assert_int_equal(prefix(path[i], 2), prefix(path[i % 4], 2));
    }
    for (size_t g = 0; g < 4; g++)
        for (size_t h = g + 1; h < 4; h++)
            assert_int_not_equal(prefix(path[g], 2), prefix(path[h], 2));
    /* Word 0's side is always 0: its path is all zeros. */
    assert_int_equal(path[0], 0);
    /* Prefix-free: no word's path is a proper prefix of another's. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (bits[i] < bits[j])
                assert_int_not_equal(prefix(path[i], bits[i]), prefix(path[j], bits[i]));
    /* Vectors were normalized in place. */
    double s = 0;
    for (size_t k = 0; k < DIM; k++)
        s += (double)v[k] * (double)v[k];
    assert_true(s > 0.999 && s < 1.001);
    /* The same vectors give the same paths. */
    free(v);
    v = four_groups(per);
    assert_int_equal(nlpd_embtree_run(v, n, DIM, &opts, path2, bits2), 0);
    assert_memory_equal(path, path2, sizeof(path));
    assert_memory_equal(bits, bits2, sizeof(bits));
    /* Depth 1: two sides only. */
    opts.depth = 1;
    assert_int_equal(nlpd_embtree_run(v, n, DIM, &opts, path2, bits2), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(bits2[i], 1);
    free(v);
}

static void
test_limits(void **state)
{
    (void)state;
    nlpd_embtree_opts opts = NLPD_EMBTREE_OPTS_INIT;
    float v[6 * DIM] = {0};
    uint32_t path[6];
    uint8_t bits[6];
    /* Fewer words than min_leaf: one leaf, path of 0 bits. */
    for (size_t i = 0; i < 6; i++)
        v[i * DIM + (i % 2)] = 1.0f;
    opts.min_leaf = 7;
    assert_int_equal(nlpd_embtree_run(v, 6, DIM, &opts, path, bits), 0);
    for (size_t i = 0; i < 6; i++)
        assert_true(bits[i] == 0 && path[i] == 0);
    /* Identical vectors (and all-zero ones) cannot be split. */
    opts.min_leaf = 2;
    memset(v, 0, sizeof(v));
    for (size_t i = 0; i < 3; i++)
        v[i * DIM] = 2.0f;
    assert_int_equal(nlpd_embtree_run(v, 3, DIM, &opts, path, bits), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(bits[i], 0);
    memset(v, 0, sizeof(v));
    assert_int_equal(nlpd_embtree_run(v, 6, DIM, &opts, path, bits), 0);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(bits[i], 0);
    /* A zero vector beside real ones: it stays zero and gets a path. */
    v[DIM + 1] = 1.0f;
    v[2 * DIM + 2] = 1.0f;
    assert_int_equal(nlpd_embtree_run(v, 3, DIM, &opts, path, bits), 0);
    assert_true(v[0] == 0.0f && v[1] == 0.0f);
    assert_true(bits[1] >= 1 && bits[2] >= 1);
    /* No words at all. */
    assert_int_equal(nlpd_embtree_run(v, 0, DIM, &opts, path, bits), 0);
    /* Bad options. */
    nlpd_embtree_opts bad = opts;
    bad.depth = 0;
    assert_int_equal(nlpd_embtree_run(v, 3, DIM, &bad, path, bits), NLPD_EINVAL);
    bad.depth = 33;
    assert_int_equal(nlpd_embtree_run(v, 3, DIM, &bad, path, bits), NLPD_EINVAL);
    bad = opts;
    bad.min_leaf = 1;
    assert_int_equal(nlpd_embtree_run(v, 3, DIM, &bad, path, bits), NLPD_EINVAL);
    bad = opts;
    bad.iterations = 0;
    assert_int_equal(nlpd_embtree_run(v, 3, DIM, &bad, path, bits), NLPD_EINVAL);
    assert_int_equal(nlpd_embtree_run(v, 3, 0, &opts, path, bits), NLPD_EINVAL);
    assert_int_equal(nlpd_embtree_run(v, 3, DIM, NULL, path, bits), NLPD_EINVAL);
}

/* The path of `word` in the shipped file, or NULL. */
static char *
find_word(char **lines, size_t n, const char *word)
{
    for (size_t i = 0; i < n; i++) {
        char *tab = strchr(lines[i], '\t');
        size_t wl = strlen(word);
        if (tab && strncmp(tab + 1, word, wl) == 0 && tab[1 + wl] == '\t')
            return lines[i];
    }
    return NULL;
}

static size_t
common_prefix(const char *a, const char *b)
{
    size_t k = 0;
    while (a[k] == b[k] && a[k] != '\t')
        k++;
    return k;
}

static void
test_shipped_file(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/stages/tag/data/en/wordclasses.txt",
             getenv("NLPD_SOURCE_DIR") ? getenv("NLPD_SOURCE_DIR") : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char **lines = NULL;
    size_t n = 0, cap = 0;
    char buf[512];
    while (fgets(buf, sizeof(buf), f)) {
        size_t len = strlen(buf);
        assert_true(len > 0 && buf[len - 1] == '\n');
        buf[len - 1] = '\0';
        /* "<path>\t<word>\t<rank>", path of 1..16 bits */
        char *t1 = strchr(buf, '\t');
        assert_non_null(t1);
        assert_true(t1 - buf >= 1 && t1 - buf <= 16);
        assert_true(strspn(buf, "01") == (size_t)(t1 - buf));
        char *t2 = strchr(t1 + 1, '\t');
        assert_non_null(t2);
        assert_true(t2 > t1 + 1);
        assert_true(atol(t2 + 1) >= 1);
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            lines = realloc(lines, cap * sizeof(*lines));
            assert_non_null(lines);
        }
        lines[n] = strdup(buf);
        assert_non_null(lines[n]);
        n++;
    }
    fclose(f);
    assert_true(n >= 50000 && n <= 300000);
    /* Words of a kind share long prefixes, unlike words of other kinds. */
    const char *pairs[][3] = {
        {"paris", "berlin", "tuesday"},
        {"monday", "friday", "paris"},
        {"john", "david", "london"},
        {"microsoft", "google", "john"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        char *a = find_word(lines, n, pairs[i][0]);
        char *b = find_word(lines, n, pairs[i][1]);
        char *c = find_word(lines, n, pairs[i][2]);
        assert_true(a && b && c);
        assert_true(common_prefix(a, b) > common_prefix(a, c));
        assert_true(common_prefix(a, b) >= 4);
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_shipped_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
