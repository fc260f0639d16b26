/* stages/runtime/offmap.c — offsets of normalized text back to the text as sent. */
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/offmap.h"

/* Index of the last anchor whose norm offset is <= off (strict: < off),
 * or -1 when there is none. */
static ptrdiff_t
find_anchor(const nlpd_offmap *m, uint32_t off, int strict)
{
    size_t lo = 0, hi = m->n; /* answer in [lo, hi) as count of qualifying anchors */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int ok = strict ? m->norm[mid] < off : m->norm[mid] <= off;
        if (ok)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

static int
segment_is_linear(const nlpd_offmap *m, size_t i)
{
    if (i + 1 >= m->n)
        return 1;
    return m->norm[i + 1] - m->norm[i] == m->orig[i + 1] - m->orig[i];
}

uint32_t
nlpd_offmap_start(const nlpd_offmap *m, uint32_t off)
{
    if (m == NULL || m->n == 0)
        return off;
    ptrdiff_t i = find_anchor(m, off, 0);
    if (i < 0)
        return off;
    size_t k = (size_t)i;
    if (segment_is_linear(m, k))
        return m->orig[k] + (off - m->norm[k]);
    return m->orig[k];
}

uint32_t
nlpd_offmap_end(const nlpd_offmap *m, uint32_t off)
{
    if (m == NULL || m->n == 0)
        return off;
    ptrdiff_t i = find_anchor(m, off, 1);
    if (i < 0)
        return 0;
    size_t k = (size_t)i;
    if (segment_is_linear(m, k))
        return m->orig[k] + (off - m->norm[k]);
    return m->orig[k + 1];
}

static int
push_anchor(nlpd_offmap_builder *b, uint32_t norm, uint32_t orig)
{
    if (b->n > 0 && b->norm[b->n - 1] == norm && b->orig[b->n - 1] == orig)
        return 0;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        uint32_t *nn = nlpd_realloc(b->norm, cap * sizeof(*nn));
        if (nn == NULL)
            return NLPD_ENOMEM;
        b->norm = nn;
        uint32_t *no = nlpd_realloc(b->orig, cap * sizeof(*no));
        if (no == NULL)
            return NLPD_ENOMEM;
        b->orig = no;
        b->cap = cap;
    }
    b->norm[b->n] = norm;
    b->orig[b->n] = orig;
    b->n++;
    return 0;
}

void
nlpd_offmap_builder_reset(nlpd_offmap_builder *b)
{
    b->n = 0;
    b->norm_pos = 0;
    b->orig_pos = 0;
    b->identity = 1;
}

int
nlpd_offmap_copy(nlpd_offmap_builder *b, uint32_t len)
{
    /* A rewrite always closes with an anchor of its own, so a copy never
     * needs one: it extends the segment that starts at the last anchor. */
    b->norm_pos += len;
    b->orig_pos += len;
    return 0;
}

int
nlpd_offmap_rewrite(nlpd_offmap_builder *b, uint32_t orig_len, uint32_t norm_len)
{
    if (orig_len == norm_len)
        return nlpd_offmap_copy(b, orig_len);
    int rc;
    if (b->identity) {
        b->identity = 0;
        rc = push_anchor(b, 0, 0);
        if (rc != 0)
            return rc;
    }
    rc = push_anchor(b, b->norm_pos, b->orig_pos);
    if (rc != 0)
        return rc;
    b->norm_pos += norm_len;
    b->orig_pos += orig_len;
    /* The anchor that ends the rewritten segment; a following copy or
     * rewrite starts from it. */
    return push_anchor(b, b->norm_pos, b->orig_pos);
}

int
nlpd_offmap_finish(nlpd_offmap_builder *b)
{
    if (b->identity) {
        b->n = 0;
        return 0;
    }
    return push_anchor(b, b->norm_pos, b->orig_pos);
}

void
nlpd_offmap_builder_release(nlpd_offmap_builder *b)
{
    if (b == NULL)
        return;
    nlpd_free(b->norm);
    nlpd_free(b->orig);
    memset(b, 0, sizeof(*b));
    b->identity = 1;
}

nlpd_offmap
nlpd_offmap_view(const nlpd_offmap_builder *b)
{
    nlpd_offmap m = {b->norm, b->orig, b->n};
    return m;
}
