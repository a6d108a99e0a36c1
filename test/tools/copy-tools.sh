#!/usr/bin/env bash
# Installs the copy tools `npm run bench:copy` compares the copier with, crane and regctl, from
# the Go module proxy into the same cache as the control plane, keyed by version. Idempotent:
# returns at once when present. Run by the benchmark itself, not by test/prepare.sh: no test
# needs them, and building them costs minutes on a cold Go cache.
# Prints the tools' directory on stdout (progress goes to stderr).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

cache_root="${BUILD_WATCHER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/build-watcher}"
out="$cache_root/tools/copy-crane-$CRANE_VERSION-regctl-$REGCTL_VERSION"
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

install() { # name module-path
  local name="$1" pkg="$2"
  [ -x "$out/$name" ] && return 0
  echo "installing $pkg (first time only)..." >&2
  (cd / && GOBIN="$out/.partial" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" "$pkg")
  mv "$out/.partial/$name" "$out/$name"
  rmdir "$out/.partial"
}
install crane "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
install regctl "github.com/regclient/regclient/cmd/regctl@$REGCTL_VERSION"
echo "$out"
