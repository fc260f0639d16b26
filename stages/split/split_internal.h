/* stages/split/split_internal.h — what the files of the split stage share.
 * Nothing here is part of the public API.
 */
#ifndef NLPD_SPLIT_INTERNAL_H
#define NLPD_SPLIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nlpd/split.h"

/* --- Model ------------------------------------------------------------------ */

/* What an abbreviation does to the word after it. */
typedef enum abbrev_class {
    ABBR_NONE = 0,
    ABBR_PLAIN = 1,  /* "Co.", "Inc.", "etc.": may end a sentence */
    ABBR_TITLE = 2,  /* "Mr.", "Dr.", "Mt.": comes before a name, never ends one */
    ABBR_NUMBER = 3, /* "No.", "pp.": an abbreviation only before a number */
    ABBR_TIME = 4,   /* "a.m.", "p.m.": ends a time, often a sentence */
} abbrev_class;

/* An open-addressing table from short lower-case words to a small value. */
typedef struct nlpd__wordtab {
    struct nlpd__wordent *slots;
    size_t mask; /* slots - 1 (a power of two minus one), 0 when empty */
    size_t n;
    char *pool; /* the keys, NUL-separated */
    size_t pool_len;
    size_t pool_cap;
} nlpd__wordtab;

/* The longest word the tables hold (longer ones are never looked up). */
#define NLPD__WORD_MAX 32

/* Token shapes the classifier tells apart (nlpd_token_shape values, plus
 * one for "no token"). */
#define NLPD__SHAPES 16
#define NLPD__SHAPE_NONE 15
#define NLPD__LEN_BUCKETS 8

/* The length bucket of a sentence of n tokens so far. */
static inline unsigned
nlpd__len_bucket(size_t n)
{
    static const uint8_t b[40] = {0, 0, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5,
                                  6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6};
    return n < 40 ? b[n] : 7;
}

/* The slot of a word of n bytes in nlpd_split_model.word_max: n, or one
 * for every word longer than the tables' words. */
static inline size_t
nlpd__len_slot(size_t n)
{
    return n <= NLPD__WORD_MAX ? n : NLPD__WORD_MAX + 1;
}

/* An open-addressing table from 64-bit feature hashes to weights: the word
 * features of the gap classifier, looked up without string compares. A
 * 16-bit tag per slot (from hash bits the slot index does not use, never
 * 0) is probed first: the tags are small enough to stay in the L1 cache,
 * and a feature the model lacks (about half of the lookups in news) is
 * mostly answered from them alone. */
struct nlpd__featent {
    uint64_t key; /* 0 marks an empty slot */
    int32_t value;
};

typedef struct nlpd__feattab {
    struct nlpd__featent *slots;
    uint16_t *tags; /* one per slot, 0 when empty */
    size_t mask;    /* slots - 1, 0 when empty */
    size_t n;
} nlpd__feattab;

/* The first slot of hash h, and its tag. */
static inline size_t
nlpd__feat_slot(uint64_t h)
{
    return (size_t)(h ^ (h >> 29));
}

static inline uint16_t
nlpd__feat_tag(uint64_t h)
{
    return (uint16_t)((h >> 48) | 1u);
}

/* The weight of feature hash h, 0 when absent. */
static inline int32_t
nlpd__feattab_get(const nlpd__feattab *t, uint64_t h)
{
    if (__builtin_expect(t->mask == 0, 0))
        return 0;
    uint16_t tag = nlpd__feat_tag(h);
    for (size_t i = nlpd__feat_slot(h) & t->mask;; i = (i + 1) & t->mask) {
        uint16_t g = t->tags[i];
        if (g == tag && t->slots[i].key == h)
            return t->slots[i].value;
        if (g == 0)
            return 0;
    }
}

/* The hash of feature `kind` ('p', 'n', 'q') for word w, case folded the
 * cheap way (bytes OR 0x20: "A" and "a" agree; so do "@" and "`", which
 * no feature tells apart). Eight bytes at a time. */
static inline uint64_t
nlpd__feat_hash(char kind, const char *w, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(unsigned char)kind << 56) ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t x;
        memcpy(&x, w, 8);
        h = (h ^ (x | 0x2020202020202020ull)) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        w += 8;
        n -= 8;
    }
    if (n > 0) {
        /* The last 1..7 bytes, little-endian, from loads that stay inside
         * them (two that overlap give the same bytes twice). */
        uint64_t x;
        if (n >= 4) {
            uint32_t lo, hi;
            memcpy(&lo, w, 4);
            memcpy(&hi, w + n - 4, 4);
            x = (uint64_t)lo | ((uint64_t)hi << (8 * (n - 4)));
        } else {
            x = (uint64_t)(unsigned char)w[0] |
                ((uint64_t)(unsigned char)w[n / 2] << (8 * (n / 2))) |
                ((uint64_t)(unsigned char)w[n - 1] << (8 * (n - 1)));
        }
        x |= 0x2020202020202020ull >> (8 * (8 - n));
        h = (h ^ x) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    return h != 0 ? h : 1;
}


struct nlpd_split_model {
    nlpd__wordtab abbrevs;  /* value: abbrev_class */
    nlpd__wordtab starters; /* value: how often the word starts a sentence, 0..1000 */
    nlpd__wordtab lower_starters; /* lower case after a period: how often a start, 0..1000 */
    nlpd__feattab weights;  /* word features: weight * 1000 (gap classifier) */
    /* The gap classifier (a logistic model, weights * 1000): it decides the
     * gaps before a capitalized word or a number that no punctuation
     * marks. Features: the words on either side and the one before (in
     * `weights` as "p:word", "n:word" and "q:word"), the shapes of the two tokens on each side, and the
     * length of the sentence so far. */
    int has_gap;
    int32_t bias;
    int32_t threshold;
    int32_t pair[NLPD__SHAPES][NLPD__SHAPES];      /* "sp:A,B": shapes of prev, next */
    int32_t prev_pair[NLPD__SHAPES][NLPD__SHAPES]; /* "pp:A,B": shapes of prev-1, prev */
    int32_t next_pair[NLPD__SHAPES][NLPD__SHAPES]; /* "nn:A,B": shapes of next, next+1 */
    int32_t len[NLPD__LEN_BUCKETS];                /* "len:K": sentence length bucket */
    /* The most a "p:", "n:" and "q:" feature of a word of n bytes adds
     * ([k][nlpd__len_slot(n)]; 0 when none is above 0: a word the model
     * lacks adds 0): the boundary pass stops looking words up once the
     * rest cannot lift a score over the threshold. */
    int32_t word_max[3][NLPD__WORD_MAX + 2];
    char lang[8];
    char tag[64];      /* the file's own version ([meta] version) */
    char version[128]; /* what nlpd_split_model_version() says */
};

/* Looks `w` (n bytes) up, ASCII-lowercased. Returns 1 and sets *value when
 * found. */
int nlpd__wordtab_get(const nlpd__wordtab *t, const char *w, size_t n, int32_t *value);

/* Sets w (lower-cased) to value. Returns 0 or NLPD_ENOMEM. */
int nlpd__wordtab_put(nlpd__wordtab *t, const char *w, size_t n, int32_t value);

void nlpd__wordtab_release(nlpd__wordtab *t);

/* The abbreviation class of `w` (without its final period). */
abbrev_class nlpd__model_abbrev(const nlpd_split_model *m, const char *w, size_t n);

/* How often `w` starts a sentence when it is capitalized, 0..1000; -1 when
 * the model does not know the word. */
int32_t nlpd__model_starter(const nlpd_split_model *m, const char *w, size_t n);

/* A filter that tells most words for no abbreviation without a lookup:
 * bit (first * 31 + last) & 63 of bits[n] is set for every abbreviation
 * of n bytes (ASCII lower case, first and last byte). A clear bit says
 * "no abbreviation"; a set one says nothing. Made from a model by
 * nlpd__abbrev_filter_init (split.c) for one splitter. */
typedef struct nlpd__abbrev_filter {
    uint64_t bits[NLPD__WORD_MAX + 1];
} nlpd__abbrev_filter;

static inline unsigned
nlpd__abbrev_filter_bit(unsigned char first, unsigned char last)
{
    first = (unsigned char)(first >= 'A' && first <= 'Z' ? first + 32 : first);
    last = (unsigned char)(last >= 'A' && last <= 'Z' ? last + 32 : last);
    return (first * 31u + last) & 63u;
}

/* Can w (n bytes) be an abbreviation of the model? 0: surely not. */
static inline int
nlpd__abbrev_maybe(const nlpd__abbrev_filter *f, const char *w, size_t n)
{
    if (f == NULL)
        return 1;
    if (n == 0 || n > NLPD__WORD_MAX)
        return 0; /* the table holds no such word */
    unsigned bit = nlpd__abbrev_filter_bit((unsigned char)w[0], (unsigned char)w[n - 1]);
    return (int)((f->bits[n] >> bit) & 1);
}

/* --- Characters --------------------------------------------------------------- */

typedef enum char_class {
    CC_SPACE = 0, /* whitespace and control characters: never in a token */
    CC_UPPER,
    CC_LOWER,
    CC_LETTER, /* a letter without case (Han, Arabic, ...) */
    CC_DIGIT,
    CC_MARK,   /* combining marks and format characters (ZWJ, soft hyphen) */
    CC_PUNCT,  /* other punctuation */
    CC_OPEN,   /* opening brackets and quotes */
    CC_CLOSE,  /* closing brackets and quotes */
    CC_DASH,
    CC_SYMBOL,
    CC_EMOJI,
    CC_INVALID, /* a byte that does not start valid UTF-8 */
    CC_OTHER,
} char_class;

/* Reads the code point at s[p] (p < end): sets *cp (-1 when invalid) and
 * returns its class; *len gets its length in bytes (>= 1). */
char_class nlpd__char_at(const char *s, size_t p, size_t end, int32_t *cp, size_t *len);

/* The classes of ASCII characters. */
extern const uint8_t nlpd__ascii_class[128];

/* nlpd__char_at with ASCII inline. */
static inline char_class
nlpd__char_fast(const char *s, size_t p, size_t end, int32_t *cp, size_t *len)
{
    unsigned char c = (unsigned char)s[p];
    if (c < 0x80) {
        *cp = c;
        *len = 1;
        return (char_class)nlpd__ascii_class[c];
    }
    return nlpd__char_at(s, p, end, cp, len);
}

/* --- Tokenizer ------------------------------------------------------------------ */

typedef struct nlpd__toks {
    nlpd_split_token *v;
    size_t n;
    size_t cap;
    /* One bit per token (bit i & 63 of word i >> 6): set when the
     * tokenizer knows that no boundary rule looks at token i (see
     * skip_plain in boundary.c); clear says nothing. */
    uint64_t *plain;
    size_t plain_cap; /* words */
} nlpd__toks;

/* Appends the tokens of text[from, to) to *out, and their bits to
 * out->plain. Returns 0 or NLPD_ENOMEM. */
int nlpd__tokenize(const nlpd_split_model *m, const nlpd__abbrev_filter *af, const char *text,
                   size_t from, size_t to, nlpd__toks *out);

/* What nlpd__tokenize's fast path runs on on this machine, for the
 * benchmark's header ("byte masks with AVX2+BMI2"). */
const char *nlpd__tokenize_path(void);

/* The same by one path, for tests that compare them: mode 0 the general
 * code only; 1, 2, 3 the byte-mask fast path first, its masks made byte by
 * byte, with SSE2, with AVX2 (a mode the machine lacks falls back to the
 * one below it). Every mode gives the same tokens. */
int nlpd__tokenize_mode(const nlpd_split_model *m, const char *text, size_t from, size_t to,
                        nlpd__toks *out, int mode);

/* --- Boundaries ------------------------------------------------------------------- */

typedef struct nlpd__sents {
    nlpd_split_sentence *v;
    size_t n;
    size_t cap;
} nlpd__sents;

/* Splits tokens [t0, t1) of one region into sentences appended to *out;
 * `plain` (NULL or the tokenizer's bits, nlpd__toks) lets it pass over
 * tokens no rule looks at. Returns 0 or NLPD_ENOMEM. */
int nlpd__split_region(const nlpd_split_model *m, const nlpd_split_opts *o, const char *text,
                       const nlpd_split_token *tok, const uint64_t *plain, size_t t0, size_t t1,
                       nlpd__sents *out);

/* --- The gap classifier ------------------------------------------------------------- */

/* What the classifier sees of the gap after token i. */
typedef struct nlpd__gap {
    unsigned prev2, prev, next, next2; /* shapes, NLPD__SHAPE_NONE when absent */
    unsigned len;                      /* length bucket of the sentence so far */
    const char *pw, *nw, *qw;          /* the words on either side, the one before pw */
    size_t pwl, nwl, qwl;
} nlpd__gap;

/* Is the gap after token i (in tokens [t0, t1), sentence from s) one the
 * classifier decides? Fills *g when it is. */
int nlpd__gap_candidate(const char *text, const nlpd_split_token *tok, size_t t0, size_t t1,
                        size_t s, size_t i, nlpd__gap *g);

/* The classifier's score (logit * 1000) for a gap. */
int32_t nlpd__gap_score(const nlpd_split_model *m, const nlpd__gap *g);

#endif /* NLPD_SPLIT_INTERNAL_H */
