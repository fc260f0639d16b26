/* include/nlpd/split.h — tokenization and sentence splitting, a pure library.
 *
 *     nlpd_split_model *model;
 *     nlpd_split_model_load_builtin(&model, "en");        // or _load(path)
 *     nlpd_split *sp;
 *     nlpd_split_new(&sp, model, NULL);                   // default options
 *     nlpd_split_run(sp, text, len, regions, n_regions);
 *     const nlpd_split_token *tok; size_t nt = nlpd_split_tokens(sp, &tok);
 *     const nlpd_split_sentence *sen; size_t ns = nlpd_split_sentences(sp, &sen);
 *     ...
 *     nlpd_split_free(&sp);
 *     nlpd_split_model_free(&model);
 *
 * A model (abbreviations, sentence starters and the weights of the boundary
 * classifier, see stages/split/data/) is read once and never changed, so
 * one model may serve any number of splitters on any threads. A splitter
 * holds the working arrays of one run: it is reused from text to text,
 * allocates only when a text has more tokens or sentences than any before
 * it, and belongs to one thread at a time. There are no globals.
 *
 * Text is UTF-8 (invalid sequences are read as U+FFFD, one byte each, and
 * never split); every span is a [start, end) byte range into it. Time is
 * linear in the length of the text.
 */
#ifndef NLPD_SPLIT_H
#define NLPD_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "nlpd/export.h"
#include "nlpd/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nlpd_split_model nlpd_split_model;
typedef struct nlpd_split nlpd_split;

/* Token flags (nlpd_split_token.flags bits). */
enum {
    NLPD_TOKEN_SPACE_AFTER = 1u << 0, /* whitespace (or a control or format character) follows */
    NLPD_TOKEN_ABBREV = 1u << 1,      /* ends in an abbreviation's period ("Dr.", "U.S.") */
    NLPD_TOKEN_CLITIC = 1u << 2,      /* a clitic split off a word ("'s", "n't") */
    NLPD_TOKEN_NEWLINE_AFTER = 1u << 3, /* a line break follows the token */
    NLPD_TOKEN_PARAGRAPH_AFTER = 1u << 4, /* a blank line follows the token */
};

typedef struct nlpd_split_token {
    uint32_t start;
    uint32_t end;
    uint8_t shape; /* nlpd_token_shape */
    uint8_t flags; /* NLPD_TOKEN_* */
    uint16_t reserved;
} nlpd_split_token;

typedef struct nlpd_split_sentence {
    uint32_t start;       /* the first token's start */
    uint32_t end;         /* the last token's end */
    uint32_t first_token; /* index into the token array */
    uint32_t n_tokens;    /* at least 1 */
    uint32_t flags;       /* NLPD_SENTENCE_* (types.h) */
} nlpd_split_sentence;

typedef struct nlpd_split_opts {
    /* A sentence longer than this many tokens is cut at a safe point (the
     * last comma, semicolon, colon or dash in its final quarter, else at the
     * limit) and the first part flagged NLPD_SENTENCE_TRUNCATED. */
    uint32_t max_sentence_tokens;
    /* The same in bytes of text. */
    uint32_t max_sentence_bytes;
    /* 0: tokens only, every paragraph of a text region one "sentence"
     * (the length limits do not apply then). */
    int sentences;
} nlpd_split_opts;

/* No token is longer than this: a longer run of text without whitespace
 * (a 1 MB "word") is cut into tokens of at most this many bytes, at code
 * point boundaries. A sentence always holds at least one token. */
#define NLPD_SPLIT_MAX_TOKEN_BYTES 1024

#define NLPD_SPLIT_MAX_SENTENCE_TOKENS 250
#define NLPD_SPLIT_MAX_SENTENCE_BYTES  4000
#define NLPD_SPLIT_OPTS_INIT {NLPD_SPLIT_MAX_SENTENCE_TOKENS, NLPD_SPLIT_MAX_SENTENCE_BYTES, 1}

/* --- Models ---------------------------------------------------------------- */

/* Reads a model file (the format is described in stages/split/data/README.md).
 * Returns 0 and sets *out (free with nlpd_split_model_free), NLPD_EMODEL
 * when the file is malformed (the line is logged), -errno when it cannot
 * be read, or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_split_model_load(nlpd_split_model **out, const char *path);

/* The same from `len` bytes in memory (borrowed for the call). */
NLPD_EXPORT int nlpd_split_model_load_buffer(nlpd_split_model **out, const void *buf,
                                             size_t len);

/* The model compiled into the library for language `lang` ("en").
 * Returns 0, NLPD_EINVAL for a language it does not have, or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_split_model_load_builtin(nlpd_split_model **out, const char *lang);

/* Adds the abbreviations of a list file (one per line, see the data README)
 * to a model that no splitter uses yet. Returns 0, NLPD_EMODEL, -errno or
 * NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_split_model_add_abbreviations(nlpd_split_model *self, const char *path);

/* A short description of the model ("en 2026-11-27, 412 abbreviations ...");
 * owned by the model. */
NLPD_EXPORT const char *nlpd_split_model_version(const nlpd_split_model *self);

NLPD_EXPORT void nlpd_split_model_free(nlpd_split_model **self_p);

/* --- Splitting ------------------------------------------------------------- */

/* Creates a splitter over `model` (borrowed: it must outlive the splitter).
 * `opts` may be NULL for NLPD_SPLIT_OPTS_INIT. Returns 0, NLPD_EINVAL for
 * a limit of 0, or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_split_new(nlpd_split **out, const nlpd_split_model *model,
                               const nlpd_split_opts *opts);

NLPD_EXPORT void nlpd_split_free(nlpd_split **self_p);

/* Tokenizes and splits `text` (len bytes, len < 2^32). Only the regions
 * that hold text (nlpd_region_is_text) are read; regions must be in order
 * and not overlap. With regions NULL the whole text is one body region.
 * Paragraph breaks (a blank line) and region ends are always sentence
 * boundaries. The results replace those of the previous run. Returns 0,
 * NLPD_EINVAL (len too large, regions out of order or outside the text),
 * or NLPD_ENOMEM (the splitter then holds no results). */
NLPD_EXPORT int nlpd_split_run(nlpd_split *self, const char *text, size_t len,
                               const nlpd_region *regions, size_t n_regions);

/* The last run's tokens and sentences, in text order; owned by the
 * splitter until its next run. */
NLPD_EXPORT size_t nlpd_split_tokens(const nlpd_split *self, const nlpd_split_token **out);
NLPD_EXPORT size_t nlpd_split_sentences(const nlpd_split *self,
                                        const nlpd_split_sentence **out);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_SPLIT_H */
