/* stages/tag/docpass.c — one pass over a document's names after the CRF:
 * a name keeps one label across the article, and its later mentions are
 * found even where the sentence alone says too little.
 *
 * News names someone in full once ("Sergei Shoigu") and then by surname
 * ("Shoigu arrived"); the CRF sees one sentence at a time and misses some
 * of the short mentions, or labels the same name two ways. The pass:
 *
 *  0b. a LOC or ORG name after "of" and capitalized words with an
 *     organization word (gazetteer class org_word) becomes one ORG name:
 *     "Housing Authority of New Orleans", where the CRF saw "New Orleans";
 *  0c. "\"Lenhart, Matthew\"" (in quotes, a surname, a comma, a first
 *     name: two one-token person's names to the CRF) becomes one name;
 *  1. votes: every name the CRF found votes, with its marginal
 *     probability, for its label under its exact token sequence; a
 *     person's name of two or more tokens also votes PER for its first
 *     and last token ("parts"), and any other name of two or more
 *     capitalized words votes for its acronym ("World Health Organization"
 *     for "WHO"), with weight 1 when the text defines it right after the
 *     name ("Housing Authority of New Orleans (HANO)");
 *  2. relabels each name whose sequence has a stronger label elsewhere in
 *     the document (a one-token name also hears the parts' and acronyms'
 *     votes, as in step 3); its score becomes the mean probability of the
 *     winning label's votes;
 *  3. adds the mentions the CRF left out: a capitalized token sequence
 *     outside any name that equals a voted name (a single token counts
 *     its votes as a name, as a part and as an acronym together) becomes
 *     a name with the winning label when the mean probability of that
 *     label's votes is at least
 *     NLPD__TAG_DC_MIN_VOTE (0.5: more likely than not), unless it is
 *     the first word of a sentence whose lower-case form the document also
 *     uses (then it is probably a common word) or it runs on into more
 *     capitalized words (then it is part of something longer);
 *  4. a capitalized sequence outside any name that is exactly one
 *     gazetteer nationality ("Russian", "North Korean") is MISC, as CoNLL
 *     annotates nationalities;
 *  5. a lower-case token sequence outside any name that is exactly one
 *     entry of the gazetteer's place_lower class (countries, regions and
 *     big cities whose lower-case form is no English word: "kerala",
 *     "san francisco") is LOC, with score NLPD__TAG_DC_RULE_SCORE: web
 *     text writes places so, and the CRF, whose training data seldom
 *     labels a lower-case word, leaves them out;
 *  6. a place name that is two places in a row, without the comma
 *     ("Miramar California", "san francisco california"), becomes two
 *     names with the pair's score, as the gold sets annotate them: when
 *     the whole is no place entry of the gazetteer and splits into a
 *     place entry and a country or region entry (place_pair_split);
 *  7. a person's name that holds two people, as lists of attendees and
 *     signatures run them together, becomes two: at a comma ("Usman
 *     Shaukat, Gerard Benitez"), or where the document names one of the
 *     two alone ("Debra Perlingiere Gerald Nemec") (people_split).
 *
 * Before the votes, a name after (or beginning with) a storm word
 * ("Hurricane Katrina", "Cyclone Phailin") becomes a MISC event with the
 * word in its span, and its name alone ("Katrina") stays MISC.
 *
 * Work is linear in the tokens (sequences are looked up up to
 * NLPD__TAG_DC_MAXLEN tokens long) and uses the tagger's reusable arrays.
 */
#include <stdlib.h>
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "tag_internal.h"

#define MAXLEN NLPD__TAG_DC_MAXLEN

/* Kinds of keys. */
enum { K_NAME = 0, K_PART = 1, K_ACRONYM = 2, K_STORM = 3 };

static uint64_t
seq_key(const nlpd__tag_tok *t, size_t i, size_t n, int kind)
{
    uint64_t h = 0x6a09e667f3bcc908ull + (uint64_t)n * 0x9e3779b97f4a7c15ull + (uint64_t)kind;
    for (size_t k = 0; k < n; k++)
        h = nlpd__mix64(h ^ t[i + k].word);
    return h | 1; /* 0 marks an empty slot */
}

/* The key under which a one-token acronym of the name [i, i + n) is
 * found: the first letters of its capitalized words ("World Health
 * Organization" gives WHO; "of", "the" and "&" are skipped). 0 when the
 * name has no acronym (fewer than two such words, or another word in
 * it). */
static uint64_t
acronym_key(const char *text, const nlpd_split_token *tok, const nlpd__tag_tok *t, size_t i,
            size_t n)
{
    char ini[NLPD__TAG_DC_MAXLEN];
    size_t k = 0;
    for (size_t j = i; j < i + n; j++) {
        const char *w = text + tok[j].start;
        if (t[j].shape == NLPD_SHAPE_CAPITALIZED) {
            ini[k++] = w[0];
        } else if (t[j].shape == NLPD_SHAPE_LOWER || t[j].shape == NLPD_SHAPE_SYMBOL) {
            continue; /* "of", "the", "&" */
        } else {
            return 0;
        }
    }
    if (k < 2 || (unsigned char)ini[0] >= 0x80)
        return 0;
    nlpd__tag_tok one = {.word = nlpd__fnv(NLPD__FNV_INIT, ini, k)};
    return seq_key(&one, 0, 1, K_ACRONYM);
}

/* Whether token i is exactly `w`. */
static int
token_is(const char *text, const nlpd_split_token *tok, size_t i, const char *w)
{
    size_t n = strlen(w);
    return tok[i].end - tok[i].start == n && memcmp(text + tok[i].start, w, n) == 0;
}

/* Whether token i is one of `words` (NULL-terminated). */
static int
token_is_one_of(const char *text, const nlpd_split_token *tok, size_t i,
                const char *const *words)
{
    for (; *words != NULL; words++)
        if (token_is(text, tok, i, *words))
            return 1;
    return 0;
}

/* Words that name a storm before its name ("Hurricane Katrina"): the
 * storm is an event (MISC), not a person, whatever its name. */
static int
is_storm_word(const char *text, const nlpd_split_token *tok, size_t i)
{
    static const char *const words[] = {"Hurricane", "Typhoon", "Cyclone", "Storm", "Superstorm",
                                        "HURRICANE", "TYPHOON", "CYCLONE", NULL};
    return token_is_one_of(text, tok, i, words);
}

/* The index of the sentence that holds token i (ns > 0). */
static size_t
sentence_of(const nlpd_split_sentence *sen, size_t ns, size_t i)
{
    size_t lo = 0, hi = ns;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (sen[mid].first_token <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The first token of the sentence that holds token i. */
static size_t
sentence_first(const nlpd_split_sentence *sen, size_t ns, size_t i)
{
    return ns ? sen[sentence_of(sen, ns, i)].first_token : 0;
}

#ifdef NLPD_TAG_HAVE_GAZETTEER
/* Where a place name of two places in a row ("Miramar California", "san
 * francisco california") splits: the number of tokens of the first place,
 * or 0 when the name is no such pair. The whole must be no place entry
 * itself ("Papua New Guinea", "Kansas City"); then the longest first part
 * that is exactly an entry of cls->pair_first whose rest is exactly an
 * entry of cls->pair_second wins. */
static size_t
place_pair_split(const nlpd__tag_dc_classes *cls, const char *text, const nlpd_split_token *tok,
                 const nlpd_split_sentence *sen, size_t ns, const nlpd_tag_entity *e)
{
    size_t n = e->n_tokens;
    if (n < 2 || n > NLPD_GAZ_MAX_TOKENS || ns == 0)
        return 0;
    const nlpd_split_sentence *s = &sen[sentence_of(sen, ns, e->first_token)];
    const nlpd_split_token *st = tok + s->first_token;
    size_t i = e->first_token - s->first_token;
    uint32_t at[NLPD_GAZ_MAX_TOKENS + 1], rest[NLPD_GAZ_MAX_TOKENS + 1];
    if (nlpd__gaz_match_at(cls->gaz, text, st, s->n_tokens, i, at) == 0)
        return 0;
    if (at[n] & (cls->pair_first | cls->pair_second))
        return 0;
    /* place_lower holds capitals too ("bissau"): only for a part in lower
     * case ("san francisco california"), not "Guinea Bissau". */
    uint32_t first = cls->pair_first, second = cls->pair_second;
    if (cls->place_lower >= 0 && st[i].shape != NLPD_SHAPE_LOWER)
        first &= ~(1u << cls->place_lower);
    for (size_t k = n - 1; k >= 1; k--) {
        if (!(at[k] & first))
            continue;
        uint32_t want = second;
        if (cls->place_lower >= 0 && st[i + k].shape != NLPD_SHAPE_LOWER)
            want &= ~(1u << cls->place_lower);
        if (nlpd__gaz_match_at(cls->gaz, text, st, s->n_tokens, i + k, rest) >= n - k &&
            (rest[n - k] & want))
            return k;
    }
    return 0;
}
#endif

static nlpd__tag_dc_slot *
slot_of(nlpd__tag_dc *dc, uint64_t key, int insert)
{
    size_t mask = dc->cap - 1;
    for (size_t j = (size_t)(key >> 7) & mask;; j = (j + 1) & mask) {
        nlpd__tag_dc_slot *s = &dc->slots[j];
        if (s->key == key)
            return s;
        if (s->key == 0) {
            if (!insert)
                return NULL;
            s->key = key;
            return s;
        }
    }
}

static int
dc_reserve(nlpd__tag_dc *dc, size_t n_names, size_t n_tokens)
{
    size_t want = 64;
    while (want < 8 * n_names + 8)
        want *= 2;
    if (want > dc->slots_cap) {
        nlpd__tag_dc_slot *s = nlpd_malloc(want * sizeof(*s));
        if (s == NULL)
            return NLPD_ENOMEM;
        nlpd_free(dc->slots);
        dc->slots = s;
        dc->slots_cap = want;
    }
    dc->cap = want;
    memset(dc->slots, 0, want * sizeof(*dc->slots));
    if (nlpd_grow((void **)&dc->cover, &dc->cover_cap, n_tokens, sizeof(*dc->cover)) != 0)
        return NLPD_ENOMEM;
    return 0;
}

void
nlpd__tag_dc_release(nlpd__tag_dc *dc)
{
    nlpd_free(dc->slots);
    nlpd_free(dc->cover);
    nlpd_free(dc->added);
    memset(dc, 0, sizeof(*dc));
}

static int
capitalized(const nlpd__tag_tok *t)
{
    return t->shape == NLPD_SHAPE_CAPITALIZED || t->shape == NLPD_SHAPE_UPPER ||
           t->shape == NLPD_SHAPE_MIXED;
}

/* The label with the most summed probability; *w gets the mean probability
 * of its votes. */
static int
best_label(const nlpd__tag_dc_slot *s, float *w)
{
    int best = 0;
    for (int l = 1; l <= 4; l++)
        if (s->vote[l] > (best ? s->vote[best] : 0.0f))
            best = l;
    if (w)
        *w = best ? s->vote[best] / (float)s->cnt[best] : 0.0f;
    return best;
}

/* "The", "A"...: the start of a sentence, not of a name. */
static int
is_determiner(const char *text, const nlpd_split_token *tok, size_t i)
{
    static const char *const words[] = {"The", "THE", "A", "An", "AN", "This", "That", "These",
                                        "Those", "Its", "Their", "Our", NULL};
    return token_is_one_of(text, tok, i, words);
}

/* The votes for the one-token name at i: as a name, as a part of a
 * person's name (PER), as an acronym. Returns 0 when there are none. */
static int
one_token_votes(nlpd__tag_dc *dc, const nlpd__tag_tok *t, size_t i, nlpd__tag_dc_slot *v)
{
    static const int kinds[] = {K_NAME, K_PART, K_ACRONYM};
    int any = 0;
    memset(v, 0, sizeof(*v));
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        const nlpd__tag_dc_slot *p = slot_of(dc, seq_key(t, i, 1, kinds[k]), 0);
        if (p == NULL)
            continue;
        any = 1;
        for (int l = 1; l <= 4; l++) {
            if (kinds[k] == K_PART && l != NLPD_ENT_PER)
                continue;
            v->vote[l] += p->vote[l];
            v->cnt[l] += p->cnt[l];
        }
    }
    return any;
}

static int
is_first_name(const nlpd__tag_dc_classes *cls, const nlpd__tag_tok *t)
{
    return cls->first_name >= 0 && (t->gaz & (1ull << (2 * cls->first_name))) &&
           t->shape == NLPD_SHAPE_CAPITALIZED;
}

/* Whether the PER votes for the name [i, i + n) win. */
static int
voted_person(nlpd__tag_dc *dc, const nlpd__tag_tok *t, size_t i, size_t n)
{
    const nlpd__tag_dc_slot *s = n <= MAXLEN ? slot_of(dc, seq_key(t, i, n, K_NAME), 0) : NULL;
    return s != NULL && best_label(s, NULL) == NLPD_ENT_PER;
}

/* Step 7: where a person's name of the CRF's holds two people (lists of
 * attendees, signatures: "Debra Perlingiere Gerald Nemec", "Usman
 * Shaukat, Gerard Benitez"): the number of tokens of the first, 0 when it
 * is one name; *gap gets the tokens between the two (the comma). Split
 * (a) at a comma with two or more tokens on each side, or (b) where both
 * parts have two or more tokens, one part is a person's name found
 * elsewhere in the document, and the other is one too or begins with a
 * first name. A name that only repeats ("George Herbert Walker Bush") is
 * never split by (b) unless the document names a part on its own. */
static size_t
people_split(nlpd__tag_dc *dc, const nlpd__tag_dc_classes *cls, const char *text,
             const nlpd_split_token *tok, const nlpd__tag_tok *t, const nlpd_tag_entity *e,
             size_t *gap)
{
    size_t f = e->first_token, n = e->n_tokens;
    *gap = 0;
    if (n < 4)
        return 0;
    size_t comma = 0, commas = 0;
    for (size_t j = 1; j + 1 < n; j++)
        if (token_is(text, tok, f + j, ",")) {
            comma = j;
            commas++;
        }
    if (commas == 1 && comma >= 2 && n - comma - 1 >= 2) {
        *gap = 1;
        return comma;
    }
    if (commas != 0)
        return 0;
    for (size_t k = n - 2; k >= 2; k--) {
        int first_known = voted_person(dc, t, f, k);
        int rest_known = voted_person(dc, t, f + k, n - k);
        if ((first_known && (rest_known || is_first_name(cls, &t[f + k]))) ||
            (rest_known && is_first_name(cls, &t[f])))
            return k;
    }
    return 0;
}

/* Whether token i is a double quote (straight or typographic). */
static int
is_quote(const char *text, const nlpd_split_token *tok, size_t i)
{
    static const char *const quotes[] = {"\"", "\xe2\x80\x9c", "\xe2\x80\x9d", NULL};
    return token_is_one_of(text, tok, i, quotes);
}

/* Step 0c: "\"Lenhart, Matthew\"": two one-token person's names around a
 * comma in quotes, the second a first name and the first not, are one
 * name, as e-mail headers write display names. Only in quotes: a list of
 * surnames ("Berra, Webster", a football line-up) has first names among
 * its surnames too. Returns the new number of names. */
static size_t
surname_first(const nlpd__tag_dc_classes *cls, const char *text, const nlpd_split_token *tok,
              size_t n_tokens, const nlpd__tag_tok *t, nlpd_tag_entity *nm, size_t nn)
{
    size_t out = 0;
    for (size_t k = 0; k < nn; k++) {
        nlpd_tag_entity e = nm[k];
        if (k + 1 < nn && e.label == NLPD_ENT_PER && nm[k + 1].label == NLPD_ENT_PER &&
            e.first_token >= 1 && e.first_token + 3 < n_tokens &&
            is_quote(text, tok, e.first_token - 1) && is_quote(text, tok, e.first_token + 3) &&
            e.n_tokens == 1 && nm[k + 1].n_tokens == 1 &&
            nm[k + 1].first_token == e.first_token + 2 &&
            token_is(text, tok, e.first_token + 1, ",") &&
            t[e.first_token].shape == NLPD_SHAPE_CAPITALIZED &&
            !is_first_name(cls, &t[e.first_token]) && is_first_name(cls, &t[e.first_token + 2])) {
            e.n_tokens = 3;
            e.score = (e.score + nm[k + 1].score) / 2;
            k++;
        }
        nm[out++] = e;
    }
    return out;
}

/* Step 0b: a LOC or ORG name after "of" and a run of capitalized words
 * holding an organization word (gazetteer class org_word: Authority,
 * University, Ministry...) becomes one ORG name from the run's start, the
 * run being outside any name or made of ORG names only (which it absorbs),
 * with score NLPD__TAG_DC_RULE_SCORE. Returns the new number of names. */
static size_t
org_of(const nlpd__tag_dc_classes *cls, const char *text, const nlpd_split_token *tok,
       const nlpd__tag_tok *t, const nlpd_split_sentence *sen, size_t ns, nlpd_tag_entity *nm,
       size_t nn)
{
    uint64_t ow = 3ull << (2 * cls->org_word); /* begins or continues a match */
    size_t out = 0;
    for (size_t k = 0; k < nn; k++) {
        nlpd_tag_entity e = nm[k];
        size_t f = e.first_token;
        if ((e.label == NLPD_ENT_LOC || e.label == NLPD_ENT_ORG) && f >= 2 &&
            token_is(text, tok, f - 1, "of")) {
            /* The run [r, f - 1) stays in the sentence: none when "of"
             * begins it. */
            size_t a = sentence_first(sen, ns, f);
            size_t r = f - 1;
            int org = 0;
            while (r > a && f - 1 - r < 4 && capitalized(&t[r - 1]) &&
                   !is_determiner(text, tok, r - 1)) {
                r--;
                org |= (t[r].gaz & ow) != 0;
            }
            /* The names kept so far that overlap the run [r, f - 1). */
            size_t drop = out;
            while (drop > 0 && nm[drop - 1].first_token + nm[drop - 1].n_tokens > r)
                drop--;
            int ok = org && r < f - 1;
            for (size_t j = drop; j < out && ok; j++)
                ok = nm[j].label == NLPD_ENT_ORG && nm[j].first_token >= r;
            if (ok) {
                out = drop;
                e.n_tokens += (uint32_t)(f - r);
                e.first_token = (uint32_t)r;
                e.label = NLPD_ENT_ORG;
                /* No marginal of the model's covers the new span. */
                e.score = NLPD__TAG_DC_RULE_SCORE;
            }
        }
        nm[out++] = e;
    }
    return out;
}

void
nlpd__tag_dc_classes_init(nlpd__tag_dc_classes *cls, const void *gaz)
{
    memset(cls, 0, sizeof(*cls));
    cls->nationality = cls->place_lower = cls->org_word = cls->first_name = -1;
#ifdef NLPD_TAG_HAVE_GAZETTEER
    const nlpd_gaz *g = gaz;
    if (g == NULL)
        return;
    cls->nationality = nlpd__gaz_class_find(g, "nationality");
    cls->place_lower = nlpd__gaz_class_find(g, "place_lower");
    cls->org_word = nlpd__gaz_class_find(g, "org_word");
    cls->first_name = nlpd__gaz_class_find(g, "first_name");
    cls->gaz = g;
    /* A pair's first place may be any place; its second is a country or
     * region ("Miramar California"), or a place in lower case (whose class
     * holds the big cities too: place_pair_split). */
    static const char *const places[] = {"country", "region", "place_lower", "city",
                                         "city_big"};
    for (size_t k = 0; k < sizeof(places) / sizeof(places[0]); k++) {
        int c = nlpd__gaz_class_find(g, places[k]);
        if (c < 0)
            continue;
        cls->pair_first |= 1u << c;
        if (k < 3)
            cls->pair_second |= 1u << c;
    }
#else
    (void)gaz;
#endif
}

static int
cmp_first(const void *a, const void *b)
{
    const nlpd_tag_entity *x = a, *y = b;
    return (x->first_token > y->first_token) - (x->first_token < y->first_token);
}

int
nlpd__tag_docpass(nlpd__tag_dc *dc, const nlpd__tag_fx *fx, const char *text,
                  const nlpd_split_token *tok, const nlpd_split_sentence *sen,
                  size_t n_sentences, size_t n_tokens, const nlpd__tag_dc_classes *cls,
                  unsigned what,
                  nlpd_tag_entity **names, size_t *n_names, size_t *names_cap)
{
    const nlpd__tag_tok *t = fx->tok;
    nlpd_tag_entity *nm = *names;
    size_t nn = *n_names;
    int rc = dc_reserve(dc, nn, n_tokens);
    if (rc != 0)
        return rc;
    /* 0. Storms: "Hurricane Katrina", "Cyclone Phailin" are events; the
     * storm word joins the span, and the name alone stays the storm. */
    if (what & NLPD__TAG_DC_STORMS) {
        for (size_t k = 0; k < nn; k++) {
            nlpd_tag_entity *e = &nm[k];
            size_t f = e->first_token;
            size_t prev_end = k > 0 ? nm[k - 1].first_token + nm[k - 1].n_tokens : 0;
            size_t s0 = sentence_first(sen, n_sentences, f);
            int inside = e->n_tokens >= 2 && is_storm_word(text, tok, f);
            int before = !inside && f > s0 && f - 1 >= prev_end && is_storm_word(text, tok, f - 1);
            if (!inside && !before)
                continue;
            if (before) {
                e->first_token--;
                e->n_tokens++;
                f--;
                if (f > s0 && f - 1 >= prev_end && token_is(text, tok, f, "Storm") &&
                    token_is(text, tok, f - 1, "Tropical")) {
                    e->first_token--;
                    e->n_tokens++;
                }
            }
            e->label = NLPD_ENT_MISC;
            size_t last = e->first_token + e->n_tokens - 1;
            nlpd__tag_dc_slot *st = slot_of(dc, seq_key(t, last, 1, K_STORM), 1);
            st->vote[NLPD_ENT_MISC] += e->score;
            st->cnt[NLPD_ENT_MISC]++;
        }
    }
    /* 0b. Organizations named after a place or a thing: "Housing Authority
     * of New Orleans", where the CRF saw only "New Orleans". */
    if ((what & NLPD__TAG_DC_ORG_OF) && cls->org_word >= 0) {
        nn = org_of(cls, text, tok, t, sen, n_sentences, nm, nn);
        *n_names = nn;
    }
    /* 0c. "Lenhart, Matthew". */
    if (what & NLPD__TAG_DC_PEOPLE) {
        nn = surname_first(cls, text, tok, n_tokens, t, nm, nn);
        *n_names = nn;
    }
    /* 1. Votes. */
    for (size_t k = 0; k < nn; k++) {
        const nlpd_tag_entity *e = &nm[k];
        if (e->label < NLPD_ENT_PER || e->label > NLPD_ENT_MISC || e->n_tokens > MAXLEN)
            continue;
        nlpd__tag_dc_slot *s = slot_of(dc, seq_key(t, e->first_token, e->n_tokens, K_NAME), 1);
        s->vote[e->label] += e->score;
        s->cnt[e->label]++;
        if (e->label != NLPD_ENT_PER && e->n_tokens >= 2 && (what & NLPD__TAG_DC_ACRONYMS)) {
            uint64_t key = acronym_key(text, tok, t, e->first_token, e->n_tokens);
            if (key != 0) {
                /* "Housing Authority of New Orleans (HANO)" defines the
                 * acronym: a certain vote. */
                size_t j = e->first_token + e->n_tokens;
                int defined = j + 2 < n_tokens && token_is(text, tok, j, "(") &&
                              token_is(text, tok, j + 2, ")") &&
                              seq_key(t, j + 1, 1, K_ACRONYM) == key;
                nlpd__tag_dc_slot *a = slot_of(dc, key, 1);
                a->vote[e->label] += defined ? 1.0f : e->score;
                a->cnt[e->label]++;
            }
        }
        if (e->label == NLPD_ENT_PER && e->n_tokens >= 2 && (what & NLPD__TAG_DC_PARTS)) {
            size_t ends[2] = {e->first_token, e->first_token + e->n_tokens - 1};
            for (int j = 0; j < 2; j++) {
                if (t[ends[j]].shape != NLPD_SHAPE_CAPITALIZED || t[ends[j]].ncp < 2)
                    continue;
                nlpd__tag_dc_slot *p = slot_of(dc, seq_key(t, ends[j], 1, K_PART), 1);
                p->vote[NLPD_ENT_PER] += e->score;
                p->cnt[NLPD_ENT_PER]++;
            }
        }
    }
    /* 2. Relabel. */
    if (what & NLPD__TAG_DC_RELABEL) {
        for (size_t k = 0; k < nn; k++) {
            nlpd_tag_entity *e = &nm[k];
            if (e->label < NLPD_ENT_PER || e->label > NLPD_ENT_MISC || e->n_tokens > MAXLEN)
                continue;
            nlpd__tag_dc_slot v;
            if (e->n_tokens == 1)
                one_token_votes(dc, t, e->first_token, &v);
            else
                v = *slot_of(dc, seq_key(t, e->first_token, e->n_tokens, K_NAME), 0);
            if (e->n_tokens == 1 && e->label != NLPD_ENT_MISC &&
                slot_of(dc, seq_key(t, e->first_token, 1, K_STORM), 0) != NULL) {
                e->label = NLPD_ENT_MISC; /* "Katrina" after "Hurricane Katrina" */
                continue;
            }
            float w;
            int best = best_label(&v, &w);
            if (best != 0 && best != e->label && v.vote[best] > v.vote[e->label]) {
                e->label = (uint8_t)best;
                e->score = w > 1.0f ? 1.0f : (w > 0.0f ? w : 1e-6f);
            }
        }
    }
    /* 3, 4, 5 and 6: names added (the second place of a pair is one). */
    if (!(what & (NLPD__TAG_DC_ADD | NLPD__TAG_DC_NATIONALITY | NLPD__TAG_DC_LOWER_PLACES |
                  NLPD__TAG_DC_PLACE_PAIRS | NLPD__TAG_DC_PEOPLE)))
        return 0;
    memset(dc->cover, 0, n_tokens * sizeof(*dc->cover));
    for (size_t k = 0; k < nn; k++)
        for (uint32_t j = 0; j < nm[k].n_tokens; j++)
            dc->cover[nm[k].first_token + j] = 1;
    dc->n_added = 0;
    /* 6 and 7. Names that are two: places in a row, people in a row. */
    for (size_t k = 0; k < nn; k++) {
        nlpd_tag_entity *e = &nm[k];
        size_t split = 0, gap = 0;
#ifdef NLPD_TAG_HAVE_GAZETTEER
        if (e->label == NLPD_ENT_LOC && (what & NLPD__TAG_DC_PLACE_PAIRS) && cls->gaz != NULL)
            split = place_pair_split(cls, text, tok, sen, n_sentences, e);
#endif
        if (e->label == NLPD_ENT_PER && (what & NLPD__TAG_DC_PEOPLE))
            split = people_split(dc, cls, text, tok, t, e, &gap);
        if (split == 0)
            continue;
        if (nlpd_grow((void **)&dc->added, &dc->added_cap, dc->n_added + 1,
                      sizeof(*dc->added)) != 0)
            return NLPD_ENOMEM;
        nlpd_tag_entity second = *e;
        second.first_token = e->first_token + (uint32_t)(split + gap);
        second.n_tokens = e->n_tokens - (uint32_t)(split + gap);
        e->n_tokens = (uint32_t)split;
        for (size_t j = 0; j < gap; j++)
            dc->cover[e->first_token + split + j] = 0;
        dc->added[dc->n_added++] = second;
    }
    uint64_t nat_b = 0, nat_i = 0;
    if (cls->nationality >= 0) {
        nat_b = 1ull << (2 * cls->nationality);
        nat_i = nat_b << 1;
    }
    if (cls->place_lower >= 0 && (what & NLPD__TAG_DC_LOWER_PLACES)) {
        uint64_t pl_b = 1ull << (2 * cls->place_lower), pl_i = pl_b << 1;
        for (size_t si = 0; si < n_sentences; si++) {
            size_t a = sen[si].first_token, b = a + sen[si].n_tokens;
            for (size_t i = a; i < b; i++) {
                if (dc->cover[i] || !(t[i].gaz & pl_b) || t[i].shape != NLPD_SHAPE_LOWER)
                    continue;
                size_t j = i + 1;
                while (j < b && (t[j].gaz & pl_i) && !dc->cover[j] &&
                       t[j].shape == NLPD_SHAPE_LOWER)
                    j++;
                /* The match must end here: the matcher marks the longest
                 * entry from each start, and a token that goes on with
                 * the class belongs to a longer (or another) match. */
                if (j < b && (t[j].gaz & pl_i))
                    continue;
                nlpd_tag_entity e = {
                    .first_token = (uint32_t)i,
                    .n_tokens = (uint32_t)(j - i),
                    .label = NLPD_ENT_LOC,
                    .score = NLPD__TAG_DC_RULE_SCORE,
                };
                if (nlpd_grow((void **)&dc->added, &dc->added_cap, dc->n_added + 1,
                              sizeof(*dc->added)) != 0)
                    return NLPD_ENOMEM;
                dc->added[dc->n_added++] = e;
                for (size_t k = i; k < j; k++)
                    dc->cover[k] = 1;
                i = j - 1;
            }
        }
    }
    for (size_t si = 0; si < n_sentences; si++) {
        size_t a = sen[si].first_token, b = a + sen[si].n_tokens;
        if (t[a].sent != NLPD__TAG_SENT_NORMAL)
            continue; /* headlines and all caps: capitals say little */
        for (size_t i = a; i < b; i++) {
            if (dc->cover[i] || !capitalized(&t[i]))
                continue;
            if (i == a && (t[i].doc & NLPD__TAG_DOC_SEEN_LOWER))
                continue;
            int label = 0;
            size_t len = 0;
            float w = 0;
            if (what & NLPD__TAG_DC_ADD) {
                size_t maxl = b - i < MAXLEN ? b - i : MAXLEN;
                for (size_t l = maxl; l >= 1 && label == 0; l--) {
                    int uncovered = 1;
                    for (size_t j = i; j < i + l && uncovered; j++)
                        uncovered = !dc->cover[j];
                    if (!uncovered || !capitalized(&t[i + l - 1]))
                        continue;
                    if (i + l < b && capitalized(&t[i + l]))
                        continue; /* runs on: part of a longer name */
                    const nlpd__tag_dc_slot *s;
                    if (l == 1 && (s = slot_of(dc, seq_key(t, i, 1, K_STORM), 0)) != NULL) {
                        label = NLPD_ENT_MISC; /* a storm's name alone */
                        w = s->vote[NLPD_ENT_MISC] / (float)s->cnt[NLPD_ENT_MISC];
                        len = 1;
                        break;
                    }
                    nlpd__tag_dc_slot v;
                    if (l == 1 && one_token_votes(dc, t, i, &v)) {
                        if ((label = best_label(&v, &w)) != 0)
                            len = 1;
                        break;
                    }
                    s = slot_of(dc, seq_key(t, i, l, K_NAME), 0);
                    if (s != NULL && (label = best_label(s, &w)) != 0) {
                        len = l;
                        break;
                    }
                }
            }
            if (label == 0 && (what & NLPD__TAG_DC_NATIONALITY) && (t[i].gaz & nat_b)) {
                size_t j = i + 1;
                while (j < b && (t[j].gaz & nat_i) && !dc->cover[j])
                    j++;
                if (j == b || !(t[j].gaz & nat_i)) {
                    label = NLPD_ENT_MISC;
                    len = j - i;
                    w = NLPD__TAG_DC_RULE_SCORE;
                }
            }
            if (label != NLPD_ENT_MISC && w < NLPD__TAG_DC_MIN_VOTE)
                label = 0; /* the document's own evidence is too weak */
            if (label == 0)
                continue;
            nlpd_tag_entity e = {
                .first_token = (uint32_t)i,
                .n_tokens = (uint32_t)len,
                .label = (uint8_t)label,
                .score = w > 1.0f ? 1.0f : w,
            };
            if (nlpd_grow((void **)&dc->added, &dc->added_cap, dc->n_added + 1,
                          sizeof(*dc->added)) != 0)
                return NLPD_ENOMEM;
            dc->added[dc->n_added++] = e;
            for (size_t j = i; j < i + len; j++)
                dc->cover[j] = 1;
            i += len - 1;
        }
    }
    if (dc->n_added == 0)
        return 0;
    if (nlpd_grow((void **)names, names_cap, nn + dc->n_added, sizeof(**names)) != 0)
        return NLPD_ENOMEM;
    memcpy(*names + nn, dc->added, dc->n_added * sizeof(*dc->added));
    *n_names = nn + dc->n_added;
    qsort(*names, *n_names, sizeof(**names), cmp_first);
    return 0;
}
