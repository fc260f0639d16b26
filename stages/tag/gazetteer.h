/* stages/tag/gazetteer.h — gazetteers: lists of names by class (countries,
 * cities, first names, organization cue words, ...) matched over the tokens
 * of a sentence. Internal to the tag stage: the CRF's features and the
 * runtime read the match bits.
 *
 * A gazetteer file (stages/tag/data/README.md describes the format; the
 * builder in stages/tag/gazetteer/ makes it) holds entries already cut into
 * tokens the way nlpd_split cuts text, so "Kim Jong-un", "St. Louis" and
 * "AT&T" compare token by token with the text. Tokens compare after a cheap
 * normalization: lower case, diacritics removed ("Zürich" = "zurich"),
 * periods dropped from tokens that hold anything else ("St." = "St",
 * "U.S." = "US"), typographic apostrophes and dashes read as ASCII. Classes
 * marked `cased` in the file match only where the first token of the match
 * does not start with a lower-case letter in the text ("Will" and "WILL"
 * may be a first name, "will" never is; "3M" may be a company).
 *
 * A loaded gazetteer is never changed, so any number of threads may match
 * with one. There are no globals; matching allocates nothing.
 */
#ifndef NLPD_TAG_GAZETTEER_H
#define NLPD_TAG_GAZETTEER_H

#include "nlpd/split.h"

#include <stddef.h>
#include <stdint.h>

typedef struct nlpd_gaz nlpd_gaz;

/* At most this many classes (two match bits each in a uint64_t). */
#define NLPD_GAZ_MAX_CLASSES 32

/* No entry is longer than this many tokens (the builder drops longer ones,
 * the loader refuses them). */
#define NLPD_GAZ_MAX_TOKENS 12

/* Reads a gazetteer file. Returns 0 and sets *out (free with
 * nlpd__gaz_free), NLPD_EMODEL when the file is malformed, truncated or
 * fails its checksum (the reason is logged with nlpd_log), -errno when it
 * cannot be read, or NLPD_ENOMEM. */
int nlpd__gaz_load(nlpd_gaz **out, const char *path);

/* The same from `len` bytes in memory (borrowed for the call). */
int nlpd__gaz_load_buffer(nlpd_gaz **out, const void *buf, size_t len);

/* The gazetteer compiled into the library for `lang` ("en":
 * stages/tag/data/en/gazetteer.txt). Returns 0, NLPD_EINVAL for a language
 * it does not have, or NLPD_ENOMEM. */
int nlpd__gaz_load_builtin(nlpd_gaz **out, const char *lang);

/* Frees a gazetteer (NULL is fine) and sets *self_p to NULL. */
void nlpd__gaz_free(nlpd_gaz **self_p);

/* The number of classes (at most NLPD_GAZ_MAX_CLASSES). */
size_t nlpd__gaz_classes(const nlpd_gaz *g);

/* The name of class c ("country", "city", "first_name", ...), "" when c is
 * out of range; owned by the gazetteer. */
const char *nlpd__gaz_class_name(const nlpd_gaz *g, size_t c);

/* The class named `name`, or -1. */
int nlpd__gaz_class_find(const nlpd_gaz *g, const char *name);

/* The number of entries of class c (0 when out of range). */
size_t nlpd__gaz_class_size(const nlpd_gaz *g, size_t c);

/* A short description ("en 2026-11-28 (14 classes, 181234 entries)");
 * owned by the gazetteer. */
const char *nlpd__gaz_version(const nlpd_gaz *g);

/* A hash of the content (the file's checksum): a CRF model records the
 * gazetteer it was trained with and can refuse another. */
uint64_t nlpd__gaz_digest(const nlpd_gaz *g);

/* For the tokens [0, n) of ONE sentence (spans into text), fills bits[i]:
 *   bit 2c   = token i begins a match of class c,
 *   bit 2c+1 = token i continues a match of class c (not its first token).
 * From each start the longest match of each class is taken; matches of
 * different classes, and of one class from different starts, may overlap.
 * bits has room for n values (all are written). Time is linear in n (each
 * start looks at no more than NLPD_GAZ_MAX_TOKENS tokens); no allocation.
 * Token spans must lie inside text (start <= end); tokens need not hold
 * valid UTF-8 (bytes that are not are compared as they are). Any number of
 * threads may match with one gazetteer. */
void nlpd__gaz_match(const nlpd_gaz *g, const char *text, const nlpd_split_token *tok, size_t n,
                     uint64_t *bits);

/* Every match that starts at token i of the sentence [0, n), by length:
 * by_len[k] gets the classes (bit c) of the entries of k tokens that match
 * tokens [i, i + k), for k in 1..NLPD_GAZ_MAX_TOKENS; by_len[0] is 0. The
 * case rule applies as in nlpd__gaz_match. Returns the longest k with a
 * match, 0 when none. For evaluation and tests; the tagger uses
 * nlpd__gaz_match. */
size_t nlpd__gaz_match_at(const nlpd_gaz *g, const char *text, const nlpd_split_token *tok,
                          size_t n, size_t i, uint32_t by_len[NLPD_GAZ_MAX_TOKENS + 1]);

/* The normalized hash of `len` bytes of one token, as matching computes it
 * (exposed for the builder and the tests). Never 0. */
uint64_t nlpd__gaz_token_hash(const char *s, size_t len);

/* The checksum of a gazetteer file, continued from h over n bytes (start
 * with h = 14695981039346656037, FNV's offset basis). The file's
 * `checksum` line holds it over all the file's bytes but that line's:
 * the header lines before it, then the entries. */
uint64_t nlpd__gaz_checksum(uint64_t h, const void *buf, size_t n);

#endif /* NLPD_TAG_GAZETTEER_H */
