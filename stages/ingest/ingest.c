/* stages/ingest/ingest.c — nlpd_ingest: one run from input bytes to a
 * normalized text with its offset map, layout regions, fields, content hash
 * and duplicate report.
 *
 * The other files do the parts: json.c and html.c read those formats,
 * normalize.c validates and normalizes, layout.c finds the regions,
 * dedup.c keeps the window of recent hashes.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ingest_internal.h"
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/ingest.h"

/* html.c: libxml2's one-time initialization. */
void nlpd__ingest_html_init(void);

int
nlpd__ibuf_reserve(nlpd__ibuf *b, size_t extra)
{
    if (extra >= SIZE_MAX - b->len - 1)
        return NLPD_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t n = b->cap ? b->cap : 256;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    char *p = nlpd_realloc(b->data, n);
    if (p == NULL)
        return NLPD_ENOMEM;
    b->data = p;
    b->cap = n;
    return 0;
}

int
nlpd__ibuf_append(nlpd__ibuf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = nlpd__ibuf_reserve(b, n);
    if (rc != 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int
nlpd__ibuf_terminate(nlpd__ibuf *b)
{
    int rc = nlpd__ibuf_reserve(b, 0);
    if (rc != 0)
        return rc;
    b->data[b->len] = '\0';
    return 0;
}

void
nlpd__ibuf_release(nlpd__ibuf *b)
{
    nlpd_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int
nlpd__ingest_fail(nlpd_ingest *self, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->last_error, sizeof(self->last_error), fmt, ap);
    va_end(ap);
    return rc;
}

int
nlpd__ingest_put_str(nlpd_ingest *self, const char *s, size_t n, size_t *off)
{
    size_t at = self->strs.len;
    int rc = nlpd__ibuf_reserve(&self->strs, n + 1);
    if (rc != 0)
        return rc;
    if (n > 0)
        memcpy(self->strs.data + at, s, n);
    self->strs.data[at + n] = '\0';
    self->strs.len = at + n + 1;
    *off = at;
    return 0;
}

int
nlpd__ingest_put_norm_str(nlpd_ingest *self, const char *s, size_t n, size_t *off)
{
    size_t at = self->strs.len;
    nlpd__norm nz = {.out = &self->strs, .nfc = &self->nfc};
    int rc = nlpd__normalize(&nz, s, n);
    if (rc != 0) {
        self->strs.len = at;
        return rc == NLPD_EINVAL ? NLPD_ENOMEM : rc;
    }
    if (self->strs.len == at)
        return 0; /* nothing left: the field stays absent */
    rc = nlpd__ibuf_append(&self->strs, "", 1);
    if (rc != 0) {
        self->strs.len = at;
        return rc;
    }
    *off = at;
    return 0;
}

int
nlpd__ingest_add_region(nlpd_ingest *self, uint32_t kind, size_t start, size_t end)
{
    assert(start < end && end <= self->norm.len);
    size_t max = self->opts.max_regions;
    if (max > 0 && self->n_regions >= max) {
        nlpd_region *last = &self->regions[self->n_regions - 1];
        last->end = (uint32_t)end;
        last->kind = NLPD_REGION_BODY; /* running text, whatever it was */
        return 0;
    }
    int rc = nlpd_grow((void **)&self->regions, &self->regions_cap, self->n_regions + 1,
                        sizeof(*self->regions));
    if (rc != 0)
        return rc;
    self->regions[self->n_regions++] = (nlpd_region){kind, (uint32_t)start, (uint32_t)end};
    return 0;
}

int
nlpd_ingest_new(nlpd_ingest **out, const nlpd_ingest_opts *opts)
{
    if (out == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    nlpd_ingest_opts o = NLPD_INGEST_OPTS_INIT;
    if (opts != NULL)
        o = *opts;
    if (o.invalid_utf8 != NLPD_INGEST_UTF8_REPLACE && o.invalid_utf8 != NLPD_INGEST_UTF8_REJECT)
        return NLPD_EINVAL;
    nlpd_ingest *self = nlpd_calloc(1, sizeof(*self));
    if (self == NULL)
        return NLPD_ENOMEM;
    self->opts = o;
    self->map = (nlpd_offmap_builder)NLPD_OFFMAP_BUILDER_INIT;
    int rc = nlpd__dedup_init(&self->dedup, o.dedup_window, o.dedup_max_age_us);
    if (rc != 0) {
        nlpd_free(self);
        return rc;
    }
    /* Both are idempotent and thread-safe. BLAKE2b works without
     * sodium_init() (which only picks a faster implementation), so its
     * result does not matter here. */
    int sodium_rc = sodium_init();
    (void)sodium_rc;
    nlpd__ingest_html_init();
    *out = self;
    return 0;
}

void
nlpd_ingest_free(nlpd_ingest **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_ingest *self = *self_p;
    nlpd__ibuf_release(&self->text);
    nlpd__ibuf_release(&self->norm);
    nlpd__ibuf_release(&self->strs);
    nlpd__ibuf_release(&self->scratch);
    nlpd_offmap_builder_release(&self->map);
    nlpd__nfc_scratch_release(&self->nfc);
    nlpd_free(self->regions);
    nlpd_free(self->headings);
    nlpd__dedup_release(&self->dedup);
    nlpd_free(self);
    *self_p = NULL;
}

const char *
nlpd_ingest_last_error(const nlpd_ingest *self)
{
    return self != NULL ? self->last_error : "";
}

static void
reset_run(nlpd_ingest *self)
{
    self->text.len = 0;
    self->norm.len = 0;
    self->strs.len = 0;
    self->scratch.len = 0;
    nlpd_offmap_builder_reset(&self->map);
    self->n_regions = 0;
    self->n_headings = 0;
    self->found =
        (nlpd__fields){NLPD__NONE, NLPD__NONE, NLPD__NONE, NLPD__NONE, NLPD__NONE, NLPD__NONE};
    self->headline_start = self->headline_end = NLPD__NONE;
    self->lede_start = self->lede_end = NLPD__NONE;
    self->source_start = self->source_end = NLPD__NONE;
    self->invalid_utf8 = 0;
    self->controls_removed = 0;
    self->last_error[0] = '\0';
}

/* Skips a UTF-8 BOM and ASCII whitespace; returns the offset reached. */
static size_t
skip_lead(const char *in, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r'))
        i++;
    return i;
}

/* Reads the input into self->text as `*fmt` says, detecting the format
 * first when it is NLPD_FORMAT_DETECT (the feed layout is told from plain
 * text only after normalization). */
static int
read_input(nlpd_ingest *self, const char *in, size_t len, nlpd_format *fmt)
{
    int rc;
    if (*fmt == NLPD_FORMAT_DETECT) {
        size_t lead = skip_lead(in, len);
        if (lead < len && in[lead] == '{') {
            rc = nlpd__ingest_json_read(self, in, len, 0);
            if (rc <= 0) {
                if (rc == 0)
                    *fmt = NLPD_FORMAT_JSON;
                return rc;
            }
        }
        *fmt = nlpd__ingest_html_detect(in, len) ? NLPD_FORMAT_HTML : NLPD_FORMAT_TEXT;
    } else if (*fmt == NLPD_FORMAT_JSON) {
        return nlpd__ingest_json_read(self, in, len, 1);
    }
    if (*fmt == NLPD_FORMAT_HTML)
        return nlpd__ingest_html_read(self, in, len);
    rc = nlpd__ibuf_append(&self->text, in, len);
    if (rc == 0)
        rc = nlpd__ibuf_terminate(&self->text);
    return rc;
}

static int
normalize_text(nlpd_ingest *self, nlpd_format fmt, int *changed)
{
    nlpd__norm nz = {
        .out = &self->norm,
        .map = &self->map,
        .nfc = &self->nfc,
        /* HTML input was checked before libxml2 saw it. */
        .reject_invalid =
            fmt != NLPD_FORMAT_HTML && self->opts.invalid_utf8 == NLPD_INGEST_UTF8_REJECT,
    };
    int rc = nlpd__normalize(&nz, self->text.data, self->text.len);
    if (rc == NLPD_EUTF8)
        return nlpd__ingest_fail(self, rc, "invalid UTF-8 at byte %zu of the %s", nz.error_offset,
                                 fmt == NLPD_FORMAT_JSON ? "text field" : "input");
    if (rc == NLPD_EINVAL)
        return nlpd__ingest_fail(self, rc, "the normalized text exceeds 4 GiB");
    if (rc == 0)
        rc = nlpd_offmap_finish(&self->map);
    if (rc != 0)
        return rc;
    self->invalid_utf8 += nz.invalid_utf8;
    self->controls_removed += nz.controls_removed;
    *changed = nz.changed;
    return 0;
}

static int
layout(nlpd_ingest *self, nlpd_format fmt)
{
    switch (fmt) {
    case NLPD_FORMAT_FEED:
        return nlpd__ingest_layout_feed(self);
    case NLPD_FORMAT_HTML:
        return nlpd__ingest_layout_html(self);
    default:
        return nlpd__ingest_layout_text(self);
    }
}

static int
nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* Settles the result strings: given ones win over found ones, found ones
 * over the layout's headline, standfirst and source line. */
static int
settle_fields(nlpd_ingest *self, const nlpd_ingest_meta *meta, const char *hash_hex,
              nlpd__fields *f)
{
    *f = self->found;
    const char *norm = self->norm.data;
    int rc = 0;
    if (meta != NULL && nonempty(meta->title)) {
        size_t off = NLPD__NONE;
        rc = nlpd__ingest_put_norm_str(self, meta->title, strlen(meta->title), &off);
        if (off != NLPD__NONE)
            f->title = off;
    }
    if (rc == 0 && f->title == NLPD__NONE && self->headline_start != NLPD__NONE)
        rc = nlpd__ingest_put_str(self, norm + self->headline_start,
                                  self->headline_end - self->headline_start, &f->title);
    if (rc == 0 && f->lede == NLPD__NONE && self->lede_start != NLPD__NONE)
        rc = nlpd__ingest_put_str(self, norm + self->lede_start, self->lede_end - self->lede_start,
                                  &f->lede);
    if (rc == 0 && f->source == NLPD__NONE && self->source_start != NLPD__NONE)
        rc = nlpd__ingest_put_str(self, norm + self->source_start,
                                  self->source_end - self->source_start, &f->source);
    if (rc == 0 && meta != NULL && nonempty(meta->id))
        rc = nlpd__ingest_put_str(self, meta->id, strlen(meta->id), &f->id);
    if (rc == 0 && f->id == NLPD__NONE)
        rc = nlpd__ingest_put_str(self, hash_hex, 32, &f->id);
    return rc;
}

static const char *
str_at(const nlpd_ingest *self, size_t off)
{
    return off == NLPD__NONE ? NULL : self->strs.data + off;
}

int
nlpd_ingest_run(nlpd_ingest *self, const char *input, size_t len, nlpd_format format,
                const nlpd_ingest_meta *meta, uint64_t now_us, nlpd_ingest_result *out)
{
    if (self == NULL)
        return NLPD_EINVAL;
    reset_run(self);
    if (out == NULL || (input == NULL && len > 0))
        return nlpd__ingest_fail(self, NLPD_EINVAL, "no input or no result given");
    if (len >= UINT32_MAX)
        return nlpd__ingest_fail(self, NLPD_EINVAL,
                                 "input of %zu bytes is too large: offsets are limited to 4 GiB",
                                 len);
    if ((int)format < NLPD_FORMAT_DETECT || (int)format > NLPD_FORMAT_HTML)
        return nlpd__ingest_fail(self, NLPD_EINVAL, "unknown input format %d", (int)format);
    if (input == NULL)
        input = "";

    nlpd_format fmt = format;
    int rc = read_input(self, input, len, &fmt);
    int changed = 0;
    if (rc == 0)
        rc = normalize_text(self, fmt, &changed);
    if (rc == 0 && format == NLPD_FORMAT_DETECT && fmt == NLPD_FORMAT_TEXT &&
        nlpd__ingest_feed_detect(self->norm.data, self->norm.len))
        fmt = NLPD_FORMAT_FEED;
    if (rc == 0)
        rc = layout(self, fmt);
    if (rc != 0)
        goto fail;

    uint8_t hash[16];
    char hex[33];
    crypto_generichash(hash, sizeof(hash), (const unsigned char *)self->norm.data,
                       (unsigned long long)self->norm.len, NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));

    nlpd__fields f;
    rc = settle_fields(self, meta, hex, &f);
    if (rc != 0)
        goto fail;

    /* From here on strs no longer moves. */
    const char *key = meta != NULL ? meta->key : NULL;
    const char *id = str_at(self, f.id);
    const char *dup_key = NULL, *dup_id = NULL;
    if (self->norm.len > 0) {
        rc = nlpd__dedup_prepare(&self->dedup, key, id);
        if (rc != 0)
            goto fail;
        nlpd__dedup_commit(&self->dedup, hash, key, id, now_us, &dup_key, &dup_id);
    }

    memset(out, 0, sizeof(*out));
    out->format = fmt;
    out->format_detected = format == NLPD_FORMAT_DETECT;
    out->text = self->text.data != NULL ? self->text.data : "";
    out->text_len = self->text.len;
    out->norm_is_text = !changed;
    out->norm = out->norm_is_text ? out->text : self->norm.data;
    out->norm_len = self->norm.len;
    assert(changed || self->map.n == 0);
    if (self->map.n > 0) {
        out->map_norm = self->map.norm;
        out->map_orig = self->map.orig;
        out->map_len = self->map.n;
    }
    out->regions = self->regions;
    out->n_regions = self->n_regions;
    out->id = id;
    out->title = str_at(self, f.title);
    out->lede = str_at(self, f.lede);
    out->source = str_at(self, f.source);
    out->url = str_at(self, f.url);
    out->published = str_at(self, f.published);
    out->invalid_utf8 = self->invalid_utf8;
    out->controls_removed = self->controls_removed;
    memcpy(out->content_hash, hex, sizeof(out->content_hash));
    out->duplicate_of_key = dup_id != NULL ? dup_key : NULL;
    out->duplicate_of_id = dup_id;
    return 0;

fail:
    if (self->last_error[0] == '\0')
        nlpd__ingest_fail(self, rc, "%s", nlpd_strerror(rc));
    return rc;
}
