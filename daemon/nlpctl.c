/* daemon/nlpctl.c — the command-line client of nlpd.
 *
 *   nlpctl [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]
 *
 * submit and annotate send documents through the front door, tail watches
 * the results feed, status and reload talk to the control socket, ping
 * checks the daemon answers. Exit status: 0 done, 1 a runtime failure
 * (including any document that got no annotation), 2 a usage error, 130
 * interrupted.
 *
 * Signals: SIGINT and SIGTERM only set a flag (installed without
 * SA_RESTART), so the zmq_poll or read in progress returns EINTR and the
 * command winds down from its own loop; no waiting is longer than that.
 */
#include "client.h"
#include "nlpd/alloc.h"
#include "nlpd/doc.h"
#include "nlpd/error.h"
#include "nlpd/json.h"
#include "nlpd/stage.h"
#include "nlpd_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#ifndef NLPD_VERSION
#define NLPD_VERSION "0"
#endif

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* Waits are cut into slices this long so a signal that lands just before
 * a poll starts is still seen promptly. */
enum { SLICE_MS = 200 };

/* Longest file `submit` reads: far above any sensible article, well below
 * what a protobuf message (2 GiB) or the uint32 spans could hold. */
#define MAX_FILE_BYTES ((size_t)256 << 20)

/* The default wait for ping, status and reload when --timeout is not given. */
#define CONTROL_TIMEOUT_S 5.0

typedef struct global {
    const char *runtime_dir;
    const char *front;
    const char *control;
    const char *results;
    double timeout_s; /* per document result wait */
    int timeout_given;
    nlpd_client_keys keys; /* CurveZMQ for tcp:// endpoints (NULL fields: environment) */
} global;

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void
install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void say(const char *fmt, ...) NLPD_PRINTF(1, 2);

static void
say(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "nlpctl: %s\n", msg);
}

/* --- Usage --------------------------------------------------------------- */

static const char usage_main[] =
    "Usage: nlpctl [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Commands:\n"
    "  submit FILE...   annotate whole files and print each result as JSON\n"
    "  annotate         JSON Lines in (stdin), annotated JSON Lines out (stdout)\n"
    "  tail             print results from the live results feed\n"
    "  status           show the daemon, its stages and workers\n"
    "  reload           re-read the configuration (as SIGHUP does)\n"
    "  drain            stop taking documents, finish those in flight, exit (as SIGTERM)\n"
    "  ping             check the daemon answers, and how fast\n"
    "  get KEY          print the stored result of one document\n"
    "  results          print stored results in order from a cursor (--follow: keep on)\n"
    "  deadletters      list the documents given up on\n"
    "  retry ID         put dead letter ID back in the pipeline\n"
    "  stats            figures: documents/s, latency p50/p90/p99, queues, errors (--json)\n"
    "  top              a live view of the stages, redrawn every second\n"
    "  workers add|remove STAGE N\n"
    "                   change a stage's worker count now (until reload or restart)\n"
    "  keygen NAME      make a CurveZMQ key pair: NAME.key (secret) and NAME.pub\n"
    "\n"
    "Global options:\n"
    "  --runtime-dir DIR  where the daemon's sockets are (default: $NLPD_RUNTIME_DIR,\n"
    "                     $RUNTIME_DIRECTORY, /run/nlpd for root, else\n"
    "                     $XDG_RUNTIME_DIR/nlpd or /tmp/nlpd-UID)\n"
    "  --front EP         front door endpoint (default ipc://DIR/front)\n"
    "  --control EP       control endpoint (default ipc://DIR/control)\n"
    "  --results EP       results feed endpoint (default ipc://DIR/results)\n"
    "  --server-key FILE  the daemon's public key, for tcp:// endpoints (CurveZMQ)\n"
    "                     [NLPD_CURVE_SERVER_KEY_FILE]\n"
    "  --key FILE         this client's key pair (nlpctl keygen) [NLPD_CURVE_KEY_FILE]\n"
    "  --timeout SECONDS  wait for each document's result at most this long (default 300);\n"
    "                     ping, status and reload wait 5 s unless it is given\n"
    "  -h, --help         show this help;  nlpctl COMMAND --help  shows a command's\n"
    "  -V, --version      show the version\n"
    "\n"
    "Exit status: 0 done, 1 runtime failure, 2 usage error, 130 interrupted.\n";

static const char usage_submit[] =
    "Usage: nlpctl submit [OPTIONS] FILE...\n"
    "Sends each FILE (\"-\": standard input) whole as one article, waits for it to be\n"
    "annotated and prints the result as one JSON object. Files may hold any bytes.\n"
    "\n"
    "  --format FMT    how to read the files: text, json, feed, html (default: detect)\n"
    "  --id ID         the documents' id (default: the file name)\n"
    "  --title T       the documents' title\n"
    "  --options JSON  options object, as in the JSON Lines input, e.g.\n"
    "                  '{\"summary_sentences\": 2, \"stages\": [\"ingest\", \"split\"]}'\n"
    "  --pretty        indent the JSON\n"
    "  --no-tokens     leave the tokens out\n";

static const char usage_annotate[] =
    "Usage: nlpctl annotate [OPTIONS] < input.jsonl > output.jsonl\n"
    "Reads JSON Lines ({\"id\", \"title\", \"text\", \"options\"}), keeps up to --window\n"
    "documents in flight and writes one annotated line per input line, in input order.\n"
    "A line that cannot be annotated gets {\"id\", \"line\", \"errors\"} in its place and\n"
    "the exit status is 1.\n"
    "\n"
    "  --window N   documents in flight at most (default 64)\n"
    "  --no-tokens  leave the tokens out\n"
    "  --minimal    only the evaluation fields: id, text, sentences, entities,\n"
    "               summary, summary_text (and errors)\n"
    "  --quiet      no progress line on a terminal\n";

static const char usage_tail[] = "Usage: nlpctl tail [OPTIONS]\n"
                                 "Prints results from the live results feed as JSON, one per "
                                 "line, until interrupted.\n"
                                 "The feed is best-effort: a slow reader misses results.\n"
                                 "\n"
                                 "  --errors     only results with an error record\n"
                                 "  --no-tokens  leave the tokens out\n"
                                 "  --count N    stop after N results\n";

static const char usage_status[] = "Usage: nlpctl status [--json]\n"
                                   "Shows the daemon, its stages and their workers.\n"
                                   "\n"
                                   "  --json  print the daemon's JSON as received\n";

static const char usage_reload[] = "Usage: nlpctl reload\n"
                                   "Asks the daemon to re-read its configuration (as SIGHUP "
                                   "does) and prints its answer.\n";

static const char usage_drain[] =
    "Usage: nlpctl drain\n"
    "Asks the daemon to stop as SIGTERM does: it takes no new documents, lets\n"
    "those in flight finish for up to drain_timeout_ms (what is left stays in\n"
    "the journal for the next start), then exits 0. Prints its answer.\n";

static const char usage_ping[] = "Usage: nlpctl ping\n"
                                 "Pings the front door; prints the daemon's version and the "
                                 "round-trip time.\n";

static const char usage_get[] =
    "Usage: nlpctl get [OPTIONS] KEY\n"
    "Prints the stored result of the document with daemon key KEY (the key\n"
    "\"accepted\" answered with) as one JSON object, as annotate writes it.\n"
    "\n"
    "  --minimal    only the evaluation fields (and errors)\n";

static const char usage_results[] =
    "Usage: nlpctl results [OPTIONS]\n"
    "Prints the stored results with a cursor above --after, in cursor order, one per\n"
    "line: {\"cursor\", \"key\", \"status\", \"done_unix_us\", \"document\"}. A consumer\n"
    "resumes from the last cursor it handled and misses nothing the store keeps\n"
    "(result_retention, result_max_bytes).\n"
    "\n"
    "  --after N    start after cursor N (default 0: from the oldest kept)\n"
    "  --limit N    stop after N results\n"
    "  --follow     when all are printed, wait for new ones until interrupted\n";

static const char usage_deadletters[] =
    "Usage: nlpctl deadletters\n"
    "Lists the documents given up on (a stage failed on each max_attempts times),\n"
    "as JSON: id, key, stage, error, attempts, dead_unix_us.\n";

static const char usage_keygen[] =
    "Usage: nlpctl keygen [--out DIR] NAME\n"
    "Makes a CurveZMQ key pair and writes it as two files in DIR (default: the\n"
    "current directory), in the zcert format: NAME.key holds the secret and the\n"
    "public key (mode 0600: keep it where it is used), NAME.pub only the public\n"
    "key (copy it into the daemon's authorized_keys directory; the daemon's own\n"
    "NAME.pub is the --server-key of its clients and workers). Existing files are\n"
    "never overwritten. Prints the public key.\n"
    "\n"
    "  --out DIR    where to write the files\n";

static const char usage_retry[] = "Usage: nlpctl retry ID\n"
                                  "Puts dead letter ID back in the pipeline with its attempts "
                                  "reset.\n";

/* Says what was wrong with an option (getopt itself is silenced: opterr
 * is 0 and option strings start with ':') and returns EXIT_USAGE. */
static int
bad_option(const char *cmd, int ch, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    const char *what = ch == ':' ? "needs a value" : "is not known";
    if (cmd == NULL)
        say("option '%s' %s (see nlpctl --help)", arg, what);
    else
        say("%s: option '%s' %s (see nlpctl %s --help)", cmd, arg, what, cmd);
    return EXIT_USAGE;
}

/* Parses a command's options: --help and, when `flag` is not NULL, the
 * one boolean option --FLAG (sets *set). With `no_args` an argument left
 * over is an error; otherwise optind is the first one. Returns 0, -1
 * after printing the usage, or an exit status. */
static int
parse_flag(int argc, char **argv, const char *usage, const char *flag, int *set, int no_args)
{
    struct option opts[3] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
                             {NULL, 0, NULL, 0}};
    if (flag != NULL)
        opts[1] = (struct option){flag, no_argument, NULL, 'f'};
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (ch == 'f') {
            *set = 1;
            continue;
        }
        if (ch == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        return bad_option(argv[0], ch, argv);
    }
    if (no_args && optind < argc) {
        say("%s: unexpected argument '%s'", argv[0], argv[optind]);
        return EXIT_USAGE;
    }
    return 0;
}

/* Parses a command's options that are only --help. Returns 0, -1 after
 * printing the usage, or an exit status. */
static int
parse_help_only(int argc, char **argv, const char *usage)
{
    return parse_flag(argc, argv, usage, NULL, NULL, 1);
}

static int
parse_count(const char *s, unsigned long long min, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (s[0] == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* --- Shared helpers ------------------------------------------------------ */

static int
timeout_ms_of(double s)
{
    double ms = s * 1000.0;
    if (ms >= (double)INT32_MAX)
        return INT32_MAX;
    int whole = (int)ms;
    return whole + (ms > (double)whole ? 1 : 0); /* round up: never wait less than asked */
}

static int
control_timeout_ms(const global *g)
{
    return timeout_ms_of(g->timeout_given ? g->timeout_s : CONTROL_TIMEOUT_S);
}

/* Fills `ep` with the endpoint of socket `name`, from its option or the
 * runtime directory. Returns 0 or prints why not and returns EXIT_USAGE. */
static int
endpoint_of(const global *g, const char *given, const char *name, char *ep, size_t ep_len)
{
    if (given != NULL) {
        snprintf(ep, ep_len, "%s", given);
        return 0;
    }
    if (nlpd_client_endpoint(g->runtime_dir, name, ep, ep_len) != 0) {
        say("the runtime directory is too long");
        return EXIT_USAGE;
    }
    return 0;
}

/* An ipc:// endpoint whose file is missing means no daemon: say so at
 * once rather than after a timeout (connecting would just wait for it). */
static int
check_daemon(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) != 0 || ep[6] == '@') /* '@': Linux abstract namespace */
        return 0;
    struct stat sb;
    if (stat(ep + 6, &sb) == 0)
        return 0;
    if (errno == ENOENT) {
        say("no daemon socket at %s (is nlpd running? see --runtime-dir)", ep + 6);
    } else {
        say("%s: %s", ep + 6, strerror(errno));
    }
    return EXIT_RUNTIME;
}

/* For a tcp:// endpoint: the Curve key files can be used, or why not.
 * Without keys, a warning: the daemon refuses plain tcp. Returns 0 or an
 * exit status. */
static int
check_keys(const global *g, const char *ep)
{
    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    const char *server = g->keys.server_key_file, *own = g->keys.key_file;
    if (server == NULL)
        server = getenv(NLPD_ENV_CURVE_SERVER_KEY_FILE);
    if (own == NULL)
        own = getenv(NLPD_ENV_CURVE_KEY_FILE);
    if ((server == NULL || server[0] == '\0') && (own == NULL || own[0] == '\0')) {
        say("warning: no Curve keys for %s (--server-key, --key): nlpd refuses plain tcp", ep);
        return 0;
    }
    if (server == NULL || server[0] == '\0' || own == NULL || own[0] == '\0') {
        say("CurveZMQ needs both --server-key (the daemon's public key) and --key (this "
            "client's key pair)");
        return EXIT_USAGE;
    }
    char why[700], pub[NLPD_CURVE_Z85_LEN + 1], sec[NLPD_CURVE_Z85_LEN + 1];
    int rc = nlpd_curve_key_load(server, pub, NULL, why, sizeof(why));
    if (rc == 0)
        rc = nlpd_curve_key_load(own, pub, sec, why, sizeof(why));
    explicit_bzero(sec, sizeof(sec));
    if (rc != 0) {
        say("%s", why);
        return EXIT_USAGE;
    }
    return 0;
}

static int
open_front(const global *g, nlpd_client **c, char *ep, size_t ep_len)
{
    int rc = endpoint_of(g, g->front, NLPD_SOCK_FRONT, ep, ep_len);
    if (rc != 0)
        return rc;
    rc = check_daemon(ep);
    if (rc == 0)
        rc = check_keys(g, ep);
    if (rc != 0)
        return rc;
    int err = nlpd_client_open_keys(c, NULL, ep, &g->keys);
    if (err != 0) {
        say("cannot connect to %s: %s", ep, nlpd_strerror(err));
        return err == NLPD_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
    }
    return 0;
}

/* Reads all of `fd` into `b` (binary-safe). Returns 0, NLPD_EMSGSIZE past
 * `max` bytes, -EINTR when interrupted, or -errno. */
static int
read_all(int fd, nlpd__buf *b, size_t max)
{
    for (;;) {
        int rc = nlpd__buf_reserve(b, (size_t)64 * 1024);
        if (rc != 0)
            return rc;
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len);
        if (n < 0) {
            if (errno == EINTR && !interrupted)
                continue;
            return -errno;
        }
        if (n == 0)
            return 0;
        b->len += (size_t)n;
        if (b->len > max)
            return NLPD_EMSGSIZE;
    }
}

/* --- submit -------------------------------------------------------------- */

typedef struct submit_opts {
    nlpd_format format;
    const char *id;
    const char *title;
    uint8_t *options_pb; /* --options as an encoded Document holding only them */
    size_t options_len;
    unsigned json_flags;
} submit_opts;

static int
format_of(const char *name, nlpd_format *out)
{
    static const struct {
        const char *name;
        nlpd_format f;
    } names[] = {{"text", NLPD_FORMAT_TEXT},
                 {"json", NLPD_FORMAT_JSON},
                 {"feed", NLPD_FORMAT_FEED},
                 {"html", NLPD_FORMAT_HTML},
                 {"detect", NLPD_FORMAT_DETECT}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].f;
            return 0;
        }
    }
    return -1;
}

/* Encodes --options once, to be appended to every file's encoding. */
static int
encode_options(const char *arg, submit_opts *so)
{
    char why[256] = "";
    int rc = nlpd_client_options_encode(arg, &so->options_pb, &so->options_len, why, sizeof(why));
    if (rc == 0)
        return 0;
    say("--options: %s", why[0] != '\0' ? why : nlpd_strerror(rc));
    return rc == NLPD_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
}

/* Waits until `until_us` for a reply about `corr`. Returns 0 with it in *r,
 * NLPD_ETIMEDOUT when none came (a signal also ends the wait early, for the
 * caller to look at `interrupted`), or another error. Replies about other
 * documents (given up on earlier) are skipped. */
static int
wait_reply(nlpd_client *c, uint64_t corr, uint64_t until_us, nlpd_reply *r)
{
    uint64_t now = nlpd__mono_us();
    if (now >= until_us)
        return NLPD_ETIMEDOUT;
    int rc = nlpd_client_recv(c, r, (int)((until_us - now + 999) / 1000));
    if (rc == -EINTR)
        return NLPD_ETIMEDOUT;
    if (rc == NLPD_EPROTO) {
        say("ignoring a malformed reply from nlpd: %s", r->message);
        return NLPD_ETIMEDOUT;
    }
    if (rc == 0 && r->corr != corr)
        return NLPD_ETIMEDOUT;
    return rc;
}

/* The wait before resending a document refused as busy, with jitter. */
static unsigned
busy_delay_ms(unsigned attempt)
{
    static uint32_t rnd;
    if (rnd == 0)
        rnd = (uint32_t)nlpd__mono_us() | 1u;
    rnd ^= rnd << 13; /* xorshift32 */
    rnd ^= rnd >> 17;
    rnd ^= rnd << 5;
    return nlpd_client_backoff_ms(attempt, rnd);
}

/* Sends one document and waits for its result until `deadline_us`,
 * resending it while the daemon says busy. Returns 0 with the RESULT in *r,
 * 1 with a refusal in *r, or NLPD_ETIMEDOUT, -EINTR, another error. */
static int
submit_and_wait(nlpd_client *c, uint64_t corr, const uint8_t *payload, size_t len,
                uint64_t deadline_us, nlpd_reply *r)
{
    unsigned attempt = 0;
    uint64_t send_at = 0; /* UINT64_MAX: sent, waiting for the answer */
    while (!interrupted) {
        uint64_t now = nlpd__mono_us();
        if (now >= deadline_us)
            return NLPD_ETIMEDOUT;
        int rc = 0;
        if (now >= send_at) {
            rc = nlpd_client_submit(c, corr, "pb wait", payload, len, SLICE_MS);
            send_at = rc == 0 ? UINT64_MAX : send_at;
            if (rc == 0 || rc == NLPD_ETIMEDOUT || rc == -EINTR)
                continue;
            return rc;
        }
        uint64_t until = send_at < deadline_us ? send_at : deadline_us;
        if (now + (uint64_t)SLICE_MS * 1000u < until)
            until = now + (uint64_t)SLICE_MS * 1000u;
        rc = wait_reply(c, corr, until, r);
        if (rc == NLPD_ETIMEDOUT)
            continue;
        if (rc != 0 || r->kind == NLPD_REPLY_RESULT)
            return rc;
        if (r->kind != NLPD_REPLY_REFUSED)
            continue;
        if (strcmp(r->code, "busy") != 0)
            return 1;
        send_at = nlpd__mono_us() + 1000u * (uint64_t)busy_delay_ms(attempt++);
    }
    return -EINTR;
}

/* Reads `path` ("-": stdin) and encodes it as a submission. Returns 0 with
 * *enc (free with nlpd_free), 1 when this file failed (already said), or
 * EXIT_INTERRUPTED. */
static int
load_file(const submit_opts *so, const char *path, const char *name, uint8_t **enc, size_t *enc_len)
{
    int is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say("%s: %s", name, strerror(errno));
        return 1;
    }
    nlpd__buf text = {0};
    int rc = read_all(fd, &text, MAX_FILE_BYTES);
    if (!is_stdin)
        close(fd);
    if (rc == 0) {
        nlpd_submission s = {
            .id = so->id != NULL ? so->id : (is_stdin ? NULL : path),
            .title = so->title,
            .text = (const char *)text.data,
            .text_len = text.len,
            .format = so->format,
        };
        rc = nlpd_client_submission_encode(&s, so->options_pb, so->options_len, enc, enc_len);
    }
    nlpd__buf_release(&text);
    if (rc == 0)
        return 0;
    if (rc == -EINTR)
        return EXIT_INTERRUPTED;
    const char *why = rc == NLPD_EMSGSIZE ? "larger than 256 MiB"
                      : rc == NLPD_EINVAL ? "the id or title is not valid UTF-8"
                                          : nlpd_strerror(rc);
    say("%s: %s", name, why);
    return 1;
}

/* Prints a RESULT as JSON. Returns 0, 1 when it cannot be decoded (said),
 * or EXIT_RUNTIME. */
static int
print_result(nlpd_doc *doc, const submit_opts *so, const char *name, const nlpd_reply *r)
{
    char why[256] = "";
    char *json = NULL;
    size_t json_len = 0;
    int rc = nlpd_client_render(doc, r->payload, r->payload_len, so->json_flags, 0, &json,
                                &json_len, why, sizeof(why));
    if (rc != 0) {
        say("%s: %s", name, rc == NLPD_EPROTO ? why : nlpd_strerror(rc));
        return rc == NLPD_EPROTO ? 1 : EXIT_RUNTIME;
    }
    nlpd_error_record e = {0};
    if (r->error && nlpd_doc_error_count(doc) > 0 && nlpd_doc_error(doc, 0, &e) == 0)
        say("%s: stage %s reported %s: %s", name, e.stage, e.code, e.message);
    fwrite(json, 1, json_len, stdout);
    fputc('\n', stdout);
    nlpd_free(json);
    if (fflush(stdout) != 0) {
        say("writing the output: %s", strerror(errno));
        return EXIT_RUNTIME;
    }
    return 0;
}

/* Reads, sends and prints one file. Returns 0, 1 when this file failed
 * (already said), or an exit status that ends the command. */
static int
submit_file(const global *g, nlpd_client *c, nlpd_doc *doc, const submit_opts *so, const char *path,
            uint64_t corr)
{
    const char *name = strcmp(path, "-") == 0 ? "(stdin)" : path;
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    int status = load_file(so, path, name, &enc, &enc_len);
    if (status != 0)
        return status;
    nlpd_reply r;
    uint64_t deadline = nlpd__mono_us() + (uint64_t)timeout_ms_of(g->timeout_s) * 1000u;
    int rc = submit_and_wait(c, corr, enc, enc_len, deadline, &r);
    nlpd_free(enc);
    switch (rc) {
    case 0:
        return print_result(doc, so, name, &r);
    case 1:
        say("%s: refused (%s): %s", name, r.code, r.message);
        return 1;
    case -EINTR:
        return EXIT_INTERRUPTED;
    case NLPD_ETIMEDOUT:
        say("%s: no result within %g s", name, g->timeout_s);
        return 1;
    default:
        say("%s: %s", name, nlpd_strerror(rc));
        return EXIT_RUNTIME;
    }
}

static int
cmd_submit(const global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"id", required_argument, NULL, 'i'},
        {"title", required_argument, NULL, 't'},  {"options", required_argument, NULL, 'o'},
        {"pretty", no_argument, NULL, 'p'},       {"no-tokens", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    submit_opts so = {.format = NLPD_FORMAT_DETECT, .json_flags = NLPD_JSON_DEFAULT};
    const char *options = NULL;
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (format_of(optarg, &so.format) != 0) {
                say("submit: --format must be text, json, feed, html or detect");
                return EXIT_USAGE;
            }
            break;
        case 'i':
            so.id = optarg;
            break;
        case 't':
            so.title = optarg;
            break;
        case 'o':
            options = optarg;
            break;
        case 'p':
            so.json_flags |= NLPD_JSON_PRETTY;
            break;
        case 'n':
            so.json_flags &= ~(unsigned)NLPD_JSON_TOKENS;
            break;
        case 'h':
            fputs(usage_submit, stdout);
            return 0;
        default:
            return bad_option(argv[0], ch, argv);
        }
    }
    if (optind >= argc) {
        say("submit: no FILE given (\"-\" reads standard input)");
        fputs(usage_submit, stderr);
        return EXIT_USAGE;
    }
    int stdin_seen = 0;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0 && stdin_seen++) {
            say("submit: \"-\" (standard input) given twice");
            return EXIT_USAGE;
        }
    }
    if (options != NULL) {
        int rc = encode_options(options, &so);
        if (rc != 0)
            return rc;
    }
    nlpd_client *c = NULL;
    nlpd_doc *doc = NULL;
    char ep[600];
    int status = open_front(g, &c, ep, sizeof(ep));
    if (status == 0 && nlpd_doc_new(&doc) != 0) {
        say("out of memory");
        status = EXIT_RUNTIME;
    }
    int failed = 0;
    for (int i = optind; status == 0 && i < argc; i++) {
        int rc = submit_file(g, c, doc, &so, argv[i], (uint64_t)(i - optind) + 1);
        if (rc == 1) {
            failed = 1;
        } else if (rc != 0) {
            status = rc;
        }
    }
    if (status == EXIT_INTERRUPTED)
        say("interrupted");
    nlpd_doc_free(&doc);
    nlpd_client_close(&c);
    nlpd_free(so.options_pb);
    return status != 0 ? status : failed ? EXIT_RUNTIME : 0;
}

/* --- annotate ------------------------------------------------------------ */

typedef struct term {
    int live;      /* a progress line is on the terminal */
    int show;      /* draw progress at all */
    double last_s; /* the previous redraw: elapsed and written */
    uint64_t last_written;
    double rate; /* recent documents per second, smoothed */
} term;

static void
annotate_diag(void *arg, const char *msg)
{
    term *t = arg;
    if (t->live) {
        fputs("\r\033[K", stderr); /* the next redraw puts the progress back */
        t->live = 0;
    }
    fprintf(stderr, "nlpctl: %s\n", msg);
}

static void
annotate_progress(void *arg, const nlpd_client_annotate_stats *st, int final)
{
    term *t = arg;
    if (!t->show)
        return;
    double rate = st->elapsed_s > 0 ? (double)st->written / st->elapsed_s : 0.0;
    if (!final && st->elapsed_s > t->last_s) {
        /* The recent rate says more than the average once things change. */
        double now_rate = (double)(st->written - t->last_written) / (st->elapsed_s - t->last_s);
        t->rate = t->last_s == 0 ? now_rate : 0.7 * t->rate + 0.3 * now_rate;
        t->last_s = st->elapsed_s;
        t->last_written = st->written;
    }
    if (final) {
        fprintf(stderr,
                "\r\033[Kannotate: %" PRIu64 " documents in %.1f s (%.1f docs/s), %" PRIu64
                " failed, %" PRIu64 " with stage errors\n",
                st->written, st->elapsed_s, rate, st->failed, st->stage_errors);
        t->live = 0;
        return;
    }
    char waiting[96] = "";
    if (st->stalled && st->oldest_line > 0) {
        snprintf(waiting, sizeof(waiting), ", waiting for line %" PRIu64 " (%.0f s)",
                 st->oldest_line, st->oldest_wait_s);
    }
    fprintf(stderr,
            "\r\033[Kannotate: %" PRIu64 "/%" PRIu64 " done, %.1f docs/s, %" PRIu64
            " failed, %" PRIu64 " in flight%s%s",
            st->written, st->read, t->rate, st->failed, st->in_flight,
            st->busy > 0 ? ", daemon busy at times" : "", waiting);
    fflush(stderr);
    t->live = 1;
}

static int
cmd_annotate(const global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"window", required_argument, NULL, 'w'}, {"no-tokens", no_argument, NULL, 'n'},
        {"minimal", no_argument, NULL, 'm'},      {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    nlpd_client_annotate_opts o = NLPD_CLIENT_ANNOTATE_OPTS_INIT;
    o.json_flags = NLPD_JSON_DEFAULT;
    int quiet = 0;
    optind = 0;
    int ch;
    unsigned long long v;
    while ((ch = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
        switch (ch) {
        case 'w':
            if (parse_count(optarg, 1, 100000, &v) != 0) {
                say("annotate: --window must be a number from 1 to 100000");
                return EXIT_USAGE;
            }
            o.window = (size_t)v;
            break;
        case 'n':
            o.json_flags &= ~(unsigned)NLPD_JSON_TOKENS;
            break;
        case 'm':
            o.minimal = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(usage_annotate, stdout);
            return 0;
        default:
            return bad_option(argv[0], ch, argv);
        }
    }
    if (optind < argc) {
        say("annotate: unexpected argument '%s' (the input is read from standard input)",
            argv[optind]);
        return EXIT_USAGE;
    }
    nlpd_client *c = NULL;
    char ep[600];
    int status = open_front(g, &c, ep, sizeof(ep));
    if (status != 0)
        return status;
    term t = {.live = 0, .show = !quiet && isatty(STDERR_FILENO)};
    o.timeout_ms = timeout_ms_of(g->timeout_s);
    o.stop = &interrupted;
    o.diag = annotate_diag;
    o.progress = annotate_progress;
    o.arg = &t;
    nlpd_client_annotate_stats st;
    int rc = nlpd_client_annotate(c, STDIN_FILENO, stdout, &o, &st);
    nlpd_client_close(&c);
    if (rc == -EINTR) {
        say("interrupted: %" PRIu64 " document%s left unanswered (%" PRIu64 " written)",
            st.unanswered, st.unanswered == 1 ? "" : "s", st.written);
        return EXIT_INTERRUPTED;
    }
    if (rc != 0) {
        say("annotate: %s (%" PRIu64 " documents written, %" PRIu64 " unanswered)",
            nlpd_strerror(rc), st.written, st.unanswered);
        return EXIT_RUNTIME;
    }
    if (st.malformed > 0) {
        say("%" PRIu64 " malformed repl%s from nlpd ignored", st.malformed,
            st.malformed == 1 ? "y" : "ies");
    }
    if (st.failed > 0) {
        say("%" PRIu64 " of %" PRIu64 " documents got no annotation", st.failed, st.read);
        return EXIT_RUNTIME;
    }
    return 0;
}

/* --- tail ---------------------------------------------------------------- */

typedef struct tail_opts {
    unsigned json_flags;
    int errors_only;
    unsigned long long count; /* 0: no limit */
} tail_opts;

/* Returns 0, -1 after --help, or EXIT_USAGE. */
static int
parse_tail(int argc, char **argv, tail_opts *t)
{
    static const struct option opts[] = {{"errors", no_argument, NULL, 'e'},
                                         {"no-tokens", no_argument, NULL, 'n'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'e':
            t->errors_only = 1;
            break;
        case 'n':
            t->json_flags &= ~(unsigned)NLPD_JSON_TOKENS;
            break;
        case 'c':
            if (parse_count(optarg, 1, UINT64_MAX, &t->count) != 0) {
                say("tail: --count must be a positive number");
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(usage_tail, stdout);
            return -1;
        default:
            return bad_option(argv[0], ch, argv);
        }
    }
    if (optind < argc) {
        say("tail: unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    return 0;
}

/* Reads one message of the feed, if one comes within a slice, and prints
 * it. Returns 1 when a result was printed, 0 when none was, or an exit
 * status. */
static int
tail_one(void *sub, nlpd_doc *doc, const tail_opts *t, unsigned long long *bad)
{
    zmq_pollitem_t it = {.socket = sub, .fd = 0, .events = ZMQ_POLLIN, .revents = 0};
    nlpd__frames fr;
    if (zmq_poll(&it, 1, SLICE_MS) <= 0 || nlpd__recv_frames(sub, &fr, ZMQ_DONTWAIT) != 0)
        return 0; /* nothing yet, or EINTR: the caller's loop decides */
    char why[256] = "the message is not topic|key|document";
    char *json = NULL;
    size_t len = 0;
    int rc = NLPD_EPROTO;
    if (fr.n == 3 && fr.extra == 0) {
        rc = nlpd_client_render(doc, nlpd__frame_data(&fr, 2), nlpd__frame_size(&fr, 2),
                                t->json_flags, 0, &json, &len, why, sizeof(why));
    }
    nlpd__frames_close(&fr);
    if (rc == NLPD_ENOMEM) {
        say("out of memory");
        return EXIT_RUNTIME;
    }
    if (rc != 0) {
        if ((*bad)++ < 10)
            say("ignoring a malformed result on the feed: %s", why);
        return 0;
    }
    fwrite(json, 1, len, stdout);
    fputc('\n', stdout);
    nlpd_free(json);
    if (fflush(stdout) != 0) {
        say("writing the output: %s", strerror(errno));
        return EXIT_RUNTIME;
    }
    return 1;
}

static int
cmd_tail(const global *g, int argc, char **argv)
{
    tail_opts t = {.json_flags = NLPD_JSON_DEFAULT};
    int status = parse_tail(argc, argv, &t);
    if (status != 0)
        return status < 0 ? 0 : status;
    char ep[600];
    status = endpoint_of(g, g->results, NLPD_SOCK_RESULTS, ep, sizeof(ep));
    if (status == 0)
        status = check_daemon(ep);
    if (status == 0)
        status = check_keys(g, ep);
    if (status != 0)
        return status;
    void *zctx = zmq_ctx_new();
    void *sub = zctx != NULL ? zmq_socket(zctx, ZMQ_SUB) : NULL;
    nlpd_doc *doc = NULL;
    if (sub == NULL || nlpd_doc_new(&doc) != 0) {
        say("out of memory");
        status = EXIT_RUNTIME;
        goto out;
    }
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "result.error", strlen("result.error"));
    if (!t.errors_only)
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "result.ok", strlen("result.ok"));
    char why[700];
    if (nlpd_client_curve_setup(sub, ep, &g->keys, why, sizeof(why)) != 0) {
        say("%s", why);
        status = EXIT_USAGE;
        goto out;
    }
    if (zmq_connect(sub, ep) != 0) {
        say("cannot connect to %s: %s", ep, zmq_strerror(zmq_errno()));
        status = EXIT_USAGE;
        goto out;
    }
    unsigned long long seen = 0, bad = 0;
    while (status == 0 && !interrupted && (t.count == 0 || seen < t.count)) {
        int rc = tail_one(sub, doc, &t, &bad);
        seen += rc == 1;
        status = rc == 1 ? 0 : rc;
    }
out:
    nlpd_doc_free(&doc);
    if (sub != NULL)
        zmq_close(sub);
    if (zctx != NULL)
        zmq_ctx_term(zctx);
    return status;
}

/* --- status -------------------------------------------------------------- */

/* A field formatted for the table, or "-" when missing or of another type. */
static const char *
fmt_int(json_t *obj, const char *key, char *buf, size_t len)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(buf, len, "%.0f", json_real_value(v));
    } else {
        snprintf(buf, len, "-");
    }
    return buf;
}

static const char *
fmt_str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL && s[0] != '\0' ? s : "-";
}

static const char *
fmt_ms(json_t *obj, const char *key, char *buf, size_t len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v)) {
        snprintf(buf, len, "-");
        return buf;
    }
    /* Three significant digits or so: stages take microseconds or seconds. */
    double ms = json_number_value(v);
    snprintf(buf, len, ms < 1 ? "%.3f" : ms < 100 ? "%.1f" : "%.0f", ms);
    return buf;
}

static const char *
fmt_duration(json_t *obj, const char *key, char *buf, size_t len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v)) {
        snprintf(buf, len, "-");
        return buf;
    }
    double s = json_number_value(v);
    unsigned long t = s > 0 ? (unsigned long)s : 0;
    if (s < 60) {
        snprintf(buf, len, "%.1fs", s);
    } else if (t < 3600) {
        snprintf(buf, len, "%lum%02lus", t / 60, t % 60);
    } else if (t < 86400) {
        snprintf(buf, len, "%luh%02lum", t / 3600, t / 60 % 60);
    } else {
        snprintf(buf, len, "%lud%02luh", t / 86400, t / 3600 % 24);
    }
    return buf;
}

static const char *
fmt_rss(json_t *obj, const char *key, char *buf, size_t len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v)) {
        snprintf(buf, len, "-");
        return buf;
    }
    double kb = (double)json_integer_value(v);
    if (kb < 1024) {
        snprintf(buf, len, "%.0f KiB", kb);
    } else if (kb < 1024 * 1024) {
        snprintf(buf, len, "%.1f MiB", kb / 1024);
    } else {
        snprintf(buf, len, "%.2f GiB", kb / 1024 / 1024);
    }
    return buf;
}

static int
name_width(json_t *arr, const char *key, int min)
{
    int w = min;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(json_object_get(v, key));
        if (s != NULL && (int)strlen(s) > w)
            w = (int)strlen(s);
    }
    return w > 40 ? 40 : w;
}

static void
print_workers(json_t *workers)
{
    if (!json_is_array(workers) || json_array_size(workers) == 0) {
        printf("    (no workers)\n");
        return;
    }
    int w = name_width(workers, "id", 6);
    printf("    %-*s %7s  %-9s %4s %5s %10s %7s %8s %10s %9s\n", w, "WORKER", "PID", "STATE",
           "GEN", "HELD", "PROCESSED", "ERRORS", "RESTARTS", "RSS", "UP");
    size_t i;
    json_t *wk;
    json_array_foreach(workers, i, wk)
    {
        char b[8][48];
        printf("    %-*s %7s  %-9s %4s %5s %10s %7s %8s %10s %9s%s\n", w, fmt_str(wk, "id"),
               fmt_int(wk, "pid", b[0], sizeof(b[0])), fmt_str(wk, "state"),
               fmt_int(wk, "generation", b[1], sizeof(b[1])), fmt_int(wk, "held", b[2], 48),
               fmt_int(wk, "processed", b[3], 48), fmt_int(wk, "errors", b[4], 48),
               fmt_int(wk, "restarts", b[7], 48), fmt_rss(wk, "rss_kb", b[5], 48),
               fmt_duration(wk, "uptime_s", b[6], 48),
               json_is_true(json_object_get(wk, "remote")) ? "  remote" : "");
    }
}

static void
print_status(json_t *root)
{
    char b[8][48];
    printf("nlpd %s  pid %s  %s  up %s  runtime dir %s\n", fmt_str(root, "version"),
           fmt_int(root, "pid", b[0], 48), fmt_str(root, "state"),
           fmt_duration(root, "uptime_s", b[1], 48), fmt_str(root, "runtime_dir"));
    printf("documents: %s in flight, %s accepted, %s completed",
           fmt_int(root, "in_flight", b[0], 48), fmt_int(root, "accepted", b[1], 48),
           fmt_int(root, "completed", b[2], 48));
    if (json_is_integer(json_object_get(root, "completed_with_errors")))
        printf(" (%s with errors)", fmt_int(root, "completed_with_errors", b[3], 48));
    printf(", %s refused\n", fmt_int(root, "refused", b[4], 48));
    const char *not_ready = json_string_value(json_object_get(root, "not_ready"));
    if (json_is_false(json_object_get(root, "ready")) && not_ready != NULL && not_ready[0])
        printf("not ready: %s\n", not_ready);
    json_t *jn = json_object_get(root, "journal");
    if (json_is_object(jn) && !json_is_true(json_object_get(jn, "enabled"))) {
        printf("journal: off (nothing survives a crash; no result store)\n");
    } else if (json_is_object(jn)) {
        const char *err = json_string_value(json_object_get(jn, "error"));
        if (err != NULL && err[0] != '\0') {
            printf("journal: NOT OPEN, documents are refused: %s\n", err);
        } else {
            printf("journal: %s, %s pending, %s results (last cursor %s), %s dead letters%s\n",
                   fmt_str(jn, "sync"), fmt_int(jn, "pending", b[0], 48),
                   fmt_int(jn, "results", b[1], 48), fmt_int(jn, "last_cursor", b[2], 48),
                   fmt_int(jn, "dead_letters", b[3], 48),
                   json_is_true(json_object_get(jn, "replaying")) ? ", replaying" : "");
        }
    }
    json_t *sec = json_object_get(root, "security");
    if (json_is_object(sec)) {
        printf("security: CurveZMQ on tcp, public key %s, authorized keys %s, refused "
               "connections %s\n",
               fmt_str(sec, "public_key"), fmt_int(sec, "authorized_keys", b[0], 48),
               fmt_int(sec, "refused", b[1], 48));
        size_t k;
        json_t *ep;
        json_array_foreach(json_object_get(sec, "tcp_endpoints"), k, ep)
        {
            printf("  %-14s %s\n", fmt_str(ep, "socket"), fmt_str(ep, "endpoint"));
        }
    }
    json_t *stages = json_object_get(root, "stages");
    if (!json_is_array(stages) || json_array_size(stages) == 0) {
        printf("\n(no stages)\n");
        return;
    }
    int w = name_width(stages, "name", 5);
    printf("\n%-*s %8s %7s %10s %7s %9s %7s %7s\n", w, "STAGE", "WORKERS", "QUEUED", "PROCESSED",
           "ERRORS", "RESTARTS", "P50 ms", "P99 ms");
    size_t i;
    json_t *st;
    json_array_foreach(stages, i, st)
    {
        if (i > 0)
            putchar('\n');
        json_t *workers = json_object_get(st, "workers");
        long ready = 0;
        size_t j;
        json_t *wk;
        json_array_foreach(workers, j, wk)
        {
            const char *state = json_string_value(json_object_get(wk, "state"));
            ready += state != NULL && strcmp(state, "ready") == 0;
        }
        char wbuf[96];
        snprintf(wbuf, sizeof(wbuf), "%ld/%s", ready, fmt_int(st, "replicas", b[0], 48));
        json_t *lat = json_object_get(st, "latency_ms");
        printf("%-*s %8s %7s %10s %7s %9s %7s %7s%s\n", w, fmt_str(st, "name"), wbuf,
               fmt_int(st, "queued", b[1], 48), fmt_int(st, "processed", b[2], 48),
               fmt_int(st, "errors", b[3], 48), fmt_int(st, "restarts", b[4], 48),
               fmt_ms(lat, "p50", b[5], 48), fmt_ms(lat, "p99", b[6], 48),
               json_is_true(json_object_get(st, "crash_loop")) ? "  CRASH LOOP" : "");
        json_int_t timeouts = json_integer_value(json_object_get(st, "timeouts"));
        json_int_t crashes = json_integer_value(json_object_get(st, "crashes"));
        if (timeouts > 0 || crashes > 0) {
            printf("  %" JSON_INTEGER_FORMAT " timeouts, %" JSON_INTEGER_FORMAT " crashes\n",
                   timeouts, crashes);
        }
        const char *cmd = json_string_value(json_object_get(st, "command"));
        if (cmd != NULL && cmd[0] != '\0')
            printf("  command: %s\n", cmd);
        print_workers(workers);
    }
}

/* Runs one control request; prints why it failed. Returns 0 with *reply
 * (free with nlpd_free) or an exit status. */
static int
control(const global *g, const char *request, char **reply)
{
    char ep[600];
    int status = endpoint_of(g, g->control, NLPD_SOCK_CONTROL, ep, sizeof(ep));
    if (status == 0)
        status = check_daemon(ep);
    if (status == 0)
        status = check_keys(g, ep);
    if (status != 0)
        return status;
    int ms = control_timeout_ms(g);
    int rc = nlpd_control_call_keys(NULL, ep, &g->keys, request, ms, reply);
    switch (rc) {
    case 0:
        return 0;
    case NLPD_EINVAL:
        if (*reply != NULL) {
            say("%s: the daemon says: %s", request, *reply);
            nlpd_free(*reply);
            *reply = NULL;
            return EXIT_RUNTIME;
        }
        say("cannot connect to %s", ep);
        return EXIT_USAGE;
    case NLPD_ETIMEDOUT:
        say("no answer from nlpd on %s within %g s", ep, ms / 1000.0);
        return EXIT_RUNTIME;
    case -EINTR:
        say("interrupted");
        return EXIT_INTERRUPTED;
    case NLPD_EPROTO:
        say("%s: the daemon's answer is not OK|json or ERROR|message", request);
        return EXIT_RUNTIME;
    default:
        say("%s: %s", request, nlpd_strerror(rc));
        return EXIT_RUNTIME;
    }
}

/* `status` and `stats`: sends `request`, prints the JSON answer as it is
 * with --json, else through `print`. */
static int
json_command(const global *g, int argc, char **argv, const char *usage, const char *request,
             const char *name, void (*print)(json_t *))
{
    int raw = 0;
    int rc = parse_flag(argc, argv, usage, "json", &raw, 1);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    char *reply = NULL;
    int status = control(g, request, &reply);
    if (status != 0)
        return status;
    if (raw) {
        printf("%s\n", reply);
    } else {
        json_error_t jerr;
        json_t *root = json_loads(reply, 0, &jerr);
        if (json_is_object(root)) {
            print(root);
        } else {
            say("%s: the daemon's answer is not a JSON object: %s", name, jerr.text);
            status = EXIT_RUNTIME;
        }
        json_decref(root);
    }
    nlpd_free(reply);
    if (status == 0 && fflush(stdout) != 0)
        status = EXIT_RUNTIME;
    return status;
}

static int
cmd_status(const global *g, int argc, char **argv)
{
    return json_command(g, argc, argv, usage_status, "STATUS", "status", print_status);
}

/* A command without options: sends `request` and prints the answer. */
static int
simple_command(const global *g, int argc, char **argv, const char *usage, const char *request)
{
    int rc = parse_help_only(argc, argv, usage);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    char *reply = NULL;
    int status = control(g, request, &reply);
    if (status != 0)
        return status;
    printf("%s\n", reply);
    nlpd_free(reply);
    return 0;
}

static int
cmd_reload(const global *g, int argc, char **argv)
{
    return simple_command(g, argc, argv, usage_reload, "RELOAD");
}

static int
cmd_drain(const global *g, int argc, char **argv)
{
    return simple_command(g, argc, argv, usage_drain, "DRAIN");
}

/* --- The result store ----------------------------------------------------- */

static int
cmd_get(const global *g, int argc, char **argv)
{
    int minimal = 0;
    int rc = parse_flag(argc, argv, usage_get, "minimal", &minimal, 0);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (optind + 1 != argc) {
        say("get: give one document key");
        return EXIT_USAGE;
    }
    const char *key = argv[optind];
    if (strlen(key) == 0 || strlen(key) > 32 || strspn(key, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                            "abcdefghijklmnopqrstuvwxyz") !=
                                                    strlen(key)) {
        say("get: '%s' is not a document key", key);
        return EXIT_USAGE;
    }
    char req[64];
    snprintf(req, sizeof(req), "GET %s", key);
    char *reply = NULL;
    int status = control(g, req, &reply);
    if (status != 0)
        return status;
    if (minimal) {
        char *m = NULL;
        if (nlpd_client_minimal_json(reply, strlen(reply), &m, NULL) != 0) {
            say("get: the daemon's answer is not a JSON object");
            nlpd_free(reply);
            return EXIT_RUNTIME;
        }
        nlpd_free(reply);
        reply = m;
    }
    printf("%s\n", reply);
    nlpd_free(reply);
    return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

static int
cmd_results(const global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"after", required_argument, NULL, 'a'}, {"limit", required_argument, NULL, 'n'},
        {"follow", no_argument, NULL, 'f'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    unsigned long long after = 0, limit = 0;
    int follow = 0;
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'a':
            if (parse_count(optarg, 0, INT64_MAX, &after) != 0) {
                say("results: --after takes a cursor (a number), not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'n':
            if (parse_count(optarg, 1, INT64_MAX, &limit) != 0) {
                say("results: --limit takes a positive number, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'f':
            follow = 1;
            break;
        case 'h':
            fputs(usage_results, stdout);
            return 0;
        default:
            return bad_option(argv[0], ch, argv);
        }
    }
    if (optind < argc) {
        say("results: unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    unsigned long long printed = 0;
    while (!interrupted) {
        unsigned long long want = 1000;
        if (limit > 0 && limit - printed < want)
            want = limit - printed;
        char req[96];
        snprintf(req, sizeof(req), "RESULTS %llu %llu", after, want);
        char *reply = NULL;
        int status = control(g, req, &reply);
        if (status != 0)
            return status;
        size_t got = 0;
        for (char *line = reply, *nl; *line != '\0'; line = nl + 1) {
            nl = strchr(line, '\n');
            if (nl == NULL)
                break;
            unsigned long long c = 0;
            if (sscanf(line, "{\"cursor\":%llu", &c) != 1 || c <= after) {
                say("results: unexpected line from the daemon");
                nlpd_free(reply);
                return EXIT_RUNTIME;
            }
            fwrite(line, 1, (size_t)(nl - line) + 1, stdout);
            after = c;
            got++;
        }
        nlpd_free(reply);
        printed += got;
        if (fflush(stdout) != 0)
            return EXIT_RUNTIME;
        if (limit > 0 && printed >= limit)
            return 0;
        if (got == 0) {
            if (!follow)
                return 0;
            for (int i = 0; i < 500 / SLICE_MS + 1 && !interrupted; i++)
                usleep(SLICE_MS * 1000);
        }
    }
    return EXIT_INTERRUPTED;
}

static int
cmd_deadletters(const global *g, int argc, char **argv)
{
    return simple_command(g, argc, argv, usage_deadletters, "DEADLETTERS");
}

static int
cmd_retry(const global *g, int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_retry, stdout);
        return 0;
    }
    unsigned long long id = 0;
    if (argc != 2 || parse_count(argv[1], 1, INT64_MAX, &id) != 0) {
        say("retry: give one dead letter id (nlpctl deadletters lists them)");
        return EXIT_USAGE;
    }
    char req[64];
    snprintf(req, sizeof(req), "RETRY %llu", id);
    char *reply = NULL;
    int status = control(g, req, &reply);
    if (status != 0)
        return status;
    printf("%s\n", reply);
    nlpd_free(reply);
    return 0;
}

/* --- stats, top, workers (issue 7: operations) --------------------------------- */

#define NLPD_TOP_HISTORY 30

static const char usage_stats[] =
    "Usage: nlpctl stats [--json]\n"
    "Shows the daemon's figures: documents accepted, completed, refused and in flight;\n"
    "end-to-end latency; per stage documents/s (last 10 s and since start), latency\n"
    "p50/p90/p99 (processing, and time in the stage with its queue), queue depth,\n"
    "documents in workers' hands, errors, timeouts, crashes, restarts, dead letters;\n"
    "per hop the backlog and the age of its oldest document; the journal.\n"
    "Latency quantiles cover the last 60 s (at most 2048 documents).\n"
    "\n"
    "  --json  print the daemon's JSON as received (docs/protocol.md, STATS)\n";

static const char usage_top[] =
    "Usage: nlpctl top [OPTIONS]\n"
    "A live view, redrawn every second: each stage's workers, documents/s, latency,\n"
    "queue, documents in hand and a sparkline of its rate over the last 30 s; the\n"
    "stage with the longest queue is marked as the bottleneck. q or Ctrl-C quits.\n"
    "When standard output is not a terminal, one frame a second is printed as plain\n"
    "lines (a blank line between frames).\n"
    "\n"
    "  --once          print one frame and exit\n"
    "  -n, --count N   print N frames and exit\n"
    "  --interval S    seconds between frames (default 1)\n"
    "  --ascii         draw the sparklines with ASCII characters\n";

static const char usage_workers[] =
    "Usage: nlpctl workers add|remove STAGE N [--json]\n"
    "Starts N more workers for STAGE, or stops N of them, in the running daemon\n"
    "without a reload and without losing documents: a worker removed finishes the\n"
    "document in hand and what it still held goes back to the stage's queue. At\n"
    "least one worker stays; at most 256. The change shows in status and stats and\n"
    "lasts until the next reload or restart, which go back to the configured\n"
    "replicas (change [stage NAME] replicas in the config to keep it).\n"
    "\n"
    "  --json  print the daemon's answer as received\n";

static double
num_of(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

/* A rate for a narrow column: 812, 81.2, 8.12. */
static const char *
fmt_rate(double r, char *buf, size_t len)
{
    snprintf(buf, len, r >= 1000 ? "%.0f" : r >= 10 ? "%.1f" : "%.2f", r);
    return buf;
}

static void
print_stats(json_t *root)
{
    char b[16][48];
    json_t *docs = json_object_get(root, "documents");
    json_t *lat = json_object_get(docs, "latency_ms");
    const char *why = fmt_str(root, "not_ready");
    printf("nlpd %s  %s  up %s  %s\n", fmt_str(root, "version"), fmt_str(root, "state"),
           fmt_duration(root, "uptime_s", b[0], 48),
           json_is_true(json_object_get(root, "ready")) ? "ready" : why);
    printf("documents: %s accepted, %s completed (%s with errors), %s refused, %s in flight "
           "(%s bytes)\n",
           fmt_int(docs, "accepted", b[0], 48), fmt_int(docs, "completed", b[1], 48),
           fmt_int(docs, "completed_with_errors", b[2], 48), fmt_int(docs, "refused", b[3], 48),
           fmt_int(docs, "in_flight", b[4], 48), fmt_int(docs, "in_flight_bytes", b[5], 48));
    printf("completed/s: %s (last 10 s), %s (since start)\n",
           fmt_rate(num_of(docs, "rate"), b[0], 48),
           fmt_rate(num_of(docs, "rate_since_start"), b[1], 48));
    printf("end to end: p50 %s ms, p90 %s ms, p99 %s ms (%s documents in the last 60 s)\n",
           fmt_ms(lat, "p50", b[0], 48), fmt_ms(lat, "p90", b[1], 48),
           fmt_ms(lat, "p99", b[2], 48), fmt_int(lat, "samples", b[3], 48));
    json_t *jn = json_object_get(root, "journal");
    if (!json_is_true(json_object_get(jn, "enabled"))) {
        printf("journal: off\n");
    } else {
        printf("journal: %s, %s waiting commit, %s commits, %s errors, %s replayed",
               json_is_true(json_object_get(jn, "open")) ? "open" : "NOT OPEN",
               fmt_int(jn, "waiting_commit", b[0], 48), fmt_int(jn, "commits", b[1], 48),
               fmt_int(jn, "errors", b[2], 48), fmt_int(jn, "replayed", b[3], 48));
        if (json_is_integer(json_object_get(jn, "pending")))
            printf(", %s pending, %s results, %s dead letters", fmt_int(jn, "pending", b[0], 48),
                   fmt_int(jn, "results", b[1], 48), fmt_int(jn, "dead_letters", b[2], 48));
        printf("\n");
    }
    const char *ml = json_string_value(json_object_get(root, "metrics_listen"));
    if (ml != NULL && ml[0] != '\0')
        printf("metrics: http://%s/metrics\n", ml);
    json_t *stages = json_object_get(root, "stages");
    int w = name_width(stages, "name", 5);
    printf("\n%-*s %7s %8s %8s %8s %8s %8s %9s %6s %7s %10s %6s %5s %5s %5s %5s\n", w, "STAGE",
           "WORKERS", "RATE/s", "AVG/s", "P50 ms", "P90 ms", "P99 ms", "STAGE P99", "QUEUE",
           "IN HAND", "PROCESSED", "ERRORS", "TMOUT", "CRASH", "RESTR", "DEAD");
    size_t i;
    json_t *st;
    json_array_foreach(stages, i, st)
    {
        json_t *wk = json_object_get(st, "workers");
        json_t *pl = json_object_get(st, "latency_ms"), *sl = json_object_get(st, "stage_ms");
        char wbuf[100];
        snprintf(wbuf, sizeof(wbuf), "%s/%s", fmt_int(wk, "ready", b[14], 48),
                 fmt_int(st, "replicas", b[15], 48));
        printf("%-*s %7s %8s %8s %8s %8s %8s %9s %6s %7s %10s %6s %5s %5s %5s %5s%s%s\n", w,
               fmt_str(st, "name"), wbuf, fmt_rate(num_of(st, "rate"), b[0], 48),
               fmt_rate(num_of(st, "rate_since_start"), b[1], 48), fmt_ms(pl, "p50", b[2], 48),
               fmt_ms(pl, "p90", b[3], 48), fmt_ms(pl, "p99", b[4], 48),
               fmt_ms(sl, "p99", b[5], 48), fmt_int(st, "queued", b[6], 48),
               fmt_int(st, "in_hand", b[7], 48), fmt_int(st, "processed", b[8], 48),
               fmt_int(st, "errors", b[9], 48), fmt_int(st, "timeouts", b[10], 48),
               fmt_int(st, "crashes", b[11], 48), fmt_int(st, "restarts", b[12], 48),
               fmt_int(st, "dead_letters", b[13], 48),
               json_is_true(json_object_get(st, "crash_loop")) ? "  CRASH LOOP" : "",
               json_is_true(json_object_get(st, "retiring")) ? "  (retiring)" : "");
    }
    json_t *hops = json_object_get(root, "hops");
    if (json_is_array(hops) && json_array_size(hops) > 0) {
        printf("\n%-*s %8s %10s\n", 2 * w + 4, "HOP", "BACKLOG", "OLDEST ms");
        json_t *h;
        json_array_foreach(hops, i, h)
        {
            char hop[160];
            snprintf(hop, sizeof(hop), "%s -> %s", fmt_str(h, "from"), fmt_str(h, "to"));
            printf("%-*s %8s %10s\n", 2 * w + 4, hop, fmt_int(h, "backlog", b[0], 48),
                   fmt_ms(h, "oldest_ms", b[1], 48));
        }
    }
}

static int
cmd_stats(const global *g, int argc, char **argv)
{
    return json_command(g, argc, argv, usage_stats, "STATS", "stats", print_stats);
}

static int
cmd_workers(const global *g, int argc, char **argv)
{
    int raw = 0;
    int rc = parse_flag(argc, argv, usage_workers, "json", &raw, 0);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    unsigned long long n = 0;
    if (argc - optind != 3 ||
        (strcmp(argv[optind], "add") != 0 && strcmp(argv[optind], "remove") != 0)) {
        say("workers: give add or remove, a stage and a count (see nlpctl workers --help)");
        return EXIT_USAGE;
    }
    const char *stage = argv[optind + 1];
    if (stage[0] == '\0' || strlen(stage) > 47 || strspn(stage, "abcdefghijklmnopqrstuvwxyz"
                                                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                "0123456789-_") != strlen(stage)) {
        say("workers: '%s' is not a stage name", stage);
        return EXIT_USAGE;
    }
    if (parse_count(argv[optind + 2], 1, 256, &n) != 0) {
        say("workers: the count must be a number from 1 to 256, not '%s'", argv[optind + 2]);
        return EXIT_USAGE;
    }
    char req[128];
    snprintf(req, sizeof(req), "WORKERS %s %s %llu", strcmp(argv[optind], "add") == 0 ? "ADD"
                                                                                       : "REMOVE",
             stage, n);
    char *reply = NULL;
    int status = control(g, req, &reply);
    if (status != 0)
        return status;
    json_t *root = raw ? NULL : json_loads(reply, 0, NULL);
    if (raw || !json_is_object(root)) {
        printf("%s\n", reply);
    } else {
        char b[3][48];
        printf("stage %s: %s workers (was %s; configured %s), until the next reload or "
               "restart\n",
               fmt_str(root, "stage"), fmt_int(root, "replicas", b[0], 48),
               fmt_int(root, "previous", b[1], 48), fmt_int(root, "configured", b[2], 48));
    }
    json_decref(root);
    nlpd_free(reply);
    return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

/* --- top ------------------------------------------------------------------------- */

static volatile sig_atomic_t winch;

static void
on_winch(int sig)
{
    (void)sig;
    winch = 1;
}

typedef struct top_term {
    int tty;       /* stdout is a terminal: redraw in place */
    int in_tty;    /* stdin is a terminal: keys (q) */
    int saved;     /* termios changed (restore it) */
    struct termios orig;
    int utf8;
} top_term;

static top_term the_term;

static void
top_restore(void)
{
    top_term *t = &the_term;
    if (t->saved) {
        tcsetattr(STDIN_FILENO, TCSANOW, &t->orig);
        t->saved = 0;
    }
    if (t->tty) {
        /* Cursor back, the main screen back. */
        fputs("\033[?25h\033[?1049l", stdout);
        fflush(stdout);
        t->tty = 0;
    }
}

static void
top_begin(top_term *t, int force_ascii)
{
    t->tty = isatty(STDOUT_FILENO);
    setlocale(LC_CTYPE, "");
    const char *cs = nl_langinfo(CODESET);
    t->utf8 = !force_ascii && cs != NULL && strcmp(cs, "UTF-8") == 0;
    if (!t->tty)
        return;
    t->in_tty = isatty(STDIN_FILENO);
    if (t->in_tty && tcgetattr(STDIN_FILENO, &t->orig) == 0) {
        struct termios raw = t->orig;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            t->saved = 1;
    }
    atexit(top_restore);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_winch;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGWINCH, &sa, NULL);
    /* The alternate screen, cursor hidden. */
    fputs("\033[?1049h\033[?25l", stdout);
    fflush(stdout);
}

static int
term_cols(const top_term *t)
{
    struct winsize ws;
    if (t->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 100;
}

/* The sparkline of `hist` (per-second rates, oldest first), `width` cells
 * of the newest values, scaled to their own maximum. */
static void
sparkline(nlpd__buf *out, json_t *hist, int width, int utf8)
{
    static const char *const blocks[] = {"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83",
                                         "\xe2\x96\x84", "\xe2\x96\x85", "\xe2\x96\x86",
                                         "\xe2\x96\x87", "\xe2\x96\x88"};
    static const char ascii[] = "_.-:=+*#";
    size_t n = json_array_size(hist);
    size_t from = n > (size_t)width ? n - (size_t)width : 0;
    double max = 0;
    for (size_t i = from; i < n; i++) {
        double v = json_number_value(json_array_get(hist, i));
        if (v > max)
            max = v;
    }
    for (size_t i = from; i < n; i++) {
        double v = json_number_value(json_array_get(hist, i));
        if (max <= 0 || v <= 0) {
            nlpd__buf_append(out, " ", 1);
            continue;
        }
        int level = (int)(v / max * 7.0 + 0.5);
        if (level > 7)
            level = 7;
        if (utf8)
            nlpd__buf_append(out, blocks[level], 3);
        else
            nlpd__buf_append(out, &ascii[level], 1);
    }
}

static void NLPD_PRINTF(3, 4)
line_add(nlpd__buf *out, int cols, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n >= (int)sizeof(line))
        n = (int)sizeof(line) - 1;
    if (n > cols)
        n = cols; /* ASCII only: a byte is a column */
    nlpd__buf_append(out, line, (size_t)n);
}

static void
line_end(nlpd__buf *out, int tty)
{
    if (tty)
        nlpd__buf_append(out, "\033[K", 3);
    nlpd__buf_append(out, "\n", 1);
}

/* One frame from the STATS JSON `root` (NULL: `err` says why not). */
static void
top_frame(nlpd__buf *out, json_t *root, const char *err, const top_term *t)
{
    int cols = term_cols(t);
    char b[8][48];
    time_t now = time(NULL);
    struct tm tm;
    char clock[16];
    strftime(clock, sizeof(clock), "%H:%M:%S", localtime_r(&now, &tm));
    if (root == NULL) {
        line_add(out, cols, "nlpd: %s  %s", err, clock);
        line_end(out, t->tty);
        return;
    }
    json_t *docs = json_object_get(root, "documents");
    json_t *lat = json_object_get(docs, "latency_ms");
    line_add(out, cols, "nlpd %s  %s  up %s  %s  %s", fmt_str(root, "version"),
             fmt_str(root, "state"), fmt_duration(root, "uptime_s", b[0], 48),
             json_is_true(json_object_get(root, "ready")) ? "ready"
                                                          : fmt_str(root, "not_ready"),
             clock);
    line_end(out, t->tty);
    line_add(out, cols,
             "in flight %s  done %s/s  accepted %s  completed %s  refused %s  end to end p50 %s "
             "ms  p99 %s ms",
             fmt_int(docs, "in_flight", b[0], 48), fmt_rate(num_of(docs, "rate"), b[1], 48),
             fmt_int(docs, "accepted", b[2], 48), fmt_int(docs, "completed", b[3], 48),
             fmt_int(docs, "refused", b[4], 48), fmt_ms(lat, "p50", b[5], 48),
             fmt_ms(lat, "p99", b[6], 48));
    line_end(out, t->tty);
    line_end(out, t->tty);
    json_t *stages = json_object_get(root, "stages");
    int w = name_width(stages, "name", 5);
    /* The bottleneck: the longest queue, if any stage has one. */
    long long worst = 0;
    size_t worst_i = (size_t)-1, i;
    json_t *st;
    json_array_foreach(stages, i, st)
    {
        long long q = (long long)json_integer_value(json_object_get(st, "queued"));
        if (q > worst) {
            worst = q;
            worst_i = i;
        }
    }
    int fixed = w + 8 + 9 + 9 + 9 + 7 + 6 + 2;
    int spark = cols - fixed - 14;
    if (spark > NLPD_TOP_HISTORY)
        spark = NLPD_TOP_HISTORY;
    line_add(out, cols, "%-*s %7s %8s %8s %8s %6s %5s  %s", w, "STAGE", "WORKERS", "RATE/s",
             "P50 ms", "P99 ms", "QUEUE", "HAND", spark >= 8 ? "RATE, LAST 30 s" : "");
    line_end(out, t->tty);
    json_array_foreach(stages, i, st)
    {
        json_t *wk = json_object_get(st, "workers");
        json_t *pl = json_object_get(st, "latency_ms");
        char wbuf[100];
        snprintf(wbuf, sizeof(wbuf), "%s/%s", fmt_int(wk, "ready", b[0], 48),
                 fmt_int(st, "replicas", b[1], 48));
        line_add(out, cols, "%-*s %7s %8s %8s %8s %6s %5s  ", w, fmt_str(st, "name"), wbuf,
                 fmt_rate(num_of(st, "rate"), b[2], 48), fmt_ms(pl, "p50", b[3], 48),
                 fmt_ms(pl, "p99", b[4], 48), fmt_int(st, "queued", b[5], 48),
                 fmt_int(st, "in_hand", b[6], 48));
        if (spark >= 8)
            sparkline(out, json_object_get(st, "history"), spark, t->utf8);
        if (i == worst_i && fixed + spark + 14 <= cols)
            nlpd__buf_append(out, "  <- bottleneck", 15);
        else if (json_is_true(json_object_get(st, "crash_loop")))
            nlpd__buf_append(out, "  CRASH LOOP", 12);
        line_end(out, t->tty);
    }
}

static int
cmd_top(const global *g, int argc, char **argv)
{
    static const struct option opts[] = {{"once", no_argument, NULL, '1'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"interval", required_argument, NULL, 'i'},
                                         {"ascii", no_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    unsigned long long frames = 0;
    double interval = 1.0;
    int ascii = 0;
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":hn:", opts, NULL)) != -1) {
        switch (ch) {
        case '1':
            frames = 1;
            break;
        case 'n':
            if (parse_count(optarg, 1, 1000000000, &frames) != 0) {
                say("top: --count takes a positive number, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'i': {
            char *end;
            errno = 0;
            interval = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(interval >= 0.1) ||
                interval > 3600) {
                say("top: --interval takes seconds from 0.1 to 3600, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case 'a':
            ascii = 1;
            break;
        case 'h':
            fputs(usage_top, stdout);
            return 0;
        default:
            return bad_option(argv[0], ch, argv);
        }
    }
    if (optind < argc) {
        say("top: unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    char ep[600];
    int status = endpoint_of(g, g->control, NLPD_SOCK_CONTROL, ep, sizeof(ep));
    if (status == 0)
        status = check_daemon(ep);
    if (status != 0)
        return status;
    top_term *t = &the_term;
    top_begin(t, ascii);
    unsigned long long shown = 0;
    json_t *root = NULL;
    char err[300] = "";
    int fetch = 1;
    while (!interrupted) {
        if (fetch) {
            char *reply = NULL;
            int rc = nlpd_control_call(NULL, ep, "STATS", control_timeout_ms(g), &reply);
            json_decref(root);
            root = NULL;
            if (rc == 0)
                root = json_loads(reply, 0, NULL);
            if (root == NULL) {
                snprintf(err, sizeof(err), "%s",
                         rc == NLPD_ETIMEDOUT ? "no answer from the daemon"
                         : rc == -EINTR       ? "interrupted"
                         : rc != 0            ? nlpd_strerror(rc)
                                              : "the daemon's answer is not JSON");
            }
            nlpd_free(reply);
            if (interrupted)
                break;
        }
        nlpd__buf frame = {0};
        if (t->tty)
            nlpd__buf_append(&frame, "\033[H", 3);
        else if (shown > 0)
            nlpd__buf_append(&frame, "\n", 1);
        top_frame(&frame, root, err, t);
        if (t->tty)
            nlpd__buf_append(&frame, "\033[J", 3);
        if (frame.len > 0)
            fwrite(frame.data, 1, frame.len, stdout);
        nlpd__buf_release(&frame);
        if (fflush(stdout) != 0) {
            status = EXIT_RUNTIME;
            break;
        }
        if (fetch)
            shown++;
        if (!t->tty && root == NULL) {
            say("top: %s", err);
            status = EXIT_RUNTIME;
            break;
        }
        if (frames > 0 && shown >= frames)
            break;
        /* Wait for the next frame; a resize redraws at once, q quits. */
        fetch = 1;
        uint64_t until = nlpd__mono_us() + (uint64_t)(interval * 1e6);
        int quit = 0;
        while (!interrupted && !quit) {
            uint64_t now = nlpd__mono_us();
            if (now >= until)
                break;
            if (winch) {
                winch = 0;
                fetch = 0;
                break;
            }
            struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
            int ms = (int)((until - now + 999) / 1000);
            int n = poll(&pfd, t->saved ? 1 : 0, ms > SLICE_MS ? SLICE_MS : ms);
            if (n > 0 && (pfd.revents & POLLIN)) {
                char c;
                if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
                    quit = 1;
            }
        }
        if (quit)
            break;
    }
    json_decref(root);
    top_restore();
    if (interrupted && frames == 0)
        return 0; /* Ctrl-C is how a live view ends */
    if (interrupted)
        return EXIT_INTERRUPTED;
    return status;
}

/* --- ping ---------------------------------------------------------------- */

/* Pings and waits for the matching PONG until `deadline_us`. Returns 0
 * with the version in r->message, NLPD_ETIMEDOUT, -EINTR or an error. */
static int
ping_once(nlpd_client *c, uint64_t corr, uint64_t deadline_us, nlpd_reply *r)
{
    int rc = nlpd_client_ping(c, corr);
    while (rc == 0) {
        if (interrupted)
            return -EINTR;
        uint64_t now = nlpd__mono_us();
        if (now >= deadline_us)
            return NLPD_ETIMEDOUT;
        uint64_t left_ms = (deadline_us - now + 999) / 1000;
        rc = nlpd_client_recv(c, r, left_ms < SLICE_MS ? (int)left_ms : SLICE_MS);
        if (rc == NLPD_ETIMEDOUT || rc == -EINTR) {
            rc = 0;
        } else if (rc == NLPD_EPROTO) {
            say("ignoring a malformed reply from nlpd: %s", r->message);
            rc = 0;
        } else if (rc == 0 && r->kind == NLPD_REPLY_PONG && r->corr == corr) {
            return 0;
        }
    }
    return rc;
}

static int
cmd_ping(const global *g, int argc, char **argv)
{
    int rc = parse_help_only(argc, argv, usage_ping);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    nlpd_client *c = NULL;
    char ep[600];
    int status = open_front(g, &c, ep, sizeof(ep));
    if (status != 0)
        return status;
    /* The first ping also waits for the connection; the second is timed. */
    uint64_t deadline = nlpd__mono_us() + (uint64_t)control_timeout_ms(g) * 1000u;
    nlpd_reply r;
    rc = ping_once(c, 1, deadline, &r);
    uint64_t t0 = nlpd__mono_us();
    if (rc == 0)
        rc = ping_once(c, 2, deadline, &r);
    if (rc == 0) {
        printf("pong %s (%.3f ms)\n", r.message[0] != '\0' ? r.message : "?",
               (double)(nlpd__mono_us() - t0) / 1000.0);
    }
    nlpd_client_close(&c);
    if (rc == 0)
        return 0;
    if (rc == -EINTR) {
        say("interrupted");
        return EXIT_INTERRUPTED;
    }
    if (rc == NLPD_ETIMEDOUT) {
        say("no answer from nlpd on %s within %g s", ep, control_timeout_ms(g) / 1000.0);
    } else {
        say("ping: %s", nlpd_strerror(rc));
    }
    return EXIT_RUNTIME;
}

/* --- keygen ------------------------------------------------------------- */

/* A key name: letters, digits, '-', '_', '.', not starting with '.'. */
static int
valid_key_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

/* Writes `text` to a new file `path` with `mode` (never over an existing
 * one). Returns 0 or -errno. */
static int
write_new_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    int rc = fchmod(fd, mode) == 0 ? 0 : -errno;
    size_t len = strlen(text), done = 0;
    while (rc == 0 && done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = n < 0 ? -errno : -EIO;
        else
            done += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc != 0)
        unlink(path);
    return rc;
}

static int
cmd_keygen(const global *g, int argc, char **argv)
{
    (void)g;
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = ".";
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        if (ch == 'o') {
            dir = optarg;
        } else if (ch == 'h') {
            fputs(usage_keygen, stdout);
            return 0;
        } else {
            return bad_option(argv[0], ch, argv);
        }
    }
    if (optind + 1 != argc) {
        say("keygen: give one NAME (see nlpctl keygen --help)");
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (!valid_key_name(name)) {
        say("keygen: NAME must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'");
        return EXIT_USAGE;
    }
    char key_path[1200], pub_path[1200];
    if (snprintf(key_path, sizeof(key_path), "%s/%s.key", dir, name) >= (int)sizeof(key_path) ||
        snprintf(pub_path, sizeof(pub_path), "%s/%s.pub", dir, name) >= (int)sizeof(pub_path)) {
        say("keygen: --out is too long");
        return EXIT_USAGE;
    }
    struct stat sb;
    if (lstat(key_path, &sb) == 0 || lstat(pub_path, &sb) == 0) {
        say("keygen: %s or %s exists already; not overwritten", key_path, pub_path);
        return EXIT_RUNTIME;
    }
    char pub[NLPD_CURVE_Z85_LEN + 1], sec[NLPD_CURVE_Z85_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0) {
        say("keygen: this libzmq cannot make Curve keys: %s", zmq_strerror(zmq_errno()));
        return EXIT_RUNTIME;
    }
    char when[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    char head[400], text[1200];
    snprintf(head, sizeof(head),
             "#   ****  Generated on %s by nlpctl keygen  ****\n"
             "#   nlpd CurveZMQ key of '%s' (zcert format).\n",
             when, name);
    snprintf(text, sizeof(text),
             "%s#   The SECRET key: mode 0600, never copied or shown to anyone. Give %s.pub\n"
             "#   to the other side instead.\n\nmetadata\n    name = \"%s\"\ncurve\n"
             "    public-key = \"%s\"\n    secret-key = \"%s\"\n",
             head, name, name, pub, sec);
    int rc = write_new_file(key_path, text, 0600);
    explicit_bzero(text, sizeof(text));
    explicit_bzero(sec, sizeof(sec));
    if (rc != 0) {
        say("keygen: cannot write %s: %s", key_path, strerror(-rc));
        return EXIT_RUNTIME;
    }
    snprintf(text, sizeof(text),
             "%s#   The public key: give it to the other side (the daemon's authorized_keys\n"
             "#   directory, or its clients' and workers' --server-key).\n\nmetadata\n"
             "    name = \"%s\"\ncurve\n    public-key = \"%s\"\n",
             head, name, pub);
    rc = write_new_file(pub_path, text, 0644);
    if (rc != 0) {
        say("keygen: cannot write %s: %s", pub_path, strerror(-rc));
        unlink(key_path);
        return EXIT_RUNTIME;
    }
    printf("%s\n", pub);
    fprintf(stderr, "nlpctl: wrote %s (secret, 0600) and %s\n", key_path, pub_path);
    return 0;
}

/* --- main ---------------------------------------------------------------- */

typedef struct command {
    const char *name;
    int (*run)(const global *g, int argc, char **argv);
} command;

static const command commands[] = {
    {"submit", cmd_submit}, {"annotate", cmd_annotate}, {"tail", cmd_tail},
    {"status", cmd_status}, {"reload", cmd_reload},     {"ping", cmd_ping},
    {"get", cmd_get},       {"results", cmd_results},   {"deadletters", cmd_deadletters},
    {"retry", cmd_retry},   {"drain", cmd_drain},       {"keygen", cmd_keygen},
    {"stats", cmd_stats},   {"top", cmd_top},           {"workers", cmd_workers},
};

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"runtime-dir", required_argument, NULL, 'r'}, {"front", required_argument, NULL, 'f'},
        {"control", required_argument, NULL, 'c'},     {"results", required_argument, NULL, 'R'},
        {"timeout", required_argument, NULL, 't'},     {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},           {"server-key", required_argument, NULL, 'S'},
        {"key", required_argument, NULL, 'K'},         {NULL, 0, NULL, 0}};
    global g = {.timeout_s = 300.0};
    opterr = 0; /* bad_option() says it, prefixed like every message */
    int ch;
    /* "+": stop at the command; its options are its own. */
    while ((ch = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            g.runtime_dir = optarg;
            break;
        case 'f':
            g.front = optarg;
            break;
        case 'c':
            g.control = optarg;
            break;
        case 'R':
            g.results = optarg;
            break;
        case 'S':
            g.keys.server_key_file = optarg;
            break;
        case 'K':
            g.keys.key_file = optarg;
            break;
        case 't': {
            char *end;
            errno = 0;
            g.timeout_s = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(g.timeout_s > 0) ||
                g.timeout_s > 86400.0 * 365) {
                say("--timeout must be a positive number of seconds");
                return EXIT_USAGE;
            }
            g.timeout_given = 1;
            break;
        }
        case 'h':
            fputs(usage_main, stdout);
            return 0;
        case 'V':
            printf("nlpctl %s\n", NLPD_VERSION);
            return 0;
        default:
            return bad_option(NULL, ch, argv);
        }
    }
    if (optind >= argc) {
        say("no command given");
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(name, commands[i].name) == 0) {
            install_signals();
            return commands[i].run(&g, argc - optind, argv + optind);
        }
    }
    say("unknown command '%s' (try nlpctl --help)", name);
    return EXIT_USAGE;
}
