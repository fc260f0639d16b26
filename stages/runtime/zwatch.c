/* stages/runtime/zwatch.c — a ZeroMQ socket in a libuv loop. */
#include <string.h>

#include "nlpd/error.h"
#include "nlpd/log.h"
#include "nlpd_internal.h"

static void zwatch_idle_cb(uv_idle_t *h);

static void
zwatch_drain(nlpd__zwatch *w)
{
    if (w->paused || w->on_msg == NULL)
        return;
    unsigned batch = w->batch ? w->batch : 64;
    int drained = 0;
    for (unsigned i = 0; i < batch && !w->paused && w->on_msg != NULL; i++) {
        nlpd__frames fr;
        int rc = nlpd__recv_frames(w->sock, &fr, ZMQ_DONTWAIT);
        if (rc == NLPD_EAGAIN) {
            drained = 1;
            break;
        }
        if (rc != 0) {
            NLPD_LOG(NLPD_LOG_WARNING, "msg=\"socket receive failed: %s\"", nlpd_strerror(rc));
            break;
        }
        w->on_msg(w, &fr);
        nlpd__frames_close(&fr);
    }
    /* A receive that found nothing re-arms ZMQ_FD's edge, and it came after
     * any send the handlers made: nothing to look at. Otherwise (batch
     * full, paused, an error) come back on the next turn. */
    if (drained) {
        if (w->open == 2)
            uv_idle_stop(&w->idle);
        w->dirty = 0;
    } else {
        nlpd__zwatch_kick(w);
    }
}

static void
zwatch_poll_cb(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    zwatch_drain(h->data);
}

static void
zwatch_idle_cb(uv_idle_t *h)
{
    zwatch_drain(h->data);
}

void
nlpd__zwatch_kick(nlpd__zwatch *w)
{
    if (w->open < 2 || w->on_msg == NULL)
        return;
    if (!w->paused && (nlpd__zmq_events(w->sock) & ZMQ_POLLIN))
        uv_idle_start(&w->idle, zwatch_idle_cb);
    else
        uv_idle_stop(&w->idle);
}

int
nlpd__zwatch_start(nlpd__zwatch *w, uv_loop_t *loop, void *sock, nlpd__zwatch_fn fn, void *data)
{
    uv_os_sock_t fd;
    size_t len = sizeof(fd);
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0)
        return -zmq_errno();
    memset(&w->poll, 0, sizeof(w->poll));
    memset(&w->idle, 0, sizeof(w->idle));
    w->sock = sock;
    w->on_msg = fn;
    w->data = data;
    w->paused = 0;
    w->open = 0;
    int rc = uv_poll_init_socket(loop, &w->poll, fd);
    if (rc != 0)
        return rc;
    w->open++;
    w->poll.data = w;
    rc = uv_idle_init(loop, &w->idle);
    if (rc != 0)
        return rc;
    w->open++;
    w->idle.data = w;
    rc = uv_poll_start(&w->poll, UV_READABLE, zwatch_poll_cb);
    if (rc != 0)
        return rc;
    /* Messages may already wait (the edge came before we looked). */
    nlpd__zwatch_kick(w);
    return 0;
}

void
nlpd__zwatch_pause(nlpd__zwatch *w)
{
    w->paused = 1;
    /* Stop watching the fd too: a readable ZMQ_FD that nobody reads would
     * wake the loop on every turn. */
    if (w->open == 2) {
        uv_idle_stop(&w->idle);
        uv_poll_stop(&w->poll);
    }
}

void
nlpd__zwatch_resume(nlpd__zwatch *w)
{
    w->paused = 0;
    if (w->open == 2 && w->on_msg != NULL)
        uv_poll_start(&w->poll, UV_READABLE, zwatch_poll_cb);
    nlpd__zwatch_kick(w);
}

static void
zwatch_closed(uv_handle_t *h)
{
    nlpd__zwatch *w = h->data;
    if (--w->open == 0 && w->on_closed != NULL)
        w->on_closed(w);
}

void
nlpd__zwatch_close(nlpd__zwatch *w, nlpd__zwatch_close_fn on_closed)
{
    w->on_closed = on_closed;
    w->on_msg = NULL;
    int n = w->open;
    if (n == 0) {
        if (on_closed != NULL)
            on_closed(w);
        return;
    }
    /* Handles that were initialised are closed; open counts them. */
    if (n >= 1 && !uv_is_closing((uv_handle_t *)&w->poll))
        uv_close((uv_handle_t *)&w->poll, zwatch_closed);
    if (n >= 2 && !uv_is_closing((uv_handle_t *)&w->idle))
        uv_close((uv_handle_t *)&w->idle, zwatch_closed);
}
