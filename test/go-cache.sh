# Sourced, not run, by the scripts that build Go programs for the tests and benchmarks
# (test/controlplane/build.sh, test/tools/build.sh, test/tools/copy-tools.sh): one cache outside
# the repo (test/harness/components.ts reads the same layout), one lock per cache directory,
# one way to install.

cache_root="${BUILD_WATCHER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/build-watcher}"

# Sets $out to the cache directory $1 (its name carries the versions) and holds its lock until
# the script ends: two runs starting at once must not build the same thing twice.
use_cache_dir() { # name
  out="$cache_root/$1"
  mkdir -p "$out"
  exec 9>"$out/.lock"
  flock 9
}

# `go install`s a program into $out, unless it is there.
go_install() { # name package@version
  local name="$1" pkg="$2"
  [ -x "$out/$name" ] && return 0
  echo "installing $pkg (first time only)..." >&2
  (cd / && GOBIN="$out/.partial" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" "$pkg")
  mv "$out/.partial/$name" "$out/$name"
  rmdir "$out/.partial"
}

# Downloads the modules whose files (CRDs) the tests read, so that tests never do.
go_download() { # module@version...
  local mod
  for mod in "$@"; do
    (cd / && GOFLAGS=-mod=mod go mod download "$mod")
  done
}
