/* stages/split/worker.c — nlpd-split: tokenization and sentence splitting in
 * the stage runtime.
 *
 * For each document it runs the nlpd_split library over the normalized
 * text, reading only the regions ingestion marked as running text, and
 * appends every token (span and shape) and every sentence (span and
 * flags). Spans index the normalized text; the SDK maps them to the text as
 * sent on output.
 *
 * Stage options (after the runtime's; see --help):
 *   --model FILE                 a model file instead of the built-in "en" one
 *   --abbreviations FILE         more abbreviations (repeatable)
 *   --max-sentence-tokens N      cut longer sentences (default 250)
 *   --max-sentence-bytes N       the same in bytes (default 4000)
 *
 * init() reads the stage options, loads the model and creates the splitter;
 * the version it writes names the model (the runtime reads it after
 * init()).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlpd/doc.h"
#include "nlpd/log.h"
#include "nlpd/split.h"
#include "nlpd/stage.h"

#define STAGE_VERSION "1.0"

/* Bounds of the limits a user may set; the library's defaults are inside. */
#define MAX_TOKENS_LIMIT 1000000ul
#define MAX_BYTES_LIMIT  (1ul << 30)

typedef struct split_stage {
    nlpd_split_model *model; /* made by init(), freed by fini() */
    nlpd_split *splitter;    /* the same */
} split_stage;

/* The worker's one stage. */
static split_stage the_stage;

/* "1.0 model=<model version>", truncated to what the runtime keeps. */
static char version[64] = STAGE_VERSION;

static void
usage(FILE *out)
{
    fprintf(out,
            "\nnlpd-split options:\n"
            "  --model FILE                 a model file (default: the built-in \"en\" model)\n"
            "  --abbreviations FILE         more abbreviations, one per line (repeatable)\n"
            "  --max-sentence-tokens N      cut a longer sentence and flag it (default %d)\n"
            "  --max-sentence-bytes N       the same in bytes of text (default %d)\n",
            NLPD_SPLIT_MAX_SENTENCE_TOKENS, NLPD_SPLIT_MAX_SENTENCE_BYTES);
}

/* Parses a decimal count in [1, max]. Returns 0, or NLPD_EINVAL. */
static int
parse_count(const char *s, unsigned long max, uint32_t *out)
{
    char *end = NULL;
    if (s[0] < '0' || s[0] > '9')
        return NLPD_EINVAL; /* strtoul would take "-1" and " 5" */
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > max)
        return NLPD_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

/* Sets the version to "1.0 model=<model>". The runtime keeps 63 bytes of
 * it, and a model's description ("en ewt-12544 (174 abbreviations, ...)")
 * may be longer: then the details in brackets go, or failing that the
 * words that do not fit, so a cut never leaves half a word. */
static void
set_version(const char *model)
{
    int n = snprintf(version, sizeof(version), "%s model=%s", STAGE_VERSION, model);
    if (n >= 0 && (size_t)n < sizeof(version))
        return;
    char *cut = strstr(version, " (");
    if (cut == NULL)
        cut = strrchr(version, ' ');
    if (cut != NULL && cut > version + strlen(STAGE_VERSION " model="))
        *cut = '\0';
}

/* Loads the model `path` names (NULL: the built-in one) and adds the
 * abbreviations of every --abbreviations in argv, in order. Errors are
 * logged; returns 0 or a negative nlpd_err (st->model is then NULL). */
static int
load_model(split_stage *st, const char *path, int argc, char **argv)
{
    int rc = path != NULL ? nlpd_split_model_load(&st->model, path)
                          : nlpd_split_model_load_builtin(&st->model, "en");
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=split msg=\"cannot load the model %s: %s\"",
                 path != NULL ? path : "(built-in en)", nlpd_strerror(rc));
        return rc;
    }
    /* init() accepted argv: option and value pairs. */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--abbreviations") != 0)
            continue;
        const char *file = argv[i + 1];
        rc = nlpd_split_model_add_abbreviations(st->model, file);
        if (rc != 0) {
            NLPD_LOG(NLPD_LOG_ERR, "stage=split msg=\"cannot load --abbreviations %s: %s\"",
                     file, nlpd_strerror(rc));
            nlpd_split_model_free(&st->model);
            return rc;
        }
    }
    set_version(nlpd_split_model_version(st->model));
    return 0;
}

static int
split_init(void **state, int argc, char **argv)
{
    split_stage *st = &the_stage;
    nlpd_split_opts opts = NLPD_SPLIT_OPTS_INIT;
    const char *model_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--model") == 0 || strcmp(a, "--abbreviations") == 0) {
            if (v == NULL) {
                NLPD_LOG(NLPD_LOG_ERR, "stage=split msg=\"%s needs a file\"", a);
                usage(stderr);
                return NLPD_EINVAL;
            }
            if (a[2] == 'm')
                model_path = v;
            i++; /* abbreviations: load_model() adds them in order */
        } else if (strcmp(a, "--max-sentence-tokens") == 0) {
            if (v == NULL || parse_count(v, MAX_TOKENS_LIMIT, &opts.max_sentence_tokens) != 0) {
                NLPD_LOG(NLPD_LOG_ERR,
                         "stage=split msg=\"--max-sentence-tokens must be 1..%lu, not '%s'\"",
                         MAX_TOKENS_LIMIT, v != NULL ? v : "");
                return NLPD_EINVAL;
            }
            i++;
        } else if (strcmp(a, "--max-sentence-bytes") == 0) {
            if (v == NULL || parse_count(v, MAX_BYTES_LIMIT, &opts.max_sentence_bytes) != 0) {
                NLPD_LOG(NLPD_LOG_ERR,
                         "stage=split msg=\"--max-sentence-bytes must be 1..%lu, not '%s'\"",
                         MAX_BYTES_LIMIT, v != NULL ? v : "");
                return NLPD_EINVAL;
            }
            i++;
        } else {
            NLPD_LOG(NLPD_LOG_ERR, "stage=split msg=\"unknown argument %s\"", a);
            usage(stderr);
            return NLPD_EINVAL;
        }
    }
    int rc = load_model(st, model_path, argc, argv);
    if (rc != 0)
        return rc;
    rc = nlpd_split_new(&st->splitter, st->model, &opts);
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=split msg=\"cannot create the splitter: %s\"",
                 nlpd_strerror(rc));
        nlpd_split_model_free(&st->model);
        return rc;
    }
    NLPD_LOG(NLPD_LOG_INFO, "stage=split model=\"%s\" max_sentence_tokens=%u max_sentence_bytes=%u",
             nlpd_split_model_version(st->model), (unsigned)opts.max_sentence_tokens,
             (unsigned)opts.max_sentence_bytes);
    *state = st;
    return 0;
}

static int
split_process(void *state, nlpd_doc *doc, nlpd_stage_ctx *ctx)
{
    split_stage *st = state;
    size_t len;
    const char *text = nlpd_doc_text(doc, &len);
    if (len == 0)
        return 0; /* an empty document: nothing to split, and not an error */
    if (len > UINT32_MAX) {
        /* Spans are 32-bit; the daemon never sends such a document. */
        nlpd_stage_fail(ctx, "too_long", 0, "text of %zu bytes", len);
        return NLPD_EINVAL;
    }
    const nlpd_region *regions = NULL;
    size_t n_regions = nlpd_doc_regions(doc, &regions);
    int rc = nlpd_split_run(st->splitter, text, len, n_regions > 0 ? regions : NULL, n_regions);
    if (rc != 0) {
        if (rc == NLPD_ENOMEM)
            nlpd_stage_fail(ctx, "out_of_memory", 0, "splitting %zu bytes", len);
        else
            nlpd_stage_fail(ctx, "bad_regions", 0, "%s (%zu regions over %zu bytes)",
                            nlpd_strerror(rc), n_regions, len);
        return rc;
    }
    const nlpd_split_token *tok;
    size_t nt = nlpd_split_tokens(st->splitter, &tok);
    for (size_t i = 0; i < nt && rc == 0; i++)
        rc = nlpd_doc_add_token(doc, tok[i].start, tok[i].end, tok[i].shape);
    const nlpd_split_sentence *sen;
    size_t ns = nlpd_split_sentences(st->splitter, &sen);
    for (size_t i = 0; i < ns && rc == 0; i++)
        rc = nlpd_doc_add_sentence(doc, sen[i].start, sen[i].end, sen[i].flags);
    if (rc != 0) {
        /* EINVAL here is a span outside the text: a bug of the library. */
        nlpd_stage_fail(ctx, rc == NLPD_ENOMEM ? "out_of_memory" : "internal", 0,
                        "adding %zu tokens and %zu sentences: %s", nt, ns, nlpd_strerror(rc));
        return rc;
    }
    return 0;
}

static void
split_fini(void *state)
{
    split_stage *st = state;
    if (st == NULL)
        return;
    nlpd_split_free(&st->splitter);
    nlpd_split_model_free(&st->model);
}

int
main(int argc, char **argv)
{
    static nlpd_stage_def def = {
        .abi = NLPD_STAGE_ABI,
        .name = "split",
        .version = version,
        .init = split_init,
        .process = split_process,
        .fini = split_fini,
    };
    int wants_help = 0;
    for (int i = 1; i < argc; i++)
        wants_help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    int status = nlpd_stage_main(&def, argc, argv);
    if (wants_help)
        usage(stdout);
    return status;
}
