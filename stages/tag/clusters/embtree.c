/* stages/tag/clusters/embtree.c — bisecting 2-means over word vectors
 * (embtree.h). */
#include "embtree.h"

#include "nlpd/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    size_t lo, hi; /* words idx[lo..hi) */
    uint32_t depth;
    uint32_t path;
} node;

typedef struct tree {
    const float *vec;
    size_t dim;
    uint32_t *idx;
    uint32_t *tmp;
    uint8_t *side;
    double *c[2];
    double *mean;
} tree;

static double
dist2_d(const float *x, const double *c, size_t dim)
{
    double s = 0;
    for (size_t k = 0; k < dim; k++) {
        double d = (double)x[k] - c[k];
        s += d * d;
    }
    return s;
}

/* The word of idx[lo..hi) farthest from `c` (ties: the first). */
static size_t
farthest(const tree *t, size_t lo, size_t hi, const double *c)
{
    size_t best = lo;
    double bd = -1;
    for (size_t i = lo; i < hi; i++) {
        double d = dist2_d(t->vec + (size_t)t->idx[i] * t->dim, c, t->dim);
        if (d > bd) {
            bd = d;
            best = i;
        }
    }
    return best;
}

/* Splits idx[lo..hi) in two; returns the size of the side that holds
 * idx[lo] (moved to the front, both sides in their old order), or 0 when
 * the node cannot be split. */
static size_t
split(tree *t, size_t lo, size_t hi, uint32_t iterations)
{
    size_t dim = t->dim, n = hi - lo;
    memset(t->mean, 0, dim * sizeof *t->mean);
    for (size_t i = lo; i < hi; i++) {
        const float *x = t->vec + (size_t)t->idx[i] * dim;
        for (size_t k = 0; k < dim; k++)
            t->mean[k] += x[k];
    }
    for (size_t k = 0; k < dim; k++)
        t->mean[k] /= (double)n;
    size_t a = farthest(t, lo, hi, t->mean);
    for (size_t k = 0; k < dim; k++)
        t->c[0][k] = t->vec[(size_t)t->idx[a] * dim + k];
    size_t b = farthest(t, lo, hi, t->c[0]);
    if (dist2_d(t->vec + (size_t)t->idx[b] * dim, t->c[0], dim) == 0)
        return 0; /* every vector the same */
    for (size_t k = 0; k < dim; k++)
        t->c[1][k] = t->vec[(size_t)t->idx[b] * dim + k];
    memset(t->side + lo, 2, n);
    size_t count[2] = {0, 0};
    for (uint32_t it = 0; it < iterations; it++) {
        int moved = 0;
        count[0] = count[1] = 0;
        for (size_t i = lo; i < hi; i++) {
            const float *x = t->vec + (size_t)t->idx[i] * dim;
            uint8_t s = dist2_d(x, t->c[1], dim) < dist2_d(x, t->c[0], dim);
            moved |= s != t->side[i];
            t->side[i] = s;
            count[s]++;
        }
        if (!moved || count[0] == 0 || count[1] == 0)
            break;
        memset(t->c[0], 0, dim * sizeof(double));
        memset(t->c[1], 0, dim * sizeof(double));
        for (size_t i = lo; i < hi; i++) {
            const float *x = t->vec + (size_t)t->idx[i] * dim;
            double *c = t->c[t->side[i]];
            for (size_t k = 0; k < dim; k++)
                c[k] += x[k];
        }
        for (int s = 0; s < 2; s++)
            for (size_t k = 0; k < dim; k++)
                t->c[s][k] /= (double)count[s];
    }
    if (count[0] == 0 || count[1] == 0)
        return 0;
    /* Stable partition: the side of idx[lo] first. */
    uint8_t first = t->side[lo];
    size_t m = 0, r = 0;
    for (size_t i = lo; i < hi; i++) {
        if (t->side[i] == first)
            t->idx[lo + m++] = t->idx[i];
        else
            t->tmp[r++] = t->idx[i];
    }
    memcpy(t->idx + lo + m, t->tmp, r * sizeof *t->tmp);
    return m;
}

int
nlpd_embtree_run(float *vec, size_t n, size_t dim, const nlpd_embtree_opts *opts, uint32_t *path,
                 uint8_t *bits)
{
    if (!opts || dim == 0 || opts->depth < 1 || opts->depth > 32 || opts->min_leaf < 2 ||
        opts->iterations < 1 || n > UINT32_MAX)
        return NLPD_EINVAL;
    for (size_t i = 0; i < n; i++) {
        float *x = vec + i * dim;
        double s = 0;
        for (size_t k = 0; k < dim; k++)
            s += (double)x[k] * (double)x[k];
        if (s > 0) {
            double inv = 1.0 / sqrt(s);
            for (size_t k = 0; k < dim; k++)
                x[k] = (float)((double)x[k] * inv);
        }
    }
    tree t = {.vec = vec, .dim = dim};
    node *stack = NULL;
    int rc = NLPD_ENOMEM;
    t.idx = malloc((n ? n : 1) * sizeof *t.idx);
    t.tmp = malloc((n ? n : 1) * sizeof *t.tmp);
    t.side = malloc(n ? n : 1);
    t.c[0] = malloc(dim * sizeof(double));
    t.c[1] = malloc(dim * sizeof(double));
    t.mean = malloc(dim * sizeof(double));
    stack = malloc(((size_t)opts->depth + 2) * sizeof *stack);
    if (!t.idx || !t.tmp || !t.side || !t.c[0] || !t.c[1] || !t.mean || !stack)
        goto out;
    for (size_t i = 0; i < n; i++)
        t.idx[i] = (uint32_t)i;
    size_t top = 0;
    if (n > 0)
        stack[top++] = (node){0, n, 0, 0};
    while (top > 0) {
        node nd = stack[--top];
        size_t m = 0;
        if (nd.depth < opts->depth && nd.hi - nd.lo >= opts->min_leaf)
            m = split(&t, nd.lo, nd.hi, opts->iterations);
        if (m == 0) {
            for (size_t i = nd.lo; i < nd.hi; i++) {
                path[t.idx[i]] = nd.path;
                bits[t.idx[i]] = (uint8_t)nd.depth;
            }
            continue;
        }
        uint32_t bit = 1u << (31 - nd.depth);
        /* Right first, so the left (bit 0) is cut next: depth-first. */
        stack[top++] = (node){nd.lo + m, nd.hi, nd.depth + 1, nd.path | bit};
        stack[top++] = (node){nd.lo, nd.lo + m, nd.depth + 1, nd.path};
    }
    rc = 0;
out:
    free(t.idx);
    free(t.tmp);
    free(t.side);
    free(t.c[0]);
    free(t.c[1]);
    free(t.mean);
    free(stack);
    return rc;
}
