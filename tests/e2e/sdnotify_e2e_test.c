/* tests/e2e/sdnotify_e2e_test.c — what nlpd tells systemd (Type=notify).
 *
 * The test binds a datagram socket, points NOTIFY_SOCKET at it (and
 * WATCHDOG_USEC, as systemd does for WatchdogSec=), starts the daemon and
 * reads what it says: a STATUS while its workers start, READY=1 once every
 * stage's workers have reported in (and only then: STATUS right after
 * says so), WATCHDOG=1 from its loop at least every half watchdog period,
 * STATUS lines with documents done, RELOADING=1 then READY=1 around a
 * reload, and STOPPING=1 on SIGTERM before it exits 0. Skips when the
 * daemon was built without libsystemd (NLPD_WITH_SYSTEMD off).
 */
#include "e2e.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define WATCHDOG_MS 600

typedef struct listener {
    int fd;
    char path[600];
    /* Everything received, in order, one message a line. */
    char *log;
    size_t len, cap;
} listener;

static void
listen_notify(listener *l, const char *dir)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->path, sizeof(l->path), "%s/notify", dir);
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(l->fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(strlen(l->path) < sizeof(a.sun_path));
    strcpy(a.sun_path, l->path);
    assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

/* Reads what has arrived within `ms` milliseconds into the log. */
static void
drain_notify(listener *l, int ms)
{
    uint64_t end = nlpd_e2e_now_ms() + (uint64_t)ms;
    for (;;) {
        struct timeval tv = {0, 20000};
        setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char buf[4096];
        ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, 0);
        if (n > 0) {
            if (l->len + (size_t)n + 2 > l->cap) {
                l->cap = (l->len + (size_t)n + 2) * 2;
                l->log = realloc(l->log, l->cap);
                assert_non_null(l->log);
            }
            memcpy(l->log + l->len, buf, (size_t)n);
            l->len += (size_t)n;
            l->log[l->len++] = '\n';
            l->log[l->len] = '\0';
            continue;
        }
        if (nlpd_e2e_now_ms() >= end)
            return;
    }
}

/* The offset of the first line starting with `prefix` at or after `from`,
 * or -1. */
static long
find_line(const listener *l, size_t from, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (size_t i = from; l->log != NULL && i < l->len;) {
        const char *line = l->log + i;
        const char *nl = memchr(line, '\n', l->len - i);
        size_t ll = nl ? (size_t)(nl - line) : l->len - i;
        if (ll >= pl && memcmp(line, prefix, pl) == 0)
            return (long)i;
        i += ll + 1;
    }
    return -1;
}

/* Lines of the log that start with `prefix`, from byte `from` on. */
static int
count_lines(const listener *l, size_t from, const char *prefix)
{
    int n = 0;
    for (long i = find_line(l, from, prefix); i >= 0; i = find_line(l, (size_t)i + 1, prefix))
        n++;
    return n;
}

static void
test_sdnotify_ready_status_watchdog_reloading_stopping(void **state)
{
    (void)state;
    char *dir = nlpd_test_tmpdir("nlpd-notify");
    listener l;
    listen_notify(&l, dir);
    setenv("NOTIFY_SOCKET", l.path, 1);
    char wd[32];
    snprintf(wd, sizeof(wd), "%d", WATCHDOG_MS * 1000);
    setenv("WATCHDOG_USEC", wd, 1);
    unsetenv("WATCHDOG_PID"); /* any pid may use it */

    char *config = nlpd_e2e_pt_config("", NULL, "replicas = 2");
    nlpd_e2e e;
    nlpd_e2e_start(&e, config);
    free(config);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    drain_notify(&l, 300);
    if (count_lines(&l, 0, "READY=1") == 0 && count_lines(&l, 0, "STATUS=") == 0) {
        nlpd_e2e_stop(&e);
        close(l.fd);
        nlpd_test_rmtree(dir);
        free(dir);
        fprintf(stderr, "# skipped: nlpd sent nothing to NOTIFY_SOCKET (built without "
                        "libsystemd)\n");
        skip();
    }
    /* Starting, then ready once all three workers (1 ingest, 2 pt) are. */
    long starting = find_line(&l, 0, "STATUS=starting");
    long ready = find_line(&l, 0, "READY=1");
    assert_true(starting >= 0);
    assert_true(ready > starting);
    assert_int_equal(count_lines(&l, 0, "READY=1"), 1);
    long after = find_line(&l, (size_t)ready, "STATUS=running: 3/3 workers ready");
    if (after < 0)
        fail_msg("no STATUS 'running: 3/3 workers ready' after READY=1:\n%s", l.log);
    /* Before READY=1, never all ready. */
    for (long i = find_line(&l, 0, "STATUS="); i >= 0 && i < ready;
         i = find_line(&l, (size_t)i + 1, "STATUS="))
        assert_true(strncmp(l.log + i, "STATUS=running", 14) != 0);

    /* The watchdog: at least every half period, from the daemon's loop. */
    size_t mark = l.len;
    drain_notify(&l, 3 * WATCHDOG_MS);
    int pings = count_lines(&l, mark, "WATCHDOG=1");
    fprintf(stderr, "# WATCHDOG=1 x %d in %d ms (period %d ms)\n", pings, 3 * WATCHDOG_MS,
            WATCHDOG_MS);
    assert_true(pings >= 4);

    /* Documents done show in STATUS (sent at least every 2 s). */
    for (int i = 0; i < 5; i++) {
        nlpd_reply ack;
        static const char line[] = "{\"id\":\"n\",\"text\":\"A short text. Another one.\"}";
        char *res = nlpd_e2e_submit(&e, "json wait", line, sizeof(line) - 1, &ack, NULL, NULL,
                                    20000);
        assert_int_equal(ack.kind, NLPD_REPLY_ACCEPTED);
        free(res);
    }
    mark = l.len;
    static const char five[] = "STATUS=running: 3/3 workers ready; 0 in flight; 5 done";
    uint64_t until = nlpd_e2e_now_ms() + 10000;
    while (find_line(&l, mark, five) < 0 && nlpd_e2e_now_ms() < until)
        drain_notify(&l, 100);
    long done = find_line(&l, mark, five);
    if (done < 0)
        fail_msg("no STATUS with 5 documents done:\n%s", l.log + mark);

    /* A reload: RELOADING=1, then READY=1 once the new workers are up. */
    mark = l.len;
    nlpd_e2e_signal(&e, SIGHUP);
    uint64_t deadline = nlpd_e2e_now_ms() + 20000;
    while (find_line(&l, mark, "READY=1") < 0 && nlpd_e2e_now_ms() < deadline)
        drain_notify(&l, 100);
    long reloading = find_line(&l, mark, "RELOADING=1");
    long ready2 = find_line(&l, mark, "READY=1");
    assert_true(reloading >= 0);
    assert_true(ready2 > reloading);

    /* SIGTERM: STOPPING=1, then a clean exit. */
    mark = l.len;
    nlpd_e2e_signal(&e, SIGTERM);
    int status = 0;
    pid_t r;
    deadline = nlpd_e2e_now_ms() + 30000;
    while ((r = waitpid(e.pid, &status, WNOHANG)) == 0 && nlpd_e2e_now_ms() < deadline)
        drain_notify(&l, 50);
    assert_int_equal(r, e.pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    e.pid = 0;
    drain_notify(&l, 50);
    assert_true(find_line(&l, mark, "STOPPING=1") >= 0);
    fprintf(stderr, "# notifications:\n%s", l.log);
    nlpd_e2e_stop(&e);

    close(l.fd);
    free(l.log);
    nlpd_test_rmtree(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sdnotify_ready_status_watchdog_reloading_stopping,
                                  nlpd_e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
