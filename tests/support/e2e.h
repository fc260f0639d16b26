/* tests/support/e2e.h — end-to-end tests against a real daemon.
 *
 * Each test starts nlpd (the build's bin/nlpd) in a fresh private temp dir
 * with its own runtime dir and a config written from text, talks to it over
 * its sockets with the client library, and stops it, asserting a clean exit.
 * Failures call cmocka's fail_msg after printing the daemon's log.
 */
#ifndef NLPD_TEST_E2E_H
#define NLPD_TEST_E2E_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "client.h"
#include "test_support.h"

typedef struct nlpd_e2e {
    char *dir;          /* the temp dir (removed by stop) */
    char rundir[512];   /* dir/run */
    char conf[512];     /* dir/nlpd.conf */
    char log[512];      /* dir/nlpd.log: the daemon's stderr */
    char statedir[512]; /* dir/state: the journal */
    pid_t pid;
    nlpd_client *client;
    uint64_t corr;
} nlpd_e2e;

/* Path of an executable of the build (bin/NAME) in a static buffer. */
const char *nlpd_e2e_bin(const char *name);

/* Writes `config` (INI text, may be NULL for none: the built-in default
 * pipeline) and starts the daemon; waits until STATUS says running. */
void nlpd_e2e_start(nlpd_e2e *e, const char *config);

/* As nlpd_e2e_start, but waits only until the daemon answers STATUS (for
 * daemons that are not meant to become ready). */
void nlpd_e2e_start_unready(nlpd_e2e *e, const char *config);

/* As nlpd_e2e_start, with the daemon's files limited to `fsize` bytes
 * (RLIMIT_FSIZE, inherited by the daemon): a full disk for its journal. */
void nlpd_e2e_start_limited(nlpd_e2e *e, const char *config, long fsize);

/* Kills the daemon with SIGKILL (no drain, no last commit) and waits for
 * it; the temp dir, its config and its state dir stay for a restart. */
void nlpd_e2e_crash(nlpd_e2e *e);

/* Starts the daemon again in the same temp dir, with the same config and
 * state dir (its log is appended to); waits until it is running. */
void nlpd_e2e_restart(nlpd_e2e *e);

/* Replaces the config file (for reload tests). */
void nlpd_e2e_write_config(nlpd_e2e *e, const char *config);

/* Sends a signal to the daemon. */
void nlpd_e2e_signal(nlpd_e2e *e, int sig);

/* Stops the daemon with SIGTERM, waits up to 60 s and returns its exit
 * status (-1 if it had to be killed); removes the temp dir. */
int nlpd_e2e_stop(nlpd_e2e *e);

/* A cmocka teardown: kills (SIGKILL) and cleans up every daemon a test
 * started and did not stop, e.g. because an assertion failed first. Use
 * it on every e2e test: cmocka_unit_test_teardown(test, nlpd_e2e_teardown). */
int nlpd_e2e_teardown(void **state);

/* Prints the daemon's log to stderr (on failure). */
void nlpd_e2e_dump_log(const nlpd_e2e *e);

/* Counts lines of the daemon's log containing `needle`. */
int nlpd_e2e_log_count(const nlpd_e2e *e, const char *needle);

/* STATUS from the control socket, parsed; NULL if the daemon does not
 * answer. json_decref() it. */
json_t *nlpd_e2e_status(nlpd_e2e *e);

/* The port of `metrics_listen = 127.0.0.1:0`, from STATUS. */
int nlpd_e2e_metrics_port(nlpd_e2e *e);

/* One HTTP/1.1 request to 127.0.0.1:port over a plain socket (a POST
 * carries a 3-byte body); returns the status code and the body in *body
 * (free()). */
int nlpd_e2e_http(int port, const char *method, const char *path, char **body);

/* STATUS journal.WHAT (accepted, dead_letters, pending, replayed...). */
json_int_t nlpd_e2e_journal_count(nlpd_e2e *e, const char *what);

/* Sleeps `ms` milliseconds; the monotonic clock in milliseconds. */
void nlpd_e2e_sleep_ms(int ms);
uint64_t nlpd_e2e_now_ms(void);

/* Waits up to `timeout_ms` for the daemon's log to hold `needle` at least
 * `n` times. Returns 1 when it does, 0 when the time is up. */
int nlpd_e2e_wait_log(nlpd_e2e *e, const char *needle, int n, int timeout_ms);

/* A config (malloc'd) of ingest then one pass-through stage "pt" run with
 * `pt_args`, a 200 ms heartbeat and info logging; `extra_daemon` and
 * `extra_stage` (may be NULL) are lines added to [daemon] and [stage pt]. */
char *nlpd_e2e_pt_config(const char *pt_args, const char *extra_daemon,
                         const char *extra_stage);

/* Starts the pipeline `stages` whose stage `stage` runs the build's `bin`
 * with `args`, restarting failed workers after 20 ms to 2 s; waits until
 * it is running (`ready`) or only until it answers STATUS. */
void nlpd_e2e_start_stage(nlpd_e2e *e, const char *stages, const char *stage, const char *bin,
                          const char *args, int ready);

/* Starts the pipeline `stages` with `bin args` as stage `stage` and
 * asserts that the worker refuses the options: `message` in the log, the
 * daemon still starting (never ready), and a clean stop. */
void nlpd_e2e_expect_bad_option(const char *stages, const char *stage, const char *bin,
                                const char *args, const char *message);

/* The stage object of STATUS named `stage` (borrowed from `status`). */
json_t *nlpd_e2e_stage(json_t *status, const char *stage);

/* Pid of the i-th worker of `stage` (0 when there is none). */
int nlpd_e2e_worker_pid(nlpd_e2e *e, const char *stage, int i);

/* Waits until `pred` is true for the status (polling every 50 ms) or the
 * timeout passes; returns 1 if it became true. */
int nlpd_e2e_wait_status(nlpd_e2e *e, int (*pred)(json_t *status, void *arg), void *arg,
                         int timeout_ms);

/* Submits `payload` with `flags` and waits for ACCEPTED/REFUSED into *ack.
 * With "wait" among the flags and an acceptance, waits for the RESULT and
 * returns a malloc'd copy of its payload (NUL-terminated, *len its length,
 * *error its status); else returns NULL. Fails the test on timeouts. */
char *nlpd_e2e_submit(nlpd_e2e *e, const char *flags, const void *payload, size_t len,
                      nlpd_reply *ack, size_t *res_len, int *res_error, int timeout_ms);

/* Submits a JSON input line ("json wait reply=json") and returns the
 * parsed annotated result; on refusal returns NULL with the code in
 * `refused` (may be NULL). */
json_t *nlpd_e2e_annotate(nlpd_e2e *e, const char *json_line, char refused[32]);

/* Submits raw bytes as a document's input (format detect) and returns the
 * parsed JSON result, as nlpd_e2e_annotate. */
json_t *nlpd_e2e_annotate_bytes(nlpd_e2e *e, const void *bytes, size_t len, char refused[32]);

/* Counts the error records of a result with `code` (any stage). */
int nlpd_e2e_error_count(json_t *result, const char *code);

/* Names of the stages in a result's trace, space-separated, in a static buffer. */
const char *nlpd_e2e_trace(json_t *result);

#endif /* NLPD_TEST_E2E_H */
