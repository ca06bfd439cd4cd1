/* A check for the tests that meson also runs with RP_DISABLE_AVX512=1 / RP_DISABLE_AVX2=1 (the
 * "_portable" runs): those
 * runs prove the portable loops only if the switch really took effect, so each such test program
 * asserts which loops the library chose in this run. Needs the internal archive. */
#ifndef RP_TEST_CPU_H
#define RP_TEST_CPU_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

START_TEST(cpu_switch__this_run_uses_the_loops_the_environment_asks_for)
{
    const char *v = getenv("RP_DISABLE_AVX512");
    const int disabled = v && v[0] && strcmp(v, "0") != 0;
    if (disabled)
        ck_assert_msg(!rp__cpu_use_avx512(), "RP_DISABLE_AVX512=%s but the AVX-512 loops are in use", v);
    else
        ck_assert_int_eq(rp__cpu_use_avx512(), __builtin_cpu_supports("avx512f") ? 1 : 0);
    const char *v2 = getenv("RP_DISABLE_AVX2");
    if (v2 && v2[0] && strcmp(v2, "0") != 0)
        ck_assert_msg(!rp__cpu_use_avx2(), "RP_DISABLE_AVX2=%s but the AVX2 loops are in use", v2);
    else
        ck_assert_int_eq(rp__cpu_use_avx2(),
                         __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0);
}
END_TEST

static inline void rp_test_add_cpu_switch_case(TCase *tc)
{
    tcase_add_test(tc, cpu_switch__this_run_uses_the_loops_the_environment_asks_for);
}

#endif
