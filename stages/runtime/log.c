/* stages/runtime/log.c — the process-wide log sink (nng's pluggable logger). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nlpd/log.h"

static nlpd_log_fn sink_fn;
static void *sink_arg;
static int sink_level = -1; /* nothing passes until a sink is set */

void
nlpd_log_set_sink(nlpd_log_fn fn, void *arg, int max_level)
{
    sink_fn = fn;
    sink_arg = arg;
    sink_level = fn != NULL ? max_level : -1;
}

int
nlpd_log_level(void)
{
    return sink_level;
}

int
nlpd_log_level_parse(const char *name)
{
    static const char *const names[] = {"emerg", "alert",  "crit", "err",
                                        "warning", "notice", "info", "debug"};
    if (name == NULL)
        return -1;
    if (name[0] >= '0' && name[0] <= '7' && name[1] == '\0')
        return name[0] - '0';
    for (int i = 0; i < 8; i++) {
        if (strcmp(name, names[i]) == 0)
            return i;
    }
    if (strcmp(name, "error") == 0)
        return NLPD_LOG_ERR;
    if (strcmp(name, "warn") == 0)
        return NLPD_LOG_WARNING;
    return -1;
}

void
nlpd_log_stderr(void *arg, int level, const char *msg)
{
    (void)arg;
    char line[2048];
    int n = snprintf(line, sizeof(line), "<%d>%s\n", level, msg);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if ((size_t)n >= sizeof(line))
        line[len - 1] = '\n';
    /* One write(2) per line, so lines of several processes sharing stderr
     * never interleave mid-line. A failed log write has nowhere to go. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void
nlpd_log_write(int level, const char *fmt, ...)
{
    if (sink_fn == NULL || level > sink_level)
        return;
    char msg[1800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sink_fn(sink_arg, level, msg);
}
