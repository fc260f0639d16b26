/* daemon/stats.h — the daemon's figures: rates, latency quantiles, and the
 * snapshot that STATS (JSON) and /metrics (Prometheus text) are made from.
 *
 * Pure code: no libuv, no ZeroMQ, no clock (times are passed in), no
 * globals, so tests/unit/stats_test.c checks it with nothing but inputs.
 *
 * The hot path costs one store per document per stage (a latency sample
 * into a ring, nlpd_lat_add); rates come from counters the daemon keeps
 * anyway, sampled once a second by the loop's timer (nlpd_rate_sample).
 * Sorting for quantiles happens only when a snapshot is taken.
 */
#ifndef NLPD_DAEMON_STATS_H
#define NLPD_DAEMON_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "nlpd_internal.h"

/* --- Latency samples --------------------------------------------------------- */

/* The last NLPD_LAT_SAMPLES documents' latencies, each with the second it
 * was taken, so quantiles cover at most the last NLPD_LAT_WINDOW_S seconds
 * (an idle stage shows no latency rather than an old one). */
#define NLPD_LAT_SAMPLES  2048
#define NLPD_LAT_WINDOW_S 60

typedef struct nlpd_lat {
    uint32_t us[NLPD_LAT_SAMPLES];
    uint32_t sec[NLPD_LAT_SAMPLES]; /* monotonic second of the sample */
    uint64_t n;                     /* samples ever added */
    uint64_t sum_us;                /* of every sample ever added */
} nlpd_lat;

/* Adds one sample of `us` microseconds taken at monotonic time `now_us`. */
static inline void
nlpd_lat_add(nlpd_lat *l, uint64_t us, uint64_t now_us)
{
    size_t i = (size_t)(l->n % NLPD_LAT_SAMPLES);
    l->us[i] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    l->sec[i] = (uint32_t)(now_us / 1000000u);
    l->n++;
    l->sum_us += us;
}

/* Quantiles of the samples no older than `window_s` seconds at `now_us`
 * (nearest rank: the smallest sample with at least q of them at or below
 * it). `q` holds `nq` values in [0, 1]; `out` gets them in milliseconds.
 * `scratch` holds NLPD_LAT_SAMPLES values. Returns the number of samples
 * used; with none, `out` is left untouched. */
size_t nlpd_lat_quantiles(const nlpd_lat *l, uint64_t now_us, unsigned window_s, const double *q,
                          size_t nq, double *out, uint32_t *scratch);

/* Nearest-rank quantile of `n` sorted values (n > 0). */
uint32_t nlpd_quantile_sorted(const uint32_t *v, size_t n, double q);

/* --- Rates --------------------------------------------------------------------- */

/* A counter's value at each of the last NLPD_RATE_SLOTS seconds, so rates
 * over any window up to that and a per-second history can be read. */
#define NLPD_RATE_SLOTS 64
#define NLPD_RATE_HISTORY 30

typedef struct nlpd_rate {
    uint64_t v[NLPD_RATE_SLOTS];  /* the counter when second k began (slot k % SLOTS) */
    uint64_t t[NLPD_RATE_SLOTS];  /* when it was read (monotonic us) */
    uint64_t first_s, last_s;     /* oldest and newest second held */
    uint64_t start_v, start_us;   /* the first reading: rates "since start" */
    int have;
} nlpd_rate;

/* Records `count` at `now_us` if a new second began since the last call
 * (call it at least once a second: the daemon does every tick). Seconds
 * skipped (a stalled loop) get the value read now. */
void nlpd_rate_sample(nlpd_rate *r, uint64_t now_us, uint64_t count);

/* Events per second over the last `window_s` seconds (or since the first
 * reading, when younger), given the current `count` at `now_us`. 0 with
 * no reading yet or no time passed. */
double nlpd_rate_over(const nlpd_rate *r, uint64_t now_us, uint64_t count, unsigned window_s);

/* Events per second since the first reading. */
double nlpd_rate_since_start(const nlpd_rate *r, uint64_t now_us, uint64_t count);

/* The per-second rates of the last `n` whole seconds, oldest first, into
 * `out` (seconds before the first reading count 0). Returns n. */
size_t nlpd_rate_history(const nlpd_rate *r, double *out, size_t n);

/* --- The snapshot ---------------------------------------------------------------- */

#define NLPD_Q_N 3 /* p50, p90, p99 */
extern const double nlpd_stats_q[NLPD_Q_N];

typedef struct nlpd_lat_snap {
    double ms[NLPD_Q_N]; /* valid when samples > 0 */
    uint64_t samples;    /* used for the quantiles (the window) */
    uint64_t count;      /* ever */
    double sum_s;        /* ever */
} nlpd_lat_snap;

typedef struct nlpd_stage_snap {
    char name[48];
    int replicas;            /* wanted now (configured, or changed by nlpctl workers) */
    int configured_replicas; /* in the configuration */
    int workers_ready, workers_starting, workers_stopping, workers_remote;
    uint64_t queued;   /* waiting for a worker */
    uint64_t in_hand;  /* sent to workers and not answered */
    uint64_t oldest_queued_us; /* age of the oldest document waiting (0: none) */
    uint64_t processed, errors, timeouts, crashes, restarts, dead_letters;
    double rate, rate_since_start; /* documents/s: last 10 s, since start */
    double history[NLPD_RATE_HISTORY]; /* documents/s of each of the last 30 s */
    nlpd_lat_snap processing;          /* STARTED to done */
    nlpd_lat_snap in_stage;            /* into its queue to done */
    int crash_loop;
    int retiring;                      /* left the pipeline in a reload */
} nlpd_stage_snap;

typedef struct nlpd_stats_snap {
    const char *version;
    const char *state;
    double uptime_s;
    uint64_t accepted, completed, completed_with_errors, refused;
    uint64_t in_flight, in_flight_bytes, max_in_flight, max_in_flight_bytes;
    double rate, rate_since_start; /* completed/s */
    double history[NLPD_RATE_HISTORY];
    nlpd_lat_snap latency; /* end to end: accepted to done */
    uint64_t dead_letters; /* since start */
    /* The journal. */
    int journal_enabled, journal_open, journal_have_counts;
    uint64_t journal_waiting_commit, journal_commits, journal_errors, journal_replayed,
        journal_duplicates;
    uint64_t journal_pending, journal_results, journal_result_bytes, journal_dead_letters;
    /* Readiness (as /readyz answers). */
    int ready;
    char not_ready_why[256];
    char metrics_listen[128]; /* where /metrics is served (empty: off) */
    int n_stages;
    nlpd_stage_snap st[NLPD_MAX_STAGES * 2]; /* the pipeline, then stages retiring */
} nlpd_stats_snap;

/* --- Prometheus text format 0.0.4 -------------------------------------------------- */

/* Appends `s` escaped as a label value (backslash, double quote and line
 * feed get a backslash). Returns 0 or NLPD_ENOMEM. */
int nlpd_prom_escape_label(nlpd__buf *b, const char *s);

/* Appends `s` escaped as HELP text (backslash and line feed). */
int nlpd_prom_escape_help(nlpd__buf *b, const char *s);

/* Appends a sample value: integers exactly, NaN and +Inf as Prometheus
 * spells them. */
int nlpd_prom_value(nlpd__buf *b, double v);

/* Appends the whole exposition of `s` (HELP and TYPE lines, counters with
 * _total, latencies as summaries with quantile labels, stage labels).
 * Returns 0 or NLPD_ENOMEM. */
int nlpd_prom_render(const nlpd_stats_snap *s, nlpd__buf *b);

#endif /* NLPD_DAEMON_STATS_H */
