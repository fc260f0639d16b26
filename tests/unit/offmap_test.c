/* tests/unit/offmap_test.c — the offset map from normalized text to text as sent. */
#include "test_support.h"

#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/offmap.h"

static void
test_offmap_is_identity_when_only_copies_are_fed(void **state)
{
    (void)state;
    nlpd_offmap_builder b = NLPD_OFFMAP_BUILDER_INIT;
    assert_int_equal(nlpd_offmap_copy(&b, 10), 0);
    assert_int_equal(nlpd_offmap_rewrite(&b, 3, 3), 0); /* same length: a copy */
    assert_int_equal(nlpd_offmap_copy(&b, 5), 0);
    assert_int_equal(nlpd_offmap_finish(&b), 0);
    assert_int_equal(b.n, 0);
    nlpd_offmap m = nlpd_offmap_view(&b);
    assert_int_equal(nlpd_offmap_start(&m, 7), 7);
    assert_int_equal(nlpd_offmap_end(&m, 18), 18);
    nlpd_offmap_builder_release(&b);
}

/* orig "a   b" -> norm "a b": the three spaces became one. */
static void
test_offmap_maps_around_collapsed_whitespace(void **state)
{
    (void)state;
    nlpd_offmap_builder b = NLPD_OFFMAP_BUILDER_INIT;
    assert_int_equal(nlpd_offmap_copy(&b, 1), 0);
    assert_int_equal(nlpd_offmap_rewrite(&b, 3, 1), 0);
    assert_int_equal(nlpd_offmap_copy(&b, 1), 0);
    assert_int_equal(nlpd_offmap_finish(&b), 0);
    nlpd_offmap m = nlpd_offmap_view(&b);
    assert_true(m.n > 0);
    assert_int_equal(nlpd_offmap_start(&m, 0), 0); /* "a" */
    assert_int_equal(nlpd_offmap_end(&m, 1), 1);
    assert_int_equal(nlpd_offmap_start(&m, 2), 4); /* "b" */
    assert_int_equal(nlpd_offmap_end(&m, 3), 5);
    assert_int_equal(nlpd_offmap_start(&m, 1), 1); /* the space: the whole run */
    assert_int_equal(nlpd_offmap_end(&m, 2), 4);
    assert_int_equal(nlpd_offmap_start(&m, 0), 0);
    assert_int_equal(nlpd_offmap_end(&m, 0), 0);
    nlpd_offmap_builder_release(&b);
}

/* orig "x\u200by" (ZWSP, 3 bytes, removed) -> norm "xy". */
static void
test_offmap_maps_across_a_deletion(void **state)
{
    (void)state;
    nlpd_offmap_builder b = NLPD_OFFMAP_BUILDER_INIT;
    assert_int_equal(nlpd_offmap_copy(&b, 1), 0);
    assert_int_equal(nlpd_offmap_rewrite(&b, 3, 0), 0);
    assert_int_equal(nlpd_offmap_copy(&b, 1), 0);
    assert_int_equal(nlpd_offmap_finish(&b), 0);
    nlpd_offmap m = nlpd_offmap_view(&b);
    assert_int_equal(nlpd_offmap_end(&m, 1), 1);   /* "x" ends before the ZWSP */
    assert_int_equal(nlpd_offmap_start(&m, 1), 4); /* "y" starts after it */
    assert_int_equal(nlpd_offmap_end(&m, 2), 5);
    /* The span of the whole "xy" covers the deleted character too. */
    assert_int_equal(nlpd_offmap_start(&m, 0), 0);
    nlpd_offmap_builder_release(&b);
}

/* orig "e\xcc\x81t\xc3\xa9" ("e" + combining acute, 3 bytes) -> norm "\xc3\xa9t\xc3\xa9". */
static void
test_offmap_maps_a_composed_character_as_a_whole(void **state)
{
    (void)state;
    nlpd_offmap_builder b = NLPD_OFFMAP_BUILDER_INIT;
    assert_int_equal(nlpd_offmap_rewrite(&b, 3, 2), 0);
    assert_int_equal(nlpd_offmap_copy(&b, 3), 0);
    assert_int_equal(nlpd_offmap_finish(&b), 0);
    nlpd_offmap m = nlpd_offmap_view(&b);
    assert_int_equal(nlpd_offmap_start(&m, 0), 0);
    assert_int_equal(nlpd_offmap_end(&m, 2), 3);
    assert_int_equal(nlpd_offmap_start(&m, 2), 3);
    assert_int_equal(nlpd_offmap_end(&m, 5), 6);
    assert_int_equal(nlpd_offmap_start(&m, 1), 0); /* inside the rewrite */
    assert_int_equal(nlpd_offmap_end(&m, 1), 3);
    nlpd_offmap_builder_release(&b);
}

/* An insertion (HTML block break): norm gets "\n\n" that orig lacks. */
static void
test_offmap_maps_around_an_insertion(void **state)
{
    (void)state;
    nlpd_offmap_builder b = NLPD_OFFMAP_BUILDER_INIT;
    assert_int_equal(nlpd_offmap_copy(&b, 4), 0);
    assert_int_equal(nlpd_offmap_rewrite(&b, 0, 2), 0);
    assert_int_equal(nlpd_offmap_copy(&b, 4), 0);
    assert_int_equal(nlpd_offmap_finish(&b), 0);
    nlpd_offmap m = nlpd_offmap_view(&b);
    assert_int_equal(nlpd_offmap_end(&m, 4), 4);
    assert_int_equal(nlpd_offmap_start(&m, 6), 4);
    assert_int_equal(nlpd_offmap_end(&m, 10), 8);
    nlpd_offmap_builder_release(&b);
}

static void
test_offmap_builder_reports_enomem_and_leaks_nothing(void **state)
{
    (void)state;
    for (long fail = 0; fail < 8; fail++) {
        nlpd_offmap_builder b = NLPD_OFFMAP_BUILDER_INIT;
        long live = nlpd_test_alloc_live();
        nlpd_test_alloc_fail_after(fail);
        int rc = 0;
        for (int i = 0; i < 200 && rc == 0; i++) {
            rc = nlpd_offmap_copy(&b, 2);
            if (rc == 0)
                rc = nlpd_offmap_rewrite(&b, 2, 1);
        }
        if (rc == 0)
            rc = nlpd_offmap_finish(&b);
        nlpd_test_alloc_reset();
        assert_int_equal(rc, NLPD_ENOMEM);
        nlpd_offmap_builder_release(&b);
        assert_int_equal(nlpd_test_alloc_live(), live);
    }
}

int
main(void)
{
    nlpd_test_alloc_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offmap_is_identity_when_only_copies_are_fed),
        cmocka_unit_test(test_offmap_maps_around_collapsed_whitespace),
        cmocka_unit_test(test_offmap_maps_across_a_deletion),
        cmocka_unit_test(test_offmap_maps_a_composed_character_as_a_whole),
        cmocka_unit_test(test_offmap_maps_around_an_insertion),
        cmocka_unit_test(test_offmap_builder_reports_enomem_and_leaks_nothing),
    };
    return cmocka_run_group_tests_name("offmap", tests, NULL, NULL);
}
