/* Loops of the patch aggregation, portable, AVX-512 and AVX2 + FMA. The AVX-512 versions work on
 * 16 pixels (or patches) per register, the AVX2 ones on 8, with masks for the row ends and the
 * zero padding: a masked-off lane adds +0, which leaves every sum unchanged (no sum here is ever
 * -0), so each output value sees the same additions and multiplications in the same order as in
 * the portable loops; no fused multiply-add. They call no SSE-encoded code (on Intel cores SSE
 * instructions between 512-bit ones are very slow); the helpers are inlined. */
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

/* ---- pieces shared by the vector merges (forced inline: they get each one's encoding) ---- */

/* Bins [start, end) and 1 / (bin size) of features [f0, f1); returns f1 - f0. */
static inline __attribute__((always_inline)) uint32_t merge_bins(uint32_t f0, uint32_t f1, uint64_t stacked,
                                                                 uint32_t feature_dim, uint64_t *start, uint64_t *end,
                                                                 float *scale)
{
    for (uint32_t i = 0; i < f1 - f0; i++) {
        rp__features_adaptive_bin(f0 + i, stacked, feature_dim, &start[i], &end[i]);
        scale[i] = 1.0f / (float)(end[i] - start[i]);
    }
    return f1 - f0;
}

/* A partial block through memory: tile[i * lanes + l], feature i of patch l, to out[l *
 * feature_dim + i] for the first nf features of the first count patches. */
static inline __attribute__((always_inline)) void scatter_tile(const float *tile, uint32_t lanes, uint32_t nf,
                                                               uint64_t count, float *out, uint32_t feature_dim)
{
    for (uint64_t l = 0; l < count; l++)
        for (uint32_t i = 0; i < nf; i++) out[l * feature_dim + i] = tile[i * lanes + l];
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
enum { POOL_MAX_SIDE = RP__FEATURES_POOL_MAX_SIDE };

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
    const uint32_t nf = merge_bins(f0, f1, stacked, feature_dim, start, end, scale);
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
        scatter_tile(tile[0], 16, nf, count, out + pb * feature_dim + f0, feature_dim);
    }
}
#endif

/* ---- AVX2 + FMA versions ----
 * vmaskmovps loads stand in for AVX-512's masked loads (masked-off lanes read +0 and never fault);
 * partial stores are scalar, with the portable formula, instead of slow masked stores. */

#ifdef RP_AGG_HAVE_AVX512
/* Lanes [lo, hi) of 8, clamped, as a vmaskmovps mask. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) __m256i lanes8(int64_t lo,
                                                                                                 int64_t hi)
{
    lo = lo < 0 ? 0 : lo > 8 ? 8 : lo;
    hi = hi < 0 ? 0 : hi > 8 ? 8 : hi;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32((int)lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), lane));
}

/* As pool_bin_avx512: tap by tap onto an L1-resident accumulator plane, maps up to 32 x 32. */
__attribute__((target("avx2,fma"))) static void pool_bin_avx2(const float *map, uint32_t h, uint32_t p,
                                                              uint64_t start, uint64_t end, float *out)
{
    const int64_t pad = (int64_t)(p - 1) / 2, hh = h, hh8 = hh & ~(int64_t)7;
    _Alignas(32) float acc[POOL_MAX_SIDE * POOL_MAX_SIDE];
    for (int64_t i = 0; i < hh * POOL_MAX_SIDE; i += 8) _mm256_store_ps(acc + i, _mm256_setzero_ps());
    unfold_pos u = unfold_at(start, p);
    for (uint64_t j = start; j < end; j++, unfold_next(&u, p)) {
        const int64_t dy = (int64_t)u.ky - pad, dx = (int64_t)u.kx - pad;
        const int64_t y0 = dy < 0 ? -dy : 0, y1 = dy > 0 ? hh - dy : hh;
        const float *plane = map + u.c * hh * hh;
        for (int64_t xb = 0; xb < hh; xb += 8) {
            /* output x reads source x + dx, which must lie in [0, h); masked-off lanes are never read */
            const __m256i m = _mm256_and_si256(lanes8(0, hh - xb), lanes8(-dx - xb, hh - dx - xb));
            for (int64_t y = y0; y < y1; y++) {
                float *a = acc + y * POOL_MAX_SIDE + xb;
                _mm256_store_ps(a, _mm256_add_ps(_mm256_load_ps(a),
                                                 _mm256_maskload_ps(plane + (y + dy) * hh + xb + dx, m)));
            }
        }
    }
    const float scale = 1.0f / (float)(end - start);
    for (int64_t y = 0; y < hh; y++) {
        const float *a = acc + y * POOL_MAX_SIDE;
        for (int64_t xb = 0; xb < hh8; xb += 8)
            _mm256_storeu_ps(out + y * hh + xb, _mm256_mul_ps(_mm256_load_ps(a + xb), _mm256_set1_ps(scale)));
        for (int64_t x = hh8; x < hh; x++) out[y * hh + x] = a[x] * scale;
    }
}

/* Lane i: lo8[idx[i]] for idx[i] < 8, else hi8[idx[i] - 8] (a 16-float row in two registers). */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) __m256 pick16(__m256 lo8, __m256 hi8,
                                                                                                __m256i idx)
{
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo8, idx), _mm256_permutevar8x32_ps(hi8, idx),
                            _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7))));
}

__attribute__((target("avx2,fma"))) static void upsample_plane_avx2(const float *in, uint32_t h_in, uint32_t h_out,
                                                                    const uint32_t *lo, const uint32_t *hi,
                                                                    const float *frac, float *rows, float *out)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    const uint32_t h_out8 = h_out & ~7u;
    for (uint32_t sy = 0; sy < h_in; sy++) {
        const float *r = in + (uint64_t)sy * h_in;
        float *dst = rows + (uint64_t)sy * h_out;
        uint32_t x = 0;
        if (h_in <= 16) { /* the source row fits two registers: 8 pixels per step */
            const __m256 lo8 = _mm256_maskload_ps(r, lanes8(0, h_in)),
                         hi8 = _mm256_maskload_ps(r + 8, lanes8(0, (int64_t)h_in - 8));
            for (; x < h_out8; x += 8) {
                const __m256i i0 = _mm256_loadu_si256((const __m256i *)(lo + x)),
                              i1 = _mm256_loadu_si256((const __m256i *)(hi + x));
                const __m256 wx1 = _mm256_loadu_ps(frac + x), wx0 = _mm256_sub_ps(one, wx1);
                const __m256 v = _mm256_add_ps(_mm256_mul_ps(wx0, pick16(lo8, hi8, i0)),
                                               _mm256_mul_ps(wx1, pick16(lo8, hi8, i1)));
                _mm256_storeu_ps(dst + x, v);
            }
        }
        for (; x < h_out; x++) {
            const float wx1 = frac[x], wx0 = 1.0f - wx1;
            dst[x] = wx0 * r[lo[x]] + wx1 * r[hi[x]];
        }
    }
    for (uint32_t y = 0; y < h_out; y++) {
        const float *r0 = rows + (uint64_t)lo[y] * h_out, *r1 = rows + (uint64_t)hi[y] * h_out;
        float *dst = out + (uint64_t)y * h_out;
        const float wy1 = frac[y], wy0 = 1.0f - wy1;
        const __m256 v1 = _mm256_set1_ps(wy1), v0 = _mm256_set1_ps(wy0);
        for (uint32_t x = 0; x < h_out8; x += 8)
            _mm256_storeu_ps(dst + x, _mm256_add_ps(_mm256_mul_ps(v0, _mm256_loadu_ps(r0 + x)),
                                                    _mm256_mul_ps(v1, _mm256_loadu_ps(r1 + x))));
        for (uint32_t x = h_out8; x < h_out; x++) dst[x] = wy0 * r0[x] + wy1 * r1[x];
    }
}

/* In-register transpose of an 8 x 8 float tile: r[i] holds row i on entry, column i on exit.
 * 32-bit interleaves, then 64-bit shuffles make 4 x 4 blocks within each 128-bit lane; one
 * round of 128-bit lane permutes puts the blocks in place. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int g = 0; g < 2; g++) {
        t[4 * g + 0] = _mm256_unpacklo_ps(r[4 * g + 0], r[4 * g + 1]);
        t[4 * g + 1] = _mm256_unpackhi_ps(r[4 * g + 0], r[4 * g + 1]);
        t[4 * g + 2] = _mm256_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
        t[4 * g + 3] = _mm256_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
    }
    for (int g = 0; g < 2; g++) { /* u[4g + c]: columns c (low lane) and c + 4 (high lane) of rows 4g..4g+3 */
        u[4 * g + 0] = _mm256_shuffle_ps(t[4 * g + 0], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g + 0], t[4 * g + 2], 0xEE);
        u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* 8 patches x (f1 - f0) features per step; with a full block, two 8 x 8 tiles (features 0-7 and
 * 8-15) are transposed in registers so that each patch's 16 features are stored contiguously,
 * partial blocks go through memory. */
__attribute__((target("avx2,fma"))) static void merge_block_avx2(const float *planes, uint64_t first_plane,
                                                                 uint64_t stacked, uint32_t f0, uint32_t f1,
                                                                 uint32_t feature_dim, uint64_t npix, float *out)
{
    uint64_t start[RP__FEATURES_MERGE_BLOCK], end[RP__FEATURES_MERGE_BLOCK];
    float scale[RP__FEATURES_MERGE_BLOCK];
    const uint32_t nf = merge_bins(f0, f1, stacked, feature_dim, start, end, scale);
    for (uint64_t pb = 0; pb < npix; pb += 8) {
        const uint64_t count = npix - pb < 8 ? npix - pb : 8;
        const __m256i m = lanes8(0, (int64_t)count);
        __m256 r[16];
        for (uint32_t i = 0; i < 16; i++) {
            __m256 acc = _mm256_setzero_ps();
            if (i < nf)
                for (uint64_t j = start[i]; j < end[i]; j++)
                    acc = _mm256_add_ps(acc, _mm256_maskload_ps(planes + (j - first_plane) * npix + pb, m));
            r[i] = i < nf ? _mm256_mul_ps(acc, _mm256_set1_ps(scale[i])) : acc;
        }
        if (nf == 16 && count == 8) {
            transpose8(r);
            transpose8(r + 8);
            for (uint32_t l = 0; l < 8; l++) {
                _mm256_storeu_ps(out + (pb + l) * feature_dim + f0, r[l]);
                _mm256_storeu_ps(out + (pb + l) * feature_dim + f0 + 8, r[8 + l]);
            }
            continue;
        }
        float tile[16][8];
        for (uint32_t i = 0; i < 16; i++) _mm256_storeu_ps(tile[i], r[i]);
        scatter_tile(tile[0], 8, nf, count, out + pb * feature_dim + f0, feature_dim);
    }
}
#endif

static const rp__features_kernel_set sets[RP__ISA_COUNT] = {
    [RP__ISA_PORTABLE] = {pool_bin_portable, upsample_plane_portable, merge_block_portable},
#ifdef RP_AGG_HAVE_AVX512
    [RP__ISA_AVX2] = {pool_bin_avx2, upsample_plane_avx2, merge_block_avx2},
    [RP__ISA_AVX512] = {pool_bin_avx512, upsample_plane_avx512, merge_block_avx512},
#endif
};

const rp__features_kernel_set *rp__features_kernels_for(rp__isa isa)
{
    if ((unsigned)isa >= RP__ISA_COUNT || !sets[isa].merge_block || !rp__cpu_can_run(isa)) return NULL;
    return &sets[isa];
}

/* The set the switches choose (common/cpu.c); one that this build lacks falls back to portable. */
static const rp__features_kernel_set *chosen(void)
{
    const rp__isa isa = rp__cpu_isa();
    return sets[isa].merge_block ? &sets[isa] : &sets[RP__ISA_PORTABLE];
}

void rp__features_pool_bin(const float *map, uint32_t h, uint32_t p, uint64_t start, uint64_t end, float *out)
{
    (h <= RP__FEATURES_POOL_MAX_SIDE ? chosen() : &sets[RP__ISA_PORTABLE])->pool_bin(map, h, p, start, end, out);
}

void rp__features_upsample_plane(const float *in, uint32_t h_in, uint32_t h_out, const uint32_t *lo,
                                 const uint32_t *hi, const float *frac, float *rows, float *out)
{
    chosen()->upsample_plane(in, h_in, h_out, lo, hi, frac, rows, out);
}

void rp__features_merge_block(const float *planes, uint64_t first_plane, uint64_t stacked, uint32_t f0,
                              uint32_t f1, uint32_t feature_dim, uint64_t npix, float *out)
{
    chosen()->merge_block(planes, first_plane, stacked, f0, f1, feature_dim, npix, out);
}
