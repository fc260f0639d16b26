/* tests/unit/journal_test.c — the daemon's durable journal (daemon/journal.c). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "journal.h"
#include "nlpd/error.h"
#include "test_support.h"

typedef struct fixture {
    char *dir;
    char db[600];
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = nlpd_test_tmpdir("nlpd-journal");
    snprintf(f->db, sizeof(f->db), "%s/journal.db", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    nlpd_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static nlpd_journal *
open_ok(const fixture *f)
{
    nlpd_journal *j = NULL;
    char why[700] = "";
    int rc = nlpd_journal_open(&j, f->dir, why, sizeof(why));
    if (rc != 0)
        fail_msg("open: %s (%s)", why, nlpd_strerror(rc));
    return j;
}

/* Runs SQL on the journal file directly (schemas of other versions). */
static void
raw_sql(const fixture *f, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("sql: %s", err);
    sqlite3_close(db);
}

static long long
raw_int(const fixture *f, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* Collects what the read calls hand out. */
typedef struct seen {
    int n;
    char keys[64][33];
    uint64_t cursors[64];
    int64_t seqs[64];
    size_t lens[64];
    int errors[64];
    char first_doc[64];
    char flags[64];
    unsigned attempts;
} seen;

static int
on_doc(void *arg, const nlpd_journal_doc *d)
{
    seen *s = arg;
    if (s->n < 64) {
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", d->key);
        s->seqs[s->n] = d->seq;
        s->lens[s->n] = d->len;
        if (s->n == 0) {
            snprintf(s->first_doc, sizeof(s->first_doc), "%.*s", (int)d->len,
                     (const char *)d->doc);
            snprintf(s->flags, sizeof(s->flags), "%s", d->flags);
            s->attempts = d->attempts;
        }
    }
    s->n++;
    return 0;
}

static int
on_result(void *arg, const nlpd_journal_result *r)
{
    seen *s = arg;
    if (s->n < 64) {
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", r->key);
        s->cursors[s->n] = r->cursor;
        s->lens[s->n] = r->len;
        s->errors[s->n] = r->error;
        if (s->n == 0)
            snprintf(s->first_doc, sizeof(s->first_doc), "%.*s", (int)r->len,
                     (const char *)r->doc);
    }
    s->n++;
    return 0;
}

static int
on_dead(void *arg, const nlpd_journal_dead *d)
{
    seen *s = arg;
    if (s->n < 64) {
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", d->key);
        s->seqs[s->n] = d->id;
        s->attempts = d->attempts;
        snprintf(s->flags, sizeof(s->flags), "%s:%s", d->stage, d->error);
    }
    s->n++;
    return 0;
}

static void
test_journal_keeps_accepted_documents_across_reopen(void **state)
{
    fixture *f = *state;
    nlpd_journal *j = open_ok(f);
    assert_int_equal(nlpd_journal_accept(j, "K1", "doc-one", 7, "json wait", 100), 0);
    assert_int_equal(nlpd_journal_accept(j, "K2", "doc-two", 7, NULL, 200), 0);
    assert_int_equal(nlpd_journal_uncommitted(j), 2);
    assert_int_equal(nlpd_journal_commit(j), 0);
    assert_int_equal(nlpd_journal_uncommitted(j), 0);
    nlpd_journal_close(&j);
    assert_null(j);

    assert_int_equal(raw_int(f, "PRAGMA user_version"), NLPD_JOURNAL_VERSION);
    assert_int_equal(raw_int(f, "PRAGMA application_id"), NLPD_JOURNAL_APP_ID);
    j = open_ok(f);
    seen s = {0};
    assert_int_equal(nlpd_journal_pending(j, 0, INT64_MAX, 100, on_doc, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "K1");
    assert_string_equal(s.keys[1], "K2");
    assert_true(s.seqs[0] < s.seqs[1]);
    assert_string_equal(s.first_doc, "doc-one");
    assert_string_equal(s.flags, "json wait");
    assert_int_equal(nlpd_journal_last_seq(j), s.seqs[1]);
    assert_int_equal(nlpd_journal_state(j, "K1"), NLPD_JOURNAL_PENDING);
    assert_int_equal(nlpd_journal_state(j, "nope"), NLPD_ENOENT);
    nlpd_journal_close(&j);
}

static void
test_journal_uncommitted_writes_vanish_on_rollback_and_crash(void **state)
{
    fixture *f = *state;
    nlpd_journal *j = open_ok(f);
    assert_int_equal(nlpd_journal_accept(j, "A", "a", 1, NULL, 1), 0);
    nlpd_journal_rollback(j);
    seen s = {0};
    assert_int_equal(nlpd_journal_pending(j, 0, INT64_MAX, 10, on_doc, &s), 0);
    assert_int_equal(s.n, 0);
    /* A write never committed is not there for the next process either:
     * the file is read by another connection while it is open. */
    assert_int_equal(nlpd_journal_accept(j, "B", "b", 1, NULL, 1), 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM docs"), 0);
    assert_int_equal(nlpd_journal_commit(j), 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM docs"), 1);
    nlpd_journal_close(&j);
}

static void
test_journal_results_come_in_cursor_order_once(void **state)
{
    fixture *f = *state;
    nlpd_journal *j = open_ok(f);
    const char *keys[] = {"K1", "K2", "K3"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(nlpd_journal_accept(j, keys[i], "in", 2, NULL, 10), 0);
    assert_int_equal(nlpd_journal_commit(j), 0);
    uint64_t c2 = 0, c1 = 0, c3 = 0;
    /* Finished out of accept order: the cursor follows completion. */
    assert_int_equal(nlpd_journal_done(j, "K2", 0, "out-2", 5, 20, &c2), 0);
    assert_int_equal(nlpd_journal_done(j, "K1", 1, "out-1", 5, 21, &c1), 0);
    assert_true(c1 > c2);
    /* A second result for a done key is a duplicate: dropped. */
    uint64_t cx = 777;
    assert_int_equal(nlpd_journal_done(j, "K2", 0, "again", 5, 22, &cx), 1);
    assert_int_equal(cx, 777);
    assert_int_equal(nlpd_journal_commit(j), 0);

    seen s = {0};
    assert_int_equal(nlpd_journal_pending(j, 0, INT64_MAX, 10, on_doc, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.keys[0], "K3");
    assert_int_equal(nlpd_journal_state(j, "K2"), NLPD_JOURNAL_DONE);

    memset(&s, 0, sizeof(s));
    assert_int_equal(nlpd_journal_results(j, 0, 100, on_result, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "K2");
    assert_string_equal(s.first_doc, "out-2");
    assert_string_equal(s.keys[1], "K1");
    assert_int_equal(s.errors[1], 1);
    assert_int_equal(s.cursors[0], c2);

    /* Resuming after a cursor gives only what came later. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(nlpd_journal_results(j, c2, 100, on_result, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.keys[0], "K1");
    memset(&s, 0, sizeof(s));
    assert_int_equal(nlpd_journal_results(j, 0, 1, on_result, &s), 0);
    assert_int_equal(s.n, 1);

    memset(&s, 0, sizeof(s));
    assert_int_equal(nlpd_journal_get(j, "K1", on_result, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.first_doc, "out-1");
    assert_int_equal(nlpd_journal_get(j, "K3", on_result, &s), NLPD_ENOENT);

    assert_int_equal(nlpd_journal_done(j, "K3", 0, "out-3", 5, 23, &c3), 0);
    assert_int_equal(nlpd_journal_commit(j), 0);
    assert_true(c3 > c1);
    uint64_t pending = 9, results = 0, bytes = 0, dead = 9, last = 0;
    assert_int_equal(nlpd_journal_stats(j, &pending, &results, &bytes, &dead, &last), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(results, 3);
    assert_int_equal(bytes, 15);
    assert_int_equal(dead, 0);
    assert_int_equal(last, c3);
    nlpd_journal_close(&j);
}

static void
test_journal_prune_by_age_and_size_keeps_cursors_growing(void **state)
{
    fixture *f = *state;
    nlpd_journal *j = open_ok(f);
    char key[16], body[100];
    memset(body, 'x', sizeof(body));
    uint64_t last = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "K%d", i);
        assert_int_equal(nlpd_journal_accept(j, key, "in", 2, NULL, (uint64_t)i), 0);
        assert_int_equal(nlpd_journal_done(j, key, 0, body, sizeof(body), 1000u + (uint64_t)i,
                                           &last),
                         0);
    }
    assert_int_equal(nlpd_journal_commit(j), 0);
    uint64_t removed = 0;
    /* Older than 1003: K0..K2. */
    assert_int_equal(nlpd_journal_prune(j, 1003, 0, &removed), 0);
    assert_int_equal(removed, 3);
    /* At most 350 bytes: the newest three (300 bytes) stay. */
    assert_int_equal(nlpd_journal_prune(j, 0, 350, &removed), 0);
    assert_int_equal(removed, 4);
    seen s = {0};
    assert_int_equal(nlpd_journal_results(j, 0, 100, on_result, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.keys[0], "K7");
    assert_string_equal(s.keys[2], "K9");
    /* The done documents of pruned results are gone as well. */
    assert_int_equal(nlpd_journal_state(j, "K0"), NLPD_ENOENT);
    assert_int_equal(nlpd_journal_state(j, "K8"), NLPD_JOURNAL_DONE);
    uint64_t bytes = 0;
    assert_int_equal(nlpd_journal_stats(j, NULL, NULL, &bytes, NULL, NULL), 0);
    assert_int_equal(bytes, 300);
    nlpd_journal_close(&j);

    /* A cursor is never given out twice, even after its result is pruned
     * and the journal reopened. */
    j = open_ok(f);
    uint64_t c = 0;
    assert_int_equal(nlpd_journal_accept(j, "NEW", "in", 2, NULL, 1), 0);
    assert_int_equal(nlpd_journal_done(j, "NEW", 0, "o", 1, 2000, &c), 0);
    assert_int_equal(nlpd_journal_commit(j), 0);
    assert_true(c > last);
    /* Nothing to prune: nothing removed. */
    assert_int_equal(nlpd_journal_prune(j, 1, 1u << 20, &removed), 0);
    assert_int_equal(removed, 0);
    nlpd_journal_close(&j);
}

static void
test_journal_pending_pages_by_seq_range_and_limit(void **state)
{
    fixture *f = *state;
    nlpd_journal *j = open_ok(f);
    char key[8];
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), "P%d", i);
        assert_int_equal(nlpd_journal_accept(j, key, "x", 1, NULL, 1), 0);
    }
    assert_int_equal(nlpd_journal_done(j, "P2", 0, "o", 1, 2, NULL), 0);
    assert_int_equal(nlpd_journal_set_attempts(j, "P3", 2), 0);
    assert_int_equal(nlpd_journal_commit(j), 0);
    seen all = {0};
    assert_int_equal(nlpd_journal_pending(j, 0, INT64_MAX, 100, on_doc, &all), 0);
    assert_int_equal(all.n, 5); /* P2 is done */
    /* After P0, up to P4's seq, two at most: P1 and P3 (P2 is done). */
    seen s = {0};
    assert_int_equal(nlpd_journal_pending(j, all.seqs[0], all.seqs[3], 2, on_doc, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "P1");
    assert_string_equal(s.keys[1], "P3");
    /* The rest of the range: P4 only (P5 is past `upto`). */
    memset(&s, 0, sizeof(s));
    assert_int_equal(nlpd_journal_pending(j, all.seqs[2], all.seqs[3], 10, on_doc, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.keys[0], "P4");
    /* The attempt count comes back with the document. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(nlpd_journal_pending_one(j, "P3", on_doc, &s), 0);
    assert_int_equal(s.attempts, 2);
    assert_int_equal(nlpd_journal_pending_one(j, "P2", on_doc, &s), NLPD_ENOENT);
    nlpd_journal_close(&j);
}

/* The first schema (version 1) as an nlpd of that version wrote it. */
static const char schema_v1[] =
    "CREATE TABLE docs(seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,"
    " doc BLOB, flags TEXT NOT NULL DEFAULT '', accepted_us INTEGER NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX docs_pending ON docs(seq) WHERE state = 0;"
    "CREATE TABLE results(cursor INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,"
    " status INTEGER NOT NULL, doc BLOB NOT NULL, done_us INTEGER NOT NULL);"
    "PRAGMA journal_mode = WAL;"
    "PRAGMA user_version = 1; PRAGMA application_id = 1852600420;"
    "INSERT INTO docs(key, doc, flags, accepted_us) VALUES ('OLD', x'6f6c64', 'wait', 5);"
    "INSERT INTO docs(key, doc, flags, accepted_us, state) VALUES ('FIN', NULL, '', 4, 1);"
    "INSERT INTO results(key, status, doc, done_us) VALUES ('FIN', 0, x'646f6e65', 6);";

static void
test_journal_upgrades_an_older_schema(void **state)
{
    fixture *f = *state;
    raw_sql(f, schema_v1);
    nlpd_journal *j = open_ok(f);
    assert_int_equal(raw_int(f, "PRAGMA user_version"), NLPD_JOURNAL_VERSION);
    /* What the old journal held is all there, with the new columns. */
    seen s = {0};
    assert_int_equal(nlpd_journal_pending(j, 0, INT64_MAX, 10, on_doc, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.keys[0], "OLD");
    assert_string_equal(s.first_doc, "old");
    assert_string_equal(s.flags, "wait");
    assert_int_equal(s.attempts, 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(nlpd_journal_get(j, "FIN", on_result, &s), 0);
    assert_string_equal(s.first_doc, "done");
    /* And the tables of version 2 work. */
    assert_int_equal(nlpd_journal_dead_letter(j, "OLD", "tag", "crashed", 3, 9), 0);
    assert_int_equal(nlpd_journal_commit(j), 0);
    uint64_t c = 0;
    assert_int_equal(nlpd_journal_accept(j, "NEXT", "n", 1, NULL, 7), 0);
    assert_int_equal(nlpd_journal_done(j, "NEXT", 0, "n", 1, 8, &c), 0);
    assert_int_equal(c, 2); /* after the old journal's cursor 1 */
    nlpd_journal_close(&j);
}

static void
test_journal_refuses_a_newer_schema_untouched(void **state)
{
    fixture *f = *state;
    raw_sql(f, "CREATE TABLE future(x); PRAGMA user_version = 99;"
               "PRAGMA application_id = 1852600420;");
    nlpd_journal *j = NULL;
    char why[700] = "";
    assert_int_equal(nlpd_journal_open(&j, f->dir, why, sizeof(why)), NLPD_EVERSION);
    assert_null(j);
    assert_non_null(strstr(why, "newer nlpd"));
    assert_int_equal(raw_int(f, "PRAGMA user_version"), 99);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM sqlite_master"), 1);
}

static void
test_journal_refuses_a_database_that_is_not_a_journal(void **state)
{
    fixture *f = *state;
    raw_sql(f, "CREATE TABLE customers(name TEXT);");
    nlpd_journal *j = NULL;
    char why[700] = "";
    assert_int_equal(nlpd_journal_open(&j, f->dir, why, sizeof(why)), NLPD_EFORMAT);
    assert_non_null(strstr(why, "not an nlpd journal"));
    /* Not a database at all. */
    FILE *fp = fopen(f->db, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not sqlite ", fp);
    fclose(fp);
    assert_int_equal(nlpd_journal_open(&j, f->dir, why, sizeof(why)), NLPD_EFORMAT);
    assert_null(j);
}

static void
test_journal_is_used_by_one_daemon_at_a_time(void **state)
{
    fixture *f = *state;
    nlpd_journal *j = open_ok(f), *k = NULL;
    char why[700] = "";
    assert_int_equal(nlpd_journal_open(&k, f->dir, why, sizeof(why)), NLPD_EBUSY);
    assert_non_null(strstr(why, "another nlpd"));
    nlpd_journal_close(&j);
    k = open_ok(f);
    nlpd_journal_close(&k);
}

static void
test_journal_dead_letters_and_retry(void **state)
{
    fixture *f = *state;
    nlpd_journal *j = open_ok(f);
    assert_int_equal(nlpd_journal_accept(j, "P", "poison", 6, NULL, 1), 0);
    assert_int_equal(nlpd_journal_set_attempts(j, "P", 2), 0);
    assert_int_equal(nlpd_journal_dead_letter(j, "P", "tag", "crashed (SIGSEGV)", 3, 2), 0);
    assert_int_equal(nlpd_journal_dead_letter(j, "nope", "tag", "x", 1, 2), NLPD_ENOENT);
    assert_int_equal(nlpd_journal_commit(j), 0);
    assert_int_equal(nlpd_journal_state(j, "P"), NLPD_JOURNAL_DEAD);
    seen s = {0};
    assert_int_equal(nlpd_journal_pending(j, 0, INT64_MAX, 10, on_doc, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(nlpd_journal_dead_letters(j, on_dead, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.keys[0], "P");
    assert_string_equal(s.flags, "tag:crashed (SIGSEGV)");
    assert_int_equal(s.attempts, 3);
    char key[33];
    assert_int_equal(nlpd_journal_retry(j, s.seqs[0] + 100, key), NLPD_ENOENT);
    assert_int_equal(nlpd_journal_retry(j, s.seqs[0], key), 0);
    assert_string_equal(key, "P");
    assert_int_equal(nlpd_journal_commit(j), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(nlpd_journal_pending_one(j, "P", on_doc, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.first_doc, "poison");
    assert_int_equal(s.attempts, 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(nlpd_journal_dead_letters(j, on_dead, &s), 0);
    assert_int_equal(s.n, 0);
    nlpd_journal_close(&j);
}

static void
test_journal_reports_a_full_disk_and_goes_on_after(void **state)
{
    fixture *f = *state;
    nlpd_journal *j = open_ok(f);
    /* The file size limit stands in for a full disk. */
    struct rlimit old, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    small = old;
    small.rlim_cur = 256 * 1024;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    size_t big_len = 4u << 20; /* more than the page cache holds: it spills at the insert */
    char *big = malloc(big_len);
    memset(big, 'b', big_len);
    assert_int_equal(nlpd_journal_accept(j, "EARLIER", "e", 1, NULL, 1), 0);
    int rc = nlpd_journal_accept(j, "BIG", big, big_len, NULL, 1);
    assert_int_equal(rc, -EFBIG);
    assert_non_null(strstr(nlpd_journal_why(j), "File too large"));
    /* The failure took the whole transaction: the earlier write too. */
    assert_int_equal(nlpd_journal_take_lost(j), 1);
    assert_int_equal(nlpd_journal_take_lost(j), 0);
    assert_int_equal(nlpd_journal_uncommitted(j), 0);
    /* A failure at the commit (a document the cache holds) rolls back. */
    rc = nlpd_journal_accept(j, "MID", big, 1u << 20, NULL, 1);
    if (rc == 0)
        rc = nlpd_journal_commit(j);
    assert_int_equal(rc, -EFBIG);
    nlpd_journal_take_lost(j);
    /* What fits still goes in. */
    assert_int_equal(nlpd_journal_accept(j, "SMALL", "s", 1, NULL, 1), 0);
    assert_int_equal(nlpd_journal_commit(j), 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    free(big);
    seen s = {0};
    assert_int_equal(nlpd_journal_pending(j, 0, INT64_MAX, 10, on_doc, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.keys[0], "SMALL");
    nlpd_journal_close(&j);
}

static void
test_journal_open_fails_clearly_where_it_cannot_write(void **state)
{
    fixture *f = *state;
    nlpd_journal *j = NULL;
    char why[700] = "", path[700];
    /* A state dir that is a file. */
    snprintf(path, sizeof(path), "%s/file", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(nlpd_journal_open(&j, path, why, sizeof(why)), -ENOTDIR);
    assert_null(j);
    assert_non_null(strstr(why, path));
    if (geteuid() == 0) {
        /* root writes through mode bits; the file size test covers it. */
        skip();
    }
    snprintf(path, sizeof(path), "%s/ro", f->dir);
    assert_int_equal(mkdir(path, 0500), 0);
    int rc = nlpd_journal_open(&j, path, why, sizeof(why));
    assert_int_equal(rc, -EACCES);
    assert_non_null(strstr(why, "ro"));
    chmod(path, 0700);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_journal_keeps_accepted_documents_across_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_journal_uncommitted_writes_vanish_on_rollback_and_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_results_come_in_cursor_order_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_journal_prune_by_age_and_size_keeps_cursors_growing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_pending_pages_by_seq_range_and_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_journal_upgrades_an_older_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_refuses_a_newer_schema_untouched, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_journal_refuses_a_database_that_is_not_a_journal,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_is_used_by_one_daemon_at_a_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_journal_dead_letters_and_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_reports_a_full_disk_and_goes_on_after, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_journal_open_fails_clearly_where_it_cannot_write,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
