/* tests/bench/pipeline_bench.c — documents/s and latency through nlpd, beside
 * the bare ZeroMQ ceiling of the same shape, measured in the same run.
 *
 * A program that prints figures, not a test: it asserts nothing about speed
 * and exits 0 whatever the figures are, nonzero only when something broke
 * (a process that would not start, a pipeline that stalled, a wrong result).
 *
 * Two pipelines of K stages (default 4) carry the same number of messages
 * of the same size, one after the other:
 *
 *  - bare: one device process (nlpd-bench-bare-device) holds K+1 hops, each
 *    a PULL -> PUSH pair served by one thread around one zmq_poll, and K
 *    forwarder processes (nlpd-bench-bare-forward) each PULL from hop i and
 *    PUSH a fresh copy of every message to hop i+1: the sockets, hops and
 *    processes of nlpd doing nothing but moving bytes.
 *  - nlpd: the real daemon with K nlpd-passthrough stages; each document
 *    is an encoded nlpd.v1.Document whose `input` is an English text of
 *    --size bytes, submitted with "pb wait".
 *
 * Each is measured twice by the same client loop (one thread, zmq_poll):
 * flat out (bare: as fast as the high-water marks take them; nlpd: with
 * --window documents in flight), giving messages/s over the steady part
 * after a 5% warm-up; then paced at half that rate, giving latency p50/p99
 * measured from the time each message was due to be sent (so a client or
 * machine that falls behind shows up in the figures instead of hiding), and
 * also from the time it was actually sent.
 *
 * The machine is a shared VM: beside each rate the report gives the CPU
 * time the benchmark's own processes spent per message and the CPUs
 * everything else kept busy meanwhile, read from /proc. The CPU cost moves
 * much less with the neighbours than the rates do.
 *
 * The child processes are started with PR_SET_PDEATHSIG and stopped with
 * SIGTERM (then SIGKILL) on every way out; the temp dir is removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "client.h"
#include "nlpd/alloc.h"
#include "nlpd/export.h"
#include "nlpd/json.h"
#include "nlpd/nlpd.pb-c.h"
#include "test_support.h"

#ifndef NLPD_BENCH_BUILD_TYPE
#define NLPD_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef NLPD_BENCH_SANITIZE
#define NLPD_BENCH_SANITIZE ""
#endif

#define TARGET_RATIO    0.60
#define TARGET_P99_MS   5.0
#define WARMUP_FRACTION 0.05
#define STALL_MS        30000
#define MAX_CHILDREN    40
#define MAX_STAGES      32
/* The daemon refuses past max_in_flight (1024 by default). */
#define NLPD_MAX_WINDOW   1000
#define PACED_MAX_SECONDS 10.0

/* --- Options -------------------------------------------------------------- */

typedef struct opts {
    uint64_t docs;
    size_t size;
    unsigned window;
    unsigned stage_window; /* 0: the daemon's default */
    unsigned bare_window;  /* 0: only the high-water marks bound the bare pipe */
    int stages;
    int smoke;
    int json;
    int only; /* 0: both; 1: bare only; 2: nlpd only (for profiling) */
    const char *journal; /* off, group, full, default (the daemon's) */
    long group_commit_ms; /* -1: the daemon's default */
} opts;

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: nlpd-bench-pipeline [options]\n"
            "\n"
            "Documents/s and latency p50/p99 through nlpd with pass-through stages,\n"
            "beside the bare ZeroMQ ceiling of the same shape, in the same run.\n"
            "\n"
            "  --docs N          messages per measurement (default 100000)\n"
            "  --size BYTES      message size / document text size (default 4096)\n"
            "  --window W        nlpd documents in flight when flat out (default 64, max %d)\n"
            "  --stages K        pass-through stages (default 4; bare: K+1 hops)\n"
            "  --stage-window W  credit window of each stage (default: the daemon's)\n"
            "  --bare-window W   bare messages in flight when flat out (default: as many\n"
            "                    as the high-water marks take)\n"
            "  --smoke           200 documents, no paced runs (CI: it still runs)\n"
            "  --json            the report to stderr, one JSON line to stdout\n"
            "  --only bare|nlpd  measure one side only (to profile it); no ratio\n"
            "  --journal MODE    nlpd's journal: off (the default here: the cost of moving\n"
            "                    documents alone), group (group commit), full (a synced\n"
            "                    commit per document) or default (the daemon's: group).\n"
            "                    The journal lives in the benchmark's temp dir, so the\n"
            "                    figures are those of the disk that holds it\n"
            "  --group-commit-ms N  group_commit_ms of the daemon (default: the daemon's)\n"
            "\n"
            "Executables are taken from $NLPD_BUILD_DIR/bin, else beside this one.\n",
            NLPD_MAX_WINDOW);
}

static int
parse_num(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] == '\0' || s[0] == '-' || *end != '\0' || errno != 0 || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* A numeric option: its name, its range and where its value goes. */
typedef struct num_opt {
    const char *name;
    unsigned long long lo, hi;
    unsigned long long *value;
} num_opt;

/* Takes argv[*i] (and its value) when it is one of `nums`. Returns 1 when
 * taken, 0 when it is not one of them, -1 after a message on a bad value. */
static int
parse_num_opt(const num_opt *nums, size_t n, int argc, char **argv, int *i)
{
    for (size_t k = 0; k < n; k++) {
        if (strcmp(argv[*i], nums[k].name) != 0)
            continue;
        if (*i + 1 >= argc || parse_num(argv[*i + 1], nums[k].lo, nums[k].hi, nums[k].value) != 0) {
            fprintf(stderr, "nlpd-bench-pipeline: %s takes a number from %llu to %llu\n",
                    nums[k].name, nums[k].lo, nums[k].hi);
            return -1;
        }
        (*i)++;
        return 1;
    }
    return 0;
}

/* Returns 0, 1 for --help, or -1 after a message on a bad command line. */
static int
parse_opts(opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    unsigned long long docs = 0, size = 4096, window = 64, stages = 4, stage_window = 0,
                       bare_window = 0, group_ms = 1000000;
    const num_opt nums[] = {
        {"--docs", 20, 100000000, &docs},           {"--size", 16, 1u << 24, &size},
        {"--window", 1, NLPD_MAX_WINDOW, &window},  {"--stages", 1, MAX_STAGES, &stages},
        {"--stage-window", 1, 1024, &stage_window}, {"--bare-window", 0, 1000000, &bare_window},
        {"--group-commit-ms", 0, 10000, &group_ms},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int taken = parse_num_opt(nums, sizeof(nums) / sizeof(nums[0]), argc, argv, &i);
        if (taken < 0)
            return -1;
        if (taken > 0)
            continue;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--smoke") == 0) {
            o->smoke = 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (i + 1 < argc && strcmp(a, "--only") == 0 &&
                   (strcmp(argv[i + 1], "bare") == 0 || strcmp(argv[i + 1], "nlpd") == 0)) {
            o->only = strcmp(argv[++i], "bare") == 0 ? 1 : 2;
        } else if (i + 1 < argc && strcmp(a, "--journal") == 0 &&
                   (strcmp(argv[i + 1], "off") == 0 || strcmp(argv[i + 1], "group") == 0 ||
                    strcmp(argv[i + 1], "full") == 0 || strcmp(argv[i + 1], "default") == 0)) {
            o->journal = argv[++i];
        } else {
            fprintf(stderr, "nlpd-bench-pipeline: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    o->docs = docs != 0 ? docs : o->smoke ? 200 : 100000;
    o->size = (size_t)size;
    o->window = (unsigned)window;
    o->stages = (int)stages;
    o->stage_window = (unsigned)stage_window;
    o->bare_window = (unsigned)bare_window;
    o->group_commit_ms = group_ms == 1000000 ? -1 : (long)group_ms;
    if (o->journal == NULL)
        o->journal = "off";
    return 0;
}

/* --- Time and the report stream --------------------------------------------- */

static uint64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static FILE *report; /* stdout, or stderr with --json */

static void NLPD_PRINTF(1, 2) progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("  .. ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void NLPD_PRINTF(1, 2) die_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nlpd-bench-pipeline: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* --- Child processes ------------------------------------------------------- */

typedef struct child {
    pid_t pid;
    char name[48];
    int status; /* valid once reaped */
    int reaped;
    int reported; /* an unexpected exit was said already */
} child;

static child children[MAX_CHILDREN];
static int n_children;
static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Starts argv[0] with stdin and stdout on /dev/null and stderr appended to
 * `log_path`. The child gets SIGTERM when this process dies, so nothing
 * outlives a benchmark that crashes or is killed. Returns the child's index
 * or -1. */
static int
spawn(const char *name, char *const argv[], const char *log_path)
{
    if (n_children >= MAX_CHILDREN) {
        die_msg("too many child processes");
        return -1;
    }
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        die_msg("cannot open %s: %s", log_path, strerror(errno));
        if (logfd >= 0)
            close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return -1;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec: the parent
         * has ZeroMQ threads. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(127);
        dup2(nullfd, 0);
        dup2(nullfd, 1);
        dup2(logfd, 2);
        execv(argv[0], argv);
        static const char msg[] = "nlpd-bench-pipeline: exec failed\n";
        ssize_t w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        _exit(127);
    }
    int err = errno;
    close(logfd);
    close(nullfd);
    if (pid < 0) {
        die_msg("fork: %s", strerror(err));
        return -1;
    }
    child *c = &children[n_children];
    memset(c, 0, sizeof(*c));
    c->pid = pid;
    snprintf(c->name, sizeof(c->name), "%s", name);
    return n_children++;
}

/* Returns 1 when the child has exited (and reaps it). */
static int
child_exited(child *c)
{
    if (c->reaped)
        return 1;
    int st;
    pid_t r = waitpid(c->pid, &st, WNOHANG);
    if (r == c->pid || (r < 0 && errno == ECHILD)) {
        c->status = r == c->pid ? st : 0;
        c->reaped = 1;
        return 1;
    }
    return 0;
}

static void
describe_exit(const child *c, char *buf, size_t len)
{
    if (WIFEXITED(c->status)) {
        snprintf(buf, len, "exited with status %d%s", WEXITSTATUS(c->status),
                 WEXITSTATUS(c->status) == 127 ? " (could not be executed)" : "");
    } else if (WIFSIGNALED(c->status)) {
        snprintf(buf, len, "was killed by signal %d", WTERMSIG(c->status));
    } else {
        snprintf(buf, len, "ended (status %d)", c->status);
    }
}

/* Sends SIGTERM and waits up to timeout_ms, then SIGKILL. Returns 0 when the
 * child exited by itself with status 0, -1 otherwise (after saying why). */
static int
child_stop(child *c, int timeout_ms)
{
    if (!c->reaped) {
        kill(c->pid, SIGTERM);
        for (int waited = 0; !child_exited(c) && waited < timeout_ms; waited += 10)
            sleep_ms(10);
        if (!c->reaped) {
            die_msg("%s (pid %d) did not stop within %d ms of SIGTERM; killed", c->name,
                    (int)c->pid, timeout_ms);
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &c->status, 0);
            c->reaped = 1;
            return -1;
        }
    }
    if (WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0)
        return 0;
    if (c->reported)
        return -1;
    c->reported = 1;
    char why[96];
    describe_exit(c, why, sizeof(why));
    die_msg("%s (pid %d) %s", c->name, (int)c->pid, why);
    return -1;
}

/* The last resort on any way out: nothing is left running or unreaped. */
static void
kill_all_children(void)
{
    for (int i = 0; i < n_children; i++) {
        if (!children[i].reaped) {
            kill(children[i].pid, SIGKILL);
            waitpid(children[i].pid, &children[i].status, 0);
            children[i].reaped = 1;
        }
    }
}

/* Returns 0 while every child started is still running; else says which
 * one is gone and returns -1. */
static int
children_alive(void)
{
    for (int i = 0; i < n_children; i++) {
        child *c = &children[i];
        if (!c->reaped && child_exited(c)) {
            char why[96];
            describe_exit(c, why, sizeof(why));
            die_msg("%s (pid %d) %s", c->name, (int)c->pid, why);
            c->reported = 1;
            return -1;
        }
    }
    return 0;
}

/* --- Temp dir and executables ----------------------------------------------- */

static char bin_dir[PATH_MAX];

static int
find_bin_dir(void)
{
    const char *b = getenv("NLPD_BUILD_DIR");
    if (b != NULL && b[0] != '\0') {
        snprintf(bin_dir, sizeof(bin_dir), "%s/bin", b);
        return 0;
    }
    ssize_t n = readlink("/proc/self/exe", bin_dir, sizeof(bin_dir) - 1);
    if (n <= 0) {
        die_msg("cannot find my own executable: %s", strerror(errno));
        return -1;
    }
    bin_dir[n] = '\0';
    char *slash = strrchr(bin_dir, '/');
    if (slash != NULL)
        *slash = '\0';
    return 0;
}

static int
bin_path(char *out, size_t len, const char *name)
{
    int n = snprintf(out, len, "%s/%s", bin_dir, name);
    if (n < 0 || (size_t)n >= len || access(out, X_OK) != 0) {
        die_msg("%s/%s is not there: build it first (cmake --build BUILD --target bench)", bin_dir,
                name);
        return -1;
    }
    return 0;
}

static char *
make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    char tmpl[256];
    /* ipc:// paths are limited to 107 bytes: keep the prefix short. */
    int n = snprintf(tmpl, sizeof(tmpl), "%s/nlpd-bench.XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof(tmpl) || n > 60) {
        die_msg("TMPDIR is too long for ipc:// endpoints: %s", base);
        return NULL;
    }
    if (mkdtemp(tmpl) == NULL) {
        die_msg("mkdtemp %s: %s", tmpl, strerror(errno));
        return NULL;
    }
    return strdup(tmpl);
}

static void
print_log_tail(const char *path)
{
    size_t n;
    char *log = nlpd_test_read_file(path, &n);
    if (log == NULL)
        return;
    const char *start = n > 4000 ? log + n - 4000 : log;
    fprintf(stderr, "----- %s (end) -----\n%s----- end of log -----\n", path, start);
    free(log);
}

/* --- Measurements ------------------------------------------------------------ */

/* One way to move messages, seen by the measuring loop. */
typedef struct driver driver;

struct driver {
    const char *name;
    /* Sends message `seq` stamped `stamp_ns`. Returns 0, 1 when the socket
     * is full, or -1 after a message. */
    int (*send)(driver *d, uint64_t seq, uint64_t stamp_ns);
    /* Takes one arrival. Returns 0 with *seq and *stamp_ns set, 1 when
     * nothing is waiting, 2 when something other than an arrival was
     * consumed (read again), or -1 after a message. */
    int (*recv)(driver *d, uint64_t *seq, uint64_t *stamp_ns);
    void *send_sock;
    void *recv_sock;        /* may equal send_sock */
    uint64_t max_in_flight; /* 0: only the high-water marks bound it */
};

typedef struct phase_result {
    uint64_t n;
    double rate;                     /* arrivals/s after the warm-up */
    double p50_ms, p99_ms, max_ms;   /* from the time each was due (paced) or sent */
    double sent_p50_ms, sent_p99_ms; /* paced: from the time each was actually sent */
    double target_rate;              /* paced runs: the rate asked for */
    double late_ms;                  /* paced runs: how far behind schedule sends fell at worst */
    double seconds;
    int cpu_valid;      /* the phase lasted long enough for clock ticks */
    double cpu_us;      /* CPU time of the benchmark's processes per message */
    double cpus_ours;   /* CPUs they kept busy on average */
    double cpus_others; /* CPUs everything else kept busy (a noisy machine) */
} phase_result;

/* --- CPU accounting ------------------------------------------------------------
 *
 * On a shared machine the rates move with whatever else runs. The CPU time
 * each message costs does not (much): it is measured from /proc for this
 * process and all its descendants (the daemon, its workers, the bare
 * processes), beside the whole machine's busy time from /proc/stat. */

typedef struct cpu_snap {
    uint64_t ours_ticks;   /* utime + stime of this process tree */
    uint64_t machine_busy; /* busy jiffies of all CPUs */
} cpu_snap;

typedef struct proc_ticks {
    int pid, ppid;
    uint64_t ticks;
    int ours;
} proc_ticks;

static int
read_proc_stat(int pid, proc_ticks *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* "pid (comm) state ppid ... utime stime": comm may hold anything. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    unsigned long long f[13];
    int ppid;
    char state;
    /* NOLINTNEXTLINE(cert-err34-c): written by the kernel */
    if (sscanf(p + 1, " %c %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &state,
               &ppid, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9],
               &f[10]) != 13)
        return -1;
    out->pid = pid;
    out->ppid = ppid;
    out->ticks = f[9] + f[10]; /* fields 14 and 15 */
    out->ours = pid == (int)getpid();
    return 0;
}

static uint64_t
machine_busy_jiffies(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return 0;
    unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                       steal = 0;
    /* NOLINTNEXTLINE(cert-err34-c): written by the kernel */
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
                   &iowait, &irq, &softirq, &steal);
    fclose(f);
    return n == 8 ? user + nice + sys + irq + softirq + steal : 0;
}

/* Marks the descendants of the process marked `ours`, however deep
 * (bench -> nlpd -> workers). */
static void
mark_descendants(proc_ticks *ps, size_t n)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < n && !ps[i].ours; k++) {
                if (ps[k].ours && ps[k].pid == ps[i].ppid) {
                    ps[i].ours = 1;
                    changed = 1;
                }
            }
        }
    }
}

static void
cpu_snapshot(cpu_snap *s)
{
    memset(s, 0, sizeof(*s));
    s->machine_busy = machine_busy_jiffies();
    DIR *d = opendir("/proc");
    if (d == NULL)
        return;
    size_t n = 0, cap = 0;
    proc_ticks *ps = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 512;
            proc_ticks *np = realloc(ps, nc * sizeof(*ps));
            if (np == NULL)
                break;
            ps = np;
            cap = nc;
        }
        if (read_proc_stat((int)strtol(e->d_name, NULL, 10), &ps[n]) == 0)
            n++;
    }
    closedir(d);
    mark_descendants(ps, n);
    for (size_t i = 0; i < n; i++) {
        if (ps[i].ours)
            s->ours_ticks += ps[i].ticks;
    }
    free(ps);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double
percentile_ms(const uint64_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    /* Nearest rank: the smallest sample with at least p of them at or below. */
    double rank = p * (double)n;
    size_t i = (size_t)rank;
    if ((double)i < rank)
        i++;
    if (i > 0)
        i--;
    if (i >= n)
        i = n - 1;
    return (double)sorted[i] / 1e6;
}

/* One measurement in progress. */
typedef struct phase {
    driver *d;
    uint64_t n;
    uint64_t cap;  /* in flight at most; 0: no bound but the sockets' */
    uint64_t warm; /* arrivals before the steady part */
    double rate;   /* paced: messages/s; 0: flat out */
    uint64_t interval, due, worst_late;
    uint64_t sent, got, n_lat;
    uint64_t t0, t_warm, t_last;
    uint64_t *lat;      /* after the warm-up: from the stamp (due or sent time) */
    uint64_t *lat_sent; /* after the warm-up: from the actual send */
    uint64_t *sent_at;  /* by message number */
    int tfd;            /* paced: wakes the loop when the next message is due */
    int blocked;        /* the last send found the socket full */
} phase;

/* Sends what the window allows and, paced, what is due. Returns 0 or -1. */
static int
phase_send(phase *ph)
{
    uint64_t now = mono_ns();
    ph->blocked = 0;
    while (ph->sent < ph->n && (ph->cap == 0 || ph->sent - ph->got < ph->cap)) {
        uint64_t stamp = now;
        if (ph->rate > 0) {
            if (ph->due > now)
                break;
            stamp = ph->due;
            if (now - ph->due > ph->worst_late)
                ph->worst_late = now - ph->due;
        }
        int r = ph->d->send(ph->d, ph->sent, stamp);
        if (r < 0)
            return -1;
        if (r == 1) {
            ph->blocked = 1;
            break;
        }
        ph->sent_at[ph->sent++] = now;
        ph->due += ph->interval;
        now = mono_ns();
    }
    return 0;
}

/* Takes every arrival waiting. Returns 0 or -1. */
static int
phase_take(phase *ph)
{
    for (;;) {
        uint64_t seq, stamp;
        int r = ph->d->recv(ph->d, &seq, &stamp);
        if (r < 0)
            return -1;
        if (r == 1)
            return 0;
        if (r == 2)
            continue;
        uint64_t t = mono_ns();
        if (seq >= ph->sent) {
            die_msg("%s: an arrival for message %" PRIu64 " that was not sent", ph->d->name, seq);
            return -1;
        }
        ph->got++;
        ph->t_last = t;
        if (ph->got == ph->warm)
            ph->t_warm = t;
        if (ph->got > ph->warm) {
            ph->lat_sent[ph->n_lat] = t - ph->sent_at[seq];
            ph->lat[ph->n_lat++] = t > stamp ? t - stamp : 0;
        }
    }
}

/* Waits for an arrival, for room when a send was refused or, paced, for
 * the next due time; at most a second. Returns 1 when something may be
 * ready, 0 after a quiet second, -1 on an error. */
static int
phase_wait(phase *ph)
{
    zmq_pollitem_t items[3];
    int ni = 0;
    items[ni++] = (zmq_pollitem_t){.socket = ph->d->recv_sock, .events = ZMQ_POLLIN};
    if (ph->blocked && ph->d->send_sock == ph->d->recv_sock) {
        items[0].events = (short)(items[0].events | ZMQ_POLLOUT);
    } else if (ph->blocked) {
        items[ni++] = (zmq_pollitem_t){.socket = ph->d->send_sock, .events = ZMQ_POLLOUT};
    }
    int can_send = ph->sent < ph->n && (ph->cap == 0 || ph->sent - ph->got < ph->cap);
    if (ph->rate > 0 && can_send && !ph->blocked) {
        if (ph->due <= mono_ns())
            return 1;
        struct itimerspec its;
        memset(&its, 0, sizeof(its));
        its.it_value.tv_sec = (time_t)(ph->due / 1000000000u);
        its.it_value.tv_nsec = (long)(ph->due % 1000000000u);
        if (timerfd_settime(ph->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
            items[ni++] = (zmq_pollitem_t){.socket = NULL, .fd = ph->tfd, .events = ZMQ_POLLIN};
    }
    int ready = zmq_poll(items, ni, 1000);
    if (ph->tfd >= 0) {
        uint64_t expirations;
        ssize_t r = read(ph->tfd, &expirations, sizeof(expirations));
        (void)r; /* EAGAIN when it had not expired: nothing to clear */
    }
    if (ready < 0 && zmq_errno() != EINTR) {
        die_msg("zmq_poll: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    return ready != 0;
}

/* After a wait that found `ready` (as phase_wait returns): stops the
 * phase on an error, an interruption, a process of the pipeline gone or a
 * pipe that moved nothing for STALL_MS. Returns 0 to go on or -1. */
static int
phase_check(const phase *ph, int ready)
{
    if (ready < 0)
        return -1;
    if (interrupted) {
        die_msg("interrupted");
        return -1;
    }
    if (ready == 0 && children_alive() != 0) {
        die_msg("%s: a process of the pipeline is gone (%" PRIu64 " sent, %" PRIu64 " arrived)",
                ph->d->name, ph->sent, ph->got);
        return -1;
    }
    if ((mono_ns() - ph->t_last) / 1000000u > STALL_MS) {
        die_msg("%s stalled: %" PRIu64 " sent, %" PRIu64 " arrived, nothing for %d s", ph->d->name,
                ph->sent, ph->got, STALL_MS / 1000);
        return -1;
    }
    return 0;
}

static void
phase_results(phase *ph, const cpu_snap *c0, phase_result *res)
{
    cpu_snap c1;
    cpu_snapshot(&c1);
    double hz = (double)sysconf(_SC_CLK_TCK);
    double secs = (double)(mono_ns() - ph->t0) / 1e9;
    double ours = (double)(c1.ours_ticks - c0->ours_ticks) / hz;
    double busy = (double)(c1.machine_busy - c0->machine_busy) / hz;
    res->cpu_valid = secs >= 1.0; /* /proc counts in ticks of 10 ms */
    res->cpu_us = ours * 1e6 / (double)ph->n;
    res->cpus_ours = ours / secs;
    res->cpus_others = busy > ours ? (busy - ours) / secs : 0.0;
    uint64_t span = ph->t_last > ph->t_warm ? ph->t_last - ph->t_warm : 1;
    res->rate = (double)(ph->got - ph->warm) * 1e9 / (double)span;
    res->seconds = (double)(ph->t_last - ph->t0) / 1e9;
    res->late_ms = (double)ph->worst_late / 1e6;
    size_t n = ph->n_lat;
    qsort(ph->lat, n, sizeof(*ph->lat), cmp_u64);
    res->p50_ms = percentile_ms(ph->lat, n, 0.50);
    res->p99_ms = percentile_ms(ph->lat, n, 0.99);
    res->max_ms = n > 0 ? (double)ph->lat[n - 1] / 1e6 : 0.0;
    qsort(ph->lat_sent, n, sizeof(*ph->lat_sent), cmp_u64);
    res->sent_p50_ms = percentile_ms(ph->lat_sent, n, 0.50);
    res->sent_p99_ms = percentile_ms(ph->lat_sent, n, 0.99);
}

/* Moves `n` messages through `d` and measures them. With rate 0, sends as
 * fast as the pipe takes them, within `window` (or d->max_in_flight when
 * 0); with a rate, sends message k when it is due (t0 + k/rate) and stamps
 * it with that due time. Returns 0 or -1 after a message. */
static int
run_phase(driver *d, uint64_t n, unsigned window, double rate, phase_result *res)
{
    memset(res, 0, sizeof(*res));
    res->n = n;
    res->target_rate = rate;
    phase ph;
    memset(&ph, 0, sizeof(ph));
    ph.d = d;
    ph.n = n;
    ph.cap = window > 0 ? window : d->max_in_flight;
    ph.warm = (uint64_t)((double)n * WARMUP_FRACTION);
    ph.rate = rate;
    ph.interval = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
    ph.tfd = -1;
    int rc = -1;
    ph.lat = malloc(n * sizeof(*ph.lat));
    ph.lat_sent = malloc(n * sizeof(*ph.lat_sent));
    ph.sent_at = malloc(n * sizeof(*ph.sent_at));
    if (ph.lat == NULL || ph.lat_sent == NULL || ph.sent_at == NULL) {
        die_msg("out of memory");
        goto out;
    }
    if (rate > 0 && (ph.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0) {
        die_msg("timerfd_create: %s", strerror(errno));
        goto out;
    }
    cpu_snap c0;
    cpu_snapshot(&c0);
    ph.t0 = ph.t_warm = ph.t_last = ph.due = mono_ns();
    while (ph.got < n) {
        if (phase_send(&ph) != 0 || phase_take(&ph) != 0)
            goto out;
        if (ph.got < n && phase_check(&ph, phase_wait(&ph)) != 0)
            goto out;
    }
    phase_results(&ph, &c0, res);
    rc = 0;
out:
    if (ph.tfd >= 0)
        close(ph.tfd);
    free(ph.lat);
    free(ph.lat_sent);
    free(ph.sent_at);
    return rc;
}

/* How many messages a paced run takes: all of them, or what fits in
 * PACED_MAX_SECONDS at `rate`, whichever is fewer (at least 1000). */
static uint64_t
paced_count(uint64_t n, double rate)
{
    double fit = rate * PACED_MAX_SECONDS;
    uint64_t m = fit < 1000.0 ? 1000 : (uint64_t)fit;
    return m < n ? m : n;
}

/* --- The bare ceiling ---------------------------------------------------------- */

typedef struct bare {
    driver d;
    void *zctx;
    void *push, *pull;
    size_t size;
    const uint8_t *pattern;
    uint64_t checked;
} bare;

static void
put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

static uint64_t
get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static int
bare_send(driver *d, uint64_t seq, uint64_t stamp)
{
    bare *b = (bare *)d;
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, b->size) != 0) {
        die_msg("out of memory");
        return -1;
    }
    uint8_t *p = zmq_msg_data(&m);
    memcpy(p, b->pattern, b->size);
    put_u64(p, stamp); /* the send time in the first 8 bytes */
    put_u64(p + 8, seq);
    if (zmq_msg_send(&m, b->push, ZMQ_DONTWAIT) >= 0)
        return 0;
    int err = zmq_errno();
    zmq_msg_close(&m);
    if (err == EAGAIN || err == EINTR)
        return 1;
    die_msg("bare: send: %s", zmq_strerror(err));
    return -1;
}

static int
bare_recv(driver *d, uint64_t *seq, uint64_t *stamp)
{
    bare *b = (bare *)d;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, b->pull, ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        zmq_msg_close(&m);
        if (err == EAGAIN || err == EINTR)
            return 1;
        die_msg("bare: receive: %s", zmq_strerror(err));
        return -1;
    }
    if (zmq_msg_size(&m) != b->size) {
        die_msg("bare: a message of %zu bytes came back, %zu were sent", zmq_msg_size(&m), b->size);
        zmq_msg_close(&m);
        return -1;
    }
    const uint8_t *p = zmq_msg_data(&m);
    *stamp = get_u64(p);
    *seq = get_u64(p + 8);
    int rc = 0;
    /* Checked one in 1024, as nlpd's results are. */
    if ((b->checked++ & 1023u) == 0 && memcmp(p + 16, b->pattern + 16, b->size - 16) != 0) {
        die_msg("bare: message %" PRIu64 " came back changed", *seq);
        rc = -1;
    }
    zmq_msg_close(&m);
    return rc;
}

typedef struct figures {
    phase_result flat, paced;
    int have_paced;
} figures;

/* Waits until one probe message has gone all the way through: every
 * process is up and connected. */
static int
bare_probe(bare *b)
{
    uint64_t seq, stamp;
    uint64_t start = mono_ns();
    while (bare_send(&b->d, 0, mono_ns()) == 1)
        sleep_ms(1);
    for (;;) {
        int r = bare_recv(&b->d, &seq, &stamp);
        if (r == 0)
            return 0;
        if (r < 0)
            return -1;
        if (children_alive() != 0)
            return -1;
        if (interrupted || mono_ns() - start > 20000000000u) {
            die_msg(interrupted ? "interrupted"
                                : "the bare pipeline did not pass a message in 20 s");
            return -1;
        }
        zmq_pollitem_t it = {.socket = b->pull, .events = ZMQ_POLLIN};
        zmq_poll(&it, 1, 50);
    }
}

/* Connects the benchmark's end of the bare pipe. Returns 0 or -1 after a
 * message; bare_close() releases what was opened either way. */
static int
bare_open(bare *b, const opts *o, const char *dir, const uint8_t *pattern)
{
    memset(b, 0, sizeof(*b));
    b->d.name = "bare";
    b->d.send = bare_send;
    b->d.recv = bare_recv;
    b->size = o->size;
    b->pattern = pattern;
    b->zctx = zmq_ctx_new();
    if (b->zctx == NULL) {
        die_msg("bare: zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    b->push = zmq_socket(b->zctx, ZMQ_PUSH);
    b->pull = zmq_socket(b->zctx, ZMQ_PULL);
    if (b->push == NULL || b->pull == NULL) {
        die_msg("bare: zmq_socket: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    int linger = 0;
    zmq_setsockopt(b->push, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(b->pull, ZMQ_LINGER, &linger, sizeof(linger));
    char ep[PATH_MAX + 16];
    snprintf(ep, sizeof(ep), "ipc://%s/bare-in-0", dir);
    int rc = zmq_connect(b->push, ep);
    if (rc == 0) {
        snprintf(ep, sizeof(ep), "ipc://%s/bare-out-%d", dir, o->stages);
        rc = zmq_connect(b->pull, ep);
    }
    if (rc != 0) {
        die_msg("bare: connect %s: %s", ep, zmq_strerror(zmq_errno()));
        return -1;
    }
    b->d.send_sock = b->push;
    b->d.recv_sock = b->pull;
    return 0;
}

static void
bare_close(bare *b)
{
    if (b->push != NULL)
        zmq_close(b->push);
    if (b->pull != NULL)
        zmq_close(b->pull);
    if (b->zctx != NULL)
        zmq_ctx_term(b->zctx);
    memset(b, 0, sizeof(*b));
}

/* Both measurements of one side: flat out with `window` in flight (0: the
 * driver's bound), then, unless --smoke, paced at half the rate found. */
static int
measure(driver *d, const opts *o, unsigned window, figures *fig)
{
    progress("%s: %" PRIu64 " messages flat out", d->name, o->docs);
    if (run_phase(d, o->docs, window, 0.0, &fig->flat) != 0)
        return -1;
    if (o->smoke)
        return 0;
    double r = fig->flat.rate / 2;
    uint64_t m = paced_count(o->docs, r);
    progress("%s: %" PRIu64 " messages paced at %.0f/s", d->name, m, r);
    if (run_phase(d, m, 0, r, &fig->paced) != 0)
        return -1;
    fig->have_paced = 1;
    return 0;
}

static int
run_bare(const opts *o, const char *dir, const uint8_t *pattern, figures *fig)
{
    int rc = -1;
    char device[PATH_MAX], forward[PATH_MAX], log[PATH_MAX], hops[16];
    if (bin_path(device, sizeof(device), "nlpd-bench-bare-device") != 0 ||
        bin_path(forward, sizeof(forward), "nlpd-bench-bare-forward") != 0)
        return -1;
    snprintf(log, sizeof(log), "%s/bare.log", dir);
    snprintf(hops, sizeof(hops), "%d", o->stages + 1);

    int first = n_children;
    char *dargv[] = {device, (char *)dir, hops, NULL};
    int ok = spawn("bare device", dargv, log) >= 0;
    for (int i = 0; ok && i < o->stages; i++) {
        char idx[16], name[48];
        snprintf(idx, sizeof(idx), "%d", i);
        snprintf(name, sizeof(name), "bare forwarder %d", i);
        char *fargv[] = {forward, (char *)dir, idx, NULL};
        ok = spawn(name, fargv, log) >= 0;
    }
    bare b;
    memset(&b, 0, sizeof(b));
    if (ok && bare_open(&b, o, dir, pattern) == 0 && bare_probe(&b) == 0 &&
        measure(&b.d, o, o->bare_window, fig) == 0)
        rc = 0;
    bare_close(&b);
    for (int i = n_children - 1; i >= first; i--) {
        if (child_stop(&children[i], 5000) != 0)
            rc = -1;
    }
    if (rc != 0 && !interrupted)
        print_log_tail(log);
    return rc;
}

/* --- nlpd ------------------------------------------------------------------------ */

typedef struct nlpdrv {
    driver d;
    nlpd_client *c;
    const uint8_t *pb;
    size_t pb_len;
    uint64_t *stamps; /* send time of each document, by corr */
    uint64_t n_stamps;
    int stages;
    size_t min_result;
    uint64_t checked;
} nlpdrv;

static int
nlpd_send(driver *d, uint64_t seq, uint64_t stamp)
{
    nlpdrv *x = (nlpdrv *)d;
    if (seq >= x->n_stamps) {
        die_msg("nlpd: document %" PRIu64 " out of range", seq);
        return -1;
    }
    int rc = nlpd_client_submit(x->c, seq, "pb wait", x->pb, x->pb_len, 0);
    if (rc == NLPD_ETIMEDOUT || rc == -EINTR)
        return 1;
    if (rc != 0) {
        die_msg("nlpd: submit: %s", nlpd_strerror(rc));
        return -1;
    }
    x->stamps[seq] = stamp;
    return 0;
}

/* Checks a result fully: it decodes, it holds the text as sent and one
 * trace entry per stage, and no error. */
static int
check_result(nlpdrv *x, const nlpd_reply *r)
{
    Nlpd__V1__Document *doc = nlpd__v1__document__unpack(NULL, r->payload_len, r->payload);
    if (doc == NULL) {
        die_msg("nlpd: result %" PRIu64 " is not a Document", r->corr);
        return -1;
    }
    int ok = doc->n_trace == (size_t)x->stages && doc->n_errors == 0;
    size_t n_trace = doc->n_trace, n_errors = doc->n_errors;
    nlpd__v1__document__free_unpacked(doc, NULL);
    if (!ok) {
        die_msg("nlpd: result %" PRIu64 " has %zu trace entries (expected %d) and %zu errors",
                r->corr, n_trace, x->stages, n_errors);
        return -1;
    }
    return 0;
}

static int
nlpd_recv(driver *d, uint64_t *seq, uint64_t *stamp)
{
    nlpdrv *x = (nlpdrv *)d;
    nlpd_reply r;
    int rc = nlpd_client_recv(x->c, &r, 0);
    if (rc == NLPD_ETIMEDOUT || rc == -EINTR)
        return 1;
    if (rc != 0) {
        die_msg("nlpd: receive: %s%s%s", nlpd_strerror(rc), r.message[0] ? ": " : "", r.message);
        return -1;
    }
    switch (r.kind) {
    case NLPD_REPLY_ACCEPTED:
        return 2;
    case NLPD_REPLY_REFUSED:
        die_msg("nlpd: document %" PRIu64 " refused: %s: %s", r.corr, r.code, r.message);
        return -1;
    case NLPD_REPLY_RESULT:
        break;
    default:
        die_msg("nlpd: an unexpected reply (kind %d)", (int)r.kind);
        return -1;
    }
    if (r.corr >= x->n_stamps) {
        die_msg("nlpd: a result for an unknown document %" PRIu64, r.corr);
        return -1;
    }
    if (r.error || r.payload_len < x->min_result) {
        die_msg("nlpd: result %" PRIu64 " has status %s and %zu bytes (at least %zu expected)",
                r.corr, r.error ? "error" : "ok", r.payload_len, x->min_result);
        return -1;
    }
    /* Decoding every result would put the client's work into the figures;
     * one in 1024 (and the first) is decoded and checked whole. */
    if ((x->checked++ & 1023u) == 0 && check_result(x, &r) != 0)
        return -1;
    *seq = r.corr;
    *stamp = x->stamps[r.corr];
    return 0;
}

static int
daemon_running(const char *rundir)
{
    char *reply = NULL;
    int running = 0;
    if (nlpd_control_call(rundir, NULL, "STATUS", 1000, &reply) == 0) {
        json_t *j = json_loads(reply, 0, NULL);
        const char *st = json_string_value(json_object_get(j, "state"));
        running = st != NULL && strcmp(st, "running") == 0;
        json_decref(j);
    }
    nlpd_free(reply);
    return running;
}

static int
write_config(const opts *o, const char *path, const char *passthrough)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        die_msg("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "[daemon]\nlog_level = warning\n");
    if (strcmp(o->journal, "off") == 0)
        fprintf(f, "journal = off\n");
    else if (strcmp(o->journal, "default") != 0)
        fprintf(f, "journal = on\njournal_sync = %s\n", o->journal);
    if (o->group_commit_ms >= 0)
        fprintf(f, "group_commit_ms = %ld\n", o->group_commit_ms);
    fprintf(f, "\n[pipeline]\nstages =");
    for (int i = 1; i <= o->stages; i++)
        fprintf(f, " p%d", i);
    fprintf(f, "\n");
    for (int i = 1; i <= o->stages; i++) {
        fprintf(f, "\n[stage p%d]\ncommand = %s\n", i, passthrough);
        if (o->stage_window > 0)
            fprintf(f, "window = %u\n", o->stage_window);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int
run_nlpd(const opts *o, const char *dir, const uint8_t *pb, size_t pb_len, figures *fig)
{
    int rc = -1;
    char nlpd[PATH_MAX], pt[PATH_MAX], conf[PATH_MAX], rundir[PATH_MAX], log[PATH_MAX];
    char statedir[PATH_MAX];
    if (bin_path(nlpd, sizeof(nlpd), "nlpd") != 0 ||
        bin_path(pt, sizeof(pt), "nlpd-passthrough") != 0)
        return -1;
    snprintf(conf, sizeof(conf), "%s/nlpd.conf", dir);
    snprintf(rundir, sizeof(rundir), "%s/run", dir);
    snprintf(statedir, sizeof(statedir), "%s/state", dir);
    snprintf(log, sizeof(log), "%s/nlpd.log", dir);
    if (write_config(o, conf, pt) != 0)
        return -1;

    nlpdrv x;
    memset(&x, 0, sizeof(x));
    int idx = -1;
    char *argv[] = {nlpd,       (char *)"--runtime-dir", rundir, (char *)"--state-dir",
                    statedir,   (char *)"--config",      conf,   NULL};
    idx = spawn("nlpd", argv, log);
    if (idx < 0)
        return -1;
    uint64_t start = mono_ns();
    while (!daemon_running(rundir)) {
        if (children_alive() != 0)
            goto stop;
        if (interrupted || mono_ns() - start > 30000000000u) {
            die_msg(interrupted ? "interrupted" : "nlpd did not report running within 30 s");
            goto stop;
        }
        sleep_ms(50);
    }

    x.d.name = "nlpd";
    x.d.send = nlpd_send;
    x.d.recv = nlpd_recv;
    x.d.max_in_flight = NLPD_MAX_WINDOW;
    x.pb = pb;
    x.pb_len = pb_len;
    x.stages = o->stages;
    x.min_result = pb_len; /* each stage appends its trace */
    x.n_stamps = o->docs;
    x.stamps = calloc(o->docs, sizeof(*x.stamps));
    if (x.stamps == NULL) {
        die_msg("out of memory");
        goto stop;
    }
    int crc = nlpd_client_open(&x.c, rundir, NULL);
    if (crc != 0) {
        die_msg("cannot open a client: %s", nlpd_strerror(crc));
        goto stop;
    }
    x.d.send_sock = x.d.recv_sock = nlpd_client_socket(x.c);

    if (measure(&x.d, o, o->window, fig) == 0)
        rc = 0;
stop:
    nlpd_client_close(&x.c);
    free(x.stamps);
    /* The daemon stops its workers (stop_timeout 10 s) before it exits. */
    if (child_stop(&children[idx], 30000) != 0)
        rc = -1;
    if (rc != 0 && !interrupted)
        print_log_tail(log);
    return rc;
}

/* --- Inputs ------------------------------------------------------------------------ */

/* A plain English news text of exactly `size` bytes (ASCII, so any cut is
 * valid UTF-8). */
static char *
english_text(size_t size)
{
    static const char *const sentences[] = {
        "The city council voted on Tuesday to extend the tram line to the northern suburbs, "
        "ending a debate that had lasted for almost a decade. ",
        "Supporters said the new stops would cut commuting times by a third for thousands of "
        "residents who now rely on crowded buses. ",
        "Opponents argued that the cost, estimated at 240 million euros, would strain a budget "
        "already stretched by repairs to bridges and schools. ",
        "\"We have waited long enough,\" said Maria Lindqvist, who chairs the transport "
        "committee, after the vote. ",
        "Construction is expected to begin next spring and to last about three years, according "
        "to the regional planning office. ",
        "Shopkeepers along the route worry that the works will keep customers away, and the "
        "council has promised a compensation fund. ",
        "In a separate decision, the council approved a plan to plant 5,000 trees along major "
        "roads before the end of the year. ",
        "The mayor, Johan Berg, called the day a turning point for a city that has grown by "
        "twenty percent since 2010. ",
    };
    char *t = malloc(size);
    if (t == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; n < size; i++) {
        const char *s = sentences[i % (sizeof(sentences) / sizeof(sentences[0]))];
        size_t l = strlen(s);
        if (l > size - n)
            l = size - n;
        memcpy(t + n, s, l); /* NOLINT(bugprone-not-null-terminated-result): bytes + length */
        n += l;
    }
    return t;
}

/* --- Report ------------------------------------------------------------------------- */

static void
cpu_model(char *out, size_t len)
{
    snprintf(out, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon != NULL) {
                colon++;
                while (*colon == ' ' || *colon == '\t')
                    colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(out, len, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

static void
load_avg(char *out, size_t len)
{
    snprintf(out, len, "?");
    FILE *f = fopen("/proc/loadavg", "r");
    if (f == NULL)
        return;
    double a, b, c;
    /* NOLINTNEXTLINE(cert-err34-c): written by the kernel */
    if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf(out, len, "%.2f %.2f %.2f", a, b, c);
    fclose(f);
}

/* What would make the figures meaningless, or "" when nothing. */
static const char *
build_warning(void)
{
    static char w[256];
    w[0] = '\0';
    int n = 0;
#ifndef __OPTIMIZE__
    n += snprintf(w + n, sizeof(w) - (size_t)n, "compiled WITHOUT optimization; ");
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    n += snprintf(w + n, sizeof(w) - (size_t)n, "compiled WITH a sanitizer; ");
#else
    if (NLPD_BENCH_SANITIZE[0] != '\0') {
        n += snprintf(w + n, sizeof(w) - (size_t)n, "compiled WITH -fsanitize=%s; ",
                      NLPD_BENCH_SANITIZE);
    }
#endif
    if (n >= 2)
        w[n - 2] = '\0'; /* the last "; " */
    return w;
}

/* What the report says about the run besides the figures. */
typedef struct run_info {
    long ncpu;
    char cpu[256];
    char load[64];
    const char *warn; /* "" when the build is fit to measure */
    size_t pb_len;
} run_info;

static void
print_header(const opts *o, const run_info *ri)
{
    fprintf(report, "nlpd pipeline benchmark\n");
    fprintf(report, "  machine : %ld CPUs, %s, load %s\n", ri->ncpu, ri->cpu, ri->load);
    fprintf(report, "  build   : %s%s\n", NLPD_BENCH_BUILD_TYPE,
            ri->warn[0] ? "; SEE WARNING BELOW" : ", optimized, no sanitizer");
    if (ri->warn[0] != '\0') {
        fprintf(report,
                "\n  !!!!!!!! WARNING: %s.\n"
                "  !!!!!!!! These figures say nothing about nlpd's speed. For real numbers:\n"
                "  !!!!!!!!   cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release "
                "-DNLPD_SANITIZE=\n"
                "  !!!!!!!!   cmake --build build/bench --target bench\n\n",
                ri->warn);
    }
    fprintf(report,
            "  shape   : %d stages (%d hops, %d worker processes); %" PRIu64
            " messages per measurement\n"
            "  message : %zu bytes (bare); nlpd: a %zu-byte English text, %zu bytes encoded\n",
            o->stages, o->stages + 1, o->stages, o->docs, o->size, o->size, ri->pb_len);
    if (o->stage_window > 0) {
        fprintf(report, "  nlpd    : %u documents in flight when flat out; stage window %u\n",
                o->window, o->stage_window);
    } else {
        fprintf(report,
                "  nlpd    : %u documents in flight when flat out; the daemon's stage window\n",
                o->window);
    }
    fprintf(report, "  journal : %s", o->journal);
    if (o->group_commit_ms >= 0)
        fprintf(report, ", group_commit_ms %ld", o->group_commit_ms);
    fprintf(report, "\n");
    fflush(report);
}

static void
print_row(const char *what, const char *unit, const figures *f)
{
    fprintf(report, "  %-18s %9.0f %-7s  %8.3f %8.3f", what, f->flat.rate, unit, f->flat.p50_ms,
            f->flat.p99_ms);
    if (f->have_paced) {
        fprintf(report, "   %8.0f/s %8.3f %8.3f %8.3f", f->paced.target_rate, f->paced.p50_ms,
                f->paced.p99_ms, f->paced.max_ms);
    }
    fputc('\n', report);
}

static void
print_cpu_row(const char *what, const figures *f)
{
    if (!f->flat.cpu_valid) {
        fprintf(report, "  %-18s  (too short to measure)\n", what);
        return;
    }
    fprintf(report, "  %-18s %9.1f us %10.2f %12.2f", what, f->flat.cpu_us, f->flat.cpus_ours,
            f->flat.cpus_others);
    if (f->have_paced) {
        fprintf(report, "   %9.1f us %10.2f %12.2f", f->paced.cpu_us, f->paced.cpus_ours,
                f->paced.cpus_others);
    }
    fputc('\n', report);
}

/* CPU per message and CPUs busy, ours and everyone else's, per side. */
static void
print_cpu_table(const opts *o, const figures *bf, const figures *nf, int paced)
{
    fprintf(report, "\n  %-18s %12s %10s %12s", "CPU: flat out", "per message", "our CPUs",
            "others' CPUs");
    if (paced)
        fprintf(report, "   %12s %10s %12s", "half rate", "our CPUs", "others' CPUs");
    fputc('\n', report);
    if (o->only != 2)
        print_cpu_row("bare ZeroMQ", bf);
    if (o->only != 1)
        print_cpu_row("nlpd pass-through", nf);
    double others = 0.0;
    if (bf->flat.cpu_valid && bf->flat.cpus_others > others)
        others = bf->flat.cpus_others;
    if (nf->flat.cpu_valid && nf->flat.cpus_others > others)
        others = nf->flat.cpus_others;
    if (others > 0.2) {
        fprintf(report,
                "  NOTE: other processes kept up to %.1f CPUs busy during the run: the rates\n"
                "        are below what this machine does on its own; the CPU costs hold.\n",
                others);
    }
}

typedef struct verdict {
    int have_ratio;
    double ratio;
    double cpu_ratio; /* bare CPU per message / nlpd CPU per message */
    int ratio_ok;
    int p99_ok;
} verdict;

static void
print_figures(const opts *o, const run_info *ri, const figures *bf, const figures *nf,
              const verdict *v)
{
    int paced = bf->have_paced || nf->have_paced;
    fprintf(report, "\n  %-18s %17s  %17s", "", "flat out", "latency ms (flat)");
    if (paced)
        fprintf(report, "   %37s", "paced at half rate: latency ms");
    fprintf(report, "\n  %-18s %17s  %8s %8s", "", "", "p50", "p99");
    if (paced)
        fprintf(report, "   %10s %8s %8s %8s", "rate", "p50", "p99", "max");
    fputc('\n', report);
    if (o->only != 2)
        print_row("bare ZeroMQ", "msg/s", bf);
    if (o->only != 1)
        print_row("nlpd pass-through", "docs/s", nf);

    print_cpu_table(o, bf, nf, paced);
    fputc('\n', report);
    if (v->have_ratio) {
        fprintf(report, "  ratio nlpd/bare      : %5.1f%%   (target >= %.0f%%)   %s\n",
                v->ratio * 100.0, TARGET_RATIO * 100.0, v->ratio_ok ? "PASS" : "FAIL");
        if (v->cpu_ratio > 0)
            fprintf(report, "  same, by CPU cost    : %5.1f%%   (bare CPU per message / nlpd's)\n",
                    v->cpu_ratio * 100.0);
    }
    if (nf->have_paced) {
        fprintf(report, "  nlpd p99 at half rate: %6.3f ms (target < %.0f ms)   %s\n",
                nf->paced.p99_ms, TARGET_P99_MS, v->p99_ok ? "PASS" : "FAIL");
    } else if (o->only != 1) {
        fprintf(report, "  nlpd p99 at half rate: not measured (--smoke)\n");
    }
    if (paced) {
        fprintf(report,
                "  half rate: latency counts from when each message was due, so the client's\n"
                "  own delays count (it fell behind by up to %.1f ms bare, %.1f ms nlpd).\n"
                "  From when each was actually sent, p50/p99:",
                bf->paced.late_ms, nf->paced.late_ms);
        if (bf->have_paced)
            fprintf(report, " bare %.3f/%.3f ms", bf->paced.sent_p50_ms, bf->paced.sent_p99_ms);
        if (nf->have_paced) {
            fprintf(report, "%s nlpd %.3f/%.3f ms", bf->have_paced ? "," : "",
                    nf->paced.sent_p50_ms, nf->paced.sent_p99_ms);
        }
        fputc('\n', report);
    }
    if (ri->warn[0] != '\0')
        fprintf(report, "  (WARNING: %s: the verdicts mean nothing)\n", ri->warn);
    fprintf(report, "  verdicts are informational: the exit status is 0 either way\n");
    fflush(report);
}

static json_t *
side_json(const figures *f, const char *rate_key)
{
    json_t *j =
        json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", rate_key, f->flat.rate, "p50_ms",
                  f->flat.p50_ms, "p99_ms", f->flat.p99_ms, "cpu_us_per_msg", f->flat.cpu_us,
                  "cpus_ours", f->flat.cpus_ours, "cpus_others", f->flat.cpus_others);
    if (j != NULL)
        json_object_set_new(j, "cpu_valid", json_boolean(f->flat.cpu_valid));
    if (j == NULL || !f->have_paced)
        return j;
    const phase_result *p = &f->paced;
    json_t *h = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "rate", p->target_rate, "p50_ms",
                          p->p50_ms, "p99_ms", p->p99_ms, "max_ms", p->max_ms, "sent_p50_ms",
                          p->sent_p50_ms, "sent_p99_ms", p->sent_p99_ms);
    if (h != NULL) {
        json_object_set_new(h, "late_ms", json_real(p->late_ms));
        json_object_set_new(h, "cpu_us_per_msg", json_real(p->cpu_us));
        json_object_set_new(h, "cpus_ours", json_real(p->cpus_ours));
        json_object_set_new(h, "cpus_others", json_real(p->cpus_others));
    }
    json_object_set_new(j, "half_rate", h);
    return j;
}

/* One line of JSON on stdout: every figure of the report. */
static void
print_json(const opts *o, const run_info *ri, const figures *bf, const figures *nf,
           const verdict *v)
{
    json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
                          "bench", "pipeline", "nproc", (json_int_t)ri->ncpu, "cpu", ri->cpu,
                          "load", ri->load, "build", NLPD_BENCH_BUILD_TYPE, "build_warning",
                          ri->warn, "docs", (json_int_t)o->docs, "size", (json_int_t)o->size,
                          "encoded_size", (json_int_t)ri->pb_len, "stages", (json_int_t)o->stages,
                          "window", (json_int_t)o->window, "stage_window",
                          (json_int_t)o->stage_window, "smoke", o->smoke);
    if (j == NULL)
        return;
    json_object_set_new(j, "journal", json_string(o->journal));
    if (o->group_commit_ms >= 0)
        json_object_set_new(j, "group_commit_ms", json_integer(o->group_commit_ms));
    if (o->only != 2)
        json_object_set_new(j, "bare", side_json(bf, "msgs_per_s"));
    if (o->only != 1)
        json_object_set_new(j, "nlpd", side_json(nf, "docs_per_s"));
    if (v->have_ratio) {
        json_object_set_new(j, "ratio", json_real(v->ratio));
        json_object_set_new(j, "ratio_pass", json_boolean(v->ratio_ok));
        if (v->cpu_ratio > 0)
            json_object_set_new(j, "cpu_ratio", json_real(v->cpu_ratio));
    }
    if (nf->have_paced)
        json_object_set_new(j, "p99_pass", json_boolean(v->p99_ok));
    char *line = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (line != NULL)
        printf("%s\n", line);
    free(line);
    json_decref(j);
}

int
main(int argc, char **argv)
{
    opts o;
    int prc = parse_opts(&o, argc, argv);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    report = o.json ? stderr : stdout;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: waits return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_all_children);
    /* Paced sends wake on a timer: ask for precise wake-ups. */
    prctl(PR_SET_TIMERSLACK, 1UL);

    if (find_bin_dir() != 0)
        return 1;
    run_info ri;
    memset(&ri, 0, sizeof(ri));
    char *text = english_text(o.size);
    uint8_t *pb = NULL;
    nlpd_submission s;
    memset(&s, 0, sizeof(s));
    s.text = text;
    s.text_len = o.size;
    if (text == NULL || nlpd_submission_encode(&s, &pb, &ri.pb_len) != 0) {
        die_msg("cannot build the document");
        free(text);
        return 1;
    }
    char *dir = make_tmpdir();
    if (dir == NULL) {
        nlpd_free(pb);
        free(text);
        return 1;
    }
    ri.ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_model(ri.cpu, sizeof(ri.cpu));
    load_avg(ri.load, sizeof(ri.load));
    ri.warn = build_warning();
    print_header(&o, &ri);

    figures bf, nf;
    memset(&bf, 0, sizeof(bf));
    memset(&nf, 0, sizeof(nf));
    int rc = 0;
    /* The bare messages carry the same text, stamped in their first 16 bytes. */
    if (o.only != 2)
        rc = run_bare(&o, dir, (const uint8_t *)text, &bf);
    if (rc == 0 && o.only != 1)
        rc = run_nlpd(&o, dir, pb, ri.pb_len, &nf);
    kill_all_children();
    nlpd_test_rmtree(dir);
    free(dir);
    nlpd_free(pb);
    free(text);
    if (rc != 0) {
        die_msg("the benchmark did not complete; no figures");
        return 1;
    }

    verdict v;
    memset(&v, 0, sizeof(v));
    v.have_ratio = o.only == 0 && bf.flat.rate > 0;
    v.ratio = v.have_ratio ? nf.flat.rate / bf.flat.rate : 0.0;
    v.ratio_ok = v.ratio >= TARGET_RATIO;
    if (v.have_ratio && bf.flat.cpu_valid && nf.flat.cpu_valid && nf.flat.cpu_us > 0)
        v.cpu_ratio = bf.flat.cpu_us / nf.flat.cpu_us;
    v.p99_ok = nf.have_paced && nf.paced.p99_ms < TARGET_P99_MS;
    print_figures(&o, &ri, &bf, &nf, &v);
    if (o.json)
        print_json(&o, &ri, &bf, &nf, &v);
    return 0;
}
