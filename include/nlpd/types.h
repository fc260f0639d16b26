/* include/nlpd/types.h — plain types shared by the stage libraries and the SDK.
 *
 * The numeric values equal those of the matching enums in proto/nlpd.proto,
 * so the codec converts by cast. Stage libraries include this header, never
 * the generated protobuf one.
 */
#ifndef NLPD_TYPES_H
#define NLPD_TYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How an input is read (nlpd.v1.Format). */
typedef enum nlpd_format {
    NLPD_FORMAT_DETECT = 0,
    NLPD_FORMAT_TEXT = 1,
    NLPD_FORMAT_JSON = 2,
    NLPD_FORMAT_FEED = 3,
    NLPD_FORMAT_HTML = 4,
} nlpd_format;

/* Layout regions that ingestion recognises (nlpd.v1.RegionKind). */
typedef enum nlpd_region_kind {
    NLPD_REGION_UNSPECIFIED = 0,
    NLPD_REGION_HEADLINE = 1,
    NLPD_REGION_LEDE = 2,
    NLPD_REGION_SEPARATOR = 3,
    NLPD_REGION_BODY = 4,
    NLPD_REGION_SUBHEADING = 5,
    NLPD_REGION_SOURCE_LINE = 6,
} nlpd_region_kind;

/* A [start, end) span of UTF-8 byte offsets. */
typedef struct nlpd_span {
    uint32_t start;
    uint32_t end;
} nlpd_span;

typedef struct nlpd_region {
    uint32_t kind; /* nlpd_region_kind */
    uint32_t start;
    uint32_t end;
} nlpd_region;

/* Token shape classes (Tokens.shape), a small hint for later stages.
 * New classes are only appended. */
typedef enum nlpd_token_shape {
    NLPD_SHAPE_OTHER = 0,
    NLPD_SHAPE_LOWER = 1,       /* "news" */
    NLPD_SHAPE_CAPITALIZED = 2, /* "Seoul" */
    NLPD_SHAPE_UPPER = 3,       /* "TASS", "U.S." */
    NLPD_SHAPE_MIXED = 4,       /* "iPhone", "McDonald" */
    NLPD_SHAPE_NUMBER = 5,      /* "42", "1,250.75", "3.5" */
    NLPD_SHAPE_ALNUM = 6,       /* "G7", "3rd", "10:30" */
    NLPD_SHAPE_PUNCT = 7,       /* ".", "(", "\u201c" */
    NLPD_SHAPE_SYMBOL = 8,      /* "$", "%", "+" */
    NLPD_SHAPE_URL = 9,
    NLPD_SHAPE_EMAIL = 10,
    NLPD_SHAPE_HANDLE = 11,  /* "@nlpd" */
    NLPD_SHAPE_HASHTAG = 12, /* "#news" */
    NLPD_SHAPE_EMOJI = 13,
} nlpd_token_shape;

/* Sentence flags (Sentences.flags bits). */
enum {
    NLPD_SENTENCE_TRUNCATED = 1u << 0, /* cut at the maximum sentence length */
};

/* Returns 1 when regions of `kind` hold running text (to be split into
 * sentences), 0 for layout (separator, source line). */
static inline int
nlpd_region_is_text(uint32_t kind)
{
    return kind != NLPD_REGION_SEPARATOR && kind != NLPD_REGION_SOURCE_LINE;
}

/* Returns the lower-case name of a format ("text", "json", "feed", "html",
 * "detect"); never NULL. */
const char *nlpd_format_name(nlpd_format f);

/* Returns the name of a region kind ("headline", "lede", ...); never NULL. */
const char *nlpd_region_kind_name(uint32_t kind);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_TYPES_H */
