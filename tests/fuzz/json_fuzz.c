/* tests/fuzz/json_fuzz.c — libFuzzer target for the JSON Lines input that
 * nlpctl and the daemon's front door accept (nlpd_submission_from_json,
 * stages/runtime/json.c), followed through to the JSON output. Build and
 * run it with clang (tests/fuzz/README.md has more):
 *
 *     cmake --build build/fuzz --target json_fuzz
 *     build/fuzz/bin/json_fuzz -max_total_time=600 -timeout=10 \
 *         build/fuzz/corpus-json tests/fuzz/corpus/json
 *
 * The input is one line of the evaluation format ({"id", "title", "text",
 * "options": {...}, "metadata": {...}}), or anything else. When its first
 * byte is 0xF8-0xFF (never in UTF-8, so never in JSON) the next byte asks for
 * a failing allocator at call 1 + its value: the call must then fail with
 * NLPD_ENOMEM or succeed.
 *
 * What is checked:
 *  - the input is refused with NLPD_EFORMAT and a reason exactly when it is
 *    not a JSON object (jansson, duplicate keys refused) with a string
 *    "text" (or "body"), or an "id", "options" or "metadata" of the wrong
 *    type; nothing else fails;
 *  - what it encodes passes the front door (nlpd__wire_validate, decode,
 *    span check) and nlpd__doc_validate, decodes with nlpd_doc_parse, and
 *    holds the line's text byte for byte as the input, its id (a string up
 *    to its first NUL, or an integer in decimal), title, a valid
 *    summary_sentences / summary_words budget and the metadata;
 *  - nlpd_doc_to_json of the decoded submission succeeds and gives back the
 *    same text and id;
 *  - nlpctl's --options (daemon/client.c): the input read as an options
 *    object is refused with NLPD_EFORMAT and a reason, or, merged into a
 *    submission with a budget of its own, decodes with the options' budget
 *    (the submission's when they set none), format, stages and custom
 *    options, and passes the front door (JSON_FUZZ_SKIP=options turns this
 *    off).
 */
#define FUZZ_NAME "json_fuzz"
#include "fuzz_common.h"

#include "client.h"
#include "nlpd/doc.h"
#include "nlpd/error.h"
#include "nlpd/json.h"
#include "nlpd_internal.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What nlpd_submission_from_json should make of the line: 1 when it is
 * acceptable; *text gets the text member. */
static int
acceptable(json_t *root, json_t **text)
{
    if (!json_is_object(root))
        return 0;
    json_t *t = json_object_get(root, "text");
    if (t == NULL)
        t = json_object_get(root, "body");
    if (!json_is_string(t))
        return 0;
    *text = t;
    json_t *id = json_object_get(root, "id");
    if (id != NULL && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id))
        return 0;
    json_t *o = json_object_get(root, "options");
    if (o != NULL && !json_is_object(o) && !json_is_null(o))
        return 0;
    json_t *md = json_object_get(root, "metadata");
    if (md != NULL && !json_is_object(md) && !json_is_null(md))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(md, k, v)
    {
        if (!json_is_string(v))
            return 0;
    }
    /* Options of the wrong type: "format" not a known name, "stages" not
     * an array of strings. Budgets of the wrong type are passed on. */
    json_t *f = json_object_get(o, "format");
    if (f != NULL) {
        static const char *const names[] = {"text", "plain", "json", "feed",
                                            "html", "detect", "auto"};
        int ok = 0;
        for (size_t i = 0; json_is_string(f) && i < sizeof(names) / sizeof(names[0]); i++)
            ok |= strcmp(json_string_value(f), names[i]) == 0;
        if (!ok)
            return 0;
    }
    json_t *st = json_object_get(o, "stages");
    if (st != NULL) {
        if (!json_is_array(st))
            return 0;
        for (size_t i = 0; i < json_array_size(st); i++) {
            if (!json_is_string(json_array_get(st, i)))
                return 0;
        }
    }
    return 1;
}

/* nlpctl's --options (daemon/client.c): the line read as an options object,
 * encoded alone, then merged into a submission that has a budget of its
 * own (5 sentences). The merged Document must decode with the options'
 * budget when they set one (else the submission's), the options' format
 * and stages, and be what the front door accepts. */
static void
check_options(const char *line)
{
    uint8_t *opb = NULL, *pb = NULL;
    size_t olen = 0, len = 0;
    char why[256] = "";
    int rc = nlpd_client_options_encode(line, &opb, &olen, why, sizeof(why));
    CHECK(rc == 0 || rc == NLPD_EFORMAT, "nlpd_client_options_encode: %s", nlpd_err_name(rc));
    if (rc != 0) {
        CHECK(why[0] != '\0', "NLPD_EFORMAT without a reason");
        return;
    }
    nlpd_doc *o = NULL, *m = NULL;
    if (nlpd_doc_new(&o) != 0 || nlpd_doc_new(&m) != 0)
        abort();
    CHECK(nlpd_doc_parse(o, opb, olen) == 0, "the options do not decode");
    nlpd_submission sub = {.id = "s", .text = "t", .text_len = 1, .budget = {5, 0.0, 0}};
    rc = nlpd_client_submission_encode(&sub, opb, olen, &pb, &len);
    CHECK(rc == 0, "nlpd_client_submission_encode: %s", nlpd_err_name(rc));
    CHECK(nlpd__wire_validate(pb, len, why, sizeof(why)) == 0, "the front door refuses it: %s",
          why);
    CHECK(nlpd_doc_parse(m, pb, len) == 0, "the merged submission does not decode");
    nlpd_summary_budget ob = nlpd_doc_summary_budget(o), mb = nlpd_doc_summary_budget(m);
    int set = ob.sentences != 0 || ob.ratio != 0 || ob.words != 0;
    nlpd_summary_budget want = set ? ob : (nlpd_summary_budget){5, 0.0, 0};
    CHECK(mb.sentences == want.sentences && mb.ratio == want.ratio && mb.words == want.words,
          "budget %u/%g/%u, the options' %u/%g/%u", mb.sentences, mb.ratio, mb.words, ob.sentences,
          ob.ratio, ob.words);
    CHECK(nlpd_doc_format_option(m) == nlpd_doc_format_option(o), "format %d, the options' %d",
          nlpd_doc_format_option(m), nlpd_doc_format_option(o));
    const Nlpd__V1__Options *oo = nlpd__doc_pb(o)->options;
    for (size_t i = 0; oo != NULL && i < oo->n_stages; i++)
        CHECK(nlpd_doc_wants_stage(m, oo->stages[i]), "stage \"%s\" lost", oo->stages[i]);
    for (size_t i = 0; oo != NULL && i < oo->n_extra; i++)
        CHECK(nlpd_doc_option(m, oo->extra[i]->key) != NULL, "option \"%s\" lost",
              oo->extra[i]->key);
    CHECK(strcmp(nlpd_doc_id(m), "s") == 0, "id \"%s\"", nlpd_doc_id(m));
    nlpd_doc_free(&o);
    nlpd_doc_free(&m);
    nlpd_free(opb);
    nlpd_free(pb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_alloc_setup();
    long fail_at = 0;
    if (size >= 2 && data[0] >= 0xF8) {
        fail_at = 1 + data[1];
        data += 2, size -= 2;
    }
    char *line = malloc(size ? size : 1);
    if (line == NULL)
        abort();
    if (size)
        memcpy(line, data, size);

    if (fail_at == 0 && !fuzz_skipped("JSON_FUZZ_SKIP", "options")) {
        char *z = malloc(size + 1); /* options are a C string */
        if (z == NULL)
            abort();
        memcpy(z, data, size);
        z[size] = '\0';
        check_options(z);
        free(z);
    }

    uint8_t *pb = NULL;
    size_t pb_len = 0;
    char why[256] = "";
    fuzz_fail_at(fail_at);
    int rc = nlpd_submission_from_json(line, size, &pb, &pb_len, why, sizeof(why));
    fuzz_fail_at(0);
    if (rc == NLPD_ENOMEM && fail_at > 0) {
        why[0] = '\0';
        rc = nlpd_submission_from_json(line, size, &pb, &pb_len, why, sizeof(why));
    }
    json_error_t jerr;
    json_t *root = json_loadb(line, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    json_t *text = NULL;
    int ok = acceptable(root, &text);
    CHECK(rc == 0 || rc == NLPD_EFORMAT, "nlpd_submission_from_json: %s", nlpd_err_name(rc));
    CHECK((rc == 0) == ok, "%s, but the line is %sacceptable (%s)", nlpd_err_name(rc),
          ok ? "" : "not ", why);
    if (rc != 0) {
        CHECK(why[0] != '\0', "NLPD_EFORMAT without a reason");
        json_decref(root);
        free(line);
        return 0;
    }

    /* The front door's checks, then a worker's decode. */
    CHECK(nlpd__wire_validate(pb, pb_len, why, sizeof(why)) == 0, "the front door refuses it: %s",
          why);
    nlpd_doc *doc = NULL;
    if (nlpd_doc_new(&doc) != 0)
        abort();
    rc = nlpd_doc_parse(doc, pb, pb_len);
    CHECK(rc == 0, "the submission does not decode: %s", nlpd_err_name(rc));
    CHECK(nlpd__doc_validate(nlpd__doc_pb(doc), why, sizeof(why)) == 0, "not valid: %s", why);
    size_t in_len;
    const char *in = nlpd_doc_input(doc, &in_len);
    CHECK(in_len == json_string_length(text) && memcmp(in, json_string_value(text), in_len) == 0,
          "the input is not the line's text");
    json_t *id = json_object_get(root, "id");
    char idbuf[32] = "";
    if (json_is_string(id))
        snprintf(idbuf, sizeof(idbuf), "%.31s", json_string_value(id));
    else if (json_is_integer(id))
        snprintf(idbuf, sizeof(idbuf), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    CHECK(strncmp(nlpd_doc_id(doc), idbuf, 31) == 0, "id \"%s\", the line's \"%s\"",
          nlpd_doc_id(doc), idbuf);
    json_t *title = json_object_get(root, "title");
    if (json_is_string(title))
        CHECK(strcmp(nlpd_doc_title(doc), json_string_value(title)) == 0, "another title");
    json_t *opts = json_object_get(root, "options");
    json_t *sv = json_object_get(opts, "summary_sentences");
    nlpd_summary_budget b = nlpd_doc_summary_budget(doc);
    if (json_is_integer(sv) && json_integer_value(sv) >= 1 && json_integer_value(sv) <= 100000)
        CHECK(b.sentences == (uint32_t)json_integer_value(sv), "summary_sentences %u", b.sentences);
    else
        CHECK(b.sentences == 0, "summary_sentences %u from an invalid value", b.sentences);
    CHECK(b.ratio == 0 || (b.ratio > 0 && b.ratio <= 1), "summary_ratio %g", b.ratio);
    json_t *md = json_object_get(root, "metadata");
    const char *k;
    json_t *v;
    json_object_foreach(md, k, v)
    {
        /* A key or value with an embedded NUL is cut there (a C string),
         * so only the key's presence is checked. */
        (void)v;
        CHECK(nlpd_doc_meta(doc, k) != NULL, "metadata \"%s\" lost", k);
    }

    /* Back to JSON. */
    char *out = NULL;
    size_t out_len = 0;
    rc = nlpd_doc_to_json(doc, NLPD_JSON_DEFAULT, &out, &out_len);
    CHECK(rc == 0, "nlpd_doc_to_json: %s", nlpd_err_name(rc));
    json_t *back = json_loadb(out, out_len, JSON_ALLOW_NUL, &jerr);
    CHECK(json_is_object(back), "the output is no JSON object: %s", jerr.text);
    json_t *bt = json_object_get(back, "text");
    CHECK(json_is_string(bt) && json_string_length(bt) == in_len &&
              memcmp(json_string_value(bt), in, in_len) == 0,
          "the output's text is not the line's");
    CHECK(strcmp(json_string_value(json_object_get(back, "id")), nlpd_doc_id(doc)) == 0,
          "the output's id is not the line's");
    json_decref(back);
    nlpd_free(out);
    nlpd_doc_free(&doc);
    nlpd_free(pb);
    json_decref(root);
    free(line);
    return 0;
}
