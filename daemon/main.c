/* daemon/main.c — nlpd: start, run, reload, stop.
 *
 * Runs in the foreground (systemd supervises it; no self-daemonizing) and
 * logs one line per event to stderr with a syslog priority prefix that
 * journald reads.
 */
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "nlpd/alloc.h"
#include "nlpd/log.h"
#include "security.h"

#define TICK_MS 50
#define STATUS_EVERY_US 2000000u

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: nlpd [options]\n"
            "\n"
            "The nlpd daemon: takes articles on its front door socket, passes them through\n"
            "its pipeline of stage workers and returns them annotated. With no --config it\n"
            "runs the built-in standard pipeline.\n"
            "\n"
            "  -c, --config FILE       read FILE (INI; repeat: later files override earlier)\n"
            "  -r, --runtime-dir DIR   where the sockets live [NLPD_RUNTIME_DIR]\n"
            "  -s, --state-dir DIR     where the journal lives [NLPD_STATE_DIR]\n"
            "  -l, --log-level LEVEL   err, warning, notice, info, debug\n"
            "      --check-config      print the effective configuration and exit\n"
            "  -V, --version\n"
            "  -h, --help\n"
            "\n"
            "Signals: SIGTERM/SIGINT drain and stop, SIGHUP reloads the configuration.\n");
}

/* --- Runtime directory ---------------------------------------------------- */

static gid_t
resolve_group(const char *name)
{
    struct group *g = name[0] != '\0' ? getgrnam(name) : NULL;
    if (g == NULL)
        return getegid();
    if (geteuid() == 0 || getegid() == g->gr_gid)
        return g->gr_gid;
    gid_t groups[256];
    int n = getgroups(256, groups);
    for (int i = 0; i < n; i++) {
        if (groups[i] == g->gr_gid)
            return g->gr_gid;
    }
    NLPD_LOG(NLPD_LOG_NOTICE, "group=%s msg=\"not a member of that group; sockets go to own group\"",
             name);
    return getegid();
}

int
daemon_share_with_group(const nlpd_daemon *d, const char *path, mode_t mode)
{
    struct stat sb;
    if (chmod(path, mode) != 0 || stat(path, &sb) != 0)
        return -1;
    if (sb.st_gid == d->gid)
        return 0;
    return chown(path, (uid_t)-1, d->gid);
}

static int
prepare_runtime_dir(nlpd_daemon *d)
{
    const char *dir = d->runtime_dir;
    int rc = nlpd__mkdir_p(dir, 0750);
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot create runtime dir %s: %s\"", dir, strerror(-rc));
        return rc;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"runtime dir %s is not a directory\"", dir);
        return NLPD_EINVAL;
    }
    if (sb.st_uid != geteuid()) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"runtime dir %s belongs to uid %u, not to us\"", dir,
                 (unsigned)sb.st_uid);
        return NLPD_EINVAL;
    }
    if (daemon_share_with_group(d, dir, 0750) != 0)
        NLPD_LOG(NLPD_LOG_WARNING, "msg=\"cannot set mode/group of %s: %s\"", dir,
                 strerror(errno));
    /* One daemon per directory: a second one would unlink the first one's
     * sockets by binding over them. */
    char path[400];
    snprintf(path, sizeof(path), "%s/nlpd.pid", dir);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->lock_fd < 0) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot open %s: %s\"", path, strerror(errno));
        return NLPD_EINVAL;
    }
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = read(d->lock_fd, pid, sizeof(pid) - 1);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"another nlpd (pid %s) uses runtime dir %s\"", pid, dir);
        close(d->lock_fd);
        d->lock_fd = -1;
        return NLPD_EBUSY;
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(d->lock_fd, 0) != 0 || write(d->lock_fd, pid, (size_t)n) != n)
        NLPD_LOG(NLPD_LOG_WARNING, "msg=\"cannot write %s\"", path);
    snprintf(path, sizeof(path), "%s/%s", dir, NLPD_HOPS_DIR);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot create %s: %s\"", path, strerror(errno));
        return NLPD_EINVAL;
    }
    chmod(path, 0700);
    return 0;
}

/* --- Status and stopping -------------------------------------------------- */

void
daemon_update_status(nlpd_daemon *d, int force)
{
    static uint64_t last_completed;
    uint64_t now = nlpd__mono_us();
    if (!force && now - d->last_status_us < STATUS_EVERY_US)
        return;
    double secs = d->last_status_us ? (double)(now - d->last_status_us) / 1e6 : 0.0;
    double rate = secs > 0 ? (double)(d->completed - last_completed) / secs : 0.0;
    last_completed = d->completed;
    d->last_status_us = now;
    unsigned want, ready = supervisor_ready_count(d, &want);
    const char *what = d->state == D_STARTING    ? "starting"
                       : d->state == D_RELOADING ? "reloading"
                       : d->state == D_STOPPING  ? "stopping"
                                                 : "running";
    char status[300];
    snprintf(status, sizeof(status),
             "STATUS=%s: %u/%u workers ready; %zu in flight; %llu done (%.0f/s); %llu refused",
             what, ready, want, d->n_flight, (unsigned long long)d->completed, rate,
             (unsigned long long)d->refused);
    nlpd_sd_notify(status);
}

void
daemon_begin_stop(nlpd_daemon *d, const char *why)
{
    if (d->state == D_STOPPING)
        return;
    NLPD_LOG(NLPD_LOG_NOTICE, "in_flight=%zu msg=\"stopping (%s): no new documents; draining\"",
             d->n_flight, why);
    d->state = D_STOPPING;
    d->drain_deadline_us = nlpd__mono_us() + (uint64_t)d->cfg.drain_timeout_ms * 1000u;
    nlpd_sd_notify("STOPPING=1");
    daemon_update_status(d, 1);
}

/* What is still in flight when draining ends goes back to its client with
 * an error record rather than disappearing. */
static void
flush_in_flight(nlpd_daemon *d)
{
    if (d->n_flight == 0)
        return;
    /* Documents waiting for their commit are accepted first: they are on
     * disk once it returns. */
    durable_commit(d);
    NLPD_LOG(NLPD_LOG_WARNING, "in_flight=%zu journaled=%d msg=\"drain deadline passed; returning "
                               "unfinished documents with an error\"",
             d->n_flight, d->journal != NULL);
    flight *f, *tmp;
    HASH_ITER(hh, d->flights, f, tmp)
    {
        broker_detach(d, f);
        if (d->journal != NULL) {
            /* Its journal entry stays pending: the next start finishes it
             * and stores the result. */
            f->no_store = 1;
            flight_add_error(d, f, "daemon", "shutdown",
                             "the daemon stopped before this document was finished; it stays "
                             "in the journal and its result will be stored after the restart "
                             "(nlpctl get KEY)",
                             0);
        } else {
            flight_add_error(d, f, "daemon", "shutdown",
                             "the daemon stopped before this document was finished", 0);
        }
        front_sink(d, f);
    }
}

/* --- tcp endpoints (CurveZMQ) ---------------------------------------------- */

static int
tcp_configured(const nlpd_daemon *d)
{
    return d->cfg.listen[0] != '\0' || strncmp(d->cfg.front_extra, "tcp://", 6) == 0;
}

/* Binds the front door, control, results and heartbeat sockets on tcp,
 * after their ipc endpoints (which stay without Curve). */
static int
listen_tcp(nlpd_daemon *d)
{
    if (d->sec == NULL)
        return 0;
    int rc = 0;
    if (strncmp(d->cfg.front_extra, "tcp://", 6) == 0)
        rc = nlpd_security_bind(d->sec, d->front, d->cfg.front_extra, "front");
    if (d->cfg.listen[0] == '\0')
        return rc;
    struct {
        void *sock;
        unsigned offset;
        const char *what;
    } eps[] = {{d->front, NLPD_TCP_FRONT, "front"},
               {d->control, NLPD_TCP_CONTROL, "control"},
               {d->pub, NLPD_TCP_RESULTS, "results"},
               {d->hb, NLPD_TCP_HEARTBEAT, "heartbeat"}};
    for (size_t i = 0; rc == 0 && i < sizeof(eps) / sizeof(eps[0]); i++) {
        char ep[300];
        rc = nlpd_security_endpoint(d->sec, eps[i].offset, ep, sizeof(ep));
        if (rc == 0)
            rc = nlpd_security_bind(d->sec, eps[i].sock, ep, eps[i].what);
    }
    return rc;
}

/* The authorized keys are read again on every reload: SIGHUP reads them at
 * once (even when the new configuration fails), a reload started another
 * way (nlpctl reload) when the tick sees it begin. */
static unsigned keys_reload_gen;

static void
reload_keys(nlpd_daemon *d)
{
    nlpd_security_reload(d->sec);
    keys_reload_gen = d->reload_gen;
}

static void
on_closed(uv_handle_t *h)
{
    (void)h;
}

static int stopped_everything;

static void
close_everything(nlpd_daemon *d)
{
    if (stopped_everything)
        return;
    stopped_everything = 1;
    durable_close(d);
    metrics_close(d);
    front_close(d);
    nlpd_security_forget(d->sec, d->control);
    nlpd_security_forget(d->sec, d->hb);
    control_close(d);
    if (d->pl != NULL) {
        pipeline_unref(d, d->pl); /* before the stages it names go */
        d->pl = NULL;
    }
    while (d->stages != NULL)
        stage_destroy(d, d->stages);
    nlpd_security_close(&d->sec);
    uv_close((uv_handle_t *)&d->tick, on_closed);
    uv_close((uv_handle_t *)&d->prepare, on_closed);
    uv_close((uv_handle_t *)&d->sig_term, on_closed);
    uv_close((uv_handle_t *)&d->sig_int, on_closed);
    uv_close((uv_handle_t *)&d->sig_hup, on_closed);
}

static void
on_tick(uv_timer_t *t)
{
    nlpd_daemon *d = t->data;
    uint64_t now = nlpd__mono_us();
    supervisor_tick(d, now);
    durable_tick(d, now);
    metrics_tick(d, now);
    if (d->sec != NULL) {
        if (d->state == D_RELOADING && d->reload_gen != keys_reload_gen)
            reload_keys(d);
        nlpd_security_tick(d->sec, now);
    }
    if (d->state == D_STOPPING) {
        static int drained;
        if (!drained && (d->n_flight == 0 || now >= d->drain_deadline_us)) {
            flush_in_flight(d);
            supervisor_stop_all(d);
            drained = 1;
        }
        if (drained && supervisor_all_exited(d)) {
            NLPD_LOG(NLPD_LOG_NOTICE, "accepted=%llu completed=%llu msg=\"stopped\"",
                     (unsigned long long)d->accepted, (unsigned long long)d->completed);
            close_everything(d);
            return;
        }
    }
    if (d->watchdog_us != 0) {
        static uint64_t last;
        /* From the loop itself: a wedged loop stops the watchdog. A stage
         * in trouble is this daemon's to restart and report, not a reason
         * for systemd to kill the whole service. */
        if (now - last >= d->watchdog_us / 2) {
            nlpd_sd_notify("WATCHDOG=1");
            last = now;
        }
    }
    daemon_update_status(d, 0);
    /* Safety net for ZMQ_FD's edge: look at every socket once per tick. */
    if (d->front != NULL)
        nlpd__zwatch_kick(&d->front_w);
    if (d->control != NULL)
        nlpd__zwatch_kick(&d->control_w);
    if (d->hb != NULL)
        nlpd__zwatch_kick(&d->hb_w);
    for (stage *st = d->stages; st != NULL; st = st->next) {
        if (st->sock != NULL)
            nlpd__zwatch_kick(&st->watch);
    }
}

/* Before the loop blocks: every socket sent on during this turn is looked
 * at once (a send can swallow ZMQ_FD's edge while messages wait). */
static void
on_prepare(uv_prepare_t *p)
{
    nlpd_daemon *d = p->data;
    durable_flush(d);
    broker_flush(d);
    if (d->front != NULL)
        nlpd__zwatch_flush(&d->front_w);
    if (d->control != NULL)
        nlpd__zwatch_flush(&d->control_w);
    for (stage *st = d->stages; st != NULL; st = st->next) {
        if (st->sock != NULL)
            nlpd__zwatch_flush(&st->watch);
    }
}

static void
on_signal(uv_signal_t *h, int signum)
{
    nlpd_daemon *d = h->data;
    if (signum == SIGHUP) {
        NLPD_LOG(NLPD_LOG_NOTICE, "msg=\"SIGHUP: reloading the configuration\"");
        if (d->sec != NULL)
            nlpd_security_reload(d->sec);
        supervisor_reload(d);
        keys_reload_gen = d->reload_gen;
    } else {
        daemon_begin_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
    }
}

/* --- Main ----------------------------------------------------------------- */

static int
load_all(nlpd_daemon *d, const char *runtime_dir_arg, const char *state_dir_arg, int log_level_arg,
         char *why, size_t why_len)
{
    nlpd_config_defaults(&d->cfg, d->self_exe);
    for (int i = 0; i < d->n_config_paths; i++) {
        int rc = nlpd_config_load(&d->cfg, d->config_paths[i], why, why_len);
        if (rc != 0)
            return rc;
    }
    if (runtime_dir_arg != NULL)
        snprintf(d->cfg.runtime_dir, sizeof(d->cfg.runtime_dir), "%s", runtime_dir_arg);
    if (state_dir_arg != NULL) {
        if (strlen(state_dir_arg) >= sizeof(d->cfg.state_dir)) {
            snprintf(why, why_len, "--state-dir is too long");
            return NLPD_ECONFIG;
        }
        snprintf(d->cfg.state_dir, sizeof(d->cfg.state_dir), "%s", state_dir_arg);
    }
    if (log_level_arg >= 0)
        d->cfg.log_level = log_level_arg;
    return nlpd_config_finish(&d->cfg, why, why_len);
}

int
main(int argc, char **argv)
{
    static nlpd_daemon the_daemon;
    nlpd_daemon *d = &the_daemon;
    const char *paths[64];
    const char *runtime_dir_arg = NULL, *state_dir_arg = NULL;
    int log_level_arg = -1, check_only = 0;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"runtime-dir", required_argument, NULL, 'r'},
        {"state-dir", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'l'},
        {"check-config", no_argument, NULL, 'C'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:r:s:l:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (d->n_config_paths >= 64) {
                fprintf(stderr, "nlpd: too many --config files\n");
                return 2;
            }
            paths[d->n_config_paths++] = optarg;
            break;
        case 'r':
            runtime_dir_arg = optarg;
            break;
        case 's':
            state_dir_arg = optarg;
            break;
        case 'l':
            log_level_arg = nlpd_log_level_parse(optarg);
            if (log_level_arg < 0) {
                fprintf(stderr, "nlpd: unknown log level '%s'\n", optarg);
                return 2;
            }
            break;
        case 'C':
            check_only = 1;
            break;
        case 'V':
            printf("nlpd %s\n", NLPD_VERSION_STRING);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "nlpd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    d->config_paths = paths;
    d->log_level_arg = log_level_arg;
    static char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        d->self_exe = self;
    }
    char why[700];
    nlpd_log_set_sink(nlpd_log_stderr, NULL, log_level_arg >= 0 ? log_level_arg : NLPD_LOG_INFO);
    if (load_all(d, runtime_dir_arg, state_dir_arg, log_level_arg, why, sizeof(why)) != 0) {
        fprintf(stderr, "nlpd: %s\n", why);
        return 1;
    }
    if (check_only) {
        nlpd_config_print(&d->cfg, stdout);
        nlpd_config_release(&d->cfg);
        return 0;
    }
    nlpd_log_set_sink(nlpd_log_stderr, NULL, d->cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    /* A file size limit reached by the journal is an error to report (the
     * front door refuses), not a reason to die. */
    signal(SIGXFSZ, SIG_IGN);

    d->lock_fd = -1;
    d->exit_code = 1;
    d->gid = resolve_group(d->cfg.group);
    if (nlpd__runtime_dir(d->cfg.runtime_dir[0] ? d->cfg.runtime_dir : NULL, d->runtime_dir,
                          sizeof(d->runtime_dir)) != 0) {
        fprintf(stderr, "nlpd: runtime dir path too long\n");
        return 1;
    }
    if (prepare_runtime_dir(d) != 0)
        return 1;
    d->started_us = nlpd__mono_us();
    d->watchdog_us = nlpd_sd_watchdog_usec();
    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    d->loop = &loop;
    loop.data = d;
    d->zctx = zmq_ctx_new();
    if (rc == 0 && d->zctx == NULL)
        rc = NLPD_ENOMEM;
    if (rc == 0)
        rc = nlpd_doc_new(&d->scratch);
    if (rc == 0)
        rc = nlpd__arena_new(&d->front_arena);
    nlpd_sd_notify("STATUS=starting workers");
    if (rc == 0 && tcp_configured(d)) {
        /* Before any tcp bind: the ZAP handler must be there first. */
        rc = nlpd_security_open(&d->sec, d->zctx, &loop, d->cfg.listen, d->cfg.curve_secret_key,
                                d->cfg.authorized_keys, why, sizeof(why));
        if (rc != 0)
            NLPD_LOG(NLPD_LOG_ERR, "msg=\"%s\"", why);
    }
    if (rc == 0)
        rc = control_open(d);
    if (rc == 0)
        rc = front_open(d);
    if (rc == 0)
        rc = listen_tcp(d);
    if (rc == 0)
        rc = metrics_open(d);
    if (rc == 0)
        rc = supervisor_start(d);
    if (rc == 0)
        rc = durable_open(d);
    d->tick.data = d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
    d->prepare.data = d;
    uv_timer_init(&loop, &d->tick);
    uv_prepare_init(&loop, &d->prepare);
    uv_prepare_start(&d->prepare, on_prepare);
    uv_signal_init(&loop, &d->sig_term);
    uv_signal_init(&loop, &d->sig_int);
    uv_signal_init(&loop, &d->sig_hup);
    if (rc == 0) {
        uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
        uv_signal_start(&d->sig_term, on_signal, SIGTERM);
        uv_signal_start(&d->sig_int, on_signal, SIGINT);
        uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
        NLPD_LOG(NLPD_LOG_NOTICE, "version=%s runtime_dir=%s stages=%d msg=\"nlpd started\"",
                 NLPD_VERSION_STRING, d->runtime_dir, d->pl->n);
        d->exit_code = 0;
    } else {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot start: %s\"", nlpd_strerror(rc));
        /* Workers that did start go down with us. */
        supervisor_stop_all(d);
        d->state = D_STOPPING;
        d->drain_deadline_us = 0;
        uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
    }
    uv_run(&loop, UV_RUN_DEFAULT);

    /* Remote workers have no process to wait for. */
    worker *w, *tmp;
    HASH_ITER(hh, d->workers, w, tmp)
    {
        HASH_DEL(d->workers, w);
        if (w->remote)
            nlpd_free(w);
    }
    if (uv_loop_close(&loop) != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"a loop handle was leaked\"");
        d->exit_code = 1;
    }
    metrics_close(d); /* if the start failed before close_everything */
    nlpd_doc_free(&d->scratch);
    nlpd__arena_free(&d->front_arena);
    if (d->zctx != NULL)
        zmq_ctx_term(d->zctx);
    nlpd_config_release(&d->cfg);
    if (d->lock_fd >= 0) {
        char path[400];
        if (snprintf(path, sizeof(path), "%s/nlpd.pid", d->runtime_dir) < (int)sizeof(path))
            unlink(path);
        close(d->lock_fd);
    }
    return d->exit_code;
}
