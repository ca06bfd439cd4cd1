/* Internal helpers shared by every module: errors, logging, params structs. Not installed. */
#ifndef RP_COMMON_H
#define RP_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "reconpatch/reconpatch.h"

#if defined(__GNUC__)
#define RP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RP_PRINTF(a, b)
#endif

/* Record a failure on this thread and return code, so callers write `return rp__fail(...)`.
 * The message should start with the public function's name: "rp_bank_add: dim 384 != 1024". */
int rp__fail(int code, const char *fmt, ...) RP_PRINTF(2, 3);
/* Relay the failure of an inner call: records code with the message "<fmt...>: <inner message>",
 * where the inner message is the one the failed call left on this thread. It copies that message
 * before formatting, since rp__fail overwrites it. */
int rp__fail_relay(int code, const char *fmt, ...) RP_PRINTF(2, 3);
/* Called on entry of every public function: clears the thread's last error. */
void rp__clear_error(void);

/* Log through the user's callback or RP_LOG; cheap when the level is off. */
void rp__log(int level, const char *fmt, ...) RP_PRINTF(2, 3);
int rp__log_enabled(int level);

/* Copy a caller's params struct into the library's own (already holding defaults).
 * Checks struct_size: smaller copies min(size) bytes, larger must have an all-zero tail
 * (else RP_E_VERSION). fn names the public function for the message. */
int rp__params_copy(void *dst, size_t dst_size, const void *src, const char *fn);
/* A reserved params field (the tail that keeps the next appended field growing the struct) must
 * be 0: a non-zero one is a field of a newer library, refused with RP_E_VERSION, never ignored. */
int rp__params_check_reserved(uint32_t value, const char *field, const char *fn);
/* Validate the size argument of a *_params_init(p, size) call and zero the struct. */
int rp__params_init(void *params, size_t caller_size, size_t own_size, const char *fn);

/* Number of online CPU cores (at least 1). */
uint32_t rp__cpu_count(void);

/* Whether to run the AVX-512 loops: the CPU has avx512f and RP_DISABLE_AVX512 is unset, empty or "0".
 * Read once per process (thread-safe). Only loops whose portable twin gives bit-identical results
 * may ask it: the switch is a testing aid and must not change any output. */
int rp__cpu_use_avx512(void);
/* Whether to run the AVX2 + FMA loops where a module has them (CPUs without AVX-512, or with
 * RP_DISABLE_AVX512 set): the CPU has avx2 and fma and RP_DISABLE_AVX2 is unset, empty or "0".
 * The same rule: their portable twins must give bit-identical results. */
int rp__cpu_use_avx2(void);

/* The instruction sets of the library's vector loops; every module's versions give the same bits. */
typedef enum { RP__ISA_PORTABLE, RP__ISA_AVX2, RP__ISA_AVX512, RP__ISA_COUNT } rp__isa;
/* The loops to run: AVX-512 if rp__cpu_use_avx512(), else AVX2 + FMA if rp__cpu_use_avx2(), else portable. */
rp__isa rp__cpu_isa(void);
/* Whether this CPU can run a set at all, whatever the RP_DISABLE_* switches say: the tests run
 * every set it can and compare their outputs bit for bit. */
int rp__cpu_can_run(rp__isa isa);
/* "portable", "avx2+fma", "avx512". */
const char *rp__isa_name(rp__isa isa);

/* Overflow-checked size arithmetic: returns 0 and sets *out, or -1 on overflow. */
int rp__mul_size(size_t a, size_t b, size_t *out);

#endif
