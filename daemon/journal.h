/* daemon/journal.h — the daemon's durable journal and result store (SQLite, WAL).
 *
 * One database file, STATE_DIR/journal.db, holds every accepted document
 * until its result is stored (table docs), the results themselves in the
 * order they were finished (table results, each with a cursor that only
 * grows, even across prunes and restarts) and the documents given up on
 * (table dead_letters). Writes go into one open transaction that the
 * caller ends with nlpd_journal_commit(): the daemon commits before each
 * "accepted" reply (journal_sync = full) or every few milliseconds or
 * documents (group), and never tells a client "accepted" about a document
 * whose commit has not returned and been synced (WAL; the journal syncs
 * the log itself with fdatasync, which the daemon runs off its loop
 * thread): what was committed survives a crash of the process and of the
 * machine.
 *
 * The schema carries its version in PRAGMA user_version and the file is
 * marked as ours by PRAGMA application_id. An older journal is upgraded
 * step by step when opened; one written by a newer nlpd is refused
 * (NLPD_EVERSION) and left untouched.
 *
 * Errors are the project's: -ENOSPC or -EFBIG (disk or file size limit
 * full), -EROFS / -EACCES (read-only or not ours), NLPD_EVERSION,
 * NLPD_EFORMAT (not an nlpd journal, or damaged), NLPD_EBUSY (another
 * nlpd has it open), NLPD_ENOMEM, -EIO for the rest; nlpd_journal_why()
 * says more. Not thread-safe: one journal per loop thread.
 */
#ifndef NLPD_DAEMON_JOURNAL_H
#define NLPD_DAEMON_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/* The schema version this nlpd writes. 1: docs and results; 2: attempt
 * counts on docs, dead letters, an index of results by time. */
#define NLPD_JOURNAL_VERSION 2

/* PRAGMA application_id of an nlpd journal: "nlpd". */
#define NLPD_JOURNAL_APP_ID 0x6e6c7064

/* Document states in docs. */
enum { NLPD_JOURNAL_PENDING = 0, NLPD_JOURNAL_DONE = 1, NLPD_JOURNAL_DEAD = 2 };

typedef struct nlpd_journal nlpd_journal;

/* A document to finish, as nlpd_journal_pending() hands it out. Pointers
 * are valid only during the callback. */
typedef struct nlpd_journal_doc {
    int64_t seq; /* accept order */
    const char *key;
    const void *doc; /* the encoded submitted document, key included */
    size_t len;
    const char *flags; /* the client's submission flags, as sent */
    uint64_t accepted_unix_us;
    unsigned attempts;
} nlpd_journal_doc;

/* A stored result. Pointers are valid only during the callback. */
typedef struct nlpd_journal_result {
    uint64_t cursor;
    const char *key;
    int error; /* some stage reported an error */
    const void *doc;
    size_t len;
    uint64_t done_unix_us;
} nlpd_journal_result;

/* A dead letter. Pointers are valid only during the callback. */
typedef struct nlpd_journal_dead {
    int64_t id;
    const char *key;
    const char *stage;
    const char *error;
    unsigned attempts;
    uint64_t dead_unix_us;
} nlpd_journal_dead;

/* Each callback returns 0 to go on, anything else to stop (returned). */
typedef int (*nlpd_journal_doc_fn)(void *arg, const nlpd_journal_doc *d);
typedef int (*nlpd_journal_result_fn)(void *arg, const nlpd_journal_result *r);
typedef int (*nlpd_journal_dead_fn)(void *arg, const nlpd_journal_dead *d);

/* Opens (creating, upgrading) DIR/journal.db, making DIR (mode 0700) if it
 * is missing, and takes DIR/journal.lock so that no other nlpd uses it.
 * On success returns 0 and sets *out (close with nlpd_journal_close()).
 * On failure returns an error and writes the reason to `why`. */
int nlpd_journal_open(nlpd_journal **out, const char *dir, char *why, size_t why_len);

/* Commits what is pending (errors are logged, not returned), closes the
 * database and frees the journal. Sets *self_p to NULL; accepts NULL. */
void nlpd_journal_close(nlpd_journal **self_p);

/* The message of the last error (never NULL). */
const char *nlpd_journal_why(const nlpd_journal *j);

/* Records an accepted document: its key, its encoded form (`doc`, `len`
 * bytes, borrowed) and the client's flags (may be NULL). Part of the open
 * transaction (one is begun if none is). Returns 0 or an error; after an
 * error, nlpd_journal_take_lost() says whether the earlier writes of the
 * transaction were lost with it. */
int nlpd_journal_accept(nlpd_journal *j, const char *key, const void *doc, size_t len,
                        const char *flags, uint64_t accepted_unix_us);

/* Stores the result of `key` and marks the document done, in the open
 * transaction. Returns 0 and the result's cursor in *cursor (may be NULL),
 * 1 when `key` already has a result (nothing is written: a duplicate), or
 * an error. */
int nlpd_journal_done(nlpd_journal *j, const char *key, int error, const void *doc, size_t len,
                      uint64_t done_unix_us, uint64_t *cursor);

/* Moves a document to the dead letters with the stage, the error and the
 * attempts made; it is no longer pending. Returns 0, NLPD_ENOENT when
 * `key` is not a pending document, or an error. */
int nlpd_journal_dead_letter(nlpd_journal *j, const char *key, const char *stage,
                             const char *error, unsigned attempts, uint64_t dead_unix_us);

/* Makes the document of dead letter `id` pending again (attempts reset)
 * and removes the dead letter; *key (33 bytes) receives its key. Returns
 * 0, NLPD_ENOENT (no such dead letter) or an error. */
int nlpd_journal_retry(nlpd_journal *j, int64_t id, char key[33]);

/* Stores the attempt count of a pending document. */
int nlpd_journal_set_attempts(nlpd_journal *j, const char *key, unsigned attempts);

/* After a failed write: returns 1 (once) when the failure rolled back the
 * whole open transaction, so every write since the last commit is gone
 * (the caller must not count on any of them), else 0. */
int nlpd_journal_take_lost(nlpd_journal *j);

/* Writes made since the last commit. */
size_t nlpd_journal_uncommitted(const nlpd_journal *j);

/* Commits the open transaction (nothing when none is open) and syncs it to
 * disk. On a failed commit the transaction is rolled back: none of its
 * writes happened. A failed sync (-EIO, ...) leaves them committed but
 * perhaps not on disk. */
int nlpd_journal_commit(nlpd_journal *j);

/* The same without the sync when the journal syncs its log itself
 * (nlpd_journal_sync_fd() >= 0): the commit is then on disk only after
 * fdatasync() of that fd returns, which the caller may run on another
 * thread (on a dup() of it: the journal closes its own). Commits are
 * ordered: a sync covers every commit made before it started. */
int nlpd_journal_commit_nosync(nlpd_journal *j);

/* The fd of the journal's write-ahead log, or -1 when SQLite syncs every
 * commit itself (then nlpd_journal_commit_nosync() commits and syncs). */
int nlpd_journal_sync_fd(const nlpd_journal *j);

/* fdatasync of the log (0 at once without a sync fd). Returns 0 or -errno
 * with the reason in nlpd_journal_why(). */
int nlpd_journal_sync(nlpd_journal *j);

/* Rolls back the open transaction, if any. */
void nlpd_journal_rollback(nlpd_journal *j);

/* Calls `fn` for the pending documents with after < seq <= upto, in seq
 * order, at most `max` of them. Returns 0, fn's non-zero value, or an error. */
int nlpd_journal_pending(nlpd_journal *j, int64_t after, int64_t upto, size_t max,
                         nlpd_journal_doc_fn fn, void *arg);

/* The pending document of `key` (fn is called once) or NLPD_ENOENT. */
int nlpd_journal_pending_one(nlpd_journal *j, const char *key, nlpd_journal_doc_fn fn, void *arg);

/* The highest seq recorded so far (0: none). */
int64_t nlpd_journal_last_seq(nlpd_journal *j);

/* The state of `key` (NLPD_JOURNAL_PENDING...), or NLPD_ENOENT. */
int nlpd_journal_state(nlpd_journal *j, const char *key);

/* The result of `key`: fn is called once; NLPD_ENOENT when there is none. */
int nlpd_journal_get(nlpd_journal *j, const char *key, nlpd_journal_result_fn fn, void *arg);

/* Calls `fn` for results with cursor > after, in cursor order, at most
 * `limit`. Returns 0, fn's non-zero value, or an error. */
int nlpd_journal_results(nlpd_journal *j, uint64_t after, size_t limit, nlpd_journal_result_fn fn,
                         void *arg);

/* Calls `fn` for the dead letters in id order. */
int nlpd_journal_dead_letters(nlpd_journal *j, nlpd_journal_dead_fn fn, void *arg);

/* Removes results finished before `before_unix_us` (0: no time limit) and
 * then the oldest ones until their documents take at most `max_bytes`
 * (0: no size limit), with the done entries of docs they leave behind; in
 * its own committed transaction (what is open is committed first). The
 * number of results removed goes to *removed (may be NULL). */
int nlpd_journal_prune(nlpd_journal *j, uint64_t before_unix_us, uint64_t max_bytes,
                       uint64_t *removed);

/* Counts: pending documents, stored results and their bytes, dead letters,
 * the last cursor given out. Any pointer may be NULL. */
int nlpd_journal_stats(nlpd_journal *j, uint64_t *pending, uint64_t *results,
                       uint64_t *result_bytes, uint64_t *dead, uint64_t *last_cursor);

#endif /* NLPD_DAEMON_JOURNAL_H */
