/* Where a call's time goes: the stage clocks behind rp_timing_enable / rp_timing_take (core.h).
 * When timing is on, each instrumented stage adds its wall time to the calling thread's totals;
 * when it is off (the default), a stage costs one relaxed atomic load and no clock read. */
#ifndef RP_COMMON_TIMING_H
#define RP_COMMON_TIMING_H

#include <stdint.h>

/* The stage's start time, or a negative value when timing is off. */
double rp__timing_start(void);

/* Add the time since started (from rp__timing_start) to the calling thread's total of stage
 * (RP_TIMING_*); nothing when started is negative. */
void rp__timing_stop(int32_t stage, double started);

#endif
