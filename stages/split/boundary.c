/* stages/split/boundary.c — sentence boundaries over the tokens of a region.
 *
 * Candidates are the tokens that can end a sentence: terminal punctuation
 * (". ! ? …" and their runs), a word holding an abbreviation's period, the
 * last token of a line, and the token before the next item of a list. Each
 * is decided from what a reader sees around it: the closing quotes and
 * brackets that follow it (they join the sentence), the word after it
 * (lower case continues the sentence; a word that usually starts sentences
 * after an abbreviation ends it; a name after a title does not), the kind
 * of abbreviation (model.c), the length of the sentence so far, spaced
 * ellipses, and list numbering. A sentence that reaches the length limit is
 * cut at its last comma, semicolon, colon or dash in its final quarter, and
 * flagged. Each token is looked at a bounded number of times.
 *
 * Most tokens are none of these: runs of them go by in skip_plain, whole
 * runs at once where the tokenizer marked them (nlpd__toks.plain), one
 * cheap test each elsewhere; only the rest reach decide().
 */
#include <string.h>

#include "nlpd/error.h"
#include "nlpd/alloc.h"
#include "split_internal.h"

/* A sentence ending in an abbreviation holds at least this many words. */
#define ABBREV_SENTENCE_MIN_WORDS 4
/* A word starts sentences at least this share of its capitalized uses
 * (per mille) to end a sentence after an abbreviation. */
#define STARTER_MIN 500
/* A line at most this long ends a sentence at its line break. */
#define SHORT_LINE 50

typedef struct ctx {
    const nlpd_split_model *m;
    const nlpd_split_opts *o;
    const char *s;
    const nlpd_split_token *tok;
    size_t t0, t1;
    /* The list marker last seen at a sentence start in this region. */
    int marker_kind; /* 0 none, 'n' number, 'a' letter, 'b' bullet */
    int32_t marker_value;
} ctx;

/* --- Token tests ------------------------------------------------------------------ */

static inline size_t
tlen(const ctx *c, size_t i)
{
    return c->tok[i].end - c->tok[i].start;
}

static inline const char *
ttext(const ctx *c, size_t i)
{
    return c->s + c->tok[i].start;
}

static inline char_class
first_class(const ctx *c, size_t i, int32_t *cp)
{
    size_t n;
    int32_t dummy;
    return nlpd__char_fast(c->s, c->tok[i].start, c->tok[i].end, cp != NULL ? cp : &dummy, &n);
}

static inline int
is_word(const ctx *c, size_t i)
{
    char_class k = first_class(c, i, NULL);
    return k == CC_UPPER || k == CC_LOWER || k == CC_LETTER || k == CC_DIGIT;
}

static inline int
attached(const ctx *c, size_t i)
{
    /* token i follows token i-1 with no space between */
    return i > c->t0 && c->tok[i - 1].end == c->tok[i].start;
}

static inline int
tok_is(const ctx *c, size_t i, const char *lit)
{
    size_t n = strlen(lit);
    return tlen(c, i) == n && memcmp(ttext(c, i), lit, n) == 0;
}

static int
is_closer(const ctx *c, size_t i)
{
    int32_t cp;
    char_class k = first_class(c, i, &cp);
    if (tlen(c, i) > 4)
        return 0;
    if (k == CC_CLOSE)
        return 1;
    return cp == '"' || cp == '\'';
}

static int
is_opener(const ctx *c, size_t i)
{
    int32_t cp;
    char_class k = first_class(c, i, &cp);
    return tlen(c, i) <= 4 && (k == CC_OPEN || cp == '"' || cp == '\'');
}

/* One byte of ASCII punctuation that never ends a sentence (",", ";",
 * "(", "\"", ...). */
static inline int
plain_punct(const char *text, const nlpd_split_token *t)
{
    unsigned char b = (unsigned char)text[t->start];
    return t->end - t->start == 1 && b < 0x80 && b != '.' && b != '!' && b != '?' && b != '-';
}

/* Terminal punctuation kinds. */
enum { T_NONE, T_PERIOD, T_EXCLAIM, T_ELLIPSIS };

static int
terminal_kind(const ctx *c, size_t i)
{
    const nlpd_split_token *t = &c->tok[i];
    if (t->shape != NLPD_SHAPE_PUNCT)
        return T_NONE;
    const unsigned char *p = (const unsigned char *)ttext(c, i);
    size_t n = tlen(c, i);
    if (n == 1) {
        /* one byte: ASCII (a lone byte from 0x80 is invalid UTF-8) */
        return p[0] == '.' ? T_PERIOD : (p[0] == '!' || p[0] == '?') ? T_EXCLAIM : T_NONE;
    }
    size_t dots = 0, other = 0;
    int ellipsis = 0;
    for (size_t k = 0; k < n;) {
        int32_t cp;
        size_t len;
        nlpd__char_at((const char *)p, k, n, &cp, &len);
        k += len;
        switch (cp) {
        case '.':
        case 0xFF0E: /* fullwidth full stop */
        case 0x3002: /* ideographic full stop */
            dots++;
            break;
        case 0x2026: /* … */
            ellipsis = 1;
            break;
        case '!':
        case '?':
        case 0x203C: /* ‼ */
        case 0x2047: /* ⁇ */
        case 0x2048: /* ⁈ */
        case 0x2049: /* ⁉ */
        case 0xFF01: /* fullwidth ! */
        case 0xFF1F: /* fullwidth ? */
            other++;
            break;
        default:
            return T_NONE;
        }
    }
    if (other > 0)
        return T_EXCLAIM;
    if (ellipsis || dots >= 2)
        return T_ELLIPSIS;
    return dots == 1 ? T_PERIOD : T_NONE;
}

static int
is_bullet(const ctx *c, size_t i)
{
    int32_t cp;
    first_class(c, i, &cp);
    if (tlen(c, i) > 4)
        return 0;
    switch (cp) {
    case 0x2022: /* • */
    case 0x25E6: /* ◦ */
    case 0x2023: /* ‣ */
    case 0x2043: /* ⁃ */
    case 0x25AA: /* ▪ */
    case 0x25CF: /* ● */
    case 0x25A0: /* ■ */
    case 0x27A2: /* ➢ */
    case 0x25BA: /* ► */
    case 0x00B7: /* · */
        return 1;
    default:
        return 0;
    }
}

/* Can token j start a list marker? Most tokens are not: the first byte
 * and the length tell. */
static inline int
maybe_marker(const ctx *c, size_t j)
{
    unsigned char b0 = (unsigned char)ttext(c, j)[0];
    size_t n0 = tlen(c, j);
    return (b0 >= '0' && b0 <= '9' && n0 <= 3) || b0 == '(' || (b0 >= 0x80 && n0 <= 3) ||
           (n0 <= 2 && ((b0 | 0x20) >= 'a' && (b0 | 0x20) <= 'z'));
}

/* A list marker at token j: "3." "3)" "3.)" "(3)" "c." "c)" or a bullet,
 * maybe a bullet then a number ("• 9."). Returns the index after it (or j
 * when there is none) and its kind and value. */
static size_t
list_marker_at(const ctx *c, size_t j, int *kind, int32_t *value)
{
    if (is_bullet(c, j)) {
        int32_t cp;
        first_class(c, j, &cp);
        *kind = 'b';
        *value = cp;
        return j + 1;
    }
    size_t k = j;
    if (tok_is(c, k, "(") && k + 1 < c->t1)
        k++;
    const char *p = ttext(c, k);
    size_t n = tlen(c, k);
    int32_t v = -1;
    int kd = 0;
    if (n >= 1 && n <= 3 && c->tok[k].shape == NLPD_SHAPE_NUMBER) {
        v = 0;
        for (size_t q = 0; q < n; q++) {
            if (p[q] < '0' || p[q] > '9')
                return j;
            v = v * 10 + (p[q] - '0');
        }
        kd = 'n';
    } else if ((n == 1 || (n == 2 && p[1] == '.')) &&
               ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z'))) {
        v = p[0] | 0x20;
        kd = 'a';
    } else {
        return j;
    }
    size_t e = k + 1;
    int closed = n == 2; /* "c." carries its period */
    while (e < c->t1 && attached(c, e) && (tok_is(c, e, ".") || tok_is(c, e, ")")) &&
           e - k <= 2) {
        closed = 1;
        e++;
    }
    if (!closed || e >= c->t1 || !(c->tok[e - 1].flags & NLPD_TOKEN_SPACE_AFTER))
        return j;
    *kind = kd;
    *value = v;
    return e;
}

static inline size_t
list_marker(const ctx *c, size_t j, int *kind, int32_t *value)
{
    if (j >= c->t1 || !maybe_marker(c, j))
        return j;
    /* Two ASCII letters that are no "c.": no marker (the most common
     * token that maybe_marker lets through: "It", "He", "In"). */
    const char *p0 = ttext(c, j);
    size_t n0 = tlen(c, j);
    if (n0 == 2 && ((p0[0] | 0x20) >= 'a' && (p0[0] | 0x20) <= 'z') && p0[1] != '.')
        return j;
    /* An ASCII token of one or three bytes (no bullet, no "(") is a
     * marker only with a "." or ")" glued after it ("1." "a)" "10.)"). */
    if ((unsigned char)p0[0] < 0x80 && p0[0] != '(' && n0 != 2 &&
        (j + 1 >= c->t1 || !attached(c, j + 1) || tlen(c, j + 1) != 1 ||
         (ttext(c, j + 1)[0] != '.' && ttext(c, j + 1)[0] != ')')))
        return j;
    return list_marker_at(c, j, kind, value);
}

/* Does the sentence that starts at s hold nothing but a list marker up to
 * and including token i? */
static int
only_marker_at(const ctx *c, size_t s, size_t i)
{
    int kind;
    int32_t value;
    size_t e = list_marker(c, s, &kind, &value);
    if (e > s && kind == 'b') {
        size_t e2 = list_marker(c, e, &kind, &value);
        if (e2 > e)
            e = e2;
    }
    if (e == s) {
        /* a lone number or letter with its period, as in "1." or "a." */
        size_t n = tlen(c, s);
        if (i == s + 1 && tok_is(c, i, ".") && n <= 3 && c->tok[s].shape == NLPD_SHAPE_NUMBER)
            return 1;
        if (i == s && (c->tok[s].flags & NLPD_TOKEN_ABBREV) && n == 2)
            return 1;
        return 0;
    }
    return i < e;
}

/* only_marker_at with its common answer inline: a sentence of three
 * tokens or more that does not start with what may be a marker is more. */
static inline int
only_marker(const ctx *c, size_t s, size_t i)
{
    if (i > s + 1 && !maybe_marker(c, s))
        return 0;
    return only_marker_at(c, s, i);
}

static int32_t
starter(const ctx *c, size_t i)
{
    return nlpd__model_starter(c->m, ttext(c, i), tlen(c, i));
}

static size_t
words_between(const ctx *c, size_t s, size_t i)
{
    size_t n = 0;
    for (size_t k = s; k <= i; k++)
        n += is_word(c, k);
    return n;
}

/* Is token i one of `n` lower-case ASCII words (compared without case)? */
static int
word_in(const ctx *c, size_t i, const char *const *words, size_t n)
{
    size_t len = tlen(c, i);
    const char *p = ttext(c, i);
    for (size_t k = 0; k < n; k++) {
        if (strlen(words[k]) != len)
            continue;
        size_t q = 0;
        while (q < len && (p[q] | 0x20) == words[k][q])
            q++;
        if (q == len)
            return 1;
    }
    return 0;
}

/* Weekdays, months and time zones: what often follows "p.m." in a sentence. */
static int
time_continuation(const ctx *c, size_t i)
{
    static const char *const words[] = {
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "mon",    "tue",     "tues",      "wed",      "thu",    "thur",     "thurs",
        "fri",    "sat",     "sun",       "january",  "february", "march",  "april",
        "may",    "june",    "july",      "august",   "september", "october", "november",
        "december", "jan",   "feb",       "mar",      "apr",    "jun",      "jul",
        "aug",    "sep",     "sept",      "oct",      "nov",    "dec",      "today",
        "tomorrow", "tonight", "yesterday", "local", "eastern", "pacific", "central",
        "mountain", "greenwich", "utc", "gmt", "bst", "cet", "cest", "est", "edt",
        "cst", "cdt", "mst", "mdt", "pst", "pdt", "et", "pt", "ct", "mt", "jst", "ist",
        "aest"};
    return word_in(c, i, words, sizeof(words) / sizeof(words[0]));
}

/* --- Decisions -------------------------------------------------------------------- */

/* The first token after i and its attached closers; *last gets the index
 * of the last closer (or i). */
static size_t
after_closers(const ctx *c, size_t i, size_t *last)
{
    size_t j = i + 1;
    for (;;) {
        while (j < c->t1 && attached(c, j) && is_closer(c, j))
            j++;
        /* A reference mark after the sentence belongs to it: "[17]", "[a]". */
        if (j + 2 < c->t1 && tok_is(c, j, "[") && tok_is(c, j + 2, "]") &&
            (c->tok[j + 1].shape == NLPD_SHAPE_NUMBER ||
             (c->tok[j + 1].shape == NLPD_SHAPE_LOWER && tlen(c, j + 1) <= 2))) {
            j += 3;
            continue;
        }
        break;
    }
    *last = j - 1;
    return j;
}

/* The word that would start the next sentence: j, or the one after an
 * opening quote or bracket. */
static size_t
next_word(const ctx *c, size_t j)
{
    if (j < c->t1) {
        /* mostly a word: an ASCII byte that opens nothing */
        unsigned char b = (unsigned char)c->s[c->tok[j].start];
        if (b < 0x80 && b != '"' && b != '\'' && nlpd__ascii_class[b] != CC_OPEN)
            return j;
    }
    while (j < c->t1 && is_opener(c, j) && j + 1 < c->t1)
        j++;
    return j;
}

/* What the next sentence's first word says: 'l' lower case (continues),
 * 'u' upper case, 'd' digit, 'p' punctuation or other. */
static int
next_kind(const ctx *c, size_t j)
{
    if (j >= c->t1)
        return 'e';
    if (c->tok[j].flags & NLPD_TOKEN_CLITIC)
        return 'l';
    unsigned shape = c->tok[j].shape;
    if (shape == NLPD_SHAPE_URL || shape == NLPD_SHAPE_EMAIL || shape == NLPD_SHAPE_HANDLE ||
        shape == NLPD_SHAPE_HASHTAG)
        return 'u';
    int32_t cp;
    char_class k = first_class(c, j, &cp);
    switch (k) {
    case CC_LOWER:
        return 'l';
    case CC_UPPER:
        return 'u';
    case CC_LETTER:
        return 'u'; /* caseless scripts: punctuation decides */
    case CC_DIGIT:
        return 'd';
    default:
        if (cp == ',' || cp == ';' || cp == ':' || cp == '%')
            return 'l';
        return 'p';
    }
}

/* A plain period (token i) before a lower-case word w: informal text
 * starts sentences in lower case ("... tonight. i think"), while a period
 * after a short word may be an abbreviation the model does not know
 * ("approx. two", "the cttee. on Friday"). The sentence ends when the word
 * before the period is a plain word of three letters or more and the next
 * word does not look like the sentence going on. */
static int
lower_start(const ctx *c, size_t s, size_t i, size_t w)
{
    if (i == s || w >= c->t1 || !attached(c, i) || w != i + 1)
        return 0;
    const nlpd_split_token *p = &c->tok[i - 1];
    if (p->shape != NLPD_SHAPE_LOWER && p->shape != NLPD_SHAPE_CAPITALIZED &&
        p->shape != NLPD_SHAPE_UPPER)
        return 0;
    if (tlen(c, i - 1) < 3 || (p->flags & NLPD_TOKEN_CLITIC))
        return 0;
    const nlpd_split_token *n = &c->tok[w];
    if (n->shape != NLPD_SHAPE_LOWER || (n->flags & NLPD_TOKEN_CLITIC))
        return 0;
    /* A word the model learned to start sentences in lower case ("i",
     * "the", "we") ends the sentence; so does any other word but those that
     * go on after an abbreviation the model does not know ("the cttee. on
     * Friday", "Smith et al. in 2004"). */
    int32_t v;
    if (nlpd__wordtab_get(&c->m->lower_starters, ttext(c, w), tlen(c, w), &v))
        return v >= STARTER_MIN;
    static const char *const goes_on[] = {"of",   "on",   "in",  "at",   "by",  "for", "to",
                                          "from", "with", "into", "onto", "per", "via", "than",
                                          "and",  "or",   "nor", "vs",   "de",  "del", "der",
                                          "van",  "von",  "la",  "le",   "du",  "da",  "di"};
    return !word_in(c, w, goes_on, sizeof(goes_on) / sizeof(goes_on[0]));
}

/* After an abbreviation's period (token i): does a sentence end? */
static int
abbrev_ends(const ctx *c, size_t s, size_t i, size_t w, int nk)
{
    if (nk != 'u')
        return 0;
    if (only_marker(c, s, i))
        return 0;
    const char *p = ttext(c, i);
    size_t n = tlen(c, i) - 1; /* without the period */
    size_t letters = 0;
    for (size_t k = 0; k < n; k++)
        letters += (p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'z';
    int dotted = memchr(p, '.', n) != NULL;
    if (n <= 4 && letters <= 1 && !dotted) {
        /* An initial: a name goes on ("Jonas E. Smith"), unless the word
         * before is not part of a name and the next usually starts a
         * sentence ("you and I. Did"). */
        if (i > s && first_class(c, i - 1, NULL) == CC_UPPER)
            return 0;
        /* After a number it is a unit ("40 C. Residents"). */
        if (i > s && c->tok[i - 1].shape == NLPD_SHAPE_NUMBER)
            return 1;
        return starter(c, w) >= STARTER_MIN;
    }
    abbrev_class k = nlpd__model_abbrev(c->m, p, n);
    if (k == ABBR_TITLE)
        return 0;
    if (words_between(c, s, i) < ABBREV_SENTENCE_MIN_WORDS)
        return 0;
    if (k == ABBR_TIME)
        return !time_continuation(c, w);
    return starter(c, w) >= STARTER_MIN;
}

static int
is_ampm(const ctx *c, size_t i)
{
    const char *p = ttext(c, i);
    return tlen(c, i) == 2 && ((p[0] | 0x20) == 'a' || (p[0] | 0x20) == 'p') && (p[1] | 0x20) == 'm';
}

/* Boundaries without final punctuation that need no model, each before a
 * capitalized word: after a free-standing dash that cuts speech off when
 * the word usually starts sentences ("I know she's — See now"), and after
 * a clock time when the word is not a day, month or time zone ("08:02 PM
 * All"). The gap classifier decides the rest. */
static int
soft_boundary(const ctx *c, size_t s, size_t i)
{
    size_t w = i + 1;
    if (w >= c->t1 || !(c->tok[i].flags & NLPD_TOKEN_SPACE_AFTER) || i == s)
        return 0;
    int dash = first_class(c, i, NULL) == CC_DASH && tlen(c, i) <= 3 && !attached(c, i);
    int clock = !dash && is_ampm(c, i) && c->tok[i - 1].shape == NLPD_SHAPE_ALNUM &&
                memchr(ttext(c, i - 1), ':', tlen(c, i - 1)) != NULL;
    if (!(dash || clock) || next_kind(c, w) != 'u' || first_class(c, w, NULL) != CC_UPPER)
        return 0;
    if (dash)
        return starter(c, w) >= STARTER_MIN && words_between(c, s, i) >= 3;
    return !time_continuation(c, w);
}

int
nlpd__gap_candidate(const char *text, const nlpd_split_token *tok, size_t t0, size_t t1, size_t s,
                    size_t i, nlpd__gap *g)
{
    if (i + 1 >= t1 || !(tok[i].flags & NLPD_TOKEN_SPACE_AFTER))
        return 0;
    unsigned ns = tok[i + 1].shape;
    if (!(ns == NLPD_SHAPE_CAPITALIZED || ns == NLPD_SHAPE_UPPER || ns == NLPD_SHAPE_MIXED ||
          ns == NLPD_SHAPE_NUMBER || ns == NLPD_SHAPE_ALNUM || ns == NLPD_SHAPE_URL ||
          ns == NLPD_SHAPE_EMAIL))
        return 0;
    unsigned ps = tok[i].shape;
    /* Inside a run of names ("North Korea", "Kim Jong-un") a sentence
     * seldom ends without punctuation: left to the rules, which keeps the
     * classifier off the most common gap of news text. */
    if ((ps == NLPD_SHAPE_CAPITALIZED || ps == NLPD_SHAPE_MIXED) &&
        (ns == NLPD_SHAPE_CAPITALIZED || ns == NLPD_SHAPE_MIXED))
        return 0;
    if (ps == NLPD_SHAPE_PUNCT) {
        int32_t cp;
        size_t n;
        if (nlpd__char_at(text, tok[i].start, tok[i].end, &cp, &n) == CC_OPEN)
            return 0;
    }
    g->prev = ps < NLPD__SHAPES ? ps : NLPD__SHAPE_NONE;
    g->next = ns;
    g->prev2 = i > t0 && tok[i - 1].shape < NLPD__SHAPES ? tok[i - 1].shape : NLPD__SHAPE_NONE;
    g->next2 = i + 2 < t1 && tok[i + 2].shape < NLPD__SHAPES ? tok[i + 2].shape : NLPD__SHAPE_NONE;
    g->len = nlpd__len_bucket(i - s + 1);
    g->pw = text + tok[i].start;
    g->pwl = tok[i].end - tok[i].start;
    g->nw = text + tok[i + 1].start;
    g->nwl = tok[i + 1].end - tok[i + 1].start;
    g->qw = i > t0 ? text + tok[i - 1].start : NULL;
    g->qwl = i > t0 ? tok[i - 1].end - tok[i - 1].start : 0;
    return 1;
}

static inline int32_t
word_weight(const nlpd_split_model *m, char side, const char *w, size_t n)
{
    return nlpd__feattab_get(&m->weights, nlpd__feat_hash(side, w, n));
}

int32_t
nlpd__gap_score(const nlpd_split_model *m, const nlpd__gap *g)
{
    int32_t z = m->bias + m->pair[g->prev][g->next] + m->prev_pair[g->prev2][g->prev] +
                m->next_pair[g->next][g->next2] + m->len[g->len];
    z += word_weight(m, 'p', g->pw, g->pwl);
    z += word_weight(m, 'n', g->nw, g->nwl);
    if (g->qwl > 0)
        z += word_weight(m, 'q', g->qw, g->qwl);
    return z;
}

/* nlpd__gap_candidate(...) && nlpd__gap_score(...) > threshold, the same
 * test inlined for the boundary loop, without filling an nlpd__gap. */
static inline int
gap_fires(const ctx *c, size_t s, size_t i)
{
    const nlpd_split_token *tok = c->tok;
    if (i + 1 >= c->t1 || !(tok[i].flags & NLPD_TOKEN_SPACE_AFTER))
        return 0;
    unsigned ns = tok[i + 1].shape;
    if (!(ns == NLPD_SHAPE_CAPITALIZED || ns == NLPD_SHAPE_UPPER || ns == NLPD_SHAPE_MIXED ||
          ns == NLPD_SHAPE_NUMBER || ns == NLPD_SHAPE_ALNUM || ns == NLPD_SHAPE_URL ||
          ns == NLPD_SHAPE_EMAIL))
        return 0;
    unsigned ps = tok[i].shape;
    if ((ps == NLPD_SHAPE_CAPITALIZED || ps == NLPD_SHAPE_MIXED) &&
        (ns == NLPD_SHAPE_CAPITALIZED || ns == NLPD_SHAPE_MIXED))
        return 0;
    if (ps == NLPD_SHAPE_PUNCT && first_class(c, i, NULL) == CC_OPEN)
        return 0;
    const nlpd_split_model *m = c->m;
    unsigned prev = ps < NLPD__SHAPES ? ps : NLPD__SHAPE_NONE;
    unsigned prev2 =
        i > c->t0 && tok[i - 1].shape < NLPD__SHAPES ? tok[i - 1].shape : NLPD__SHAPE_NONE;
    unsigned next2 =
        i + 2 < c->t1 && tok[i + 2].shape < NLPD__SHAPES ? tok[i + 2].shape : NLPD__SHAPE_NONE;
    int32_t z = m->bias + m->pair[prev][ns] + m->prev_pair[prev2][prev] + m->next_pair[ns][next2] +
                m->len[nlpd__len_bucket(i - s + 1)];
    /* The word features, the one before first (the order that settles
     * most gaps soonest in news): each adds at most what the model's
     * features of its kind and length add (m->word_max), so once z plus
     * what the rest can add is not over the threshold, the gap is no
     * boundary, without the other lookups. Nearly every gap this sees
     * is none (6 of 7,211 in bbc-news dev). */
    size_t lq = i > c->t0 ? tlen(c, i - 1) : 0, ln = tlen(c, i + 1), lp = tlen(c, i);
    int32_t mq = lq > 0 ? m->word_max[2][nlpd__len_slot(lq)] : 0;
    int32_t mn = m->word_max[1][nlpd__len_slot(ln)];
    int32_t rest = m->word_max[0][nlpd__len_slot(lp)] + mn + mq;
    if (z + rest <= m->threshold)
        return 0;
    if (lq > 0) {
        z += word_weight(m, 'q', ttext(c, i - 1), lq);
        rest -= mq;
        if (z + rest <= m->threshold)
            return 0;
    }
    z += word_weight(m, 'n', ttext(c, i + 1), ln);
    rest -= mn;
    if (z + rest <= m->threshold)
        return 0;
    z += word_weight(m, 'p', ttext(c, i), lp);
    return z > m->threshold;
}

/* Is the sentence so far a news dateline ending in a dash ("WASHINGTON
 * (CNN) --", "LONDON, June 4 -")? Its first sentence goes on after it. */
static int
dateline(const ctx *c, size_t s, size_t i)
{
    if (first_class(c, i, NULL) != CC_DASH || i - s > 8)
        return 0;
    for (size_t k = s; k < i; k++)
        if (c->tok[k].shape == NLPD_SHAPE_LOWER)
            return 0;
    return 1;
}

/* Decides whether a sentence ends at or just after token i (s is the
 * sentence's first token). Returns the index of its last token, or
 * SIZE_MAX when the sentence goes on; *skip_to may move the scan forward
 * over a spaced ellipsis that is decided as a whole. */
static size_t
decide(ctx *c, size_t s, size_t i, size_t *skip_to)
{
    const nlpd_split_token *t = &c->tok[i];
    size_t last;
    if (t->flags & NLPD_TOKEN_PARAGRAPH_AFTER)
        return i;
    int tk = terminal_kind(c, i);
    if (tk == T_NONE && !(t->flags & NLPD_TOKEN_ABBREV)) {
        if (i + 1 >= c->t1)
            return i;
        /* The next item of a list. */
        int kind = 0;
        int32_t value = 0;
        int marker = maybe_marker(c, i + 1) && list_marker(c, i + 1, &kind, &value) > i + 1;
        if (marker && kind == c->marker_kind &&
            (kind == 'b' ? value == c->marker_value : value == c->marker_value + 1))
            return i;
        if (soft_boundary(c, s, i))
            return i;
        if (c->m->has_gap && !(i == s && t->shape == NLPD_SHAPE_PUNCT) && gap_fires(c, s, i) &&
            !only_marker(c, s, i) && !dateline(c, s, i))
            return i;
        if (t->flags & NLPD_TOKEN_NEWLINE_AFTER) {
            /* A line before a list item ends at its break; so does a short
             * line before one that starts with a capital or a digit (a
             * hard-wrapped paragraph goes on in lower case). */
            if (marker)
                return i;
            size_t ls = i;
            while (ls > c->t0 && !(c->tok[ls - 1].flags & NLPD_TOKEN_NEWLINE_AFTER) &&
                   c->tok[i].end - c->tok[ls].start <= SHORT_LINE)
                ls--;
            int nk = next_kind(c, next_word(c, i + 1));
            if (c->tok[i].end - c->tok[ls].start <= SHORT_LINE && (nk == 'u' || nk == 'd'))
                return i;
        }
        return SIZE_MAX;
    }
    if (tk == T_PERIOD && i + 1 < c->t1 && tok_is(c, i + 1, ".") &&
        (t->flags & NLPD_TOKEN_SPACE_AFTER)) {
        /* A spaced ellipsis ". . ." (maybe with the sentence's period); the
         * group never outgrows the sentence length limit. */
        size_t j = i;
        while (j + 1 < c->t1 && tok_is(c, j + 1, ".") && (c->tok[j].flags & NLPD_TOKEN_SPACE_AFTER) &&
               !(c->tok[j].flags & NLPD_TOKEN_PARAGRAPH_AFTER) &&
               j + 2 - s <= c->o->max_sentence_tokens &&
               c->tok[j + 1].end - c->tok[s].start <= c->o->max_sentence_bytes)
            j++;
        size_t dots = j - i + 1;
        if (dots >= 3) {
            int glued = attached(c, i) && !is_closer(c, i - 1) ? is_word(c, i - 1) : 0;
            if (c->tok[j].flags & NLPD_TOKEN_PARAGRAPH_AFTER)
                return j; /* the group ends the paragraph */
            size_t w = next_word(c, after_closers(c, j, &last));
            int nk = next_kind(c, w);
            *skip_to = j;
            if (last + 1 >= c->t1)
                return last;
            if (nk != 'u' && nk != 'd')
                return SIZE_MAX;
            if (glued && dots >= 4)
                return i; /* "word. . . . Next": the ellipsis opens the next */
            if (dots >= 4)
                return last; /* "word . . . . Next" */
            return SIZE_MAX; /* ". . ." marks an omission */
        }
    }
    size_t j = after_closers(c, i, &last);
    if (j >= c->t1)
        return last;
    if (c->tok[last].flags & NLPD_TOKEN_PARAGRAPH_AFTER)
        return last;
    size_t w = next_word(c, j);
    int nk = next_kind(c, w);
    switch (tk) {
    case T_EXCLAIM:
        /* "Yahoo! in" goes on; a question mark after a word ends a question
         * even when informal text goes on in lower case ("up? where"), but
         * not after a quotation ("\"Why now?\" the senator asked"). */
        if (nk == 'l')
            return memchr(ttext(c, i), '?', tlen(c, i)) != NULL && i > s && is_word(c, i - 1) &&
                           last == i && c->tok[w].shape == NLPD_SHAPE_LOWER
                       ? last
                       : SIZE_MAX;
        return last;
    case T_ELLIPSIS:
        if (i > c->t0 && attached(c, i) && (tok_is(c, i - 1, "[") || tok_is(c, i - 1, "(")))
            return SIZE_MAX; /* "[...]": an omission */
        return nk == 'u' || nk == 'd' ? last : SIZE_MAX;
    case T_PERIOD:
        if (nk == 'l')
            return lower_start(c, s, i, w) ? last : SIZE_MAX;
        if (only_marker(c, s, i))
            return SIZE_MAX;
        if (nk == 'd' && i > s && tlen(c, i - 1) <= 1 && !is_word(c, i - 1))
            return SIZE_MAX;
        return last;
    default: /* an abbreviation's period */
        return abbrev_ends(c, s, i, w, nk) ? last : SIZE_MAX;
    }
}

/* --- Sentences -------------------------------------------------------------------- */

static int
add_sentence(ctx *c, nlpd__sents *out, size_t a, size_t b, uint32_t flags)
{
    if (out->n == out->cap) {
        int rc = nlpd_grow((void **)&out->v, &out->cap, out->n + 1, sizeof(*out->v));
        if (rc != 0)
            return rc;
    }
    out->v[out->n++] = (nlpd_split_sentence){c->tok[a].start, c->tok[b].end, (uint32_t)a,
                                             (uint32_t)(b - a + 1), flags};
    return 0;
}

/* A sentence that starts with a list marker sets the numbering its next
 * item continues (a bullet before a number, as in "• 9.", leads). */
static inline void
begin_sentence(ctx *c, size_t s)
{
    int kind;
    int32_t value;
    if (s < c->t1 && list_marker(c, s, &kind, &value) > s) {
        c->marker_kind = kind;
        c->marker_value = value;
    }
}

static int
is_safe_cut(const ctx *c, size_t i)
{
    int32_t cp;
    char_class k = first_class(c, i, &cp);
    return tlen(c, i) <= 3 && (cp == ',' || cp == ';' || cp == ':' || k == CC_DASH);
}

/* The sentence [s, i] is over the limit: where to cut it (the last token
 * of the first part). */
static size_t
cut_point(const ctx *c, size_t s, size_t i)
{
    size_t from = s + (i - s) * 3 / 4;
    for (size_t k = i; k > from; k--)
        if (is_safe_cut(c, k - 1) && k - 1 > s)
            return k - 1;
    return i;
}

/* The tokens from i on that no rule looks at: a word or plain punctuation
 * (no final period, no line break after it) glued to the next token that
 * is no list marker, or before a lower-case word on the same line that is
 * no list marker ("a." would carry its period, "b)" has no space after
 * it). Returns the first token in [i, iend) the full loop must see (or
 * iend); it stops too at a token that ends past lim_byte. The same test
 * as the one at the top of the loop in nlpd__split_region, kept lean, and
 * the tokenizer's `plain` bits, which only mark tokens that pass it. */
static inline __attribute__((always_inline)) size_t
skip_plain(const char *text, const nlpd_split_token *tok, const uint64_t *plain, size_t i,
           size_t iend, size_t lim_byte)
{
    while (i < iend) {
        /* A run of tokens the tokenizer marked: gone at once, unless the
         * sentence outgrows its byte limit in it. */
        uint64_t bits = plain != NULL ? plain[i >> 6] >> (i & 63) : 0;
        if (bits & 1) {
            size_t run = ~bits == 0 ? 64 : (size_t)__builtin_ctzll(~bits);
            size_t j = i + run < iend ? i + run : iend;
            if (tok[j - 1].end <= lim_byte) {
                i = j;
                continue;
            }
        }
        const nlpd_split_token *t = &tok[i], *u = &tok[i + 1];
        unsigned f = t->flags;
        if ((f & (NLPD_TOKEN_ABBREV | NLPD_TOKEN_NEWLINE_AFTER)) || t->end > lim_byte)
            break;
        if (t->shape == NLPD_SHAPE_PUNCT && !plain_punct(text, t))
            break;
        if (u->shape == NLPD_SHAPE_LOWER && !(u->flags & (NLPD_TOKEN_ABBREV | NLPD_TOKEN_CLITIC)) &&
            (u->end - u->start > 2 || (u->flags & NLPD_TOKEN_SPACE_AFTER))) {
            i++;
            continue;
        }
        unsigned char b0 = (unsigned char)text[u->start];
        size_t n0 = u->end - u->start;
        int marker = (b0 >= '0' && b0 <= '9' && n0 <= 3) || b0 == '(' || (b0 >= 0x80 && n0 <= 3) ||
                     (n0 <= 2 && ((b0 | 0x20) >= 'a' && (b0 | 0x20) <= 'z')); /* maybe_marker() */
        if (!(f & NLPD_TOKEN_SPACE_AFTER) && !marker) {
            i++;
            continue;
        }
        /* Inside a run of names ("Prime Minister Tony Blair"): decide()
         * finds no boundary there (no list item, no dash or clock time,
         * the gap classifier leaves such gaps alone, no line break). Not
         * after a two-letter word, which may be "am" or "pm". */
        if ((f & NLPD_TOKEN_SPACE_AFTER) && !marker && t->end - t->start != 2 &&
            (t->shape == NLPD_SHAPE_CAPITALIZED || t->shape == NLPD_SHAPE_MIXED) &&
            (u->shape == NLPD_SHAPE_CAPITALIZED || u->shape == NLPD_SHAPE_MIXED)) {
            i++;
            continue;
        }
        break;
    }
    return i;
}

int
nlpd__split_region(const nlpd_split_model *m, const nlpd_split_opts *o, const char *text,
                   const nlpd_split_token *tok, const uint64_t *plain, size_t t0, size_t t1,
                   nlpd__sents *out)
{
    ctx c = {m, o, text, tok, t0, t1, 0, 0};
    size_t s = t0;
    int rc;
    if (!o->sentences) {
        /* Tokens only: one "sentence" per paragraph. */
        for (size_t i = t0; i < t1; i++) {
            if ((tok[i].flags & NLPD_TOKEN_PARAGRAPH_AFTER) || i + 1 == t1) {
                if ((rc = add_sentence(&c, out, s, i, 0)) != 0)
                    return rc;
                s = i + 1;
            }
        }
        return 0;
    }
    begin_sentence(&c, s);
    /* The sentence from s is over the limits at token i when i reaches
     * lim_tok or the token ends past lim_byte. */
    size_t lim_tok = s + o->max_sentence_tokens;
    size_t lim_byte = (size_t)tok[s].start + o->max_sentence_bytes;
    for (size_t i = t0; i < t1; i++) {
        /* Runs of tokens no rule looks at go by in a tight loop. */
        i = skip_plain(text, tok, plain, i, (lim_tok < t1 - 1 ? lim_tok : t1 - 1), lim_byte);
        if (i >= t1)
            break;
        int over = i > s && (i >= lim_tok || tok[i].end > lim_byte);
        /* The common case, decided here: a word (no final period, no line
         * break after it) before a lower-case word on the same line that
         * is not a list marker ("a." would carry its period, "b)" has no
         * space after it). skip_plain has made this test already, but for
         * a first token that ends past the byte limit. */
        if (!over && i + 1 < t1 && tok[i].end > lim_byte &&
            !(tok[i].flags & (NLPD_TOKEN_ABBREV | NLPD_TOKEN_NEWLINE_AFTER)) &&
            (tok[i].shape != NLPD_SHAPE_PUNCT || plain_punct(text, &tok[i]))) {
            /* ... and a word or plain punctuation glued to the next token
             * ("word," or ",\""): every rule needs a space or a terminal. */
            if (!(tok[i].flags & NLPD_TOKEN_SPACE_AFTER) && !maybe_marker(&c, i + 1))
                continue;
            if (tok[i + 1].shape == NLPD_SHAPE_LOWER &&
                !(tok[i + 1].flags & (NLPD_TOKEN_ABBREV | NLPD_TOKEN_CLITIC)) &&
                (tok[i + 1].end - tok[i + 1].start > 2 ||
                 (tok[i + 1].flags & NLPD_TOKEN_SPACE_AFTER)))
                continue;
        }
        /* The length limit: a sentence never grows past it. */
        if (over) {
            size_t k = cut_point(&c, s, i - 1);
            if ((rc = add_sentence(&c, out, s, k, NLPD_SENTENCE_TRUNCATED)) != 0)
                return rc;
            s = k + 1;
            i = k; /* look at the tokens after the cut again */
            begin_sentence(&c, s);
            lim_tok = s + o->max_sentence_tokens;
            lim_byte = s < t1 ? (size_t)tok[s].start + o->max_sentence_bytes : 0;
            continue;
        }
        size_t skip = i;
        size_t e = decide(&c, s, i, &skip);
        if (e == SIZE_MAX) {
            i = skip;
            continue;
        }
        if (e - s + 1 > o->max_sentence_tokens ||
            tok[e].end - tok[s].start > o->max_sentence_bytes) {
            /* Closers pushed it over: cut before them. */
            e = i;
        }
        if ((rc = add_sentence(&c, out, s, e, 0)) != 0)
            return rc;
        s = e + 1;
        i = e;
        begin_sentence(&c, s);
        lim_tok = s + o->max_sentence_tokens;
        lim_byte = s < t1 ? (size_t)tok[s].start + o->max_sentence_bytes : 0;
    }
    return 0;
}
