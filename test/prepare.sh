#!/usr/bin/env bash
# Everything the tests and the demo need, installed on a fresh machine and skipped when
# present: Debian packages (docker-registry, skopeo, htpasswd, openssl, promtool, faketime for
# libfaketime, Java 17 and Maven for the CDEvents consumer), npm packages (which include the
# pinned Node 24), the Go-built control plane, kustomize and Tekton Triggers, and the CDEvents
# consumer (all cached outside the repo).
# `npm test` and `npm run demo` run it first, so each works as the first command on a machine.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils openssl:openssl promtool:prometheus ip:iproute2 unshare:util-linux nsenter:util-linux faketime:faketime mvn:maven javac:openjdk-17-jdk-headless; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's docker-registry and prometheus packages start system services (:5000, :9090); the
# tests run their own registries and need only promtool.
for service in docker-registry prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    systemctl stop "$service" >/dev/null 2>&1 || true
  fi
done

# A node_modules that is a symlink belongs to another checkout (a git worktree sharing one
# install): `npm ci` would empty that checkout's packages through the link, so leave it alone.
if [ -L node_modules ]; then
  echo "node_modules is a link to another checkout's install: not reinstalling" >&2
elif [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm packages" >&2
  npm ci --no-audit --no-fund >&2
fi

bash test/controlplane/build.sh >/dev/null
bash test/tools/build.sh >/dev/null
bash test/tools/triggers.sh >/dev/null
# The CDEvents consumer (Java, the official CDEvents SDK from Maven Central), cached like the Go tools.
bash test/cdevents-consumer/build.sh >/dev/null
