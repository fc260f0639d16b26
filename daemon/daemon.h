/* daemon/daemon.h — the daemon's state, shared by its files.
 *
 * nlpd is one process with one libuv loop. It binds every socket: the front
 * door (ROUTER), the control socket (ROUTER), the results feed (PUB), one
 * ROUTER per stage that the stage's workers connect to, and a PULL for
 * heartbeats. Documents move as credit-based dispatch: a worker announces
 * a window, the daemon sends it at most that many documents, and every
 * document in flight is at one known place (a stage's queue or a worker's
 * hands) with its latest encoding, so a worker that dies or overruns its
 * time limit costs nothing but that worker.
 *
 * Files: main.c (start, signals, stop), config.c (INI), supervisor.c
 * (worker processes, restarts, time limits, reload), broker.c (stage
 * sockets, dispatch, routing), front.c (submissions, results, feed),
 * control.c (status, results, dead letters), flight.c (documents in
 * flight, keys), journal.c (the SQLite journal and result store) and
 * durable.c (the journal in the daemon: accept after commit, results into
 * the store, replay at start, prune), sdnotify.c, stats.c (rates, latency
 * quantiles, the Prometheus text: pure) and metrics.c (the figures'
 * snapshot, readiness, the /metrics HTTP server in its own thread).
 */
#ifndef NLPD_DAEMON_H
#define NLPD_DAEMON_H

#include <stdint.h>

#include <uthash.h>
#include <uv.h>
#include <zmq.h>

#include "config.h"
#include "journal.h"
#include "nlpd/doc.h"
#include "nlpd_internal.h"
#include "stats.h"

#define NLPD_VERSION_STRING "0.1.0"
/* Deaths from outside (SIGKILL, SIGTERM) with the same document in hand, in
 * a row, that make it a dead letter: the kernel's OOM killer at work. */
#define NLPD_OUTSIDE_KILLS_MAX 5

typedef struct nlpd_daemon nlpd_daemon;
typedef struct stage stage;
typedef struct worker worker;
typedef struct flight flight;
typedef struct pipeline pipeline;
typedef struct nlpd_metrics nlpd_metrics;

/* A FIFO of flights (a stage's queue, a worker's hands): each flight is
 * in at most one list at a time, through its prev/nxt links. */
typedef struct flight_list {
    flight *head, *tail;
    size_t n;
} flight_list;

/* A pipeline: stages in order. Documents keep the pipeline they were
 * accepted under (refcounted), so a reload never reroutes one midway. */
struct pipeline {
    int refs;
    int n;
    stage *st[NLPD_MAX_STAGES];
};

/* A document in flight. */
struct flight {
    char key[32];
    UT_hash_handle hh;
    zmq_msg_t doc;    /* the latest encoding: what the next stage gets */
    zmq_msg_t client; /* routing id of the client that waits, size 0 if none */
    zmq_msg_t corr;
    uint8_t wait;       /* the client waits for the result */
    uint8_t reply_json; /* ... as JSON */
    uint8_t had_error;  /* some stage added an error record */
    uint8_t started_reported;
    uint8_t ack_wait;  /* journaled, not yet answered: 1 waiting for its commit (in
                        * d->ack_wait), 2 for a sync (d->sync_wait), 3 for the sync in
                        * flight (d->syncing) */
    uint8_t no_store;  /* unfinished at shutdown, or dead: not in the result store */
    unsigned attempts;      /* stage crashes and time-outs with it in hand */
    unsigned outside_kills; /* workers killed from outside with it in hand, in a row */
    pipeline *pl;
    int next;           /* index in pl of the stage to run next; pl->n: done */
    uint64_t skip_mask; /* bit i: the client did not ask for stage i */
    worker *holder;     /* the worker holding it, NULL while queued */
    flight *prev, *nxt; /* in the stage queue or the holder's list */
    uint64_t accepted_us; /* monotonic */
    uint64_t dispatched_us;
    uint64_t queued_us;  /* put in its current stage's queue (broker_route) */
    uint64_t started_us; /* 0: not started */
    size_t bytes;        /* counted against max_in_flight_bytes */
};

typedef enum worker_state {
    W_STARTING, /* spawned, no HELLO yet */
    W_READY,
    W_STOPPING, /* told to stop (STOP, SIGTERM) or said BYE */
    W_EXITED,   /* process gone, handle closing */
} worker_state;

typedef enum kill_reason {
    KILL_NONE = 0,
    KILL_TIMEOUT,       /* overran the per-document time limit */
    KILL_HUNG,          /* no heartbeat */
    KILL_START_TIMEOUT, /* no HELLO in time */
    KILL_STOP_TIMEOUT,  /* did not exit after STOP */
    KILL_RELOAD_ABORT,  /* a new generation that did not come up */
} kill_reason;

struct worker {
    char id[96];
    UT_hash_handle hh; /* daemon->workers, by id (the ROUTER routing id) */
    stage *st;
    worker *next_in_stage;
    int slot;          /* replica index; -1 for a remote worker */
    unsigned gen;      /* configuration generation it was started with */
    worker_state state;
    int remote;
    uv_process_t proc;
    int spawned;       /* proc is live (needs uv_close) */
    int pid;
    char version[64];
    unsigned window;
    flight_list held;  /* documents sent and not answered, in order */
    kill_reason killed;
    char timeout_key[32];
    uint64_t spawned_us, ready_us, last_hb_us, stop_us;
    uint64_t processed, errors, rss_kb;
};

/* Restart bookkeeping of one replica slot. */
typedef struct slot {
    worker *w;           /* the current worker of this slot, or NULL */
    unsigned consecutive_failures;
    uint64_t restart_at_us; /* 0: nothing pending */
    uint64_t failures[5];   /* times of the last failures (crash-loop check) */
    unsigned restarts;      /* workers started in this slot after the first */
    unsigned n_failures;
    int crash_loop;
} slot;

struct stage {
    char name[48];
    nlpd_daemon *d;         /* its daemon (the socket watcher's data is the stage) */
    stage *next;
    nlpd_stage_cfg cfg;     /* active configuration */
    nlpd_stage_cfg pending; /* during a reload: the new one */
    int has_pending;
    unsigned gen;           /* workers of this generation take documents */
    int retiring;           /* no longer in the pipeline: goes when unused */
    int refs;               /* pipelines that name it */
    char endpoint[300];
    void *sock;
    nlpd__zwatch watch;
    int watch_open;
    worker *workers;
    slot slots[256];
    int n_slots;
    slot new_slots[256];    /* during a reload */
    flight_list queue; /* documents waiting for a worker */
    uint64_t processed, errors, restarts, timeouts, crashes, dead_letters;
    nlpd_lat lat_proc;  /* per document: STARTED (or its turn in the worker) to done */
    nlpd_lat lat_stage; /* per document: into this stage's queue to done */
    nlpd_rate rate;     /* of processed */
    int dispatch_pending;   /* credit or documents arrived this loop turn */
};

typedef enum daemon_state {
    D_STARTING,
    D_RUNNING,
    D_RELOADING,
    D_STOPPING,
} daemon_state;

struct nlpd_daemon {
    nlpd_config cfg;
    const char **config_paths;
    int n_config_paths;
    int log_level_arg; /* --log-level, which wins over the files at every load; -1: none */
    const char *self_exe;
    char runtime_dir[256];
    int lock_fd;
    gid_t gid;

    uv_loop_t *loop;
    void *zctx;
    struct nlpd_security *sec; /* CurveZMQ on the tcp endpoints (security.c); NULL: ipc only */
    void *front, *control, *pub, *hb;
    nlpd__zwatch front_w, control_w, hb_w;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t tick;
    uv_prepare_t prepare; /* looks at sockets sent on during the turn */
    daemon_state state;
    uint64_t started_us;   /* monotonic */
    uint64_t drain_deadline_us;
    uint64_t last_status_us;
    uint64_t watchdog_us;  /* 0: no systemd watchdog */
    int ready_notified;
    int exit_code;

    stage *stages;
    pipeline *pl;
    unsigned gen;          /* current configuration generation */
    unsigned reload_gen;   /* the generation a reload is bringing up, 0: none */
    nlpd_config reload_cfg;
    uint64_t reload_started_us;
    worker *workers;       /* hash by id */
    unsigned spawn_seq;

    flight *flights;       /* hash by key */
    size_t n_flight;
    size_t flight_bytes;
    uint64_t accepted, completed, refused, failed_docs;

    nlpd_doc *scratch;     /* for JSON replies */
    nlpd__arena *front_arena; /* decoding submissions */
    uint64_t key_last_ms;
    uint8_t key_rand[10];

    /* The journal (durable.c); NULL when off or not open (journal_why says
     * why the front door refuses). */
    nlpd_journal *journal;
    char state_dir[256];
    char journal_why[1536];
    int journal_err;
    flight_list ack_wait;     /* accepted, journaled, waiting for the commit */
    flight_list sync_wait;    /* committed, waiting for a sync of the log to start */
    flight_list syncing;      /* committed, covered by the sync in flight */
    uv_work_t sync_req;       /* that sync, on the thread pool */
    int sync_on, sync_fd, sync_err;
    uint64_t commit_seq;      /* commits made (not synced by SQLite) */
    uint64_t sync_from_seq;   /* commit_seq when the sync in flight started */
    uint64_t synced_seq;      /* commits known to be on disk */
    uv_timer_t commit_timer;  /* group commit */
    int commit_timer_on;
    int commit_now;           /* commit at the end of this loop turn */
    int64_t replay_after, replay_upto; /* seq range still to replay */
    uint64_t last_prune_us, last_open_try_us;
    uint64_t duplicates, replayed, journal_errors, commits, dead_letters;

    /* Figures (metrics.c). */
    nlpd_lat lat_e2e;     /* per document: accepted to done */
    nlpd_rate rate_done;  /* of completed */
    nlpd_metrics *metrics; /* the HTTP server; NULL when metrics_listen is off */
};

/* flight.c */
void flight_list_push_back(flight_list *l, flight *f);
void flight_list_push_front(flight_list *l, flight *f);
void flight_list_remove(flight_list *l, flight *f);
flight *flight_list_pop_front(flight_list *l);
void nlpd__key_new(nlpd_daemon *d, char out[27]);
flight *flight_new(nlpd_daemon *d);
void flight_free(nlpd_daemon *d, flight *f);
flight *flight_find(nlpd_daemon *d, const char *key, size_t len);
/* Appends an error record (and no other change) to the document. */
int flight_add_error(nlpd_daemon *d, flight *f, const char *stage_name, const char *code,
                     const char *message, int fatal);
void pipeline_ref(pipeline *p);
void pipeline_unref(nlpd_daemon *d, pipeline *p);

/* broker.c */
int broker_open_stage(nlpd_daemon *d, stage *st);
/* Closes the stage's socket; on_closed runs once its watcher is closed. */
void broker_close_stage(nlpd_daemon *d, stage *st, nlpd__zwatch_close_fn on_closed);
/* Removes every trace of a flight from queues and workers. */
void broker_detach(nlpd_daemon *d, flight *f);
/* Sends the document on to the next stage it needs, or to the sink. */
void broker_route(nlpd_daemon *d, flight *f);
/* Asks for queued documents to be handed to workers with free credit at
 * the end of this loop turn (broker_flush). */
void broker_dispatch(nlpd_daemon *d, stage *st);
void broker_flush(nlpd_daemon *d);
/* Puts a worker's held documents back at the front of its stage's queue. */
void broker_requeue_held(nlpd_daemon *d, worker *w);
void broker_stage_enqueue_front(stage *st, flight *f);
void broker_on_heartbeat(nlpd__zwatch *w, nlpd__frames *fr);
void broker_send_stop(nlpd_daemon *d, worker *w);

/* front.c */
int front_open(nlpd_daemon *d);
void front_close(nlpd_daemon *d);
/* The document is done: reply to a waiting client, publish, forget. */
void front_sink(nlpd_daemon *d, flight *f);
/* The journal's commit for `f` returned `rc`: answer "accepted" and route
 * it, or refuse it (code "journal", `why`) and free it. */
void front_commit_done(nlpd_daemon *d, flight *f, int rc, const char *why);
/* Puts a journaled document back in flight (replay, retry): no client
 * waits for it. Returns 0 or NLPD_ENOMEM / NLPD_EBUSY (already in flight). */
int front_replay(nlpd_daemon *d, const nlpd_journal_doc *jd, flight_list *out);

/* durable.c */
/* Opens the journal and starts replaying what it holds not done. A journal
 * that cannot be opened is logged and retried; meanwhile the front door
 * refuses. Returns 0 (also then) or an error that should stop the start. */
int durable_open(nlpd_daemon *d);
/* Commits what is pending and closes the journal. */
void durable_close(nlpd_daemon *d);
/* Journals an accepted flight; it is answered "accepted" and routed once
 * the commit returns (at once with journal_sync = full). Returns 0 or an
 * error (f untouched: the caller refuses and frees it). */
int durable_accept(nlpd_daemon *d, flight *f, const char *flags);
/* Commits the open transaction and answers the flights waiting for it:
 * "accepted" and on their way, or refused when the commit failed. */
int durable_commit(nlpd_daemon *d);
/* Commits now if a commit was asked for during this loop turn. */
void durable_flush(nlpd_daemon *d);
/* Stores the result of a finished flight. Returns 0, 1 for a duplicate
 * (the key has a result already), or an error (logged). */
int durable_store(nlpd_daemon *d, flight *f);
/* Replays more, prunes on schedule, retries a journal that did not open. */
void durable_tick(nlpd_daemon *d, uint64_t now);
/* Makes dead letter `id` pending again and puts it back in flight. On 0
 * `msg` holds a JSON answer; else the reason. */
int durable_retry(nlpd_daemon *d, int64_t id, char *msg, size_t msg_len);
/* Records a flight's attempt count in the journal. */
void durable_attempt(nlpd_daemon *d, flight *f);
/* Gives up on a flight (max_attempts reached): a dead letter in the
 * journal, and its waiting client gets it with an error record saying so. */
void durable_dead_letter(nlpd_daemon *d, flight *f, const char *stage_name, const char *code,
                         const char *message);
/* Removes a flight from the commit wait (broker_detach). */
void durable_detach(nlpd_daemon *d, flight *f);

/* control.c */
/* Sets `path`'s mode to `mode` and its group to the daemon's (d->gid),
 * calling chown() only when the group differs (a file the daemon creates
 * usually has its group already, and the unit's system call filter need
 * not allow chown then). Returns 0, or -1 with errno set. (main.c) */
int daemon_share_with_group(const nlpd_daemon *d, const char *path, mode_t mode);

int control_open(nlpd_daemon *d);
void control_close(nlpd_daemon *d);
/* "starting", "running", "reloading", "stopping". */
const char *daemon_state_name(daemon_state s);
/* The STATUS JSON (malloc'd with nlpd_malloc); NULL when out of memory. */
char *control_status_json(nlpd_daemon *d);

/* metrics.c */
/* Starts the /metrics HTTP server when metrics_listen is set (0 when off).
 * Returns 0, or an error after logging why (the address is taken...). */
int metrics_open(nlpd_daemon *d);
/* The address /metrics is served on, port resolved ("" when off). */
const char *metrics_address(const nlpd_daemon *d);
/* Stops the server's thread and frees it. */
void metrics_close(nlpd_daemon *d);
/* From the loop's timer: samples the rates once a second and hands the
 * HTTP thread a fresh snapshot (readiness every tick, figures once a
 * second). */
void metrics_tick(nlpd_daemon *d, uint64_t now);
/* Fills `s` from the daemon's state; with `journal_counts`, also the
 * journal's table counts (SQL count queries: not every second). */
void stats_collect(nlpd_daemon *d, nlpd_stats_snap *s, int journal_counts);
/* 1 when ready (every stage has a ready worker, the journal if on is
 * open, not starting or stopping), else 0 with the reason in `why`. */
int stats_ready(nlpd_daemon *d, char *why, size_t why_len);

/* A stage answered for `f` at `now`: its latency samples (the only
 * per-document cost of the figures: two stores in rings). */
static inline void
stats_stage_done(stage *st, const flight *f, uint64_t now)
{
    uint64_t started = f->started_us ? f->started_us : f->dispatched_us;
    nlpd_lat_add(&st->lat_proc, now - started, now);
    if (f->queued_us != 0)
        nlpd_lat_add(&st->lat_stage, now - f->queued_us, now);
}

/* A document reached the sink. */
static inline void
stats_doc_done(nlpd_daemon *d, const flight *f)
{
    uint64_t now = nlpd__mono_us();
    nlpd_lat_add(&d->lat_e2e, now - f->accepted_us, now);
}

/* supervisor.c */
stage *stage_find(nlpd_daemon *d, const char *name);
void stage_destroy(nlpd_daemon *d, stage *st);
int supervisor_start(nlpd_daemon *d);
void supervisor_tick(nlpd_daemon *d, uint64_t now);
void supervisor_on_hello(nlpd_daemon *d, worker *w);
void supervisor_reload(nlpd_daemon *d);
void supervisor_stop_all(nlpd_daemon *d);
int supervisor_all_exited(nlpd_daemon *d);
void worker_kill(nlpd_daemon *d, worker *w, kill_reason why);
/* A worker that left without its process exiting (remote, gone silent). */
void worker_forget(nlpd_daemon *d, worker *w, const char *why);
unsigned supervisor_ready_count(nlpd_daemon *d, unsigned *wanted);
/* Changes the number of workers of a pipeline stage at run time: `delta`
 * more (> 0) or fewer (< 0, stopped gracefully: STOP, finish, BYE; what
 * they held goes back to the queue). Returns 0 with a JSON answer in
 * `msg`, or NLPD_EINVAL / NLPD_EBUSY with the reason in `msg`. Until the
 * next reload or restart, which go back to the configured count. */
int supervisor_scale(nlpd_daemon *d, const char *stage_name, int delta, char *msg, size_t msg_len);

/* main.c */
void daemon_begin_stop(nlpd_daemon *d, const char *why);
void daemon_update_status(nlpd_daemon *d, int force);

/* sdnotify.c: systemd notifications; a no-op without systemd. */
int nlpd_sd_notify(const char *state);
uint64_t nlpd_sd_watchdog_usec(void);

#endif /* NLPD_DAEMON_H */
