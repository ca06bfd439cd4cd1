// Compiled as C++11: the umbrella header must work from C++ host applications.
#include <reconpatch/reconpatch.h>
#include <cstdio>
int main() { std::printf("%s\n", rp_version_string()); return 0; }
