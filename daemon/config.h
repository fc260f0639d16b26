/* daemon/config.h — the daemon's configuration (INI, read with inih).
 *
 * Files are read in order and later values override earlier ones; with no
 * file at all the built-in default pipeline runs. daemon/nlpd.conf is the
 * commented example and the reference for every key.
 */
#ifndef NLPD_DAEMON_CONFIG_H
#define NLPD_DAEMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define NLPD_MAX_STAGES 32
#define NLPD_MAX_ARGS 64
#define NLPD_MAX_ENV 32

typedef struct nlpd_stage_cfg {
    char name[48];
    char *command;            /* as written; NULL: the built-in worker of that name */
    char *argv[NLPD_MAX_ARGS + 1]; /* command split into words, NULL-terminated */
    int argc;
    char *env[NLPD_MAX_ENV];  /* "KEY=VALUE" */
    int n_env;
    int replicas;
    uint32_t timeout_ms; /* per-document time limit, from STARTED */
    uint32_t window;     /* documents a worker may hold */
    int defined;         /* a [stage NAME] section or a built-in */
    unsigned port;       /* tcp port of its hop (0: listen's port + 10 + position) */
} nlpd_stage_cfg;

typedef struct nlpd_config {
    char runtime_dir[256];  /* empty: nlpd__runtime_dir() decides */
    char group[64];         /* group given access to front/control/results */
    int log_level;
    uint64_t max_document_bytes;
    uint64_t max_message_bytes; /* hard cap; larger messages drop the connection */
    uint32_t max_in_flight;
    uint64_t max_in_flight_bytes;
    uint32_t heartbeat_ms;
    uint32_t heartbeat_timeout_ms;
    uint32_t start_timeout_ms;
    uint32_t stop_timeout_ms;
    uint32_t drain_timeout_ms;
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    char front_extra[256]; /* an extra front-door endpoint (tcp://...), empty: none */

    /* Remote workers and clients over tcp, with CurveZMQ (daemon/security.h). */
    char listen[256];           /* tcp://HOST:PORT base of every socket, empty: ipc only */
    char curve_secret_key[512]; /* the daemon's key pair file */
    char authorized_keys[512];  /* directory of the public keys let in */

    /* The durable journal (daemon/journal.h). */
    char state_dir[256];       /* empty: nlpd_state_dir() decides */
    int journal;               /* 0: off (nothing survives a crash) */
    int journal_sync_full;     /* 1: commit before each "accepted"; 0: group commit */
    uint32_t group_commit_ms;  /* group: commit at most this long after the first write */
    uint32_t group_commit_docs; /* ... or once this many writes wait */
    uint64_t result_retention_s; /* results older than this are pruned (0: kept) */
    uint64_t result_max_bytes;   /* the oldest results go past this size (0: no limit) */
    uint32_t prune_interval_ms;
    uint32_t max_attempts;     /* crashes or time-outs of a stage on one document */

    /* Prometheus metrics over HTTP (daemon/metrics.c): "ADDRESS:PORT", an
     * IP literal (IPv6 in brackets) or localhost; empty: off (the default). */
    char metrics_listen[128];

    nlpd_stage_cfg stages[NLPD_MAX_STAGES]; /* every stage defined (sections) */
    int n_stages;
    char pipeline[NLPD_MAX_STAGES][48]; /* stage names in order */
    int n_pipeline;
    char worker_dir[512]; /* where built-in workers are found */
} nlpd_config;

/* Fills `cfg` with the built-in defaults (the standard pipeline).
 * `self_exe` is the path of the running nlpd: built-in workers are looked
 * for beside it first (the build tree), then in the installed libexec dir. */
void nlpd_config_defaults(nlpd_config *cfg, const char *self_exe);

/* Reads one INI file over `cfg`. Returns 0, or NLPD_ENOENT / NLPD_ECONFIG
 * with a message "FILE:LINE: what is wrong" in `why`. */
int nlpd_config_load(nlpd_config *cfg, const char *path, char *why, size_t why_len);

/* Checks the whole configuration and resolves each pipeline stage's
 * command (built-ins get their worker path). Returns 0 or NLPD_ECONFIG
 * with a message in `why`. */
int nlpd_config_finish(nlpd_config *cfg, char *why, size_t why_len);

/* The stage config of `name`, or NULL. */
nlpd_stage_cfg *nlpd_config_stage(nlpd_config *cfg, const char *name);

/* Frees what the config allocated (commands, words, env). */
void nlpd_config_release(nlpd_config *cfg);

/* Deep copy of one stage's config; on NLPD_ENOMEM `dst` holds nothing to
 * release. nlpd_stage_cfg_release frees what a copy or a load allocated. */
int nlpd_stage_cfg_copy(nlpd_stage_cfg *dst, const nlpd_stage_cfg *src);
void nlpd_stage_cfg_release(nlpd_stage_cfg *s);

/* Deep copy (the daemon keeps one per generation). Returns 0 or NLPD_ENOMEM. */
int nlpd_config_copy(nlpd_config *dst, const nlpd_config *src);

/* Writes the effective configuration as INI text to `out` (a FILE *). */
void nlpd_config_print(const nlpd_config *cfg, void *out);

/* Resolves the state directory (the journal's home): `given` if not empty,
 * else $NLPD_STATE_DIR, else the first of $STATE_DIRECTORY (systemd's
 * StateDirectory=), else OWN_RUNTIME_DIR/state when the daemon was given a
 * runtime dir of its own (--runtime-dir, runtime_dir, $NLPD_RUNTIME_DIR:
 * a private instance keeps its journal with it; may be NULL), else
 * /var/lib/nlpd for root, else $XDG_STATE_HOME/nlpd, else
 * $HOME/.local/state/nlpd. Writes it to `out`. Returns 0 or NLPD_EINVAL
 * (too long, or no home to put it in). */
int nlpd_state_dir(const char *given, const char *own_runtime_dir, char *out, size_t out_len);

/* Splits a command line into words: whitespace separates, '...' and "..."
 * quote, backslash escapes the next character; no expansion of any kind.
 * Words are malloc'd into argv (NULL-terminated). Returns the word count,
 * or NLPD_ECONFIG (unterminated quote, too many words). */
int nlpd_split_command(const char *cmd, char **argv, int max_words);

/* Parses a metrics_listen value: "127.0.0.1:9464", "[::1]:9464",
 * "localhost:9464" (127.0.0.1); port 0 lets the system choose. Writes the
 * numeric address to `host` (no brackets), the port and AF_INET or
 * AF_INET6. Returns 0 or NLPD_ECONFIG with the reason in `why`. */
int nlpd_config_parse_listen(const char *value, char *host, size_t host_len, unsigned *port,
                             int *family, char *why, size_t why_len);

#endif /* NLPD_DAEMON_CONFIG_H */
