/* stages/summarize/model.c — the background term statistics: a table of
 * document frequencies read from a text file (data/README.md), kept as
 * idf values in an open-addressing table keyed by the term's hash. */
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/log.h"
#include "summarize_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char nlpd__summarize_builtin_en[];
extern const size_t nlpd__summarize_builtin_en_len;

#define T NLPD__SUM_TERM
#define S NLPD__SUM_SPACE
const unsigned char nlpd__sum_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, S, S, S, S, S, 0, 0, /* \t \n \v \f \r */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* */
    S, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* space */
    T, T, T, T, T, T, T, T, T, T, 0, 0, 0, 0, 0, 0, /* 0-9 */
    0, T, T, T, T, T, T, T, T, T, T, T, T, T, T, T, /* A-O */
    T, T, T, T, T, T, T, T, T, T, T, 0, 0, 0, 0, 0, /* P-Z */
    0, T, T, T, T, T, T, T, T, T, T, T, T, T, T, T, /* a-o */
    T, T, T, T, T, T, T, T, T, T, T, 0, 0, 0, 0, 0, /* p-z */
};
#undef T
#undef S


static float
idf_of(uint32_t units, uint32_t df)
{
    return logf(((float)units + 1.0f) / ((float)df + 1.0f));
}

float
nlpd_summarize_model_idf(const nlpd_summarize_model *self, const char *term, size_t len)
{
    if (self == NULL || term == NULL)
        return 0.0f;
    return nlpd__sum_model_idf_hash(self, nlpd__sum_term_hash(term, len));
}

/* Reads a decimal count; returns 0 or NLPD_EMODEL. */
static int
parse_u32(const char *s, const char *end, uint32_t *out)
{
    uint64_t v = 0;
    if (s == end)
        return NLPD_EMODEL;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return NLPD_EMODEL;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return NLPD_EMODEL;
    }
    *out = (uint32_t)v;
    return 0;
}

static int
insert(nlpd_summarize_model *m, uint64_t h, float idf)
{
    size_t i = (size_t)h & m->mask;
    while (m->slots[i].key != 0 && m->slots[i].key != h)
        i = (i + 1) & m->mask;
    if (m->slots[i].key == 0)
        m->n_terms++;
    m->slots[i].key = h;
    m->slots[i].idf = idf;
    return 0;
}

int
nlpd_summarize_model_load_buffer(nlpd_summarize_model **out, const void *buf, size_t len)
{
    if (out == NULL || (buf == NULL && len > 0))
        return NLPD_EINVAL;
    *out = NULL;
    const char *p = buf, *end = p + len;
    size_t lines = 0;
    for (const char *q = p; q < end; q++)
        lines += *q == '\n';
    size_t cap = 16;
    while (cap < 2 * (lines + 1))
        cap *= 2;
    nlpd_summarize_model *m = nlpd_calloc(1, sizeof(*m));
    if (m == NULL)
        return NLPD_ENOMEM;
    m->slots = nlpd_calloc(cap, sizeof(*m->slots));
    if (m->slots == NULL) {
        nlpd_summarize_model_free(&m);
        return NLPD_ENOMEM;
    }
    m->mask = cap - 1;
    int have_units = 0;
    size_t line_no = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        line_no++;
        const char *e = le;
        if (e > p && e[-1] == '\r')
            e--;
        if (e > p && p[0] != '#') {
            const char *tab = memchr(p, '\t', (size_t)(e - p));
            uint32_t v = 0;
            int bad = tab == NULL || tab == p || parse_u32(tab + 1, e, &v) != 0;
            for (const char *c = p; !bad && c < tab; c++)
                bad = !nlpd__sum_is_term_byte((unsigned char)*c) || (*c >= 'A' && *c <= 'Z');
            if (!bad && !have_units) {
                bad = (size_t)(tab - p) != 5 || memcmp(p, "units", 5) != 0 || v == 0;
                m->units = v;
                have_units = 1;
            } else if (!bad) {
                bad = v > m->units;
                if (!bad)
                    insert(m, nlpd__sum_term_hash(p, (size_t)(tab - p)), idf_of(m->units, v));
            }
            if (bad) {
                NLPD_LOG(NLPD_LOG_ERR,
                         "stage=summarize msg=\"term statistics line %zu: want 'units<TAB>N' "
                         "first, then 'term<TAB>df' with df <= units\"",
                         line_no);
                nlpd_summarize_model_free(&m);
                return NLPD_EMODEL;
            }
        }
        p = nl != NULL ? nl + 1 : end;
    }
    if (!have_units) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=summarize msg=\"term statistics without a units line\"");
        nlpd_summarize_model_free(&m);
        return NLPD_EMODEL;
    }
    m->idf_unseen = idf_of(m->units, 0);
    snprintf(m->version, sizeof(m->version), "en %u units, %zu terms", (unsigned)m->units,
             m->n_terms);
    *out = m;
    return 0;
}

int
nlpd_summarize_model_load(nlpd_summarize_model **out, const char *path)
{
    if (out == NULL || path == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = nlpd_read_file(path, SIZE_MAX, &buf, &len);
    if (rc == 0)
        rc = nlpd_summarize_model_load_buffer(out, buf, len);
    nlpd_free(buf);
    return rc;
}

int
nlpd_summarize_model_load_builtin(nlpd_summarize_model **out)
{
    return nlpd_summarize_model_load_buffer(out, nlpd__summarize_builtin_en,
                                            nlpd__summarize_builtin_en_len);
}

const char *
nlpd_summarize_model_version(const nlpd_summarize_model *self)
{
    return self != NULL ? self->version : "";
}

void
nlpd_summarize_model_free(nlpd_summarize_model **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_summarize_model *m = *self_p;
    nlpd_free(m->slots);
    nlpd_free(m);
    *self_p = NULL;
}
