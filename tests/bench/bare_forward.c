/* tests/bench/bare_forward.c — a worker of the bare ZeroMQ ceiling.
 *
 *   nlpd-bench-bare-forward DIR I
 *
 * Connects a PULL to ipc://DIR/bare-out-I and a PUSH to ipc://DIR/bare-in-(I+1)
 * and, for every message received, sends a fresh copy of it (a new message
 * and a memcpy of its bytes): what a pass-through stage worker does at the
 * least, with no decoding, encoding or protocol. Blocking sends are fine
 * here, since the device never blocks. Exits 0 on SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int
main(int argc, char **argv)
{
    char *end = NULL;
    long n = argc == 3 ? strtol(argv[2], &end, 10) : -1;
    if (argc != 3 || *end != '\0' || n < 0 || n > 1000) {
        fprintf(stderr, "usage: %s DIR I (I from 0 to 1000)\n", argv[0]);
        return 2;
    }
    int i = (int)n;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a blocked call returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int rc = 1;
    void *ctx = zmq_ctx_new();
    if (ctx == NULL)
        return 1;
    void *in = zmq_socket(ctx, ZMQ_PULL);
    void *out = zmq_socket(ctx, ZMQ_PUSH);
    if (in == NULL || out == NULL)
        goto out;
    int linger = 0;
    zmq_setsockopt(in, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof(linger));
    /* A signal between the check of `stop` and a blocking call would not
     * interrupt it: blocking calls time out now and then to look again. */
    int wake_ms = 100;
    zmq_setsockopt(in, ZMQ_RCVTIMEO, &wake_ms, sizeof(wake_ms));
    zmq_setsockopt(out, ZMQ_SNDTIMEO, &wake_ms, sizeof(wake_ms));
    char ep[600];
    snprintf(ep, sizeof(ep), "ipc://%s/bare-out-%d", argv[1], i);
    if (zmq_connect(in, ep) != 0) {
        fprintf(stderr, "bare-forward %d: connect %s: %s\n", i, ep, zmq_strerror(zmq_errno()));
        goto out;
    }
    snprintf(ep, sizeof(ep), "ipc://%s/bare-in-%d", argv[1], i + 1);
    if (zmq_connect(out, ep) != 0) {
        fprintf(stderr, "bare-forward %d: connect %s: %s\n", i, ep, zmq_strerror(zmq_errno()));
        goto out;
    }

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (!stop) {
        if (zmq_msg_recv(&msg, in, 0) < 0) {
            if (zmq_errno() == EAGAIN)
                continue;
            break;
        }
        zmq_msg_t copy;
        if (zmq_msg_init_size(&copy, zmq_msg_size(&msg)) != 0) {
            errno = ENOMEM;
            break;
        }
        memcpy(zmq_msg_data(&copy), zmq_msg_data(&msg), zmq_msg_size(&msg));
        int sent;
        while ((sent = zmq_msg_send(&copy, out, 0)) < 0 && zmq_errno() == EAGAIN && !stop)
            ;
        if (sent < 0) {
            zmq_msg_close(&copy);
            break;
        }
    }
    zmq_msg_close(&msg);
    /* A signal ends a blocked call with EINTR: that is the way out. */
    rc = stop ? 0 : 1;
    if (rc != 0)
        fprintf(stderr, "bare-forward %d: %s\n", i, zmq_strerror(zmq_errno()));
out:
    if (in != NULL)
        zmq_close(in);
    if (out != NULL)
        zmq_close(out);
    zmq_ctx_term(ctx);
    return rc;
}
