/* tests/fuzz/split_model_fuzz.c — libFuzzer target for split model files.
 *
 * Each input is a model file (stages/split/data/README.md). It is loaded
 * with nlpd_split_model_load_buffer; a load must either succeed or fail with
 * NLPD_EMODEL or NLPD_ENOMEM, never crash. A model that loads must split a
 * fixed text whose results keep the library's basic promises (tokens in
 * order inside the text, sentences made of whole tokens within the limits),
 * whatever its abbreviations, starters and weights say.
 *
 * Build and run: see tests/fuzz/README.md (split_model_fuzz, seeds in
 * tests/fuzz/corpus/split-model).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nlpd/error.h"
#include "nlpd/split.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static const char text[] =
    "Dr. J. R. Smith arrived at 5 p.m. Tuesday. He met the U.S. envoy. \"Why now?\" "
    "she asked.\n\nThanks, Sean Here you go 1. First item 2. Second item. Co. It closed "
    "yesterday... I think . . . so. e-mail jane.doe@example.com. See https://x.org/a. "
    "No. 5 was St. Michael's 08:02 PM All: fine";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nlpd_split_model *m = NULL;
    int rc = nlpd_split_model_load_buffer(&m, data, size);
    if (rc != 0) {
        CHECK(rc == NLPD_EMODEL || rc == NLPD_ENOMEM);
        CHECK(m == NULL);
        return 0;
    }
    CHECK(m != NULL);
    CHECK(nlpd_split_model_version(m) != NULL);
    nlpd_split_opts opts = NLPD_SPLIT_OPTS_INIT;
    opts.max_sentence_tokens = 12;
    nlpd_split *sp = NULL;
    CHECK(nlpd_split_new(&sp, m, &opts) == 0);
    size_t len = sizeof(text) - 1;
    CHECK(nlpd_split_run(sp, text, len, NULL, 0) == 0);
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t ns = nlpd_split_sentences(sp, &sen);
    CHECK(nt > 0 && ns > 0);
    for (size_t i = 0; i < nt; i++) {
        CHECK(tok[i].start < tok[i].end && tok[i].end <= len);
        CHECK(i == 0 || tok[i - 1].end <= tok[i].start);
    }
    size_t next = 0;
    for (size_t i = 0; i < ns; i++) {
        CHECK(sen[i].first_token == next && sen[i].n_tokens >= 1);
        CHECK(sen[i].n_tokens <= opts.max_sentence_tokens);
        next = sen[i].first_token + sen[i].n_tokens;
        CHECK(next <= nt);
        CHECK(sen[i].start == tok[sen[i].first_token].start);
        CHECK(sen[i].end == tok[next - 1].end);
    }
    CHECK(next == nt);
    nlpd_split_free(&sp);
    nlpd_split_model_free(&m);
    return 0;
}
