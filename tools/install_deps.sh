#!/bin/sh
# Install the Debian packages given as arguments that are missing. As root it runs apt-get;
# otherwise it prints the command to run.
missing=""
for p in "$@"; do
  # A tool that is already on PATH counts, whoever installed it (npm often comes with a
  # nodejs package from another source, and Debian's npm package then cannot be installed).
  command -v "$p" >/dev/null 2>&1 && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
    echo "apt-get failed for:$missing" >&2; exit 1; }
else
  echo "missing Debian packages; run:" >&2
  echo "  sudo apt-get install$missing" >&2
  exit 1
fi
