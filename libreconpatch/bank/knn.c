/* Exact kNN as blocked matrix products: d^2(q, b) = |q|^2 + |b|^2 - 2 q.b, with q.b from a oneDNN
 * matmul whose weights (the bank, one block of RP__KNN_BANK_BLOCK vectors at a time) are packed
 * once into oneDNN's preferred layout. Memory per call is bounded by the query block x bank block
 * product tile, whatever the bank size.
 *
 * The formula loses accuracy when q and b are close (cancellation of two large numbers), so each
 * query keeps k + RP__KNN_EXTRA_CANDIDATES candidates, and their distances are recomputed directly
 * as sqrt(sum (q - b)^2) in double before the final ordering.
 *
 * Thread safety: the index is read-only after creation; every search allocates its own stream,
 * memory objects, oneDNN scratchpad (user scratchpad mode) and tiles. */
#include "bank/knn.h"

#include <dnnl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

typedef struct {
    dnnl_primitive_t matmul; /* (RP__KNN_QUERY_BLOCK x dim) x (dim x width) */
    dnnl_memory_desc_t weights_md, scratch_md;
    size_t scratch_bytes;
} matmul_kind;

struct rp__knn {
    const float *vectors;
    uint64_t n;
    uint32_t dim;
    dnnl_engine_t engine;
    matmul_kind full, tail; /* blocks of RP__KNN_BANK_BLOCK columns, and the last, shorter one */
    uint64_t nblocks;
    void **packed;          /* per block: the bank block in the matmul's weights layout */
    size_t packed_bytes_total;
    float *norms;           /* |b|^2 per bank vector */
};

static void *alloc64(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

static uint64_t block_width(const rp__knn *x, uint64_t b)
{
    uint64_t first = b * RP__KNN_BANK_BLOCK;
    return x->n - first < RP__KNN_BANK_BLOCK ? x->n - first : RP__KNN_BANK_BLOCK;
}

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
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, dnnl_f32, dnnl_ab);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&wei_md, 2, wei_dims, dnnl_f32, dnnl_format_tag_any);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, dnnl_f32, dnnl_ab);
    if (st == dnnl_success) st = dnnl_matmul_desc_init(&desc, &src_md, &wei_md, NULL, &dst_md);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&attr);
    /* user scratchpad: each search passes its own, so concurrent searches never share one */
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &desc, attr, x->engine, NULL);
    if (st == dnnl_success) {
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

/* Reorder bank vectors [first, first + width) (dim x width seen as "ba") into the packed layout. */
static int pack_block(rp__knn *x, uint64_t first, uint64_t width, const dnnl_memory_desc_t *packed_md, void *packed,
                      const char *fn)
{
    dnnl_memory_desc_t user_md;
    dnnl_dims_t dims = {x->dim, (dnnl_dim_t)width};
    dnnl_memory_t from = NULL, to = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_stream_t stream = NULL;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&user_md, 2, dims, dnnl_f32, dnnl_ba);
    if (st == dnnl_success)
        st = dnnl_memory_create(&from, &user_md, x->engine, (void *)(x->vectors + first * x->dim));
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

int rp__knn_create(const float *vectors, uint64_t n, uint32_t dim, const char *fn, rp__knn **out)
{
    *out = NULL;
    rp__knn *x = calloc(1, sizeof *x);
    if (!x) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    x->vectors = vectors;
    x->n = n;
    x->dim = dim;
    x->nblocks = (n + RP__KNN_BANK_BLOCK - 1) / RP__KNN_BANK_BLOCK;
    x->packed = calloc(x->nblocks, sizeof(void *));
    x->norms = malloc(n * sizeof(float));
    int status = RP_OK;
    if (!x->packed || !x->norms) status = rp__fail(RP_E_NOMEM, "%s: out of memory for the kNN index", fn);
    if (status == RP_OK && dnnl_engine_create(&x->engine, dnnl_cpu, 0) != dnnl_success)
        status = rp__fail(RP_E_BACKEND, "%s: oneDNN CPU engine creation failed", fn);
    const uint64_t last_width = block_width(x, x->nblocks - 1);
    if (status == RP_OK && x->nblocks > 1) status = make_matmul(x, RP__KNN_BANK_BLOCK, &x->full, fn);
    if (status == RP_OK) status = make_matmul(x, last_width, &x->tail, fn);
    for (uint64_t b = 0; status == RP_OK && b < x->nblocks; b++) {
        const int last = b + 1 == x->nblocks;
        const dnnl_memory_desc_t *md = last ? &x->tail.weights_md : &x->full.weights_md;
        size_t bytes = dnnl_memory_desc_get_size(md);
        x->packed[b] = alloc64(bytes);
        if (!x->packed[b]) {
            status = rp__fail(RP_E_NOMEM, "%s: out of memory packing the bank (%zu bytes per block)", fn, bytes);
            break;
        }
        x->packed_bytes_total += bytes;
        status = pack_block(x, b * RP__KNN_BANK_BLOCK, block_width(x, b), md, x->packed[b], fn);
    }
    if (status == RP_OK) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < (int64_t)n; i++) {
            const float *v = vectors + (uint64_t)i * dim;
            float s = 0.0f;
            for (uint32_t d = 0; d < dim; d++) s += v[d] * v[d];
            x->norms[i] = s;
        }
    }
    if (status != RP_OK) {
        rp__knn_free(x);
        return status;
    }
    *out = x;
    return RP_OK;
}

/* Candidates of one query, ascending by (value, index). */
typedef struct {
    float value;
    uint32_t pad;
    uint64_t index;
} candidate;

static void insert_candidate(candidate *list, uint32_t *len, uint32_t cap, float value, uint64_t index)
{
    uint32_t i = *len < cap ? (*len)++ : cap - 1; /* a full list drops its worst */
    while (i > 0 && (list[i - 1].value > value || (list[i - 1].value == value && list[i - 1].index > index))) {
        list[i] = list[i - 1];
        i--;
    }
    list[i].value = value;
    list[i].index = index;
}

/* Fold one product tile (rows x width dots) into each row's candidate list. */
static void scan_tile(const rp__knn *x, const float *tile, uint64_t rows, uint64_t width, uint64_t first,
                      const float *qnorm, candidate *lists, uint32_t *lens, uint32_t cap)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < (int64_t)rows; r++) {
        const float *dots = tile + (uint64_t)r * width;
        const float *bn = x->norms + first;
        candidate *list = lists + (uint64_t)r * cap;
        uint32_t len = lens[r];
        float worst = len == cap ? list[cap - 1].value : INFINITY;
        for (uint64_t j = 0; j < width; j++) {
            float d2 = qnorm[r] + bn[j] - 2.0f * dots[j];
            if (d2 < worst) {
                insert_candidate(list, &len, cap, d2 > 0.0f ? d2 : 0.0f, first + j);
                if (len == cap) worst = list[cap - 1].value;
            }
        }
        lens[r] = len;
    }
}

/* Recompute each candidate's distance directly (no cancellation), order, keep k. */
static void finish_rows(const rp__knn *x, const float *queries, uint64_t rows, candidate *lists, const uint32_t *lens,
                        uint32_t cap, uint32_t k, float *distances_out, uint64_t *indices_out)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < (int64_t)rows; r++) {
        const float *q = queries + (uint64_t)r * x->dim;
        candidate *list = lists + (uint64_t)r * cap;
        candidate exact[RP__KNN_MAX_K + RP__KNN_EXTRA_CANDIDATES];
        uint32_t len = 0;
        for (uint32_t c = 0; c < lens[r]; c++) {
            const float *b = x->vectors + list[c].index * x->dim;
            double s = 0.0;
            for (uint32_t d = 0; d < x->dim; d++) {
                double diff = (double)q[d] - (double)b[d];
                s += diff * diff;
            }
            insert_candidate(exact, &len, cap, (float)sqrt(s), list[c].index);
        }
        for (uint32_t i = 0; i < k; i++) {
            if (distances_out) distances_out[(uint64_t)r * k + i] = exact[i].value;
            if (indices_out) indices_out[(uint64_t)r * k + i] = exact[i].index;
        }
    }
}

/* tile (RP__KNN_QUERY_BLOCK x width) = q (RP__KNN_QUERY_BLOCK rows) x bank block b^T */
static int block_product(const rp__knn *x, const float *q, uint64_t b, float *tile, void *scratch,
                         dnnl_stream_t stream, const char *fn)
{
    const uint64_t rows = RP__KNN_QUERY_BLOCK;
    const uint64_t width = block_width(x, b);
    const matmul_kind *kind = b + 1 == x->nblocks ? &x->tail : &x->full;
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_dims_t src_dims = {(dnnl_dim_t)rows, x->dim}, dst_dims = {(dnnl_dim_t)rows, (dnnl_dim_t)width};
    dnnl_memory_t src = NULL, wei = NULL, dst = NULL, scr = NULL;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, dnnl_f32, dnnl_ab);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, dnnl_f32, dnnl_ab);
    if (st == dnnl_success) st = dnnl_memory_create(&src, &src_md, x->engine, (void *)q);
    if (st == dnnl_success) st = dnnl_memory_create(&wei, &kind->weights_md, x->engine, x->packed[b]);
    if (st == dnnl_success) st = dnnl_memory_create(&dst, &dst_md, x->engine, tile);
    if (st == dnnl_success) st = dnnl_memory_create(&scr, &kind->scratch_md, x->engine, scratch);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[4] = {
            {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, scr}};
        st = dnnl_primitive_execute(kind->matmul, stream, 4, args);
        if (st == dnnl_success) st = dnnl_stream_wait(stream);
    }
    if (src) dnnl_memory_destroy(src);
    if (wei) dnnl_memory_destroy(wei);
    if (dst) dnnl_memory_destroy(dst);
    if (scr) dnnl_memory_destroy(scr);
    if (st != dnnl_success)
        return rp__fail(RP_E_BACKEND, "%s: oneDNN matmul failed (status %d) for %llu queries x bank block %llu", fn,
                        (int)st, (unsigned long long)rows, (unsigned long long)b);
    return RP_OK;
}

int rp__knn_search(const rp__knn *x, const float *queries, uint64_t count, uint32_t k, float *distances_out,
                   uint64_t *indices_out, const char *fn)
{
    const uint32_t cap = (uint32_t)(k + RP__KNN_EXTRA_CANDIDATES < x->n ? k + RP__KNN_EXTRA_CANDIDATES : x->n);
    const uint64_t qb = RP__KNN_QUERY_BLOCK;
    const uint64_t max_width = x->n < RP__KNN_BANK_BLOCK ? x->n : RP__KNN_BANK_BLOCK;
    size_t scratch_bytes = x->full.scratch_bytes > x->tail.scratch_bytes ? x->full.scratch_bytes : x->tail.scratch_bytes;
    float *tile = alloc64(qb * max_width * sizeof(float));
    float *qnorm = malloc(qb * sizeof(float));
    float *padded = alloc64(qb * x->dim * sizeof(float)); /* the last, partial query block */
    candidate *lists = malloc(qb * cap * sizeof(candidate));
    uint32_t *lens = malloc(qb * sizeof(uint32_t));
    void *scratch = alloc64(scratch_bytes ? scratch_bytes : 64);
    dnnl_stream_t stream = NULL;
    int status = RP_OK;
    if (!tile || !qnorm || !lists || !lens || !scratch || !padded)
        status = rp__fail(RP_E_NOMEM, "%s: out of memory for the search scratch", fn);
    else if (dnnl_stream_create(&stream, x->engine, dnnl_stream_default_flags) != dnnl_success)
        status = rp__fail(RP_E_BACKEND, "%s: oneDNN stream creation failed", fn);

    for (uint64_t q0 = 0; status == RP_OK && q0 < count; q0 += qb) {
        const uint64_t rows = count - q0 < qb ? count - q0 : qb;
        const float *q = queries + q0 * x->dim;
        const float *q_full = q;
        if (rows < qb) {
            memcpy(padded, q, rows * x->dim * sizeof(float));
            memset(padded + rows * x->dim, 0, (qb - rows) * x->dim * sizeof(float));
            q_full = padded;
        }
        for (uint64_t r = 0; r < rows; r++) {
            float s = 0.0f;
            for (uint32_t d = 0; d < x->dim; d++) s += q[r * x->dim + d] * q[r * x->dim + d];
            qnorm[r] = s;
            lens[r] = 0;
        }
        for (uint64_t b = 0; status == RP_OK && b < x->nblocks; b++) {
            status = block_product(x, q_full, b, tile, scratch, stream, fn);
            if (status == RP_OK)
                scan_tile(x, tile, rows, block_width(x, b), b * RP__KNN_BANK_BLOCK, qnorm, lists, lens, cap);
        }
        if (status == RP_OK)
            finish_rows(x, q, rows, lists, lens, cap, k, distances_out ? distances_out + q0 * k : NULL,
                        indices_out ? indices_out + q0 * k : NULL);
    }
    if (stream) dnnl_stream_destroy(stream);
    free(tile);
    free(qnorm);
    free(padded);
    free(lists);
    free(lens);
    free(scratch);
    return status;
}

uint64_t rp__knn_bytes(const rp__knn *x)
{
    return x ? x->packed_bytes_total + x->n * sizeof(float) : 0;
}

void rp__knn_free(rp__knn *x)
{
    if (!x) return;
    if (x->packed)
        for (uint64_t b = 0; b < x->nblocks; b++) free(x->packed[b]);
    free(x->packed);
    free(x->norms);
    if (x->full.matmul) dnnl_primitive_destroy(x->full.matmul);
    if (x->tail.matmul) dnnl_primitive_destroy(x->tail.matmul);
    if (x->engine) dnnl_engine_destroy(x->engine);
    free(x);
}
