#!/usr/bin/env bash
# A verifiable release of pseudolink for Linux x86-64.
#
#   scripts/dist.sh [OUT_DIR]          (default dist/)
#   scripts/dist.sh --twice [OUT_DIR]  also rebuild in a second copy of the source and compare
#
# Builds from the commit's own files (git archive), never from uncommitted changes.
#
# Writes to OUT_DIR:
#   pseudolink-VERSION-x86_64-unknown-linux-gnu.tar.gz   the binary, README, SECURITY.md, docs/,
#                                                        examples/configs/ (dataset templates)
#   pseudolink-VERSION.cdx.json                          CycloneDX SBOM of the dependency tree
#   SHA256SUMS                                           checksums of the binary and both files
#
# The build is made reproducible where the toolchain allows: the lock file pins every crate,
# paths of the source and of cargo's registry are remapped out of the binary, the archive's
# files get one fixed time, owner and order, and SOURCE_DATE_EPOCH is the last commit's time.
# Rebuilding the same commit with the same Rust toolchain and C compiler on x86-64 Linux should
# give the same binary hash, and `--twice` checks whether it does; another toolchain version or
# C compiler (zstd is built from C) can change it, which is why the checksum file names the
# toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
twice=0
if [ "${1:-}" = "--twice" ]; then twice=1; shift; fi
out=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)
target=x86_64-unknown-linux-gnu
version=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
name="pseudolink-$version-$target"
export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
export CARGO_INCREMENTAL=0

build() { # build SOURCE_DIR → prints the binary's path
  local src=$1
  (cd "$src" && RUSTFLAGS="--remap-path-prefix=$src=/pseudolink --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo" \
    cargo build --release --locked --target "$target" -q)
  echo "$src/target/$target/release/pseudolink"
}

# A release is built from the commit, never from uncommitted changes: the source is the
# commit's own files (git archive), in a folder of its own.
if [ -n "$(git status --porcelain --untracked-files=no 2> /dev/null)" ]; then
  echo "note: the working tree has uncommitted changes; they are not in this release (built from $(git rev-parse --short HEAD))" >&2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/pseudolink-release.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/a"
git archive HEAD | tar -x -C "$work/a"
echo "== build ($target, $(rustc --version)) of $(git rev-parse --short HEAD)"
bin=$(build "$work/a")
if [ "$twice" = 1 ]; then
  # The same commit again in another folder, with its own target directory: the hash must not
  # depend on where the source was or on an earlier build's leftovers.
  mkdir -p "$work/second-copy"
  git archive HEAD | tar -x -C "$work/second-copy"
  bin2=$(build "$work/second-copy")
  a=$(sha256sum < "$bin" | cut -d' ' -f1); b=$(sha256sum < "$bin2" | cut -d' ' -f1)
  if [ "$a" = "$b" ]; then
    echo "reproducible: both builds $a"
  else
    cp "$bin" "$out/pseudolink.first"; cp "$bin2" "$out/pseudolink.second"
    echo "NOT reproducible: $a vs $b (both kept in $out as pseudolink.first and .second to compare)" >&2
    exit 1
  fi
fi

echo "== archive"
stage=$(mktemp -d "${TMPDIR:-/tmp}/pseudolink-dist.XXXXXX")
mkdir -p "$stage/$name/examples"
cp "$bin" "$stage/$name/pseudolink"
strip "$stage/$name/pseudolink" 2> /dev/null || true
cp "$work/a/README.md" "$work/a/SECURITY.md" "$stage/$name/"
cp -r "$work/a/docs" "$stage/$name/docs"
cp -r "$work/a/examples/configs" "$stage/$name/examples/configs"
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -C "$stage" -cf - "$name" \
  | gzip -n -9 > "$out/$name.tar.gz"
cp "$stage/$name/pseudolink" "$out/pseudolink"
rm -rf "$stage"

echo "== SBOM (CycloneDX)"
if ! cargo cyclonedx --version > /dev/null 2>&1; then
  cargo install cargo-cyclonedx --locked -q
fi
(cd "$work/a" && cargo cyclonedx --format json --spec-version 1.5 --target "$target" -q > /dev/null)
mv "$work/a/pseudolink.cdx.json" "$out/pseudolink-$version.cdx.json"

echo "== checksums"
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
toolchain=$(rustc --version)
(cd "$out" && sha256sum pseudolink "$name.tar.gz" "pseudolink-$version.cdx.json" > SHA256SUMS \
  && echo "# built from $commit with $toolchain" >> SHA256SUMS)
cat "$out/SHA256SUMS"
echo "== done: $out"
