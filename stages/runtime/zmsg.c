/* stages/runtime/zmsg.c — multipart messages in and out of ZeroMQ sockets. */
#include <errno.h>
#include <string.h>

#include "nlpd/error.h"
#include "nlpd_internal.h"

int
nlpd__recv_frames(void *sock, nlpd__frames *fr, int flags)
{
    fr->n = 0;
    fr->extra = 0;
    for (;;) {
        zmq_msg_t scratch;
        zmq_msg_t *m = fr->n < NLPD__MAX_FRAMES ? &fr->f[fr->n] : &scratch;
        zmq_msg_init(m);
        /* Only the first frame may find nothing waiting: the rest of a
         * multipart message arrives with it, atomically. */
        if (zmq_msg_recv(m, sock, fr->n == 0 && fr->extra == 0 ? flags : 0) < 0) {
            int err = errno;
            zmq_msg_close(m);
            nlpd__frames_close(fr);
            return err == EAGAIN ? NLPD_EAGAIN : -err;
        }
        int more = zmq_msg_more(m);
        if (m == &scratch) {
            zmq_msg_close(m);
            fr->extra++;
        } else {
            fr->n++;
        }
        if (!more)
            return 0;
    }
}

void
nlpd__frames_close(nlpd__frames *fr)
{
    for (int i = 0; i < fr->n; i++)
        zmq_msg_close(&fr->f[i]);
    fr->n = 0;
}

size_t
nlpd__frame_size(const nlpd__frames *fr, int i)
{
    return i < fr->n ? zmq_msg_size((zmq_msg_t *)&fr->f[i]) : 0;
}

const void *
nlpd__frame_data(const nlpd__frames *fr, int i)
{
    return i < fr->n ? zmq_msg_data((zmq_msg_t *)&fr->f[i]) : NULL;
}

int
nlpd__frame_is(const nlpd__frames *fr, int i, const char *s)
{
    if (i >= fr->n)
        return 0;
    size_t len = strlen(s);
    return nlpd__frame_size(fr, i) == len && memcmp(nlpd__frame_data(fr, i), s, len) == 0;
}

int
nlpd__frame_str(const nlpd__frames *fr, int i, char *out, size_t out_len)
{
    if (i >= fr->n)
        return -1;
    size_t len = nlpd__frame_size(fr, i);
    if (out_len > 0) {
        size_t n = len < out_len - 1 ? len : out_len - 1;
        memcpy(out, nlpd__frame_data(fr, i), n);
        out[n] = '\0';
    }
    return (int)(len > (size_t)INT32_MAX ? INT32_MAX : len);
}

int
nlpd__send_bytes(void *sock, const void *data, size_t len, int flags)
{
    return zmq_send(sock, data, len, flags) < 0 ? -errno : 0;
}

int
nlpd__send_str(void *sock, const char *s, int flags)
{
    return nlpd__send_bytes(sock, s, strlen(s), flags);
}

int
nlpd__send_msg(void *sock, zmq_msg_t *msg, int flags)
{
    return zmq_msg_send(msg, sock, flags) < 0 ? -errno : 0;
}

int
nlpd__zmq_events(void *sock)
{
    int ev = 0;
    size_t len = sizeof(ev);
    if (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &len) != 0)
        return 0;
    return ev;
}
