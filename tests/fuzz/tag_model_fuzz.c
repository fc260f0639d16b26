/* tests/fuzz/tag_model_fuzz.c — libFuzzer target for tag model files.
 *
 * Each input is a model file (stages/tag/README.md). It is loaded with
 * nlpd_tag_model_load_buffer; a load must succeed or fail with NLPD_EMODEL,
 * NLPD_EVERSION or NLPD_ENOMEM, never crash. Because of the checksum,
 * random bytes rarely get past it: when the input's last 8 bytes are not
 * its checksum the target also tries the input with the checksum fixed,
 * so the fuzzer reaches the field checks behind it. A model that loads must
 * tag a fixed text with entities that keep the library's promises (in
 * order, on token boundaries inside one sentence, scores in (0, 1]).
 *
 * Seeds: a tiny model (tests/unit/tag_test.c makes them with
 * nlpd__tag_model_save) and the shipped stages/tag/data/en/model.bin.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nlpd/error.h"
#include "nlpd/split.h"
#include "nlpd/tag.h"
#include "tag_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static const char text[] =
    "Sergio Ramos met Angela Lindqvist in Oslo on Tuesday, June 4. The Acme Corp. paid "
    "$3.5 billion (12%) to the UNITED NATIONS.\n\nOil Prices Rise In Asian Trade\n\n"
    "12 + 34 = 46 !!! ... ###";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
try_model(const uint8_t *data, size_t size)
{
    nlpd_tag_model *m = NULL;
    int rc = nlpd_tag_model_load_buffer(&m, data, size);
    if (rc != 0) {
        CHECK(rc == NLPD_EMODEL || rc == NLPD_EVERSION || rc == NLPD_ENOMEM);
        CHECK(m == NULL);
        return;
    }
    CHECK(m != NULL && nlpd_tag_model_version(m) != NULL);
    nlpd_split_model *sm = NULL;
    nlpd_split *sp = NULL;
    nlpd_tagger *tg = NULL;
    CHECK(nlpd_split_model_load_builtin(&sm, "en") == 0);
    CHECK(nlpd_split_new(&sp, sm, NULL) == 0);
    CHECK(nlpd_tagger_new(&tg, m, NULL) == 0);
    CHECK(nlpd_split_run(sp, text, sizeof(text) - 1, NULL, 0) == 0);
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t ns = nlpd_split_sentences(sp, &sen);
    CHECK(nlpd_tagger_run(tg, text, sizeof(text) - 1, tok, nt, sen, ns) == 0);
    const nlpd_tag_entity *e;
    size_t ne = nlpd_tagger_entities(tg, &e);
    uint32_t prev = 0;
    for (size_t i = 0; i < ne; i++) {
        CHECK(e[i].n_tokens >= 1 && e[i].first_token + e[i].n_tokens <= nt);
        CHECK(e[i].start == tok[e[i].first_token].start);
        CHECK(e[i].end == tok[e[i].first_token + e[i].n_tokens - 1].end);
        CHECK(e[i].start >= prev);
        prev = e[i].end;
        CHECK(e[i].label > NLPD_ENT_NONE && e[i].label < NLPD_ENT_COUNT_);
        CHECK(e[i].score > 0.0f && e[i].score <= 1.0f);
    }
    nlpd_tagger_free(&tg);
    nlpd_split_free(&sp);
    nlpd_split_model_free(&sm);
    nlpd_tag_model_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_model(data, size);
    if (size >= 24) {
        uint8_t *copy = malloc(size);
        if (copy == NULL)
            return 0;
        memcpy(copy, data, size);
        uint64_t sum = nlpd__tag_checksum(copy, size - 8);
        if (memcmp(copy + size - 8, &sum, 8) != 0) {
            memcpy(copy + size - 8, &sum, 8);
            try_model(copy, size);
        }
        free(copy);
    }
    return 0;
}
