/* tests/fuzz/fuzz_common.h — what the ingest, doc, json and summarize fuzz
 * targets share: the CHECK macro, a failing allocator and a UTF-8 check.
 *
 * Header-only (static functions), so that each target stays one .c file
 * that builds both as a libFuzzer binary and with replay_main.c.
 */
#ifndef NLPD_FUZZ_COMMON_H
#define NLPD_FUZZ_COMMON_H

#include "nlpd/alloc.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The target's name, for messages; each file defines FUZZ_NAME first. */
#ifndef FUZZ_NAME
#error "define FUZZ_NAME before including fuzz_common.h"
#endif

/* An invariant that must hold: on violation, say which and abort, so that
 * libFuzzer (or the replay driver under ASan) reports the input. */
#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, FUZZ_NAME ": invariant broken at %s:%d: %s\n  ", __FILE__, __LINE__, \
                    #cond);                                                                      \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

/* Names in the environment variable `var` (e.g. INGEST_FUZZ_SKIP=idem)
 * turn a check off, to keep fuzzing past a known bug. */
static inline int
fuzz_skipped(const char *var, const char *check)
{
    const char *v = getenv(var);
    return v != NULL && strstr(v, check) != NULL;
}

/* --- A failing allocator ------------------------------------------------------ */

static long fuzz_fail_countdown = -1; /* > 0: calls left before failing; 0: failing */

static inline int
fuzz_alloc_fails(void)
{
    if (fuzz_fail_countdown < 0)
        return 0;
    if (fuzz_fail_countdown == 0)
        return 1;
    return --fuzz_fail_countdown == 0;
}

static inline void *
fuzz_malloc(size_t size)
{
    return fuzz_alloc_fails() ? NULL : malloc(size);
}

static inline void *
fuzz_calloc(size_t count, size_t size)
{
    return fuzz_alloc_fails() ? NULL : calloc(count, size);
}

static inline void *
fuzz_realloc(void *ptr, size_t size)
{
    return fuzz_alloc_fails() ? NULL : realloc(ptr, size);
}

/* Installs the allocator once; fuzz_fail_at(n) makes call n (1-based) and
 * every later one fail, fuzz_fail_at(0) turns failing off. */
static inline void
fuzz_alloc_setup(void)
{
    static int done;
    if (!done) {
        nlpd_set_allocator(fuzz_malloc, fuzz_realloc, fuzz_calloc, free);
        done = 1;
    }
}

static inline void
fuzz_fail_at(long n)
{
    fuzz_fail_countdown = n > 0 ? n : -1;
}

/* --- UTF-8 -------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is invalid
 * (overlongs, surrogates and code points above U+10FFFF are invalid). */
static inline size_t
fuzz_utf8_seq(const uint8_t *s, size_t n, uint32_t *cp_out)
{
    uint8_t c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) {
        if (cp_out != NULL)
            *cp_out = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        need = 1, cp = c & 0x1Fu;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, cp = c & 0x0Fu;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, cp = c & 0x07u;
    else
        return 0;
    if (n < need + 1)
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3Fu);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    if (cp_out != NULL)
        *cp_out = cp;
    return need + 1;
}

/* 1 when the n bytes at s are valid UTF-8. */
static inline int
fuzz_utf8_valid(const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n;) {
        size_t k = fuzz_utf8_seq(s + i, n - i, NULL);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* 1 when offset `off` of the n bytes at s starts a code point (or is n). */
static inline int
fuzz_cp_boundary(const void *p, size_t n, size_t off)
{
    const uint8_t *s = p;
    return off == 0 || off >= n || (s[off] & 0xC0) != 0x80;
}

#endif /* NLPD_FUZZ_COMMON_H */
