/* stages/example-quotes/worker.c — nlpd-example-quotes: a custom stage on
 * the public SDK alone.
 *
 * It links libnlpd.so and includes only the public headers (include/nlpd):
 * the proof that a stage built outside nlpd needs no more. For each
 * document it adds one annotation of kind "quote" per direct quotation,
 * over the quoted passage, with the speaker's name as its value when one
 * was found.
 *
 * Stage options (after the runtime's; see --help):
 *   --min-words N     fewest words a quotation holds (default 2)
 *   --no-speakers     do not look for speakers
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/doc.h"
#include "nlpd/log.h"
#include "nlpd/stage.h"
#include "quotes.h"

/* Longer names are not kept (the finder reads at most five words). */
#define MAX_SPEAKER 256

typedef struct quotes_stage {
    nlpd_quotes *finder;
} quotes_stage;

typedef struct emit_ctx {
    nlpd_doc *doc;
    const char *text;
} emit_ctx;

static int
qs_init(void **state, int argc, char **argv)
{
    nlpd_quotes_opts opts = NLPD_QUOTES_OPTS_INIT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--min-words") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > 1000) {
                NLPD_LOG(NLPD_LOG_ERR, "stage=quotes msg=\"--min-words must be 1..1000\"");
                return NLPD_EINVAL;
            }
            opts.min_words = (unsigned)v;
        } else if (strcmp(argv[i], "--no-speakers") == 0) {
            opts.speakers = 0;
        } else {
            NLPD_LOG(NLPD_LOG_ERR, "stage=quotes msg=\"unknown argument %s\"", argv[i]);
            return NLPD_EINVAL;
        }
    }
    quotes_stage *qs = nlpd_calloc(1, sizeof(*qs));
    if (qs == NULL)
        return NLPD_ENOMEM;
    int rc = nlpd_quotes_new(&qs->finder, &opts);
    if (rc != 0) {
        nlpd_free(qs);
        return rc;
    }
    *state = qs;
    return 0;
}

static int
on_quote(void *arg, const nlpd_quote *q)
{
    emit_ctx *c = arg;
    nlpd_span span = {(uint32_t)q->start, (uint32_t)q->end};
    char speaker[MAX_SPEAKER];
    size_t n = q->speaker_end - q->speaker_start;
    if (n > 0 && n < sizeof(speaker)) {
        memcpy(speaker, c->text + q->speaker_start, n);
        speaker[n] = '\0';
    }
    return nlpd_doc_add_annotation(c->doc, "quote", &span,
                                   n > 0 && n < sizeof(speaker) ? speaker : NULL, 1.0);
}

static int
qs_process(void *state, nlpd_doc *doc, nlpd_stage_ctx *ctx)
{
    quotes_stage *qs = state;
    size_t len;
    const char *text = nlpd_doc_text(doc, &len);
    if (len > UINT32_MAX) {
        /* Spans are 32-bit; the daemon never sends such a document. */
        nlpd_stage_fail(ctx, "too_long", 0, "text of %zu bytes", len);
        return NLPD_EINVAL;
    }
    emit_ctx c = {doc, text};
    return nlpd_quotes_find(qs->finder, text, len, on_quote, &c);
}

static void
qs_fini(void *state)
{
    quotes_stage *qs = state;
    if (qs == NULL)
        return;
    nlpd_quotes_free(&qs->finder);
    nlpd_free(qs);
}

int
main(int argc, char **argv)
{
    static const nlpd_stage_def def = {
        .abi = NLPD_STAGE_ABI,
        .name = "quotes",
        .version = "1.0",
        .init = qs_init,
        .process = qs_process,
        .fini = qs_fini,
    };
    return nlpd_stage_main(&def, argc, argv);
}
