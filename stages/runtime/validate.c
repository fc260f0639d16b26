/* stages/runtime/validate.c — what protobuf-c does not check in a Document.
 *
 * protobuf-c accepts any bytes in string fields, but other languages'
 * protobuf libraries refuse a proto3 string that is not UTF-8, so one bad
 * submission would crash every Python stage it reached. The front door
 * refuses such documents instead.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nlpd/error.h"
#include "nlpd_internal.h"

static int
check(const char *s, const char *what, char *why, size_t why_len)
{
    if (s == NULL || nlpd__utf8_valid(s, strlen(s)))
        return 0;
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "field %s is not valid UTF-8", what);
    return NLPD_EPROTO;
}

static int NLPD_PRINTF(3, 4)
say(char *why, size_t why_len, const char *fmt, ...)
{
    if (why != NULL && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return NLPD_EPROTO;
}

static int
span_in(uint32_t start, uint32_t end, size_t len)
{
    return start <= end && end <= len;
}

int
nlpd__doc_spans_valid(const Nlpd__V1__Document *d, char *why, size_t why_len)
{
    /* The text every span indexes: norm, or text when norm is empty and
     * there is no map (see nlpd/doc.h). */
    const Nlpd__V1__OffsetMap *m = d->norm_map;
    size_t n_map = m != NULL ? m->n_norm : 0;
    size_t len = (d->norm.len > 0 || n_map > 0) ? d->norm.len : d->text.len;
    if (m != NULL) {
        if (m->n_norm != m->n_orig)
            return say(why, why_len, "norm_map has %zu norm and %zu orig anchors", m->n_norm,
                       m->n_orig);
        for (size_t i = 0; i < n_map; i++) {
            if (m->norm[i] > len || m->orig[i] > d->text.len ||
                (i > 0 && (m->norm[i] < m->norm[i - 1] || m->orig[i] < m->orig[i - 1])))
                return say(why, why_len, "norm_map anchor %zu is out of order or range", i);
        }
        /* From (0, 0) to the ends of both texts (nlpd/offmap.h): past the
         * last anchor an offset maps linearly, so a map that stops short
         * would send spans past the end of the text as sent. */
        if (n_map > 0 && (m->norm[0] != 0 || m->orig[0] != 0 || m->norm[n_map - 1] != len ||
                          m->orig[n_map - 1] != d->text.len))
            return say(why, why_len, "norm_map does not run from (0, 0) to the texts' ends");
    }
    /* Without a map, offsets of norm are offsets of the text as sent. */
    if (n_map == 0 && d->norm.len > 0 && d->norm.len != d->text.len)
        return say(why, why_len, "norm (%zu bytes) has no map to the text (%zu bytes)",
                   d->norm.len, d->text.len);
    for (size_t i = 0; i < d->n_regions; i++) {
        if (!span_in(d->regions[i]->start, d->regions[i]->end, len))
            return say(why, why_len, "region %zu lies outside the text", i);
    }
    const Nlpd__V1__Sentences *s = d->sentences;
    if (s != NULL) {
        if (s->n_end != s->n_start || (s->n_flags != 0 && s->n_flags != s->n_start))
            return say(why, why_len, "sentence arrays differ in length");
        for (size_t i = 0; i < s->n_start; i++) {
            if (!span_in(s->start[i], s->end[i], len))
                return say(why, why_len, "sentence %zu lies outside the text", i);
        }
    }
    const Nlpd__V1__Tokens *t = d->tokens;
    if (t != NULL) {
        if (t->n_end != t->n_start || (t->n_shape != 0 && t->n_shape != t->n_start))
            return say(why, why_len, "token arrays differ in length");
        for (size_t i = 0; i < t->n_start; i++) {
            if (!span_in(t->start[i], t->end[i], len))
                return say(why, why_len, "token %zu lies outside the text", i);
        }
    }
    for (size_t i = 0; i < d->n_entities; i++) {
        if (!span_in(d->entities[i]->start, d->entities[i]->end, len))
            return say(why, why_len, "entity %zu lies outside the text", i);
    }
    for (size_t i = 0; i < d->n_annotations; i++) {
        const Nlpd__V1__Annotation *a = d->annotations[i];
        if (a->has_span && !span_in(a->start, a->end, len))
            return say(why, why_len, "annotation %zu lies outside the text", i);
    }
    return 0;
}

int
nlpd__doc_validate(const Nlpd__V1__Document *d, char *why, size_t why_len)
{
    int rc = 0;
    const char *fields[] = {d->key, d->id, d->source, d->url, d->title, d->lede, d->published};
    const char *names[] = {"key", "id", "source", "url", "title", "lede", "published"};
    for (size_t i = 0; rc == 0 && i < sizeof(fields) / sizeof(fields[0]); i++)
        rc = check(fields[i], names[i], why, why_len);
    for (size_t i = 0; rc == 0 && i < d->n_metadata; i++) {
        rc = check(d->metadata[i]->key, "metadata key", why, why_len);
        if (rc == 0)
            rc = check(d->metadata[i]->value, "metadata value", why, why_len);
    }
    const Nlpd__V1__Options *o = d->options;
    for (size_t i = 0; rc == 0 && o != NULL && i < o->n_stages; i++)
        rc = check(o->stages[i], "options.stages", why, why_len);
    for (size_t i = 0; rc == 0 && o != NULL && i < o->n_extra; i++) {
        rc = check(o->extra[i]->key, "options key", why, why_len);
        if (rc == 0)
            rc = check(o->extra[i]->value, "options value", why, why_len);
    }
    for (size_t i = 0; rc == 0 && i < d->n_entities; i++)
        rc = check(d->entities[i]->label, "entity label", why, why_len);
    for (size_t i = 0; rc == 0 && i < d->n_annotations; i++) {
        const Nlpd__V1__Annotation *a = d->annotations[i];
        rc = check(a->kind, "annotation kind", why, why_len);
        if (rc == 0)
            rc = check(a->value, "annotation value", why, why_len);
        if (rc == 0)
            rc = check(a->stage, "annotation stage", why, why_len);
    }
    for (size_t i = 0; rc == 0 && i < d->n_trace; i++) {
        rc = check(d->trace[i]->stage, "trace stage", why, why_len);
        if (rc == 0)
            rc = check(d->trace[i]->version, "trace version", why, why_len);
        if (rc == 0)
            rc = check(d->trace[i]->worker, "trace worker", why, why_len);
    }
    for (size_t i = 0; rc == 0 && i < d->n_errors; i++) {
        rc = check(d->errors[i]->stage, "error stage", why, why_len);
        if (rc == 0)
            rc = check(d->errors[i]->code, "error code", why, why_len);
        if (rc == 0)
            rc = check(d->errors[i]->message, "error message", why, why_len);
    }
    if (rc == 0 && d->ingest != NULL) {
        rc = check(d->ingest->content_hash, "ingest.content_hash", why, why_len);
        if (rc == 0)
            rc = check(d->ingest->duplicate_of, "ingest.duplicate_of", why, why_len);
        if (rc == 0)
            rc = check(d->ingest->duplicate_of_id, "ingest.duplicate_of_id", why, why_len);
    }
    if (rc == 0)
        rc = nlpd__doc_spans_valid(d, why, why_len);
    return rc;
}

/* --- On the wire ---------------------------------------------------------- */

static int
read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return -1;
        uint8_t b = buf[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int
wire_walk(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, int depth,
          char *why, size_t why_len)
{
    if (depth > 32)
        return say(why, why_len, "messages nested too deep");
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (read_varint(buf, len, &pos, &tag) != 0 || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
            return say(why, why_len, "malformed field tag");
        unsigned wire = (unsigned)(tag & 7);
        unsigned number = (unsigned)(tag >> 3);
        switch (wire) {
        case 0:
            if (read_varint(buf, len, &pos, &v) != 0)
                return say(why, why_len, "malformed varint");
            break;
        case 1:
        case 5: {
            size_t n = wire == 1 ? 8 : 4;
            if (len - pos < n)
                return say(why, why_len, "truncated field");
            pos += n;
            break;
        }
        case 2: {
            if (read_varint(buf, len, &pos, &v) != 0 || v > len - pos)
                return say(why, why_len, "truncated field");
            const ProtobufCFieldDescriptor *fd =
                protobuf_c_message_descriptor_get_field(desc, number);
            if (fd != NULL && fd->type == PROTOBUF_C_TYPE_STRING &&
                !nlpd__utf8_valid((const char *)buf + pos, (size_t)v))
                return say(why, why_len, "field %s.%s is not valid UTF-8", desc->short_name,
                           fd->name);
            if (fd != NULL && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = wire_walk(fd->descriptor, buf + pos, (size_t)v, depth + 1, why, why_len);
                if (rc != 0)
                    return rc;
            }
            pos += (size_t)v;
            break;
        }
        default:
            return say(why, why_len, "unsupported wire type %u", wire);
        }
    }
    return 0;
}

int
nlpd__wire_validate(const void *buf, size_t len, char *why, size_t why_len)
{
    return wire_walk(&nlpd__v1__document__descriptor, buf, len, 0, why, why_len);
}
