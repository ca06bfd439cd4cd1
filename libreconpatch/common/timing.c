/* See timing.h and core.h (rp_timing_*). Totals are per thread, so concurrent calls on other
 * threads never mix into a caller's figures and need no locking. */
#include "common/timing.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "common/common.h"

static atomic_int enabled;
static _Thread_local double totals[RP_TIMING_COUNT];

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double rp__timing_start(void)
{
    return atomic_load_explicit(&enabled, memory_order_relaxed) ? seconds_now() : -1.0;
}

void rp__timing_stop(int32_t stage, double started)
{
    if (started < 0 || stage < 0 || stage >= RP_TIMING_COUNT) return;
    totals[stage] += seconds_now() - started;
}

void rp_timing_enable(int on) { atomic_store(&enabled, on ? 1 : 0); }

int rp_timing_take(double *seconds_out, size_t count)
{
    rp__clear_error();
    if (!seconds_out) return rp__fail(RP_E_INVALID_ARG, "rp_timing_take: seconds_out is NULL");
    if (count < RP_TIMING_COUNT)
        return rp__fail(RP_E_SHAPE, "rp_timing_take: seconds_out holds %zu values, %d needed", count,
                        RP_TIMING_COUNT);
    memcpy(seconds_out, totals, sizeof totals);
    memset(totals, 0, sizeof totals);
    return RP_OK;
}

const char *rp_timing_stage_name(int32_t stage)
{
    static const char *const names[RP_TIMING_COUNT] = {"decode", "preprocess", "backbone", "aggregate", "route",
                                                       "head", "knn", "reweight", "map", "map_to_image"};
    return stage >= 0 && stage < RP_TIMING_COUNT ? names[stage] : "";
}
