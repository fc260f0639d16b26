/* stages/tag/clusters/embtree.h — a binary tree of word vectors by
 * bisecting 2-means: the core of nlpd-tag-embclusters, a build-time tool
 * (not part of the tagger library).
 *
 * Word embeddings (GloVe's, for the shipped file) place words that occur in
 * similar contexts near each other, learned from far more text than the
 * tagger's training data. The tagger cannot afford a dot product per token,
 * so the vectors are cut into a tree: the root holds every word, each node
 * is split in two by 2-means over the unit-length vectors (cosine), and a
 * word's bit path from the root (0 = the side whose first word comes
 * first) is what the tagger's features read, exactly like a Brown
 * cluster's path: a prefix of 4 bits is a coarse class, 12 bits a fine one.
 *
 * Deterministic: the same vectors in the same order give the same paths.
 * Each split starts from the word farthest from the node's mean and the
 * word farthest from that one (ties to the lower index), then runs Lloyd's
 * iterations until no word moves or `iterations` is reached. Not
 * thread-safe; no globals.
 */
#ifndef NLPD_TAG_EMBTREE_H
#define NLPD_TAG_EMBTREE_H

#include <stddef.h>
#include <stdint.h>

typedef struct nlpd_embtree_opts {
    uint32_t depth;      /* the longest path, 1..32 bits */
    uint32_t min_leaf;   /* a node with fewer words is not split (>= 2) */
    uint32_t iterations; /* Lloyd iterations per split, at most */
} nlpd_embtree_opts;

#define NLPD_EMBTREE_OPTS_INIT \
    {                          \
        16, 8, 20              \
    }

/* Cuts `n` vectors of `dim` floats (row-major in `vec`, normalized in
 * place to unit length; an all-zero row stays zero) into the tree and
 * writes each word's path: path[i] holds bits[i] bits, left-aligned (first
 * bit = bit 31). Returns 0, NLPD_EINVAL (bad options, dim 0) or
 * NLPD_ENOMEM. */
int nlpd_embtree_run(float *vec, size_t n, size_t dim, const nlpd_embtree_opts *opts,
                     uint32_t *path, uint8_t *bits);

#endif /* NLPD_TAG_EMBTREE_H */
