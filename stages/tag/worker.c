/* stages/tag/worker.c — nlpd-tag: entity tagging in the stage runtime.
 *
 * For each document it reads the tokens and sentences an earlier split
 * stage appended, runs the nlpd_tag library over them, and appends every
 * entity (span, label, score). Spans index the normalized text; the SDK
 * maps them to the text as sent on output.
 *
 * Stage options (after the runtime's; see --help):
 *   --model FILE      a model file instead of the built-in "en" one
 *   --numbers         also report cardinal and ordinal numbers
 *   --no-patterns     names only: no dates, times, money or percentages
 *
 * A new model file takes effect through the daemon's reload (SIGHUP or
 * `nlpctl reload`): the daemon starts a new generation of workers, each of
 * which loads the file in init(); a file that does not load keeps that
 * generation from coming up, and the old workers go on with the old model.
 *
 * Documents carry token spans and shapes but not the tokenizer's flags, and
 * a custom splitter may have made the tokens: the worker rebuilds the flags
 * the tagger reads from the text between tokens (rebuild_flags()).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/doc.h"
#include "nlpd/log.h"
#include "nlpd/split.h"
#include "nlpd/stage.h"
#include "nlpd/tag.h"

#define STAGE_VERSION "1.3"

typedef struct tag_stage {
    nlpd_tag_model *model; /* made by init(), freed by fini() */
    nlpd_tagger *tagger;   /* the same */
    nlpd_split_token *tok; /* the document's tokens, rebuilt */
    size_t tok_cap;
    nlpd_split_sentence *sen; /* the document's sentences over them */
    size_t sen_cap;
} tag_stage;

/* The worker's one stage. */
static tag_stage the_stage;

/* "1.0 model=<model version>", cut to what the runtime keeps. */
static char version[64] = STAGE_VERSION;

static void
usage(FILE *out)
{
    fprintf(out, "\nnlpd-tag options:\n"
                 "  --model FILE      a model file (default: the built-in \"en\" model)\n"
                 "  --numbers         also report cardinal and ordinal numbers\n"
                 "  --no-patterns     names only: no dates, times, money or percentages\n"
                 "  --sentences-only  no document pass: each sentence's names on their own\n"
                 "                    (by default a name keeps one label across the\n"
                 "                    document and its later mentions are found)\n");
}

/* Sets the version to "1.0 model=<model>", cut at a word boundary when the
 * model's description does not fit in what the runtime keeps. */
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

static int
tag_init(void **state, int argc, char **argv)
{
    tag_stage *st = &the_stage;
    nlpd_tag_opts opts = NLPD_TAG_OPTS_INIT;
    const char *model_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--model") == 0) {
            if (i + 1 >= argc) {
                NLPD_LOG(NLPD_LOG_ERR, "stage=tag msg=\"--model needs a file\"");
                usage(stderr);
                return NLPD_EINVAL;
            }
            model_path = argv[++i];
        } else if (strcmp(a, "--numbers") == 0) {
            opts.numbers = 1;
        } else if (strcmp(a, "--no-patterns") == 0) {
            opts.patterns = 0;
        } else if (strcmp(a, "--sentences-only") == 0) {
            opts.document = 0;
        } else {
            NLPD_LOG(NLPD_LOG_ERR, "stage=tag msg=\"unknown argument %s\"", a);
            usage(stderr);
            return NLPD_EINVAL;
        }
    }
    int rc = model_path != NULL ? nlpd_tag_model_load(&st->model, model_path)
                                : nlpd_tag_model_load_builtin(&st->model, "en");
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=tag msg=\"cannot load the model %s: %s\"",
                 model_path != NULL ? model_path : "(built-in en)", nlpd_strerror(rc));
        return rc;
    }
    rc = nlpd_tagger_new(&st->tagger, st->model, &opts);
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=tag msg=\"cannot create the tagger: %s\"",
                 nlpd_strerror(rc));
        nlpd_tag_model_free(&st->model);
        return rc;
    }
    set_version(nlpd_tag_model_version(st->model));
    NLPD_LOG(NLPD_LOG_INFO, "stage=tag model=\"%s\" patterns=%d numbers=%d document=%d",
             nlpd_tag_model_version(st->model), opts.patterns, opts.numbers, opts.document);
    *state = st;
    return 0;
}

/* Whitespace between tokens: ASCII controls and space, DEL, and the
 * Unicode spaces and line or paragraph separators. Sets *newlines to the
 * line breaks in [p, q) (U+2029 counts two). Returns 1 when all of [p, q)
 * is whitespace. */
static int
gap_is_space(const char *text, size_t p, size_t q, unsigned *newlines)
{
    const unsigned char *s = (const unsigned char *)text;
    *newlines = 0;
    while (p < q) {
        unsigned c = s[p];
        if (c <= ' ' || c == 0x7F) {
            *newlines += c == '\n';
            p++;
        } else if (c == 0xC2 && p + 1 < q && (s[p + 1] == 0x85 || s[p + 1] == 0xA0)) {
            *newlines += s[p + 1] == 0x85;
            p += 2;
        } else if (c == 0xE2 && p + 2 < q && s[p + 1] == 0x80 &&
                   ((s[p + 2] >= 0x80 && s[p + 2] <= 0x8A) || s[p + 2] == 0xA8 ||
                    s[p + 2] == 0xA9 || s[p + 2] == 0xAF)) {
            *newlines += s[p + 2] == 0xA8 ? 1 : s[p + 2] == 0xA9 ? 2 : 0;
            p += 3;
        } else if ((c == 0xE1 && p + 2 < q && s[p + 1] == 0x9A && s[p + 2] == 0x80) ||
                   (c == 0xE2 && p + 2 < q && s[p + 1] == 0x81 && s[p + 2] == 0x9F) ||
                   (c == 0xE3 && p + 2 < q && s[p + 1] == 0x80 && s[p + 2] == 0x80)) {
            p += 3;
        } else {
            return 0;
        }
    }
    return 1;
}

/* Returns 1 when s[0, n) ends in a letter or digit (any non-ASCII
 * character but "…" counts). */
static int
ends_in_word(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[n - 1];
    if (c >= 0x80)
        return !(n >= 3 && memcmp(s + n - 3, "\xE2\x80\xA6", 3) == 0);
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* The flags nlpd_split would have set, from the text alone: whitespace,
 * line and paragraph breaks after each token, clitics ("'s", "n't" glued
 * to the word before) and abbreviation periods ("U.S.", "Dr."). */
static void
rebuild_flags(const char *text, size_t len, nlpd_split_token *tok, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        nlpd_split_token *t = &tok[i];
        uint32_t next = i + 1 < n ? tok[i + 1].start : (uint32_t)len;
        unsigned nl = 0;
        uint8_t f = 0;
        if (next > t->end && gap_is_space(text, t->end, next, &nl))
            f |= NLPD_TOKEN_SPACE_AFTER | (nl > 0 ? NLPD_TOKEN_NEWLINE_AFTER : 0) |
                 (nl > 1 ? NLPD_TOKEN_PARAGRAPH_AFTER : 0);
        const char *s = text + t->start;
        size_t tl = t->end - t->start;
        if (i > 0 && tok[i - 1].end == t->start && tl >= 2 &&
            (s[0] == '\'' || (tl >= 4 && memcmp(s, "\xE2\x80\x99", 3) == 0) ||
             ((s[0] == 'n' || s[0] == 'N') && (s[1] == '\'' || (unsigned char)s[1] == 0xE2))))
            f |= NLPD_TOKEN_CLITIC;
        if (tl >= 2 && s[tl - 1] == '.' && ends_in_word(s, tl - 1))
            f |= NLPD_TOKEN_ABBREV;
        t->flags = f;
    }
}

/* Reads the document's tokens and sentences into st->tok and st->sen (a
 * sentence as the run of tokens inside its span). Returns the number of
 * tokens, or a negative nlpd_err with the reason in ctx. */
static int
read_tokens(tag_stage *st, nlpd_doc *doc, const char *text, size_t len, size_t *n_sen,
            nlpd_stage_ctx *ctx)
{
    const uint32_t *ts, *te, *tshape, *ss, *se, *sflags;
    size_t nt = nlpd_doc_tokens(doc, &ts, &te, &tshape);
    size_t ns = nlpd_doc_sentences(doc, &ss, &se, &sflags);
    if (nlpd_grow((void **)&st->tok, &st->tok_cap, nt, sizeof(*st->tok)) != 0 ||
        nlpd_grow((void **)&st->sen, &st->sen_cap, ns, sizeof(*st->sen)) != 0) {
        nlpd_stage_fail(ctx, "out_of_memory", 0, "%zu tokens, %zu sentences", nt, ns);
        return NLPD_ENOMEM;
    }
    for (size_t i = 0; i < nt; i++) {
        if (te[i] < ts[i] || te[i] > len || (i > 0 && ts[i] < te[i - 1])) {
            nlpd_stage_fail(ctx, "bad_tokens", 0,
                            "token %zu [%u, %u) is out of order or outside the text (%zu bytes)",
                            i, (unsigned)ts[i], (unsigned)te[i], len);
            return NLPD_EINVAL;
        }
        st->tok[i] = (nlpd_split_token){ts[i], te[i], (uint8_t)(tshape != NULL ? tshape[i] : 0),
                                        0, 0};
    }
    rebuild_flags(text, len, st->tok, nt);
    /* Sentences in order; each takes the tokens that start inside it.
     * Tokens outside every sentence (layout) are not tagged. */
    size_t k = 0, out = 0;
    for (size_t j = 0; j < ns; j++) {
        if (se[j] < ss[j] || se[j] > len || (j > 0 && ss[j] < se[j - 1])) {
            nlpd_stage_fail(ctx, "bad_sentences", 0,
                            "sentence %zu [%u, %u) is out of order or outside the text", j,
                            (unsigned)ss[j], (unsigned)se[j]);
            return NLPD_EINVAL;
        }
        while (k < nt && st->tok[k].start < ss[j])
            k++;
        size_t first = k;
        while (k < nt && st->tok[k].end <= se[j])
            k++;
        if (k > first)
            st->sen[out++] = (nlpd_split_sentence){st->tok[first].start, st->tok[k - 1].end,
                                                   (uint32_t)first, (uint32_t)(k - first),
                                                   sflags != NULL ? sflags[j] : 0};
    }
    *n_sen = out;
    return (int)(nt > INT32_MAX ? INT32_MAX : nt);
}

/* Returns 1 when the text holds anything but whitespace. */
static int
has_content(const char *text, size_t len)
{
    unsigned nl;
    return !gap_is_space(text, 0, len, &nl);
}

static int
tag_process(void *state, nlpd_doc *doc, nlpd_stage_ctx *ctx)
{
    tag_stage *st = state;
    size_t len;
    const char *text = nlpd_doc_text(doc, &len);
    if (len == 0)
        return 0; /* an empty document: nothing to tag, and not an error */
    if (len > UINT32_MAX) {
        nlpd_stage_fail(ctx, "too_long", 0, "text of %zu bytes", len);
        return NLPD_EINVAL;
    }
    size_t ns = 0;
    int nt = read_tokens(st, doc, text, len, &ns, ctx);
    if (nt < 0)
        return nt;
    if (nt == 0 || ns == 0) {
        if (!has_content(text, len))
            return 0;
        /* Text but no tokens or sentences: no split stage ran before. */
        nlpd_stage_fail(ctx, "needs_split", 0,
                        "the document has %d tokens and %zu sentences: put a split stage "
                        "before tag in the pipeline",
                        nt, ns);
        return NLPD_EINVAL;
    }
    int rc = nlpd_tagger_run(st->tagger, text, len, st->tok, (size_t)nt, st->sen, ns);
    if (rc != 0) {
        nlpd_stage_fail(ctx, rc == NLPD_ENOMEM ? "out_of_memory" : "bad_tokens", 0,
                        "tagging %d tokens in %zu sentences: %s", nt, ns, nlpd_strerror(rc));
        return rc;
    }
    const nlpd_tag_entity *ent;
    size_t ne = nlpd_tagger_entities(st->tagger, &ent);
    for (size_t i = 0; i < ne && rc == 0; i++)
        rc = nlpd_doc_add_entity(doc, ent[i].start, ent[i].end,
                                 nlpd_entity_label_name(ent[i].label), ent[i].score);
    if (rc != 0) {
        nlpd_stage_fail(ctx, rc == NLPD_ENOMEM ? "out_of_memory" : "internal", 0,
                        "adding %zu entities: %s", ne, nlpd_strerror(rc));
        return rc;
    }
    return 0;
}

static void
tag_fini(void *state)
{
    tag_stage *st = state;
    if (st == NULL)
        return;
    nlpd_tagger_free(&st->tagger);
    nlpd_tag_model_free(&st->model);
    free(st->tok);
    free(st->sen);
    st->tok = NULL;
    st->sen = NULL;
}

int
main(int argc, char **argv)
{
    static nlpd_stage_def def = {
        .abi = NLPD_STAGE_ABI,
        .name = "tag",
        .version = version,
        .init = tag_init,
        .process = tag_process,
        .fini = tag_fini,
    };
    int wants_help = 0;
    for (int i = 1; i < argc; i++)
        wants_help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    int status = nlpd_stage_main(&def, argc, argv);
    if (wants_help)
        usage(stdout);
    return status;
}
