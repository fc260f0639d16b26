/* include/nlpd/summarize.h — extractive summarization, a pure library.
 *
 *     nlpd_summarize_model *model;
 *     nlpd_summarize_model_load_builtin(&model);          // background term statistics
 *     nlpd_summarizer *sz;
 *     nlpd_summarizer_new(&sz, model, NULL);              // the tuned weights
 *     nlpd_summarize_input in = {.text = text, .len = len, .starts = st, .ends = en,
 *                                .n_sentences = ns, .regions = reg, .n_regions = nr};
 *     nlpd_summarize_budget b = {.sentences = 3};
 *     nlpd_summarize_run(sz, &in, &b);
 *     const uint32_t *sel; size_t k = nlpd_summarize_selected(sz, &sel);
 *     const float *score;  size_t n = nlpd_summarize_scores(sz, &score);
 *     nlpd_summarizer_free(&sz);
 *     nlpd_summarize_model_free(&model);
 *
 * Candidates are the sentences of the body (regions BODY or UNSPECIFIED, or
 * every sentence when there are no regions); sentences of the headline and
 * the lede (standfirst), and the title and lede strings of the input, are
 * evidence only. Each candidate gets features, each scaled to [0, 1] within
 * the document:
 *
 *   centrality  continuous LexRank: PageRank over the complete graph of
 *               TF-IDF cosine similarities. The graph is never built: with
 *               unit rows S, one step is S (S^T p) - p, linear in the text.
 *   centroid    cosine to the sum of the candidates' TF-IDF vectors
 *   position    the lead prior scale / (scale + k) for the k-th candidate
 *   title       cosine to the title (and headline sentences)
 *   lede        cosine to the lede (standfirst)
 *   entity      the sentence's entity mentions, weighted by how often the
 *               document names each entity (when entities are given)
 *   length      the sentence's words (scaled by the longest candidate's);
 *               it has its own weight under a word budget, where a long
 *               sentence costs what it brings, and under a sentence budget,
 *               where it does not
 *
 * and a score that is their weighted sum (weights tuned on dev sets, see
 * stages/summarize/README.md). Sentences are then chosen greedily by maximal
 * marginal relevance (score - redundancy x the highest cosine to a sentence
 * already chosen; an exact repeat of a chosen sentence is never chosen)
 * until the budget is met, and returned in document order.
 *
 * Terms are runs of ASCII letters and digits, lower-cased (as ROUGE is
 * usually scored); IDF comes from a background corpus compiled into the
 * library (stages/summarize/data). The model is read-only after loading
 * and may be shared by any number of summarizers on any threads. A
 * summarizer holds the working arrays of one run, grows them only when a
 * document is larger than any before it, and belongs to one thread at a
 * time. No globals. Time is linear in the text plus O(n log n) in its
 * number of sentences.
 */
#ifndef NLPD_SUMMARIZE_H
#define NLPD_SUMMARIZE_H

#include "nlpd/export.h"
#include "nlpd/types.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nlpd_summarize_model nlpd_summarize_model;
typedef struct nlpd_summarizer nlpd_summarizer;

/* The default budget when a document names none. */
#define NLPD_SUMMARIZE_DEFAULT_SENTENCES 3

/* The largest budgets accepted: more is an error ("absurd"). */
#define NLPD_SUMMARIZE_MAX_SENTENCES 100000u
#define NLPD_SUMMARIZE_MAX_WORDS     100000000u

/* The weights of the features and of redundancy (see above). */
typedef struct nlpd_summarize_weights {
    float centrality;
    float centroid;
    float position;
    float title;
    float lede;
    float entity;
    float length;         /* ...under a budget of sentences */
    float length_words;   /* ...under a budget of words or a ratio */
    float redundancy;     /* MMR: the penalty per unit of cosine to a chosen sentence */
    float position_scale; /* the lead prior: scale / (scale + k), > 0 */
} nlpd_summarize_weights;

/* The weights tuned on the dev sets (stages/summarize/README.md). */
NLPD_EXPORT nlpd_summarize_weights nlpd_summarize_weights_default(void);

/* A budget: at most one field set (0: not set); all 0 means the default
 * of NLPD_SUMMARIZE_DEFAULT_SENTENCES sentences. A word budget is met as
 * ../shared/FORMAT.md says: sentences are added while the words already
 * chosen are fewer than the budget (whitespace-separated words). A ratio
 * is a share of the words of the whole text. */
typedef struct nlpd_summarize_budget {
    uint32_t sentences;
    uint32_t words;
    double ratio; /* 0 < ratio <= 1 */
} nlpd_summarize_budget;

/* Checks a budget. Returns 0, or NLPD_EINVAL with a reason in `why` (may
 * be NULL): a ratio that is not in (0, 1], more than one field set, or
 * more than NLPD_SUMMARIZE_MAX_SENTENCES / _MAX_WORDS. */
NLPD_EXPORT int nlpd_summarize_check_budget(const nlpd_summarize_budget *budget, char *why,
                                            size_t why_len);

/* One document. Spans are [start, end) byte offsets into text. */
typedef struct nlpd_summarize_input {
    const char *text;
    size_t len;             /* < 2^32 */
    const uint32_t *starts; /* sentences, in order */
    const uint32_t *ends;
    size_t n_sentences;
    const nlpd_region *regions; /* may be NULL: all body */
    size_t n_regions;
    const char *title; /* evidence; may be NULL */
    size_t title_len;
    const char *lede; /* evidence; may be NULL */
    size_t lede_len;
    const nlpd_span *entities; /* entity mentions; may be NULL */
    size_t n_entities;
} nlpd_summarize_input;

/* --- Models (background term statistics) ---------------------------------- */

/* Reads a term statistics file (format: stages/summarize/data/README.md).
 * Returns 0 and sets *out, NLPD_EMODEL when malformed, -errno, or
 * NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_summarize_model_load(nlpd_summarize_model **out, const char *path);

/* The same from `len` bytes in memory (borrowed for the call). */
NLPD_EXPORT int nlpd_summarize_model_load_buffer(nlpd_summarize_model **out, const void *buf,
                                                 size_t len);

/* The English statistics compiled into the library. */
NLPD_EXPORT int nlpd_summarize_model_load_builtin(nlpd_summarize_model **out);

/* "en <units> units, <terms> terms"; owned by the model. */
NLPD_EXPORT const char *nlpd_summarize_model_version(const nlpd_summarize_model *self);

/* The inverse document frequency of a term (`len` bytes, matched
 * lower-cased), as the scorer uses it. */
NLPD_EXPORT float nlpd_summarize_model_idf(const nlpd_summarize_model *self, const char *term,
                                           size_t len);

NLPD_EXPORT void nlpd_summarize_model_free(nlpd_summarize_model **self_p);

/* --- Summarizing ------------------------------------------------------------ */

/* Creates a summarizer over `model` (borrowed). `weights` may be NULL for
 * the defaults. Returns 0, NLPD_EINVAL (a weight not finite,
 * position_scale <= 0 or redundancy < 0), or NLPD_ENOMEM. */
NLPD_EXPORT int nlpd_summarizer_new(nlpd_summarizer **out, const nlpd_summarize_model *model,
                                    const nlpd_summarize_weights *weights);

NLPD_EXPORT void nlpd_summarizer_free(nlpd_summarizer **self_p);

/* Summarizes one document; `budget` NULL means the default. Returns 0,
 * NLPD_EINVAL (a bad budget, sentences out of order or outside the text,
 * len >= 2^32), or NLPD_ENOMEM. Results replace the previous run's. */
NLPD_EXPORT int nlpd_summarize_run(nlpd_summarizer *self, const nlpd_summarize_input *in,
                                   const nlpd_summarize_budget *budget);

/* The last run's selected sentence indices, in document order. */
NLPD_EXPORT size_t nlpd_summarize_selected(const nlpd_summarizer *self, const uint32_t **out);

/* The last run's score of every sentence (0 for a sentence that is not a
 * candidate); n_sentences values. */
NLPD_EXPORT size_t nlpd_summarize_scores(const nlpd_summarizer *self, const float **out);

/* The last run's feature values of sentence i (for tuning and tests):
 * NLPD_SUMMARIZE_N_FEATURES floats in the order of the weights above (length once). */
#define NLPD_SUMMARIZE_N_FEATURES 7
NLPD_EXPORT const float *nlpd_summarize_features(const nlpd_summarizer *self, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_SUMMARIZE_H */
