/* Compiled with -std=c99 -pedantic -Werror: the umbrella header must be plain C99. */
#include <reconpatch/reconpatch.h>
int main(void) { return rp_version_number() == 0; }
