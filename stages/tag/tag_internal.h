/* stages/tag/tag_internal.h — the parts of the tagger shared by the
 * library and the trainer: the label scheme, the model, feature
 * extraction and the CRF algorithms.
 *
 * Feature extraction lives in one place (features.c) and both the tagger
 * (tag.c) and the trainer (train/train.c) call it, so a model is always
 * applied with exactly the features it was trained with.
 */
#ifndef NLPD_TAG_INTERNAL_H
#define NLPD_TAG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nlpd/split.h"
#include "nlpd/tag.h"

#ifdef NLPD_TAG_HAVE_GAZETTEER
#include "gazetteer.h"
#endif
#ifdef NLPD_TAG_HAVE_PATTERNS
#include "patterns.h"
#endif

/* --- Labels ------------------------------------------------------------------
 * BIO over the four name types: 0 is O, then B-t and I-t for each type t
 * (t = NLPD_ENT_PER .. NLPD_ENT_MISC): B-t = 2t - 1, I-t = 2t. */
#define NLPD__TAG_TYPES 4
#define NLPD__TAG_LABELS (1 + 2 * NLPD__TAG_TYPES)

static inline int
nlpd__tag_label_b(int type)
{
    return 2 * type - 1;
}

static inline int
nlpd__tag_label_type(int label)
{
    return (label + 1) / 2;
}

static inline int
nlpd__tag_label_is_i(int label)
{
    return label > 0 && (label & 1) == 0;
}

/* 1 when `cur` may follow `prev` (-1: the sentence start): I-t only after
 * B-t or I-t. */
static inline int
nlpd__tag_transition_ok(int prev, int cur)
{
    if (!nlpd__tag_label_is_i(cur))
        return 1;
    return prev > 0 && nlpd__tag_label_type(prev) == nlpd__tag_label_type(cur);
}

/* --- Hashing ------------------------------------------------------------------ */

#define NLPD__FNV_INIT 1469598103934665603ull

static inline uint64_t
nlpd__fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static inline uint64_t
nlpd__mix64(uint64_t x);

/* The model file's checksum: FNV-1a's step over 8-byte little-endian words
 * (then the tail bytes), finished by nlpd__mix64. Eight times fewer steps
 * than byte-wise FNV-1a on a model of several MB. */
static inline uint64_t
nlpd__tag_checksum(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = NLPD__FNV_INIT;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = (uint64_t)s[i] | (uint64_t)s[i + 1] << 8 | (uint64_t)s[i + 2] << 16 |
                     (uint64_t)s[i + 3] << 24 | (uint64_t)s[i + 4] << 32 |
                     (uint64_t)s[i + 5] << 40 | (uint64_t)s[i + 6] << 48 |
                     (uint64_t)s[i + 7] << 56;
        h = (h ^ w) * 1099511628211ull;
    }
    for (; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return nlpd__mix64(h ^ n);
}

static inline uint64_t
nlpd__mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* --- Word clusters --------------------------------------------------------------
 * Brown cluster bit paths by word (the exact form, else the lower-cased
 * one), kept in the model file. */
typedef struct nlpd__cl_slot {
    uint64_t key;  /* FNV-1a of the word's bytes; 0 marks an empty slot */
    uint32_t path; /* the path's bits, the first bit highest */
    uint8_t len;   /* the path's length in bits (1..32) */
} nlpd__cl_slot;  /* 16 bytes: one probe, one cache line */

typedef struct nlpd__clusters {
    nlpd__cl_slot *slots;
    size_t mask;     /* slots - 1, 0 when empty */
    size_t n;
    /* The words in file order (for saving): offsets into pool. */
    char *pool;
    size_t pool_len, pool_cap;
} nlpd__clusters;

int nlpd__clusters_add(nlpd__clusters *c, const char *w, size_t n, uint32_t path, uint8_t len);
/* Makes room for `n` words in all (one allocation instead of doublings:
 * the model loader knows the count). Returns 0 or NLPD_ENOMEM. */
int nlpd__clusters_reserve(nlpd__clusters *c, size_t n, size_t pool_bytes);
/* Looks up a word by its hash; returns the path length (0: not there). */
uint8_t nlpd__clusters_get(const nlpd__clusters *c, uint64_t key, uint32_t *path);
void nlpd__clusters_release(nlpd__clusters *c);
/* Reads a clusters.txt file (lines "<bitpath>\t<word>\t<count>"). */
int nlpd__clusters_read(nlpd__clusters *c, const char *path);

/* --- The model ----------------------------------------------------------------- */

/* The stride of a weight row in memory (labels padded). */
#define NLPD__TAG_ROW 16

/* Quantized weights lie in [-NLPD__TAG_QMAX, NLPD__TAG_QMAX], so the
 * tagger sums NLPD__TAG_QGROUP rows in int16 lanes without overflow
 * (32 x 1023 < 32767). At this precision the dev F1 is unchanged to
 * 3 decimals, and the many weights that round to 0 leave the file. */
#define NLPD__TAG_QMAX 1023
#define NLPD__TAG_QGROUP 32

#define NLPD__TAG_FORMAT_VERSION 1u
#define NLPD__TAG_TRAINER_VERSION 1u

/* Feature set flags (which optional inputs the model was trained with). */
enum {
    NLPD__TAG_F_GAZ = 1u << 0,
    NLPD__TAG_F_CLUSTERS = 1u << 1,
    NLPD__TAG_F_PATTERNS = 1u << 2,
    NLPD__TAG_F_EMB = 1u << 3, /* embedding classes (a second cluster table) */
    NLPD__TAG_F_KNOWN_ = (1u << 4) - 1, /* a model with others is refused */
};

struct nlpd_tag_model {
    uint32_t n_labels;
    uint32_t hash_bits;
    uint32_t features; /* NLPD__TAG_F_* */
    uint64_t gaz_digest;
    float scale;    /* weight = w[i] * scale */
    /* (1 << hash_bits) rows of NLPD__TAG_ROW int16 (n_labels used, the rest
     * 0), 64-byte aligned: a row is one aligned half cache line, and the
     * sum over a token's rows vectorizes. */
    int16_t *w;
    void *w_mem;    /* what was allocated for w */
    float start[NLPD__TAG_LABELS];
    /* trans[prev * L + cur]; a forbidden transition holds -1e30. */
    float trans[NLPD__TAG_LABELS * NLPD__TAG_LABELS];
    nlpd__clusters clusters;
    /* Word vector classes by lower-cased word (embtree paths). */
    nlpd__clusters emb;
    /* The gazetteer bits the CRF's features read: all but those of the
     * classes the document pass reads alone (place_lower). */
    uint64_t gaz_feat_mask;
#ifdef NLPD_TAG_HAVE_GAZETTEER
    nlpd_gaz *gaz; /* owned */
#endif
    char desc[128];     /* the trainer's description */
    char version[256];  /* nlpd_tag_model_version() */
};

/* An empty model (no weights) with the given feature parameters: the
 * trainer extracts features through it. Loads the built-in gazetteer when
 * the library has one. */
int nlpd__tag_model_new(nlpd_tag_model **out, uint32_t hash_bits);

/* Writes a model file from double weights: `w` holds (1 << hash_bits) *
 * n_labels emission weights, then L start weights, then L * L
 * transitions. Returns 0 or -errno. */
int nlpd__tag_model_save(const nlpd_tag_model *m, const double *w, const char *desc,
                         const char *path);

/* Sets m->trans and m->start (and the weights, quantized) from `w` as
 * above, so the trainer can tag with what it trains. */
int nlpd__tag_model_set_weights(nlpd_tag_model *m, const double *w);

/* --- Feature extraction ------------------------------------------------------------ */

#define NLPD__TAG_MAX_FEATS 96

/* What the document pass learns about one token. */
typedef struct nlpd__tag_tok {
    uint64_t word;   /* hash of the exact form */
    uint64_t lower;  /* hash of the lower-cased form */
    uint64_t fshape; /* hash of the fine shape, runs kept up to 4 ("Xxxx") */
    uint64_t cshape; /* hash of the fine shape, runs collapsed ("Xx") */
    uint64_t pre[4]; /* hashes of the lower-cased prefixes of 1..4 code points */
    uint64_t suf[4]; /* the same for suffixes */
    uint64_t gaz;    /* gazetteer bits */
    uint32_t cluster;
    uint32_t emb;     /* embedding class path of the lower-cased form */
    uint8_t cluster_len;
    uint8_t emb_len;
    uint8_t shape;   /* nlpd_token_shape */
    uint8_t flags;   /* NLPD_TOKEN_* */
    uint8_t pat;     /* pattern label of the token (0 none) */
    uint8_t doc;     /* NLPD__TAG_DOC_* */
    uint8_t ncp;     /* code points, capped at 255 */
    uint8_t sent;    /* NLPD__TAG_SENT_*: the sentence's casing */
    uint8_t pos;     /* position in the sentence: 0, 1, 2 = later */
} nlpd__tag_tok;

enum {
    NLPD__TAG_DOC_SEEN_LOWER = 1u << 0, /* the lower-cased form occurs lower case */
    NLPD__TAG_DOC_SEEN_CAP = 1u << 1,   /* ... capitalized inside a normal sentence */
};

enum {
    NLPD__TAG_SENT_NORMAL = 0,
    NLPD__TAG_SENT_TITLE = 1,   /* most words capitalized: a headline */
    NLPD__TAG_SENT_ALLCAPS = 2, /* every word upper case */
};

/* The working arrays of feature extraction over one text, reused. */
typedef struct nlpd__tag_fx {
    nlpd__tag_tok *tok;
    size_t tok_cap;
    uint64_t *set_keys; /* document word set: lower hash, 0 empty */
    uint8_t *set_vals;
    size_t set_cap;
    uint64_t *gazbits;
    size_t gaz_cap;
#ifdef NLPD_TAG_HAVE_PATTERNS
    nlpd__pattern_match *pm; /* pattern matches of the whole text */
    size_t pm_cap;
#endif
    size_t n_pm;
    uint8_t *patlab; /* per token */
    size_t patlab_cap;
} nlpd__tag_fx;

void nlpd__tag_fx_release(nlpd__tag_fx *fx);

/* The document pass: per-token hashes, shapes, clusters, gazetteer bits,
 * pattern matches and labels (numbers included, whatever the tagger's
 * options, so that features never depend on them), sentence casing and the
 * document's word set. Tokens and sentences must be valid (checked by the
 * caller). Returns 0 or NLPD_ENOMEM. */
int nlpd__tag_fx_doc(nlpd__tag_fx *fx, const nlpd_tag_model *m, const char *text,
                     const nlpd_split_token *tok, size_t n_tokens,
                     const nlpd_split_sentence *sen, size_t n_sentences);

/* The features of token i of the sentence [a, b) as row indices into the
 * weight table (at most NLPD__TAG_MAX_FEATS). Returns their number. */
size_t nlpd__tag_fx_token(const nlpd__tag_fx *fx, const nlpd_tag_model *m, size_t a, size_t b,
                          size_t i, uint32_t *out);

/* --- The document pass over the names (docpass.c) -------------------------------- */

#define NLPD__TAG_DC_MAXLEN 6
#define NLPD__TAG_DC_MIN_VOTE 0.5f
/* The score of a name a rule of the pass made, with no marginal of the
 * model's behind it (places in lower case, nationalities alone,
 * organizations named after a place). */
#define NLPD__TAG_DC_RULE_SCORE 0.5f

enum {
    NLPD__TAG_DC_RELABEL = 1u << 0,     /* one label per name across the document */
    NLPD__TAG_DC_ADD = 1u << 1,         /* later mentions of a name found */
    NLPD__TAG_DC_PARTS = 1u << 2,       /* ... including a person's surname alone */
    NLPD__TAG_DC_NATIONALITY = 1u << 3, /* a nationality alone is MISC */
    NLPD__TAG_DC_ACRONYMS = 1u << 4,    /* "WHO" after "World Health Organization" */
    NLPD__TAG_DC_STORMS = 1u << 5,      /* "Hurricane Katrina" is an event, MISC */
    NLPD__TAG_DC_LOWER_PLACES = 1u << 6, /* "kerala", "san francisco" in web text */
    NLPD__TAG_DC_PLACE_PAIRS = 1u << 7,  /* "Miramar California" is two places */
    NLPD__TAG_DC_ORG_OF = 1u << 8,       /* "Housing Authority of New Orleans" */
    NLPD__TAG_DC_PEOPLE = 1u << 9,       /* "Lenhart, Matthew"; two people in one name */
    NLPD__TAG_DC_ALL = 1023u,
};

typedef struct nlpd__tag_dc_slot {
    uint64_t key; /* 0: empty */
    float vote[5];   /* by nlpd_entity_label, PER..MISC: summed probabilities */
    uint32_t cnt[5]; /* ... and the number of votes */
} nlpd__tag_dc_slot;

/* The document pass's reusable arrays. */
typedef struct nlpd__tag_dc {
    nlpd__tag_dc_slot *slots;
    size_t slots_cap, cap;
    uint8_t *cover;
    size_t cover_cap;
    nlpd_tag_entity *added;
    size_t n_added, added_cap;
} nlpd__tag_dc;

void nlpd__tag_dc_release(nlpd__tag_dc *dc);

/* The gazetteer classes the document pass reads (-1: none). */
typedef struct nlpd__tag_dc_classes {
    int nationality;
    int place_lower; /* places as web text writes them, in lower case */
    int org_word;    /* Ministry, University, Authority... */
    int first_name;
#ifdef NLPD_TAG_HAVE_GAZETTEER
    /* For place pairs: the gazetteer (NULL: none), the classes (bit c) a
     * pair's first place may be an entry of, and those of its second. */
    const nlpd_gaz *gaz;
    uint32_t pair_first, pair_second;
#endif
} nlpd__tag_dc_classes;

/* Fills *cls from a gazetteer (a `const nlpd_gaz *`, or NULL for none). */
void nlpd__tag_dc_classes_init(nlpd__tag_dc_classes *cls, const void *gaz);

/* Applies the steps in `what` (NLPD__TAG_DC_*) to the names of a document
 * (in text order, not overlapping, with token indices), after
 * nlpd__tag_fx_doc filled fx: may relabel names and add names, keeping the
 * order. Returns 0 or NLPD_ENOMEM. */
int nlpd__tag_docpass(nlpd__tag_dc *dc, const nlpd__tag_fx *fx, const char *text,
                      const nlpd_split_token *tok, const nlpd_split_sentence *sen,
                      size_t n_sentences, size_t n_tokens, const nlpd__tag_dc_classes *cls,
                      unsigned what,
                      nlpd_tag_entity **names, size_t *n_names, size_t *names_cap);

/* --- CRF -------------------------------------------------------------------------- */

/* The best label path of n tokens given emission scores emit[t * L + y],
 * start and trans (float). `back` holds n * L bytes, `score` 2 * L floats.
 * Writes path[0..n). */
void nlpd__crf_viterbi(size_t n, const float *emit, const float *start, const float *trans,
                       float *score, uint8_t *back, uint8_t *path);

/* Scaled forward-backward over n tokens. emit (n * L doubles) is replaced by
 * exp(emit - max over the token's labels); `allow` (n masks of allowed
 * labels, or NULL for all) zeroes forbidden labels; mtrans holds
 * exp(trans) (L * L). Fills alpha and beta (n * L each), scale c[n] and
 * returns log Z (-inf when no path is allowed). The marginal of label y at
 * t is alpha[t*L+y] * beta[t*L+y]. */
double nlpd__crf_forward_backward(size_t n, double *emit, const double *mstart,
                                  const double *mtrans, const uint16_t *allow, double *alpha,
                                  double *beta, double *c);

#endif /* NLPD_TAG_INTERNAL_H */
