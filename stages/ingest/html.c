/* stages/ingest/html.c — HTML detection and text extraction with libxml2.
 *
 * The input is first made valid UTF-8 (invalid sequences counted and
 * replaced, or the run rejected), then parsed by libxml2's forgiving HTML
 * parser with the document's own encoding hints ignored. The tree walk
 * writes the "text as sent" of an HTML document: the text of the body, with
 * "\n\n" around block elements, "\n" for <br>, and the whitespace inside
 * text nodes (outside <pre>) turned into spaces as a browser would. It also
 * notes where the headings are, the <title> and a meta description.
 */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "ingest_internal.h"
#include "nlpd/alloc.h"
#include "nlpd/error.h"

void nlpd__ingest_html_init(void);

void
nlpd__ingest_html_init(void)
{
    xmlInitParser();
}

/* Case-insensitive: does s[0..n) start with `lit`? */
static int
starts_with_ci(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    return n >= k && strncasecmp(s, lit, k) == 0;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Is there one of the common HTML start tags at s[0..n) (s[0] == '<')? */
static int
common_tag_at(const char *s, size_t n)
{
    static const char *const tags[] = {"p",  "div", "br", "body",    "span", "h1", "h2",    "h3",
                                       "h4", "h5",  "h6", "article", "ul",   "li", "table", NULL};
    if (n < 3 || !((s[1] >= 'a' && s[1] <= 'z') || (s[1] >= 'A' && s[1] <= 'Z')))
        return 0; /* "<3", "< b", "<=": not a tag */
    if ((s[1] == 'a' || s[1] == 'A') && is_space(s[2]))
        return 1; /* "<a " */
    for (const char *const *t = tags; *t != NULL; t++) {
        size_t k = strlen(*t);
        if (n < k + 2 || strncasecmp(s + 1, *t, k) != 0)
            continue;
        char c = s[1 + k];
        if (c == '>' || c == '/' || is_space(c))
            return 1;
    }
    return 0;
}

int
nlpd__ingest_html_detect(const char *in, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && is_space(in[i]))
        i++;
    if (i >= len || in[i] != '<')
        return 0;
    if (starts_with_ci(in + i, len - i, "<!doctype html") ||
        starts_with_ci(in + i, len - i, "<html"))
        return 1;
    const char *p = in + i, *end = in + len;
    while (p < end) {
        if (common_tag_at(p, (size_t)(end - p)))
            return 1;
        p = memchr(p + 1, '<', (size_t)(end - p - 1));
        if (p == NULL)
            break;
    }
    return 0;
}

typedef struct html_walk {
    nlpd_ingest *self;
    int in_head;
    int in_pre;
    const xmlNode *heading; /* the outermost heading being read */
    size_t heading_start;
    int heading_level;
} html_walk;

static int
name_is(const xmlNode *n, const char *name)
{
    return n->name != NULL && strcasecmp((const char *)n->name, name) == 0;
}

static int
name_in(const xmlNode *n, const char *const *names)
{
    for (; *names != NULL; names++)
        if (name_is(n, *names))
            return 1;
    return 0;
}

/* Elements whose content is not text of the document. */
static int
is_skipped(const xmlNode *n)
{
    static const char *const names[] = {"script", "style",  "noscript", "template", "svg",
                                        "math",   "iframe", "object",   "embed",    "canvas",
                                        "audio",  "video",  "select",   "textarea", NULL};
    return name_in(n, names);
}

/* Block elements: libxml2's HTML 4 table knows most; HTML5 sectioning
 * elements are missing from it. */
static int
is_block(const xmlNode *n)
{
    static const char *const html5[] = {"article", "section", "header", "footer",     "nav",
                                        "main",    "aside",   "figure", "figcaption", "details",
                                        "summary", "hgroup",  "dialog", NULL};
    const htmlElemDesc *d = htmlTagLookup(n->name);
    if (d != NULL)
        return !d->isinline;
    return name_in(n, html5);
}

static int
heading_level(const xmlNode *n)
{
    const char *s = (const char *)n->name;
    if (s != NULL && (s[0] == 'h' || s[0] == 'H') && s[1] >= '1' && s[1] <= '6' && s[2] == '\0')
        return s[1] - '0';
    return 0;
}

/* Ends the current paragraph: makes the text end in "\n\n". */
static int
block_break(html_walk *w)
{
    nlpd__ibuf *t = &w->self->text;
    size_t have = 0;
    while (have < 2 && have < t->len && t->data[t->len - 1 - have] == '\n')
        have++;
    if (t->len == 0)
        return 0;
    return nlpd__ibuf_append(t, "\n\n", 2 - have);
}

static int
append_text(html_walk *w, const char *s)
{
    nlpd__ibuf *t = &w->self->text;
    size_t n = strlen(s);
    int rc = nlpd__ibuf_reserve(t, n);
    if (rc != 0)
        return rc;
    char *d = t->data + t->len;
    if (w->in_pre) {
        memcpy(d, s, n);
    } else {
        /* Outside <pre> a line break in the source is just a space. */
        for (size_t i = 0; i < n; i++)
            d[i] = is_space(s[i]) ? ' ' : s[i];
    }
    t->len += n;
    return 0;
}

static int
read_title(html_walk *w, const xmlNode *n)
{
    if (w->self->found.title != NLPD__NONE)
        return 0;
    xmlChar *c = xmlNodeGetContent(n);
    if (c == NULL)
        return 0;
    int rc = nlpd__ingest_put_norm_str(w->self, (const char *)c, strlen((const char *)c),
                                       &w->self->found.title);
    xmlFree(c);
    return rc;
}

static int
read_meta(html_walk *w, const xmlNode *n)
{
    if (w->self->found.lede != NLPD__NONE)
        return 0;
    xmlChar *name = xmlGetProp(n, (const xmlChar *)"name");
    if (name == NULL)
        name = xmlGetProp(n, (const xmlChar *)"property");
    int rc = 0;
    if (name != NULL && (strcasecmp((const char *)name, "description") == 0 ||
                         strcasecmp((const char *)name, "og:description") == 0)) {
        xmlChar *c = xmlGetProp(n, (const xmlChar *)"content");
        if (c != NULL) {
            rc = nlpd__ingest_put_norm_str(w->self, (const char *)c, strlen((const char *)c),
                                           &w->self->found.lede);
            xmlFree(c);
        }
    }
    xmlFree(name);
    return rc;
}

static int
add_heading(html_walk *w)
{
    nlpd_ingest *self = w->self;
    int rc = nlpd_grow((void **)&self->headings, &self->headings_cap, self->n_headings + 1,
                        sizeof(*self->headings));
    if (rc != 0)
        return rc;
    self->headings[self->n_headings++] =
        (nlpd__heading){(uint32_t)w->heading_start, (uint32_t)self->text.len, w->heading_level};
    return 0;
}

/* Called when the walk enters element or text node `n`. *descend says
 * whether to visit its children (and later call leave()). */
static int
enter(html_walk *w, const xmlNode *n, int *descend)
{
    *descend = 0;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (w->in_head || n->content == NULL)
            return 0;
        return append_text(w, (const char *)n->content);
    }
    if (n->type != XML_ELEMENT_NODE || is_skipped(n))
        return 0; /* comments, processing instructions, scripts... */
    if (name_is(n, "title"))
        return read_title(w, n);
    if (name_is(n, "meta"))
        return read_meta(w, n);
    *descend = 1;
    if (name_is(n, "head")) {
        w->in_head++;
        return 0;
    }
    if (w->in_head)
        return 0;
    if (name_is(n, "br")) {
        *descend = 0;
        return nlpd__ibuf_append(&w->self->text, "\n", 1);
    }
    if (name_is(n, "td") || name_is(n, "th"))
        return nlpd__ibuf_append(&w->self->text, " ", 1);
    int level = heading_level(n);
    if (level == 0 && !is_block(n))
        return 0;
    int rc = block_break(w);
    if (name_is(n, "pre"))
        w->in_pre++;
    if (level > 0 && w->heading == NULL) {
        w->heading = n;
        w->heading_level = level;
        w->heading_start = w->self->text.len;
    }
    return rc;
}

static int
leave(html_walk *w, const xmlNode *n)
{
    if (name_is(n, "head")) {
        w->in_head--;
        return 0;
    }
    if (w->in_head)
        return 0;
    if (name_is(n, "td") || name_is(n, "th"))
        return nlpd__ibuf_append(&w->self->text, " ", 1);
    if (heading_level(n) == 0 && !is_block(n))
        return 0;
    int rc = 0;
    if (name_is(n, "pre"))
        w->in_pre--;
    if (w->heading == n) {
        w->heading = NULL;
        rc = add_heading(w);
    }
    if (rc == 0)
        rc = block_break(w);
    return rc;
}

/* Visits the tree in document order without recursion (a hostile document
 * may nest deeply). */
static int
walk(html_walk *w, const xmlNode *first)
{
    const xmlNode *n = first;
    while (n != NULL) {
        int descend = 0;
        int rc = enter(w, n, &descend);
        if (rc != 0)
            return rc;
        if (descend && n->children != NULL) {
            n = n->children;
            continue;
        }
        if (descend) {
            rc = leave(w, n);
            if (rc != 0)
                return rc;
        }
        while (n != NULL && n->next == NULL) {
            n = n->parent;
            if (n == NULL || n->type == XML_DOCUMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE) {
                n = NULL;
                break;
            }
            rc = leave(w, n);
            if (rc != 0)
                return rc;
        }
        if (n != NULL)
            n = n->next;
    }
    return 0;
}

int
nlpd__ingest_html_read(nlpd_ingest *self, const char *in, size_t len)
{
    nlpd__norm nz = {
        .out = &self->scratch,
        .reject_invalid = self->opts.invalid_utf8 == NLPD_INGEST_UTF8_REJECT,
    };
    int rc = nlpd__sanitize_utf8(&nz, in, len);
    if (rc == NLPD_EUTF8)
        return nlpd__ingest_fail(self, rc, "invalid UTF-8 at byte %zu of the input",
                                 nz.error_offset);
    if (rc != 0)
        return rc;
    self->invalid_utf8 += nz.invalid_utf8;
    self->controls_removed += nz.controls_removed;
    if (self->scratch.len > INT_MAX)
        return nlpd__ingest_fail(self, NLPD_EINVAL, "HTML input larger than 2 GiB");
    rc = nlpd__ibuf_terminate(&self->text);
    if (rc != 0 || self->scratch.len == 0)
        return rc;

    int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
               HTML_PARSE_IGNORE_ENC | XML_PARSE_HUGE;
    htmlDocPtr doc =
        htmlReadMemory(self->scratch.data, (int)self->scratch.len, NULL, "UTF-8", opts);
    if (doc == NULL)
        return 0; /* nothing libxml2 could make a document of: no text */
    html_walk w = {.self = self};
    rc = walk(&w, doc->children);
    xmlFreeDoc(doc);
    if (rc != 0)
        return rc;
    if (self->text.len >= UINT32_MAX)
        return nlpd__ingest_fail(self, NLPD_EINVAL, "text of the HTML exceeds 4 GiB");
    return nlpd__ibuf_terminate(&self->text);
}
