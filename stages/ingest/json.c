/* stages/ingest/json.c — the JSON article object.
 *
 * {"id", "title", "text" | "body", "url", "source", "published",
 *  "lede" | "standfirst" | "description"}: the text field becomes the text
 * as sent, the others result strings. jansson allocates the parsed tree with
 * its own allocator; nothing of it outlives the call.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ingest_internal.h"
#include "nlpd/error.h"

/* Stores a scalar member as text: strings verbatim (or normalized), numbers
 * in decimal. Other types and empty strings leave *off alone. */
static int
put_member(nlpd_ingest *self, const json_t *v, int normalize, size_t *off)
{
    char num[64];
    const char *s;
    size_t n;
    if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
        n = strlen(num);
    } else if (json_is_real(v)) {
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        s = num;
        n = strlen(num);
    } else {
        return 0;
    }
    if (n == 0)
        return 0;
    if (normalize)
        return nlpd__ingest_put_norm_str(self, s, n, off);
    /* A verbatim string ends at an embedded NUL, as a C string must. */
    return nlpd__ingest_put_str(self, s, strnlen(s, n), off);
}

static const json_t *
first_string(const json_t *obj, const char *const *names)
{
    for (; *names != NULL; names++) {
        const json_t *v = json_object_get(obj, *names);
        if (json_is_string(v))
            return v;
    }
    return NULL;
}

static int
read_fields(nlpd_ingest *self, const json_t *root)
{
    static const char *const lede_names[] = {"lede", "standfirst", "description", NULL};
    static const char *const title_names[] = {"title", NULL};
    static const char *const source_names[] = {"source", NULL};
    static const char *const url_names[] = {"url", NULL};
    nlpd__fields *f = &self->found;
    int rc = put_member(self, json_object_get(root, "id"), 0, &f->id);
    if (rc == 0)
        rc = put_member(self, first_string(root, title_names), 1, &f->title);
    if (rc == 0)
        rc = put_member(self, first_string(root, lede_names), 1, &f->lede);
    if (rc == 0)
        rc = put_member(self, first_string(root, source_names), 1, &f->source);
    if (rc == 0)
        rc = put_member(self, first_string(root, url_names), 0, &f->url);
    if (rc == 0)
        rc = put_member(self, json_object_get(root, "published"), 0, &f->published);
    return rc;
}

int
nlpd__ingest_json_read(nlpd_ingest *self, const char *in, size_t len, int strict)
{
    static const char *const text_names[] = {"text", "body", NULL};
    size_t skip = len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    json_error_t err;
    json_t *root = json_loadb(in + skip, len - skip, JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
    if (root == NULL) {
        if (!strict)
            return 1;
        return nlpd__ingest_fail(self, NLPD_EFORMAT,
                                 "input is not valid JSON: %s at line %d column %d", err.text,
                                 err.line, err.column);
    }
    int rc = 1;
    const json_t *text = first_string(root, text_names);
    if (!json_is_object(root)) {
        if (strict)
            rc = nlpd__ingest_fail(self, NLPD_EFORMAT, "JSON input is not an object");
    } else if (text == NULL) {
        if (strict)
            rc = nlpd__ingest_fail(self, NLPD_EFORMAT,
                                   "JSON article has no string \"text\" or \"body\"");
    } else {
        rc = nlpd__ibuf_append(&self->text, json_string_value(text), json_string_length(text));
        if (rc == 0)
            rc = nlpd__ibuf_terminate(&self->text);
        if (rc == 0)
            rc = read_fields(self, root);
        if (rc != 0) {
            /* Leave nothing half-read behind for a fallback reader. */
            self->text.len = 0;
            self->strs.len = 0;
            self->found = (nlpd__fields){NLPD__NONE, NLPD__NONE, NLPD__NONE,
                                         NLPD__NONE, NLPD__NONE, NLPD__NONE};
        }
    }
    json_decref(root);
    return rc;
}
