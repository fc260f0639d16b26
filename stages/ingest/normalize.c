/* stages/ingest/normalize.c — UTF-8 validation and normalization, with the
 * offset map from the normalized text back to the text as sent.
 *
 * One pass over the text. Graphic ASCII is copied in runs. Whitespace
 * (including the characters that become spaces or are deleted around it)
 * is held as one pending run and written as "", " ", "\n" or "\n\n" when
 * the next content arrives. Non-ASCII content goes through NFC in small
 * units: a code point that utf8proc says can neither decompose, reorder nor
 * compose with what precedes it ("stable") is copied like ASCII; a maximal
 * run of other code points is normalized together with the one character
 * before it (which it may compose with), and only a unit whose NFC differs
 * is recorded as a rewrite. Running utf8proc over the whole text would lose
 * the offsets; running it per unit keeps them and stays linear.
 */
#include <assert.h>
#include <string.h>

#include <utf8proc.h>

#include "ingest_internal.h"
#include "nlpd/alloc.h"
#include "nlpd/error.h"

struct nlpd__unit_cp {
    int32_t cp;
    uint32_t off; /* offset of its first byte in the text */
    uint8_t len;
    uint8_t del; /* an invisible character that is deleted */
};

/* What a non-ASCII code point becomes. */
enum cp_kind {
    KIND_CONTENT,
    KIND_SPACE,   /* horizontal whitespace */
    KIND_BREAK,   /* U+2028 LINE SEPARATOR */
    KIND_PARA,    /* U+2029 PARAGRAPH SEPARATOR */
    KIND_CONTROL, /* C1 control: a space, counted */
    KIND_DELETE,  /* invisible format character: removed */
};

static const char replacement[3] = {'\xEF', '\xBF', '\xBD'}; /* U+FFFD */

size_t
nlpd__utf8_decode(const uint8_t *s, size_t n, int32_t *cp)
{
    uint8_t c = s[0];
    size_t need;
    int32_t v;
    uint8_t lo = 0x80, hi = 0xBF; /* range of the first continuation byte */
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* beyond U+10FFFF */
    } else {
        *cp = -1; /* continuation byte, C0, C1 or F5..FF */
        return 1;
    }
    for (size_t k = 1; k <= need; k++) {
        if (k >= n || s[k] < lo || s[k] > hi) {
            *cp = -1;
            return k; /* the valid prefix is one maximal subpart */
        }
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (s[k] & 0x3F);
    }
    *cp = v;
    return need + 1;
}

/* Format characters that carry meaning and so stay: ZWNJ and ZWJ (emoji
 * sequences, Indic and Arabic shaping), the visible prepended concatenation
 * marks (Arabic number signs and the like) and the tag characters of emoji
 * subdivision flags. Every other Cf character is invisible and removed. */
static int
format_char_stays(int32_t cp)
{
    return cp == 0x200C || cp == 0x200D || (cp >= 0x0600 && cp <= 0x0605) || cp == 0x06DD ||
           cp == 0x070F || cp == 0x0890 || cp == 0x0891 || cp == 0x08E2 || cp == 0x110BD ||
           cp == 0x110CD || (cp >= 0xE0020 && cp <= 0xE007F);
}

static enum cp_kind
classify(int32_t cp, const utf8proc_property_t *p)
{
    if (cp < 0xA0)
        return KIND_CONTROL; /* U+0080..U+009F (NEL included) */
    switch (p->category) {
    case UTF8PROC_CATEGORY_ZS:
        return KIND_SPACE;
    case UTF8PROC_CATEGORY_ZL:
        return KIND_BREAK;
    case UTF8PROC_CATEGORY_ZP:
        return KIND_PARA;
    case UTF8PROC_CATEGORY_CF:
        return format_char_stays(cp) ? KIND_CONTENT : KIND_DELETE;
    default:
        return KIND_CONTENT;
    }
}

/* 1 when NFC leaves `cp` alone whatever surrounds it and nothing after it
 * can reorder across it or compose with anything before it: a starter
 * without a canonical decomposition that is never the second element of a
 * composition. Cutting the text before such a code point (and after it,
 * unless what follows composes with it, which the unit handles by taking
 * the preceding character along) does not change the NFC of the whole. */
static int
nfc_stable(int32_t cp, const utf8proc_property_t *p)
{
    if (p->combining_class != 0)
        return 0;
    if (p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0)
        return 0; /* has a canonical decomposition */
    /* Hangul vowel and trailing jamo compose algorithmically with the
     * syllable or jamo before them. */
    if ((cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2))
        return 0;
#if UTF8PROC_VERSION_MAJOR == 2 && UTF8PROC_VERSION_MINOR < 9
    /* comb_index >= 0x8000 (and not UINT16_MAX) marks a code point that is
     * the second of a composition pair in these utf8proc versions. */
    return p->comb_index == UINT16_MAX || p->comb_index < 0x8000;
#else
    /* Other layouts of the composition data: treat every non-ASCII code
     * point as composable. Correct, only slower. */
    return 0;
#endif
}

typedef struct nz_state {
    nlpd__norm *nz;
    const uint8_t *s;
    size_t copy_start; /* pending verbatim content [copy_start, copy_end) */
    size_t copy_end;
    size_t copy_last; /* start of the last code point of that run */
    size_t del_start; /* pending deletions [del_start, del_end) after it */
    size_t del_end;
    size_t unit_start; /* open NFC unit [unit_start, unit_end) */
    size_t unit_end;
    size_t ws_start; /* pending whitespace run [ws_start, ws_end) */
    size_t ws_end;
    unsigned breaks; /* line breaks in that run */
    int emitted;     /* some content has been emitted or is pending */
} nz_state;

static int
out_append(nz_state *st, const void *p, size_t n)
{
    nlpd__ibuf *out = st->nz->out;
    if (n > (size_t)UINT32_MAX - 1 - out->len)
        return NLPD_EINVAL; /* offsets must fit uint32 */
    return nlpd__ibuf_append(out, p, n);
}

static int
map_copy(nz_state *st, size_t len)
{
    if (st->nz->map == NULL || len == 0)
        return 0;
    return nlpd_offmap_copy(st->nz->map, (uint32_t)len);
}

static int
map_rewrite(nz_state *st, size_t orig_len, size_t norm_len)
{
    if (st->nz->map == NULL)
        return 0;
    return nlpd_offmap_rewrite(st->nz->map, (uint32_t)orig_len, (uint32_t)norm_len);
}

/* Emits `len` bytes of the text at `off` unchanged. */
static int
emit_copy(nz_state *st, size_t off, size_t len)
{
    if (len == 0)
        return 0;
    int rc = out_append(st, st->s + off, len);
    if (rc != 0)
        return rc;
    return map_copy(st, len);
}

/* Emits `norm_len` bytes of `norm` in place of `orig_len` bytes of text. */
static int
emit_rewrite(nz_state *st, size_t orig_len, const void *norm, size_t norm_len)
{
    int rc = out_append(st, norm, norm_len);
    if (rc != 0)
        return rc;
    st->nz->changed = 1;
    return map_rewrite(st, orig_len, norm_len);
}

static int
flush_copy(nz_state *st)
{
    if (st->copy_start == NLPD__NONE)
        return 0;
    int rc = emit_copy(st, st->copy_start, st->copy_end - st->copy_start);
    st->copy_start = NLPD__NONE;
    return rc;
}

static int
flush_del(nz_state *st)
{
    if (st->del_start == NLPD__NONE)
        return 0;
    int rc = emit_rewrite(st, st->del_end - st->del_start, NULL, 0);
    st->del_start = NLPD__NONE;
    return rc;
}

static void
sort_marks(int32_t *d, size_t n, int32_t *tmp)
{
    if (n <= 32) {
        /* Insertion sort: stable and quick for the usual few marks. */
        for (size_t i = 1; i < n; i++) {
            int32_t c = d[i];
            int cc = utf8proc_get_property(c)->combining_class;
            size_t j = i;
            while (j > 0 && utf8proc_get_property(d[j - 1])->combining_class > cc) {
                d[j] = d[j - 1];
                j--;
            }
            d[j] = c;
        }
        return;
    }
    /* A long run of marks (hostile input): a stable counting sort keeps it
     * linear where a bubble sort would be quadratic. */
    size_t count[257] = {0};
    for (size_t i = 0; i < n; i++)
        count[utf8proc_get_property(d[i])->combining_class + 1]++;
    for (size_t k = 1; k < 257; k++)
        count[k] += count[k - 1];
    for (size_t i = 0; i < n; i++)
        tmp[count[utf8proc_get_property(d[i])->combining_class]++] = d[i];
    memcpy(d, tmp, n * sizeof(*d));
}

/* Canonical ordering: each run of non-starters sorted by combining class. */
static int
canonical_order(nlpd__nfc_scratch *sc, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (utf8proc_get_property(sc->dec[i])->combining_class == 0) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && utf8proc_get_property(sc->dec[j])->combining_class != 0)
            j++;
        if (j - i > 32) {
            int rc = nlpd_grow((void **)&sc->tmp, &sc->tmp_cap, j - i, sizeof(*sc->tmp));
            if (rc != 0)
                return rc;
        }
        sort_marks(sc->dec + i, j - i, sc->tmp);
        i = j;
    }
    return 0;
}

/* Emits unit code points [a, b): kept ones copied, deleted ones removed. */
static int
emit_unit_range(nz_state *st, size_t base, const struct nlpd__unit_cp *u, size_t a, size_t b)
{
    size_t run_off = 0, run_len = 0;
    for (size_t i = a; i < b; i++) {
        if (!u[i].del) {
            if (run_len == 0)
                run_off = base + u[i].off;
            run_len += u[i].len;
            continue;
        }
        int rc = emit_copy(st, run_off, run_len);
        if (rc != 0)
            return rc;
        run_len = 0;
        rc = emit_rewrite(st, u[i].len, NULL, 0);
        if (rc != 0)
            return rc;
    }
    return emit_copy(st, run_off, run_len);
}

/* '!'..'~': ASCII that is neither whitespace nor a control character. */
static inline int
is_graphic(uint8_t c)
{
    return (unsigned)(c - 0x21) < 0x5E;
}

static int
is_cont(uint8_t c)
{
    return (c & 0xC0) == 0x80;
}

/* Normalizes the unit [start, end) of the text and emits it. */
static int
nfc_unit(nz_state *st, size_t start, size_t end)
{
    nlpd__nfc_scratch *sc = st->nz->nfc;
    size_t k = 0;
    sc->kept.len = 0;
    for (size_t pos = start; pos < end;) {
        int32_t cp;
        size_t len = nlpd__utf8_decode(st->s + pos, end - pos, &cp);
        assert(cp >= 0);
        int grc = nlpd_grow((void **)&sc->cps, &sc->cps_cap, k + 1, sizeof(*sc->cps));
        if (grc != 0)
            return grc;
        int del = cp >= 0x80 && classify(cp, utf8proc_get_property(cp)) == KIND_DELETE;
        sc->cps[k] =
            (struct nlpd__unit_cp){cp, (uint32_t)(pos - start), (uint8_t)len, (uint8_t)del};
        k++;
        if (!del) {
            grc = nlpd__ibuf_append(&sc->kept, st->s + pos, len);
            if (grc != 0)
                return grc;
        }
        pos += len;
    }

    /* Canonical decomposition of the kept code points: at most four each,
     * so one grow usually suffices; the loop below copes with more. */
    int rc = nlpd_grow((void **)&sc->dec, &sc->dec_cap, 4 * k + 4, sizeof(*sc->dec));
    if (rc != 0)
        return rc;
    size_t nd = 0;
    for (size_t i = 0; i < k; i++) {
        if (sc->cps[i].del)
            continue;
        for (;;) {
            size_t room = sc->dec_cap - nd;
            utf8proc_ssize_t r = utf8proc_decompose_char(
                sc->cps[i].cp, sc->dec + nd, (utf8proc_ssize_t)room, UTF8PROC_DECOMPOSE, NULL);
            if (r < 0)
                return NLPD_EINVAL; /* not reached: the code point is valid */
            if ((size_t)r <= room) {
                nd += (size_t)r;
                break;
            }
            rc = nlpd_grow((void **)&sc->dec, &sc->dec_cap, nd + (size_t)r + 16, sizeof(*sc->dec));
            if (rc != 0)
                return rc;
        }
    }
    rc = canonical_order(sc, nd);
    if (rc != 0)
        return rc;
    utf8proc_ssize_t m =
        utf8proc_normalize_utf32(sc->dec, (utf8proc_ssize_t)nd, UTF8PROC_COMPOSE | UTF8PROC_STABLE);
    if (m < 0)
        return NLPD_EINVAL; /* not reached: only composition was asked for */

    sc->nfc.len = 0;
    rc = nlpd__ibuf_reserve(&sc->nfc, (size_t)m * 4);
    if (rc != 0)
        return rc;
    for (utf8proc_ssize_t i = 0; i < m; i++) {
        utf8proc_ssize_t w =
            utf8proc_encode_char(sc->dec[i], (utf8proc_uint8_t *)sc->nfc.data + sc->nfc.len);
        sc->nfc.len += (size_t)w;
    }

    const uint8_t *kb = (const uint8_t *)sc->kept.data;
    const uint8_t *ob = (const uint8_t *)sc->nfc.data;
    size_t kl = sc->kept.len, ol = sc->nfc.len;
    if (kl == ol && memcmp(kb, ob, kl) == 0)
        return emit_unit_range(st, start, sc->cps, 0, k);

    /* Keep the common prefix and suffix as copies, so the map stays exact
     * around a single composed character in a longer unit. */
    size_t p = 0;
    while (p < kl && p < ol && kb[p] == ob[p])
        p++;
    while (p > 0 && ((p < kl && is_cont(kb[p])) || (p < ol && is_cont(ob[p]))))
        p--;
    size_t sfx = 0;
    size_t lim = (kl < ol ? kl : ol) - p;
    while (sfx < lim && kb[kl - 1 - sfx] == ob[ol - 1 - sfx])
        sfx++;
    while (sfx > 0 && (is_cont(kb[kl - sfx]) || is_cont(ob[ol - sfx])))
        sfx--;

    size_t ip = 0, acc = 0;
    while (ip < k && acc < p) {
        if (!sc->cps[ip].del)
            acc += sc->cps[ip].len;
        ip++;
    }
    size_t is = k;
    acc = 0;
    while (is > ip && acc < sfx) {
        is--;
        if (!sc->cps[is].del)
            acc += sc->cps[is].len;
    }
    rc = emit_unit_range(st, start, sc->cps, 0, ip);
    if (rc != 0)
        return rc;
    size_t mid_a = ip < k ? start + sc->cps[ip].off : end;
    size_t mid_b = is < k ? start + sc->cps[is].off : end;
    rc = emit_rewrite(st, mid_b - mid_a, ob + p, ol - sfx - p);
    if (rc != 0)
        return rc;
    return emit_unit_range(st, start, sc->cps, is, k);
}

static int
close_unit(nz_state *st)
{
    if (st->unit_start == NLPD__NONE)
        return 0;
    size_t a = st->unit_start;
    st->unit_start = NLPD__NONE;
    return nfc_unit(st, a, st->unit_end);
}

/* Ends whatever content is pending: the unit, the copy run, deletions. */
static int
end_content(nz_state *st)
{
    int rc = close_unit(st);
    if (rc == 0)
        rc = flush_copy(st);
    if (rc == 0)
        rc = flush_del(st);
    return rc;
}

/* Adds [start, start + len) to the pending whitespace run. */
static void
add_ws(nz_state *st, size_t start, size_t len, unsigned breaks)
{
    if (st->ws_start == NLPD__NONE) {
        st->ws_start = start;
        st->breaks = 0;
    }
    assert(st->ws_start != NLPD__NONE);
    st->ws_end = start + len;
    st->breaks += breaks;
}

/* Writes the pending whitespace run before new content: nothing at the
 * start of the text, else one space, a line break or a paragraph break. */
static int
begin_content(nz_state *st)
{
    if (st->ws_start != NLPD__NONE) {
        const char *sep = "";
        if (st->emitted)
            sep = st->breaks >= 2 ? "\n\n" : st->breaks == 1 ? "\n" : " ";
        size_t sl = strlen(sep), ol = st->ws_end - st->ws_start;
        if (sl == ol && memcmp(sep, st->s + st->ws_start, ol) == 0) {
            int rc = emit_copy(st, st->ws_start, ol);
            if (rc != 0)
                return rc;
        } else {
            int rc = emit_rewrite(st, ol, sep, sl);
            if (rc != 0)
                return rc;
        }
        st->ws_start = NLPD__NONE;
    }
    st->emitted = 1;
    return 0;
}

/* Handles the non-ASCII code point `cp` (properties `p`) at [i, i + len). */
static int
step_non_ascii(nz_state *st, size_t i, size_t len, int32_t cp, const utf8proc_property_t *p)
{
    int rc;
    switch (classify(cp, p)) {
    case KIND_CONTROL:
        st->nz->controls_removed++;
        /* fall through */
    case KIND_SPACE:
        rc = end_content(st);
        add_ws(st, i, len, 0);
        return rc;
    case KIND_BREAK:
        rc = end_content(st);
        add_ws(st, i, len, 1);
        return rc;
    case KIND_PARA:
        rc = end_content(st);
        add_ws(st, i, len, 2);
        return rc;
    case KIND_DELETE:
        if (st->ws_start != NLPD__NONE || !st->emitted) {
            add_ws(st, i, len, 0); /* goes with the whitespace around it */
        } else {
            /* Pending after the content before it; a unit that goes on
             * after them takes them in (they may separate a mark from its
             * base), else they are removed on their own. */
            if (st->del_start == NLPD__NONE)
                st->del_start = i;
            st->del_end = i + len;
        }
        return 0;
    case KIND_CONTENT:
        break;
    }
    rc = begin_content(st);
    if (rc != 0)
        return rc;
    if (nfc_stable(cp, p)) {
        rc = close_unit(st);
        if (rc == 0 && st->del_start != NLPD__NONE) {
            rc = flush_copy(st);
            if (rc == 0)
                rc = flush_del(st);
        }
        if (rc != 0)
            return rc;
        if (st->copy_start == NLPD__NONE)
            st->copy_start = i;
        st->copy_end = i + len;
        st->copy_last = i;
        return 0;
    }
    if (st->unit_start == NLPD__NONE) {
        size_t start = i;
        if (st->copy_start != NLPD__NONE) {
            /* The unit takes the character before it along, and the
             * deletions between them. */
            assert(st->copy_end == (st->del_start != NLPD__NONE ? st->del_start : i));
            start = st->copy_last;
            st->copy_end = st->copy_last;
            rc = flush_copy(st);
        } else {
            /* Nothing before it to compose with. */
            rc = flush_del(st);
        }
        if (rc != 0)
            return rc;
        st->unit_start = start;
    }
    st->del_start = NLPD__NONE; /* deletions inside the unit */
    st->unit_end = i + len;
    return 0;
}

int
nlpd__normalize(nlpd__norm *nz, const char *text, size_t len)
{
    nz_state st = {
        .nz = nz,
        .s = (const uint8_t *)text,
        .copy_start = NLPD__NONE,
        .del_start = NLPD__NONE,
        .unit_start = NLPD__NONE,
        .ws_start = NLPD__NONE,
    };
    const uint8_t *s = st.s;
    int rc = nlpd__ibuf_reserve(nz->out, len);
    size_t i = 0;
    while (rc == 0 && i < len) {
        uint8_t c = s[i];
        if (is_graphic(c)) { /* the hot path */
            rc = close_unit(&st);
            if (rc == 0)
                rc = begin_content(&st);
            if (rc == 0 && st.del_start != NLPD__NONE) {
                rc = flush_copy(&st);
                if (rc == 0)
                    rc = flush_del(&st);
            }
            /* A single space or line break between two graphic characters
             * stays as it is, so the run goes on through it. */
            size_t j = i + 1;
            for (;;) {
                while (j < len && is_graphic(s[j]))
                    j++;
                if (j + 1 < len && (s[j] == ' ' || s[j] == '\n') && is_graphic(s[j + 1])) {
                    j += 2;
                    continue;
                }
                break;
            }
            if (st.copy_start == NLPD__NONE)
                st.copy_start = i;
            st.copy_end = j;
            st.copy_last = j - 1;
            i = j;
            continue;
        }
        if (c < 0x80) {
            size_t n = 1;
            unsigned breaks = 0;
            switch (c) {
            case ' ':
            case '\t':
                break;
            case '\n':
            case '\v':
            case '\f':
                breaks = 1;
                break;
            case '\r':
                breaks = 1;
                if (i + 1 < len && s[i + 1] == '\n')
                    n = 2;
                break;
            default: /* NUL, other C0 controls, DEL */
                nz->controls_removed++;
                break;
            }
            rc = end_content(&st);
            add_ws(&st, i, n, breaks);
            i += n;
            continue;
        }
        int32_t cp;
        size_t n = nlpd__utf8_decode(s + i, len - i, &cp);
        if (cp < 0) {
            if (nz->reject_invalid) {
                nz->error_offset = i;
                return NLPD_EUTF8;
            }
            nz->invalid_utf8++;
            rc = end_content(&st);
            if (rc == 0)
                rc = begin_content(&st);
            if (rc == 0)
                rc = emit_rewrite(&st, n, replacement, sizeof(replacement));
        } else {
            rc = step_non_ascii(&st, i, n, cp, utf8proc_get_property(cp));
        }
        i += n;
    }
    if (rc == 0)
        rc = end_content(&st);
    if (rc == 0 && st.ws_start != NLPD__NONE) /* trailing whitespace: dropped */
        rc = emit_rewrite(&st, st.ws_end - st.ws_start, NULL, 0);
    if (rc == 0)
        rc = nlpd__ibuf_terminate(nz->out);
    return rc;
}

int
nlpd__sanitize_utf8(nlpd__norm *nz, const char *in, size_t len)
{
    const uint8_t *s = (const uint8_t *)in;
    int rc = nlpd__ibuf_reserve(nz->out, len);
    size_t i = 0;
    while (rc == 0 && i < len) {
        size_t j = i;
        while (j < len && s[j] != 0 && s[j] < 0x80)
            j++;
        if (j > i) {
            rc = nlpd__ibuf_append(nz->out, s + i, j - i);
            i = j;
            continue;
        }
        if (s[i] == 0) {
            nz->controls_removed++;
            rc = nlpd__ibuf_append(nz->out, " ", 1);
            i++;
            continue;
        }
        int32_t cp;
        size_t n = nlpd__utf8_decode(s + i, len - i, &cp);
        if (cp >= 0) {
            rc = nlpd__ibuf_append(nz->out, s + i, n);
        } else if (nz->reject_invalid) {
            nz->error_offset = i;
            return NLPD_EUTF8;
        } else {
            nz->invalid_utf8++;
            rc = nlpd__ibuf_append(nz->out, replacement, sizeof(replacement));
        }
        i += n;
    }
    if (rc == 0)
        rc = nlpd__ibuf_terminate(nz->out);
    return rc;
}

void
nlpd__nfc_scratch_release(nlpd__nfc_scratch *s)
{
    nlpd_free(s->cps);
    nlpd_free(s->dec);
    nlpd_free(s->tmp);
    nlpd__ibuf_release(&s->kept);
    nlpd__ibuf_release(&s->nfc);
    memset(s, 0, sizeof(*s));
}
