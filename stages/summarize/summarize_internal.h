/* stages/summarize/summarize_internal.h — shared by the files of the
 * summarize library (not installed). */
#ifndef NLPD_SUMMARIZE_INTERNAL_H
#define NLPD_SUMMARIZE_INTERNAL_H

#include "nlpd/summarize.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The hash of a term: its bytes lower-cased (`| 0x20` lower-cases an ASCII
 * letter and keeps a digit: terms hold nothing else), eight at a time,
 * mixed with multiply-xorshift steps. Never 0 (0 marks an empty slot).
 * Only ever compared within one process (the model hashes its terms when
 * it loads), so the byte order of the machine does not matter. */
static inline uint64_t
nlpd__sum_mix(uint64_t h, uint64_t v)
{
    h = (h ^ (v | 0x2020202020202020ull)) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

/* The hash of `len` bytes at s; `room` is how many bytes at s may be read
 * (>= len): with 8 or more past the last full block, the tail is one load. */
static inline uint64_t
nlpd__sum_term_hash_room(const char *s, size_t len, size_t room)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)len;
    if (len - 1 < 8 && room >= 8) { /* 1 to 8 bytes, as most words: one load */
        uint64_t v;
        memcpy(&v, s, 8);
        h = nlpd__sum_mix(h, v & (~0ull >> (8 * (8 - len))));
        goto done;
    }
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        h = nlpd__sum_mix(h, v);
    }
    size_t r = len - i;
    if (r > 0) {
        uint64_t v = 0;
        if (i + 8 <= room) {
            memcpy(&v, s + i, 8);
            v &= ~0ull >> (8 * (8 - r));
        } else {
            for (size_t k = 0; k < r; k++)
                v |= (uint64_t)(unsigned char)s[i + k] << (8 * k);
        }
        h = nlpd__sum_mix(h, v); /* bytes past the term are 0 here */
    }
done:
    /* No finalizer: each step is a bijection of h (for terms of up to
     * eight bytes and one length no two hashes are equal), and the high
     * half is folded into the low half, which the tables index by. */
    return h != 0 ? h : 1;
}

static inline uint64_t
nlpd__sum_term_hash(const char *s, size_t len)
{
    return nlpd__sum_term_hash_room(s, len, len);
}

/* Byte classes: 1 an ASCII letter or digit (a term byte), 2 ASCII
 * whitespace (words are separated by it). */
extern const unsigned char nlpd__sum_class[256];
#define NLPD__SUM_TERM  1
#define NLPD__SUM_SPACE 2

static inline int
nlpd__sum_is_term_byte(unsigned char c)
{
    return nlpd__sum_class[c] & NLPD__SUM_TERM;
}

/* The background term statistics: idf by term hash, open addressing. */
typedef struct nlpd__sum_slot {
    uint64_t key; /* 0: empty */
    float idf;    /* key and idf in one 16-byte record: a probe reads one line */
    uint32_t pad;
} nlpd__sum_slot;

struct nlpd_summarize_model {
    nlpd__sum_slot *slots;
    size_t mask; /* capacity - 1, a power of two minus one */
    size_t n_terms;
    uint32_t units;
    float idf_unseen;
    char version[64];
};

/* The model's idf of a term hash. */
static inline float
nlpd__sum_model_idf_hash(const nlpd_summarize_model *m, uint64_t h)
{
    size_t i = (size_t)h & m->mask;
    for (;;) {
        uint64_t k = m->slots[i].key;
        if (k == h)
            return m->slots[i].idf;
        if (k == 0)
            return m->idf_unseen;
        i = (i + 1) & m->mask;
    }
}

#endif /* NLPD_SUMMARIZE_INTERNAL_H */
