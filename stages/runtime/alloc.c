/* stages/runtime/alloc.c — the swappable allocator (libuv's uv_replace_allocator). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"

static struct {
    nlpd_malloc_fn malloc_fn;
    nlpd_realloc_fn realloc_fn;
    nlpd_calloc_fn calloc_fn;
    nlpd_free_fn free_fn;
} allocator = {malloc, realloc, calloc, free};

int
nlpd_set_allocator(nlpd_malloc_fn malloc_fn, nlpd_realloc_fn realloc_fn, nlpd_calloc_fn calloc_fn,
                   nlpd_free_fn free_fn)
{
    if (malloc_fn == NULL || realloc_fn == NULL || calloc_fn == NULL || free_fn == NULL)
        return NLPD_EINVAL;
    allocator.malloc_fn = malloc_fn;
    allocator.realloc_fn = realloc_fn;
    allocator.calloc_fn = calloc_fn;
    allocator.free_fn = free_fn;
    return 0;
}

void *
nlpd_malloc(size_t size)
{
    return allocator.malloc_fn(size != 0 ? size : 1);
}

void *
nlpd_calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0)
        return allocator.calloc_fn(1, 1);
    return allocator.calloc_fn(count, size);
}

void *
nlpd_realloc(void *ptr, size_t size)
{
    return allocator.realloc_fn(ptr, size != 0 ? size : 1);
}

void
nlpd_free(void *ptr)
{
    if (ptr != NULL)
        allocator.free_fn(ptr);
}

char *
nlpd_strndup(const char *s, size_t len)
{
    char *p = nlpd_malloc(len + 1);
    if (p == NULL)
        return NULL;
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *
nlpd_strdup(const char *s)
{
    return nlpd_strndup(s, strlen(s));
}

int
nlpd_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    if (elem == 0)
        return NLPD_EINVAL;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return NLPD_ENOMEM;
        n *= 2;
    }
    void *q = nlpd_realloc(*p, n * elem);
    if (q == NULL)
        return NLPD_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

int
nlpd_read_file(const char *path, size_t max, char **out, size_t *len)
{
    if (path == NULL || out == NULL || len == NULL)
        return NLPD_EINVAL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -errno;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                rc = NLPD_EMSGSIZE;
                break;
            }
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = nlpd_realloc(buf, ncap);
            if (nb == NULL) {
                rc = NLPD_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        errno = 0;
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = errno != 0 ? -errno : -EIO;
            break;
        }
    }
    fclose(f);
    if (rc == 0 && n > max)
        rc = NLPD_EMSGSIZE;
    if (rc != 0) {
        nlpd_free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}
