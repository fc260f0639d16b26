/* tests/unit/ingest_test.c — nlpd_ingest: formats, normalization, offset map,
 * regions, fields, dedup window, robustness and allocation failures. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <utf8proc.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/ingest.h"
#include "nlpd/offmap.h"

/* ---- helpers ---------------------------------------------------------- */

static nlpd_ingest *
new_ingest(const nlpd_ingest_opts *opts)
{
    nlpd_ingest *g = NULL;
    assert_int_equal(nlpd_ingest_new(&g, opts), 0);
    assert_non_null(g);
    return g;
}

static nlpd_ingest *
new_plain(void)
{
    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    o.dedup_window = 0;
    return new_ingest(&o);
}

/* Runs `len` bytes and asserts success. */
static void
run_ok(nlpd_ingest *g, const char *s, size_t len, nlpd_format fmt, const nlpd_ingest_meta *meta,
       nlpd_ingest_result *r)
{
    int rc = nlpd_ingest_run(g, s, len, fmt, meta, 0, r);
    if (rc != 0)
        fail_msg("run failed: %s (%s)", nlpd_err_name(rc), nlpd_ingest_last_error(g));
}

static void
run_str(nlpd_ingest *g, const char *s, nlpd_format fmt, nlpd_ingest_result *r)
{
    run_ok(g, s, strlen(s), fmt, NULL, r);
}

static void
assert_norm(const nlpd_ingest_result *r, const char *expect)
{
    size_t n = strlen(expect);
    if (r->norm_len != n || memcmp(r->norm, expect, n) != 0)
        fail_msg("norm is \"%.*s\" (%zu bytes), expected \"%s\" (%zu bytes)", (int)r->norm_len,
                 r->norm, r->norm_len, expect, n);
}

static void
assert_region(const nlpd_ingest_result *r, size_t i, uint32_t kind, const char *text)
{
    assert_true(i < r->n_regions);
    const nlpd_region *g = &r->regions[i];
    if (g->kind != kind)
        fail_msg("region %zu is %s, expected %s", i, nlpd_region_kind_name(g->kind),
                 nlpd_region_kind_name(kind));
    if (text != NULL) {
        size_t n = strlen(text);
        if (g->end - g->start != n || memcmp(r->norm + g->start, text, n) != 0)
            fail_msg("region %zu is \"%.*s\", expected \"%s\"", i, (int)(g->end - g->start),
                     r->norm + g->start, text);
    }
}

static nlpd_offmap
map_of(const nlpd_ingest_result *r)
{
    nlpd_offmap m = {r->map_norm, r->map_orig, r->map_len};
    return m;
}

/* Offsets in the text as sent of the normalized span [s, e). */
static void
map_span(const nlpd_ingest_result *r, size_t s, size_t e, uint32_t *os, uint32_t *oe)
{
    nlpd_offmap m = map_of(r);
    *os = nlpd_offmap_start(&m, (uint32_t)s);
    *oe = nlpd_offmap_end(&m, (uint32_t)e);
    assert_true(*os <= *oe);
    assert_true(*oe <= r->text_len);
}

/* The span [s, e) of norm maps back to exactly `orig` in the text as sent. */
static void
assert_maps_to(const nlpd_ingest_result *r, size_t s, size_t e, const char *orig)
{
    uint32_t os, oe;
    map_span(r, s, e, &os, &oe);
    size_t n = strlen(orig);
    if (oe - os != n || memcmp(r->text + os, orig, n) != 0)
        fail_msg("[%zu,%zu) maps to \"%.*s\" [%u,%u), expected \"%s\"", s, e, (int)(oe - os),
                 r->text + os, os, oe, orig);
}

/* A strict UTF-8 validator, independent of the library's decoder. */
static int
valid_utf8(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (k >= n - i)
            return 0; /* truncated */
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* The map's own invariants. */
static void
check_map(const nlpd_ingest_result *r)
{
    if (r->norm_is_text) {
        assert_int_equal(r->map_len, 0);
        assert_int_equal(r->norm_len, r->text_len);
        assert_memory_equal(r->norm, r->text, r->norm_len ? r->norm_len : 1);
    }
    if (r->map_len == 0) {
        assert_int_equal(r->norm_len, r->text_len);
        return;
    }
    assert_int_equal(r->map_norm[0], 0);
    assert_int_equal(r->map_orig[0], 0);
    for (size_t i = 1; i < r->map_len; i++) {
        assert_true(r->map_norm[i] >= r->map_norm[i - 1]);
        assert_true(r->map_orig[i] >= r->map_orig[i - 1]);
        assert_true(r->map_norm[i] != r->map_norm[i - 1] || r->map_orig[i] != r->map_orig[i - 1]);
    }
    assert_int_equal(r->map_norm[r->map_len - 1], r->norm_len);
    assert_int_equal(r->map_orig[r->map_len - 1], r->text_len);
}

static int
is_sep(char c)
{
    return c == ' ' || c == '\n';
}

/* The normalized text has the promised shape. */
static void
check_norm_shape(const nlpd_ingest_result *r)
{
    const char *s = r->norm;
    size_t n = r->norm_len;
    assert_true(valid_utf8(s, n));
    if (n == 0)
        return;
    assert_false(is_sep(s[0]));
    assert_false(is_sep(s[n - 1]));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        assert_true(c >= 0x20 || c == '\n');
        assert_true(c != 0x7F);
        if (i + 1 < n && s[i] == ' ')
            assert_false(is_sep(s[i + 1]));
        if (i + 1 < n && s[i] == '\n')
            assert_true(s[i + 1] != ' ');
        if (i + 2 < n && s[i] == '\n' && s[i + 1] == '\n')
            assert_true(s[i + 2] != '\n');
    }
    /* No invisible characters left, and the text is in NFC. */
    assert_null(memmem(s, n, "\xE2\x80\x8B", 3)); /* ZWSP */
    assert_null(memmem(s, n, "\xEF\xBB\xBF", 3)); /* BOM */
    assert_null(memmem(s, n, "\xC2\xAD", 2));     /* soft hyphen */
    assert_null(memmem(s, n, "\xC2\xA0", 2));     /* NBSP */
    char *z = malloc(n + 1);
    assert_non_null(z);
    memcpy(z, s, n);
    z[n] = '\0';
    char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)z);
    assert_non_null(nfc);
    if (strcmp(nfc, z) != 0)
        fail_msg("norm is not NFC: \"%s\"", z);
    free(nfc);
    free(z);
}

/* Normalizing the text-as-sent span of norm [s, e) gives norm [s, e) again. */
static void
check_roundtrip(nlpd_ingest *chk, const nlpd_ingest_result *r, size_t s, size_t e)
{
    uint32_t os, oe;
    map_span(r, s, e, &os, &oe);
    nlpd_ingest_result c;
    run_ok(chk, r->text + os, oe - os, NLPD_FORMAT_TEXT, NULL, &c);
    if (c.norm_len != e - s || memcmp(c.norm, r->norm + s, e - s) != 0)
        fail_msg("norm [%zu,%zu) \"%.*s\" maps to [%u,%u) which normalizes to \"%.*s\"", s, e,
                 (int)(e - s), r->norm + s, os, oe, (int)c.norm_len, c.norm);
}

/* Regions are in order, inside norm, never hold a paragraph break or
 * surrounding whitespace, cover every paragraph, and map back. */
static void
check_regions(nlpd_ingest *chk, const nlpd_ingest_result *r)
{
    size_t prev_end = 0;
    for (size_t i = 0; i < r->n_regions; i++) {
        const nlpd_region *g = &r->regions[i];
        assert_true(g->kind >= NLPD_REGION_HEADLINE && g->kind <= NLPD_REGION_SOURCE_LINE);
        assert_true(g->start < g->end);
        assert_true(g->end <= r->norm_len);
        assert_true(g->start >= prev_end);
        assert_false(is_sep(r->norm[g->start]));
        assert_false(is_sep(r->norm[g->end - 1]));
        /* What lies between regions is only line breaks. */
        for (size_t k = prev_end; k < g->start; k++)
            assert_int_equal(r->norm[k], '\n');
        assert_null(memmem(r->norm + g->start, g->end - g->start, "\n\n", 2));
        if (chk != NULL)
            check_roundtrip(chk, r, g->start, g->end);
        prev_end = g->end;
    }
    for (size_t k = prev_end; k < r->norm_len; k++)
        assert_int_equal(r->norm[k], '\n');
    if (r->norm_len > 0)
        assert_true(r->n_regions > 0);
}

/* Every word (maximal run of non-space bytes) of norm maps back. */
static void
check_words(nlpd_ingest *chk, const nlpd_ingest_result *r)
{
    size_t i = 0, n = r->norm_len;
    while (i < n) {
        while (i < n && is_sep(r->norm[i]))
            i++;
        size_t j = i;
        while (j < n && !is_sep(r->norm[j]))
            j++;
        if (j > i)
            check_roundtrip(chk, r, i, j);
        i = j;
    }
}

/* All properties at once. */
static void
check_all(const nlpd_ingest_result *r)
{
    check_map(r);
    check_norm_shape(r);
    nlpd_ingest *chk = new_plain();
    check_regions(chk, r);
    check_words(chk, r);
    nlpd_ingest_free(&chk);
}

static uint64_t rng_state;

static uint64_t
rng(void)
{
    /* xorshift64*: a fixed seed makes every run of the suite the same. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static size_t
rng_below(size_t n)
{
    return (size_t)(rng() % n);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- formats: plain text ---------------------------------------------- */

static void
test_ingest_keeps_text_as_is_when_already_normal(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    const char *in = "The tide came in early.\n\nBoats were ready.";
    run_str(g, in, NLPD_FORMAT_DETECT, &r);
    assert_int_equal(r.format, NLPD_FORMAT_TEXT);
    assert_int_equal(r.format_detected, 1);
    assert_int_equal(r.norm_is_text, 1);
    assert_int_equal(r.map_len, 0);
    assert_int_equal(r.text_len, strlen(in));
    assert_memory_equal(r.text, in, strlen(in));
    assert_norm(&r, in);
    assert_int_equal(r.n_regions, 2);
    assert_region(&r, 0, NLPD_REGION_BODY, "The tide came in early.");
    assert_region(&r, 1, NLPD_REGION_BODY, "Boats were ready.");
    assert_null(r.title);
    assert_null(r.lede);
    assert_null(r.source);
    assert_int_equal(r.invalid_utf8, 0);
    assert_int_equal(r.controls_removed, 0);
    check_all(&r);

    run_str(g, in, NLPD_FORMAT_TEXT, &r);
    assert_int_equal(r.format_detected, 0);
    assert_int_equal(r.format, NLPD_FORMAT_TEXT);
    nlpd_ingest_free(&g);
    assert_null(g);
}

static void
test_ingest_marks_headline_and_title_when_first_line_is_short(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g,
            "A Quiet Harbour Town\n\nThe boats came in early, and the market opened at dawn.\n\n"
            "Prices held.",
            NLPD_FORMAT_DETECT, &r);
    assert_int_equal(r.format, NLPD_FORMAT_TEXT);
    assert_int_equal(r.n_regions, 3);
    assert_region(&r, 0, NLPD_REGION_HEADLINE, "A Quiet Harbour Town");
    assert_region(&r, 1, NLPD_REGION_BODY, NULL);
    assert_region(&r, 2, NLPD_REGION_BODY, "Prices held.");
    assert_string_equal(r.title, "A Quiet Harbour Town");
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_keeps_first_paragraph_as_body_when_not_a_headline(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    /* Ends in punctuation (also behind a closing quote). */
    run_str(g, "He said \"Stop.\"\n\nAnd they did stop there.", NLPD_FORMAT_TEXT, &r);
    assert_region(&r, 0, NLPD_REGION_BODY, NULL);
    assert_null(r.title);
    run_str(g, "Is it over?\n\nNobody knew the answer to that.", NLPD_FORMAT_TEXT, &r);
    assert_region(&r, 0, NLPD_REGION_BODY, NULL);
    /* Two lines. */
    run_str(g, "Short line\nanother line\n\nBody text follows here.", NLPD_FORMAT_TEXT, &r);
    assert_region(&r, 0, NLPD_REGION_BODY, "Short line\nanother line");
    /* More than twenty words. */
    run_str(g,
            "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen twenty twentyone\n\nBody.",
            NLPD_FORMAT_TEXT, &r);
    assert_region(&r, 0, NLPD_REGION_BODY, NULL);
    /* The only paragraph. */
    run_str(g, "Just a title-like line", NLPD_FORMAT_TEXT, &r);
    assert_int_equal(r.n_regions, 1);
    assert_region(&r, 0, NLPD_REGION_BODY, "Just a title-like line");
    assert_null(r.title);
    nlpd_ingest_free(&g);
}

static void
test_ingest_marks_subheading_when_short_line_precedes_longer_paragraph(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g,
            "Market Report\n\nFish prices rose sharply this week at the harbour auction.\n\n"
            "Why Prices Rose\n\nA storm kept most of the fleet in port for four days running.\n\n"
            "Closing words\n\nOk.",
            NLPD_FORMAT_TEXT, &r);
    assert_int_equal(r.n_regions, 6);
    assert_region(&r, 0, NLPD_REGION_HEADLINE, "Market Report");
    assert_region(&r, 1, NLPD_REGION_BODY, NULL);
    assert_region(&r, 2, NLPD_REGION_SUBHEADING, "Why Prices Rose");
    assert_region(&r, 3, NLPD_REGION_BODY, NULL);
    /* Followed by a shorter paragraph: not a subheading. */
    assert_region(&r, 4, NLPD_REGION_BODY, "Closing words");
    assert_region(&r, 5, NLPD_REGION_BODY, "Ok.");
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_prefers_given_title_and_id_over_found_ones(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    const char *in = "A Headline Here\n\nSome body text that is long enough.";
    nlpd_ingest_meta meta = {.key = "k1", .id = "user-7", .title = "  Client\tTitle "};
    run_ok(g, in, strlen(in), NLPD_FORMAT_DETECT, &meta, &r);
    assert_string_equal(r.title, "Client Title");
    assert_string_equal(r.id, "user-7");
    /* Empty given strings count as absent. */
    nlpd_ingest_meta empty = {.key = "k2", .id = "", .title = ""};
    run_ok(g, in, strlen(in), NLPD_FORMAT_DETECT, &empty, &r);
    assert_string_equal(r.title, "A Headline Here");
    assert_string_equal(r.id, r.content_hash);
    nlpd_ingest_free(&g);
}

static void
test_ingest_hashes_normalized_text_with_blake2b_128(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g, "  Two\t\tspaces   here.  ", NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "Two spaces here.");
    unsigned char h[16];
    char hex[33];
    crypto_generichash(h, sizeof(h), (const unsigned char *)"Two spaces here.", 16, NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    assert_string_equal(r.content_hash, hex);
    assert_string_equal(r.id, hex);
    /* Same normalized text, same hash. */
    run_str(g, "Two spaces\xC2\xA0here.", NLPD_FORMAT_TEXT, &r);
    assert_string_equal(r.content_hash, hex);
    nlpd_ingest_free(&g);
}

/* ---- formats: JSON ---------------------------------------------------- */

static void
test_ingest_reads_json_article_fields_when_detected(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    const char *in = "  {\"id\": 12345, \"title\": \" Caf\\u00e9\\n Opens \", "
                     "\"body\": \"First line.\\r\\nSecond\\u00a0line.\\n\\n\\nNext.\", "
                     "\"url\": \"https://example.org/a\", \"source\": \"Town  Crier\", "
                     "\"published\": \"2024-06-01T08:00:00Z\", \"standfirst\": \"In short.\", "
                     "\"extra\": [1, 2]}";
    run_str(g, in, NLPD_FORMAT_DETECT, &r);
    assert_int_equal(r.format, NLPD_FORMAT_JSON);
    const char *text = "First line.\r\nSecond\xC2\xA0line.\n\n\nNext.";
    assert_int_equal(r.text_len, strlen(text));
    assert_memory_equal(r.text, text, strlen(text));
    assert_norm(&r, "First line.\nSecond line.\n\nNext.");
    assert_string_equal(r.id, "12345");
    assert_string_equal(r.title, "Caf\xC3\xA9\nOpens");
    assert_string_equal(r.url, "https://example.org/a");
    assert_string_equal(r.source, "Town Crier");
    assert_string_equal(r.published, "2024-06-01T08:00:00Z");
    assert_string_equal(r.lede, "In short.");
    assert_int_equal(r.n_regions, 2);
    assert_region(&r, 0, NLPD_REGION_BODY, "First line.\nSecond line.");
    assert_maps_to(&r, 12, 18, "Second");
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_prefers_json_text_over_body_and_takes_headline_title(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g,
            "{\"id\": \"a-1\", \"text\": \"Quiet Night\\n\\nNothing happened at all.\", "
            "\"body\": \"ignored\", \"description\": \"Desc.\", \"lede\": 5}",
            NLPD_FORMAT_JSON, &r);
    assert_int_equal(r.format, NLPD_FORMAT_JSON);
    assert_int_equal(r.format_detected, 0);
    assert_string_equal(r.id, "a-1");
    assert_norm(&r, "Quiet Night\n\nNothing happened at all.");
    assert_region(&r, 0, NLPD_REGION_HEADLINE, "Quiet Night");
    assert_string_equal(r.title, "Quiet Night");
    assert_string_equal(r.lede, "Desc."); /* "lede" is not a string */
    assert_null(r.url);
    assert_null(r.source);
    assert_null(r.published);
    /* A JSON "\u0000" is a control character like any other. */
    run_str(g, "{\"text\": \"a\\u0000b\"}", NLPD_FORMAT_DETECT, &r);
    assert_int_equal(r.format, NLPD_FORMAT_JSON);
    assert_int_equal(r.text_len, 3);
    assert_norm(&r, "a b");
    assert_int_equal(r.controls_removed, 1);
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_rejects_json_that_does_not_fit_when_format_is_json(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;

    struct {
        const char *in;
        const char *msg;
    } cases[] = {
        {"{\"text\": \"unterminated}", "input is not valid JSON: "},
        {"", "input is not valid JSON: "},
        {"{\"text\": \"a\"} trailing", "input is not valid JSON: "},
        {"[1, 2]", "JSON input is not an object"},
        {"\"text\"", "JSON input is not an object"},
        {"{\"title\": \"x\"}", "JSON article has no string \"text\" or \"body\""},
        {"{\"text\": 5, \"body\": null}", "JSON article has no string \"text\" or \"body\""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc =
            nlpd_ingest_run(g, cases[i].in, strlen(cases[i].in), NLPD_FORMAT_JSON, NULL, 0, &r);
        assert_int_equal(rc, NLPD_EFORMAT);
        const char *err = nlpd_ingest_last_error(g);
        if (strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: error \"%s\", expected \"%s...\"", i, err, cases[i].msg);
    }
    int rc = nlpd_ingest_run(g, "{\n \"text\": x}", 13, NLPD_FORMAT_JSON, NULL, 0, &r);
    assert_int_equal(rc, NLPD_EFORMAT);
    assert_non_null(strstr(nlpd_ingest_last_error(g), "at line 2 column"));
    /* A success clears the message. */
    run_str(g, "{\"body\": \"ok\"}", NLPD_FORMAT_JSON, &r);
    assert_string_equal(nlpd_ingest_last_error(g), "");
    nlpd_ingest_free(&g);
}

static void
test_ingest_reads_brace_text_as_text_when_not_a_json_article(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    const char *cases[] = {
        "{not json} but words",
        "{\"title\": \"no text field\"}",
        "{\"text\": 42}",
        "Prices {rose} today.",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_str(g, cases[i], NLPD_FORMAT_DETECT, &r);
        assert_int_equal(r.format, NLPD_FORMAT_TEXT);
        assert_norm(&r, cases[i]);
        assert_null(r.url);
    }
    /* An explicit text format never looks inside. */
    run_str(g, "{\"text\": \"hi\"}", NLPD_FORMAT_TEXT, &r);
    assert_int_equal(r.format, NLPD_FORMAT_TEXT);
    assert_norm(&r, "{\"text\": \"hi\"}");
    nlpd_ingest_free(&g);
}

/* ---- formats: HTML ---------------------------------------------------- */

static void
test_ingest_extracts_html_text_regions_and_fields(void **state)
{
    (void)state;
    size_t len;
    char *in = nlpd_test_fixture("ingest/article.html", &len);
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_ok(g, in, len, NLPD_FORMAT_DETECT, NULL, &r);
    assert_int_equal(r.format, NLPD_FORMAT_HTML);
    assert_string_equal(r.title, "Tide Tables & Town Notes");
    assert_string_equal(r.lede, "A short note on the spring tides.");
    assert_norm(&r, "Home | News\n\n"
                    "Spring Tides Reach the Old Quay\n\n"
                    "The highest tide of the year arrived on Saturday, lapping at the steps of the "
                    "old quay.\n\n"
                    "What the Gauges Said\n\n"
                    "The harbour gauge read 5.8 metres at 06:40, the caf\xC3\xA9 owner said.\n"
                    "Nobody was hurt.\n\n"
                    "First item\n\n"
                    "Second bold item\n\n"
                    "line one\nline two");
    assert_int_equal(r.n_regions, 8);
    assert_region(&r, 0, NLPD_REGION_BODY, "Home | News");
    assert_region(&r, 1, NLPD_REGION_HEADLINE, "Spring Tides Reach the Old Quay");
    assert_region(&r, 2, NLPD_REGION_BODY, NULL);
    assert_region(&r, 3, NLPD_REGION_SUBHEADING, "What the Gauges Said");
    assert_region(&r, 4, NLPD_REGION_BODY, NULL);
    assert_region(&r, 5, NLPD_REGION_BODY, "First item");
    assert_region(&r, 6, NLPD_REGION_BODY, "Second bold item");
    assert_region(&r, 7, NLPD_REGION_BODY, "line one\nline two");
    /* Nothing from the head, scripts, styles, comments or noscript. */
    assert_null(memmem(r.text, r.text_len, "not text", 8));
    assert_null(memmem(r.text, r.text_len, "color", 5));
    assert_null(memmem(r.text, r.text_len, "editor", 6));
    assert_null(memmem(r.text, r.text_len, "Enable", 6));
    assert_null(memmem(r.text, r.text_len, "Tide Tables", 11));
    check_all(&r);
    free(in);
    nlpd_ingest_free(&g);
}

static void
test_ingest_takes_first_h1_as_title_when_html_has_no_title(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g,
            "<div><h2>Kicker</h2><h1>Main &amp; Only</h1><p>Text one.</p><h1>Second h1</h1>"
            "<p>Text two &lt;b&gt; here.</p></div>",
            NLPD_FORMAT_DETECT, &r);
    assert_int_equal(r.format, NLPD_FORMAT_HTML);
    assert_string_equal(r.title, "Main & Only");
    assert_int_equal(r.n_regions, 5);
    assert_region(&r, 0, NLPD_REGION_SUBHEADING, "Kicker");
    assert_region(&r, 1, NLPD_REGION_HEADLINE, "Main & Only");
    assert_region(&r, 2, NLPD_REGION_BODY, "Text one.");
    assert_region(&r, 3, NLPD_REGION_SUBHEADING, "Second h1");
    assert_region(&r, 4, NLPD_REGION_BODY, "Text two <b> here.");
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_separates_table_cells_with_spaces_and_rows_with_breaks(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g,
            "<table><tr><th>Port</th><th>Tide</th></tr><tr><td>Elwick</td><td>5.8 m</td></tr>"
            "</table><p>After<br>the<br/><br/>table</p>"
            "<meta property=\"og:description\" content=\"Tides, briefly.\">",
            NLPD_FORMAT_DETECT, &r);
    assert_int_equal(r.format, NLPD_FORMAT_HTML);
    assert_norm(&r, "Port Tide\n\nElwick 5.8 m\n\nAfter\nthe\n\ntable");
    assert_int_equal(r.n_regions, 4);
    assert_region(&r, 3, NLPD_REGION_BODY, "table");
    assert_string_equal(r.lede, "Tides, briefly.");
    assert_null(r.title);
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_detects_html_only_when_it_starts_with_a_common_tag(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;

    struct {
        const char *in;
        nlpd_format fmt;
    } cases[] = {
        {"<p>Hello</p>", NLPD_FORMAT_HTML},
        {"\xEF\xBB\xBF \n<!DOCTYPE html><title>T</title>x", NLPD_FORMAT_HTML},
        {"<HTML><BODY>Upper</BODY></HTML>", NLPD_FORMAT_HTML},
        {"<b>bold</b> then <DIV class=\"x\">div</DIV>", NLPD_FORMAT_HTML},
        {"<a href=\"/\">link</a>", NLPD_FORMAT_HTML},
        {"<br/>line", NLPD_FORMAT_HTML},
        {"<3 you, and <b>you</b> too", NLPD_FORMAT_TEXT},
        {"<abbr>NATO</abbr> said", NLPD_FORMAT_TEXT},
        {"<pre-release> notes", NLPD_FORMAT_TEXT},
        {"a < b and <p> later", NLPD_FORMAT_TEXT},
        {"<", NLPD_FORMAT_TEXT},
        {"<html", NLPD_FORMAT_HTML},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_str(g, cases[i].in, NLPD_FORMAT_DETECT, &r);
        if (r.format != cases[i].fmt)
            fail_msg("case %zu \"%s\" read as %s", i, cases[i].in, nlpd_format_name(r.format));
        check_all(&r);
    }
    /* Explicit HTML reads anything; explicit text keeps tags as text. */
    run_str(g, "plain words", NLPD_FORMAT_HTML, &r);
    assert_int_equal(r.format, NLPD_FORMAT_HTML);
    assert_norm(&r, "plain words");
    run_str(g, "<p>x</p>", NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "<p>x</p>");
    nlpd_ingest_free(&g);
}

static void
test_ingest_replaces_invalid_utf8_and_nul_in_html(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    const char in[] = "<p>caf\xE9 \xFF\xFEok\0day</p><p>tab\there</p>";
    run_ok(g, in, sizeof(in) - 1, NLPD_FORMAT_DETECT, NULL, &r);
    assert_int_equal(r.format, NLPD_FORMAT_HTML);
    assert_norm(&r, "caf\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBDok day\n\ntab here");
    assert_int_equal(r.invalid_utf8, 3);
    assert_int_equal(r.controls_removed, 1);
    check_all(&r);
    /* An empty document and one without text succeed with no text. */
    run_str(g, "<html><body><script>x()</script></body></html>", NLPD_FORMAT_DETECT, &r);
    assert_int_equal(r.format, NLPD_FORMAT_HTML);
    assert_int_equal(r.norm_len, 0);
    assert_int_equal(r.n_regions, 0);
    run_ok(g, "", 0, NLPD_FORMAT_HTML, NULL, &r);
    assert_int_equal(r.norm_len, 0);
    nlpd_ingest_free(&g);
}

/* ---- formats: the feed layout ----------------------------------------- */

static void
test_ingest_reads_feed_fixture_regions_when_detected(void **state)
{
    (void)state;
    size_t len;
    char *in = nlpd_test_fixture("ingest/feed-article.txt", &len);
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_ok(g, in, len, NLPD_FORMAT_DETECT, NULL, &r);
    assert_int_equal(r.format, NLPD_FORMAT_FEED);
    const char *headline = "Why Is Port Elwick\xE2\x80\x99s Lighthouse Going Dark After 140 Years?";
    uint32_t kinds[] = {NLPD_REGION_HEADLINE,   NLPD_REGION_LEDE,       NLPD_REGION_SEPARATOR,
                        NLPD_REGION_HEADLINE,   NLPD_REGION_SUBHEADING, NLPD_REGION_BODY,
                        NLPD_REGION_BODY,       NLPD_REGION_BODY,       NLPD_REGION_BODY,
                        NLPD_REGION_SOURCE_LINE};
    assert_int_equal(r.n_regions, sizeof(kinds) / sizeof(kinds[0]));
    for (size_t i = 0; i < r.n_regions; i++)
        assert_region(&r, i, kinds[i], NULL);
    assert_region(&r, 0, NLPD_REGION_HEADLINE, headline);
    assert_region(&r, 2, NLPD_REGION_SEPARATOR, "|");
    assert_region(&r, 3, NLPD_REGION_HEADLINE, headline);
    assert_region(&r, 4, NLPD_REGION_SUBHEADING, "A Beacon\xE2\x80\x99s Long Goodbye");
    assert_region(&r, 9, NLPD_REGION_SOURCE_LINE, "Harbour Wire");
    assert_string_equal(r.title, headline);
    assert_string_equal(r.source, "Harbour Wire");
    assert_non_null(r.lede);
    assert_true(strncmp(r.lede, "The lighthouse at Port Elwick, a fishing town", 45) == 0);
    assert_true(strlen(r.lede) > 300);
    assert_null(strchr(r.lede, '\n'));
    assert_region(&r, 1, NLPD_REGION_LEDE, r.lede);
    /* The `|` maps to itself, without the no-break spaces around it. */
    assert_maps_to(&r, r.regions[2].start, r.regions[2].end, "|");
    /* Triple newlines between body paragraphs are one paragraph break. */
    assert_int_equal(r.regions[6].start - r.regions[5].end, 2);
    check_all(&r);
    /* The same file read as plain text has no feed regions. */
    run_ok(g, in, len, NLPD_FORMAT_TEXT, NULL, &r);
    assert_int_equal(r.format, NLPD_FORMAT_TEXT);
    for (size_t i = 0; i < r.n_regions; i++)
        assert_true(r.regions[i].kind != NLPD_REGION_SEPARATOR &&
                    r.regions[i].kind != NLPD_REGION_SOURCE_LINE);
    free(in);
    nlpd_ingest_free(&g);
}

static void
test_ingest_reads_shared_sample_feed_when_present(void **state)
{
    (void)state;
    const char *src = getenv("NLPD_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/../shared/samples/article-shoigu.txt", src ? src : ".");
    size_t len;
    char *in = nlpd_test_read_file(path, &len);
    if (in == NULL) {
        print_message("skipped: %s is not there\n", path);
        return;
    }
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_ok(g, in, len, NLPD_FORMAT_DETECT, NULL, &r);
    assert_int_equal(r.format, NLPD_FORMAT_FEED);
    size_t count[7] = {0};
    for (size_t i = 0; i < r.n_regions; i++)
        count[r.regions[i].kind]++;
    assert_int_equal(count[NLPD_REGION_HEADLINE], 2);
    assert_int_equal(count[NLPD_REGION_LEDE], 1);
    assert_int_equal(count[NLPD_REGION_SEPARATOR], 1);
    assert_int_equal(count[NLPD_REGION_SUBHEADING], 1);
    assert_true(count[NLPD_REGION_BODY] >= 5);
    assert_int_equal(count[NLPD_REGION_SOURCE_LINE], 1);
    assert_region(&r, 0, NLPD_REGION_HEADLINE, NULL);
    assert_region(&r, 1, NLPD_REGION_LEDE, NULL);
    assert_region(&r, 2, NLPD_REGION_SEPARATOR, "|");
    assert_region(&r, 3, NLPD_REGION_HEADLINE, NULL);
    assert_region(&r, 4, NLPD_REGION_SUBHEADING, NULL);
    assert_region(&r, r.n_regions - 1, NLPD_REGION_SOURCE_LINE, "News Hub");
    assert_string_equal(r.source, "News Hub");
    assert_non_null(r.title);
    assert_region(&r, 0, NLPD_REGION_HEADLINE, r.title);
    assert_region(&r, 3, NLPD_REGION_HEADLINE, r.title);
    check_all(&r);
    free(in);
    nlpd_ingest_free(&g);
}

static void
test_ingest_recognises_partial_feed_without_repeat_or_source(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g,
            "Storm Closes Ferry Route\n\nThe ferry will not sail today. Crews wait.\n"
            "\xC2\xA0|\xC2\xA0\n"
            "Passengers were told to check back on Friday morning for news.\n\n\n"
            "The operator apologised for the delay and promised refunds.",
            NLPD_FORMAT_DETECT, &r);
    assert_int_equal(r.format, NLPD_FORMAT_FEED);
    assert_int_equal(r.n_regions, 5);
    assert_region(&r, 0, NLPD_REGION_HEADLINE, "Storm Closes Ferry Route");
    assert_region(&r, 1, NLPD_REGION_LEDE, "The ferry will not sail today. Crews wait.");
    assert_region(&r, 2, NLPD_REGION_SEPARATOR, "|");
    assert_region(&r, 3, NLPD_REGION_BODY,
                  "Passengers were told to check back on Friday morning for news.");
    assert_region(&r, 4, NLPD_REGION_BODY, NULL);
    assert_string_equal(r.lede, "The ferry will not sail today. Crews wait.");
    assert_null(r.source);
    check_all(&r);

    /* No standfirst at all. */
    run_str(g, "Headline Only\n|\nHeadline Only\n\nBody sentence one.\n\nDesk", NLPD_FORMAT_DETECT,
            &r);
    assert_int_equal(r.format, NLPD_FORMAT_FEED);
    assert_int_equal(r.n_regions, 5);
    assert_region(&r, 0, NLPD_REGION_HEADLINE, "Headline Only");
    assert_region(&r, 1, NLPD_REGION_SEPARATOR, "|");
    assert_region(&r, 2, NLPD_REGION_HEADLINE, "Headline Only");
    assert_region(&r, 3, NLPD_REGION_BODY, NULL);
    assert_region(&r, 4, NLPD_REGION_SOURCE_LINE, "Desk");
    assert_null(r.lede);
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_reads_pipes_as_text_when_not_a_feed_separator(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    const char *cases[] = {
        "Results: a | b | c\n\nMore text here.",
        "|\nStarts with a pipe line.",
        "Title\n\n||\n\nDouble pipes are not a separator.",
        "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n|\ntoo late for a separator",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_str(g, cases[i], NLPD_FORMAT_DETECT, &r);
        if (r.format != NLPD_FORMAT_TEXT)
            fail_msg("case %zu read as %s", i, nlpd_format_name(r.format));
        check_all(&r);
    }
    nlpd_ingest_free(&g);
}

static void
test_ingest_reads_feed_layout_when_format_is_feed_without_separator(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g, "Bridge Reopens Today\n\nTraffic is flowing again after repairs.\n\nCity Desk",
            NLPD_FORMAT_FEED, &r);
    assert_int_equal(r.format, NLPD_FORMAT_FEED);
    assert_int_equal(r.format_detected, 0);
    assert_int_equal(r.n_regions, 3);
    assert_region(&r, 0, NLPD_REGION_HEADLINE, "Bridge Reopens Today");
    assert_region(&r, 1, NLPD_REGION_BODY, NULL);
    assert_region(&r, 2, NLPD_REGION_SOURCE_LINE, "City Desk");
    assert_string_equal(r.title, "Bridge Reopens Today");
    assert_string_equal(r.source, "City Desk");
    /* A single line is just text. */
    run_str(g, "Only words", NLPD_FORMAT_FEED, &r);
    assert_int_equal(r.n_regions, 1);
    assert_region(&r, 0, NLPD_REGION_BODY, "Only words");
    assert_null(r.source);
    nlpd_ingest_free(&g);
}

static void
test_ingest_merges_paragraphs_into_last_region_beyond_max_regions(void **state)
{
    (void)state;
    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    o.max_regions = 2;
    nlpd_ingest *g = new_ingest(&o);
    nlpd_ingest_result r;
    run_str(g, "Short Head\n\nOne.\n\nTwo.\n\nThree.", NLPD_FORMAT_TEXT, &r);
    assert_int_equal(r.n_regions, 2);
    assert_region(&r, 0, NLPD_REGION_HEADLINE, "Short Head");
    assert_region(&r, 1, NLPD_REGION_BODY, "One.\n\nTwo.\n\nThree.");
    nlpd_ingest_free(&g);
}

/* ---- normalization ---------------------------------------------------- */

static void
test_ingest_composes_to_nfc_with_offsets_of_the_text_as_sent(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    /* "Cafe" + U+0301, Hangul jamo, "n" + tilde, a decomposed word in the middle. */
    const char *in = "Cafe\xCC\x81 au lait, \xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB and man\xCC\x83"
                     "ana.";
    run_str(g, in, NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "Caf\xC3\xA9 au lait, \xED\x95\x9C and ma\xC3\xB1"
                    "ana.");
    assert_int_equal(r.norm_is_text, 0);
    assert_true(r.map_len > 0);
    assert_maps_to(&r, 0, 5, "Cafe\xCC\x81");
    assert_maps_to(&r, 6, 8, "au");
    assert_maps_to(&r, 9, 14, "lait,");
    assert_maps_to(&r, 15, 18, "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB");
    assert_maps_to(&r, 19, 22, "and");
    assert_maps_to(&r, 23, 31,
                   "man\xCC\x83"
                   "ana.");
    /* Inside a composed character a span widens to the whole of it. */
    assert_maps_to(&r, 3, 5, "e\xCC\x81");
    /* Already composed text is left alone. */
    run_str(g, "Caf\xC3\xA9 \xED\x95\x9C", NLPD_FORMAT_TEXT, &r);
    assert_int_equal(r.norm_is_text, 1);
    check_all(&r);
    nlpd_ingest_free(&g);
}

/* For every character with a canonical decomposition, its decomposed and
 * its precomposed forms normalize as utf8proc's NFC does. */
static void
test_ingest_matches_utf8proc_nfc_for_every_decomposable_character(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    size_t cap = 1 << 16;
    char *doc = malloc(cap);
    assert_non_null(doc);
    size_t len = 0, items = 0, total = 0;
    for (int32_t cp = 0xA0; cp <= 0x10FFFF + 1; cp++) {
        int flush = cp > 0x10FFFF || items == 300;
        if (flush && len > 0) {
            len--; /* the last separator: trailing whitespace is dropped */
            doc[len] = '\0';
            char *expect = (char *)utf8proc_NFC((const utf8proc_uint8_t *)doc);
            assert_non_null(expect);
            run_ok(g, doc, len, NLPD_FORMAT_TEXT, NULL, &r);
            assert_norm(&r, expect);
            free(expect);
            len = 0;
            items = 0;
        }
        if (cp > 0x10FFFF)
            break;
        if ((cp >= 0xD800 && cp <= 0xDFFF) || !utf8proc_codepoint_valid(cp))
            continue;
        utf8proc_int32_t dec[8];
        utf8proc_ssize_t n = utf8proc_decompose_char(cp, dec, 8, UTF8PROC_DECOMPOSE, NULL);
        if (n < 1 || (n == 1 && dec[0] == cp))
            continue;
        /* Whitespace and invisible characters are normalized differently. */
        int skip = 0;
        for (utf8proc_ssize_t k = 0; k < n; k++) {
            utf8proc_category_t c = utf8proc_category(dec[k]);
            if (c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CC)
                skip = 1;
        }
        if (skip)
            continue;
        if (len + 64 > cap)
            fail_msg("document buffer too small");
        /* "x<precomposed> x<decomposed>y " */
        doc[len++] = 'x';
        len += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)doc + len);
        doc[len++] = ' ';
        doc[len++] = 'x';
        for (utf8proc_ssize_t k = 0; k < n; k++)
            len += (size_t)utf8proc_encode_char(dec[k], (utf8proc_uint8_t *)doc + len);
        doc[len++] = 'y';
        doc[len++] = ' ';
        items++;
        total++;
    }
    assert_true(total > 13000); /* Hangul syllables alone are 11172 */
    free(doc);
    nlpd_ingest_free(&g);
}

/* Random sequences of letters, combining marks of many classes, jamo and
 * invisible characters normalize like utf8proc's NFC of the same sequence
 * with the invisible characters removed. */
static void
test_ingest_matches_utf8proc_nfc_for_random_mark_sequences(void **state)
{
    (void)state;
    static const int32_t alphabet[] = {
        'a',    'e',    'o',    'A',    'u',    0x03B1, 0x03C9, 0x0391, 0xAC00, 0x1100,
        0x1161, 0x11A8, 0x304B, 0x0BC6, 0x0BBE, 0x0B47, 0x0B3E, 0x0301, 0x0300, 0x0323,
        0x0308, 0x0345, 0x0313, 0x0342, 0x3099, 0x05B0, 0x0F71, 0x0F72, 0x0334, 0x031B,
        0x0327, 0x00E9, 0x1E63, 0x200B, 0x00AD, 0xFEFF, 0x0344, 0x0958, 0x2126, 0x1D15E,
    };
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    rng_state = 0x1234567887654321ULL;
    char in[1024], stripped[1024];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 1 + rng_below(iter % 10 == 0 ? 120 : 12);
        size_t li = 0, ls = 0;
        for (size_t k = 0; k < n; k++) {
            int32_t cp = alphabet[rng_below(sizeof(alphabet) / sizeof(alphabet[0]))];
            utf8proc_uint8_t b[4];
            size_t w = (size_t)utf8proc_encode_char(cp, b);
            memcpy(in + li, b, w);
            li += w;
            if (cp != 0x200B && cp != 0x00AD && cp != 0xFEFF) {
                memcpy(stripped + ls, b, w);
                ls += w;
            }
        }
        stripped[ls] = '\0';
        char *expect = (char *)utf8proc_NFC((const utf8proc_uint8_t *)stripped);
        assert_non_null(expect);
        run_ok(g, in, li, NLPD_FORMAT_TEXT, NULL, &r);
        assert_norm(&r, expect);
        free(expect);
        if (iter % 50 == 0)
            check_all(&r);
    }
    nlpd_ingest_free(&g);
}

static void
test_ingest_orders_long_mark_runs_in_linear_time(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    /* "a" + 20000 alternating U+0301 (class 230) and U+0323 (class 220):
     * canonical order moves every U+0323 first, and "a" + U+0323 composes. */
    size_t pairs = 10000;
    size_t len = 1 + pairs * 4;
    char *in = malloc(len);
    char *expect = malloc(len + 1);
    assert_non_null(in);
    assert_non_null(expect);
    in[0] = 'a';
    for (size_t i = 0; i < pairs; i++)
        memcpy(in + 1 + 4 * i, "\xCC\x81\xCC\xA3", 4);
    size_t e = 0;
    memcpy(expect + e, "\xE1\xBA\xA1", 3); /* U+1EA1 */
    e += 3;
    for (size_t i = 1; i < pairs; i++, e += 2)
        memcpy(expect + e, "\xCC\xA3", 2);
    for (size_t i = 0; i < pairs; i++, e += 2)
        memcpy(expect + e, "\xCC\x81", 2);
    expect[e] = '\0';
    double t0 = now_s();
    run_ok(g, in, len, NLPD_FORMAT_TEXT, NULL, &r);
    double dt = now_s() - t0;
    assert_norm(&r, expect);
    assert_true(dt < 5.0);
    uint32_t os, oe;
    map_span(&r, 0, r.norm_len, &os, &oe);
    assert_int_equal(os, 0);
    assert_int_equal(oe, len);
    free(in);
    free(expect);
    nlpd_ingest_free(&g);
}

static void
test_ingest_collapses_spaces_and_tabs_to_one_space(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g, "one  two\tthree \t four", NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "one two three four");
    assert_int_equal(r.norm_is_text, 0);
    assert_maps_to(&r, 0, 3, "one");
    assert_maps_to(&r, 4, 7, "two");
    assert_maps_to(&r, 8, 13, "three");
    assert_maps_to(&r, 14, 18, "four");
    assert_maps_to(&r, 3, 4, "  "); /* a collapsed space maps to the whole run */
    check_all(&r);
    /* A lone tab becomes a space: changed bytes, yet an identity map. */
    run_str(g, "a\tb", NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "a b");
    assert_int_equal(r.norm_is_text, 0);
    assert_int_equal(r.map_len, 0);
    nlpd_ingest_free(&g);
}

static void
test_ingest_turns_unicode_spaces_into_plain_spaces(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    /* NBSP, EM SPACE, NARROW NBSP, MEDIUM MATHEMATICAL SPACE, IDEOGRAPHIC SPACE, HAIR SPACE. */
    run_str(g,
            "a\xC2\xA0"
            "b\xE2\x80\x83"
            "c\xE2\x80\xAF"
            "d\xE2\x81\x9F"
            "e\xE3\x80\x80"
            "f\xE2\x80\x8A\xC2\xA0 g",
            NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "a b c d e f g");
    assert_maps_to(&r, 2, 3, "b");
    assert_maps_to(&r, 12, 13, "g");
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_drops_spaces_around_a_kept_single_line_break(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g, "Headline here  \n   second line\t\n\xC2\xA0third", NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "Headline here\nsecond line\nthird");
    assert_int_equal(r.n_regions, 1);
    assert_maps_to(&r, 14, 20, "second");
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_makes_one_paragraph_break_from_several_line_breaks(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g, "One.\n\nTwo.\n \t\n\nThree.\n\xC2\xA0\n\n\n\nFour.", NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "One.\n\nTwo.\n\nThree.\n\nFour.");
    assert_int_equal(r.n_regions, 4);
    assert_maps_to(&r, 12, 18, "Three.");
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_converts_crlf_and_cr_to_lf(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g, "a\r\nb\rc\r\n\r\nd\r\re", NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "a\nb\nc\n\nd\n\ne");
    assert_maps_to(&r, 2, 3, "b");
    assert_maps_to(&r, 4, 5, "c");
    assert_maps_to(&r, 7, 8, "d");
    assert_maps_to(&r, 10, 11, "e");
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_turns_line_and_paragraph_separators_into_breaks(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    /* U+2028 is a line break, U+2029 a paragraph break; \v and \f break lines. */
    run_str(g,
            "a\xE2\x80\xA8"
            "b\xE2\x80\xA9"
            "c\vd\fe\f\ff",
            NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "a\nb\n\nc\nd\ne\n\nf");
    assert_int_equal(r.controls_removed, 0);
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_drops_whitespace_at_start_and_end_of_document(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    run_str(g, "\xEF\xBB\xBF \n\t\xE2\x80\x8B\n  Body text.\n\n \xC2\xA0\n", NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "Body text.");
    assert_maps_to(&r, 0, 10, "Body text.");
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_deletes_invisible_characters_but_keeps_zwj_and_zwnj(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    /* ZWSP, soft hyphen, BOM, word joiner, LRM inside a word. */
    run_str(g,
            "in\xE2\x80\x8Bvis\xC2\xAD"
            "ib\xEF\xBB\xBFle\xE2\x81\xA0wo\xE2\x80\x8Erd",
            NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "invisibleword");
    assert_maps_to(&r, 0, 13,
                   "in\xE2\x80\x8Bvis\xC2\xAD"
                   "ib\xEF\xBB\xBFle\xE2\x81\xA0wo\xE2\x80\x8Erd");
    assert_maps_to(&r, 0, 2, "in");
    assert_maps_to(&r, 2, 5, "vis");
    check_all(&r);
    /* A soft hyphen between a letter and its accent: they compose. */
    run_str(g, "e\xC2\xAD\xCC\x81t\xC3\xA9", NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "\xC3\xA9t\xC3\xA9");
    check_all(&r);
    /* ZWJ in an emoji sequence and ZWNJ in Persian stay. */
    const char *keep = "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 \xD9\x85\xDB\x8C\xE2\x80\x8C"
                       "\xD8\xAE\xD9\x88\xD8\xA7\xD9\x87\xD9\x85";
    run_str(g, keep, NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, keep);
    assert_int_equal(r.norm_is_text, 1);
    nlpd_ingest_free(&g);
}

static void
test_ingest_turns_control_characters_into_counted_spaces(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    const char in[] = "a\x01"
                      "b\x7F"
                      "c\xC2\x85"
                      "d\x1B\x1B"
                      "e";
    run_ok(g, in, sizeof(in) - 1, NLPD_FORMAT_TEXT, NULL, &r);
    assert_norm(&r, "a b c d e");
    assert_int_equal(r.controls_removed, 5);
    assert_maps_to(&r, 6, 7, "d");
    check_all(&r);
    nlpd_ingest_free(&g);
}

static void
test_ingest_turns_nul_bytes_into_spaces(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    const char in[] = "abc\0def\0\0ghi\0";
    run_ok(g, in, sizeof(in) - 1, NLPD_FORMAT_DETECT, NULL, &r);
    assert_int_equal(r.text_len, sizeof(in) - 1);
    assert_memory_equal(r.text, in, sizeof(in) - 1);
    assert_norm(&r, "abc def ghi");
    assert_int_equal(r.controls_removed, 4);
    assert_maps_to(&r, 4, 7, "def");
    check_all(&r);
    char zeros[64] = {0};
    run_ok(g, zeros, sizeof(zeros), NLPD_FORMAT_DETECT, NULL, &r);
    assert_int_equal(r.norm_len, 0);
    assert_int_equal(r.n_regions, 0);
    assert_int_equal(r.controls_removed, 64);
    nlpd_ingest_free(&g);
}

static void
test_ingest_replaces_each_maximal_invalid_subpart_once(void **state)
{
    (void)state;
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
#define FFFD "\xEF\xBF\xBD"

    struct {
        const char *in;
        size_t len;
        const char *norm;
        unsigned count;
    } cases[] = {
        {"a\x80z", 3, "a" FFFD "z", 1},                            /* lone continuation */
        {"ab\xE2\x82", 4, "ab" FFFD, 1},                           /* truncated at the end */
        {"a\xE2\x82z", 4, "a" FFFD "z", 1},                        /* truncated inside */
        {"a\xF0\x9F\x98z", 5, "a" FFFD "z", 1},                    /* truncated 4-byte */
        {"a\xC0\xAFz", 4, "a" FFFD FFFD "z", 2},                   /* overlong, 2 bytes */
        {"a\xE0\x80\xAFz", 5, "a" FFFD FFFD FFFD "z", 3},          /* overlong, 3 bytes */
        {"a\xED\xA0\x80z", 5, "a" FFFD FFFD FFFD "z", 3},          /* surrogate */
        {"a\xF4\x90\x80\x80z", 6, "a" FFFD FFFD FFFD FFFD "z", 4}, /* beyond U+10FFFF */
        {"a\xFFz", 3, "a" FFFD "z", 1},                            /* 0xFF */
        {"\xFE\xFF", 2, FFFD FFFD, 2},                             /* alone */
        {"a\xF5\x80z", 4, "a" FFFD FFFD "z", 2},                   /* F5 lead */
        {"a\xF0\x9F\x98\x80z", 6, "a\xF0\x9F\x98\x80z", 0},        /* valid 4-byte */
        {"a\xEF\xBF\xBDz", 5, "a" FFFD "z", 0},                    /* a real U+FFFD */
        {"e\xCC\xFF\x81", 4, "e" FFFD FFFD FFFD, 3},               /* in a combining mark */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_ok(g, cases[i].in, cases[i].len, NLPD_FORMAT_DETECT, NULL, &r);
        assert_int_equal(r.format, NLPD_FORMAT_TEXT);
        assert_norm(&r, cases[i].norm);
        if (r.invalid_utf8 != cases[i].count)
            fail_msg("case %zu: %u replaced, expected %u", i, r.invalid_utf8, cases[i].count);
        /* The text as sent keeps the invalid bytes; the map still fits. */
        assert_int_equal(r.text_len, cases[i].len);
        assert_memory_equal(r.text, cases[i].in, cases[i].len);
        check_all(&r);
    }
    /* The last "z" maps to the last byte of the input. */
    run_ok(g, "a\xED\xA0\x80z", 5, NLPD_FORMAT_TEXT, NULL, &r);
    assert_maps_to(&r, 10, 11, "z");
    assert_maps_to(&r, 1, 4, "\xED");
#undef FFFD
    nlpd_ingest_free(&g);
}

static void
test_ingest_rejects_invalid_utf8_with_its_offset_under_reject_policy(void **state)
{
    (void)state;
    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    o.invalid_utf8 = NLPD_INGEST_UTF8_REJECT;
    nlpd_ingest *g = new_ingest(&o);
    nlpd_ingest_result r;
    int rc = nlpd_ingest_run(g,
                             "abc\xFF"
                             "def",
                             7, NLPD_FORMAT_DETECT, NULL, 0, &r);
    assert_int_equal(rc, NLPD_EUTF8);
    assert_non_null(strstr(nlpd_ingest_last_error(g), "invalid UTF-8 at byte 3"));
    rc = nlpd_ingest_run(g, "ok \xED\xA0\x80", 6, NLPD_FORMAT_FEED, NULL, 0, &r);
    assert_int_equal(rc, NLPD_EUTF8);
    assert_non_null(strstr(nlpd_ingest_last_error(g), "byte 3"));
    rc = nlpd_ingest_run(g, "<p>ab\xC3</p>", 10, NLPD_FORMAT_DETECT, NULL, 0, &r);
    assert_int_equal(rc, NLPD_EUTF8);
    assert_non_null(strstr(nlpd_ingest_last_error(g), "byte 5"));
    /* Valid input passes; NUL and controls are not encoding errors. */
    run_ok(g, "caf\xC3\xA9\0ok", 8, NLPD_FORMAT_DETECT, NULL, &r);
    assert_norm(&r, "caf\xC3\xA9 ok");
    assert_int_equal(r.invalid_utf8, 0);
    nlpd_ingest_free(&g);
}

static void
test_ingest_succeeds_with_empty_text_when_input_is_empty_or_blank(void **state)
{
    (void)state;
    nlpd_ingest *g = new_ingest(NULL);
    nlpd_ingest_result r;
    unsigned char h[16];
    char empty_hash[33];
    crypto_generichash(h, sizeof(h), (const unsigned char *)"", 0, NULL, 0);
    sodium_bin2hex(empty_hash, sizeof(empty_hash), h, sizeof(h));
    const char *blank = " \n\t\r\n\xC2\xA0\xE2\x80\x8B\xE3\x80\x80\xE2\x80\xA9\xEF\xBB\xBF ";
    nlpd_format fmts[] = {NLPD_FORMAT_DETECT, NLPD_FORMAT_TEXT, NLPD_FORMAT_FEED, NLPD_FORMAT_HTML};
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
        for (int k = 0; k < 3; k++) {
            const char *in = k == 0 ? NULL : k == 1 ? "" : blank;
            size_t len = k == 2 ? strlen(blank) : 0;
            assert_int_equal(nlpd_ingest_run(g, in, len, fmts[f], NULL, (uint64_t)k, &r), 0);
            assert_int_equal(r.norm_len, 0);
            assert_non_null(r.norm);
            assert_non_null(r.text);
            assert_int_equal(r.n_regions, 0);
            assert_string_equal(r.content_hash, empty_hash);
            assert_string_equal(r.id, empty_hash);
            /* Empty documents are never duplicates. */
            assert_null(r.duplicate_of_id);
            assert_null(r.duplicate_of_key);
            check_map(&r);
        }
    }
    nlpd_ingest_free(&g);
}

/* Documents built from known words and messy separators: every word maps
 * back to exactly the bytes it came from, and to something that normalizes
 * to it. */
static void
test_ingest_maps_every_word_and_region_back_to_the_text_as_sent(void **state)
{
    (void)state;

    static const struct {
        const char *orig;
        const char *norm;
    } words[] = {
        {"harbour", "harbour"},
        {"Quay.", "Quay."},
        {"na\xC3\xAFve", "na\xC3\xAFve"},
        {"nai\xCC\x88ve", "na\xC3\xAFve"},
        {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"},
        {"co\xE2\x80\x8Bop", "coop"},
        {"\xE2\x80\x9CQuoted\xE2\x80\x9D", "\xE2\x80\x9CQuoted\xE2\x80\x9D"},
        {"\xCE\xB1\xCC\x81\xCE\xBB\xCF\x86\xCE\xB1", "\xCE\xAC\xCE\xBB\xCF\x86\xCE\xB1"},
        {"\xEF\xAC\x81ne", "\xEF\xAC\x81ne"},
        {"e\xCC\x81\xCC\xA3", "\xE1\xBA\xB9\xCC\x81"},
        {"\xE1\x84\x80\xE1\x85\xA1", "\xEA\xB0\x80"},
        {"<tag>", "<tag>"},
        {"x\xFFy", "x\xEF\xBF\xBDy"},
    };

    static const char *const seps[] = {
        " ",    "  ",    "\t",           "\xC2\xA0",  "\xE3\x80\x80",  " \xE2\x80\x8B ",
        "\n",   "\r\n",  "\n\n",         "\r\n \r\n", "\n\n\n",        "\xE2\x80\xA8",
        "\x01", " \x7F", "\xE2\x80\xA9", "\xC2\x85",  "\xEF\xBB\xBF ", " \n \n ",
    };
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    rng_state = 0xC0FFEEULL;
    char doc[4096];
    size_t picked[200];
    for (int iter = 0; iter < 300; iter++) {
        size_t len = 0, n = 1 + rng_below(120);
        if (rng_below(3) == 0) {
            const char *s = seps[rng_below(sizeof(seps) / sizeof(seps[0]))];
            memcpy(doc, s, strlen(s));
            len = strlen(s);
        }
        for (size_t k = 0; k < n; k++) {
            if (k > 0) {
                const char *s = seps[rng_below(sizeof(seps) / sizeof(seps[0]))];
                memcpy(doc + len, s, strlen(s));
                len += strlen(s);
            }
            picked[k] = rng_below(sizeof(words) / sizeof(words[0]));
            const char *w = words[picked[k]].orig;
            memcpy(doc + len, w, strlen(w));
            len += strlen(w);
        }
        run_ok(g, doc, len, NLPD_FORMAT_TEXT, NULL, &r);
        /* The k-th word of norm is the k-th word put in. */
        size_t i = 0, k = 0;
        while (i < r.norm_len) {
            size_t j = i;
            while (j < r.norm_len && !is_sep(r.norm[j]))
                j++;
            assert_true(k < n);
            const char *expect = words[picked[k]].norm;
            if (j - i != strlen(expect) || memcmp(r.norm + i, expect, j - i) != 0)
                fail_msg("word %zu is \"%.*s\", expected \"%s\"", k, (int)(j - i), r.norm + i,
                         expect);
            assert_maps_to(&r, i, j, words[picked[k]].orig);
            k++;
            i = j;
            while (i < r.norm_len && is_sep(r.norm[i]))
                i++;
        }
        assert_int_equal(k, n);
        check_all(&r);
    }
    nlpd_ingest_free(&g);
}

/* ---- robustness ------------------------------------------------------- */

static void
test_ingest_survives_random_binary_junk_with_a_consistent_map(void **state)
{
    (void)state;
    static const char *const bits[] = {
        "a",
        "Z",
        " ",
        "\n",
        "\r\n",
        "\t",
        "\xC2\xA0",
        "\xE2\x80\x8B",
        "\xCC\x81",
        "\xCC\xA3",
        "e",
        "\xE1\x84\x80",
        "\xE1\x85\xA1",
        "\xE1\x86\xA8",
        "\xEA\xB0\x80",
        "\xED\xA0\x80",
        "\xF0\x9F\x98\x80",
        "\xE2\x80\xA8",
        "\xE2\x80\xA9",
        "|",
        "<p>",
        "</p>",
        "<h1>",
        "{",
        "\"",
        ".",
        "\xC0",
        "\xE2\x82",
        "\xEF\xBB\xBF",
        "\xE2\x80\x8D",
        "\xC2\x85",
        "\xE3\x80\x80",
        "\xE0\xAF\x86",
        "\xE0\xAE\xBE",
        "<br>",
        "&amp;",
        "\n\n",
        "\xC2\xAD",
        "\xEF\xBF\xBD",
    };
    nlpd_format fmts[] = {NLPD_FORMAT_DETECT, NLPD_FORMAT_TEXT, NLPD_FORMAT_FEED, NLPD_FORMAT_HTML,
                          NLPD_FORMAT_JSON};
    nlpd_ingest *g = new_ingest(NULL);
    nlpd_ingest *chk = new_plain();
    nlpd_ingest_result r;
    rng_state = 0x5EEDULL;
    unsigned char buf[600];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0, target = rng_below(iter % 100 == 0 ? 590 : 120);
        if (iter % 7 == 0)
            buf[len++] = (unsigned char)(iter % 14 == 0 ? '<' : '{');
        while (len < target) {
            if (rng_below(2) == 0) {
                buf[len++] = (unsigned char)rng();
            } else {
                const char *b = bits[rng_below(sizeof(bits) / sizeof(bits[0]))];
                size_t n = strlen(b);
                if (len + n > sizeof(buf))
                    break;
                memcpy(buf + len, b, n);
                len += n;
            }
        }
        nlpd_format fmt = fmts[(size_t)iter % (sizeof(fmts) / sizeof(fmts[0]))];
        int rc = nlpd_ingest_run(g, (const char *)buf, len, fmt, NULL, (uint64_t)iter, &r);
        if (fmt == NLPD_FORMAT_JSON && rc == NLPD_EFORMAT)
            continue;
        if (rc != 0)
            fail_msg("iteration %d (%s): %s", iter, nlpd_format_name(fmt),
                     nlpd_ingest_last_error(g));
        check_map(&r);
        check_norm_shape(&r);
        check_regions(iter % 4 == 0 ? chk : NULL, &r);
        if (iter % 4 == 0)
            check_words(chk, &r);
        if (fmt == NLPD_FORMAT_TEXT || fmt == NLPD_FORMAT_FEED) {
            assert_int_equal(r.text_len, len);
            if (len > 0)
                assert_memory_equal(r.text, buf, len);
        }
        const char *strs[] = {r.title, r.lede, r.source, r.id};
        for (size_t k = 0; k < 4; k++)
            if (strs[k] != NULL)
                assert_true(valid_utf8(strs[k], strlen(strs[k])));
    }
    nlpd_ingest_free(&chk);
    nlpd_ingest_free(&g);
}

static void
test_ingest_reads_10mb_single_paragraph_in_linear_time(void **state)
{
    (void)state;
    static const char unit[] = "word caf\xC3\xA9  nai\xCC\x88ve x\xE2\x80\x8By 12,5 ";
    size_t ul = sizeof(unit) - 1;
    size_t len = 10 * 1024 * 1024;
    char *in = malloc(len);
    assert_non_null(in);
    for (size_t i = 0; i < len; i += ul)
        memcpy(in + i, unit, i + ul <= len ? ul : len - i);
    len -= len % ul; /* whole units only */
    nlpd_ingest *g = new_plain();
    nlpd_ingest_result r;
    double t0 = now_s();
    run_ok(g, in, len, NLPD_FORMAT_DETECT, NULL, &r);
    double dt = now_s() - t0;
    assert_int_equal(r.format, NLPD_FORMAT_TEXT);
    assert_int_equal(r.n_regions, 1);
    size_t units = len / ul;
    /* Per unit: one byte less for the double space, one for the composed
     * i-diaeresis, three for the ZWSP; the final space is dropped. */
    assert_int_equal(r.norm_len, units * (ul - 5) - 1);
    const char *head = "word caf\xC3\xA9 na\xC3\xAFve xy 12,5 word";
    assert_memory_equal(r.norm, head, strlen(head));
    check_map(&r);
    /* The last word maps back to the last bytes of the input. */
    assert_maps_to(&r, r.norm_len - 4, r.norm_len, "12,5");
    uint32_t os, oe;
    map_span(&r, r.norm_len - 4, r.norm_len, &os, &oe);
    assert_int_equal(oe, len - 1);
    print_message("10 MB paragraph: %.2f s\n", dt);
    assert_true(dt < 30.0);

    /* The same as HTML, in one <p>. */
    memcpy(in, "<p>", 3);
    t0 = now_s();
    run_ok(g, in, len, NLPD_FORMAT_HTML, NULL, &r);
    dt = now_s() - t0;
    assert_int_equal(r.n_regions, 1);
    assert_int_equal(r.norm_len, units * (ul - 5) - 1 - 3); /* "<p>" took "wor" */
    assert_true(dt < 30.0);
    free(in);
    nlpd_ingest_free(&g);
}

static void
test_ingest_refuses_bad_arguments(void **state)
{
    (void)state;
    nlpd_ingest *g = NULL;
    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    o.dedup_window = (size_t)1 << 40;
    assert_int_equal(nlpd_ingest_new(&g, &o), NLPD_EINVAL);
    assert_null(g);
    o = (nlpd_ingest_opts)NLPD_INGEST_OPTS_INIT;
    o.invalid_utf8 = (nlpd_ingest_utf8_policy)7;
    assert_int_equal(nlpd_ingest_new(&g, &o), NLPD_EINVAL);
    assert_int_equal(nlpd_ingest_new(NULL, NULL), NLPD_EINVAL);
    g = new_plain();
    nlpd_ingest_result r;
    /* The pointer is never read: the size is refused first. */
    assert_int_equal(nlpd_ingest_run(g, "x", (size_t)UINT32_MAX, NLPD_FORMAT_TEXT, NULL, 0, &r),
                     NLPD_EINVAL);
    assert_non_null(strstr(nlpd_ingest_last_error(g), "4 GiB"));
    assert_int_equal(nlpd_ingest_run(g, NULL, 3, NLPD_FORMAT_TEXT, NULL, 0, &r), NLPD_EINVAL);
    assert_int_equal(nlpd_ingest_run(g, "x", 1, (nlpd_format)9, NULL, 0, &r), NLPD_EINVAL);
    assert_int_equal(nlpd_ingest_run(g, "x", 1, NLPD_FORMAT_TEXT, NULL, 0, NULL), NLPD_EINVAL);
    assert_int_equal(nlpd_ingest_run(NULL, "x", 1, NLPD_FORMAT_TEXT, NULL, 0, &r), NLPD_EINVAL);
    assert_string_equal(nlpd_ingest_last_error(NULL), "");
    /* Still usable. */
    run_str(g, "fine", NLPD_FORMAT_TEXT, &r);
    assert_norm(&r, "fine");
    nlpd_ingest_free(&g);
    nlpd_ingest_free(&g);
    nlpd_ingest_free(NULL);
}

/* ---- dedup window ----------------------------------------------------- */

static void
run_doc(nlpd_ingest *g, const char *text, const char *key, const char *id, uint64_t now,
        nlpd_ingest_result *r)
{
    nlpd_ingest_meta meta = {.key = key, .id = id};
    int rc = nlpd_ingest_run(g, text, strlen(text), NLPD_FORMAT_TEXT, &meta, now, r);
    if (rc != 0)
        fail_msg("run failed: %s", nlpd_ingest_last_error(g));
}

static void
assert_dup(const nlpd_ingest_result *r, const char *key, const char *id)
{
    if (id == NULL) {
        assert_null(r->duplicate_of_id);
        assert_null(r->duplicate_of_key);
        return;
    }
    assert_non_null(r->duplicate_of_id);
    assert_string_equal(r->duplicate_of_id, id);
    if (key == NULL)
        assert_null(r->duplicate_of_key);
    else
        assert_string_equal(r->duplicate_of_key, key);
}

static void
test_ingest_flags_duplicate_with_earliest_key_and_id(void **state)
{
    (void)state;
    nlpd_ingest *g = new_ingest(NULL);
    nlpd_ingest_result r;
    run_doc(g, "The same story.", "k1", "id-1", 1, &r);
    assert_dup(&r, NULL, NULL);
    run_doc(g, "Another story.", "k2", "id-2", 2, &r);
    assert_dup(&r, NULL, NULL);
    /* Same normalized text, different bytes. */
    run_doc(g, "  The\tsame  story. ", "k3", "id-3", 3, &r);
    assert_dup(&r, "k1", "id-1");
    run_doc(g, "The same story.", "k4", NULL, 4, &r);
    assert_dup(&r, "k1", "id-1");
    run_doc(g, "Another story.", NULL, NULL, 5, &r);
    assert_dup(&r, "k2", "id-2");
    /* An earlier document without key or id: its hash is its id. */
    run_doc(g, "Keyless.", NULL, NULL, 6, &r);
    char first_id[33];
    strcpy(first_id, r.id);
    run_doc(g, "Keyless.", "k8", NULL, 7, &r);
    assert_dup(&r, NULL, first_id);
    nlpd_ingest_free(&g);

    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    o.dedup_window = 0;
    g = new_ingest(&o);
    run_doc(g, "x", "a", NULL, 1, &r);
    run_doc(g, "x", "b", NULL, 2, &r);
    assert_dup(&r, NULL, NULL);
    nlpd_ingest_free(&g);
}

static void
test_ingest_forgets_documents_beyond_the_window_size(void **state)
{
    (void)state;
    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    o.dedup_window = 2;
    nlpd_ingest *g = new_ingest(&o);
    nlpd_ingest_result r;
    run_doc(g, "A.", "ka", "a", 1, &r);
    run_doc(g, "B.", "kb", "b", 2, &r);
    run_doc(g, "A.", "ka2", "a2", 3, &r); /* window full: A's own slot is reused */
    assert_dup(&r, "ka", "a");
    run_doc(g, "C.", "kc", "c", 4, &r); /* evicts B */
    run_doc(g, "B.", "kb2", "b2", 5, &r);
    assert_dup(&r, NULL, NULL);
    run_doc(g, "A.", "ka3", "a3", 6, &r); /* A2 was evicted by B2 */
    assert_dup(&r, NULL, NULL);
    run_doc(g, "B.", "kb3", "b3", 7, &r);
    assert_dup(&r, "kb2", "b2");
    nlpd_ingest_free(&g);
}

static void
test_ingest_forgets_documents_older_than_max_age(void **state)
{
    (void)state;
    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    o.dedup_max_age_us = 1000;
    nlpd_ingest *g = new_ingest(&o);
    nlpd_ingest_result r;
    run_doc(g, "Aging.", "k0", "i0", 10000, &r);
    run_doc(g, "Other.", "k1", "i1", 10500, &r);
    run_doc(g, "Aging.", "k2", "i2", 11000, &r); /* age exactly 1000: still there */
    assert_dup(&r, "k0", "i0");
    run_doc(g, "Aging.", "k3", "i3", 11500, &r); /* k0 expired, k2 is earliest */
    assert_dup(&r, "k2", "i2");
    run_doc(g, "Other.", "k4", "i4", 13000, &r); /* everything expired */
    assert_dup(&r, NULL, NULL);
    /* A clock that goes back does not expire anything. */
    run_doc(g, "Other.", "k5", "i5", 5, &r);
    assert_dup(&r, "k4", "i4");
    nlpd_ingest_free(&g);
}

static void
test_ingest_leaves_window_unchanged_when_a_run_fails(void **state)
{
    (void)state;
    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    o.dedup_window = 1;
    o.invalid_utf8 = NLPD_INGEST_UTF8_REJECT;
    nlpd_ingest *g = new_ingest(&o);
    nlpd_ingest_result r;
    run_doc(g, "Kept document.", "k1", "i1", 1, &r);
    /* Failing runs of other documents. */
    assert_int_equal(nlpd_ingest_run(g, "bad\xFF", 4, NLPD_FORMAT_TEXT, NULL, 2, &r), NLPD_EUTF8);
    assert_int_equal(nlpd_ingest_run(g, "{", 1, NLPD_FORMAT_JSON, NULL, 3, &r), NLPD_EFORMAT);
    /* A run that fails out of memory in its very last step (the window
     * grows the slot for a longer key). */
    char long_key[300];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    nlpd_ingest_meta meta = {.key = long_key};
    nlpd_test_alloc_fail_after(0);
    int rc = nlpd_ingest_run(g, "Failing doc.", 12, NLPD_FORMAT_TEXT, &meta, 4, &r);
    nlpd_test_alloc_reset();
    assert_int_equal(rc, NLPD_ENOMEM);
    /* Had it entered the window it would have evicted "Kept document.". */
    run_doc(g, "Kept document.", "k2", "i2", 5, &r);
    assert_dup(&r, "k1", "i1");
    run_doc(g, "Failing doc.", long_key, NULL, 6, &r);
    assert_dup(&r, NULL, NULL);
    nlpd_ingest_free(&g);
}

/* The window against a plain model: random documents from a small set. */
static void
test_ingest_reports_duplicates_like_a_reference_model(void **state)
{
    (void)state;

    enum { WINDOW = 37, DOCS = 60, RUNS = 5000 };

    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    o.dedup_window = WINDOW;
    nlpd_ingest *g = new_ingest(&o);
    nlpd_ingest_result r;
    int model_doc[WINDOW];
    int model_run[WINDOW];
    size_t head = 0, count = 0;
    rng_state = 0xD00DULL;
    for (int run = 0; run < RUNS; run++) {
        int doc = (int)rng_below(DOCS);
        char text[64], key[32];
        snprintf(text, sizeof(text), "Document number %d.", doc);
        snprintf(key, sizeof(key), "key-%d", run);
        run_doc(g, text, key, NULL, (uint64_t)run, &r);
        int expect = -1;
        for (size_t k = 0; k < count; k++) {
            size_t s = (head + k) % WINDOW;
            if (model_doc[s] == doc) {
                expect = model_run[s];
                break;
            }
        }
        if (expect < 0) {
            assert_null(r.duplicate_of_key);
        } else {
            char ek[32];
            snprintf(ek, sizeof(ek), "key-%d", expect);
            assert_non_null(r.duplicate_of_key);
            assert_string_equal(r.duplicate_of_key, ek);
        }
        if (count == WINDOW) {
            head = (head + 1) % WINDOW;
            count--;
        }
        size_t tail = (head + count) % WINDOW;
        model_doc[tail] = doc;
        model_run[tail] = run;
        count++;
    }
    nlpd_ingest_free(&g);
}

/* ---- memory ----------------------------------------------------------- */

static const char alloc_text[] =
    "Caf\xC3\xA9  Headline\n\nBody with e\xCC\x81 and \xFF and a\xE2\x80\x8B"
    "b.\r\n\r\nSecond paragraph is longer than the short one.\n\nShort Sub\n\n"
    "Last paragraph, with more words than the subheading has.";

static const char alloc_json[] =
    "{\"id\": 7, \"title\": \"T\\u00edtulo\", \"text\": \"Head\\n\\nBody e\\u0301.\", "
    "\"url\": \"u\", \"source\": \"S\", \"published\": 1700000000, \"lede\": \"L\"}";

static const char alloc_html[] =
    "<html><head><title>The Title</title><meta name=description content=\"D\"></head>"
    "<body><h1>Head</h1><p>One e\xCC\x81.</p><h2>Sub</h2><p>Two \xFF.</p><h3>a</h3><h3>b</h3>"
    "<h3>c</h3><h3>d</h3><h3>e</h3><h3>f</h3><h3>g</h3><h3>h</h3><h3>i</h3><h3>j</h3>"
    "<h3>k</h3><h3>l</h3><h3>m</h3><h3>n</h3><h3>o</h3><h3>p</h3><h3>q</h3></body></html>";

static void
walk_alloc_failures(const char *in, size_t len, nlpd_format fmt)
{
    int ok = 0;
    long n;
    for (n = 0; n < 5000 && !ok; n++) {
        long live = nlpd_test_alloc_live();
        nlpd_ingest *g = NULL;
        nlpd_ingest_result r;
        nlpd_ingest_meta meta = {.key = "key", .id = NULL, .title = NULL};
        nlpd_test_alloc_fail_after(n);
        int rc = nlpd_ingest_new(&g, NULL);
        if (rc == 0)
            rc = nlpd_ingest_run(g, in, len, fmt, &meta, 1, &r);
        nlpd_test_alloc_reset();
        if (rc == 0) {
            ok = 1;
            check_map(&r);
        } else if (rc != NLPD_ENOMEM) {
            fail_msg("failing after %ld allocations gave %s (%s)", n, nlpd_err_name(rc),
                     g != NULL ? nlpd_ingest_last_error(g) : "");
        } else if (g != NULL) {
            /* The instance stays usable after running out of memory. */
            assert_int_equal(nlpd_ingest_run(g, in, len, fmt, &meta, 2, &r), 0);
        }
        nlpd_ingest_free(&g);
        assert_int_equal(nlpd_test_alloc_live(), live);
    }
    assert_true(ok);
    assert_true(n > 5); /* the walk did go through failures */
}

static void
test_ingest_reports_enomem_and_leaks_nothing_when_allocation_fails(void **state)
{
    (void)state;
    walk_alloc_failures(alloc_text, sizeof(alloc_text) - 1, NLPD_FORMAT_DETECT);
    walk_alloc_failures(alloc_json, sizeof(alloc_json) - 1, NLPD_FORMAT_DETECT);
    walk_alloc_failures(alloc_html, sizeof(alloc_html) - 1, NLPD_FORMAT_DETECT);
    size_t len;
    char *feed = nlpd_test_fixture("ingest/feed-article.txt", &len);
    walk_alloc_failures(feed, len, NLPD_FORMAT_DETECT);
    free(feed);
}

static void
test_ingest_allocates_nothing_per_run_once_buffers_have_grown(void **state)
{
    (void)state;
    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    o.dedup_window = 4;
    nlpd_ingest *g = new_ingest(&o);
    nlpd_ingest_result r;
    size_t flen;
    char *feed = nlpd_test_fixture("ingest/feed-article.txt", &flen);

    struct {
        const char *in;
        size_t len;
    } docs[] = {
        {alloc_text, sizeof(alloc_text) - 1},
        {alloc_json, sizeof(alloc_json) - 1},
        {alloc_html, sizeof(alloc_html) - 1},
        {feed, flen},
    };

    nlpd_ingest_meta meta = {.key = "doc-key-000001", .id = NULL};
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
            nlpd_test_alloc_reset();
            int rc = nlpd_ingest_run(g, docs[i].in, docs[i].len, NLPD_FORMAT_DETECT, &meta, 1, &r);
            assert_int_equal(rc, 0);
            if (round == 2 && nlpd_test_alloc_count() != 0)
                fail_msg("document %zu: %ld allocations in a warm run", i, nlpd_test_alloc_count());
        }
    }
    free(feed);
    nlpd_ingest_free(&g);
}

int
main(void)
{
    nlpd_test_alloc_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingest_keeps_text_as_is_when_already_normal),
        cmocka_unit_test(test_ingest_marks_headline_and_title_when_first_line_is_short),
        cmocka_unit_test(test_ingest_keeps_first_paragraph_as_body_when_not_a_headline),
        cmocka_unit_test(test_ingest_marks_subheading_when_short_line_precedes_longer_paragraph),
        cmocka_unit_test(test_ingest_prefers_given_title_and_id_over_found_ones),
        cmocka_unit_test(test_ingest_hashes_normalized_text_with_blake2b_128),
        cmocka_unit_test(test_ingest_reads_json_article_fields_when_detected),
        cmocka_unit_test(test_ingest_prefers_json_text_over_body_and_takes_headline_title),
        cmocka_unit_test(test_ingest_rejects_json_that_does_not_fit_when_format_is_json),
        cmocka_unit_test(test_ingest_reads_brace_text_as_text_when_not_a_json_article),
        cmocka_unit_test(test_ingest_extracts_html_text_regions_and_fields),
        cmocka_unit_test(test_ingest_takes_first_h1_as_title_when_html_has_no_title),
        cmocka_unit_test(test_ingest_separates_table_cells_with_spaces_and_rows_with_breaks),
        cmocka_unit_test(test_ingest_detects_html_only_when_it_starts_with_a_common_tag),
        cmocka_unit_test(test_ingest_replaces_invalid_utf8_and_nul_in_html),
        cmocka_unit_test(test_ingest_reads_feed_fixture_regions_when_detected),
        cmocka_unit_test(test_ingest_reads_shared_sample_feed_when_present),
        cmocka_unit_test(test_ingest_recognises_partial_feed_without_repeat_or_source),
        cmocka_unit_test(test_ingest_reads_pipes_as_text_when_not_a_feed_separator),
        cmocka_unit_test(test_ingest_reads_feed_layout_when_format_is_feed_without_separator),
        cmocka_unit_test(test_ingest_merges_paragraphs_into_last_region_beyond_max_regions),
        cmocka_unit_test(test_ingest_composes_to_nfc_with_offsets_of_the_text_as_sent),
        cmocka_unit_test(test_ingest_matches_utf8proc_nfc_for_every_decomposable_character),
        cmocka_unit_test(test_ingest_matches_utf8proc_nfc_for_random_mark_sequences),
        cmocka_unit_test(test_ingest_orders_long_mark_runs_in_linear_time),
        cmocka_unit_test(test_ingest_collapses_spaces_and_tabs_to_one_space),
        cmocka_unit_test(test_ingest_turns_unicode_spaces_into_plain_spaces),
        cmocka_unit_test(test_ingest_drops_spaces_around_a_kept_single_line_break),
        cmocka_unit_test(test_ingest_makes_one_paragraph_break_from_several_line_breaks),
        cmocka_unit_test(test_ingest_converts_crlf_and_cr_to_lf),
        cmocka_unit_test(test_ingest_turns_line_and_paragraph_separators_into_breaks),
        cmocka_unit_test(test_ingest_drops_whitespace_at_start_and_end_of_document),
        cmocka_unit_test(test_ingest_deletes_invisible_characters_but_keeps_zwj_and_zwnj),
        cmocka_unit_test(test_ingest_turns_control_characters_into_counted_spaces),
        cmocka_unit_test(test_ingest_turns_nul_bytes_into_spaces),
        cmocka_unit_test(test_ingest_replaces_each_maximal_invalid_subpart_once),
        cmocka_unit_test(test_ingest_rejects_invalid_utf8_with_its_offset_under_reject_policy),
        cmocka_unit_test(test_ingest_succeeds_with_empty_text_when_input_is_empty_or_blank),
        cmocka_unit_test(test_ingest_maps_every_word_and_region_back_to_the_text_as_sent),
        cmocka_unit_test(test_ingest_survives_random_binary_junk_with_a_consistent_map),
        cmocka_unit_test(test_ingest_reads_10mb_single_paragraph_in_linear_time),
        cmocka_unit_test(test_ingest_refuses_bad_arguments),
        cmocka_unit_test(test_ingest_flags_duplicate_with_earliest_key_and_id),
        cmocka_unit_test(test_ingest_forgets_documents_beyond_the_window_size),
        cmocka_unit_test(test_ingest_forgets_documents_older_than_max_age),
        cmocka_unit_test(test_ingest_leaves_window_unchanged_when_a_run_fails),
        cmocka_unit_test(test_ingest_reports_duplicates_like_a_reference_model),
        cmocka_unit_test(test_ingest_reports_enomem_and_leaks_nothing_when_allocation_fails),
        cmocka_unit_test(test_ingest_allocates_nothing_per_run_once_buffers_have_grown),
    };
    return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
