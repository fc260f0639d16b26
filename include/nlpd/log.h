/* include/nlpd/log.h — logging through an injected sink.
 *
 * Libraries never write to stdout or stderr. Whatever they report goes to
 * the sink installed here (default: discard). Levels are syslog numbers
 * (3 err, 4 warning, 6 info, 7 debug), so a shell's sink can write
 * "<%d>%s\n" to stderr and journald keeps the priority.
 */
#ifndef NLPD_LOG_H
#define NLPD_LOG_H

#include <stdarg.h>

#include "nlpd/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    NLPD_LOG_ERR = 3,
    NLPD_LOG_WARNING = 4,
    NLPD_LOG_NOTICE = 5,
    NLPD_LOG_INFO = 6,
    NLPD_LOG_DEBUG = 7,
};

typedef void (*nlpd_log_fn)(void *arg, int level, const char *msg);

/* Installs the process-wide sink and the most verbose level passed to it.
 * `fn` NULL restores the default (discard). Call before starting threads. */
NLPD_EXPORT void nlpd_log_set_sink(nlpd_log_fn fn, void *arg, int max_level);

/* The sink that writes "<level>msg\n" to stderr in one write(2), which
 * journald reads with its priority. */
NLPD_EXPORT void nlpd_log_stderr(void *arg, int level, const char *msg);

/* Parses "err", "warning", "notice", "info", "debug" (or a digit 0-7).
 * Returns the level, or -1 when `name` is not one of those. */
NLPD_EXPORT int nlpd_log_level_parse(const char *name);

/* Current most verbose level; NLPD_LOG checks it before formatting. */
NLPD_EXPORT int nlpd_log_level(void);

/* Formats and passes one line to the sink. Use NLPD_LOG instead. */
NLPD_EXPORT void nlpd_log_write(int level, const char *fmt, ...) NLPD_PRINTF(2, 3);

/* Logs at `level`, formatting only when the level is enabled (Redis'
 * serverLog). Lines are key=value where it helps grep. */
#define NLPD_LOG(level, ...)                                                                       \
    do {                                                                                           \
        if ((level) <= nlpd_log_level())                                                           \
            nlpd_log_write((level), __VA_ARGS__);                                                  \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* NLPD_LOG_H */
