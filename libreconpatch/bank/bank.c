/* rp_bank: a growable buffer of patch vectors, reduced to a greedy coreset at freeze and then
 * searched with exact kNN. See include/reconpatch/bank.h and docs/memory-bank.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "bank/bank_internal.h"
#include "bank/coreset.h"
#include "bank/coreset_points.h"
#include "bank/knn.h"
#include "common/common.h"
#include "common/feature_store.h"
#include "common/threads.h"

#define DEFAULT_RATIO 0.1
#define DEFAULT_PROJECTION_DIM 128u
#define MAX_DIM (1u << 20)

struct rp_bank {
    rp_bank_params params; /* defaults resolved */
    rp__feature_store added; /* the vectors added before the freeze (in memory or spilled) */
    float *data;           /* after the selection: size x dim, the kept vectors */
    uint64_t size;         /* vectors added, then kept */
    uint64_t *selection;   /* after freeze: picked indices (into the added vectors) in greedy order */
    uint64_t selection_len;
    int compacted;         /* selection applied to data (a failed index build can be retried) */
    rp__knn *index;        /* non-NULL once frozen */
};

int rp_bank_params_init(rp_bank_params *p, size_t size)
{
    rp__clear_error();
    return rp__params_init(p, size, sizeof *p, "rp_bank_params_init");
}

static int resolve_params(const rp_bank_params *p, rp_bank_params *out, const char *fn)
{
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    int st = rp__params_copy(out, sizeof *out, p, fn);
    if (st) return st;
    if (out->coreset_ratio == 0.0) out->coreset_ratio = DEFAULT_RATIO;
    if (!(out->coreset_ratio > 0.0 && out->coreset_ratio <= 1.0))
        return rp__fail(RP_E_INVALID_ARG, "%s: coreset_ratio %g is not in (0, 1]", fn, out->coreset_ratio);
    if (out->projection_dim == 0) out->projection_dim = DEFAULT_PROJECTION_DIM;
    if (out->projection_dim > 65536)
        return rp__fail(RP_E_INVALID_ARG, "%s: projection_dim %u is over 65536", fn, out->projection_dim);
    if (out->num_threads == 0) out->num_threads = rp__cpu_count();
    if (out->seed == 0) out->seed = RP_BANK_DEFAULT_SEED;
    out->knn_int8 = out->knn_int8 != 0;
    out->knn_bf16 = out->knn_bf16 != 0;
    if (out->knn_int8 && out->knn_bf16)
        return rp__fail(RP_E_INVALID_ARG, "%s: knn_int8 and knn_bf16 are both set; choose one ranking", fn);
    if (out->dim > MAX_DIM) return rp__fail(RP_E_INVALID_ARG, "%s: dim %u is over %u", fn, out->dim, MAX_DIM);
    return RP_OK;
}

int rp_bank_create(const rp_bank_params *p, rp_bank **out)
{
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "rp_bank_create: out is NULL");
    *out = NULL;
    rp_bank_params resolved; /* NULL p: all defaults, the dim set by the first add */
    int st = resolve_params(p, &resolved, "rp_bank_create");
    if (st) return st;
    rp_bank *bank = rp__calloc(1, sizeof *bank);
    if (!bank) return rp__fail(RP_E_NOMEM, "rp_bank_create: out of memory");
    bank->params = resolved;
    /* no limit: a bank made through the public API holds its vectors in memory, as documented;
     * rp_train sets one (rp__bank_set_memory_limit) */
    if ((st = rp__feature_store_init(&bank->added, resolved.dim, 0, NULL, "rp_bank_create"))) {
        free(bank);
        return st;
    }
    *out = bank;
    return RP_OK;
}

int rp__bank_set_memory_limit(rp_bank *bank, uint64_t bytes, const char *spill_dir, const char *fn)
{
    if (bank->size || bank->compacted)
        return rp__fail(RP_E_STATE, "%s: the bank's memory limit is set before the first vectors", fn);
    rp__feature_store_free(&bank->added);
    return rp__feature_store_init(&bank->added, bank->params.dim, bytes, spill_dir, fn);
}

static int all_finite(const float *v, size_t n, size_t *where)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            *where = i;
            return 0;
        }
    return 1;
}

int rp_bank_add(rp_bank *bank, const float *vectors, uint64_t count, uint32_t dim)
{
    rp__clear_error();
    if (!bank) return rp__fail(RP_E_INVALID_ARG, "rp_bank_add: bank is NULL");
    if (bank->index || bank->compacted) return rp__fail(RP_E_STATE, "rp_bank_add: the bank is frozen");
    if (count == 0) return RP_OK;
    /* a bank created with dim 0 takes the first add's (set below, once the add succeeded) */
    const int first_sets_dim = bank->params.dim == 0;
    if (first_sets_dim && (dim == 0 || dim > MAX_DIM))
        return rp__fail(RP_E_INVALID_ARG, "rp_bank_add: dim %u is not in 1..%u", dim, MAX_DIM);
    if (!first_sets_dim && dim != bank->params.dim)
        return rp__fail(RP_E_SHAPE, "rp_bank_add: dim %u != bank dim %u", dim, bank->params.dim);
    if (!vectors) return rp__fail(RP_E_INVALID_ARG, "rp_bank_add: vectors is NULL with count %llu",
                                  (unsigned long long)count);
    size_t floats, needed_bytes;
    if (count > UINT64_MAX - bank->size || rp__mul_size((size_t)count, dim, &floats) ||
        rp__mul_size((size_t)(bank->size + count), (size_t)dim * sizeof(float), &needed_bytes) ||
        needed_bytes > (size_t)INT64_MAX) /* before the finiteness scan reads the input */
        return rp__fail(RP_E_LIMIT, "rp_bank_add: %llu + %llu vectors of %u floats overflow the address space",
                        (unsigned long long)bank->size, (unsigned long long)count, dim);
    size_t bad;
    if (!all_finite(vectors, floats, &bad))
        return rp__fail(RP_E_INVALID_ARG, "rp_bank_add: vector %zu, element %zu is not finite", bad / dim, bad % dim);
    bank->added.dim = dim;
    int rc = rp__feature_store_append(&bank->added, vectors, count, "rp_bank_add");
    if (rc) {
        if (first_sets_dim && !bank->size) bank->added.dim = 0;
        return rc;
    }
    bank->size += count;
    if (first_sets_dim) bank->params.dim = dim;
    return RP_OK;
}

/* The search index's ranking products, from the params. */
static rp__knn_ranking bank_ranking(const rp_bank *bank)
{
    return bank->params.knn_int8 ? RP__KNN_RANK_INT8 : bank->params.knn_bf16 ? RP__KNN_RANK_BF16 : RP__KNN_RANK_FP32;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Keep the selected rows (selection NULL: all), in their original order, as the bank's own block,
 * and close the store. In memory the store's block is kept and compacted in place (row i moves to
 * a position <= i, so nothing is overwritten before it is read); a spilled store's rows are
 * copied out of the file mapping, whose pages are given back as the copy passes them. */
static int keep_selected(rp_bank *bank, const float *rows, const uint64_t *selection, uint64_t m, const char *fn)
{
    const uint32_t dim = bank->params.dim;
    const int in_place = !rp__feature_store_spilled(&bank->added);
    uint64_t *sorted = selection ? rp__malloc(m * sizeof(uint64_t)) : NULL;
    float *kept = in_place ? (float *)rows : rp__malloc((size_t)m * dim * sizeof(float));
    if ((selection && !sorted) || !kept) {
        free(sorted);
        if (!in_place) free(kept);
        return rp__fail(RP_E_NOMEM, "%s: out of memory for %llu vectors of %u floats", fn, (unsigned long long)m, dim);
    }
    if (sorted) {
        memcpy(sorted, selection, m * sizeof(uint64_t));
        qsort(sorted, m, sizeof(uint64_t), cmp_u64);
    }
    uint64_t released = 0;
    for (uint64_t i = 0; i < m; i++) {
        const uint64_t from = sorted ? sorted[i] : i;
        if (from != i || !in_place) memmove(kept + i * dim, rows + from * dim, dim * sizeof(float));
        if (from - released >= 4096) { /* a few MB at a time */
            rp__feature_store_release(&bank->added, released, from - released);
            released = from;
        }
    }
    free(sorted);
    if (in_place) {
        kept = rp__feature_store_detach(&bank->added);
        float *shrunk = rp__realloc(kept, (size_t)m * dim * sizeof(float));
        if (shrunk) kept = shrunk; /* a failed shrink just keeps the larger block */
    }
    rp__feature_store_free(&bank->added);
    bank->data = kept;
    bank->size = m;
    return RP_OK;
}

static void release_rows(void *ctx, uint64_t first, uint64_t count)
{
    rp__feature_store_release(ctx, first, count);
}

static uint64_t coreset_size(const rp_bank *bank)
{
    const uint64_t n = bank->size;
    uint64_t m = bank->params.coreset_count ? bank->params.coreset_count
                                            : (uint64_t)floor((double)n * bank->params.coreset_ratio);
    if (m > n) m = n;
    return m ? m : 1;
}

int rp_bank_freeze(rp_bank *bank, rp_progress_fn progress, void *user_data)
{
    static const char fn[] = "rp_bank_freeze";
    rp__clear_error();
    if (!bank) return rp__fail(RP_E_INVALID_ARG, "%s: bank is NULL", fn);
    if (bank->index) return rp__fail(RP_E_STATE, "%s: the bank is already frozen", fn);
    if (bank->size == 0) return rp__fail(RP_E_STATE, "%s: the bank is empty", fn);
    if (!bank->compacted) {
        const uint64_t n = bank->size, m = coreset_size(bank);
        const float *rows = rp__feature_store_rows(&bank->added, fn);
        if (!rows) return rp_last_error_code(); /* mapping the spilled vectors failed */
        uint64_t *selection = rp__malloc(m * sizeof(uint64_t));
        if (!selection) return rp__fail(RP_E_NOMEM, "%s: out of memory for %llu indices", fn, (unsigned long long)m);
        int st;
        if (m == n) {
            /* keep everything, as PatchCore's sampler does at percentage 1 */
            for (uint64_t i = 0; i < n; i++) selection[i] = i;
            st = keep_selected(bank, rows, NULL, m, fn);
        } else {
            const rp__coreset_release release = {release_rows, &bank->added};
            st = rp__coreset_select_released(rows, n, bank->params.dim, m, bank->params.projection_dim,
                                             bank->params.seed, bank->params.num_threads,
                                             rp__feature_store_spilled(&bank->added) ? &release : NULL, progress,
                                             user_data, fn, selection);
            if (!st) {
                rp__log(RP_LOG_INFO, "%s: kept %llu of %llu vectors", fn, (unsigned long long)m, (unsigned long long)n);
                st = keep_selected(bank, rows, selection, m, fn);
            }
        }
        if (st) {
            free(selection);
            return st;
        }
        free(bank->selection);
        bank->selection = selection;
        bank->selection_len = m;
        bank->compacted = 1;
    }
    const int saved = rp__threads_enter(bank->params.num_threads);
    int st = rp__knn_create(bank->data, bank->size, bank->params.dim, bank_ranking(bank), fn, &bank->index);
    rp__threads_leave(saved);
    if (st) return st; /* selection kept: calling rp_bank_freeze again retries the index only */
    return RP_OK;
}

int rp_bank_create_frozen(const float *vectors, uint64_t count, uint32_t dim, const rp_bank_params *p, rp_bank **out)
{
    static const char fn[] = "rp_bank_create_frozen";
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!vectors || count == 0 || dim == 0)
        return rp__fail(RP_E_INVALID_ARG, "%s: need vectors, count > 0 and dim > 0 (got count %llu, dim %u)", fn,
                        (unsigned long long)count, dim);
    rp_bank_params resolved;
    int st = resolve_params(p, &resolved, fn);
    if (st) return st;
    if (resolved.dim && resolved.dim != dim)
        return rp__fail(RP_E_SHAPE, "%s: dim %u != params.dim %u", fn, dim, resolved.dim);
    if (dim > MAX_DIM) return rp__fail(RP_E_INVALID_ARG, "%s: dim %u is over %u", fn, dim, MAX_DIM);
    resolved.dim = dim;
    size_t floats, bad;
    if (rp__mul_size((size_t)count, dim, &floats))
        return rp__fail(RP_E_LIMIT, "%s: %llu x %u floats overflow the address space", fn, (unsigned long long)count, dim);
    if (!all_finite(vectors, floats, &bad))
        return rp__fail(RP_E_INVALID_ARG, "%s: vector %zu, element %zu is not finite", fn, bad / dim, bad % dim);
    rp_bank *bank = rp__calloc(1, sizeof *bank);
    if (!bank) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    bank->params = resolved;
    bank->added.fd = -1;
    st = (bank->data = rp__malloc(floats * sizeof(float))) ? RP_OK : rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    if (st == RP_OK) {
        memcpy(bank->data, vectors, floats * sizeof(float));
        bank->size = count;
        bank->compacted = 1;
        const int saved = rp__threads_enter(bank->params.num_threads);
        st = rp__knn_create(bank->data, bank->size, dim, bank_ranking(bank), fn, &bank->index);
        rp__threads_leave(saved);
    }
    if (st) {
        rp_bank_free(bank); /* keeps the thread's error message */
        return st;
    }
    *out = bank;
    return RP_OK;
}

uint64_t rp_bank_size(const rp_bank *bank) { return bank ? bank->size : 0; }
uint32_t rp_bank_dim(const rp_bank *bank) { return bank ? bank->params.dim : 0; }
uint64_t rp__bank_bytes(const rp_bank *bank)
{
    if (!bank) return 0;
    uint64_t bytes = bank->added.memory ? bank->added.capacity * bank->added.dim * sizeof(float) : 0;
    if (bank->data) bytes += bank->size * bank->params.dim * sizeof(float);
    bytes += bank->selection_len * sizeof(uint64_t);
    return bytes + (bank->index ? rp__knn_bytes(bank->index) : 0);
}

int rp_bank_is_frozen(const rp_bank *bank) { return bank && bank->index ? 1 : 0; }
int rp__bank_knn_int8(const rp_bank *bank) { return bank && bank->params.knn_int8 ? 1 : 0; }
int rp__bank_knn_bf16(const rp_bank *bank) { return bank && bank->params.knn_bf16 ? 1 : 0; }

const float *rp__bank_frozen_vectors(const rp_bank *bank)
{
    return bank && bank->index && bank->compacted ? bank->data : NULL;
}

int rp_bank_get_vectors(const rp_bank *bank, float *out, size_t out_floats)
{
    rp__clear_error();
    if (!bank || !out) return rp__fail(RP_E_INVALID_ARG, "rp_bank_get_vectors: NULL argument");
    size_t floats = (size_t)bank->size * bank->params.dim;
    if (out_floats < floats)
        return rp__fail(RP_E_SHAPE, "rp_bank_get_vectors: out_floats %zu < %llu x %u", out_floats,
                        (unsigned long long)bank->size, bank->params.dim);
    if (!bank->compacted) return rp__feature_store_read(&bank->added, 0, bank->size, out, "rp_bank_get_vectors");
    if (floats) memcpy(out, bank->data, floats * sizeof(float));
    return RP_OK;
}

int rp_bank_get_selection(const rp_bank *bank, uint64_t *indices_out, size_t out_count)
{
    rp__clear_error();
    if (!bank || !indices_out) return rp__fail(RP_E_INVALID_ARG, "rp_bank_get_selection: NULL argument");
    if (!bank->index) return rp__fail(RP_E_STATE, "rp_bank_get_selection: the bank is not frozen");
    if (out_count < bank->size)
        return rp__fail(RP_E_SHAPE, "rp_bank_get_selection: out_count %zu < bank size %llu", out_count,
                        (unsigned long long)bank->size);
    for (uint64_t i = 0; i < bank->size; i++) indices_out[i] = bank->selection ? bank->selection[i] : i;
    return RP_OK;
}

/* Every buffer of a search against its size: queries exactly count x dim, outputs at least
 * count x k. */
static int check_search_sizes(const rp_bank *bank, size_t queries_floats, uint64_t count, uint32_t k,
                              const float *distances_out, size_t distances_floats, const uint64_t *indices_out,
                              size_t indices_count, size_t *results_out, const char *fn)
{
    size_t floats, results;
    if (count > SIZE_MAX || rp__mul_size((size_t)count, bank->params.dim, &floats) ||
        rp__mul_size((size_t)count, k, &results))
        return rp__fail(RP_E_LIMIT, "%s: %llu queries overflow the address space", fn, (unsigned long long)count);
    if (queries_floats != floats)
        return rp__fail(RP_E_SHAPE, "%s: queries holds %zu floats, %llu queries x dim %u need %zu", fn,
                        queries_floats, (unsigned long long)count, bank->params.dim, floats);
    if (distances_out && distances_floats < results)
        return rp__fail(RP_E_SHAPE, "%s: distances_out holds %zu floats, %llu queries x k %u need %zu", fn,
                        distances_floats, (unsigned long long)count, k, results);
    if (indices_out && indices_count < results)
        return rp__fail(RP_E_SHAPE, "%s: indices_out holds %zu indices, %llu queries x k %u need %zu", fn,
                        indices_count, (unsigned long long)count, k, results);
    *results_out = results;
    return RP_OK;
}

int rp__bank_search(const rp_bank *bank, const float *queries, size_t queries_floats, uint64_t count, uint32_t k,
                    float *distances_out, size_t distances_floats, uint64_t *indices_out, size_t indices_count)
{
    static const char fn[] = "rp_bank_search";
    rp__clear_error();
    if (!bank) return rp__fail(RP_E_INVALID_ARG, "%s: bank is NULL", fn);
    if (!bank->index) return rp__fail(RP_E_STATE, "%s: the bank is not frozen (call rp_bank_freeze first)", fn);
    if (count == 0) return RP_OK;
    if (!queries) return rp__fail(RP_E_INVALID_ARG, "%s: queries is NULL", fn);
    if (k == 0 || k > bank->size)
        return rp__fail(RP_E_INVALID_ARG, "%s: k %u is not in 1..%llu (the bank size)", fn, k,
                        (unsigned long long)bank->size);
    if (k > RP__KNN_MAX_K) return rp__fail(RP_E_LIMIT, "%s: k %u is over %u", fn, k, RP__KNN_MAX_K);
    size_t results = 0, bad;
    int rc = check_search_sizes(bank, queries_floats, count, k, distances_out, distances_floats, indices_out,
                                indices_count, &results, fn);
    if (rc) return rc;
    if (!all_finite(queries, queries_floats, &bad))
        return rp__fail(RP_E_INVALID_ARG, "%s: query %zu, element %zu is not finite", fn, bad / bank->params.dim,
                        bad % bank->params.dim);
    if (!distances_out && !indices_out) return RP_OK; /* nothing asked for */
    /* The search fills its outputs block by block: search into scratch and copy on success, so
     * that a failure part-way (oneDNN, memory) leaves the caller's buffers untouched. The results
     * are small beside the queries (k values per query against dim floats). */
    float *dist = rp__malloc(results * sizeof *dist);
    uint64_t *idx = rp__malloc(results * sizeof *idx);
    if (!dist || !idx) {
        free(dist);
        free(idx);
        return rp__fail(RP_E_NOMEM, "%s: out of memory for %zu results", fn, results);
    }
    rc = rp__knn_search(bank->index, queries, count, k, dist, idx, fn);
    if (!rc && distances_out) memcpy(distances_out, dist, results * sizeof *dist);
    if (!rc && indices_out) memcpy(indices_out, idx, results * sizeof *idx);
    free(dist);
    free(idx);
    return rc;
}

int rp_bank_search(const rp_bank *bank, const float *queries, size_t queries_floats, uint64_t count, uint32_t k,
                   float *distances_out, size_t distances_floats, uint64_t *indices_out, size_t indices_count)
{
    const int saved = rp__threads_enter(bank ? bank->params.num_threads : 0);
    const int rc = rp__bank_search(bank, queries, queries_floats, count, k, distances_out, distances_floats,
                                   indices_out, indices_count);
    rp__threads_leave(saved);
    return rc;
}

void rp_bank_free(rp_bank *bank)
{
    if (!bank) return;
    rp__knn_free(bank->index);
    free(bank->selection);
    rp__feature_store_free(&bank->added);
    free(bank->data);
    free(bank);
}
