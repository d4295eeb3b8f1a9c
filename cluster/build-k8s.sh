#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kubectl
# at the release pinned in k8sbin/go.mod into a cache outside the checkout, keyed by
# version. A complete cache is reused as it is; a cold build takes 20-40 minutes on
# two cores, so the binaries never go into git.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$here/k8sbin/go.mod")
cache=${KDEBUG_CACHE:-/var/cache/kdebug-tui}
out="$cache/kubernetes/$version/bin"
programs=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

missing=()
for p in "${programs[@]}"; do
  [ -x "$out/$p" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$out"
# A second build of the same version waits for the first, then finds it done.
exec 9>"$cache/kubernetes/$version/.build.lock"
flock 9
missing=()
for p in "${programs[@]}"; do
  [ -x "$out/$p" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$out"
  exit 0
fi

minor=$(echo "$version" | cut -d. -f2)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

cd "$here/k8sbin"
for p in "${missing[@]}"; do
  echo "Building $p $version into $out (this takes a while on a cold cache)." >&2
  start=$(date +%s)
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/$p.partial" \
    "k8s.io/kubernetes/cmd/$p"
  mv "$out/$p.partial" "$out/$p"
  echo "Built $p in $(( $(date +%s) - start )) s." >&2
done
echo "$out"
