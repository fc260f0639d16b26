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
