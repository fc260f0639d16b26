/* stages/tag/clusters/embmain.c — nlpd-tag-embclusters: word vectors cut
 * into a binary tree of classes (embtree.h), for the tagger's features.
 *
 *   nlpd-tag-embclusters [--max-words N] [--depth D] [--min-leaf M]
 *                        [--iterations I] VECTORS.txt > paths.txt
 *
 * VECTORS.txt holds one word a line in GloVe's text format, "word v1 v2 ...
 * vd" separated by single spaces, most frequent word first; the first N
 * lines are read (all when N is 0). Writes "<bit path>\t<word>\t<rank>"
 * (the format of clusters.txt; the third field is the word's line number,
 * from 1) sorted by path and then word. A line whose word holds a tab, or
 * whose vector has another length than the first line's, is an error.
 *
 * stages/tag/clusters/make-embclusters.sh makes the shipped file; README.md
 * beside this file has the source and its licence.
 */
#include "embtree.h"
#include "nlpd/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *word;
    uint32_t path;
    uint8_t bits;
    uint32_t rank;
} entry;

static void
usage(FILE *f)
{
    fprintf(f, "usage: nlpd-tag-embclusters [--max-words N] [--depth D] [--min-leaf M] "
               "[--iterations I] VECTORS.txt > paths.txt\n");
}

static int
parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int
cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->bits && y->bits) {
        uint32_t l = x->bits < y->bits ? x->bits : y->bits;
        uint32_t mask = l == 32 ? UINT32_MAX : ~(UINT32_MAX >> l);
        if ((x->path & mask) != (y->path & mask))
            return (x->path & mask) < (y->path & mask) ? -1 : 1;
    }
    if (x->bits != y->bits)
        return x->bits < y->bits ? -1 : 1;
    return strcmp(x->word, y->word);
}

int
main(int argc, char **argv)
{
    nlpd_embtree_opts opts = NLPD_EMBTREE_OPTS_INIT;
    uint32_t max_words = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        uint32_t *dst = NULL;
        if (strcmp(a, "--max-words") == 0)
            dst = &max_words;
        else if (strcmp(a, "--depth") == 0)
            dst = &opts.depth;
        else if (strcmp(a, "--min-leaf") == 0)
            dst = &opts.min_leaf;
        else if (strcmp(a, "--iterations") == 0)
            dst = &opts.iterations;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (!dst || i + 1 >= argc || parse_u32(argv[++i], dst) != 0) {
            usage(stderr);
            return 2;
        }
    }
    if (i + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[i];
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "nlpd-tag-embclusters: %s: %s\n", path, strerror(errno));
        return 1;
    }
    entry *ent = NULL;
    float *vec = NULL;
    size_t n = 0, cap = 0, dim = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int status = 1;
    while ((max_words == 0 || n < max_words) && (len = getline(&line, &lcap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp || sp == line || memchr(line, '\t', (size_t)(sp - line))) {
            fprintf(stderr, "nlpd-tag-embclusters: %s:%zu: not \"word v1 v2 ...\"\n", path, n + 1);
            goto out;
        }
        *sp = '\0';
        size_t d = 0;
        for (char *p = sp + 1; *p; d++) {
            char *end;
            (void)strtof(p, &end);
            if (end == p)
                break;
            p = *end == ' ' ? end + 1 : end;
        }
        if (dim == 0)
            dim = d;
        if (d != dim || dim == 0) {
            fprintf(stderr, "nlpd-tag-embclusters: %s:%zu: %zu numbers, not %zu\n", path, n + 1, d,
                    dim);
            goto out;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 4096;
            entry *ne = realloc(ent, nc * sizeof *ent);
            if (!ne)
                goto oom;
            ent = ne;
            float *nv = realloc(vec, nc * dim * sizeof *vec);
            if (!nv)
                goto oom;
            vec = nv;
            cap = nc;
        }
        char *p = sp + 1;
        for (size_t k = 0; k < dim; k++) {
            char *end;
            vec[n * dim + k] = strtof(p, &end);
            p = *end == ' ' ? end + 1 : end;
        }
        ent[n].word = strdup(line);
        if (!ent[n].word)
            goto oom;
        ent[n].rank = (uint32_t)(n + 1);
        n++;
    }
    if (ferror(f)) {
        fprintf(stderr, "nlpd-tag-embclusters: %s: %s\n", path, strerror(errno));
        goto out;
    }
    uint32_t *paths = malloc((n ? n : 1) * sizeof *paths);
    uint8_t *bits = malloc(n ? n : 1);
    if (!paths || !bits) {
        free(paths);
        free(bits);
        goto oom;
    }
    int rc = nlpd_embtree_run(vec, n, dim, &opts, paths, bits);
    if (rc != 0) {
        fprintf(stderr, "nlpd-tag-embclusters: %s\n", nlpd_strerror(rc));
        free(paths);
        free(bits);
        goto out;
    }
    for (size_t j = 0; j < n; j++) {
        ent[j].path = paths[j];
        ent[j].bits = bits[j];
    }
    free(paths);
    free(bits);
    qsort(ent, n, sizeof *ent, cmp_entry);
    for (size_t j = 0; j < n; j++) {
        char b[33];
        for (uint32_t k = 0; k < ent[j].bits; k++)
            b[k] = (char)('0' + ((ent[j].path >> (31 - k)) & 1));
        b[ent[j].bits] = '\0';
        printf("%s\t%s\t%u\n", ent[j].bits ? b : "0", ent[j].word, ent[j].rank);
    }
    fprintf(stderr, "nlpd-tag-embclusters: %zu words of %zu dimensions\n", n, dim);
    status = fflush(stdout) == 0 ? 0 : 1;
    goto out;
oom:
    fprintf(stderr, "nlpd-tag-embclusters: out of memory\n");
out:
    for (size_t j = 0; j < n; j++)
        free(ent[j].word);
    free(ent);
    free(vec);
    free(line);
    fclose(f);
    return status;
}
