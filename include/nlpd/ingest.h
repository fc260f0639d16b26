/* include/nlpd/ingest.h — ingestion: read an input in its format, validate
 * and normalize its text, keep the way back to the text as sent.
 *
 * A pure library: no sockets, no clock (the caller passes the time), no
 * globals. One nlpd_ingest per thread; two in one process know nothing of
 * each other. Each run reuses the instance's buffers, so steady-state
 * ingestion allocates only when a document is larger than any before it.
 *
 * What a run does:
 *  1. Reads the input as `format` says, or detects the format: a JSON
 *     article object ({id, title, text|body, url, source, published, lede|
 *     standfirst|description}), HTML (parsed with libxml2: scripts and styles
 *     dropped, entities decoded, block elements become paragraph breaks),
 *     the feed layout (headline / standfirst / a `|` line / headline again /
 *     body / source line) or plain text.
 *  2. Validates UTF-8: each maximal invalid sequence becomes U+FFFD and is
 *     counted, or the run fails with NLPD_EUTF8 (opts.invalid_utf8).
 *  3. Normalizes: NFC (utf8proc); CR LF and CR to LF; NUL and other control
 *     characters to a space (counted); invisible characters (zero-width
 *     space, BOM, soft hyphen) removed; Unicode spaces to ' '; runs of spaces
 *     to one; spaces around line breaks dropped; two or more line breaks to a
 *     paragraph break "\n\n"; leading and trailing whitespace dropped.
 *  4. Records the offset map from the normalized text to the text as sent,
 *     and the layout regions (spans of the normalized text).
 *  5. Hashes the normalized text and flags an exact duplicate of a document
 *     seen within the dedup window.
 */
#ifndef NLPD_INGEST_H
#define NLPD_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "nlpd/error.h"
#include "nlpd/export.h"
#include "nlpd/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nlpd_ingest nlpd_ingest;

typedef enum nlpd_ingest_utf8_policy {
    NLPD_INGEST_UTF8_REPLACE = 0, /* replace with U+FFFD and count */
    NLPD_INGEST_UTF8_REJECT = 1,  /* fail the run with NLPD_EUTF8 */
} nlpd_ingest_utf8_policy;

typedef struct nlpd_ingest_opts {
    nlpd_ingest_utf8_policy invalid_utf8;
    size_t dedup_window;       /* documents remembered for duplicates; 0 disables */
    uint64_t dedup_max_age_us; /* forget documents older than this; 0: no limit */
    size_t max_regions;        /* more paragraphs than this merge into the last; 0: no limit */
} nlpd_ingest_opts;

#define NLPD_INGEST_OPTS_INIT {NLPD_INGEST_UTF8_REPLACE, 10000, 0, 0}

/* What the caller already knows of the document; any field may be NULL. */
typedef struct nlpd_ingest_meta {
    const char *key;   /* the daemon's key, remembered for duplicate reports */
    const char *id;    /* the user's id, if the client gave one */
    const char *title; /* the client's title: wins over one found in the input */
} nlpd_ingest_meta;

/* The outcome of a run. Every pointer is owned by the nlpd_ingest and valid
 * until its next run or its free. Strings are NUL-terminated UTF-8; a field
 * the input did not provide is NULL. */
typedef struct nlpd_ingest_result {
    nlpd_format format;  /* the format the input was read as */
    int format_detected; /* 1 when the caller passed NLPD_FORMAT_DETECT */

    const char *text; /* the text as sent (JSON: the text field; HTML: the extracted text) */
    size_t text_len;
    const char *norm; /* normalized text; equals text when norm_is_text */
    size_t norm_len;
    int norm_is_text; /* 1 when normalization changed nothing */

    const uint32_t *map_norm; /* offset map anchors (see nlpd/offmap.h); */
    const uint32_t *map_orig; /* map_len is 0 when norm_is_text */
    size_t map_len;

    const nlpd_region *regions; /* in text order, not overlapping */
    size_t n_regions;

    const char *id;    /* given id, else the JSON's id, else the content hash */
    const char *title; /* given title, else found in the input (JSON, HTML <title>, headline) */
    const char *lede;
    const char *source;
    const char *url;
    const char *published;

    uint32_t invalid_utf8;     /* invalid sequences replaced */
    uint32_t controls_removed; /* control characters turned into spaces */
    char content_hash[33];     /* hex BLAKE2b-128 of norm */

    const char *duplicate_of_key; /* earlier document with the same content hash, */
    const char *duplicate_of_id;  /* or NULL (both NULL when not a duplicate) */
} nlpd_ingest_result;

/* Creates an ingester. `opts` may be NULL for NLPD_INGEST_OPTS_INIT.
 * Returns 0 and sets *out (free with nlpd_ingest_free), or NLPD_ENOMEM /
 * NLPD_EINVAL. */
NLPD_EXPORT int nlpd_ingest_new(nlpd_ingest **out, const nlpd_ingest_opts *opts);

/* Frees the ingester and everything its results point to; sets *self_p to
 * NULL. Accepts NULL and a pointer to NULL. */
NLPD_EXPORT void nlpd_ingest_free(nlpd_ingest **self_p);

/* Ingests `len` bytes of `input` (borrowed for the call; it need not be
 * NUL-terminated and may hold any bytes). `meta` may be NULL. `now_us` is
 * the time for the dedup window. On success returns 0 and fills *out.
 * Errors: NLPD_EUTF8 (invalid UTF-8 under the reject policy), NLPD_EFORMAT
 * (the format given does not fit the input, e.g. malformed JSON),
 * NLPD_ENOMEM, NLPD_EINVAL; nlpd_ingest_last_error() then says why in a
 * sentence. A failed run leaves *out unspecified and the dedup window
 * unchanged. */
NLPD_EXPORT int nlpd_ingest_run(nlpd_ingest *self, const char *input, size_t len,
                                nlpd_format format, const nlpd_ingest_meta *meta, uint64_t now_us,
                                nlpd_ingest_result *out);

/* Returns a message about the last failed run ("" after a success). Owned
 * by the ingester. */
NLPD_EXPORT const char *nlpd_ingest_last_error(const nlpd_ingest *self);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_INGEST_H */
