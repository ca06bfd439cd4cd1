/* The name of the ISA oneDNN runs, for the benchmark programs' "which kernels ran" lines.
 * Header-only, shared by the bench programs, not part of the library. */
#ifndef RP_BENCH_ISA_H
#define RP_BENCH_ISA_H

#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

static inline const char *rp_bench_isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    default: return "other";
    }
}

/* Which of the library's own vector loops (aggregation, kNN scan, norms and re-ranking, map
 * smoothing, coreset distances) run, given whether the AVX-512 and the AVX2 + FMA sets are in use
 * (libreconpatch/common/cpu.c decides: AVX-512 first, then AVX2 + FMA, else portable). */
static inline const char *rp_bench_library_loops(int avx512, int avx2)
{
    if (avx512) return "AVX-512 loops on (AVX2+FMA loops unused)";
    if (avx2) return "AVX-512 loops off, AVX2+FMA loops on";
    return "AVX-512 loops off, AVX2+FMA loops off (portable loops)";
}

/* The library's rule for RP_DISABLE_AVX512 / RP_DISABLE_AVX2: set, not empty and not "0", for the
 * programs that link only the public library and so cannot ask it. */
static inline int rp_bench_env_disables(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] && strcmp(v, "0") != 0;
}

#endif
