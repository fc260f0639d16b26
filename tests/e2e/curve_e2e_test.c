/* tests/e2e/curve_e2e_test.c — remote workers and clients over tcp with
 * CurveZMQ (issue 7), on 127.0.0.1.
 *
 * The daemon listens on tcp://127.0.0.1:PORT (a random port) with its key
 * pair and an authorized-keys directory made with `nlpctl keygen`; its stage
 * "pt" has no local worker (replicas = 0). A pass-through worker started by
 * hand with an authorized key joins over tcp and documents from a tcp
 * client flow through it; a worker and a client with an unknown key, and a
 * client without Curve, are refused (and the log says so) and submit
 * nothing; nlpctl works over tcp with a key; a key added to the directory
 * is let in after SIGHUP; the ipc sockets keep their modes; a secret key
 * file open to others, or missing, stops the daemon at start with a clear
 * message. Last, the cost of tcp + Curve against ipc per document is
 * printed (not asserted: the machine is shared).
 */
#include "e2e.h"
#include "nlpd/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct keys {
    char *dir;       /* daemon.key/.pub, client.key, w1.key, stranger.key */
    char auth[600];  /* the authorized keys directory */
    unsigned port;   /* listen base */
    char conf[4096]; /* the daemon's config */
} keys;

static keys K;

/* Runs argv (stdout to `out` when not NULL) and returns its exit status. */
static int
run(char *const argv[], const char *out)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out != NULL)
        posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot run %s: %s", argv[0], strerror(rc));
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
keygen(const char *dir, const char *name)
{
    char *argv[] = {
        (char *)nlpd_e2e_bin("nlpctl"), "keygen", "--out", (char *)dir, (char *)name, NULL};
    char out[700];
    snprintf(out, sizeof(out), "%s/%s.stdout", K.dir, name);
    assert_int_equal(run(argv, out), 0);
}

static void
copy_file(const char *from, const char *to)
{
    size_t len;
    char *text = nlpd_test_read_file(from, &len);
    assert_non_null(text);
    FILE *f = fopen(to, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(text);
}

static const char *
kpath(const char *name)
{
    static char buf[4][700];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", K.dir, name);
    return buf[i];
}

/* Keys for the daemon, a client, a worker (both authorized) and a stranger
 * (not), and a config with a random port; `pt_replicas` local workers. */
static void
make_keys(int pt_replicas)
{
    memset(&K, 0, sizeof(K));
    K.dir = nlpd_test_tmpdir("curve-keys");
    assert_non_null(K.dir);
    snprintf(K.auth, sizeof(K.auth), "%s/authorized", K.dir);
    assert_int_equal(mkdir(K.auth, 0700), 0);
    keygen(K.dir, "daemon");
    keygen(K.dir, "client");
    keygen(K.dir, "w1");
    keygen(K.dir, "stranger");
    char to[700];
    snprintf(to, sizeof(to), "%s/client.pub", K.auth);
    copy_file(kpath("client.pub"), to);
    snprintf(to, sizeof(to), "%s/w1.pub", K.auth);
    copy_file(kpath("w1.pub"), to);
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    K.port = 20000 + (unsigned)(rand() % 39000);
    snprintf(K.conf, sizeof(K.conf),
             "[daemon]\n"
             "log_level = info\n"
             "heartbeat_ms = 200\n"
             "heartbeat_timeout_ms = 5000\n"
             "listen = tcp://127.0.0.1:%u\n"
             "curve_secret_key = %s\n"
             "authorized_keys = %s\n"
             "[pipeline]\n"
             "stages = ingest pt\n"
             "[stage pt]\n"
             "command = %s\n"
             "replicas = %d\n",
             K.port, kpath("daemon.key"), K.auth, nlpd_e2e_bin("nlpd-passthrough"), pt_replicas);
}

static void
drop_keys(void)
{
    if (K.dir != NULL) {
        nlpd_test_rmtree(K.dir);
        free(K.dir);
        K.dir = NULL;
    }
}

static int
teardown(void **state)
{
    nlpd_e2e_teardown(state);
    drop_keys();
    return 0;
}

static const char *
tcp(unsigned offset)
{
    static char buf[4][64];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "tcp://127.0.0.1:%u", K.port + offset);
    return buf[i];
}

/* Starts nlpd-passthrough as a remote worker of stage pt (window 16, as
 * the local one) with key `key`
 * (a file name in K.dir; NULL: no Curve). */
static pid_t
start_worker(const char *id, const char *key)
{
    char env[8][800];
    char *envp[9];
    int n = 0;
    snprintf(env[n++], sizeof(env[0]), "NLPD_STAGE=pt");
    snprintf(env[n++], sizeof(env[0]), "NLPD_STAGE_ENDPOINT=%s", tcp(11));
    snprintf(env[n++], sizeof(env[0]), "NLPD_CONTROL_ENDPOINT=%s", tcp(3));
    snprintf(env[n++], sizeof(env[0]), "NLPD_HEARTBEAT_MS=200");
    snprintf(env[n++], sizeof(env[0]), "NLPD_WINDOW=16");
    if (key != NULL) {
        snprintf(env[n++], sizeof(env[0]), "NLPD_CURVE_SERVER_KEY_FILE=%s", kpath("daemon.pub"));
        snprintf(env[n++], sizeof(env[0]), "NLPD_CURVE_KEY_FILE=%s", kpath(key));
    }
    for (int i = 0; i < n; i++)
        envp[i] = env[i];
    envp[n] = NULL;
    char log[700];
    snprintf(log, sizeof(log), "%s/worker-%s.log", K.dir, id);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    /* Not the test's stdout: a worker left behind by a failed assertion
     * would keep ctest's pipe open and turn the failure into a timeout. */
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)nlpd_e2e_bin("nlpd-passthrough"), "--worker-id", (char *)id, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot start a worker: %s", strerror(rc));
    return pid;
}

static void
stop_worker(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        nlpd_e2e_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* STATUS: stage pt has a ready worker `id`. */
static int
has_worker(json_t *s, void *arg)
{
    json_t *st = nlpd_e2e_stage(s, "pt");
    json_t *w;
    size_t i;
    json_array_foreach(json_object_get(st, "workers"), i, w)
    {
        const char *wid = json_string_value(json_object_get(w, "id"));
        const char *state = json_string_value(json_object_get(w, "state"));
        if (wid != NULL && strcmp(wid, arg) == 0 && state != NULL && strcmp(state, "ready") == 0)
            return 1;
    }
    return 0;
}

static size_t
worker_count(nlpd_e2e *e)
{
    json_t *s = nlpd_e2e_status(e);
    assert_non_null(s);
    size_t n = json_array_size(json_object_get(nlpd_e2e_stage(s, "pt"), "workers"));
    json_decref(s);
    return n;
}

static json_int_t
accepted(nlpd_e2e *e)
{
    json_t *s = nlpd_e2e_status(e);
    assert_non_null(s);
    json_int_t n = json_integer_value(json_object_get(s, "accepted"));
    json_decref(s);
    return n;
}

static nlpd_client *
tcp_client(const char *server_pub, const char *key)
{
    nlpd_client_keys ks = {server_pub, key};
    nlpd_client *c = NULL;
    /* Keys come from these arguments only: none in the environment. */
    unsetenv(NLPD_ENV_CURVE_SERVER_KEY_FILE);
    unsetenv(NLPD_ENV_CURVE_KEY_FILE);
    assert_int_equal(nlpd_client_open_keys(&c, NULL, tcp(0), server_pub ? &ks : NULL), 0);
    return c;
}

/* Submits a JSON line with "json wait reply=json" and waits up to
 * timeout_ms for its result. Returns the result (free it) or NULL when no
 * answer came, with the rc in *rc_out. */
static char *
submit_wait(nlpd_client *c, uint64_t corr, const char *line, int timeout_ms, int *rc_out)
{
    int rc = nlpd_client_submit(c, corr, "json wait reply=json", line, strlen(line), timeout_ms);
    nlpd_reply r;
    uint64_t end = nlpd_e2e_now_ms() + (uint64_t)timeout_ms;
    while (rc == 0) {
        uint64_t now = nlpd_e2e_now_ms();
        if (now >= end) {
            rc = NLPD_ETIMEDOUT;
            break;
        }
        rc = nlpd_client_recv(c, &r, (int)(end - now));
        if (rc == 0 && r.corr == corr && r.kind == NLPD_REPLY_REFUSED)
            fail_msg("refused: %s %s", r.code, r.message);
        if (rc == 0 && r.corr == corr && r.kind == NLPD_REPLY_RESULT) {
            char *out = malloc(r.payload_len + 1);
            memcpy(out, r.payload, r.payload_len);
            out[r.payload_len] = '\0';
            *rc_out = 0;
            return out;
        }
    }
    *rc_out = rc;
    return NULL;
}

/* The Z85 public key in a .pub file of `nlpctl keygen` (static buffer). */
static const char *
public_key_of(const char *pub_file)
{
    static char key[41];
    size_t len;
    char *text = nlpd_test_read_file(pub_file, &len);
    assert_non_null(text);
    const char *p = strstr(text, "public-key = \"");
    assert_non_null(p);
    p += strlen("public-key = \"");
    assert_true(strlen(p) > 40 && p[40] == '"');
    memcpy(key, p, 40);
    key[40] = '\0';
    free(text);
    return key;
}

/* STATUS's security object has `arg` (a json_int_t *) authorized keys. */
static int
has_authorized(json_t *s, void *arg)
{
    json_t *n = json_object_get(json_object_get(s, "security"), "authorized_keys");
    return json_is_integer(n) && json_integer_value(n) == *(json_int_t *)arg;
}

/* STATUS's security object: the daemon's key, `authorized` keys, at least
 * `min_refused` refusals, and every tcp endpoint of the listen base. */
static void
check_security(json_t *status, json_int_t authorized, json_int_t min_refused)
{
    json_t *sec = json_object_get(status, "security");
    assert_true(json_is_object(sec));
    assert_string_equal(json_string_value(json_object_get(sec, "public_key")),
                        public_key_of(kpath("daemon.pub")));
    assert_int_equal(json_integer_value(json_object_get(sec, "authorized_keys")), authorized);
    json_int_t refused = json_integer_value(json_object_get(sec, "refused"));
    if (refused < min_refused)
        fail_msg("security.refused is %" JSON_INTEGER_FORMAT ", expected at least %" JSON_INTEGER_FORMAT,
                 refused, min_refused);
    static const struct {
        const char *socket;
        unsigned offset;
    } want[] = {{"front", 0}, {"control", 1}, {"results", 2}, {"heartbeat", 3}, {"hop/pt", 11}};
    json_t *eps = json_object_get(sec, "tcp_endpoints");
    assert_true(json_is_array(eps));
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        int found = 0;
        size_t i;
        json_t *ep;
        json_array_foreach(eps, i, ep)
        {
            const char *so = json_string_value(json_object_get(ep, "socket"));
            const char *at = json_string_value(json_object_get(ep, "endpoint"));
            if (so != NULL && at != NULL && strcmp(so, want[k].socket) == 0 &&
                strcmp(at, tcp(want[k].offset)) == 0)
                found = 1;
        }
        if (!found) {
            char *dump = json_dumps(eps, 0);
            fail_msg("no tcp endpoint %s %s in %s", want[k].socket, tcp(want[k].offset), dump);
        }
    }
}

static void
check_mode(const nlpd_e2e *e, const char *name, unsigned want, int dir)
{
    char path[700];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", e->rundir, name);
    assert_int_equal(stat(path, &sb), 0);
    if (dir)
        assert_true(S_ISDIR(sb.st_mode));
    else
        assert_true(S_ISSOCK(sb.st_mode));
    if ((sb.st_mode & 0777) != want)
        fail_msg("%s has mode %03o, not %03o", path, (unsigned)(sb.st_mode & 0777), want);
}

static void
test_remote_worker_and_clients_over_tcp_with_curve(void **state)
{
    (void)state;
    make_keys(0);
    nlpd_e2e e;
    nlpd_e2e_start(&e, K.conf);
    assert_true(nlpd_e2e_wait_log(&e, "listening (CurveZMQ)", 6, 10000));

    /* ipc sockets as before: front door, control and results open to the
     * group, the hops the daemon's alone. */
    check_mode(&e, "front", 0660, 0);
    check_mode(&e, "control", 0660, 0);
    check_mode(&e, "results", 0660, 0);
    check_mode(&e, "hops", 0700, 1);
    check_mode(&e, "hops/pt", 0600, 0);
    check_mode(&e, "hops/heartbeat", 0600, 0);

    /* A worker started by hand with an authorized key joins. */
    pid_t w1 = start_worker("remote-w1", "w1.key");
    if (!nlpd_e2e_wait_status(&e, has_worker, "remote-w1", 60000)) {
        nlpd_e2e_dump_log(&e);
        fail_msg("the remote worker did not join");
    }
    assert_true(nlpd_e2e_wait_log(&e, "remote worker joined", 1, 10000));

    /* Documents from a tcp client with a key flow through it. */
    nlpd_client *c = tcp_client(kpath("daemon.pub"), kpath("client.key"));
    for (int i = 0; i < 40; i++) {
        char line[200];
        snprintf(line, sizeof(line), "{\"id\":\"d%d\",\"text\":\"Document %d goes over tcp.\"}", i,
                 i);
        int rc;
        char *res = submit_wait(c, (uint64_t)i + 1, line, 60000, &rc);
        if (res == NULL) {
            nlpd_e2e_dump_log(&e);
            fail_msg("no result for d%d over tcp: %s", i, nlpd_strerror(rc));
        }
        assert_non_null(strstr(res, "remote-w1"));
        free(res);
    }
    nlpd_client_close(&c);
    json_int_t before = accepted(&e);
    assert_int_equal(before, 40);

    /* A worker with an unknown key is refused and never joins. */
    int refusals = nlpd_e2e_log_count(&e, "connection refused: unknown key");
    pid_t stranger = start_worker("stranger", "stranger.key");
    assert_true(nlpd_e2e_wait_log(&e, "connection refused: unknown key", refusals + 1, 30000));
    nlpd_e2e_sleep_ms(500);
    assert_int_equal(worker_count(&e), 1);
    stop_worker(stranger);

    /* A client with an unknown key cannot submit. */
    refusals = nlpd_e2e_log_count(&e, "connection refused: unknown key");
    c = tcp_client(kpath("daemon.pub"), kpath("stranger.key"));
    int rc;
    char *res = submit_wait(c, 1000, "{\"id\":\"x\",\"text\":\"Let me in.\"}", 2000, &rc);
    assert_null(res);
    assert_int_equal(rc, NLPD_ETIMEDOUT);
    nlpd_client_close(&c);
    assert_true(nlpd_e2e_wait_log(&e, "connection refused: unknown key", refusals + 1, 10000));

    /* Nor can a client without Curve. */
    refusals = nlpd_e2e_log_count(&e, "socket=front");
    c = tcp_client(NULL, NULL);
    res = submit_wait(c, 1001, "{\"id\":\"y\",\"text\":\"Plain.\"}", 2000, &rc);
    assert_null(res);
    assert_int_equal(rc, NLPD_ETIMEDOUT);
    nlpd_client_close(&c);
    assert_true(nlpd_e2e_wait_log(&e, "socket=front", refusals + 1, 10000));
    assert_true(nlpd_e2e_log_count(&e, "connection refused") > 0);
    assert_int_equal(accepted(&e), before);

    /* nlpctl over tcp with a key. */
    char out[700];
    snprintf(out, sizeof(out), "%s/status.json", K.dir);
    char *status_argv[] = {(char *)nlpd_e2e_bin("nlpctl"),
                           "--control",
                           (char *)tcp(1),
                           "--server-key",
                           (char *)kpath("daemon.pub"),
                           "--key",
                           (char *)kpath("client.key"),
                           "--timeout",
                           "30",
                           "status",
                           "--json",
                           NULL};
    assert_int_equal(run(status_argv, out), 0);
    size_t len;
    char *text = nlpd_test_read_file(out, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "remote-w1"));
    /* The security object: the stranger worker, the stranger client and
     * the client without Curve were refused, at least once each. */
    json_error_t jerr;
    json_t *status = json_loads(text, 0, &jerr);
    assert_non_null(status);
    check_security(status, 2, 3);
    json_decref(status);
    free(text);
    /* The same, as nlpctl status prints it (over ipc). */
    char ipc_control[700];
    snprintf(ipc_control, sizeof(ipc_control), "ipc://%s/control", e.rundir);
    char *human_argv[] = {(char *)nlpd_e2e_bin("nlpctl"), "--control", ipc_control, "--timeout",
                          "30", "status", NULL};
    assert_int_equal(run(human_argv, out), 0);
    text = nlpd_test_read_file(out, &len);
    assert_non_null(text);
    char line[200];
    snprintf(line, sizeof(line), "security: CurveZMQ on tcp, public key %s, authorized keys 2,",
             public_key_of(kpath("daemon.pub")));
    if (strstr(text, line) == NULL || strstr(text, tcp(11)) == NULL)
        fail_msg("nlpctl status does not show the security line or the hop:\n%s", text);
    free(text);
    /* ... and without one it gets no answer. */
    char *plain_argv[] = {(char *)nlpd_e2e_bin("nlpctl"),
                          "--control",
                          (char *)tcp(1),
                          "--timeout",
                          "1",
                          "status",
                          NULL};
    assert_int_equal(run(plain_argv, "/dev/null"), 1);

    /* The stranger's key, once in the directory, gets in after SIGHUP. */
    char to[700];
    snprintf(to, sizeof(to), "%s/stranger.pub", K.auth);
    copy_file(kpath("stranger.pub"), to);
    nlpd_e2e_signal(&e, SIGHUP);
    assert_true(nlpd_e2e_wait_log(&e, "authorized keys read again", 1, 30000));
    json_int_t three = 3;
    assert_true(nlpd_e2e_wait_status(&e, has_authorized, &three, 10000));
    c = tcp_client(kpath("daemon.pub"), kpath("stranger.key"));
    res = submit_wait(c, 2000, "{\"id\":\"z\",\"text\":\"Now in.\"}", 60000, &rc);
    if (res == NULL) {
        nlpd_e2e_dump_log(&e);
        fail_msg("the newly authorized client got no result: %s", nlpd_strerror(rc));
    }
    free(res);
    nlpd_client_close(&c);

    stop_worker(w1);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
    drop_keys();
}

/* Runs nlpd with K.conf until it exits (it must, within 30 s); returns its
 * exit status, its stderr in `log`. */
static int
run_daemon_to_exit(const char *log)
{
    char conf[700], rundir[700];
    snprintf(conf, sizeof(conf), "%s/nlpd.conf", K.dir);
    snprintf(rundir, sizeof(rundir), "%s/run", K.dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fputs(K.conf, f);
    assert_int_equal(fclose(f), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char state[700];
    snprintf(state, sizeof(state), "%s/state", K.dir);
    char *argv[] = {(char *)nlpd_e2e_bin("nlpd"),
                    "--config",
                    conf,
                    "--runtime-dir",
                    rundir,
                    "--state-dir",
                    state,
                    NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    for (int i = 0; i < 1500; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        nlpd_e2e_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("nlpd did not stop on a bad key file");
    return -1;
}

static void
expect_log(const char *log, const char *needle)
{
    size_t len;
    char *text = nlpd_test_read_file(log, &len);
    assert_non_null(text);
    if (strstr(text, needle) == NULL) {
        fprintf(stderr, "%s", text);
        fail_msg("the log does not say '%s'", needle);
    }
    free(text);
}

static void
test_daemon_refuses_to_start_with_an_unsafe_or_missing_secret_key(void **state)
{
    (void)state;
    make_keys(1);
    char log[700];
    snprintf(log, sizeof(log), "%s/daemon.log", K.dir);
    assert_int_equal(chmod(kpath("daemon.key"), 0640), 0);
    assert_int_equal(run_daemon_to_exit(log), 1);
    expect_log(log, "readable by its owner only");
    assert_int_equal(rename(kpath("daemon.key"), kpath("moved.key")), 0);
    assert_int_equal(run_daemon_to_exit(log), 1);
    expect_log(log, "daemon.key: cannot open");
    drop_keys();
}

/* `front = tcp://...` alone (no listen): the front door on tcp with Curve,
 * no other socket on tcp. */
static void
test_a_tcp_front_door_alone_uses_curve(void **state)
{
    (void)state;
    make_keys(1);
    char conf[4096];
    snprintf(conf, sizeof(conf),
             "[daemon]\nfront = %s\ncurve_secret_key = %s\nauthorized_keys = %s\n"
             "[pipeline]\nstages = ingest\n",
             tcp(0), kpath("daemon.key"), K.auth);
    nlpd_e2e e;
    nlpd_e2e_start(&e, conf);
    assert_int_equal(nlpd_e2e_log_count(&e, "listening (CurveZMQ)"), 1);
    nlpd_client *c = tcp_client(kpath("daemon.pub"), kpath("client.key"));
    assert_int_equal(nlpd_client_ping(c, 7), 0);
    nlpd_reply r;
    int rc = nlpd_client_recv(c, &r, 60000);
    assert_int_equal(rc, 0);
    assert_int_equal(r.kind, NLPD_REPLY_PONG);
    nlpd_client_close(&c);
    c = tcp_client(kpath("daemon.pub"), kpath("stranger.key"));
    assert_int_equal(nlpd_client_ping(c, 8), 0);
    assert_int_equal(nlpd_client_recv(c, &r, 1500), NLPD_ETIMEDOUT);
    nlpd_client_close(&c);
    assert_true(nlpd_e2e_wait_log(&e, "connection refused: unknown key", 1, 10000));
    /* STATUS: the one tcp endpoint, and the refusal counted. */
    json_t *status = nlpd_e2e_status(&e);
    assert_non_null(status);
    json_t *sec = json_object_get(status, "security");
    assert_true(json_is_object(sec));
    assert_true(json_integer_value(json_object_get(sec, "refused")) >= 1);
    assert_int_equal(json_integer_value(json_object_get(sec, "authorized_keys")), 2);
    json_t *eps = json_object_get(sec, "tcp_endpoints");
    assert_int_equal(json_array_size(eps), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(eps, 0), "socket")),
                        "front");
    assert_string_equal(json_string_value(json_object_get(json_array_get(eps, 0), "endpoint")),
                        tcp(0));
    json_decref(status);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
    drop_keys();
}

/* --- The cost of tcp + Curve against ipc (printed) --------------------------- */

/* Sends `n` documents keeping `window` in flight; returns the seconds it took. */
static double
pump(nlpd_client *c, int n, int window, const char *doc)
{
    uint64_t t0 = nlpd_e2e_now_ms();
    int sent = 0, done = 0;
    while (done < n) {
        while (sent < n && sent - done < window) {
            int rc =
                nlpd_client_submit(c, (uint64_t)sent + 1, "json wait", doc, strlen(doc), 60000);
            assert_int_equal(rc, 0);
            sent++;
        }
        nlpd_reply r;
        int rc = nlpd_client_recv(c, &r, 120000);
        if (rc != 0)
            fail_msg("no answer while measuring: %s", nlpd_strerror(rc));
        if (r.kind == NLPD_REPLY_REFUSED)
            fail_msg("refused while measuring: %s", r.code);
        if (r.kind == NLPD_REPLY_RESULT)
            done++;
    }
    return (double)(nlpd_e2e_now_ms() - t0) / 1000.0;
}

/* CPU time (user + system) of process `pid` so far, in microseconds. */
static double
cpu_us_of(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static double
cpu_us_self(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* CPU so far of the daemon, its ingest worker, the pt worker and this
 * client (all its threads), in that order. */
static void
cpu_us_all(pid_t daemon, pid_t ingest, pid_t pt, double out[4])
{
    out[0] = cpu_us_of(daemon);
    out[1] = cpu_us_of(ingest);
    out[2] = cpu_us_of(pt);
    out[3] = cpu_us_self();
}

static void
test_cost_of_tcp_and_curve_against_ipc_is_printed(void **state)
{
    (void)state;
    const int n = 3000, window = 64, rounds = 3;
    /* About 4 KB of text, as a news article. */
    static char doc[5000];
    int len = snprintf(doc, sizeof(doc), "{\"id\":\"bench\",\"text\":\"");
    while (len < 4100)
        len += snprintf(doc + len, sizeof(doc) - (size_t)len,
                        "The minister said the talks would resume next week. ");
    snprintf(doc + len, sizeof(doc) - (size_t)len, "\"}");

    double best_ipc = 1e9, best_tcp = 1e9, ipc0[4], ipc1[4], tcp0[4], tcp1[4];
    /* ipc: the local worker, the client on the front door's ipc socket. */
    make_keys(1);
    nlpd_e2e e;
    nlpd_e2e_start(&e, K.conf);
    pump(e.client, 200, window, doc); /* warm up */
    pid_t ingest = nlpd_e2e_worker_pid(&e, "ingest", 0), pt = nlpd_e2e_worker_pid(&e, "pt", 0);
    cpu_us_all(e.pid, ingest, pt, ipc0);
    for (int r = 0; r < rounds; r++) {
        double s = pump(e.client, n, window, doc);
        if (s < best_ipc)
            best_ipc = s;
    }
    cpu_us_all(e.pid, ingest, pt, ipc1);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
    drop_keys();

    /* tcp + Curve: the worker and the client both over tcp on loopback. */
    make_keys(0);
    nlpd_e2e_start(&e, K.conf);
    pid_t w1 = start_worker("bench-w1", "w1.key");
    if (!nlpd_e2e_wait_status(&e, has_worker, "bench-w1", 60000))
        fail_msg("the remote worker did not join");
    nlpd_client *c = tcp_client(kpath("daemon.pub"), kpath("client.key"));
    pump(c, 200, window, doc);
    ingest = nlpd_e2e_worker_pid(&e, "ingest", 0);
    cpu_us_all(e.pid, ingest, w1, tcp0);
    for (int r = 0; r < rounds; r++) {
        double s = pump(c, n, window, doc);
        if (s < best_tcp)
            best_tcp = s;
    }
    cpu_us_all(e.pid, ingest, w1, tcp1);
    nlpd_client_close(&c);
    stop_worker(w1);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
    drop_keys();

    double us_ipc = best_ipc * 1e6 / n, us_tcp = best_tcp * 1e6 / n;
    double per_ipc[4], per_tcp[4], cpu_ipc = 0, cpu_tcp = 0;
    for (int i = 0; i < 4; i++) {
        per_ipc[i] = (ipc1[i] - ipc0[i]) / (rounds * n);
        per_tcp[i] = (tcp1[i] - tcp0[i]) / (rounds * n);
        cpu_ipc += per_ipc[i];
        cpu_tcp += per_tcp[i];
    }
    printf("# curve cost: %d documents of %d bytes, window %d, %d rounds, ingest + pass-through "
           "(journal on, group commit)\n",
           n, len, window, rounds);
    printf("#   CPU us/doc (user + system, all threads; 10 ms ticks): daemon, ingest worker, "
           "pt worker, client = total\n");
    printf("#   ipc            : %6.1f %6.1f %6.1f %6.1f = %6.1f   wall %6.1f us/doc (%5.0f/s, "
           "best round)\n",
           per_ipc[0], per_ipc[1], per_ipc[2], per_ipc[3], cpu_ipc, us_ipc, n / best_ipc);
    printf("#   tcp + CurveZMQ : %6.1f %6.1f %6.1f %6.1f = %6.1f   wall %6.1f us/doc (%5.0f/s, "
           "best round)\n",
           per_tcp[0], per_tcp[1], per_tcp[2], per_tcp[3], cpu_tcp, us_tcp, n / best_tcp);
    printf("#   tcp + Curve    : %+6.1f %+6.1f %+6.1f %+6.1f = %+6.1f CPU us/doc for two hops "
           "(client <-> daemon, daemon <-> worker)\n",
           per_tcp[0] - per_ipc[0], per_tcp[1] - per_ipc[1], per_tcp[2] - per_ipc[2],
           per_tcp[3] - per_ipc[3], cpu_tcp - cpu_ipc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_remote_worker_and_clients_over_tcp_with_curve, teardown),
        cmocka_unit_test_teardown(test_daemon_refuses_to_start_with_an_unsafe_or_missing_secret_key,
                                  teardown),
        cmocka_unit_test_teardown(test_a_tcp_front_door_alone_uses_curve, teardown),
        cmocka_unit_test_teardown(test_cost_of_tcp_and_curve_against_ipc_is_printed, teardown),
    };
    return cmocka_run_group_tests_name("curve_e2e", tests, NULL, NULL);
}
