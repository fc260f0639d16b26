/* stages/ingest/ingest_internal.h — what the files of the ingest stage share.
 *
 * The instance struct lives here so that each part of a run (format readers,
 * normalizer, layout, dedup window) can work on the instance's reusable
 * buffers. Nothing here is part of the public API.
 */
#ifndef NLPD_INGEST_INTERNAL_H
#define NLPD_INGEST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nlpd/ingest.h"
#include "nlpd/offmap.h"
#include "nlpd/types.h"

/* "No offset": an absent string or span. */
#define NLPD__NONE SIZE_MAX

/* A growable byte buffer that keeps one spare byte for a terminating NUL.
 * Runs reset `len` and keep the memory. */
typedef struct nlpd__ibuf {
    char *data;
    size_t len;
    size_t cap;
} nlpd__ibuf;

/* Makes room for `extra` more bytes plus a NUL. Returns 0 or NLPD_ENOMEM. */
int nlpd__ibuf_reserve(nlpd__ibuf *b, size_t extra);

/* Appends `n` bytes of `p`. Returns 0 or NLPD_ENOMEM. */
int nlpd__ibuf_append(nlpd__ibuf *b, const void *p, size_t n);

/* Writes a NUL after the content (room is always there once reserved).
 * Returns 0 or NLPD_ENOMEM (only when nothing was ever reserved). */
int nlpd__ibuf_terminate(nlpd__ibuf *b);

void nlpd__ibuf_release(nlpd__ibuf *b);

/* Decodes the code point at s[0..n) (n >= 1) by the "maximal subpart"
 * rule. Returns its length and sets *cp, or returns the length of the
 * maximal invalid subpart (>= 1) and sets *cp to -1. */
size_t nlpd__utf8_decode(const uint8_t *s, size_t n, int32_t *cp);

/* Scratch memory of the NFC step, reused across runs. */
typedef struct nlpd__nfc_scratch {
    struct nlpd__unit_cp *cps; /* the code points of one unit */
    size_t cps_cap;
    int32_t *dec; /* decomposed, then composed, code points */
    size_t dec_cap;
    int32_t *tmp; /* sort scratch */
    size_t tmp_cap;
    nlpd__ibuf kept; /* UTF-8 of the unit's kept code points */
    nlpd__ibuf nfc;  /* UTF-8 of their NFC */
} nlpd__nfc_scratch;

void nlpd__nfc_scratch_release(nlpd__nfc_scratch *s);

/* One normalization: the text in, the normalized text appended to `out`,
 * every step recorded in `map` (NULL: no map, e.g. for a title). */
typedef struct nlpd__norm {
    nlpd__ibuf *out;
    nlpd_offmap_builder *map;
    nlpd__nfc_scratch *nfc;
    int reject_invalid;        /* fail at the first invalid sequence */
    uint32_t invalid_utf8;     /* out: invalid sequences replaced */
    uint32_t controls_removed; /* out: control characters turned into spaces */
    int changed;               /* out: the bytes differ from the input */
    size_t error_offset;       /* out: byte offset of the failure */
} nlpd__norm;

/* Normalizes `len` bytes of `text` (see nlpd/ingest.h, step 3). Returns 0,
 * NLPD_EUTF8 (reject policy; error_offset set), NLPD_EINVAL (the result
 * would not fit uint32 offsets) or NLPD_ENOMEM. */
int nlpd__normalize(nlpd__norm *nz, const char *text, size_t len);

/* Replaces invalid UTF-8 by U+FFFD and NUL by a space, appending to `out`
 * (the input handed to libxml2). Counts into nz like nlpd__normalize. */
int nlpd__sanitize_utf8(nlpd__norm *nz, const char *in, size_t len);

/* Returns 1 when `cp` is a sentence-final punctuation mark. */
int nlpd__is_terminal_cp(int32_t cp);

/* A heading found in HTML: a span of the extracted text. */
typedef struct nlpd__heading {
    uint32_t start;
    uint32_t end;
    int level; /* 1..6 */
} nlpd__heading;

/* The window of recent content hashes (dedup.c). */
typedef struct nlpd__dedup_slot {
    uint8_t hash[16];
    uint64_t time;
    uint32_t next; /* later slot with the same hash, or UINT32_MAX */
    int has_key;
    char *key;
    size_t key_cap;
    char *id;
    size_t id_cap;
} nlpd__dedup_slot;

typedef struct nlpd__dedup_index {
    uint32_t first; /* earliest slot with this hash; UINT32_MAX: empty */
    uint32_t last;  /* latest slot with this hash */
} nlpd__dedup_index;

typedef struct nlpd__dedup {
    nlpd__dedup_slot *slots; /* ring of `window` slots */
    size_t window;
    size_t head;  /* oldest slot */
    size_t count; /* slots in use */
    nlpd__dedup_index *index;
    size_t index_mask;
    uint64_t max_age_us;
    char *spare_key; /* keeps a reported duplicate whose slot is reused */
    size_t spare_key_cap;
    char *spare_id;
    size_t spare_id_cap;
} nlpd__dedup;

int nlpd__dedup_init(nlpd__dedup *d, size_t window, uint64_t max_age_us);
void nlpd__dedup_release(nlpd__dedup *d);

/* Makes sure the commit of a document with this key and id cannot fail.
 * Changes nothing that a lookup sees. Returns 0 or NLPD_ENOMEM. */
int nlpd__dedup_prepare(nlpd__dedup *d, const char *key, const char *id);

/* Forgets expired documents, looks `hash` up and remembers the document.
 * Never fails after a successful nlpd__dedup_prepare() with the same key
 * and id. *dup_key / *dup_id get the earliest remembered document with the
 * same hash (valid until the next prepare), or NULL. */
void nlpd__dedup_commit(nlpd__dedup *d, const uint8_t hash[16], const char *key, const char *id,
                        uint64_t now_us, const char **dup_key, const char **dup_id);

/* Strings of a result, stored as offsets into `strs` until the run ends. */
typedef struct nlpd__fields {
    size_t id, title, lede, source, url, published;
} nlpd__fields;

struct nlpd_ingest {
    nlpd_ingest_opts opts;

    nlpd__ibuf text;    /* the text as sent */
    nlpd__ibuf norm;    /* the normalized text */
    nlpd__ibuf strs;    /* NUL-terminated result strings */
    nlpd__ibuf scratch; /* sanitized HTML input */
    nlpd_offmap_builder map;
    nlpd__nfc_scratch nfc;

    nlpd_region *regions;
    size_t n_regions;
    size_t regions_cap;

    nlpd__heading *headings; /* HTML headings, in text order */
    size_t n_headings;
    size_t headings_cap;

    nlpd__fields found; /* what the input itself provided */
    /* Layout spans of the normalized text (start == NLPD__NONE: none). */
    size_t headline_start, headline_end;
    size_t lede_start, lede_end;
    size_t source_start, source_end;

    uint32_t invalid_utf8;
    uint32_t controls_removed;

    nlpd__dedup dedup;
    char last_error[256];
};

/* Sets last_error (printf-style) and returns `rc`. */
int nlpd__ingest_fail(nlpd_ingest *self, int rc, const char *fmt, ...) NLPD_PRINTF(3, 4);

/* Stores `n` bytes of `s` verbatim as a result string; *off gets its
 * offset in strs. Returns 0 or NLPD_ENOMEM. */
int nlpd__ingest_put_str(nlpd_ingest *self, const char *s, size_t n, size_t *off);

/* Stores `n` bytes of `s` normalized (whitespace collapsed, NFC, invalid
 * UTF-8 replaced); an empty result leaves *off at NLPD__NONE. */
int nlpd__ingest_put_norm_str(nlpd_ingest *self, const char *s, size_t n, size_t *off);

/* Appends a region; merges into the last one beyond opts.max_regions. */
int nlpd__ingest_add_region(nlpd_ingest *self, uint32_t kind, size_t start, size_t end);

/* JSON (json.c). Reads an article object into self->text and self->found.
 * Returns 0, 1 when the input is not a JSON article (only when !strict;
 * nothing was stored), NLPD_EFORMAT (strict) or NLPD_ENOMEM. */
int nlpd__ingest_json_read(nlpd_ingest *self, const char *in, size_t len, int strict);

/* HTML (html.c). */
int nlpd__ingest_html_detect(const char *in, size_t len);
int nlpd__ingest_html_read(nlpd_ingest *self, const char *in, size_t len);

/* Layout (layout.c): regions and headline/lede/source spans of self->norm. */
int nlpd__ingest_feed_detect(const char *norm, size_t len);
int nlpd__ingest_layout_text(nlpd_ingest *self);
int nlpd__ingest_layout_feed(nlpd_ingest *self);
int nlpd__ingest_layout_html(nlpd_ingest *self);

#endif /* NLPD_INGEST_INTERNAL_H */
