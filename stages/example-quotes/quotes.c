/* stages/example-quotes/quotes.c — direct quotations: pairing marks in one
 * pass, then a look at the few words around each quotation for its speaker.
 *
 * The scan keeps a stack of open marks. A closing mark pops the topmost open
 * mark of its kind and every mark above it (those found no partner). Closed
 * quotations wait in `found` while any mark is still open around them: if
 * that mark closes too they are part of its quotation and are forgotten, if
 * it is dropped they stand on their own. When the stack empties, what waits
 * in `found` is emitted. Each mark is pushed and popped at most once and the
 * words of a quotation are counted only up to min_words, so the pass is
 * linear in the text.
 */
#include "quotes.h"

#include <stdint.h>
#include <string.h>

#include "nlpd/alloc.h"

#define MAX_DEPTH 64
#define NONE      SIZE_MAX
/* Bytes looked at beyond a quotation's marks for its speaker. */
#define SPEAKER_WINDOW 160
#define MAX_NAME_WORDS 5
/* Words between a quotation and its reporting verb ("a title NAME said"). */
#define MAX_CLAUSE_WORDS 8

enum mark_kind { K_DOUBLE, K_STRAIGHT, K_SINGLE, K_GUILLEMET, K_COUNT };

typedef struct open_mark {
    size_t open;        /* offset of the opening mark */
    size_t inner;       /* offset just after it */
    size_t weak;        /* single quotes: the first ’ after a letter (NONE: none yet) */
    size_t first_child; /* index in `found` of the first quotation closed inside it */
    int kind;
    int below; /* stack index of the next open mark of the same kind, or -1 */
} open_mark;

struct nlpd_quotes {
    nlpd_quotes_opts opts;
    open_mark stack[MAX_DEPTH];
    int depth;
    int top_of[K_COUNT]; /* stack index of the topmost open mark of each kind, or -1 */
    nlpd_quote *found;   /* closed quotations waiting for the marks around them */
    size_t n_found;
    size_t cap_found;

    /* The run in progress. */
    const char *text;
    size_t len;
    nlpd_quotes_emit_fn emit;
    void *arg;
};

int
nlpd_quotes_new(nlpd_quotes **out, const nlpd_quotes_opts *opts)
{
    static const nlpd_quotes_opts defaults = NLPD_QUOTES_OPTS_INIT;
    if (out == NULL)
        return NLPD_EINVAL;
    nlpd_quotes *self = nlpd_calloc(1, sizeof(*self));
    if (self == NULL)
        return NLPD_ENOMEM;
    self->opts = opts != NULL ? *opts : defaults;
    if (self->opts.min_words == 0)
        self->opts.min_words = 1;
    *out = self;
    return 0;
}

void
nlpd_quotes_free(nlpd_quotes **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_free((*self_p)->found);
    nlpd_free(*self_p);
    *self_p = NULL;
}

/* --- Characters ------------------------------------------------------------ */

/* Decodes the code point at text[i] into *cp and returns its length in
 * bytes. An invalid sequence reads as one byte, U+FFFD. */
static size_t
decode(const char *text, size_t len, size_t i, int32_t *cp)
{
    const unsigned char *s = (const unsigned char *)text + i;
    size_t left = len - i;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    int32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (left < n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return n;
}

static int
is_space(int32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

/* A letter or digit, loosely: ASCII alphanumerics and every code point
 * outside the blocks of spaces, punctuation and symbols. */
static int
is_word(int32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
    if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7)
        return 0;
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
        (cp >= 0xFE10 && cp <= 0xFE6F) || (cp >= 0xFF00 && cp <= 0xFF20) ||
        (cp >= 0xFFF0 && cp <= 0xFFFF) || (cp >= 0x1F000 && cp <= 0x1FAFF))
        return 0;
    return 1;
}

static int
is_digit(int32_t cp)
{
    return cp >= '0' && cp <= '9';
}

/* Capital letters of the Latin, Greek and Cyrillic alphabets. */
static int
is_upper(int32_t cp)
{
    return (cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) ||
           (cp >= 0x100 && cp <= 0x17F && cp % 2 == 0) || (cp >= 0x391 && cp <= 0x3A9) ||
           (cp >= 0x400 && cp <= 0x42F);
}

/* Punctuation a closing straight quote may stand before. */
static int
is_closing_context(int32_t cp)
{
    switch (cp) {
    case '.':
    case ',':
    case ';':
    case ':':
    case '!':
    case '?':
    case ')':
    case ']':
    case '}':
    case '-':
    case 0x2013: /* – */
    case 0x2014: /* — */
    case 0x2026: /* … */
    case 0x2019: /* ’ */
    case 0x201D: /* ” */
    case 0xBB:   /* » */
        return 1;
    default:
        return is_space(cp);
    }
}

/* What a straight quote may stand after when it opens. */
static int
is_opening_context(int32_t cp)
{
    switch (cp) {
    case '(':
    case '[':
    case '{':
    case '-':
    case '/':
    case 0x2013:
    case 0x2014:
    case 0x2018:
    case 0x201C:
    case 0xAB:
        return 1;
    default:
        return is_space(cp);
    }
}

/* --- Words ----------------------------------------------------------------- */

/* Returns 1 when text[start, end) holds at least `want` words: runs between
 * whitespace that contain a letter or a digit. Stops counting at `want`. */
static int
has_words(const char *text, size_t start, size_t end, unsigned want)
{
    unsigned n = 0;
    int counted = 0; /* the current run has been counted */
    size_t i = start;
    while (i < end) {
        int32_t cp;
        i += decode(text, end, i, &cp);
        if (is_space(cp)) {
            counted = 0;
        } else if (!counted && is_word(cp)) {
            counted = 1;
            if (++n >= want)
                return 1;
        }
    }
    return 0;
}

/* Moves *start forward and *end back over whitespace. */
static void
trim(const char *text, size_t *start, size_t *end)
{
    while (*start < *end) {
        int32_t cp;
        size_t n = decode(text, *end, *start, &cp);
        if (!is_space(cp))
            break;
        *start += n;
    }
    while (*end > *start) {
        /* Step back to the start of the last code point. */
        size_t k = *end - 1;
        while (k > *start && ((unsigned char)text[k] & 0xC0) == 0x80 && *end - k < 4)
            k--;
        int32_t cp;
        size_t n = decode(text, *end, k, &cp);
        if (k + n != *end || !is_space(cp))
            break;
        *end = k;
    }
}

/* --- Speakers -------------------------------------------------------------- */

static const char *const verbs[] = {
    "said",    "says",      "added",    "adds",      "told",      "tells",    "asked",
    "asks",    "explained", "explains", "stated",    "states",    "wrote",    "writes",
    "replied", "replies",   "warned",   "warns",     "declared",  "declares", "insisted",
    "insists", "noted",     "notes",    "continued", "continues", "recalled", "recalls",
};

/* Words that are capitalised but not a speaker's name, or not part of it. */
static const char *const not_names[] = {
    "He",   "She",   "They",  "It",     "We",   "I",       "You",  "The",  "A",     "An",
    "But",  "And",   "Or",    "So",     "Then", "Yet",     "In",   "On",   "At",    "As",
    "When", "While", "After", "Before", "Also", "However", "This", "That", "There", "Here",
};

static int
word_in(const char *w, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strlen(list[i]) == n && memcmp(list[i], w, n) == 0)
            return 1;
    }
    return 0;
}

static int
is_verb(const char *w, size_t n)
{
    return word_in(w, n, verbs, sizeof(verbs) / sizeof(verbs[0]));
}

/* Lowercase words that tie a name to words before it: a title's "of"
 * (Archbishop of Canterbury) or a particle (de, von). */
static const char *const connectors[] = {"of", "for", "at", "de", "von", "van", "and"};

static int
is_connector(const char *w, size_t n)
{
    return word_in(w, n, connectors, sizeof(connectors) / sizeof(connectors[0]));
}

static int
is_not_name(const char *w, size_t n)
{
    return word_in(w, n, not_names, sizeof(not_names) / sizeof(not_names[0]));
}

/* The byte ends a token of a name: whitespace or punctuation that no name
 * word holds ('.', '-' and apostrophes may be inside one). */
static int
ends_token(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ';' || c == ':' ||
           c == '!' || c == '?' || c == '(' || c == ')' || c == '"' || c == '[' || c == ']';
}

/* A name word: begins with a capital, and ends in '.' only when short (Mr.,
 * Dr., J.), for a longer word with a full stop ends a sentence. Sets *stop
 * when the name cannot go on past it. */
static int
name_word(const char *text, size_t start, size_t end, int *stop)
{
    int32_t cp;
    decode(text, end, start, &cp);
    if (!is_upper(cp))
        return 0;
    *stop = text[end - 1] == '.' && end - start > 4;
    return 1;
}

typedef struct span {
    size_t start, end;
} span;

/* Reads a name forward from `p`: one to MAX_NAME_WORDS capitalised words
 * separated by single spaces, before `limit`. Returns its span (a final
 * sentence-ending '.' left out), or an empty span. */
static span
name_forward(const char *text, size_t p, size_t limit)
{
    span out = {p, p};
    size_t last = p; /* start of the last word taken */
    int words = 0;
    while (p < limit && words < MAX_NAME_WORDS) {
        size_t e = p;
        while (e < limit && !ends_token((unsigned char)text[e]))
            e++;
        int stop = 0;
        if (e == p || !name_word(text, p, e, &stop))
            break;
        words++;
        last = p;
        out.end = e;
        if (stop || e + 1 >= limit || text[e] != ' ')
            break;
        p = e + 1;
    }
    /* "said Jane Doe." ends the sentence; "said J." would be an initial. */
    if (out.end > last + 2 && text[out.end - 1] == '.')
        out.end--;
    return out;
}

/* Reads a name backward from `p` (exclusive). Returns its span or an empty
 * one. */
static span
name_backward(const char *text, size_t p, size_t limit)
{
    span out = {p, p};
    int words = 0;
    while (p > limit && words < MAX_NAME_WORDS) {
        size_t s = p;
        while (s > limit && !ends_token((unsigned char)text[s - 1]))
            s--;
        int stop = 0;
        if (s == p || !name_word(text, s, p, &stop) || stop)
            break;
        words++;
        out.start = s;
        if (s <= limit + 1 || text[s - 1] != ' ')
            break;
        p = s - 1;
    }
    return out;
}

/* Reads a name backward from `p` as name_backward() does, and gives up
 * when it is the end of a longer title ("Archbishop of Canterbury"). */
static span
name_before(const char *text, size_t p, size_t limit)
{
    span none = {0, 0};
    span n = name_backward(text, p, limit);
    if (n.start == n.end)
        return none;
    size_t s = n.start;
    if (s >= limit + 3 && text[s - 1] == ' ') {
        size_t w = s - 1;
        while (w > limit && text[w - 1] >= 'a' && text[w - 1] <= 'z')
            w--;
        if ((w == limit || text[w - 1] == ' ') && w < s - 1 && is_connector(text + w, s - 1 - w))
            return none;
    }
    return n;
}

/* Leaves out leading words that are not part of a name ("But Smith"), and
 * gives up on a pronoun. */
static span
clean_name(const char *text, span n)
{
    while (n.start < n.end) {
        size_t e = n.start;
        while (e < n.end && text[e] != ' ')
            e++;
        if (!is_not_name(text + n.start, e - n.start))
            break;
        n.start = e < n.end ? e + 1 : n.end;
    }
    if (n.start >= n.end)
        n.start = n.end;
    return n;
}

/* The lowercase ASCII word at text[p, ...) before `limit`: its end, or p. */
static size_t
word_end(const char *text, size_t p, size_t limit)
{
    size_t e = p;
    while (e < limit && text[e] >= 'a' && text[e] <= 'z')
        e++;
    return e;
}

/* “…,” said NAME / “…,” NAME said / “…,” a title NAME said */
static span
speaker_after(const nlpd_quotes *self, const nlpd_quote *q)
{
    const char *text = self->text;
    span none = {0, 0};
    /* The passage ends in a comma, ? or ! (a full stop ends the sentence and
     * whatever follows is not about this quotation). */
    char last = text[q->end - 1];
    int dash = q->end - q->start >= 3 && memcmp(text + q->end - 3, "\xE2\x80\x94", 3) == 0;
    if (last != ',' && last != '?' && last != '!' && !dash)
        return none;
    size_t limit = self->len - q->close > SPEAKER_WINDOW ? q->close + SPEAKER_WINDOW : self->len;
    size_t p = q->close;
    if (p >= limit || text[p] != ' ')
        return none;
    p++;
    size_t e = word_end(text, p, limit);
    if (e > p && is_verb(text + p, e - p)) {
        if (e >= limit || text[e] != ' ')
            return none;
        span n = clean_name(text, name_forward(text, e + 1, limit));
        return n.start < n.end ? n : none;
    }
    /* A few words of one clause up to the verb; the name is the run of
     * capitalised words right before it ("Marsh chief executive Michael
     * Cherkasky said"). */
    size_t t = p;
    for (int words = 0; t < limit && words < MAX_CLAUSE_WORDS; words++) {
        e = t;
        while (e < limit && !ends_token((unsigned char)text[e]))
            e++;
        if (e == t)
            return none;
        size_t w = text[e - 1] == '.' ? e - 1 : e;
        if (word_end(text, t, w) == w && is_verb(text + t, w - t)) {
            if (t == p)
                return none;
            span n = clean_name(text, name_before(text, t - 1, p));
            return n.start < n.end ? n : none;
        }
        if ((w < e && e - t > 4) || e >= limit || text[e] != ' ')
            return none; /* the clause or the sentence ends before a verb */
        t = e + 1;
    }
    return none;
}

/* NAME said, “…” / NAME said: “…” */
static span
speaker_before(const nlpd_quotes *self, const nlpd_quote *q)
{
    const char *text = self->text;
    span none = {0, 0};
    size_t limit = q->open > SPEAKER_WINDOW ? q->open - SPEAKER_WINDOW : 0;
    size_t p = q->open;
    if (p > limit && text[p - 1] == ' ')
        p--;
    if (p <= limit || (text[p - 1] != ',' && text[p - 1] != ':'))
        return none;
    p--;
    size_t s = p;
    while (s > limit && text[s - 1] >= 'a' && text[s - 1] <= 'z')
        s--;
    if (s == p || !is_verb(text + s, p - s) || s <= limit + 1 || text[s - 1] != ' ')
        return none;
    span n = clean_name(text, name_before(text, s - 1, limit));
    return n.start < n.end ? n : none;
}

/* --- Pairing --------------------------------------------------------------- */

static int
found_reserve(nlpd_quotes *self, size_t n)
{
    if (n <= self->cap_found)
        return 0;
    size_t cap = self->cap_found ? self->cap_found * 2 : 16;
    while (cap < n)
        cap *= 2;
    nlpd_quote *f = nlpd_realloc(self->found, cap * sizeof(*f));
    if (f == NULL)
        return NLPD_ENOMEM;
    self->found = f;
    self->cap_found = cap;
    return 0;
}

/* Emits what waits in `found` once no mark is open around it. */
static int
flush(nlpd_quotes *self)
{
    int rc = 0;
    for (size_t i = 0; i < self->n_found && rc == 0; i++) {
        nlpd_quote *q = &self->found[i];
        if (self->opts.speakers) {
            span s = speaker_after(self, q);
            if (s.start == s.end)
                s = speaker_before(self, q);
            q->speaker_start = s.start;
            q->speaker_end = s.end;
        }
        rc = self->emit(self->arg, q);
    }
    self->n_found = 0;
    return rc;
}

/* Pops the top mark. With `close` != NONE it is closed by the mark at
 * text[close, close + close_len): its quotation replaces those closed inside
 * it (the ones that began before the closing mark; a single quote resolved
 * at an earlier ’ keeps those after). Otherwise it found no partner, and
 * what closed inside it stays. */
static int
pop(nlpd_quotes *self, size_t close, size_t close_len)
{
    open_mark *m = &self->stack[--self->depth];
    self->top_of[m->kind] = m->below;
    if (close == NONE && m->kind == K_SINGLE && m->weak != NONE) {
        close = m->weak;
        close_len = 3;
    }
    if (close == NONE)
        return 0;
    size_t first = m->first_child, inside = first;
    while (inside < self->n_found && self->found[inside].open < close)
        inside++;
    size_t after = self->n_found - inside;
    size_t start = m->inner, end = close;
    trim(self->text, &start, &end);
    if (start >= end || !has_words(self->text, start, end, self->opts.min_words)) {
        if (after > 0)
            memmove(self->found + first, self->found + inside, after * sizeof(*self->found));
        self->n_found = first + after;
        return 0;
    }
    if (inside == first) {
        int rc = found_reserve(self, self->n_found + 1);
        if (rc != 0)
            return rc;
    }
    if (after > 0)
        memmove(self->found + first + 1, self->found + inside, after * sizeof(*self->found));
    self->found[first] = (nlpd_quote){.start = start,
                                      .end = end,
                                      .open = m->open,
                                      .close = close + close_len,
                                      .speaker_start = 0,
                                      .speaker_end = 0};
    self->n_found = first + 1 + after;
    return 0;
}

/* Pops marks until `depth` remain (all of them unpartnered, except single
 * quotes with a candidate ’), then flushes if none is left. */
static int
drop_to(nlpd_quotes *self, int depth)
{
    while (self->depth > depth) {
        int rc = pop(self, NONE, 0);
        if (rc != 0)
            return rc;
    }
    return self->depth == 0 ? flush(self) : 0;
}

/* Closes the topmost open mark of `kind` with the mark at text[at, at + n). */
static int
close_kind(nlpd_quotes *self, int kind, size_t at, size_t n)
{
    int idx = self->top_of[kind];
    while (self->depth > idx + 1) {
        int rc = pop(self, NONE, 0);
        if (rc != 0)
            return rc;
    }
    int rc = pop(self, at, n);
    if (rc == 0 && self->depth == 0)
        rc = flush(self);
    return rc;
}

static void
push(nlpd_quotes *self, int kind, size_t at, size_t n)
{
    if (self->depth == MAX_DEPTH)
        return; /* deeper than any text nests: ignored */
    open_mark *m = &self->stack[self->depth];
    *m = (open_mark){.open = at,
                     .inner = at + n,
                     .weak = NONE,
                     .first_child = self->n_found,
                     .kind = kind,
                     .below = self->top_of[kind]};
    self->top_of[kind] = self->depth++;
}

/* Handles the mark `cp` at text[i, i + n) between `prev` and `next`
 * (spaces at the ends of the text). */
static int
on_mark(nlpd_quotes *self, int32_t cp, size_t i, size_t n, int32_t prev, int32_t next)
{
    switch (cp) {
    case 0x201C: /* “ */
        push(self, K_DOUBLE, i, n);
        return 0;
    case 0xAB: /* « */
        push(self, K_GUILLEMET, i, n);
        return 0;
    case 0x201D: /* ” */
        return self->top_of[K_DOUBLE] >= 0 ? close_kind(self, K_DOUBLE, i, n) : 0;
    case 0xBB: /* » */
        return self->top_of[K_GUILLEMET] >= 0 ? close_kind(self, K_GUILLEMET, i, n) : 0;
    case '"': {
        int can_open = !is_space(next) && is_opening_context(prev);
        int can_close = !is_space(prev) && is_closing_context(next);
        int open = self->top_of[K_STRAIGHT];
        if (open >= 0 && can_close)
            return close_kind(self, K_STRAIGHT, i, n);
        if (!can_open)
            return 0;
        if (open >= 0) {
            /* Straight quotes cannot nest: the open one had no partner. */
            int rc = drop_to(self, open);
            if (rc != 0)
                return rc;
        }
        push(self, K_STRAIGHT, i, n);
        return 0;
    }
    case 0x2018: { /* ‘ */
        if (is_space(next) || is_digit(next) || is_word(prev))
            return 0; /* ‘90s, rock‘n’roll */
        int open = self->top_of[K_SINGLE];
        if (open >= 0 && self->stack[open].weak != NONE) {
            /* A new quotation begins: the open one ended at its ’. */
            int rc = drop_to(self, open);
            if (rc != 0)
                return rc;
        }
        push(self, K_SINGLE, i, n);
        return 0;
    }
    case 0x2019: { /* ’ */
        int open = self->top_of[K_SINGLE];
        if (open < 0 || is_space(prev) || is_word(next))
            return 0; /* an apostrophe: Shoigu’s, ’90s */
        if (is_word(prev)) {
            /* After a letter: a closing mark or a plural's apostrophe. */
            if (self->stack[open].weak == NONE)
                self->stack[open].weak = i;
            return 0;
        }
        return close_kind(self, K_SINGLE, i, n);
    }
    default:
        return 0;
    }
}

static int
is_mark(int32_t cp)
{
    return cp == '"' || cp == 0x201C || cp == 0x201D || cp == 0x2018 || cp == 0x2019 ||
           cp == 0xAB || cp == 0xBB;
}

int
nlpd_quotes_find(nlpd_quotes *self, const char *text, size_t len, nlpd_quotes_emit_fn emit,
                 void *arg)
{
    if (self == NULL || emit == NULL || (text == NULL && len > 0))
        return NLPD_EINVAL;
    self->text = text;
    self->len = len;
    self->emit = emit;
    self->arg = arg;
    self->depth = 0;
    self->n_found = 0;
    for (int k = 0; k < K_COUNT; k++)
        self->top_of[k] = -1;

    int rc = 0;
    int32_t prev = ' ';
    int line_empty = 0; /* only whitespace since the last line break */
    size_t i = 0;
    while (i < len && rc == 0) {
        int32_t cp;
        size_t n = decode(text, len, i, &cp);
        if (cp == '\n') {
            /* A blank line ends the paragraph and every mark open in it. */
            if (line_empty && self->depth > 0)
                rc = drop_to(self, 0);
            line_empty = 1;
        } else if (!is_space(cp)) {
            line_empty = 0;
            if (is_mark(cp)) {
                int32_t next = ' ';
                if (i + n < len)
                    decode(text, len, i + n, &next);
                rc = on_mark(self, cp, i, n, prev, next);
            }
        }
        prev = cp;
        i += n;
    }
    if (rc == 0)
        rc = drop_to(self, 0);
    self->depth = 0;
    self->n_found = 0;
    self->text = NULL;
    self->emit = NULL;
    self->arg = NULL;
    return rc;
}
