/* tests/unit/stats_test.c — the daemon's figures (daemon/stats.c): nearest-
 * rank quantiles, the latency window, rates over a window and their
 * per-second history, and the Prometheus text (escaping, values, HELP/TYPE
 * lines, summaries), checked line by line by prom_check.h. Times are
 * passed in: nothing here depends on the clock or on speed.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#include "../e2e/prom_check.h"
#include "nlpd/alloc.h"
#include "stats.h"

#define SEC 1000000ull

static const char *
buf_str(nlpd__buf *b)
{
    nlpd__buf_append(b, "", 1);
    b->len--;
    return (const char *)b->data;
}

static void
test_stats_quantile_sorted_uses_nearest_rank(void **state)
{
    (void)state;
    uint32_t v[100];
    for (uint32_t i = 0; i < 100; i++)
        v[i] = i + 1; /* 1..100 */
    assert_int_equal(nlpd_quantile_sorted(v, 100, 0.5), 50);
    assert_int_equal(nlpd_quantile_sorted(v, 100, 0.9), 90);
    assert_int_equal(nlpd_quantile_sorted(v, 100, 0.99), 99);
    assert_int_equal(nlpd_quantile_sorted(v, 100, 1.0), 100);
    assert_int_equal(nlpd_quantile_sorted(v, 100, 0.0), 1);
    uint32_t one = 7;
    assert_int_equal(nlpd_quantile_sorted(&one, 1, 0.99), 7);
    uint32_t three[] = {10, 20, 30};
    assert_int_equal(nlpd_quantile_sorted(three, 3, 0.5), 20); /* ceil(1.5) = 2nd */
    assert_int_equal(nlpd_quantile_sorted(three, 3, 0.9), 30);
}

static void
test_stats_lat_quantiles_sort_and_convert_to_ms(void **state)
{
    (void)state;
    nlpd_lat *l = calloc(1, sizeof(*l));
    uint32_t *scratch = calloc(NLPD_LAT_SAMPLES, sizeof(*scratch));
    assert_non_null(l);
    assert_non_null(scratch);
    uint64_t now = 1000 * SEC;
    /* 1000..100000 us in a shuffled order. */
    for (uint32_t i = 0; i < 100; i++)
        nlpd_lat_add(l, (uint64_t)((i * 37) % 100 + 1) * 1000u, now);
    double ms[NLPD_Q_N];
    assert_int_equal(nlpd_lat_quantiles(l, now, 60, nlpd_stats_q, NLPD_Q_N, ms, scratch), 100);
    assert_true(fabs(ms[0] - 50.0) < 1e-9);
    assert_true(fabs(ms[1] - 90.0) < 1e-9);
    assert_true(fabs(ms[2] - 99.0) < 1e-9);
    assert_int_equal(l->n, 100);
    assert_int_equal(l->sum_us, 5050u * 1000u);
    free(scratch);
    free(l);
}

static void
test_stats_lat_window_drops_old_samples_and_ring_keeps_last(void **state)
{
    (void)state;
    nlpd_lat *l = calloc(1, sizeof(*l));
    uint32_t *scratch = calloc(NLPD_LAT_SAMPLES, sizeof(*scratch));
    assert_non_null(l);
    assert_non_null(scratch);
    double ms[NLPD_Q_N] = {-1, -1, -1};
    /* Old samples (at 100 s) are outside a 60 s window at 200 s. */
    for (int i = 0; i < 10; i++)
        nlpd_lat_add(l, 500000, 100 * SEC);
    assert_int_equal(nlpd_lat_quantiles(l, 200 * SEC, 60, nlpd_stats_q, NLPD_Q_N, ms, scratch),
                     0);
    assert_true(ms[0] == -1); /* untouched */
    for (int i = 0; i < 4; i++)
        nlpd_lat_add(l, 2000, 190 * SEC);
    assert_int_equal(nlpd_lat_quantiles(l, 200 * SEC, 60, nlpd_stats_q, NLPD_Q_N, ms, scratch),
                     4);
    assert_true(fabs(ms[2] - 2.0) < 1e-9);
    /* More samples than the ring holds: only the newest count. */
    for (int i = 0; i < NLPD_LAT_SAMPLES; i++)
        nlpd_lat_add(l, 3000, 195 * SEC);
    assert_int_equal(nlpd_lat_quantiles(l, 200 * SEC, 60, nlpd_stats_q, NLPD_Q_N, ms, scratch),
                     NLPD_LAT_SAMPLES);
    assert_true(fabs(ms[0] - 3.0) < 1e-9 && fabs(ms[2] - 3.0) < 1e-9);
    /* A sample too large for 32 bits is clamped, not wrapped. */
    nlpd_lat_add(l, (uint64_t)UINT32_MAX + 5, 199 * SEC);
    assert_true(nlpd_lat_quantiles(l, 200 * SEC, 60, nlpd_stats_q, NLPD_Q_N, ms, scratch) > 0);
    assert_true(ms[2] <= UINT32_MAX / 1000.0 + 1e-6);
    free(scratch);
    free(l);
}

static void
test_stats_rate_over_window_and_since_start(void **state)
{
    (void)state;
    nlpd_rate r;
    memset(&r, 0, sizeof(r));
    assert_true(nlpd_rate_over(&r, 5 * SEC, 10, 10) == 0.0); /* no reading yet */
    /* 100 events a second for 30 s, read every 50 ms as the loop does. */
    uint64_t count = 0;
    for (uint64_t t = 1000 * SEC; t <= 1030 * SEC; t += 50000) {
        nlpd_rate_sample(&r, t, count);
        count += 5;
    }
    count -= 5; /* the count at 1030 s */
    double rate = nlpd_rate_over(&r, 1030 * SEC, count, 10);
    assert_true(fabs(rate - 100.0) < 1.0);
    assert_true(fabs(nlpd_rate_since_start(&r, 1030 * SEC, count) - 100.0) < 1.0);
    /* Then nothing for 20 s: the 10 s rate falls to 0, since start halves. */
    for (uint64_t t = 1030 * SEC; t <= 1050 * SEC; t += 50000)
        nlpd_rate_sample(&r, t, count);
    assert_true(nlpd_rate_over(&r, 1050 * SEC, count, 10) == 0.0);
    assert_true(fabs(nlpd_rate_since_start(&r, 1050 * SEC, count) - 60.0) < 1.0);
    /* A window longer than what is held uses the oldest second held. */
    double longer = nlpd_rate_over(&r, 1050 * SEC, count, 1000);
    assert_true(longer > 0.0 && longer < 100.0);
}

static void
test_stats_rate_history_gives_per_second_rates_oldest_first(void **state)
{
    (void)state;
    nlpd_rate r;
    memset(&r, 0, sizeof(r));
    /* Second k (0..39) has k events; sampled at each second's start. */
    uint64_t count = 0;
    for (uint64_t k = 0; k <= 40; k++) {
        nlpd_rate_sample(&r, (500 + k) * SEC, count);
        count += k;
    }
    double h[NLPD_RATE_HISTORY];
    assert_int_equal(nlpd_rate_history(&r, h, NLPD_RATE_HISTORY), NLPD_RATE_HISTORY);
    /* The last whole second is second 39 (540 - 1): 39 events. */
    assert_true(fabs(h[NLPD_RATE_HISTORY - 1] - 39.0) < 1e-9);
    assert_true(fabs(h[0] - 10.0) < 1e-9);
    /* A young counter: seconds before its first reading are 0. */
    nlpd_rate y;
    memset(&y, 0, sizeof(y));
    nlpd_rate_sample(&y, 10 * SEC, 0);
    nlpd_rate_sample(&y, 11 * SEC, 7);
    nlpd_rate_history(&y, h, NLPD_RATE_HISTORY);
    assert_true(fabs(h[NLPD_RATE_HISTORY - 1] - 7.0) < 1e-9);
    for (int i = 0; i < NLPD_RATE_HISTORY - 1; i++)
        assert_true(h[i] == 0.0);
}

static void
test_stats_rate_survives_a_stalled_loop_and_the_ring_wrapping(void **state)
{
    (void)state;
    nlpd_rate r;
    memset(&r, 0, sizeof(r));
    nlpd_rate_sample(&r, 100 * SEC, 0);
    nlpd_rate_sample(&r, 101 * SEC, 10);
    /* No reading for 200 s (longer than the ring): no crash, sane rates. */
    nlpd_rate_sample(&r, 301 * SEC, 2010);
    nlpd_rate_sample(&r, 302 * SEC, 2020);
    double rate = nlpd_rate_over(&r, 302 * SEC, 2020, 10);
    assert_true(rate >= 0.0 && rate <= 10.0 + 1e-9);
    double h[NLPD_RATE_HISTORY];
    nlpd_rate_history(&r, h, NLPD_RATE_HISTORY);
    assert_true(fabs(h[NLPD_RATE_HISTORY - 1] - 10.0) < 1e-9);
    /* A counter that went back (never, but): no negative rate. */
    assert_true(nlpd_rate_over(&r, 303 * SEC, 5, 10) == 0.0);
}

static void
test_stats_prom_escapes_label_values_and_help(void **state)
{
    (void)state;
    nlpd__buf b = {0};
    assert_int_equal(nlpd_prom_escape_label(&b, "a\\b\"c\nd"), 0);
    assert_string_equal(buf_str(&b), "a\\\\b\\\"c\\nd");
    b.len = 0;
    assert_int_equal(nlpd_prom_escape_help(&b, "x \"q\" \\ y\nz"), 0);
    assert_string_equal(buf_str(&b), "x \"q\" \\\\ y\\nz");
    b.len = 0;
    assert_int_equal(nlpd_prom_escape_label(&b, ""), 0);
    assert_int_equal(b.len, 0);
    nlpd__buf_release(&b);
}

static void
test_stats_prom_values_integers_floats_nan_inf(void **state)
{
    (void)state;
    nlpd__buf b = {0};
    nlpd_prom_value(&b, 42);
    assert_string_equal(buf_str(&b), "42");
    b.len = 0;
    nlpd_prom_value(&b, 18446744073709551615.0); /* past 2^53: exponent form */
    assert_non_null(strchr(buf_str(&b), 'e'));
    b.len = 0;
    nlpd_prom_value(&b, 0.00125);
    assert_string_equal(buf_str(&b), "0.00125");
    b.len = 0;
    nlpd_prom_value(&b, NAN);
    assert_string_equal(buf_str(&b), "NaN");
    b.len = 0;
    nlpd_prom_value(&b, INFINITY);
    assert_string_equal(buf_str(&b), "+Inf");
    b.len = 0;
    nlpd_prom_value(&b, -INFINITY);
    assert_string_equal(buf_str(&b), "-Inf");
    nlpd__buf_release(&b);
}

static nlpd_stats_snap *
sample_snap(void)
{
    nlpd_stats_snap *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->version = "0.1.0";
    s->state = "running";
    s->uptime_s = 12.5;
    s->accepted = 10;
    s->completed = 9;
    s->refused = 1;
    s->in_flight = 1;
    s->ready = 1;
    s->latency.samples = 9;
    s->latency.count = 9;
    s->latency.sum_s = 0.045;
    s->latency.ms[0] = 4.0;
    s->latency.ms[1] = 6.0;
    s->latency.ms[2] = 7.5;
    s->journal_enabled = 1;
    s->journal_open = 1;
    s->journal_have_counts = 1;
    s->journal_pending = 1;
    s->n_stages = 2;
    snprintf(s->st[0].name, sizeof(s->st[0].name), "ingest");
    s->st[0].processed = 10;
    s->st[0].replicas = 2;
    s->st[0].workers_ready = 2;
    s->st[0].processing.samples = 10;
    s->st[0].processing.count = 10;
    /* A stage name that needs escaping (the config allows only
     * [A-Za-z0-9_-], but the text must be right whatever it holds). */
    snprintf(s->st[1].name, sizeof(s->st[1].name), "we\"ird\\na\nme");
    s->st[1].processed = 9;
    s->st[1].queued = 3;
    s->st[1].errors = 2;
    return s;
}

static void
test_stats_prom_render_is_valid_exposition_text(void **state)
{
    (void)state;
    nlpd_stats_snap *s = sample_snap();
    nlpd__buf b = {0};
    assert_int_equal(nlpd_prom_render(s, &b), 0);
    const char *text = buf_str(&b);
    char why[300] = "";
    int samples = prom_check(text, why, sizeof(why));
    if (samples < 0)
        fail_msg("invalid exposition: %s\n%s", why, text);
    assert_true(samples > 50);
    /* Counters end in _total and are typed counter. */
    assert_non_null(strstr(text, "# TYPE nlpd_documents_accepted_total counter\n"));
    assert_non_null(strstr(text, "\nnlpd_documents_accepted_total 10\n"));
    assert_non_null(strstr(text, "\nnlpd_stage_processed_total{stage=\"ingest\"} 10\n"));
    /* The odd name, escaped. */
    assert_non_null(
        strstr(text, "\nnlpd_stage_processed_total{stage=\"we\\\"ird\\\\na\\nme\"} 9\n"));
    /* Summaries: quantile labels in seconds, _sum and _count; NaN without
     * recent samples. */
    assert_non_null(strstr(text, "# TYPE nlpd_document_seconds summary\n"));
    assert_non_null(strstr(text, "\nnlpd_document_seconds{quantile=\"0.99\"} 0.0075\n"));
    assert_non_null(strstr(text, "\nnlpd_document_seconds_count 9\n"));
    assert_non_null(strstr(text, "nlpd_stage_processing_seconds{stage=\"ingest\",quantile=\"0.5\"} 0\n"));
    assert_non_null(strstr(
        text, "nlpd_stage_processing_seconds{stage=\"we\\\"ird\\\\na\\nme\",quantile=\"0.5\"} NaN\n"));
    assert_non_null(strstr(text, "\nnlpd_stage_workers{stage=\"ingest\",state=\"ready\"} 2\n"));
    assert_non_null(strstr(text, "\nnlpd_journal_pending 1\n"));
    assert_non_null(strstr(text, "\nnlpd_info{version=\"0.1.0\",state=\"running\"} 1\n"));
    /* Each family's HELP and TYPE come once. */
    const char *first = strstr(text, "# TYPE nlpd_stage_queue_depth gauge\n");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# TYPE nlpd_stage_queue_depth"));
    /* Values read back through the checker. */
    double v = -1;
    assert_int_equal(prom_value(text, "nlpd_stage_queue_depth", "stage", "we\\\"ird\\\\na\\nme", &v),
                     0);
    assert_true(v == 3.0);
    nlpd__buf_release(&b);
    free(s);
}

static void
test_stats_prom_check_rejects_bad_text(void **state)
{
    (void)state;
    char why[200];
    assert_true(prom_check("# TYPE a counter\na_total 1\n", why, sizeof(why)) < 0); /* name */
    assert_true(prom_check("# TYPE a_total counter\na_total{x=\"1} 1\n", why, sizeof(why)) < 0);
    assert_true(prom_check("# TYPE a_total counter\na_total one\n", why, sizeof(why)) < 0);
    assert_true(prom_check("a_total 1\n", why, sizeof(why)) < 0); /* no TYPE */
    assert_true(prom_check("# TYPE a gauge\na 1", why, sizeof(why)) < 0); /* no newline */
    assert_true(prom_check("# TYPE a gauge\na{x=\"\\q\"} 1\n", why, sizeof(why)) < 0);
    assert_int_equal(prom_check("# HELP a x\n# TYPE a gauge\na{x=\"\\\"\"} NaN\n", why,
                                sizeof(why)),
                     1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_quantile_sorted_uses_nearest_rank),
        cmocka_unit_test(test_stats_lat_quantiles_sort_and_convert_to_ms),
        cmocka_unit_test(test_stats_lat_window_drops_old_samples_and_ring_keeps_last),
        cmocka_unit_test(test_stats_rate_over_window_and_since_start),
        cmocka_unit_test(test_stats_rate_history_gives_per_second_rates_oldest_first),
        cmocka_unit_test(test_stats_rate_survives_a_stalled_loop_and_the_ring_wrapping),
        cmocka_unit_test(test_stats_prom_escapes_label_values_and_help),
        cmocka_unit_test(test_stats_prom_values_integers_floats_nan_inf),
        cmocka_unit_test(test_stats_prom_render_is_valid_exposition_text),
        cmocka_unit_test(test_stats_prom_check_rejects_bad_text),
    };
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
