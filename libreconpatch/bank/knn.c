/* Exact kNN as blocked matrix products: d^2(q, b) = |q|^2 + |b|^2 - 2 q.b, with q.b from a oneDNN
 * matmul whose weights (the bank, one block of RP__KNN_BANK_BLOCK vectors at a time) are packed
 * once into oneDNN's preferred layout. Memory per call is bounded by one query block x bank block
 * product tile per thread, whatever the bank size.
 *
 * That packing pays off with oneDNN's brgemm kernel (AVX-512 CPUs). Where oneDNN picks its
 * gemm-based matmul instead (AVX2 CPUs, oneDNN 2.6), the weights come in plain layout and are
 * packed again inside every call, and the product ran at about half speed once its tile outgrew
 * the L2 cache (docs/memory-bank.md). There ("plain" products) the index packs nothing: each
 * product is one dnnl_sgemm call on the bank rows where they lie, and a search chooses its block
 * width: narrow (RP__KNN_GEMM_BANK_BLOCK) when each thread takes whole query blocks, so that the
 * tile stays in L2 for the scan; wide otherwise, so that oneDNN's threads share few large
 * products instead of meeting at a barrier after every narrow one.
 *
 * The formula loses accuracy when q and b are close (cancellation of two large numbers), so each
 * query keeps k + RP__KNN_EXTRA_CANDIDATES candidates, and their distances are recomputed directly
 * as sqrt(sum (q - b)^2) in double before the final ordering.
 *
 * Threading: when there are at least as many query blocks as threads (and their tiles fit in
 * RP__KNN_TILE_BUDGET), each thread takes whole query blocks: product, scan and re-ranking, with
 * the tile still in its cache and no synchronisation inside oneDNN, which runs single-threaded
 * when called inside our parallel region. Otherwise blocks run one after the other, each product
 * threaded by oneDNN and the per-row work by us. Either way every query row goes through the same
 * operations, so the results do not depend on the thread count.
 *
 * Opt-in int8 mode (rp_bank_params.knn_int8): each bank vector is quantised symmetrically to s8
 * with its own scale s_b = max|b| / 127 and packed for an s8 x s8 -> s32 matmul (AVX-512 VNNI);
 * each query row likewise with its own s_q at search time. The approximate distance
 * |q|^2 + |b|^2 - 2 s_q s_b (Q.B), with exact float norms, only picks each query's
 * k + RP__KNN_EXTRA_CANDIDATES candidates; all of them are then re-ranked with exact distances
 * (the fp32 mode's skip by the formula's error bound does not hold for quantised products).
 *
 * Opt-in bf16 mode (rp_bank_params.knn_bf16): the bank is packed in bf16 (oneDNN's reorder rounds
 * to nearest even) and each query block is rounded the same way at search time; the bf16 x bf16 ->
 * f32 matmul (AVX512-BF16's vdpbf16ps, fp32 accumulation) gives the approximate q.b that picks the
 * k + RP__KNN_EXTRA_CANDIDATES candidates, all re-ranked exactly as in int8 mode. No scales: bf16
 * keeps each value's exponent, so its products need none.
 *
 * Thread safety: the index is read-only after creation; every search allocates its own streams,
 * memory objects, oneDNN scratchpads (user scratchpad mode) and tiles. */
#include "common/alloc.h"
#include "common/threads.h"
#include "bank/knn.h"

#include <dnnl.h>
#include <dnnl_debug.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "bank/knn_bf16.h"
#include "bank/knn_int8.h"
#include "bank/knn_kernels.h"
#include "common/common.h"

typedef struct {
    dnnl_primitive_t matmul; /* (RP__KNN_QUERY_BLOCK x dim) x (dim x width) */
    dnnl_memory_desc_t weights_md, scratch_md;
    size_t scratch_bytes;
    int brgemm; /* oneDNN picked its brgemm kernel (else its gemm-based one) */
} matmul_kind;

struct rp__knn {
    const float *vectors;
    uint64_t n;
    uint32_t dim;
    int int8;               /* products from s8 quantised vectors (see the top) */
    int bf16;               /* products from bf16 vectors (see the top) */
    int plain;              /* products by dnnl_sgemm on the bank rows, nothing packed (see the top) */
    dnnl_engine_t engine;
    matmul_kind full, tail; /* blocks of RP__KNN_BANK_BLOCK columns, and the last, shorter one */
    uint64_t nblocks;
    void **packed;          /* per block: the bank block in the matmul's weights layout */
    size_t packed_bytes_total;
    float *norms;           /* |b|^2 per bank vector */
    float *scales;          /* int8 mode: s_b per bank vector */
};

static void *alloc64(size_t bytes) { return rp__aligned_alloc(64, (bytes + 63) / 64 * 64); }

static uint64_t block_width(const rp__knn *x, uint64_t b)
{
    uint64_t first = b * RP__KNN_BANK_BLOCK;
    return x->n - first < RP__KNN_BANK_BLOCK ? x->n - first : RP__KNN_BANK_BLOCK;
}

/* The element type of the products' inputs (queries and packed bank). */
static dnnl_data_type_t input_type(const rp__knn *x) { return x->int8 ? dnnl_s8 : x->bf16 ? dnnl_bf16 : dnnl_f32; }

static int make_matmul(rp__knn *x, uint64_t width, matmul_kind *kind, const char *fn)
{
    dnnl_memory_desc_t src_md, wei_md, dst_md;
    /* A fixed row count (not DNNL_RUNTIME_DIM_VAL): oneDNN 2.6 then picks its brgemm kernel with
     * packed weights; with run-time rows it falls back to plain-layout gemm, several times slower. */
    dnnl_dims_t src_dims = {RP__KNN_QUERY_BLOCK, x->dim}, wei_dims = {x->dim, (dnnl_dim_t)width},
                dst_dims = {RP__KNN_QUERY_BLOCK, (dnnl_dim_t)width};
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    const dnnl_data_type_t in_type = input_type(x), out_type = x->int8 ? dnnl_s32 : dnnl_f32;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, in_type, dnnl_ab);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&wei_md, 2, wei_dims, in_type, dnnl_format_tag_any);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, out_type, dnnl_ab);
    if (st == dnnl_success) st = dnnl_matmul_desc_init(&desc, &src_md, &wei_md, NULL, &dst_md);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&attr);
    /* user scratchpad: each search passes its own, so concurrent searches never share one */
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &desc, attr, x->engine, NULL);
    if (st == dnnl_success) {
        const char *impl = NULL;
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        kind->brgemm = impl && strncmp(impl, "brg", 3) == 0;
        kind->weights_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        kind->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        kind->scratch_bytes = dnnl_memory_desc_get_size(&kind->scratch_md);
        st = dnnl_primitive_create(&kind->matmul, pd);
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success)
        return rp__fail(RP_E_BACKEND, "%s: oneDNN matmul setup failed (status %d) for %u x %llu", fn, (int)st, x->dim,
                        (unsigned long long)width);
    return RP_OK;
}

/* Reorder bank vectors [first, first + width) (dim x width seen as "ba") into the packed layout;
 * rows: those vectors as floats (bf16 mode: the reorder rounds them), or in int8 mode their s8
 * quantisation. */
static int pack_block(rp__knn *x, const void *rows, uint64_t first, uint64_t width, const dnnl_memory_desc_t *packed_md,
                      void *packed, const char *fn)
{
    dnnl_memory_desc_t user_md;
    dnnl_dims_t dims = {x->dim, (dnnl_dim_t)width};
    dnnl_memory_t from = NULL, to = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_stream_t stream = NULL;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&user_md, 2, dims, x->int8 ? dnnl_s8 : dnnl_f32, dnnl_ba);
    if (st == dnnl_success) st = dnnl_memory_create(&from, &user_md, x->engine, (void *)rows);
    if (st == dnnl_success) st = dnnl_memory_create(&to, packed_md, x->engine, packed);
    if (st == dnnl_success) st = dnnl_reorder_primitive_desc_create(&rpd, &user_md, x->engine, packed_md, x->engine, NULL);
    if (st == dnnl_success) st = dnnl_primitive_create(&reorder, rpd);
    if (st == dnnl_success) st = dnnl_stream_create(&stream, x->engine, dnnl_stream_default_flags);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        st = dnnl_primitive_execute(reorder, stream, 2, args);
        if (st == dnnl_success) st = dnnl_stream_wait(stream);
    }
    if (stream) dnnl_stream_destroy(stream);
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (from) dnnl_memory_destroy(from);
    if (to) dnnl_memory_destroy(to);
    if (st != dnnl_success)
        return rp__fail(RP_E_BACKEND, "%s: oneDNN reorder failed (status %d) packing bank rows %llu..", fn, (int)st,
                        (unsigned long long)first);
    return RP_OK;
}

int rp__knn_int8_supported(void)
{
    /* VNNI's u8 x s8 dot-product instruction; without it oneDNN's int8 matmul is no faster than fp32 */
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core_vnni) == (unsigned)dnnl_cpu_isa_avx512_core_vnni;
}

int rp__knn_bf16_supported(void)
{
    /* native vdpbf16ps; oneDNN's emulation on plain AVX-512 is slower than the fp32 products */
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

int rp__knn_create(const float *vectors, uint64_t n, uint32_t dim, rp__knn_ranking ranking, const char *fn,
                   rp__knn **out)
{
    *out = NULL;
    if (ranking == RP__KNN_RANK_INT8 && !rp__knn_int8_supported())
        return rp__fail(RP_E_UNSUPPORTED, "%s: knn_int8 needs AVX-512 VNNI, but oneDNN reports CPU ISA %s", fn,
                        dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));
    if (ranking == RP__KNN_RANK_BF16 && !rp__knn_bf16_supported())
        return rp__fail(RP_E_UNSUPPORTED, "%s: knn_bf16 needs AVX512-BF16, but oneDNN reports CPU ISA %s", fn,
                        dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));
    rp__knn *x = rp__calloc(1, sizeof *x);
    if (!x) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    x->vectors = vectors;
    x->n = n;
    x->dim = dim;
    x->int8 = ranking == RP__KNN_RANK_INT8;
    x->bf16 = ranking == RP__KNN_RANK_BF16;
    x->nblocks = (n + RP__KNN_BANK_BLOCK - 1) / RP__KNN_BANK_BLOCK;
    x->packed = rp__calloc(x->nblocks, sizeof(void *));
    x->norms = rp__malloc(n * sizeof(float));
    x->scales = x->int8 ? rp__malloc(n * sizeof(float)) : NULL;
    /* int8 mode: one block's quantised rows, the reorder's input */
    int8_t *quantised = x->int8 ? rp__malloc((size_t)block_width(x, 0) * dim) : NULL;
    int status = RP_OK;
    if (!x->packed || !x->norms || (x->int8 && (!x->scales || !quantised)))
        status = rp__fail(RP_E_NOMEM, "%s: out of memory for the kNN index", fn);
    if (status == RP_OK && dnnl_engine_create(&x->engine, dnnl_cpu, 0) != dnnl_success)
        status = rp__fail(RP_E_BACKEND, "%s: oneDNN CPU engine creation failed", fn);
    /* the first block's matmul, and oneDNN's kernel for it decides how all products run */
    matmul_kind *first_kind = x->nblocks > 1 ? &x->full : &x->tail;
    if (status == RP_OK) status = make_matmul(x, block_width(x, 0), first_kind, fn);
    if (status == RP_OK && !first_kind->brgemm && !x->int8 && !x->bf16) {
        x->plain = 1;
        dnnl_primitive_destroy(first_kind->matmul);
        memset(first_kind, 0, sizeof *first_kind);
    }
    if (status == RP_OK)
        rp__log(RP_LOG_DEBUG, "%s: kNN products: %s", fn,
                x->plain  ? "dnnl_sgemm on the bank rows"
                : x->int8 ? "oneDNN s8 matmul on the packed bank"
                : x->bf16 ? "oneDNN bf16 matmul on the packed bank"
                          : "oneDNN matmul on the packed bank");
    if (status == RP_OK && !x->plain && x->nblocks > 1)
        status = make_matmul(x, block_width(x, x->nblocks - 1), &x->tail, fn);
    for (uint64_t b = 0; status == RP_OK && !x->plain && b < x->nblocks; b++) {
        const int last = b + 1 == x->nblocks;
        const dnnl_memory_desc_t *md = last ? &x->tail.weights_md : &x->full.weights_md;
        size_t bytes = dnnl_memory_desc_get_size(md);
        x->packed[b] = alloc64(bytes);
        if (!x->packed[b]) {
            status = rp__fail(RP_E_NOMEM, "%s: out of memory packing the bank (%zu bytes per block)", fn, bytes);
            break;
        }
        x->packed_bytes_total += bytes;
        const uint64_t first = b * RP__KNN_BANK_BLOCK, width = block_width(x, b);
        const void *rows = vectors + first * dim;
        if (x->int8) {
            for (uint64_t j = 0; j < width; j++)
                x->scales[first + j] = rp__knn_quantise_row(vectors + (first + j) * dim, dim, quantised + j * dim);
            rows = quantised;
        }
        status = pack_block(x, rows, first, width, md, x->packed[b], fn);
    }
    free(quantised);
    if (status == RP_OK) {
        enum { NORM_CHUNK = 1024 };
        const int64_t chunks = (int64_t)((n + NORM_CHUNK - 1) / NORM_CHUNK);
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < chunks; c++) {
            const uint64_t first = (uint64_t)c * NORM_CHUNK;
            const uint64_t rows = n - first < NORM_CHUNK ? n - first : NORM_CHUNK;
            rp__knn_sq_norms(vectors + first * dim, rows, dim, x->norms + first);
        }
    }
    if (status != RP_OK) {
        rp__knn_free(x);
        return status;
    }
    *out = x;
    return RP_OK;
}

/* One thread's scratch for searching a query block: the product tile, the zero-padded copy of a
 * partial block, the query norms, candidate lists, oneDNN scratchpad and stream. */
typedef struct {
    float *tile;
    int32_t *tile_s32;  /* int8 mode: the raw products, scaled into tile */
    int8_t *quantised;  /* int8 mode: the query block in s8 (zero rows pad a partial block) */
    uint16_t *rounded;  /* bf16 mode: the query block in bf16 (zero rows pad a partial block) */
    float *qscale;      /* int8 mode: s_q per query row */
    float *padded;      /* fp32 mode: a partial query block, zero-padded to full size */
    float *qnorm;
    rp__knn_candidate *lists;
    uint32_t *lens;
    void *scratch;
    dnnl_stream_t stream;
} worker;

/* tile (RP__KNN_QUERY_BLOCK x width) = q (RP__KNN_QUERY_BLOCK rows) x bank block b^T */
static dnnl_status_t block_product(const rp__knn *x, const float *q, uint64_t b, const worker *w)
{
    const uint64_t rows = RP__KNN_QUERY_BLOCK;
    const uint64_t width = block_width(x, b);
    const matmul_kind *kind = b + 1 == x->nblocks ? &x->tail : &x->full;
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_dims_t src_dims = {(dnnl_dim_t)rows, x->dim}, dst_dims = {(dnnl_dim_t)rows, (dnnl_dim_t)width};
    dnnl_memory_t src = NULL, wei = NULL, dst = NULL, scr = NULL;
    const dnnl_data_type_t in_type = input_type(x), out_type = x->int8 ? dnnl_s32 : dnnl_f32;
    void *src_data = x->int8 ? (void *)w->quantised : x->bf16 ? (void *)w->rounded : (void *)q;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, in_type, dnnl_ab);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, out_type, dnnl_ab);
    if (st == dnnl_success) st = dnnl_memory_create(&src, &src_md, x->engine, src_data);
    if (st == dnnl_success) st = dnnl_memory_create(&wei, &kind->weights_md, x->engine, x->packed[b]);
    if (st == dnnl_success)
        st = dnnl_memory_create(&dst, &dst_md, x->engine, x->int8 ? (void *)w->tile_s32 : (void *)w->tile);
    if (st == dnnl_success) st = dnnl_memory_create(&scr, &kind->scratch_md, x->engine, w->scratch);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[4] = {
            {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, scr}};
        st = dnnl_primitive_execute(kind->matmul, w->stream, 4, args);
        if (st == dnnl_success) st = dnnl_stream_wait(w->stream);
    }
    if (src) dnnl_memory_destroy(src);
    if (wei) dnnl_memory_destroy(wei);
    if (dst) dnnl_memory_destroy(dst);
    if (scr) dnnl_memory_destroy(scr);
    return st;
}

/* Bound on |approximate - true| squared distance: |q|^2, |b|^2 and q.b summed in float over dim
 * terms are each off by at most gamma(dim) times |q|^2, |b|^2 and |q||b| whatever the summation
 * order, and the formula rounds twice more; with 2 |q||b| <= |q|^2 + |b|^2 that stays below
 * 2.1 (dim + 8) u (|q|^2 + |b|^2), u = 2^-24. Twice that, for margin. */
static double formula_error(uint32_t dim, float qnorm, float bnorm)
{
    return 4.2 * ((double)dim + 8.0) * 0x1p-24 * ((double)qnorm + (double)bnorm);
}

/* Recompute one query's candidate distances directly (no cancellation), order, keep k. Once k
 * exact distances are known, a candidate whose approximate distance minus the formula's error
 * bound still lies beyond the k-th (by more than float rounding of the square root) cannot enter
 * the top k, so its exact distance is not computed: the output is the same as re-ranking all. */
static void finish_row(const rp__knn *x, const float *q, float qnorm, const rp__knn_candidate *list, uint32_t len,
                       uint32_t cap, uint32_t k, float *distances_out, uint64_t *indices_out)
{
    rp__knn_candidate exact[RP__KNN_MAX_K + RP__KNN_EXTRA_CANDIDATES];
    uint32_t exact_len = 0;
    for (uint32_t c = 0; c < len; c++) {
        if (exact_len >= k && !x->int8 && !x->bf16) {
            const double kth = exact[k - 1].value;
            const double lower = (double)list[c].value - formula_error(x->dim, qnorm, x->norms[list[c].index]);
            if (lower > kth * kth * (1.0 + 0x1p-20)) continue;
        }
        const double s = rp__knn_exact_sq(q, x->vectors + list[c].index * x->dim, x->dim);
        rp__knn_insert(exact, &exact_len, cap, (float)sqrt(s), list[c].index);
    }
    for (uint32_t i = 0; i < k; i++) {
        if (distances_out) distances_out[i] = exact[i].value;
        if (indices_out) indices_out[i] = exact[i].index;
    }
}

/* Plain products (see the top): tile (rows x width) = q (rows x dim) x bank rows [first, first +
 * width)^T. */
static dnnl_status_t plain_product(const rp__knn *x, const float *q, uint64_t rows, uint64_t first, uint64_t width,
                                   const worker *w)
{
    return dnnl_sgemm('N', 'T', (dnnl_dim_t)rows, (dnnl_dim_t)width, x->dim, 1.0f, q, x->dim,
                      x->vectors + first * x->dim, x->dim, 0.0f, w->tile, (dnnl_dim_t)width);
}

/* The k nearest of query rows [q0, q0 + rows). thread_rows: spread the per-row work over threads
 * (only when the caller runs blocks one at a time). cols: bank vectors per product, a multiple of
 * RP__KNN_BANK_BLOCK unless the products are plain. */
static dnnl_status_t search_block(const rp__knn *x, const worker *w, const float *queries, uint64_t q0, uint64_t rows,
                                  uint32_t k, uint32_t cap, int thread_rows, uint64_t cols, float *distances_out,
                                  uint64_t *indices_out)
{
    const uint64_t qb = RP__KNN_QUERY_BLOCK;
    const float *q = queries + q0 * x->dim;
    const float *q_full = q;
    if (rows < qb && !x->int8 && !x->bf16 && !x->plain) { /* the other modes' copies are padded below */
        memcpy(w->padded, q, rows * x->dim * sizeof(float));
        memset(w->padded + rows * x->dim, 0, (qb - rows) * x->dim * sizeof(float));
        q_full = w->padded;
    }
    rp__knn_sq_norms(q, rows, x->dim, w->qnorm);
    memset(w->lens, 0, rows * sizeof(uint32_t));
    if (x->int8) {
        for (uint64_t r = 0; r < rows; r++)
            w->qscale[r] = rp__knn_quantise_row(q + r * x->dim, x->dim, w->quantised + r * x->dim);
        memset(w->quantised + rows * x->dim, 0, (qb - rows) * x->dim);
    }
    if (x->bf16) {
        rp__knn_to_bf16(q, rows * x->dim, w->rounded);
        memset(w->rounded + rows * x->dim, 0, (qb - rows) * x->dim * sizeof(uint16_t));
    }
    for (uint64_t first = 0; first < x->n; first += cols) {
        const uint64_t width = x->n - first < cols ? x->n - first : cols;
        const dnnl_status_t st = x->plain ? plain_product(x, q, rows, first, width, w)
                                          : block_product(x, q_full, first / RP__KNN_BANK_BLOCK, w);
        if (st != dnnl_success) return st;
#pragma omp parallel for schedule(static) if (thread_rows)
        for (int64_t r = 0; r < (int64_t)rows; r++) {
            if (x->int8)
                rp__knn_dequantise_row(w->tile_s32 + (uint64_t)r * width, w->qscale[r], x->scales + first, width,
                                       w->tile + (uint64_t)r * width);
            rp__knn_scan_row(w->tile + (uint64_t)r * width, x->norms + first, width, first, w->qnorm[r],
                             w->lists + (uint64_t)r * cap, &w->lens[r], cap);
        }
    }
#pragma omp parallel for schedule(static) if (thread_rows)
    for (int64_t r = 0; r < (int64_t)rows; r++) {
        const uint64_t at = (q0 + (uint64_t)r) * k;
        finish_row(x, q + (uint64_t)r * x->dim, w->qnorm[r], w->lists + (uint64_t)r * cap, w->lens[r], cap, k,
                   distances_out ? distances_out + at : NULL, indices_out ? indices_out + at : NULL);
    }
    return dnnl_success;
}

static void free_workers(worker *workers, int count)
{
    if (!workers) return;
    for (int t = 0; t < count; t++) {
        if (workers[t].stream) dnnl_stream_destroy(workers[t].stream);
        free(workers[t].tile);
        free(workers[t].tile_s32);
        free(workers[t].quantised);
        free(workers[t].rounded);
        free(workers[t].qscale);
        free(workers[t].padded);
        free(workers[t].qnorm);
        free(workers[t].lists);
        free(workers[t].lens);
        free(workers[t].scratch);
    }
    free(workers);
}

int rp__knn_search(const rp__knn *x, const float *queries, uint64_t count, uint32_t k, float *distances_out,
                   uint64_t *indices_out, const char *fn)
{
    const uint32_t cap = (uint32_t)(k + RP__KNN_EXTRA_CANDIDATES < x->n ? k + RP__KNN_EXTRA_CANDIDATES : x->n);
    const uint64_t qb = RP__KNN_QUERY_BLOCK;
    const uint64_t nqb = (count + qb - 1) / qb;
    const uint64_t max_width = x->n < RP__KNN_BANK_BLOCK ? x->n : RP__KNN_BANK_BLOCK;
    const size_t scratch_bytes =
        x->full.scratch_bytes > x->tail.scratch_bytes ? x->full.scratch_bytes : x->tail.scratch_bytes;
    const int threads = rp__threads_team();
    /* whole blocks per thread when every thread gets one and all tiles fit (see the top) */
    const uint64_t tile_bytes = qb * max_width * sizeof(float);
    const int team = threads > 1 && nqb >= (uint64_t)threads && (uint64_t)threads * tile_bytes <= RP__KNN_TILE_BUDGET
                         ? threads
                         : 1;
    /* plain products: narrow blocks when each thread has its own (see the top) */
    const uint64_t cols = x->plain && team > 1 ? RP__KNN_GEMM_BANK_BLOCK : RP__KNN_BANK_BLOCK;
    const size_t tile_floats = qb * (x->n < cols ? x->n : cols);

    worker *workers = rp__calloc((size_t)team, sizeof *workers);
    int status = workers ? RP_OK : rp__fail(RP_E_NOMEM, "%s: out of memory for the search scratch", fn);
    for (int t = 0; status == RP_OK && t < team; t++) {
        worker *w = &workers[t];
        w->tile = alloc64(tile_floats * sizeof(float));
        w->qnorm = rp__malloc(qb * sizeof(float));
        w->lists = rp__malloc(qb * cap * sizeof(rp__knn_candidate));
        w->lens = rp__malloc(qb * sizeof(uint32_t));
        w->scratch = alloc64(scratch_bytes ? scratch_bytes : 64);
        if (x->bf16) {
            w->rounded = alloc64(qb * x->dim * sizeof(uint16_t));
        } else if (!x->int8) {
            w->padded = x->plain ? NULL : alloc64(qb * x->dim * sizeof(float));
        } else {
            w->tile_s32 = alloc64(qb * max_width * sizeof(int32_t));
            w->quantised = alloc64(qb * x->dim);
            w->qscale = rp__malloc(qb * sizeof(float));
        }
        if (!w->tile || !w->qnorm || !w->lists || !w->lens || !w->scratch ||
            (x->int8   ? !w->tile_s32 || !w->quantised || !w->qscale
             : x->bf16 ? !w->rounded
                       : !x->plain && !w->padded))
            status = rp__fail(RP_E_NOMEM, "%s: out of memory for the search scratch", fn);
        else if (dnnl_stream_create(&w->stream, x->engine, dnnl_stream_default_flags) != dnnl_success)
            status = rp__fail(RP_E_BACKEND, "%s: oneDNN stream creation failed", fn);
    }
    if (status != RP_OK) {
        free_workers(workers, team);
        return status;
    }

    /* the first failing block, reported on the calling thread (error messages are per thread) */
    dnnl_status_t failed = dnnl_success;
    uint64_t failed_block = 0;
    if (team > 1) {
#pragma omp parallel num_threads(team)
        {
            const worker *w = &workers[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
            for (int64_t blk = 0; blk < (int64_t)nqb; blk++) {
                dnnl_status_t seen;
#pragma omp atomic read
                seen = failed;
                if (seen != dnnl_success) continue;
                const uint64_t q0 = (uint64_t)blk * qb, rows = count - q0 < qb ? count - q0 : qb;
                const dnnl_status_t st =
                    search_block(x, w, queries, q0, rows, k, cap, 0, cols, distances_out, indices_out);
                if (st != dnnl_success) {
#pragma omp critical(rp_knn_failure)
                    if (failed == dnnl_success) {
                        failed = st;
                        failed_block = (uint64_t)blk;
                    }
                }
            }
        }
    } else {
        for (uint64_t blk = 0; blk < nqb && failed == dnnl_success; blk++) {
            const uint64_t q0 = blk * qb, rows = count - q0 < qb ? count - q0 : qb;
            failed = search_block(x, &workers[0], queries, q0, rows, k, cap, 1, cols, distances_out, indices_out);
            failed_block = blk;
        }
    }
    free_workers(workers, team);
    if (failed != dnnl_success)
        return rp__fail(RP_E_BACKEND, "%s: oneDNN product failed (status %d) for query rows %llu.. of %llu", fn,
                        (int)failed, (unsigned long long)(failed_block * qb), (unsigned long long)count);
    return RP_OK;
}

uint64_t rp__knn_bytes(const rp__knn *x)
{
    return x ? x->packed_bytes_total + x->n * sizeof(float) * (x->int8 ? 2 : 1) : 0;
}

void rp__knn_free(rp__knn *x)
{
    if (!x) return;
    if (x->packed)
        for (uint64_t b = 0; b < x->nblocks; b++) free(x->packed[b]);
    free(x->packed);
    free(x->norms);
    free(x->scales);
    if (x->full.matmul) dnnl_primitive_destroy(x->full.matmul);
    if (x->tail.matmul) dnnl_primitive_destroy(x->tail.matmul);
    if (x->engine) dnnl_engine_destroy(x->engine);
    free(x);
}
