/* tests/unit/tag_gazetteer_test.c — the tag stage's gazetteers
 * (stages/tag/gazetteer.h): loading from a buffer, a file and the built-in
 * data; a tiny gazetteer written here; longest multi-token matches, case,
 * diacritics, periods and apostrophes; classes that overlap; corrupt and
 * truncated files; empty, one-token and 100,000-token sentences; tokens
 * that are not UTF-8; allocation failures.
 *
 * Sentences are written with a blank between tokens and cut by tokens() below,
 * so the tests depend on nothing but the gazetteer.
 */
#include "gazetteer.h"
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "test_support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define FNV_OFFSET 14695981039346656037ull

/* ---- helpers ----------------------------------------------------------- */

/* A gazetteer file from its class lines and entry lines (each ending in
 * "\n"), with the right count and checksum unless told otherwise. malloc'd. */
static char *
make_file(const char *classes, const char *entries, long count_delta, size_t *len)
{
    size_t n = 0;
    for (const char *p = entries; *p; p++)
        n += *p == '\n';
    char head[4096];
    int hl =
        snprintf(head, sizeof(head), "nlpd-gazetteer 1\nlang en\nversion test\n%sentries %ld\n",
                 classes, (long)n + count_delta);
    assert_true(hl > 0 && (size_t)hl < sizeof(head));
    uint64_t h = nlpd__gaz_checksum(FNV_OFFSET, head, (size_t)hl);
    h = nlpd__gaz_checksum(h, entries, strlen(entries));
    size_t total = (size_t)hl + 26 + strlen(entries) + 1;
    char *out = malloc(total);
    assert_non_null(out);
    int k = snprintf(out, total, "%schecksum %016llx\n%s", head, (unsigned long long)h, entries);
    assert_true(k > 0 && (size_t)k < total);
    *len = (size_t)k;
    return out;
}

static const char tiny_classes[] = "class country cased\n"
                                   "class city cased\n"
                                   "class region cased\n"
                                   "class first_name cased\n"
                                   "class org_word\n";

/* Written in no particular order: the loader does not need them sorted. */
static const char tiny_entries[] = "city\tNew York\n"
                                   "city\tNew York City\n"
                                   "region\tNew York\n"
                                   "city\tYork\n"
                                   "city\tZürich\n"
                                   "city\tSão Paulo\n"
                                   "city\tSt. Louis\n"
                                   "country\tCôte d'Ivoire\n"
                                   "country\tGeorgia\n"
                                   "first_name\tGeorgia\n"
                                   "first_name\tWill\n"
                                   "country\tU.S.\n"
                                   "org_word\tUniversity\n"
                                   "org_word\tUniversity of\n"
                                   "city\tA B C D E F G H I J K L\n";

static nlpd_gaz *
tiny(void)
{
    size_t len;
    char *buf = make_file(tiny_classes, tiny_entries, 0, &len);
    nlpd_gaz *g = NULL;
    assert_int_equal(nlpd__gaz_load_buffer(&g, buf, len), 0);
    free(buf);
    assert_non_null(g);
    return g;
}

/* Cuts a sentence at single blanks (a test sentence has one between
 * tokens). Returns the number of tokens. */
static size_t
tokens(const char *text, nlpd_split_token *tok, size_t cap)
{
    size_t n = 0, len = strlen(text), st = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == ' ') {
            if (i > st) {
                assert_true(n < cap);
                tok[n] = (nlpd_split_token){.start = (uint32_t)st, .end = (uint32_t)i};
                n++;
            }
            st = i + 1;
        }
    }
    return n;
}

#define B(c) (1ull << (2 * (c)))
#define I(c) (1ull << (2 * (c) + 1))

/* Matches `text` and checks the bits of every token against want[]. */
static void
expect_bits(const nlpd_gaz *g, const char *text, const uint64_t *want, size_t n_want)
{
    nlpd_split_token tok[64];
    uint64_t bits[64];
    size_t n = tokens(text, tok, N_ELEMS(tok));
    assert_int_equal(n, n_want);
    memset(bits, 0xa5, sizeof(bits));
    nlpd__gaz_match(g, text, tok, n, bits);
    for (size_t i = 0; i < n; i++) {
        if (bits[i] != want[i])
            fail_msg("\"%s\": token %zu (%.*s) has bits %#llx, want %#llx", text, i,
                     (int)(tok[i].end - tok[i].start), text + tok[i].start,
                     (unsigned long long)bits[i], (unsigned long long)want[i]);
    }
    /* match_at agrees: the longest match of each class from each start */
    for (size_t i = 0; i < n; i++) {
        uint32_t by_len[NLPD_GAZ_MAX_TOKENS + 1];
        nlpd__gaz_match_at(g, text, tok, n, i, by_len);
        uint64_t begins = 0;
        for (size_t k = 1; k <= NLPD_GAZ_MAX_TOKENS; k++)
            for (unsigned c = 0; c < 32; c++)
                if (by_len[k] & (1u << c))
                    begins |= B(c);
        assert_int_equal(begins, want[i] & 0x5555555555555555ull);
    }
}

enum { COUNTRY, CITY, REGION, FIRST, ORG };

/* ---- loading ----------------------------------------------------------- */

static void
test_gaz_loads_tiny_buffer_with_classes_and_counts(void **state)
{
    (void)state;
    nlpd_gaz *g = tiny();
    assert_int_equal(nlpd__gaz_classes(g), 5);
    assert_string_equal(nlpd__gaz_class_name(g, CITY), "city");
    assert_string_equal(nlpd__gaz_class_name(g, ORG), "org_word");
    assert_string_equal(nlpd__gaz_class_name(g, 5), "");
    assert_int_equal(nlpd__gaz_class_find(g, "region"), REGION);
    assert_int_equal(nlpd__gaz_class_find(g, "planet"), -1);
    assert_int_equal(nlpd__gaz_class_size(g, CITY), 7);
    assert_int_equal(nlpd__gaz_class_size(g, COUNTRY), 3);
    assert_int_equal(nlpd__gaz_class_size(g, 9), 0);
    assert_string_equal(nlpd__gaz_version(g), "en test (5 classes, 15 entries)");
    assert_true(nlpd__gaz_digest(g) != 0);
    nlpd__gaz_free(&g);
    assert_null(g);
    nlpd__gaz_free(&g); /* NULL is fine */
    nlpd__gaz_free(NULL);
}

static void
test_gaz_digest_follows_the_content(void **state)
{
    (void)state;
    size_t l1, l2;
    char *a = make_file(tiny_classes, tiny_entries, 0, &l1);
    char *b = make_file(tiny_classes, "city\tNew York\n", 0, &l2);
    nlpd_gaz *g1 = NULL, *g2 = NULL, *g3 = NULL;
    assert_int_equal(nlpd__gaz_load_buffer(&g1, a, l1), 0);
    assert_int_equal(nlpd__gaz_load_buffer(&g2, b, l2), 0);
    assert_int_equal(nlpd__gaz_load_buffer(&g3, a, l1), 0);
    assert_true(nlpd__gaz_digest(g1) != nlpd__gaz_digest(g2));
    assert_true(nlpd__gaz_digest(g1) == nlpd__gaz_digest(g3));
    nlpd__gaz_free(&g1);
    nlpd__gaz_free(&g2);
    nlpd__gaz_free(&g3);
    free(a);
    free(b);
}

static void
test_gaz_loads_from_a_file_and_reports_a_missing_one(void **state)
{
    (void)state;
    char *dir = nlpd_test_tmpdir("nlpd-gaz-test");
    char path[4096];
    snprintf(path, sizeof(path), "%s/g.txt", dir);
    size_t len;
    char *buf = make_file(tiny_classes, tiny_entries, 0, &len);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    nlpd_gaz *g = NULL;
    assert_int_equal(nlpd__gaz_load(&g, path), 0);
    assert_int_equal(nlpd__gaz_classes(g), 5);
    nlpd__gaz_free(&g);
    snprintf(path, sizeof(path), "%s/absent.txt", dir);
    assert_int_equal(nlpd__gaz_load(&g, path), -ENOENT);
    assert_null(g);
    assert_int_equal(nlpd__gaz_load(&g, dir), -EISDIR);
    assert_int_equal(nlpd__gaz_load(NULL, path), NLPD_EINVAL);
    assert_int_equal(nlpd__gaz_load(&g, NULL), NLPD_EINVAL);
    assert_int_equal(nlpd__gaz_load_buffer(&g, NULL, 3), NLPD_EINVAL);
    free(buf);
    nlpd_test_rmtree(dir);
    free(dir);
}

static void
test_gaz_builtin_english_loads_and_matches_places(void **state)
{
    (void)state;
    nlpd_gaz *g = NULL;
    assert_int_equal(nlpd__gaz_load_builtin(&g, "xx"), NLPD_EINVAL);
    assert_int_equal(nlpd__gaz_load_builtin(&g, NULL), NLPD_EINVAL);
    assert_null(g);
    assert_int_equal(nlpd__gaz_load_builtin(&g, "en"), 0);
    int country = nlpd__gaz_class_find(g, "country");
    int city = nlpd__gaz_class_find(g, "city");
    int first = nlpd__gaz_class_find(g, "first_name");
    assert_true(country >= 0 && city >= 0 && first >= 0);
    assert_true(nlpd__gaz_class_size(g, country) > 200);
    assert_true(nlpd__gaz_class_size(g, city) > 10000);
    const char *text = "They flew from Paris to the United Kingdom with Maria";
    nlpd_split_token tok[16];
    uint64_t bits[16];
    size_t n = tokens(text, tok, N_ELEMS(tok));
    nlpd__gaz_match(g, text, tok, n, bits);
    assert_true(bits[3] & B(city));         /* Paris */
    assert_true(bits[6] & B(country));      /* United */
    assert_true(bits[7] & I(country));      /* Kingdom */
    assert_false(bits[0] & B(first));       /* They */
    assert_true(bits[9] & B(first));        /* Maria */
    assert_int_equal(bits[1] & B(city), 0); /* flew */
    nlpd__gaz_free(&g);
}

/* The shipped file loads the way the builder wrote it, when the source
 * tree is there (CTest sets NLPD_SOURCE_DIR). */
static void
test_gaz_shipped_file_equals_the_builtin(void **state)
{
    (void)state;
    const char *src = getenv("NLPD_SOURCE_DIR");
    if (src == NULL)
        skip();
    char path[4096];
    snprintf(path, sizeof(path), "%s/stages/tag/data/en/gazetteer.txt", src);
    nlpd_gaz *a = NULL, *b = NULL;
    assert_int_equal(nlpd__gaz_load(&a, path), 0);
    assert_int_equal(nlpd__gaz_load_builtin(&b, "en"), 0);
    assert_true(nlpd__gaz_digest(a) == nlpd__gaz_digest(b));
    assert_string_equal(nlpd__gaz_version(a), nlpd__gaz_version(b));
    nlpd__gaz_free(&a);
    nlpd__gaz_free(&b);
}

/* ---- matching ---------------------------------------------------------- */

static void
test_gaz_takes_the_longest_match_of_each_class(void **state)
{
    (void)state;
    nlpd_gaz *g = tiny();
    /* "New York City": city of 3 tokens, region of 2; "York" starts a
     * city of its own and "City" starts nothing. */
    const uint64_t want[] = {0, B(CITY) | B(REGION), I(CITY) | I(REGION) | B(CITY), I(CITY), 0};
    expect_bits(g, "in New York City today", want, N_ELEMS(want));
    const uint64_t want2[] = {B(CITY) | B(REGION), I(CITY) | I(REGION) | B(CITY), 0};
    expect_bits(g, "New York Post", want2, N_ELEMS(want2));
    /* a prefix alone ("New") is no match */
    const uint64_t want3[] = {0, 0};
    expect_bits(g, "New Jersey", want3, N_ELEMS(want3));
    /* the last token of a sentence ends a match; nothing runs past n */
    const uint64_t want4[] = {0, B(CITY) | B(REGION), I(CITY) | I(REGION) | B(CITY)};
    expect_bits(g, "in New York", want4, N_ELEMS(want4));
    /* twelve tokens, the most an entry may have */
    uint64_t want5[13];
    want5[0] = B(CITY);
    for (size_t i = 1; i < 12; i++)
        want5[i] = I(CITY);
    want5[12] = 0;
    expect_bits(g, "A B C D E F G H I J K L M", want5, N_ELEMS(want5));
    /* "University of" is an entry, and so is "University" */
    const uint64_t want6[] = {B(ORG), I(ORG), 0};
    expect_bits(g, "University of Chicago", want6, N_ELEMS(want6));
    nlpd__gaz_free(&g);
}

static void
test_gaz_classes_overlap_on_one_entry(void **state)
{
    (void)state;
    nlpd_gaz *g = tiny();
    const uint64_t want[] = {0, B(COUNTRY) | B(FIRST), 0};
    expect_bits(g, "visit Georgia soon", want, N_ELEMS(want));
    nlpd__gaz_free(&g);
}

static void
test_gaz_ignores_case_and_diacritics_but_cased_classes_need_a_capital(void **state)
{
    (void)state;
    nlpd_gaz *g = tiny();
    const uint64_t city1[] = {B(CITY)};
    expect_bits(g, "ZURICH", city1, 1);
    expect_bits(g, "Zurich", city1, 1);
    expect_bits(g, "ZÜRICH", city1, 1);
    expect_bits(g, "Zu\xcc\x88rich", city1, 1); /* u + combining diaeresis */
    const uint64_t city2[] = {B(CITY), I(CITY)};
    expect_bits(g, "Sao Paulo", city2, 2);
    expect_bits(g, "SÃO PAULO", city2, 2);
    expect_bits(g, "São paulo", city2, 2); /* only the first token needs the capital */
    /* a cased class does not match from a lower-case token */
    const uint64_t none[] = {0};
    expect_bits(g, "zurich", none, 1);
    expect_bits(g, "zürich", none, 1);
    const uint64_t none2[] = {0, 0};
    expect_bits(g, "são Paulo", none2, 2);
    /* "Will" is a first name, "will" a verb */
    const uint64_t will[] = {B(FIRST), 0};
    expect_bits(g, "Will said", will, 2);
    const uint64_t will2[] = {0, 0, 0};
    expect_bits(g, "it will rain", will2, 3);
    /* an uncased class matches either way */
    const uint64_t uni[] = {0, B(ORG)};
    expect_bits(g, "the university", uni, 2);
    expect_bits(g, "the UNIVERSITY", uni, 2);
    nlpd__gaz_free(&g);
}

static void
test_gaz_reads_periods_and_typographic_apostrophes_alike(void **state)
{
    (void)state;
    nlpd_gaz *g = tiny();
    const uint64_t two[] = {B(CITY), I(CITY)};
    expect_bits(g, "St. Louis", two, 2);
    expect_bits(g, "St Louis", two, 2);
    const uint64_t us[] = {B(COUNTRY)};
    expect_bits(g, "U.S.", us, 1);
    expect_bits(g, "US", us, 1);
    const uint64_t civ[] = {B(COUNTRY), I(COUNTRY)};
    expect_bits(g, "Côte d\xe2\x80\x99Ivoire", civ, 2);
    expect_bits(g, "Cote d'Ivoire", civ, 2);
    /* a token of periods only stays itself */
    assert_true(nlpd__gaz_token_hash("...", 3) != nlpd__gaz_token_hash("", 0));
    assert_true(nlpd__gaz_token_hash(".", 1) != nlpd__gaz_token_hash("..", 2));
    assert_true(nlpd__gaz_token_hash("U.S.", 4) == nlpd__gaz_token_hash("us", 2));
    assert_true(nlpd__gaz_token_hash("Straße", 7) == nlpd__gaz_token_hash("STRASSE", 7));
    assert_true(nlpd__gaz_token_hash("a", 1) != nlpd__gaz_token_hash("b", 1));
    nlpd__gaz_free(&g);
}

static void
test_gaz_empty_and_one_token_sentences(void **state)
{
    (void)state;
    nlpd_gaz *g = tiny();
    uint64_t sentinel = 42;
    nlpd_split_token none = {0, 0, 0, 0, 0};
    nlpd__gaz_match(g, "", &none, 0, &sentinel);
    assert_int_equal(sentinel, 42); /* n = 0 writes nothing */
    const uint64_t york[] = {B(CITY)};
    expect_bits(g, "York", york, 1);
    const uint64_t dot[] = {0};
    expect_bits(g, ".", dot, 1);
    /* an empty token is no match and ends none */
    nlpd_split_token tok[2] = {{0, 0, 0, 0, 0}, {0, 4, 0, 0, 0}};
    uint64_t bits[2];
    nlpd__gaz_match(g, "York", tok, 2, bits);
    assert_int_equal(bits[0], 0);
    assert_int_equal(bits[1], B(CITY));
    /* no gazetteer: no matches */
    nlpd__gaz_match(NULL, "York", tok + 1, 1, bits);
    assert_int_equal(bits[0], 0);
    nlpd__gaz_free(&g);
}

static void
test_gaz_tokens_that_are_not_utf8(void **state)
{
    (void)state;
    size_t len;
    char *buf = make_file("class city cased\n", "city\tBad\xff Town\ncity\tKöln\n", 0, &len);
    nlpd_gaz *g = NULL;
    assert_int_equal(nlpd__gaz_load_buffer(&g, buf, len), 0);
    free(buf);
    /* invalid bytes compare as themselves */
    const uint64_t bad[] = {B(0), I(0)};
    expect_bits(g, "Bad\xff Town", bad, 2);
    expect_bits(g, "BAD\xff TOWN", bad, 2);
    const uint64_t none[] = {0, 0};
    expect_bits(g, "Bad\xfe Town", none, 2);
    expect_bits(g, "Bad Town", none, 2);
    /* truncated sequences, stray continuation bytes, overlong forms: no
     * crash, no match */
    const uint64_t z[] = {0, 0, 0, 0, 0};
    expect_bits(g, "K\xc3 \x80\x80 \xc0\xaf \xf4\x90\x80\x80 \xed\xa0\x80", z, 5);
    const uint64_t koln[] = {B(0)};
    expect_bits(g, "KÖLN", koln, 1);
    expect_bits(g, "\xc3\x96", z, 1); /* "Ö" alone */
    nlpd__gaz_free(&g);
}

static double
cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
test_gaz_matches_a_sentence_of_100000_tokens_in_linear_time(void **state)
{
    (void)state;
    nlpd_gaz *g = tiny();
    const size_t n = 100000;
    /* "New York City x" repeated, then a run of "A B C ..." that never
     * completes: every start walks the longest prefix there is */
    static const char *const words[] = {"New", "York", "City", "x"};
    char *text = malloc(n * 6);
    nlpd_split_token *tok = malloc(n * sizeof(*tok));
    uint64_t *bits = malloc(n * sizeof(*bits));
    assert_true(text != NULL && tok != NULL && bits != NULL);
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
        const char *w = i < n / 2 ? words[i % 4] : (const char[]){(char)('A' + (i % 11)), 0};
        size_t wl = strlen(w);
        memcpy(text + p, w, wl);
        tok[i] = (nlpd_split_token){.start = (uint32_t)p, .end = (uint32_t)(p + wl)};
        p += wl;
        text[p++] = ' ';
    }
    double t = cpu_seconds();
    nlpd__gaz_match(g, text, tok, n, bits);
    t = cpu_seconds() - t;
    for (size_t i = 0; i < n / 2; i += 4) {
        assert_int_equal(bits[i], B(CITY) | B(REGION));
        assert_int_equal(bits[i + 1], I(CITY) | I(REGION) | B(CITY));
        assert_int_equal(bits[i + 2], I(CITY));
        assert_int_equal(bits[i + 3], 0);
    }
    for (size_t i = n / 2; i < n; i++)
        assert_int_equal(bits[i], 0);
    print_message("100000 tokens matched in %.1f ms of CPU time\n", t * 1e3);
    assert_true(t < 1.0); /* about 10 ms; a quadratic walk would take minutes */
    free(text);
    free(tok);
    free(bits);
    nlpd__gaz_free(&g);
}

/* ---- bad files --------------------------------------------------------- */

static void
expect_rejected(const char *buf, size_t len, const char *what)
{
    nlpd_gaz *g = (nlpd_gaz *)(uintptr_t)1;
    int rc = nlpd__gaz_load_buffer(&g, buf, len);
    if (rc != NLPD_EMODEL)
        fail_msg("%s: got %d (%s), want NLPD_EMODEL", what, rc, nlpd_err_name(rc));
    assert_null(g);
}

static void
test_gaz_refuses_truncated_files(void **state)
{
    (void)state;
    size_t len;
    char *buf = make_file(tiny_classes, tiny_entries, 0, &len);
    /* every proper prefix: the first line, the checksum or the count fails */
    for (size_t k = 0; k < len; k++) {
        char what[64];
        snprintf(what, sizeof(what), "the first %zu of %zu bytes", k, len);
        expect_rejected(buf, k, what);
    }
    free(buf);
}

static void
test_gaz_refuses_corrupt_files(void **state)
{
    (void)state;
    size_t len;
    char *buf = make_file(tiny_classes, tiny_entries, 0, &len);
    /* any byte changed after the header fails the checksum */
    char *body = strstr(buf, "checksum ");
    body = strchr(body, '\n') + 1;
    for (char *p = body; p < buf + len; p += 7) {
        char *copy = malloc(len);
        memcpy(copy, buf, len);
        copy[p - buf] ^= 0x20;
        expect_rejected(copy, len, "a flipped bit");
        free(copy);
    }
    /* a changed header line too */
    char *copy = malloc(len);
    memcpy(copy, buf, len);
    memcpy(strstr(copy, "class city"), "class citz", 10);
    expect_rejected(copy, len, "a renamed class");
    memcpy(copy, buf, len);
    copy[len - 2] = '\0';
    expect_rejected(copy, len, "a NUL byte");
    free(copy);
    free(buf);

    static const struct {
        const char *classes, *entries;
        long delta;
        const char *what;
    } bad[] = {
        {tiny_classes, "city\tNew York\n", 1, "an entry count too large"},
        {tiny_classes, "city\tNew York\n", -1, "an entry count too small"},
        {tiny_classes, "planet\tMars\n", 0, "an undeclared class"},
        {tiny_classes, "city New York\n", 0, "no tab"},
        {tiny_classes, "city\t\n", 0, "no tokens"},
        {tiny_classes, "city\tNew  York\n", 0, "an empty token"},
        {tiny_classes, "city\tNew York \n", 0, "a trailing blank"},
        {tiny_classes, "city\tNew\tYork\n", 0, "a tab in the entry"},
        {tiny_classes, "city\tNew York\r\n", 0, "a carriage return"},
        {tiny_classes, "city\tNew York\n\ncity\tYork\n", 0, "an empty line"},
        {tiny_classes, "city\ta b c d e f g h i j k l m\n", 0, "13 tokens"},
        {"", "city\tYork\n", 0, "no classes"},
        {"class city\nclass city\n", "city\tYork\n", 0, "a class twice"},
        {"class city sometimes\n", "city\tYork\n", 0, "an unknown class flag"},
        {"class \n", "city\tYork\n", 0, "an empty class name"},
        {"class abcdefghijklmnopqrstuvwxyz012345\n", "city\tYork\n", 0, "a class name too long"},
        {"colour blue\nclass city\n", "city\tYork\n", 0, "an unknown header line"},
    };

    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        char *f = make_file(bad[i].classes, bad[i].entries, bad[i].delta, &len);
        expect_rejected(f, len, bad[i].what);
        free(f);
    }
    /* 33 classes */
    char many[33 * 16] = "";
    for (int c = 0; c < 33; c++) {
        char line[16];
        snprintf(line, sizeof(line), "class c%d\n", c);
        strcat(many, line);
    }
    char *f = make_file(many, "c0\tYork\n", 0, &len);
    expect_rejected(f, len, "33 classes");
    free(f);
    /* a newer format, a bad magic */
    f = make_file(tiny_classes, "city\tYork\n", 0, &len);
    f[15] = '2';
    expect_rejected(f, len, "format 2");
    f[15] = 'x';
    expect_rejected(f, len, "format x");
    f[0] = 'N';
    expect_rejected(f, len, "another magic");
    free(f);
    expect_rejected("", 0, "an empty buffer");
}

/* ---- allocation failures --------------------------------------------- */

static void
test_gaz_load_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    size_t len;
    char *buf = make_file(tiny_classes, tiny_entries, 0, &len);
    long live0 = nlpd_test_alloc_live();
    long failures = 0;
    for (long n = 0;; n++) {
        nlpd_test_alloc_fail_after(n);
        nlpd_gaz *g = NULL;
        int rc = nlpd__gaz_load_buffer(&g, buf, len);
        long used = nlpd_test_alloc_count();
        nlpd_test_alloc_reset();
        if (rc != 0) {
            assert_int_equal(rc, NLPD_ENOMEM);
            assert_null(g);
            failures++;
        } else {
            assert_int_equal(nlpd__gaz_classes(g), 5);
        }
        nlpd__gaz_free(&g);
        assert_int_equal(nlpd_test_alloc_live(), live0);
        if (rc == 0 && used <= n)
            break;
        assert_true(n < 1000);
    }
    assert_true(failures > 0);
    /* matching allocates nothing */
    nlpd_gaz *g = tiny();
    nlpd_test_alloc_fail_after(0);
    const uint64_t want[] = {0, B(CITY) | B(REGION), I(CITY) | I(REGION) | B(CITY), I(CITY), 0};
    expect_bits(g, "in New York City today", want, N_ELEMS(want));
    assert_int_equal(nlpd_test_alloc_count(), 0);
    nlpd_test_alloc_reset();
    nlpd__gaz_free(&g);
    free(buf);
}

int
main(void)
{
    nlpd_test_alloc_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gaz_loads_tiny_buffer_with_classes_and_counts),
        cmocka_unit_test(test_gaz_digest_follows_the_content),
        cmocka_unit_test(test_gaz_loads_from_a_file_and_reports_a_missing_one),
        cmocka_unit_test(test_gaz_builtin_english_loads_and_matches_places),
        cmocka_unit_test(test_gaz_shipped_file_equals_the_builtin),
        cmocka_unit_test(test_gaz_takes_the_longest_match_of_each_class),
        cmocka_unit_test(test_gaz_classes_overlap_on_one_entry),
        cmocka_unit_test(test_gaz_ignores_case_and_diacritics_but_cased_classes_need_a_capital),
        cmocka_unit_test(test_gaz_reads_periods_and_typographic_apostrophes_alike),
        cmocka_unit_test(test_gaz_empty_and_one_token_sentences),
        cmocka_unit_test(test_gaz_tokens_that_are_not_utf8),
        cmocka_unit_test(test_gaz_matches_a_sentence_of_100000_tokens_in_linear_time),
        cmocka_unit_test(test_gaz_refuses_truncated_files),
        cmocka_unit_test(test_gaz_refuses_corrupt_files),
        cmocka_unit_test(test_gaz_load_fails_cleanly_at_every_allocation),
    };
    return cmocka_run_group_tests_name("tag_gazetteer", tests, NULL, NULL);
}
