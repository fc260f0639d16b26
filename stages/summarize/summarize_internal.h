/* stages/summarize/summarize_internal.h — shared by the files of the
 * summarize library (not installed). */
#ifndef NLPD_SUMMARIZE_INTERNAL_H
#define NLPD_SUMMARIZE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nlpd/summarize.h"

/* FNV-1a over the lower-cased bytes of a term; never 0 (0 marks an empty
 * slot). */
static inline uint64_t
nlpd__sum_term_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        h ^= c;
        h *= 1099511628211ull;
    }
    return h != 0 ? h : 1;
}

/* A term byte: an ASCII letter or digit. */
static inline int
nlpd__sum_is_term_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The model's idf of a term hash. */
float nlpd__sum_model_idf_hash(const nlpd_summarize_model *m, uint64_t h);

#endif /* NLPD_SUMMARIZE_INTERNAL_H */
