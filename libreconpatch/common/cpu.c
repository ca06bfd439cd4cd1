/* The one switch between the AVX-512 loops and their portable twins.
 *
 * Every module that has an AVX-512 loop asks rp__cpu_use_avx512() instead of the CPU directly, so
 * that RP_DISABLE_AVX512=1 sends the whole library down the portable path. The twins do the same
 * operations in the same order, so the switch changes speed, not results: it exists to test the
 * code that users without AVX-512 run, and to rule the vector loops out when hunting a problem. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static int use_avx512;
static pthread_once_t use_avx512_once = PTHREAD_ONCE_INIT;

static int cpu_has_avx512f(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

/* Unset, empty or "0" leaves the choice to the CPU; any other value turns the AVX-512 loops off. */
static int disabled_by_environment(void)
{
    const char *v = getenv("RP_DISABLE_AVX512");
    return v && v[0] && strcmp(v, "0") != 0;
}

static void decide_once(void)
{
    const int has = cpu_has_avx512f();
    const int disabled = disabled_by_environment();
    use_avx512 = has && !disabled;
    if (has && disabled) rp__log(RP_LOG_INFO, "RP_DISABLE_AVX512 is set: using the portable loops");
}

int rp__cpu_use_avx512(void)
{
    /* Decided once per process: a kernel must not switch sides between two calls of one job, and
     * the check then costs one synchronised load on the hot paths that ask for it. */
    pthread_once(&use_avx512_once, decide_once);
    return use_avx512;
}

/* AVX2 + FMA loops (for CPUs without AVX-512). Same contract as rp__cpu_use_avx512: their portable
 * twins give bit-identical results; RP_DISABLE_AVX2 (any value but empty or "0") turns them off. */
static int use_avx2;
static pthread_once_t use_avx2_once = PTHREAD_ONCE_INIT;

static void decide_avx2_once(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    const int has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    const int has = 0;
#endif
    const char *v = getenv("RP_DISABLE_AVX2");
    const int disabled = v && v[0] && strcmp(v, "0") != 0;
    use_avx2 = has && !disabled;
    if (has && disabled) rp__log(RP_LOG_INFO, "RP_DISABLE_AVX2 is set: no AVX2 loops");
}

int rp__cpu_use_avx2(void)
{
    pthread_once(&use_avx2_once, decide_avx2_once);
    return use_avx2;
}
