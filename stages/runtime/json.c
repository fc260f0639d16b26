/* stages/runtime/json.c — documents to and from the evaluation JSON (jansson). */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/json.h"
#include "nlpd_internal.h"

const char *
nlpd_token_shape_name(uint32_t shape)
{
    static const char *const names[] = {"other", "lower",  "cap",    "upper",  "mixed",
                                        "number", "alnum", "punct",  "symbol", "url",
                                        "email",  "handle", "hashtag", "emoji"};
    if (shape < sizeof(names) / sizeof(names[0]))
        return names[shape];
    return "other";
}

/* Adds `value` under `key`, taking the reference; fails on NULL (jansson
 * returns NULL when out of memory or given invalid UTF-8). */
static int
put(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL)
        return NLPD_ENOMEM;
    return json_object_set_new(obj, key, value) == 0 ? 0 : NLPD_ENOMEM;
}

static int
append(json_t *arr, json_t *value)
{
    if (value == NULL)
        return NLPD_ENOMEM;
    return json_array_append_new(arr, value) == 0 ? 0 : NLPD_ENOMEM;
}

/* A JSON string from bytes that should be UTF-8; invalid sequences become
 * U+FFFD (each byte that cannot start or continue a sequence). */
static json_t *
lossy_string(const char *s, size_t len, int *lossy)
{
    if (nlpd__utf8_valid(s, len))
        return json_stringn(s, len);
    *lossy = 1;
    nlpd__buf b = {0};
    size_t i = 0;
    json_t *out = NULL;
    while (i < len) {
        size_t j = i + 1;
        /* Longest valid sequence starting at i, up to 4 bytes. */
        size_t ok = 0;
        for (size_t n = 1; n <= 4 && i + n <= len; n++) {
            if (nlpd__utf8_valid(s + i, n)) {
                ok = n;
                break;
            }
        }
        if (ok > 0) {
            if (nlpd__buf_append(&b, s + i, ok) != 0)
                goto out;
            j = i + ok;
        } else if (nlpd__buf_append(&b, "\xEF\xBF\xBD", 3) != 0) {
            goto out;
        }
        i = j;
    }
    out = json_stringn(b.len ? (const char *)b.data : "", b.len);
out:
    nlpd__buf_release(&b);
    return out;
}

/* A score as a JSON number; JSON has no NaN or infinity: those are null. */
static json_t *
score_json(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *
span_pair(nlpd_span s)
{
    return json_pack("[II]", (json_int_t)s.start, (json_int_t)s.end);
}

static int
put_str_if(json_t *obj, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return 0;
    int lossy = 0;
    return put(obj, key, lossy_string(value, strlen(value), &lossy));
}

static int
add_sentences(json_t *root, nlpd_doc *doc, const Nlpd__V1__Document *pb)
{
    const uint32_t *st, *en, *fl;
    size_t n = nlpd_doc_sentences(doc, &st, &en, &fl);
    if (pb->sentences == NULL)
        return 0;
    json_t *arr = json_array();
    int rc = put(root, "sentences", arr);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = append(arr, span_pair(nlpd_doc_map_span(doc, (nlpd_span){st[i], en[i]})));
    /* The indices of sentences cut at the length limit, when there are
     * any (a field of its own: "sentences" stays a list of pairs). */
    json_t *cut = NULL;
    for (size_t i = 0; rc == 0 && fl != NULL && i < n; i++) {
        if (!(fl[i] & NLPD_SENTENCE_TRUNCATED))
            continue;
        if (cut == NULL) {
            cut = json_array();
            rc = put(root, "truncated_sentences", cut);
        }
        if (rc == 0)
            rc = append(cut, json_integer((json_int_t)i));
    }
    return rc;
}

static int
add_tokens(json_t *root, nlpd_doc *doc, const Nlpd__V1__Document *pb)
{
    const uint32_t *st, *en, *sh;
    size_t n = nlpd_doc_tokens(doc, &st, &en, &sh);
    if (pb->tokens == NULL)
        return 0;
    json_t *arr = json_array();
    int rc = put(root, "tokens", arr);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        nlpd_span m = nlpd_doc_map_span(doc, (nlpd_span){st[i], en[i]});
        rc = append(arr, json_pack("[IIs]", (json_int_t)m.start, (json_int_t)m.end,
                                   nlpd_token_shape_name(sh != NULL ? sh[i] : 0)));
    }
    return rc;
}

/* The text as sent between two of its offsets, for "text" fields of spans. */
static json_t *
sent_slice(const char *sent, size_t sent_len, nlpd_span s)
{
    int lossy = 0;
    if (s.end > sent_len || s.start > s.end)
        return json_string("");
    return lossy_string(sent + s.start, s.end - s.start, &lossy);
}

static int
add_entities(json_t *root, nlpd_doc *doc, const char *sent, size_t sent_len)
{
    size_t n = nlpd_doc_entity_count(doc);
    if (n == 0)
        return 0;
    json_t *arr = json_array();
    int rc = put(root, "entities", arr);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        nlpd_entity e;
        nlpd_doc_entity(doc, i, &e);
        nlpd_span m = nlpd_doc_map_span(doc, (nlpd_span){e.start, e.end});
        json_t *o = json_object();
        rc = append(arr, o);
        if (rc == 0)
            rc = put(o, "start", json_integer(m.start));
        if (rc == 0)
            rc = put(o, "end", json_integer(m.end));
        if (rc == 0)
            rc = put_str_if(o, "label", e.label);
        if (rc == 0)
            rc = put(o, "text", sent_slice(sent, sent_len, m));
        if (rc == 0)
            rc = put(o, "score", score_json((double)e.score));
    }
    return rc;
}

static int
add_summary(json_t *root, nlpd_doc *doc, const Nlpd__V1__Document *pb, const char *sent,
            size_t sent_len)
{
    const Nlpd__V1__Summary *s = pb->summary;
    if (s == NULL)
        return 0;
    const uint32_t *st, *en;
    size_t ns = nlpd_doc_sentences(doc, &st, &en, NULL);
    json_t *sel = json_array();
    int rc = put(root, "summary", sel);
    nlpd__buf text = {0};
    for (size_t i = 0; rc == 0 && i < s->n_selected; i++) {
        uint32_t k = s->selected[i];
        rc = append(sel, json_integer(k));
        if (rc == 0 && k < ns) {
            nlpd_span m = nlpd_doc_map_span(doc, (nlpd_span){st[k], en[k]});
            if (m.end <= sent_len) {
                if (text.len > 0)
                    rc = nlpd__buf_append(&text, " ", 1);
                if (rc == 0)
                    rc = nlpd__buf_append(&text, sent + m.start, m.end - m.start);
            }
        }
    }
    if (rc == 0) {
        int lossy = 0;
        rc = put(root, "summary_text",
                 lossy_string(text.len ? (const char *)text.data : "", text.len, &lossy));
    }
    nlpd__buf_release(&text);
    if (rc == 0 && s->n_scores > 0) {
        json_t *sc = json_array();
        rc = put(root, "summary_scores", sc);
        for (size_t i = 0; rc == 0 && i < s->n_scores; i++)
            rc = append(sc, score_json((double)s->scores[i]));
    }
    return rc;
}

static int
add_annotations(json_t *root, nlpd_doc *doc, const Nlpd__V1__Document *pb, const char *sent,
                size_t sent_len)
{
    if (pb->n_annotations == 0)
        return 0;
    json_t *arr = json_array();
    int rc = put(root, "annotations", arr);
    for (size_t i = 0; rc == 0 && i < pb->n_annotations; i++) {
        const Nlpd__V1__Annotation *a = pb->annotations[i];
        json_t *o = json_object();
        rc = append(arr, o);
        if (rc == 0)
            rc = put_str_if(o, "kind", a->kind);
        if (rc == 0 && a->has_span) {
            nlpd_span m = nlpd_doc_map_span(doc, (nlpd_span){a->start, a->end});
            rc = put(o, "start", json_integer(m.start));
            if (rc == 0)
                rc = put(o, "end", json_integer(m.end));
            if (rc == 0)
                rc = put(o, "text", sent_slice(sent, sent_len, m));
        }
        if (rc == 0)
            rc = put_str_if(o, "value", a->value);
        if (rc == 0 && a->score != 0.0)
            rc = put(o, "score", score_json(a->score));
        if (rc == 0)
            rc = put_str_if(o, "stage", a->stage);
    }
    return rc;
}

static int
add_regions(json_t *root, nlpd_doc *doc, const Nlpd__V1__Document *pb)
{
    int rc = 0;
    const Nlpd__V1__IngestInfo *in = pb->ingest;
    if (in != NULL) {
        rc = put(root, "format", json_string(nlpd_format_name((nlpd_format)in->format)));
        json_t *o = json_object();
        if (rc == 0)
            rc = put(root, "ingest", o);
        if (rc == 0)
            rc = put(o, "format_detected", json_boolean(in->format_detected));
        if (rc == 0)
            rc = put(o, "invalid_utf8", json_integer(in->invalid_utf8));
        if (rc == 0)
            rc = put(o, "controls_removed", json_integer(in->controls_removed));
        if (rc == 0)
            rc = put_str_if(o, "content_hash", in->content_hash);
        if (rc == 0)
            rc = put_str_if(o, "duplicate_of", in->duplicate_of);
        if (rc == 0)
            rc = put_str_if(o, "duplicate_of_id", in->duplicate_of_id);
    }
    const nlpd_region *r;
    size_t n = nlpd_doc_regions(doc, &r);
    if (rc == 0 && n > 0) {
        json_t *arr = json_array();
        rc = put(root, "regions", arr);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            nlpd_span m = nlpd_doc_map_span(doc, (nlpd_span){r[i].start, r[i].end});
            rc = append(arr, json_pack("{s:s,s:I,s:I}", "kind", nlpd_region_kind_name(r[i].kind),
                                       "start", (json_int_t)m.start, "end", (json_int_t)m.end));
        }
    }
    return rc;
}

static int
add_trace_errors(json_t *root, const Nlpd__V1__Document *pb, unsigned flags)
{
    int rc = 0;
    if ((flags & NLPD_JSON_TRACE) && pb->n_trace > 0) {
        json_t *arr = json_array();
        rc = put(root, "trace", arr);
        for (size_t i = 0; rc == 0 && i < pb->n_trace; i++) {
            const Nlpd__V1__Trace *t = pb->trace[i];
            json_t *o = json_object();
            rc = append(arr, o);
            if (rc == 0)
                rc = put_str_if(o, "stage", t->stage);
            if (rc == 0)
                rc = put_str_if(o, "version", t->version);
            if (rc == 0)
                rc = put_str_if(o, "worker", t->worker);
            if (rc == 0)
                rc = put(o, "elapsed_us", json_integer((json_int_t)t->elapsed_us));
        }
    }
    if (rc == 0 && pb->n_errors > 0) {
        json_t *arr = json_array();
        rc = put(root, "errors", arr);
        for (size_t i = 0; rc == 0 && i < pb->n_errors; i++) {
            const Nlpd__V1__Error *e = pb->errors[i];
            json_t *o = json_object();
            rc = append(arr, o);
            if (rc == 0)
                rc = put_str_if(o, "stage", e->stage);
            if (rc == 0)
                rc = put_str_if(o, "code", e->code);
            if (rc == 0)
                rc = put_str_if(o, "message", e->message);
            if (rc == 0)
                rc = put(o, "fatal", json_boolean(e->fatal));
        }
    }
    return rc;
}

static int
add_metadata(json_t *root, const Nlpd__V1__Document *pb)
{
    if (pb->n_metadata == 0)
        return 0;
    json_t *o = json_object();
    int rc = put(root, "metadata", o);
    for (size_t i = 0; rc == 0 && i < pb->n_metadata; i++) {
        const Nlpd__V1__Document__MetadataEntry *e = pb->metadata[i];
        int lossy = 0;
        if (e->key != NULL && nlpd__utf8_valid(e->key, strlen(e->key)))
            rc = put(o, e->key,
                     lossy_string(e->value ? e->value : "", e->value ? strlen(e->value) : 0,
                                  &lossy));
    }
    return rc;
}

int
nlpd_doc_to_json(nlpd_doc *doc, unsigned flags, char **out, size_t *len)
{
    if (doc == NULL || out == NULL)
        return NLPD_EINVAL;
    const Nlpd__V1__Document *pb = nlpd__doc_pb(doc);
    Nlpd__V1__Document empty_doc = NLPD__V1__DOCUMENT__INIT;
    if (pb == NULL)
        pb = &empty_doc;
    size_t sent_len;
    const char *sent = nlpd_doc_sent_text(doc, &sent_len);
    if (sent_len == 0 && pb->ingest == NULL) {
        /* Not ingested (a pipeline without ingest, or a document that
         * failed before it): the text as sent is still the input. */
        sent = nlpd_doc_input(doc, &sent_len);
    }
    json_t *root = json_object();
    if (root == NULL)
        return NLPD_ENOMEM;
    int lossy = 0;
    const char *id = pb->id != NULL ? pb->id : "";
    int rc = put(root, "id", lossy_string(id, strlen(id), &lossy));
    lossy = 0; /* "text_lossy" is about the text alone */
    if (rc == 0)
        rc = put_str_if(root, "key", pb->key);
    if (rc == 0)
        rc = put_str_if(root, "title", pb->title);
    if (rc == 0)
        rc = put_str_if(root, "lede", pb->lede);
    if (rc == 0)
        rc = put_str_if(root, "source", pb->source);
    if (rc == 0)
        rc = put_str_if(root, "url", pb->url);
    if (rc == 0)
        rc = put_str_if(root, "published", pb->published);
    if (rc == 0)
        rc = put(root, "text", lossy_string(sent, sent_len, &lossy));
    if (rc == 0 && lossy)
        rc = put(root, "text_lossy", json_true());
    if (rc == 0 && (flags & NLPD_JSON_NORM)) {
        size_t nlen;
        const char *norm = nlpd_doc_text(doc, &nlen);
        int l2 = 0;
        rc = put(root, "norm", lossy_string(norm, nlen, &l2));
    }
    if (rc == 0 && (flags & NLPD_JSON_REGIONS))
        rc = add_regions(root, doc, pb);
    if (rc == 0)
        rc = add_sentences(root, doc, pb);
    if (rc == 0 && (flags & NLPD_JSON_TOKENS))
        rc = add_tokens(root, doc, pb);
    if (rc == 0)
        rc = add_entities(root, doc, sent, sent_len);
    if (rc == 0)
        rc = add_summary(root, doc, pb, sent, sent_len);
    if (rc == 0)
        rc = add_annotations(root, doc, pb, sent, sent_len);
    if (rc == 0)
        rc = add_metadata(root, pb);
    if (rc == 0)
        rc = add_trace_errors(root, pb, flags);
    if (rc == 0) {
        size_t dump_flags = (flags & NLPD_JSON_PRETTY) ? JSON_INDENT(2) : JSON_COMPACT;
        char *s = json_dumps(root, dump_flags);
        if (s == NULL) {
            rc = NLPD_ENOMEM;
        } else {
            size_t n = strlen(s);
            *out = nlpd_strndup(s, n);
            free(s); /* jansson's allocator is the C library's */
            if (*out == NULL)
                rc = NLPD_ENOMEM;
            else if (len != NULL)
                *len = n;
        }
    }
    json_decref(root);
    return rc;
}

/* --- Submissions --------------------------------------------------------- */

static int
valid_str(const char *s)
{
    return s == NULL || nlpd__utf8_valid(s, strlen(s));
}

int
nlpd_submission_encode(const nlpd_submission *s, uint8_t **out, size_t *len)
{
    if (s == NULL || out == NULL || len == NULL || (s->text == NULL && s->text_len > 0))
        return NLPD_EINVAL;
    if (!valid_str(s->id) || !valid_str(s->title) || !valid_str(s->lede) || !valid_str(s->url) ||
        !valid_str(s->source) || !valid_str(s->published))
        return NLPD_EINVAL;
    for (size_t i = 0; i < s->n_stages; i++) {
        if (s->stages[i] == NULL || !valid_str(s->stages[i]))
            return NLPD_EINVAL;
    }
    Nlpd__V1__Document d = NLPD__V1__DOCUMENT__INIT;
    Nlpd__V1__Options o = NLPD__V1__OPTIONS__INIT;
    d.version = 1;
    d.id = (char *)(s->id ? s->id : "");
    d.title = (char *)(s->title ? s->title : "");
    d.lede = (char *)(s->lede ? s->lede : "");
    d.url = (char *)(s->url ? s->url : "");
    d.source = (char *)(s->source ? s->source : "");
    d.published = (char *)(s->published ? s->published : "");
    d.input.data = (uint8_t *)s->text;
    d.input.len = s->text_len;
    o.summary_sentences = s->budget.sentences;
    o.summary_ratio = s->budget.ratio;
    o.summary_words = s->budget.words;
    o.format = (Nlpd__V1__Format)s->format;
    o.n_stages = s->n_stages;
    o.stages = (char **)s->stages;
    d.options = &o;
    size_t n = nlpd__v1__document__get_packed_size(&d);
    uint8_t *buf = nlpd_malloc(n);
    if (buf == NULL)
        return NLPD_ENOMEM;
    *len = nlpd__v1__document__pack(&d, buf);
    *out = buf;
    return 0;
}

static void NLPD_PRINTF(3, 4)
say(char *why, size_t why_len, const char *fmt, ...)
{
    if (why == NULL || why_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static int
format_from_name(const char *name, nlpd_format *out)
{
    static const struct {
        const char *name;
        nlpd_format f;
    } names[] = {{"text", NLPD_FORMAT_TEXT}, {"plain", NLPD_FORMAT_TEXT},
                 {"json", NLPD_FORMAT_JSON}, {"feed", NLPD_FORMAT_FEED},
                 {"html", NLPD_FORMAT_HTML}, {"detect", NLPD_FORMAT_DETECT},
                 {"auto", NLPD_FORMAT_DETECT}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].f;
            return 0;
        }
    }
    return NLPD_EFORMAT;
}

/* Reads the "options" object into the submission; unknown keys go to
 * `extra` as JSON text (the caller frees them). */
/* Whether `v` is a budget count: an integer in [1, max]. */
static int
budget_count(json_t *v, json_int_t max)
{
    return json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= max;
}

static int
read_options(json_t *opts, Nlpd__V1__Options *o, char ***extra_keys, char ***extra_vals,
             size_t *n_extra, const char ***stages, size_t *n_stages, char *why, size_t why_len)
{
    const char *key;
    json_t *v;
    size_t cap = json_object_size(opts);
    *extra_keys = nlpd_calloc(cap ? cap : 1, sizeof(char *));
    *extra_vals = nlpd_calloc(cap ? cap : 1, sizeof(char *));
    if (*extra_keys == NULL || *extra_vals == NULL)
        return NLPD_ENOMEM;
    json_object_foreach(opts, key, v)
    {
        /* A budget that is no valid budget (0, negative, absurd, not a
         * number) goes on as raw text among the extras: the summarize
         * stage then records a "bad_budget" error and the document goes on
         * without a summary, rather than the whole submission failing. */
        if (strcmp(key, "summary_sentences") == 0 && budget_count(v, 100000)) {
            o->summary_sentences = (uint32_t)json_integer_value(v);
        } else if (strcmp(key, "summary_words") == 0 && budget_count(v, 100000000)) {
            o->summary_words = (uint32_t)json_integer_value(v);
        } else if (strcmp(key, "summary_ratio") == 0 && json_is_number(v) &&
                   json_number_value(v) > 0.0 && json_number_value(v) <= 1.0) {
            o->summary_ratio = json_number_value(v);
        } else if (strcmp(key, "format") == 0) {
            nlpd_format f;
            if (!json_is_string(v) || format_from_name(json_string_value(v), &f) != 0) {
                say(why, why_len,
                    "option %s must be one of \"text\", \"json\", \"feed\", \"html\"", key);
                return NLPD_EFORMAT;
            }
            o->format = (Nlpd__V1__Format)f;
        } else if (strcmp(key, "stages") == 0) {
            if (!json_is_array(v)) {
                say(why, why_len, "option %s must be an array of stage names", key);
                return NLPD_EFORMAT;
            }
            size_t n = json_array_size(v);
            *stages = nlpd_calloc(n ? n : 1, sizeof(char *));
            if (*stages == NULL)
                return NLPD_ENOMEM;
            for (size_t i = 0; i < n; i++) {
                json_t *s = json_array_get(v, i);
                if (!json_is_string(s)) {
                    say(why, why_len, "option %s must be an array of stage names", key);
                    return NLPD_EFORMAT;
                }
                (*stages)[i] = json_string_value(s);
            }
            *n_stages = n;
        } else {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (text == NULL)
                return NLPD_ENOMEM;
            (*extra_vals)[*n_extra] = nlpd_strdup(text);
            free(text);
            (*extra_keys)[*n_extra] = nlpd_strdup(key);
            (*n_extra)++;
            if ((*extra_vals)[*n_extra - 1] == NULL || (*extra_keys)[*n_extra - 1] == NULL)
                return NLPD_ENOMEM;
        }
    }
    return 0;
}

static const char *
opt_string(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int
nlpd_submission_from_json(const char *json, size_t json_len, uint8_t **out, size_t *len,
                          char *why, size_t why_len)
{
    if (json == NULL || out == NULL || len == NULL)
        return NLPD_EINVAL;
    json_error_t jerr;
    json_t *root = json_loadb(json, json_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (root == NULL) {
        say(why, why_len, "not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
            jerr.column);
        return NLPD_EFORMAT;
    }
    int rc = 0;
    char **extra_keys = NULL, **extra_vals = NULL;
    size_t n_extra = 0, n_stages = 0;
    const char **stages = NULL;
    Nlpd__V1__Options__ExtraEntry *entries = NULL, **entry_ptrs = NULL;
    Nlpd__V1__Document__MetadataEntry *meta = NULL, **meta_ptrs = NULL;
    char idbuf[32];

    if (!json_is_object(root)) {
        say(why, why_len, "a document must be a JSON object");
        rc = NLPD_EFORMAT;
        goto out;
    }
    json_t *text = json_object_get(root, "text");
    if (text == NULL)
        text = json_object_get(root, "body");
    if (!json_is_string(text)) {
        say(why, why_len, "the document has no string \"text\"");
        rc = NLPD_EFORMAT;
        goto out;
    }
    Nlpd__V1__Document d = NLPD__V1__DOCUMENT__INIT;
    Nlpd__V1__Options o = NLPD__V1__OPTIONS__INIT;
    d.version = 1;
    json_t *id = json_object_get(root, "id");
    if (json_is_string(id)) {
        d.id = (char *)json_string_value(id);
    } else if (json_is_integer(id)) {
        snprintf(idbuf, sizeof(idbuf), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        d.id = idbuf;
    } else if (id != NULL && !json_is_null(id)) {
        say(why, why_len, "\"id\" must be a string or an integer");
        rc = NLPD_EFORMAT;
        goto out;
    }
    const char *fields[] = {"title", "lede", "url", "source", "published"};
    char **dst[] = {&d.title, &d.lede, &d.url, &d.source, &d.published};
    for (size_t i = 0; i < 5; i++) {
        const char *v = opt_string(root, fields[i]);
        if (v != NULL)
            *dst[i] = (char *)v;
    }
    d.input.data = (uint8_t *)json_string_value(text);
    d.input.len = json_string_length(text);
    json_t *opts = json_object_get(root, "options");
    if (opts != NULL && !json_is_object(opts) && !json_is_null(opts)) {
        say(why, why_len, "\"options\" must be an object");
        rc = NLPD_EFORMAT;
        goto out;
    }
    if (json_is_object(opts)) {
        rc = read_options(opts, &o, &extra_keys, &extra_vals, &n_extra, &stages, &n_stages, why,
                          why_len);
        if (rc != 0)
            goto out;
        if (n_extra > 0) {
            entries = nlpd_calloc(n_extra, sizeof(*entries));
            entry_ptrs = nlpd_calloc(n_extra, sizeof(*entry_ptrs));
            if (entries == NULL || entry_ptrs == NULL) {
                rc = NLPD_ENOMEM;
                goto out;
            }
            for (size_t i = 0; i < n_extra; i++) {
                nlpd__v1__options__extra_entry__init(&entries[i]);
                entries[i].key = extra_keys[i];
                entries[i].value = extra_vals[i];
                entry_ptrs[i] = &entries[i];
            }
            o.n_extra = n_extra;
            o.extra = entry_ptrs;
        }
        o.n_stages = n_stages;
        o.stages = (char **)stages;
        d.options = &o;
    }
    json_t *md = json_object_get(root, "metadata");
    if (json_is_object(md) && json_object_size(md) > 0) {
        size_t n = json_object_size(md), k = 0;
        meta = nlpd_calloc(n, sizeof(*meta));
        meta_ptrs = nlpd_calloc(n, sizeof(*meta_ptrs));
        if (meta == NULL || meta_ptrs == NULL) {
            rc = NLPD_ENOMEM;
            goto out;
        }
        const char *key;
        json_t *v;
        json_object_foreach(md, key, v)
        {
            if (!json_is_string(v)) {
                say(why, why_len, "metadata value of \"%s\" must be a string", key);
                rc = NLPD_EFORMAT;
                goto out;
            }
            nlpd__v1__document__metadata_entry__init(&meta[k]);
            meta[k].key = (char *)key;
            meta[k].value = (char *)json_string_value(v);
            meta_ptrs[k] = &meta[k];
            k++;
        }
        d.n_metadata = k;
        d.metadata = meta_ptrs;
    } else if (md != NULL && !json_is_object(md) && !json_is_null(md)) {
        say(why, why_len, "\"metadata\" must be an object of strings");
        rc = NLPD_EFORMAT;
        goto out;
    }
    size_t n = nlpd__v1__document__get_packed_size(&d);
    uint8_t *buf = nlpd_malloc(n);
    if (buf == NULL) {
        rc = NLPD_ENOMEM;
        goto out;
    }
    *len = nlpd__v1__document__pack(&d, buf);
    *out = buf;
out:
    for (size_t i = 0; i < n_extra; i++) {
        nlpd_free(extra_keys[i]);
        nlpd_free(extra_vals[i]);
    }
    nlpd_free(extra_keys);
    nlpd_free(extra_vals);
    nlpd_free(stages);
    nlpd_free(entries);
    nlpd_free(entry_ptrs);
    nlpd_free(meta);
    nlpd_free(meta_ptrs);
    json_decref(root);
    return rc;
}
