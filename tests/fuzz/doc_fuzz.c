/* tests/fuzz/doc_fuzz.c — libFuzzer target for the runtime's decoding of a
 * Document (stages/runtime/doc.c, validate.c): what every worker does with a
 * DOC message (nlpd_doc_parse), what the daemon's front door does with a
 * submission (nlpd__wire_validate, unpack, nlpd__doc_spans_valid), and what
 * nlpctl does with a result (nlpd__doc_validate, nlpd_doc_to_json). Build
 * and run it with clang (tests/fuzz/README.md has more):
 *
 *     cmake --build build/fuzz --target doc_fuzz
 *     build/fuzz/bin/doc_fuzz -max_total_time=600 -timeout=10 \
 *         build/fuzz/corpus-doc tests/fuzz/corpus/doc
 *
 * The input. When its first byte is 0xF8-0xFF (a tag of field 31 and up:
 * the few inputs that mean it lose that field) it is a control byte: its
 * bits 0-2 give a number n of additions; a flags byte follows (bit 0: a
 * failing allocator at call 1 + the byte after it), then 3 n bytes describe
 * the additions (kind % 5: sentence, token, entity, annotation, summary
 * index; bit 3 of the kind is a sentence's flag or a token's shape; two cut
 * points scaled to the text length + 4, so some lie past the end). The rest
 * is the encoded Document.
 *
 * What is checked:
 *  - nlpd_doc_parse fails with NLPD_EPROTO (or NLPD_ENOMEM with the failing
 *    allocator, and then recovers), and succeeds exactly when protobuf-c
 *    decodes the bytes and nlpd__doc_spans_valid accepts them;
 *  - the front door's check: bytes that pass nlpd__wire_validate, decode and
 *    have valid spans also pass nlpd__doc_validate (no string that is not
 *    UTF-8 gets through);
 *  - a parsed document's views agree with the message: every region,
 *    sentence, token and entity lies inside the text, and maps to a span of
 *    the text as sent (start <= end <= its length);
 *  - nlpd_doc_to_json succeeds on every parsed document and gives one JSON
 *    object whose "text" is the text as sent (lossless when it is UTF-8) and
 *    whose spans lie inside it;
 *  - decode -> encode -> decode -> encode gives the same bytes twice, and the
 *    re-decoded document the same views (for bytes that pass the front
 *    door's nlpd__wire_validate: see the comment at round_trip's call);
 *  - nlpctl's rendering (nlpd_client_render, daemon/client.c), whole and
 *    --minimal, succeeds exactly on what nlpd_doc_parse and
 *    nlpd__doc_validate accept, otherwise fails with NLPD_EPROTO and a
 *    reason, and gives a JSON object (--minimal: only the evaluation
 *    format's keys); DOC_FUZZ_SKIP=render turns this off, and
 *    DOC_FUZZ_SKIP=minimal-nul only for a JSON holding \u0000 (a known bug:
 *    --minimal refuses it);
 *  - an addition is refused with NLPD_EINVAL exactly when its span is not
 *    inside the text; the bytes received followed by the delta (what the
 *    daemon forwards) decode to the document with the additions appended.
 */
#define FUZZ_NAME "doc_fuzz"
#include "fuzz_common.h"

#include "client.h"
#include "nlpd/doc.h"
#include "nlpd/error.h"
#include "nlpd/json.h"
#include "nlpd_internal.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ADD 7

typedef struct addition {
    uint8_t kind;
    uint32_t start, end;
} addition;

static void
check_span_out(json_t *pair_or_obj, size_t sent_len, const char *what, size_t i)
{
    json_int_t s, e;
    if (json_is_array(pair_or_obj)) {
        s = json_integer_value(json_array_get(pair_or_obj, 0));
        e = json_integer_value(json_array_get(pair_or_obj, 1));
    } else {
        if (json_object_get(pair_or_obj, "start") == NULL)
            return; /* an annotation without a span */
        s = json_integer_value(json_object_get(pair_or_obj, "start"));
        e = json_integer_value(json_object_get(pair_or_obj, "end"));
    }
    CHECK(0 <= s && s <= e && (size_t)e <= sent_len,
          "JSON %s %zu is [%lld, %lld), the text as sent %zu bytes", what, i, (long long)s,
          (long long)e, sent_len);
}

/* The JSON output of a parsed document. */
static void
check_json(nlpd_doc *doc)
{
    char *out = NULL;
    size_t len = 0;
    int rc = nlpd_doc_to_json(doc, NLPD_JSON_DEFAULT | NLPD_JSON_NORM, &out, &len);
    CHECK(rc == 0, "nlpd_doc_to_json failed: %s", nlpd_err_name(rc));
    CHECK(strlen(out) == len, "the JSON's length is not %zu", len);
    json_error_t err;
    json_t *root = json_loadb(out, len, JSON_ALLOW_NUL, &err);
    CHECK(json_is_object(root), "the output is no JSON object: %s", err.text);
    size_t sent_len;
    const char *sent = nlpd_doc_sent_text(doc, &sent_len);
    if (sent_len == 0 && nlpd__doc_pb(doc)->ingest == NULL)
        sent = nlpd_doc_input(doc, &sent_len);
    json_t *text = json_object_get(root, "text");
    CHECK(json_is_string(text), "no \"text\"");
    int lossy = json_is_true(json_object_get(root, "text_lossy"));
    CHECK(lossy == !fuzz_utf8_valid(sent, sent_len), "text_lossy %d", lossy);
    if (!lossy)
        CHECK(json_string_length(text) == sent_len &&
                  memcmp(json_string_value(text), sent, sent_len) == 0,
              "\"text\" is not the text as sent");
    static const char *const lists[] = {"sentences", "tokens", "entities", "regions",
                                        "annotations"};
    for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
        json_t *arr = json_object_get(root, lists[k]);
        for (size_t i = 0; i < json_array_size(arr); i++)
            check_span_out(json_array_get(arr, i), sent_len, lists[k], i);
    }
    json_decref(root);
    nlpd_free(out);
}

/* nlpctl's rendering of a result (daemon/client.c): the same decode and
 * validation, then the JSON, whole or cut to the evaluation format's keys
 * (--minimal). `valid` is 1 when nlpd_doc_parse and nlpd__doc_validate
 * accept the bytes. */
static void
check_render(const uint8_t *buf, size_t len, int valid)
{
    static const char *const keep[] = {"id",      "text",         "sentences", "entities",
                                       "summary", "summary_text", "errors"};
    nlpd_doc *doc = NULL;
    if (nlpd_doc_new(&doc) != 0)
        abort();
    int has_nul = 0; /* the whole JSON holds \u0000 */
    for (int minimal = 0; minimal <= 1; minimal++) {
        char *out = NULL, why[256] = "";
        size_t n = 0;
        int rc = nlpd_client_render(doc, buf, len, NLPD_JSON_DEFAULT, minimal, &out, &n, why,
                                    sizeof(why));
        if (rc == 0 && !minimal)
            has_nul = strstr(out, "\\u0000") != NULL;
        /* A known bug, to fuzz on past it: --minimal re-reads the JSON
         * without JSON_ALLOW_NUL (daemon/client.c). */
        if (minimal && has_nul && fuzz_skipped("DOC_FUZZ_SKIP", "minimal-nul"))
            rc = rc == NLPD_EPROTO ? 0 : rc;
        CHECK(rc == (valid ? 0 : NLPD_EPROTO), "nlpd_client_render(minimal %d): %s (%s)", minimal,
              nlpd_err_name(rc), why);
        if (rc != 0 || out == NULL) {
            CHECK(rc == 0 || why[0] != '\0', "NLPD_EPROTO without a reason");
            continue;
        }
        json_error_t err;
        json_t *root = json_loadb(out, n, JSON_ALLOW_NUL, &err);
        CHECK(json_is_object(root), "rendered, not a JSON object: %s", err.text);
        if (minimal) {
            const char *k;
            json_t *v;
            json_object_foreach(root, k, v)
            {
                int known = 0;
                for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
                    known |= strcmp(k, keep[i]) == 0;
                CHECK(known, "--minimal kept \"%s\"", k);
            }
        }
        json_decref(root);
        nlpd_free(out);
    }
    nlpd_doc_free(&doc);
}

/* What the views of a parsed document promise. */
static void
check_views(nlpd_doc *doc)
{
    size_t tlen, slen;
    nlpd_doc_text(doc, &tlen);
    nlpd_doc_sent_text(doc, &slen);
    const Nlpd__V1__Document *pb = nlpd__doc_pb(doc);
    CHECK(pb != NULL, "parsed, but no message");
    const nlpd_region *rg;
    size_t nr = nlpd_doc_regions(doc, &rg);
    CHECK(nr == pb->n_regions, "%zu regions of %zu", nr, pb->n_regions);
    const uint32_t *st, *en, *fl;
    nlpd_span spans[4096];
    size_t n = 0;
    for (size_t i = 0; i < nr && n < 4096; i++)
        spans[n++] = (nlpd_span){rg[i].start, rg[i].end};
    size_t ns = nlpd_doc_sentences(doc, &st, &en, &fl);
    for (size_t i = 0; i < ns && n < 4096; i++)
        spans[n++] = (nlpd_span){st[i], en[i]};
    size_t nt = nlpd_doc_tokens(doc, &st, &en, NULL);
    for (size_t i = 0; i < nt && n < 4096; i++)
        spans[n++] = (nlpd_span){st[i], en[i]};
    size_t ne = nlpd_doc_entity_count(doc);
    for (size_t i = 0; i < ne; i++) {
        nlpd_entity e;
        CHECK(nlpd_doc_entity(doc, i, &e) == 0 && e.label != NULL, "entity %zu unreadable", i);
        if (n < 4096)
            spans[n++] = (nlpd_span){e.start, e.end};
    }
    nlpd_entity e;
    CHECK(nlpd_doc_entity(doc, ne, &e) == NLPD_EINVAL, "entity %zu of %zu read", ne, ne);
    size_t nerr = nlpd_doc_error_count(doc);
    for (size_t i = 0; i < nerr; i++) {
        nlpd_error_record er;
        CHECK(nlpd_doc_error(doc, i, &er) == 0 && er.stage && er.code && er.message,
              "error %zu unreadable", i);
    }
    for (size_t i = 0; i < n; i++) {
        CHECK(spans[i].start <= spans[i].end && spans[i].end <= tlen,
              "span %zu [%u, %u) outside the text of %zu bytes", i, spans[i].start, spans[i].end,
              tlen);
        nlpd_span m = nlpd_doc_map_span(doc, spans[i]);
        CHECK(m.start <= m.end && m.end <= slen,
              "span %zu [%u, %u) maps to [%u, %u), the text as sent is %zu bytes", i,
              spans[i].start, spans[i].end, m.start, m.end, slen);
    }
    size_t nsum;
    const uint32_t *sel = nlpd_doc_summary(doc, &nsum);
    CHECK((sel == NULL) == (nsum == 0), "summary %p of %zu", (const void *)sel, nsum);
    (void)nlpd_doc_wants_stage(doc, "split");
    (void)nlpd_doc_option(doc, "x");
    (void)nlpd_doc_meta(doc, "x");
    (void)nlpd_doc_summary_budget(doc);
    (void)nlpd_doc_format_option(doc);
    (void)nlpd_doc_has_fatal_error(doc);
}

/* Encodes the whole parsed document; the caller frees. */
static uint8_t *
full_pack(nlpd_doc *doc, size_t *len)
{
    ssize_t n = nlpd__doc_full_size(doc);
    CHECK(n >= 0, "full size failed: %s", nlpd_err_name((int)n));
    uint8_t *buf = malloc((size_t)n + 1);
    if (buf == NULL)
        abort();
    ssize_t w = nlpd__doc_full_pack(doc, buf);
    CHECK(w == n, "packed %zd of %zd bytes", w, n);
    *len = (size_t)n;
    return buf;
}

static void
round_trip(nlpd_doc *doc)
{
    size_t n1, n2;
    uint8_t *b1 = full_pack(doc, &n1);
    nlpd_doc *again = NULL;
    if (nlpd_doc_new(&again) != 0)
        abort();
    int rc = nlpd_doc_parse(again, b1, n1);
    CHECK(rc == 0, "the re-encoded document does not decode: %s", nlpd_err_name(rc));
    size_t l1, l2;
    const char *t1 = nlpd_doc_text(doc, &l1), *t2 = nlpd_doc_text(again, &l2);
    CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0, "the text changed in a round trip");
    t1 = nlpd_doc_sent_text(doc, &l1), t2 = nlpd_doc_sent_text(again, &l2);
    CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0, "the text as sent changed in a round trip");
    const uint32_t *s1, *e1, *s2, *e2;
    size_t c1 = nlpd_doc_sentences(doc, &s1, &e1, NULL), c2 = nlpd_doc_sentences(again, &s2, &e2, NULL);
    CHECK(c1 == c2 && (c1 == 0 || (memcmp(s1, s2, c1 * 4) == 0 && memcmp(e1, e2, c1 * 4) == 0)),
          "sentences changed in a round trip");
    CHECK(nlpd_doc_entity_count(doc) == nlpd_doc_entity_count(again),
          "entities changed in a round trip");
    CHECK(strcmp(nlpd_doc_id(doc), nlpd_doc_id(again)) == 0, "the id changed in a round trip");
    uint8_t *b2 = full_pack(again, &n2);
    CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0, "encode-decode-encode is not stable (%zu, %zu)", n1,
          n2);
    free(b1);
    free(b2);
    nlpd_doc_free(&again);
}

/* Adds what the header asks for to `doc` (parsed from `buf`), checks the
 * refusals, and decodes `buf` + delta. */
static void
additions(nlpd_doc *doc, const uint8_t *buf, size_t len, const addition *add, size_t n_add)
{
    size_t tlen;
    nlpd_doc_text(doc, &tlen);
    const uint32_t *st, *en;
    size_t ns0 = nlpd_doc_sentences(doc, &st, &en, NULL);
    size_t nt0 = nlpd_doc_tokens(doc, &st, &en, NULL);
    size_t ne0 = nlpd_doc_entity_count(doc);
    size_t ns = 0, nt = 0, ne = 0, nsum = 0;
    uint32_t sel[MAX_ADD];
    for (size_t i = 0; i < n_add; i++) {
        const addition *a = &add[i];
        int in = a->start <= a->end && a->end <= tlen;
        int rc = 0;
        nlpd_span sp = {a->start, a->end};
        switch (a->kind % 5) {
        case 0:
            rc = nlpd_doc_add_sentence(doc, a->start, a->end, a->kind >> 3 & 1u);
            ns += rc == 0;
            break;
        case 1:
            rc = nlpd_doc_add_token(doc, a->start, a->end, a->kind >> 3);
            nt += rc == 0;
            break;
        case 2:
            rc = nlpd_doc_add_entity(doc, a->start, a->end, "PER", 0.5f);
            ne += rc == 0;
            break;
        case 3:
            rc = nlpd_doc_add_annotation(doc, "k", &sp, "v", 1.0);
            break;
        default:
            sel[nsum++] = a->start;
            in = 1;
            break;
        }
        CHECK(rc == (in ? 0 : NLPD_EINVAL), "addition %zu [%u, %u) of %zu bytes: %s", i,
              a->start, a->end, tlen, nlpd_err_name(rc));
    }
    if (nsum > 0)
        CHECK(nlpd_doc_set_summary(doc, sel, nsum, NULL, 0) == 0, "summary refused");
    ssize_t dn = nlpd_doc_delta_size(doc);
    CHECK(dn >= 0, "delta size: %s", nlpd_err_name((int)dn));
    CHECK((dn > 0) == (nlpd_doc_has_additions(doc) != 0), "delta of %zd bytes", dn);
    uint8_t *merged = malloc(len + (size_t)dn + 1);
    if (merged == NULL)
        abort();
    if (len)
        memcpy(merged, buf, len);
    ssize_t w = nlpd_doc_delta_pack(doc, merged + len);
    CHECK(w == dn, "delta packed %zd of %zd bytes", w, dn);
    nlpd_doc *m = NULL;
    if (nlpd_doc_new(&m) != 0)
        abort();
    int rc = nlpd_doc_parse(m, merged, len + (size_t)dn);
    if (rc != 0) {
        char why[256] = "protobuf-c refuses it";
        nlpd__arena *a = NULL;
        if (nlpd__arena_new(&a) != 0)
            abort();
        Nlpd__V1__Document *pb =
            nlpd__v1__document__unpack(nlpd__arena_allocator(a), len + (size_t)dn, merged);
        if (pb != NULL)
            nlpd__doc_spans_valid(pb, why, sizeof(why));
        CHECK(rc == 0, "the document and its delta do not decode: %s (%s)", nlpd_err_name(rc), why);
    }
    CHECK(nlpd_doc_sentences(m, &st, &en, NULL) == ns0 + ns, "sentences not appended");
    CHECK(nlpd_doc_tokens(m, &st, &en, NULL) == nt0 + nt, "tokens not appended");
    CHECK(nlpd_doc_entity_count(m) == ne0 + ne, "entities not appended");
    check_views(m);
    nlpd_doc_free(&m);
    free(merged);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_alloc_setup();
    addition add[MAX_ADD];
    size_t n_add = 0;
    long fail_at = 0;
    const uint8_t *hdr = NULL;
    if (size >= 2 && data[0] >= 0xF8) {
        n_add = data[0] & 7u;
        uint8_t flags = data[1];
        data += 2, size -= 2;
        if ((flags & 1) && size > 0) {
            fail_at = 1 + data[0];
            data++, size--;
        }
        if (n_add * 3 > size)
            n_add = size / 3;
        hdr = data;
        data += 3 * n_add, size -= 3 * n_add;
    }
    /* An exact copy, so that ASan sees a read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        abort();
    if (size)
        memcpy(buf, data, size);

    /* The front door: wire check, decode, span check. */
    char why[256];
    int wire_ok = nlpd__wire_validate(buf, size, why, sizeof(why)) == 0;
    nlpd__arena *arena = NULL;
    if (nlpd__arena_new(&arena) != 0)
        abort();
    Nlpd__V1__Document *pb =
        nlpd__v1__document__unpack(nlpd__arena_allocator(arena), size, buf);
    int spans_ok = pb != NULL && nlpd__doc_spans_valid(pb, why, sizeof(why)) == 0;
    if (wire_ok && spans_ok)
        CHECK(nlpd__doc_validate(pb, why, sizeof(why)) == 0,
              "passed the front door's checks but not nlpd__doc_validate: %s", why);

    /* A worker's decode. */
    nlpd_doc *doc = NULL;
    if (nlpd_doc_new(&doc) != 0)
        abort();
    fuzz_fail_at(fail_at);
    int rc = nlpd_doc_parse(doc, buf, size);
    fuzz_fail_at(0);
    if (rc == NLPD_ENOMEM && fail_at > 0)
        rc = nlpd_doc_parse(doc, buf, size);
    CHECK(rc == 0 || rc == NLPD_EPROTO, "nlpd_doc_parse: %s", nlpd_err_name(rc));
    CHECK((rc == 0) == spans_ok, "nlpd_doc_parse %s, decode and span check %s", nlpd_err_name(rc),
          spans_ok ? "passed" : "failed");
    if (!fuzz_skipped("DOC_FUZZ_SKIP", "render"))
        check_render(buf, size,
                     rc == 0 && nlpd__doc_validate(nlpd__doc_pb(doc), why, sizeof(why)) == 0);
    if (rc == 0) {
        check_views(doc);
        check_json(doc);
        /* protobuf-c 1.4.1 accepts a field number 0 written as a
         * two-byte tag (0x81 0x00), keeps it as an unknown field, and
         * re-encodes it as 0x01, which it then refuses: the daemon's front
         * door refuses such bytes (nlpd__wire_validate), so the round trip
         * is promised for what it lets through. */
        if (wire_ok)
            round_trip(doc);
        for (size_t i = 0; i < n_add; i++) {
            size_t tlen;
            nlpd_doc_text(doc, &tlen);
            const uint8_t *b = hdr + 3 * i;
            add[i].kind = b[0];
            add[i].start = (uint32_t)((size_t)b[1] * (tlen + 4) / 255);
            add[i].end = (uint32_t)((size_t)b[2] * (tlen + 4) / 255);
        }
        additions(doc, buf, size, add, n_add);
    } else {
        size_t tlen;
        nlpd_doc_text(doc, &tlen);
        CHECK(tlen == 0 && nlpd_doc_entity_count(doc) == 0, "a failed parse left content");
    }
    nlpd_doc_free(&doc);
    nlpd__arena_free(&arena);
    free(buf);
    return 0;
}
