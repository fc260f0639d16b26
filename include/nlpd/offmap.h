/* include/nlpd/offmap.h — map offsets of a rewritten text back to the original.
 *
 * Normalization rewrites text (collapses whitespace, composes characters,
 * drops invisible ones) but users want offsets into what they sent. The map
 * is a list of anchors (norm[i], orig[i]), both increasing, that always starts
 * at (0, 0) and ends at (norm_len, orig_len). Between anchors i and i+1 the
 * segment either corresponds byte for byte (both gaps equal) or was rewritten
 * as a whole: a start offset inside a rewritten segment maps to orig[i], an
 * end offset to orig[i+1]. An empty map (n == 0) is the identity.
 *
 * Lookups are O(log n) and allocate nothing. The builder is the only
 * allocating part.
 */
#ifndef NLPD_OFFMAP_H
#define NLPD_OFFMAP_H

#include <stddef.h>
#include <stdint.h>

#include "nlpd/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A read-only view of a map; the arrays are borrowed. */
typedef struct nlpd_offmap {
    const uint32_t *norm;
    const uint32_t *orig;
    size_t n;
} nlpd_offmap;

/* Maps a span start (an offset where something begins) to the original. */
NLPD_EXPORT uint32_t nlpd_offmap_start(const nlpd_offmap *m, uint32_t off);

/* Maps a span end (an offset where something ends, exclusive). */
NLPD_EXPORT uint32_t nlpd_offmap_end(const nlpd_offmap *m, uint32_t off);

/* Incremental builder. The caller owns the struct (zero it, or use
 * NLPD_OFFMAP_BUILDER_INIT); its arrays are freed by
 * nlpd_offmap_builder_release(). Not thread-safe. */
typedef struct nlpd_offmap_builder {
    uint32_t *norm; /* read-only: anchors so far */
    uint32_t *orig;
    size_t n;
    size_t cap;     /* private */
    uint32_t norm_pos; /* private: end of what was fed */
    uint32_t orig_pos;
    int identity;   /* private: no rewrite seen yet */
} nlpd_offmap_builder;

#define NLPD_OFFMAP_BUILDER_INIT {NULL, NULL, 0, 0, 0, 0, 1}

/* Forgets what was fed, keeping the arrays for reuse. */
NLPD_EXPORT void nlpd_offmap_builder_reset(nlpd_offmap_builder *b);

/* Records `len` bytes copied unchanged. Returns 0 or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_offmap_copy(nlpd_offmap_builder *b, uint32_t len);

/* Records `orig_len` original bytes rewritten as `norm_len` bytes (either
 * may be 0: an insertion or a deletion). Equal lengths are recorded as a
 * copy: they correspond byte for byte. Returns 0 or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_offmap_rewrite(nlpd_offmap_builder *b, uint32_t orig_len, uint32_t norm_len);

/* Closes the map with the final anchor. Afterwards b->n is 0 when the
 * whole text was copied unchanged (the identity). Returns 0 or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_offmap_finish(nlpd_offmap_builder *b);

/* Frees the builder's arrays; the struct may be reused after
 * nlpd_offmap_builder_reset(). Accepts NULL. */
NLPD_EXPORT void nlpd_offmap_builder_release(nlpd_offmap_builder *b);

/* Returns a view of the builder's anchors. */
NLPD_EXPORT nlpd_offmap nlpd_offmap_view(const nlpd_offmap_builder *b);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_OFFMAP_H */
