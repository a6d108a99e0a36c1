#!/usr/bin/env bash
# Builds the CDEvents consumer (a Maven project: the official CDEvents Java SDK from Maven Central) into the cache outside the
# repo, keyed by a hash of its pom and sources, unless it is there; prints the directory (consumer jar + lib/). Maven's own
# cache (~/.m2) makes a rebuild after a source change offline. Run by test/prepare.sh; test/harness/cdevents-consumer.ts reads it.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../go-cache.sh
source ../go-cache.sh

key=$( (cat pom.xml; find src -type f -print0 | LC_ALL=C sort -z | xargs -0 cat) | sha256sum | cut -c1-16)
use_cache_dir "cdevents-consumer-$key"
if [ ! -f "$out/cdevents-consumer.jar" ]; then
  echo "building the CDEvents consumer with Maven (first time only)..." >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r pom.xml src "$work/"
  # Offline when ~/.m2 already holds everything; otherwise from Maven Central.
  (cd "$work" && { mvn -B -q -o package >/dev/null 2>&1 || mvn -B -q package >&2; })
  rm -rf "$out/lib"
  cp -r "$work/target/lib" "$out/lib"
  cp "$work/target/cdevents-consumer.jar" "$out/cdevents-consumer.jar.partial"
  mv "$out/cdevents-consumer.jar.partial" "$out/cdevents-consumer.jar"
fi
echo "$out"
