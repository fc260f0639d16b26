/* include/nlpd/error.h — the one error space of nlpd.
 *
 * 0 means success and a negative value failure: system errors are -errno,
 * project codes sit below -4000 (the libuv convention, so uv_* results pass
 * through unchanged). One X-macro produces the enum, the names and the
 * messages.
 */
#ifndef NLPD_ERROR_H
#define NLPD_ERROR_H

#include <errno.h>

#include "nlpd/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NLPD_ERR_MAP(XX)                                                                           \
    XX(EINVAL, -EINVAL, "invalid argument")                                                        \
    XX(ENOMEM, -ENOMEM, "out of memory")                                                           \
    XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                                        \
    XX(EPROTO, -EPROTO, "malformed message")                                                       \
    XX(EBUSY, -EBUSY, "busy, retry later")                                                         \
    XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                                         \
    XX(ENOENT, -ENOENT, "no such file or directory")                                               \
    XX(EMSGSIZE, -EMSGSIZE, "document too large")                                                  \
    XX(EMODEL, -4001, "model file rejected")                                                       \
    XX(EABI, -4002, "plugin ABI mismatch")                                                         \
    XX(ESTAGE, -4003, "stage not ready")                                                           \
    XX(EUTF8, -4004, "invalid UTF-8")                                                              \
    XX(EFORMAT, -4005, "input is not in the expected format")                                      \
    XX(ECONFIG, -4006, "invalid configuration")                                                    \
    XX(ECLOSED, -4007, "connection closed")                                                        \
    XX(EVERSION, -4008, "made by a newer version")

typedef enum {
#define XX(name, val, msg) NLPD_##name = (val),
    NLPD_ERR_MAP(XX)
#undef XX
} nlpd_err;

/* Returns a message for `err` (an nlpd_err or any -errno). Never NULL; the
 * string is static. Thread-safe. */
NLPD_EXPORT const char *nlpd_strerror(int err);

/* Returns the symbolic name of `err`, e.g. "NLPD_EPROTO", or "NLPD_EUNKNOWN"
 * for codes outside the map. Never NULL; static. Thread-safe. */
NLPD_EXPORT const char *nlpd_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_ERROR_H */
