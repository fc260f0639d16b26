/* include/nlpd/tag.h — entity tagging, a pure library.
 *
 *     nlpd_tag_model *model;
 *     nlpd_tag_model_load_builtin(&model, "en");          // or _load(path)
 *     nlpd_tagger *tg;
 *     nlpd_tagger_new(&tg, model, NULL);                  // default options
 *     // tokens and sentences from nlpd_split (include/nlpd/split.h)
 *     nlpd_tagger_run(tg, text, len, tokens, n_tokens, sentences, n_sentences);
 *     const nlpd_tag_entity *ent; size_t ne = nlpd_tagger_entities(tg, &ent);
 *     ...
 *     nlpd_tagger_free(&tg);
 *     nlpd_tag_model_free(&model);
 *
 * The model (a linear-chain CRF's weights, the gazetteer and the word
 * clusters its features read; see stages/tag/) is read once and never
 * changed, so one model may serve any number of taggers on any threads. A
 * tagger holds the working arrays of one run: it is reused from text to
 * text, allocates only when a text is larger than any before it, and
 * belongs to one thread at a time. There are no globals.
 *
 * Names (PER, ORG, LOC, MISC) come from the statistical model; dates,
 * times, amounts of money, percentages and numbers come from patterns run
 * beside it. Entities never overlap; every span is a [start, end) byte
 * range into the text, on token boundaries.
 */
#ifndef NLPD_TAG_H
#define NLPD_TAG_H

#include <stddef.h>
#include <stdint.h>

#include "nlpd/export.h"
#include "nlpd/split.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nlpd_tag_model nlpd_tag_model;
typedef struct nlpd_tagger nlpd_tagger;

/* Entity labels (nlpd_tag_entity.label). 0 is "no entity". */
typedef enum nlpd_entity_label {
    NLPD_ENT_NONE = 0,
    NLPD_ENT_PER,      /* people, real or fictional */
    NLPD_ENT_ORG,      /* companies, agencies, institutions, teams, bands */
    NLPD_ENT_LOC,      /* countries, cities, regions, geographic features */
    NLPD_ENT_MISC,     /* nationalities, events, works, laws, other names */
    NLPD_ENT_DATE,     /* "June 4", "Tuesday", "last year" */
    NLPD_ENT_TIME,     /* "10:30 a.m.", "this morning" */
    NLPD_ENT_MONEY,    /* "$3.5 billion", "200 euros" */
    NLPD_ENT_PERCENT,  /* "12%", "3.5 per cent" */
    NLPD_ENT_CARDINAL, /* "three", "1,250" */
    NLPD_ENT_ORDINAL,  /* "third", "5th" */
    NLPD_ENT_COUNT_
} nlpd_entity_label;

/* "PER", "ORG", ... ("" for NLPD_ENT_NONE or a value out of range). */
NLPD_EXPORT const char *nlpd_entity_label_name(int label);

/* The label for a name ("PER"), or NLPD_ENT_NONE. */
NLPD_EXPORT int nlpd_entity_label_parse(const char *name);

typedef struct nlpd_tag_entity {
    uint32_t start;       /* the first token's start */
    uint32_t end;         /* the last token's end */
    uint32_t first_token; /* index into the token array given to the run */
    uint32_t n_tokens;    /* at least 1 */
    uint8_t label;        /* nlpd_entity_label */
    uint8_t reserved[3];
    float score;          /* confidence in (0, 1]: the model's marginal
                             probability of the span, 1 for a pattern */
} nlpd_tag_entity;

typedef struct nlpd_tag_opts {
    /* 0: names only (the statistical model); the patterns are skipped. */
    int patterns;
    /* 0: patterns only (no names). */
    int names;
    /* Also report cardinal and ordinal numbers (off by default: most users
     * do not want every "three" as an entity). */
    int numbers;
    /* 1 (default): after tagging each sentence, one pass over the document
     * keeps one label per name and finds later mentions of a name ("Sergei
     * Shoigu ... Shoigu said"), and tags a nationality standing alone as
     * MISC. 0: every sentence on its own. */
    int document;
} nlpd_tag_opts;

#define NLPD_TAG_OPTS_INIT {1, 1, 0, 1}

/* --- Models ---------------------------------------------------------------- */

/* Reads a model file made by nlpd-tag-train (stages/tag/README.md describes
 * the format). Returns 0 and sets *out (free with nlpd_tag_model_free),
 * NLPD_EMODEL when the file is malformed or truncated (the reason is
 * logged), NLPD_EVERSION when a newer trainer made it, -errno when it cannot
 * be read, or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_tag_model_load(nlpd_tag_model **out, const char *path);

/* The same from `len` bytes in memory (borrowed for the call). */
NLPD_EXPORT int nlpd_tag_model_load_buffer(nlpd_tag_model **out, const void *buf, size_t len);

/* The model compiled into the library for language `lang` ("en").
 * Returns 0, NLPD_EINVAL for a language it does not have, or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_tag_model_load_builtin(nlpd_tag_model **out, const char *lang);

/* A short description ("en 2026-11-28 crf 9 labels, 812345 weights, ...");
 * owned by the model. */
NLPD_EXPORT const char *nlpd_tag_model_version(const nlpd_tag_model *self);

NLPD_EXPORT void nlpd_tag_model_free(nlpd_tag_model **self_p);

/* --- Tagging --------------------------------------------------------------- */

/* Creates a tagger over `model` (borrowed: it must outlive the tagger).
 * `opts` may be NULL for NLPD_TAG_OPTS_INIT. Returns 0 or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_tagger_new(nlpd_tagger **out, const nlpd_tag_model *model,
                                const nlpd_tag_opts *opts);
NLPD_EXPORT void nlpd_tagger_free(nlpd_tagger **self_p);

/* Tags the sentences of `text` (len bytes, len < 2^32) over its tokens, as
 * nlpd_split made them: token spans in order inside the text, each
 * sentence a run of tokens. Entities never cross a sentence boundary. The
 * results replace those of the previous run. Time is linear in the number
 * of tokens. Returns 0, NLPD_EINVAL (a token or sentence out of order or
 * outside the text), or NLPD_ENOMEM (the tagger then holds no results). */
NLPD_EXPORT int nlpd_tagger_run(nlpd_tagger *self, const char *text, size_t len,
                                const nlpd_split_token *tokens, size_t n_tokens,
                                const nlpd_split_sentence *sentences, size_t n_sentences);

/* The last run's entities, in text order; owned by the tagger until its
 * next run. */
NLPD_EXPORT size_t nlpd_tagger_entities(const nlpd_tagger *self, const nlpd_tag_entity **out);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_TAG_H */
