/* tests/unit/alloc_test.c — nlpd_grow: amortized growth of arrays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_doubles_from_sixteen_and_keeps_contents),
        cmocka_unit_test(test_grow_refuses_sizes_that_overflow),
        cmocka_unit_test(test_grow_leaves_the_array_alone_when_allocation_fails),
    };
    return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
