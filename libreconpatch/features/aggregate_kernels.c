/* Loops of the patch aggregation, portable and AVX-512. The AVX-512 versions work on 16 pixels
 * (or patches) per register with masks for the row ends and the zero padding: a masked-off lane
 * adds +0, which leaves every sum unchanged, so each output value sees the same additions and
 * multiplications in the same order as in the portable loops. They call no SSE-encoded code (on
 * Intel cores SSE instructions between 512-bit ones are very slow); the helpers are inlined. */
#include "features/aggregate_kernels.h"

#include <string.h>

#include "common/common.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RP_AGG_HAVE_AVX512 1
#endif

/* Walks unfolded indices j = (c, ky, kx) upward without a division per step. */
typedef struct {
    uint64_t c;
    uint32_t ky, kx;
} unfold_pos;

static inline __attribute__((always_inline)) unfold_pos unfold_at(uint64_t j, uint32_t p)
{
    const uint64_t window = (uint64_t)p * p, k = j % window;
    return (unfold_pos){j / window, (uint32_t)(k / p), (uint32_t)(k % p)};
}

static inline __attribute__((always_inline)) void unfold_next(unfold_pos *u, uint32_t p)
{
    if (++u->kx == p) {
        u->kx = 0;
        if (++u->ky == p) {
            u->ky = 0;
            u->c++;
        }
    }
}

/* ---- portable versions ---- */

static void pool_bin_portable(const float *map, uint32_t h, uint32_t p, uint64_t start, uint64_t end, float *out)
{
    const int64_t pad = (int64_t)(p - 1) / 2, hh = h;
    const float scale = 1.0f / (float)(end - start);
    for (int64_t y = 0; y < hh; y++) {
        float *o = out + y * hh;
        for (int64_t x = 0; x < hh; x++) o[x] = 0.0f;
        unfold_pos u = unfold_at(start, p);
        for (uint64_t j = start; j < end; j++, unfold_next(&u, p)) {
            const int64_t sy = y + (int64_t)u.ky - pad, dx = (int64_t)u.kx - pad;
            if (sy < 0 || sy >= hh) continue;
            const float *s = map + (u.c * hh + sy) * hh + dx;
            const int64_t x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? hh - dx : hh;
            for (int64_t x = x0; x < x1; x++) o[x] += s[x];
        }
        for (int64_t x = 0; x < hh; x++) o[x] *= scale;
    }
}

static void upsample_plane_portable(const float *in, uint32_t h_in, uint32_t h_out, const uint32_t *lo,
                                    const uint32_t *hi, const float *frac, float *rows, float *out)
{
    for (uint32_t sy = 0; sy < h_in; sy++) {
        const float *r = in + (uint64_t)sy * h_in;
        for (uint32_t x = 0; x < h_out; x++) {
            const float wx1 = frac[x], wx0 = 1.0f - wx1;
            rows[(uint64_t)sy * h_out + x] = wx0 * r[lo[x]] + wx1 * r[hi[x]];
        }
    }
    for (uint32_t y = 0; y < h_out; y++) {
        const float *r0 = rows + (uint64_t)lo[y] * h_out, *r1 = rows + (uint64_t)hi[y] * h_out;
        const float wy1 = frac[y], wy0 = 1.0f - wy1;
        for (uint32_t x = 0; x < h_out; x++) out[(uint64_t)y * h_out + x] = wy0 * r0[x] + wy1 * r1[x];
    }
}

static void merge_block_portable(const float *planes, uint64_t first_plane, uint64_t stacked, uint32_t f0,
                                 uint32_t f1, uint32_t feature_dim, uint64_t npix, float *out)
{
    for (uint32_t f = f0; f < f1; f++) {
        uint64_t start, end;
        rp__features_adaptive_bin(f, stacked, feature_dim, &start, &end);
        const float scale = 1.0f / (float)(end - start);
        for (uint64_t p = 0; p < npix; p++) {
            float acc = 0.0f;
            for (uint64_t j = start; j < end; j++) acc += planes[(j - first_plane) * npix + p];
            out[p * feature_dim + f] = acc * scale;
        }
    }
}

/* ---- AVX-512 versions ---- */

#ifdef RP_AGG_HAVE_AVX512
/* Lanes [lo, hi) of 16, clamped. */
static inline __attribute__((always_inline)) __mmask16 lanes(int64_t lo, int64_t hi)
{
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* Tap by tap (ascending j), each tap's shifted plane added onto an accumulator plane that stays
 * in L1; per output value that is 0 + the taps in order, as in the portable loop. The
 * accumulator rows are padded to whole registers (plain loads and stores: a load from a masked
 * store stalls), so this path takes maps up to 32 x 32 (layer2 and layer3 are 28 and 14). */
enum { POOL_MAX_SIDE = 32 };

__attribute__((target("avx512f"))) static void pool_bin_avx512(const float *map, uint32_t h, uint32_t p,
                                                               uint64_t start, uint64_t end, float *out)
{
    const int64_t pad = (int64_t)(p - 1) / 2, hh = h;
    _Alignas(64) float acc[POOL_MAX_SIDE * POOL_MAX_SIDE];
    for (int64_t i = 0; i < hh * POOL_MAX_SIDE; i += 16) _mm512_store_ps(acc + i, _mm512_setzero_ps());
    unfold_pos u = unfold_at(start, p);
    for (uint64_t j = start; j < end; j++, unfold_next(&u, p)) {
        const int64_t dy = (int64_t)u.ky - pad, dx = (int64_t)u.kx - pad;
        const int64_t y0 = dy < 0 ? -dy : 0, y1 = dy > 0 ? hh - dy : hh;
        const float *plane = map + u.c * hh * hh;
        for (int64_t xb = 0; xb < hh; xb += 16) {
            /* output x reads source x + dx, which must lie in [0, h); masked-off lanes are never read */
            const __mmask16 m = lanes(0, hh - xb) & lanes(-dx - xb, hh - dx - xb);
            for (int64_t y = y0; y < y1; y++) {
                float *a = acc + y * POOL_MAX_SIDE + xb;
                _mm512_store_ps(a, _mm512_add_ps(_mm512_load_ps(a),
                                                 _mm512_maskz_loadu_ps(m, plane + (y + dy) * hh + xb + dx)));
            }
        }
    }
    const __m512 scale = _mm512_set1_ps(1.0f / (float)(end - start));
    for (int64_t y = 0; y < hh; y++)
        for (int64_t xb = 0; xb < hh; xb += 16)
            _mm512_mask_storeu_ps(out + y * hh + xb, lanes(0, hh - xb),
                                  _mm512_mul_ps(_mm512_load_ps(acc + y * POOL_MAX_SIDE + xb), scale));
}

__attribute__((target("avx512f"))) static void upsample_plane_avx512(const float *in, uint32_t h_in,
                                                                     uint32_t h_out, const uint32_t *lo,
                                                                     const uint32_t *hi, const float *frac,
                                                                     float *rows, float *out)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (uint32_t sy = 0; sy < h_in; sy++) {
        const float *r = in + (uint64_t)sy * h_in;
        float *dst = rows + (uint64_t)sy * h_out;
        if (h_in > 16) { /* taps beyond one register: one pixel at a time */
            for (uint32_t x = 0; x < h_out; x++) {
                const float wx1 = frac[x], wx0 = 1.0f - wx1;
                dst[x] = wx0 * r[lo[x]] + wx1 * r[hi[x]];
            }
            continue;
        }
        const __m512 row = _mm512_maskz_loadu_ps(lanes(0, h_in), r);
        for (uint32_t xb = 0; xb < h_out; xb += 16) {
            const __mmask16 m = lanes(0, (int64_t)h_out - xb);
            const __m512i i0 = _mm512_maskz_loadu_epi32(m, lo + xb), i1 = _mm512_maskz_loadu_epi32(m, hi + xb);
            const __m512 wx1 = _mm512_maskz_loadu_ps(m, frac + xb), wx0 = _mm512_sub_ps(one, wx1);
            const __m512 v = _mm512_add_ps(_mm512_mul_ps(wx0, _mm512_permutexvar_ps(i0, row)),
                                           _mm512_mul_ps(wx1, _mm512_permutexvar_ps(i1, row)));
            _mm512_mask_storeu_ps(dst + xb, m, v);
        }
    }
    for (uint32_t y = 0; y < h_out; y++) {
        const float *r0 = rows + (uint64_t)lo[y] * h_out, *r1 = rows + (uint64_t)hi[y] * h_out;
        const __m512 wy1 = _mm512_set1_ps(frac[y]), wy0 = _mm512_set1_ps(1.0f - frac[y]);
        for (uint32_t xb = 0; xb < h_out; xb += 16) {
            const __mmask16 m = lanes(0, (int64_t)h_out - xb);
            const __m512 v = _mm512_add_ps(_mm512_mul_ps(wy0, _mm512_maskz_loadu_ps(m, r0 + xb)),
                                           _mm512_mul_ps(wy1, _mm512_maskz_loadu_ps(m, r1 + xb)));
            _mm512_mask_storeu_ps(out + (uint64_t)y * h_out + xb, m, v);
        }
    }
}

/* In-register transpose of a 16 x 16 float tile: r[i] holds row i on entry, column i on exit.
 * 32-bit then 64-bit interleaves make 4 x 4 blocks within each 128-bit lane; two rounds of
 * 128-bit lane shuffles put the blocks in place. */
__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void transpose16(__m512 r[16])
{
    __m512 t[16], u[16], v[16];
    for (int g = 0; g < 4; g++) {
        t[4 * g + 0] = _mm512_unpacklo_ps(r[4 * g + 0], r[4 * g + 1]);
        t[4 * g + 1] = _mm512_unpackhi_ps(r[4 * g + 0], r[4 * g + 1]);
        t[4 * g + 2] = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
        t[4 * g + 3] = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
    }
    for (int g = 0; g < 4; g++) { /* u[4g + c], lane k: column 4k + c of rows 4g..4g+3 */
        const __m512d t0 = _mm512_castps_pd(t[4 * g + 0]), t1 = _mm512_castps_pd(t[4 * g + 1]);
        const __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    for (int c = 0; c < 4; c++) { /* lanes 0, 2 (v[c]) and 1, 3 (v[4 + c]) of row groups 0 | 1, likewise 2 | 3 */
        v[c] = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
        v[4 + c] = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
        v[8 + c] = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        v[12 + c] = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm512_shuffle_f32x4(v[c], v[8 + c], 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(v[c], v[8 + c], 0xdd);
        r[4 + c] = _mm512_shuffle_f32x4(v[4 + c], v[12 + c], 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(v[4 + c], v[12 + c], 0xdd);
    }
}

/* 16 patches x (f1 - f0) features per step; full 16 x 16 tiles are transposed in registers so
 * that each patch's 16 features are stored as one contiguous row, partial ones through memory. */
__attribute__((target("avx512f"))) static void merge_block_avx512(const float *planes, uint64_t first_plane,
                                                                  uint64_t stacked, uint32_t f0, uint32_t f1,
                                                                  uint32_t feature_dim, uint64_t npix, float *out)
{
    uint64_t start[RP__FEATURES_MERGE_BLOCK], end[RP__FEATURES_MERGE_BLOCK];
    float scale[RP__FEATURES_MERGE_BLOCK];
    const uint32_t nf = f1 - f0;
    for (uint32_t i = 0; i < nf; i++) {
        rp__features_adaptive_bin(f0 + i, stacked, feature_dim, &start[i], &end[i]);
        scale[i] = 1.0f / (float)(end[i] - start[i]);
    }
    for (uint64_t pb = 0; pb < npix; pb += 16) {
        const __mmask16 m = lanes(0, (int64_t)(npix - pb));
        __m512 r[16];
        for (uint32_t i = 0; i < 16; i++) {
            __m512 acc = _mm512_setzero_ps();
            if (i < nf)
                for (uint64_t j = start[i]; j < end[i]; j++)
                    acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, planes + (j - first_plane) * npix + pb));
            r[i] = i < nf ? _mm512_mul_ps(acc, _mm512_set1_ps(scale[i])) : acc;
        }
        const uint64_t count = npix - pb < 16 ? npix - pb : 16;
        if (nf == 16 && count == 16) {
            transpose16(r);
            for (uint32_t l = 0; l < 16; l++) _mm512_storeu_ps(out + (pb + l) * feature_dim + f0, r[l]);
            continue;
        }
        float tile[16][16];
        for (uint32_t i = 0; i < 16; i++) _mm512_storeu_ps(tile[i], r[i]);
        for (uint64_t l = 0; l < count; l++)
            for (uint32_t i = 0; i < nf; i++) out[(pb + l) * feature_dim + f0 + i] = tile[i][l];
    }
}
#endif

void rp__features_pool_bin(const float *map, uint32_t h, uint32_t p, uint64_t start, uint64_t end, float *out)
{
#ifdef RP_AGG_HAVE_AVX512
    if (h <= POOL_MAX_SIDE && rp__cpu_use_avx512()) {
        pool_bin_avx512(map, h, p, start, end, out);
        return;
    }
#endif
    pool_bin_portable(map, h, p, start, end, out);
}

void rp__features_upsample_plane(const float *in, uint32_t h_in, uint32_t h_out, const uint32_t *lo,
                                 const uint32_t *hi, const float *frac, float *rows, float *out)
{
#ifdef RP_AGG_HAVE_AVX512
    if (rp__cpu_use_avx512()) {
        upsample_plane_avx512(in, h_in, h_out, lo, hi, frac, rows, out);
        return;
    }
#endif
    upsample_plane_portable(in, h_in, h_out, lo, hi, frac, rows, out);
}

void rp__features_merge_block(const float *planes, uint64_t first_plane, uint64_t stacked, uint32_t f0,
                              uint32_t f1, uint32_t feature_dim, uint64_t npix, float *out)
{
#ifdef RP_AGG_HAVE_AVX512
    if (rp__cpu_use_avx512()) {
        merge_block_avx512(planes, first_plane, stacked, f0, f1, feature_dim, npix, out);
        return;
    }
#endif
    merge_block_portable(planes, first_plane, stacked, f0, f1, feature_dim, npix, out);
}
