#!/usr/bin/env bash
# Install a crm-lakehouse build (the dist/ folder of 'make package package-env') on a host that
# runs spark-submit in client mode: an edge node for cron, or a container image.
#
#   dist/bin/install.sh [TARGET]          (default TARGET: the folder that holds this dist/)
#
# Lays out TARGET the way a cluster lays out a container for
# '--archives dist/crm-lakehouse-env.tar.gz#environment,dist/conf.zip#conf,dist/contracts.zip#contracts':
#
#   TARGET/dist/          the build itself (copied there unless it already is TARGET/dist)
#   TARGET/environment/   the runtime dependencies (the driver's Python in client mode)
#   TARGET/conf/          conf.zip unpacked: base.yaml, overlays, rules/ (replaced on each install)
#   TARGET/contracts/     contracts.zip unpacked (replaced on each install)
#
# Then checks that the packed environment's Python runs here: venv-pack does not copy the
# interpreter, bin/python links to the Python 3.11 the build was made with (see ENV_PYTHON in
# the Makefile). Exit codes: 0 installed, 2 the build is incomplete or does not run here.
set -euo pipefail

die() { echo "install.sh: error: $*" >&2; exit 2; }

dist="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-$(dirname "$dist")}"
for f in crm_lakehouse.zip conf.zip contracts.zip crm-lakehouse-env.tar.gz jobs/pipeline.py; do
  [ -f "$dist/$f" ] || die "$dist/$f missing: build it with 'make package package-env'"
done
mkdir -p "$target"
target="$(cd "$target" && pwd)"

if [ "$dist" != "$target/dist" ]; then
  rm -rf "$target/dist.new"
  cp -R "$dist" "$target/dist.new"
  rm -rf "$target/dist"
  mv "$target/dist.new" "$target/dist"
fi

# Unpack into a fresh folder, then swap it in, so a failed install leaves the old one working.
rm -rf "$target/environment.new" "$target/conf.new" "$target/contracts.new"
mkdir -p "$target/environment.new"
tar -xzf "$target/dist/crm-lakehouse-env.tar.gz" -C "$target/environment.new"
python="$target/environment.new/bin/python"
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null \
  || die "$python does not run here: it links to $(readlink -m "$target/environment.new/bin/python" || echo '?'); install Python 3.11 there, or rebuild with 'make -B package-env ENV_PYTHON=<this host's python3.11>' on a machine that has it at the same path"
for name in conf contracts; do
  "$python" -m zipfile -e "$target/dist/$name.zip" "$target/$name.new"
done
"$python" -c 'import deltalake, great_expectations, yaml' \
  || die "the packed environment cannot import its dependencies on this host"
for name in environment conf contracts; do
  rm -rf "$target/$name"
  mv "$target/$name.new" "$target/$name"
done
echo "installed $(sed -n 's/.*"version": "\(.*\)".*/crm-lakehouse \1/p' "$target/dist/manifest.json" 2>/dev/null || echo crm-lakehouse) into $target"
