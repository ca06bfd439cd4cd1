/* The OpenMP team size of one public call. A handle's num_threads (extractor, bank, scorer)
 * governs every stage of the calls made on it, also the stages that open their own parallel
 * regions without a num_threads clause (aggregation, the kNN, oneDNN's products in the embedding):
 * the call sets the calling thread's team size on entry and gives the caller's back on return, so
 * host code that uses OpenMP itself sees its own setting again afterwards (docs/threading.md). */
#ifndef RP_COMMON_THREADS_H
#define RP_COMMON_THREADS_H

#include <stdint.h>

/* Set the calling thread's OpenMP team size to num_threads (0: leave it) and return the caller's
 * value for rp__threads_leave. */
int rp__threads_enter(uint32_t num_threads);
void rp__threads_leave(int saved);

/* The team a parallel stage may open now: 1 inside a parallel region, else the calling thread's
 * team size. Records the largest value handed out, for the tests that check the governance. */
int rp__threads_team(void);

/* Test hook: the largest team rp__threads_team handed out since the last reset. */
int rp__threads_largest_team(void);
void rp__threads_reset_largest_team(void);

#endif
