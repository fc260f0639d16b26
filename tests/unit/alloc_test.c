/* tests/unit/alloc_test.c — nlpd_grow (amortized growth of arrays) and
 * nlpd_read_file (a whole file into a buffer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "test_support.h"

static void
test_grow_doubles_from_sixteen_and_keeps_contents(void **state)
{
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    assert_int_equal(nlpd_grow((void **)&v, &cap, 1, sizeof(*v)), 0);
    assert_int_equal(cap, 16);
    for (int i = 0; i < 16; i++)
        v[i] = i;
    assert_int_equal(nlpd_grow((void **)&v, &cap, 17, sizeof(*v)), 0);
    assert_int_equal(cap, 32);
    for (int i = 0; i < 16; i++)
        assert_int_equal(v[i], i);
    /* Enough room already: nothing changes. */
    int *before = v;
    assert_int_equal(nlpd_grow((void **)&v, &cap, 20, sizeof(*v)), 0);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 32);
    assert_int_equal(nlpd_grow((void **)&v, &cap, 1000, sizeof(*v)), 0);
    assert_int_equal(cap, 1024);
    nlpd_free(v);
}

static void
test_grow_refuses_sizes_that_overflow(void **state)
{
    (void)state;
    char *v = NULL;
    size_t cap = 0;
    assert_int_equal(nlpd_grow((void **)&v, &cap, SIZE_MAX / 2, 16), NLPD_ENOMEM);
    assert_null(v);
    assert_int_equal(cap, 0);
    assert_int_equal(nlpd_grow((void **)&v, &cap, 1, 0), NLPD_EINVAL);
}

static void
test_grow_leaves_the_array_alone_when_allocation_fails(void **state)
{
    (void)state;
    nlpd_test_alloc_install();
    long *v = NULL;
    size_t cap = 0;
    assert_int_equal(nlpd_grow((void **)&v, &cap, 10, sizeof(*v)), 0);
    v[0] = 42;
    nlpd_test_alloc_fail_after(0);
    assert_int_equal(nlpd_grow((void **)&v, &cap, 100, sizeof(*v)), NLPD_ENOMEM);
    assert_int_equal(cap, 16);
    assert_int_equal(v[0], 42);
    nlpd_test_alloc_reset();
    nlpd_free(v);
    assert_int_equal(nlpd_test_alloc_live(), 0);
}

/* Writes `len` bytes of a repeating pattern to dir/name; returns the path. */
static char *
write_pattern(const char *dir, const char *name, size_t len)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(path);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(fputc((int)(i % 251), f), (int)(i % 251));
    assert_int_equal(fclose(f), 0);
    return path;
}

static void
test_read_file_reads_whole_files_and_refuses_what_is_too_large(void **state)
{
    (void)state;
    char *dir = nlpd_test_tmpdir("nlpd-read-file");
    /* Across the first buffer size (64 kB) and its doublings. */
    static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 300000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        char *path = write_pattern(dir, "f", sizes[k]);
        char *buf = NULL;
        size_t len = 12345;
        assert_int_equal(nlpd_read_file(path, sizes[k], &buf, &len), 0);
        assert_int_equal(len, sizes[k]);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)buf[i] != i % 251)
                fail_msg("byte %zu of %zu differs", i, len);
        nlpd_free(buf);
        if (sizes[k] > 0) {
            buf = NULL;
            assert_int_equal(nlpd_read_file(path, sizes[k] - 1, &buf, &len), NLPD_EMSGSIZE);
            assert_null(buf);
        }
        free(path);
    }
    char *missing = write_pattern(dir, "g", 0);
    remove(missing);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(nlpd_read_file(missing, 100, &buf, &len), NLPD_ENOENT);
    assert_int_equal(nlpd_read_file(dir, 100, &buf, &len) < 0, 1); /* a directory */
    assert_null(buf);
    assert_int_equal(nlpd_read_file(NULL, 100, &buf, &len), NLPD_EINVAL);
    free(missing);
    nlpd_test_rmtree(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_doubles_from_sixteen_and_keeps_contents),
        cmocka_unit_test(test_grow_refuses_sizes_that_overflow),
        cmocka_unit_test(test_grow_leaves_the_array_alone_when_allocation_fails),
        cmocka_unit_test(test_read_file_reads_whole_files_and_refuses_what_is_too_large),
    };
    return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
