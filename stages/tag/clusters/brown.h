/* stages/tag/clusters/brown.h — Brown word clustering (Brown et al. 1992),
 * with the windowed agglomerative algorithm of Liang (2005): the core of
 * nlpd-tag-clusters, a build-time tool (not part of the tagger library).
 *
 *     nlpd_brown *b;
 *     nlpd_brown_opts opts = NLPD_BROWN_OPTS_INIT;
 *     nlpd_brown_new(&b, &opts);
 *     nlpd_brown_add_sentence(b, words, n);   // for every sentence
 *     nlpd_brown_run(b);
 *     nlpd_brown_write(b, stdout);            // "<path>\t<word>\t<count>\n"
 *     nlpd_brown_free(&b);
 *
 * Words are counted; the ones seen at least min_count times are sorted by
 * frequency (ties by their bytes) and added one at a time as clusters of
 * their own. Whenever more than `clusters` clusters are active, the pair
 * whose merge loses the least average mutual information between adjacent
 * clusters is merged. Once every word is in, the remaining clusters are
 * merged down to one the same way, and that binary tree gives each final
 * cluster its bit path (0 for the child holding the more frequent word).
 * Bigrams are counted within sentences, between words that both reach
 * min_count. The tables L (merge losses) and q (the mutual information
 * terms) are kept up to date incrementally, O(C^2) per word.
 *
 * Everything is deterministic: the same sentences in the same order give
 * the same output, byte for byte. Not thread-safe; no globals.
 */
#ifndef NLPD_TAG_BROWN_H
#define NLPD_TAG_BROWN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct nlpd_brown nlpd_brown;

typedef struct nlpd_brown_opts {
    uint32_t clusters;  /* C, the number of active clusters (>= 2) */
    uint32_t min_count; /* words seen fewer times are left out (>= 1) */
} nlpd_brown_opts;

#define NLPD_BROWN_OPTS_INIT \
    {                        \
        256, 3               \
    }

/* One word of a sentence: `len` bytes at `s`, no tab or newline in it. */
typedef struct nlpd_brown_word {
    const char *s;
    size_t len;
} nlpd_brown_word;

/* Progress of nlpd_brown_run(): `done` of `total` words added. */
typedef void (*nlpd_brown_progress_fn)(void *arg, size_t done, size_t total);

/* Creates an empty clusterer. Returns 0, NLPD_EINVAL (clusters < 2 or
 * min_count 0), or NLPD_ENOMEM. Free with nlpd_brown_free(). */
int nlpd_brown_new(nlpd_brown **out, const nlpd_brown_opts *opts);

void nlpd_brown_free(nlpd_brown **self_p);

/* Counts one sentence of `n` words (copied; `words` is borrowed for the
 * call). A word holding a tab, CR or LF, an empty word, or one longer than
 * 1024 bytes is skipped, and the sentence goes on around it as if it
 * were not there. Returns 0, NLPD_EINVAL after nlpd_brown_run(), or
 * NLPD_ENOMEM. */
int nlpd_brown_add_sentence(nlpd_brown *self, const nlpd_brown_word *words, size_t n);

/* Clusters the words counted so far; call once. Returns 0, NLPD_EINVAL
 * when called twice, or NLPD_ENOMEM. `progress` may be NULL. */
int nlpd_brown_run(nlpd_brown *self, nlpd_brown_progress_fn progress, void *arg);

/* Counts after nlpd_brown_run(): tokens and distinct words read, the words
 * kept (count >= min_count), and the bigrams between kept words. */
typedef struct nlpd_brown_stats {
    uint64_t tokens;
    size_t types;
    size_t kept;
    uint64_t bigrams;
    double ami; /* average mutual information of the final clusters, nats */
} nlpd_brown_stats;

void nlpd_brown_get_stats(const nlpd_brown *self, nlpd_brown_stats *out);

/* The i-th kept word in output order (by path, then by word bytes), for
 * i < stats.kept, after nlpd_brown_run(). The strings are owned by the
 * clusterer and NUL-terminated. Returns 0 or NLPD_EINVAL. */
int nlpd_brown_entry(const nlpd_brown *self, size_t i, const char **path, const char **word,
                     size_t *word_len, uint64_t *count);

/* Writes every kept word as "<path>\t<word>\t<count>\n" in output order.
 * Returns 0, NLPD_EINVAL before nlpd_brown_run(), or -errno. */
int nlpd_brown_write(const nlpd_brown *self, FILE *f);

#endif /* NLPD_TAG_BROWN_H */
