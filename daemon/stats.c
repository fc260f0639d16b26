/* daemon/stats.c — rates, latency quantiles and the Prometheus exposition
 * (pure: see stats.h). */
#include "stats.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlpd/error.h"

const double nlpd_stats_q[NLPD_Q_N] = {0.5, 0.9, 0.99};

/* --- Latency ------------------------------------------------------------------ */

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

uint32_t
nlpd_quantile_sorted(const uint32_t *v, size_t n, double q)
{
    if (q <= 0)
        return v[0];
    if (q >= 1)
        return v[n - 1];
    /* Nearest rank: ceil(q * n), 1-based. */
    double r = ceil(q * (double)n);
    size_t rank = r < 1 ? 1 : (size_t)r;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

size_t
nlpd_lat_quantiles(const nlpd_lat *l, uint64_t now_us, unsigned window_s, const double *q,
                   size_t nq, double *out, uint32_t *scratch)
{
    size_t have = l->n < NLPD_LAT_SAMPLES ? (size_t)l->n : NLPD_LAT_SAMPLES;
    uint64_t now_s = now_us / 1000000u;
    size_t n = 0;
    for (size_t i = 0; i < have; i++) {
        if (now_s - l->sec[i] <= window_s)
            scratch[n++] = l->us[i];
    }
    if (n == 0)
        return 0;
    qsort(scratch, n, sizeof(*scratch), cmp_u32);
    for (size_t k = 0; k < nq; k++)
        out[k] = nlpd_quantile_sorted(scratch, n, q[k]) / 1000.0;
    return n;
}

/* --- Rates -------------------------------------------------------------------- */

void
nlpd_rate_sample(nlpd_rate *r, uint64_t now_us, uint64_t count)
{
    uint64_t s = now_us / 1000000u;
    if (!r->have) {
        r->have = 1;
        r->first_s = r->last_s = s;
        r->v[s % NLPD_RATE_SLOTS] = r->start_v = count;
        r->t[s % NLPD_RATE_SLOTS] = r->start_us = now_us;
        return;
    }
    if (s <= r->last_s)
        return;
    /* Seconds the loop did not see get this reading too: their share of
     * the increase lands on the last of them. */
    uint64_t from = s - r->last_s > NLPD_RATE_SLOTS ? s - NLPD_RATE_SLOTS + 1 : r->last_s + 1;
    for (uint64_t k = from; k <= s; k++) {
        r->v[k % NLPD_RATE_SLOTS] = count;
        r->t[k % NLPD_RATE_SLOTS] = now_us;
    }
    r->last_s = s;
    if (s - r->first_s >= NLPD_RATE_SLOTS)
        r->first_s = s - NLPD_RATE_SLOTS + 1;
}

double
nlpd_rate_over(const nlpd_rate *r, uint64_t now_us, uint64_t count, unsigned window_s)
{
    if (!r->have || window_s == 0)
        return 0.0;
    if (window_s >= NLPD_RATE_SLOTS)
        window_s = NLPD_RATE_SLOTS - 1;
    uint64_t s = now_us / 1000000u;
    uint64_t from = s >= window_s ? s - window_s : 0;
    if (from < r->first_s)
        from = r->first_s;
    if (from > r->last_s)
        from = r->last_s;
    size_t k = (size_t)(from % NLPD_RATE_SLOTS);
    if (now_us <= r->t[k] || count < r->v[k])
        return 0.0;
    return (double)(count - r->v[k]) * 1e6 / (double)(now_us - r->t[k]);
}

double
nlpd_rate_since_start(const nlpd_rate *r, uint64_t now_us, uint64_t count)
{
    if (!r->have || now_us <= r->start_us || count < r->start_v)
        return 0.0;
    return (double)(count - r->start_v) * 1e6 / (double)(now_us - r->start_us);
}

size_t
nlpd_rate_history(const nlpd_rate *r, double *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = 0.0;
    if (!r->have)
        return n;
    /* out[n-1] is the last whole second: last_s-1 .. last_s. */
    for (size_t i = 0; i < n; i++) {
        uint64_t back = (uint64_t)(n - i);
        if (r->last_s < back)
            continue;
        uint64_t s0 = r->last_s - back, s1 = s0 + 1;
        if (s0 < r->first_s)
            continue;
        size_t a = (size_t)(s0 % NLPD_RATE_SLOTS), b = (size_t)(s1 % NLPD_RATE_SLOTS);
        if (r->t[b] > r->t[a] && r->v[b] >= r->v[a])
            out[i] = (double)(r->v[b] - r->v[a]) * 1e6 / (double)(r->t[b] - r->t[a]);
    }
    return n;
}

/* --- Prometheus ------------------------------------------------------------------ */

static int
append_str(nlpd__buf *b, const char *s)
{
    return nlpd__buf_append(b, s, strlen(s));
}

static int NLPD_PRINTF(2, 3)
appendf(nlpd__buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return NLPD_EINVAL;
    if ((size_t)n >= sizeof(tmp))
        n = (int)sizeof(tmp) - 1; /* our own format strings never get here */
    return nlpd__buf_append(b, tmp, (size_t)n);
}

static int
escape(nlpd__buf *b, const char *s, int quote)
{
    int rc = 0;
    for (const char *p = s; *p != '\0' && rc == 0; p++) {
        if (*p == '\\')
            rc = nlpd__buf_append(b, "\\\\", 2);
        else if (*p == '\n')
            rc = nlpd__buf_append(b, "\\n", 2);
        else if (*p == '"' && quote)
            rc = nlpd__buf_append(b, "\\\"", 2);
        else
            rc = nlpd__buf_append(b, p, 1);
    }
    return rc;
}

int
nlpd_prom_escape_label(nlpd__buf *b, const char *s)
{
    return escape(b, s, 1);
}

int
nlpd_prom_escape_help(nlpd__buf *b, const char *s)
{
    return escape(b, s, 0);
}

int
nlpd_prom_value(nlpd__buf *b, double v)
{
    if (isnan(v))
        return append_str(b, "NaN");
    if (isinf(v))
        return append_str(b, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return appendf(b, "%.0f", v);
    return appendf(b, "%.9g", v);
}

/* One family's HELP and TYPE lines. */
static int
family(nlpd__buf *b, const char *name, const char *type, const char *help)
{
    int rc = appendf(b, "# HELP %s ", name);
    if (rc == 0)
        rc = nlpd_prom_escape_help(b, help);
    if (rc == 0)
        rc = appendf(b, "\n# TYPE %s %s\n", name, type);
    return rc;
}

/* One sample: NAME{LABELS} VALUE, with up to two label pairs (NULL: none). */
static int
sample(nlpd__buf *b, const char *name, const char *k1, const char *v1, const char *k2,
       const char *v2, double v)
{
    int rc = append_str(b, name);
    if (rc == 0 && k1 != NULL) {
        rc = appendf(b, "{%s=\"", k1);
        if (rc == 0)
            rc = nlpd_prom_escape_label(b, v1);
        if (rc == 0 && k2 != NULL) {
            rc = appendf(b, "\",%s=\"", k2);
            if (rc == 0)
                rc = nlpd_prom_escape_label(b, v2);
        }
        if (rc == 0)
            rc = append_str(b, "\"}");
    }
    if (rc == 0)
        rc = append_str(b, " ");
    if (rc == 0)
        rc = nlpd_prom_value(b, v);
    if (rc == 0)
        rc = append_str(b, "\n");
    return rc;
}

/* A summary's samples: quantiles (NaN without recent samples), _sum, _count. */
static int
summary(nlpd__buf *b, const char *name, const char *k1, const char *v1, const nlpd_lat_snap *l)
{
    static const char *const qs[NLPD_Q_N] = {"0.5", "0.9", "0.99"};
    char sub[160];
    int rc = 0;
    for (int i = 0; i < NLPD_Q_N && rc == 0; i++) {
        double v = l->samples ? l->ms[i] / 1000.0 : NAN;
        if (k1 != NULL)
            rc = sample(b, name, k1, v1, "quantile", qs[i], v);
        else
            rc = sample(b, name, "quantile", qs[i], NULL, NULL, v);
    }
    snprintf(sub, sizeof(sub), "%s_sum", name);
    if (rc == 0)
        rc = sample(b, sub, k1, v1, NULL, NULL, l->sum_s);
    snprintf(sub, sizeof(sub), "%s_count", name);
    if (rc == 0)
        rc = sample(b, sub, k1, v1, NULL, NULL, (double)l->count);
    return rc;
}

/* A counter or gauge per stage. */
typedef struct stage_metric {
    const char *name, *type, *help;
    size_t off; /* offset of a uint64_t field of nlpd_stage_snap, or SIZE_MAX */
} stage_metric;

#define STAGE_U64(field) offsetof(nlpd_stage_snap, field)

static const stage_metric stage_metrics[] = {
    {"nlpd_stage_processed_total", "counter", "Documents a stage finished (ok or with an error).",
     STAGE_U64(processed)},
    {"nlpd_stage_errors_total", "counter",
     "Documents a stage finished with an error record (timeouts and crashes included).",
     STAGE_U64(errors)},
    {"nlpd_stage_timeouts_total", "counter",
     "Documents that overran the stage's time limit (its worker was killed).",
     STAGE_U64(timeouts)},
    {"nlpd_stage_crashes_total", "counter", "Documents in hand when a worker of the stage died.",
     STAGE_U64(crashes)},
    {"nlpd_stage_restarts_total", "counter", "Workers of the stage started again after an exit.",
     STAGE_U64(restarts)},
    {"nlpd_stage_dead_letters_total", "counter",
     "Documents given up on at this stage (max_attempts failures).", STAGE_U64(dead_letters)},
    {"nlpd_stage_queue_depth", "gauge", "Documents waiting in the stage's queue for a worker.",
     STAGE_U64(queued)},
    {"nlpd_stage_in_hand", "gauge", "Documents sent to the stage's workers and not answered yet.",
     STAGE_U64(in_hand)},
};

static int
render_stages(const nlpd_stats_snap *s, nlpd__buf *b)
{
    int rc = 0;
    for (size_t m = 0; m < sizeof(stage_metrics) / sizeof(stage_metrics[0]) && rc == 0; m++) {
        const stage_metric *sm = &stage_metrics[m];
        rc = family(b, sm->name, sm->type, sm->help);
        for (int i = 0; i < s->n_stages && rc == 0; i++) {
            const nlpd_stage_snap *st = &s->st[i];
            uint64_t v;
            memcpy(&v, (const char *)st + sm->off, sizeof(v));
            rc = sample(b, sm->name, "stage", st->name, NULL, NULL, (double)v);
        }
    }
    if (rc == 0)
        rc = family(b, "nlpd_stage_workers", "gauge",
                    "Worker processes of the stage by state (remote: started elsewhere).");
    for (int i = 0; i < s->n_stages && rc == 0; i++) {
        const nlpd_stage_snap *st = &s->st[i];
        rc = sample(b, "nlpd_stage_workers", "stage", st->name, "state", "ready",
                    st->workers_ready);
        if (rc == 0)
            rc = sample(b, "nlpd_stage_workers", "stage", st->name, "state", "starting",
                        st->workers_starting);
        if (rc == 0)
            rc = sample(b, "nlpd_stage_workers", "stage", st->name, "state", "stopping",
                        st->workers_stopping);
    }
    if (rc == 0)
        rc = family(b, "nlpd_stage_replicas", "gauge",
                    "Workers the stage should have (configured, or as nlpctl workers changed it).");
    for (int i = 0; i < s->n_stages && rc == 0; i++)
        rc = sample(b, "nlpd_stage_replicas", "stage", s->st[i].name, NULL, NULL,
                    s->st[i].replicas);
    if (rc == 0)
        rc = family(b, "nlpd_stage_crash_loop", "gauge",
                    "1 while a worker slot of the stage is in a crash loop.");
    for (int i = 0; i < s->n_stages && rc == 0; i++)
        rc = sample(b, "nlpd_stage_crash_loop", "stage", s->st[i].name, NULL, NULL,
                    s->st[i].crash_loop);
    if (rc == 0)
        rc = family(b, "nlpd_stage_oldest_queued_seconds", "gauge",
                    "How long the oldest document in the stage's queue has waited (the hop's "
                    "backlog age).");
    for (int i = 0; i < s->n_stages && rc == 0; i++)
        rc = sample(b, "nlpd_stage_oldest_queued_seconds", "stage", s->st[i].name, NULL, NULL,
                    (double)s->st[i].oldest_queued_us / 1e6);
    if (rc == 0)
        rc = family(b, "nlpd_stage_processing_seconds", "summary",
                    "Time a worker took per document (STARTED to done); quantiles over the last "
                    "60 s (at most 2048 documents).");
    for (int i = 0; i < s->n_stages && rc == 0; i++)
        rc = summary(b, "nlpd_stage_processing_seconds", "stage", s->st[i].name,
                     &s->st[i].processing);
    if (rc == 0)
        rc = family(b, "nlpd_stage_seconds", "summary",
                    "Time a document spent in the stage, its queue included; quantiles over the "
                    "last 60 s (at most 2048 documents).");
    for (int i = 0; i < s->n_stages && rc == 0; i++)
        rc = summary(b, "nlpd_stage_seconds", "stage", s->st[i].name, &s->st[i].in_stage);
    return rc;
}

typedef struct daemon_metric {
    const char *name, *type, *help;
    double v;
} daemon_metric;

int
nlpd_prom_render(const nlpd_stats_snap *s, nlpd__buf *b)
{
    const daemon_metric dm[] = {
        {"nlpd_uptime_seconds", "gauge", "Seconds since the daemon started.", s->uptime_s},
        {"nlpd_ready", "gauge",
         "1 when every stage has a ready worker and the journal (if on) is open.", s->ready},
        {"nlpd_documents_accepted_total", "counter", "Documents accepted at the front door.",
         (double)s->accepted},
        {"nlpd_documents_completed_total", "counter", "Documents that reached the sink.",
         (double)s->completed},
        {"nlpd_documents_completed_with_errors_total", "counter",
         "Completed documents that carry an error record.", (double)s->completed_with_errors},
        {"nlpd_documents_refused_total", "counter",
         "Submissions refused (busy, too large, malformed, journal, stopping).",
         (double)s->refused},
        {"nlpd_documents_in_flight", "gauge", "Documents accepted and not finished.",
         (double)s->in_flight},
        {"nlpd_documents_in_flight_bytes", "gauge", "Bytes of the documents in flight.",
         (double)s->in_flight_bytes},
        {"nlpd_max_in_flight", "gauge", "The max_in_flight setting.", (double)s->max_in_flight},
        {"nlpd_dead_letters_total", "counter", "Documents given up on since the daemon started.",
         (double)s->dead_letters},
        {"nlpd_journal_enabled", "gauge", "1 when the journal is on in the configuration.",
         s->journal_enabled},
        {"nlpd_journal_open", "gauge", "1 when the journal is open (else the front door refuses).",
         s->journal_open},
        {"nlpd_journal_waiting_commit", "gauge",
         "Documents recorded and waiting for their commit.", (double)s->journal_waiting_commit},
        {"nlpd_journal_commits_total", "counter", "Journal commits.", (double)s->journal_commits},
        {"nlpd_journal_errors_total", "counter", "Journal writes or commits that failed.",
         (double)s->journal_errors},
        {"nlpd_journal_replayed_total", "counter", "Unfinished documents run again at start.",
         (double)s->journal_replayed},
        {"nlpd_journal_duplicates_total", "counter",
         "Second results for a key already stored, dropped.", (double)s->journal_duplicates},
    };
    int rc = family(b, "nlpd_info", "gauge", "The daemon's version and state.");
    if (rc == 0)
        rc = sample(b, "nlpd_info", "version", s->version, "state", s->state, 1);
    for (size_t i = 0; i < sizeof(dm) / sizeof(dm[0]) && rc == 0; i++) {
        rc = family(b, dm[i].name, dm[i].type, dm[i].help);
        if (rc == 0)
            rc = sample(b, dm[i].name, NULL, NULL, NULL, NULL, dm[i].v);
    }
    if (rc == 0 && s->journal_have_counts) {
        const daemon_metric jm[] = {
            {"nlpd_journal_pending", "gauge", "Documents accepted and not finished, in the journal.",
             (double)s->journal_pending},
            {"nlpd_journal_results", "gauge", "Results in the result store.",
             (double)s->journal_results},
            {"nlpd_journal_result_bytes", "gauge", "Size of the results in the store.",
             (double)s->journal_result_bytes},
            {"nlpd_journal_dead_letters", "gauge", "Documents in the dead letters.",
             (double)s->journal_dead_letters},
        };
        for (size_t i = 0; i < sizeof(jm) / sizeof(jm[0]) && rc == 0; i++) {
            rc = family(b, jm[i].name, jm[i].type, jm[i].help);
            if (rc == 0)
                rc = sample(b, jm[i].name, NULL, NULL, NULL, NULL, jm[i].v);
        }
    }
    if (rc == 0)
        rc = family(b, "nlpd_document_seconds", "summary",
                    "End-to-end time per document, accepted to done; quantiles over the last "
                    "60 s (at most 2048 documents).");
    if (rc == 0)
        rc = summary(b, "nlpd_document_seconds", NULL, NULL, &s->latency);
    if (rc == 0)
        rc = render_stages(s, b);
    return rc;
}
