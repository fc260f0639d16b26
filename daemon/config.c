/* daemon/config.c — reading, checking and printing the daemon's configuration. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/log.h"

#ifndef NLPD_WORKER_DIR
#define NLPD_WORKER_DIR "/usr/local/libexec/nlpd"
#endif

/* The standard pipeline: the built-in stages that exist, in order. */
static const char *const default_pipeline[] = {"ingest", "split", "tag", "summarize"};

/* Stages that ship with nlpd: a section may leave out their command. */
static const char *const builtin_stages[] = {"ingest", "split", "tag", "summarize",
                                             "passthrough"};

static int
is_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof(builtin_stages) / sizeof(builtin_stages[0]); i++) {
        if (strcmp(name, builtin_stages[i]) == 0)
            return 1;
    }
    return 0;
}

/* Workers of a stage by default: one, but two for tag on a machine with
 * two CPUs or more. Tagging is most of the default pipeline's work (about
 * 85% of the stages' CPU time on news articles, nlpd-bench-e2e), so one
 * tag worker alone holds the pipeline to one core; two let it use both
 * (measured: 1,103-1,173 articles/s against 770-849 with one). */
static int
default_replicas(const char *name)
{
    return strcmp(name, "tag") == 0 && sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
}

static void
stage_defaults(nlpd_stage_cfg *s, const char *name)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->replicas = default_replicas(name);
    s->timeout_ms = 30000;
    s->window = 16;
}

void
nlpd_config_defaults(nlpd_config *cfg, const char *self_exe)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->group, sizeof(cfg->group), "nlpd");
    cfg->log_level = NLPD_LOG_INFO;
    cfg->max_document_bytes = 16u << 20;
    cfg->max_message_bytes = 0; /* derived in finish: 4 x max_document_bytes + 1 MiB */
    cfg->max_in_flight = 1024;
    cfg->max_in_flight_bytes = 1ull << 30;
    cfg->heartbeat_ms = 1000;
    cfg->heartbeat_timeout_ms = 10000;
    cfg->start_timeout_ms = 30000;
    cfg->stop_timeout_ms = 10000;
    cfg->drain_timeout_ms = 10000;
    cfg->backoff_min_ms = 200;
    cfg->backoff_max_ms = 30000;
    cfg->journal = 1;
    cfg->journal_sync_full = 0;
    cfg->group_commit_ms = 2;
    cfg->group_commit_docs = 256;
    cfg->result_retention_s = 7 * 86400;
    cfg->result_max_bytes = 1ull << 30;
    cfg->prune_interval_ms = 60000;
    cfg->max_attempts = 3;
    for (size_t i = 0; i < sizeof(default_pipeline) / sizeof(default_pipeline[0]); i++)
        snprintf(cfg->pipeline[cfg->n_pipeline++], sizeof(cfg->pipeline[0]), "%s",
                 default_pipeline[i]);

    /* Built-in workers beside this executable (the build tree) win over
     * the installed ones, so a build runs without being installed. */
    snprintf(cfg->worker_dir, sizeof(cfg->worker_dir), "%s", NLPD_WORKER_DIR);
    if (self_exe != NULL) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s", self_exe);
        char *slash = strrchr(dir, '/');
        if (slash != NULL) {
            *slash = '\0';
            char probe[600];
            snprintf(probe, sizeof(probe), "%s/nlpd-ingest", dir);
            if (access(probe, X_OK) == 0)
                snprintf(cfg->worker_dir, sizeof(cfg->worker_dir), "%s", dir);
        }
    }
}

nlpd_stage_cfg *
nlpd_config_stage(nlpd_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_stages; i++) {
        if (strcmp(cfg->stages[i].name, name) == 0)
            return &cfg->stages[i];
    }
    return NULL;
}

void
nlpd_stage_cfg_release(nlpd_stage_cfg *s)
{
    nlpd_free(s->command);
    s->command = NULL;
    for (int i = 0; i < s->argc; i++)
        nlpd_free(s->argv[i]);
    s->argc = 0;
    s->argv[0] = NULL;
    for (int i = 0; i < s->n_env; i++)
        nlpd_free(s->env[i]);
    s->n_env = 0;
}

int
nlpd_stage_cfg_copy(nlpd_stage_cfg *dst, const nlpd_stage_cfg *src)
{
    memcpy(dst, src, sizeof(*dst));
    dst->command = NULL;
    memset(dst->argv, 0, sizeof(dst->argv));
    memset(dst->env, 0, sizeof(dst->env));
    dst->argc = dst->n_env = 0;
    if (src->command != NULL && (dst->command = nlpd_strdup(src->command)) == NULL)
        goto fail;
    for (int k = 0; k < src->argc; k++) {
        if ((dst->argv[k] = nlpd_strdup(src->argv[k])) == NULL)
            goto fail;
        dst->argc = k + 1;
    }
    for (int k = 0; k < src->n_env; k++) {
        if ((dst->env[k] = nlpd_strdup(src->env[k])) == NULL)
            goto fail;
        dst->n_env = k + 1;
    }
    return 0;
fail:
    nlpd_stage_cfg_release(dst);
    return NLPD_ENOMEM;
}

void
nlpd_config_release(nlpd_config *cfg)
{
    for (int i = 0; i < cfg->n_stages; i++)
        nlpd_stage_cfg_release(&cfg->stages[i]);
    cfg->n_stages = 0;
}

int
nlpd_config_copy(nlpd_config *dst, const nlpd_config *src)
{
    memcpy(dst, src, sizeof(*dst));
    dst->n_stages = 0;
    for (int i = 0; i < src->n_stages; i++) {
        if (nlpd_stage_cfg_copy(&dst->stages[i], &src->stages[i]) != 0) {
            nlpd_config_release(dst);
            return NLPD_ENOMEM;
        }
        dst->n_stages = i + 1;
    }
    return 0;
}

int
nlpd_split_command(const char *cmd, char **argv, int max_words)
{
    int n = 0;
    const char *p = cmd;
    char *word = nlpd_malloc(strlen(cmd) + 1);
    if (word == NULL)
        return NLPD_ENOMEM;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        size_t len = 0;
        char quote = 0;
        while (*p != '\0' && (quote != 0 || (*p != ' ' && *p != '\t'))) {
            if (quote == 0 && (*p == '\'' || *p == '"')) {
                quote = *p++;
            } else if (quote != 0 && *p == quote) {
                quote = 0;
                p++;
            } else if (*p == '\\' && quote != '\'' && p[1] != '\0') {
                word[len++] = p[1];
                p += 2;
            } else {
                word[len++] = *p++;
            }
        }
        if (quote != 0 || n >= max_words) {
            for (int i = 0; i < n; i++)
                nlpd_free(argv[i]);
            nlpd_free(word);
            return NLPD_ECONFIG;
        }
        argv[n] = nlpd_strndup(word, len);
        if (argv[n] == NULL) {
            for (int i = 0; i < n; i++)
                nlpd_free(argv[i]);
            nlpd_free(word);
            return NLPD_ENOMEM;
        }
        n++;
    }
    argv[n] = NULL;
    nlpd_free(word);
    return n;
}

/* "16M", "512k", "1G", "64MiB", "123" -> bytes. */
static int
parse_size(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno != 0 || v[0] == '-')
        return -1;
    const char *u = end;
    while (*u == ' ')
        u++;
    uint64_t mult = 1;
    if (*u != '\0') {
        switch (toupper((unsigned char)*u)) {
        case 'K':
            mult = 1024;
            break;
        case 'M':
            mult = 1024 * 1024;
            break;
        case 'G':
            mult = 1024ull * 1024 * 1024;
            break;
        case 'B':
            mult = 1;
            u--; /* the B itself is read below */
            break;
        default:
            return -1;
        }
        u++;
        if (mult > 1 && toupper((unsigned char)*u) == 'I')
            u++;
        if (toupper((unsigned char)*u) == 'B')
            u++;
        if (*u != '\0')
            return -1;
    }
    if (n > UINT64_MAX / mult)
        return -1;
    *out = n * mult;
    return 0;
}

/* "250", "250ms", "10s", "2m" -> milliseconds. */
static int
parse_ms(const char *v, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno != 0 || v[0] == '-')
        return -1;
    unsigned long long mult = 1;
    if (strcmp(end, "") == 0 || strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mult = 60000;
    else
        return -1;
    if (n > UINT32_MAX / mult)
        return -1;
    *out = (uint32_t)(n * mult);
    return 0;
}

/* "3600", "90s", "30m", "12h", "7d" -> seconds. */
static int
parse_seconds(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno != 0 || v[0] == '-')
        return -1;
    uint64_t mult;
    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mult = 60;
    else if (strcmp(end, "h") == 0)
        mult = 3600;
    else if (strcmp(end, "d") == 0)
        mult = 86400;
    else
        return -1;
    if (n > UINT64_MAX / 1000000u / mult)
        return -1;
    *out = n * mult;
    return 0;
}

static int
parse_bool(const char *v, int *out)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
        strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
             strcmp(v, "0") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

int
nlpd_state_dir(const char *given, const char *own_runtime_dir, char *out, size_t out_len)
{
    int n;
    const char *env;
    if (given != NULL && given[0] != '\0') {
        n = snprintf(out, out_len, "%s", given);
    } else if ((env = getenv("NLPD_STATE_DIR")) != NULL && env[0] != '\0') {
        n = snprintf(out, out_len, "%s", env);
    } else if ((env = getenv("STATE_DIRECTORY")) != NULL && env[0] != '\0') {
        /* systemd passes one path per StateDirectory= entry, ':'-separated. */
        n = snprintf(out, out_len, "%.*s", (int)strcspn(env, ":"), env);
    } else if (own_runtime_dir != NULL && own_runtime_dir[0] != '\0') {
        n = snprintf(out, out_len, "%s/state", own_runtime_dir);
    } else if (geteuid() == 0) {
        n = snprintf(out, out_len, "/var/lib/nlpd");
    } else if ((env = getenv("XDG_STATE_HOME")) != NULL && env[0] == '/') {
        n = snprintf(out, out_len, "%s/nlpd", env);
    } else if ((env = getenv("HOME")) != NULL && env[0] == '/') {
        n = snprintf(out, out_len, "%s/.local/state/nlpd", env);
    } else {
        return NLPD_EINVAL;
    }
    return n < 0 || (size_t)n >= out_len ? NLPD_EINVAL : 0;
}

static int
parse_int(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0 || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

typedef struct load_ctx {
    nlpd_config *cfg;
    const char *path;
    FILE *f;
    char *why;
    size_t why_len;
    int failed;
    int fail_line;    /* the line the message is about */
    int line;         /* the line the reader returned last */
    int continuation; /* that line started with whitespace (a continued value) */
} load_ctx;

/* inih gives no line to the handler; ini_parse reports the first line whose
 * handler failed, and the message waits here until then. */
static int NLPD_PRINTF(2, 3)
fail(load_ctx *c, const char *fmt, ...)
{
    if (!c->failed && c->why != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, c->why_len, fmt, ap);
        va_end(ap);
        c->fail_line = c->line;
    }
    c->failed = 1;
    return 0;
}

/* The line reader behind inih: counts lines (so messages name the line
 * they are about), notes indented lines (inih passes them as a
 * continuation of the previous value), and refuses a line longer than
 * inih reads rather than letting its tail become a line of its own. */
static char *
config_reader(char *str, int num, void *stream)
{
    load_ctx *c = stream;
    if (fgets(str, num, c->f) == NULL)
        return NULL;
    c->line++;
    c->continuation = str[0] == ' ' || str[0] == '\t';
    size_t len = strlen(str);
    if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(c->f)) {
        int ch;
        while ((ch = fgetc(c->f)) != EOF && ch != '\n')
            ;
        fail(c, "line longer than %d characters", num - 2);
        str[0] = '\0';
    }
    return str;
}

static int
daemon_key(load_ctx *c, const char *key, const char *value)
{
    nlpd_config *cfg = c->cfg;
    long n;
    if (strcmp(key, "runtime_dir") == 0) {
        if (strlen(value) >= sizeof(cfg->runtime_dir))
            return fail(c, "%s is too long: %s", key, value);
        snprintf(cfg->runtime_dir, sizeof(cfg->runtime_dir), "%s", value);
    } else if (strcmp(key, "group") == 0) {
        snprintf(cfg->group, sizeof(cfg->group), "%s", value);
    } else if (strcmp(key, "log_level") == 0) {
        cfg->log_level = nlpd_log_level_parse(value);
        if (cfg->log_level < 0)
            return fail(c, "%s must be err, warning, notice, info or debug, not '%s'", key, value);
    } else if (strcmp(key, "max_document_bytes") == 0) {
        if (parse_size(value, &cfg->max_document_bytes) != 0 || cfg->max_document_bytes == 0)
            return fail(c, "%s must be a size such as 16M, not '%s'", key, value);
    } else if (strcmp(key, "max_message_bytes") == 0) {
        if (parse_size(value, &cfg->max_message_bytes) != 0)
            return fail(c, "%s must be a size such as 64M, not '%s'", key, value);
    } else if (strcmp(key, "max_in_flight") == 0) {
        if (parse_int(value, 1, 10000000, &n) != 0)
            return fail(c, "%s must be a number from 1 to 10000000, not '%s'", key, value);
        cfg->max_in_flight = (uint32_t)n;
    } else if (strcmp(key, "max_in_flight_bytes") == 0) {
        if (parse_size(value, &cfg->max_in_flight_bytes) != 0 || cfg->max_in_flight_bytes == 0)
            return fail(c, "%s must be a size such as 1G, not '%s'", key, value);
    } else if (strcmp(key, "front") == 0) {
        snprintf(cfg->front_extra, sizeof(cfg->front_extra), "%s", value);
    } else if (strcmp(key, "listen") == 0) {
        const char *colon = strrchr(value, ':');
        char *end = NULL;
        long port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
        if (value[0] != '\0' &&
            (strncmp(value, "tcp://", 6) != 0 || colon == NULL || colon < value + 7 ||
             end == colon + 1 || *end != '\0' || port < 1 || port > 65535 - 10 - NLPD_MAX_STAGES))
            return fail(c, "%s must be tcp://HOST:PORT (PORT up to %d), not '%s'", key,
                        65535 - 10 - NLPD_MAX_STAGES, value);
        if (strlen(value) >= sizeof(cfg->listen))
            return fail(c, "%s is too long: %s", key, value);
        snprintf(cfg->listen, sizeof(cfg->listen), "%s", value);
    } else if (strcmp(key, "curve_secret_key") == 0 || strcmp(key, "authorized_keys") == 0) {
        char *slot = key[0] == 'c' ? cfg->curve_secret_key : cfg->authorized_keys;
        if (strlen(value) >= sizeof(cfg->curve_secret_key))
            return fail(c, "%s is too long: %s", key, value);
        snprintf(slot, sizeof(cfg->curve_secret_key), "%s", value);
    } else if (strcmp(key, "state_dir") == 0) {
        if (strlen(value) >= sizeof(cfg->state_dir))
            return fail(c, "%s is too long: %s", key, value);
        snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", value);
    } else if (strcmp(key, "journal") == 0) {
        if (parse_bool(value, &cfg->journal) != 0)
            return fail(c, "%s must be on or off, not '%s'", key, value);
    } else if (strcmp(key, "journal_sync") == 0) {
        if (strcmp(value, "full") == 0)
            cfg->journal_sync_full = 1;
        else if (strcmp(value, "group") == 0)
            cfg->journal_sync_full = 0;
        else
            return fail(c, "%s must be full or group, not '%s'", key, value);
    } else if (strcmp(key, "group_commit_docs") == 0) {
        if (parse_int(value, 1, 100000, &n) != 0)
            return fail(c, "%s must be a number from 1 to 100000, not '%s'", key, value);
        cfg->group_commit_docs = (uint32_t)n;
    } else if (strcmp(key, "max_attempts") == 0) {
        if (parse_int(value, 1, 1000, &n) != 0)
            return fail(c, "%s must be a number from 1 to 1000, not '%s'", key, value);
        cfg->max_attempts = (uint32_t)n;
    } else if (strcmp(key, "result_retention") == 0) {
        if (parse_seconds(value, &cfg->result_retention_s) != 0)
            return fail(c, "%s must be a duration such as 7d, 12h or 0 (keep), not '%s'", key,
                        value);
    } else if (strcmp(key, "metrics_listen") == 0) {
        char host[64], err[200];
        unsigned port;
        int family;
        if (value[0] == '\0' || strcmp(value, "off") == 0) {
            cfg->metrics_listen[0] = '\0';
        } else if (nlpd_config_parse_listen(value, host, sizeof(host), &port, &family, err,
                                            sizeof(err)) != 0) {
            return fail(c, "%s: %s", key, err);
        } else {
            snprintf(cfg->metrics_listen, sizeof(cfg->metrics_listen), "%s", value);
        }
    } else if (strcmp(key, "result_max_bytes") == 0) {
        if (parse_size(value, &cfg->result_max_bytes) != 0)
            return fail(c, "%s must be a size such as 1G or 0 (no limit), not '%s'", key, value);
    } else {
        uint32_t *slot = NULL;
        if (strcmp(key, "heartbeat_ms") == 0)
            slot = &cfg->heartbeat_ms;
        else if (strcmp(key, "heartbeat_timeout_ms") == 0)
            slot = &cfg->heartbeat_timeout_ms;
        else if (strcmp(key, "start_timeout_ms") == 0)
            slot = &cfg->start_timeout_ms;
        else if (strcmp(key, "stop_timeout_ms") == 0)
            slot = &cfg->stop_timeout_ms;
        else if (strcmp(key, "drain_timeout_ms") == 0)
            slot = &cfg->drain_timeout_ms;
        else if (strcmp(key, "restart_backoff_min_ms") == 0)
            slot = &cfg->backoff_min_ms;
        else if (strcmp(key, "restart_backoff_max_ms") == 0)
            slot = &cfg->backoff_max_ms;
        else if (strcmp(key, "group_commit_ms") == 0)
            slot = &cfg->group_commit_ms;
        else if (strcmp(key, "prune_interval_ms") == 0)
            slot = &cfg->prune_interval_ms;
        if (slot == NULL)
            return fail(c, "unknown key '%s' in [daemon]", key);
        if (parse_ms(value, slot) != 0)
            return fail(c, "%s must be a duration such as 500ms or 10s, not '%s'", key, value);
    }
    return 1;
}

static int
pipeline_key(load_ctx *c, const char *key, const char *value)
{
    nlpd_config *cfg = c->cfg;
    if (strcmp(key, "stages") != 0)
        return fail(c, "unknown key '%s' in [pipeline]", key);
    /* An indented line continues the list; a new "stages =" replaces it
     * (a later file overrides an earlier one). inih passes a continuation
     * as the same key with only the new line's text. */
    if (!c->continuation)
        cfg->n_pipeline = 0;
    const char *p = value;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t len = strcspn(p, " ,\t");
        if (len == 0)
            break;
        if (cfg->n_pipeline >= NLPD_MAX_STAGES)
            return fail(c, "too many stages in [pipeline] (at most %d)", NLPD_MAX_STAGES);
        if (len >= sizeof(cfg->pipeline[0]))
            return fail(c, "stage name too long: %.*s", (int)len, p);
        for (int i = 0; i < cfg->n_pipeline; i++) {
            if (strlen(cfg->pipeline[i]) == len && strncmp(cfg->pipeline[i], p, len) == 0)
                return fail(c, "stage '%.*s' appears twice in [pipeline]", (int)len, p);
        }
        snprintf(cfg->pipeline[cfg->n_pipeline++], sizeof(cfg->pipeline[0]), "%.*s", (int)len, p);
        p += len;
    }
    if (cfg->n_pipeline == 0)
        return fail(c, "[pipeline] stages is empty");
    return 1;
}

static int
valid_stage_name(const char *name)
{
    if (name[0] == '\0' || strlen(name) >= 48)
        return 0;
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return 0;
    }
    return 1;
}

static int
stage_key(load_ctx *c, const char *name, const char *key, const char *value)
{
    nlpd_config *cfg = c->cfg;
    if (!valid_stage_name(name))
        return fail(c, "bad stage name '%s' (letters, digits, - and _)", name);
    nlpd_stage_cfg *s = nlpd_config_stage(cfg, name);
    if (s == NULL) {
        if (cfg->n_stages >= NLPD_MAX_STAGES)
            return fail(c, "too many [stage] sections (at most 32)");
        s = &cfg->stages[cfg->n_stages++];
        stage_defaults(s, name);
    }
    s->defined = 1;
    long n;
    if (strcmp(key, "command") == 0) {
        for (int i = 0; i < s->argc; i++)
            nlpd_free(s->argv[i]);
        s->argc = 0;
        nlpd_free(s->command);
        s->command = nlpd_strdup(value);
        if (s->command == NULL)
            return fail(c, "out of memory");
        int words = nlpd_split_command(value, s->argv, NLPD_MAX_ARGS);
        if (words <= 0)
            return fail(c, "command of stage '%s' is empty or badly quoted: %s", name, value);
        s->argc = words;
    } else if (strcmp(key, "replicas") == 0) {
        /* 0: the stage's workers are all remote (they connect over tcp). */
        if (parse_int(value, 0, 256, &n) != 0)
            return fail(c, "replicas must be 0..256, not '%s'", value);
        s->replicas = (int)n;
    } else if (strcmp(key, "port") == 0) {
        if (parse_int(value, 1, 65535, &n) != 0)
            return fail(c, "port must be 1..65535, not '%s'", value);
        s->port = (unsigned)n;
    } else if (strcmp(key, "timeout_ms") == 0) {
        if (parse_ms(value, &s->timeout_ms) != 0 || s->timeout_ms == 0)
            return fail(c, "timeout_ms must be a duration such as 30s, not '%s'", value);
    } else if (strcmp(key, "window") == 0) {
        if (parse_int(value, 1, 1024, &n) != 0)
            return fail(c, "window must be 1..1024, not '%s'", value);
        s->window = (uint32_t)n;
    } else if (strncmp(key, "env.", 4) == 0 && key[4] != '\0') {
        const char *var = key + 4;
        size_t var_len = strlen(var);
        if (strchr(var, '=') != NULL)
            return fail(c, "bad environment variable name '%s'", var);
        size_t len = var_len + 1 + strlen(value) + 1;
        char *kv = nlpd_malloc(len);
        if (kv == NULL)
            return fail(c, "out of memory");
        snprintf(kv, len, "%s=%s", var, value);
        /* A later file setting the same variable replaces it. */
        for (int i = 0; i < s->n_env; i++) {
            if (strncmp(s->env[i], var, var_len) == 0 && s->env[i][var_len] == '=') {
                nlpd_free(s->env[i]);
                s->env[i] = kv;
                return 1;
            }
        }
        if (s->n_env >= NLPD_MAX_ENV) {
            nlpd_free(kv);
            return fail(c, "too many env entries for stage '%s'", name);
        }
        s->env[s->n_env++] = kv;
    } else {
        return fail(c, "unknown key '%s' in [stage %s]", key, name);
    }
    return 1;
}

static int
config_ini_handler(void *user, const char *section, const char *key, const char *value)
{
    load_ctx *c = user;
    if (c->failed)
        return 0;
    if (key == NULL) /* a section with no keys (INI_CALL_HANDLER_ON_NEW_SECTION) */
        return 1;
    if (c->continuation && strcmp(section, "pipeline") != 0)
        return fail(c, "'%s' continues on an indented line; only [pipeline] stages may", key);
    if (strcmp(section, "daemon") == 0)
        return daemon_key(c, key, value);
    if (strcmp(section, "pipeline") == 0)
        return pipeline_key(c, key, value);
    if (strncmp(section, "stage ", 6) == 0) {
        const char *name = section + 6;
        while (*name == ' ')
            name++;
        return stage_key(c, name, key, value);
    }
    return fail(c, "unknown section [%s]%s", section, "");
}

int
nlpd_config_load(nlpd_config *cfg, const char *path, char *why, size_t why_len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int err = errno;
        if (why != NULL)
            snprintf(why, why_len, "%s: cannot open: %s", path, strerror(err));
        return err == ENOENT ? NLPD_ENOENT : NLPD_ECONFIG;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        if (why != NULL)
            snprintf(why, why_len, "%s: not a regular file", path);
        return NLPD_ECONFIG;
    }
    char msg[512] = "";
    load_ctx c = {cfg, path, f, msg, sizeof(msg), 0, 0, 0, 0};
    int line = ini_parse_stream(config_reader, &c, config_ini_handler, &c);
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        if (why != NULL)
            snprintf(why, why_len, "%s: read error", path);
        return NLPD_ECONFIG;
    }
    if (line == 0 && !c.failed)
        return 0;
    if (why != NULL) {
        /* inih reports the first line it could not parse; our own message
         * is about the line it was raised on. The earlier one wins. */
        if (c.failed && (line <= 0 || c.fail_line <= line))
            snprintf(why, why_len, "%s:%d: %s", path, c.fail_line, msg);
        else
            snprintf(why, why_len, "%s:%d: syntax error (expected [section] or key = value)",
                     path, line);
    }
    return NLPD_ECONFIG;
}

int
nlpd_config_finish(nlpd_config *cfg, char *why, size_t why_len)
{
    if (cfg->max_message_bytes == 0)
        cfg->max_message_bytes = cfg->max_document_bytes * 4 + (1u << 20);
    if (cfg->max_message_bytes < cfg->max_document_bytes) {
        snprintf(why, why_len, "max_message_bytes (%llu) is below max_document_bytes (%llu)",
                 (unsigned long long)cfg->max_message_bytes,
                 (unsigned long long)cfg->max_document_bytes);
        return NLPD_ECONFIG;
    }
    if (cfg->heartbeat_ms < 10 || cfg->heartbeat_ms > 600000) {
        snprintf(why, why_len, "heartbeat_ms must be 10ms..600s (workers refuse other values)");
        return NLPD_ECONFIG;
    }
    if (cfg->heartbeat_timeout_ms < 2 * cfg->heartbeat_ms) {
        snprintf(why, why_len, "heartbeat_timeout_ms must be at least twice heartbeat_ms");
        return NLPD_ECONFIG;
    }
    if (cfg->prune_interval_ms < 100) {
        snprintf(why, why_len, "prune_interval_ms must be at least 100ms");
        return NLPD_ECONFIG;
    }
    if (cfg->backoff_min_ms == 0 || cfg->backoff_max_ms < cfg->backoff_min_ms) {
        snprintf(why, why_len, "restart backoff needs 0 < min <= max");
        return NLPD_ECONFIG;
    }
    for (int i = 0; i < cfg->n_pipeline; i++) {
        const char *name = cfg->pipeline[i];
        if (!valid_stage_name(name)) {
            snprintf(why, why_len, "bad stage name '%s' in [pipeline]", name);
            return NLPD_ECONFIG;
        }
        nlpd_stage_cfg *s = nlpd_config_stage(cfg, name);
        if (s == NULL) {
            if (cfg->n_stages >= NLPD_MAX_STAGES) {
                snprintf(why, why_len, "too many stages");
                return NLPD_ECONFIG;
            }
            s = &cfg->stages[cfg->n_stages++];
            stage_defaults(s, name);
        }
        if (s->argc == 0 && !is_builtin(name) && s->replicas == 0)
            continue; /* every worker remote: no command needed */
        if (s->argc == 0) {
            if (!is_builtin(name)) {
                snprintf(why, why_len,
                         "stage '%s' has no command: add a [stage %s] section with command = ...",
                         name, name);
                return NLPD_ECONFIG;
            }
            char path[600];
            snprintf(path, sizeof(path), "%s/nlpd-%s", cfg->worker_dir, name);
            s->argv[0] = nlpd_strdup(path);
            if (s->argv[0] == NULL)
                return NLPD_ENOMEM;
            s->argv[1] = NULL;
            s->argc = 1;
        }
        /* A worker that cannot start fails loudly at spawn; an obviously
         * missing absolute path is caught here, where the line is known. */
        if (s->argv[0][0] == '/' && access(s->argv[0], X_OK) != 0) {
            snprintf(why, why_len, "stage '%s': %s is not an executable file", name,
                     s->argv[0]);
            return NLPD_ECONFIG;
        }
    }
    return 0;
}

void
nlpd_config_print(const nlpd_config *cfg, void *out_)
{
    FILE *out = out_;
    fprintf(out, "[daemon]\n");
    fprintf(out, "runtime_dir = %s\n", cfg->runtime_dir[0] ? cfg->runtime_dir : "(default)");
    fprintf(out, "group = %s\n", cfg->group);
    fprintf(out, "log_level = %d\n", cfg->log_level);
    fprintf(out, "max_document_bytes = %llu\n", (unsigned long long)cfg->max_document_bytes);
    fprintf(out, "max_message_bytes = %llu\n", (unsigned long long)cfg->max_message_bytes);
    fprintf(out, "max_in_flight = %u\n", cfg->max_in_flight);
    fprintf(out, "max_in_flight_bytes = %llu\n", (unsigned long long)cfg->max_in_flight_bytes);
    fprintf(out, "heartbeat_ms = %u\nheartbeat_timeout_ms = %u\n", cfg->heartbeat_ms,
            cfg->heartbeat_timeout_ms);
    fprintf(out, "start_timeout_ms = %u\nstop_timeout_ms = %u\ndrain_timeout_ms = %u\n",
            cfg->start_timeout_ms, cfg->stop_timeout_ms, cfg->drain_timeout_ms);
    fprintf(out, "restart_backoff_min_ms = %u\nrestart_backoff_max_ms = %u\n",
            cfg->backoff_min_ms, cfg->backoff_max_ms);
    if (cfg->front_extra[0])
        fprintf(out, "front = %s\n", cfg->front_extra);
    if (cfg->listen[0])
        fprintf(out, "listen = %s\n", cfg->listen);
    if (cfg->curve_secret_key[0])
        fprintf(out, "curve_secret_key = %s\n", cfg->curve_secret_key);
    if (cfg->authorized_keys[0])
        fprintf(out, "authorized_keys = %s\n", cfg->authorized_keys);
    fprintf(out, "state_dir = %s\n", cfg->state_dir[0] ? cfg->state_dir : "(default)");
    fprintf(out, "journal = %s\njournal_sync = %s\n", cfg->journal ? "on" : "off",
            cfg->journal_sync_full ? "full" : "group");
    fprintf(out, "group_commit_ms = %u\ngroup_commit_docs = %u\n", cfg->group_commit_ms,
            cfg->group_commit_docs);
    fprintf(out, "result_retention = %llus\nresult_max_bytes = %llu\nprune_interval_ms = %u\n",
            (unsigned long long)cfg->result_retention_s,
            (unsigned long long)cfg->result_max_bytes, cfg->prune_interval_ms);
    fprintf(out, "max_attempts = %u\n", cfg->max_attempts);
    fprintf(out, "metrics_listen = %s\n", cfg->metrics_listen[0] ? cfg->metrics_listen : "off");
    fprintf(out, "\n[pipeline]\nstages =");
    for (int i = 0; i < cfg->n_pipeline; i++)
        fprintf(out, " %s", cfg->pipeline[i]);
    fprintf(out, "\n");
    for (int i = 0; i < cfg->n_stages; i++) {
        const nlpd_stage_cfg *s = &cfg->stages[i];
        fprintf(out, "\n[stage %s]\ncommand =", s->name);
        for (int k = 0; k < s->argc; k++)
            fprintf(out, " %s", s->argv[k]);
        fprintf(out, "\nreplicas = %d\ntimeout_ms = %u\nwindow = %u\n", s->replicas,
                s->timeout_ms, s->window);
        if (s->port != 0)
            fprintf(out, "port = %u\n", s->port);
        for (int k = 0; k < s->n_env; k++) {
            const char *eq = strchr(s->env[k], '=');
            fprintf(out, "env.%.*s = %s\n", (int)(eq - s->env[k]), s->env[k], eq + 1);
        }
    }
}

int
nlpd_config_parse_listen(const char *value, char *host, size_t host_len, unsigned *port,
                         int *family, char *why, size_t why_len)
{
    const char *colon;
    char addr[64];
    size_t alen;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(why, why_len, "'%s' is not [IPV6]:PORT", value);
            return NLPD_ECONFIG;
        }
        alen = (size_t)(close - value - 1);
        if (alen >= sizeof(addr)) {
            snprintf(why, why_len, "address too long in '%s'", value);
            return NLPD_ECONFIG;
        }
        memcpy(addr, value + 1, alen);
        colon = close + 1;
        *family = AF_INET6;
    } else {
        colon = strrchr(value, ':');
        if (colon == NULL || strchr(value, ':') != colon) {
            snprintf(why, why_len,
                     "'%s' is not ADDRESS:PORT (e.g. 127.0.0.1:9464, [::1]:9464; off)", value);
            return NLPD_ECONFIG;
        }
        alen = (size_t)(colon - value);
        if (alen >= sizeof(addr)) {
            snprintf(why, why_len, "address too long in '%s'", value);
            return NLPD_ECONFIG;
        }
        memcpy(addr, value, alen);
        *family = AF_INET;
    }
    addr[alen] = '\0';
    if (*family == AF_INET && strcmp(addr, "localhost") == 0)
        snprintf(addr, sizeof(addr), "127.0.0.1");
    unsigned char probe[16];
    if (inet_pton(*family, addr, probe) != 1) {
        snprintf(why, why_len, "'%s' is not a numeric IP%s address (or localhost)", addr,
                 *family == AF_INET6 ? "v6" : "v4");
        return NLPD_ECONFIG;
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || !isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0 ||
        p > 65535) {
        snprintf(why, why_len, "'%s' is not a port (0 to 65535; 0: any free port)", colon + 1);
        return NLPD_ECONFIG;
    }
    if (strlen(addr) >= host_len) {
        snprintf(why, why_len, "address too long");
        return NLPD_ECONFIG;
    }
    snprintf(host, host_len, "%s", addr);
    *port = (unsigned)p;
    return 0;
}
