/* See threads.h. */
#include "common/threads.h"

#include <omp.h>
#include <stdatomic.h>

static atomic_int largest_team;

int rp__threads_enter(uint32_t num_threads)
{
    const int saved = omp_get_max_threads();
    if (num_threads) omp_set_num_threads((int)num_threads);
    return saved;
}

void rp__threads_leave(int saved) { omp_set_num_threads(saved); }

int rp__threads_team(void)
{
    const int team = omp_in_parallel() ? 1 : omp_get_max_threads();
    int seen = atomic_load_explicit(&largest_team, memory_order_relaxed);
    while (team > seen &&
           !atomic_compare_exchange_weak_explicit(&largest_team, &seen, team, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
    return team;
}

int rp__threads_largest_team(void) { return atomic_load(&largest_team); }

void rp__threads_reset_largest_team(void) { atomic_store(&largest_team, 0); }
