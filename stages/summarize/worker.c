/* stages/summarize/worker.c — nlpd-summarize: extractive summaries in the
 * stage runtime.
 *
 * For each document it runs the nlpd_summarize library over the sentences
 * the split stage wrote (the body's sentences are the candidates; the
 * headline and lede regions, the title and the lede are evidence; entities,
 * when the tag stage ran first, give entity salience) and sets the summary:
 * the selected sentence indices in document order and a score for every
 * sentence.
 *
 * The budget is the document's (options summary_sentences, summary_words
 * or summary_ratio), else the stage's (the options below), else 3
 * sentences. A bad budget (a ratio outside (0, 1], several budgets at once,
 * an absurd size, or a value the daemon passed through as text because it
 * is no valid budget) fails the document with the code "bad_budget": the
 * document goes on with that error record and no summary.
 *
 * Stage options (after the runtime's; see --help):
 *   --stats FILE        term statistics instead of the built-in ones
 *   --sentences N       the default budget in sentences
 *   --words N           ...or in words
 *   --ratio R           ...or as a share of the words
 *   --weight NAME=V     override one weight (centrality, centroid, position,
 *                       title, lede, entity, length, length_words, redundancy,
 *                       position_scale); repeatable
 */
#include "nlpd/alloc.h"
#include "nlpd/doc.h"
#include "nlpd/log.h"
#include "nlpd/stage.h"
#include "nlpd/summarize.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAGE_VERSION "1.0"

typedef struct summarize_stage {
    nlpd_summarize_model *model;
    nlpd_summarizer *sz;
    nlpd_summarize_budget budget; /* the stage's default */
    nlpd_span *ents;              /* entity spans of the document in hand */
    size_t cap_ents;
} summarize_stage;

static summarize_stage the_stage;
static char version[64] = STAGE_VERSION;

static void
usage(FILE *out)
{
    fprintf(out, "\nnlpd-summarize options:\n"
                 "  --stats FILE        term statistics (default: the built-in English ones)\n"
                 "  --sentences N       default budget in sentences (default 3)\n"
                 "  --words N           ...or in words\n"
                 "  --ratio R           ...or as a share of the article's words, 0 < R <= 1\n"
                 "  --weight NAME=V     override a weight (centrality, centroid, position, title,\n"
                 "                      lede, entity, length, length_words, redundancy,\n"
                 "                      position_scale)\n");
}

static int
parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end = NULL;
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return NLPD_EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > max)
        return NLPD_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static int
parse_float(const char *s, double *out)
{
    char *end = NULL;
    if (s == NULL || *s == '\0')
        return NLPD_EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return NLPD_EINVAL;
    *out = v;
    return 0;
}

static int
set_weight(nlpd_summarize_weights *w, const char *arg)
{
    static const struct {
        const char *name;
        size_t off;
    } names[] = {
        {"centrality", offsetof(nlpd_summarize_weights, centrality)},
        {"centroid", offsetof(nlpd_summarize_weights, centroid)},
        {"position", offsetof(nlpd_summarize_weights, position)},
        {"title", offsetof(nlpd_summarize_weights, title)},
        {"lede", offsetof(nlpd_summarize_weights, lede)},
        {"entity", offsetof(nlpd_summarize_weights, entity)},
        {"length", offsetof(nlpd_summarize_weights, length)},
        {"length_words", offsetof(nlpd_summarize_weights, length_words)},
        {"redundancy", offsetof(nlpd_summarize_weights, redundancy)},
        {"position_scale", offsetof(nlpd_summarize_weights, position_scale)},
    };

    const char *eq = arg != NULL ? strchr(arg, '=') : NULL;
    double v;
    if (eq == NULL || parse_float(eq + 1, &v) != 0)
        return NLPD_EINVAL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].name) == (size_t)(eq - arg) &&
            memcmp(names[i].name, arg, (size_t)(eq - arg)) == 0) {
            float *f = (float *)(void *)((char *)w + names[i].off);
            *f = (float)v;
            return 0;
        }
    }
    return NLPD_EINVAL;
}

static int
summarize_init(void **state, int argc, char **argv)
{
    summarize_stage *st = &the_stage;
    nlpd_summarize_weights w = nlpd_summarize_weights_default();
    const char *stats = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = v == NULL;
        if (strcmp(a, "--stats") == 0) {
            stats = v;
        } else if (strcmp(a, "--sentences") == 0) {
            bad = bad || parse_u32(v, NLPD_SUMMARIZE_MAX_SENTENCES, &st->budget.sentences) != 0;
        } else if (strcmp(a, "--words") == 0) {
            bad = bad || parse_u32(v, NLPD_SUMMARIZE_MAX_WORDS, &st->budget.words) != 0;
        } else if (strcmp(a, "--ratio") == 0) {
            bad = bad || parse_float(v, &st->budget.ratio) != 0 || !(st->budget.ratio > 0.0) ||
                  st->budget.ratio > 1.0;
        } else if (strcmp(a, "--weight") == 0) {
            bad = bad || set_weight(&w, v) != 0;
        } else {
            NLPD_LOG(NLPD_LOG_ERR, "stage=summarize msg=\"unknown argument %s\"", a);
            usage(stderr);
            return NLPD_EINVAL;
        }
        if (bad) {
            NLPD_LOG(NLPD_LOG_ERR, "stage=summarize msg=\"bad value for %s: '%s'\"", a,
                     v != NULL ? v : "");
            usage(stderr);
            return NLPD_EINVAL;
        }
        i++;
    }
    char why[128];
    if (nlpd_summarize_check_budget(&st->budget, why, sizeof(why)) != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=summarize msg=\"%s\"", why);
        return NLPD_EINVAL;
    }
    int rc = stats != NULL ? nlpd_summarize_model_load(&st->model, stats)
                           : nlpd_summarize_model_load_builtin(&st->model);
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=summarize msg=\"cannot load the term statistics %s: %s\"",
                 stats != NULL ? stats : "(built-in)", nlpd_strerror(rc));
        return rc;
    }
    rc = nlpd_summarizer_new(&st->sz, st->model, &w);
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=summarize msg=\"cannot create the summarizer: %s\"",
                 nlpd_strerror(rc));
        nlpd_summarize_model_free(&st->model);
        return rc;
    }
    snprintf(version, sizeof(version), "%s stats=%s", STAGE_VERSION,
             nlpd_summarize_model_version(st->model));
    NLPD_LOG(NLPD_LOG_INFO, "stage=summarize stats=\"%s\"",
             nlpd_summarize_model_version(st->model));
    *state = st;
    return 0;
}

/* The document's budget, or the stage's when it names none. Returns 0 or
 * NLPD_EINVAL after recording why. */
static int
doc_budget(summarize_stage *st, nlpd_doc *doc, nlpd_stage_ctx *ctx, nlpd_summarize_budget *out)
{
    /* A budget key the daemon could not read into its field arrives as
     * text among the other options: it is no valid budget. */
    static const char *const keys[] = {"summary_sentences", "summary_words", "summary_ratio"};
    for (size_t i = 0; i < 3; i++) {
        const char *raw = nlpd_doc_option(doc, keys[i]);
        if (raw != NULL) {
            nlpd_stage_fail(ctx, "bad_budget", 0, "%s %.40s is no valid budget (%s)", keys[i], raw,
                            i == 2 ? "want a number in (0, 1]" : "want a positive integer");
            return NLPD_EINVAL;
        }
    }
    nlpd_summary_budget b = nlpd_doc_summary_budget(doc);
    nlpd_summarize_budget sb = {b.sentences, b.words, b.ratio};
    if (sb.sentences == 0 && sb.words == 0 && sb.ratio == 0.0)
        sb = st->budget;
    char why[128];
    if (nlpd_summarize_check_budget(&sb, why, sizeof(why)) != 0) {
        nlpd_stage_fail(ctx, "bad_budget", 0, "%s", why);
        return NLPD_EINVAL;
    }
    *out = sb;
    return 0;
}

static int
summarize_process(void *state, nlpd_doc *doc, nlpd_stage_ctx *ctx)
{
    summarize_stage *st = state;
    nlpd_summarize_budget budget;
    int rc = doc_budget(st, doc, ctx, &budget);
    if (rc != 0)
        return rc;
    size_t len;
    const char *text = nlpd_doc_text(doc, &len);
    const uint32_t *starts, *ends;
    size_t ns = nlpd_doc_sentences(doc, &starts, &ends, NULL);
    if (len >= UINT32_MAX) {
        nlpd_stage_fail(ctx, "too_long", 0, "text of %zu bytes", len);
        return NLPD_EINVAL;
    }
    size_t ne = nlpd_doc_entity_count(doc);
    if (ne > st->cap_ents) {
        nlpd_span *p = nlpd_realloc(st->ents, ne * sizeof(*p));
        if (p == NULL) {
            nlpd_stage_fail(ctx, "out_of_memory", 0, "%zu entities", ne);
            return NLPD_ENOMEM;
        }
        st->ents = p;
        st->cap_ents = ne;
    }
    size_t k = 0;
    for (size_t i = 0; i < ne; i++) {
        nlpd_entity e;
        if (nlpd_doc_entity(doc, i, &e) == 0 && e.start < e.end && e.end <= len)
            st->ents[k++] = (nlpd_span){e.start, e.end};
    }
    const nlpd_region *regions = NULL;
    size_t nr = nlpd_doc_regions(doc, &regions);
    const char *title = nlpd_doc_title(doc), *lede = nlpd_doc_lede(doc);
    nlpd_summarize_input in = {
        .text = text,
        .len = len,
        .starts = starts,
        .ends = ends,
        .n_sentences = ns,
        .regions = nr > 0 ? regions : NULL,
        .n_regions = nr,
        .title = title,
        .title_len = strlen(title),
        .lede = lede,
        .lede_len = strlen(lede),
        .entities = k > 0 ? st->ents : NULL,
        .n_entities = k,
    };
    rc = nlpd_summarize_run(st->sz, &in, &budget);
    if (rc != 0) {
        if (rc == NLPD_ENOMEM)
            nlpd_stage_fail(ctx, "out_of_memory", 0, "summarizing %zu sentences", ns);
        else
            nlpd_stage_fail(ctx, "bad_sentences", 0,
                            "%s (%zu sentences, %zu regions over %zu bytes)", nlpd_strerror(rc), ns,
                            nr, len);
        return rc;
    }
    const uint32_t *sel;
    size_t n_sel = nlpd_summarize_selected(st->sz, &sel);
    const float *scores;
    size_t n_scores = nlpd_summarize_scores(st->sz, &scores);
    rc = nlpd_doc_set_summary(doc, sel, n_sel, n_scores > 0 ? scores : NULL, n_scores);
    if (rc != 0) {
        nlpd_stage_fail(ctx, rc == NLPD_ENOMEM ? "out_of_memory" : "internal", 0,
                        "setting a summary of %zu sentences: %s", n_sel, nlpd_strerror(rc));
        return rc;
    }
    return 0;
}

static void
summarize_fini(void *state)
{
    summarize_stage *st = state;
    if (st == NULL)
        return;
    nlpd_summarizer_free(&st->sz);
    nlpd_summarize_model_free(&st->model);
    nlpd_free(st->ents);
    st->ents = NULL;
}

int
main(int argc, char **argv)
{
    static nlpd_stage_def def = {
        .abi = NLPD_STAGE_ABI,
        .name = "summarize",
        .version = version,
        .init = summarize_init,
        .process = summarize_process,
        .fini = summarize_fini,
    };
    int wants_help = 0;
    for (int i = 1; i < argc; i++)
        wants_help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    int status = nlpd_stage_main(&def, argc, argv);
    if (wants_help)
        usage(stdout);
    return status;
}
