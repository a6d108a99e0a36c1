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
# shellcheck source=../go-cache.sh
. "$here/../go-cache.sh"
use_cache_dir "tools/copy-crane-$CRANE_VERSION-regctl-$REGCTL_VERSION"

go_install crane "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
go_install regctl "github.com/regclient/regclient/cmd/regctl@$REGCTL_VERSION"
echo "$out"
