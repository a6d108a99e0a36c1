#!/usr/bin/env bash
# Installs the command-line tools the manifest tests run (kustomize) from the Go module proxy
# into the same cache as the control plane, keyed by version, and downloads the modules whose
# CRDs they install. Idempotent: returns at once when
# present. Prints the tools' directory on stdout (progress goes to stderr).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"
# shellcheck source=../go-cache.sh
. "$here/../go-cache.sh"
use_cache_dir "tools/kustomize-$KUSTOMIZE_VERSION"

go_install kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
# The modules whose CRDs the manifest tests read.
go_download "knative.dev/serving@$SERVING_VERSION" "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
echo "$out"
