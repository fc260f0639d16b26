/* tests/unit/tag_test.c — the tag stage's CRF core: feature extraction on
 * known sentences, Viterbi and forward-backward against brute force over
 * every path, model files (a tiny model built here, saved, loaded; corrupt,
 * truncated and newer files refused with the right code), training end to
 * end on a small set (tests/fixtures/tag/crf-train.jsonl, through
 * nlpd-tag-train), the document pass over the names, long and odd inputs,
 * and the public API's argument checks.
 */
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/split.h"
#include "nlpd/tag.h"
#include "tag_internal.h"
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define L NLPD__TAG_LABELS

/* ---- helpers ------------------------------------------------------------------- */

typedef struct split_out {
    nlpd_split_model *sm;
    nlpd_split *sp;
    const nlpd_split_token *tok;
    size_t nt;
    const nlpd_split_sentence *sen;
    size_t ns;
} split_out;

static void
split_text(split_out *s, const char *text)
{
    if (s->sp == NULL) {
        assert_int_equal(nlpd_split_model_load_builtin(&s->sm, "en"), 0);
        assert_int_equal(nlpd_split_new(&s->sp, s->sm, NULL), 0);
    }
    assert_int_equal(nlpd_split_run(s->sp, text, strlen(text), NULL, 0), 0);
    s->nt = nlpd_split_tokens(s->sp, &s->tok);
    s->ns = nlpd_split_sentences(s->sp, &s->sen);
}

static void
split_done(split_out *s)
{
    nlpd_split_free(&s->sp);
    nlpd_split_model_free(&s->sm);
}

/* A deterministic pseudo-random double in [-1, 1). */
static double
rnd(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*state >> 11) / (double)(1ull << 52) - 1.0;
}

/* Random weights for a model of `bits` hash bits (emissions, start,
 * transitions), as the trainer lays them out. */
static double *
random_weights(unsigned bits, uint64_t seed, double amp)
{
    size_t n = ((size_t)1 << bits) * L + L + L * L;
    double *w = malloc(n * sizeof(*w));
    assert_non_null(w);
    for (size_t i = 0; i < n; i++)
        w[i] = amp * rnd(&seed);
    return w;
}

/* Checks what any run's entities must keep: in order, not overlapping, on
 * token boundaries inside one sentence, labels known, scores in (0, 1]. */
static void
check_entities(const nlpd_tagger *tg, const nlpd_split_token *tok, size_t nt,
               const nlpd_split_sentence *sen, size_t ns)
{
    const nlpd_tag_entity *e;
    size_t ne = nlpd_tagger_entities(tg, &e);
    uint32_t prev_end = 0;
    for (size_t i = 0; i < ne; i++) {
        assert_true(e[i].n_tokens >= 1);
        assert_true(e[i].first_token + e[i].n_tokens <= nt);
        assert_int_equal(e[i].start, tok[e[i].first_token].start);
        assert_int_equal(e[i].end, tok[e[i].first_token + e[i].n_tokens - 1].end);
        assert_true(e[i].start >= prev_end);
        prev_end = e[i].end;
        assert_true(e[i].label > NLPD_ENT_NONE && e[i].label < NLPD_ENT_COUNT_);
        assert_true(e[i].score > 0.0f && e[i].score <= 1.0f);
        int inside = 0;
        for (size_t s = 0; s < ns; s++)
            if (e[i].first_token >= sen[s].first_token &&
                e[i].first_token + e[i].n_tokens <= sen[s].first_token + sen[s].n_tokens)
                inside = 1;
        assert_true(inside);
    }
}

/* ---- labels ---------------------------------------------------------------------- */

static void
test_label_names(void **state)
{
    (void)state;
    for (int i = 1; i < NLPD_ENT_COUNT_; i++)
        assert_int_equal(nlpd_entity_label_parse(nlpd_entity_label_name(i)), i);
    assert_string_equal(nlpd_entity_label_name(NLPD_ENT_PER), "PER");
    assert_string_equal(nlpd_entity_label_name(0), "");
    assert_string_equal(nlpd_entity_label_name(NLPD_ENT_COUNT_), "");
    assert_string_equal(nlpd_entity_label_name(-1), "");
    assert_int_equal(nlpd_entity_label_parse("per"), NLPD_ENT_NONE);
    assert_int_equal(nlpd_entity_label_parse(NULL), NLPD_ENT_NONE);
    /* BIO: B-t = 2t - 1, I-t = 2t; I-t only after B-t or I-t. */
    assert_int_equal(nlpd__tag_label_b(NLPD_ENT_PER), 1);
    assert_int_equal(nlpd__tag_label_type(2), NLPD_ENT_PER);
    assert_int_equal(nlpd__tag_label_type(7), NLPD_ENT_MISC);
    assert_true(nlpd__tag_transition_ok(1, 2));
    assert_true(nlpd__tag_transition_ok(2, 2));
    assert_false(nlpd__tag_transition_ok(0, 2));
    assert_false(nlpd__tag_transition_ok(3, 2));
    assert_false(nlpd__tag_transition_ok(-1, 2));
    assert_true(nlpd__tag_transition_ok(-1, 1));
}

/* ---- features ---------------------------------------------------------------------- */

typedef struct fx_fixture {
    nlpd_tag_model *m;
    nlpd__tag_fx fx;
    split_out so;
} fx_fixture;

static void
fx_run(fx_fixture *f, const char *text)
{
    split_text(&f->so, text);
    assert_int_equal(nlpd__tag_fx_doc(&f->fx, f->m, text, f->so.tok, f->so.nt, f->so.sen,
                                      f->so.ns),
                     0);
}

static size_t
tok_index(const fx_fixture *f, const char *text, const char *word, size_t nth)
{
    size_t wn = strlen(word);
    for (size_t i = 0; i < f->so.nt; i++)
        if (f->so.tok[i].end - f->so.tok[i].start == wn &&
            memcmp(text + f->so.tok[i].start, word, wn) == 0 && nth-- == 0)
            return i;
    fail_msg("token %s not found", word);
    return 0;
}

static int
has_feature(const uint32_t *f, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (f[i] == x)
            return 1;
    return 0;
}

static void
test_features(void **state)
{
    (void)state;
    fx_fixture f = {0};
    assert_int_equal(nlpd__tag_model_new(&f.m, 20), 0);
    /* Word clusters come from the model's table. */
    assert_int_equal(nlpd__clusters_add(&f.m->clusters, "Paris", 5, 0xA0000000u, 4), 0);
    assert_int_equal(nlpd__clusters_add(&f.m->clusters, "north", 5, 0x12345678u, 32), 0);
    const char *text = "Will Paris and Seoul will pay 3.5 or 12.25 dollars? They will.\n\n"
                       "Shoigu Visits North Korea\n\nTHE PARIS TALKS ENDED.";
    fx_run(&f, text);
    const nlpd__tag_tok *t = f.fx.tok;
    size_t will0 = tok_index(&f, text, "Will", 0);
    size_t will1 = tok_index(&f, text, "will", 0);
    size_t paris = tok_index(&f, text, "Paris", 0);
    size_t seoul = tok_index(&f, text, "Seoul", 0);
    size_t p35 = tok_index(&f, text, "3.5", 0);
    size_t p1225 = tok_index(&f, text, "12.25", 0);
    size_t paris2 = tok_index(&f, text, "PARIS", 0);
    size_t visits = tok_index(&f, text, "Visits", 0);
    size_t north = tok_index(&f, text, "North", 0);
    /* Lower-cased forms meet; exact forms do not. */
    assert_int_equal(t[will0].lower, t[will1].lower);
    assert_int_not_equal(t[will0].word, t[will1].word);
    assert_int_equal(t[paris].lower, t[paris2].lower);
    /* Shapes: "Xxxx" (runs up to 4) and "Xx" (runs collapsed), "d.d". */
    assert_int_equal(t[paris].fshape, t[seoul].fshape);
    assert_int_equal(t[paris].cshape, t[visits].cshape);
    assert_int_not_equal(t[paris].cshape, t[paris2].cshape);
    assert_int_equal(t[p35].cshape, t[p1225].cshape);
    assert_int_not_equal(t[p35].fshape, t[p1225].fshape);
    /* Suffixes are lower-cased: "Paris" and "PARIS" end alike. */
    for (int k = 0; k < 4; k++)
        assert_int_equal(t[paris].suf[k], t[paris2].suf[k]);
    assert_int_equal(t[paris].ncp, 5);
    /* The document pass: "Will" is also seen in lower case, "Paris" never. */
    assert_true(t[will0].doc & NLPD__TAG_DOC_SEEN_LOWER);
    assert_false(t[paris].doc & NLPD__TAG_DOC_SEEN_LOWER);
    assert_true(t[paris].doc & NLPD__TAG_DOC_SEEN_CAP);
    /* Sentence casing and position. */
    assert_int_equal(t[will0].sent, NLPD__TAG_SENT_NORMAL);
    assert_int_equal(t[will0].pos, 0);
    assert_int_equal(t[paris].pos, 1);
    assert_int_equal(t[seoul].pos, 2);
    assert_int_equal(t[visits].sent, NLPD__TAG_SENT_TITLE);
    assert_int_equal(t[north].sent, NLPD__TAG_SENT_TITLE);
    assert_int_equal(t[paris2].sent, NLPD__TAG_SENT_ALLCAPS);
    /* Clusters by exact form, else lower-cased form. */
    assert_int_equal(t[paris].cluster_len, 4);
    assert_int_equal(t[paris].cluster, 0xA0000000u);
    assert_int_equal(t[paris2].cluster_len, 0); /* neither "PARIS" nor "paris" */
    assert_int_equal(t[north].cluster_len, 32);  /* "north" */
    assert_int_equal(t[north].cluster, 0x12345678u);
    assert_int_equal(t[seoul].cluster_len, 0);

    /* Features of one token: within bounds, stable, shared where the
     * inputs are shared. */
    size_t a = f.so.sen[0].first_token, b = a + f.so.sen[0].n_tokens;
    uint32_t fp[NLPD__TAG_MAX_FEATS], fp2[NLPD__TAG_MAX_FEATS], fs[NLPD__TAG_MAX_FEATS];
    size_t np = nlpd__tag_fx_token(&f.fx, f.m, a, b, paris, fp);
    size_t np2 = nlpd__tag_fx_token(&f.fx, f.m, a, b, paris, fp2);
    size_t ns = nlpd__tag_fx_token(&f.fx, f.m, a, b, seoul, fs);
    assert_true(np >= 30 && np <= NLPD__TAG_MAX_FEATS);
    assert_int_equal(np, np2);
    assert_memory_equal(fp, fp2, np * sizeof(*fp));
    size_t rows = (size_t)1 << f.m->hash_bits;
    for (size_t i = 0; i < np; i++)
        assert_true(fp[i] < rows);
    /* The bias feature is shared; the word features are not. */
    assert_int_equal(fp[0], fs[0]);
    assert_int_not_equal(fp[1], fs[1]);
    (void)ns;
    /* The cluster adds 4 features to "Paris": the same text through a
     * model without clusters. */
    {
        fx_fixture g = {0};
        assert_int_equal(nlpd__tag_model_new(&g.m, 20), 0);
        fx_run(&g, text);
        uint32_t fq[NLPD__TAG_MAX_FEATS];
        size_t nq = nlpd__tag_fx_token(&g.fx, g.m, a, b, paris, fq);
        assert_int_equal(np, nq + 4);
        for (size_t i = 0; i < nq; i++)
            assert_true(has_feature(fp, np, fq[i]));
        nlpd__tag_fx_release(&g.fx);
        split_done(&g.so);
        nlpd_tag_model_free(&g.m);
    }
    /* Same lower-cased neighbour: "Paris" is the left neighbour of "and",
     * "Seoul" its right one; "and"'s bias and own-word features are the
     * same whatever the sentence. */
    size_t and_i = tok_index(&f, text, "and", 0);
    size_t nand = nlpd__tag_fx_token(&f.fx, f.m, a, b, and_i, fs);
    assert_true(has_feature(fs, nand, fp[0]));
    /* Token 0 of a sentence has BOS neighbours; the last EOS ones, and a
     * one-token sentence both. */
    size_t n0 = nlpd__tag_fx_token(&f.fx, f.m, a, a + 1, a, fs);
    assert_true(n0 >= 30);

    nlpd__tag_fx_release(&f.fx);
    split_done(&f.so);
    nlpd_tag_model_free(&f.m);
}

/* ---- Viterbi and forward-backward against brute force --------------------------------- */

/* The score of a path, -inf when a transition is forbidden. */
static double
path_score(size_t n, const double *emit, const double *start, const double *trans,
           const int *path)
{
    if (!nlpd__tag_transition_ok(-1, path[0]))
        return -HUGE_VAL;
    double s = start[path[0]] + emit[path[0]];
    for (size_t t = 1; t < n; t++) {
        if (!nlpd__tag_transition_ok(path[t - 1], path[t]))
            return -HUGE_VAL;
        s += trans[path[t - 1] * L + path[t]] + emit[t * L + path[t]];
    }
    return s;
}

static void
test_viterbi_brute_force(void **state)
{
    (void)state;
    uint64_t seed = 42;
    for (size_t n = 1; n <= 4; n++) {
        for (int round = 0; round < 5; round++) {
            double emit[4 * L], start[L], trans[L * L];
            float femit[4 * L], fstart[L], ftrans[L * L];
            for (size_t i = 0; i < n * L; i++)
                femit[i] = (float)(emit[i] = 3 * rnd(&seed));
            for (int i = 0; i < L; i++) {
                start[i] = rnd(&seed);
                fstart[i] = nlpd__tag_transition_ok(-1, i) ? (float)start[i] : -1e30f;
            }
            for (int i = 0; i < L * L; i++) {
                trans[i] = 2 * rnd(&seed);
                ftrans[i] = nlpd__tag_transition_ok(i / L, i % L) ? (float)trans[i] : -1e30f;
            }
            /* Brute force: every path, its score, log Z and the marginals. */
            int path[4] = {0, 0, 0, 0};
            size_t total = 1;
            for (size_t t = 0; t < n; t++)
                total *= L;
            double best = -HUGE_VAL, z = 0, marg[4 * L] = {0};
            int best_path[4] = {0};
            for (size_t k = 0; k < total; k++) {
                size_t r = k;
                for (size_t t = 0; t < n; t++) {
                    path[t] = (int)(r % L);
                    r /= L;
                }
                double s = path_score(n, emit, start, trans, path);
                if (s > best) {
                    best = s;
                    memcpy(best_path, path, sizeof(path));
                }
                if (s > -HUGE_VAL) {
                    z += exp(s);
                    for (size_t t = 0; t < n; t++)
                        marg[t * L + path[t]] += exp(s);
                }
            }
            float score[2 * L];
            uint8_t back[4 * L], vpath[4];
            nlpd__crf_viterbi(n, femit, fstart, ftrans, score, back, vpath);
            for (size_t t = 0; t < n; t++)
                assert_int_equal(vpath[t], best_path[t]);

            double mstart[L], mtrans[L * L], al[4 * L], be[4 * L], c[4];
            for (int i = 0; i < L; i++)
                mstart[i] = nlpd__tag_transition_ok(-1, i) ? exp(start[i]) : 0;
            for (int i = 0; i < L * L; i++)
                mtrans[i] = nlpd__tag_transition_ok(i / L, i % L) ? exp(trans[i]) : 0;
            double e2[4 * L];
            memcpy(e2, emit, sizeof(e2));
            double lz = nlpd__crf_forward_backward(n, e2, mstart, mtrans, NULL, al, be, c);
            assert_true(fabs(lz - log(z)) < 1e-9 * fabs(log(z)) + 1e-9);
            for (size_t t = 0; t < n; t++) {
                double sum = 0;
                for (int y = 0; y < L; y++) {
                    double p = al[t * L + y] * be[t * L + y];
                    assert_true(fabs(p - marg[t * L + y] / z) < 1e-9);
                    sum += p;
                }
                assert_true(fabs(sum - 1.0) < 1e-9);
            }
            /* Constrained to the best path only: log Zc is its score. */
            uint16_t allow[4];
            for (size_t t = 0; t < n; t++)
                allow[t] = (uint16_t)(1u << best_path[t]);
            memcpy(e2, emit, sizeof(e2));
            double lzc = nlpd__crf_forward_backward(n, e2, mstart, mtrans, allow, al, be, c);
            assert_true(fabs(lzc - best) < 1e-9 * fabs(best) + 1e-9);
            /* A constraint no path can meet: I-PER first. */
            allow[0] = 1u << 2;
            memcpy(e2, emit, sizeof(e2));
            assert_true(nlpd__crf_forward_backward(n, e2, mstart, mtrans, allow, al, be, c) ==
                        -HUGE_VAL);
        }
    }
}

/* Marginals stay sums of 1 and finite on a long sentence with large
 * scores (the scaling at work). */
static void
test_forward_backward_long(void **state)
{
    (void)state;
    size_t n = 5000;
    double *e = malloc(n * L * sizeof(double));
    double *al = malloc(n * L * sizeof(double));
    double *be = malloc(n * L * sizeof(double));
    double *c = malloc(n * sizeof(double));
    assert_true(e && al && be && c);
    uint64_t seed = 7;
    for (size_t i = 0; i < n * L; i++)
        e[i] = 50 * rnd(&seed);
    double mstart[L], mtrans[L * L];
    for (int i = 0; i < L; i++)
        mstart[i] = nlpd__tag_transition_ok(-1, i) ? 1.0 : 0;
    for (int i = 0; i < L * L; i++)
        mtrans[i] = nlpd__tag_transition_ok(i / L, i % L) ? exp(rnd(&seed)) : 0;
    double lz = nlpd__crf_forward_backward(n, e, mstart, mtrans, NULL, al, be, c);
    assert_true(isfinite(lz));
    for (size_t t = 0; t < n; t += 97) {
        double sum = 0;
        for (int y = 0; y < L; y++)
            sum += al[t * L + y] * be[t * L + y];
        assert_true(fabs(sum - 1.0) < 1e-6);
    }
    free(e);
    free(al);
    free(be);
    free(c);
}

/* ---- model files ------------------------------------------------------------------- */

typedef struct model_files {
    char *dir;
    char path[512];
    unsigned char *buf;
    size_t len;
} model_files;

static void
make_tiny_model(model_files *mf, unsigned bits)
{
    mf->dir = nlpd_test_tmpdir("tag_test");
    snprintf(mf->path, sizeof(mf->path), "%s/tiny.bin", mf->dir);
    nlpd_tag_model *m;
    assert_int_equal(nlpd__tag_model_new(&m, bits), 0);
    assert_int_equal(nlpd__clusters_add(&m->clusters, "Paris", 5, 0x80000000u, 3), 0);
    assert_int_equal(nlpd__clusters_add(&m->clusters, "seoul", 5, 0x40000000u, 2), 0);
    double *w = random_weights(bits, 99, 0.5);
    /* Some rows all zero: the file skips them. */
    for (size_t r = 0; r < ((size_t)1 << bits); r += 3)
        for (int y = 0; y < L; y++)
            w[r * L + (size_t)y] = 0;
    assert_int_equal(nlpd__tag_model_save(m, w, "en test tiny", mf->path), 0);
    free(w);
    nlpd_tag_model_free(&m);
    mf->buf = (unsigned char *)nlpd_test_read_file(mf->path, &mf->len);
    assert_non_null(mf->buf);
}

static void
free_tiny_model(model_files *mf)
{
    free(mf->buf);
    nlpd_test_rmtree(mf->dir);
    free(mf->dir);
}

static void
fix_checksum(unsigned char *p, size_t len)
{
    uint64_t sum = nlpd__tag_checksum(p, len - 8);
    memcpy(p + len - 8, &sum, 8);
}

static void
test_model_roundtrip(void **state)
{
    (void)state;
    model_files mf = {0};
    make_tiny_model(&mf, 10);
    nlpd_tag_model *m1, *m2;
    assert_int_equal(nlpd_tag_model_load(&m1, mf.path), 0);
    assert_int_equal(nlpd_tag_model_load_buffer(&m2, mf.buf, mf.len), 0);
    assert_int_equal(m1->hash_bits, 10);
    assert_int_equal(m1->n_labels, L);
    assert_memory_equal(m1->w, m2->w, ((size_t)1 << 10) * NLPD__TAG_ROW * sizeof(*m1->w));
    assert_memory_equal(m1->trans, m2->trans, sizeof(m1->trans));
    /* The weights survived quantization: the zero rows stayed zero, others
     * are within one step of the originals. */
    double *w = random_weights(10, 99, 0.5);
    for (size_t r = 0; r < 1024; r++)
        for (int y = 0; y < L; y++) {
            double orig = r % 3 == 0 ? 0 : w[r * L + (size_t)y];
            assert_true(fabs((double)m1->w[r * NLPD__TAG_ROW + (size_t)y] * m1->scale - orig) <=
                        m1->scale);
        }
    for (int y = 0; y < L; y++)
        for (int x = 0; x < L; x++)
            if (nlpd__tag_transition_ok(x, y))
                assert_true(fabs(m1->trans[x * L + y] - w[1024 * L + L + (size_t)(x * L + y)]) <
                            1e-6);
            else
                assert_true(m1->trans[x * L + y] < -1e29f);
    free(w);
    uint32_t path;
    assert_int_equal(nlpd__clusters_get(&m1->clusters, nlpd__fnv(NLPD__FNV_INIT, "Paris", 5),
                                        &path),
                     3);
    assert_int_equal(path, 0x80000000u);
    assert_int_equal(m1->clusters.n, 2);
    assert_non_null(strstr(nlpd_tag_model_version(m1), "en test tiny"));
    nlpd_tag_model_free(&m1);
    nlpd_tag_model_free(&m2);
    nlpd_tag_model_free(&m2); /* NULL is fine */
    free_tiny_model(&mf);
}

static void
test_model_bad_files(void **state)
{
    (void)state;
    model_files mf = {0};
    make_tiny_model(&mf, 9);
    nlpd_tag_model *m = (nlpd_tag_model *)&mf; /* must be set to NULL */
    unsigned char *p = malloc(mf.len);
    assert_non_null(p);

    /* Every truncation is refused. */
    for (size_t n = 0; n < mf.len; n += (n < 200 ? 1 : 997)) {
        assert_int_equal(nlpd_tag_model_load_buffer(&m, mf.buf, n), NLPD_EMODEL);
        assert_null(m);
    }
    /* A flipped byte anywhere is refused (checksum) or, in the version
     * fields, read as a newer version. */
    for (size_t i = 0; i < mf.len; i += (i < 100 ? 1 : 211)) {
        memcpy(p, mf.buf, mf.len);
        p[i] ^= 0x5a;
        int rc = nlpd_tag_model_load_buffer(&m, p, mf.len);
        assert_true(rc == NLPD_EMODEL || rc == NLPD_EVERSION);
        assert_null(m);
    }
    /* A newer format version: NLPD_EVERSION, checksum or not. */
    memcpy(p, mf.buf, mf.len);
    p[8] = NLPD__TAG_FORMAT_VERSION + 1;
    assert_int_equal(nlpd_tag_model_load_buffer(&m, p, mf.len), NLPD_EVERSION);
    /* A newer trainer with a valid checksum: NLPD_EVERSION. */
    memcpy(p, mf.buf, mf.len);
    p[12] = NLPD__TAG_TRAINER_VERSION + 1;
    fix_checksum(p, mf.len);
    assert_int_equal(nlpd_tag_model_load_buffer(&m, p, mf.len), NLPD_EVERSION);
    /* A feature this version does not know, with a valid checksum: a newer
     * trainer's model, NLPD_EVERSION. */
    memcpy(p, mf.buf, mf.len);
    p[27] |= 0x80;
    fix_checksum(p, mf.len);
    assert_int_equal(nlpd_tag_model_load_buffer(&m, p, mf.len), NLPD_EVERSION);
    /* Valid checksums over bad content: labels, hash bits. */
    memcpy(p, mf.buf, mf.len);
    p[16] = 5;
    fix_checksum(p, mf.len);
    assert_int_equal(nlpd_tag_model_load_buffer(&m, p, mf.len), NLPD_EMODEL);
    memcpy(p, mf.buf, mf.len);
    p[20] = 40;
    fix_checksum(p, mf.len);
    assert_int_equal(nlpd_tag_model_load_buffer(&m, p, mf.len), NLPD_EMODEL);
    /* Not a model at all, and missing files. */
    assert_int_equal(nlpd_tag_model_load_buffer(&m, "hello", 5), NLPD_EMODEL);
    assert_int_equal(nlpd_tag_model_load(&m, "/nonexistent/model.bin"), -ENOENT);
    char path[600];
    snprintf(path, sizeof(path), "%s/short.bin", mf.dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(mf.buf, 1, mf.len / 2, f);
    fclose(f);
    assert_int_equal(nlpd_tag_model_load(&m, path), NLPD_EMODEL);
    assert_int_equal(nlpd_tag_model_load(NULL, path), NLPD_EINVAL);
    assert_int_equal(nlpd_tag_model_load_builtin(&m, "xx"), NLPD_EINVAL);
    free(p);
    free_tiny_model(&mf);
}

/* Allocation failures while loading: an error, never a leak or a crash. */
static void
test_model_alloc_failures(void **state)
{
    (void)state;
    model_files mf = {0};
    make_tiny_model(&mf, 9);
    nlpd_test_alloc_install();
    for (long k = 0; k < 40; k++) {
        nlpd_test_alloc_reset();
        nlpd_test_alloc_fail_after(k);
        nlpd_tag_model *m = NULL;
        int rc = nlpd_tag_model_load_buffer(&m, mf.buf, mf.len);
        nlpd_test_alloc_fail_after(-1);
        if (rc == 0) {
            nlpd_tag_model_free(&m);
            break;
        }
        assert_int_equal(rc, NLPD_ENOMEM);
        assert_null(m);
        assert_int_equal(nlpd_test_alloc_live(), 0);
    }
    nlpd_test_alloc_reset();
    free_tiny_model(&mf);
}

/* ---- tagging with a model ------------------------------------------------------------- */

/* A model trained here on tests/fixtures/tag/crf-train.jsonl by the
 * trainer (an executable beside this test). */
static char *trained_dir;
static char trained_path[512];

static int
train_tiny(void)
{
    const char *bin = getenv("NLPD_BUILD_DIR");
    if (bin == NULL)
        return -1;
    trained_dir = nlpd_test_tmpdir("tag_train");
    snprintf(trained_path, sizeof(trained_path), "%s/trained.bin", trained_dir);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "%s/bin/nlpd-tag-train train --bits 16 --l2 0.1 --iter 100 --no-partial "
             "-o %s %s 2>%s/train.log",
             bin, trained_path, nlpd_test_fixture_path("tag/crf-train.jsonl"), trained_dir);
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
}

static void
test_train_end_to_end(void **state)
{
    (void)state;
    assert_int_equal(train_tiny(), 0);
    /* Twice: the same input and options give the same bytes. */
    char again[600], cmd[2048];
    snprintf(again, sizeof(again), "%s/again.bin", trained_dir);
    snprintf(cmd, sizeof(cmd),
             "%s/bin/nlpd-tag-train train --bits 16 --l2 0.1 --iter 100 --no-partial "
             "-o %s %s 2>/dev/null && cmp -s %s %s",
             getenv("NLPD_BUILD_DIR"), again, nlpd_test_fixture_path("tag/crf-train.jsonl"),
             again, trained_path);
    assert_int_equal(system(cmd), 0);
    /* Values that are no numbers, or out of range, are usage errors (2),
     * not zeros; --help is no error. */
    static const char *const bad[] = {"--l2 abc", "--l1 -1", "--iter 0", "--iter 5x",
                                      "--bits 99"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        snprintf(cmd, sizeof(cmd), "%s/bin/nlpd-tag-train train %s -o %s %s 2>/dev/null",
                 getenv("NLPD_BUILD_DIR"), bad[k], again,
                 nlpd_test_fixture_path("tag/crf-train.jsonl"));
        int rc = system(cmd);
        assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    }
    snprintf(cmd, sizeof(cmd), "%s/bin/nlpd-tag-train train --bits 12 --iter 5 -o %s %s:w=x "
             "2>/dev/null",
             getenv("NLPD_BUILD_DIR"), again, nlpd_test_fixture_path("tag/crf-train.jsonl"));
    int wrc = system(cmd);
    assert_true(WIFEXITED(wrc) && WEXITSTATUS(wrc) == 2);
    snprintf(cmd, sizeof(cmd), "%s/bin/nlpd-tag-train --help >/dev/null",
             getenv("NLPD_BUILD_DIR"));
    assert_int_equal(system(cmd), 0);

    nlpd_tag_model *m;
    assert_int_equal(nlpd_tag_model_load(&m, trained_path), 0);
    nlpd_tagger *tg;
    nlpd_tag_opts opts = NLPD_TAG_OPTS_INIT;
    opts.patterns = 0;
    assert_int_equal(nlpd_tagger_new(&tg, m, &opts), 0);
    split_out so = {0};
    /* The model tags its training sentences right. */
    size_t len;
    char *data = nlpd_test_fixture("tag/crf-train.jsonl", &len);
    size_t right = 0, total = 0;
    for (char *line = strtok(data, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        /* The fixture's text and spans, read without a JSON library. */
        char *tx = strstr(line, "\"text\": \"") + 9;
        char *te = strchr(tx, '"');
        char text[512];
        memcpy(text, tx, (size_t)(te - tx));
        text[te - tx] = 0;
        split_text(&so, text);
        assert_int_equal(nlpd_tagger_run(tg, text, strlen(text), so.tok, so.nt, so.sen, so.ns),
                         0);
        check_entities(tg, so.tok, so.nt, so.sen, so.ns);
        const nlpd_tag_entity *e;
        size_t ne = nlpd_tagger_entities(tg, &e);
        size_t gold = 0;
        for (char *q = strstr(te, "\"start\": "); q != NULL; q = strstr(q + 1, "\"start\": ")) {
            unsigned s = 0, en = 0;
            char lab[8] = "";
            assert_int_equal(sscanf(q, "\"start\": %u, \"end\": %u, \"label\": \"%7[A-Z]\"", &s,
                                    &en, lab),
                             3);
            gold++;
            for (size_t i = 0; i < ne; i++)
                if (e[i].start == s && e[i].end == en &&
                    e[i].label == nlpd_entity_label_parse(lab))
                    right++;
        }
        total += gold;
        assert_int_equal(ne, gold);
    }
    assert_int_equal(right, total);
    free(data);

    /* And a new sentence with the same names in a new order. */
    const char *text = "Maria Lopez visited Oslo.";
    split_text(&so, text);
    assert_int_equal(nlpd_tagger_run(tg, text, strlen(text), so.tok, so.nt, so.sen, so.ns), 0);
    const nlpd_tag_entity *e;
    assert_int_equal(nlpd_tagger_entities(tg, &e), 2);
    assert_int_equal(e[0].label, NLPD_ENT_PER);
    assert_int_equal(e[0].end - e[0].start, 11);
    assert_int_equal(e[1].label, NLPD_ENT_LOC);
    nlpd_tagger_free(&tg);
    nlpd_tag_model_free(&m);
    split_done(&so);
    nlpd_test_rmtree(trained_dir);
    free(trained_dir);
}

/* A random model over odd inputs: one token, no letters, all caps, a
 * sentence of 100,000 tokens; results keep the invariants, and a tagger is
 * reused from text to text. */
static void
test_odd_inputs(void **state)
{
    (void)state;
    model_files mf = {0};
    make_tiny_model(&mf, 12);
    nlpd_tag_model *m;
    assert_int_equal(nlpd_tag_model_load(&m, mf.path), 0);
    nlpd_tagger *tg;
    assert_int_equal(nlpd_tagger_new(&tg, m, NULL), 0);
    split_out so = {0};
    const char *texts[] = {
        "Paris",
        "",
        "12 + 34 = 46 !!! ... ### 3.5% $$$ ---",
        "THE PRIME MINISTER OF NORWAY MET THE PRESIDENT OF FRANCE IN OSLO ON MONDAY.",
        "\xff\xfe broken \xc3 utf-8 Z\xc3\xbcrich",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        split_text(&so, texts[i]);
        assert_int_equal(nlpd_tagger_run(tg, texts[i], strlen(texts[i]), so.tok, so.nt, so.sen,
                                         so.ns),
                         0);
        check_entities(tg, so.tok, so.nt, so.sen, so.ns);
    }
    /* 100,000 tokens in one sentence, built by hand (nlpd_split would cut
     * it). */
    size_t n = 100000;
    char *big = malloc(n * 7);
    nlpd_split_token *tok = calloc(n, sizeof(*tok));
    assert_true(big && tok);
    size_t at = 0;
    static const char *words[] = {"Paris", "and", "Seoul", "met", "in", "OSLO", "the"};
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i % 7];
        size_t wn = strlen(w);
        memcpy(big + at, w, wn);
        tok[i].start = (uint32_t)at;
        tok[i].end = (uint32_t)(at + wn);
        tok[i].shape = NLPD_SHAPE_CAPITALIZED;
        tok[i].flags = NLPD_TOKEN_SPACE_AFTER;
        at += wn;
        big[at++] = ' ';
    }
    nlpd_split_sentence sen = {0, tok[n - 1].end, 0, (uint32_t)n, 0};
    assert_int_equal(nlpd_tagger_run(tg, big, at, tok, n, &sen, 1), 0);
    check_entities(tg, tok, n, &sen, 1);
    /* No sentences: no entities, and no error. */
    assert_int_equal(nlpd_tagger_run(tg, big, at, tok, n, NULL, 0), 0);
    assert_int_equal(nlpd_tagger_entities(tg, NULL), 0);
    free(big);
    free(tok);
    nlpd_tagger_free(&tg);
    nlpd_tagger_free(&tg);
    nlpd_tag_model_free(&m);
    split_done(&so);
    free_tiny_model(&mf);
}

/* With the built-in model and gazetteer: a name that is exactly a
 * nationality is never LOC (tag.c turns such a span into MISC, whatever
 * the CRF says). */
static void
test_nationalities_are_never_places(void **state)
{
    (void)state;
    nlpd_tag_model *m;
    assert_int_equal(nlpd_tag_model_load_builtin(&m, "en"), 0);
    nlpd_tagger *tg;
    assert_int_equal(nlpd_tagger_new(&tg, m, NULL), 0);
    split_out so = {0};
    static const char *const texts[] = {
        "North Korean troops crossed the border, and Russian officials said nothing.",
        "The French minister met German and Italian diplomats in Brussels.",
        "Shares of Japanese carmakers fell as Chinese demand slowed.",
    };
    static const char *const nationalities[] = {"North Korean", "Russian", "French", "German",
                                                "Italian", "Japanese", "Chinese"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        split_text(&so, texts[i]);
        assert_int_equal(nlpd_tagger_run(tg, texts[i], strlen(texts[i]), so.tok, so.nt, so.sen,
                                         so.ns),
                         0);
        check_entities(tg, so.tok, so.nt, so.sen, so.ns);
        const nlpd_tag_entity *e;
        size_t ne = nlpd_tagger_entities(tg, &e);
        for (size_t k = 0; k < ne; k++)
            for (size_t n = 0; n < sizeof(nationalities) / sizeof(nationalities[0]); n++)
                if (e[k].end - e[k].start == strlen(nationalities[n]) &&
                    memcmp(texts[i] + e[k].start, nationalities[n], strlen(nationalities[n])) ==
                        0 &&
                    e[k].label == NLPD_ENT_LOC)
                    fail_msg("\"%s\" tagged LOC in \"%s\"", nationalities[n], texts[i]);
    }
    nlpd_tagger_free(&tg);
    nlpd_tag_model_free(&m);
    split_done(&so);
}

/* ---- the document pass ----------------------------------------------------------- */

/* The index of the token that starts at the n-th (0-based) occurrence of
 * `word` in the text. */
static uint32_t
tok_at(const split_out *so, const char *text, const char *word, int n)
{
    const char *p = text;
    for (;;) {
        p = strstr(p, word);
        assert_non_null(p);
        if (n-- == 0)
            break;
        p++;
    }
    for (size_t i = 0; i < so->nt; i++)
        if (so->tok[i].start == (uint32_t)(p - text))
            return (uint32_t)i;
    fail_msg("no token starts at \"%s\"", word);
    return 0;
}

static nlpd_tag_entity
name_at(const split_out *so, const char *text, const char *words, int n, int label, float score)
{
    size_t len = strlen(words);
    uint32_t first = tok_at(so, text, words, n);
    uint32_t last = first;
    while (so->tok[last].end < so->tok[first].start + len)
        last++;
    assert_int_equal(so->tok[last].end, so->tok[first].start + len);
    nlpd_tag_entity e = {.first_token = first, .n_tokens = last - first + 1,
                         .label = (uint8_t)label, .score = score};
    return e;
}

typedef struct docpass_case {
    nlpd_tag_model *m;
    split_out so;
    nlpd__tag_fx fx;
    nlpd__tag_dc dc;
    nlpd_tag_entity *names;
    size_t n, cap;
} docpass_case;

static void
docpass_run(docpass_case *c, const char *text, const nlpd_tag_entity *names, size_t n,
            unsigned what)
{
    split_text(&c->so, text);
    assert_int_equal(nlpd__tag_fx_doc(&c->fx, c->m, text, c->so.tok, c->so.nt, c->so.sen,
                                      c->so.ns),
                     0);
    assert_int_equal(nlpd_grow((void **)&c->names, &c->cap, n + 1, sizeof(*c->names)), 0);
    memcpy(c->names, names, n * sizeof(*names));
    c->n = n;
    nlpd__tag_dc_classes cls;
    nlpd__tag_dc_classes_init(&cls, c->m->gaz);
    assert_true(cls.nationality >= 0 && cls.place_lower >= 0);
    assert_true(cls.gaz != NULL && cls.pair_first != 0 && cls.pair_second != 0);
    assert_int_equal(nlpd__tag_docpass(&c->dc, &c->fx, text, c->so.tok, c->so.sen, c->so.ns,
                                       c->so.nt, &cls, what, &c->names, &c->n, &c->cap),
                     0);
    for (size_t k = 1; k < c->n; k++)
        assert_true(c->names[k - 1].first_token + c->names[k - 1].n_tokens <=
                    c->names[k].first_token);
}

/* The label of the name at token `first` covering `n_tokens`, or -1. */
static int
label_of(const docpass_case *c, nlpd_tag_entity want)
{
    for (size_t k = 0; k < c->n; k++)
        if (c->names[k].first_token == want.first_token &&
            c->names[k].n_tokens == want.n_tokens)
            return c->names[k].label;
    return -1;
}

static void
test_document_pass(void **state)
{
    (void)state;
    docpass_case c = {0};
    assert_int_equal(nlpd_tag_model_load_builtin(&c.m, "en"), 0);
    static const char text[] =
        "Prime Minister Margaret Thornbury arrived in Lisbon on Monday for two days of talks. "
        "In the afternoon Thornbury met the president of the commission at Harwick Bank. "
        "The Portuguese press said that Harwick Bank had paid for the dinner at Thornbury "
        "Street. Margaret was not there, and neither was the press officer of Harwick Bank.";
    split_text(&c.so, text);
    nlpd_tag_entity given[] = {
        name_at(&c.so, text, "Margaret Thornbury", 0, NLPD_ENT_PER, 0.9f),
        name_at(&c.so, text, "Lisbon", 0, NLPD_ENT_LOC, 0.95f),
        name_at(&c.so, text, "Harwick Bank", 0, NLPD_ENT_ORG, 0.8f),
        name_at(&c.so, text, "Harwick Bank", 1, NLPD_ENT_LOC, 0.4f),
    };
    nlpd_tag_entity surname = name_at(&c.so, text, "Thornbury", 1, NLPD_ENT_PER, 0);
    nlpd_tag_entity street = name_at(&c.so, text, "Thornbury", 2, NLPD_ENT_PER, 0);
    nlpd_tag_entity first = name_at(&c.so, text, "Margaret", 1, NLPD_ENT_PER, 0);
    nlpd_tag_entity nat = name_at(&c.so, text, "Portuguese", 0, NLPD_ENT_MISC, 0);
    nlpd_tag_entity bank3 = name_at(&c.so, text, "Harwick Bank", 2, NLPD_ENT_ORG, 0);
    nlpd_tag_entity in = name_at(&c.so, text, "In", 0, NLPD_ENT_PER, 0);

    /* Nothing asked: nothing changes. */
    docpass_run(&c, text, given, 4, 0);
    assert_int_equal(c.n, 4);
    assert_memory_equal(c.names, given, sizeof(given));

    /* Everything. */
    docpass_run(&c, text, given, 4, NLPD__TAG_DC_ALL);
    assert_int_equal(label_of(&c, given[3]), NLPD_ENT_ORG); /* 0.8 ORG beats 0.4 LOC */
    assert_int_equal(label_of(&c, surname), NLPD_ENT_PER);  /* "Thornbury met" */
    assert_int_equal(label_of(&c, first), NLPD_ENT_PER);    /* "Margaret was" */
    assert_int_equal(label_of(&c, bank3), NLPD_ENT_ORG);    /* a third mention */
    assert_int_equal(label_of(&c, nat), NLPD_ENT_MISC);     /* a nationality alone */
    assert_int_equal(label_of(&c, street), -1); /* "Thornbury Street" runs on */
    assert_int_equal(label_of(&c, in), -1);
    assert_int_equal(c.n, 4 + 4);
    for (size_t k = 0; k < c.n; k++)
        assert_true(c.names[k].score > 0.0f && c.names[k].score <= 1.0f);

    /* Steps one at a time. */
    docpass_run(&c, text, given, 4, NLPD__TAG_DC_RELABEL);
    assert_int_equal(c.n, 4);
    assert_int_equal(label_of(&c, given[3]), NLPD_ENT_ORG);
    docpass_run(&c, text, given, 4, NLPD__TAG_DC_ADD);
    assert_int_equal(label_of(&c, given[3]), NLPD_ENT_LOC);
    assert_int_equal(label_of(&c, surname), -1); /* parts not asked for */
    assert_int_equal(label_of(&c, bank3), NLPD_ENT_ORG);
    assert_int_equal(label_of(&c, nat), -1);
    docpass_run(&c, text, given, 4, NLPD__TAG_DC_NATIONALITY);
    assert_int_equal(c.n, 5);
    assert_int_equal(label_of(&c, nat), NLPD_ENT_MISC);

    /* Weak evidence adds nothing: a person found with probability 0.3. */
    nlpd_tag_entity weak[] = {given[0], given[1]};
    weak[0].score = 0.3f;
    docpass_run(&c, text, weak, 2, NLPD__TAG_DC_ALL);
    assert_int_equal(label_of(&c, surname), -1);
    assert_int_equal(label_of(&c, first), -1);

    /* A sentence's first word that the text also uses in lower case is a
     * common word, not a mention: "Reed" after "Annabel Reed". */
    static const char text2[] = "The painter Annabel Reed lives by the lake with her family. "
                                "Reed grows by the water, and the reed is green in spring. "
                                "Her friends say that Reed paints it every year.";
    split_text(&c.so, text2);
    nlpd_tag_entity reed[] = {name_at(&c.so, text2, "Annabel Reed", 0, NLPD_ENT_PER, 0.9f)};
    docpass_run(&c, text2, reed, 1, NLPD__TAG_DC_ALL);
    assert_int_equal(label_of(&c, name_at(&c.so, text2, "Reed", 1, NLPD_ENT_PER, 0)), -1);
    assert_int_equal(label_of(&c, name_at(&c.so, text2, "Reed", 2, NLPD_ENT_PER, 0)),
                     NLPD_ENT_PER);

    /* Acronyms: "WHO" after "World Health Organization", not "WHA" or a
     * lower-case "who". */
    static const char text3[] =
        "Officials of the World Health Organization met in Geneva on Friday morning. "
        "They said that WHO staff who travel will be tested, and that WHA members agreed.";
    split_text(&c.so, text3);
    nlpd_tag_entity who[] = {
        name_at(&c.so, text3, "World Health Organization", 0, NLPD_ENT_ORG, 0.8f),
        name_at(&c.so, text3, "Geneva", 0, NLPD_ENT_LOC, 0.9f),
    };
    docpass_run(&c, text3, who, 2, NLPD__TAG_DC_ALL);
    assert_int_equal(label_of(&c, name_at(&c.so, text3, "WHO", 0, 0, 0)), NLPD_ENT_ORG);
    assert_int_equal(label_of(&c, name_at(&c.so, text3, "WHA", 0, 0, 0)), -1);
    assert_int_equal(c.n, 3);
    docpass_run(&c, text3, who, 2, NLPD__TAG_DC_ALL & ~NLPD__TAG_DC_ACRONYMS);
    assert_int_equal(c.n, 2);

    /* Storms are events: "Hurricane Delphine" becomes one MISC span, and
     * "Delphine" alone, tagged or not, follows it. */
    static const char text4[] =
        "Hurricane Delphine reached the coast of Florida late on Sunday evening. "
        "Officials said that Delphine had weakened, but the mayor of Tampa said that "
        "Delphine was still dangerous. Tropical Storm Oskar followed it.";
    split_text(&c.so, text4);
    nlpd_tag_entity storm[] = {
        name_at(&c.so, text4, "Delphine", 0, NLPD_ENT_PER, 0.7f),
        name_at(&c.so, text4, "Florida", 0, NLPD_ENT_LOC, 0.9f),
        name_at(&c.so, text4, "Delphine", 1, NLPD_ENT_PER, 0.9f),
        name_at(&c.so, text4, "Tampa", 0, NLPD_ENT_LOC, 0.9f),
        name_at(&c.so, text4, "Oskar", 0, NLPD_ENT_PER, 0.6f),
    };
    docpass_run(&c, text4, storm, 5, NLPD__TAG_DC_ALL);
    assert_int_equal(label_of(&c, name_at(&c.so, text4, "Hurricane Delphine", 0, 0, 0)),
                     NLPD_ENT_MISC);
    assert_int_equal(label_of(&c, name_at(&c.so, text4, "Delphine", 1, 0, 0)), NLPD_ENT_MISC);
    assert_int_equal(label_of(&c, name_at(&c.so, text4, "Delphine", 2, 0, 0)), NLPD_ENT_MISC);
    assert_int_equal(label_of(&c, name_at(&c.so, text4, "Tropical Storm Oskar", 0, 0, 0)),
                     NLPD_ENT_MISC);
    assert_int_equal(label_of(&c, name_at(&c.so, text4, "Florida", 0, 0, 0)), NLPD_ENT_LOC);
    assert_int_equal(c.n, 6);
    docpass_run(&c, text4, storm, 5, NLPD__TAG_DC_ALL & ~NLPD__TAG_DC_STORMS);
    assert_int_equal(label_of(&c, name_at(&c.so, text4, "Delphine", 0, 0, 0)), NLPD_ENT_PER);

    /* Places in lower case, as web text writes them: a whole entry of
     * place_lower (no English word), not "turkey" or "china", not a
     * lower-case run that goes on, not what a name already covers. */
    static const char text5[] =
        "we flew from san francisco to kerala last year. the turkey was cold and the china "
        "broke. my cousin in Ottawa says ottawa is cold, and my aunt likes nairobi.";
    split_text(&c.so, text5);
    nlpd_tag_entity lower[] = {
        name_at(&c.so, text5, "Ottawa", 0, NLPD_ENT_LOC, 0.9f),
        name_at(&c.so, text5, "nairobi", 0, NLPD_ENT_PER, 0.4f),
    };
    docpass_run(&c, text5, lower, 2, NLPD__TAG_DC_ALL);
    assert_int_equal(label_of(&c, name_at(&c.so, text5, "san francisco", 0, 0, 0)),
                     NLPD_ENT_LOC);
    assert_int_equal(label_of(&c, name_at(&c.so, text5, "kerala", 0, 0, 0)), NLPD_ENT_LOC);
    assert_int_equal(label_of(&c, name_at(&c.so, text5, "ottawa", 0, 0, 0)), NLPD_ENT_LOC);
    assert_int_equal(label_of(&c, name_at(&c.so, text5, "turkey", 0, 0, 0)), -1);
    assert_int_equal(label_of(&c, name_at(&c.so, text5, "china", 0, 0, 0)), -1);
    assert_int_equal(label_of(&c, name_at(&c.so, text5, "francisco", 0, 0, 0)), -1);
    assert_int_equal(label_of(&c, lower[1]), NLPD_ENT_PER); /* a name's span is kept */
    assert_int_equal(c.n, 5);
    for (size_t k = 0; k < c.n; k++)
        if (c.names[k].label == NLPD_ENT_LOC && c.names[k].first_token != lower[0].first_token)
            assert_true(c.names[k].score == NLPD__TAG_DC_RULE_SCORE);
    docpass_run(&c, text5, lower, 2, NLPD__TAG_DC_ALL & ~NLPD__TAG_DC_LOWER_PLACES);
    assert_int_equal(c.n, 2);

    /* Two places in a row are two names: a city or region, then a region
     * or country; not a place that is one entry, not a city second unless
     * written in lower case (place_lower). */
    static const char text6[] =
        "We drove from Miramar California to Kansas City Missouri and then to Papua New "
        "Guinea and Texas Dallas. Later, Ohio Springfield and Springfield Harbor. The fog in san francisco "
        "california lifted.";
    split_text(&c.so, text6);
    nlpd_tag_entity pairs[] = {
        name_at(&c.so, text6, "Miramar California", 0, NLPD_ENT_LOC, 0.8f),
        name_at(&c.so, text6, "Kansas City Missouri", 0, NLPD_ENT_LOC, 0.7f),
        name_at(&c.so, text6, "Papua New Guinea", 0, NLPD_ENT_LOC, 0.9f),
        name_at(&c.so, text6, "Texas Dallas", 0, NLPD_ENT_LOC, 0.9f),
        name_at(&c.so, text6, "Ohio Springfield", 0, NLPD_ENT_LOC, 0.6f),
        name_at(&c.so, text6, "Springfield Harbor", 0, NLPD_ENT_LOC, 0.6f),
        name_at(&c.so, text6, "san francisco california", 0, NLPD_ENT_LOC, 0.5f),
    };
    docpass_run(&c, text6, pairs, 7, NLPD__TAG_DC_ALL);
    const char *const want6[] = {"Miramar", "California", "Kansas City", "Missouri",
                                 "Papua New Guinea", "Texas Dallas", "Ohio Springfield",
                                 "Springfield Harbor", "san francisco", "california"};
    assert_int_equal(c.n, 10);
    for (size_t k = 0; k < 10; k++) {
        nlpd_tag_entity w = name_at(&c.so, text6, want6[k], 0, 0, 0);
        assert_int_equal(label_of(&c, w), NLPD_ENT_LOC);
    }
    assert_true(c.names[1].score == 0.8f); /* "California" keeps the pair's score */
    docpass_run(&c, text6, pairs, 7, NLPD__TAG_DC_ALL & ~NLPD__TAG_DC_PLACE_PAIRS);
    assert_int_equal(c.n, 7);

    /* An organization named after a place ("Housing Authority of New
     * Orleans", where the CRF saw only the place) is one ORG name; an
     * acronym defined in parentheses after a name is that name's, at each
     * mention. Not after a person's name, nor after a geographic word. */
    static const char text7[] =
        "The Housing Authority of New Orleans (HANO) met on Monday. Critics say HANO failed. "
        "The Bank of England kept rates. Smith of Boston sailed the Gulf of Mexico.";
    split_text(&c.so, text7);
    nlpd_tag_entity orgs[] = {
        name_at(&c.so, text7, "New Orleans", 0, NLPD_ENT_LOC, 0.9f),
        name_at(&c.so, text7, "Bank", 0, NLPD_ENT_ORG, 0.6f),
        name_at(&c.so, text7, "England", 0, NLPD_ENT_LOC, 0.8f),
        name_at(&c.so, text7, "Smith", 0, NLPD_ENT_PER, 0.9f),
        name_at(&c.so, text7, "Boston", 0, NLPD_ENT_LOC, 0.9f),
        name_at(&c.so, text7, "Mexico", 0, NLPD_ENT_LOC, 0.9f),
    };
    docpass_run(&c, text7, orgs, 6, NLPD__TAG_DC_ALL);
    assert_int_equal(label_of(&c, name_at(&c.so, text7, "Housing Authority of New Orleans", 0,
                                          0, 0)),
                     NLPD_ENT_ORG);
    assert_int_equal(label_of(&c, name_at(&c.so, text7, "HANO", 0, 0, 0)), NLPD_ENT_ORG);
    assert_int_equal(label_of(&c, name_at(&c.so, text7, "HANO", 1, 0, 0)), NLPD_ENT_ORG);
    assert_int_equal(label_of(&c, name_at(&c.so, text7, "Bank of England", 0, 0, 0)),
                     NLPD_ENT_ORG);
    assert_int_equal(label_of(&c, orgs[3]), NLPD_ENT_PER);
    assert_int_equal(label_of(&c, orgs[4]), NLPD_ENT_LOC);
    assert_int_equal(label_of(&c, orgs[5]), NLPD_ENT_LOC);
    assert_int_equal(c.n, 7);
    /* People in a row: two names around a comma, or two names of which
     * the document names one alone; "Surname, First" in quotes is one
     * name, not in a list of surnames; a long name the document never
     * splits stays whole. */
    static const char text8[] =
        "Attendees: Debra Perlingiere Gerald Nemec and Usman Shaukat, Gerard Benitez. Later "
        "Gerald Nemec called Debra Perlingiere. \"Lenhart, Matthew\" signed. George Herbert "
        "Walker Bush spoke. Booked: Rooney, Scholes, Keane. Subs: Berra, Webster.";
    split_text(&c.so, text8);
    nlpd_tag_entity people[] = {
        name_at(&c.so, text8, "Debra Perlingiere Gerald Nemec", 0, NLPD_ENT_PER, 0.7f),
        name_at(&c.so, text8, "Usman Shaukat, Gerard Benitez", 0, NLPD_ENT_PER, 0.6f),
        name_at(&c.so, text8, "Gerald Nemec", 1, NLPD_ENT_PER, 0.9f),
        name_at(&c.so, text8, "Debra Perlingiere", 1, NLPD_ENT_PER, 0.9f),
        name_at(&c.so, text8, "Lenhart", 0, NLPD_ENT_PER, 0.6f),
        name_at(&c.so, text8, "Matthew", 0, NLPD_ENT_PER, 0.8f),
        name_at(&c.so, text8, "George Herbert Walker Bush", 0, NLPD_ENT_PER, 0.9f),
        name_at(&c.so, text8, "Rooney", 0, NLPD_ENT_PER, 0.9f),
        name_at(&c.so, text8, "Scholes", 0, NLPD_ENT_PER, 0.9f),
        name_at(&c.so, text8, "Keane", 0, NLPD_ENT_PER, 0.9f),
        name_at(&c.so, text8, "Berra", 0, NLPD_ENT_PER, 0.9f),
        name_at(&c.so, text8, "Webster", 0, NLPD_ENT_PER, 0.9f),
    };
    docpass_run(&c, text8, people, 12, NLPD__TAG_DC_ALL);
    const char *const want8[] = {"Debra Perlingiere", "Gerald Nemec", "Usman Shaukat",
                                 "Gerard Benitez", "Lenhart, Matthew",
                                 "George Herbert Walker Bush"};
    for (size_t k = 0; k < 6; k++)
        assert_int_equal(label_of(&c, name_at(&c.so, text8, want8[k], 0, 0, 0)),
                         NLPD_ENT_PER);
    for (size_t k = 7; k < 12; k++) /* lists of surnames stay lists */
        assert_int_equal(label_of(&c, people[k]), NLPD_ENT_PER);
    assert_int_equal(c.n, 13);
    docpass_run(&c, text8, people, 12, NLPD__TAG_DC_ALL & ~NLPD__TAG_DC_PEOPLE);
    assert_int_equal(c.n, 12);

    docpass_run(&c, text7, orgs, 6,
                NLPD__TAG_DC_ALL & ~NLPD__TAG_DC_ORG_OF);
    assert_int_equal(label_of(&c, orgs[0]), NLPD_ENT_LOC);
    assert_int_equal(label_of(&c, name_at(&c.so, text7, "HANO", 1, 0, 0)), -1);
    assert_int_equal(c.n, 6);

    /* Through the public API, with the shipped model: the option turns the
     * pass off, and its results keep the API's promises. */
    nlpd_tagger *tg;
    nlpd_tag_opts opts = NLPD_TAG_OPTS_INIT;
    assert_int_equal(opts.document, 1);
    for (int doc = 0; doc <= 1; doc++) {
        opts.document = doc;
        assert_int_equal(nlpd_tagger_new(&tg, c.m, &opts), 0);
        split_text(&c.so, text);
        assert_int_equal(nlpd_tagger_run(tg, text, strlen(text), c.so.tok, c.so.nt, c.so.sen,
                                         c.so.ns),
                         0);
        check_entities(tg, c.so.tok, c.so.nt, c.so.sen, c.so.ns);
        const nlpd_tag_entity *e;
        size_t ne = nlpd_tagger_entities(tg, &e);
        int portuguese = 0;
        for (size_t k = 0; k < ne; k++)
            portuguese |= e[k].first_token == nat.first_token && e[k].label == NLPD_ENT_MISC;
        assert_int_equal(portuguese, doc);
        nlpd_tagger_free(&tg);
    }

    nlpd__tag_fx_release(&c.fx);
    nlpd__tag_dc_release(&c.dc);
    nlpd_free(c.names);
    split_done(&c.so);
    nlpd_tag_model_free(&c.m);
}

static void
test_api_checks(void **state)
{
    (void)state;
    model_files mf = {0};
    make_tiny_model(&mf, 9);
    nlpd_tag_model *m;
    assert_int_equal(nlpd_tag_model_load_buffer(&m, mf.buf, mf.len), 0);
    nlpd_tagger *tg;
    assert_int_equal(nlpd_tagger_new(NULL, m, NULL), NLPD_EINVAL);
    assert_int_equal(nlpd_tagger_new(&tg, NULL, NULL), NLPD_EINVAL);
    assert_int_equal(nlpd_tagger_new(&tg, m, NULL), 0);
    const char *text = "Alpha beta gamma";
    nlpd_split_token tok[3] = {
        {0, 5, NLPD_SHAPE_CAPITALIZED, 1, 0},
        {6, 10, NLPD_SHAPE_LOWER, 1, 0},
        {11, 16, NLPD_SHAPE_LOWER, 0, 0},
    };
    nlpd_split_sentence sen = {0, 16, 0, 3, 0};
    assert_int_equal(nlpd_tagger_run(tg, text, 16, tok, 3, &sen, 1), 0);
    /* Tokens out of order. */
    nlpd_split_token bad[3];
    memcpy(bad, tok, sizeof(bad));
    bad[1] = tok[2];
    bad[2] = tok[1];
    assert_int_equal(nlpd_tagger_run(tg, text, 16, bad, 3, &sen, 1), NLPD_EINVAL);
    assert_int_equal(nlpd_tagger_entities(tg, NULL), 0);
    /* A token outside the text, or ending before it starts. */
    memcpy(bad, tok, sizeof(bad));
    bad[2].end = 17;
    assert_int_equal(nlpd_tagger_run(tg, text, 16, bad, 3, &sen, 1), NLPD_EINVAL);
    memcpy(bad, tok, sizeof(bad));
    bad[1].end = 5;
    assert_int_equal(nlpd_tagger_run(tg, text, 16, bad, 3, &sen, 1), NLPD_EINVAL);
    /* Sentences past the tokens, empty, or out of order. */
    nlpd_split_sentence s2[2] = {{0, 10, 0, 2, 0}, {11, 16, 2, 2, 0}};
    assert_int_equal(nlpd_tagger_run(tg, text, 16, tok, 3, s2, 2), NLPD_EINVAL);
    s2[1].n_tokens = 0;
    assert_int_equal(nlpd_tagger_run(tg, text, 16, tok, 3, s2, 2), NLPD_EINVAL);
    s2[1] = (nlpd_split_sentence){0, 5, 0, 1, 0};
    assert_int_equal(nlpd_tagger_run(tg, text, 16, tok, 3, s2, 2), NLPD_EINVAL);
    /* NULL arrays with counts. */
    assert_int_equal(nlpd_tagger_run(tg, NULL, 16, tok, 3, &sen, 1), NLPD_EINVAL);
    assert_int_equal(nlpd_tagger_run(tg, text, 16, NULL, 3, &sen, 1), NLPD_EINVAL);
    assert_int_equal(nlpd_tagger_run(tg, text, 16, tok, 3, NULL, 1), NLPD_EINVAL);
    assert_int_equal(nlpd_tagger_run(NULL, text, 16, tok, 3, &sen, 1), NLPD_EINVAL);
    /* Still usable after errors. */
    assert_int_equal(nlpd_tagger_run(tg, text, 16, tok, 3, &sen, 1), 0);
    const nlpd_tag_entity *e = (const nlpd_tag_entity *)1;
    assert_int_equal(nlpd_tagger_entities(NULL, &e), 0);
    assert_null(e);
    nlpd_tagger_free(&tg);
    nlpd_tag_model_free(&m);
    free_tiny_model(&mf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_names),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_viterbi_brute_force),
        cmocka_unit_test(test_forward_backward_long),
        cmocka_unit_test(test_model_roundtrip),
        cmocka_unit_test(test_model_bad_files),
        cmocka_unit_test(test_model_alloc_failures),
        cmocka_unit_test(test_train_end_to_end),
        cmocka_unit_test(test_odd_inputs),
        cmocka_unit_test(test_nationalities_are_never_places),
        cmocka_unit_test(test_document_pass),
        cmocka_unit_test(test_api_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
