/* tests/bench/bare_device.c — the hop devices of the bare ZeroMQ ceiling.
 *
 *   nlpd-bench-bare-device DIR HOPS
 *
 * For each hop i in 0..HOPS-1 binds a PULL at ipc://DIR/bare-in-i and a
 * PUSH at ipc://DIR/bare-out-i, and forwards every message from the first
 * to the second as it is (zmq_msg_send moves the buffer; nothing is
 * copied), all hops in ONE thread around one zmq_poll: the shape of nlpd,
 * whose single-threaded daemon sits in the middle of every hop.
 *
 * Never blocks on a send: a hop whose PUSH is full keeps the message in
 * hand and waits for room (POLLOUT) before reading more from its PULL, as
 * zmq_proxy does. A blocking send would deadlock the shape (the device
 * waits for forwarder i, which waits for room in hop i+1, which waits for
 * the device). Exits 0 on SIGTERM or SIGINT. The benchmark starts it with
 * PR_SET_PDEATHSIG, so it does not outlive a benchmark that dies.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#define MAX_HOPS 33
#define BATCH    64

typedef struct hop {
    void *in;  /* PULL, bound */
    void *out; /* PUSH, bound */
    zmq_msg_t held;
    int holding; /* `held` could not be sent yet */
} hop;

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Moves messages of one hop until its PULL is empty, its PUSH is full or a
 * batch is done (so one busy hop does not starve the others). Returns 0 or
 * -1 on an error other than EAGAIN/EINTR. */
static int
forward(hop *h)
{
    for (int i = 0; i < BATCH; i++) {
        if (!h->holding) {
            zmq_msg_init(&h->held);
            if (zmq_msg_recv(&h->held, h->in, ZMQ_DONTWAIT) < 0) {
                int err = zmq_errno();
                zmq_msg_close(&h->held);
                return err == EAGAIN || err == EINTR ? 0 : -1;
            }
            h->holding = 1;
        }
        if (zmq_msg_send(&h->held, h->out, ZMQ_DONTWAIT) < 0) {
            int err = zmq_errno();
            return err == EAGAIN || err == EINTR ? 0 : -1;
        }
        h->holding = 0; /* the send took the message */
    }
    return 0;
}

/* Creates and binds the sockets of `hops` hops. Returns 0 or -1 after a
 * message; what was created is closed by the caller either way. */
static int
open_hops(void *ctx, const char *dir, hop *h, int hops)
{
    int linger = 0;
    for (int i = 0; i < hops; i++) {
        char ep[600];
        h[i].in = zmq_socket(ctx, ZMQ_PULL);
        h[i].out = zmq_socket(ctx, ZMQ_PUSH);
        if (h[i].in == NULL || h[i].out == NULL) {
            fprintf(stderr, "bare-device: zmq_socket: %s\n", zmq_strerror(zmq_errno()));
            return -1;
        }
        zmq_setsockopt(h[i].in, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(h[i].out, ZMQ_LINGER, &linger, sizeof(linger));
        snprintf(ep, sizeof(ep), "ipc://%s/bare-in-%d", dir, i);
        int rc = zmq_bind(h[i].in, ep);
        if (rc == 0) {
            snprintf(ep, sizeof(ep), "ipc://%s/bare-out-%d", dir, i);
            rc = zmq_bind(h[i].out, ep);
        }
        if (rc != 0) {
            fprintf(stderr, "bare-device: bind %s: %s\n", ep, zmq_strerror(zmq_errno()));
            return -1;
        }
    }
    return 0;
}

/* Forwards until SIGTERM or SIGINT. Returns 0 then, -1 on an error. */
static int
serve(hop *h, int hops)
{
    zmq_pollitem_t items[MAX_HOPS];
    while (!stop) {
        /* A hop holding a message waits for room; the others for input. */
        for (int i = 0; i < hops; i++) {
            items[i].socket = h[i].holding ? h[i].out : h[i].in;
            items[i].fd = 0;
            items[i].events = h[i].holding ? ZMQ_POLLOUT : ZMQ_POLLIN;
            items[i].revents = 0;
        }
        /* A signal between the check of `stop` and the poll would not
         * interrupt it: wake up now and then to look again. */
        if (zmq_poll(items, hops, 100) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            fprintf(stderr, "bare-device: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            return -1;
        }
        for (int i = 0; i < hops; i++) {
            if (items[i].revents != 0 && forward(&h[i]) != 0) {
                fprintf(stderr, "bare-device: hop %d: %s\n", i, zmq_strerror(zmq_errno()));
                return -1;
            }
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    char *end = NULL;
    long hops = argc == 3 ? strtol(argv[2], &end, 10) : 0;
    if (argc != 3 || *end != '\0' || hops < 1 || hops > MAX_HOPS) {
        fprintf(stderr, "usage: %s DIR HOPS (HOPS from 1 to %d)\n", argv[0], MAX_HOPS);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    hop h[MAX_HOPS];
    memset(h, 0, sizeof(h));
    void *ctx = zmq_ctx_new();
    if (ctx == NULL) {
        fprintf(stderr, "bare-device: zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    int rc = open_hops(ctx, argv[1], h, (int)hops);
    if (rc == 0)
        rc = serve(h, (int)hops);
    for (int i = 0; i < hops; i++) {
        if (h[i].holding)
            zmq_msg_close(&h[i].held);
        if (h[i].in != NULL)
            zmq_close(h[i].in);
        if (h[i].out != NULL)
            zmq_close(h[i].out);
    }
    zmq_ctx_term(ctx);
    return rc == 0 ? 0 : 1;
}
