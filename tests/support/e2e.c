/* tests/support/e2e.c — start, drive and stop a real daemon. */
#include "e2e.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nlpd/alloc.h"
#include "nlpd/json.h"
#include "nlpd_internal.h"

extern char **environ;

/* Daemons started and not yet stopped: a failing assertion jumps out of
 * the test (and its stack, where the nlpd_e2e lives) before nlpd_e2e_stop,
 * so the registry keeps its own copy of what the teardown must reap. */
#define MAX_LIVE 16
static struct live_daemon {
    pid_t pid;
    char *dir;
} live[MAX_LIVE];

static void
live_add(const nlpd_e2e *e)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i].pid == 0) {
            live[i].pid = e->pid;
            live[i].dir = strdup(e->dir);
            return;
        }
    }
}

static void
live_remove(pid_t pid)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i].pid == pid && pid != 0) {
            live[i].pid = 0;
            free(live[i].dir);
            live[i].dir = NULL;
        }
    }
}

int
nlpd_e2e_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i].pid == 0)
            continue;
        /* Workers follow the daemon (they die with their parent). */
        kill(live[i].pid, SIGKILL);
        waitpid(live[i].pid, NULL, 0);
        if (live[i].dir != NULL)
            nlpd_test_rmtree(live[i].dir);
        live_remove(live[i].pid);
    }
    return 0;
}

void
nlpd_e2e_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

uint64_t
nlpd_e2e_now_ms(void)
{
    return nlpd__mono_us() / 1000u;
}

int
nlpd_e2e_wait_log(nlpd_e2e *e, const char *needle, int n, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        if (nlpd_e2e_log_count(e, needle) >= n)
            return 1;
        if (waited >= timeout_ms)
            return 0;
        nlpd_e2e_sleep_ms(50);
    }
}

char *
nlpd_e2e_pt_config(const char *pt_args, const char *extra_daemon, const char *extra_stage)
{
    char *c = malloc(4096);
    assert_non_null(c);
    snprintf(c, 4096,
             "[daemon]\n"
             "log_level = info\n"
             "heartbeat_ms = 200\n"
             "heartbeat_timeout_ms = 5000\n"
             "%s\n"
             "[pipeline]\n"
             "stages = ingest pt\n"
             "[stage pt]\n"
             "command = %s %s\n"
             "%s\n",
             extra_daemon ? extra_daemon : "", nlpd_e2e_bin("nlpd-passthrough"),
             pt_args ? pt_args : "", extra_stage ? extra_stage : "");
    return c;
}

void
nlpd_e2e_start_stage(nlpd_e2e *e, const char *stages, const char *stage, const char *bin,
                     const char *args, int ready)
{
    char c[2048];
    snprintf(c, sizeof(c),
             "[daemon]\nrestart_backoff_min_ms = 20\nrestart_backoff_max_ms = 2s\n"
             "[pipeline]\nstages = %s\n"
             "[stage %s]\ncommand = %s %s\n",
             stages, stage, nlpd_e2e_bin(bin), args);
    if (ready)
        nlpd_e2e_start(e, c);
    else
        nlpd_e2e_start_unready(e, c);
}

void
nlpd_e2e_expect_bad_option(const char *stages, const char *stage, const char *bin,
                           const char *args, const char *message)
{
    nlpd_e2e e;
    nlpd_e2e_start_stage(&e, stages, stage, bin, args, 0);
    if (!nlpd_e2e_wait_log(&e, message, 1, 20000)) {
        nlpd_e2e_dump_log(&e);
        fail_msg("%s %s: no \"%s\" in the log", bin, args, message);
    }
    json_t *st = nlpd_e2e_status(&e);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "starting");
    json_decref(st);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

json_int_t
nlpd_e2e_journal_count(nlpd_e2e *e, const char *what)
{
    json_t *st = nlpd_e2e_status(e);
    assert_non_null(st);
    json_int_t n = json_integer_value(json_object_get(json_object_get(st, "journal"), what));
    json_decref(st);
    return n;
}

const char *
nlpd_e2e_bin(const char *name)
{
    static char path[1024];
    const char *b = getenv("NLPD_BUILD_DIR");
    snprintf(path, sizeof(path), "%s/bin/%s", b != NULL ? b : ".", name);
    return path;
}

void
nlpd_e2e_write_config(nlpd_e2e *e, const char *config)
{
    FILE *f = fopen(e->conf, "w");
    if (f == NULL)
        fail_msg("cannot write %s", e->conf);
    fputs(config != NULL ? config : "", f);
    fclose(f);
}

void
nlpd_e2e_dump_log(const nlpd_e2e *e)
{
    size_t n;
    char *log = nlpd_test_read_file(e->log, &n);
    if (log != NULL) {
        fprintf(stderr, "----- nlpd log (%s) -----\n%s----- end of log -----\n", e->log, log);
        free(log);
    }
}

int
nlpd_e2e_log_count(const nlpd_e2e *e, const char *needle)
{
    size_t n;
    char *log = nlpd_test_read_file(e->log, &n);
    int count = 0;
    if (log == NULL)
        return 0;
    for (char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        count++;
    free(log);
    return count;
}

json_t *
nlpd_e2e_status(nlpd_e2e *e)
{
    char *reply = NULL;
    if (nlpd_control_call(e->rundir, NULL, "STATUS", 2000, &reply) != 0) {
        nlpd_free(reply);
        return NULL;
    }
    json_t *j = json_loads(reply, 0, NULL);
    nlpd_free(reply);
    return j;
}

json_t *
nlpd_e2e_stage(json_t *status, const char *stage)
{
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(status, "stages"), i, st)
    {
        if (strcmp(json_string_value(json_object_get(st, "name")), stage) == 0)
            return st;
    }
    return NULL;
}

int
nlpd_e2e_worker_pid(nlpd_e2e *e, const char *stage, int i)
{
    json_t *s = nlpd_e2e_status(e);
    int pid = 0;
    json_t *st = s != NULL ? nlpd_e2e_stage(s, stage) : NULL;
    json_t *w = st != NULL ? json_array_get(json_object_get(st, "workers"), (size_t)i) : NULL;
    if (w != NULL)
        pid = (int)json_integer_value(json_object_get(w, "pid"));
    json_decref(s);
    return pid;
}

int
nlpd_e2e_wait_status(nlpd_e2e *e, int (*pred)(json_t *, void *), void *arg, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        json_t *s = nlpd_e2e_status(e);
        int ok = s != NULL && pred(s, arg);
        json_decref(s);
        if (ok)
            return 1;
        nlpd_e2e_sleep_ms(50);
    }
    return 0;
}

static int
is_running(json_t *s, void *arg)
{
    (void)arg;
    const char *st = json_string_value(json_object_get(s, "state"));
    return st != NULL && strcmp(st, "running") == 0;
}

/* Starts the daemon in e->dir (a new one unless `again`), its files no
 * larger than `fsize` bytes when that is not 0. */
static void
spawn_daemon_in(nlpd_e2e *e, const char *config, int again, long fsize)
{
    if (!again) {
        memset(e, 0, sizeof(*e));
        e->dir = nlpd_test_tmpdir("nlpd-e2e");
        snprintf(e->rundir, sizeof(e->rundir), "%s/run", e->dir);
        snprintf(e->conf, sizeof(e->conf), "%s/nlpd.conf", e->dir);
        snprintf(e->log, sizeof(e->log), "%s/nlpd.log", e->dir);
        snprintf(e->statedir, sizeof(e->statedir), "%s/state", e->dir);
        if (config != NULL)
            nlpd_e2e_write_config(e, config);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, e->log,
                                     O_WRONLY | O_CREAT | (again ? O_APPEND : O_TRUNC), 0600);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    char *argv[12];
    int n = 0;
    argv[n++] = (char *)nlpd_e2e_bin("nlpd");
    argv[n++] = (char *)"--runtime-dir";
    argv[n++] = e->rundir;
    argv[n++] = (char *)"--state-dir";
    argv[n++] = e->statedir;
    if (again ? access(e->conf, R_OK) == 0 : config != NULL) {
        argv[n++] = (char *)"--config";
        argv[n++] = e->conf;
    }
    argv[n] = NULL;
    static char bin[1024];
    snprintf(bin, sizeof(bin), "%s", argv[0]);
    argv[0] = bin;
    /* The limit is inherited: set around the spawn, then put back. */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    if (fsize > 0) {
        struct rlimit small = old;
        small.rlim_cur = (rlim_t)fsize;
        setrlimit(RLIMIT_FSIZE, &small);
    }
    int rc = posix_spawn(&e->pid, bin, &fa, NULL, argv, environ);
    if (fsize > 0)
        setrlimit(RLIMIT_FSIZE, &old);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot start %s: %s", bin, strerror(rc));
    live_add(e);
}

static void
spawn_daemon(nlpd_e2e *e, const char *config)
{
    spawn_daemon_in(e, config, 0, 0);
}

static int
answers(json_t *s, void *arg)
{
    (void)arg;
    return s != NULL;
}

void
nlpd_e2e_start_unready(nlpd_e2e *e, const char *config)
{
    spawn_daemon(e, config);
    if (!nlpd_e2e_wait_status(e, answers, NULL, 30000)) {
        nlpd_e2e_dump_log(e);
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
        fail_msg("the daemon does not answer on its control socket");
    }
    if (nlpd_client_open(&e->client, e->rundir, NULL) != 0)
        fail_msg("cannot open a client");
}

void
nlpd_e2e_start(nlpd_e2e *e, const char *config)
{
    spawn_daemon(e, config);
    if (!nlpd_e2e_wait_status(e, is_running, NULL, 30000)) {
        nlpd_e2e_dump_log(e);
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
        fail_msg("the daemon did not become ready");
    }
    if (nlpd_client_open(&e->client, e->rundir, NULL) != 0)
        fail_msg("cannot open a client");
}

static void
wait_running(nlpd_e2e *e)
{
    if (!nlpd_e2e_wait_status(e, is_running, NULL, 30000)) {
        nlpd_e2e_dump_log(e);
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
        fail_msg("the daemon did not become ready");
    }
    if (nlpd_client_open(&e->client, e->rundir, NULL) != 0)
        fail_msg("cannot open a client");
}

void
nlpd_e2e_start_limited(nlpd_e2e *e, const char *config, long fsize)
{
    spawn_daemon_in(e, config, 0, fsize);
    wait_running(e);
}

void
nlpd_e2e_crash(nlpd_e2e *e)
{
    nlpd_client_close(&e->client);
    if (e->pid > 0) {
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
        live_remove(e->pid);
        e->pid = 0;
    }
    /* Its workers get SIGTERM from the kernel when it dies (they asked
     * for it); let them go before a new daemon binds the same sockets. */
    nlpd_e2e_sleep_ms(300);
}

void
nlpd_e2e_restart(nlpd_e2e *e)
{
    spawn_daemon_in(e, NULL, 1, 0);
    wait_running(e);
}

void
nlpd_e2e_signal(nlpd_e2e *e, int sig)
{
    kill(e->pid, sig);
}

int
nlpd_e2e_stop(nlpd_e2e *e)
{
    live_remove(e->pid);
    nlpd_client_close(&e->client);
    int status = 0, code = -1;
    if (e->pid > 0) {
        kill(e->pid, SIGTERM);
        int waited = 0;
        pid_t r;
        while ((r = waitpid(e->pid, &status, WNOHANG)) == 0 && waited < 60000) {
            nlpd_e2e_sleep_ms(20);
            waited += 20;
        }
        if (r == 0) {
            kill(e->pid, SIGKILL);
            waitpid(e->pid, &status, 0);
            nlpd_e2e_dump_log(e);
        } else if (WIFEXITED(status)) {
            code = WEXITSTATUS(status);
        }
        if (code != 0)
            nlpd_e2e_dump_log(e);
        e->pid = 0;
    }
    if (e->dir != NULL) {
        nlpd_test_rmtree(e->dir);
        free(e->dir);
        e->dir = NULL;
    }
    return code;
}

char *
nlpd_e2e_submit(nlpd_e2e *e, const char *flags, const void *payload, size_t len, nlpd_reply *ack,
                size_t *res_len, int *res_error, int timeout_ms)
{
    uint64_t corr = ++e->corr;
    int rc = nlpd_client_submit(e->client, corr, flags, payload, len, timeout_ms);
    if (rc != 0)
        fail_msg("submit failed: %s", nlpd_strerror(rc));
    nlpd_reply r;
    for (;;) {
        rc = nlpd_client_recv(e->client, &r, timeout_ms);
        if (rc != 0) {
            nlpd_e2e_dump_log(e);
            fail_msg("no answer to a submission: %s", nlpd_strerror(rc));
        }
        if (r.corr == corr)
            break; /* answers to earlier, abandoned requests are skipped */
    }
    *ack = r;
    if (r.kind != NLPD_REPLY_ACCEPTED || strstr(flags, "wait") == NULL)
        return NULL;
    for (;;) {
        rc = nlpd_client_recv(e->client, &r, timeout_ms);
        if (rc != 0) {
            nlpd_e2e_dump_log(e);
            fail_msg("no result for %s: %s", ack->key, nlpd_strerror(rc));
        }
        if (r.corr == corr && r.kind == NLPD_REPLY_RESULT)
            break;
    }
    char *out = malloc(r.payload_len + 1);
    memcpy(out, r.payload, r.payload_len);
    out[r.payload_len] = '\0';
    if (res_len != NULL)
        *res_len = r.payload_len;
    if (res_error != NULL)
        *res_error = r.error;
    return out;
}

json_t *
nlpd_e2e_annotate(nlpd_e2e *e, const char *json_line, char refused[32])
{
    nlpd_reply ack;
    size_t len;
    int err;
    char *res = nlpd_e2e_submit(e, "json wait reply=json", json_line, strlen(json_line), &ack,
                                &len, &err, 60000);
    if (res == NULL) {
        if (refused != NULL)
            snprintf(refused, 32, "%s", ack.code);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(res, len, JSON_ALLOW_NUL, &jerr);
    if (j == NULL)
        fail_msg("result is not JSON: %s", jerr.text);
    free(res);
    return j;
}

json_t *
nlpd_e2e_annotate_bytes(nlpd_e2e *e, const void *bytes, size_t len, char refused[32])
{
    nlpd_submission s;
    memset(&s, 0, sizeof(s));
    s.text = bytes;
    s.text_len = len;
    uint8_t *pb;
    size_t pb_len;
    if (nlpd_submission_encode(&s, &pb, &pb_len) != 0)
        fail_msg("cannot encode a submission");
    nlpd_reply ack;
    size_t rlen;
    int err;
    char *res = nlpd_e2e_submit(e, "pb wait reply=json", pb, pb_len, &ack, &rlen, &err, 60000);
    nlpd_free(pb);
    if (res == NULL) {
        if (refused != NULL)
            snprintf(refused, 32, "%s", ack.code);
        return NULL;
    }
    json_t *j = json_loadb(res, rlen, JSON_ALLOW_NUL, NULL);
    if (j == NULL)
        fail_msg("result is not JSON");
    free(res);
    return j;
}

int
nlpd_e2e_error_count(json_t *result, const char *code)
{
    size_t i;
    json_t *er;
    int n = 0;
    json_array_foreach(json_object_get(result, "errors"), i, er)
    {
        const char *c = json_string_value(json_object_get(er, "code"));
        if (c != NULL && strcmp(c, code) == 0)
            n++;
    }
    return n;
}

const char *
nlpd_e2e_trace(json_t *result)
{
    static char buf[512];
    size_t i, n = 0;
    json_t *t;
    buf[0] = '\0';
    json_array_foreach(json_object_get(result, "trace"), i, t)
    {
        const char *s = json_string_value(json_object_get(t, "stage"));
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? " " : "", s ? s : "?");
        if (n >= sizeof(buf))
            break;
    }
    return buf;
}

int
nlpd_e2e_metrics_port(nlpd_e2e *e)
{
    json_t *s = nlpd_e2e_status(e);
    assert_non_null(s);
    const char *ml = json_string_value(json_object_get(s, "metrics_listen"));
    assert_non_null(ml);
    const char *colon = strrchr(ml, ':');
    assert_non_null(colon);
    int port = atoi(colon + 1);
    assert_true(port > 0 && port < 65536);
    json_decref(s);
    return port;
}

int
nlpd_e2e_http(int port, const char *method, const char *path, char **body)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n%s", method,
                     path, strcmp(method, "POST") == 0 ? "Content-Length: 3\r\n" : "",
                     strcmp(method, "POST") == 0 ? "abc" : "");
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r >= 0);
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    int code = 0;
    assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &code), 1);
    char *sep = strstr(buf, "\r\n\r\n");
    assert_non_null(sep);
    *body = strdup(sep + 4);
    free(buf);
    return code;
}
