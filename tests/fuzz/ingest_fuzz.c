/* tests/fuzz/ingest_fuzz.c — libFuzzer target for the ingest library.
 *
 * Ingests the input (include/nlpd/ingest.h) and aborts when a result breaks
 * one of the library's promises. Build and run it with clang
 * (tests/fuzz/README.md has more):
 *
 *     cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DNLPD_FUZZ=ON
 *     cmake --build build/fuzz --target ingest_fuzz
 *     build/fuzz/bin/ingest_fuzz -max_total_time=600 -timeout=10 \
 *         build/fuzz/corpus-ingest tests/fuzz/corpus/ingest
 *
 * The input. When its first byte is 0xF8-0xFF (never in UTF-8) a header
 * byte h follows and the rest is the input: h % 8 picks the format (0
 * detect, 1 text, 2 json, 3 feed, 4 html, 5-7 detect); bit 3 the reject
 * policy for invalid UTF-8; bit 4 a small max_regions (1 + the next byte
 * % 4); bit 5 a failing allocator at call 1 + the next byte (the run must
 * fail with NLPD_ENOMEM or succeed, and the ingester then recover); bit 6
 * a caller's key, id and title (meta). Any other input is all input,
 * detected format, default options.
 *
 * What is checked:
 *  - a failed run returns NLPD_EUTF8 only under the reject policy and then
 *    exactly when the text is not UTF-8 (text and feed formats), NLPD_EFORMAT
 *    only when JSON was asked for, NLPD_ENOMEM only with the failing
 *    allocator, and says why in nlpd_ingest_last_error(); nothing else fails;
 *  - the format read is the one asked for (detect may give any, text may
 *    be told apart as feed only under detect);
 *  - text and feed keep the input as sent, byte for byte;
 *  - the normalized text is valid UTF-8, holds no control character but
 *    '\n', no CR, no zero-width space, BOM or soft hyphen, no run of two
 *    spaces, no space beside a line break, no three line breaks, no leading
 *    or trailing white space, and is in NFC;
 *  - invalid UTF-8 in a text or feed input is counted, and only then;
 *  - norm_is_text means norm is the text and there is no map; the offset
 *    map starts at (0, 0), ends at (norm_len, text_len), never decreases;
 *    mapping any code point of norm gives an ordered span inside the text
 *    that holds the character itself when it is graphic ASCII (or holds a
 *    non-ASCII byte it was made from), and the mapping never decreases;
 *  - regions are of a known kind, in order, not overlapping, inside norm,
 *    on code point boundaries, and no more than max_regions;
 *  - the result strings are NULL or valid UTF-8, the id is never NULL, a
 *    caller's id and title win;
 *  - the same input again gives the same norm, map and regions, and is
 *    reported as a duplicate of the first (key and id) when norm is not empty;
 *  - the result, put into a Document as the ingest worker does, passes the
 *    runtime's validation (nlpd__doc_validate), as every later stage's
 *    decode requires;
 *  - normalizing the normalized text again as plain text changes nothing
 *    (INGEST_FUZZ_SKIP=idem turns this off).
 */
#define FUZZ_NAME "ingest_fuzz"
#include "fuzz_common.h"

#include "nlpd/error.h"
#include "nlpd/ingest.h"
#include "nlpd/offmap.h"
#include "nlpd_internal.h"

#include <utf8proc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A copy of what a run gave, to compare with another run. */
typedef struct snapshot {
    char *norm;
    size_t norm_len;
    uint32_t *map;  /* map_norm then map_orig */
    size_t map_len;
    nlpd_region *regions;
    size_t n_regions;
    char hash[33];
    char *id;
} snapshot;

static void *
dup_bytes(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    if (q == NULL)
        abort();
    if (n && p != NULL)
        memcpy(q, p, n);
    return q;
}

static void
take(snapshot *s, const nlpd_ingest_result *r)
{
    s->norm = dup_bytes(r->norm, r->norm_len);
    s->norm_len = r->norm_len;
    s->map_len = r->map_len;
    s->map = malloc(2 * r->map_len * sizeof(uint32_t) + 1);
    if (s->map == NULL)
        abort();
    for (size_t i = 0; i < r->map_len; i++) {
        s->map[i] = r->map_norm[i];
        s->map[r->map_len + i] = r->map_orig[i];
    }
    s->regions = dup_bytes(r->regions, r->n_regions * sizeof(nlpd_region));
    s->n_regions = r->n_regions;
    memcpy(s->hash, r->content_hash, sizeof(s->hash));
    s->id = dup_bytes(r->id, strlen(r->id) + 1);
}

static void
release(snapshot *s)
{
    free(s->norm);
    free(s->map);
    free(s->regions);
    free(s->id);
}

static void
same(const snapshot *a, const nlpd_ingest_result *r)
{
    CHECK(a->norm_len == r->norm_len && memcmp(a->norm, r->norm, r->norm_len) == 0,
          "the same input gave another norm");
    CHECK(a->map_len == r->map_len, "the same input gave another map");
    for (size_t i = 0; i < r->map_len; i++)
        CHECK(a->map[i] == r->map_norm[i] && a->map[a->map_len + i] == r->map_orig[i],
              "the same input gave another map anchor %zu", i);
    CHECK(a->n_regions == r->n_regions &&
              (r->n_regions == 0 ||
               memcmp(a->regions, r->regions, r->n_regions * sizeof(nlpd_region)) == 0),
          "the same input gave other regions");
    CHECK(memcmp(a->hash, r->content_hash, sizeof(a->hash)) == 0, "another content hash");
}

static int
is_ascii_graphic(unsigned char c)
{
    return c > 0x20 && c < 0x7F;
}

/* The promises about the normalized text itself. */
static void
check_norm(const nlpd_ingest_result *r)
{
    const unsigned char *s = (const unsigned char *)r->norm;
    size_t n = r->norm_len;
    CHECK(fuzz_utf8_valid(s, n), "norm is not valid UTF-8");
    if (n == 0)
        return;
    CHECK(s[0] != ' ' && s[0] != '\n', "norm starts with white space");
    CHECK(s[n - 1] != ' ' && s[n - 1] != '\n', "norm ends with white space");
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t k = fuzz_utf8_seq(s + i, n - i, &cp);
        CHECK(cp == '\n' || (cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp < 0xA0)),
              "control character U+%04X at %zu of norm", (unsigned)cp, i);
        CHECK(cp != 0x200B && cp != 0xFEFF && cp != 0x00AD,
              "invisible character U+%04X left at %zu", (unsigned)cp, i);
        if (cp == ' ')
            CHECK(i + 1 < n && s[i + 1] != ' ' && s[i + 1] != '\n',
                  "space before a space or line break at %zu", i);
        if (cp == '\n') {
            CHECK(s[i + 1] != ' ', "space after a line break at %zu", i);
            CHECK(!(i + 2 < n && s[i + 1] == '\n' && s[i + 2] == '\n'),
                  "three line breaks at %zu", i);
        }
        i += k;
    }
    if (!fuzz_skipped("INGEST_FUZZ_SKIP", "nfc")) {
        utf8proc_uint8_t *nfc = NULL;
        utf8proc_ssize_t m =
            utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &nfc,
                         (utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
        CHECK(m >= 0, "utf8proc refused norm: %s", utf8proc_errmsg(m));
        CHECK((size_t)m == n && memcmp(nfc, s, n) == 0, "norm is not in NFC (%zd vs %zu bytes)",
              (ssize_t)m, n);
        free(nfc);
    }
}

/* The offset map, and mapping each code point of norm back into the text. */
static void
check_map(const nlpd_ingest_result *r)
{
    if (r->norm_is_text) {
        CHECK(r->norm == r->text && r->norm_len == r->text_len, "norm_is_text but norm differs");
        CHECK(r->map_len == 0, "norm_is_text with a map of %zu anchors", r->map_len);
        return;
    }
    if (r->map_len == 0) {
        CHECK(r->norm_len == r->text_len, "identity map, but norm %zu and text %zu bytes",
              r->norm_len, r->text_len);
    } else {
        CHECK(r->map_len >= 2, "a map of one anchor");
        CHECK(r->map_norm[0] == 0 && r->map_orig[0] == 0, "the map does not start at (0, 0)");
        CHECK(r->map_norm[r->map_len - 1] == r->norm_len &&
                  r->map_orig[r->map_len - 1] == r->text_len,
              "the map ends at (%u, %u), not (%zu, %zu)", r->map_norm[r->map_len - 1],
              r->map_orig[r->map_len - 1], r->norm_len, r->text_len);
        for (size_t i = 1; i < r->map_len; i++)
            CHECK(r->map_norm[i] >= r->map_norm[i - 1] && r->map_orig[i] >= r->map_orig[i - 1],
                  "map anchor %zu decreases", i);
    }
    nlpd_offmap m = {r->map_norm, r->map_orig, r->map_len};
    const unsigned char *s = (const unsigned char *)r->norm;
    const unsigned char *t = (const unsigned char *)r->text;
    uint32_t prev_start = 0, prev_end = 0;
    for (size_t i = 0; i < r->norm_len;) {
        size_t k = fuzz_utf8_seq(s + i, r->norm_len - i, NULL);
        uint32_t a = nlpd_offmap_start(&m, (uint32_t)i);
        uint32_t b = nlpd_offmap_end(&m, (uint32_t)(i + k));
        CHECK(a <= b && b <= r->text_len, "norm [%zu, %zu) maps to [%u, %u) of %zu bytes", i,
              i + k, a, b, r->text_len);
        CHECK(a >= prev_start && b >= prev_end, "the mapping decreases at %zu", i);
        prev_start = a, prev_end = b;
        if (is_ascii_graphic(s[i])) {
            int found = 0;
            for (uint32_t j = a; j < b && !found; j++)
                found = t[j] == s[i] || t[j] >= 0x80;
            CHECK(found, "'%c' at %zu of norm maps to [%u, %u) of the text, which does not hold it",
                  s[i], i, a, b);
        }
        i += k;
    }
}

static void
check_regions(const nlpd_ingest_result *r, size_t max_regions)
{
    if (max_regions > 0)
        CHECK(r->n_regions <= max_regions, "%zu regions, max_regions %zu", r->n_regions,
              max_regions);
    for (size_t i = 0; i < r->n_regions; i++) {
        const nlpd_region *g = &r->regions[i];
        CHECK(g->kind >= NLPD_REGION_HEADLINE && g->kind <= NLPD_REGION_SOURCE_LINE,
              "region %zu of kind %u", i, g->kind);
        CHECK(g->start < g->end && g->end <= r->norm_len, "region %zu [%u, %u) of %zu bytes", i,
              g->start, g->end, r->norm_len);
        CHECK(i == 0 || g->start >= r->regions[i - 1].end, "region %zu overlaps the one before",
              i);
        CHECK(fuzz_cp_boundary(r->norm, r->norm_len, g->start) &&
                  fuzz_cp_boundary(r->norm, r->norm_len, g->end),
              "region %zu [%u, %u) cuts a code point", i, g->start, g->end);
    }
}

static void
check_strings(const nlpd_ingest_result *r, const nlpd_ingest_meta *meta)
{
    const char *s[] = {r->id, r->title, r->lede, r->source, r->url, r->published};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        CHECK(s[i] == NULL || fuzz_utf8_valid(s[i], strlen(s[i])), "result string %zu is not UTF-8",
              i);
    CHECK(r->id != NULL && r->id[0] != '\0', "no id");
    CHECK(strlen(r->content_hash) == 32 && strspn(r->content_hash, "0123456789abcdef") == 32,
          "content hash \"%s\"", r->content_hash);
    if (meta != NULL) {
        CHECK(strcmp(r->id, meta->id) == 0, "id \"%s\", the caller gave \"%s\"", r->id, meta->id);
        CHECK(r->title != NULL && strcmp(r->title, meta->title) == 0, "title is not the caller's");
    }
}

/* The result as the ingest worker puts it into a Document
 * (stages/ingest/worker.c) passes the runtime's validation, which every
 * later stage's decode applies. */
static void
check_as_document(const nlpd_ingest_result *r)
{
    Nlpd__V1__Document d = NLPD__V1__DOCUMENT__INIT;
    Nlpd__V1__OffsetMap m = NLPD__V1__OFFSET_MAP__INIT;
    Nlpd__V1__IngestInfo info = NLPD__V1__INGEST_INFO__INIT;
    static Nlpd__V1__Region regions[4096];
    static Nlpd__V1__Region *rp[4096];
    d.text.data = (uint8_t *)r->text;
    d.text.len = r->text_len;
    if (!r->norm_is_text) {
        d.norm.data = (uint8_t *)r->norm;
        d.norm.len = r->norm_len;
    }
    if (r->map_len > 0) {
        m.n_norm = m.n_orig = r->map_len;
        m.norm = (uint32_t *)r->map_norm;
        m.orig = (uint32_t *)r->map_orig;
        d.norm_map = &m;
    }
    size_t n = r->n_regions < 4096 ? r->n_regions : 4096;
    for (size_t i = 0; i < n; i++) {
        nlpd__v1__region__init(&regions[i]);
        regions[i].kind = (Nlpd__V1__RegionKind)r->regions[i].kind;
        regions[i].start = r->regions[i].start;
        regions[i].end = r->regions[i].end;
        rp[i] = &regions[i];
    }
    d.n_regions = n;
    d.regions = rp;
    d.id = (char *)r->id;
    d.title = (char *)r->title;
    d.lede = (char *)r->lede;
    d.source = (char *)r->source;
    d.url = (char *)r->url;
    d.published = (char *)r->published;
    info.content_hash = (char *)r->content_hash;
    info.duplicate_of = (char *)(r->duplicate_of_key ? r->duplicate_of_key : "");
    info.duplicate_of_id = (char *)(r->duplicate_of_id ? r->duplicate_of_id : "");
    d.ingest = &info;
    char why[256] = "";
    CHECK(nlpd__doc_validate(&d, why, sizeof(why)) == 0,
          "the result as a Document fails validation: %s", why);
}

static int
expected_error(int rc, nlpd_format format, int reject, int failing)
{
    return (rc == NLPD_EUTF8 && reject) || (rc == NLPD_EFORMAT && format == NLPD_FORMAT_JSON) ||
           (rc == NLPD_ENOMEM && failing);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_alloc_setup();
    nlpd_ingest_opts opts = NLPD_INGEST_OPTS_INIT;
    opts.dedup_window = 4;
    nlpd_format format = NLPD_FORMAT_DETECT;
    long fail_at = 0;
    int with_meta = 0;
    if (size >= 2 && data[0] >= 0xF8) {
        uint8_t h = data[1];
        data += 2, size -= 2;
        format = h % 8 <= 4 ? (nlpd_format)(h % 8) : NLPD_FORMAT_DETECT;
        if (h & 8)
            opts.invalid_utf8 = NLPD_INGEST_UTF8_REJECT;
        if ((h & 16) && size > 0) {
            opts.max_regions = 1 + data[0] % 4u;
            data++, size--;
        }
        if ((h & 32) && size > 0) {
            fail_at = 1 + data[0];
            data++, size--;
        }
        with_meta = (h & 64) != 0;
    }
    const char *in = (const char *)data;
    int reject = opts.invalid_utf8 == NLPD_INGEST_UTF8_REJECT;
    nlpd_ingest_meta meta = {"key-1", "caller-id", "A caller's title"};

    nlpd_ingest *ing = NULL;
    if (nlpd_ingest_new(&ing, &opts) != 0)
        abort();
    nlpd_ingest_result r;
    fuzz_fail_at(fail_at);
    int rc = nlpd_ingest_run(ing, in, size, format, with_meta ? &meta : NULL, 1000, &r);
    fuzz_fail_at(0);
    if (rc != 0) {
        CHECK(expected_error(rc, format, reject, fail_at > 0), "run failed with %s: %s",
              nlpd_err_name(rc), nlpd_ingest_last_error(ing));
        CHECK(nlpd_ingest_last_error(ing)[0] != '\0', "%s without a message", nlpd_err_name(rc));
        if (rc == NLPD_EUTF8 && (format == NLPD_FORMAT_TEXT || format == NLPD_FORMAT_FEED))
            CHECK(!fuzz_utf8_valid(in, size), "NLPD_EUTF8 on valid UTF-8");
        if (fail_at > 0) {
            /* The ingester recovers: the same run without failures. */
            rc = nlpd_ingest_run(ing, in, size, format, with_meta ? &meta : NULL, 1000, &r);
            CHECK(rc == 0 || expected_error(rc, format, reject, 0),
                  "no recovery after NLPD_ENOMEM: %s", nlpd_err_name(rc));
        }
        if (rc != 0) {
            /* A failure leaves the ingester usable. */
            rc = nlpd_ingest_run(ing, "ok.", 3, NLPD_FORMAT_TEXT, NULL, 1000, &r);
            CHECK(rc == 0 && r.norm_len == 3, "no recovery after a failed run");
            nlpd_ingest_free(&ing);
            return 0;
        }
    }
    CHECK(nlpd_ingest_last_error(ing)[0] == '\0', "an error message after a success");
    CHECK(r.format_detected == (format == NLPD_FORMAT_DETECT), "format_detected %d",
          r.format_detected);
    CHECK(r.format == format || format == NLPD_FORMAT_DETECT, "asked for %d, read as %d", format,
          r.format);
    CHECK(r.format >= NLPD_FORMAT_TEXT && r.format <= NLPD_FORMAT_HTML, "read as %d", r.format);
    if (r.format == NLPD_FORMAT_TEXT || r.format == NLPD_FORMAT_FEED) {
        CHECK(r.text_len == size && memcmp(r.text, in, size) == 0,
              "the text as sent is not the input");
        int valid = fuzz_utf8_valid(in, size);
        CHECK(!reject || valid, "invalid UTF-8 passed the reject policy");
        CHECK((r.invalid_utf8 > 0) == !valid, "invalid_utf8 %u on %s input", r.invalid_utf8,
              valid ? "valid" : "invalid");
    }
    CHECK(r.text != NULL && r.norm != NULL, "NULL text or norm");
    check_norm(&r);
    check_map(&r);
    check_regions(&r, opts.max_regions);
    check_strings(&r, with_meta ? &meta : NULL);
    check_as_document(&r);
    CHECK(r.duplicate_of_key == NULL && r.duplicate_of_id == NULL, "a duplicate on a first run");

    /* Again: the same result, reported as a duplicate of the first. */
    snapshot first;
    take(&first, &r);
    nlpd_ingest_meta meta2 = {"key-2", with_meta ? meta.id : NULL, with_meta ? meta.title : NULL};
    rc = nlpd_ingest_run(ing, in, size, format, &meta2, 2000, &r);
    CHECK(rc == 0, "the second run failed: %s", nlpd_err_name(rc));
    same(&first, &r);
    if (r.norm_len > 0) {
        if (with_meta)
            CHECK(r.duplicate_of_key != NULL && strcmp(r.duplicate_of_key, "key-1") == 0,
                  "duplicate_of_key \"%s\"", r.duplicate_of_key ? r.duplicate_of_key : "(null)");
        CHECK(r.duplicate_of_id != NULL && strcmp(r.duplicate_of_id, first.id) == 0,
              "duplicate_of_id \"%s\", the first id was \"%s\"",
              r.duplicate_of_id ? r.duplicate_of_id : "(null)", first.id);
    } else {
        CHECK(r.duplicate_of_key == NULL, "an empty text reported as a duplicate");
    }

    /* Normalization is idempotent. */
    if (!fuzz_skipped("INGEST_FUZZ_SKIP", "idem")) {
        nlpd_ingest *again = NULL;
        if (nlpd_ingest_new(&again, &opts) != 0)
            abort();
        rc = nlpd_ingest_run(again, first.norm, first.norm_len, NLPD_FORMAT_TEXT, NULL, 0, &r);
        CHECK(rc == 0, "re-ingesting norm failed: %s", nlpd_err_name(rc));
        CHECK(r.norm_is_text && r.norm_len == first.norm_len,
              "normalizing norm again changed it (%zu to %zu bytes)", first.norm_len, r.norm_len);
        nlpd_ingest_free(&again);
    }
    release(&first);
    nlpd_ingest_free(&ing);
    return 0;
}
