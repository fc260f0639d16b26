/* stages/split/tokenize.c — the tokenizer.
 *
 * Text is read as chunks (the characters between two runs of whitespace).
 * A chunk that is a URL, an e-mail address, a @handle or a #tag becomes one
 * token, less the punctuation around it. Any other chunk is cut into words
 * (letters, digits and the joiners a reader keeps inside a word: hyphens,
 * decimal points and thousands separators, the colon of a time, the periods
 * of "U.S.", apostrophes that are not clitics), clitics ("'s", "n't"),
 * punctuation (a run of . ! ? is one token) and symbols (an emoji sequence is
 * one token). ASCII is classified by table; other characters by utf8proc.
 * Each byte is looked at a bounded number of times, so the cost is linear.
 *
 * Most of news text takes a fast path first (mask_words): 64 bytes at a
 * time become bit masks (chunk bytes, letters, upper case, UTF-8, single
 * spaces, digits, hyphens; with AVX2 when the CPU has it, else SSE2 or
 * byte by byte), and runs of lower-case words, plain words, words with
 * one or two closing marks, quotes or brackets before them, clitics,
 * hyphenated words and numbers are cut from the masks. Anything else
 * (UTF-8, URLs, e-mail, abbreviations, a chunk past 64 bytes...) goes to
 * the general code, which decides as it always did: both give the same
 * tokens (split_test compares them). The loads never pass the region's
 * end: the last window is a zero-padded copy. On the way the fast path
 * marks the tokens no sentence rule looks at (nlpd__toks.plain), so that
 * the boundary pass can leave them alone.
 */
#include <string.h>

#include <utf8proc.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "nlpd/error.h"
#include "nlpd/alloc.h"
#include "split_internal.h"

/* ASCII classes. */
#define S_ CC_SPACE
#define U_ CC_UPPER
#define L_ CC_LOWER
#define D_ CC_DIGIT
#define P_ CC_PUNCT
#define O_ CC_OPEN
#define C_ CC_CLOSE
#define H_ CC_DASH
#define Y_ CC_SYMBOL
const uint8_t nlpd__ascii_class[128] = {
    /* 0x00 */ S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_,
    /* 0x10 */ S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_,
    /*  !"#$%&'()*+,-./ */
    S_, P_, P_, P_, Y_, P_, P_, P_, O_, C_, P_, Y_, P_, H_, P_, P_,
    /* 0-9 :;<=>? */
    D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, P_, P_, Y_, Y_, Y_, P_,
    /* @A-O */
    P_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_,
    /* P-Z [\]^_ */
    U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, O_, P_, C_, Y_, P_,
    /* `a-o */
    Y_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_,
    /* p-z {|}~ DEL */
    L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, O_, Y_, C_, Y_, S_,
};
#undef S_
#undef U_
#undef L_
#undef D_
#undef P_
#undef O_
#undef C_
#undef H_
#undef Y_

/* What the chunk scan needs of an ASCII byte, as bits: in a chunk (not
 * whitespace, control or DEL), lower or upper case letter, ':' or '@',
 * anything else. Bytes from 0x80 stop the fast scan. */
enum {
    CB_IN = 1u << 0,
    CB_LOWER = 1u << 1,
    CB_UPPER = 1u << 2,
    CB_SPECIAL = 1u << 3,
    CB_OTHER = 1u << 4,
    CB_LETTER = 1u << 5,
};
#define CB_L (CB_IN | CB_LOWER | CB_LETTER)
#define CB_U (CB_IN | CB_UPPER | CB_LETTER)
#define CB_O (CB_IN | CB_OTHER)
#define CB_S (CB_IN | CB_OTHER | CB_SPECIAL)
static const uint16_t chunk_bits[256] = {
    ['!'] = CB_O, ['"'] = CB_O, ['#'] = CB_O, ['$'] = CB_O, ['%'] = CB_O, ['&'] = CB_O,
    ['\''] = CB_O, ['('] = CB_O, [')'] = CB_O, ['*'] = CB_O, ['+'] = CB_O, [','] = CB_O,
    ['-'] = CB_O, ['.'] = CB_O, ['/'] = CB_O, ['0'] = CB_O, ['1'] = CB_O, ['2'] = CB_O,
    ['3'] = CB_O, ['4'] = CB_O, ['5'] = CB_O, ['6'] = CB_O, ['7'] = CB_O, ['8'] = CB_O,
    ['9'] = CB_O, [':'] = CB_S, [';'] = CB_O, ['<'] = CB_O, ['='] = CB_O, ['>'] = CB_O,
    ['?'] = CB_O, ['@'] = CB_S, ['['] = CB_O, ['\\'] = CB_O, [']'] = CB_O, ['^'] = CB_O,
    ['_'] = CB_O, ['`'] = CB_O, ['{'] = CB_O, ['|'] = CB_O, ['}'] = CB_O, ['~'] = CB_O,
    ['A'] = CB_U, ['B'] = CB_U, ['C'] = CB_U, ['D'] = CB_U, ['E'] = CB_U, ['F'] = CB_U,
    ['G'] = CB_U, ['H'] = CB_U, ['I'] = CB_U, ['J'] = CB_U, ['K'] = CB_U, ['L'] = CB_U,
    ['M'] = CB_U, ['N'] = CB_U, ['O'] = CB_U, ['P'] = CB_U, ['Q'] = CB_U, ['R'] = CB_U,
    ['S'] = CB_U, ['T'] = CB_U, ['U'] = CB_U, ['V'] = CB_U, ['W'] = CB_U, ['X'] = CB_U,
    ['Y'] = CB_U, ['Z'] = CB_U, ['a'] = CB_L, ['b'] = CB_L, ['c'] = CB_L, ['d'] = CB_L,
    ['e'] = CB_L, ['f'] = CB_L, ['g'] = CB_L, ['h'] = CB_L, ['i'] = CB_L, ['j'] = CB_L,
    ['k'] = CB_L, ['l'] = CB_L, ['m'] = CB_L, ['n'] = CB_L, ['o'] = CB_L, ['p'] = CB_L,
    ['q'] = CB_L, ['r'] = CB_L, ['s'] = CB_L, ['t'] = CB_L, ['u'] = CB_L, ['v'] = CB_L,
    ['w'] = CB_L, ['x'] = CB_L, ['y'] = CB_L, ['z'] = CB_L,
};
#undef CB_L
#undef CB_U
#undef CB_O
#undef CB_S

static char_class
unicode_class(int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LT:
        return CC_UPPER;
    case UTF8PROC_CATEGORY_LL:
        return CC_LOWER;
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return CC_LETTER;
    case UTF8PROC_CATEGORY_ND:
        return CC_DIGIT;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return CC_MARK;
    case UTF8PROC_CATEGORY_CF:
        /* ZWJ, ZWNJ, soft hyphen, variation selectors stay in words;
         * the byte order mark and other format characters are spaces. */
        if (cp == 0x200C || cp == 0x200D || cp == 0x00AD || (cp >= 0xFE00 && cp <= 0xFE0F))
            return CC_MARK;
        return CC_SPACE;
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PI:
        return CC_OPEN;
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PF:
        return CC_CLOSE;
    case UTF8PROC_CATEGORY_PD:
        return CC_DASH;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PO:
        return CC_PUNCT;
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
        if (utf8proc_get_property(cp)->boundclass == UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC ||
            (cp >= 0x1F1E6 && cp <= 0x1F1FF)) /* regional indicators */
            return CC_EMOJI;
        return CC_SYMBOL;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CC:
        return CC_SPACE;
    default:
        return CC_OTHER;
    }
}

static inline char_class
char_at(const char *s, size_t p, size_t end, int32_t *cp, size_t *len)
{
    unsigned char c = (unsigned char)s[p];
    if (c < 0x80) {
        *cp = c;
        *len = 1;
        return (char_class)nlpd__ascii_class[c];
    }
    utf8proc_int32_t u;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + p,
                                          (utf8proc_ssize_t)(end - p), &u);
    if (n <= 0) {
        *cp = -1;
        *len = 1;
        return CC_INVALID;
    }
    *cp = u;
    *len = (size_t)n;
    return unicode_class(u);
}

char_class
nlpd__char_at(const char *s, size_t p, size_t end, int32_t *cp, size_t *len)
{
    return char_at(s, p, end, cp, len);
}

/* --- Token building --------------------------------------------------------------- */

typedef struct tokenizer {
    const nlpd_split_model *m;
    const nlpd__abbrev_filter *af; /* NULL: look every word up */
    const char *s;
    size_t end; /* end of the region */
    nlpd__toks *out;
    int specials; /* the current chunk holds ':', '@' or non-ASCII */
    int rc;       /* mask_words: 0 or NLPD_ENOMEM */
} tokenizer;

static inline int
emit(tokenizer *tz, size_t start, size_t stop, uint8_t shape, uint8_t flags)
{
    nlpd__toks *o = tz->out;
    if (__builtin_expect(o->n == o->cap, 0)) {
        int rc = nlpd_grow((void **)&o->v, &o->cap, o->n + 1, sizeof(*o->v));
        if (rc != 0)
            return rc;
    }
    nlpd_split_token *t = &o->v[o->n++];
    t->start = (uint32_t)start;
    t->end = (uint32_t)stop;
    t->shape = shape;
    t->flags = flags;
    t->reserved = 0;
    return 0;
}

static inline int
is_apostrophe(int32_t cp)
{
    return cp == '\'' || cp == 0x2019 || cp == 0x02BC;
}

static inline int
is_hyphen(int32_t cp)
{
    return cp == '-' || cp == 0x2010 || cp == 0x2011;
}

static inline int
is_alnum_class(char_class c)
{
    return c == CC_UPPER || c == CC_LOWER || c == CC_LETTER || c == CC_DIGIT;
}

static inline int
is_letter_class(char_class c)
{
    return c == CC_UPPER || c == CC_LOWER || c == CC_LETTER;
}

static inline int
is_terminal_cp(int32_t cp)
{
    return cp == '.' || cp == '!' || cp == '?' || cp == 0x2026 || cp == 0x203C || cp == 0x2047 ||
           cp == 0x2048 || cp == 0x2049 || cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F ||
           cp == 0xFF0E;
}

/* What a word holds, for its shape. */
typedef struct word_info {
    unsigned upper, lower, caseless, digits, periods, colons, other;
    int first_upper;
    int percent;
} word_info;

static uint8_t
word_shape(const word_info *w)
{
    unsigned letters = w->upper + w->lower + w->caseless;
    if (letters == 0) {
        if (w->digits == 0)
            return NLPD_SHAPE_OTHER;
        return w->colons > 0 ? NLPD_SHAPE_ALNUM : NLPD_SHAPE_NUMBER;
    }
    if (w->digits > 0)
        return NLPD_SHAPE_ALNUM;
    if (w->upper == 0)
        return w->lower > 0 ? NLPD_SHAPE_LOWER : NLPD_SHAPE_OTHER;
    if (w->upper >= 2 && w->lower == 0)
        return NLPD_SHAPE_UPPER;
    if (w->first_upper && w->upper == 1)
        return NLPD_SHAPE_CAPITALIZED;
    return NLPD_SHAPE_MIXED;
}

/* Lengths of the clitics split off a word: "'s", "'m", "'d", "'re", "'ve",
 * "'ll" (letters after the apostrophe), matched case-insensitively. */
static int
is_clitic_tail(const char *s, size_t n)
{
    char a = n > 0 ? (char)(s[0] | 0x20) : 0, b = n > 1 ? (char)(s[1] | 0x20) : 0;
    if (n == 1)
        return a == 's' || a == 'm' || a == 'd';
    if (n == 2)
        return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l');
    return 0;
}

/* Number of letters (ASCII only: clitics are English) starting at p. */
static size_t
ascii_letters(const char *s, size_t p, size_t end)
{
    size_t q = p;
    while (q < end && ((s[q] | 0x20) >= 'a' && (s[q] | 0x20) <= 'z'))
        q++;
    return q - p;
}

/* Returns the apostrophe's byte length at p, or 0. */
static size_t
apostrophe_at(const char *s, size_t p, size_t end)
{
    if (p < end && s[p] == '\'')
        return 1;
    if (p + 2 < end && (unsigned char)s[p] == 0xE2 && (unsigned char)s[p + 1] == 0x80 &&
        (unsigned char)s[p + 2] == 0x99)
        return 3;
    return 0;
}

/* After letters: is there an "n't" starting at p (n, apostrophe, t, then no
 * letter)? Returns its length or 0. */
static size_t
nt_at(const char *s, size_t p, size_t end)
{
    if (p >= end || (s[p] | 0x20) != 'n')
        return 0;
    size_t a = apostrophe_at(s, p + 1, end);
    if (a == 0 || p + 1 + a >= end || (s[p + 1 + a] | 0x20) != 't')
        return 0;
    size_t q = p + 2 + a;
    if (q < end && ascii_letters(s, q, end) > 0)
        return 0;
    return 2 + a;
}

/* A clitic at p: apostrophe + s/m/d/re/ve/ll, not followed by a letter.
 * Returns its length or 0. */
static size_t
clitic_at(const char *s, size_t p, size_t end)
{
    size_t a = apostrophe_at(s, p, end);
    if (a == 0)
        return 0;
    size_t l = ascii_letters(s, p + a, end);
    if (l == 0 || !is_clitic_tail(s + p + a, l))
        return 0;
    size_t q = p + a + l;
    if (q < end) {
        int32_t cp;
        size_t n;
        char_class c = char_at(s, q, end, &cp, &n);
        if (is_alnum_class(c) || c == CC_MARK)
            return 0;
    }
    return a + l;
}

/* Is the word [a, b) (letters and periods) an acronym written with periods,
 * every part one or two letters: "U.S", "a.m", "e.g", "Ph.D"? */
static int
dotted_acronym(const char *s, size_t a, size_t b)
{
    size_t part = 0, parts = 0;
    for (size_t i = a; i < b; i++) {
        if (s[i] == '.') {
            if (part == 0)
                return 0;
            parts++;
            part = 0;
        } else {
            unsigned char c = (unsigned char)s[i];
            if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
                return 0;
            if (++part > 2)
                return 0;
        }
    }
    return part > 0 && parts > 0;
}

/* The first non-space character after p in the region: its class. */
static char_class
next_visible(const tokenizer *tz, size_t p)
{
    while (p < tz->end) {
        int32_t cp;
        size_t n;
        char_class c = char_at(tz->s, p, tz->end, &cp, &n);
        if (c != CC_SPACE)
            return c;
        p += n;
    }
    return CC_SPACE;
}

/* Does the word [a, b), followed by a period at b, keep that period as an
 * abbreviation's? */
static int
keeps_period(const tokenizer *tz, size_t a, size_t b, const word_info *w)
{
    const char *s = tz->s;
    size_t letters = w->upper + w->lower + w->caseless;
    if (w->digits > 0 && letters == 0)
        return 0; /* "1." in a list, "2004." at a sentence end */
    if (w->periods > 0)
        return w->digits == 0 && dotted_acronym(s, a, b);
    if (letters == 1 && w->digits == 0 && b - a <= 4)
        return 1; /* an initial: "J.", "p." (one letter, maybe with a mark) */
    abbrev_class c = nlpd__model_abbrev(tz->m, s + a, b - a);
    if (c == ABBR_NONE)
        return 0;
    if (c == ABBR_NUMBER)
        return next_visible(tz, b + 1) == CC_DIGIT;
    return 1;
}

/* Scans a word from p; returns its end and fills *w. Stops before a clitic
 * or "n't", and takes an abbreviation's final period. */
static size_t
scan_word(tokenizer *tz, size_t p, size_t cend, word_info *w, uint8_t *flags)
{
    const char *s = tz->s;
    size_t start = p;
    memset(w, 0, sizeof(*w));
    char_class prev = CC_SPACE;
    while (p < cend) {
        /* The common case first: a run of ASCII lower-case letters other
         * than n (which may begin "n't"). */
        if ((unsigned char)(s[p] - 'a') < 26 && s[p] != 'n') {
            size_t q = p + 1;
            while (q < cend && (unsigned char)(s[q] - 'a') < 26 && s[q] != 'n')
                q++;
            w->lower += (unsigned)(q - p);
            prev = CC_LOWER;
            p = q;
            continue;
        }
        int32_t cp;
        size_t n;
        char_class c = char_at(s, p, cend, &cp, &n);
        switch (c) {
        case CC_UPPER:
            if (cp == 'N' && p > start && prev != CC_DIGIT && nt_at(s, p, cend) > 0)
                return p;
            if (p == start)
                w->first_upper = 1;
            w->upper++;
            break;
        case CC_LOWER:
            /* "n't": the word stops before the n. */
            if ((cp == 'n' || cp == 'N') && p > start && prev != CC_DIGIT) {
                size_t nt = nt_at(s, p, cend);
                if (nt > 0)
                    return p;
            }
            w->lower++;
            break;
        case CC_LETTER:
            w->caseless++;
            break;
        case CC_DIGIT:
            w->digits++;
            break;
        case CC_MARK:
            break; /* stays with the character before it */
        default: {
            /* A joiner stays when a letter or digit follows it. */
            if (p + n >= cend)
                goto stop;
            int32_t ncp;
            size_t nn;
            char_class nc = char_at(s, p + n, cend, &ncp, &nn);
            if (is_apostrophe(cp)) {
                if (clitic_at(s, p, cend) > 0)
                    goto stop;
                if (is_letter_class(prev) && is_letter_class(nc)) {
                    w->other++;
                    break;
                }
                goto stop;
            }
            if (is_hyphen(cp) || cp == '_' || cp == '&') {
                if (is_alnum_class(prev) && is_alnum_class(nc) &&
                    (cp != '&' || (prev == CC_UPPER && nc == CC_UPPER))) {
                    w->other++;
                    break;
                }
                goto stop;
            }
            if (cp == '.') {
                /* "quality.You'll": a sentence glued to the next, not a
                 * name with a dot in it ("U.S", "example.com"). */
                if (nc == CC_UPPER && w->periods == 0 && w->upper == 0 && w->lower >= 3 &&
                    w->digits == 0)
                    goto stop;
                if ((prev == CC_DIGIT && nc == CC_DIGIT) ||
                    (is_letter_class(prev) && is_alnum_class(nc))) {
                    w->periods++;
                    break;
                }
                goto stop;
            }
            if (cp == ',' || cp == ':' || cp == '/') {
                if (prev == CC_DIGIT && nc == CC_DIGIT) {
                    if (cp == ':')
                        w->colons++;
                    else
                        w->other++;
                    break;
                }
                goto stop;
            }
            if (cp == 0x00B0 && is_alnum_class(prev)) { /* "25°C", "N°" */
                w->other++;
                break;
            }
            goto stop;
        }
        }
        prev = c;
        p += n;
    }
stop:
    if (p < cend && s[p] == '%' && w->digits > 0 && prev == CC_DIGIT) {
        w->percent = 1;
        return p + 1;
    }
    if (p < cend && s[p] == '.' && p > start && keeps_period(tz, start, p, w)) {
        /* Not when more periods follow ("etc..." keeps its ellipsis). */
        if (!(p + 1 < tz->end && s[p + 1] == '.')) {
            *flags |= NLPD_TOKEN_ABBREV;
            return p + 1;
        }
    }
    return p;
}

/* --- Whole-chunk tokens: URLs, e-mail addresses, handles, tags ------------------- */

static int
ascii_prefix_ci(const char *s, size_t p, size_t end, const char *lit)
{
    size_t n = strlen(lit);
    if (end - p < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)(s[p + i] | 0x20) != (unsigned char)lit[i])
            return 0;
    return 1;
}

/* Trailing characters that end a sentence or close a bracket, not a URL. */
static size_t
trim_trailing(const char *s, size_t a, size_t b)
{
    int open = 0;
    for (size_t i = a; i < b; i++)
        open += s[i] == '(' ? 1 : s[i] == ')' ? -1 : 0;
    while (b > a) {
        unsigned char c = (unsigned char)s[b - 1];
        if (c == ')' && open < 0) {
            open++;
            b--;
        } else if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' ||
                   c == '"' || c == '\'' || c == ']' || c == '>' || c == '}') {
            b--;
        } else if (c >= 0x80) {
            /* a closing typographic quote or bracket */
            size_t q = b - 1;
            while (q > a && ((unsigned char)s[q] & 0xC0) == 0x80)
                q--;
            int32_t cp;
            size_t n;
            char_class cc = char_at(s, q, b, &cp, &n);
            if ((cc == CC_CLOSE || cc == CC_PUNCT) && q + n == b)
                b = q;
            else
                break;
        } else {
            break;
        }
    }
    return b;
}

static int
url_char(unsigned char c)
{
    return c > ' ' && c != '<' && c != '>' && c != '"';
}

/* A URL at p (scheme:// or www.); returns its end (trimmed) or p. */
static size_t
url_at(const char *s, size_t p, size_t cend)
{
    size_t q = p;
    if (ascii_prefix_ci(s, p, cend, "www.")) {
        q = p + 4;
    } else {
        while (q < cend && q - p < 12 &&
               (((s[q] | 0x20) >= 'a' && (s[q] | 0x20) <= 'z') || s[q] == '+' || s[q] == '-'))
            q++;
        if (q == p || !ascii_prefix_ci(s, q, cend, "://"))
            return p;
        q += 3;
    }
    if (q >= cend || !(((s[q] | 0x20) >= 'a' && (s[q] | 0x20) <= 'z') ||
                       (s[q] >= '0' && s[q] <= '9') || (unsigned char)s[q] >= 0x80))
        return p;
    while (q < cend && (url_char((unsigned char)s[q])))
        q++;
    return trim_trailing(s, p, q);
}

static int
email_local(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int
domain_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-';
}

/* The longest local part and domain of an e-mail address (RFC 5321): the
 * bounds also keep a chunk with many failed candidates linear. */
#define EMAIL_LOCAL_MAX  64
#define EMAIL_DOMAIN_MAX 255

/* An e-mail address at p: local@domain.tld; returns its end or p. */
static size_t
email_at(const char *s, size_t p, size_t cend)
{
    size_t q = p;
    while (q < cend && q - p <= EMAIL_LOCAL_MAX && email_local((unsigned char)s[q]))
        q++;
    if (q == p || q >= cend || s[q] != '@' || s[p] == '.')
        return p;
    size_t d = ++q;
    while (q < cend && q - d <= EMAIL_DOMAIN_MAX && domain_char((unsigned char)s[q]))
        q++;
    /* A sentence's period or a dash after the address is not part of it. */
    while (q > d && (s[q - 1] == '.' || s[q - 1] == '-'))
        q--;
    size_t last_dot = q;
    while (last_dot > d && s[last_dot - 1] != '.')
        last_dot--;
    if (last_dot <= d + 1)
        return p; /* no dot in the domain, or nothing before it */
    /* the top-level domain: two letters or more */
    if (q - last_dot < 2)
        return p;
    for (size_t i = last_dot; i < q; i++)
        if (!(((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')))
            return p;
    return q;
}

/* "@name" or "#tag": the sigil then word characters. Returns its end or p. */
static size_t
tag_at(const tokenizer *tz, size_t p, size_t cend)
{
    size_t q = p + 1;
    size_t letters = 0;
    while (q < cend) {
        int32_t cp;
        size_t n;
        char_class c = char_at(tz->s, q, cend, &cp, &n);
        if (is_letter_class(c))
            letters++;
        else if (!(c == CC_DIGIT || c == CC_MARK || cp == '_'))
            break;
        q += n;
    }
    return letters > 0 ? q : p;
}

/* --- Punctuation and symbols ---------------------------------------------------- */

/* An emoji sequence from p: pictographs joined by ZWJ, with modifiers,
 * variation selectors and keycaps; regional indicators in pairs. */
static size_t
scan_emoji(const char *s, size_t p, size_t cend, int32_t first)
{
    size_t n;
    int32_t cp;
    char_at(s, p, cend, &cp, &n);
    size_t q = p + n;
    if (first >= 0x1F1E6 && first <= 0x1F1FF) {
        if (q < cend) {
            char_class c = char_at(s, q, cend, &cp, &n);
            if (c == CC_EMOJI && cp >= 0x1F1E6 && cp <= 0x1F1FF)
                q += n;
        }
        return q;
    }
    while (q < cend) {
        char_class c = char_at(s, q, cend, &cp, &n);
        if (c == CC_MARK || (cp >= 0x1F3FB && cp <= 0x1F3FF) || cp == 0x20E3) {
            q += n;
            if (cp == 0x200D && q < cend) { /* ZWJ: the next pictograph joins */
                char_class c2 = char_at(s, q, cend, &cp, &n);
                if (c2 == CC_EMOJI)
                    q += n;
            }
            continue;
        }
        break;
    }
    return q;
}

static uint8_t
punct_shape(char_class c)
{
    return c == CC_SYMBOL ? NLPD_SHAPE_SYMBOL
           : c == CC_EMOJI ? NLPD_SHAPE_EMOJI
           : (c == CC_OTHER || c == CC_INVALID || c == CC_MARK) ? NLPD_SHAPE_OTHER
                                                               : NLPD_SHAPE_PUNCT;
}

/* --- Chunks ------------------------------------------------------------------------- */

/* Tokenizes the chunk [p, cend) (no whitespace inside). */
static int
chunk(tokenizer *tz, size_t p, size_t cend)
{
    const char *s = tz->s;
    int rc;
    size_t at = SIZE_MAX; /* the next '@' at or after p (cend: none; SIZE_MAX: not looked) */
    int at_start = 1;   /* nothing but opening punctuation so far */
    int after_word = 0; /* the last token was a word */
    while (p < cend) {
        unsigned char b = (unsigned char)s[p];
        /* Whole tokens that other rules would cut. */
        if (!after_word && (tz->specials || b == '#' || b == 'w' || b == 'W')) {
            size_t q;
            if ((b == 'h' || b == 'H' || b == 'f' || b == 'F' || b == 'w' || b == 'W' ||
                 b == 's' || b == 'S' || b == 'm' || b == 'M') &&
                (q = url_at(s, p, cend)) > p) {
                if ((rc = emit(tz, p, q, NLPD_SHAPE_URL, 0)) != 0)
                    return rc;
                p = q;
                at_start = 0;
                continue;
            }
            if ((b == '@' || b == '#') && (q = tag_at(tz, p, cend)) > p) {
                if ((rc = emit(tz, p, q, b == '@' ? NLPD_SHAPE_HANDLE : NLPD_SHAPE_HASHTAG, 0)) !=
                    0)
                    return rc;
                p = q;
                at_start = 0;
                continue;
            }
            if (at == SIZE_MAX || at < p) { /* the chunk's next '@', found once per '@' */
                const char *a = memchr(s + p, '@', cend - p);
                at = a != NULL ? (size_t)(a - s) : cend;
            }
            if (b < 0x80 && email_local(b) && b != '.' && at < cend && at - p <= EMAIL_LOCAL_MAX &&
                (q = email_at(s, p, cend)) > p) {
                if ((rc = emit(tz, p, q, NLPD_SHAPE_EMAIL, 0)) != 0)
                    return rc;
                p = q;
                at_start = 0;
                continue;
            }
        }
        int32_t cp;
        size_t n;
        char_class c = char_at(s, p, cend, &cp, &n);
        after_word = 0;
        if (is_alnum_class(c)) {
            word_info w;
            uint8_t flags = 0;
            size_t q = scan_word(tz, p, cend, &w, &flags);
            if (q == p) {
                /* "n't" at the start of a word ("ca" was emitted) */
                size_t nt = nt_at(s, p, cend);
                q = p + (nt > 0 ? nt : n);
                if ((rc = emit(tz, p, q, NLPD_SHAPE_LOWER, NLPD_TOKEN_CLITIC)) != 0)
                    return rc;
                p = q;
                continue;
            }
            if ((rc = emit(tz, p, q, word_shape(&w), flags)) != 0)
                return rc;
            p = q;
            /* "n't" right after the word */
            size_t nt = nt_at(s, p, cend);
            if (nt > 0) {
                if ((rc = emit(tz, p, p + nt, NLPD_SHAPE_LOWER, NLPD_TOKEN_CLITIC)) != 0)
                    return rc;
                p += nt;
            } else {
                after_word = 1;
            }
            at_start = 0;
            continue;
        }
        if (is_apostrophe(cp) && !at_start && p > 0) {
            size_t cl = clitic_at(s, p, cend);
            if (cl > 0 && tz->out->n > 0 && tz->out->v[tz->out->n - 1].end == p) {
                uint8_t shape = (s[p + cl - 1] >= 'A' && s[p + cl - 1] <= 'Z') ? NLPD_SHAPE_UPPER
                                                                                : NLPD_SHAPE_LOWER;
                if ((rc = emit(tz, p, p + cl, shape, NLPD_TOKEN_CLITIC)) != 0)
                    return rc;
                p += cl;
                continue;
            }
        }
        if (is_terminal_cp(cp)) {
            /* A run of terminal punctuation is one token: "!!", "?!", "...". */
            size_t q = p + n;
            while (q < cend) {
                int32_t cp2;
                size_t n2;
                char_at(s, q, cend, &cp2, &n2);
                if (!is_terminal_cp(cp2))
                    break;
                q += n2;
            }
            if ((rc = emit(tz, p, q, NLPD_SHAPE_PUNCT, 0)) != 0)
                return rc;
            p = q;
            at_start = 0;
            continue;
        }
        if (c == CC_EMOJI) {
            size_t q = scan_emoji(s, p, cend, cp);
            if ((rc = emit(tz, p, q, NLPD_SHAPE_EMOJI, 0)) != 0)
                return rc;
            p = q;
            at_start = 0;
            continue;
        }
        /* Any other character is a token of its own; a run of dashes is one
         * token ("--"), and marks stay with what they follow. */
        size_t q = p + n;
        if (c == CC_DASH && cp == '-') {
            while (q < cend && s[q] == '-')
                q++;
        }
        while (q < cend) {
            int32_t cp2;
            size_t n2;
            if (char_at(s, q, cend, &cp2, &n2) != CC_MARK)
                break;
            q += n2;
        }
        if ((rc = emit(tz, p, q, punct_shape(c), 0)) != 0)
            return rc;
        if (c != CC_OPEN)
            at_start = 0;
        p = q;
    }
    return 0;
}

/* Scans the ASCII chunk from p: returns where it stops (whitespace,
 * control, DEL, a byte from 0x80, or `to`), the CB_* kinds of its bytes and
 * the position of its first byte that is no letter. (Eight
 * bytes at a time was measured slower: chunks are short.) */
static inline size_t
scan_ascii(const char *text, size_t p, size_t to, unsigned *kinds, size_t *first_other)
{
    unsigned k = 0;
    size_t q = p;
    uint16_t bits;
    while (q < to && ((bits = chunk_bits[(unsigned char)text[q]]) & CB_LETTER))
        k |= bits, q++;
    size_t fo = q;
    while (q < to && ((bits = chunk_bits[(unsigned char)text[q]]) & CB_IN))
        k |= bits, q++;
    *kinds = k;
    *first_other = fo;
    return q;
}

/* The shape of a word of ASCII letters [p, e); `kinds` says whether it
 * holds upper case at all. */
static inline uint8_t
letters_shape(const char *text, size_t p, size_t e, unsigned kinds)
{
    if (!(kinds & CB_UPPER))
        return NLPD_SHAPE_LOWER;
    size_t len = e - p, upper = 0;
    for (size_t q = p; q < e; q++)
        upper += (unsigned char)(text[q] - 'A') < 26;
    if (upper == len)
        return len >= 2 ? NLPD_SHAPE_UPPER : NLPD_SHAPE_CAPITALIZED;
    return upper == 1 && (unsigned char)(text[p] - 'A') < 26 ? NLPD_SHAPE_CAPITALIZED
                                                             : NLPD_SHAPE_MIXED;
}

/* The last byte of the chunk [p, ce), after letters: a mark that the
 * general path would make a token of its own, whatever the word. */
static inline int
lone_punct(const tokenizer *tz, size_t p, size_t ce)
{
    switch (tz->s[ce - 1]) {
    case ',':
    case ';':
    case ')':
    case ']':
    case '"':
    case '!':
    case '?':
        return 1;
    case '.':
        /* The period stays with an abbreviation (the general path decides
         * those); "n't" words never reach here (no apostrophe). */
        return !nlpd__abbrev_maybe(tz->af, tz->s + p, ce - 1 - p) ||
               nlpd__model_abbrev(tz->m, tz->s + p, ce - 1 - p) == ABBR_NONE;
    default:
        return 0;
    }
}

/* --- Byte masks -------------------------------------------------------------------- */

/* What the common case needs of 64 bytes of text from `base`, one bit per
 * byte (bit k for base + k): the bytes of ASCII chunks (0x21..0x7E; any
 * other byte, whitespace, control, DEL or UTF-8, stops one), the bytes
 * that are no ASCII letter, the upper-case ASCII letters, the bytes from
 * 0x80, and the single spaces before a chunk byte. Bytes past the region's
 * end read as NUL, so a chunk always stops there. With SSE2
 * (always there on x86-64) sixteen bytes are classified at a time; the
 * portable loop gives the same masks. */
typedef struct masks {
    size_t base;
    uint64_t in;        /* in an ASCII chunk: 0x21..0x7E */
    uint64_t nonletter; /* no ASCII letter */
    uint64_t upper;     /* A-Z */
    uint64_t high;      /* from 0x80: UTF-8 */
    uint64_t space1;    /* ' ' with a chunk byte after it in the window */
    uint64_t digit;     /* 0-9 */
    uint64_t hyphen;    /* '-' */
} masks;

#define MASK_BYTES 64

static void
masks_scalar(masks *mk, const unsigned char *b)
{
    uint64_t in = 0, nonletter = 0, upper = 0, high = 0, space = 0, digit = 0, hyphen = 0;
    for (unsigned k = 0; k < MASK_BYTES; k++) {
        unsigned c = b[k];
        uint64_t bit = (uint64_t)1 << k;
        if ((unsigned)(c - '0') < 10)
            digit |= bit;
        if (c == '-')
            hyphen |= bit;
        if (c > 0x20 && c < 0x7F)
            in |= bit;
        if ((unsigned)((c | 0x20) - 'a') >= 26)
            nonletter |= bit;
        if ((unsigned)(c - 'A') < 26)
            upper |= bit;
        if (c >= 0x80)
            high |= bit;
        if (c == ' ')
            space |= bit;
    }
    mk->in = in;
    mk->nonletter = nonletter;
    mk->upper = upper;
    mk->high = high;
    mk->space1 = space & (in >> 1);
    mk->digit = digit;
    mk->hyphen = hyphen;
}

#ifdef __SSE2__
static inline __attribute__((always_inline)) void
masks_sse2(masks *mk, const unsigned char *b)
{
    const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7F);
    const __m128i a1 = _mm_set1_epi8('a' - 1), z1 = _mm_set1_epi8('z' + 1);
    const __m128i A1 = _mm_set1_epi8('A' - 1), Z1 = _mm_set1_epi8('Z' + 1);
    const __m128i d1 = _mm_set1_epi8('0' - 1), d2 = _mm_set1_epi8('9' + 1);
    const __m128i hy = _mm_set1_epi8('-');
    uint64_t in = 0, letter = 0, upper = 0, high = 0, space = 0, digit = 0, hyphen = 0;
    for (unsigned k = 0; k < MASK_BYTES; k += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + k));
        /* signed compares: bytes from 0x80 are negative, so never "in" */
        __m128i inb = _mm_andnot_si128(_mm_cmpeq_epi8(x, del), _mm_cmpgt_epi8(x, sp));
        __m128i y = _mm_or_si128(x, sp);
        __m128i let = _mm_and_si128(_mm_cmpgt_epi8(y, a1), _mm_cmplt_epi8(y, z1));
        __m128i up = _mm_and_si128(_mm_cmpgt_epi8(x, A1), _mm_cmplt_epi8(x, Z1));
        in |= (uint64_t)(uint32_t)_mm_movemask_epi8(inb) << k;
        letter |= (uint64_t)(uint32_t)_mm_movemask_epi8(let) << k;
        upper |= (uint64_t)(uint32_t)_mm_movemask_epi8(up) << k;
        high |= (uint64_t)(uint32_t)_mm_movemask_epi8(x) << k;
        space |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, sp)) << k;
        __m128i dg = _mm_and_si128(_mm_cmpgt_epi8(x, d1), _mm_cmplt_epi8(x, d2));
        digit |= (uint64_t)(uint32_t)_mm_movemask_epi8(dg) << k;
        hyphen |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, hy)) << k;
    }
    mk->in = in;
    mk->nonletter = ~letter;
    mk->upper = upper;
    mk->high = high;
    mk->space1 = space & (in >> 1);
    mk->digit = digit;
    mk->hyphen = hyphen;
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_PATH 1

/* The same with AVX2, 32 bytes at a time (chosen at run time). */
static inline __attribute__((target("avx2"), always_inline)) void
masks_avx2(masks *mk, const unsigned char *b)
{
    /* Ranges by one signed compare: x + (0x80 - lo) < 0x80 - 0x80 + n
     * holds when lo <= x < lo + n (bytes from 0x80 fall outside). */
    const __m256i sp = _mm256_set1_epi8(0x20), del = _mm256_set1_epi8(0x7F);
    const __m256i la = _mm256_set1_epi8((char)(0x80 - 'a')),
                  ua = _mm256_set1_epi8((char)(0x80 - 'A'));
    const __m256i da = _mm256_set1_epi8((char)(0x80 - '0'));
    const __m256i n26 = _mm256_set1_epi8((char)(-128 + 26)),
                  n10 = _mm256_set1_epi8((char)(-128 + 10));
    const __m256i hy = _mm256_set1_epi8('-');
    uint64_t m[7][2];
    for (unsigned k = 0; k < 2; k++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(b + 32 * k));
        __m256i inb = _mm256_andnot_si256(_mm256_cmpeq_epi8(x, del), _mm256_cmpgt_epi8(x, sp));
        __m256i let = _mm256_cmpgt_epi8(n26, _mm256_add_epi8(_mm256_or_si256(x, sp), la));
        __m256i up = _mm256_cmpgt_epi8(n26, _mm256_add_epi8(x, ua));
        __m256i dg = _mm256_cmpgt_epi8(n10, _mm256_add_epi8(x, da));
        m[0][k] = (uint32_t)_mm256_movemask_epi8(inb);
        m[1][k] = (uint32_t)_mm256_movemask_epi8(let);
        m[2][k] = (uint32_t)_mm256_movemask_epi8(up);
        m[3][k] = (uint32_t)_mm256_movemask_epi8(x);
        m[4][k] = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, sp));
        m[5][k] = (uint32_t)_mm256_movemask_epi8(dg);
        m[6][k] = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, hy));
    }
    uint64_t in = m[0][0] | m[0][1] << 32;
    mk->in = in;
    mk->nonletter = ~(m[1][0] | m[1][1] << 32);
    mk->upper = m[2][0] | m[2][1] << 32;
    mk->high = m[3][0] | m[3][1] << 32;
    mk->space1 = (m[4][0] | m[4][1] << 32) & (in >> 1);
    mk->digit = m[5][0] | m[5][1] << 32;
    mk->hyphen = m[6][0] | m[6][1] << 32;
}
#endif

/* How the masks are made: byte by byte, SSE2, AVX2. */
enum { ISA_SCALAR = 1, ISA_SSE2 = 2, ISA_AVX2 = 3 };

/* The 64 bytes the masks of [p, p + 64) are made from: the text, or near
 * the region's end a copy in pad with NUL from `to` on, so that no load
 * reads at or past `to`. */
static inline __attribute__((always_inline)) const unsigned char *
masks_bytes(const char *text, size_t p, size_t to, unsigned char *pad)
{
    const unsigned char *b = (const unsigned char *)text + p;
    if (to - p < MASK_BYTES) {
        memset(pad, 0, MASK_BYTES);
        memcpy(pad, b, to - p);
        b = pad;
    }
    return b;
}

#ifdef HAVE_AVX2_PATH
/* Not noinline: the compiler inlines it into mask_words_avx2 (the same
 * target), where its constants stay in registers across windows. */
static __attribute__((target("avx2,bmi,bmi2"))) void
masks_load_avx2(masks *mk, const char *text, size_t p, size_t to)
{
    unsigned char pad[MASK_BYTES];
    masks_avx2(mk, masks_bytes(text, p, to, pad));
    mk->base = p;
}
#endif

#ifdef __SSE2__
static __attribute__((noinline)) void
masks_load_sse2(masks *mk, const char *text, size_t p, size_t to)
{
    unsigned char pad[MASK_BYTES];
    masks_sse2(mk, masks_bytes(text, p, to, pad));
    mk->base = p;
}
#endif

static __attribute__((noinline)) void
masks_load_scalar(masks *mk, const char *text, size_t p, size_t to)
{
    unsigned char pad[MASK_BYTES];
    masks_scalar(mk, masks_bytes(text, p, to, pad));
    mk->base = p;
}

/* The shape of a word of ASCII letters of `len` bytes whose upper-case
 * letters are the bits of `ur` (bit 0 its first byte, rng its bits). */
static inline uint8_t
mask_shape(uint64_t ur, uint64_t rng, size_t len)
{
    if (ur == 0)
        return NLPD_SHAPE_LOWER;
    if (ur == rng)
        return len >= 2 ? NLPD_SHAPE_UPPER : NLPD_SHAPE_CAPITALIZED;
    return ur == 1 ? NLPD_SHAPE_CAPITALIZED : NLPD_SHAPE_MIXED;
}

/* The marks that may end a chunk after a word, a number or a clitic, each
 * a token of its own whatever comes before it: m1 the first, m2 a second. */
static inline int
tail_mark1(unsigned char c)
{
    return c == ',' || c == ';' || c == ')' || c == ']' || c == '"' || c == '!' || c == '?' ||
           c == '.' || c == ':' || c == '\'';
}

static inline int
tail_mark2(unsigned char c)
{
    return c == '"' || c == ')' || c == ']' || c == ',' || c == '.' || c == ';' || c == ':' ||
           c == '\'' || c == '!' || c == '?';
}

static inline int
terminal_byte(unsigned char c)
{
    return c == '.' || c == '!' || c == '?';
}

/* More chunks from the masks, the ones the general path reads the same
 * way: one mark alone, a run of ". ! ?"; an opening '"', '(', '[' or '\'', then a word of ASCII
 * letters with hyphens between letters ("well-known") or a number of digits (maybe with '%'), then
 * maybe a clitic ("'s", "'re"), then at most two marks (tail_mark1, tail_mark2; not two of ". ! ?",
 * which make one token); or a run of hyphens. The chunk is [p, p + len), ASCII, inside the window;
 * the masks are shifted to p. Writes its tokens to v (the last one gets
 * `flags`) and returns how many, or 0 when the general path must read
 * the chunk. */
static __attribute__((noinline)) size_t
mask_more(const tokenizer *tz, nlpd_split_token *v, size_t p, size_t len, uint64_t nl, uint64_t ur,
          uint64_t dg, uint64_t hy, uint8_t flags)
{
    const unsigned char *c = (const unsigned char *)tz->s + p;
    uint64_t rng = ((uint64_t)1 << len) - 1;
    uint64_t let = ~nl & rng;
    dg &= rng;
    hy &= rng;
    size_t k = 0, nt = 0;
    if (hy == rng) {
        v[0] = (nlpd_split_token){(uint32_t)p, (uint32_t)(p + len), NLPD_SHAPE_PUNCT, flags, 0};
        return 1; /* "-", "--" */
    }
    if (((let | dg) & 1) == 0) {
        /* A mark alone (text written with spaces around its marks), or
         * a run of ". ! ?" ("...", "?!"): one token. */
        size_t q = 0;
        while (q < len && terminal_byte(c[q]))
            q++;
        if (len == 1 || q == len) {
            uint8_t shape = len == 1 && nlpd__ascii_class[c[0]] == CC_SYMBOL ? NLPD_SHAPE_SYMBOL
                                                                             : NLPD_SHAPE_PUNCT;
            v[0] = (nlpd_split_token){(uint32_t)p, (uint32_t)(p + len), shape, flags, 0};
            return 1;
        }
    }
    if ((c[0] == '"' || c[0] == '(' || c[0] == '[' || c[0] == '\'') && len >= 2) {
        v[nt++] = (nlpd_split_token){(uint32_t)p, (uint32_t)p + 1, NLPD_SHAPE_PUNCT, 0, 0};
        k = 1;
    }
    size_t k1;
    uint8_t shape;
    int word = 0, nt_end = 0; /* nt_end: the word ends in "n't" */
    if ((let >> k) & 1) {
        /* letters, and hyphens with a letter on either side */
        k1 = k + (size_t)__builtin_ctzll(~((let | hy) >> k));
        uint64_t core = (((uint64_t)1 << k1) - 1) & ~(((uint64_t)1 << k) - 1);
        if ((hy & core) & ~((let >> 1) & (let << 1)))
            return 0;
        if (k1 < len && ((dg >> k1) & 1)) {
            /* letters, then digits: "V8", "ITV1", "A380s" (no hyphen) */
            if (hy & core)
                return 0;
            k1 = k + (size_t)__builtin_ctzll(~((let | dg) >> k));
            shape = NLPD_SHAPE_ALNUM;
            goto alnum;
        }
        if (k1 + 1 < len && c[k1] == '\'' && k1 - 1 > k && (c[k1 - 1] | 0x20) == 'n' &&
            (c[k1 + 1] | 0x20) == 't' && (hy & core) == 0 && !((let >> (k1 + 2)) & 1)) {
            /* "n't" after letters: the word stops before its n (nt_at) */
            k1--;
            core &= ~((uint64_t)1 << k1);
            nt_end = 1;
        }
        uint64_t u = ur & core, l = let & core;
        if (u == 0)
            shape = NLPD_SHAPE_LOWER;
        else if (u == l)
            shape = (l & (l - 1)) != 0 ? NLPD_SHAPE_UPPER : NLPD_SHAPE_CAPITALIZED;
        else
            shape = u == ((uint64_t)1 << k) ? NLPD_SHAPE_CAPITALIZED : NLPD_SHAPE_MIXED;
        word = 1;
    } else if ((dg >> k) & 1) {
        k1 = k + (size_t)__builtin_ctzll(~(dg >> k));
        /* "2,500", "55.3": a ',' or '.' between two digits joins them */
        while (k1 + 1 < len && (c[k1] == ',' || c[k1] == '.') && ((dg >> (k1 + 1)) & 1))
            k1 += 1 + (size_t)__builtin_ctzll(~(dg >> (k1 + 1)));
        shape = NLPD_SHAPE_NUMBER;
        if (k1 < len && c[k1] == '%') {
            k1++; /* "3%" is one token */
        } else if (k1 < len && ((let >> k1) & 1)) {
            /* then letters: "21st", "400m", "2.9bn" */
            k1 += (size_t)__builtin_ctzll(~((let | dg) >> k1));
            shape = NLPD_SHAPE_ALNUM;
        }
    } else {
        return 0;
    }
alnum:
    if (shape == NLPD_SHAPE_ALNUM && k1 < len && c[k1] == '.')
        return 0; /* "1960s.": the general code asks the abbreviations */
    size_t cl = nt_end ? 3 : 0; /* a clitic's length */
    if (word && !nt_end && k1 + 1 < len && c[k1] == '\'') {
        size_t l = (size_t)__builtin_ctzll(~(let >> (k1 + 1)));
        if (l == 0 || !is_clitic_tail((const char *)c + k1 + 1, l))
            return 0;
        cl = 1 + l;
        if (k1 + cl < len && ((dg >> (k1 + cl)) & 1))
            return 0; /* a digit after it: no clitic */
    }
    size_t e = k1 + cl, r = len - e;
    if (r > 2)
        return 0;
    unsigned char m1 = r > 0 ? c[e] : 0, m2 = r > 1 ? c[e + 1] : 0;
    if (r > 0 && !tail_mark1(m1))
        return 0;
    if (r > 1 && (!tail_mark2(m2) || (terminal_byte(m1) && terminal_byte(m2))))
        return 0;
    if (m1 == '.' && word && cl == 0) {
        /* the period of an initial or an abbreviation stays with it */
        uint64_t l = let & (((uint64_t)1 << k1) - 1);
        if ((l & (l - 1)) == 0 ||
            (nlpd__abbrev_maybe(tz->af, (const char *)c + k, k1 - k) &&
             nlpd__model_abbrev(tz->m, (const char *)c + k, k1 - k) != ABBR_NONE))
            return 0;
    }
    v[nt++] = (nlpd_split_token){(uint32_t)(p + k), (uint32_t)(p + k1), shape, 0, 0};
    if (cl > 0) {
        uint8_t cs =
            !nt_end && c[e - 1] >= 'A' && c[e - 1] <= 'Z' ? NLPD_SHAPE_UPPER : NLPD_SHAPE_LOWER;
        v[nt++] =
            (nlpd_split_token){(uint32_t)(p + k1), (uint32_t)(p + e), cs, NLPD_TOKEN_CLITIC, 0};
    }
    for (size_t q = e; q < len; q++)
        v[nt++] =
            (nlpd_split_token){(uint32_t)(p + q), (uint32_t)(p + q + 1), NLPD_SHAPE_PUNCT, 0, 0};
    v[nt - 1].flags |= flags;
    return nt;
}

/* Sets bits [a, b) of a bit array. */
static inline void
set_bits(uint64_t *bits, size_t a, size_t b)
{
    if (a >= b)
        return;
    size_t wa = a >> 6, wb = (b - 1) >> 6;
    uint64_t lo = ~(uint64_t)0 << (a & 63), hi = ~(uint64_t)0 >> (63 - ((b - 1) & 63));
    if (wa == wb) {
        bits[wa] |= lo & hi;
        return;
    }
    bits[wa] |= lo;
    for (size_t w = wa + 1; w < wb; w++)
        bits[w] = ~(uint64_t)0;
    bits[wb] |= hi;
}

/* The masks from p by the ISA's own (not inlined) loader. */
static inline __attribute__((always_inline)) void
masks_load_isa(int isa, masks *mk, const char *text, size_t p, size_t to)
{
#ifdef HAVE_AVX2_PATH
    if (isa == ISA_AVX2) {
        masks_load_avx2(mk, text, p, to);
        return;
    }
#endif
#ifdef __SSE2__
    if (isa == ISA_SSE2) {
        masks_load_sse2(mk, text, p, to);
        return;
    }
#endif
    (void)isa;
    masks_load_scalar(mk, text, p, to);
}

/* The common case from the byte masks: from p (a chunk's start), chunks of
 * ASCII letters shorter than 64 bytes, alone or with one punctuation mark
 * after them ("word," "word." when no abbreviation), each followed by one
 * space and the next ASCII chunk. Returns where it stops: at the start of
 * a chunk the general path must read (*at_chunk 1), or at other
 * whitespace or the end (*at_chunk 0). Sets tz->rc on failure. */
static inline __attribute__((always_inline)) size_t
mask_words(tokenizer *tz, masks *mk, size_t p, int isa, int *at_chunk)
{
    nlpd__toks *out = tz->out;
    nlpd_split_token *v = out->v;
    size_t n = out->n, cap = out->cap;
    uint64_t *plain = out->plain;
    const char *text = tz->s;
    size_t to = tz->end;
    /* the masks in locals: the token stores could alias *mk */
    size_t base = mk->base;
    uint64_t in = mk->in, nonletter = mk->nonletter, upper = mk->upper, high = mk->high,
             space1 = mk->space1;
    /* Runs of lower-case words with one space between them: their bytes
     * (letters and those spaces), and the spaces. */
    uint64_t low = ~nonletter & ~upper;
    uint64_t spin = space1 & (low << 1) & (low >> 1), run = low | spin;
    int prev_ok = 0; /* this loop made the last token, and no rule looks at it unless for the
                        token after it (2: a name, see skip_plain) */
    int at = 1;
    for (;;) {
        size_t off = p - base;
        if (off + 1 >= MASK_BYTES) {
            /* A new window from p; room for the most tokens it can give. */
        load:
            if (cap - n < MASK_BYTES) {
                out->n = n;
                int rc = nlpd_grow((void **)&out->v, &out->cap, n + MASK_BYTES, sizeof(*out->v));
                if (rc != 0) {
                    tz->rc = rc;
                    break;
                }
                v = out->v;
                cap = out->cap;
            }
            masks_load_isa(isa, mk, text, p, to);
            base = p;
            in = mk->in;
            nonletter = mk->nonletter;
            upper = mk->upper;
            high = mk->high;
            space1 = mk->space1;
            low = ~nonletter & ~upper;
            spin = space1 & (low << 1) & (low >> 1);
            run = low | spin;
            off = 0;
        }
        if ((run >> off) & 1) {
            /* A run of lower-case words: a token per space, and the last
             * word too when a stop byte (ASCII) ends it. Each word but the
             * last has a space after it, so the one before it needs no
             * rule (plain bits). */
            uint64_t r = ~(run >> off);
            size_t rl = r != 0 ? (size_t)__builtin_ctzll(r) : MASK_BYTES;
            uint64_t sp = (spin >> off) & ((rl < MASK_BYTES ? (uint64_t)1 << rl : 0) - 1);
            if (sp != 0) {
                size_t n0 = n;
                size_t start = p;
                do {
                    size_t q = p + (size_t)__builtin_ctzll(sp);
                    sp &= sp - 1;
                    v[n++] = (nlpd_split_token){(uint32_t)start, (uint32_t)q, NLPD_SHAPE_LOWER,
                                                NLPD_TOKEN_SPACE_AFTER, 0};
                    start = q + 1;
                } while (sp != 0);
                /* marks: the token before each of these (the first only
                 * after a token this loop made) */
                set_bits(plain, prev_ok ? n0 - 1 : n0, n - 1);
                prev_ok = 1;
                p = start;
                size_t re = off + rl; /* where the run ends, in the window */
                off = p - base;
                if (re < MASK_BYTES && !(((in | high) >> re) & 1)) {
                    /* the last word, ended by whitespace or a control */
                    size_t ce = base + re;
                    unsigned flags = (unsigned)(space1 >> re) & 1;
                    if (ce - p > 2 || flags)
                        plain[(n - 1) >> 6] |= (uint64_t)1 << ((n - 1) & 63);
                    v[n++] = (nlpd_split_token){(uint32_t)p, (uint32_t)ce, NLPD_SHAPE_LOWER,
                                                (uint8_t)flags, 0};
                    p = ce + flags;
                    if (flags == 0) {
                        at = 0;
                        break;
                    }
                    continue;
                }
            }
        }
        uint64_t stop = ~(in >> off); /* bits past the window read as stops */
        if (stop == 0)
            break; /* 64 bytes of chunk */
        size_t len = (size_t)__builtin_ctzll(stop);
        if (off + len >= MASK_BYTES) {
            if (off == 0)
                break;
            goto load; /* the chunk runs past the window: look again from p */
        }
        uint64_t b = (uint64_t)1 << len; /* the byte that stops the chunk */
        if (((high >> off) | 1) & b)
            break; /* empty, or UTF-8 follows */
        uint64_t rng = b - 1;
        uint64_t nl = (nonletter >> off) & rng;
        uint64_t ur = (upper >> off) & rng;
        /* NLPD_TOKEN_SPACE_AFTER when one space, then a chunk */
        unsigned flags = (unsigned)(space1 >> (off + len)) & 1;
        size_t ce = p + len;
        /* The plain bits (boundary.c, skip_plain): a word or plain
         * punctuation with a space after it needs no rule when a lower-case
         * word of three letters or more, or with a space after it, follows;
         * the word before a lone mark needs none. */
        if (nl == 0) {
            uint8_t shape = mask_shape(ur, rng, len);
            if (prev_ok && (shape == NLPD_SHAPE_LOWER
                                ? (len > 2 || flags)
                                : (prev_ok == 2 && len > 2 && shape != NLPD_SHAPE_UPPER)))
                plain[(n - 1) >> 6] |= (uint64_t)1 << ((n - 1) & 63);
            /* 2: a name, before which another name needs no rule either */
            prev_ok =
                1 + (shape >= NLPD_SHAPE_CAPITALIZED && shape != NLPD_SHAPE_UPPER && len != 2);
            v[n] = (nlpd_split_token){(uint32_t)p, (uint32_t)ce, shape, (uint8_t)flags, 0};
            n++;
        } else if (nl == b >> 1 && len >= 3 && len <= NLPD__WORD_MAX && lone_punct(tz, p, ce)) {
            uint8_t shape = mask_shape(ur, rng >> 1, len - 1);
            if (prev_ok && len - 1 > 2 &&
                (shape == NLPD_SHAPE_LOWER || (prev_ok == 2 && shape != NLPD_SHAPE_UPPER)))
                plain[(n - 1) >> 6] |= (uint64_t)1 << ((n - 1) & 63);
            plain[n >> 6] |= (uint64_t)1 << (n & 63);
            v[n] = (nlpd_split_token){(uint32_t)p, (uint32_t)ce - 1, shape, 0, 0};
            unsigned char mark = (unsigned char)text[ce - 1];
            prev_ok = mark != '.' && mark != '!' && mark != '?';
            v[n + 1] = (nlpd_split_token){(uint32_t)ce - 1, (uint32_t)ce, NLPD_SHAPE_PUNCT,
                                          (uint8_t)flags, 0};
            n += 2;
        } else {
            size_t k = mask_more(tz, v + n, p, len, nl, ur, mk->digit >> off, mk->hyphen >> off,
                                 (uint8_t)flags);
            if (k == 0)
                break;
            n += k;
            prev_ok = 0;
        }
        p = ce + flags;
        if (flags == 0) {
            at = 0;
            break;
        }
    }
    out->n = n;
    *at_chunk = at;
    return p;
}

#ifdef HAVE_AVX2_PATH
static __attribute__((noinline, target("avx2,bmi,bmi2"))) size_t
mask_words_avx2(tokenizer *tz, masks *mk, size_t p, int *at_chunk)
{
    return mask_words(tz, mk, p, ISA_AVX2, at_chunk);
}
#endif

#ifdef __SSE2__
static __attribute__((noinline)) size_t
mask_words_sse2(tokenizer *tz, masks *mk, size_t p, int *at_chunk)
{
    return mask_words(tz, mk, p, ISA_SSE2, at_chunk);
}
#endif

static __attribute__((noinline)) size_t
mask_words_scalar(tokenizer *tz, masks *mk, size_t p, int *at_chunk)
{
    return mask_words(tz, mk, p, ISA_SCALAR, at_chunk);
}

/* mask_words by the ISA of `mode`. */
static inline size_t
mask_words_by(int mode, tokenizer *tz, masks *mk, size_t p, int *at_chunk)
{
#ifdef HAVE_AVX2_PATH
    if (mode == ISA_AVX2)
        return mask_words_avx2(tz, mk, p, at_chunk);
#endif
#ifdef __SSE2__
    if (mode == ISA_SSE2)
        return mask_words_sse2(tz, mk, p, at_chunk);
#endif
    return mask_words_scalar(tz, mk, p, at_chunk);
}

/* mode: 0 the general path alone, else the byte masks first, made by
 * mode's ISA_*. All give the same tokens. */
static inline int
tokenize(const nlpd_split_model *m, const nlpd__abbrev_filter *af, const char *text, size_t from,
         size_t to, nlpd__toks *out, int mode)
{
    tokenizer tz = {m, af, text, to, out, 0, 0};
    size_t p = from;
    masks mk = {SIZE_MAX / 2, 0, 0, 0, 0, 0, 0, 0};
    /* The plain bits of the tokens to come, all clear: a region of
     * to - from bytes makes at most that many tokens. */
    size_t words = (out->n + (to - from)) / 64 + 1;
    int rc0 = nlpd_grow((void **)&out->plain, &out->plain_cap, words, sizeof(*out->plain));
    if (rc0 != 0)
        return rc0;
    out->plain[out->n >> 6] &= ((uint64_t)1 << (out->n & 63)) - 1;
    memset(out->plain + (out->n >> 6) + 1, 0, (words - (out->n >> 6) - 1) * sizeof(*out->plain));
    while (p < to) {
        /* Whitespace. One space between two chunks is the common case. */
        if (p + 1 < to && text[p] == ' ' && (unsigned char)(text[p + 1] - 0x21) < 0x5E) {
            if (out->n > 0 && out->v[out->n - 1].end == p)
                out->v[out->n - 1].flags |= NLPD_TOKEN_SPACE_AFTER;
            p++;
        } else {
            size_t newlines = 0;
            size_t ws = p;
            for (;;) {
                while (p < to && (unsigned char)text[p] <= ' ') {
                    newlines += text[p] == '\n';
                    p++;
                }
                if (p < to && (unsigned char)text[p] >= 0x80) {
                    int32_t cp;
                    size_t n;
                    if (char_at(text, p, to, &cp, &n) == CC_SPACE) {
                        newlines += cp == 0x2029 ? 2 : cp == 0x2028;
                        p += n;
                        continue;
                    }
                }
                if (p < to && text[p] == 0x7F) {
                    p++;
                    continue;
                }
                break;
            }
            if (p > ws && out->n > 0 && out->v[out->n - 1].end == ws) {
                nlpd_split_token *t = &out->v[out->n - 1];
                t->flags |= NLPD_TOKEN_SPACE_AFTER;
                if (newlines > 0)
                    t->flags |= NLPD_TOKEN_NEWLINE_AFTER;
                if (newlines > 1)
                    t->flags |= NLPD_TOKEN_PARAGRAPH_AFTER;
            }
            if (p >= to)
                break;
        }
        /* The common case from the byte masks: a chunk of ASCII letters
         * shorter than 64 bytes, alone or with one punctuation mark after
         * it, then one space before the next chunk of ASCII. Runs of such
         * chunks stay in this loop. */
        if (mode != 0) {
            int at_chunk;
            p = mask_words_by(mode, &tz, &mk, p, &at_chunk);
            if (tz.rc != 0)
                return tz.rc;
            if (!at_chunk)
                continue;
        }
        /* The chunk: up to the next whitespace. On the way, note what
         * decides the common case: a chunk of ASCII letters alone is one
         * word, and only a chunk with ':' or '@' can hold a URL or an
         * e-mail address. */
        size_t first_other;
        unsigned kinds;
        size_t ce = scan_ascii(text, p, to, &kinds, &first_other);
        unsigned head = first_other + 1 >= ce ? (kinds & (CB_IN | CB_LOWER | CB_UPPER)) : CB_OTHER;
        kinds &= ~(unsigned)CB_LETTER;
        int specials = (kinds & CB_SPECIAL) != 0;
        if (ce < to && (unsigned char)text[ce] >= 0x80) {
            kinds |= CB_OTHER;
            head |= CB_OTHER;
            specials = 1;
            for (;;) {
                while (ce < to && (unsigned char)text[ce] > ' ' && (unsigned char)text[ce] < 0x7F)
                    ce++;
                if (ce >= to || (unsigned char)text[ce] < 0x80)
                    break; /* the end, or ASCII whitespace, control or DEL */
                int32_t cp;
                size_t n;
                if (char_at(text, ce, to, &cp, &n) == CC_SPACE)
                    break;
                ce += n;
            }
        }
        if ((kinds & ~(CB_IN | CB_LOWER | CB_UPPER)) == 0 && ce - p <= NLPD_SPLIT_MAX_TOKEN_BYTES) {
            int rc = emit(&tz, p, ce, letters_shape(text, p, ce, kinds), 0);
            if (rc != 0)
                return rc;
            p = ce;
            continue;
        }
        /* Letters and one punctuation mark that can only stand alone:
         * "word," "word)" "word." (when "word" is no abbreviation). */
        if (ce - p >= 3 && ce - p <= NLPD__WORD_MAX && (head & ~(CB_IN | CB_LOWER | CB_UPPER)) == 0 &&
            lone_punct(&tz, p, ce)) {
            int rc = emit(&tz, p, ce - 1, letters_shape(text, p, ce - 1, head), 0);
            if (rc == 0)
                rc = emit(&tz, ce - 1, ce, NLPD_SHAPE_PUNCT, 0);
            if (rc != 0)
                return rc;
            p = ce;
            continue;
        }
        tz.specials = specials;
        /* A chunk longer than a token may be is read in pieces, each cut
         * at a code point boundary, so no token outgrows the limit. */
        while (ce - p > NLPD_SPLIT_MAX_TOKEN_BYTES) {
            size_t cut = p + NLPD_SPLIT_MAX_TOKEN_BYTES;
            while (cut > p + 1 && ((unsigned char)text[cut] & 0xC0) == 0x80)
                cut--;
            int rc = chunk(&tz, p, cut);
            if (rc != 0)
                return rc;
            p = cut;
        }
        int rc = chunk(&tz, p, ce);
        if (rc != 0)
            return rc;
        p = ce;
    }
    return 0;
}

int
nlpd__tokenize(const nlpd_split_model *m, const nlpd__abbrev_filter *af, const char *text,
               size_t from, size_t to, nlpd__toks *out)
{
#ifdef HAVE_AVX2_PATH
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2"))
        return tokenize(m, af, text, from, to, out, ISA_AVX2);
#endif
#ifdef __SSE2__
    return tokenize(m, af, text, from, to, out, ISA_SSE2);
#else
    return tokenize(m, af, text, from, to, out, ISA_SCALAR);
#endif
}

const char *
nlpd__tokenize_path(void)
{
#ifdef HAVE_AVX2_PATH
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2"))
        return "byte masks with AVX2+BMI2";
#endif
#ifdef __SSE2__
    return "byte masks with SSE2";
#else
    return "byte masks made byte by byte";
#endif
}

int
nlpd__tokenize_mode(const nlpd_split_model *m, const char *text, size_t from, size_t to,
                    nlpd__toks *out, int mode)
{
#ifdef HAVE_AVX2_PATH
    if (mode >= ISA_AVX2 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2")))
        mode = ISA_SSE2;
#else
    if (mode >= ISA_AVX2)
        mode = ISA_SSE2;
#endif
#ifndef __SSE2__
    if (mode >= ISA_SSE2)
        mode = ISA_SCALAR;
#endif
    return tokenize(m, NULL, text, from, to, out, mode < 0 ? 0 : mode);
}
