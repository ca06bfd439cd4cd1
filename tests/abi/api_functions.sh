#!/bin/sh
# Print, sorted, the name of every function declared RP_API in the public headers of folder $1.
# Shared by the export, documentation and version-script checks, so they agree on "the API".
set -eu
cat "$1"/*.h | grep -v '^ *#' | tr '\n' ' ' | grep -o 'RP_API[^;(]*(' | sed 's/($//; s/.*[ *]//' | sort -u
