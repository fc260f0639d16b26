/* stages/tag/clusters/brown.c — Brown clustering with a window of C active
 * clusters (Liang 2005, section 3). See brown.h for the contract.
 *
 * Notation (Brown et al. 1992). N is the number of bigrams between kept
 * words; for clusters c and d, n(c,d) counts the bigrams whose left word is
 * in c and right word in d, and nl(c), nr(d) count the bigrams with the
 * left (right) word in c (d), over the whole corpus: they do not change as
 * words are added, only when clusters merge. The average mutual
 * information of the active clusters is the sum of
 *
 *     q(c,d) = n(c,d)/N * log(n(c,d) * N / (nl(c) * nr(d)))
 *
 * over pairs of active clusters. s(c) = sum_d q(c,d) + q(d,c) - q(c,c) is
 * what c takes part in, and L(c,d), the loss of merging c and d, is
 *
 *     s(c) + s(d) - q(c,d) - q(d,c) - q(m,m) - sum_{e != c,d} q(m,e) + q(e,m)
 *
 * with m = c + d. Adding a cluster k, or merging a and b into n, changes
 * L(c,d) for an unrelated pair only through the terms with k, a, b and n,
 * so each is brought up to date in O(1); the pairs that involve the new
 * cluster are computed afresh in O(C) each. A slot table of C + 1 clusters
 * holds n, q and L as dense C+1 by C+1 arrays (L in its upper triangle).
 */
#include "brown.h"

#include "nlpd/alloc.h"
#include "nlpd/error.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WORD_MAX 1024
#define SEP      UINT32_MAX /* sentence end in the token sequence */
#define NONE     UINT32_MAX /* no rank, slot or node */
#define LOGTAB   65536      /* the log table: 512 KB, most counts are small */

typedef struct entry {
    const char *path;
    const char *word;
    uint32_t len;
    uint64_t count;
} entry;

struct nlpd_brown {
    nlpd_brown_opts opts;
    int ran;

    /* Interned words: text, length and count by id. */
    char **word;
    uint32_t *wlen;
    uint64_t *wcount;
    size_t nwords, wcap;
    uint32_t *table; /* id + 1, 0 empty; open addressing */
    size_t mask;

    /* Every token read, as word ids, SEP after each sentence. */
    uint32_t *seq;
    size_t nseq, seqcap;
    uint64_t tokens;

    /* Results. */
    nlpd_brown_stats stats;
    entry *out;   /* stats.kept entries in output order */
    char **paths; /* one per leaf of the tree */
    size_t npaths;
};

/* The working state of one run. */
typedef struct run {
    size_t V;     /* kept words, by rank (most frequent first) */
    uint32_t *id; /* rank -> word id */
    /* Bigrams by left word (CSR over ranks) and by right word. */
    size_t *rstart, *lstart;
    uint32_t *rnb, *lnb;
    double *rc, *lc;
    double *wl, *wr; /* per rank: bigrams with the word on the left / right */
    double log_n, inv_n;
    double *logtab; /* log(i) for i < LOGTAB: counts are whole numbers */

    size_t K;                           /* slots: C + 1 */
    double *P, *PT, *Q, *L, *LPL, *LPR; /* PT: P transposed, for columns */
    double *pl, *pr, *lpl, *lpr, *s;
    double *prow, *pcol, *qen, *qne, *t; /* scratch for a merge */
    uint8_t *active;
    uint32_t *act; /* active slots, increasing */
    size_t nact;
    uint32_t *minrank;            /* the most frequent word in the slot */
    uint32_t *head, *tail, *size; /* member lists of each slot */
    uint32_t *next;               /* rank -> next member */
    uint32_t *wslot;              /* rank -> slot (NONE: not added yet) */
    uint32_t *node;               /* slot -> tree node (final phase) */
    uint32_t *child;              /* node -> two children (leaves: NONE) */
    size_t nnodes;
    uint32_t *leaf; /* rank -> leaf node */
} run;

/* --- Words ----------------------------------------------------------------- */

static uint64_t
hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211u;
    }
    return h;
}

static int
table_grow(nlpd_brown *self)
{
    size_t ns = self->mask ? (self->mask + 1) * 2 : 1024;
    uint32_t *t = nlpd_calloc(ns, sizeof(*t));
    if (t == NULL)
        return NLPD_ENOMEM;
    for (size_t i = 0; i < self->nwords; i++) {
        size_t j = (size_t)hash_bytes(self->word[i], self->wlen[i]) & (ns - 1);
        while (t[j] != 0)
            j = (j + 1) & (ns - 1);
        t[j] = (uint32_t)(i + 1);
    }
    nlpd_free(self->table);
    self->table = t;
    self->mask = ns - 1;
    return 0;
}

/* The id of the word s[0..n), interned if new; NONE when out of memory. */
static uint32_t
intern(nlpd_brown *self, const char *s, size_t n)
{
    if ((self->nwords + 1) * 2 > self->mask && table_grow(self) != 0)
        return NONE;
    size_t j = (size_t)hash_bytes(s, n) & self->mask;
    for (; self->table[j] != 0; j = (j + 1) & self->mask) {
        uint32_t id = self->table[j] - 1;
        if (self->wlen[id] == n && memcmp(self->word[id], s, n) == 0)
            return id;
    }
    if (self->nwords >= UINT32_MAX - 1)
        return NONE;
    if (self->nwords == self->wcap) {
        size_t nc = self->wcap ? self->wcap * 2 : 1024;
        char **w = nlpd_realloc(self->word, nc * sizeof(*w));
        if (w == NULL)
            return NONE;
        self->word = w;
        uint32_t *l = nlpd_realloc(self->wlen, nc * sizeof(*l));
        if (l == NULL)
            return NONE;
        self->wlen = l;
        uint64_t *c = nlpd_realloc(self->wcount, nc * sizeof(*c));
        if (c == NULL)
            return NONE;
        self->wcount = c;
        self->wcap = nc;
    }
    char *copy = nlpd_strndup(s, n);
    if (copy == NULL)
        return NONE;
    uint32_t id = (uint32_t)self->nwords++;
    self->word[id] = copy;
    self->wlen[id] = (uint32_t)n;
    self->wcount[id] = 0;
    self->table[j] = id + 1;
    return id;
}

static int
seq_push(nlpd_brown *self, uint32_t v)
{
    if (self->nseq == self->seqcap &&
        nlpd_grow((void **)&self->seq, &self->seqcap, self->nseq + 1, sizeof(*self->seq)) != 0)
        return NLPD_ENOMEM;
    self->seq[self->nseq++] = v;
    return 0;
}

int
nlpd_brown_new(nlpd_brown **out, const nlpd_brown_opts *opts)
{
    *out = NULL;
    if (opts == NULL || opts->clusters < 2 || opts->min_count < 1 || opts->clusters > 65535)
        return NLPD_EINVAL;
    nlpd_brown *self = nlpd_calloc(1, sizeof(*self));
    if (self == NULL)
        return NLPD_ENOMEM;
    self->opts = *opts;
    *out = self;
    return 0;
}

void
nlpd_brown_free(nlpd_brown **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_brown *self = *self_p;
    for (size_t i = 0; i < self->nwords; i++)
        nlpd_free(self->word[i]);
    nlpd_free(self->word);
    nlpd_free(self->wlen);
    nlpd_free(self->wcount);
    nlpd_free(self->table);
    nlpd_free(self->seq);
    nlpd_free(self->out);
    for (size_t i = 0; i < self->npaths; i++)
        nlpd_free(self->paths[i]);
    nlpd_free(self->paths);
    nlpd_free(self);
    *self_p = NULL;
}

static int
word_ok(const char *s, size_t n)
{
    if (n == 0 || n > WORD_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
            return 0;
    return 1;
}

int
nlpd_brown_add_sentence(nlpd_brown *self, const nlpd_brown_word *words, size_t n)
{
    if (self->ran)
        return NLPD_EINVAL;
    size_t pushed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!word_ok(words[i].s, words[i].len))
            continue;
        uint32_t id = intern(self, words[i].s, words[i].len);
        if (id == NONE || seq_push(self, id) != 0)
            return NLPD_ENOMEM;
        self->wcount[id]++;
        self->tokens++;
        pushed++;
    }
    if (pushed > 0 && seq_push(self, SEP) != 0)
        return NLPD_ENOMEM;
    return 0;
}

/* --- Vocabulary and bigrams -------------------------------------------------- */

typedef struct rank_key {
    uint64_t count;
    const char *w;
    uint32_t len;
    uint32_t id;
} rank_key;

static int
cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int
cmp_rank(const void *pa, const void *pb)
{
    const rank_key *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return cmp_bytes(a->w, a->len, b->w, b->len);
}

static int
cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

static void
run_free(run *r)
{
    void *ptrs[] = {r->id,   r->rstart, r->lstart, r->rnb,   r->lnb,     r->rc,   r->lc,   r->wl,
                    r->wr,   r->P,      r->PT,     r->Q,     r->L,       r->LPL,  r->LPR,  r->pl,
                    r->pr,   r->lpl,    r->lpr,    r->s,     r->prow,    r->pcol, r->qen,  r->qne,
                    r->t,    r->logtab, r->active, r->act,   r->minrank, r->head, r->tail, r->size,
                    r->next, r->wslot,  r->node,   r->child, r->leaf};
    for (size_t i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++)
        nlpd_free(ptrs[i]);
    memset(r, 0, sizeof(*r));
}

/* Ranks the kept words and builds both adjacency lists. */
static int
build_bigrams(nlpd_brown *self, run *r)
{
    int rc = NLPD_ENOMEM;
    rank_key *keys = NULL;
    uint32_t *rank_of = NULL;
    uint64_t *pairs = NULL;
    size_t V = 0;
    for (size_t i = 0; i < self->nwords; i++)
        if (self->wcount[i] >= self->opts.min_count)
            V++;
    r->V = V;
    keys = nlpd_calloc(V ? V : 1, sizeof(*keys));
    rank_of = nlpd_malloc((self->nwords ? self->nwords : 1) * sizeof(*rank_of));
    r->id = nlpd_calloc(V ? V : 1, sizeof(*r->id));
    if (keys == NULL || rank_of == NULL || r->id == NULL)
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < self->nwords; i++) {
        rank_of[i] = NONE;
        if (self->wcount[i] >= self->opts.min_count)
            keys[k++] = (rank_key){self->wcount[i], self->word[i], self->wlen[i], (uint32_t)i};
    }
    qsort(keys, V, sizeof(*keys), cmp_rank);
    for (size_t i = 0; i < V; i++) {
        r->id[i] = keys[i].id;
        rank_of[keys[i].id] = (uint32_t)i;
    }

    size_t np = 0;
    pairs = nlpd_malloc((self->nseq ? self->nseq : 1) * sizeof(*pairs));
    if (pairs == NULL)
        goto out;
    for (size_t i = 0; i + 1 < self->nseq; i++) {
        uint32_t a = self->seq[i], b = self->seq[i + 1];
        if (a == SEP || b == SEP || rank_of[a] == NONE || rank_of[b] == NONE)
            continue;
        pairs[np++] = (uint64_t)rank_of[a] << 32 | rank_of[b];
    }
    qsort(pairs, np, sizeof(*pairs), cmp_u64);
    size_t nu = 0;
    for (size_t i = 0; i < np; i++)
        if (i == 0 || pairs[i] != pairs[i - 1])
            nu++;
    r->rstart = nlpd_calloc(V + 1, sizeof(*r->rstart));
    r->lstart = nlpd_calloc(V + 1, sizeof(*r->lstart));
    r->rnb = nlpd_malloc((nu ? nu : 1) * sizeof(*r->rnb));
    r->lnb = nlpd_malloc((nu ? nu : 1) * sizeof(*r->lnb));
    r->rc = nlpd_malloc((nu ? nu : 1) * sizeof(*r->rc));
    r->lc = nlpd_malloc((nu ? nu : 1) * sizeof(*r->lc));
    r->wl = nlpd_calloc(V ? V : 1, sizeof(*r->wl));
    r->wr = nlpd_calloc(V ? V : 1, sizeof(*r->wr));
    if (r->rstart == NULL || r->lstart == NULL || r->rnb == NULL || r->lnb == NULL ||
        r->rc == NULL || r->lc == NULL || r->wl == NULL || r->wr == NULL)
        goto out;
    /* Pairs are sorted by left word: that is the right-neighbour CSR. */
    size_t u = 0;
    for (size_t i = 0; i < np; i++) {
        uint32_t a = (uint32_t)(pairs[i] >> 32), b = (uint32_t)pairs[i];
        if (i == 0 || pairs[i] != pairs[i - 1]) {
            r->rnb[u] = b;
            r->rc[u] = 0;
            r->rstart[a + 1]++;
            r->lstart[b + 1]++;
            u++;
        }
        r->rc[u - 1] += 1.0;
        r->wl[a] += 1.0;
        r->wr[b] += 1.0;
    }
    for (size_t i = 0; i < V; i++) {
        r->rstart[i + 1] += r->rstart[i];
        r->lstart[i + 1] += r->lstart[i];
    }
    /* The left-neighbour CSR by a counting pass over the right one. */
    size_t *fill = nlpd_malloc((V ? V : 1) * sizeof(*fill));
    if (fill == NULL)
        goto out;
    memcpy(fill, r->lstart, V * sizeof(*fill));
    for (size_t a = 0; a < V; a++)
        for (size_t j = r->rstart[a]; j < r->rstart[a + 1]; j++) {
            size_t at = fill[r->rnb[j]]++;
            r->lnb[at] = (uint32_t)a;
            r->lc[at] = r->rc[j];
        }
    nlpd_free(fill);
    self->stats.bigrams = np;
    r->log_n = np ? log((double)np) : 0.0;
    r->inv_n = np ? 1.0 / (double)np : 0.0;
    rc = 0;
out:
    nlpd_free(keys);
    nlpd_free(rank_of);
    nlpd_free(pairs);
    return rc;
}

/* --- The clustering ---------------------------------------------------------- */

/* q for a count c between clusters with left and right log marginals ll, lr. */
static inline double
qv(const run *r, double c, double ll, double lr)
{
    if (c <= 0)
        return 0.0;
    double lc = c < LOGTAB ? r->logtab[(size_t)c] : log(c);
    return c * r->inv_n * (lc + r->log_n - ll - lr);
}

#define AT(r, i, j) ((size_t)(i) * (r)->K + (size_t)(j))
#define UP(r, i, j) ((i) < (j) ? AT(r, i, j) : AT(r, j, i))

static int
run_alloc(run *r, size_t C)
{
    size_t K = C + 1, V = r->V ? r->V : 1;
    r->K = K;
    r->logtab = nlpd_malloc(LOGTAB * sizeof(double));
    if (r->logtab == NULL)
        return NLPD_ENOMEM;
    r->logtab[0] = 0.0;
    for (size_t i = 1; i < LOGTAB; i++)
        r->logtab[i] = log((double)i);
    r->P = nlpd_calloc(K * K, sizeof(double));
    r->PT = nlpd_calloc(K * K, sizeof(double));
    r->Q = nlpd_calloc(K * K, sizeof(double));
    r->L = nlpd_calloc(K * K, sizeof(double));
    r->LPL = nlpd_calloc(K * K, sizeof(double));
    r->LPR = nlpd_calloc(K * K, sizeof(double));
    double **vecs[] = {&r->pl,   &r->pr,   &r->lpl, &r->lpr, &r->s,
                       &r->prow, &r->pcol, &r->qen, &r->qne, &r->t};
    for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
        if ((*vecs[i] = nlpd_calloc(K, sizeof(double))) == NULL)
            return NLPD_ENOMEM;
    r->active = nlpd_calloc(K, 1);
    r->act = nlpd_calloc(K, sizeof(uint32_t));
    r->minrank = nlpd_calloc(K, sizeof(uint32_t));
    r->head = nlpd_calloc(K, sizeof(uint32_t));
    r->tail = nlpd_calloc(K, sizeof(uint32_t));
    r->size = nlpd_calloc(K, sizeof(uint32_t));
    r->node = nlpd_calloc(K, sizeof(uint32_t));
    r->next = nlpd_calloc(V, sizeof(uint32_t));
    r->wslot = nlpd_calloc(V, sizeof(uint32_t));
    r->leaf = nlpd_calloc(V, sizeof(uint32_t));
    r->child = nlpd_calloc(4 * K, sizeof(uint32_t));
    if (r->P == NULL || r->PT == NULL || r->Q == NULL || r->L == NULL || r->LPL == NULL ||
        r->LPR == NULL || r->active == NULL || r->act == NULL || r->minrank == NULL ||
        r->head == NULL || r->tail == NULL || r->size == NULL || r->node == NULL ||
        r->next == NULL || r->wslot == NULL || r->leaf == NULL || r->child == NULL)
        return NLPD_ENOMEM;
    for (size_t i = 0; i < r->V; i++)
        r->wslot[i] = NONE;
    return 0;
}

static void
rebuild_act(run *r)
{
    r->nact = 0;
    for (size_t i = 0; i < r->K; i++)
        if (r->active[i])
            r->act[r->nact++] = (uint32_t)i;
}

/* L(i, j) from scratch, O(C). */
static double
fresh_loss(const run *r, uint32_t i, uint32_t j)
{
    double ll = r->LPL[AT(r, i, j)], lr = r->LPR[AT(r, i, j)];
    const double *Pi = &r->P[AT(r, i, 0)], *Pj = &r->P[AT(r, j, 0)];
    const double *Ti = &r->PT[AT(r, i, 0)], *Tj = &r->PT[AT(r, j, 0)];
    double self_m = qv(r, Pi[i] + Pi[j] + Pj[i] + Pj[j], ll, lr);
    double sum = 0.0;
    for (size_t x = 0; x < r->nact; x++) {
        uint32_t e = r->act[x];
        if (e == i || e == j)
            continue;
        sum += qv(r, Pi[e] + Pj[e], ll, r->lpr[e]) + qv(r, Ti[e] + Tj[e], r->lpl[e], lr);
    }
    return r->s[i] + r->s[j] - r->Q[AT(r, i, j)] - r->Q[AT(r, j, i)] - self_m - sum;
}

/* The merged marginal logs of slot k with every active slot. */
static void
set_pair_logs(run *r, uint32_t k)
{
    for (size_t x = 0; x < r->nact; x++) {
        uint32_t e = r->act[x];
        if (e == k)
            continue;
        r->LPL[AT(r, k, e)] = r->LPL[AT(r, e, k)] = log(r->pl[k] + r->pl[e]);
        r->LPR[AT(r, k, e)] = r->LPR[AT(r, e, k)] = log(r->pr[k] + r->pr[e]);
    }
}

/* Sets s(k) from its q row and column. */
static void
set_s(run *r, uint32_t k)
{
    double s = r->Q[AT(r, k, k)];
    for (size_t x = 0; x < r->nact; x++) {
        uint32_t e = r->act[x];
        if (e != k)
            s += r->Q[AT(r, k, e)] + r->Q[AT(r, e, k)];
    }
    r->s[k] = s;
}

static void
fresh_losses_of(run *r, uint32_t k)
{
    for (size_t x = 0; x < r->nact; x++) {
        uint32_t e = r->act[x];
        if (e != k)
            r->L[UP(r, k, e)] = fresh_loss(r, k, e);
    }
}

/* Adds the word of rank w as a new cluster in free slot k. */
static void
add_word(run *r, uint32_t w, uint32_t k)
{
    for (size_t x = 0; x < r->nact; x++) {
        uint32_t e = r->act[x];
        r->P[AT(r, k, e)] = r->P[AT(r, e, k)] = 0.0;
        r->PT[AT(r, k, e)] = r->PT[AT(r, e, k)] = 0.0;
    }
    r->P[AT(r, k, k)] = r->PT[AT(r, k, k)] = 0.0;
    r->wslot[w] = k;
    for (size_t j = r->rstart[w]; j < r->rstart[w + 1]; j++) {
        uint32_t v = r->rnb[j];
        if (v <= w) {
            r->P[AT(r, k, r->wslot[v])] += r->rc[j];
            r->PT[AT(r, r->wslot[v], k)] += r->rc[j];
        }
    }
    for (size_t j = r->lstart[w]; j < r->lstart[w + 1]; j++) {
        uint32_t u = r->lnb[j];
        if (u < w) {
            r->P[AT(r, r->wslot[u], k)] += r->lc[j];
            r->PT[AT(r, k, r->wslot[u])] += r->lc[j];
        }
    }
    r->pl[k] = r->wl[w];
    r->pr[k] = r->wr[w];
    r->lpl[k] = r->pl[k] > 0 ? log(r->pl[k]) : 0.0;
    r->lpr[k] = r->pr[k] > 0 ? log(r->pr[k]) : 0.0;
    r->minrank[k] = w;
    r->head[k] = r->tail[k] = w;
    r->next[w] = NONE;
    r->size[k] = 1;
    set_pair_logs(r, k);

    /* q with the new cluster, and what it adds to s and L of the others. */
    for (size_t x = 0; x < r->nact; x++) {
        uint32_t e = r->act[x];
        r->Q[AT(r, k, e)] = qv(r, r->P[AT(r, k, e)], r->lpl[k], r->lpr[e]);
        r->Q[AT(r, e, k)] = qv(r, r->P[AT(r, e, k)], r->lpl[e], r->lpr[k]);
        r->t[e] = r->Q[AT(r, k, e)] + r->Q[AT(r, e, k)];
    }
    r->Q[AT(r, k, k)] = qv(r, r->P[AT(r, k, k)], r->lpl[k], r->lpr[k]);
    for (size_t x = 0; x < r->nact; x++) {
        uint32_t c = r->act[x];
        const double *Pk = &r->P[AT(r, k, 0)], *Tk = &r->PT[AT(r, k, 0)];
        const double *LPLc = &r->LPL[AT(r, c, 0)], *LPRc = &r->LPR[AT(r, c, 0)];
        double *Lc = &r->L[AT(r, c, 0)];
        double pck = Tk[c], pkc = Pk[c], tc = r->t[c];
        for (size_t y = x + 1; y < r->nact; y++) {
            uint32_t d = r->act[y];
            double ll = LPLc[d], lr = LPRc[d];
            Lc[d] += tc + r->t[d] - qv(r, pck + Tk[d], ll, r->lpr[k]) -
                     qv(r, pkc + Pk[d], r->lpl[k], lr);
        }
    }
    for (size_t x = 0; x < r->nact; x++)
        r->s[r->act[x]] += r->t[r->act[x]];
    r->active[k] = 1;
    rebuild_act(r);
    set_s(r, k);
    fresh_losses_of(r, k);
}

/* The active pair with the least loss (the first one on ties). */
static void
best_pair(const run *r, uint32_t *pa, uint32_t *pb)
{
    double best = HUGE_VAL;
    *pa = r->act[0];
    *pb = r->act[1];
    for (size_t x = 0; x < r->nact; x++) {
        const double *Lc = &r->L[AT(r, r->act[x], 0)];
        for (size_t y = x + 1; y < r->nact; y++) {
            double l = Lc[r->act[y]];
            if (l < best) {
                best = l;
                *pa = r->act[x];
                *pb = r->act[y];
            }
        }
    }
}

/* Merges slots a and b; returns the slot that holds the result. */
static uint32_t
merge(run *r, uint32_t a, uint32_t b)
{
    /* The bigger member list stays, so relabelling stays cheap. */
    uint32_t A = r->size[a] >= r->size[b] ? a : b, B = A == a ? b : a;
    double *prow = r->prow, *pcol = r->pcol, *qen = r->qen, *qne = r->qne, *t = r->t;
    double pnn = r->P[AT(r, A, A)] + r->P[AT(r, A, B)] + r->P[AT(r, B, A)] + r->P[AT(r, B, B)];
    double lpln = r->LPL[AT(r, A, B)], lprn = r->LPR[AT(r, A, B)];
    for (size_t x = 0; x < r->nact; x++) {
        uint32_t e = r->act[x];
        if (e == A || e == B)
            continue;
        prow[e] = r->P[AT(r, A, e)] + r->P[AT(r, B, e)];
        pcol[e] = r->PT[AT(r, A, e)] + r->PT[AT(r, B, e)];
        qen[e] = qv(r, pcol[e], r->lpl[e], lprn);
        qne[e] = qv(r, prow[e], lpln, r->lpr[e]);
        t[e] = qen[e] + qne[e] -
               (r->Q[AT(r, e, A)] + r->Q[AT(r, A, e)] + r->Q[AT(r, e, B)] + r->Q[AT(r, B, e)]);
    }
    /* The pairs that involve neither a nor b. */
    const double *PA = &r->P[AT(r, A, 0)], *PB = &r->P[AT(r, B, 0)];
    const double *TA = &r->PT[AT(r, A, 0)], *TB = &r->PT[AT(r, B, 0)];
    for (size_t x = 0; x < r->nact; x++) {
        uint32_t c = r->act[x];
        if (c == A || c == B)
            continue;
        double pca = TA[c], pcb = TB[c], tc = t[c];
        double pac = PA[c], pbc = PB[c];
        double *Lc = &r->L[AT(r, c, 0)];
        const double *LPLc = &r->LPL[AT(r, c, 0)], *LPRc = &r->LPR[AT(r, c, 0)];
        for (size_t y = x + 1; y < r->nact; y++) {
            uint32_t d = r->act[y];
            if (d == A || d == B)
                continue;
            double ll = LPLc[d], lr = LPRc[d];
            Lc[d] += tc + t[d] + qv(r, pca + TA[d], ll, r->lpr[A]) +
                     qv(r, pac + PA[d], r->lpl[A], lr) + qv(r, pcb + TB[d], ll, r->lpr[B]) +
                     qv(r, pbc + PB[d], r->lpl[B], lr) - qv(r, pcol[c] + pcol[d], ll, lprn) -
                     qv(r, prow[c] + prow[d], lpln, lr);
        }
    }
    /* The merged cluster takes slot A. */
    for (size_t x = 0; x < r->nact; x++) {
        uint32_t e = r->act[x];
        if (e == A || e == B)
            continue;
        r->s[e] += t[e];
        r->P[AT(r, A, e)] = r->PT[AT(r, e, A)] = prow[e];
        r->P[AT(r, e, A)] = r->PT[AT(r, A, e)] = pcol[e];
        r->Q[AT(r, A, e)] = qne[e];
        r->Q[AT(r, e, A)] = qen[e];
    }
    r->P[AT(r, A, A)] = r->PT[AT(r, A, A)] = pnn;
    r->pl[A] += r->pl[B];
    r->pr[A] += r->pr[B];
    r->lpl[A] = lpln;
    r->lpr[A] = lprn;
    r->Q[AT(r, A, A)] = qv(r, pnn, lpln, lprn);
    if (r->minrank[B] < r->minrank[A])
        r->minrank[A] = r->minrank[B];
    for (uint32_t w = r->head[B]; w != NONE; w = r->next[w])
        r->wslot[w] = A;
    r->next[r->tail[A]] = r->head[B];
    r->tail[A] = r->tail[B];
    r->size[A] += r->size[B];
    r->active[B] = 0;
    rebuild_act(r);
    set_pair_logs(r, A);
    set_s(r, A);
    fresh_losses_of(r, A);
    return A;
}

static double
ami(const run *r)
{
    double sum = 0.0;
    for (size_t x = 0; x < r->nact; x++)
        for (size_t y = 0; y < r->nact; y++)
            sum += r->Q[AT(r, r->act[x], r->act[y])];
    return sum;
}

/* --- Paths and output ---------------------------------------------------------- */

static int
cmp_entry(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    int c = strcmp(a->path, b->path);
    if (c != 0)
        return c;
    return cmp_bytes(a->word, a->len, b->word, b->len);
}

/* Gives every leaf below `root` its bit path. */
static int
make_paths(nlpd_brown *self, run *r, uint32_t root)
{
    size_t n = r->nnodes;
    self->paths = nlpd_calloc(n ? n : 1, sizeof(*self->paths));
    char *buf = nlpd_malloc(n + 2);
    uint32_t *stack = nlpd_malloc((2 * n + 2) * sizeof(*stack));
    uint8_t *state = nlpd_calloc(n ? n : 1, 1);
    int rc = NLPD_ENOMEM;
    if (self->paths == NULL || buf == NULL || stack == NULL || state == NULL)
        goto out;
    self->npaths = n;
    /* Iterative depth-first walk: state 0 unvisited, 1 left done, 2 both. */
    size_t depth = 0, sp = 0;
    stack[sp++] = root;
    while (sp > 0) {
        uint32_t v = stack[sp - 1];
        uint32_t *ch = &r->child[2 * v];
        if (ch[0] == NONE) {
            if (depth == 0) {
                buf[0] = '0'; /* a tree of one leaf */
                buf[1] = '\0';
            } else {
                buf[depth] = '\0';
            }
            if ((self->paths[v] = nlpd_strdup(buf)) == NULL)
                goto out;
            sp--;
            if (depth > 0)
                depth--;
            continue;
        }
        if (state[v] < 2) {
            buf[depth++] = state[v] == 0 ? '0' : '1';
            stack[sp++] = ch[state[v]];
            state[v]++;
        } else {
            sp--;
            if (depth > 0)
                depth--;
        }
    }
    rc = 0;
out:
    nlpd_free(buf);
    nlpd_free(stack);
    nlpd_free(state);
    return rc;
}

int
nlpd_brown_run(nlpd_brown *self, nlpd_brown_progress_fn progress, void *arg)
{
    if (self->ran)
        return NLPD_EINVAL;
    self->ran = 1;
    run r;
    memset(&r, 0, sizeof(r));
    int rc = build_bigrams(self, &r);
    if (rc == 0)
        rc = run_alloc(&r, self->opts.clusters);
    if (rc != 0)
        goto out;
    self->stats.tokens = self->tokens;
    self->stats.types = self->nwords;
    self->stats.kept = r.V;
    if (r.V == 0)
        goto out;

    /* Main phase: words in by frequency, at most C clusters after each. */
    size_t C = self->opts.clusters;
    uint32_t free_slot = 0;
    for (size_t w = 0; w < r.V; w++) {
        add_word(&r, (uint32_t)w, free_slot);
        if (r.nact > C) {
            uint32_t a, b;
            best_pair(&r, &a, &b);
            uint32_t kept = merge(&r, a, b);
            free_slot = kept == a ? b : a;
        } else {
            free_slot = (uint32_t)r.nact;
        }
        if (progress != NULL && ((w + 1) % 1000 == 0 || w + 1 == r.V))
            progress(arg, w + 1, r.V);
    }

    /* The leaves of the tree are the clusters left now. */
    for (size_t x = 0; x < r.nact; x++) {
        uint32_t k = r.act[x];
        r.node[k] = (uint32_t)r.nnodes;
        r.child[2 * r.nnodes] = r.child[2 * r.nnodes + 1] = NONE;
        r.nnodes++;
    }
    for (size_t w = 0; w < r.V; w++)
        r.leaf[w] = r.node[r.wslot[w]];
    self->stats.ami = ami(&r);

    /* Final phase: merge down to one cluster, each merge a tree node. */
    while (r.nact > 1) {
        uint32_t a, b;
        best_pair(&r, &a, &b);
        uint32_t first = r.minrank[a] < r.minrank[b] ? a : b;
        uint32_t second = first == a ? b : a;
        uint32_t n0 = r.node[first], n1 = r.node[second];
        uint32_t kept = merge(&r, a, b);
        r.child[2 * r.nnodes] = n0;
        r.child[2 * r.nnodes + 1] = n1;
        r.node[kept] = (uint32_t)r.nnodes;
        r.nnodes++;
    }
    rc = make_paths(self, &r, r.node[r.act[0]]);
    if (rc != 0)
        goto out;

    self->out = nlpd_calloc(r.V, sizeof(*self->out));
    if (self->out == NULL) {
        rc = NLPD_ENOMEM;
        goto out;
    }
    for (size_t w = 0; w < r.V; w++) {
        uint32_t id = r.id[w];
        self->out[w] =
            (entry){self->paths[r.leaf[w]], self->word[id], self->wlen[id], self->wcount[id]};
    }
    qsort(self->out, r.V, sizeof(*self->out), cmp_entry);
out:
    if (rc != 0)
        self->stats.kept = 0;
    run_free(&r);
    return rc;
}

void
nlpd_brown_get_stats(const nlpd_brown *self, nlpd_brown_stats *out)
{
    *out = self->stats;
}

int
nlpd_brown_entry(const nlpd_brown *self, size_t i, const char **path, const char **word,
                 size_t *word_len, uint64_t *count)
{
    if (self->out == NULL || i >= self->stats.kept)
        return NLPD_EINVAL;
    const entry *e = &self->out[i];
    *path = e->path;
    *word = e->word;
    *word_len = e->len;
    *count = e->count;
    return 0;
}

int
nlpd_brown_write(const nlpd_brown *self, FILE *f)
{
    if (!self->ran)
        return NLPD_EINVAL;
    for (size_t i = 0; i < self->stats.kept; i++) {
        const entry *e = &self->out[i];
        if (fprintf(f, "%s\t%.*s\t%llu\n", e->path, (int)e->len, e->word,
                    (unsigned long long)e->count) < 0)
            return errno ? -errno : NLPD_ENOMEM;
    }
    return 0;
}
