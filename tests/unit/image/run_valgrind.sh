#!/bin/sh
# The image test binary under valgrind's memcheck (leaks and invalid accesses on bad inputs), in one
# process (CK_FORK=no). A sanitized build skips it: ASan and TSan reserve the address space valgrind
# needs and intercept the same allocator, so the two cannot run together; there ASan (with its leak
# checker) covers the same ground in the image_* tests.
# usage: run_valgrind.sh VALGRIND TEST_BINARY
case ${RP_SANITIZE:-none} in
  none|'') ;;
  *) echo "SKIP: built with -Db_sanitize=$RP_SANITIZE: valgrind cannot run a sanitized binary (ASan's leak checker covers the image tests instead)"; exit 77 ;;
esac
exec "$1" --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --quiet "$2"
