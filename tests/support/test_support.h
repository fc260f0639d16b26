/* tests/support/test_support.h — helpers shared by the cmocka tests.
 *
 * Include after <cmocka.h>'s prerequisites (stdarg.h, stddef.h, setjmp.h,
 * stdint.h), which this header pulls in itself.
 */
#ifndef NLPD_TEST_SUPPORT_H
#define NLPD_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Failing allocator (Mosquitto's memory limit, done with a counter):
 * after nlpd_test_alloc_fail_after(n) the n+1th allocation through
 * nlpd_malloc/calloc/realloc returns NULL, and every later one too until
 * nlpd_test_alloc_reset(). n < 0 never fails. Installed by
 * nlpd_test_alloc_install(); allocations are counted either way. */
void nlpd_test_alloc_install(void);
void nlpd_test_alloc_fail_after(long n);
void nlpd_test_alloc_reset(void);
long nlpd_test_alloc_count(void); /* allocations since the last reset */
long nlpd_test_alloc_live(void);  /* allocated and not yet freed (leak check) */

/* Reads tests/fixtures/NAME (from NLPD_SOURCE_DIR, set by CTest) into a
 * malloc'd buffer with a NUL after it; *len gets its size. Fails the test
 * when the file cannot be read. Free with free(). */
char *nlpd_test_fixture(const char *name, size_t *len);

/* Returns the path of tests/fixtures/NAME in a static buffer. */
const char *nlpd_test_fixture_path(const char *name);

/* Reads any file into a malloc'd, NUL-terminated buffer; NULL if it cannot. */
char *nlpd_test_read_file(const char *path, size_t *len);

/* Makes a fresh private temporary directory (mode 0700) and returns its
 * path (malloc'd). nlpd_test_rmtree() removes it and everything in it. */
char *nlpd_test_tmpdir(const char *prefix);
void nlpd_test_rmtree(const char *path);

/* Path of ../shared/data/REL relative to the source tree, or NULL when the
 * shared data is not there (tests that need it print that they are skipped). */
const char *nlpd_test_shared_data(const char *rel);

#endif /* NLPD_TEST_SUPPORT_H */
