#!/usr/bin/env bash
# Installs the command-line tools the manifest tests run (kustomize) from the Go module proxy
# into the same cache as the control plane, keyed by version, and downloads the modules whose
# CRDs they install. Idempotent: returns at once when
# present. Prints the tools' directory on stdout (progress goes to stderr).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

cache_root="${BUILD_WATCHER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/build-watcher}"
out="$cache_root/tools/kustomize-$KUSTOMIZE_VERSION"
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

if [ ! -x "$out/kustomize" ]; then
  echo "installing kustomize $KUSTOMIZE_VERSION (first time only)..." >&2
  (cd / && GOBIN="$out/.partial" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION")
  mv "$out/.partial/kustomize" "$out/kustomize"
  rmdir "$out/.partial"
fi
# The modules whose CRDs the manifest tests read; downloaded now so tests never do.
for mod in "knative.dev/serving@$SERVING_VERSION" "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"; do
  (cd / && GOFLAGS=-mod=mod go mod download "$mod")
done
echo "$out"
