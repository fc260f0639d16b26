/* stages/runtime/validate.c — what protobuf-c does not check in a Document.
 *
 * protobuf-c accepts any bytes in string fields, but other languages'
 * protobuf libraries refuse a proto3 string that is not UTF-8, so one bad
 * submission would crash every Python stage it reached. The front door
 * refuses such documents instead.
 */
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
    return rc;
}
