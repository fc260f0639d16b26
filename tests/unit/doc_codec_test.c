/* tests/unit/doc_codec_test.c — the columns and entities that nlpd_doc
 * decodes and encodes by hand (stages/runtime/doc.c) against protobuf-c.
 *
 * Every document here is also unpacked by the generated protobuf-c code, and
 * nlpd_doc must read exactly what protobuf-c reads: the same values, merged
 * the same way when a field comes more than once, refused where protobuf-c
 * refuses. Deltas are checked by protobuf-c decoding them.
 */
#include "nlpd/alloc.h"
#include "nlpd/doc.h"
#include "nlpd/error.h"
#include "nlpd_internal.h"
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

/* --- Helpers --------------------------------------------------------------- */

static uint8_t *
pack_doc(const Nlpd__V1__Document *d, size_t *len)
{
    *len = nlpd__v1__document__get_packed_size(d);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    assert_int_equal(nlpd__v1__document__pack(d, buf), *len);
    return buf;
}

static void
assert_cols_equal(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    assert_int_equal(na, nb);
    if (na > 0)
        assert_memory_equal(a, b, na * sizeof(*a));
}

/* nlpd_doc_parse reads what protobuf-c reads from `buf`. */
static void
assert_parse_matches(const uint8_t *buf, size_t len)
{
    Nlpd__V1__Document *ref = nlpd__v1__document__unpack(NULL, len, buf);
    assert_non_null(ref);
    nlpd_doc *doc;
    assert_int_equal(nlpd_doc_new(&doc), 0);
    assert_int_equal(nlpd_doc_parse(doc, buf, len), 0);
    const Nlpd__V1__Document *pb = nlpd__doc_pb(doc);
    assert_int_equal(pb->sentences != NULL, ref->sentences != NULL);
    if (ref->sentences != NULL) {
        assert_cols_equal(pb->sentences->start, pb->sentences->n_start, ref->sentences->start,
                          ref->sentences->n_start);
        assert_cols_equal(pb->sentences->end, pb->sentences->n_end, ref->sentences->end,
                          ref->sentences->n_end);
        assert_cols_equal(pb->sentences->flags, pb->sentences->n_flags, ref->sentences->flags,
                          ref->sentences->n_flags);
    }
    assert_int_equal(pb->tokens != NULL, ref->tokens != NULL);
    if (ref->tokens != NULL) {
        assert_cols_equal(pb->tokens->start, pb->tokens->n_start, ref->tokens->start,
                          ref->tokens->n_start);
        assert_cols_equal(pb->tokens->end, pb->tokens->n_end, ref->tokens->end,
                          ref->tokens->n_end);
        assert_cols_equal(pb->tokens->shape, pb->tokens->n_shape, ref->tokens->shape,
                          ref->tokens->n_shape);
    }
    assert_int_equal(pb->n_entities, ref->n_entities);
    for (size_t i = 0; i < ref->n_entities; i++) {
        assert_int_equal(pb->entities[i]->start, ref->entities[i]->start);
        assert_int_equal(pb->entities[i]->end, ref->entities[i]->end);
        assert_string_equal(pb->entities[i]->label, ref->entities[i]->label);
        assert_memory_equal(&pb->entities[i]->score, &ref->entities[i]->score, sizeof(float));
    }
    assert_int_equal(pb->text.len, ref->text.len);
    assert_int_equal(pb->n_trace, ref->n_trace);
    /* Encoded again, the message is what protobuf-c's would be. */
    assert_int_equal(nlpd__v1__document__get_packed_size(pb),
                     nlpd__v1__document__get_packed_size(ref));
    nlpd__v1__document__free_unpacked(ref, NULL);
    nlpd_doc_free(&doc);
}

/* A text of `n` bytes and that many one-byte tokens, sentences of 10. */
typedef struct sample {
    char text[70000];
    uint32_t ts[20000], te[20000], sh[20000];
    uint32_t ss[2000], se[2000], sf[2000];
    Nlpd__V1__Tokens tok;
    Nlpd__V1__Sentences sen;
    Nlpd__V1__Entity ent[3];
    Nlpd__V1__Entity *entp[3];
    Nlpd__V1__Document doc;
} sample;

/* Offsets up to 66,000 (varints of 1 to 3 bytes), shapes 0..300. */
static sample *
sample_new(size_t n_tok)
{
    sample *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    memset(s->text, 'a', sizeof(s->text));
    nlpd__v1__document__init(&s->doc);
    s->doc.text.data = (uint8_t *)s->text;
    s->doc.text.len = sizeof(s->text);
    nlpd__v1__tokens__init(&s->tok);
    nlpd__v1__sentences__init(&s->sen);
    size_t n_sen = 0;
    for (size_t i = 0; i < n_tok; i++) {
        s->ts[i] = (uint32_t)(i * 3);
        s->te[i] = (uint32_t)(i * 3 + 2);
        s->sh[i] = (uint32_t)(i % 301);
        if (i % 10 == 0) {
            s->ss[n_sen] = s->ts[i];
            s->se[n_sen] = (uint32_t)((i + 10 < n_tok ? i + 9 : n_tok - 1) * 3 + 2);
            s->sf[n_sen] = (uint32_t)(n_sen % 3);
            n_sen++;
        }
    }
    s->tok.n_start = s->tok.n_end = s->tok.n_shape = n_tok;
    s->tok.start = s->ts;
    s->tok.end = s->te;
    s->tok.shape = s->sh;
    s->sen.n_start = s->sen.n_end = s->sen.n_flags = n_sen;
    s->sen.start = s->ss;
    s->sen.end = s->se;
    s->sen.flags = s->sf;
    static const char *const labels[] = {"PER", "ORG", ""};
    for (int i = 0; i < 3; i++) {
        nlpd__v1__entity__init(&s->ent[i]);
        s->ent[i].start = (uint32_t)(i * 20000);
        s->ent[i].end = (uint32_t)(i * 20000 + 5);
        s->ent[i].label = (char *)labels[i];
        s->ent[i].score = 0.25f * (float)i;
        s->entp[i] = &s->ent[i];
    }
    s->doc.tokens = &s->tok;
    s->doc.sentences = &s->sen;
    s->doc.entities = s->entp;
    s->doc.n_entities = 3;
    return s;
}

/* --- Decoding -------------------------------------------------------------- */

static void
test_doc_codec_parse_reads_what_protobuf_c_reads(void **state)
{
    (void)state;
    sample *s = sample_new(20000);
    size_t len;
    uint8_t *buf = pack_doc(&s->doc, &len);
    assert_parse_matches(buf, len);
    free(buf);
    /* Without the third columns, and without tokens at all. */
    s->tok.n_shape = 0;
    s->sen.n_flags = 0;
    buf = pack_doc(&s->doc, &len);
    assert_parse_matches(buf, len);
    free(buf);
    s->doc.tokens = NULL;
    s->doc.n_entities = 0;
    buf = pack_doc(&s->doc, &len);
    assert_parse_matches(buf, len);
    free(buf);
    free(s);
}

static void
test_doc_codec_parse_merges_fields_sent_more_than_once(void **state)
{
    (void)state;
    /* A document, then two deltas' worth of columns and entities appended,
     * as the daemon concatenates them. */
    sample *a = sample_new(500), *b = sample_new(300);
    size_t la, lb;
    uint8_t *ba = pack_doc(&a->doc, &la), *bb = pack_doc(&b->doc, &lb);
    uint8_t *all = malloc(la + 2 * lb);
    assert_non_null(all);
    memcpy(all, ba, la);
    memcpy(all + la, bb, lb);
    memcpy(all + la + lb, bb, lb);
    assert_parse_matches(all, la + 2 * lb);
    free(all);
    free(ba);
    free(bb);
    free(a);
    free(b);
}

/* A document with a 400-byte text followed by `tail`, malloc'd. */
static uint8_t *
with_text(const uint8_t *tail, size_t tail_len, size_t *len)
{
    static char text[400];
    memset(text, 'a', sizeof(text));
    Nlpd__V1__Document d = NLPD__V1__DOCUMENT__INIT;
    d.text.data = (uint8_t *)text;
    d.text.len = sizeof(text);
    size_t hl;
    uint8_t *head = pack_doc(&d, &hl);
    uint8_t *all = malloc(hl + tail_len);
    assert_non_null(all);
    memcpy(all, head, hl);
    memcpy(all + hl, tail, tail_len);
    free(head);
    *len = hl + tail_len;
    return all;
}

static void
test_doc_codec_parse_reads_values_that_are_not_packed(void **state)
{
    (void)state;
    /* Tokens { start: 1 and start: 300 (not packed), end: [2, 301]
     * (packed) }, Entity { 1: 4, 2: 9, 3: "LOC", 4: 0.5f, 3: "GPE" (the
     * last wins) }. */
    static const uint8_t tail[] = {
        0xAA, 0x01, 0x0A,             /* tokens (21), 10 bytes */
        0x08, 0x01,                   /*   start 1 */
        0x08, 0xAC, 0x02,             /*   start 300 */
        0x12, 0x03, 0x02, 0xAD, 0x02, /*   end [2, 301] */
        0xB2, 0x01, 0x13,             /* entities (22), 19 bytes */
        0x08, 0x04, 0x10, 0x09,       /*   start 4, end 9 */
        0x1A, 0x03, 'L',  'O',  'C',  /*   label */
        0x25, 0x00, 0x00, 0x00, 0x3F, /*   score 0.5f */
        0x1A, 0x03, 'G',  'P',  'E',  /*   label again */
    };
    size_t len;
    uint8_t *all = with_text(tail, sizeof(tail), &len);
    assert_parse_matches(all, len);
    nlpd_doc *doc;
    assert_int_equal(nlpd_doc_new(&doc), 0);
    assert_int_equal(nlpd_doc_parse(doc, all, len), 0);
    const uint32_t *st, *en, *sh;
    assert_int_equal(nlpd_doc_tokens(doc, &st, &en, &sh), 2);
    assert_int_equal(st[1], 300);
    assert_int_equal(en[1], 301);
    assert_null(sh);
    nlpd_entity e;
    assert_int_equal(nlpd_doc_entity(doc, 0, &e), 0);
    assert_string_equal(e.label, "GPE");
    assert_true(e.score == 0.5f);
    nlpd_doc_free(&doc);
    free(all);
}

static void
test_doc_codec_parse_keeps_unknown_fields_as_protobuf_c_does(void **state)
{
    (void)state;
    /* A newer producer's fields inside Tokens (9: 7, 10: "xy") and inside an
     * Entity (7: 1): kept, so the message encodes back to every byte. */
    static const uint8_t tail[] = {
        0xAA, 0x01, 0x0E,             /* tokens (21), 14 bytes */
        0x0A, 0x02, 0x01, 0x05,       /*   start [1, 5] */
        0x12, 0x02, 0x02, 0x06,       /*   end [2, 6] */
        0x48, 0x07,                   /*   9: 7 */
        0x52, 0x02, 'x',  'y',        /*   10: "xy" */
        0xB2, 0x01, 0x06,             /* entities (22), 6 bytes */
        0x08, 0x04, 0x10, 0x09,       /*   start 4, end 9 */
        0x38, 0x01,                   /*   7: 1 */
    };
    size_t len;
    uint8_t *all = with_text(tail, sizeof(tail), &len);
    assert_parse_matches(all, len);
    free(all);
}

/* Both refuse: nlpd_doc_parse says NLPD_EPROTO where protobuf-c says NULL. */
static void
assert_both_refuse(const uint8_t *msg, size_t len)
{
    assert_null(nlpd__v1__document__unpack(NULL, len, msg));
    nlpd_doc *doc;
    assert_int_equal(nlpd_doc_new(&doc), 0);
    assert_int_equal(nlpd_doc_parse(doc, msg, len), NLPD_EPROTO);
    nlpd_doc_free(&doc);
}

static void
test_doc_codec_parse_refuses_what_protobuf_c_refuses(void **state)
{
    (void)state;
    /* A packed run whose last varint is cut. */
    static const uint8_t cut[] = {0xAA, 0x01, 0x04, 0x0A, 0x02, 0x01, 0x80};
    assert_both_refuse(cut, sizeof(cut));
    /* A known column with a fixed32 wire type. */
    static const uint8_t fixed[] = {0xAA, 0x01, 0x05, 0x0D, 0x01, 0x00, 0x00, 0x00};
    assert_both_refuse(fixed, sizeof(fixed));
    /* A Tokens message longer than the document. */
    static const uint8_t longer[] = {0xAA, 0x01, 0x09, 0x0A, 0x01, 0x01};
    assert_both_refuse(longer, sizeof(longer));
    /* An entity whose label is a varint. */
    static const uint8_t label[] = {0xB2, 0x01, 0x02, 0x18, 0x01};
    assert_both_refuse(label, sizeof(label));
    /* An entity whose score is cut. */
    static const uint8_t score[] = {0xB2, 0x01, 0x03, 0x25, 0x00, 0x00};
    assert_both_refuse(score, sizeof(score));
    /* A varint of 11 bytes in a packed run. */
    static const uint8_t huge[] = {0xAA, 0x01, 0x0D, 0x0A, 0x0B, 0x80, 0x80, 0x80, 0x80,
                                   0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    assert_both_refuse(huge, sizeof(huge));
}

static void
test_doc_codec_parse_returns_enomem_when_the_arena_cannot_grow(void **state)
{
    (void)state;
    sample *s = sample_new(20000);
    size_t len;
    uint8_t *buf = pack_doc(&s->doc, &len);
    long live0 = nlpd_test_alloc_live();
    int ok = 0, failures = 0;
    for (long fail = 0; !ok && fail < 1000; fail++) {
        nlpd_doc *doc;
        nlpd_test_alloc_fail_after(-1);
        assert_int_equal(nlpd_doc_new(&doc), 0);
        nlpd_test_alloc_fail_after(fail);
        int rc = nlpd_doc_parse(doc, buf, len);
        nlpd_test_alloc_fail_after(-1);
        if (rc == 0) {
            ok = 1;
        } else {
            assert_int_equal(rc, NLPD_ENOMEM);
            failures++;
            /* The document is usable again once memory is there. */
            assert_int_equal(nlpd_doc_parse(doc, buf, len), 0);
        }
        nlpd_doc_free(&doc);
        assert_int_equal(nlpd_test_alloc_live(), live0);
    }
    assert_true(ok);
    assert_true(failures >= 2); /* the scratch buffers and the arena's chunks */
    free(buf);
    free(s);
}

/* --- Encoding -------------------------------------------------------------- */

static void
test_doc_codec_delta_columns_decode_as_added(void **state)
{
    (void)state;
    /* A text of 300,000 bytes: offsets of 1 to 3 byte varints; shapes and
     * flags up to 2^32 - 1 (5 bytes). */
    size_t tlen = 300000;
    char *text = malloc(tlen);
    assert_non_null(text);
    memset(text, 'a', tlen);
    Nlpd__V1__Document d = NLPD__V1__DOCUMENT__INIT;
    d.text.data = (uint8_t *)text;
    d.text.len = tlen;
    size_t len;
    uint8_t *buf = pack_doc(&d, &len);
    nlpd_doc *doc;
    assert_int_equal(nlpd_doc_new(&doc), 0);
    assert_int_equal(nlpd_doc_parse(doc, buf, len), 0);
    static const uint32_t shapes[] = {0, 1, 127, 128, 16383, 16384, 2097151, 2097152,
                                      268435455, 268435456, UINT32_MAX};
    size_t n = 0;
    for (uint32_t off = 0; off + 7 <= tlen; off += 997, n++) {
        assert_int_equal(nlpd_doc_add_token(doc, off, off + 7, shapes[n % 11]), 0);
        if (n % 5 == 0)
            assert_int_equal(nlpd_doc_add_sentence(doc, off, off + 7, shapes[(n + 3) % 11]), 0);
    }
    assert_int_equal(nlpd_doc_add_entity(doc, 5, 9, "PER", 0.5f), 0);
    ssize_t dn = nlpd_doc_delta_size(doc);
    assert_true(dn > 0);
    uint8_t *delta = malloc((size_t)dn);
    assert_non_null(delta);
    assert_int_equal(nlpd_doc_delta_pack(doc, delta), dn);
    Nlpd__V1__Document *got = nlpd__v1__document__unpack(NULL, (size_t)dn, delta);
    assert_non_null(got);
    assert_non_null(got->tokens);
    assert_int_equal(got->tokens->n_start, n);
    assert_int_equal(got->tokens->n_shape, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got->tokens->start[i], i * 997);
        assert_int_equal(got->tokens->end[i], i * 997 + 7);
        assert_int_equal(got->tokens->shape[i], shapes[i % 11]);
    }
    assert_int_equal(got->sentences->n_start, (n + 4) / 5);
    assert_int_equal(got->sentences->n_flags, (n + 4) / 5);
    for (size_t i = 0; i < got->sentences->n_start; i++)
        assert_int_equal(got->sentences->flags[i], shapes[(i * 5 + 3) % 11]);
    assert_int_equal(got->n_entities, 1);
    nlpd__v1__document__free_unpacked(got, NULL);
    /* One more token after the size was asked: the encoding sizes are
     * computed again, not taken from before. */
    assert_int_equal(nlpd_doc_add_token(doc, 1, 200000, 300), 0);
    ssize_t dn2 = nlpd_doc_delta_size(doc);
    assert_int_equal(dn2, dn + 1 + 3 + 2); /* varints of 1, 3 and 2 bytes more */
    uint8_t *delta2 = malloc((size_t)dn2);
    assert_non_null(delta2);
    assert_int_equal(nlpd_doc_delta_pack(doc, delta2), dn2);
    got = nlpd__v1__document__unpack(NULL, (size_t)dn2, delta2);
    assert_non_null(got);
    assert_int_equal(got->tokens->n_start, n + 1);
    assert_int_equal(got->tokens->end[n], 200000);
    assert_int_equal(got->tokens->shape[n], 300);
    nlpd__v1__document__free_unpacked(got, NULL);
    free(delta2);
    nlpd_doc_drop_additions(doc);
    assert_int_equal(nlpd_doc_add_token(doc, 1, 2, 3), 0);
    uint8_t small[64];
    ssize_t dn3 = nlpd_doc_delta_size(doc);
    assert_true(dn3 > 0 && (size_t)dn3 <= sizeof(small));
    assert_int_equal(nlpd_doc_delta_pack(doc, small), dn3);
    got = nlpd__v1__document__unpack(NULL, (size_t)dn3, small);
    assert_non_null(got);
    assert_int_equal(got->tokens->n_start, 1);
    assert_null(got->sentences);
    nlpd__v1__document__free_unpacked(got, NULL);
    /* The document as sent plus the delta reads back through the hand
     * decoder as through protobuf-c. */
    uint8_t *all = malloc(len + (size_t)dn);
    assert_non_null(all);
    memcpy(all, buf, len);
    memcpy(all + len, delta, (size_t)dn);
    assert_parse_matches(all, len + (size_t)dn);
    free(all);
    free(delta);
    nlpd_doc_free(&doc);
    free(buf);
    free(text);
}

static int
setup(void **state)
{
    (void)state;
    nlpd_test_alloc_install();
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_codec_parse_reads_what_protobuf_c_reads),
        cmocka_unit_test(test_doc_codec_parse_merges_fields_sent_more_than_once),
        cmocka_unit_test(test_doc_codec_parse_reads_values_that_are_not_packed),
        cmocka_unit_test(test_doc_codec_parse_keeps_unknown_fields_as_protobuf_c_does),
        cmocka_unit_test(test_doc_codec_parse_refuses_what_protobuf_c_refuses),
        cmocka_unit_test(test_doc_codec_parse_returns_enomem_when_the_arena_cannot_grow),
        cmocka_unit_test(test_doc_codec_delta_columns_decode_as_added),
    };
    return cmocka_run_group_tests_name("doc_codec", tests, setup, NULL);
}
