/* stages/tag/crf.c — the linear-chain CRF's algorithms: Viterbi decoding
 * and scaled forward-backward (marginals for entity scores, and the
 * likelihood and its gradient in the trainer, with label constraints for
 * partially labelled data).
 */
#include <math.h>
#include <string.h>

#include "tag_internal.h"

#define L NLPD__TAG_LABELS

void
nlpd__crf_viterbi(size_t n, const float *emit, const float *start, const float *trans,
                  float *score, uint8_t *back, uint8_t *path)
{
    if (n == 0)
        return;
    float *prev = score, *cur = score + L;
    for (int y = 0; y < L; y++)
        prev[y] = start[y] + emit[y];
    for (size_t t = 1; t < n; t++) {
        const float *e = emit + t * L;
        uint8_t *bp = back + t * L;
        /* O and B-t may follow any label. */
        for (int y = 0; y < L; y += (y == 0 ? 1 : 2)) {
            float best = prev[0] + trans[y];
            int arg = 0;
            for (int x = 1; x < L; x++) {
                float s = prev[x] + trans[x * L + y];
                if (s > best) {
                    best = s;
                    arg = x;
                }
            }
            cur[y] = best + e[y];
            bp[y] = (uint8_t)arg;
        }
        /* I-t only B-t or I-t (the others are forbidden, -1e30). */
        for (int y = 2; y < L; y += 2) {
            float sb = prev[y - 1] + trans[(y - 1) * L + y];
            float si = prev[y] + trans[y * L + y];
            int from_i = si > sb;
            cur[y] = (from_i ? si : sb) + e[y];
            bp[y] = (uint8_t)(from_i ? y : y - 1);
        }
        float *tmp = prev;
        prev = cur;
        cur = tmp;
    }
    int arg = 0;
    for (int y = 1; y < L; y++)
        if (prev[y] > prev[arg])
            arg = y;
    path[n - 1] = (uint8_t)arg;
    for (size_t t = n - 1; t > 0; t--)
        path[t - 1] = back[t * L + path[t]];
}

double
nlpd__crf_forward_backward(size_t n, double *emit, const double *mstart, const double *mtrans,
                           const uint16_t *allow, double *alpha, double *beta, double *c)
{
    double logz = 0;
    for (size_t t = 0; t < n; t++) {
        double *e = emit + t * L;
        double mx = -HUGE_VAL;
        for (int y = 0; y < L; y++)
            if ((allow == NULL || (allow[t] >> y & 1)) && e[y] > mx)
                mx = e[y];
        for (int y = 0; y < L; y++)
            e[y] = (allow == NULL || (allow[t] >> y & 1)) ? exp(e[y] - mx) : 0.0;
        logz += mx;
    }
    /* Forward, each step scaled to sum 1. */
    for (int y = 0; y < L; y++)
        alpha[y] = mstart[y] * emit[y];
    for (size_t t = 0; t < n; t++) {
        double *a = alpha + t * L;
        if (t > 0) {
            const double *ap = a - L;
            const double *e = emit + t * L;
            for (int y = 0; y < L; y++) {
                double s = 0;
                for (int x = 0; x < L; x++)
                    s += ap[x] * mtrans[x * L + y];
                a[y] = s * e[y];
            }
        }
        double s = 0;
        for (int y = 0; y < L; y++)
            s += a[y];
        if (!(s > 0))
            return -HUGE_VAL;
        c[t] = s;
        for (int y = 0; y < L; y++)
            a[y] /= s;
        logz += log(s);
    }
    /* Backward with the same scales, so alpha * beta is the marginal. */
    for (int y = 0; y < L; y++)
        beta[(n - 1) * L + y] = 1.0;
    for (size_t t = n - 1; t > 0; t--) {
        const double *bn = beta + t * L;
        const double *e = emit + t * L;
        double *b = beta + (t - 1) * L;
        double tmp[L];
        for (int y = 0; y < L; y++)
            tmp[y] = bn[y] * e[y] / c[t];
        for (int x = 0; x < L; x++) {
            double s = 0;
            for (int y = 0; y < L; y++)
                s += mtrans[x * L + y] * tmp[y];
            b[x] = s;
        }
    }
    return logz;
}
