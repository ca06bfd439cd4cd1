/* Command-line helper: run with OMP_WAIT_POLICY=passive unless the user chose a policy.
 *
 * libgomp reads OMP_WAIT_POLICY once, when it is loaded (before main), so setting it in main is too
 * late: we set it and re-execute the program once. Passive waiting makes idle OpenMP threads sleep
 * at once instead of spinning, which costs little on a quiet machine and avoids the collapse seen
 * when the OS gives our threads less than a core each (docs/threading.md has the measurements).
 * Setting GOMP_SPINCOUNT instead also keeps the program's hands off.
 * Host applications do the same by exporting OMP_WAIT_POLICY=passive before starting. */
#ifndef RP_CLI_OMP_POLICY_H
#define RP_CLI_OMP_POLICY_H

#include <stdlib.h>
#include <unistd.h>

static void rp_cli_passive_openmp(char **argv)
{
    /* The user's choice (or we already re-executed). */
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with libgomp's default policy */
}

#endif
