/* include/nlpd/doc.h — a document as a stage sees it: read what earlier
 * stages wrote, append what this one adds.
 *
 * nlpd_doc wraps one decoded nlpd.v1.Document. Readers return what the
 * document held when it was parsed (earlier stages' work); the nlpd_doc_add_*
 * calls collect this stage's additions, which nlpd_doc_delta_pack() encodes
 * as a Document holding only them. The runtime sends the bytes it received
 * followed by that delta: protobuf merges the two (repeated fields append),
 * so nothing earlier is rewritten and fields this build does not know pass
 * through untouched.
 *
 * All spans are [start, end) UTF-8 byte offsets into the normalized text
 * (nlpd_doc_text()); nlpd_doc_map_span() turns one into offsets of the text
 * as sent.
 *
 * An nlpd_doc is reused from document to document: parsing resets it and
 * keeps its buffers, so a worker allocates only when a document is larger
 * than any before it. Not thread-safe: one nlpd_doc per thread.
 */
#ifndef NLPD_DOC_H
#define NLPD_DOC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nlpd/error.h"
#include "nlpd/export.h"
#include "nlpd/offmap.h"
#include "nlpd/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nlpd_doc nlpd_doc;

/* An entity as read from a document; `label` is owned by the document. */
typedef struct nlpd_entity {
    uint32_t start;
    uint32_t end;
    const char *label;
    float score;
} nlpd_entity;

/* The summary budget the client asked for; a field is 0 when not set. */
typedef struct nlpd_summary_budget {
    uint32_t sentences;
    double ratio;
    uint32_t words;
} nlpd_summary_budget;

/* An error record as read from a document; strings owned by the document. */
typedef struct nlpd_error_record {
    const char *stage;
    const char *code;
    const char *message;
    int fatal;
} nlpd_error_record;

/* Creates an empty document. Returns 0 and sets *out (free with
 * nlpd_doc_free), or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_doc_new(nlpd_doc **out);

/* Frees the document; sets *self_p to NULL. Accepts NULL. */
NLPD_EXPORT void nlpd_doc_free(nlpd_doc **self_p);

/* Decodes `len` bytes of an encoded nlpd.v1.Document (borrowed for the
 * call: the document copies what it keeps) and forgets the previous
 * document and its additions. Returns 0, NLPD_EPROTO when the bytes are not
 * a valid Document (the document is then empty), or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_doc_parse(nlpd_doc *self, const void *buf, size_t len);

/* --- Reading: what the document held when parsed ------------------------- */

/* The daemon's key, the user's id and the article's fields. Never NULL:
 * "" when absent. Owned by the document until the next parse. */
NLPD_EXPORT const char *nlpd_doc_key(const nlpd_doc *self);
NLPD_EXPORT const char *nlpd_doc_id(const nlpd_doc *self);
NLPD_EXPORT const char *nlpd_doc_title(const nlpd_doc *self);
NLPD_EXPORT const char *nlpd_doc_lede(const nlpd_doc *self);
NLPD_EXPORT const char *nlpd_doc_source(const nlpd_doc *self);
NLPD_EXPORT const char *nlpd_doc_url(const nlpd_doc *self);

/* The client's metadata value for `key`, or NULL. */
NLPD_EXPORT const char *nlpd_doc_meta(const nlpd_doc *self, const char *key);

/* The normalized text every span indexes (valid UTF-8, not NUL-terminated);
 * *len gets its length. Empty before ingestion. */
NLPD_EXPORT const char *nlpd_doc_text(const nlpd_doc *self, size_t *len);

/* The text as sent (may hold invalid UTF-8 when the client sent it). */
NLPD_EXPORT const char *nlpd_doc_sent_text(const nlpd_doc *self, size_t *len);

/* The submission before ingestion (`input`); empty once ingested. */
NLPD_EXPORT const char *nlpd_doc_input(const nlpd_doc *self, size_t *len);

/* The map from normalized to sent offsets (identity when n is 0); the
 * arrays are owned by the document. */
NLPD_EXPORT nlpd_offmap nlpd_doc_offmap(const nlpd_doc *self);

/* Maps a span of the normalized text to the text as sent. */
NLPD_EXPORT nlpd_span nlpd_doc_map_span(const nlpd_doc *self, nlpd_span span);

/* Layout regions ingestion found; *out points to n regions owned by the
 * document. */
NLPD_EXPORT size_t nlpd_doc_regions(const nlpd_doc *self, const nlpd_region **out);

/* Sentences as parallel arrays (owned by the document); returns their
 * number. `flags` may be NULL; *flags is NULL when the producer wrote none. */
NLPD_EXPORT size_t nlpd_doc_sentences(const nlpd_doc *self, const uint32_t **starts,
                                      const uint32_t **ends, const uint32_t **flags);

/* Tokens as parallel arrays; `shapes` may be NULL. Returns their number. */
NLPD_EXPORT size_t nlpd_doc_tokens(const nlpd_doc *self, const uint32_t **starts,
                                   const uint32_t **ends, const uint32_t **shapes);

/* Entities: their number, and entity i (0 <= i < count) into *out.
 * Returns 0 or NLPD_EINVAL when i is out of range. */
NLPD_EXPORT size_t nlpd_doc_entity_count(const nlpd_doc *self);
NLPD_EXPORT int nlpd_doc_entity(const nlpd_doc *self, size_t i, nlpd_entity *out);

/* The selected summary sentences (indices, document order); NULL and 0
 * when there is no summary. */
NLPD_EXPORT const uint32_t *nlpd_doc_summary(const nlpd_doc *self, size_t *n);

/* The client's options. */
NLPD_EXPORT nlpd_summary_budget nlpd_doc_summary_budget(const nlpd_doc *self);
NLPD_EXPORT nlpd_format nlpd_doc_format_option(const nlpd_doc *self);

/* Returns 1 when the client asked for stage `name` or named no stages. */
NLPD_EXPORT int nlpd_doc_wants_stage(const nlpd_doc *self, const char *name);

/* The JSON text of an option this build has no field for (e.g. a custom
 * stage's own option), or NULL. */
NLPD_EXPORT const char *nlpd_doc_option(const nlpd_doc *self, const char *key);

/* Error records: their number and record i. nlpd_doc_has_fatal_error()
 * says whether any earlier stage marked the document unprocessable. */
NLPD_EXPORT size_t nlpd_doc_error_count(const nlpd_doc *self);
NLPD_EXPORT int nlpd_doc_error(const nlpd_doc *self, size_t i, nlpd_error_record *out);
NLPD_EXPORT int nlpd_doc_has_fatal_error(const nlpd_doc *self);

/* --- Appending: this stage's additions ----------------------------------- */

/* Each returns 0, NLPD_EINVAL when the span is not within the normalized
 * text (start <= end <= length), a string argument is NULL or a score is
 * not finite, or NLPD_ENOMEM. Strings are copied. */
NLPD_EXPORT int nlpd_doc_add_sentence(nlpd_doc *self, uint32_t start, uint32_t end,
                                      uint32_t flags);
NLPD_EXPORT int nlpd_doc_add_token(nlpd_doc *self, uint32_t start, uint32_t end, uint32_t shape);
NLPD_EXPORT int nlpd_doc_add_entity(nlpd_doc *self, uint32_t start, uint32_t end,
                                    const char *label, float score);

/* Sets the summary: `n` selected sentence indices in document order and
 * optionally a score for each of the document's sentences (`scores` NULL
 * with n_scores 0 for none). Replaces an earlier call's summary of this
 * stage. */
NLPD_EXPORT int nlpd_doc_set_summary(nlpd_doc *self, const uint32_t *selected, size_t n,
                                     const float *scores, size_t n_scores);

/* A stage's own annotation: over `span`, or the whole document when span
 * is NULL. `value` may be NULL. */
NLPD_EXPORT int nlpd_doc_add_annotation(nlpd_doc *self, const char *kind, const nlpd_span *span,
                                        const char *value, double score);

/* Forgets this stage's additions (the runtime calls it when a stage fails,
 * so a half-done stage adds nothing but its error record). */
NLPD_EXPORT void nlpd_doc_drop_additions(nlpd_doc *self);

/* Returns 1 when this stage added anything (trace and errors included). */
NLPD_EXPORT int nlpd_doc_has_additions(const nlpd_doc *self);

/* --- Encoding the additions ---------------------------------------------- */

/* Size in bytes of the delta nlpd_doc_delta_pack() writes (0 when this
 * stage added nothing), or NLPD_ENOMEM. */
NLPD_EXPORT ssize_t nlpd_doc_delta_size(nlpd_doc *self);

/* Writes the additions as an encoded Document into `out`, which must hold
 * nlpd_doc_delta_size() bytes. Returns the number of bytes written, or
 * NLPD_ENOMEM. */
NLPD_EXPORT ssize_t nlpd_doc_delta_pack(nlpd_doc *self, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_DOC_H */
