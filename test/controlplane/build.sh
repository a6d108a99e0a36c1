#!/usr/bin/env bash
# Builds kube-apiserver, etcd, Knative's ApiServerSource receive adapter and the Knative Eventing
# components of the default install (Broker ingress and filter, InMemoryChannel dispatcher,
# PingSource adapter, and one process with their reconcilers) from the Go module proxy into a
# cache outside the repo, keyed by version, and fetches the modules whose CRDs the test harness
# installs. Idempotent: when the binaries exist it returns in seconds.
# Prints the binaries' directory on stdout (progress goes to stderr).
# Versions: versions.env, written by generate.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"
# shellcheck source=../go-cache.sh
. "$here/../go-cache.sh"
use_cache_dir "controlplane/$K8S_VERSION-$ETCD_VERSION-$EVENTING_VERSION"

build() { # name module-dir package [ldflags]
  local name="$1" dir="$2" pkg="$3" ldflags="${4:-}"
  [ -x "$out/$name" ] && return 0
  echo "building $name (first time only; takes a while)..." >&2
  local started=$SECONDS
  (cd "$here/$dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false \
    -ldflags "-s -w $ldflags" -o "$out/$name.partial" "$pkg")
  mv "$out/$name.partial" "$out/$name"
  echo "built $name in $((SECONDS - started))s" >&2
}

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
kube_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  kube_ldflags+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=$K8S_RELEASE_TIME"
done

build kube-apiserver kube k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"
build etcd etcd go.etcd.io/etcd/server/v3
build apiserver_receive_adapter adapter knative.dev/eventing/cmd/apiserver_receive_adapter
build eventing_controllers eventing ./controllers
build broker_ingress eventing knative.dev/eventing/cmd/broker/ingress
build broker_filter eventing knative.dev/eventing/cmd/broker/filter
build imc_dispatcher eventing knative.dev/eventing/cmd/in_memory/channel_dispatcher
build mtping eventing knative.dev/eventing/cmd/mtping

# The harness reads CRDs out of these modules.
go_download "knative.dev/eventing@$EVENTING_VERSION" "github.com/tektoncd/pipeline@$TEKTON_VERSION" \
  "github.com/shipwright-io/build@$SHIPWRIGHT_VERSION" "knative.dev/serving@$SERVING_VERSION"

echo "$out"
