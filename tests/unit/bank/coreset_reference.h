/* The greedy coreset by the plain loop (coreset_reference.c), for the tests: the library's pruned
 * rp__coreset_select must return exactly these indices. Not part of the library. */
#ifndef RP_TEST_CORESET_REFERENCE_H
#define RP_TEST_CORESET_REFERENCE_H

#include <stdint.h>

/* The same selection as rp__coreset_select (libreconpatch/bank/coreset.h) by the plain loop: every
 * pass recomputes all n distances, one thread, no progress. */
int rp__coreset_select_reference(const float *vectors, uint64_t n, uint32_t dim, uint64_t m, uint32_t projection_dim,
                                 uint64_t seed, const char *fn, uint64_t *indices_out);

#endif
