/* daemon/durable.c — the journal in the daemon.
 *
 * A submission is written to the journal's open transaction and waits in
 * d->ack_wait; the commit (at once with journal_sync = full, else after
 * group_commit_ms or group_commit_docs writes) answers every waiting client
 * "accepted" and sends the documents on, or refuses them all when it
 * failed. A client thus never hears "accepted" for a document not on disk.
 * Results go into the same transaction; what a crash loses of them is
 * made again, since their documents are still pending after a restart.
 * On start every pending document is replayed in accept order, as many at
 * a time as max_in_flight allows.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "nlpd/alloc.h"
#include "nlpd/log.h"

#define OPEN_RETRY_US 5000000u

static int commit_tx(nlpd_daemon *d, int async);

static void
on_commit_timer(uv_timer_t *t)
{
    nlpd_daemon *d = t->data;
    d->commit_timer_on = 0;
    commit_tx(d, 1);
}

/* A write went into the transaction: commit soon. */
static void
schedule_commit(nlpd_daemon *d)
{
    if (nlpd_journal_uncommitted(d->journal) >= d->cfg.group_commit_docs) {
        d->commit_now = 1;
        return;
    }
    if (!d->commit_timer_on) {
        d->commit_timer_on = 1;
        uv_timer_start(&d->commit_timer, on_commit_timer, d->cfg.group_commit_ms, 0);
    }
}

static int
try_open(nlpd_daemon *d)
{
    char why[sizeof(d->journal_why)];
    int rc = nlpd_journal_open(&d->journal, d->state_dir, why, sizeof(why));
    if (rc != 0) {
        if (rc != d->journal_err || strcmp(why, d->journal_why) != 0)
            NLPD_LOG(NLPD_LOG_ERR,
                     "err=%s msg=\"cannot open the journal: %s; refusing documents until it "
                     "opens (retried every %us)\"",
                     nlpd_err_name(rc), why, OPEN_RETRY_US / 1000000u);
        snprintf(d->journal_why, sizeof(d->journal_why), "%s", why);
        d->journal_err = rc;
        return rc;
    }
    d->journal_err = 0;
    d->journal_why[0] = '\0';
    d->replay_after = 0;
    d->replay_upto = nlpd_journal_last_seq(d->journal);
    uint64_t pending = 0, results = 0, dead = 0, cursor = 0;
    nlpd_journal_stats(d->journal, &pending, &results, NULL, &dead, &cursor);
    NLPD_LOG(NLPD_LOG_NOTICE,
             "state_dir=%s sync=%s log_sync=%s pending=%llu results=%llu dead_letters=%llu "
             "cursor=%llu msg=\"journal open\"",
             d->state_dir, d->cfg.journal_sync_full ? "full" : "group",
             nlpd_journal_sync_fd(d->journal) >= 0 ? "thread" : "sqlite",
             (unsigned long long)pending, (unsigned long long)results, (unsigned long long)dead,
             (unsigned long long)cursor);
    if (pending == 0)
        d->replay_after = d->replay_upto;
    return 0;
}

int
durable_open(nlpd_daemon *d)
{
    d->commit_timer.data = d;
    uv_timer_init(d->loop, &d->commit_timer);
    if (!d->cfg.journal) {
        NLPD_LOG(NLPD_LOG_NOTICE, "msg=\"journal off: accepted documents do not survive a "
                                  "crash and no results are stored\"");
        return 0;
    }
    /* A runtime dir chosen for this daemon (not the system's default)
     * makes it a private instance: its journal goes with it, not into a
     * state dir another daemon may hold. */
    const char *env_run = getenv("NLPD_RUNTIME_DIR");
    int own = d->cfg.runtime_dir[0] != '\0' || (env_run != NULL && env_run[0] != '\0');
    if (nlpd_state_dir(d->cfg.state_dir, own ? d->runtime_dir : NULL, d->state_dir,
                       sizeof(d->state_dir)) != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"no state directory: set state_dir in [daemon]\"");
        return NLPD_EINVAL;
    }
    d->last_open_try_us = nlpd__mono_us();
    try_open(d);
    durable_tick(d, nlpd__mono_us());
    return 0;
}

static void
on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

void
durable_close(nlpd_daemon *d)
{
    if (d->journal != NULL) {
        durable_commit(d);
        nlpd_journal_close(&d->journal);
    }
    if (d->commit_timer.loop != NULL && !uv_is_closing((uv_handle_t *)&d->commit_timer))
        uv_close((uv_handle_t *)&d->commit_timer, on_timer_closed);
}

/* A failed write took the open transaction with it: the documents waiting
 * for its commit are not on disk and are refused. */
static void
transaction_lost(nlpd_daemon *d)
{
    if (!nlpd_journal_take_lost(d->journal))
        return;
    char why[sizeof(d->journal_why)];
    snprintf(why, sizeof(why), "cannot record the document: %s", nlpd_journal_why(d->journal));
    NLPD_LOG(NLPD_LOG_ERR,
             "refused=%zu msg=\"the journal rolled back its open transaction; the documents it "
             "held are refused, the results it held are made again after a restart\"",
             d->ack_wait.n);
    flight *f;
    while ((f = flight_list_pop_front(&d->ack_wait)) != NULL) {
        f->ack_wait = 0;
        front_commit_done(d, f, NLPD_EINVAL, why);
    }
}

int
durable_accept(nlpd_daemon *d, flight *f, const char *flags)
{
    if (d->journal == NULL)
        return d->journal_err != 0 ? d->journal_err : NLPD_EINVAL;
    int rc = nlpd_journal_accept(d->journal, f->key, zmq_msg_data(&f->doc), zmq_msg_size(&f->doc),
                                 flags, nlpd__now_us());
    if (rc != 0) {
        d->journal_errors++;
        NLPD_LOG(NLPD_LOG_ERR, "doc=%s msg=\"%s\"", f->key, nlpd_journal_why(d->journal));
        transaction_lost(d);
        return rc;
    }
    f->ack_wait = 1;
    flight_list_push_back(&d->ack_wait, f);
    if (d->cfg.journal_sync_full)
        durable_commit(d);
    else
        schedule_commit(d);
    return 0;
}

/* --- Commits and their sync ------------------------------------------------
 *
 * A commit is on disk once the journal's log is synced (fdatasync). On the
 * hot path (the group-commit timer, a full group) that sync runs on the
 * thread pool: the loop goes on routing documents while the disk works,
 * instead of stopping for each commit's fsync (1.5 ms on average here, 10
 * at the 99th percentile). The documents of a commit are answered
 * "accepted" only when a sync that started after their commit returns:
 * commits made while one sync is in flight wait for the next, which then
 * covers all of them. Every other caller (control's reads, retry, drain,
 * close) gets the sync inline, as before. */

/* Answers the flights of `l` (emptied first: routing one may add to the
 * lists) with the outcome of their commit. */
static void
answer(nlpd_daemon *d, flight_list *l, int rc, const char *why)
{
    flight_list done = *l;
    memset(l, 0, sizeof(*l));
    flight *f;
    while ((f = flight_list_pop_front(&done)) != NULL) {
        f->ack_wait = 0;
        front_commit_done(d, f, rc, why);
    }
}

/* Moves every flight of `from` to the end of `to`, marking them `mark`. */
static void
move_all(flight_list *from, flight_list *to, uint8_t mark)
{
    flight *f;
    while ((f = flight_list_pop_front(from)) != NULL) {
        f->ack_wait = mark;
        flight_list_push_back(to, f);
    }
}

static void start_sync(nlpd_daemon *d);

static void
sync_work(uv_work_t *req)
{
    nlpd_daemon *d = req->data;
    d->sync_err = fdatasync(d->sync_fd) == 0 ? 0 : -errno;
}

static void
sync_done(uv_work_t *req, int status)
{
    nlpd_daemon *d = req->data;
    close(d->sync_fd);
    d->sync_fd = -1;
    d->sync_on = 0;
    int rc = status != 0 ? status : d->sync_err;
    char why[sizeof(d->journal_why)] = "";
    if (rc == 0 && d->sync_from_seq > d->synced_seq)
        d->synced_seq = d->sync_from_seq;
    if (rc != 0) {
        d->journal_errors++;
        snprintf(why, sizeof(why), "cannot record the document: the journal's log could not be "
                                   "synced: %s",
                 strerror(rc < 0 ? -rc : rc));
        NLPD_LOG(NLPD_LOG_ERR,
                 "refused=%zu msg=\"journal sync failed: %s; the documents it covered are "
                 "refused (they may still run after a restart)\"",
                 d->syncing.n, strerror(rc < 0 ? -rc : rc));
    }
    answer(d, &d->syncing, rc, why);
    start_sync(d);
}

/* Starts a sync for the flights waiting for one, unless one is in flight
 * (its completion starts the next). */
static void
start_sync(nlpd_daemon *d)
{
    if (d->sync_on || d->sync_wait.head == NULL)
        return;
    int fd = d->journal != NULL ? nlpd_journal_sync_fd(d->journal) : -1;
    /* A dup: the journal may close its own fd while the sync runs. */
    d->sync_fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (d->sync_fd < 0) {
        /* No fd to hand over: sync here. */
        uint64_t upto = d->commit_seq;
        int rc = d->journal != NULL ? nlpd_journal_sync(d->journal) : 0;
        if (rc == 0)
            d->synced_seq = upto;
        answer(d, &d->sync_wait, rc,
               rc != 0 ? "cannot record the document: the journal's log could not be synced"
                       : NULL);
        return;
    }
    move_all(&d->sync_wait, &d->syncing, 3);
    d->sync_from_seq = d->commit_seq;
    d->sync_req.data = d;
    int rc = uv_queue_work(d->loop, &d->sync_req, sync_work, sync_done);
    if (rc != 0) {
        close(d->sync_fd);
        d->sync_fd = -1;
        rc = nlpd_journal_sync(d->journal);
        if (rc == 0)
            d->synced_seq = d->sync_from_seq;
        answer(d, &d->syncing, rc,
               rc != 0 ? "cannot record the document: the journal's log could not be synced"
                       : NULL);
        return;
    }
    d->sync_on = 1;
}

/* Commits the open transaction; its documents are answered once it is on
 * disk: from the thread pool's sync with `async`, else here (and with
 * them every document committed before, still waiting for a sync). */
static int
commit_tx(nlpd_daemon *d, int async)
{
    d->commit_now = 0;
    if (d->commit_timer_on) {
        uv_timer_stop(&d->commit_timer);
        d->commit_timer_on = 0;
    }
    if (d->journal == NULL)
        return 0;
    size_t n = nlpd_journal_uncommitted(d->journal);
    int rc = nlpd_journal_commit_nosync(d->journal);
    char why[sizeof(d->journal_why)] = "";
    if (rc != 0) {
        d->journal_errors++;
        snprintf(why, sizeof(why), "cannot record the document: %s", nlpd_journal_why(d->journal));
        NLPD_LOG(NLPD_LOG_ERR,
                 "writes=%zu refused=%zu msg=\"journal commit failed: %s; the documents it held "
                 "are refused, the results it held are made again after a restart\"",
                 n, d->ack_wait.n, nlpd_journal_why(d->journal));
        /* Answered from a list of their own: routing one may write a
         * result into the next transaction, and a failure there must not
         * touch these, which this commit settled. */
        answer(d, &d->ack_wait, rc, why);
        return rc;
    }
    if (n > 0)
        d->commits++;
    move_all(&d->ack_wait, &d->sync_wait, 2);
    if (nlpd_journal_sync_fd(d->journal) < 0) {
        answer(d, &d->sync_wait, 0, NULL); /* SQLite synced the commit */
        return 0;
    }
    if (n > 0)
        d->commit_seq++;
    if (async) {
        start_sync(d);
        return 0;
    }
    /* Inline: this sync covers this commit and every one before it, so
     * the documents the sync in flight covers are settled too (its
     * completion then finds nothing to answer). Readers (control's GET
     * and RESULTS) come this way: what they see is on disk, so a cursor
     * they hand out is never taken back, even by a power cut. */
    uint64_t upto = d->commit_seq;
    rc = upto > d->synced_seq || d->sync_wait.head != NULL || d->syncing.head != NULL
             ? nlpd_journal_sync(d->journal)
             : 0;
    if (rc == 0 && upto > d->synced_seq)
        d->synced_seq = upto;
    if (rc != 0) {
        d->journal_errors++;
        snprintf(why, sizeof(why), "cannot record the document: %s", nlpd_journal_why(d->journal));
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"%s\"", nlpd_journal_why(d->journal));
    }
    answer(d, &d->syncing, rc, why);
    answer(d, &d->sync_wait, rc, why);
    return rc;
}

int
durable_commit(nlpd_daemon *d)
{
    return commit_tx(d, 0);
}

void
durable_flush(nlpd_daemon *d)
{
    if (d->commit_now)
        commit_tx(d, 1);
}

void
durable_detach(nlpd_daemon *d, flight *f)
{
    flight_list *l = f->ack_wait == 1   ? &d->ack_wait
                     : f->ack_wait == 2 ? &d->sync_wait
                     : f->ack_wait == 3 ? &d->syncing
                                        : NULL;
    if (l != NULL)
        flight_list_remove(l, f);
    f->ack_wait = 0;
}

int
durable_store(nlpd_daemon *d, flight *f)
{
    if (d->journal == NULL || f->no_store)
        return 0;
    uint64_t cursor = 0;
    int rc = nlpd_journal_done(d->journal, f->key, f->had_error, zmq_msg_data(&f->doc),
                               zmq_msg_size(&f->doc), nlpd__now_us(), &cursor);
    if (rc == 1) {
        d->duplicates++;
        NLPD_LOG(NLPD_LOG_WARNING, "doc=%s msg=\"a second result for a stored key: dropped\"",
                 f->key);
        return 1;
    }
    if (rc != 0) {
        d->journal_errors++;
        NLPD_LOG(NLPD_LOG_ERR,
                 "doc=%s msg=\"result not stored (%s); the document stays pending and runs "
                 "again after a restart\"",
                 f->key, nlpd_journal_why(d->journal));
        transaction_lost(d);
        return rc;
    }
    schedule_commit(d);
    return 0;
}

/* --- Replay ----------------------------------------------------------------- */

typedef struct replay_ctx {
    nlpd_daemon *d;
    flight_list out;
    size_t seen;
    int failed;
} replay_ctx;

static int
replay_one(void *arg, const nlpd_journal_doc *jd)
{
    replay_ctx *c = arg;
    nlpd_daemon *d = c->d;
    if (d->n_flight > 0 && d->flight_bytes + jd->len > d->cfg.max_in_flight_bytes) {
        c->failed = 1; /* no room for its bytes yet: again later */
        return 1;
    }
    c->seen++;
    d->replay_after = jd->seq;
    int rc = front_replay(d, jd, &c->out);
    if (rc == NLPD_ENOMEM) {
        d->replay_after = jd->seq - 1; /* again later */
        c->failed = 1;
        return 1;
    }
    return 0;
}

/* Puts as many pending documents in flight as there is room for. The
 * flights are routed only after the read is over, since routing may write
 * results to the journal. */
static void
replay_more(nlpd_daemon *d)
{
    if (d->journal == NULL || d->replay_after >= d->replay_upto || d->state == D_STOPPING)
        return;
    size_t room = d->n_flight < d->cfg.max_in_flight ? d->cfg.max_in_flight - d->n_flight : 0;
    if (room > 256)
        room = 256;
    if (room == 0)
        return;
    replay_ctx c = {.d = d};
    int64_t start = d->replay_after;
    int rc = nlpd_journal_pending(d->journal, d->replay_after, d->replay_upto, room, replay_one,
                                  &c);
    if (rc < 0) {
        NLPD_LOG(NLPD_LOG_ERR, "err=%s msg=\"cannot read the journal to replay: %s\"",
                 nlpd_err_name(rc), nlpd_journal_why(d->journal));
        d->replay_after = start;
    } else if (c.seen < room && !c.failed) {
        d->replay_after = d->replay_upto; /* nothing more */
    }
    flight *f;
    while ((f = flight_list_pop_front(&c.out)) != NULL)
        broker_route(d, f);
    if (c.seen > 0)
        NLPD_LOG(NLPD_LOG_INFO, "replayed=%zu total=%llu msg=\"journaled documents back in flight\"",
                 c.seen, (unsigned long long)d->replayed);
    if (d->replay_after >= d->replay_upto && d->replayed > 0)
        NLPD_LOG(NLPD_LOG_NOTICE, "replayed=%llu msg=\"journal replay complete\"",
                 (unsigned long long)d->replayed);
}

void
durable_tick(nlpd_daemon *d, uint64_t now)
{
    if (!d->cfg.journal)
        return;
    if (d->journal == NULL) {
        if (d->state != D_STOPPING && now - d->last_open_try_us >= OPEN_RETRY_US) {
            d->last_open_try_us = now;
            try_open(d);
        }
        return;
    }
    replay_more(d);
    if ((d->cfg.result_retention_s > 0 || d->cfg.result_max_bytes > 0) &&
        now - d->last_prune_us >= (uint64_t)d->cfg.prune_interval_ms * 1000u) {
        d->last_prune_us = now;
        durable_commit(d);
        uint64_t removed = 0;
        uint64_t unix_now = nlpd__now_us();
        uint64_t keep_us = d->cfg.result_retention_s * 1000000u;
        uint64_t before = d->cfg.result_retention_s > 0 && unix_now > keep_us ? unix_now - keep_us
                                                                              : 0;
        int rc = nlpd_journal_prune(d->journal, before, d->cfg.result_max_bytes, &removed);
        if (rc != 0)
            NLPD_LOG(NLPD_LOG_ERR, "err=%s msg=\"prune failed: %s\"", nlpd_err_name(rc),
                     nlpd_journal_why(d->journal));
        else if (removed > 0)
            NLPD_LOG(NLPD_LOG_INFO, "removed=%llu msg=\"old results pruned\"",
                     (unsigned long long)removed);
    }
}

static int
retry_one(void *arg, const nlpd_journal_doc *jd)
{
    replay_ctx *c = arg;
    c->seen++;
    int rc = front_replay(c->d, jd, &c->out);
    if (rc != 0)
        c->failed = rc;
    return 0;
}

int
durable_retry(nlpd_daemon *d, int64_t id, char *msg, size_t msg_len)
{
    if (d->journal == NULL) {
        snprintf(msg, msg_len, "the journal is not open");
        return NLPD_EINVAL;
    }
    char key[33];
    int rc = nlpd_journal_retry(d->journal, id, key);
    if (rc == 0)
        rc = durable_commit(d);
    if (rc != 0) {
        snprintf(msg, msg_len, "%s",
                 rc == NLPD_ENOENT ? "no such dead letter" : nlpd_journal_why(d->journal));
        return rc;
    }
    replay_ctx c = {.d = d};
    rc = nlpd_journal_pending_one(d->journal, key, retry_one, &c);
    if (rc == 0)
        rc = c.failed;
    flight *f;
    while ((f = flight_list_pop_front(&c.out)) != NULL)
        broker_route(d, f);
    if (rc != 0) {
        /* It is pending in the journal: the next start runs it. */
        snprintf(msg, msg_len, "{\"key\":\"%s\",\"retried\":\"after the next start\"}", key);
        return 0;
    }
    NLPD_LOG(NLPD_LOG_NOTICE, "doc=%s dead_letter=%lld msg=\"dead letter retried\"", key,
             (long long)id);
    snprintf(msg, msg_len, "{\"key\":\"%s\",\"retried\":\"now\"}", key);
    return 0;
}

void
durable_attempt(nlpd_daemon *d, flight *f)
{
    if (d->journal == NULL)
        return;
    if (nlpd_journal_set_attempts(d->journal, f->key, f->attempts) != 0) {
        NLPD_LOG(NLPD_LOG_WARNING, "doc=%s msg=\"attempt count not journaled: %s\"", f->key,
                 nlpd_journal_why(d->journal));
        transaction_lost(d);
        return;
    }
    schedule_commit(d);
}

void
durable_dead_letter(nlpd_daemon *d, flight *f, const char *stage_name, const char *code,
                    const char *message)
{
    char msg[700];
    unsigned tries = f->attempts > f->outside_kills ? f->attempts : f->outside_kills;
    snprintf(msg, sizeof(msg), "%s; given up after %u attempts: a dead letter (nlpctl deadletters)",
             message, tries);
    char error[400];
    snprintf(error, sizeof(error), "%s: %s", code, message);
    d->dead_letters++;
    NLPD_LOG(NLPD_LOG_ERR, "stage=%s doc=%s attempts=%u code=%s msg=\"dead letter: %s\"",
             stage_name, f->key, tries, code, message);
    if (d->journal != NULL) {
        int rc = nlpd_journal_dead_letter(d->journal, f->key, stage_name, error, tries,
                                          nlpd__now_us());
        if (rc != 0 && rc != NLPD_ENOENT) {
            NLPD_LOG(NLPD_LOG_ERR, "doc=%s msg=\"dead letter not journaled: %s\"", f->key,
                     nlpd_journal_why(d->journal));
            transaction_lost(d);
        } else {
            schedule_commit(d);
        }
    }
    /* The waiting client hears of it; the result store does not keep it
     * (the dead letter does, until it is retried). */
    flight_add_error(d, f, stage_name, code, msg, 1);
    f->no_store = 1;
    f->next = f->pl->n;
    broker_route(d, f);
}
