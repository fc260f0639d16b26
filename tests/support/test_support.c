/* tests/support/test_support.c — failing allocator, fixtures, temp dirs. */
#include "test_support.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nlpd/alloc.h"

static long alloc_count;
static long alloc_fail_after = -1;
static long alloc_live;

static int
alloc_should_fail(void)
{
    alloc_count++;
    return alloc_fail_after >= 0 && alloc_count > alloc_fail_after;
}

/* Each block carries its size in front so the live count is exact. */
#define HDR 16

static void *
t_malloc(size_t n)
{
    if (alloc_should_fail())
        return NULL;
    char *p = malloc(n + HDR);
    if (p == NULL)
        return NULL;
    alloc_live++;
    return p + HDR;
}

static void *
t_calloc(size_t c, size_t n)
{
    if (alloc_should_fail())
        return NULL;
    if (n != 0 && c > (SIZE_MAX - HDR) / n)
        return NULL;
    char *p = calloc(1, c * n + HDR);
    if (p == NULL)
        return NULL;
    alloc_live++;
    return p + HDR;
}

static void *
t_realloc(void *ptr, size_t n)
{
    if (alloc_should_fail())
        return NULL;
    char *base = ptr != NULL ? (char *)ptr - HDR : NULL;
    char *p = realloc(base, n + HDR);
    if (p == NULL)
        return NULL;
    if (ptr == NULL)
        alloc_live++;
    return p + HDR;
}

static void
t_free(void *ptr)
{
    if (ptr == NULL)
        return;
    alloc_live--;
    free((char *)ptr - HDR);
}

void
nlpd_test_alloc_install(void)
{
    nlpd_set_allocator(t_malloc, t_realloc, t_calloc, t_free);
}

void
nlpd_test_alloc_fail_after(long n)
{
    alloc_count = 0;
    alloc_fail_after = n;
}

void
nlpd_test_alloc_reset(void)
{
    alloc_count = 0;
    alloc_fail_after = -1;
}

long
nlpd_test_alloc_count(void)
{
    return alloc_count;
}

long
nlpd_test_alloc_live(void)
{
    return alloc_live;
}

char *
nlpd_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

static const char *
source_dir(void)
{
    const char *s = getenv("NLPD_SOURCE_DIR");
    return s != NULL ? s : ".";
}

const char *
nlpd_test_fixture_path(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/tests/fixtures/%s", source_dir(), name);
    return path;
}

char *
nlpd_test_fixture(const char *name, size_t *len)
{
    const char *path = nlpd_test_fixture_path(name);
    char *buf = nlpd_test_read_file(path, len);
    if (buf == NULL)
        fail_msg("cannot read fixture %s", path);
    return buf;
}

char *
nlpd_test_tmpdir(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/%s.XXXXXX", base, prefix != NULL ? prefix : "nlpd-test");
    if (mkdtemp(tmpl) == NULL)
        fail_msg("mkdtemp %s failed", tmpl);
    chmod(tmpl, 0700);
    return strdup(tmpl);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void
nlpd_test_rmtree(const char *path)
{
    if (path != NULL)
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
nlpd_test_shared_data(const char *rel)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/../shared/data/%s", source_dir(), rel);
    if (access(path, R_OK) != 0)
        return NULL;
    return path;
}
