/* daemon/journal.c — the durable journal and result store on SQLite (see journal.h). */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/log.h"
#include "nlpd_internal.h"

/* The prepared statements, kept for the journal's life. */
enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_ACCEPT,
    S_RESULT,
    S_MARK_DONE,
    S_PENDING,
    S_PENDING_ONE,
    S_LAST_SEQ,
    S_STATE,
    S_GET,
    S_RESULTS,
    S_DEAD_INSERT,
    S_MARK_DEAD,
    S_DEAD_LIST,
    S_DEAD_FIND,
    S_DEAD_DELETE,
    S_REVIVE,
    S_SET_ATTEMPTS,
    S_COUNT
};

static const char *const statements[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_ACCEPT] = "INSERT INTO docs(key, doc, flags, accepted_us, state) VALUES (?1, ?2, ?3, ?4, 0)",
    [S_RESULT] = "INSERT OR IGNORE INTO results(key, status, doc, done_us) VALUES (?1, ?2, ?3, ?4)",
    [S_MARK_DONE] = "UPDATE docs SET state = 1, doc = NULL WHERE key = ?1",
    [S_PENDING] = "SELECT seq, key, doc, flags, accepted_us, attempts FROM docs "
                  "WHERE state = 0 AND seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
    [S_PENDING_ONE] = "SELECT seq, key, doc, flags, accepted_us, attempts FROM docs "
                      "WHERE state = 0 AND key = ?1",
    [S_LAST_SEQ] = "SELECT COALESCE(MAX(seq), 0) FROM docs",
    [S_STATE] = "SELECT state FROM docs WHERE key = ?1",
    [S_GET] = "SELECT cursor, key, status, doc, done_us FROM results WHERE key = ?1",
    [S_RESULTS] = "SELECT cursor, key, status, doc, done_us FROM results "
                  "WHERE cursor > ?1 ORDER BY cursor LIMIT ?2",
    [S_DEAD_INSERT] = "INSERT INTO dead_letters(key, stage, error, attempts, dead_us) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_MARK_DEAD] = "UPDATE docs SET state = 2, attempts = ?2 WHERE key = ?1 AND state = 0",
    [S_DEAD_LIST] = "SELECT id, key, stage, error, attempts, dead_us FROM dead_letters ORDER BY id",
    [S_DEAD_FIND] = "SELECT key FROM dead_letters WHERE id = ?1",
    [S_DEAD_DELETE] = "DELETE FROM dead_letters WHERE id = ?1",
    [S_REVIVE] = "UPDATE docs SET state = 0, attempts = 0, kills = 0 WHERE key = ?1 AND state = 2",
    [S_SET_ATTEMPTS] = "UPDATE docs SET attempts = ?2 WHERE key = ?1 AND state = 0",
};

/* Schema steps: step i takes a journal from version i to i + 1. Each runs
 * in one transaction with the version bump, so an interrupted upgrade
 * leaves the older version whole. */
static const char *const migrations[NLPD_JOURNAL_VERSION] = {
    /* 0 -> 1: accepted documents and results. */
    "CREATE TABLE docs("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " key TEXT NOT NULL UNIQUE,"
    " doc BLOB,"
    " flags TEXT NOT NULL DEFAULT '',"
    " accepted_us INTEGER NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX docs_pending ON docs(seq) WHERE state = 0;"
    "CREATE TABLE results("
    " cursor INTEGER PRIMARY KEY AUTOINCREMENT,"
    " key TEXT NOT NULL UNIQUE,"
    " status INTEGER NOT NULL,"
    " doc BLOB NOT NULL,"
    " done_us INTEGER NOT NULL);",
    /* 1 -> 2: attempt counts, dead letters, results by time (prune). */
    "ALTER TABLE docs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE docs ADD COLUMN kills INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE dead_letters("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " key TEXT NOT NULL,"
    " stage TEXT NOT NULL,"
    " error TEXT NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " dead_us INTEGER NOT NULL);"
    "CREATE INDEX results_done ON results(done_us);",
};

struct nlpd_journal {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    int in_tx;
    int lost; /* an error rolled the open transaction back */
    size_t uncommitted;
    uint64_t result_bytes; /* sum of the stored results' sizes */
    int lock_fd;
    int wal_fd; /* the WAL, for syncing it ourselves; -1: SQLite syncs each commit */
    char path[512];
    char why[1536];
};

/* --- Errors ---------------------------------------------------------------- */

/* The project error for an SQLite result code. */
static int
map_error(sqlite3 *db, int rc)
{
    int sys = db != NULL ? sqlite3_system_errno(db) : 0;
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_NOMEM:
        return NLPD_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return NLPD_EBUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return NLPD_EFORMAT;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        if (sys == ENOSPC || sys == EFBIG || sys == EROFS || sys == EACCES || sys == EPERM ||
            sys == EDQUOT || sys == ENOENT)
            return -sys;
        return -EIO;
    default:
        return -EIO;
    }
}

static int NLPD_PRINTF(3, 4)
jfail(nlpd_journal *j, int rc, const char *fmt, ...)
{
    int err = map_error(j->db, rc);
    if (err == 0)
        err = -EIO;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(j->why, sizeof(j->why), "journal %s: %s: %s (%s)", j->path, what,
             j->db != NULL ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc), nlpd_strerror(err));
    return err;
}

const char *
nlpd_journal_why(const nlpd_journal *j)
{
    return j != NULL && j->why[0] != '\0' ? j->why : "no error";
}

/* --- Opening --------------------------------------------------------------- */

static int
exec_sql(nlpd_journal *j, const char *sql)
{
    int rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : jfail(j, rc, "%.60s", sql);
}

static int
pragma_int(nlpd_journal *j, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(j->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        }
    }
    int err = rc == SQLITE_OK ? 0 : jfail(j, rc, "%s", sql);
    sqlite3_finalize(s);
    return err;
}

/* Brings the schema to NLPD_JOURNAL_VERSION, or refuses a newer one. */
static int
migrate(nlpd_journal *j)
{
    int64_t version = 0, app = 0, tables = 0;
    int rc = pragma_int(j, "PRAGMA user_version", &version);
    if (rc == 0)
        rc = pragma_int(j, "PRAGMA application_id", &app);
    if (rc == 0)
        rc = pragma_int(j, "SELECT count(*) FROM sqlite_master", &tables);
    if (rc != 0)
        return rc;
    if (app != NLPD_JOURNAL_APP_ID && (app != 0 || tables > 0)) {
        snprintf(j->why, sizeof(j->why),
                 "journal %s: not an nlpd journal (application_id %lld, %lld tables); "
                 "move it away or set another state_dir",
                 j->path, (long long)app, (long long)tables);
        return NLPD_EFORMAT;
    }
    if (version > NLPD_JOURNAL_VERSION) {
        snprintf(j->why, sizeof(j->why),
                 "journal %s: schema version %lld was written by a newer nlpd (this one "
                 "knows up to %d); refusing to touch it",
                 j->path, (long long)version, NLPD_JOURNAL_VERSION);
        return NLPD_EVERSION;
    }
    if (version < 0) {
        snprintf(j->why, sizeof(j->why), "journal %s: bad schema version %lld", j->path,
                 (long long)version);
        return NLPD_EFORMAT;
    }
    for (int64_t v = version; v < NLPD_JOURNAL_VERSION; v++) {
        char bump[96];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %lld; PRAGMA application_id = %d;",
                 (long long)(v + 1), NLPD_JOURNAL_APP_ID);
        rc = exec_sql(j, "BEGIN IMMEDIATE");
        if (rc == 0)
            rc = exec_sql(j, migrations[v]);
        if (rc == 0)
            rc = exec_sql(j, bump);
        if (rc == 0)
            rc = exec_sql(j, "COMMIT");
        if (rc != 0) {
            sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if (version > 0)
            NLPD_LOG(NLPD_LOG_NOTICE, "journal=%s from=%lld to=%lld msg=\"journal schema upgraded\"",
                     j->path, (long long)v, (long long)(v + 1));
    }
    return 0;
}

int
nlpd_journal_open(nlpd_journal **out, const char *dir, char *why, size_t why_len)
{
    *out = NULL;
    nlpd_journal *j = nlpd_calloc(1, sizeof(*j));
    if (j == NULL) {
        snprintf(why, why_len, "out of memory");
        return NLPD_ENOMEM;
    }
    j->lock_fd = -1;
    j->wal_fd = -1;
    int rc = 0;
    if (snprintf(j->path, sizeof(j->path), "%s/journal.db", dir) >= (int)sizeof(j->path)) {
        snprintf(j->why, sizeof(j->why), "state_dir is too long: %s", dir);
        rc = NLPD_EINVAL;
        goto fail;
    }
    rc = nlpd__mkdir_p(dir, 0700); /* documents: the daemon's alone */
    if (rc != 0) {
        snprintf(j->why, sizeof(j->why), "cannot create state dir %s: %s", dir, strerror(-rc));
        goto fail;
    }
    char lock[600];
    snprintf(lock, sizeof(lock), "%s/journal.lock", dir);
    j->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (j->lock_fd < 0) {
        rc = -errno;
        snprintf(j->why, sizeof(j->why), "cannot open %s: %s", lock, strerror(errno));
        goto fail;
    }
    if (flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = NLPD_EBUSY;
        snprintf(j->why, sizeof(j->why), "journal %s is in use by another nlpd", j->path);
        goto fail;
    }
    int src = sqlite3_open_v2(j->path, &j->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                              NULL);
    if (src != SQLITE_OK) {
        rc = jfail(j, src, "cannot open");
        goto fail;
    }
    sqlite3_extended_result_codes(j->db, 1);
    /* WAL: a commit appends to the log and syncs it once (FULL: also the
     * log's header, so a commit survives power loss as well as a crash). */
    int64_t ignored;
    rc = pragma_int(j, "PRAGMA journal_mode = WAL", &ignored);
    if (rc == 0)
        rc = exec_sql(j, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;");
    if (rc == 0)
        rc = migrate(j);
    for (int i = 0; rc == 0 && i < S_COUNT; i++) {
        src = sqlite3_prepare_v3(j->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &j->st[i],
                                 NULL);
        if (src != SQLITE_OK)
            rc = jfail(j, src, "prepare %.40s", statements[i]);
    }
    int64_t bytes = 0;
    if (rc == 0)
        rc = pragma_int(j, "SELECT COALESCE(SUM(length(doc)), 0) FROM results", &bytes);
    if (rc != 0)
        goto fail;
    /* The commits' sync, which SQLite (synchronous = FULL) does in the
     * caller's thread, is done by us instead: fdatasync of the WAL after
     * the commit (synchronous = NORMAL: SQLite still syncs around
     * checkpoints), from another thread if the caller likes
     * (nlpd_journal_commit_nosync); the same bytes reach the disk before
     * anyone is told. Without an fd on the WAL SQLite keeps doing it. */
    char wal[600];
    snprintf(wal, sizeof(wal), "%s-wal", j->path);
    j->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
    if (j->wal_fd >= 0 && exec_sql(j, "PRAGMA synchronous = NORMAL;") != 0) {
        close(j->wal_fd);
        j->wal_fd = -1;
    }
    j->result_bytes = (uint64_t)bytes;
    *out = j;
    return 0;
fail:
    snprintf(why, why_len, "%s", j->why);
    nlpd_journal_close(&j);
    return rc;
}

void
nlpd_journal_close(nlpd_journal **self_p)
{
    nlpd_journal *j = self_p != NULL ? *self_p : NULL;
    if (j == NULL)
        return;
    if (j->in_tx && nlpd_journal_commit(j) != 0)
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"last journal commit failed: %s\"", j->why);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(j->st[i]);
    if (j->db != NULL && sqlite3_close(j->db) != SQLITE_OK)
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot close the journal: %s\"", sqlite3_errmsg(j->db));
    if (j->lock_fd >= 0)
        close(j->lock_fd);
    if (j->wal_fd >= 0)
        close(j->wal_fd);
    nlpd_free(j);
    *self_p = NULL;
}

/* --- Transactions ---------------------------------------------------------- */

/* Runs a statement that returns no row and resets it. */
static int
run(nlpd_journal *j, int which)
{
    sqlite3_stmt *s = j->st[which];
    int rc = sqlite3_step(s);
    int err = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : jfail(j, rc, "%.40s", statements[which]);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (err != 0 && j->in_tx && sqlite3_get_autocommit(j->db)) {
        /* SQLite rolled the whole transaction back (an I/O error, a full
         * disk): every write since the last commit is gone. */
        j->in_tx = 0;
        j->uncommitted = 0;
        j->lost = 1;
    }
    return err;
}

int
nlpd_journal_take_lost(nlpd_journal *j)
{
    int lost = j->lost;
    j->lost = 0;
    return lost;
}

static int
begin(nlpd_journal *j)
{
    if (j->in_tx)
        return 0;
    int rc = run(j, S_BEGIN);
    if (rc == 0) {
        j->in_tx = 1;
        j->uncommitted = 0;
    }
    return rc;
}

int
nlpd_journal_commit_nosync(nlpd_journal *j)
{
    if (!j->in_tx)
        return 0;
    int rc = run(j, S_COMMIT);
    if (rc != 0) {
        nlpd_journal_rollback(j);
        return rc;
    }
    j->in_tx = 0;
    j->uncommitted = 0;
    return 0;
}

int
nlpd_journal_sync_fd(const nlpd_journal *j)
{
    return j->wal_fd;
}

int
nlpd_journal_sync(nlpd_journal *j)
{
    if (j->wal_fd < 0 || fdatasync(j->wal_fd) == 0)
        return 0;
    int err = -errno;
    snprintf(j->why, sizeof(j->why), "journal %s: cannot sync its log: %s", j->path,
             strerror(-err));
    return err;
}

int
nlpd_journal_commit(nlpd_journal *j)
{
    if (!j->in_tx)
        return 0;
    int rc = nlpd_journal_commit_nosync(j);
    return rc == 0 ? nlpd_journal_sync(j) : rc;
}

void
nlpd_journal_rollback(nlpd_journal *j)
{
    if (!j->in_tx)
        return;
    /* A failed COMMIT (disk full) may have rolled back already. */
    if (!sqlite3_get_autocommit(j->db)) {
        sqlite3_stmt *s = j->st[S_ROLLBACK];
        sqlite3_step(s);
        sqlite3_reset(s);
    }
    j->in_tx = 0;
    j->uncommitted = 0;
    /* The size of the stored results is counted again from the table. */
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(j->db, "SELECT COALESCE(SUM(length(doc)), 0) FROM results", -1, &s,
                           NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        j->result_bytes = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
}

size_t
nlpd_journal_uncommitted(const nlpd_journal *j)
{
    return j->in_tx ? j->uncommitted : 0;
}

/* --- Writes ---------------------------------------------------------------- */

int
nlpd_journal_accept(nlpd_journal *j, const char *key, const void *doc, size_t len,
                    const char *flags, uint64_t accepted_unix_us)
{
    int rc = begin(j);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = j->st[S_ACCEPT];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 2, len > 0 ? doc : "", len, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, flags != NULL ? flags : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)accepted_unix_us);
    rc = run(j, S_ACCEPT);
    if (rc == 0)
        j->uncommitted++;
    return rc;
}

int
nlpd_journal_done(nlpd_journal *j, const char *key, int error, const void *doc, size_t len,
                  uint64_t done_unix_us, uint64_t *cursor)
{
    int rc = begin(j);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = j->st[S_RESULT];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, error != 0);
    sqlite3_bind_blob64(s, 3, len > 0 ? doc : "", len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)done_unix_us);
    rc = run(j, S_RESULT);
    if (rc != 0)
        return rc;
    if (sqlite3_changes(j->db) == 0)
        return 1; /* the key has a result already */
    if (cursor != NULL)
        *cursor = (uint64_t)sqlite3_last_insert_rowid(j->db);
    j->result_bytes += len;
    sqlite3_bind_text(j->st[S_MARK_DONE], 1, key, -1, SQLITE_STATIC);
    rc = run(j, S_MARK_DONE);
    if (rc == 0)
        j->uncommitted++;
    return rc;
}

int
nlpd_journal_dead_letter(nlpd_journal *j, const char *key, const char *stage, const char *error,
                         unsigned attempts, uint64_t dead_unix_us)
{
    int rc = begin(j);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = j->st[S_MARK_DEAD];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, attempts);
    rc = run(j, S_MARK_DEAD);
    if (rc != 0)
        return rc;
    if (sqlite3_changes(j->db) == 0)
        return NLPD_ENOENT;
    s = j->st[S_DEAD_INSERT];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, stage != NULL ? stage : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, error != NULL ? error : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, attempts);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)dead_unix_us);
    rc = run(j, S_DEAD_INSERT);
    if (rc == 0)
        j->uncommitted++;
    return rc;
}

int
nlpd_journal_retry(nlpd_journal *j, int64_t id, char key[33])
{
    sqlite3_stmt *s = j->st[S_DEAD_FIND];
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    int err = 0;
    if (rc == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        snprintf(key, 33, "%s", k != NULL ? k : "");
    } else {
        err = rc == SQLITE_DONE ? NLPD_ENOENT : jfail(j, rc, "find dead letter");
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (err != 0)
        return err;
    err = begin(j);
    if (err != 0)
        return err;
    sqlite3_bind_text(j->st[S_REVIVE], 1, key, -1, SQLITE_STATIC);
    err = run(j, S_REVIVE);
    if (err == 0 && sqlite3_changes(j->db) == 0)
        err = NLPD_ENOENT;
    if (err == 0) {
        sqlite3_bind_int64(j->st[S_DEAD_DELETE], 1, id);
        err = run(j, S_DEAD_DELETE);
    }
    if (err == 0)
        j->uncommitted++;
    return err;
}

int
nlpd_journal_set_attempts(nlpd_journal *j, const char *key, unsigned attempts)
{
    int rc = begin(j);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(j->st[S_SET_ATTEMPTS], 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(j->st[S_SET_ATTEMPTS], 2, attempts);
    rc = run(j, S_SET_ATTEMPTS);
    if (rc == 0)
        j->uncommitted++;
    return rc;
}

/* --- Reads ----------------------------------------------------------------- */

static int
each_doc(nlpd_journal *j, sqlite3_stmt *s, nlpd_journal_doc_fn fn, void *arg, int *found)
{
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        nlpd_journal_doc d;
        d.seq = sqlite3_column_int64(s, 0);
        d.key = (const char *)sqlite3_column_text(s, 1);
        d.doc = sqlite3_column_blob(s, 2);
        d.len = (size_t)sqlite3_column_bytes(s, 2);
        d.flags = (const char *)sqlite3_column_text(s, 3);
        d.accepted_unix_us = (uint64_t)sqlite3_column_int64(s, 4);
        d.attempts = (unsigned)sqlite3_column_int64(s, 5);
        if (d.key == NULL)
            d.key = "";
        if (d.flags == NULL)
            d.flags = "";
        if (found != NULL)
            (*found)++;
        ret = fn(arg, &d);
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = jfail(j, rc, "read documents");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return ret;
}

int
nlpd_journal_pending(nlpd_journal *j, int64_t after, int64_t upto, size_t max,
                     nlpd_journal_doc_fn fn, void *arg)
{
    sqlite3_stmt *s = j->st[S_PENDING];
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, upto);
    sqlite3_bind_int64(s, 3, max > INT64_MAX ? INT64_MAX : (sqlite3_int64)max);
    return each_doc(j, s, fn, arg, NULL);
}

int
nlpd_journal_pending_one(nlpd_journal *j, const char *key, nlpd_journal_doc_fn fn, void *arg)
{
    sqlite3_stmt *s = j->st[S_PENDING_ONE];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int found = 0;
    int rc = each_doc(j, s, fn, arg, &found);
    return rc == 0 && found == 0 ? NLPD_ENOENT : rc;
}

int64_t
nlpd_journal_last_seq(nlpd_journal *j)
{
    sqlite3_stmt *s = j->st[S_LAST_SEQ];
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return v;
}

int
nlpd_journal_state(nlpd_journal *j, const char *key)
{
    sqlite3_stmt *s = j->st[S_STATE];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int ret = rc == SQLITE_ROW    ? (int)sqlite3_column_int64(s, 0)
              : rc == SQLITE_DONE ? NLPD_ENOENT
                                  : jfail(j, rc, "read state");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return ret;
}

static int
each_result(nlpd_journal *j, sqlite3_stmt *s, nlpd_journal_result_fn fn, void *arg, int *found)
{
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        nlpd_journal_result r;
        r.cursor = (uint64_t)sqlite3_column_int64(s, 0);
        r.key = (const char *)sqlite3_column_text(s, 1);
        r.error = sqlite3_column_int(s, 2);
        r.doc = sqlite3_column_blob(s, 3);
        r.len = (size_t)sqlite3_column_bytes(s, 3);
        r.done_unix_us = (uint64_t)sqlite3_column_int64(s, 4);
        if (r.key == NULL)
            r.key = "";
        if (found != NULL)
            (*found)++;
        ret = fn(arg, &r);
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = jfail(j, rc, "read results");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return ret;
}

int
nlpd_journal_get(nlpd_journal *j, const char *key, nlpd_journal_result_fn fn, void *arg)
{
    sqlite3_stmt *s = j->st[S_GET];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int found = 0;
    int rc = each_result(j, s, fn, arg, &found);
    return rc == 0 && found == 0 ? NLPD_ENOENT : rc;
}

int
nlpd_journal_results(nlpd_journal *j, uint64_t after, size_t limit, nlpd_journal_result_fn fn,
                     void *arg)
{
    sqlite3_stmt *s = j->st[S_RESULTS];
    sqlite3_bind_int64(s, 1, after > INT64_MAX ? INT64_MAX : (sqlite3_int64)after);
    sqlite3_bind_int64(s, 2, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    return each_result(j, s, fn, arg, NULL);
}

int
nlpd_journal_dead_letters(nlpd_journal *j, nlpd_journal_dead_fn fn, void *arg)
{
    sqlite3_stmt *s = j->st[S_DEAD_LIST];
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        nlpd_journal_dead d;
        d.id = sqlite3_column_int64(s, 0);
        d.key = (const char *)sqlite3_column_text(s, 1);
        d.stage = (const char *)sqlite3_column_text(s, 2);
        d.error = (const char *)sqlite3_column_text(s, 3);
        d.attempts = (unsigned)sqlite3_column_int64(s, 4);
        d.dead_unix_us = (uint64_t)sqlite3_column_int64(s, 5);
        if (d.key == NULL)
            d.key = "";
        if (d.stage == NULL)
            d.stage = "";
        if (d.error == NULL)
            d.error = "";
        ret = fn(arg, &d);
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = jfail(j, rc, "read dead letters");
    sqlite3_reset(s);
    return ret;
}

/* --- Pruning and counts ---------------------------------------------------- */

static int
exec_changes(nlpd_journal *j, const char *sql, int64_t a, uint64_t *changed)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(j->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, a);
        rc = sqlite3_step(s);
    }
    int err = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : jfail(j, rc, "%.50s", sql);
    if (err == 0 && changed != NULL)
        *changed += (uint64_t)sqlite3_changes(j->db);
    sqlite3_finalize(s);
    return err;
}

int
nlpd_journal_prune(nlpd_journal *j, uint64_t before_unix_us, uint64_t max_bytes,
                   uint64_t *removed)
{
    uint64_t n = 0;
    int rc = nlpd_journal_commit(j);
    if (rc == 0)
        rc = begin(j);
    if (rc == 0 && before_unix_us > 0)
        rc = exec_changes(j, "DELETE FROM results WHERE done_us < ?1",
                          before_unix_us > INT64_MAX ? INT64_MAX : (int64_t)before_unix_us, &n);
    if (rc == 0 && max_bytes > 0) {
        /* The newest results that fit in max_bytes stay; the cursor of the
         * newest one that does not fit bounds the delete. */
        sqlite3_stmt *s = NULL;
        int src = sqlite3_prepare_v2(
            j->db, "SELECT cursor, length(doc) FROM results ORDER BY cursor DESC", -1, &s, NULL);
        uint64_t kept = 0;
        int64_t cut = 0;
        while (src == SQLITE_OK || src == SQLITE_ROW) {
            src = sqlite3_step(s);
            if (src != SQLITE_ROW)
                break;
            kept += (uint64_t)sqlite3_column_int64(s, 1);
            if (kept > max_bytes) {
                cut = sqlite3_column_int64(s, 0);
                break;
            }
        }
        if (src != SQLITE_ROW && src != SQLITE_DONE)
            rc = jfail(j, src, "prune by size");
        sqlite3_finalize(s);
        if (rc == 0 && cut > 0)
            rc = exec_changes(j, "DELETE FROM results WHERE cursor <= ?1", cut, &n);
    }
    /* Done documents whose results are gone leave nothing to remember. */
    if (rc == 0)
        rc = exec_changes(j,
                          "DELETE FROM docs WHERE state = 1 AND NOT EXISTS "
                          "(SELECT 1 FROM results r WHERE r.key = docs.key)",
                          0, NULL);
    if (rc == 0)
        rc = nlpd_journal_commit(j);
    else
        nlpd_journal_rollback(j);
    if (rc == 0 && n > 0) {
        int64_t bytes = 0;
        rc = pragma_int(j, "SELECT COALESCE(SUM(length(doc)), 0) FROM results", &bytes);
        j->result_bytes = (uint64_t)bytes;
        /* Hand the WAL's pages back to the main file now rather than at the
         * next automatic checkpoint. */
        sqlite3_wal_checkpoint_v2(j->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    if (removed != NULL)
        *removed = n;
    return rc;
}

int
nlpd_journal_stats(nlpd_journal *j, uint64_t *pending, uint64_t *results, uint64_t *result_bytes,
                   uint64_t *dead, uint64_t *last_cursor)
{
    int64_t v = 0;
    int rc = 0;
    if (pending != NULL && (rc = pragma_int(j, "SELECT count(*) FROM docs WHERE state = 0", &v)) == 0)
        *pending = (uint64_t)v;
    if (rc == 0 && results != NULL && (rc = pragma_int(j, "SELECT count(*) FROM results", &v)) == 0)
        *results = (uint64_t)v;
    if (rc == 0 && dead != NULL &&
        (rc = pragma_int(j, "SELECT count(*) FROM dead_letters", &v)) == 0)
        *dead = (uint64_t)v;
    if (rc == 0 && last_cursor != NULL &&
        (rc = pragma_int(j, "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = "
                            "'results'), 0)",
                         &v)) == 0)
        *last_cursor = (uint64_t)v;
    if (rc == 0 && result_bytes != NULL)
        *result_bytes = j->result_bytes;
    return rc;
}
