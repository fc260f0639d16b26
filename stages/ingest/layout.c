/* stages/ingest/layout.c — layout regions of the normalized text.
 *
 * The normalized text has no leading or trailing whitespace, single spaces,
 * "\n" between the lines of a paragraph and exactly "\n\n" between
 * paragraphs, so paragraphs and lines are found with memchr. Every
 * paragraph is looked at once and only its first few words are counted:
 * the regions of a text cost time linear in its length.
 */
#include <string.h>

#include <utf8proc.h>

#include "ingest_internal.h"
#include "nlpd/error.h"
#include "nlpd/offmap.h"

#define HEADLINE_MAX_WORDS    20
#define SUBHEADING_MAX_WORDS  12
#define SOURCE_LINE_MAX_WORDS 6
/* Words counted per paragraph: one more than any rule looks at, so that
 * only the start of a long paragraph is read. */
#define WORD_CAP (HEADLINE_MAX_WORDS + 1)
/* The feed's `|` line must come within this many lines of the start. */
#define SEPARATOR_MAX_LINE 12

typedef struct para {
    size_t start;
    size_t end;
    unsigned words; /* capped at WORD_CAP */
    int multiline;
    int terminal; /* ends in sentence punctuation */
} para;

int
nlpd__is_terminal_cp(int32_t cp)
{
    switch (cp) {
    case '.':
    case '!':
    case '?':
    case 0x2026: /* … */
    case 0x203C: /* ‼ */
    case 0x2047: /* ⁇ */
    case 0x2048: /* ⁈ */
    case 0x2049: /* ⁉ */
    case 0x3002: /* ideographic full stop */
    case 0xFF01: /* fullwidth ! */
    case 0xFF0E: /* fullwidth . */
    case 0xFF1F: /* fullwidth ? */
    case 0x061F: /* Arabic question mark */
    case 0x06D4: /* Arabic full stop */
    case 0x0964: /* Devanagari danda */
    case 0x0965: /* double danda */
        return 1;
    default:
        return 0;
    }
}

/* Closing quotes and brackets that may follow the final punctuation. */
static int
is_closer(int32_t cp)
{
    if (cp == '"' || cp == '\'')
        return 1;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_PE || c == UTF8PROC_CATEGORY_PF;
}

static int
ends_sentence(const char *s, size_t start, size_t end)
{
    size_t e = end;
    for (int closers = 0; closers < 4 && e > start; closers++) {
        size_t b = e - 1;
        while (b > start && ((uint8_t)s[b] & 0xC0) == 0x80)
            b--;
        int32_t cp;
        nlpd__utf8_decode((const uint8_t *)s + b, e - b, &cp);
        if (nlpd__is_terminal_cp(cp))
            return 1;
        if (!is_closer(cp))
            return 0;
        e = b;
    }
    return 0;
}

static para
para_info(const char *s, size_t start, size_t end)
{
    para p = {start, end, 0, 0, 0};
    int in_word = 0;
    for (size_t i = start; i < end && p.words < WORD_CAP; i++) {
        int sp = s[i] == ' ' || s[i] == '\n';
        if (!sp && !in_word)
            p.words++;
        in_word = !sp;
    }
    p.multiline = memchr(s + start, '\n', end - start) != NULL;
    p.terminal = ends_sentence(s, start, end);
    return p;
}

/* End of the paragraph that starts at `from` (at most `to`). */
static size_t
para_end(const char *s, size_t from, size_t to)
{
    size_t p = from;
    while (p < to) {
        const char *nl = memchr(s + p, '\n', to - p);
        if (nl == NULL)
            return to;
        size_t at = (size_t)(nl - s);
        if (at + 1 < to && s[at + 1] == '\n')
            return at;
        p = at + 1;
    }
    return to;
}

static size_t
skip_newlines(const char *s, size_t p, size_t to)
{
    while (p < to && s[p] == '\n')
        p++;
    return p;
}

static size_t
line_end(const char *s, size_t from, size_t to)
{
    const char *nl = memchr(s + from, '\n', to - from);
    return nl != NULL ? (size_t)(nl - s) : to;
}

static int
short_line(const para *p, unsigned max_words)
{
    return !p->multiline && p->words <= max_words && !p->terminal;
}

enum {
    PARAS_TEXT = 1, /* the first paragraph may be the headline */
    PARAS_FEED = 2, /* any paragraph may be a subheading, the last the source line */
};

/* Regions for the paragraphs in [from, to): body, subheading, and per
 * mode the headline or the source line. Classifying a paragraph needs the
 * next one, so each is added one step late. */
static int
layout_paras(nlpd_ingest *self, size_t from, size_t to, int mode)
{
    const char *s = self->norm.data;
    para prev = {0, 0, 0, 0, 0};
    int have_prev = 0;
    size_t index = 0;
    size_t p = skip_newlines(s, from, to);
    while (p < to) {
        size_t e = para_end(s, p, to);
        para cur = para_info(s, p, e);
        if (have_prev) {
            uint32_t kind = NLPD_REGION_BODY;
            if (mode == PARAS_TEXT && index == 1 && short_line(&prev, HEADLINE_MAX_WORDS)) {
                kind = NLPD_REGION_HEADLINE;
                self->headline_start = prev.start;
                self->headline_end = prev.end;
            } else if ((mode == PARAS_FEED || index > 1) &&
                       short_line(&prev, SUBHEADING_MAX_WORDS) && cur.words > prev.words) {
                kind = NLPD_REGION_SUBHEADING;
            }
            int rc = nlpd__ingest_add_region(self, kind, prev.start, prev.end);
            if (rc != 0)
                return rc;
        }
        prev = cur;
        have_prev = 1;
        index++;
        p = skip_newlines(s, e, to);
    }
    if (!have_prev)
        return 0;
    uint32_t kind = NLPD_REGION_BODY;
    /* A source line closes a document; alone it is just text. */
    if (mode == PARAS_FEED && (index > 1 || self->n_regions > 0) &&
        short_line(&prev, SOURCE_LINE_MAX_WORDS)) {
        kind = NLPD_REGION_SOURCE_LINE;
        self->source_start = prev.start;
        self->source_end = prev.end;
    }
    return nlpd__ingest_add_region(self, kind, prev.start, prev.end);
}

int
nlpd__ingest_layout_text(nlpd_ingest *self)
{
    return layout_paras(self, 0, self->norm.len, PARAS_TEXT);
}

/* Finds the feed's separator: a line that is only "|", within the first
 * lines, after a non-empty line. */
static int
find_separator(const char *s, size_t len, size_t *start, size_t *end)
{
    size_t p = 0;
    int lines = 0;
    while (p < len && lines < SEPARATOR_MAX_LINE) {
        size_t e = line_end(s, p, len);
        if (e > p) {
            if (lines > 0 && e - p == 1 && s[p] == '|') {
                *start = p;
                *end = e;
                return 1;
            }
            lines++;
        }
        p = e + 1;
    }
    return 0;
}

int
nlpd__ingest_feed_detect(const char *norm, size_t len)
{
    size_t a, b;
    return find_separator(norm, len, &a, &b);
}

int
nlpd__ingest_layout_feed(nlpd_ingest *self)
{
    const char *s = self->norm.data;
    size_t len = self->norm.len;
    if (len == 0)
        return 0;
    size_t e0 = line_end(s, 0, len);
    size_t ss, se;
    if (!find_separator(s, len, &ss, &se)) {
        /* No separator: a headline line when more follows, then the body. */
        if (e0 == len)
            return layout_paras(self, 0, len, PARAS_FEED);
        self->headline_start = 0;
        self->headline_end = e0;
        int rc = nlpd__ingest_add_region(self, NLPD_REGION_HEADLINE, 0, e0);
        return rc != 0 ? rc : layout_paras(self, e0, len, PARAS_FEED);
    }

    self->headline_start = 0;
    self->headline_end = e0;
    int rc = nlpd__ingest_add_region(self, NLPD_REGION_HEADLINE, 0, e0);
    /* The standfirst: whatever lies between the headline and the `|`. */
    size_t ls = skip_newlines(s, e0, ss), le = ss;
    while (le > ls && s[le - 1] == '\n')
        le--;
    for (size_t p = ls; rc == 0 && p < le;) {
        size_t e = para_end(s, p, le);
        rc = nlpd__ingest_add_region(self, NLPD_REGION_LEDE, p, e);
        p = skip_newlines(s, e, le);
    }
    if (le > ls) {
        self->lede_start = ls;
        self->lede_end = le;
    }
    if (rc == 0)
        rc = nlpd__ingest_add_region(self, NLPD_REGION_SEPARATOR, ss, se);
    /* The headline again, when the line after the `|` repeats it. */
    size_t next = skip_newlines(s, se, len);
    if (rc == 0 && next < len) {
        size_t ne = line_end(s, next, len);
        if (ne - next == e0 && memcmp(s + next, s, e0) == 0) {
            rc = nlpd__ingest_add_region(self, NLPD_REGION_HEADLINE, next, ne);
            next = ne;
        }
    }
    if (rc == 0)
        rc = layout_paras(self, next, len, PARAS_FEED);
    return rc;
}

int
nlpd__ingest_layout_html(nlpd_ingest *self)
{
    const char *s = self->norm.data;
    size_t len = self->norm.len;
    nlpd_offmap m = nlpd_offmap_view(&self->map);
    size_t h = 0;
    size_t p = 0;
    while (p < len) {
        size_t e = para_end(s, p, len);
        /* Paragraphs and headings are both in text order: one pass. */
        uint32_t o = nlpd_offmap_start(&m, (uint32_t)p);
        while (h < self->n_headings && self->headings[h].end <= o)
            h++;
        uint32_t kind = NLPD_REGION_BODY;
        if (h < self->n_headings && self->headings[h].start <= o) {
            kind = NLPD_REGION_SUBHEADING;
            if (self->headings[h].level == 1 && self->headline_start == NLPD__NONE) {
                kind = NLPD_REGION_HEADLINE;
                self->headline_start = p;
                self->headline_end = e;
            }
        }
        int rc = nlpd__ingest_add_region(self, kind, p, e);
        if (rc != 0)
            return rc;
        p = skip_newlines(s, e, len);
    }
    return 0;
}
