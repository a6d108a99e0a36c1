#!/usr/bin/env bash
# Builds Tekton Triggers' controller and EventListener sink, which the scan component's e2e test
# runs (test/e2e/scan-component_test.ts), from the Go module proxy into the same cache as the
# control plane, keyed by version, and downloads the module whose config/ (CRDs, the
# controller's Deployment) the harness reads. Idempotent: returns at once when present.
# Built from triggers/go.mod (pinned, with go.sum), not `go install pkg@version`: the proxy
# serves the module only by exact version, and `go install` asks it for the version list.
# Prints the binaries' directory on stdout (progress goes to stderr).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"
# shellcheck source=../go-cache.sh
. "$here/../go-cache.sh"
use_cache_dir "tools/tekton-triggers-$TRIGGERS_VERSION"

build() { # name package
  local name="$1" pkg="$2"
  [ -x "$out/$name" ] && return 0
  echo "building $name (first time only)..." >&2
  local started=$SECONDS
  (cd "$here/triggers" && CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false \
    -ldflags "-s -w" -o "$out/$name.partial" "$pkg")
  mv "$out/$name.partial" "$out/$name"
  echo "built $name in $((SECONDS - started))s" >&2
}

grep -q "github.com/tektoncd/triggers $TRIGGERS_VERSION" "$here/triggers/go.mod" \
  || { echo "test/tools/triggers/go.mod does not pin github.com/tektoncd/triggers $TRIGGERS_VERSION" >&2; exit 1; }
build controller github.com/tektoncd/triggers/cmd/controller
build eventlistenersink github.com/tektoncd/triggers/cmd/eventlistenersink
go_download "github.com/tektoncd/triggers@$TRIGGERS_VERSION"
echo "$out"
