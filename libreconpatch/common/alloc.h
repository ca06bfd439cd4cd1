/* The library's allocations: every malloc, calloc, realloc, aligned_alloc, posix_memalign, strdup
 * and strndup of libreconpatch goes through these (free stays free), so that the tests can make
 * the n-th allocation fail and check that each failure ends in RP_E_NOMEM with nothing leaked.
 * Allocations made inside libpng, libjpeg, cJSON, oneDNN and OpenBLAS are theirs, not routed. */
#ifndef RP_COMMON_ALLOC_H
#define RP_COMMON_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *rp__malloc(size_t size);
void *rp__calloc(size_t count, size_t size);
void *rp__realloc(void *ptr, size_t size);
void *rp__aligned_alloc(size_t alignment, size_t size);
int rp__posix_memalign(void **out, size_t alignment, size_t size);
char *rp__strdup(const char *s);
char *rp__strndup(const char *s, size_t n);

/* Test hook (internal: the shared library does not export it; tests link the internal archive).
 * rp__alloc_fail_at(n) with n >= 1: the n-th allocation from now (counting every call above,
 * from any thread) fails as if memory were exhausted, once; the following ones succeed again.
 * n = 0 switches it off. The count restarts at each call. */
void rp__alloc_fail_at(uint64_t n);
/* Allocations counted since the last rp__alloc_fail_at, and whether the failure was injected. */
uint64_t rp__alloc_count(void);
int rp__alloc_failure_injected(void);

#endif
