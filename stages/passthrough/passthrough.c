/* stages/passthrough/passthrough.c — a stage that adds nothing but its trace.
 *
 * For benchmarks of the pipeline itself (decoding, encoding, the runtime,
 * the daemon's bookkeeping) and for tests that need a stage with no work.
 * With --sleep-ms N it takes N ms per document and with --crash-on WORD it
 * aborts on a document whose text contains WORD: the slow and the poison
 * stage of the fault tests.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlpd/alloc.h"
#include "nlpd/stage.h"

typedef struct passthrough {
    long sleep_ms;
    const char *crash_on;
    const char *fail_on;
} passthrough;

static int
pt_init(void **state, int argc, char **argv)
{
    passthrough *p = nlpd_calloc(1, sizeof(*p));
    if (p == NULL)
        return NLPD_ENOMEM;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sleep-ms") == 0 && i + 1 < argc) {
            p->sleep_ms = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--crash-on") == 0 && i + 1 < argc) {
            p->crash_on = argv[++i];
        } else if (strcmp(argv[i], "--fail-on") == 0 && i + 1 < argc) {
            p->fail_on = argv[++i];
        } else {
            NLPD_LOG(NLPD_LOG_ERR, "stage=passthrough msg=\"unknown argument %s\"", argv[i]);
            nlpd_free(p);
            return NLPD_EINVAL;
        }
    }
    *state = p;
    return 0;
}

static int
contains(const char *text, size_t len, const char *word)
{
    size_t wl = strlen(word);
    return wl > 0 && len >= wl && memmem(text, len, word, wl) != NULL;
}

static int
pt_process(void *state, nlpd_doc *doc, nlpd_stage_ctx *ctx)
{
    const passthrough *p = state;
    size_t len;
    const char *text = nlpd_doc_text(doc, &len);
    if (len == 0)
        text = nlpd_doc_input(doc, &len);
    if (p->crash_on != NULL && contains(text, len, p->crash_on))
        abort();
    if (p->fail_on != NULL && contains(text, len, p->fail_on)) {
        nlpd_stage_fail(ctx, "test_failure", 0, "document contains \"%s\"", p->fail_on);
        return NLPD_EINVAL;
    }
    if (p->sleep_ms > 0) {
        struct timespec ts = {p->sleep_ms / 1000, (p->sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void
pt_fini(void *state)
{
    nlpd_free(state);
}

int
main(int argc, char **argv)
{
    static const nlpd_stage_def def = {
        .abi = NLPD_STAGE_ABI,
        .name = "passthrough",
        .version = "1.0",
        .init = pt_init,
        .process = pt_process,
        .fini = pt_fini,
    };
    return nlpd_stage_main(&def, argc, argv);
}
