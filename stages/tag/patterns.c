/* stages/tag/patterns.c — dates, times, money, percentages and numbers by
 * hand-written patterns over tokens (see patterns.h for the conventions).
 *
 * How it works. Each token gets a small class (tokc): for words, the roles
 * it can play from a keyword table (a month, a unit of time, a currency,
 * a temporal preposition, ...), looked up case-insensitively in place
 * (no copy) in a table bucketed by first letter; for tokens that start
 * with a digit, what the digits say ("1,250" grouped, "10:30" a time,
 * "5th" an ordinal, "1990s" a decade, "20m" a number with a magnitude,
 * "2024-06-04" a date...). Classes are computed lazily into a small ring
 * on the stack, so each token is classified about once.
 *
 * The scanner then walks the sentence left to right. At each token a
 * dispatcher picks the matchers its class can start ("the", a relative
 * word, a month, a weekday, a currency, a number...). Every matcher is a
 * little recursive-descent parser that looks at a bounded number of tokens
 * (at most ~20) and returns the length of what it recognized and its
 * label, or 0. The longest decision wins by construction (each matcher
 * extends as far as its grammar allows), the scanner jumps past a match
 * and tries the next token otherwise. Total time is linear.
 *
 * Some matches are "skips": a count of a measured quantity ("5 km"), a
 * phone number, a number inside a name ("Boeing 747"); they are consumed
 * so that no CARDINAL is reported inside them, and not emitted.
 */
#include "patterns.h"

#include "nlpd/tag.h"
#include "nlpd/types.h"

#include <stdint.h>
#include <string.h>

#define LAB_SKIP 255 /* consumed, not reported */

/* ---- keyword roles ------------------------------------------------------ */

#define R_MONTH    (1ull << 0)  /* val 1..12 */
#define R_WEEKDAY  (1ull << 1)  /* val 1..7 */
#define R_NUMW     (1ull << 2)  /* "two": val */
#define R_MAG      (1ull << 3)  /* "million": val = power of ten */
#define R_ORDW     (1ull << 4)  /* "third": val */
#define R_UNIT     (1ull << 5)  /* unit of time: .unit */
#define R_PARTDAY  (1ull << 6)  /* morning, evening, night */
#define R_SEASON   (1ull << 7)  /* summer */
#define R_RELDAY   (1ull << 8)  /* today, yesterday, tomorrow, tonight (val 1: TIME) */
#define R_REL      (1ull << 9)  /* this, last, next, past, coming, ... */
#define R_EDGE     (1ull << 10) /* early, late, mid, earlier, later */
#define R_POST     (1ull << 11) /* ago, earlier, later */
#define R_CURN     (1ull << 12) /* dollars, euros */
#define R_CURCODE  (1ull << 13) /* USD, Rs */
#define R_CURPFX   (1ull << 14) /* US, HK (before "$") */
#define R_CURSYM   (1ull << 15) /* $ £ € ... */
#define R_PCT      (1ull << 16) /* percent, pc, % */
#define R_AMPM     (1ull << 17) /* a.m., pm */
#define R_TZ       (1ull << 18) /* GMT, EST */
#define R_NOON     (1ull << 19) /* noon, midnight */
#define R_APPROX   (1ull << 20) /* about, nearly (one word) */
#define R_TPREP    (1ull << 21) /* in, since, by, until... (before a date) */
#define R_HOLIDAY  (1ull << 22) /* Christmas */
#define R_HOLPFX   (1ull << 23) /* Independence (Day), Good (Friday) */
#define R_EVERY    (1ull << 24) /* every, each */
#define R_ENDOF    (1ull << 25) /* end, beginning ... (of) */
#define R_FEW      (1ull << 26) /* few, several, couple */
#define R_MEASURE  (1ull << 27) /* km, miles, tonnes */
#define R_STREET   (1ull << 28) /* Street, Road */
#define R_IDPRE    (1ull << 29) /* version, No. */
#define R_FUNC     (1ull << 30) /* function words that may follow a year */
#define R_ONEDET   (1ull << 31) /* words before a pronoun "one" */
#define R_EVENTN   (1ull << 32) /* election, season: "the 2000 election" */
#define R_DECADEW  (1ull << 33) /* nineties */
#define R_AMBIG    (1ull << 34) /* May, March, fall, won, pounds: need context */
#define R_ABBR     (1ull << 35) /* Jan., Sept */
#define R_PLURAL   (1ull << 36) /* years, millions, dollars */
#define R_THEREL   (1ull << 37) /* relative words after "the": past, next, same */
#define R_ALONEREL (1ull << 38) /* relative words without "the": this, last, next */
#define R_PLMAG    (1ull << 39) /* hundreds, dozens, tens (of) */
#define R_FRAC     (1ull << 40) /* two-thirds */
#define R_POSS     (1ull << 41) /* its, their: "its 2004 results" */

/* Word ids, for the words the grammar names one by one. */
enum {
    W_NONE = 0,
    W_THE,
    W_A,
    W_OF,
    W_AND,
    W_OR,
    W_TO,
    W_PER,
    W_CENT,
    W_POINT,
    W_PERCENTAGE,
    W_SHARE,
    W_OLD,
    W_THAN,
    W_MORE,
    W_LESS,
    W_AT,
    W_LEAST,
    W_MOST,
    W_UP,
    W_AS,
    W_MANY,
    W_JUST,
    W_WELL,
    W_OVER,
    W_UNDER,
    W_CLOSE,
    W_HALF,
    W_DOZEN,
    W_ONE,
    W_OCLOCK,
    W_LOCAL,
    W_TIME,
    W_EVE,
    W_NEW,
    W_FISCAL,
    W_STERLING,
    W_ON,
    W_THIS,
    W_THAT,
    W_SAME,
    W_LAST,
    W_EARLY,
    W_LATE,
    W_MID,
    W_FIRST,
    W_ANOTHER,
    W_FOR,
    W_WITHIN,
    W_IN,
    W_BETWEEN,
    W_AGO,
    W_RECENT,
    W_COMING,
    W_YEAR, /* the unit, when the grammar needs the word itself */
    W_DAY,
    W_SEASONW,
    /* symbols and punctuation, set by classify() from the bytes */
    W_PCTSYM,
    W_DASH,
    W_COMMA,
    W_APOS,
    W_PERIOD,
    W_LPAREN,
    W_RPAREN,
    W_PLUS,
    W_HASH,
    W_SLASH,
};

/* Units of time (tokc.unit). */
enum {
    U_NONE = 0,
    U_SECOND,
    U_MINUTE,
    U_HOUR,
    U_DAY,
    U_WEEK,
    U_WEEKEND,
    U_FORTNIGHT,
    U_MONTH,
    U_QUARTER,
    U_YEAR,
    U_DECADE,
    U_CENTURY,
    U_HALF, /* "the first half (of)" */
};

static int
unit_is_time(unsigned u)
{
    return u == U_SECOND || u == U_MINUTE || u == U_HOUR;
}

typedef struct kw {
    const char *w; /* lower case */
    uint8_t len;
    uint8_t id;
    uint8_t unit;
    int16_t val;
    uint64_t roles;
} kw;

#define K(word, id, unit, val, roles)                           \
    {                                                           \
        word, (uint8_t)(sizeof(word) - 1), id, unit, val, roles \
    }
#define KR(word, roles)       K(word, W_NONE, U_NONE, 0, roles)
#define KN(word, val)         K(word, W_NONE, U_NONE, val, R_NUMW)
#define KO(word, val)         K(word, W_NONE, U_NONE, val, R_ORDW)
#define KU(word, unit, roles) K(word, W_NONE, unit, 0, R_UNIT | (roles))
#define KM(word, val)         K(word, W_NONE, U_NONE, val, R_MONTH)
#define KMA(word, val)        K(word, W_NONE, U_NONE, val, R_MONTH | R_ABBR)
#define KC(word)              K(word, W_NONE, U_NONE, 0, R_CURN | R_PLURAL)
#define KC1(word)             K(word, W_NONE, U_NONE, 0, R_CURN)

/* Temporal prepositions (a year or an ambiguous month may follow). */
#define TP (R_TPREP | R_FUNC)

/* The keyword table, one group per first letter; within a group the order
 * does not matter. Lower case; a token matches case-insensitively. */
/* The keyword table: lower case, matched case-insensitively. Grouped by
 * first letter for the reader; the order does not matter, but kw_slots
 * below indexes it by hash and must be regenerated when it changes (the
 * unit test checks it): nlpd-tag-patterns-eval --keyword-slots. */
static const kw kw_all[] = {
    /* a */
    K("a", W_A, 0, 1, R_FUNC | R_ONEDET),
    K("an", W_A, 0, 1, R_FUNC),
    K("ago", W_AGO, 0, 0, R_POST),
    K("about", W_NONE, 0, 0, R_APPROX),
    K("around", W_NONE, 0, 0, R_APPROX | TP),
    K("almost", W_NONE, 0, 0, R_APPROX),
    K("approximately", W_NONE, 0, 0, R_APPROX),
    K("and", W_AND, 0, 0, R_FUNC),
    K("as", W_AS, 0, 0, R_FUNC),
    K("at", W_AT, 0, 0, R_FUNC),
    K("after", W_NONE, 0, 0, TP),
    K("another", W_ANOTHER, 0, 0, R_ONEDET),
    K("any", W_NONE, 0, 0, R_ONEDET),
    K("afternoon", W_NONE, 0, 0, R_PARTDAY),
    K("afternoons", W_NONE, 0, 0, R_PARTDAY | R_PLURAL),
    K("autumn", W_NONE, 0, 0, R_SEASON),
    KM("april", 4),
    KMA("apr.", 4),
    KMA("apr", 4),
    K("august", W_NONE, 0, 8, R_MONTH | R_AMBIG),
    KMA("aug.", 8),
    KMA("aug", 8),
    K("a.m.", W_NONE, 0, 0, R_AMPM),
    K("a.m", W_NONE, 0, 0, R_AMPM),
    K("am", W_NONE, 0, 0, R_AMPM | R_AMBIG),
    K("am.", W_NONE, 0, 0, R_AMPM | R_AMBIG),
    KC1("afghani"),
    K("armistice", W_NONE, 0, 0, R_HOLPFX),
    K("anzac", W_NONE, 0, 0, R_HOLPFX),
    K("ash", W_NONE, 0, 0, R_HOLPFX),
    K("acres", W_NONE, 0, 0, R_MEASURE),
    K("acre", W_NONE, 0, 0, R_MEASURE),
    K("aed", W_NONE, 0, 0, R_CURCODE),
    K("aud", W_NONE, 0, 0, R_CURCODE),
    K("alone", W_NONE, 0, 0, R_FUNC),
    K("avenue", W_NONE, 0, 0, R_STREET),
    K("ave", W_NONE, 0, 0, R_STREET),
    K("ave.", W_NONE, 0, 0, R_STREET),
    /* b */
    K("by", W_NONE, 0, 0, TP),
    K("before", W_NONE, 0, 0, TP),
    K("between", W_BETWEEN, 0, 0, TP),
    K("beginning", W_NONE, 0, 0, R_ENDOF),
    K("billion", W_NONE, 0, 9, R_MAG),
    K("billions", W_NONE, 0, 9, R_PLMAG | R_PLURAL),
    K("bn", W_NONE, 0, 9, R_MAG),
    K("but", W_NONE, 0, 0, R_FUNC),
    K("baht", W_NONE, 0, 0, R_CURN),
    K("barrels", W_NONE, 0, 0, R_MEASURE),
    K("barrel", W_NONE, 0, 0, R_MEASURE),
    K("boxing", W_NONE, 0, 0, R_HOLPFX),
    K("bastille", W_NONE, 0, 0, R_HOLPFX),
    K("black", W_NONE, 0, 0, R_HOLPFX),
    K("budget", W_NONE, 0, 0, R_EVENTN),
    K("boulevard", W_NONE, 0, 0, R_STREET),
    K("blvd", W_NONE, 0, 0, R_STREET),
    K("blvd.", W_NONE, 0, 0, R_STREET),
    K("bst", W_NONE, 0, 0, R_TZ),
    K("brl", W_NONE, 0, 0, R_CURCODE),
    /* c */
    K("cent", W_CENT, 0, 0, R_CURN),
    K("cents", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("century", W_NONE, U_CENTURY, 0, R_UNIT),
    K("centuries", W_NONE, U_CENTURY, 0, R_UNIT | R_PLURAL),
    K("coming", W_COMING, 0, 0, R_REL | R_THEREL | R_ALONEREL),
    K("current", W_NONE, 0, 0, R_REL | R_THEREL),
    K("close", W_CLOSE, 0, 0, R_ENDOF),
    K("couple", W_NONE, 0, 2, R_FEW),
    K("christmas", W_NONE, 0, 0, R_HOLIDAY),
    K("cyber", W_NONE, 0, 0, R_HOLPFX),
    K("census", W_NONE, 0, 0, R_EVENTN),
    K("campaign", W_NONE, 0, 0, R_EVENTN),
    K("championship", W_NONE, 0, 0, R_EVENTN),
    K("championships", W_NONE, 0, 0, R_EVENTN),
    K("crisis", W_NONE, 0, 0, R_EVENTN),
    K("circa", W_NONE, 0, 0, TP),
    K("crore", W_NONE, 0, 7, R_MAG),
    K("crores", W_NONE, 0, 7, R_PLMAG | R_PLURAL),
    K("cm", W_NONE, 0, 0, R_MEASURE),
    K("cet", W_NONE, 0, 0, R_TZ),
    K("cest", W_NONE, 0, 0, R_TZ),
    K("cst", W_NONE, 0, 0, R_TZ),
    K("cdt", W_NONE, 0, 0, R_TZ),
    K("chf", W_NONE, 0, 0, R_CURCODE),
    K("cny", W_NONE, 0, 0, R_CURCODE),
    K("cad", W_NONE, 0, 0, R_CURCODE),
    K("c", W_NONE, 0, 0, R_CURPFX),
    K("court", W_NONE, 0, 0, R_STREET),
    K("crowns", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("cubic", W_NONE, 0, 0, R_MEASURE),
    /* d */
    K("day", W_DAY, U_DAY, 0, R_UNIT),
    K("days", W_NONE, U_DAY, 0, R_UNIT | R_PLURAL),
    K("decade", W_NONE, U_DECADE, 0, R_UNIT),
    K("decades", W_NONE, U_DECADE, 0, R_UNIT | R_PLURAL),
    K("december", W_NONE, 0, 12, R_MONTH),
    KMA("dec.", 12),
    KMA("dec", 12),
    K("during", W_NONE, 0, 0, TP),
    K("dozen", W_DOZEN, 0, 12, R_NUMW),
    K("dozens", W_NONE, 0, 1, R_PLMAG | R_PLURAL),
    K("dollar", W_NONE, 0, 0, R_CURN),
    K("dollars", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("dinars", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("dinar", W_NONE, 0, 0, R_CURN),
    K("dirhams", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("dirham", W_NONE, 0, 0, R_CURN),
    K("degrees", W_NONE, 0, 0, R_MEASURE),
    K("degree", W_NONE, 0, 0, R_MEASURE),
    K("diwali", W_NONE, 0, 0, R_HOLIDAY),
    K("drive", W_NONE, 0, 0, R_STREET),
    /* e */
    K("early", W_EARLY, 0, 0, R_EDGE),
    K("earlier", W_NONE, 0, 0, R_EDGE | R_POST),
    K("end", W_NONE, 0, 0, R_ENDOF),
    K("every", W_NONE, 0, 0, R_EVERY | R_ONEDET),
    K("each", W_NONE, 0, 0, R_EVERY | R_ONEDET),
    K("evening", W_NONE, 0, 0, R_PARTDAY),
    K("evenings", W_NONE, 0, 0, R_PARTDAY | R_PLURAL),
    K("eight", W_NONE, 0, 8, R_NUMW),
    K("eighteen", W_NONE, 0, 18, R_NUMW),
    K("eighty", W_NONE, 0, 80, R_NUMW),
    K("eleven", W_NONE, 0, 11, R_NUMW),
    K("eighth", W_NONE, 0, 8, R_ORDW),
    K("eleventh", W_NONE, 0, 11, R_ORDW),
    K("eighteenth", W_NONE, 0, 18, R_ORDW),
    K("eightieth", W_NONE, 0, 80, R_ORDW),
    K("eighties", W_NONE, 0, 80, R_DECADEW),
    K("euro", W_NONE, 0, 0, R_CURN),
    K("euros", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("eur", W_NONE, 0, 0, R_CURCODE),
    K("easter", W_NONE, 0, 0, R_HOLIDAY | R_HOLPFX),
    K("eid", W_NONE, 0, 0, R_HOLIDAY),
    K("eve", W_EVE, 0, 0, 0),
    K("election", W_NONE, 0, 0, R_EVENTN | R_HOLPFX),
    K("elections", W_NONE, 0, 0, R_EVENTN),
    K("edition", W_NONE, 0, 0, R_EVENTN),
    K("est", W_NONE, 0, 0, R_TZ),
    K("edt", W_NONE, 0, 0, R_TZ),
    K("et", W_NONE, 0, 0, R_TZ),
    /* f */
    K("few", W_NONE, 0, 3, R_FEW),
    K("fewer", W_LESS, 0, 0, 0),
    K("for", W_FOR, 0, 0, R_FUNC),
    K("from", W_NONE, 0, 0, TP),
    K("following", W_NONE, 0, 0, R_REL | R_THEREL),
    K("fiscal", W_FISCAL, 0, 0, 0),
    K("fortnight", W_NONE, U_FORTNIGHT, 0, R_UNIT),
    K("fall", W_NONE, 0, 0, R_SEASON | R_AMBIG),
    K("first", W_FIRST, 0, 1, R_ORDW),
    K("fifth", W_NONE, 0, 5, R_ORDW),
    K("fourth", W_NONE, 0, 4, R_ORDW),
    K("fourteenth", W_NONE, 0, 14, R_ORDW),
    K("fifteenth", W_NONE, 0, 15, R_ORDW),
    K("fortieth", W_NONE, 0, 40, R_ORDW),
    K("fiftieth", W_NONE, 0, 50, R_ORDW),
    K("four", W_NONE, 0, 4, R_NUMW),
    K("five", W_NONE, 0, 5, R_NUMW),
    K("fourteen", W_NONE, 0, 14, R_NUMW),
    K("fifteen", W_NONE, 0, 15, R_NUMW),
    K("forty", W_NONE, 0, 40, R_NUMW),
    K("fifty", W_NONE, 0, 50, R_NUMW),
    K("february", W_NONE, 0, 2, R_MONTH),
    KMA("feb.", 2),
    KMA("feb", 2),
    K("friday", W_NONE, 0, 5, R_WEEKDAY),
    K("fridays", W_NONE, 0, 5, R_WEEKDAY | R_PLURAL),
    K("francs", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("franc", W_NONE, 0, 0, R_CURN),
    K("feet", W_NONE, 0, 0, R_MEASURE),
    K("foot", W_NONE, 0, 0, R_MEASURE),
    K("ft", W_NONE, 0, 0, R_MEASURE),
    K("forints", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("father", W_NONE, 0, 0, R_HOLPFX),
    /* g */
    K("gmt", W_NONE, 0, 0, R_TZ),
    K("gbp", W_NONE, 0, 0, R_CURCODE),
    K("good", W_NONE, 0, 0, R_HOLPFX),
    K("games", W_NONE, 0, 0, R_EVENTN),
    K("gallons", W_NONE, 0, 0, R_MEASURE),
    K("gallon", W_NONE, 0, 0, R_MEASURE),
    K("grams", W_NONE, 0, 0, R_MEASURE),
    K("gb", W_NONE, 0, 0, R_MEASURE),
    K("gw", W_NONE, 0, 0, R_MEASURE),
    /* h */
    K("hour", W_NONE, U_HOUR, 0, R_UNIT),
    K("hours", W_NONE, U_HOUR, 0, R_UNIT | R_PLURAL),
    K("hundred", W_NONE, 0, 2, R_MAG),
    K("hundreds", W_NONE, 0, 2, R_PLMAG | R_PLURAL),
    K("hundredth", W_NONE, 0, 100, R_ORDW),
    K("half", W_HALF, U_HALF, 0, 0),
    K("halloween", W_NONE, 0, 0, R_HOLIDAY),
    K("hanukkah", W_NONE, 0, 0, R_HOLIDAY),
    K("hk", W_NONE, 0, 0, R_CURPFX),
    K("hkd", W_NONE, 0, 0, R_CURCODE),
    K("hectares", W_NONE, 0, 0, R_MEASURE),
    K("hectare", W_NONE, 0, 0, R_MEASURE),
    K("high", W_MANY, 0, 0, 0),
    K("he", W_NONE, 0, 0, R_FUNC),
    K("his", W_NONE, 0, 0, R_POSS),
    K("her", W_NONE, 0, 0, R_POSS),
    /* i */
    K("in", W_IN, 0, 0, TP),
    K("into", W_NONE, 0, 0, TP),
    K("is", W_NONE, 0, 0, R_FUNC),
    K("it", W_NONE, 0, 0, R_FUNC),
    K("its", W_NONE, 0, 0, R_POSS),
    K("independence", W_NONE, 0, 0, R_HOLPFX),
    K("inauguration", W_NONE, 0, 0, R_HOLPFX),
    K("inches", W_NONE, 0, 0, R_MEASURE),
    K("inch", W_NONE, 0, 0, R_MEASURE),
    K("inr", W_NONE, 0, 0, R_CURCODE),
    K("ist", W_NONE, 0, 0, R_TZ),
    /* j */
    K("january", W_NONE, 0, 1, R_MONTH),
    KMA("jan.", 1),
    KMA("jan", 1),
    K("june", W_NONE, 0, 6, R_MONTH),
    KMA("jun.", 6),
    K("july", W_NONE, 0, 7, R_MONTH),
    KMA("jul.", 7),
    K("just", W_JUST, 0, 0, 0),
    K("jst", W_NONE, 0, 0, R_TZ),
    K("jpy", W_NONE, 0, 0, R_CURCODE),
    /* k */
    K("km", W_NONE, 0, 0, R_MEASURE),
    K("kms", W_NONE, 0, 0, R_MEASURE),
    K("kg", W_NONE, 0, 0, R_MEASURE),
    K("kgs", W_NONE, 0, 0, R_MEASURE),
    K("kilometres", W_NONE, 0, 0, R_MEASURE),
    K("kilometers", W_NONE, 0, 0, R_MEASURE),
    K("kilometre", W_NONE, 0, 0, R_MEASURE),
    K("kilometer", W_NONE, 0, 0, R_MEASURE),
    K("kilograms", W_NONE, 0, 0, R_MEASURE),
    K("kilos", W_NONE, 0, 0, R_MEASURE),
    K("kph", W_NONE, 0, 0, R_MEASURE),
    K("kw", W_NONE, 0, 0, R_MEASURE),
    K("kwh", W_NONE, 0, 0, R_MEASURE),
    K("kronor", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("kroner", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("krona", W_NONE, 0, 0, R_CURN),
    K("krone", W_NONE, 0, 0, R_CURN),
    K("krw", W_NONE, 0, 0, R_CURCODE),
    /* l */
    K("last", W_LAST, 0, 0, R_REL | R_THEREL | R_ALONEREL | R_ONEDET),
    K("late", W_LATE, 0, 0, R_EDGE),
    K("later", W_NONE, 0, 0, R_EDGE | R_POST),
    K("less", W_LESS, 0, 0, 0),
    K("least", W_LEAST, 0, 0, 0),
    K("little", W_MANY, 0, 0, 0),
    K("low", W_MANY, 0, 0, 0),
    K("local", W_LOCAL, 0, 0, 0),
    K("labor", W_NONE, 0, 0, R_HOLPFX),
    K("labour", W_NONE, 0, 0, R_HOLPFX),
    K("lakh", W_NONE, 0, 5, R_MAG),
    K("lakhs", W_NONE, 0, 5, R_PLMAG | R_PLURAL),
    K("lira", W_NONE, 0, 0, R_CURN),
    K("lire", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("litres", W_NONE, 0, 0, R_MEASURE),
    K("liters", W_NONE, 0, 0, R_MEASURE),
    K("litre", W_NONE, 0, 0, R_MEASURE),
    K("lb", W_NONE, 0, 0, R_MEASURE),
    K("lbs", W_NONE, 0, 0, R_MEASURE),
    K("lane", W_NONE, 0, 0, R_STREET),
    /* m */
    K("month", W_NONE, U_MONTH, 0, R_UNIT),
    K("months", W_NONE, U_MONTH, 0, R_UNIT | R_PLURAL),
    K("minute", W_NONE, U_MINUTE, 0, R_UNIT),
    K("minutes", W_NONE, U_MINUTE, 0, R_UNIT | R_PLURAL),
    K("morning", W_NONE, 0, 0, R_PARTDAY),
    K("mornings", W_NONE, 0, 0, R_PARTDAY | R_PLURAL),
    K("midnight", W_NONE, 0, 0, R_NOON),
    K("mid", W_MID, 0, 0, R_EDGE),
    K("middle", W_NONE, 0, 0, R_ENDOF),
    K("march", W_NONE, 0, 3, R_MONTH | R_AMBIG),
    KMA("mar.", 3),
    K("may", W_NONE, 0, 5, R_MONTH | R_AMBIG),
    K("monday", W_NONE, 0, 1, R_WEEKDAY),
    K("mondays", W_NONE, 0, 1, R_WEEKDAY | R_PLURAL),
    K("million", W_NONE, 0, 6, R_MAG),
    K("millions", W_NONE, 0, 6, R_PLMAG | R_PLURAL),
    K("m", W_NONE, 0, 6, R_MAG | R_AMBIG),
    K("mn", W_NONE, 0, 6, R_MAG),
    K("more", W_MORE, 0, 0, 0),
    K("most", W_MOST, 0, 0, 0),
    K("much", W_MANY, 0, 0, 0),
    K("many", W_MANY, 0, 0, 0),
    K("memorial", W_NONE, 0, 0, R_HOLPFX),
    K("mother", W_NONE, 0, 0, R_HOLPFX),
    K("my", W_NONE, 0, 0, R_POSS),
    K("miles", W_NONE, 0, 0, R_MEASURE),
    K("mile", W_NONE, 0, 0, R_MEASURE),
    K("metres", W_NONE, 0, 0, R_MEASURE),
    K("meters", W_NONE, 0, 0, R_MEASURE),
    K("metre", W_NONE, 0, 0, R_MEASURE),
    K("meter", W_NONE, 0, 0, R_MEASURE),
    K("mph", W_NONE, 0, 0, R_MEASURE),
    K("mm", W_NONE, 0, 0, R_MEASURE),
    K("mw", W_NONE, 0, 0, R_MEASURE),
    K("megawatts", W_NONE, 0, 0, R_MEASURE),
    K("mst", W_NONE, 0, 0, R_TZ),
    K("mdt", W_NONE, 0, 0, R_TZ),
    K("model", W_NONE, 0, 0, R_EVENTN),
    /* n */
    K("next", W_NONE, 0, 0, R_REL | R_THEREL | R_ALONEREL),
    K("nearly", W_NONE, 0, 0, R_APPROX),
    K("night", W_NONE, 0, 0, R_PARTDAY),
    K("nights", W_NONE, 0, 0, R_PARTDAY | R_PLURAL),
    K("noon", W_NONE, 0, 0, R_NOON),
    K("nine", W_NONE, 0, 9, R_NUMW),
    K("nineteen", W_NONE, 0, 19, R_NUMW),
    K("ninety", W_NONE, 0, 90, R_NUMW),
    K("ninth", W_NONE, 0, 9, R_ORDW),
    K("nineteenth", W_NONE, 0, 19, R_ORDW),
    K("ninetieth", W_NONE, 0, 90, R_ORDW),
    K("nineties", W_NONE, 0, 90, R_DECADEW),
    K("november", W_NONE, 0, 11, R_MONTH),
    KMA("nov.", 11),
    KMA("nov", 11),
    K("no", W_NONE, 0, 0, R_ONEDET),
    K("no.", W_NONE, 0, 0, R_IDPRE),
    K("nos.", W_NONE, 0, 0, R_IDPRE),
    K("new", W_NEW, 0, 0, 0),
    K("naira", W_NONE, 0, 0, R_CURN),
    K("nz", W_NONE, 0, 0, R_CURPFX),
    K("nzd", W_NONE, 0, 0, R_CURCODE),
    /* o */
    K("of", W_OF, 0, 0, TP),
    K("on", W_ON, 0, 0, TP),
    K("or", W_OR, 0, 0, R_FUNC),
    K("one", W_ONE, 0, 1, R_NUMW),
    K("old", W_OLD, 0, 0, 0),
    K("over", W_OVER, 0, 0, R_APPROX | R_FUNC),
    K("october", W_NONE, 0, 10, R_MONTH),
    KMA("oct.", 10),
    KMA("oct", 10),
    K("o'clock", W_OCLOCK, 0, 0, 0),
    K("o\xe2\x80\x99"
      "clock",
      W_OCLOCK, 0, 0, 0),
    K("only", W_NONE, 0, 0, R_ONEDET),
    K("onwards", W_NONE, 0, 0, R_FUNC),
    K("our", W_NONE, 0, 0, R_POSS),
    K("onward", W_NONE, 0, 0, R_FUNC),
    K("olympics", W_NONE, 0, 0, R_EVENTN),
    K("ounces", W_NONE, 0, 0, R_MEASURE),
    /* p */
    K("past", W_NONE, 0, 0, R_REL | R_THEREL | R_ALONEREL),
    K("previous", W_NONE, 0, 0, R_REL | R_THEREL),
    K("percent", W_NONE, 0, 0, R_PCT),
    K("pc", W_NONE, 0, 0, R_PCT),
    K("per", W_PER, 0, 0, 0),
    K("percentage", W_PERCENTAGE, 0, 0, 0),
    K("point", W_POINT, 0, 0, 0),
    K("points", W_POINT, 0, 0, 0),
    K("p.m.", W_NONE, 0, 0, R_AMPM),
    K("p.m", W_NONE, 0, 0, R_AMPM),
    K("pm", W_NONE, 0, 0, R_AMPM),
    K("pm.", W_NONE, 0, 0, R_AMPM),
    K("pounds", W_NONE, 0, 0, R_CURN | R_PLURAL | R_AMBIG | R_MEASURE),
    K("pound", W_NONE, 0, 0, R_CURN | R_AMBIG | R_MEASURE),
    K("pence", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("pesos", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("peso", W_NONE, 0, 0, R_CURN),
    K("passover", W_NONE, 0, 0, R_HOLIDAY),
    K("pst", W_NONE, 0, 0, R_TZ),
    K("pdt", W_NONE, 0, 0, R_TZ),
    K("pt", W_NONE, 0, 0, R_TZ),
    K("p.", W_NONE, 0, 0, R_IDPRE),
    K("pp.", W_NONE, 0, 0, R_IDPRE),
    K("place", W_NONE, 0, 0, R_STREET),
    /* q */
    K("quarter", W_NONE, U_QUARTER, 0, R_UNIT),
    K("quarters", W_NONE, U_QUARTER, 0, R_UNIT | R_PLURAL),
    /* r */
    K("recent", W_RECENT, 0, 0, R_REL | R_THEREL),
    K("roughly", W_NONE, 0, 0, R_APPROX),
    K("rest", W_NONE, 0, 0, R_ENDOF),
    K("remainder", W_NONE, 0, 0, R_ENDOF),
    K("ramadan", W_NONE, 0, 0, R_HOLIDAY),
    K("remembrance", W_NONE, 0, 0, R_HOLPFX),
    K("rs", W_NONE, 0, 1, R_CURCODE),
    K("rs.", W_NONE, 0, 1, R_CURCODE),
    K("rp", W_NONE, 0, 1, R_CURCODE),
    K("rmb", W_NONE, 0, 0, R_CURCODE),
    K("rub", W_NONE, 0, 0, R_CURCODE),
    K("r", W_NONE, 0, 0, R_CURPFX),
    K("rupees", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("rupee", W_NONE, 0, 0, R_CURN),
    K("rupiah", W_NONE, 0, 0, R_CURN),
    K("roubles", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("rubles", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("rouble", W_NONE, 0, 0, R_CURN),
    K("ruble", W_NONE, 0, 0, R_CURN),
    K("rand", W_NONE, 0, 0, R_CURN),
    K("riyals", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("ringgit", W_NONE, 0, 0, R_CURN),
    K("renminbi", W_NONE, 0, 0, R_CURN),
    K("reais", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("road", W_NONE, 0, 0, R_STREET),
    K("rd", W_NONE, 0, 0, R_STREET),
    K("rd.", W_NONE, 0, 0, R_STREET),
    K("row", W_NONE, 0, 0, R_STREET),
    /* s */
    K("since", W_NONE, 0, 0, TP),
    K("same", W_SAME, 0, 0, R_REL | R_THEREL),
    K("second", W_NONE, U_SECOND, 2, R_ORDW | R_UNIT | R_AMBIG),
    K("seconds", W_NONE, U_SECOND, 0, R_UNIT | R_PLURAL),
    K("several", W_NONE, 0, 3, R_FEW),
    K("some", W_NONE, 0, 0, R_APPROX),
    K("start", W_NONE, 0, 0, R_ENDOF),
    K("summer", W_NONE, 0, 0, R_SEASON),
    K("spring", W_NONE, 0, 0, R_SEASON),
    K("season", W_SEASONW, 0, 0, R_EVENTN),
    K("seven", W_NONE, 0, 7, R_NUMW),
    K("six", W_NONE, 0, 6, R_NUMW),
    K("sixteen", W_NONE, 0, 16, R_NUMW),
    K("seventeen", W_NONE, 0, 17, R_NUMW),
    K("sixty", W_NONE, 0, 60, R_NUMW),
    K("seventy", W_NONE, 0, 70, R_NUMW),
    K("seventh", W_NONE, 0, 7, R_ORDW),
    K("sixth", W_NONE, 0, 6, R_ORDW),
    K("sixteenth", W_NONE, 0, 16, R_ORDW),
    K("seventeenth", W_NONE, 0, 17, R_ORDW),
    K("sixtieth", W_NONE, 0, 60, R_ORDW),
    K("seventieth", W_NONE, 0, 70, R_ORDW),
    K("sixties", W_NONE, 0, 60, R_DECADEW),
    K("seventies", W_NONE, 0, 70, R_DECADEW),
    K("september", W_NONE, 0, 9, R_MONTH),
    KMA("sept.", 9),
    KMA("sept", 9),
    KMA("sep.", 9),
    KMA("sep", 9),
    K("saturday", W_NONE, 0, 6, R_WEEKDAY),
    K("saturdays", W_NONE, 0, 6, R_WEEKDAY | R_PLURAL),
    K("sunday", W_NONE, 0, 7, R_WEEKDAY),
    K("sundays", W_NONE, 0, 7, R_WEEKDAY | R_PLURAL),
    K("share", W_SHARE, 0, 0, 0),
    K("sterling", W_STERLING, 0, 0, 0),
    K("shekels", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("shillings", W_NONE, 0, 0, R_CURN | R_PLURAL),
    K("s", W_NONE, 0, 0, R_CURPFX),
    K("she", W_NONE, 0, 0, R_FUNC),
    K("street", W_NONE, 0, 0, R_STREET),
    K("st", W_NONE, 0, 0, R_STREET),
    K("st.", W_NONE, 0, 0, R_STREET),
    K("square", W_NONE, 0, 0, R_STREET | R_MEASURE),
    K("sq", W_NONE, 0, 0, R_MEASURE),
    K("summit", W_NONE, 0, 0, R_EVENTN),
    K("sek", W_NONE, 0, 0, R_CURCODE),
    K("sgd", W_NONE, 0, 0, R_CURCODE),
    /* t */
    K("the", W_THE, 0, 0, R_FUNC | R_ONEDET),
    K("this", W_THIS, 0, 0, R_REL | R_ALONEREL | R_ONEDET),
    K("that", W_THAT, 0, 0, R_REL | R_ALONEREL | R_ONEDET | R_FUNC),
    K("to", W_TO, 0, 0, R_FUNC),
    K("than", W_THAN, 0, 0, 0),
    K("through", W_NONE, 0, 0, TP),
    K("throughout", W_NONE, 0, 0, TP),
    K("till", W_NONE, 0, 0, TP),
    K("today", W_NONE, 0, 0, R_RELDAY),
    K("tomorrow", W_NONE, 0, 0, R_RELDAY),
    K("tonight", W_NONE, 0, 1, R_RELDAY),
    K("turn", W_NONE, 0, 0, R_ENDOF),
    K("two", W_NONE, 0, 2, R_NUMW),
    K("three", W_NONE, 0, 3, R_NUMW),
    K("ten", W_NONE, 0, 10, R_NUMW),
    K("twelve", W_NONE, 0, 12, R_NUMW),
    K("thirteen", W_NONE, 0, 13, R_NUMW),
    K("twenty", W_NONE, 0, 20, R_NUMW),
    K("thirty", W_NONE, 0, 30, R_NUMW),
    K("thousand", W_NONE, 0, 3, R_MAG),
    K("thousands", W_NONE, 0, 3, R_PLMAG | R_PLURAL),
    K("trillion", W_NONE, 0, 12, R_MAG),
    K("trillions", W_NONE, 0, 12, R_PLMAG | R_PLURAL),
    K("tn", W_NONE, 0, 12, R_MAG),
    K("tens", W_NONE, 0, 1, R_PLMAG | R_PLURAL),
    K("third", W_NONE, 0, 3, R_ORDW),
    K("tenth", W_NONE, 0, 10, R_ORDW),
    K("twelfth", W_NONE, 0, 12, R_ORDW),
    K("thirteenth", W_NONE, 0, 13, R_ORDW),
    K("twentieth", W_NONE, 0, 20, R_ORDW),
    K("thirtieth", W_NONE, 0, 30, R_ORDW),
    K("thousandth", W_NONE, 0, 1000, R_ORDW),
    K("thirds", W_NONE, 0, 3, R_FRAC),
    K("tuesday", W_NONE, 0, 2, R_WEEKDAY),
    K("tuesdays", W_NONE, 0, 2, R_WEEKDAY | R_PLURAL),
    K("thursday", W_NONE, 0, 4, R_WEEKDAY),
    K("thursdays", W_NONE, 0, 4, R_WEEKDAY | R_PLURAL),
    K("thanksgiving", W_NONE, 0, 0, R_HOLIDAY),
    K("time", W_TIME, 0, 0, 0),
    K("tonnes", W_NONE, 0, 0, R_MEASURE),
    K("tonne", W_NONE, 0, 0, R_MEASURE),
    K("tons", W_NONE, 0, 0, R_MEASURE),
    K("ton", W_NONE, 0, 0, R_MEASURE),
    K("they", W_NONE, 0, 0, R_FUNC),
    K("their", W_NONE, 0, 0, R_POSS),
    K("there", W_NONE, 0, 0, R_FUNC),
    K("tournament", W_NONE, 0, 0, R_EVENTN),
    K("terrace", W_NONE, 0, 0, R_STREET),
    K("try", W_NONE, 0, 0, R_CURCODE),
    /* u */
    K("until", W_NONE, 0, 0, TP),
    K("up", W_UP, 0, 0, 0),
    K("under", W_UNDER, 0, 0, R_APPROX),
    K("upcoming", W_NONE, 0, 0, R_REL | R_THEREL),
    K("us", W_NONE, 0, 0, R_CURPFX),
    K("usd", W_NONE, 0, 0, R_CURCODE),
    K("utc", W_NONE, 0, 0, R_TZ),
    /* v */
    K("version", W_NONE, 0, 0, R_IDPRE),
    K("v", W_NONE, 0, 0, R_IDPRE),
    K("vol.", W_NONE, 0, 0, R_IDPRE),
    K("veterans", W_NONE, 0, 0, R_HOLPFX),
    K("valentine", W_NONE, 0, 0, R_HOLPFX),
    K("vintage", W_NONE, 0, 0, R_EVENTN),
    /* w */
    K("week", W_NONE, U_WEEK, 0, R_UNIT),
    K("weeks", W_NONE, U_WEEK, 0, R_UNIT | R_PLURAL),
    K("weekend", W_NONE, U_WEEKEND, 0, R_UNIT),
    K("weekends", W_NONE, U_WEEKEND, 0, R_UNIT | R_PLURAL),
    K("wednesday", W_NONE, 0, 3, R_WEEKDAY),
    K("wednesdays", W_NONE, 0, 3, R_WEEKDAY | R_PLURAL),
    K("winter", W_NONE, 0, 0, R_SEASON),
    K("within", W_WITHIN, 0, 0, TP),
    K("well", W_WELL, 0, 0, 0),
    K("won", W_NONE, 0, 0, R_CURN | R_AMBIG),
    K("when", W_NONE, 0, 0, R_FUNC),
    K("which", W_NONE, 0, 0, R_FUNC | R_ONEDET),
    K("while", W_NONE, 0, 0, R_FUNC),
    K("with", W_NONE, 0, 0, R_FUNC),
    K("was", W_NONE, 0, 0, R_FUNC),
    K("were", W_NONE, 0, 0, R_FUNC),
    K("will", W_NONE, 0, 0, R_FUNC),
    K("we", W_NONE, 0, 0, R_FUNC),
    K("war", W_NONE, 0, 0, R_EVENTN),
    K("way", W_NONE, 0, 0, R_STREET),
    /* x */
    K("xmas", W_NONE, 0, 0, R_HOLIDAY),
    /* y */
    K("year", W_YEAR, U_YEAR, 0, R_UNIT),
    K("years", W_NONE, U_YEAR, 0, R_UNIT | R_PLURAL),
    K("yesterday", W_NONE, 0, 0, R_RELDAY),
    K("yen", W_NONE, 0, 0, R_CURN),
    K("yuan", W_NONE, 0, 0, R_CURN),
    K("yards", W_NONE, 0, 0, R_MEASURE),
    K("your", W_NONE, 0, 0, R_POSS),
    /* z */
    K("zero", W_NONE, 0, 0, R_NUMW),
    K("zlotys", W_NONE, 0, 0, R_CURN | R_PLURAL),
};

#define N_KW (sizeof(kw_all) / sizeof(kw_all[0]))

static inline unsigned
fold(unsigned c)
{
    return c | ((c - 'A' < 26u) << 5); /* ASCII lower case, no branch */
}

#define KW_SLOTS 2048u

/* A hash of the length and the first two and last two bytes, ASCII-folded
 * (constant time whatever the length; kw_find compares the whole word). */
static inline unsigned
kw_hash(const unsigned char *p, size_t len)
{
    size_t l2 = len > 1 ? len - 2 : 0;
    uint32_t x = fold(p[0]) | fold(p[len > 1]) << 8 | fold(p[len - 1]) << 16 | fold(p[l2]) << 24;
    uint64_t h = ((uint64_t)x << 4 | len) * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
    return (unsigned)(h >> 53); /* the top 11 bits: KW_SLOTS == 2048 */
}

/* kw_slots[h] = 1 + the index in kw_all of a keyword that hashes to h or,
 * after a collision, to a slot before it (linear probing); 0 = empty.
 * Generated from kw_all by nlpd-tag-patterns-eval --keyword-slots
 * (nlpd__patterns_keyword_slots()); the unit test fails when it is stale. */
/* clang-format off */
static const uint16_t kw_slots[KW_SLOTS] = {
/* BEGIN kw_slots */
    0, 245, 0, 0, 209, 315, 0, 0, 0, 225, 322, 0, 0, 238, 0, 0,
    0, 0, 0, 0, 0, 128, 0, 0, 125, 0, 0, 0, 510, 0, 0, 0,
    0, 0, 0, 0, 0, 4, 0, 0, 95, 348, 0, 0, 453, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 66, 40, 0, 0, 513, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 487, 0, 271, 0, 0,
    0, 515, 0, 0, 0, 0, 206, 269, 301, 0, 0, 482, 0, 0, 122, 0,
    426, 0, 255, 0, 0, 83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 310, 306, 377, 386,
    459, 111, 0, 0, 0, 0, 0, 0, 0, 0, 0, 332, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 305, 331, 0, 0, 0, 0, 0, 0, 431, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 257, 0, 0, 0, 519, 0, 454, 219,
    0, 0, 213, 0, 24, 86, 260, 106, 441, 445, 0, 134, 0, 0, 0, 0,
    0, 0, 400, 0, 0, 114, 0, 0, 364, 0, 185, 199, 0, 0, 0, 420,
    0, 0, 0, 0, 0, 0, 47, 0, 0, 0, 0, 232, 488, 0, 0, 195,
    0, 262, 0, 0, 0, 0, 0, 167, 0, 0, 393, 0, 0, 246, 0, 0,
    0, 16, 0, 0, 0, 0, 0, 0, 6, 0, 0, 96, 294, 497, 0, 0,
    0, 87, 116, 204, 0, 484, 0, 0, 181, 0, 358, 368, 0, 0, 241, 0,
    0, 292, 0, 0, 0, 0, 0, 0, 82, 203, 0, 353, 0, 19, 339, 0,
    0, 77, 440, 0, 325, 0, 0, 0, 265, 502, 0, 0, 0, 0, 89, 12,
    0, 0, 138, 0, 0, 14, 0, 387, 0, 0, 0, 0, 0, 0, 428, 0,
    0, 0, 130, 73, 376, 0, 220, 0, 0, 0, 0, 0, 0, 0, 65, 0,
    28, 0, 250, 0, 0, 0, 0, 0, 321, 0, 0, 0, 0, 491, 144, 0,
    0, 0, 409, 0, 11, 0, 112, 0, 0, 157, 328, 25, 520, 0, 0, 0,
    135, 0, 465, 0, 0, 0, 0, 0, 101, 511, 283, 0, 233, 383, 0, 0,
    0, 0, 0, 160, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    503, 522, 0, 0, 0, 0, 457, 0, 0, 7, 289, 0, 0, 0, 276, 0,
    0, 0, 0, 43, 0, 0, 0, 0, 69, 0, 0, 0, 0, 0, 430, 0,
    0, 121, 0, 0, 0, 0, 15, 434, 0, 0, 0, 92, 88, 105, 354, 0,
    0, 419, 229, 0, 0, 239, 0, 0, 384, 0, 0, 0, 0, 70, 0, 0,
    93, 0, 0, 0, 0, 0, 207, 0, 0, 0, 0, 5, 0, 0, 0, 0,
    404, 0, 263, 0, 0, 0, 0, 94, 0, 272, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 30, 154, 177, 490, 202, 0, 0, 0, 0, 0, 405, 413,
    0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 295, 0, 0,
    200, 0, 0, 0, 0, 0, 0, 0, 163, 0, 0, 0, 0, 0, 337, 0,
    147, 0, 0, 0, 0, 44, 0, 0, 264, 395, 182, 485, 0, 0, 13, 0,
    0, 0, 410, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 126, 0, 0,
    0, 0, 27, 412, 0, 0, 230, 360, 293, 0, 0, 191, 0, 0, 99, 290,
    462, 224, 143, 523, 0, 0, 175, 249, 309, 0, 0, 0, 0, 0, 0, 0,
    461, 0, 0, 0, 0, 0, 0, 308, 0, 184, 316, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 282, 0,
    0, 0, 0, 0, 80, 0, 0, 0, 149, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 496, 0, 0, 0, 20, 0, 0, 0, 0,
    372, 0, 0, 0, 0, 0, 507, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    437, 0, 0, 0, 366, 0, 0, 343, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 270, 0, 0, 0, 0, 0, 0, 439, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 288, 0, 0, 396, 166, 174, 374, 433, 516, 0, 0, 0, 489,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 90, 476, 518, 0, 0,
    0, 0, 0, 0, 284, 421, 0, 71, 0, 0, 0, 228, 75, 361, 0, 397,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 31, 425, 0, 0, 0, 494,
    0, 508, 429, 517, 0, 0, 0, 370, 212, 0, 0, 189, 0, 0, 0, 0,
    215, 505, 79, 0, 0, 0, 0, 0, 291, 402, 0, 0, 0, 0, 0, 466,
    480, 0, 0, 0, 41, 0, 0, 187, 81, 314, 0, 171, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 341, 0, 0, 481, 492, 336, 0, 0, 455, 407, 448,
    0, 0, 379, 458, 340, 0, 0, 0, 35, 0, 0, 0, 312, 29, 159, 0,
    21, 0, 0, 59, 495, 52, 302, 0, 57, 0, 0, 0, 123, 0, 0, 0,
    0, 0, 63, 0, 362, 0, 0, 0, 0, 0, 253, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 104, 0, 0, 0, 320, 0, 164, 0, 0, 217, 0, 0, 0, 509, 0,
    371, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 186, 0, 0,
    0, 0, 0, 0, 0, 78, 0, 0, 0, 0, 0, 0, 0, 0, 0, 176,
    0, 0, 0, 0, 0, 319, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 452, 244, 179, 0, 275, 0, 0, 0, 385, 0, 0, 196, 0, 0, 197,
    0, 0, 0, 0, 0, 471, 435, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 442, 0, 0, 0, 84, 91, 514, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 150, 140, 0, 58, 0, 170, 0, 0, 0, 0, 0, 378, 0,
    0, 0, 8, 113, 0, 0, 0, 0, 0, 0, 0, 369, 373, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 172, 234, 0, 0, 0, 139, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 474, 0, 0,
    0, 0, 0, 0, 0, 0, 133, 214, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 266, 344, 0, 375, 193, 50, 424, 0, 0, 145, 107, 0, 0, 0, 188,
    247, 46, 242, 218, 0, 0, 298, 0, 0, 0, 0, 0, 117, 0, 0, 0,
    0, 0, 0, 317, 0, 0, 0, 0, 0, 39, 198, 0, 0, 0, 0, 0,
    0, 0, 0, 62, 0, 0, 0, 414, 0, 0, 436, 0, 0, 0, 168, 0,
    0, 0, 0, 0, 0, 0, 0, 17, 120, 210, 248, 0, 0, 0, 356, 0,
    0, 346, 324, 0, 0, 0, 0, 0, 0, 0, 521, 486, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 303, 0, 0, 153, 0, 0, 67, 124, 0, 0, 473,
    0, 0, 307, 281, 0, 0, 0, 0, 0, 365, 0, 0, 0, 0, 0, 0,
    326, 390, 0, 37, 0, 0, 0, 100, 0, 0, 0, 498, 504, 0, 0, 0,
    0, 0, 0, 0, 0, 236, 98, 0, 97, 0, 0, 0, 18, 142, 0, 406,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 464, 0, 444, 0,
    0, 0, 0, 0, 9, 26, 110, 475, 0, 0, 0, 0, 136, 0, 0, 0,
    0, 0, 0, 432, 355, 0, 108, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    391, 0, 0, 0, 0, 0, 0, 0, 0, 0, 205, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 251, 0,
    0, 0, 0, 0, 0, 334, 1, 277, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 252, 0, 0, 0,
    0, 0, 0, 0, 0, 416, 0, 0, 231, 0, 0, 0, 451, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 483, 0, 352, 0, 501, 0, 0, 0, 0, 0,
    422, 470, 0, 0, 0, 0, 194, 61, 259, 329, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 49, 151, 382, 0, 183, 0, 152, 0, 38, 10, 472,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 287, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 119,
    0, 0, 359, 0, 0, 0, 161, 0, 0, 0, 0, 42, 285, 48, 467, 0,
    0, 243, 399, 0, 0, 0, 0, 0, 0, 0, 0, 443, 0, 0, 0, 0,
    45, 0, 0, 0, 0, 479, 0, 148, 0, 0, 0, 0, 427, 0, 0, 398,
    500, 0, 0, 0, 0, 0, 0, 423, 0, 0, 165, 0, 0, 222, 227, 0,
    0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 267, 493,
    22, 0, 129, 0, 0, 0, 0, 0, 0, 401, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 450, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 311,
    85, 0, 0, 0, 449, 512, 0, 173, 0, 0, 0, 0, 0, 0, 408, 237,
    0, 0, 0, 0, 415, 76, 304, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 313, 0, 0, 0, 0, 0, 0, 0, 208, 380, 392, 438, 0, 0, 0,
    0, 0, 0, 0, 335, 0, 0, 0, 0, 0, 109, 0, 0, 0, 0, 0,
    0, 0, 0, 477, 447, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 296, 0, 0, 0, 0, 0, 0, 178,
    0, 0, 0, 0, 0, 0, 155, 363, 367, 394, 499, 0, 0, 318, 0, 411,
    68, 333, 0, 55, 0, 0, 0, 0, 0, 0, 74, 103, 0, 51, 0, 0,
    0, 338, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 146, 0, 0, 279, 0, 0, 0, 330, 0, 0, 0, 0, 0, 0, 201,
    0, 0, 115, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 256, 0,
    0, 0, 0, 0, 0, 0, 0, 278, 36, 0, 0, 0, 0, 349, 0, 102,
    254, 261, 403, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 280, 0,
    0, 221, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    327, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 131,
    0, 0, 240, 417, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    169, 0, 0, 0, 0, 0, 0, 0, 0, 299, 347, 0, 53, 0, 0, 118,
    0, 460, 463, 0, 0, 0, 478, 0, 506, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 389, 0, 0, 0, 418, 0, 0, 0, 0, 0, 0, 456, 0,
    446, 0, 180, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 223, 0, 258, 34, 351, 0, 0, 0, 0,
    0, 0, 162, 0, 0, 0, 0, 0, 0, 0, 468, 56, 0, 0, 0, 0,
    0, 0, 345, 226, 54, 0, 0, 0, 273, 297, 141, 388, 0, 0, 137, 192,
    300, 132, 350, 0, 0, 342, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 33, 274, 286, 0, 0, 0, 0, 0, 0, 0, 0, 72, 0, 0, 0,
    0, 0, 32, 0, 211, 0, 0, 0, 0, 323, 469, 0, 158, 0, 0, 0,
    0, 0, 0, 190, 0, 268, 0, 156, 0, 0, 0, 0, 0, 381, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 357, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 60, 0, 235, 0, 0, 127, 0, 216, 0, 0,
/* END kw_slots */
};

/* clang-format on */

/* The keyword spelled by p[0, len) in any ASCII case, or NULL. */
static const kw *
kw_find(const unsigned char *p, size_t len)
{
    if (len == 0 || len > 14)
        return NULL;
    for (unsigned h = kw_hash(p, len);; h = (h + 1) & (KW_SLOTS - 1)) {
        unsigned k = kw_slots[h];
        if (k == 0 || k > N_KW)
            return NULL;
        const kw *e = &kw_all[k - 1];
        if (e->len != len || (unsigned char)e->w[0] != fold(p[0]))
            continue;
        size_t j = 1;
        while (j < len && fold(p[j]) == (unsigned char)e->w[j])
            j++;
        if (j == len)
            return e;
    }
}

int
nlpd__patterns_keyword_slots(uint16_t *slots, size_t n_slots)
{
    if (slots == NULL || n_slots != KW_SLOTS || N_KW >= KW_SLOTS / 2)
        return -1;
    memset(slots, 0, n_slots * sizeof(*slots));
    for (size_t k = 0; k < N_KW; k++) {
        unsigned h = kw_hash((const unsigned char *)kw_all[k].w, kw_all[k].len);
        while (slots[h] != 0)
            h = (h + 1) & (KW_SLOTS - 1);
        slots[h] = (uint16_t)(k + 1);
    }
    return 0;
}

size_t
nlpd__patterns_check_keywords(void)
{
    for (size_t k = 0; k < N_KW; k++) {
        const kw *e = kw_find((const unsigned char *)kw_all[k].w, kw_all[k].len);
        if (e == NULL)
            return k + 1;
    }
    return 0;
}

/* ---- token classes ------------------------------------------------------ */

/* What a token that starts with a digit says (tokc.num). */
enum {
    NUM_NONE = 0,
    NUM_INT,     /* 42, 2024 */
    NUM_GROUPED, /* 1,250 or 1,250.75 */
    NUM_DEC,     /* 3.5 */
    NUM_PERCENT, /* 12%, 3-4%, 12.5pc, 5-percent */
    NUM_ORD,     /* 5th */
    NUM_DECADE,  /* 1990s, 90s, mid-1990s */
    NUM_TIME,    /* 10:30, 10am, 10.30pm */
    NUM_MAGSFX,  /* 20m, 5bn, 5.5-billion */
    NUM_DATE,    /* 2024-06-04, 06/04/2024 */
    NUM_YRANGE,  /* 2023-24, 2010-2015 */
    NUM_RANGE,   /* 4-5, 3-1 */
    NUM_HYUNIT,  /* 10-day, 5-year-old, two-year */
    NUM_MIDYEAR, /* mid-2023 */
    NUM_FYQ,     /* Q3, 3Q, FY2024, H1 */
    NUM_MEASURE, /* 5km, 20kg */
    NUM_OTHER,   /* 555-1234, 9/11, 2.0.1 */
};

enum { CASE_OTHER = 0, CASE_LOWER, CASE_CAP, CASE_UPPER };

#define TF_EDGEPFX 1u  /* mid-June, mid-1990s */
#define TF_AGE     2u  /* 5-year-old */
#define TF_DIGIT   4u  /* starts with a digit */
#define TF_CLITIC  8u  /* 's, n't */
#define TF_TIMEWRD 16u /* hyphen unit under a day: 30-minute */

typedef struct tokc {
    uint64_t roles;
    int32_t val;  /* keyword value; number: integer part (capped) */
    int32_t val2; /* number: the part after ":", "." or "-" */
    uint8_t id;
    uint8_t unit;
    uint8_t num;
    uint8_t mag;   /* number: power of ten of a magnitude suffix */
    uint8_t nd;    /* number: digits of the integer part (capped) */
    uint8_t nd2;   /* number: digits of the second part */
    uint8_t caps;  /* CASE_* */
    uint8_t tf;    /* TF_* */
    uint8_t start; /* a match may start here (see starts_match) */
} tokc;

/* Token classes live in a ring of RING slots indexed by token number. A
 * matcher holds pointers to the classes of the tokens it looks at, so every
 * token one match_at() reads must fall in one window of RING tokens: the
 * grammar looks at most 2 tokens back and about 25 ahead (the longest
 * chain: "between" + two number phrases of 8 + a unit and its tail). */
#define RING 64u

typedef struct scan {
    const unsigned char *text;
    const nlpd_split_token *tok;
    size_t n;
    int allcaps;
    uint32_t tag[RING]; /* token index + 1 held in ring[k], 0 for none */
    tokc ring[RING];
} scan;

static int
is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

static int
is_alpha(unsigned c)
{
    return (c | 0x20u) >= 'a' && (c | 0x20u) <= 'z';
}

/* Reads digits at p[*i]; returns the value capped at 10^9 and sets *nd. */
static int32_t
read_digits(const unsigned char *p, size_t len, size_t *i, int *nd)
{
    int32_t v = 0;
    int d = 0;
    while (*i < len && is_digit(p[*i])) {
        if (v < 100000000)
            v = v * 10 + (int32_t)(p[*i] - '0');
        else
            v = 1000000000;
        d++;
        (*i)++;
    }
    *nd = d;
    return v;
}

static uint8_t
cap8(int v)
{
    return (uint8_t)(v > 255 ? 255 : v);
}

static int
valid_date3(int a, int na, int b, int nb, int c, int nc)
{
    if (na == 4) /* 2024-06-04 */
        return a >= 1000 && a <= 2199 && nb <= 2 && b >= 1 && b <= 12 && nc <= 2 && c >= 1 &&
               c <= 31;
    if (na > 2 || nb > 2 || (nc != 4 && nc != 2) || a < 1 || b < 1)
        return 0;
    return (a <= 12 && b <= 31) || (a <= 31 && b <= 12);
}

/* The suffix of a number token after its digits: letters, "%", "-word". */
static void
number_suffix(const unsigned char *p, size_t len, size_t i, tokc *c)
{
    const unsigned char *s = p + i;
    size_t sl = len - i;
    if (sl == 1 && s[0] == '%') {
        c->num = NUM_PERCENT;
        return;
    }
    if (s[0] == '-' && sl > 1 && is_alpha(s[1])) {
        /* "10-day", "5-year-old", "5.5-billion", "5-percent", "20-point" */
        size_t k = 1;
        while (k < sl && s[k] != '-')
            k++;
        const kw *w = kw_find(s + 1, k - 1);
        c->num = NUM_OTHER;
        if (w == NULL)
            return;
        if (k == sl && (w->roles & R_MAG) != 0) {
            c->num = NUM_MAGSFX;
            c->mag = (uint8_t)w->val;
        } else if (k == sl && (w->roles & R_PCT) != 0) {
            c->num = NUM_PERCENT;
        } else if ((w->roles & R_UNIT) != 0 && w->unit != U_HALF) {
            c->unit = w->unit;
            if (k == sl) {
                c->num = NUM_HYUNIT;
            } else if (sl - k == 4 && fold(s[k + 1]) == 'o' && fold(s[k + 2]) == 'l' &&
                       fold(s[k + 3]) == 'd') {
                c->num = NUM_HYUNIT;
                c->tf |= TF_AGE;
            }
        }
        return;
    }
    if (!is_alpha(s[0]))
        return; /* NUM_OTHER stays */
    /* letters (and dots): ordinal, decade, am/pm, magnitude, pc, measure */
    size_t k = 0;
    while (k < sl && (is_alpha(s[k]) || s[k] == '.'))
        k++;
    if (k != sl)
        return;
    unsigned a = fold(s[0]), b = sl > 1 ? fold(s[1]) : 0;
    if (sl == 2 && c->num == NUM_INT &&
        ((a == 's' && b == 't') || (a == 'n' && b == 'd') || (a == 'r' && b == 'd') ||
         (a == 't' && b == 'h'))) {
        c->num = NUM_ORD;
        return;
    }
    if (sl == 1 && a == 's' && c->num == NUM_INT && (c->nd == 4 || c->nd == 2) &&
        c->val % 10 == 0) {
        c->num = NUM_DECADE;
        return;
    }
    if (sl == 1 && a == 'q' && c->num == NUM_INT && c->val >= 1 && c->val <= 4) {
        c->num = NUM_FYQ; /* 3Q */
        return;
    }
    const kw *w = kw_find(s, sl);
    if (w == NULL)
        return;
    if ((w->roles & R_AMPM) != 0 &&
        ((c->num == NUM_INT && c->val >= 1 && c->val <= 12) ||
         (c->num == NUM_TIME && c->val <= 12) ||
         (c->num == NUM_DEC && c->val >= 1 && c->val <= 12 && c->nd2 == 2 && c->val2 < 60))) {
        c->num = NUM_TIME;
    } else if ((w->roles & R_MAG) != 0 &&
               (c->num == NUM_INT || c->num == NUM_DEC || c->num == NUM_GROUPED)) {
        c->num = NUM_MAGSFX;
        c->mag = (uint8_t)w->val;
    } else if ((w->roles & R_PCT) != 0 && (c->num == NUM_INT || c->num == NUM_DEC)) {
        c->num = NUM_PERCENT;
    } else if ((w->roles & R_MEASURE) != 0) {
        c->num = NUM_MEASURE;
    } else if ((w->roles & R_TZ) != 0 && c->num == NUM_INT && c->nd == 4 && c->val / 100 < 24 &&
               c->val % 100 < 60) {
        c->num = NUM_TIME; /* 2230GMT */
        c->val /= 100;
    }
}

/* Classifies a token that starts with a digit. */
static void
classify_number(const unsigned char *p, size_t len, tokc *c)
{
    size_t i = 0;
    int nd, nd2;
    c->tf |= TF_DIGIT;
    c->val = read_digits(p, len, &i, &nd);
    c->nd = cap8(nd);
    c->num = NUM_INT;
    if (i == len)
        return;
    if (p[i] == ',') {
        /* thousands groups of exactly three digits */
        while (i < len && p[i] == ',') {
            size_t j = i + 1;
            int g = 0;
            int32_t v = read_digits(p, len, &j, &g);
            if (g != 3) {
                c->num = NUM_OTHER;
                return;
            }
            c->val = c->val >= 1000000 ? 1000000000 : c->val * 1000 + v;
            i = j;
        }
        c->num = NUM_GROUPED;
        if (i < len && p[i] == '.' && i + 1 < len && is_digit(p[i + 1])) {
            i++;
            c->val2 = read_digits(p, len, &i, &nd2);
            c->nd2 = cap8(nd2);
        }
    } else if ((p[i] == '.' || p[i] == ':' || p[i] == '-' || p[i] == '/') && i + 1 < len &&
               is_digit(p[i + 1])) {
        unsigned sep = p[i];
        i++;
        c->val2 = read_digits(p, len, &i, &nd2);
        c->nd2 = cap8(nd2);
        if (i + 1 < len && p[i] == sep && is_digit(p[i + 1])) {
            /* a third part: a date, a time with seconds, or something else */
            int nd3;
            i++;
            int32_t v3 = read_digits(p, len, &i, &nd3);
            if (i != len) {
                c->num = NUM_OTHER;
            } else if (sep == ':' && nd2 == 2 && nd3 == 2 && c->val <= 24 && c->val2 < 60 &&
                       v3 < 60) {
                c->num = NUM_TIME;
            } else if (sep != ':' && valid_date3(c->val, nd, c->val2, nd2, v3, nd3)) {
                c->num = NUM_DATE;
            } else {
                c->num = NUM_OTHER;
            }
            return;
        }
        if (sep == '.') {
            c->num = NUM_DEC;
        } else if (sep == ':') {
            c->num = nd2 == 2 && c->val <= 24 && c->val2 < 60 && nd <= 2 ? NUM_TIME : NUM_OTHER;
        } else if ((sep == '-' || sep == '/') && nd == 4 && c->val >= 1000 && c->val <= 2199 &&
                   (nd2 == 1 || nd2 == 2 || (nd2 == 4 && c->val2 > c->val))) {
            c->num = NUM_YRANGE;
        } else if (sep == '-' && nd <= 2 && nd2 <= 2) {
            c->num = NUM_RANGE;
        } else {
            c->num = NUM_OTHER;
        }
        if (i == len)
            return;
        if (c->num == NUM_RANGE && len - i == 1 && p[i] == '%') {
            c->num = NUM_PERCENT;
            return;
        }
        if (c->num != NUM_DEC && c->num != NUM_TIME) {
            c->num = NUM_OTHER;
            return;
        }
    }
    if (i == len)
        return;
    uint8_t before = c->num;
    c->num = NUM_OTHER;
    if (before == NUM_INT || before == NUM_DEC || before == NUM_TIME || before == NUM_GROUPED) {
        c->num = before;
        number_suffix(p, len, i, c);
        if (c->num == before) /* a suffix that says nothing we know */
            c->num = NUM_OTHER;
    }
}

/* Hyphenated words: "twenty-five", "two-year", "mid-June", "mid-2023". */
static void
classify_hyphenated(const unsigned char *p, size_t len, tokc *c)
{
    size_t h = 0;
    while (h < len && p[h] != '-')
        h++;
    if (h == 0 || h + 1 >= len)
        return;
    const kw *l = kw_find(p, h);
    if (l == NULL)
        return;
    const unsigned char *r = p + h + 1;
    size_t rl = len - h - 1;
    if (l->id == W_MID || l->id == W_EARLY || l->id == W_LATE) {
        if (is_digit(r[0])) {
            tokc t = {0};
            classify_number(r, rl, &t);
            if (t.num == NUM_INT && t.nd == 4 && t.val >= 1000 && t.val <= 2199) {
                c->num = NUM_MIDYEAR;
                c->val = t.val;
            } else if (t.num == NUM_DECADE) {
                c->num = NUM_DECADE;
                c->val = t.val;
                c->nd = t.nd;
                c->tf |= TF_EDGEPFX;
            }
            return;
        }
        const kw *m = kw_find(r, rl);
        if (m != NULL && (m->roles & (R_MONTH | R_SEASON)) != 0) {
            c->roles = m->roles & (R_MONTH | R_SEASON);
            c->val = m->val;
            c->tf |= TF_EDGEPFX;
        }
        return;
    }
    if ((l->roles & R_NUMW) == 0 || l->id == W_DOZEN)
        return;
    size_t k = 0;
    while (k < rl && r[k] != '-')
        k++;
    const kw *m = kw_find(r, k);
    if (m == NULL)
        return;
    if (k == rl && (m->roles & R_NUMW) != 0 && l->val >= 20 && l->val % 10 == 0 && m->val < 10) {
        c->roles = R_NUMW;
        c->val = l->val + m->val;
    } else if (k == rl && (m->roles & R_ORDW) != 0 && l->val >= 20 && l->val % 10 == 0 &&
               m->val < 10) {
        c->roles = R_ORDW;
        c->val = l->val + m->val;
    } else if (k == rl && (m->roles & R_FRAC) != 0) {
        c->roles = R_FRAC;
    } else if ((m->roles & R_UNIT) != 0 && (m->roles & R_PLURAL) == 0 && m->unit != U_HALF) {
        if (k == rl) {
            c->num = NUM_HYUNIT;
            c->unit = m->unit;
        } else if (rl - k == 4 && fold(r[k + 1]) == 'o' && fold(r[k + 2]) == 'l' &&
                   fold(r[k + 3]) == 'd') {
            c->num = NUM_HYUNIT;
            c->unit = m->unit;
            c->tf |= TF_AGE;
        }
    }
}

/* Tokens that start with letters and hold digits: "Q3", "FY2024", "H1". */
static void
classify_alnum(const unsigned char *p, size_t len, tokc *c)
{
    if (len == 2 && (p[0] == 'Q' || p[0] == 'q') && p[1] >= '1' && p[1] <= '4') {
        c->num = NUM_FYQ;
    } else if (len == 2 && p[0] == 'H' && (p[1] == '1' || p[1] == '2')) {
        c->num = NUM_FYQ;
    } else if ((len == 4 || len == 6) && fold(p[0]) == 'f' && fold(p[1]) == 'y' && is_digit(p[2]) &&
               is_digit(p[3]) && (len == 4 || (is_digit(p[4]) && is_digit(p[5])))) {
        c->num = NUM_FYQ;
    } else {
        classify_hyphenated(p, len, c); /* mid-2023 */
    }
}

/* Punctuation and symbols the grammar names. */
static void
classify_symbol(const unsigned char *p, size_t len, tokc *c)
{
    if (len == 1) {
        switch (p[0]) {
        case '%':
            c->id = W_PCTSYM;
            c->roles = R_PCT;
            return;
        case '$':
            c->roles = R_CURSYM;
            return;
        case '-':
            c->id = W_DASH;
            return;
        case ',':
            c->id = W_COMMA;
            return;
        case '\'':
            c->id = W_APOS;
            return;
        case '.':
            c->id = W_PERIOD;
            return;
        case '(':
            c->id = W_LPAREN;
            return;
        case ')':
            c->id = W_RPAREN;
            return;
        case '+':
            c->id = W_PLUS;
            return;
        case '#':
            c->id = W_HASH;
            c->roles = R_IDPRE;
            return;
        case '/':
            c->id = W_SLASH;
            return;
        default:
            return;
        }
    }
    if (len == 2 && p[0] == 0xC2 && (p[1] == 0xA3 || p[1] == 0xA5)) { /* £ ¥ */
        c->roles = R_CURSYM;
    } else if (len == 3 && p[0] == 0xE2 && p[1] == 0x82 &&
               (p[2] == 0xAC || p[2] == 0xB9 || p[2] == 0xA9 || p[2] == 0xBD || p[2] == 0xA6 ||
                p[2] == 0xB1 || p[2] == 0xBA ||
                p[2] == 0xAA)) { /* € ₹ ₩ ₽ ₦ ₱ ₺ ₪ */
        c->roles = R_CURSYM;
    } else if (len == 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0x93 || p[2] == 0x94)) {
        c->id = W_DASH; /* – — */
    } else if (len == 3 && p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x99) {
        c->id = W_APOS; /* ’ */
    } else if (len == 3 && p[0] == 0xEF && p[1] == 0xBC && p[2] == 0x85) {
        c->id = W_PCTSYM; /* ％ */
        c->roles = R_PCT;
    }
}

static void
classify(const scan *s, size_t i, tokc *c)
{
    const nlpd_split_token *t = &s->tok[i];
    const unsigned char *p = s->text + t->start;
    size_t len = t->end > t->start ? t->end - t->start : 0;
    memset(c, 0, sizeof(*c));
    if (len == 0)
        return;
    if ((t->flags & NLPD_TOKEN_CLITIC) != 0) {
        c->tf = TF_CLITIC;
        return;
    }
    switch (t->shape) {
    case NLPD_SHAPE_LOWER:
        c->caps = CASE_LOWER;
        break;
    case NLPD_SHAPE_CAPITALIZED:
        c->caps = CASE_CAP;
        break;
    case NLPD_SHAPE_UPPER:
        c->caps = CASE_UPPER;
        break;
    default:
        c->caps = CASE_OTHER;
        break;
    }
    if (is_digit(p[0])) {
        classify_number(p, len, c);
        return;
    }
    switch (t->shape) {
    case NLPD_SHAPE_LOWER:
    case NLPD_SHAPE_CAPITALIZED:
    case NLPD_SHAPE_UPPER:
    case NLPD_SHAPE_MIXED: {
        const kw *w = kw_find(p, len);
        if (w == NULL && len > 2 && p[len - 1] == '.')
            w = kw_find(p, len - 1); /* a sentence's period kept on its last word */
        if (w != NULL) {
            c->roles = w->roles;
            c->id = w->id;
            c->unit = w->unit;
            c->val = w->val;
        } else if (len > 2) {
            for (size_t k = 1; k + 1 < len; k++) {
                if (p[k] == '-') {
                    classify_hyphenated(p, len, c);
                    break;
                }
            }
        }
        return;
    }
    case NLPD_SHAPE_ALNUM:
        classify_alnum(p, len, c);
        return;
    case NLPD_SHAPE_PUNCT:
    case NLPD_SHAPE_SYMBOL:
        classify_symbol(p, len, c);
        return;
    default:
        return;
    }
}

/* Roles and words that can begin a match (match_at tries nothing else):
 * the scanner skips every other token at the cost of one test. */
#define START_ROLES                                                                               \
    (R_MONTH | R_WEEKDAY | R_NUMW | R_ORDW | R_SEASON | R_RELDAY | R_REL | R_EDGE | R_CURCODE |   \
     R_CURPFX | R_CURSYM | R_NOON | R_APPROX | R_HOLIDAY | R_HOLPFX | R_EVERY | R_FEW | R_PLMAG | \
     R_FRAC | R_POSS)

static int
starts_match(const tokc *c)
{
    if ((c->roles & START_ROLES) != 0 || c->num != NUM_NONE)
        return 1;
    switch (c->id) {
    case W_THE:
    case W_A:
    case W_HALF:
    case W_NEW:
    case W_FISCAL:
    case W_BETWEEN:
    case W_MORE:
    case W_LESS:
    case W_AT:
    case W_UP:
    case W_AS:
    case W_JUST:
    case W_WELL:
    case W_CLOSE:
    case W_OVER:
    case W_UNDER:
        return 1;
    default:
        return 0;
    }
}

static const tokc tokc_end; /* all zero: past either end of the sentence */

/* Classifies token i into its ring slot k (the slow path of ct). */
static const tokc *
ct_fill(scan *s, size_t i, unsigned k)
{
    classify(s, i, &s->ring[k]);
    s->ring[k].start = (uint8_t)starts_match(&s->ring[k]);
    s->tag[k] = (uint32_t)i + 1;
    return &s->ring[k];
}

/* The class of token i (any i: outside [0, n) gives an empty class). */
static inline const tokc *
ct(scan *s, size_t i)
{
    if (i >= s->n)
        return &tokc_end;
    unsigned k = (unsigned)(i % RING);
    if (s->tag[k] != (uint32_t)i + 1)
        return ct_fill(s, i, k);
    return &s->ring[k];
}

static int
has(scan *s, size_t i, uint64_t roles)
{
    return (ct(s, i)->roles & roles) != 0;
}

static int
idis(scan *s, size_t i, unsigned id)
{
    return ct(s, i)->id == id;
}

/* Capitalized, or upper case ("JUNE") which all-caps text makes of any word. */
static int
capish(const tokc *c)
{
    return c->caps == CASE_CAP || c->caps == CASE_UPPER;
}

/* No space between tokens i and i + 1. */
static int
glued(const scan *s, size_t i)
{
    return i + 1 < s->n && s->tok[i].end == s->tok[i + 1].start;
}

/* ---- small grammar pieces ----------------------------------------------- */

/* A day of the month: "4", "4th", "4-5". */
static int
is_day(const tokc *c)
{
    if ((c->num == NUM_INT || c->num == NUM_ORD) && c->nd <= 2)
        return c->val >= 1 && c->val <= 31;
    return c->num == NUM_RANGE && c->val >= 1 && c->val <= 31 && c->val2 > c->val && c->val2 <= 31;
}

static int
is_year(const tokc *c)
{
    return c->num == NUM_INT && c->nd == 4 && c->val >= 1000 && c->val <= 2199;
}

typedef struct nump {
    size_t len;
    int digits;   /* a digit token */
    int plain;    /* one plain digit token without magnitude */
    int32_t val;  /* value of a small whole number, else -1 */
    int mag;      /* has a magnitude ("billion", "20m") */
    int article;  /* "a"/"an" standing for one ("a year") */
    int few;      /* "a few", "several" */
    int plmag;    /* "hundreds", "tens of thousands" */
    int word_one; /* the word "one" alone */
    int half;     /* "half a(n)": "half an hour" */
    uint8_t num;  /* NUM_* of a single digit token */
} nump;

/* A number phrase at i: "3.5 billion", "20m", "two hundred and fifty",
 * "a million", "half a million", "tens of thousands", "a few", "several".
 * Returns its length (0: none). */
static size_t
p_number(scan *s, size_t i, nump *np, int allow_article)
{
    memset(np, 0, sizeof(*np));
    np->val = -1;
    const tokc *c = ct(s, i);
    size_t j = i;
    if (c->num == NUM_INT || c->num == NUM_GROUPED || c->num == NUM_DEC) {
        np->digits = 1;
        np->num = c->num;
        np->val = c->num == NUM_DEC ? -1 : c->val;
        j++;
        while (j - i < 3 && has(s, j, R_MAG) && !(has(s, j, R_AMBIG) && !glued(s, j - 1)))
            j++;
        /* "two and a half million" style tails are not handled for digits */
        np->mag = j - i > 1;
        np->plain = !np->mag;
        if (np->mag)
            np->val = -1;
    } else if (c->num == NUM_MAGSFX) {
        np->digits = 1;
        np->num = c->num;
        np->mag = 1;
        j++;
        while (j - i < 3 && has(s, j, R_MAG) && !has(s, j, R_AMBIG))
            j++;
    } else if ((c->roles & R_NUMW) != 0) {
        /* two hundred and fifty thousand */
        int32_t v = c->val;
        np->word_one = c->id == W_ONE;
        j++;
        while (j - i < 8) {
            if (has(s, j, R_MAG) && !has(s, j, R_AMBIG)) {
                np->mag = 1;
                j++;
            } else if (has(s, j, R_NUMW) && ct(s, j)->id != W_DOZEN && ct(s, j - 1)->val >= 20 &&
                       ct(s, j - 1)->val % 10 == 0 && ct(s, j)->val < 10 && !np->mag) {
                v += ct(s, j)->val; /* "twenty five" */
                j++;
            } else if (idis(s, j, W_AND) && np->mag && has(s, j + 1, R_NUMW) &&
                       !idis(s, j + 1, W_ONE)) {
                j += 2;
            } else {
                break;
            }
        }
        if (j - i > 1)
            np->word_one = 0;
        np->val = np->mag ? -1 : v;
    } else if (c->id == W_A && allow_article) {
        j++;
        if (has(s, j, R_MAG) && !has(s, j, R_AMBIG)) {
            np->mag = 1;
            j++;
            while (j - i < 4 && has(s, j, R_MAG) && !has(s, j, R_AMBIG))
                j++;
        } else if (idis(s, j, W_DOZEN)) {
            j++;
            np->val = 12;
        } else if (has(s, j, R_FEW) && ct(s, j)->val == 3) { /* a few */
            np->few = 1;
            j++;
        } else if (has(s, j, R_FEW) && idis(s, j + 1, W_OF)) { /* a couple of */
            np->few = 1;
            j += 2;
        } else {
            np->article = 1;
            np->val = 1;
        }
    } else if (c->id == W_HALF && idis(s, i + 1, W_A)) {
        j += 2;
        if (has(s, j, R_MAG) && !has(s, j, R_AMBIG)) { /* half a million */
            np->mag = 1;
            j++;
        } else {
            np->article = 1; /* half an hour */
            np->half = 1;
        }
    } else if ((c->roles & R_FEW) != 0 && c->val == 3) {
        np->few = 1; /* several, (the past) few */
        j++;
    } else if ((c->roles & R_FEW) != 0 && idis(s, i + 1, W_OF)) {
        np->few = 1; /* (the last) couple of */
        j += 2;
    } else if ((c->roles & R_PLMAG) != 0) {
        np->plmag = 1;
        j++;
        while (j - i < 7 && idis(s, j, W_OF) && has(s, j + 1, R_PLMAG))
            j += 2;
    } else {
        return 0;
    }
    /* "two and a half" */
    if (!np->article && !np->few && idis(s, j, W_AND) && idis(s, j + 1, W_A) &&
        idis(s, j + 2, W_HALF)) {
        j += 3;
        np->val = -1;
        np->plain = 0;
    }
    np->len = j - i;
    return np->len;
}

/* An approximator at i: "about", "more than", "at least", "as many as",
 * "up to", "just over". *prep is set for those that are also prepositions
 * ("over", "under", "up to"), which stay out of durations. */
static size_t
p_approx(scan *s, size_t i, int *prep)
{
    const tokc *c = ct(s, i);
    *prep = 0;
    switch (c->id) {
    case W_MORE:
    case W_LESS:
        return idis(s, i + 1, W_THAN) ? 2 : 0;
    case W_AT:
        return idis(s, i + 1, W_LEAST) || idis(s, i + 1, W_MOST) ? 2 : 0;
    case W_UP:
        *prep = 1;
        return idis(s, i + 1, W_TO) ? 2 : 0;
    case W_AS:
        return idis(s, i + 1, W_MANY) && idis(s, i + 2, W_AS) ? 3 : 0;
    case W_JUST:
    case W_WELL:
        *prep = 1;
        return idis(s, i + 1, W_OVER) || idis(s, i + 1, W_UNDER) ? 2 : 0;
    case W_CLOSE:
        *prep = 1;
        return idis(s, i + 1, W_TO) ? 2 : 0;
    case W_OVER:
    case W_UNDER:
        *prep = 1;
        return 1;
    default:
        break;
    }
    if ((c->roles & R_APPROX) != 0)
        return 1;
    return 0;
}

typedef struct hit {
    size_t len;
    uint8_t label;
} hit;

static hit
mk(size_t len, unsigned label)
{
    hit h = {len, (uint8_t)label};
    return h;
}

static const hit no_hit = {0, 0};

/* Time zone and "local time" after a clock time at j. */
static size_t
p_zone(scan *s, size_t j)
{
    if (has(s, j, R_TZ) && ct(s, j)->caps == CASE_UPPER)
        return 1;
    if (idis(s, j, W_LOCAL) && idis(s, j + 1, W_TIME))
        return 2;
    return 0;
}

/* "ago", "earlier", "later", "old" (ages) after a duration at j. */
static size_t
p_post(scan *s, size_t j, unsigned unit)
{
    if (has(s, j, R_POST))
        return 1;
    if (idis(s, j, W_OLD) && (unit == U_YEAR || unit == U_MONTH || unit == U_WEEK || unit == U_DAY))
        return 1;
    return 0;
}

/* "a share" or "per share" after an amount: "$1.50 a share". */
static size_t
p_share(scan *s, size_t j)
{
    return (idis(s, j, W_A) || idis(s, j, W_PER)) && idis(s, j + 1, W_SHARE) ? 2 : 0;
}

/* What follows a number phrase at j: a percent sign or word, a currency,
 * a unit of time, a clock suffix... Returns the hit for the whole phrase
 * from i (the number's start), or no_hit. */
static hit
p_unit(scan *s, size_t i, const nump *np, size_t j)
{
    const tokc *u = ct(s, j);
    /* percent ("half a percentage point" too) */
    if ((!np->article || np->half) && !np->few && !np->plmag) {
        if ((u->roles & R_PCT) != 0)
            return mk(j + 1 - i, NLPD_ENT_PERCENT);
        if (u->id == W_PER && idis(s, j + 1, W_CENT))
            return mk(j + 2 - i, NLPD_ENT_PERCENT);
        if (u->id == W_PERCENTAGE && idis(s, j + 1, W_POINT))
            return mk(j + 2 - i, NLPD_ENT_PERCENT);
    }
    /* money after the number: "20 euros", "5 million dollars", "500 USD", "5€" */
    if (!np->article && !np->few) {
        size_t k = j;
        if (np->plmag && idis(s, k, W_OF))
            k++;
        else if (np->plmag)
            k = SIZE_MAX;
        /* "5 million US dollars", "20 Hong Kong dollars" */
        size_t q = k;
        while (q != SIZE_MAX && q - k < 3 && capish(ct(s, q)) && !has(s, q, R_CURN))
            q++;
        if (q != SIZE_MAX && has(s, q, R_CURN)) {
            const tokc *cu = ct(s, q);
            int ok = 1;
            if ((cu->roles & R_AMBIG) != 0) /* pounds (weight), won (verb) */
                ok = np->mag || np->num == NUM_DEC || idis(s, q + 1, W_STERLING) ||
                     (q > k && capish(ct(s, k)));
            if (ok) {
                size_t e = q + 1 + (idis(s, q + 1, W_STERLING) ? 1u : 0u);
                e += p_share(s, e);
                return mk(e - i, NLPD_ENT_MONEY);
            }
        }
        if (!np->plmag && ((u->roles & R_CURCODE) != 0 && u->caps == CASE_UPPER))
            return mk(j + 1 - i, NLPD_ENT_MONEY);
        if (!np->plmag && (u->roles & R_CURSYM) != 0 && glued(s, j - 1) && np->digits)
            return mk(j + 1 - i, NLPD_ENT_MONEY);
    }
    /* "a quarter (of a) percentage point" */
    if (u->unit == U_QUARTER && (u->roles & R_PLURAL) == 0 && np->article) {
        size_t k = j + 1;
        if (idis(s, k, W_OF) && idis(s, k + 1, W_A))
            k += 2;
        if (idis(s, k, W_PERCENTAGE) && idis(s, k + 1, W_POINT))
            return mk(k + 2 - i, NLPD_ENT_PERCENT);
    }
    /* units of time: "two years", "30 minutes", "a year ago", "55 years old" */
    if ((u->roles & R_UNIT) != 0 && u->unit != U_HALF &&
        !(u->unit == U_SECOND && (u->roles & R_PLURAL) == 0 && !has(s, j + 1, R_POST))) {
        if (np->mag && !np->digits)
            return no_hit; /* "a million years" */
        size_t post = p_post(s, j + 1, u->unit);
        if (np->article && !np->half) {
            /* "a year" is a date only as a period: "a year ago", "for a year" */
            const tokc *pv = ct(s, i - 1);
            if (post == 0 && !(pv->id == W_FOR || pv->id == W_WITHIN || pv->id == W_IN ||
                               pv->id == W_THAN || pv->id == W_OVER || pv->id == W_HALF ||
                               pv->id == W_LEAST || (pv->roles & R_APPROX) != 0))
                return no_hit;
        }
        unsigned lab = unit_is_time(u->unit) ? NLPD_ENT_TIME : NLPD_ENT_DATE;
        return mk(j + 1 + post - i, lab);
    }
    if (np->article || np->few || np->plmag)
        return no_hit;
    /* clock times: "3 p.m.", "10.30 am", "3 o'clock", "12 noon", "1500 GMT" */
    if ((u->roles & R_AMPM) != 0 && (np->plain || (!np->digits && np->val > 0)) && np->val >= 1 &&
        np->val <= 12 && !(np->digits && ct(s, i)->nd > 2) &&
        !((u->roles & R_AMBIG) != 0 && !np->digits)) {
        size_t e = j + 1;
        e += p_zone(s, e);
        return mk(e - i, NLPD_ENT_TIME);
    }
    if ((u->roles & R_AMPM) != 0 && np->num == NUM_DEC && !np->mag && ct(s, i)->val >= 1 &&
        ct(s, i)->val <= 12 && ct(s, i)->nd2 == 2 && ct(s, i)->val2 < 60) {
        size_t e = j + 1;
        e += p_zone(s, e);
        return mk(e - i, NLPD_ENT_TIME);
    }
    if (u->id == W_OCLOCK && np->val >= 1 && np->val <= 12)
        return mk(j + 1 - i, NLPD_ENT_TIME);
    if ((u->roles & R_NOON) != 0 && np->val == 12)
        return mk(j + 1 - i, NLPD_ENT_TIME);
    if ((u->roles & R_TZ) != 0 && u->caps == CASE_UPPER && np->plain && ct(s, i)->nd == 4 &&
        ct(s, i)->val / 100 < 24 && ct(s, i)->val % 100 < 60)
        return mk(j + 1 - i, NLPD_ENT_TIME);
    /* measured quantities: consumed, not reported */
    if ((u->roles & R_MEASURE) != 0 || u->num == NUM_MEASURE)
        return mk(j + 1 - i, LAB_SKIP);
    return no_hit;
}

/* Forward declarations: the date grammar is mutually recursive. */
static hit m_month(scan *s, size_t i, int gate);
static hit m_rel(scan *s, size_t i);

/* "of" + a year or a relative year after a month, season or quarter:
 * "June of 2024", "June of the previous year", "the summer of 1969". */
static size_t
p_of_year(scan *s, size_t j)
{
    if (!idis(s, j, W_OF))
        return 0;
    if (is_year(ct(s, j + 1)))
        return 2;
    if (idis(s, j + 1, W_FISCAL) && is_year(ct(s, j + 2)))
        return 3;
    if (idis(s, j + 1, W_THE) && idis(s, j + 2, W_YEAR))
        return 3;
    if (idis(s, j + 1, W_THAT) && idis(s, j + 2, W_YEAR))
        return 3;
    hit r = m_rel(s, j + 1);
    if (r.len > 0 && r.label == NLPD_ENT_DATE)
        return 1 + r.len;
    return 0;
}

/* Whether the token before i makes an ambiguous word a date: "in May",
 * "since March", "early May", "last May", "between April and May". */
static int
temporal_before(scan *s, size_t i)
{
    const tokc *p = ct(s, i - 1);
    if ((p->roles & (R_TPREP | R_EDGE | R_ALONEREL)) != 0 && p->caps != CASE_UPPER)
        return 1;
    if ((p->roles & (R_TPREP | R_EDGE | R_ALONEREL)) != 0 && p->caps == CASE_UPPER && s->allcaps)
        return 1;
    if ((p->id == W_AND || p->id == W_OR || p->id == W_TO || p->id == W_DASH) &&
        (has(s, i - 2, R_MONTH) || is_day(ct(s, i - 2))))
        return 1;
    if (p->id == W_TO && has(s, i - 2, R_UNIT))
        return 1; /* "the year to March" */
    return 0;
}

/* A capitalized word that is not a keyword: part of a name ("June Carter",
 * "Theresa May"). */
static int
name_word(const tokc *c)
{
    return (c->caps == CASE_CAP || c->caps == CASE_UPPER) && c->roles == 0 && c->num == NUM_NONE &&
           c->id == W_NONE && (c->tf & TF_CLITIC) == 0;
}

/* Whether the word at j looks like a verb after a subject: "warned",
 * "said", "says", "told". */
static int
verb_like(const scan *s, size_t j)
{
    if (j >= s->n || (s->tok[j].shape != NLPD_SHAPE_LOWER && s->tok[j].shape != NLPD_SHAPE_UPPER))
        return 0;
    const unsigned char *p = s->text + s->tok[j].start;
    size_t len = s->tok[j].end - s->tok[j].start;
    if (len >= 4 && fold(p[len - 2]) == 'e' && fold(p[len - 1]) == 'd')
        return 1;
    static const char *const speech[] = {"said", "says", "told", "tells", "thinks", "wants"};
    for (size_t k = 0; k < sizeof(speech) / sizeof(speech[0]); k++) {
        if (strlen(speech[k]) == len) {
            size_t q = 0;
            while (q < len && fold(p[q]) == (unsigned char)speech[k][q])
                q++;
            if (q == len)
                return 1;
        }
    }
    return 0;
}

/* Month at i: "June", "June 4", "June 4, 2024", "June 2024", "Sept. 30",
 * "June of the previous year". gate 0 skips the name checks (after a
 * weekday or an edge word). */
static hit
m_month(scan *s, size_t i, int gate)
{
    const tokc *c = ct(s, i);
    if ((c->roles & R_MONTH) == 0 || (c->roles & R_PLURAL) != 0)
        return no_hit;
    const tokc *nx = ct(s, i + 1);
    int day = is_day(nx);
    int year = is_year(nx);
    if (c->caps == CASE_LOWER && !(c->tf & TF_EDGEPFX)) {
        /* "june 4" in lower-case text; "may", "march" and "august" never */
        if ((c->roles & (R_AMBIG | R_ABBR)) != 0 || !(day || year))
            return no_hit;
    } else if (c->caps == CASE_OTHER && !(c->tf & TF_EDGEPFX)) {
        return no_hit;
    } else if (gate && !(c->tf & TF_EDGEPFX)) {
        int temporal = temporal_before(s, i);
        const tokc *pv = ct(s, i - 1);
        int det = (pv->id == W_THE || (pv->roles & R_POSS) != 0) && capish(c) &&
                  ct(s, i + 1)->caps == CASE_LOWER && ct(s, i + 1)->roles == 0;
        if ((c->roles & (R_ABBR | R_AMBIG)) != 0 && !(day || year) && !temporal && !det)
            return no_hit; /* "May said", "Jan Koum", "a March on" */
        if ((c->roles & R_AMBIG) != 0 && !(day || year) && verb_like(s, i + 1))
            return no_hit; /* "after May warned" */
        if (!day && !year && !temporal) {
            /* "June Carter", "Brian May" */
            if (name_word(nx) || (name_word(ct(s, i - 1)) && i >= 2 && !s->allcaps))
                return no_hit;
        }
        if ((c->roles & R_AMBIG) != 0 && name_word(ct(s, i - 1)) && i >= 1 && !s->allcaps)
            return no_hit; /* "Theresa May 4" is rare; "Theresa May" is not */
    }
    size_t j = i + 1;
    if (c->val == 5 && (c->roles & R_AMBIG) != 0 && idis(s, j, W_DAY) && capish(nx))
        return mk(2, NLPD_ENT_DATE); /* May Day */
    if (day) {
        j++;
        if (idis(s, j, W_COMMA) && is_year(ct(s, j + 1)))
            j += 2;
        else if (is_year(ct(s, j)))
            j++;
    } else if (year) {
        j++;
    } else {
        j += p_of_year(s, j);
    }
    return mk(j - i, NLPD_ENT_DATE);
}

/* The unit after a relative word at j: "year", "Tuesday", "June", "summer",
 * "morning", "weekend", "Christmas". plural allows "years". Returns the
 * length taken and sets *lab. */
static size_t
p_rel_tail(scan *s, size_t j, int plural_ok, int singular_ok, unsigned *lab)
{
    const tokc *u = ct(s, j);
    int plural = (u->roles & R_PLURAL) != 0;
    if (plural ? !plural_ok : !singular_ok)
        return 0;
    if ((u->roles & R_UNIT) != 0 && u->unit != U_HALF) {
        *lab = unit_is_time(u->unit) ? NLPD_ENT_TIME : NLPD_ENT_DATE;
        return 1;
    }
    if (plural)
        return 0;
    if ((u->roles & R_PARTDAY) != 0) {
        *lab = NLPD_ENT_TIME;
        return 1;
    }
    if ((u->roles & R_WEEKDAY) != 0 && u->caps != CASE_OTHER) {
        *lab = NLPD_ENT_DATE;
        if (has(s, j + 1, R_PARTDAY) && !has(s, j + 1, R_PLURAL)) {
            *lab = NLPD_ENT_TIME;
            return 2;
        }
        return 1;
    }
    if ((u->roles & R_MONTH) != 0 && capish(u) && (u->roles & R_ABBR) == 0) {
        *lab = NLPD_ENT_DATE;
        return 1;
    }
    if ((u->roles & (R_SEASON | R_HOLIDAY)) != 0) {
        *lab = NLPD_ENT_DATE;
        return 1;
    }
    return 0;
}

/* Relative dates at i: "last year", "this month", "next week", "last
 * Tuesday", "this morning" (TIME), "recent years", "past two weeks",
 * "that day". */
static hit
m_rel(scan *s, size_t i)
{
    const tokc *c = ct(s, i);
    size_t j = i;
    int the = 0;
    if (c->id == W_THE) {
        the = 1;
        j++;
        c = ct(s, j);
        if ((c->roles & R_THEREL) == 0)
            return no_hit;
    } else if ((c->roles & R_ALONEREL) == 0 && c->id != W_RECENT) {
        return no_hit;
    }
    if ((c->roles & R_REL) == 0)
        return no_hit;
    unsigned rel = c->id;
    j++;
    /* "the past five years", "the next few days", "last two decades" */
    nump np;
    size_t nl = 0;
    if (rel != W_THIS && rel != W_THAT && rel != W_SAME && the) {
        /* "the past five years"; not "will last 48 hours" */
        nl = p_number(s, j, &np, 0);
        if (nl > 0 && (np.mag || np.plmag || (np.digits && !np.plain)))
            nl = 0;
    }
    unsigned lab = NLPD_ENT_DATE;
    size_t tl;
    if (nl > 0) {
        tl = p_rel_tail(s, j + nl, 1, np.val == 1, &lab);
        if (tl == 0)
            return no_hit;
        j += nl + tl;
    } else {
        /* plural only after "the past", "the last", "recent", "the coming" */
        int plural_ok = rel == W_RECENT || c->id == W_COMING || (the && (rel != W_SAME));
        int singular_ok = rel != W_RECENT || the;
        tl = p_rel_tail(s, j, plural_ok, singular_ok, &lab);
        if (tl == 0)
            return no_hit;
        if (rel == W_THAT && (ct(s, j)->roles & (R_UNIT | R_PARTDAY)) == 0)
            return no_hit;
        j += tl;
    }
    /* "the third quarter of 2023" style tails are for quarters; "last year
     * alone" is not a date phrase. A relative date may take "'s" outside. */
    return mk(j - i, lab);
}

/* Weekday at i: "Tuesday", "Tuesday evening" (TIME), "Tuesday, June 4, 2024". */
static hit
m_weekday(scan *s, size_t i)
{
    const tokc *c = ct(s, i);
    if ((c->roles & R_WEEKDAY) == 0 || c->caps == CASE_OTHER)
        return no_hit;
    if ((c->roles & R_PLURAL) != 0) /* "on Tuesdays" */
        return mk(1, NLPD_ENT_DATE);
    size_t j = i + 1;
    if (has(s, j, R_PARTDAY) && !has(s, j, R_PLURAL))
        return mk(2, NLPD_ENT_TIME);
    size_t k = idis(s, j, W_COMMA) ? j + 1 : j;
    hit m = m_month(s, k, 0);
    if (m.len > 1) /* a month with a day or a year */
        return mk(k + m.len - i, NLPD_ENT_DATE);
    if (is_day(ct(s, k)) && ct(s, k)->num != NUM_RANGE && has(s, k + 1, R_MONTH)) {
        /* "Tuesday 4 June" */
        m = m_month(s, k + 1, 0);
        size_t e = k + 1 + m.len;
        if (is_year(ct(s, e)) && m.len == 1)
            e++;
        return mk(e - i, NLPD_ENT_DATE);
    }
    return mk(1, NLPD_ENT_DATE);
}

/* Edge words at i: "early June", "late 2023", "mid 1990s", "earlier this
 * year", "late last year", "early next week", "late Tuesday", "late summer". */
static hit
m_edge(scan *s, size_t i)
{
    const tokc *c = ct(s, i);
    if ((c->roles & R_EDGE) == 0)
        return no_hit;
    size_t j = i + 1;
    const tokc *nx = ct(s, j);
    int near = (c->roles & R_POST) != 0; /* earlier, later */
    if ((nx->roles & R_ALONEREL) != 0) {
        hit r = m_rel(s, j);
        if (r.len > 0)
            return mk(1 + r.len, r.label);
        return no_hit;
    }
    if (near)
        return no_hit; /* "later June" is not English */
    if ((nx->roles & R_MONTH) != 0) {
        hit m = m_month(s, j, 0);
        if (m.len == 1 && name_word(ct(s, j + 1)))
            return no_hit; /* "the late June Carter" */
        if (m.len > 0 && capish(nx))
            return mk(1 + m.len, NLPD_ENT_DATE);
        return no_hit;
    }
    if (is_year(nx)) {
        size_t e = j + 1;
        return mk(e - i, NLPD_ENT_DATE);
    }
    if (nx->num == NUM_DECADE && nx->nd == 4)
        return mk(2, NLPD_ENT_DATE);
    if ((nx->roles & R_WEEKDAY) != 0 && capish(nx)) {
        hit w = m_weekday(s, j);
        return mk(1 + w.len, w.label);
    }
    if (nx->id == W_ON && has(s, j + 1, R_WEEKDAY) && capish(ct(s, j + 1))) {
        hit w = m_weekday(s, j + 1); /* "late on Monday" */
        return mk(2 + w.len, w.label);
    }
    if ((nx->roles & R_SEASON) != 0 && !(nx->roles & R_AMBIG)) {
        size_t e = j + 1;
        if (is_year(ct(s, e)))
            e++;
        else
            e += p_of_year(s, e);
        return mk(e - i, NLPD_ENT_DATE);
    }
    return no_hit;
}

/* "the"-led dates at i: "the past decade", "the 1990s", "the early 1990s",
 * "the third quarter (of 2023)", "the 20th century", "the first half of
 * 2024", "the summer of 1969", "the end of the year", "the weekend",
 * "the morning" (TIME), "the 4th of June", "the '90s". */
static hit
m_the(scan *s, size_t i, int depth)
{
    size_t j = i + 1;
    const tokc *c = ct(s, j);
    hit r = m_rel(s, i);
    if (r.len > 0)
        return r;
    /* edge + decade or century: "the early 1990s", "the late 19th century" */
    size_t e0 = j;
    if (c->id == W_EARLY || c->id == W_LATE || c->id == W_MID) {
        e0 = j + 1;
        c = ct(s, e0);
    }
    if (c->num == NUM_DECADE || (c->roles & R_DECADEW) != 0)
        return mk(e0 + 1 - i, NLPD_ENT_DATE);
    if (c->id == W_APOS && ct(s, e0 + 1)->num == NUM_DECADE && ct(s, e0 + 1)->nd == 2 &&
        glued(s, e0))
        return mk(e0 + 2 - i, NLPD_ENT_DATE);
    /* ordinal + period: "the third quarter", "the 20th century", "the first half of" */
    if (c->num == NUM_ORD || (c->roles & R_ORDW) != 0) {
        const tokc *u = ct(s, e0 + 1);
        size_t e = e0 + 2;
        if (e0 == j && (u->num == NUM_INT || (u->roles & R_NUMW) != 0)) {
            /* "the first 45 minutes", "the first three months (of 2024)" */
            nump np;
            size_t nl = p_number(s, e0 + 1, &np, 0);
            const tokc *v = ct(s, e0 + 1 + nl);
            if (nl > 0 && !np.mag && (v->roles & R_UNIT) != 0 && (v->roles & R_PLURAL) != 0 &&
                v->unit != U_HALF) {
                size_t end = e0 + 2 + nl;
                end += p_of_year(s, end);
                return mk(end - i, unit_is_time(v->unit) ? NLPD_ENT_TIME : NLPD_ENT_DATE);
            }
        }
        if (u->unit == U_CENTURY && (u->roles & R_PLURAL) == 0)
            return mk(e - i, NLPD_ENT_DATE);
        if (e0 != j)
            return no_hit;
        if (u->unit == U_QUARTER && (u->roles & R_PLURAL) == 0) {
            e += p_of_year(s, e);
            if (is_year(ct(s, e)) && e == e0 + 2)
                e++;
            return mk(e - i, NLPD_ENT_DATE);
        }
        if (u->unit == U_HALF) {
            size_t k = p_of_year(s, e);
            if (k > 0)
                return mk(e + k - i, NLPD_ENT_DATE);
            return no_hit;
        }
        if ((u->unit == U_DAY || u->unit == U_WEEK || u->unit == U_MONTH || u->unit == U_YEAR) &&
            (u->roles & R_PLURAL) == 0 && (c->roles & R_ORDW) != 0)
            return mk(e - i, NLPD_ENT_DATE); /* "the second day" */
        if (c->num == NUM_ORD && c->val >= 1 && c->val <= 31 && idis(s, e0 + 1, W_OF) &&
            has(s, e0 + 2, R_MONTH) && capish(ct(s, e0 + 2))) {
            /* "the 4th of June (2024)" */
            e = e0 + 3;
            if (is_year(ct(s, e)))
                e++;
            return mk(e - i, NLPD_ENT_DATE);
        }
        if (c->num == NUM_ORD && c->val >= 1 && c->val <= 31 && idis(s, i - 1, W_ON))
            return mk(2, NLPD_ENT_DATE); /* "on the 15th" */
        return no_hit;
    }
    if (e0 != j)
        return no_hit;
    /* durations: "the 12 months to June", "the two years since" */
    if (c->num == NUM_INT || (c->roles & R_NUMW) != 0) {
        nump np;
        size_t nl = p_number(s, j, &np, 0);
        const tokc *u = ct(s, j + nl);
        if (nl > 0 && !np.mag && !np.plmag && (u->roles & R_UNIT) != 0 &&
            (u->roles & R_PLURAL) != 0 && u->unit != U_HALF)
            return mk(nl + 2, unit_is_time(u->unit) ? NLPD_ENT_TIME : NLPD_ENT_DATE);
        return no_hit;
    }
    /* seasons: "the summer of 1969", "in the spring" */
    if ((c->roles & R_SEASON) != 0) {
        size_t k = p_of_year(s, j + 1);
        if (k > 0)
            return mk(j + 1 + k - i, NLPD_ENT_DATE);
        if (has(s, i - 1, R_TPREP) || idis(s, i - 1, W_OVER))
            return mk(2, NLPD_ENT_DATE);
        return no_hit;
    }
    /* "the year 2000" */
    if (c->id == W_YEAR && is_year(ct(s, j + 1)))
        return mk(3, NLPD_ENT_DATE);
    if (c->unit == U_WEEKEND && (c->roles & R_PLURAL) == 0 &&
        (has(s, i - 1, R_TPREP) || idis(s, i - 1, W_OVER) || idis(s, i - 1, W_AT) ||
         idis(s, i - 1, W_FOR)))
        return mk(2, NLPD_ENT_DATE);
    /* "the end of the year", "the beginning of 2024", "the start of next month" */
    if ((c->roles & R_ENDOF) != 0 && idis(s, j + 1, W_OF)) {
        size_t k = j + 2;
        const tokc *d = ct(s, k);
        if (is_year(d))
            return mk(k + 1 - i, NLPD_ENT_DATE);
        if (d->id == W_THE) {
            const tokc *u = ct(s, k + 1);
            if ((u->roles & R_UNIT) != 0 && (u->roles & R_PLURAL) == 0 &&
                (u->unit == U_YEAR || u->unit == U_MONTH || u->unit == U_WEEK ||
                 u->unit == U_DECADE || u->unit == U_QUARTER || u->unit == U_CENTURY))
                return mk(k + 2 - i, NLPD_ENT_DATE);
        }
        hit h = m_month(s, k, 0);
        if (h.len > 0 && capish(d) && (d->roles & R_ABBR) == 0)
            return mk(k + h.len - i, NLPD_ENT_DATE);
        h = m_rel(s, k);
        if (h.len == 0 && depth == 0)
            h = m_the(s, k, 1);
        if (h.len > 0 && h.label == NLPD_ENT_DATE)
            return mk(k + h.len - i, NLPD_ENT_DATE);
        return no_hit;
    }
    /* "in the morning", "during the night" */
    if ((c->roles & R_PARTDAY) != 0 && (c->roles & R_PLURAL) == 0 &&
        (has(s, i - 1, R_TPREP) || idis(s, i - 1, W_AT)) && !idis(s, j + 1, W_OF))
        return mk(2, NLPD_ENT_TIME);
    return no_hit;
}

/* Money led by a currency: "$3.5 billion", "US$ 20", "£20m", "Rs 500",
 * "$1.50 a share". */
static hit
m_currency(scan *s, size_t i)
{
    const tokc *c = ct(s, i);
    size_t j = i;
    if (((c->roles & R_CURPFX) != 0 || (c->id == W_A && c->caps == CASE_CAP)) && capish(c) &&
        has(s, i + 1, R_CURSYM) && (glued(s, i) || (c->caps == CASE_UPPER && c->id != W_A)))
        j++;
    else if ((c->roles & R_CURCODE) != 0 &&
             (c->caps == CASE_UPPER || (c->caps == CASE_CAP && c->val == 1))) {
        j++;
        if (idis(s, j, W_PERIOD) && glued(s, j - 1))
            j++;
        nump np;
        size_t nl = p_number(s, j, &np, 0);
        if (nl == 0 || !np.digits)
            return no_hit;
        return mk(j + nl - i, NLPD_ENT_MONEY);
    }
    if (!has(s, j, R_CURSYM))
        return no_hit;
    j++;
    nump np;
    size_t nl = p_number(s, j, &np, 0);
    if (nl == 0 || !np.digits)
        return no_hit;
    j += nl;
    j += p_share(s, j);
    return mk(j - i, NLPD_ENT_MONEY);
}

/* Is i inside a run of digit groups such as a phone number ("+44 20 7946
 * 0958")? Returns the run's length from i when it holds 3 or more. */
static size_t
digit_run(scan *s, size_t i)
{
    size_t j = i;
    while (j - i < 16 && (ct(s, j)->num == NUM_INT || ct(s, j)->num == NUM_OTHER))
        j++;
    return j - i >= 3 ? j - i : 0;
}

/* A number used as a name or an identifier: "Boeing 747", "Page 5",
 * "version 2.0", "No. 10", "10 Downing Street". */
static int
id_number(scan *s, size_t i, size_t len)
{
    const tokc *p = ct(s, i - 1);
    if ((p->roles & R_IDPRE) != 0)
        return 1;
    if (i >= 1 && name_word(p) && !s->allcaps)
        return 1;
    if (i >= 1 && s->tok[i - 1].shape == NLPD_SHAPE_MIXED && p->roles == 0)
        return 1; /* "iOS 17" */
    /* number + capitalized words + street type */
    size_t j = i + len;
    for (size_t k = 0; k < 3 && name_word(ct(s, j + k)); k++) {
        if (has(s, j + k + 1, R_STREET) && capish(ct(s, j + k + 1)))
            return 1;
    }
    return 0;
}

/* Whether the word at j looks like a plural noun: "people", "troops". */
static int
plural_like(const scan *s, size_t j)
{
    if (j >= s->n)
        return 0;
    const unsigned char *p = s->text + s->tok[j].start;
    size_t len = s->tok[j].end - s->tok[j].start;
    static const char *const irregular[] = {"people", "men",   "women",     "children",
                                            "police", "staff", "personnel", "cattle"};
    for (size_t k = 0; k < sizeof(irregular) / sizeof(irregular[0]); k++) {
        if (strlen(irregular[k]) == len && memcmp(irregular[k], p, len) == 0)
            return 1;
    }
    if (len < 3 || p[len - 1] != 's')
        return 0;
    unsigned b = p[len - 2];
    return b != 's' && b != 'u' && b != 'i' && b != '\'';
}

/* Number-led matches at i (after an optional approximator handled by the
 * caller): money, percent, durations, clock times, dates, years, and the
 * cardinals and ordinals left over. */
static hit
m_number(scan *s, size_t i)
{
    const tokc *c = ct(s, i);
    switch (c->num) {
    case NUM_PERCENT: {
        /* "5%-6%", "5% to 6%" */
        if ((idis(s, i + 1, W_DASH) || idis(s, i + 1, W_TO)) && ct(s, i + 2)->num == NUM_PERCENT)
            return mk(3, NLPD_ENT_PERCENT);
        return mk(1, NLPD_ENT_PERCENT);
    }
    case NUM_TIME: {
        size_t e = i + 1;
        if (has(s, e, R_AMPM) && (ct(s, i)->val <= 12))
            e++;
        e += p_zone(s, e);
        return mk(e - i, NLPD_ENT_TIME);
    }
    case NUM_DATE:
    case NUM_YRANGE:
    case NUM_MIDYEAR:
        return mk(1, NLPD_ENT_DATE);
    case NUM_DECADE:
        if (c->nd == 4 || (c->tf & TF_EDGEPFX) != 0)
            return mk(1, NLPD_ENT_DATE);
        return no_hit;
    case NUM_FYQ: {
        if (i >= 2 && name_word(ct(s, i - 1)))
            return mk(1, LAB_SKIP); /* "Audi Q3" */
        if (is_year(ct(s, i + 1)) && fold(s->text[s->tok[i].start]) != 'f')
            return mk(2, NLPD_ENT_DATE); /* "Q3 2024" */
        return mk(1, NLPD_ENT_DATE);
    }
    case NUM_HYUNIT:
        if (c->unit == U_NONE)
            return no_hit;
        return mk(1, unit_is_time(c->unit) ? NLPD_ENT_TIME : NLPD_ENT_DATE);
    case NUM_MEASURE:
        return mk(1, LAB_SKIP);
    case NUM_OTHER: {
        size_t r = digit_run(s, i);
        return mk(r > 0 ? r : 1, LAB_SKIP);
    }
    case NUM_RANGE:
        if (is_day(c) && has(s, i + 1, R_MONTH) && capish(ct(s, i + 1))) {
            size_t e = i + 2 + (is_year(ct(s, i + 2)) ? 1u : 0u);
            return mk(e - i, NLPD_ENT_DATE); /* "12-13 March" */
        }
        return mk(1, LAB_SKIP); /* scores, "3-1" */
    case NUM_ORD: {
        /* "4th of June" */
        if (c->val >= 1 && c->val <= 31 && idis(s, i + 1, W_OF) && has(s, i + 2, R_MONTH) &&
            capish(ct(s, i + 2))) {
            size_t e = i + 3 + (is_year(ct(s, i + 3)) ? 1u : 0u);
            return mk(e - i, NLPD_ENT_DATE);
        }
        if (has(s, i + 1, R_UNIT) && ct(s, i + 1)->unit == U_CENTURY)
            return mk(2, NLPD_ENT_DATE); /* "21st century" */
        if (id_number(s, i, 1))
            return mk(1, LAB_SKIP);
        return mk(1, NLPD_ENT_ORDINAL);
    }
    default:
        break;
    }
    if (c->roles & R_ORDW) {
        /* "Second World War", "First Lady": part of a name */
        if (capish(c) && name_word(ct(s, i + 1)) && !s->allcaps)
            return no_hit;
        if (has(s, i + 1, R_UNIT) && ct(s, i + 1)->unit == U_CENTURY)
            return mk(2, NLPD_ENT_DATE); /* "nineteenth century" */
        if (c->id == W_FIRST && idis(s, i - 1, W_AT))
            return no_hit; /* "at first" */
        if (c->id != W_FIRST && (idis(s, i - 1, W_A) || has(s, i - 1, R_NUMW)) &&
            idis(s, i + 1, W_OF))
            return mk(1, LAB_SKIP); /* "a third of", "two fifths of": fractions */
        if ((c->roles & R_UNIT) != 0 && has(s, i - 1, R_NUMW | R_FEW))
            return no_hit;
        return mk(1, NLPD_ENT_ORDINAL);
    }
    if (c->roles & R_FRAC)
        return mk(1, NLPD_ENT_CARDINAL);
    if (c->num == NUM_NONE && (c->roles & (R_NUMW | R_PLMAG | R_FEW)) == 0 && c->id != W_A &&
        c->id != W_HALF)
        return no_hit;
    /* phone numbers and other runs of digit groups */
    if (c->num == NUM_INT) {
        size_t r = digit_run(s, i);
        if (r > 0)
            return mk(r, LAB_SKIP);
        if (idis(s, i - 1, W_PLUS) || (idis(s, i - 1, W_LPAREN) && idis(s, i + 1, W_RPAREN) &&
                                       ct(s, i + 2)->num == NUM_OTHER))
            return mk(1, LAB_SKIP);
    }
    nump np;
    size_t nl = p_number(s, i, &np, 1);
    if (nl == 0)
        return no_hit;
    size_t j = i + nl;
    hit h = p_unit(s, i, &np, j);
    if (h.len > 0)
        return h;
    /* ranges with one unit: "5 to 6 percent", "two or three days", "10-15 years" */
    if (!np.article && !np.few && !np.plmag &&
        (idis(s, j, W_TO) || idis(s, j, W_OR) || (idis(s, j, W_DASH) && glued(s, j - 1)))) {
        nump np2;
        size_t nl2 = p_number(s, j + 1, &np2, 0);
        if (nl2 > 0 && np2.digits == np.digits) {
            hit h2 = p_unit(s, j + 1, &np2, j + 1 + nl2);
            if (h2.len > 0 && h2.label != LAB_SKIP && h2.label != NLPD_ENT_MONEY)
                return mk(j + 1 + h2.len - i, h2.label);
            if (h2.len > 0 && h2.label == NLPD_ENT_MONEY && np2.digits)
                return mk(j + 1 + h2.len - i, NLPD_ENT_MONEY);
        }
    }
    if (np.article || np.few)
        return no_hit;
    /* a day before a month: "4 June 2024" */
    if (np.plain && is_day(c) && has(s, j, R_MONTH) && capish(ct(s, j)) && !has(s, j, R_PLURAL)) {
        size_t e = j + 1;
        if (is_year(ct(s, e)))
            e++;
        else if (idis(s, e, W_COMMA) && is_year(ct(s, e + 1)))
            e += 2; /* "1 April, 2024" */
        return mk(e - i, NLPD_ENT_DATE);
    }
    /* years */
    if (np.plain && is_year(c)) {
        const tokc *pv = ct(s, i - 1), *nx = ct(s, j);
        /* "in", "since", "during"... make a year of "in 2000 people" too;
         * "of", "by", "to" do not ("a crowd of 2000 people") */
        int weak = pv->id == W_OF || pv->id == W_ON || pv->id == W_TO || pv->id == W_OVER ||
                   (pv->roles & R_APPROX) != 0 || pv->id == W_WITHIN;
        int ctx = (pv->roles & (R_TPREP | R_EDGE | R_MONTH | R_SEASON)) != 0 ||
                  pv->id == W_FISCAL || pv->id == W_YEAR || pv->id == W_SEASONW ||
                  ((pv->id == W_AND || pv->id == W_OR || pv->id == W_TO || pv->id == W_DASH) &&
                   is_year(ct(s, i - 2)));
        int strong = ctx && !weak;
        int noun_after =
            nx->caps == CASE_LOWER && nx->roles == 0 && nx->id == W_NONE && nx->num == NUM_NONE;
        /* "the 1994 genocide", "its 2004 results" are years; "2000 people",
         * "the 1500 troops" are counts */
        int count = noun_after && plural_like(s, j) && (pv->roles & R_POSS) == 0 &&
                    (pv->tf & TF_CLITIC) == 0;
        if ((nx->roles & R_EVENTN) != 0 || strong || !count) {
            if (!ctx && i >= 2 && id_number(s, i, 1))
                return mk(1, LAB_SKIP);
            /* "the 2000 election", "in 2000", "2024 was" */
            return mk(1, NLPD_ENT_DATE);
        }
    }
    /* what is left is a number */
    if (np.digits && np.plain && id_number(s, i, nl))
        return mk(nl, LAB_SKIP);
    if (np.word_one) {
        const tokc *pv = ct(s, i - 1);
        if ((pv->roles & R_ONEDET) != 0 || (ct(s, j)->tf & TF_CLITIC) != 0 ||
            idis(s, j, W_ANOTHER) || name_word(pv))
            return no_hit;
    }
    if (!np.digits && capish(c) && i > 0 && name_word(ct(s, j)) && !s->allcaps)
        return no_hit; /* "Three Gorges", "Formula One" is caught by name_word before */
    if (!np.digits && capish(c) && i > 0 && name_word(ct(s, i - 1)) && !s->allcaps)
        return no_hit;
    return mk(nl, NLPD_ENT_CARDINAL);
}

/* Single-word and fixed dates and times: "today", "tonight", "noon",
 * "Christmas (Day)", "New Year's Eve", "Good Friday", "Independence Day",
 * "fiscal 2024", "every year", "summer 2024", "in summer". */
static hit
m_fixed(scan *s, size_t i)
{
    const tokc *c = ct(s, i);
    if ((c->roles & R_RELDAY) != 0 && c->caps != CASE_OTHER &&
        !(c->caps == CASE_CAP && i > 0 && !idis(s, i - 1, W_COMMA) && !s->allcaps &&
          (ct(s, i - 1)->caps != CASE_OTHER || (ct(s, i - 1)->tf & TF_CLITIC) != 0))) {
        /* not "BBC Radio 4's Today programme", "USA Today" */
        if (c->val == 1)
            return mk(1, NLPD_ENT_TIME); /* tonight */
        if (has(s, i + 1, R_PARTDAY) && !has(s, i + 1, R_PLURAL))
            return mk(2, NLPD_ENT_TIME); /* yesterday morning */
        return mk(1, NLPD_ENT_DATE);
    }
    if ((c->roles & R_NOON) != 0 && c->caps != CASE_OTHER)
        return mk(1, NLPD_ENT_TIME);
    if ((c->roles & (R_HOLIDAY | R_HOLPFX)) != 0 && capish(c)) {
        const tokc *nx = ct(s, i + 1);
        size_t k = i + 1;
        if ((nx->tf & TF_CLITIC) != 0 && (c->roles & R_HOLPFX) != 0) /* Mother's Day */
            k++;
        const tokc *d = ct(s, k);
        if (capish(d) && (d->id == W_DAY || d->id == W_EVE))
            return mk(k + 1 - i, NLPD_ENT_DATE);
        if ((c->roles & R_HOLPFX) != 0 && k == i + 1 && (d->roles & R_WEEKDAY) != 0 && capish(d))
            return mk(2, NLPD_ENT_DATE); /* Good Friday */
        if ((c->roles & R_HOLIDAY) != 0 && !name_word(nx) && !(i > 0 && name_word(ct(s, i - 1))))
            return mk(1, NLPD_ENT_DATE);
        return no_hit;
    }
    if (c->id == W_NEW && capish(c) && idis(s, i + 1, W_YEAR) && capish(ct(s, i + 1))) {
        size_t k = i + 2;
        if ((ct(s, k)->tf & TF_CLITIC) != 0)
            k++;
        if ((idis(s, k, W_DAY) || idis(s, k, W_EVE)) && capish(ct(s, k)))
            return mk(k + 1 - i, NLPD_ENT_DATE);
        return mk(2, NLPD_ENT_DATE);
    }
    if (c->id == W_FISCAL) {
        size_t k = i + 1;
        if (idis(s, k, W_YEAR))
            k++;
        if (is_year(ct(s, k)))
            return mk(k + 1 - i, NLPD_ENT_DATE);
        if (ct(s, k)->id == W_APOS && ct(s, k + 1)->num == NUM_INT && ct(s, k + 1)->nd == 2)
            return mk(k + 2 - i, NLPD_ENT_DATE);
        return no_hit;
    }
    if ((c->roles & R_EVERY) != 0) {
        unsigned lab;
        nump np;
        size_t nl = p_number(s, i + 1, &np, 0);
        if (nl > 0 && !np.mag && !np.plmag && has(s, i + 1 + nl, R_UNIT) &&
            has(s, i + 1 + nl, R_PLURAL)) { /* every four years */
            const tokc *u = ct(s, i + 1 + nl);
            return mk(2 + nl, unit_is_time(u->unit) ? NLPD_ENT_TIME : NLPD_ENT_DATE);
        }
        size_t tl = p_rel_tail(s, i + 1, 0, 1, &lab);
        if (tl > 0 && !has(s, i + 1, R_HOLIDAY | R_SEASON | R_MONTH))
            return mk(1 + tl, lab);
        return no_hit;
    }
    if ((c->roles & R_SEASON) != 0 && c->caps != CASE_OTHER) {
        if (is_year(ct(s, i + 1)))
            return mk(2, NLPD_ENT_DATE);
        if ((c->roles & R_AMBIG) == 0 && has(s, i - 1, R_TPREP) && !idis(s, i - 1, W_OF) &&
            ct(s, i + 1)->caps != CASE_CAP)
            return mk(1, NLPD_ENT_DATE); /* "in summer" */
        return no_hit;
    }
    return no_hit;
}

/* Everything that can start at token i; the longest is taken. */
static hit
match_at(scan *s, size_t i)
{
    const tokc *c = ct(s, i);
    if ((c->tf & TF_CLITIC) != 0)
        return no_hit;
    /* approximators: "about $5 million", "more than 30 years", "nearly 12%" */
    int prep;
    size_t al = p_approx(s, i, &prep);
    if (al > 0) {
        size_t k = i + al;
        hit h = has(s, k, R_CURSYM | R_CURPFX | R_CURCODE) ? m_currency(s, k) : no_hit;
        if (h.len == 0) {
            const tokc *d = ct(s, k);
            if (d->num == NUM_INT || d->num == NUM_GROUPED || d->num == NUM_DEC ||
                d->num == NUM_MAGSFX || d->num == NUM_PERCENT || d->num == NUM_TIME ||
                (d->roles & (R_NUMW | R_PLMAG)) != 0 || d->id == W_A || d->id == W_HALF)
                h = m_number(s, k);
            if (h.len > 0 && h.label == NLPD_ENT_DATE && is_year(d) && h.len == 1)
                h = no_hit; /* "around 2010": the year alone */
        }
        if (h.len > 0) {
            int ok = h.label == NLPD_ENT_MONEY || h.label == NLPD_ENT_PERCENT ||
                     h.label == NLPD_ENT_CARDINAL;
            if ((h.label == NLPD_ENT_DATE || h.label == NLPD_ENT_TIME) && !prep)
                ok = 1;
            if (ok)
                return mk(al + h.len, h.label);
        }
    }
    /* "between 18 and 25", "between 5 and 6 percent" */
    if (c->id == W_BETWEEN) {
        nump a, b;
        size_t la = p_number(s, i + 1, &a, 0);
        if (la > 0 && !a.few && !a.plmag && idis(s, i + 1 + la, W_AND)) {
            size_t k = i + 2 + la;
            size_t lb = p_number(s, k, &b, 0);
            if (lb > 0 && b.digits == a.digits && !b.few && !b.plmag && !is_year(ct(s, k))) {
                hit u = p_unit(s, k, &b, k + lb);
                if (u.len > 0 && u.label != LAB_SKIP)
                    return mk(k - i + u.len, u.label);
                if (u.len == 0 && !(a.plain && is_year(ct(s, i + 1))))
                    return mk(k - i + lb, NLPD_ENT_CARDINAL);
            }
        }
    }
    if (c->id == W_THE) {
        /* most "the"s are followed by a plain word: one test rules them out */
        const tokc *nx = ct(s, i + 1);
        if (nx->num == NUM_NONE && nx->id != W_APOS && nx->id != W_YEAR &&
            (nx->roles & (R_THEREL | R_EDGE | R_DECADEW | R_ORDW | R_SEASON | R_UNIT | R_ENDOF |
                          R_PARTDAY | R_NUMW)) == 0)
            return no_hit;
        hit h = m_the(s, i, 0);
        if (h.len > 0)
            return h;
        return no_hit;
    }
    if ((c->roles & R_POSS) != 0) {
        /* "its first week", "her third year" */
        const tokc *o = ct(s, i + 1), *u = ct(s, i + 2);
        if ((o->num == NUM_ORD || (o->roles & R_ORDW) != 0) && (u->roles & R_UNIT) != 0 &&
            (u->roles & R_PLURAL) == 0 &&
            (u->unit == U_DAY || u->unit == U_WEEK || u->unit == U_MONTH || u->unit == U_YEAR))
            return mk(3, NLPD_ENT_DATE);
        return no_hit;
    }
    if ((c->roles & (R_ALONEREL | R_REL)) != 0 && c->id != W_THE) {
        hit h = m_rel(s, i);
        if (h.len > 0)
            return h;
    }
    if ((c->roles & R_EDGE) != 0) {
        hit h = m_edge(s, i);
        if (h.len > 0)
            return h;
    }
    if ((c->roles & R_MONTH) != 0) {
        hit h = m_month(s, i, 1);
        if (h.len > 0)
            return h;
    }
    if ((c->roles & R_WEEKDAY) != 0) {
        hit h = m_weekday(s, i);
        if (h.len > 0)
            return h;
    }
    if ((c->roles & (R_RELDAY | R_NOON | R_HOLIDAY | R_HOLPFX | R_EVERY | R_SEASON)) != 0 ||
        c->id == W_NEW || c->id == W_FISCAL) {
        hit h = m_fixed(s, i);
        if (h.len > 0)
            return h;
    }
    if ((c->roles & (R_CURSYM | R_CURPFX | R_CURCODE)) != 0 ||
        (c->id == W_A && has(s, i + 1, R_CURSYM))) {
        hit h = m_currency(s, i);
        if (h.len > 0)
            return h;
    }
    if (c->id == W_A) {
        /* "a million", "a dozen", "a few days", "a year ago", "a quarter point" */
        const tokc *nx = ct(s, i + 1);
        if ((nx->roles & (R_MAG | R_FEW | R_UNIT)) == 0 && nx->id != W_DOZEN)
            return no_hit;
    }
    if (c->num != NUM_NONE || (c->roles & (R_NUMW | R_PLMAG | R_ORDW | R_FRAC | R_FEW)) != 0 ||
        c->id == W_A || c->id == W_HALF)
        return m_number(s, i);
    return no_hit;
}

/* Mostly upper-case words: headlines and shouting, where case says nothing. */
static int
sentence_allcaps(const nlpd_split_token *tok, size_t n)
{
    size_t up = 0, low = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i].shape == NLPD_SHAPE_UPPER)
            up++;
        else if (tok[i].shape == NLPD_SHAPE_LOWER || tok[i].shape == NLPD_SHAPE_CAPITALIZED)
            low++;
    }
    return up >= 2 && up > 2 * low;
}

size_t
nlpd__patterns_match(const char *text, const nlpd_split_token *tok, size_t n, int numbers,
                     nlpd__pattern_match *out)
{
    if (text == NULL || tok == NULL || out == NULL || n == 0)
        return 0;
    if (n > UINT32_MAX - 1)
        n = UINT32_MAX - 1;
    scan s;
    s.text = (const unsigned char *)text;
    s.tok = tok;
    s.n = n;
    s.allcaps = sentence_allcaps(tok, n);
    memset(s.tag, 0, sizeof(s.tag));
    size_t nm = 0;
    for (size_t i = 0; i < n;) {
        const tokc *c = ct(&s, i);
        if (!c->start) {
            i++; /* most words: nothing starts here */
            continue;
        }
        hit h = match_at(&s, i);
        if (h.len == 0) {
            i++;
            continue;
        }
        if (h.len > n - i)
            h.len = n - i;
        /* a clitic never ends a match ("Tuesday's") */
        while (h.len > 1 && (ct(&s, i + h.len - 1)->tf & TF_CLITIC) != 0)
            h.len--;
        int emit = h.label >= NLPD_ENT_DATE && h.label <= NLPD_ENT_PERCENT;
        if (numbers && (h.label == NLPD_ENT_CARDINAL || h.label == NLPD_ENT_ORDINAL))
            emit = 1;
        if (emit && nm < n) {
            out[nm].first_token = (uint32_t)i;
            out[nm].n_tokens = (uint32_t)h.len;
            out[nm].label = h.label;
            nm++;
        }
        i += h.len;
    }
    return nm;
}

void
nlpd__patterns_token_labels(const nlpd__pattern_match *m, size_t n_matches, size_t n_tokens,
                            uint8_t *labels)
{
    if (labels == NULL)
        return;
    memset(labels, 0, n_tokens);
    for (size_t k = 0; m != NULL && k < n_matches; k++) {
        size_t a = m[k].first_token, e = a + m[k].n_tokens;
        if (a >= n_tokens)
            continue;
        if (e > n_tokens)
            e = n_tokens;
        memset(labels + a, m[k].label, e - a);
    }
}
