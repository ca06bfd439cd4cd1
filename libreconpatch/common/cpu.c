/* The switches between the vector loops (AVX-512, AVX2 + FMA) and their portable twins.
 *
 * Every module that has vector loops asks rp__cpu_use_avx512() / rp__cpu_use_avx2() (or
 * rp__cpu_isa(), which combines them) instead of the CPU directly, so that RP_DISABLE_AVX512=1
 * sends the whole library down the AVX2 path where the CPU has it, and RP_DISABLE_AVX2=1 as well
 * down the portable one. The versions do the same operations in the same order, so the switches
 * change speed, not results: they exist to test the code that other CPUs run, and to rule the
 * vector loops out when hunting a problem. */
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
    if (has && disabled) rp__log(RP_LOG_INFO, "RP_DISABLE_AVX512 is set: no AVX-512 loops");
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

static int cpu_has_avx2_fma(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
#else
    return 0;
#endif
}

static void decide_avx2_once(void)
{
    const int has = cpu_has_avx2_fma();
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

rp__isa rp__cpu_isa(void)
{
    if (rp__cpu_use_avx512()) return RP__ISA_AVX512;
    if (rp__cpu_use_avx2()) return RP__ISA_AVX2;
    return RP__ISA_PORTABLE;
}

int rp__cpu_can_run(rp__isa isa)
{
    switch (isa) {
    case RP__ISA_AVX512: return cpu_has_avx512f();
    case RP__ISA_AVX2: return cpu_has_avx2_fma();
    default: return 1;
    }
}

const char *rp__isa_name(rp__isa isa)
{
    switch (isa) {
    case RP__ISA_AVX512: return "avx512";
    case RP__ISA_AVX2: return "avx2+fma";
    default: return "portable";
    }
}
