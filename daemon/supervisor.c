/* daemon/supervisor.c — worker processes: spawn, watch, restart, time limits, reload. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "nlpd/alloc.h"
#include "nlpd/log.h"

extern char **environ;

#define CRASH_LOOP_FAILURES 5
#define CRASH_LOOP_WINDOW_US (60u * 1000000u)
#define HEALTHY_UPTIME_US (30u * 1000000u)

stage *
stage_find(nlpd_daemon *d, const char *name)
{
    for (stage *st = d->stages; st != NULL; st = st->next) {
        if (strcmp(st->name, name) == 0)
            return st;
    }
    return NULL;
}

static void stage_freed(nlpd__zwatch *w);

static stage *
stage_create(nlpd_daemon *d, const nlpd_stage_cfg *cfg, unsigned gen)
{
    stage *st = nlpd_calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    snprintf(st->name, sizeof(st->name), "%s", cfg->name);
    if (nlpd_stage_cfg_copy(&st->cfg, cfg) != 0) {
        nlpd_free(st);
        return NULL;
    }
    if (broker_open_stage(d, st) != 0) {
        broker_close_stage(d, st, stage_freed);
        return NULL;
    }
    st->gen = gen;
    st->n_slots = cfg->replicas;
    st->next = d->stages;
    d->stages = st;
    return st;
}

static void
stage_freed(nlpd__zwatch *w)
{
    stage *st = w->data;
    nlpd_stage_cfg_release(&st->cfg);
    if (st->has_pending)
        nlpd_stage_cfg_release(&st->pending);
    nlpd_free(st);
}

/* Unlinks a stage and closes its socket; the memory goes once libuv has
 * closed the socket's watcher handles. */
void
stage_destroy(nlpd_daemon *d, stage *st)
{
    stage **pp = &d->stages;
    while (*pp != NULL && *pp != st)
        pp = &(*pp)->next;
    if (*pp == st)
        *pp = st->next;
    NLPD_LOG(NLPD_LOG_INFO, "stage=%s msg=\"stage closed\"", st->name);
    broker_close_stage(d, st, stage_freed);
}

/* --- Spawning ------------------------------------------------------------- */

static void
proc_closed(uv_handle_t *h)
{
    nlpd_free(h->data);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int term_signal);

static int
env_push(char **env, int *n, int max, const char *name, const char *value)
{
    if (*n >= max)
        return NLPD_ENOMEM;
    size_t len = strlen(name) + strlen(value) + 2;
    char *kv = nlpd_malloc(len);
    if (kv == NULL)
        return NLPD_ENOMEM;
    snprintf(kv, len, "%s=%s", name, value);
    env[(*n)++] = kv;
    return 0;
}

/* The worker's environment: the daemon's own, minus NLPD_* (the daemon sets
 * those), plus the stage's env entries, plus the endpoints. */
static char **
build_env(nlpd_daemon *d, const stage *st, const nlpd_stage_cfg *cfg, const worker *w)
{
    int inherited = 0;
    for (char **e = environ; *e != NULL; e++)
        inherited++;
    int max = inherited + cfg->n_env + 8 + 1;
    char **env = nlpd_calloc((size_t)max, sizeof(char *));
    if (env == NULL)
        return NULL;
    int n = 0, rc = 0;
    for (char **e = environ; *e != NULL && rc == 0; e++) {
        if (strncmp(*e, "NLPD_", 5) == 0 && strncmp(*e, "NLPD_RUNTIME_DIR=", 17) != 0)
            continue;
        int overridden = 0;
        for (int k = 0; k < cfg->n_env; k++) {
            size_t kl = (size_t)(strchr(cfg->env[k], '=') - cfg->env[k]);
            if (strncmp(*e, cfg->env[k], kl + 1) == 0)
                overridden = 1;
        }
        if (!overridden) {
            env[n] = nlpd_strdup(*e);
            rc = env[n] != NULL ? 0 : NLPD_ENOMEM;
            n++;
        }
    }
    for (int k = 0; k < cfg->n_env && rc == 0; k++) {
        env[n] = nlpd_strdup(cfg->env[k]);
        rc = env[n] != NULL ? 0 : NLPD_ENOMEM;
        n++;
    }
    char num[32], ctl[400];
    snprintf(ctl, sizeof(ctl), "ipc://%s/%s/%s", d->runtime_dir, NLPD_HOPS_DIR,
             NLPD_SOCK_HEARTBEAT);
    if (rc == 0)
        rc = env_push(env, &n, max, NLPD_ENV_STAGE, st->name);
    if (rc == 0)
        rc = env_push(env, &n, max, NLPD_ENV_WORKER_ID, w->id);
    snprintf(num, sizeof(num), "%d", (int)getpid());
    if (rc == 0)
        rc = env_push(env, &n, max, NLPD_ENV_SPAWNED, num);
    if (rc == 0)
        rc = env_push(env, &n, max, NLPD_ENV_ENDPOINT, st->endpoint);
    if (rc == 0)
        rc = env_push(env, &n, max, NLPD_ENV_CONTROL, ctl);
    snprintf(num, sizeof(num), "%u", d->cfg.heartbeat_ms);
    if (rc == 0)
        rc = env_push(env, &n, max, NLPD_ENV_HEARTBEAT_MS, num);
    snprintf(num, sizeof(num), "%u", cfg->window);
    if (rc == 0)
        rc = env_push(env, &n, max, NLPD_ENV_WINDOW, num);
    snprintf(num, sizeof(num), "%d", d->cfg.log_level);
    if (rc == 0)
        rc = env_push(env, &n, max, NLPD_ENV_LOG_LEVEL, num);
    env[n] = NULL;
    if (rc != 0) {
        for (int i = 0; i < n; i++)
            nlpd_free(env[i]);
        nlpd_free(env);
        return NULL;
    }
    return env;
}

static void
free_env(char **env)
{
    for (char **e = env; e != NULL && *e != NULL; e++)
        nlpd_free(*e);
    nlpd_free(env);
}

static void slot_failed(nlpd_daemon *d, stage *st, slot *s, int idx, uint64_t now, int escalate);

static void
stage_add_worker(nlpd_daemon *d, stage *st, worker *w)
{
    w->next_in_stage = st->workers;
    st->workers = w;
    HASH_ADD_STR(d->workers, id, w);
}

static void
stage_remove_worker(nlpd_daemon *d, worker *w)
{
    stage *st = w->st;
    worker **pp = &st->workers;
    while (*pp != NULL && *pp != w)
        pp = &(*pp)->next_in_stage;
    if (*pp == w)
        *pp = w->next_in_stage;
    worker *found = NULL;
    HASH_FIND_STR(d->workers, w->id, found);
    if (found == w)
        HASH_DEL(d->workers, w);
}

static int
spawn_worker(nlpd_daemon *d, stage *st, const nlpd_stage_cfg *cfg, slot *slots, int idx,
             unsigned gen)
{
    uint64_t now = nlpd__mono_us();
    worker *w = nlpd_calloc(1, sizeof(*w));
    if (w == NULL)
        return NLPD_ENOMEM;
    snprintf(w->id, sizeof(w->id), "%s/%d/%u", st->name, idx, ++d->spawn_seq);
    w->st = st;
    w->slot = idx;
    w->gen = gen;
    w->state = W_STARTING;
    w->window = cfg->window;
    w->spawned_us = w->last_hb_us = now;
    char **env = build_env(d, st, cfg, w);
    if (env == NULL) {
        nlpd_free(w);
        return NLPD_ENOMEM;
    }
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    uv_process_options_t opt;
    memset(&opt, 0, sizeof(opt));
    opt.file = cfg->argv[0];
    opt.args = (char **)cfg->argv;
    opt.env = env;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.exit_cb = on_exit_cb;
    w->proc.data = w;
    int rc = uv_spawn(d->loop, &w->proc, &opt);
    free_env(env);
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=%s slot=%d msg=\"cannot start worker %s: %s\"", st->name,
                 idx, cfg->argv[0], uv_strerror(rc));
        uv_close((uv_handle_t *)&w->proc, proc_closed);
        slots[idx].w = NULL;
        slot_failed(d, st, &slots[idx], idx, now, 1);
        return rc;
    }
    w->spawned = 1;
    w->pid = w->proc.pid;
    slots[idx].w = w;
    stage_add_worker(d, st, w);
    NLPD_LOG(NLPD_LOG_INFO, "stage=%s worker=%s pid=%d gen=%u msg=\"worker started\"", st->name,
             w->id, w->pid, gen);
    return 0;
}

/* Schedules the next start of a slot whose worker failed, with exponential
 * backoff; five failures within a minute is a crash loop, reported once and
 * retried at the longest backoff rather than spun. */
static void
slot_failed(nlpd_daemon *d, stage *st, slot *s, int idx, uint64_t now, int escalate)
{
    if (escalate) {
        s->consecutive_failures++;
        s->failures[s->n_failures % CRASH_LOOP_FAILURES] = now;
        s->n_failures++;
    }
    uint64_t delay_ms = d->cfg.backoff_min_ms;
    for (unsigned i = 1; i < s->consecutive_failures && delay_ms < d->cfg.backoff_max_ms; i++)
        delay_ms *= 2;
    if (delay_ms > d->cfg.backoff_max_ms)
        delay_ms = d->cfg.backoff_max_ms;
    if (s->n_failures >= CRASH_LOOP_FAILURES) {
        uint64_t oldest = s->failures[s->n_failures % CRASH_LOOP_FAILURES];
        if (now - oldest < CRASH_LOOP_WINDOW_US) {
            if (!s->crash_loop)
                NLPD_LOG(NLPD_LOG_ERR,
                         "stage=%s slot=%d msg=\"crash loop: %d failures within 60 s; retrying "
                         "every %u ms\"",
                         st->name, idx, CRASH_LOOP_FAILURES, d->cfg.backoff_max_ms);
            s->crash_loop = 1;
            delay_ms = d->cfg.backoff_max_ms;
        }
    }
    if (!escalate)
        delay_ms = 0; /* not the worker's fault: replace it at once */
    s->restart_at_us = now + delay_ms * 1000u + 1;
}

/* --- Exits ---------------------------------------------------------------- */

static void
reload_abort(nlpd_daemon *d, const char *why);

static void
in_hand_error(nlpd_daemon *d, worker *w, int64_t status, int term_signal)
{
    stage *st = w->st;
    /* The document in hand goes on with an error record; the ones the
     * worker had not started go back to the queue for another worker. */
    flight *f = flight_list_pop_front(&w->held);
    if (f == NULL)
        return;
    f->holder = NULL;
    char msg[300];
    const char *code;
    if (w->killed == KILL_TIMEOUT) {
        code = "timeout";
        snprintf(msg, sizeof(msg),
                 "stage %s did not finish within %u ms; its worker was killed and replaced",
                 st->name, st->cfg.timeout_ms);
        st->timeouts++;
    } else {
        code = "crashed";
        if (term_signal != 0)
            snprintf(msg, sizeof(msg), "the %s worker died (signal %d: %s) while processing it",
                     st->name, term_signal, strsignal(term_signal));
        else
            snprintf(msg, sizeof(msg), "the %s worker exited (status %lld) while processing it",
                     st->name, (long long)status);
        st->crashes++;
    }
    st->errors++;
    NLPD_LOG(NLPD_LOG_WARNING, "stage=%s worker=%s doc=%s code=%s msg=\"%s\"", st->name, w->id,
             f->key, code, msg);
    if (d->cfg.max_attempts > 1) {
        /* Killed by the daemon for its time limit or a silence, or dead by
         * a signal of its own (a fault, an abort) or an exit: the
         * document's doing.
         * SIGKILL or SIGTERM from outside (an operator, the kernel's OOM
         * killer) is not, unless it keeps happening to the same document. */
        int outside = w->killed == KILL_NONE && (term_signal == SIGKILL || term_signal == SIGTERM);
        int fault = w->killed == KILL_TIMEOUT || w->killed == KILL_HUNG ||
                    (w->killed == KILL_NONE && !outside && !w->remote);
        if (fault) {
            f->attempts++;
            f->outside_kills = 0;
        } else if (outside) {
            f->outside_kills++;
        }
        durable_attempt(d, f);
        if ((fault && f->attempts >= d->cfg.max_attempts) ||
            f->outside_kills >= NLPD_OUTSIDE_KILLS_MAX) {
            st->dead_letters++;
            durable_dead_letter(d, f, st->name, code, msg);
            return;
        }
        /* Again, at the front of the same stage's queue. */
        NLPD_LOG(NLPD_LOG_NOTICE, "stage=%s doc=%s attempts=%u outside_kills=%u msg=\"retrying\"",
                 st->name, f->key, f->attempts, f->outside_kills);
        f->started_us = 0;
        f->started_reported = 0;
        broker_stage_enqueue_front(st, f);
        broker_dispatch(d, st);
        return;
    }
    flight_add_error(d, f, st->name, code, msg, 0);
    f->next++;
    broker_route(d, f);
}

/* A worker that stopped as asked sends its last DONEs and BYE before it
 * exits, but the daemon may see the exit first. Reading what its stage's
 * socket already holds now keeps those answers from being taken for a
 * crash (the document in hand run again) or dropped as stale. */
static void
drain_stage(stage *st)
{
    for (int i = 0; i < 4096 && st->sock != NULL; i++) {
        nlpd__frames fr;
        if (nlpd__recv_frames(st->sock, &fr, ZMQ_DONTWAIT) != 0)
            break;
        st->watch.on_msg(&st->watch, &fr);
        nlpd__frames_close(&fr);
    }
}

static void
on_exit_cb(uv_process_t *proc, int64_t status, int term_signal)
{
    worker *w = proc->data;
    nlpd_daemon *d = proc->loop->data;
    stage *st = w->st;
    uint64_t now = nlpd__mono_us();
    int planned = w->state == W_STOPPING && w->killed == KILL_NONE;
    int was_ready = w->ready_us != 0;
    NLPD_LOG(planned ? NLPD_LOG_INFO : NLPD_LOG_WARNING,
             "stage=%s worker=%s pid=%d status=%lld signal=%d held=%zu msg=\"worker exited\"",
             st->name, w->id, w->pid, (long long)status, term_signal, w->held.n);
    if (planned && w->held.n > 0)
        drain_stage(st);
    w->state = W_EXITED;
    in_hand_error(d, w, status, term_signal);
    broker_requeue_held(d, w);
    stage_remove_worker(d, w);

    if (w->slot >= 0 && w->slot < st->n_slots && st->slots[w->slot].w == w) {
        slot *s = &st->slots[w->slot];
        s->w = NULL;
        if (d->state != D_STOPPING && !st->retiring) {
            st->restarts++;
            s->restarts++;
            if (was_ready && now - w->ready_us > HEALTHY_UPTIME_US)
                s->consecutive_failures = 0;
            /* A document that overran its limit is the document's fault,
             * not the worker's: replace it without backing off. */
            slot_failed(d, st, s, w->slot, now, w->killed != KILL_TIMEOUT);
        }
    } else if (d->reload_gen != 0 && w->gen == d->reload_gen && w->slot >= 0 &&
               st->new_slots[w->slot].w == w) {
        st->new_slots[w->slot].w = NULL;
        if (!was_ready && w->killed != KILL_RELOAD_ABORT) {
            char why[200];
            snprintf(why, sizeof(why), "a new %s worker exited before it was ready", st->name);
            reload_abort(d, why);
        }
    }
    w->spawned = 0;
    uv_close((uv_handle_t *)proc, proc_closed);
    broker_dispatch(d, st);
}

void
worker_kill(nlpd_daemon *d, worker *w, kill_reason why)
{
    (void)d;
    if (w->killed == KILL_NONE)
        w->killed = why;
    if (w->spawned && w->state != W_EXITED)
        uv_process_kill(&w->proc, SIGKILL);
}

void
worker_forget(nlpd_daemon *d, worker *w, const char *why)
{
    NLPD_LOG(NLPD_LOG_NOTICE, "stage=%s worker=%s msg=\"remote worker left: %s\"", w->st->name,
             w->id, why);
    w->state = W_EXITED;
    in_hand_error(d, w, 0, 0);
    broker_requeue_held(d, w);
    stage_remove_worker(d, w);
    nlpd_free(w);
}

/* --- Readiness and reload ------------------------------------------------- */

unsigned
supervisor_ready_count(nlpd_daemon *d, unsigned *wanted)
{
    unsigned ready = 0, want = 0;
    for (int i = 0; i < d->pl->n; i++) {
        stage *st = d->pl->st[i];
        want += (unsigned)st->n_slots;
        for (int k = 0; k < st->n_slots; k++) {
            if (st->slots[k].w != NULL && st->slots[k].w->state == W_READY)
                ready++;
        }
    }
    if (wanted != NULL)
        *wanted = want;
    return ready;
}

static int
reload_all_ready(nlpd_daemon *d)
{
    nlpd_config *c = &d->reload_cfg;
    for (int i = 0; i < c->n_pipeline; i++) {
        stage *st = stage_find(d, c->pipeline[i]);
        if (st == NULL)
            return 0;
        const nlpd_stage_cfg *sc = nlpd_config_stage(c, c->pipeline[i]);
        for (int k = 0; k < sc->replicas; k++) {
            if (st->new_slots[k].w == NULL || st->new_slots[k].w->state != W_READY)
                return 0;
        }
    }
    return 1;
}

static pipeline *
pipeline_build(nlpd_daemon *d, const nlpd_config *c)
{
    pipeline *p = nlpd_calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    for (int i = 0; i < c->n_pipeline; i++) {
        p->st[i] = stage_find(d, c->pipeline[i]);
        p->st[i]->refs++;
    }
    p->n = c->n_pipeline;
    p->refs = 1;
    return p;
}

static void
reload_commit(nlpd_daemon *d)
{
    nlpd_config *c = &d->reload_cfg;
    unsigned gen = d->reload_gen;
    for (int i = 0; i < c->n_pipeline; i++) {
        stage *st = stage_find(d, c->pipeline[i]);
        for (worker *w = st->workers; w != NULL; w = w->next_in_stage) {
            if (w->remote && w->state == W_READY) {
                w->gen = gen; /* not started by us: a reload does not replace it */
                continue;
            }
            if (w->gen != gen && w->state != W_EXITED && w->state != W_STOPPING) {
                /* Finishes the document in hand, hands back the rest (BYE). */
                w->state = W_STOPPING;
                w->stop_us = nlpd__mono_us();
                broker_send_stop(d, w);
            }
        }
        if (st->has_pending) {
            nlpd_stage_cfg_release(&st->cfg);
            st->cfg = st->pending;
            st->has_pending = 0;
        }
        memcpy(st->slots, st->new_slots, sizeof(st->slots));
        memset(st->new_slots, 0, sizeof(st->new_slots));
        st->n_slots = st->cfg.replicas;
        st->gen = gen;
        st->retiring = 0;
    }
    pipeline *np = pipeline_build(d, c);
    if (np != NULL) {
        pipeline *old = d->pl;
        d->pl = np;
        pipeline_unref(d, old);
    }
    for (stage *st = d->stages; st != NULL; st = st->next) {
        int in_new = 0;
        for (int i = 0; i < d->pl->n; i++)
            in_new |= d->pl->st[i] == st;
        if (!in_new)
            st->retiring = 1;
    }
    nlpd_config_release(&d->cfg);
    d->cfg = d->reload_cfg;
    memset(&d->reload_cfg, 0, sizeof(d->reload_cfg));
    d->gen = gen;
    d->reload_gen = 0;
    d->state = D_RUNNING;
    NLPD_LOG(NLPD_LOG_NOTICE, "gen=%u msg=\"reload complete: new workers ready, old ones retiring\"",
             gen);
    nlpd_sd_notify("READY=1");
    daemon_update_status(d, 1);
    for (stage *st = d->stages; st != NULL; st = st->next)
        broker_dispatch(d, st);
}

static void
reload_abort(nlpd_daemon *d, const char *why)
{
    unsigned gen = d->reload_gen;
    NLPD_LOG(NLPD_LOG_ERR, "msg=\"reload failed: %s; the running configuration stays\"", why);
    d->reload_gen = 0;
    for (stage *st = d->stages; st != NULL; st = st->next) {
        for (worker *w = st->workers; w != NULL; w = w->next_in_stage) {
            if (w->gen == gen)
                worker_kill(d, w, KILL_RELOAD_ABORT);
        }
        memset(st->new_slots, 0, sizeof(st->new_slots));
        if (st->has_pending) {
            nlpd_stage_cfg_release(&st->pending);
            st->has_pending = 0;
        }
        if (st->refs == 0)
            st->retiring = 1; /* created for the reload: goes with its workers */
    }
    nlpd_config_release(&d->reload_cfg);
    memset(&d->reload_cfg, 0, sizeof(d->reload_cfg));
    d->state = D_RUNNING;
    nlpd_sd_notify("READY=1");
    daemon_update_status(d, 1);
}

void
supervisor_on_hello(nlpd_daemon *d, worker *w)
{
    NLPD_LOG(NLPD_LOG_INFO, "stage=%s worker=%s version=%s window=%u msg=\"worker ready\"",
             w->st->name, w->id, w->version, w->window);
    if (d->state == D_STARTING) {
        unsigned want;
        if (supervisor_ready_count(d, &want) == want) {
            d->state = D_RUNNING;
            d->ready_notified = 1;
            NLPD_LOG(NLPD_LOG_NOTICE, "workers=%u msg=\"pipeline ready\"", want);
            nlpd_sd_notify("READY=1");
            daemon_update_status(d, 1);
        }
    } else if (d->state == D_RELOADING && w->gen == d->reload_gen && reload_all_ready(d)) {
        reload_commit(d);
    }
}

static int
load_config(nlpd_daemon *d, nlpd_config *c, char *why, size_t why_len)
{
    nlpd_config_defaults(c, d->self_exe);
    for (int i = 0; i < d->n_config_paths; i++) {
        int rc = nlpd_config_load(c, d->config_paths[i], why, why_len);
        if (rc != 0) {
            nlpd_config_release(c);
            return rc;
        }
    }
    /* The command line wins over the files, at a reload as at the start. */
    if (d->log_level_arg >= 0)
        c->log_level = d->log_level_arg;
    int rc = nlpd_config_finish(c, why, why_len);
    if (rc != 0)
        nlpd_config_release(c);
    return rc;
}

void
supervisor_reload(nlpd_daemon *d)
{
    if (d->state == D_STOPPING)
        return;
    if (d->state == D_RELOADING) {
        NLPD_LOG(NLPD_LOG_WARNING, "msg=\"reload already in progress; ignored\"");
        return;
    }
    char why[600];
    nlpd_config c;
    if (load_config(d, &c, why, sizeof(why)) != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"reload failed: %s; the running configuration stays\"",
                 why);
        return;
    }
    /* What cannot change without a restart keeps its running value. */
    snprintf(c.runtime_dir, sizeof(c.runtime_dir), "%s", d->cfg.runtime_dir);
    snprintf(c.state_dir, sizeof(c.state_dir), "%s", d->cfg.state_dir);
    snprintf(c.front_extra, sizeof(c.front_extra), "%s", d->cfg.front_extra);
    c.max_message_bytes = d->cfg.max_message_bytes;
    /* The metrics server keeps its address until a restart. */
    if (strcmp(c.metrics_listen, d->cfg.metrics_listen) != 0)
        NLPD_LOG(NLPD_LOG_WARNING, "msg=\"metrics_listen changes at the next restart, not on "
                                   "reload; still %s\"",
                 d->cfg.metrics_listen[0] ? d->cfg.metrics_listen : "off");
    snprintf(c.metrics_listen, sizeof(c.metrics_listen), "%s", d->cfg.metrics_listen);
    nlpd_log_set_sink(nlpd_log_stderr, NULL, c.log_level);

    nlpd_sd_notify("RELOADING=1");
    d->state = D_RELOADING;
    d->reload_gen = d->gen + 1;
    d->reload_cfg = c;
    d->reload_started_us = nlpd__mono_us();
    NLPD_LOG(NLPD_LOG_NOTICE, "gen=%u msg=\"reloading: starting new workers\"", d->reload_gen);
    for (int i = 0; i < c.n_pipeline; i++) {
        const nlpd_stage_cfg *sc = nlpd_config_stage(&d->reload_cfg, c.pipeline[i]);
        stage *st = stage_find(d, sc->name);
        const nlpd_stage_cfg *use = sc;
        if (st == NULL) {
            st = stage_create(d, sc, d->reload_gen);
            if (st == NULL) {
                reload_abort(d, "cannot open a new stage's socket");
                return;
            }
        } else {
            if (nlpd_stage_cfg_copy(&st->pending, sc) != 0) {
                reload_abort(d, "out of memory");
                return;
            }
            st->has_pending = 1;
            use = &st->pending;
        }
        for (int k = 0; k < sc->replicas && d->reload_gen != 0; k++)
            spawn_worker(d, st, use, st->new_slots, k, d->reload_gen);
        if (d->reload_gen == 0)
            return; /* a spawn failure aborted the reload */
    }
    daemon_update_status(d, 1);
}

/* --- Workers at run time (nlpctl workers add/remove) -------------------------- */

/* Stops a worker gracefully: STOP (it finishes the document in hand and
 * answers BYE, which puts what it still held back in the queue); one still
 * starting, which STOP may not reach yet, gets SIGTERM, which its runtime
 * treats the same way. One that does not exit within stop_timeout_ms is
 * killed (supervisor_tick). */
static void
worker_retire(nlpd_daemon *d, worker *w, uint64_t now)
{
    if (w->state == W_EXITED || w->state == W_STOPPING)
        return;
    int starting = w->state == W_STARTING;
    w->state = W_STOPPING;
    w->stop_us = now;
    broker_send_stop(d, w);
    if (starting && w->spawned)
        uv_process_kill(&w->proc, SIGTERM);
}

int
supervisor_scale(nlpd_daemon *d, const char *stage_name, int delta, char *msg, size_t msg_len)
{
    if (d->state == D_STOPPING) {
        snprintf(msg, msg_len, "the daemon is stopping");
        return NLPD_EBUSY;
    }
    if (d->state == D_RELOADING) {
        snprintf(msg, msg_len, "a reload is in progress; try again when it is done");
        return NLPD_EBUSY;
    }
    if (d->state == D_STARTING) {
        snprintf(msg, msg_len, "the daemon is still starting its workers; try again when it runs");
        return NLPD_EBUSY;
    }
    stage *st = NULL;
    for (int i = 0; i < d->pl->n; i++) {
        if (strcmp(d->pl->st[i]->name, stage_name) == 0)
            st = d->pl->st[i];
    }
    if (st == NULL) {
        int n = snprintf(msg, msg_len, "no stage '%.48s' in the pipeline (stages:", stage_name);
        for (int i = 0; i < d->pl->n && n > 0 && (size_t)n < msg_len; i++)
            n += snprintf(msg + n, msg_len - (size_t)n, " %s", d->pl->st[i]->name);
        if (n > 0 && (size_t)n < msg_len)
            snprintf(msg + n, msg_len - (size_t)n, ")");
        return NLPD_EINVAL;
    }
    int max = (int)(sizeof(st->slots) / sizeof(st->slots[0]));
    int old = st->n_slots, want = old + delta;
    if (delta == 0 || want > max || want < 1) {
        if (delta > 0)
            snprintf(msg, msg_len, "stage %s has %d workers; %d more would pass the limit of %d",
                     st->name, old, delta, max);
        else
            snprintf(msg, msg_len,
                     "stage %s has %d worker%s; removing %d would leave %s (at least 1 stays)",
                     st->name, old, old == 1 ? "" : "s", -delta, want < 1 ? "none" : "too few");
        return NLPD_EINVAL;
    }
    uint64_t now = nlpd__mono_us();
    if (delta > 0) {
        st->n_slots = want;
        for (int k = old; k < want; k++) {
            memset(&st->slots[k], 0, sizeof(st->slots[k]));
            /* A spawn that fails is retried with backoff like any other. */
            spawn_worker(d, st, &st->cfg, st->slots, k, st->gen);
        }
    } else {
        /* The highest slots go; their workers leave the slot at once, so
         * their exit is not a failure to restart. */
        for (int k = old - 1; k >= want; k--) {
            slot *s = &st->slots[k];
            if (s->w != NULL) {
                worker *w = s->w;
                s->w = NULL;
                worker_retire(d, w, now);
            }
            memset(s, 0, sizeof(*s));
        }
        st->n_slots = want;
    }
    NLPD_LOG(NLPD_LOG_NOTICE,
             "stage=%s workers=%d was=%d configured=%d msg=\"workers changed at run time (until "
             "the next reload or restart)\"",
             st->name, want, old, st->cfg.replicas);
    snprintf(msg, msg_len,
             "{\"stage\":\"%s\",\"replicas\":%d,\"previous\":%d,\"configured\":%d}",
             st->name, want, old, st->cfg.replicas);
    daemon_update_status(d, 1);
    broker_dispatch(d, st);
    return 0;
}

/* --- Start, tick, stop ---------------------------------------------------- */

int
supervisor_start(nlpd_daemon *d)
{
    d->gen = 1;
    for (int i = 0; i < d->cfg.n_pipeline; i++) {
        const nlpd_stage_cfg *sc = nlpd_config_stage(&d->cfg, d->cfg.pipeline[i]);
        if (stage_create(d, sc, d->gen) == NULL)
            return NLPD_EINVAL;
    }
    d->pl = pipeline_build(d, &d->cfg);
    if (d->pl == NULL)
        return NLPD_ENOMEM;
    for (int i = 0; i < d->pl->n; i++) {
        stage *st = d->pl->st[i];
        for (int k = 0; k < st->n_slots; k++)
            spawn_worker(d, st, &st->cfg, st->slots, k, d->gen);
    }
    return 0;
}

static void
tick_worker(nlpd_daemon *d, worker *w, uint64_t now)
{
    stage *st = w->st;
    if (w->state == W_EXITED)
        return;
    if (w->state == W_STARTING && now - w->spawned_us > (uint64_t)d->cfg.start_timeout_ms * 1000u) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=%s worker=%s msg=\"no HELLO within %u ms; killing it\"",
                 st->name, w->id, d->cfg.start_timeout_ms);
        worker_kill(d, w, KILL_START_TIMEOUT);
        return;
    }
    if (w->state != W_STARTING &&
        now - w->last_hb_us > (uint64_t)d->cfg.heartbeat_timeout_ms * 1000u) {
        if (w->remote) {
            worker_forget(d, w, "no heartbeat");
            return;
        }
        NLPD_LOG(NLPD_LOG_ERR, "stage=%s worker=%s msg=\"no heartbeat for %u ms; killing it\"",
                 st->name, w->id, d->cfg.heartbeat_timeout_ms);
        worker_kill(d, w, KILL_HUNG);
        return;
    }
    flight *f = w->held.head;
    if (f != NULL && f->started_us != 0 &&
        now - f->started_us > (uint64_t)st->cfg.timeout_ms * 1000u && w->killed == KILL_NONE) {
        NLPD_LOG(NLPD_LOG_WARNING,
                 "stage=%s worker=%s doc=%s msg=\"over the %u ms time limit; killing the worker\"",
                 st->name, w->id, f->key, st->cfg.timeout_ms);
        if (w->remote) {
            /* Not ours to kill: take the document back with an error and
             * stop trusting the worker. */
            w->killed = KILL_TIMEOUT;
            worker_forget(d, w, "over the time limit");
            return;
        }
        worker_kill(d, w, KILL_TIMEOUT);
        return;
    }
    if (w->state == W_STOPPING && w->stop_us != 0 &&
        now - w->stop_us > (uint64_t)d->cfg.stop_timeout_ms * 1000u && w->killed == KILL_NONE) {
        NLPD_LOG(NLPD_LOG_WARNING, "stage=%s worker=%s msg=\"did not stop in %u ms; killing it\"",
                 st->name, w->id, d->cfg.stop_timeout_ms);
        if (w->remote) {
            worker_forget(d, w, "did not stop");
            return;
        }
        worker_kill(d, w, KILL_STOP_TIMEOUT);
    }
}

void
supervisor_tick(nlpd_daemon *d, uint64_t now)
{
    stage *next_st;
    for (stage *st = d->stages; st != NULL; st = next_st) {
        next_st = st->next;
        worker *next_w;
        for (worker *w = st->workers; w != NULL; w = next_w) {
            next_w = w->next_in_stage;
            tick_worker(d, w, now);
        }
        if (d->state == D_STOPPING)
            continue;
        for (int k = 0; k < st->n_slots && !st->retiring; k++) {
            slot *s = &st->slots[k];
            if (s->w == NULL && s->restart_at_us != 0 && now >= s->restart_at_us) {
                s->restart_at_us = 0;
                spawn_worker(d, st, &st->cfg, st->slots, k, st->gen);
            }
            if (s->crash_loop && s->w != NULL && s->w->state == W_READY &&
                now - s->w->ready_us > CRASH_LOOP_WINDOW_US) {
                s->crash_loop = 0;
                s->consecutive_failures = 0;
                NLPD_LOG(NLPD_LOG_NOTICE, "stage=%s slot=%d msg=\"recovered from crash loop\"",
                         st->name, k);
            }
        }
        if (st->retiring && st->refs == 0 && st->queue.n == 0) {
            int live = 0;
            for (worker *w = st->workers; w != NULL; w = w->next_in_stage) {
                live++;
                if (w->state == W_READY || w->state == W_STARTING) {
                    w->state = W_STOPPING;
                    w->stop_us = now;
                    broker_send_stop(d, w);
                    if (w->spawned)
                        uv_process_kill(&w->proc, SIGTERM);
                }
            }
            if (live == 0)
                stage_destroy(d, st);
        }
    }
    if (d->state == D_RELOADING &&
        now - d->reload_started_us > (uint64_t)d->cfg.start_timeout_ms * 1000u)
        reload_abort(d, "new workers were not ready within start_timeout_ms");
}

void
supervisor_stop_all(nlpd_daemon *d)
{
    uint64_t now = nlpd__mono_us();
    for (stage *st = d->stages; st != NULL; st = st->next) {
        for (worker *w = st->workers; w != NULL; w = w->next_in_stage) {
            if (w->state == W_EXITED || w->state == W_STOPPING)
                continue;
            w->state = W_STOPPING;
            w->stop_us = now;
            broker_send_stop(d, w);
            if (w->spawned)
                uv_process_kill(&w->proc, SIGTERM);
        }
    }
}

int
supervisor_all_exited(nlpd_daemon *d)
{
    for (stage *st = d->stages; st != NULL; st = st->next) {
        for (worker *w = st->workers; w != NULL; w = w->next_in_stage) {
            if (!w->remote)
                return 0;
        }
    }
    return 1;
}
