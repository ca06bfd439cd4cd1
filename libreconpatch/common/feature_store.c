/* The bounded-memory row store (feature_store.h). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise, MADV_DONTNEED */
#include "common/feature_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/common.h"

static _Atomic uint64_t held_now, held_peak, spills;

static void held_add(uint64_t bytes)
{
    uint64_t now = atomic_fetch_add(&held_now, bytes) + bytes, peak = atomic_load(&held_peak);
    while (now > peak && !atomic_compare_exchange_weak(&held_peak, &peak, now)) {
    }
}

static void held_sub(uint64_t bytes) { atomic_fetch_sub(&held_now, bytes); }

uint64_t rp__feature_store_bytes_held(void) { return atomic_load(&held_now); }
uint64_t rp__feature_store_peak_bytes(void) { return atomic_load(&held_peak); }
uint64_t rp__feature_store_spill_count(void) { return atomic_load(&spills); }

void rp__feature_store_reset_peak(void)
{
    atomic_store(&held_peak, atomic_load(&held_now));
    atomic_store(&spills, 0);
}

int rp__feature_store_init(rp__feature_store *s, uint32_t dim, uint64_t memory_limit, const char *spill_dir,
                           const char *fn)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->dim = dim;
    s->memory_limit = memory_limit;
    if (spill_dir && !(s->spill_dir = rp__strdup(spill_dir)))
        return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    return RP_OK;
}

static size_t row_bytes(const rp__feature_store *s) { return (size_t)s->dim * sizeof(float); }

static const char *spill_folder(const rp__feature_store *s)
{
    if (s->spill_dir) return s->spill_dir;
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

/* Write all of bytes at offset, across short writes and interruptions. 0 or an errno value. */
static int write_all(int fd, const void *data, size_t bytes, off_t offset)
{
    const char *p = data;
    while (bytes) {
        const size_t chunk = bytes > ((size_t)1 << 30) ? ((size_t)1 << 30) : bytes;
        ssize_t w = pwrite(fd, p, chunk, offset);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : EIO;
        p += w;
        offset += w;
        bytes -= (size_t)w;
    }
    return 0;
}

static void drop_mapping(rp__feature_store *s)
{
    if (s->mapping) munmap((void *)s->mapping, s->mapped_bytes);
    s->mapping = NULL;
    s->mapped_bytes = 0;
}

/* Move the rows held in memory into a new unlinked file. On failure nothing changes. */
static int spill(rp__feature_store *s, const char *fn)
{
    const char *dir = spill_folder(s);
    const size_t len = strlen(dir) + sizeof "/reconpatch-features-XXXXXX";
    char *path = rp__malloc(len);
    if (!path) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    snprintf(path, len, "%s/reconpatch-features-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        const int e = errno;
        free(path);
        return rp__fail(RP_E_IO, "%s: cannot create a temporary file for the patch features in '%s': %s", fn, dir,
                        strerror(e));
    }
    unlink(path); /* the file lives as long as the descriptor: nothing is ever left behind */
    free(path);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    const int e = write_all(fd, s->memory, (size_t)s->rows * row_bytes(s), 0);
    if (e) {
        close(fd);
        return rp__fail(RP_E_IO, "%s: writing %llu patch features to a temporary file in '%s' failed: %s", fn,
                        (unsigned long long)s->rows, dir, strerror(e));
    }
    held_sub((uint64_t)s->capacity * row_bytes(s));
    free(s->memory);
    s->memory = NULL;
    s->capacity = 0;
    s->fd = fd;
    atomic_fetch_add(&spills, 1);
    rp__log(RP_LOG_INFO, "%s: patch features above %llu bytes: %llu rows moved to a temporary file in %s", fn,
            (unsigned long long)s->memory_limit, (unsigned long long)s->rows, dir);
    return RP_OK;
}

/* Grow the memory block to hold at least `need` rows: geometrically, but not past the limit. */
static int grow(rp__feature_store *s, uint64_t need, const char *fn)
{
    const size_t rb = row_bytes(s);
    uint64_t cap = s->capacity ? s->capacity + s->capacity / 2 : 4096;
    if (s->memory_limit && cap > s->memory_limit / rb) cap = s->memory_limit / rb;
    if (cap < need) cap = need;
    size_t bytes;
    if (rp__mul_size((size_t)cap, rb, &bytes))
        return rp__fail(RP_E_LIMIT, "%s: %llu rows of %u floats overflow the address space", fn,
                        (unsigned long long)cap, s->dim);
    float *grown = rp__realloc(s->memory, bytes);
    if (!grown)
        return rp__fail(RP_E_NOMEM, "%s: out of memory for %llu patch features of %u floats", fn,
                        (unsigned long long)cap, s->dim);
    held_add((uint64_t)(cap - s->capacity) * rb);
    s->memory = grown;
    s->capacity = cap;
    return RP_OK;
}

int rp__feature_store_append(rp__feature_store *s, const float *rows, uint64_t count, const char *fn)
{
    if (!count) return RP_OK;
    if (!s->dim) return rp__fail(RP_E_INVALID_ARG, "%s: rows of 0 floats", fn);
    const size_t rb = row_bytes(s);
    size_t add_bytes, total_bytes;
    if (count > UINT64_MAX - s->rows || rp__mul_size((size_t)count, rb, &add_bytes) ||
        rp__mul_size((size_t)(s->rows + count), rb, &total_bytes) || total_bytes > (size_t)INT64_MAX)
        return rp__fail(RP_E_LIMIT, "%s: %llu + %llu rows of %u floats overflow the address space", fn,
                        (unsigned long long)s->rows, (unsigned long long)count, s->dim);
    drop_mapping(s);
    int rc;
    if (s->fd < 0 && s->memory_limit && total_bytes > s->memory_limit && (rc = spill(s, fn))) return rc;
    if (s->fd >= 0) {
        const off_t at = (off_t)((size_t)s->rows * rb);
        const int e = write_all(s->fd, rows, add_bytes, at);
        if (e) {
            if (ftruncate(s->fd, at)) { /* keep the file as it was; the rows count already does */
            }
            return rp__fail(RP_E_IO, "%s: writing %llu patch features to the temporary file in '%s' failed: %s", fn,
                            (unsigned long long)count, spill_folder(s), strerror(e));
        }
    } else {
        if (s->rows + count > s->capacity && (rc = grow(s, s->rows + count, fn))) return rc;
        memcpy(s->memory + (size_t)s->rows * s->dim, rows, add_bytes);
    }
    s->rows += count;
    return RP_OK;
}

const float *rp__feature_store_rows(rp__feature_store *s, const char *fn)
{
    if (s->fd < 0) return s->memory;
    if (s->mapping || !s->rows) return s->mapping;
    const size_t bytes = (size_t)s->rows * row_bytes(s);
    void *m = mmap(NULL, bytes, PROT_READ, MAP_SHARED, s->fd, 0);
    if (m == MAP_FAILED) {
        rp__fail(errno == ENOMEM ? RP_E_NOMEM : RP_E_IO, "%s: cannot map the temporary file of %llu patch features: %s",
                 fn, (unsigned long long)s->rows, strerror(errno));
        return NULL;
    }
    s->mapping = m;
    s->mapped_bytes = bytes;
    return s->mapping;
}

int rp__feature_store_read(const rp__feature_store *s, uint64_t first, uint64_t count, float *out, const char *fn)
{
    const size_t rb = row_bytes(s);
    if (!count) return RP_OK;
    if (s->fd < 0) {
        memcpy(out, s->memory + (size_t)first * s->dim, (size_t)count * rb);
        return RP_OK;
    }
    char *p = (char *)out;
    size_t left = (size_t)count * rb;
    off_t at = (off_t)((size_t)first * rb);
    while (left) {
        ssize_t r = pread(s->fd, p, left, at);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return rp__fail(RP_E_IO, "%s: reading patch features back from the temporary file failed: %s", fn,
                            r < 0 ? strerror(errno) : "unexpected end of file");
        p += r;
        at += r;
        left -= (size_t)r;
    }
    return RP_OK;
}

void rp__feature_store_truncate(rp__feature_store *s, uint64_t rows)
{
    if (rows >= s->rows) return;
    drop_mapping(s);
    if (s->fd >= 0 && ftruncate(s->fd, (off_t)((size_t)rows * row_bytes(s)))) {
        /* the tail stays in the file unread: appends overwrite it */
    }
    s->rows = rows;
}

float *rp__feature_store_detach(rp__feature_store *s)
{
    if (s->fd >= 0) return NULL;
    float *block = s->memory;
    held_sub((uint64_t)s->capacity * row_bytes(s));
    s->memory = NULL;
    s->capacity = 0;
    s->rows = 0;
    return block;
}

const float *rp__feature_store_view(const rp__feature_store *s) { return s->fd < 0 ? s->memory : s->mapping; }

void rp__feature_store_release(const rp__feature_store *s, uint64_t first, uint64_t count)
{
    if (s->fd < 0 || !s->mapping || !count) return;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), rb = row_bytes(s);
    size_t lo = (size_t)first * rb, hi = (size_t)(first + count) * rb;
    if (hi > s->mapped_bytes) hi = s->mapped_bytes;
    lo -= lo % page;
    hi += (page - hi % page) % page; /* the mapping's last page is whole in memory too */
    if (hi > lo) madvise((char *)s->mapping + lo, hi - lo, MADV_DONTNEED); /* shared file pages: kept in the file */
}

int rp__feature_store_spilled(const rp__feature_store *s) { return s->fd >= 0; }

void rp__feature_store_free(rp__feature_store *s)
{
    drop_mapping(s);
    if (s->fd >= 0) close(s->fd);
    held_sub((uint64_t)s->capacity * row_bytes(s));
    free(s->memory);
    free(s->spill_dir);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}
