/* The two helpers every bench program needs: a monotonic clock in seconds, and "stop with the
 * library's last error message". Define RP_BENCH_PROGRAM (the program's name, for messages)
 * before including. Header-only, shared by the bench programs, not part of the library. */
#ifndef RP_BENCH_UTIL_H
#define RP_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <reconpatch/reconpatch.h>

#ifndef RP_BENCH_PROGRAM
#error "define RP_BENCH_PROGRAM before including rp_bench_util.h"
#endif

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Print "program: what: <last library error>" and exit(1). */
static inline void die(const char *what)
{
    fprintf(stderr, RP_BENCH_PROGRAM ": %s: %s\n", what, rp_last_error_message());
    exit(1);
}

#endif
