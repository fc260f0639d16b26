/* include/nlpd/json.h — documents to and from the JSON Lines of the
 * evaluation format (FORMAT.md in the docs): one object per line, spans as
 * [start, end) UTF-8 byte offsets into "text", the text exactly as sent.
 */
#ifndef NLPD_JSON_H
#define NLPD_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "nlpd/doc.h"
#include "nlpd/export.h"
#include "nlpd/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What nlpd_doc_to_json() includes beyond the evaluation fields. */
enum {
    NLPD_JSON_TOKENS = 1u << 0,  /* "tokens": [[start, end, "shape"], ...] */
    NLPD_JSON_TRACE = 1u << 1,   /* "trace": per-stage name, version, time */
    NLPD_JSON_REGIONS = 1u << 2, /* "regions", "format", "ingest" */
    NLPD_JSON_NORM = 1u << 3,    /* "norm": the normalized text (offsets stay on "text") */
    NLPD_JSON_PRETTY = 1u << 4,  /* indented, for people */
};
#define NLPD_JSON_DEFAULT (NLPD_JSON_TOKENS | NLPD_JSON_TRACE | NLPD_JSON_REGIONS)

/* Renders an annotated document as one JSON object without a trailing
 * newline: "id", "key", the article fields, "text" (as sent), then what the
 * stages produced: "sentences", "tokens", "entities" (with their "text"),
 * "summary", "summary_text", "annotations", "errors"... Every span is mapped
 * to the text as sent. A field no stage produced is absent. When the text
 * as sent is not valid UTF-8 (JSON cannot hold it) "text" holds it with
 * each invalid sequence as U+FFFD, "text_lossy" is true, and the offsets
 * still index the bytes as sent.
 * On success returns 0 and sets *out (NUL-terminated; free with nlpd_free)
 * and *len (may be NULL). Errors: NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_doc_to_json(nlpd_doc *doc, unsigned flags, char **out, size_t *len);

/* A document to submit, as a client builds it. Any pointer may be NULL. */
typedef struct nlpd_submission {
    const char *id;
    const char *title;
    const char *lede;
    const char *url;
    const char *source;
    const char *published;
    const char *text; /* the article as sent; need not be NUL-terminated */
    size_t text_len;
    nlpd_format format;
    nlpd_summary_budget budget;
    const char *const *stages; /* run only these (n_stages 0: all) */
    size_t n_stages;
} nlpd_submission;

/* Encodes a submission as an nlpd.v1.Document. On success returns 0 and
 * sets *out (free with nlpd_free) and *len. Errors: NLPD_EINVAL (a string
 * that is not valid UTF-8), NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_submission_encode(const nlpd_submission *s, uint8_t **out, size_t *len);

/* Encodes one input line of the evaluation format ({"id", "title", "text",
 * "options": {...}}, also "body" for "text", and "url", "source",
 * "published", "lede", "metadata": {string: string}) as an nlpd.v1.Document
 * ready to submit. Options this build has no field for travel in
 * Options.extra as JSON text. On success returns 0 and sets *out (free with
 * nlpd_free) and *len. On NLPD_EFORMAT (not JSON, not an object, no string
 * text, an option of the wrong type) a sentence saying why is written to
 * `why` (may be NULL). Errors also: NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_submission_from_json(const char *json, size_t json_len, uint8_t **out,
                                          size_t *len, char *why, size_t why_len);

/* Name of a token shape class, as in JSON output ("lower", "cap", ...). */
NLPD_EXPORT const char *nlpd_token_shape_name(uint32_t shape);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_JSON_H */
