/* stages/ingest/dedup.c — the window of recently seen content hashes.
 *
 * A ring of the last `window` documents (oldest at `head`) and an
 * open-addressing index (linear probing, at most half full) from a content
 * hash to the earliest and latest ring slots holding it; slots with the same
 * hash are chained oldest to newest. Evicting the oldest document, looking
 * up and remembering one are O(1) and allocate nothing: the slots' key and
 * id buffers grow in nlpd__dedup_prepare() and are reused afterwards.
 */
#include <assert.h>
#include <string.h>

#include "ingest_internal.h"
#include "nlpd/alloc.h"
#include "nlpd/error.h"

#define NO_SLOT UINT32_MAX

/* Windows beyond this are a configuration mistake, not a need. */
#define MAX_WINDOW ((size_t)1 << 26)

static size_t
hash_home(const nlpd__dedup *d, const uint8_t hash[16])
{
    uint64_t v;
    memcpy(&v, hash, sizeof(v)); /* BLAKE2b output: already uniform */
    return (size_t)v & d->index_mask;
}

static size_t
index_find(const nlpd__dedup *d, const uint8_t hash[16])
{
    size_t i = hash_home(d, hash);
    while (d->index[i].first != NO_SLOT) {
        if (memcmp(d->slots[d->index[i].first].hash, hash, 16) == 0)
            return i;
        i = (i + 1) & d->index_mask;
    }
    return NLPD__NONE;
}

/* Removes index entry `i` by shifting later entries of its probe
 * sequence back (no tombstones, so lookups stay short). */
static void
index_delete(nlpd__dedup *d, size_t i)
{
    size_t mask = d->index_mask;
    for (;;) {
        d->index[i].first = NO_SLOT;
        size_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (d->index[j].first == NO_SLOT)
                return;
            size_t home = hash_home(d, d->slots[d->index[j].first].hash);
            /* The entry at j may fill the hole at i unless its home lies
             * cyclically in (i, j]. */
            int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!stays)
                break;
        }
        d->index[i] = d->index[j];
        i = j;
    }
}

static void
evict_head(nlpd__dedup *d)
{
    uint32_t s = (uint32_t)d->head;
    size_t pos = index_find(d, d->slots[s].hash);
    assert(pos != NLPD__NONE && d->index[pos].first == s);
    if (d->index[pos].last == s)
        index_delete(d, pos);
    else
        d->index[pos].first = d->slots[s].next;
    d->head = (d->head + 1) % d->window;
    d->count--;
}

int
nlpd__dedup_init(nlpd__dedup *d, size_t window, uint64_t max_age_us)
{
    memset(d, 0, sizeof(*d));
    d->max_age_us = max_age_us;
    if (window == 0)
        return 0;
    if (window > MAX_WINDOW)
        return NLPD_EINVAL;
    size_t isz = 16;
    while (isz < 2 * window)
        isz <<= 1;
    d->slots = nlpd_calloc(window, sizeof(*d->slots));
    d->index = nlpd_malloc(isz * sizeof(*d->index));
    if (d->slots == NULL || d->index == NULL) {
        nlpd_free(d->slots);
        nlpd_free(d->index);
        d->slots = NULL;
        d->index = NULL;
        return NLPD_ENOMEM;
    }
    for (size_t i = 0; i < isz; i++)
        d->index[i].first = d->index[i].last = NO_SLOT;
    d->window = window;
    d->index_mask = isz - 1;
    return 0;
}

void
nlpd__dedup_release(nlpd__dedup *d)
{
    for (size_t i = 0; i < d->window; i++) {
        nlpd_free(d->slots[i].key);
        nlpd_free(d->slots[i].id);
    }
    nlpd_free(d->slots);
    nlpd_free(d->index);
    nlpd_free(d->spare_key);
    nlpd_free(d->spare_id);
    memset(d, 0, sizeof(*d));
}

static int
ensure(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 32;
    while (n < need)
        n *= 2;
    char *p = nlpd_realloc(*buf, n);
    if (p == NULL)
        return NLPD_ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

int
nlpd__dedup_prepare(nlpd__dedup *d, const char *key, const char *id)
{
    if (d->window == 0)
        return 0;
    nlpd__dedup_slot *s = &d->slots[(d->head + d->count) % d->window];
    size_t kn = key != NULL ? strlen(key) + 1 : 1;
    size_t in = strlen(id) + 1;
    /* The slot the commit writes, and the spare buffers it swaps in when
     * that slot holds the duplicate being reported. realloc keeps the
     * contents, so the window is unchanged whatever fails here. */
    int rc = ensure(&s->key, &s->key_cap, kn);
    if (rc == 0)
        rc = ensure(&s->id, &s->id_cap, in);
    if (rc == 0)
        rc = ensure(&d->spare_key, &d->spare_key_cap, kn);
    if (rc == 0)
        rc = ensure(&d->spare_id, &d->spare_id_cap, in);
    return rc;
}

void
nlpd__dedup_commit(nlpd__dedup *d, const uint8_t hash[16], const char *key, const char *id,
                   uint64_t now_us, const char **dup_key, const char **dup_id)
{
    *dup_key = NULL;
    *dup_id = NULL;
    if (d->window == 0)
        return;
    if (d->max_age_us > 0) {
        while (d->count > 0) {
            uint64_t t = d->slots[d->head].time;
            if (!(now_us > t && now_us - t > d->max_age_us))
                break;
            evict_head(d);
        }
    }
    size_t tail = (d->head + d->count) % d->window;
    size_t pos = index_find(d, hash);
    if (pos != NLPD__NONE) {
        nlpd__dedup_slot *dup = &d->slots[d->index[pos].first];
        *dup_key = dup->has_key ? dup->key : NULL;
        *dup_id = dup->id;
        if (d->index[pos].first == tail) {
            /* The duplicate's slot is about to be reused: hand its strings
             * to the spare buffers, which the report then points to. */
            char *k = dup->key, *i = dup->id;
            size_t kc = dup->key_cap, ic = dup->id_cap;
            dup->key = d->spare_key;
            dup->key_cap = d->spare_key_cap;
            dup->id = d->spare_id;
            dup->id_cap = d->spare_id_cap;
            d->spare_key = k;
            d->spare_key_cap = kc;
            d->spare_id = i;
            d->spare_id_cap = ic;
            *dup_key = *dup_key != NULL ? d->spare_key : NULL;
            *dup_id = d->spare_id;
        }
    }
    if (d->count == d->window)
        evict_head(d); /* the oldest makes room; tail == head */

    nlpd__dedup_slot *s = &d->slots[tail];
    memcpy(s->hash, hash, 16);
    s->time = now_us;
    s->next = NO_SLOT;
    s->has_key = key != NULL;
    strcpy(s->key, key != NULL ? key : "");
    strcpy(s->id, id);

    pos = index_find(d, hash);
    if (pos != NLPD__NONE) {
        d->slots[d->index[pos].last].next = (uint32_t)tail;
        d->index[pos].last = (uint32_t)tail;
    } else {
        size_t i = hash_home(d, hash);
        while (d->index[i].first != NO_SLOT)
            i = (i + 1) & d->index_mask;
        d->index[i].first = d->index[i].last = (uint32_t)tail;
    }
    d->count++;
}
