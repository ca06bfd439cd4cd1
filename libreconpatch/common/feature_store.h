/* A growable store of float rows (patch features) that keeps its memory bounded: rows are held in
 * ordinary memory up to a byte limit, and past it all of them move to an unlinked temporary file
 * (deleted by the file system when the store is closed or the process dies, so nothing is left
 * behind). Reading a spilled store goes through a read-only shared mapping of that file; the
 * pages a reader touched are given back with rp__feature_store_release, so the process's resident
 * memory stays near what it reads at once, not what it stores. The rows are stored as float32
 * either way: spilling changes where they are, never their values. docs/memory-bank.md, "Training
 * memory". Used by the bank (vectors added before the coreset) and the trainer (patch features). */
#ifndef RP_COMMON_FEATURE_STORE_H
#define RP_COMMON_FEATURE_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The limit when none is set: what rp_train gives its stores together (rp_train_params). */
#define RP__FEATURE_STORE_DEFAULT_LIMIT ((uint64_t)2 << 30)

typedef struct rp__feature_store {
    uint32_t dim;          /* floats per row; set by the first append when 0 */
    uint64_t rows;         /* rows stored */
    uint64_t memory_limit; /* bytes held in memory before spilling; 0: never spill */
    char *spill_dir;       /* where the file goes; NULL: $TMPDIR, else /tmp */

    float *memory;         /* in memory: capacity x dim floats; NULL once spilled */
    uint64_t capacity;

    int fd;                /* >= 0 once spilled */
    const float *mapping;  /* read-only view of the file, made by rp__feature_store_map */
    size_t mapped_bytes;
} rp__feature_store;

/* An empty store (no allocation). spill_dir is copied (may be NULL). RP_E_NOMEM only. */
int rp__feature_store_init(rp__feature_store *s, uint32_t dim, uint64_t memory_limit, const char *spill_dir,
                           const char *fn);

/* Append count rows of s->dim floats (s->dim set from dim when it is 0; the caller checks shapes).
 * On failure (RP_E_NOMEM, RP_E_IO naming the folder and the system's reason, RP_E_LIMIT) the
 * store holds what it held before. An append after rp__feature_store_map drops the mapping. */
int rp__feature_store_append(rp__feature_store *s, const float *rows, uint64_t count, const char *fn);

/* The rows, readable: the memory block, or a read-only mapping of the file (made on the first
 * call after an append). Valid until the next append or rp__feature_store_free. NULL only on
 * failure (RP_E_IO / RP_E_NOMEM, message set) or for an empty store (no message). */
const float *rp__feature_store_rows(rp__feature_store *s, const char *fn);

/* The rows as rp__feature_store_rows last returned them, without mapping anything: for readers
 * holding a const store after the writer called rp__feature_store_rows. */
const float *rp__feature_store_view(const rp__feature_store *s);

/* Copy rows [first, first + count) into out (count x dim floats), from memory or with pread from
 * the file (no mapping: safe on a const store from several threads). RP_E_IO on a failed read. */
int rp__feature_store_read(const rp__feature_store *s, uint64_t first, uint64_t count, float *out, const char *fn);

/* Forget the rows from `rows` on (rows <= s->rows); drops the mapping. */
void rp__feature_store_truncate(rp__feature_store *s, uint64_t rows);

/* Hand the memory block of a store that did not spill to the caller (who frees it; it may hold
 * more rows than s->rows) and leave the store empty. NULL for a spilled or empty store. */
float *rp__feature_store_detach(rp__feature_store *s);

/* Give back the resident pages of rows [first, first + count) of a spilled store's mapping (their
 * content stays in the file and is read again on the next access). A no-op in memory. */
void rp__feature_store_release(const rp__feature_store *s, uint64_t first, uint64_t count);

/* 1 when the rows live in the temporary file. */
int rp__feature_store_spilled(const rp__feature_store *s);

/* Close the file (deleting it), unmap, free; the store is then empty and may be initialised again. */
void rp__feature_store_free(rp__feature_store *s);

/* Test hook: bytes of rows that all stores of the process hold in ordinary memory now, their
 * largest value since rp__feature_store_reset_peak, and how many stores spilled since then.
 * Not exported from the shared library; tests link the internal archive. */
uint64_t rp__feature_store_bytes_held(void);
uint64_t rp__feature_store_peak_bytes(void);
uint64_t rp__feature_store_spill_count(void);
void rp__feature_store_reset_peak(void);

#endif
