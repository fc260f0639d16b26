/* tests/e2e/custom_stages_test.c — custom stages chained by config alone.
 *
 * The real daemon runs the pipeline `ingest quotes reading`: the built-in
 * ingest stage, the example C stage (nlpd-example-quotes, built on the
 * shared SDK only) and the example Python stage (reading_time.py on the
 * Python SDK nlpd_stage.py). The tests check what each stage adds, that the
 * traces come in pipeline order, that a field no stage knows survives all
 * three, that an exception in the Python stage becomes an error record
 * without stopping the stream, and that a SIGKILLed Python worker is
 * restarted. Each test starts its own daemon and asserts a clean exit.
 *
 * Needs /usr/bin/python3 (or $NLPD_TEST_PYTHON) with pyzmq and protobuf
 * (Debian: python3-zmq, python3-protobuf); without them every test says it
 * is skipped.
 */
#include "e2e.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nlpd/alloc.h"
#include "nlpd/json.h"
#include "nlpd/nlpd.pb-c.h"

extern char **environ;

#define MARKER "XYZZYFAIL"
#define WPM    238.0

/* Curly, straight, single and French quotation marks, an apostrophe that is
 * not one (Shoigu’s), a one-word "fine" that is no quotation, and a double
 * space that normalization collapses, so spans go through the offset map. */
static const char article[] =
    "Defence Minister Sergei Shoigu\xE2\x80\x99s office issued a statement on Monday.  "
    "\xE2\x80\x9CWe will not allow this to continue,\xE2\x80\x9D said Sergei Shoigu, adding "
    "that talks would resume.\n\n"
    "The spokesman said: \"The decision is final and binding.\" Critics called it "
    "\xE2\x80\x98"
    "a reckless gamble\xE2\x80\x99 in a letter.\n\n"
    "\xC2\xAB Nous continuerons le dialogue \xC2\xBB, a French diplomat told reporters. He "
    "said it was \"fine\" and left.";
#define ARTICLE_WORDS 59

static const struct {
    const char *text;
    const char *speaker; /* NULL: none */
} expected_quotes[] = {
    {"We will not allow this to continue,", "Sergei Shoigu"},
    {"The decision is final and binding.", NULL},
    {"a reckless gamble", NULL},
    {"Nous continuerons le dialogue", NULL},
};

#define N_QUOTES (sizeof(expected_quotes) / sizeof(expected_quotes[0]))

/* ---- setup -------------------------------------------------------------- */

static const char *
python(void)
{
    const char *p = getenv("NLPD_TEST_PYTHON");
    return p != NULL && p[0] != '\0' ? p : "/usr/bin/python3";
}

static const char *
env_dir(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] != '/')
        fail_msg("%s is not set to an absolute path (CTest sets it)", name);
    return v;
}

/* Why the Python stage cannot run here, or NULL when it can. */
static const char *
python_missing(void)
{
    static char why[1400];
    char path[1024];
    snprintf(path, sizeof(path), "%s/python/nlpd_pb2.py", env_dir("NLPD_BUILD_DIR"));
    if (access(path, R_OK) != 0) {
        snprintf(why, sizeof(why), "%s is missing (protoc not found at configure time?)", path);
        return why;
    }
    if (access(python(), X_OK) != 0) {
        snprintf(why, sizeof(why), "%s not found", python());
        return why;
    }
    char *argv[] = {(char *)python(), (char *)"-c", (char *)"import zmq, google.protobuf", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int status = -1;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == 0)
        waitpid(pid, &status, 0);
    if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, sizeof(why),
                 "%s cannot import zmq and google.protobuf "
                 "(install python3-zmq and python3-protobuf)",
                 python());
        return why;
    }
    return NULL;
}

static void
skip_without_python(void)
{
    const char *why = python_missing();
    if (why != NULL) {
        printf("# SKIP custom stages: %s\n", why);
        fflush(stdout);
        skip();
    }
}

/* The pipeline, with absolute paths from the build and source trees. */
static void
start(nlpd_e2e *e)
{
    const char *build = env_dir("NLPD_BUILD_DIR");
    const char *src = env_dir("NLPD_SOURCE_DIR");
    char conf[4096];
    int n = snprintf(conf, sizeof(conf),
                     "[daemon]\n"
                     "log_level = info\n"
                     "heartbeat_ms = 200\n"
                     "heartbeat_timeout_ms = 5000\n"
                     "restart_backoff_min_ms = 100\n"
                     "[pipeline]\n"
                     "stages = ingest quotes reading\n"
                     "[stage quotes]\n"
                     "command = \"%s/bin/nlpd-example-quotes\"\n"
                     "[stage reading]\n"
                     "command = \"%s\" \"%s/stages/example-python/reading_time.py\" --fail-on %s\n"
                     "env.PYTHONPATH = %s/python:%s/stages/example-python\n",
                     build, python(), src, MARKER, build, src);
    assert_true(n > 0 && (size_t)n < sizeof(conf));
    nlpd_e2e_start(e, conf);
}

static void
stop_clean(nlpd_e2e *e)
{
    assert_int_equal(nlpd_e2e_stop(e), 0);
}

/* ---- result helpers ----------------------------------------------------- */

static json_t *
annotate_text(nlpd_e2e *e, const char *text, const char *options_json)
{
    json_t *in = json_pack("{s:s,s:s}", "id", "custom-1", "text", text);
    assert_non_null(in);
    if (options_json != NULL)
        json_object_set_new(in, "options", json_loads(options_json, 0, NULL));
    char *line = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    char refused[32] = "";
    json_t *res = nlpd_e2e_annotate(e, line, refused);
    free(line);
    if (res == NULL)
        fail_msg("the document was refused: %s", refused);
    return res;
}

/* The annotations of `kind`, in order, into `out` (borrowed); their number. */
static size_t
annotations(json_t *result, const char *kind, json_t **out, size_t max)
{
    size_t i, n = 0;
    json_t *a;
    json_array_foreach(json_object_get(result, "annotations"), i, a)
    {
        const char *k = json_string_value(json_object_get(a, "kind"));
        if (k != NULL && strcmp(k, kind) == 0) {
            if (n < max)
                out[n] = a;
            n++;
        }
    }
    return n;
}

static const char *
str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The quote annotations are the expected passages, with spans into the text
 * as sent, from the quotes stage. */
static void
assert_quotes(json_t *result)
{
    json_t *q[8];
    size_t n = annotations(result, "quote", q, 8);
    if (n != N_QUOTES) {
        char *dump = json_dumps(json_object_get(result, "annotations"), JSON_INDENT(1));
        fail_msg("%zu quote annotations, expected %zu: %s", n, N_QUOTES, dump);
    }
    const char *sent = str_of(result, "text");
    assert_non_null(sent);
    for (size_t i = 0; i < N_QUOTES; i++) {
        const char *text = str_of(q[i], "text");
        assert_non_null(text);
        assert_string_equal(text, expected_quotes[i].text);
        json_int_t s = json_integer_value(json_object_get(q[i], "start"));
        json_int_t e = json_integer_value(json_object_get(q[i], "end"));
        assert_true(0 <= s && s < e && (size_t)e <= strlen(sent));
        assert_int_equal((size_t)(e - s), strlen(expected_quotes[i].text));
        assert_memory_equal(sent + s, expected_quotes[i].text, (size_t)(e - s));
        assert_string_equal(str_of(q[i], "stage"), "quotes");
        const char *speaker = str_of(q[i], "value");
        if (expected_quotes[i].speaker == NULL)
            assert_null(speaker);
        else
            assert_string_equal(speaker, expected_quotes[i].speaker);
    }
}

/* word_count and reading_time from the Python stage, at `wpm`. */
static void
assert_reading(json_t *result, int words, double wpm)
{
    json_t *a[4];
    char want[32];
    assert_int_equal(annotations(result, "word_count", a, 4), 1);
    snprintf(want, sizeof(want), "%d", words);
    assert_string_equal(str_of(a[0], "value"), want);
    assert_string_equal(str_of(a[0], "stage"), "reading");
    assert_null(json_object_get(a[0], "start")); /* about the whole document */

    assert_int_equal(annotations(result, "reading_time", a, 4), 1);
    double minutes = words / wpm;
    snprintf(want, sizeof(want), "%d min", minutes < 1.0 ? 1 : (int)floor(minutes + 0.5));
    assert_string_equal(str_of(a[0], "value"), want);
    double score = json_real_value(json_object_get(a[0], "score"));
    if (fabs(score - minutes) > 1e-9)
        fail_msg("reading_time score %.12f, expected %.12f", score, minutes);
    assert_string_equal(str_of(a[0], "stage"), "reading");
    assert_null(json_object_get(a[0], "start"));
}

static int
count_words(const char *s)
{
    int n = 0;
    const char *p = s;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\n')
            p++;
        if (*p == '\0')
            break;
        int alnum = 0;
        for (; *p != '\0' && *p != ' ' && *p != '\n'; p++)
            alnum |=
                (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        n += alnum;
    }
    return n;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_custom_stages_annotate_an_article_in_pipeline_order(void **state)
{
    (void)state;
    skip_without_python();
    assert_int_equal(count_words(article), ARTICLE_WORDS);
    nlpd_e2e e;
    start(&e);
    json_t *res = annotate_text(&e, article, NULL);
    assert_null(json_object_get(res, "errors"));
    assert_string_equal(nlpd_e2e_trace(res), "ingest quotes reading");
    assert_quotes(res);
    assert_reading(res, ARTICLE_WORDS, WPM);
    json_decref(res);

    /* A client's option for the custom stage: another reading speed. */
    res = annotate_text(&e, article, "{\"reading_wpm\": 20}");
    assert_null(json_object_get(res, "errors"));
    assert_reading(res, ARTICLE_WORDS, 20.0);
    json_decref(res);

    /* A document without quotations gets none, and still its reading time. */
    res = annotate_text(&e, "No quotations here, only Shoigu\xE2\x80\x99s words.", NULL);
    json_t *q[1];
    assert_int_equal(annotations(res, "quote", q, 1), 0);
    assert_reading(res, 6, WPM);
    json_decref(res);
    stop_clean(&e);
}

/* Field 999, length-delimited, that no stage's .proto knows: the C runtime
 * (ingest, quotes) and the Python SDK (reading) must all pass it on. */
static void
test_custom_stages_keep_fields_no_stage_knows(void **state)
{
    (void)state;
    skip_without_python();
    nlpd_e2e e;
    start(&e);
    nlpd_submission s;
    memset(&s, 0, sizeof(s));
    s.text = article;
    s.text_len = strlen(article);
    s.id = "custom-999";
    uint8_t *pb;
    size_t pb_len;
    assert_int_equal(nlpd_submission_encode(&s, &pb, &pb_len), 0);
    static const uint8_t future[] = {0xba, 0x3e, 0x0d, 'c', 'u', 's', 't', 'o', 'm',
                                     '-',  's',  't',  'a', 'g', 'e', 's'}; /* 999, LEN, 13 bytes */
    uint8_t *buf = malloc(pb_len + sizeof(future));
    assert_non_null(buf);
    memcpy(buf, pb, pb_len);
    memcpy(buf + pb_len, future, sizeof(future));
    nlpd_reply ack;
    size_t len;
    int err = -1;
    char *res =
        nlpd_e2e_submit(&e, "pb wait", buf, pb_len + sizeof(future), &ack, &len, &err, 30000);
    assert_non_null(res);
    assert_int_equal(err, 0);
    assert_non_null(memmem(res, len, future, sizeof(future)));

    Nlpd__V1__Document *d = nlpd__v1__document__unpack(NULL, len, (uint8_t *)res);
    assert_non_null(d);
    assert_int_equal(d->base.n_unknown_fields, 1);
    assert_int_equal(d->base.unknown_fields[0].tag, 999);
    assert_int_equal(d->n_trace, 3);
    assert_string_equal(d->trace[0]->stage, "ingest");
    assert_string_equal(d->trace[1]->stage, "quotes");
    assert_string_equal(d->trace[2]->stage, "reading");
    size_t quotes = 0, reading = 0;
    for (size_t i = 0; i < d->n_annotations; i++) {
        quotes += strcmp(d->annotations[i]->kind, "quote") == 0;
        reading += strcmp(d->annotations[i]->kind, "reading_time") == 0;
    }
    assert_int_equal(quotes, N_QUOTES);
    assert_int_equal(reading, 1);
    nlpd__v1__document__free_unpacked(d, NULL);
    free(res);
    free(buf);
    nlpd_free(pb);
    stop_clean(&e);
}

/* An exception in the Python stage: an error record, the other stages'
 * work kept, and the next document goes through. */
static void
test_python_stage_error_is_recorded_and_the_stream_goes_on(void **state)
{
    (void)state;
    skip_without_python();
    nlpd_e2e e;
    start(&e);
    char text[sizeof(article) + 64];
    snprintf(text, sizeof(text), "%s The word " MARKER " trips the test stage.", article);
    json_t *res = annotate_text(&e, text, NULL);
    assert_int_equal(nlpd_e2e_error_count(res, "stage_error"), 1);
    json_t *er = json_array_get(json_object_get(res, "errors"), 0);
    assert_string_equal(str_of(er, "stage"), "reading");
    assert_non_null(strstr(str_of(er, "message"), MARKER));
    assert_null(strstr(str_of(er, "message"), "Traceback"));
    assert_false(json_is_true(json_object_get(er, "fatal")));
    assert_quotes(res); /* the C stage's work is there */
    json_t *a[1];
    assert_int_equal(annotations(res, "word_count", a, 1), 0); /* the failed call's is not */
    assert_string_equal(nlpd_e2e_trace(res), "ingest quotes reading");
    json_decref(res);

    res = annotate_text(&e, article, NULL);
    assert_null(json_object_get(res, "errors"));
    assert_quotes(res);
    assert_reading(res, ARTICLE_WORDS, WPM);
    json_decref(res);

    json_t *status = nlpd_e2e_status(&e);
    assert_non_null(status);
    json_t *st = nlpd_e2e_stage(status, "reading");
    assert_non_null(st);
    assert_int_equal(json_integer_value(json_object_get(st, "errors")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "restarts")), 0);
    json_decref(status);
    stop_clean(&e);
}

typedef struct restarted {
    int old_pid;
} restarted;

/* The reading stage has a ready worker that is not the killed one. */
static int
reading_restarted(json_t *status, void *arg)
{
    const restarted *r = arg;
    json_t *st = nlpd_e2e_stage(status, "reading");
    json_t *w = st != NULL ? json_array_get(json_object_get(st, "workers"), 0) : NULL;
    if (w == NULL)
        return 0;
    const char *state = str_of(w, "state");
    int pid = (int)json_integer_value(json_object_get(w, "pid"));
    return pid > 0 && pid != r->old_pid && state != NULL && strcmp(state, "ready") == 0;
}

static void
test_python_worker_killed_is_restarted(void **state)
{
    (void)state;
    skip_without_python();
    nlpd_e2e e;
    start(&e);
    json_t *res = annotate_text(&e, article, NULL);
    assert_reading(res, ARTICLE_WORDS, WPM);
    json_decref(res);

    restarted r = {nlpd_e2e_worker_pid(&e, "reading", 0)};
    assert_true(r.old_pid > 0);
    assert_int_equal(kill(r.old_pid, SIGKILL), 0);
    if (!nlpd_e2e_wait_status(&e, reading_restarted, &r, 30000)) {
        nlpd_e2e_dump_log(&e);
        fail_msg("the python worker was not restarted");
    }
    for (int i = 0; i < 3; i++) {
        res = annotate_text(&e, article, NULL);
        assert_null(json_object_get(res, "errors"));
        assert_quotes(res);
        assert_reading(res, ARTICLE_WORDS, WPM);
        json_decref(res);
    }
    json_t *status = nlpd_e2e_status(&e);
    assert_non_null(status);
    json_t *st = nlpd_e2e_stage(status, "reading");
    assert_true(json_integer_value(json_object_get(st, "restarts")) >= 1);
    json_decref(status);
    assert_true(nlpd_e2e_log_count(&e, "stage=reading") > 0);
    stop_clean(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_custom_stages_annotate_an_article_in_pipeline_order, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_custom_stages_keep_fields_no_stage_knows, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_python_stage_error_is_recorded_and_the_stream_goes_on, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_python_worker_killed_is_restarted, nlpd_e2e_teardown),
    };
    return cmocka_run_group_tests_name("custom_stages", tests, NULL, NULL);
}
