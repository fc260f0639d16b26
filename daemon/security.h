/* daemon/security.h — CurveZMQ on the daemon's tcp:// endpoints.
 *
 * Every tcp:// endpoint the daemon binds (front door, control, results,
 * heartbeats, stage hops) is a CurveZMQ server with the daemon's key pair,
 * and a ZAP handler (RFC 27) in the daemon's loop lets in only the public
 * keys found in the authorized-keys directory. A peer with an unknown key
 * (ZAP) or without Curve (a failed handshake, seen through a socket
 * monitor) is refused, and the refusal is logged at most a few times per
 * window so that a scanner cannot flood the journal. ipc:// endpoints are
 * bound before Curve is switched on for a socket (ZeroMQ takes a socket's
 * options at each bind), so they keep relying on file permissions.
 *
 * The pure parts (the key set, the ZAP decision, the rate limit) take no
 * daemon state and are unit-tested alone (tests/unit/security_test.c).
 */
#ifndef NLPD_DAEMON_SECURITY_H
#define NLPD_DAEMON_SECURITY_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Offsets from the port of `listen = tcp://HOST:PORT` (docs/protocol.md). */
#define NLPD_TCP_FRONT     0
#define NLPD_TCP_CONTROL   1
#define NLPD_TCP_RESULTS   2
#define NLPD_TCP_HEARTBEAT 3
#define NLPD_TCP_HOPS      10 /* + the stage's position in [pipeline] */

/* --- Authorized keys ------------------------------------------------------ */

typedef struct nlpd_keyset nlpd_keyset;

/* Reads every regular file of `dir` whose name does not start with '.' as
 * one client's public key (nlpd_curve_key_load: a .pub file of `nlpctl
 * keygen`, a zcert file, or a bare Z85 key); the client's name is the file
 * name without a .pub or .key ending. A file that holds no key is skipped
 * and counted in *skipped (may be NULL), with its reason passed to `warn`
 * (may be NULL). On success returns 0 and sets *out (free with
 * nlpd_keyset_free); NLPD_ENOENT or -errno when the directory cannot be
 * read, NLPD_ENOMEM; with a sentence in `why`. */
typedef void (*nlpd_keyset_warn_fn)(void *arg, const char *msg);
int nlpd_keyset_load_dir(nlpd_keyset **out, const char *dir, nlpd_keyset_warn_fn warn, void *arg,
                         size_t *skipped, char *why, size_t why_len);

/* Keys in the set. */
size_t nlpd_keyset_count(const nlpd_keyset *ks);

/* The name of the client whose 32-byte public key is `key`, or NULL. */
const char *nlpd_keyset_find(const nlpd_keyset *ks, const uint8_t key[32]);

void nlpd_keyset_free(nlpd_keyset **ks_p);

/* --- The ZAP decision ----------------------------------------------------- */

/* Decides a ZAP request: `mechanism` as ZeroMQ names it ("CURVE", "NULL",
 * "PLAIN"), `cred` the first credential frame (the client's 32-byte public
 * key for CURVE). Returns 200 (let in; *user is the client's name) or 400
 * (refused; *why says why). `ks` may be NULL (no key is known). Pure. */
int nlpd_zap_decide(const nlpd_keyset *ks, const char *mechanism, const void *cred, size_t cred_len,
                    const char **user, const char **why);

/* --- A rate limit for log lines ------------------------------------------- */

typedef struct nlpd_ratelimit {
    uint64_t window_us;  /* length of a window */
    unsigned burst;      /* lines allowed per window */
    uint64_t start_us;   /* when the current window began (0: none yet) */
    unsigned used;       /* lines logged in it */
    unsigned suppressed; /* lines not logged in it */
} nlpd_ratelimit;

/* 1 when one more line may be logged at `now_us`, else 0 (counted as
 * suppressed). When a new window begins, *suppressed_before gets how many
 * lines the window before suppressed (so the caller can say so once), else
 * 0. Pure. */
int nlpd_ratelimit_allow(nlpd_ratelimit *rl, uint64_t now_us, unsigned *suppressed_before);

/* --- The daemon's side ---------------------------------------------------- */

typedef struct nlpd_security nlpd_security;

/* Loads the daemon's key pair from `secret_key_file` (which must belong to
 * the daemon's user and be readable by it alone), reads `authorized_dir`,
 * and binds the ZAP handler (inproc://zeromq.zap.01) in `zctx`, watched by
 * `loop`. `listen` is the tcp base (tcp://HOST:PORT). Call it before any
 * socket of `zctx` binds a tcp:// endpoint. On success returns 0 and sets
 * *out; else an error with a sentence in `why`. */
int nlpd_security_open(nlpd_security **out, void *zctx, uv_loop_t *loop, const char *listen,
                       const char *secret_key_file, const char *authorized_dir, char *why,
                       size_t why_len);

/* 1 when a listen base (tcp://HOST:PORT) was given, so every socket binds
 * tcp too; 0 when only `front = tcp://...` asked for Curve (or sec is NULL). */
int nlpd_security_listening(const nlpd_security *sec);

/* Writes tcp://HOST:(PORT + offset) of the listen base to `out`. Returns 0
 * or NLPD_EINVAL (no listen base, a port past 65535, too long). `sec` may
 * be NULL (then NLPD_EINVAL). */
int nlpd_security_endpoint(const nlpd_security *sec, unsigned offset, char *out, size_t out_len);

/* Writes tcp://HOST:PORT, HOST from the listen base, to `out`. Returns 0
 * or NLPD_EINVAL. */
int nlpd_security_endpoint_port(const nlpd_security *sec, unsigned port, char *out, size_t out_len);

/* Makes `sock` a Curve server (from now on: bind its ipc:// endpoints
 * first), watches its handshake failures (logged as `what`), and binds it
 * to `endpoint`. Returns 0 or -errno (logged). */
int nlpd_security_bind(nlpd_security *sec, void *sock, const char *endpoint, const char *what);

/* Stops watching `sock` (call before closing it). */
void nlpd_security_forget(nlpd_security *sec, void *sock);

/* Reads the authorized-keys directory again (SIGHUP, reload); on failure
 * the keys loaded before stay. Returns 0 or the error (logged). */
int nlpd_security_reload(nlpd_security *sec);

/* Once per tick: looks at the ZAP and monitor sockets (ZMQ_FD's edge) and
 * logs how many refusals the rate limit held back. */
void nlpd_security_tick(nlpd_security *sec, uint64_t now_us);

/* Refusals counted since the start (logged or not). */
uint64_t nlpd_security_refused(const nlpd_security *sec);

/* Keys in the authorized-keys directory as last read (0 for NULL). */
size_t nlpd_security_authorized(const nlpd_security *sec);

/* The daemon's public key (Z85), for logs and `nlpctl status`. */
const char *nlpd_security_public_key(const nlpd_security *sec);

/* Closes the ZAP handler and the monitors; their libuv handles close in
 * the loop, which must run once more. Sets *sec_p to NULL; accepts NULL. */
void nlpd_security_close(nlpd_security **sec_p);

#endif /* NLPD_DAEMON_SECURITY_H */
