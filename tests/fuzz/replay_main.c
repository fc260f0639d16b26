/* tests/fuzz/replay_main.c — runs a libFuzzer target's inputs without libFuzzer.
 *
 *     split_fuzz_replay DIR_OR_FILE...
 *
 * Feeds every regular file named, and every regular file of every
 * directory named (in name order, not recursively), to
 * LLVMFuzzerTestOneInput, one at a time. The target aborts on a broken
 * invariant, so this builds with any compiler and, under ASan (the asan
 * preset), checks the seed corpus and saved crashes in CTest. A target's
 * LLVMFuzzerInitialize, if it has one, runs first. Prints one
 * line per input that took longer than a second, and a summary.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as in libFuzzer: a target that defines it gets it called once. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The input being run, named by the handler when the target aborts. */
static char current[4096];

static void
on_abort(int sig)
{
    static const char msg[] = "replay: the input was ";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    w = write(2, current, strlen(current));
    w = write(2, "\n", 1);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reads and runs one file. Returns 0, or -1 when it cannot be read. */
static int
run_file(const char *path, size_t *bytes)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, n = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n < cap)
            continue;
        uint8_t *nb = realloc(buf, cap * 2);
        if (nb == NULL)
            free(buf);
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "replay: out of memory reading %s\n", path);
        return -1;
    }
    /* An exact-size copy, so ASan sees a read past the input's end. */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    snprintf(current, sizeof(current), "%s", path);
    double t0 = now_s();
    LLVMFuzzerTestOneInput(exact, n);
    double secs = now_s() - t0;
    if (secs > 1.0)
        printf("replay: %s (%zu bytes) took %.2f s\n", path, n, secs);
    free(exact);
    *bytes += n;
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of `dir` in name order. Returns the number run or -1. */
static long
run_dir(const char *dir, size_t *bytes)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*names));
            if (nn == NULL)
                abort();
            names = nn;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (names[n] == NULL)
            abort();
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_str);
    long ran = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) && run_file(names[i], bytes) == 0)
            ran++;
        free(names[i]);
    }
    free(names);
    return ran;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    signal(SIGABRT, on_abort);
    signal(SIGSEGV, on_abort);
    long ran = 0;
    size_t bytes = 0;
    double t0 = now_s();
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s does not exist\n", argv[i]);
            return 1;
        }
        long n = S_ISDIR(st.st_mode) ? run_dir(argv[i], &bytes)
                                     : (run_file(argv[i], &bytes) == 0 ? 1 : -1);
        if (n < 0)
            return 1;
        ran += n;
    }
    printf("replay: %ld inputs, %zu bytes, %.2f s, no invariant broken\n", ran, bytes,
           now_s() - t0);
    return ran > 0 ? 0 : 1;
}
