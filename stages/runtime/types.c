/* stages/runtime/types.c — names of the shared enums. */
#include "nlpd/types.h"

const char *
nlpd_format_name(nlpd_format f)
{
    switch (f) {
    case NLPD_FORMAT_TEXT:
        return "text";
    case NLPD_FORMAT_JSON:
        return "json";
    case NLPD_FORMAT_FEED:
        return "feed";
    case NLPD_FORMAT_HTML:
        return "html";
    case NLPD_FORMAT_DETECT:
        break;
    }
    return "detect";
}

const char *
nlpd_region_kind_name(uint32_t kind)
{
    switch (kind) {
    case NLPD_REGION_HEADLINE:
        return "headline";
    case NLPD_REGION_LEDE:
        return "lede";
    case NLPD_REGION_SEPARATOR:
        return "separator";
    case NLPD_REGION_BODY:
        return "body";
    case NLPD_REGION_SUBHEADING:
        return "subheading";
    case NLPD_REGION_SOURCE_LINE:
        return "source_line";
    default:
        break;
    }
    return "unspecified";
}
