/* tests/e2e/tag_e2e_test.c — the tag stage in the default pipeline, end to end.
 *
 * Each test starts the real daemon (bin/nlpd, with no config: the default
 * pipeline ingest -> split -> tag, or with a config naming the tag
 * worker's options) in a temp dir and sends documents through its front
 * door. What is asserted is what a client sees: entities on our feed
 * fixture as spans of the text as sent; for hostile input (empty, blank,
 * no letters, all caps, invalid UTF-8, binary junk, a 2 MB paragraph), a
 * result with sane entities, no error from the tag stage and no worker
 * restart; and a model file that is replaced through a reload, including
 * by a corrupt one, which the daemon refuses while the old model goes on.
 */
#include "e2e.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlpd/tag.h"

/* --- Helpers ---------------------------------------------------------------- */

static size_t
ent_span(json_t *ent, size_t *end)
{
    *end = (size_t)json_integer_value(json_object_get(ent, "end"));
    return (size_t)json_integer_value(json_object_get(ent, "start"));
}

static void
dump_entities(json_t *r)
{
    size_t i;
    json_t *ent;
    fprintf(stderr, "# %zu entities:\n", json_array_size(json_object_get(r, "entities")));
    json_array_foreach(json_object_get(r, "entities"), i, ent)
    {
        size_t e, s = ent_span(ent, &e);
        fprintf(stderr, "#   [%zu, %zu) %s \"%s\" %.3f\n", s, e,
                json_string_value(json_object_get(ent, "label")),
                json_string_value(json_object_get(ent, "text")),
                json_real_value(json_object_get(ent, "score")));
    }
}

/* Returns 1 when a token of the result starts (ends) at `off`. */
static int
token_edge(json_t *toks, size_t off, int end)
{
    for (size_t i = 0; i < json_array_size(toks); i++) {
        json_int_t v = json_integer_value(json_array_get(json_array_get(toks, i), end ? 1 : 0));
        if ((size_t)v == off)
            return 1;
    }
    return 0;
}

/* What every result of the tag stage satisfies, whatever the input: the
 * trace names the three stages, entities lie in the text in order without
 * overlapping, on token boundaries, with a known label, the text of their
 * span, and a score in (0, 1]; no error record from the tag stage. */
static void
assert_sane(json_t *r, const char *text, size_t len)
{
    assert_non_null(r);
    /* The default pipeline, or ingest, split and tag alone. */
    assert_int_equal(strncmp(nlpd_e2e_trace(r), "ingest split tag", 16), 0);
    json_t *toks = json_object_get(r, "tokens");
    size_t i, prev_end = 0;
    json_t *ent;
    json_array_foreach(json_object_get(r, "entities"), i, ent)
    {
        size_t e, s = ent_span(ent, &e);
        const char *label = json_string_value(json_object_get(ent, "label"));
        const char *etext = json_string_value(json_object_get(ent, "text"));
        double score = json_number_value(json_object_get(ent, "score"));
        if (!(s < e && e <= len && s >= prev_end)) {
            dump_entities(r);
            fail_msg("entity %zu [%zu, %zu) out of order or outside %zu bytes", i, s, e, len);
        }
        if (!token_edge(toks, s, 0) || !token_edge(toks, e, 1)) {
            dump_entities(r);
            fail_msg("entity %zu [%zu, %zu) is not on token boundaries", i, s, e);
        }
        if (label == NULL || nlpd_entity_label_parse(label) == NLPD_ENT_NONE)
            fail_msg("entity %zu has the label %s", i, label != NULL ? label : "(none)");
        if (etext == NULL || strlen(etext) != e - s || memcmp(etext, text + s, e - s) != 0)
            fail_msg("entity %zu: its text is not the text of its span", i);
        if (!(score > 0 && score <= 1))
            fail_msg("entity %zu: score %f", i, score);
        prev_end = e;
    }
    json_array_foreach(json_object_get(r, "errors"), i, ent)
    {
        const char *stage = json_string_value(json_object_get(ent, "stage"));
        if (stage != NULL && strcmp(stage, "tag") == 0)
            fail_msg("the tag stage reported %s: %s",
                     json_string_value(json_object_get(ent, "code")),
                     json_string_value(json_object_get(ent, "message")));
    }
}

/* Asserts an entity with exactly this text and label. */
static void
assert_entity(json_t *r, const char *want_text, const char *want_label)
{
    size_t i;
    json_t *ent;
    json_array_foreach(json_object_get(r, "entities"), i, ent)
    {
        const char *t = json_string_value(json_object_get(ent, "text"));
        const char *l = json_string_value(json_object_get(ent, "label"));
        if (t != NULL && l != NULL && strcmp(t, want_text) == 0 && strcmp(l, want_label) == 0)
            return;
    }
    dump_entities(r);
    fail_msg("no %s entity \"%s\"", want_label, want_text);
}

/* The tag stage's STATUS entry: no restart, no crash, the same worker. */
static void
assert_tag_worker_unharmed(nlpd_e2e *e, int pid)
{
    json_t *s = nlpd_e2e_status(e);
    assert_non_null(s);
    json_t *st = nlpd_e2e_stage(s, "tag");
    assert_non_null(st);
    assert_int_equal(json_integer_value(json_object_get(st, "restarts")), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "crashes")), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "timeouts")), 0);
    json_decref(s);
    assert_int_equal(nlpd_e2e_worker_pid(e, "tag", 0), pid);
}

/* --- The default pipeline ------------------------------------------------------ */

static void
test_tag_default_pipeline_finds_the_names_of_a_feed_article(void **state)
{
    (void)state;
    nlpd_e2e e;
    nlpd_e2e_start(&e, NULL); /* the built-in default pipeline */
    size_t len;
    char *article = nlpd_test_fixture("ingest/feed-article.txt", &len);
    json_t *r = nlpd_e2e_annotate_bytes(&e, article, len, NULL);
    assert_sane(r, article, len);
    assert_null(json_object_get(r, "errors"));
    /* Names of a made-up town: the model knows none of them. Spans index
     * the text as sent (the fixture has no-break spaces and blank lines
     * that normalization changes). */
    assert_entity(r, "Miriam Achterberg", "PER");
    assert_entity(r, "Tomas Rudd", "PER");
    /* And the patterns. */
    assert_entity(r, "the past decade", "DATE");
    json_decref(r);
    free(article);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* Deterministic words of 2 to 9 letters and single spaces, no punctuation,
 * every seventh word capitalized. */
static char *
run_on_paragraph(size_t size)
{
    char *t = malloc(size);
    uint32_t x = 4242;
    size_t i = 0, words = 0;
    while (i < size) {
        x = x * 1103515245u + 12345u;
        size_t w = 2 + (x >> 16) % 8;
        for (size_t k = 0; k < w && i < size; k++) {
            x = x * 1103515245u + 12345u;
            t[i++] = (char)((k == 0 && words % 7 == 0 ? 'A' : 'a') + (x >> 16) % 26);
        }
        words++;
        if (i < size - 1)
            t[i++] = ' ';
    }
    t[size - 1] = 'z';
    return t;
}

static void
test_tag_answers_hostile_text_without_harm(void **state)
{
    (void)state;
    nlpd_e2e e;
    nlpd_e2e_start(&e, NULL);
    int pid = nlpd_e2e_worker_pid(&e, "tag", 0);
    assert_true(pid > 0);

    static const char *const cases[] = {
        "",
        " \n\n \t ",
        ".",
        "12 345 6.789 -- 10:30 $$$ %%% 1,2,3 ... !!!",
        "?!... --- !!! ??? ,,, ;;; (( )) [ ] { } \xE2\x80\x9C\xE2\x80\x9D \xE2\x80\xA6",
        "WASHINGTON (AP) \xE2\x80\x94 THE PRESIDENT MET PRIME MINISTER JOHN SMITH OF BRITAIN ON "
        "TUESDAY IN THE WHITE HOUSE AND PROMISED $3 BILLION IN AID, A 12% RISE.",
        "bad \xFF\xFE bytes \xC3 in \xE2\x82 the middle of Paris and \xF0\x9F\x98 London",
        "\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2"
        "\xD0\xB0 \xE6\x9D\xB1\xE4\xBA\xAC Tokyo e\xCC\x81\xCC\x81 Zo\xC3\xAB Caf\xC3\xA9.",
        "A\nB\nC\nD\nE\nF\nG\nH\nI\nJ\nK\nL\nM\nN\nO\nP\nQ\nR\nS\nT\nU\nV\nW\nX\nY\nZ",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i]);
        json_t *r = nlpd_e2e_annotate_bytes(&e, cases[i], n, NULL);
        assert_sane(r, cases[i], n);
        json_decref(r);
    }

    /* Binary junk: every byte value. */
    char junk[4096];
    uint32_t x = 99;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (char)(x >> 16);
    }
    json_t *r = nlpd_e2e_annotate_bytes(&e, junk, sizeof(junk), NULL);
    assert_non_null(r);
    json_decref(r);

    /* A 2 MB paragraph with no punctuation: split cuts it into sentences of
     * at most 250 tokens, which the tagger takes in linear time. */
    size_t big = (size_t)2 << 20;
    char *para = run_on_paragraph(big);
    r = nlpd_e2e_annotate_bytes(&e, para, big, NULL);
    assert_sane(r, para, big);
    json_decref(r);
    free(para);

    assert_tag_worker_unharmed(&e, pid);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* --- Options and reload ----------------------------------------------------- */

static int
generation_is(json_t *status, void *arg)
{
    return json_integer_value(json_object_get(status, "generation")) == *(int *)arg &&
           strcmp(json_string_value(json_object_get(status, "state")), "running") == 0;
}

/* Writes `len` bytes to `path`. */
static void
write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void
test_tag_takes_a_new_model_on_reload_and_refuses_a_corrupt_one(void **state)
{
    (void)state;
    /* The model file: the shipped one, copied where the test can change it. */
    const char *shipped = getenv("NLPD_TAG_MODEL");
    assert_non_null(shipped);
    size_t mlen;
    char *model = nlpd_test_read_file(shipped, &mlen);
    assert_non_null(model);
    char *dir = nlpd_test_tmpdir("nlpd-tag-model");
    char path[1024], args[1100];
    snprintf(path, sizeof(path), "%s/model.bin", dir);
    write_file(path, model, mlen);
    snprintf(args, sizeof(args), "--model %s", path);

    nlpd_e2e e;
    nlpd_e2e_start_stage(&e, "ingest split tag", "tag", "nlpd-tag", args, 1);
    static const char doc[] = "{\"text\":\"Miriam Achterberg met Tomas Rudd in Port Elwick.\"}";
    json_t *r = nlpd_e2e_annotate(&e, doc, NULL);
    assert_sane(r, "Miriam Achterberg met Tomas Rudd in Port Elwick.", 48);
    size_t before = json_array_size(json_object_get(r, "entities"));
    assert_true(before > 0);
    json_decref(r);

    /* A truncated model: the new workers refuse it, the reload fails, and
     * the old ones go on tagging. */
    write_file(path, model, mlen / 2);
    nlpd_e2e_signal(&e, SIGHUP);
    if (!nlpd_e2e_wait_log(&e, "reload failed", 1, 20000)) {
        nlpd_e2e_dump_log(&e);
        fail_msg("no failed reload after a truncated model");
    }
    assert_true(nlpd_e2e_log_count(&e, "cannot load the model") >= 1);
    r = nlpd_e2e_annotate(&e, doc, NULL);
    assert_sane(r, "Miriam Achterberg met Tomas Rudd in Port Elwick.", 48);
    assert_int_equal(json_array_size(json_object_get(r, "entities")), before);
    json_decref(r);

    /* The whole model again: the reload completes with new workers. */
    int old_pid = nlpd_e2e_worker_pid(&e, "tag", 0);
    write_file(path, model, mlen);
    nlpd_e2e_signal(&e, SIGHUP);
    int gen = 2;
    if (!nlpd_e2e_wait_status(&e, generation_is, &gen, 30000)) {
        nlpd_e2e_dump_log(&e);
        fail_msg("the reload with a whole model did not complete");
    }
    assert_true(nlpd_e2e_worker_pid(&e, "tag", 0) != old_pid);
    r = nlpd_e2e_annotate(&e, doc, NULL);
    assert_sane(r, "Miriam Achterberg met Tomas Rudd in Port Elwick.", 48);
    assert_int_equal(json_array_size(json_object_get(r, "entities")), before);
    json_decref(r);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
    nlpd_test_rmtree(dir);
    free(dir);
    free(model);
}

static void
test_tag_worker_refuses_bad_options_with_a_clear_message(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        const char *message;
    } cases[] = {
        {"--no-such-option", "unknown argument --no-such-option"},
        {"--model", "--model needs a file"},
        {"--model /nonexistent/tag-model.bin", "cannot load the model /nonexistent/tag-model.bin"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        nlpd_e2e_expect_bad_option("ingest split tag", "tag", "nlpd-tag", cases[i].args,
                                   cases[i].message);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tag_default_pipeline_finds_the_names_of_a_feed_article,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_tag_answers_hostile_text_without_harm, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_tag_takes_a_new_model_on_reload_and_refuses_a_corrupt_one,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_tag_worker_refuses_bad_options_with_a_clear_message,
                                  nlpd_e2e_teardown),
    };
    return cmocka_run_group_tests_name("tag_e2e", tests, NULL, NULL);
}
