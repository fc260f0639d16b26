/* tests/unit/quotes_test.c — the quotation finder of the example C stage:
 * mark pairing (curly, straight, single, guillemets), apostrophes, nesting
 * and unbalanced marks, byte offsets in multi-byte text, speakers, error
 * paths and linear time on 1 MB inputs. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "quotes.h"

/* ---- helpers ---------------------------------------------------------- */

#define MAX_FOUND 16

typedef struct found {
    const char *text;
    size_t n;    /* quotations seen (all, even past MAX_FOUND) */
    int stop_at; /* return 42 from the emit after this many; 0: never */
    nlpd_quote q[MAX_FOUND];
    size_t last_start; /* order check */
} found;

static int
collect(void *arg, const nlpd_quote *q)
{
    found *f = arg;
    /* Offsets are sane and in text order. */
    assert_true(q->open <= q->start && q->start <= q->end && q->end <= q->close);
    assert_true(q->speaker_start <= q->speaker_end);
    if (f->n > 0)
        assert_true(q->open >= f->last_start);
    f->last_start = q->close;
    if (f->n < MAX_FOUND)
        f->q[f->n] = *q;
    f->n++;
    if (f->stop_at > 0 && (int)f->n == f->stop_at)
        return 42;
    return 0;
}

static nlpd_quotes *
new_finder(void)
{
    nlpd_quotes *qf = NULL;
    assert_int_equal(nlpd_quotes_new(&qf, NULL), 0);
    assert_non_null(qf);
    return qf;
}

/* Runs the finder over the NUL-terminated `text`. */
static found
find(const char *text)
{
    found f;
    memset(&f, 0, sizeof(f));
    f.text = text;
    nlpd_quotes *qf = new_finder();
    assert_int_equal(nlpd_quotes_find(qf, text, strlen(text), collect, &f), 0);
    nlpd_quotes_free(&qf);
    assert_null(qf);
    return f;
}

static void
assert_passage(const found *f, size_t i, const char *expect)
{
    assert_true(i < f->n);
    const nlpd_quote *q = &f->q[i];
    size_t n = strlen(expect);
    if (q->end - q->start != n || memcmp(f->text + q->start, expect, n) != 0)
        fail_msg("quotation %zu is \"%.*s\", expected \"%s\"", i, (int)(q->end - q->start),
                 f->text + q->start, expect);
    /* The marks enclose it: nothing but whitespace and the marks around. */
    const char *at = strstr(f->text + q->open, expect);
    assert_non_null(at);
    assert_int_equal((size_t)(at - f->text), q->start);
}

static void
assert_speaker(const found *f, size_t i, const char *expect)
{
    assert_true(i < f->n);
    const nlpd_quote *q = &f->q[i];
    size_t n = q->speaker_end - q->speaker_start;
    if (expect == NULL) {
        if (n != 0)
            fail_msg("quotation %zu has speaker \"%.*s\", expected none", i, (int)n,
                     f->text + q->speaker_start);
        return;
    }
    if (n != strlen(expect) || memcmp(f->text + q->speaker_start, expect, n) != 0)
        fail_msg("quotation %zu has speaker \"%.*s\", expected \"%s\"", i, (int)n,
                 f->text + q->speaker_start, expect);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- marks ------------------------------------------------------------ */

static void
test_quotes_finds_curly_double_quotes(void **state)
{
    (void)state;
    found f = find("He said \xE2\x80\x9CWe will win this war\xE2\x80\x9D and left. "
                   "Then \xE2\x80\x9C  Another one here \xE2\x80\x9D.");
    assert_int_equal(f.n, 2);
    assert_passage(&f, 0, "We will win this war");
    assert_passage(&f, 1, "Another one here"); /* whitespace inside the marks left out */
    /* The marks are 3 bytes each and included in [open, close). */
    assert_int_equal(f.q[0].open, 8);
    assert_int_equal(f.q[0].start, 11);
    assert_int_equal(f.q[0].close, f.q[0].end + 3);
}

static void
test_quotes_pairs_straight_quotes_by_the_word_they_touch(void **state)
{
    (void)state;
    found f = find("\"One two,\" he said, \"three four.\" (\"Five six\") and \"seven eight\"");
    assert_int_equal(f.n, 4);
    assert_passage(&f, 0, "One two,");
    assert_passage(&f, 1, "three four.");
    assert_passage(&f, 2, "Five six");
    assert_passage(&f, 3, "seven eight");

    /* An inch mark closes nothing and opens nothing. */
    f = find("He is 6'2\" tall and \"very strong\" too.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "very strong");

    /* A straight quote with spaces on both sides is no mark. */
    f = find("A stray \" here and there, then \"real words\" end.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "real words");
}

static void
test_quotes_finds_guillemets(void **state)
{
    (void)state;
    found f = find("\xC2\xAB Nous continuerons le dialogue \xC2\xBB, a dit le ministre.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "Nous continuerons le dialogue");
    assert_int_equal(f.q[0].open, 0);
    assert_int_equal(f.q[0].start, 3);
}

static void
test_quotes_finds_single_quotes(void **state)
{
    (void)state;
    found f = find("Critics called it \xE2\x80\x98"
                   "a reckless gamble\xE2\x80\x99 on Monday.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "a reckless gamble");

    /* Two in a row: the second ‘ ends the first at its ’. */
    f = find("\xE2\x80\x98Go away now\xE2\x80\x99 she said, then \xE2\x80\x98"
             "come back "
             "soon\xE2\x80\x99 he added.");
    assert_int_equal(f.n, 2);
    assert_passage(&f, 0, "Go away now");
    assert_passage(&f, 1, "come back soon");
}

/* ---- apostrophes ------------------------------------------------------ */

static void
test_quotes_does_not_take_apostrophes_for_quotes(void **state)
{
    (void)state;
    found f = find("Shoigu\xE2\x80\x99s aides said the army\xE2\x80\x99s plans don\xE2\x80\x99t "
                   "change, as in the \xE2\x80\x99"
                   "90s. It\xE2\x80\x99s rock\xE2\x80\x98n\xE2"
                   "\x80\x99roll.");
    assert_int_equal(f.n, 0);

    /* Inside a quotation they stay part of it. */
    f = find("\xE2\x80\x98The army\xE2\x80\x99s plans won\xE2\x80\x99t change,\xE2\x80\x99 "
             "Shoigu\xE2\x80\x99s aide said.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "The army\xE2\x80\x99s plans won\xE2\x80\x99t change,");

    /* A plural's apostrophe (players’) is not the end when ,’ comes later. */
    f = find("\xE2\x80\x98We need the players\xE2\x80\x99 support,\xE2\x80\x99 he said, "
             "and the clubs\xE2\x80\x99 view matters.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "We need the players\xE2\x80\x99 support,");

    /* ’90s inside single quotes. */
    f = find("Rock in the \xE2\x80\x99"
             "90s was \xE2\x80\x98really very loud\xE2\x80\x99 "
             "indeed.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "really very loud");

    /* ‘90s as an opening mark is an apostrophe too. */
    f = find("In the \xE2\x80\x98"
             "90s, she said \xE2\x80\x98no more of this\xE2\x80\x99.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "no more of this");
}

/* ---- nesting and unbalanced marks -------------------------------------- */

static void
test_quotes_reports_the_outermost_of_nested_quotes(void **state)
{
    (void)state;
    found f = find("\xE2\x80\x9CHe told me \xE2\x80\x98never give up\xE2\x80\x99 every "
                   "day,\xE2\x80\x9D she said. \"They said \xE2\x80\x9Cno\xE2\x80\x9D twice.\"");
    assert_int_equal(f.n, 2);
    assert_passage(&f, 0, "He told me \xE2\x80\x98never give up\xE2\x80\x99 every day,");
    assert_passage(&f, 1, "They said \xE2\x80\x9Cno\xE2\x80\x9D twice.");
}

static void
test_quotes_ignores_unbalanced_marks(void **state)
{
    (void)state;
    found f = find("He said \xE2\x80\x9Cthis is open and never closed.");
    assert_int_equal(f.n, 0);
    f = find("Closing only\xE2\x80\x9D here, and \xC2\xBB there.");
    assert_int_equal(f.n, 0);
    f = find("Half \"open and never closed, and more words.");
    assert_int_equal(f.n, 0);

    /* Inside unbalanced outer marks, the balanced inner quotation stands. */
    f = find("\xE2\x80\x9CHe told me \xE2\x80\x98never give up\xE2\x80\x99 every day.\n\n"
             "Next paragraph \xE2\x80\x9Cwith its own\xE2\x80\x9D quote.");
    assert_int_equal(f.n, 2);
    assert_passage(&f, 0, "never give up");
    assert_passage(&f, 1, "with its own");

    /* Crossed marks: the ” closes “ and the ‘ inside finds no partner. */
    f = find("\xE2\x80\x9COne \xE2\x80\x98two three\xE2\x80\x9D four\xE2\x80\x99s.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "One \xE2\x80\x98two three");

    /* A straight quote that cannot close reopens: the first had no partner. */
    f = find("\"Never closed, and \"this one is\" fine.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "this one is");
}

static void
test_quotes_end_at_a_paragraph_break(void **state)
{
    (void)state;
    /* A quotation continued over paragraphs: only the last part has both marks. */
    found f = find("\"First paragraph without its end.\n\n\"Second one here.\"");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "Second one here.");

    /* A single line break does not end one (hard-wrapped text). */
    f = find("\xE2\x80\x9C"
             "A quotation wrapped\nover two lines\xE2\x80\x9D, he wrote.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "A quotation wrapped\nover two lines");
}

static void
test_quotes_needs_two_words(void **state)
{
    (void)state;
    found f = find("It was \xE2\x80\x9C"
                   "fine\xE2\x80\x9D and \"quite good\" and \"\" and "
                   "\xE2\x80\x9C \xE2\x80\x9D and \xE2\x80\x9C"
                   "... !\xE2\x80\x9D.");
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "quite good");

    nlpd_quotes_opts o = NLPD_QUOTES_OPTS_INIT;
    o.min_words = 1;
    nlpd_quotes *qf = NULL;
    assert_int_equal(nlpd_quotes_new(&qf, &o), 0);
    memset(&f, 0, sizeof(f));
    f.text = "It was \"fine\" today.";
    assert_int_equal(nlpd_quotes_find(qf, f.text, strlen(f.text), collect, &f), 0);
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "fine");
    nlpd_quotes_free(&qf);
}

/* ---- offsets ----------------------------------------------------------- */

static void
test_quotes_gives_byte_offsets_in_multibyte_text(void **state)
{
    (void)state;
    /* Cyrillic (2 bytes a letter) before and inside guillemets; CJK and
     * an emoji (3 and 4 bytes) before curly quotes. */
    const char *text = "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82! "
                       "\xC2\xAB\xD0\x9C\xD1\x8B \xD0\xBF\xD0\xBE\xD0\xB1\xD0\xB5\xD0\xB4"
                       "\xD0\xB8\xD0\xBC\xC2\xBB, \xE2\x80\x94 \xD1\x81\xD0\xBA\xD0\xB0"
                       "\xD0\xB7\xD0\xB0\xD0\xBB \xD0\xBE\xD0\xBD. "
                       "\xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 \xE2\x80\x9C"
                       "caf\xC3\xA9 "
                       "cr\xC3\xA8me\xE2\x80\x9D.";
    found f = find(text);
    assert_int_equal(f.n, 2);
    const char *p0 = strstr(text, "\xD0\x9C\xD1\x8B");
    assert_int_equal(f.q[0].start, (size_t)(p0 - text));
    assert_int_equal(f.q[0].start, 16); /* "Привет! " is 14 bytes, « 2 more */
    assert_passage(&f, 0,
                   "\xD0\x9C\xD1\x8B \xD0\xBF\xD0\xBE\xD0\xB1\xD0\xB5\xD0\xB4\xD0\xB8"
                   "\xD0\xBC");
    assert_passage(&f, 1, "caf\xC3\xA9 cr\xC3\xA8me");
    assert_int_equal(f.q[1].close, strlen(text) - 1);
}

static void
test_quotes_reads_invalid_utf8_byte_by_byte(void **state)
{
    (void)state;
    /* A lone lead byte, a truncated mark (E2 80 without its last byte) and
     * an overlong encoding of '"' (C0 A2) match nothing. */
    const char text[] = "\xFF\xE2\x80\x9Ctwo words\xE2\x80\x9D \xE2\x80 x \xC0\xA2no "
                        "quote\xC0\xA2 \xE2\x80\x9C"
                        "end here\xE2\x80";
    found f;
    memset(&f, 0, sizeof(f));
    f.text = text;
    nlpd_quotes *qf = new_finder();
    assert_int_equal(nlpd_quotes_find(qf, text, sizeof(text) - 1, collect, &f), 0);
    nlpd_quotes_free(&qf);
    assert_int_equal(f.n, 1);
    assert_passage(&f, 0, "two words");
}

static void
test_quotes_handles_empty_text_and_bad_arguments(void **state)
{
    (void)state;
    found f;
    memset(&f, 0, sizeof(f));
    nlpd_quotes *qf = new_finder();
    assert_int_equal(nlpd_quotes_find(qf, "", 0, collect, &f), 0);
    assert_int_equal(nlpd_quotes_find(qf, NULL, 0, collect, &f), 0);
    assert_int_equal(f.n, 0);
    assert_int_equal(nlpd_quotes_find(qf, NULL, 5, collect, &f), NLPD_EINVAL);
    assert_int_equal(nlpd_quotes_find(qf, "x", 1, NULL, &f), NLPD_EINVAL);
    assert_int_equal(nlpd_quotes_find(NULL, "x", 1, collect, &f), NLPD_EINVAL);
    /* Just marks. */
    f.text = "\xE2\x80\x9C\xE2\x80\x9D\"\"\xE2\x80\x98\xE2\x80\x99";
    assert_int_equal(nlpd_quotes_find(qf, f.text, strlen(f.text), collect, &f), 0);
    assert_int_equal(f.n, 0);
    nlpd_quotes_free(&qf);
    nlpd_quotes_free(&qf); /* NULL is fine */
    nlpd_quotes_free(NULL);
    assert_int_equal(nlpd_quotes_new(NULL, NULL), NLPD_EINVAL);
}

/* ---- speakers ---------------------------------------------------------- */

static void
test_quotes_finds_speakers_in_simple_patterns(void **state)
{
    (void)state;
    found f = find("\xE2\x80\x9CWe will not back down,\xE2\x80\x9D said Sergei Shoigu, the "
                   "minister. \xE2\x80\x9CNever again,\xE2\x80\x9D Shoigu said. "
                   "Sergei Shoigu said: \xE2\x80\x9CWe will not back down.\xE2\x80\x9D "
                   "But Smith said, \"we go now.\" \xE2\x80\x9CWhy not?\xE2\x80\x9D asked "
                   "Dr. Jane Doe. \"It was a hard year,\" Marsh chief executive Michael "
                   "Cherkasky said. \"We go on,\" Dr. Doe told reporters.");
    assert_int_equal(f.n, 7);
    assert_speaker(&f, 0, "Sergei Shoigu");
    assert_speaker(&f, 1, "Shoigu");
    assert_speaker(&f, 2, "Sergei Shoigu");
    assert_speaker(&f, 3, "Smith");
    assert_speaker(&f, 4, "Dr. Jane Doe");
    assert_speaker(&f, 5, "Michael Cherkasky");
    assert_speaker(&f, 6, "Dr. Doe");
}

static void
test_quotes_gives_no_speaker_rather_than_a_wrong_one(void **state)
{
    (void)state;
    found f = find("\xE2\x80\x9CWe will win this,\xE2\x80\x9D he said. "
                   "\xE2\x80\x9CWe will win again.\xE2\x80\x9D Smith said it twice. "
                   "The minister said: \xE2\x80\x9CNo comment at all.\xE2\x80\x9D "
                   "They met in Moscow. Smith said, \xE2\x80\x9Cwe go now.\xE2\x80\x9D "
                   "\xE2\x80\x9CIt is over,\xE2\x80\x9D said the spokesman. "
                   "\"Not yet,\" the head of the Moscow office said. "
                   "\"Go home,\" he told Reuters. \"Stay here,\" Smith, the boss, said. "
                   "\"We are pleased,\" the Archbishop of Canterbury said.");
    assert_int_equal(f.n, 9);
    assert_speaker(&f, 0, NULL);    /* a pronoun */
    assert_speaker(&f, 1, NULL);    /* a full stop ends the sentence */
    assert_speaker(&f, 2, NULL);    /* no capitalised name */
    assert_speaker(&f, 3, "Smith"); /* "Moscow." ends the sentence before */
    assert_speaker(&f, 4, NULL);
    assert_speaker(&f, 5, NULL); /* "the head of the Moscow office" is no name */
    assert_speaker(&f, 6, NULL); /* Reuters is who was told */
    assert_speaker(&f, 7, NULL); /* the clause ends before the verb */
    assert_speaker(&f, 8, NULL); /* not "Canterbury": a longer title */

    /* Speakers can be turned off. */
    nlpd_quotes_opts o = NLPD_QUOTES_OPTS_INIT;
    o.speakers = 0;
    nlpd_quotes *qf = NULL;
    assert_int_equal(nlpd_quotes_new(&qf, &o), 0);
    memset(&f, 0, sizeof(f));
    f.text = "\xE2\x80\x9CWe will not back down,\xE2\x80\x9D said Sergei Shoigu.";
    assert_int_equal(nlpd_quotes_find(qf, f.text, strlen(f.text), collect, &f), 0);
    assert_int_equal(f.n, 1);
    assert_speaker(&f, 0, NULL);
    nlpd_quotes_free(&qf);
}

/* ---- callbacks, reuse, allocation failures ----------------------------- */

static void
test_quotes_stops_when_emit_says_so_and_is_reusable(void **state)
{
    (void)state;
    const char *text = "\"One two\" and \"three four\" and \"five six\".";
    nlpd_quotes *qf = new_finder();
    found f;
    memset(&f, 0, sizeof(f));
    f.text = text;
    f.stop_at = 2;
    assert_int_equal(nlpd_quotes_find(qf, text, strlen(text), collect, &f), 42);
    assert_int_equal(f.n, 2);
    /* The next run starts clean. */
    memset(&f, 0, sizeof(f));
    f.text = text;
    assert_int_equal(nlpd_quotes_find(qf, text, strlen(text), collect, &f), 0);
    assert_int_equal(f.n, 3);
    assert_passage(&f, 2, "five six");
    nlpd_quotes_free(&qf);
}

static void
test_quotes_returns_enomem_and_leaks_nothing(void **state)
{
    (void)state;
    nlpd_test_alloc_install();
    nlpd_test_alloc_reset();
    nlpd_test_alloc_fail_after(0);
    nlpd_quotes *qf = NULL;
    assert_int_equal(nlpd_quotes_new(&qf, NULL), NLPD_ENOMEM);
    assert_null(qf);

    /* The first quotation needs the result buffer: fail it. */
    nlpd_test_alloc_reset();
    nlpd_test_alloc_fail_after(1);
    assert_int_equal(nlpd_quotes_new(&qf, NULL), 0);
    const char *text = "\"One two\" and \"three four\".";
    found f;
    memset(&f, 0, sizeof(f));
    f.text = text;
    assert_int_equal(nlpd_quotes_find(qf, text, strlen(text), collect, &f), NLPD_ENOMEM);
    assert_int_equal(f.n, 0);
    nlpd_test_alloc_fail_after(-1);
    assert_int_equal(nlpd_quotes_find(qf, text, strlen(text), collect, &f), 0);
    assert_int_equal(f.n, 2);
    nlpd_quotes_free(&qf);
    assert_int_equal(nlpd_test_alloc_live(), 0);
    nlpd_test_alloc_reset();
}

/* ---- 1 MB inputs in linear time ---------------------------------------- */

/* Fills `len` bytes with repeats of `unit` (cut at the end). */
static char *
repeat(const char *unit, size_t len)
{
    char *s = malloc(len + 1);
    assert_non_null(s);
    size_t u = strlen(unit);
    for (size_t i = 0; i < len; i += u)
        memcpy(s + i, unit, len - i < u ? len - i : u);
    s[len] = '\0';
    return s;
}

static size_t
count_in(const char *text, size_t len, double *secs)
{
    found f;
    memset(&f, 0, sizeof(f));
    f.text = text;
    nlpd_quotes *qf = new_finder();
    double t0 = now_s();
    assert_int_equal(nlpd_quotes_find(qf, text, len, collect, &f), 0);
    *secs = now_s() - t0;
    nlpd_quotes_free(&qf);
    return f.n;
}

static void
test_quotes_scans_1MB_in_linear_time(void **state)
{
    (void)state;
    const size_t mb = 1u << 20;

    /* A quadratic scan of any of these would take minutes; linear takes
     * milliseconds (tens under sanitizers). The bound is generous for
     * loaded CI machines. */
    static const struct {
        const char *unit;
        size_t per_unit; /* quotations per whole unit */
    } cases[] = {
        {"\xE2\x80\x9CWe will win,\xE2\x80\x9D said Sergei Shoigu. It\xE2\x80\x99s \"two "
         "words\" and \xE2\x80\x98three more words\xE2\x80\x99 here.\n\n",
         3},
        {"\xE2\x80\x9C", 0},                     /* 1 MB of opening marks: deeper than 64 */
        {"\xE2\x80\x9D", 0},                     /* closing marks only */
        {"\xE2\x80\x98players\xE2\x80\x99 ", 0}, /* one-word single quotations */
        {"\" ", 0},                              /* straight quotes that cannot open */
        {"\"a\" ", 0},                           /* one-word quotations, back to back */
        {"x\xE2\x80\x99y ", 0},                  /* apostrophes */
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char *text = repeat(cases[c].unit, mb);
        double secs;
        size_t n = count_in(text, mb, &secs);
        size_t units = mb / strlen(cases[c].unit);
        if (cases[c].per_unit > 0)
            assert_true(n >= units * cases[c].per_unit);
        else
            assert_int_equal(n, 0);
        if (secs > 5.0)
            fail_msg("case %zu: %.2f s for 1 MB", c, secs);
        free(text);
    }

    /* One quotation over the whole megabyte, and 1 MB of nested ‘“‘“. */
    char *text = repeat("word ", mb);
    memcpy(text, "\xE2\x80\x9C", 3);
    memcpy(text + mb - 4, "x\xE2\x80\x9D", 4);
    double secs;
    assert_int_equal(count_in(text, mb, &secs), 1);
    assert_true(secs < 5.0);
    free(text);
    text = repeat("\xE2\x80\x98\xE2\x80\x9C", mb);
    assert_int_equal(count_in(text, mb, &secs), 0);
    assert_true(secs < 5.0);
    free(text);
    /* One ‘ and then a megabyte of ’ that may or may not close it. */
    text = repeat(" ", mb);
    size_t at = strlen(strcpy(text, "\xE2\x80\x98one two\xE2\x80\x99 "));
    for (; at + 6 <= mb; at += 6)
        memcpy(text + at, "ab\xE2\x80\x99 ", 6);
    assert_int_equal(count_in(text, mb, &secs), 1);
    assert_true(secs < 5.0);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quotes_finds_curly_double_quotes),
        cmocka_unit_test(test_quotes_pairs_straight_quotes_by_the_word_they_touch),
        cmocka_unit_test(test_quotes_finds_guillemets),
        cmocka_unit_test(test_quotes_finds_single_quotes),
        cmocka_unit_test(test_quotes_does_not_take_apostrophes_for_quotes),
        cmocka_unit_test(test_quotes_reports_the_outermost_of_nested_quotes),
        cmocka_unit_test(test_quotes_ignores_unbalanced_marks),
        cmocka_unit_test(test_quotes_end_at_a_paragraph_break),
        cmocka_unit_test(test_quotes_needs_two_words),
        cmocka_unit_test(test_quotes_gives_byte_offsets_in_multibyte_text),
        cmocka_unit_test(test_quotes_reads_invalid_utf8_byte_by_byte),
        cmocka_unit_test(test_quotes_handles_empty_text_and_bad_arguments),
        cmocka_unit_test(test_quotes_finds_speakers_in_simple_patterns),
        cmocka_unit_test(test_quotes_gives_no_speaker_rather_than_a_wrong_one),
        cmocka_unit_test(test_quotes_stops_when_emit_says_so_and_is_reusable),
        cmocka_unit_test(test_quotes_returns_enomem_and_leaks_nothing),
        cmocka_unit_test(test_quotes_scans_1MB_in_linear_time),
    };
    return cmocka_run_group_tests_name("quotes", tests, NULL, NULL);
}
