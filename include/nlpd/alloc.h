/* include/nlpd/alloc.h — the allocator every nlpd component goes through.
 *
 * nlpd_set_allocator() swaps the four functions (libuv's
 * uv_replace_allocator); tests install one that fails on the Nth call to
 * walk every error path. Set it before any other nlpd call; it is not
 * thread-safe against concurrent allocation.
 */
#ifndef NLPD_ALLOC_H
#define NLPD_ALLOC_H

#include <stddef.h>

#include "nlpd/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*nlpd_malloc_fn)(size_t size);
typedef void *(*nlpd_realloc_fn)(void *ptr, size_t size);
typedef void *(*nlpd_calloc_fn)(size_t count, size_t size);
typedef void (*nlpd_free_fn)(void *ptr);

/* Replaces the allocator. All four must be given. Returns 0 or NLPD_EINVAL. */
NLPD_EXPORT int nlpd_set_allocator(nlpd_malloc_fn malloc_fn, nlpd_realloc_fn realloc_fn,
                                   nlpd_calloc_fn calloc_fn, nlpd_free_fn free_fn);

NLPD_EXPORT void *nlpd_malloc(size_t size);
NLPD_EXPORT void *nlpd_calloc(size_t count, size_t size);
NLPD_EXPORT void *nlpd_realloc(void *ptr, size_t size);
NLPD_EXPORT void nlpd_free(void *ptr);

/* Returns a copy of the NUL-terminated `s` (NULL when out of memory), to be
 * released with nlpd_free(). */
NLPD_EXPORT char *nlpd_strdup(const char *s);

/* Returns a NUL-terminated copy of `len` bytes of `s`; release with nlpd_free(). */
NLPD_EXPORT char *nlpd_strndup(const char *s, size_t len);

/* Grows the array *p of *cap elements of `elem` bytes to hold at least
 * `need` elements, doubling (from 16), so that appending one at a time
 * costs amortized constant time. Returns 0, or NLPD_ENOMEM with *p and
 * *cap unchanged. */
NLPD_EXPORT int nlpd_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Reads the whole file `path` into a new buffer (*out, *len; release with
 * nlpd_free()). Returns 0, -errno when it cannot be opened or read,
 * NLPD_EMSGSIZE when it holds more than `max` bytes (nothing is kept), or
 * NLPD_ENOMEM. Model and data loaders read their files with it. */
NLPD_EXPORT int nlpd_read_file(const char *path, size_t max, char **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_ALLOC_H */
