/* The allocation wrappers and their failure-injection hook (alloc.h). With the hook off (the only
 * state outside tests) each wrapper costs one relaxed atomic load before the libc call. */
#include "common/alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t fail_at;  /* 0 = off */
static _Atomic uint64_t counted;  /* allocations since rp__alloc_fail_at */
static _Atomic int injected;

/* Whether this allocation is the one to fail. */
static int should_fail(void)
{
    if (!atomic_load_explicit(&fail_at, memory_order_relaxed)) return 0;
    uint64_t k = atomic_fetch_add(&counted, 1) + 1;
    if (k != atomic_load(&fail_at)) return 0;
    atomic_store(&injected, 1);
    errno = ENOMEM;
    return 1;
}

void rp__alloc_fail_at(uint64_t n)
{
    atomic_store(&fail_at, 0);
    atomic_store(&counted, 0);
    atomic_store(&injected, 0);
    atomic_store(&fail_at, n);
}

uint64_t rp__alloc_count(void) { return atomic_load(&counted); }
int rp__alloc_failure_injected(void) { return atomic_load(&injected); }

void *rp__malloc(size_t size) { return should_fail() ? NULL : malloc(size); }
void *rp__calloc(size_t count, size_t size) { return should_fail() ? NULL : calloc(count, size); }
void *rp__realloc(void *ptr, size_t size) { return should_fail() ? NULL : realloc(ptr, size); }
void *rp__aligned_alloc(size_t alignment, size_t size) { return should_fail() ? NULL : aligned_alloc(alignment, size); }

int rp__posix_memalign(void **out, size_t alignment, size_t size)
{
    return should_fail() ? ENOMEM : posix_memalign(out, alignment, size);
}

char *rp__strdup(const char *s) { return should_fail() ? NULL : strdup(s); }
char *rp__strndup(const char *s, size_t n) { return should_fail() ? NULL : strndup(s, n); }
