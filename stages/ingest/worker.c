/* stages/ingest/worker.c — nlpd-ingest: the ingestion library in the stage runtime.
 *
 * The codec between nlpd_ingest results and the Document: ingest is the one
 * stage that sets the texts, so it rewrites the message (input consumed;
 * text, norm, map, regions and the article's fields set) instead of
 * appending a delta.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/ingest.h"
#include "nlpd/stage.h"
#include "nlpd_internal.h"

static void
usage(void)
{
    fprintf(stderr, "nlpd-ingest options:\n"
                    "  --invalid-utf8 replace|reject   invalid UTF-8: U+FFFD (default) or an error\n"
                    "  --dedup-window N                documents remembered for duplicates (10000; 0: off)\n"
                    "  --dedup-max-age SECONDS         forget documents older than this (0: never)\n");
}

static int
ingest_init(void **state, int argc, char **argv)
{
    nlpd_ingest_opts opts = NLPD_INGEST_OPTS_INIT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--invalid-utf8") == 0 && v != NULL) {
            if (strcmp(v, "replace") == 0)
                opts.invalid_utf8 = NLPD_INGEST_UTF8_REPLACE;
            else if (strcmp(v, "reject") == 0)
                opts.invalid_utf8 = NLPD_INGEST_UTF8_REJECT;
            else
                goto bad;
            i++;
        } else if (strcmp(a, "--dedup-window") == 0 && v != NULL) {
            unsigned long n = strtoul(v, &end, 10);
            if (*end != '\0' || n > 10000000ul)
                goto bad;
            opts.dedup_window = n;
            i++;
        } else if (strcmp(a, "--dedup-max-age") == 0 && v != NULL) {
            unsigned long n = strtoul(v, &end, 10);
            if (*end != '\0')
                goto bad;
            opts.dedup_max_age_us = (uint64_t)n * 1000000u;
            i++;
        } else {
            goto bad;
        }
        continue;
    bad:
        NLPD_LOG(NLPD_LOG_ERR, "stage=ingest msg=\"bad argument %s\"", a);
        usage();
        return NLPD_EINVAL;
    }
    nlpd_ingest *ing = NULL;
    int rc = nlpd_ingest_new(&ing, &opts);
    if (rc != 0)
        return rc;
    *state = ing;
    return 0;
}

static const char *
error_code(int rc)
{
    switch (rc) {
    case NLPD_EUTF8:
        return "invalid_utf8";
    case NLPD_EFORMAT:
        return "bad_format";
    case NLPD_ENOMEM:
        return "out_of_memory";
    default:
        return "bad_input";
    }
}

static char *
str_or(char *keep, const char *found)
{
    return found != NULL ? (char *)found : keep;
}

static int
ingest_process(void *state, nlpd_doc *doc, nlpd_stage_ctx *ctx)
{
    nlpd_ingest *ing = state;
    Nlpd__V1__Document *pb = nlpd__doc_pb(doc);
    nlpd__arena *arena = nlpd__doc_arena(doc);
    if (pb->ingest != NULL) {
        /* Ingested already (a document submitted twice through ingest, or
         * a client that filled the texts itself): nothing to do. */
        return 0;
    }
    size_t len;
    const char *input = nlpd_doc_input(doc, &len);
    nlpd_ingest_meta meta = {pb->key, pb->id, pb->title};
    nlpd_ingest_result r;
    int rc = nlpd_ingest_run(ing, input, len, nlpd_doc_format_option(doc), &meta,
                             nlpd_stage_now_us(ctx), &r);
    if (rc != 0) {
        nlpd_stage_fail(ctx, error_code(rc), 1, "%s", nlpd_ingest_last_error(ing));
        return rc;
    }
    /* The result's memory lives until the next run, after this document
     * is encoded: the message may point into it. */
    pb->input.data = NULL;
    pb->input.len = 0;
    pb->text.data = (uint8_t *)r.text;
    pb->text.len = r.text_len;
    if (r.norm_is_text) {
        pb->norm.data = NULL;
        pb->norm.len = 0;
    } else {
        pb->norm.data = (uint8_t *)r.norm;
        pb->norm.len = r.norm_len;
    }
    pb->norm_map = NULL;
    if (r.map_len > 0) {
        Nlpd__V1__OffsetMap *m = nlpd__arena_alloc(arena, sizeof(*m));
        if (m == NULL)
            return NLPD_ENOMEM;
        nlpd__v1__offset_map__init(m);
        m->n_norm = m->n_orig = r.map_len;
        m->norm = (uint32_t *)r.map_norm;
        m->orig = (uint32_t *)r.map_orig;
        pb->norm_map = m;
    }
    Nlpd__V1__Region *regions = NULL;
    Nlpd__V1__Region **rp = NULL;
    if (r.n_regions > 0) {
        regions = nlpd__arena_alloc(arena, r.n_regions * sizeof(*regions));
        rp = nlpd__arena_alloc(arena, r.n_regions * sizeof(*rp));
        if (regions == NULL || rp == NULL)
            return NLPD_ENOMEM;
        for (size_t i = 0; i < r.n_regions; i++) {
            nlpd__v1__region__init(&regions[i]);
            regions[i].kind = (Nlpd__V1__RegionKind)r.regions[i].kind;
            regions[i].start = r.regions[i].start;
            regions[i].end = r.regions[i].end;
            rp[i] = &regions[i];
        }
    }
    pb->n_regions = r.n_regions;
    pb->regions = rp;
    pb->id = str_or(pb->id, r.id);
    pb->title = str_or(pb->title, r.title);
    pb->lede = str_or(pb->lede, r.lede);
    pb->source = str_or(pb->source, r.source);
    pb->url = str_or(pb->url, r.url);
    pb->published = str_or(pb->published, r.published);
    Nlpd__V1__IngestInfo *info = nlpd__arena_alloc(arena, sizeof(*info));
    if (info == NULL)
        return NLPD_ENOMEM;
    nlpd__v1__ingest_info__init(info);
    info->format = (Nlpd__V1__Format)r.format;
    info->format_detected = r.format_detected != 0;
    info->invalid_utf8 = r.invalid_utf8;
    info->controls_removed = r.controls_removed;
    /* The hash is an array inside `r`, which is gone before encoding. */
    info->content_hash = nlpd__arena_strndup(arena, r.content_hash, strlen(r.content_hash));
    if (info->content_hash == NULL)
        return NLPD_ENOMEM;
    info->duplicate_of = (char *)(r.duplicate_of_key ? r.duplicate_of_key : "");
    info->duplicate_of_id = (char *)(r.duplicate_of_id ? r.duplicate_of_id : "");
    pb->ingest = info;
    nlpd__doc_refresh(doc);
    nlpd__stage_rewrite(ctx);
    if (r.norm_len == 0) {
        /* Not a failure (an empty article is a valid input), but a client
         * should hear why nothing was annotated. */
        return nlpd__doc_add_error(doc, nlpd_stage_name(ctx), "empty",
                                   "the document has no text", 0);
    }
    return 0;
}

static void
ingest_fini(void *state)
{
    nlpd_ingest *ing = state;
    nlpd_ingest_free(&ing);
}

int
main(int argc, char **argv)
{
    static const nlpd_stage_def def = {
        .abi = NLPD_STAGE_ABI,
        .name = "ingest",
        .version = "1.0",
        .init = ingest_init,
        .process = ingest_process,
        .fini = ingest_fini,
    };
    return nlpd_stage_main(&def, argc, argv);
}
