/* stages/example-quotes/quotes.h — direct quotations in a text.
 *
 * The library of the example custom stage (nlpd-example-quotes): it finds
 * the passages between matching quotation marks, “…” ‘…’ «…» and straight
 * "…", and, where a simple pattern says so, who said them:
 *
 *     “We will not back down,” said Sergei Shoigu.      speaker after
 *     Sergei Shoigu said: “We will not back down.”      speaker before
 *
 * What counts as a quotation:
 *  - The marks pair like brackets: “ with ”, ‘ with ’, « with »; a straight
 *    " opens where it starts a word (after a space, an opening bracket or
 *    another quote mark) and closes where it ends one. Marks that find no
 *    partner are ignored, and so is what they enclose: nothing is guessed.
 *  - ’ is also the apostrophe. Between two letters or digits (Shoigu’s,
 *    don’t) and before a word (’90s) it is never a closing mark. After a
 *    letter and before a space or punctuation it may be either (the
 *    players’ union): such a ’ closes an open ‘ only when no ’ after
 *    punctuation (,’ .’ ?’) closes it first, before the next ‘ or the end of
 *    the paragraph.
 *  - Only the outermost quotation is reported: a quotation inside another is
 *    part of it. When the outer marks turn out unbalanced, the quotations
 *    inside them are reported instead.
 *  - A paragraph break (a blank line) ends every open mark: a quotation
 *    never spans paragraphs. (English continues a quotation over paragraphs
 *    by leaving the closing mark out; then only its last paragraph, which has
 *    both marks, is found.)
 *  - A quotation holds at least `min_words` words (default 2): "fine" in
 *    scare quotes is not one.
 *  - The straight ' is not a quote mark here: in running text it is an
 *    apostrophe far more often than a quotation mark.
 *
 * The speaker is found only in those patterns (and "…," a title NAME said,
 * within one clause of at most eight words), with a reporting verb (said,
 * says, added, told, asked, ...) and a run of one to five capitalised words
 * as the name; a quotation followed by a speaker ends in a comma, ? ! or a
 * dash. Pronouns (he, she) and names that end a longer title (Archbishop of
 * Canterbury) are not reported: no speaker rather than a wrong one.
 *
 * A pure library: no I/O, no globals, one pass over the text (linear time;
 * marks nest at most 64 deep, deeper ones are ignored). Offsets are UTF-8
 * byte offsets; invalid UTF-8 is read byte by byte and never matches a mark.
 * One nlpd_quotes per thread; it keeps its buffers from one run to the next.
 */
#ifndef NLPD_EXAMPLE_QUOTES_H
#define NLPD_EXAMPLE_QUOTES_H

#include <stddef.h>

#include "nlpd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nlpd_quotes nlpd_quotes;

typedef struct nlpd_quotes_opts {
    unsigned min_words; /* fewest words a quotation holds; 0 means 1 */
    int speakers;       /* 1: look for the speaker of each quotation */
} nlpd_quotes_opts;

/* clang-format off */
#define NLPD_QUOTES_OPTS_INIT {2, 1}
/* clang-format on */

/* One quotation; all [start, end) byte offsets into the text searched. */
typedef struct nlpd_quote {
    size_t start;         /* the quoted passage: inside the marks, */
    size_t end;           /* surrounding whitespace left out */
    size_t open;          /* the marks included: text[open] is the opening mark, */
    size_t close;         /* text[close - 1] the last byte of the closing one */
    size_t speaker_start; /* the speaker's name; speaker_start == speaker_end */
    size_t speaker_end;   /* when none was found */
} nlpd_quote;

/* Called once per quotation, in text order. A non-zero return stops the
 * search and nlpd_quotes_find() returns it. `q` is valid during the call. */
typedef int (*nlpd_quotes_emit_fn)(void *arg, const nlpd_quote *q);

/* Creates a finder. `opts` may be NULL for NLPD_QUOTES_OPTS_INIT; it is
 * copied. Returns 0 and sets *out (free with nlpd_quotes_free), or
 * NLPD_EINVAL (out NULL) or NLPD_ENOMEM. */
int nlpd_quotes_new(nlpd_quotes **out, const nlpd_quotes_opts *opts);

/* Frees the finder and sets *self_p to NULL. Accepts NULL and *self_p NULL. */
void nlpd_quotes_free(nlpd_quotes **self_p);

/* Finds the quotations in `len` bytes of `text` (borrowed for the call; not
 * NUL-terminated) and passes each to `emit`. Returns 0, NLPD_EINVAL (self or
 * emit NULL, or text NULL with len > 0), NLPD_ENOMEM (nothing more is
 * emitted), or the first non-zero value `emit` returned. Not thread-safe:
 * one finder per thread. */
int nlpd_quotes_find(nlpd_quotes *self, const char *text, size_t len, nlpd_quotes_emit_fn emit,
                     void *arg);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_EXAMPLE_QUOTES_H */
