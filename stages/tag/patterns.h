/* stages/tag/patterns.h — dates, times, money, percentages and numbers,
 * found by hand-written patterns over the split stage's tokens.
 *
 * The patterns run beside the statistical tagger (tag.c), one sentence at
 * a time. They follow the OntoNotes 5 conventions for these labels:
 *
 *  - DATE: calendar dates and periods, absolute or relative, with their
 *    determiner and modifiers ("June 4, 2024", "the 1990s", "last year",
 *    "two years ago", "early June", "the third quarter of 2023",
 *    "June of the previous year"), durations in days or longer
 *    ("five years") and ages ("62 years old").
 *  - TIME: clock times and parts of a day ("10:30 a.m. GMT", "noon",
 *    "this morning", "Tuesday evening") and durations under a day
 *    ("two hours").
 *  - MONEY ("$3.5 billion", "US$ 20", "20 euros"), PERCENT ("12%",
 *    "3.5 per cent", "2 percentage points"), both with an approximator
 *    in front ("more than $5 million", "about 12%").
 *  - CARDINAL and ORDINAL: the numbers left over ("three", "1,250",
 *    "a million", "5th", "first"), but not numbers that are part of a
 *    name or an identifier ("Boeing 747", "10 Downing Street", phone
 *    numbers, scores, versions) nor counts of measured quantities
 *    ("5 km": OntoNotes QUANTITY, which we do not report).
 *
 * A clitic "'s" after a match stays outside it. Ambiguous words are
 * decided by their context: "May" is a month in "in May" or "May 4",
 * not in "May said" or "may be"; a four-digit number is a year in
 * "in 2000" and "the 2000 election", a count in "2000 people".
 *
 * Everything here is stateless: no allocation, no globals, time linear in
 * the number of tokens (each match looks at a bounded number of tokens
 * around it). Safe on any input, including invalid UTF-8.
 */
#ifndef NLPD_TAG_PATTERNS_H
#define NLPD_TAG_PATTERNS_H

#include "nlpd/split.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nlpd__pattern_match {
    uint32_t first_token; /* index into the sentence's tokens */
    uint32_t n_tokens;    /* >= 1 */
    uint8_t label;        /* NLPD_ENT_DATE ... NLPD_ENT_ORDINAL (include/nlpd/tag.h) */
} nlpd__pattern_match;

/* Finds the date, time, money and percent expressions (and with `numbers`
 * set, cardinal and ordinal numbers not inside one of those) among the
 * tokens [0, n) of ONE sentence of `text`. Token spans index `text` (the
 * caller checks them: [start, end) inside the text, as nlpd_split makes
 * them); shapes and flags are hints the patterns never trust for memory
 * safety. The token array is borrowed for the call. Writes at most n non-overlapping
 * matches in token order to out (room for n) and returns how many. No
 * allocation, no globals, linear time; thread-safe. */
size_t nlpd__patterns_match(const char *text, const nlpd_split_token *tok, size_t n, int numbers,
                            nlpd__pattern_match *out);

/* A per-token view for CRF features: labels[i] = the label of the match
 * covering token i, or 0, for i in [0, n_tokens). Matches outside that
 * range are clipped. */
void nlpd__patterns_token_labels(const nlpd__pattern_match *m, size_t n_matches, size_t n_tokens,
                                 uint8_t *labels);

/* For the tools and tests: the keyword table is looked up through a hash
 * table (kw_slots in patterns.c) generated from it. This fills `slots`
 * (n_slots must be the table's size, 2048) as kw_slots should be;
 * returns 0, or -1 for a wrong size. */
int nlpd__patterns_keyword_slots(uint16_t *slots, size_t n_slots);

/* 0 when every keyword is found through the compiled kw_slots, else
 * 1 + the index of the first one that is not (kw_slots is stale). */
size_t nlpd__patterns_check_keywords(void);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_TAG_PATTERNS_H */
