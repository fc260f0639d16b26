/* stages/runtime/util.c — buffers, the decoding arena, UTF-8 validation, clocks,
 * directories. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd_internal.h"

int
nlpd__buf_reserve(nlpd__buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return NLPD_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *p = nlpd_realloc(b->data, cap);
    if (p == NULL)
        return NLPD_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
nlpd__buf_append(nlpd__buf *b, const void *data, size_t len)
{
    int rc = nlpd__buf_reserve(b, len);
    if (rc != 0)
        return rc;
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

void
nlpd__buf_release(nlpd__buf *b)
{
    nlpd_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* The arena hands out memory from chunks; a reset rewinds to the first
 * chunk and keeps them all, so decoding a stream of similar documents
 * settles into no allocation at all. */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    size_t used;
    max_align_t data[]; /* aligned for anything protobuf-c stores */
} arena_chunk;

struct nlpd__arena {
    ProtobufCAllocator pbc; /* first: protobuf-c passes &pbc as allocator_data */
    arena_chunk *head;      /* chunks in use order */
    arena_chunk *cur;
    int failed; /* an allocation failed since the last reset */
};

static void *
arena_pbc_alloc(void *data, size_t size)
{
    return nlpd__arena_alloc(data, size);
}

static void
arena_pbc_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr; /* released all at once by nlpd__arena_reset */
}

int
nlpd__arena_new(nlpd__arena **out)
{
    nlpd__arena *a = nlpd_calloc(1, sizeof(*a));
    if (a == NULL)
        return NLPD_ENOMEM;
    a->pbc.alloc = arena_pbc_alloc;
    a->pbc.free = arena_pbc_free;
    a->pbc.allocator_data = a;
    *out = a;
    return 0;
}

void *
nlpd__arena_alloc(nlpd__arena *a, size_t size)
{
    const size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    if (size == 0)
        size = align;
    while (a->cur != NULL) {
        if (a->cur->size - a->cur->used >= size) {
            void *p = (char *)a->cur->data + a->cur->used;
            a->cur->used += size;
            return p;
        }
        if (a->cur->next == NULL)
            break;
        a->cur = a->cur->next;
        a->cur->used = 0;
    }
    size_t csize = 64 * 1024;
    if (a->cur != NULL && a->cur->size * 2 > csize)
        csize = a->cur->size * 2;
    while (csize < size)
        csize *= 2;
    arena_chunk *c = nlpd_malloc(sizeof(*c) + csize);
    if (c == NULL) {
        a->failed = 1;
        return NULL;
    }
    c->next = NULL;
    c->size = csize;
    c->used = size;
    if (a->cur != NULL)
        a->cur->next = c;
    else
        a->head = c;
    a->cur = c;
    return c->data;
}

char *
nlpd__arena_strndup(nlpd__arena *a, const char *s, size_t len)
{
    char *p = nlpd__arena_alloc(a, len + 1);
    if (p == NULL)
        return NULL;
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void
nlpd__arena_reset(nlpd__arena *a)
{
    a->cur = a->head;
    if (a->cur != NULL)
        a->cur->used = 0;
    a->failed = 0;
}

int
nlpd__arena_failed(const nlpd__arena *a)
{
    return a->failed;
}

void
nlpd__arena_free(nlpd__arena **ap)
{
    if (ap == NULL || *ap == NULL)
        return;
    arena_chunk *c = (*ap)->head;
    while (c != NULL) {
        arena_chunk *next = c->next;
        nlpd_free(c);
        c = next;
    }
    nlpd_free(*ap);
    *ap = NULL;
}

ProtobufCAllocator *
nlpd__arena_allocator(nlpd__arena *a)
{
    return &a->pbc;
}

int
nlpd__utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, eight bytes at a time. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return 0;
        }
        if (len - i - 1 < n)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        }
        i += n + 1;
    }
    return 1;
}

uint64_t
nlpd__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
nlpd__mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int
nlpd__runtime_dir(const char *given, char *out, size_t out_len)
{
    const char *dir = given;
    char tmp[256];
    if (dir == NULL || dir[0] == '\0')
        dir = getenv("NLPD_RUNTIME_DIR");
    if (dir == NULL || dir[0] == '\0') {
        /* systemd's RuntimeDirectory=nlpd sets this to /run/nlpd. */
        dir = getenv("RUNTIME_DIRECTORY");
    }
    if (dir == NULL || dir[0] == '\0') {
        if (geteuid() == 0) {
            dir = "/run/nlpd";
        } else {
            const char *xdg = getenv("XDG_RUNTIME_DIR");
            if (xdg != NULL && xdg[0] != '\0')
                snprintf(tmp, sizeof(tmp), "%s/nlpd", xdg);
            else
                snprintf(tmp, sizeof(tmp), "/tmp/nlpd-%u", (unsigned)geteuid());
            dir = tmp;
        }
    }
    int n = snprintf(out, out_len, "%s", dir);
    if (n < 0 || (size_t)n >= out_len)
        return NLPD_EINVAL;
    /* A trailing slash would double up in endpoint paths. */
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    return 0;
}

int
nlpd__mkdir_p(const char *path, unsigned mode)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    }
    if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}
