#!/usr/bin/env bash
# Side-by-side: pseudolink (tokenised) and Splink 5 with DuckDB (plaintext) on the same synthetic
# records. Usage: benches/compare_splink.sh PERSONS [SEED] [ERROR_SCALE]
# Installs Splink into benches/.venv on first use. Prints wall time, peak memory and accuracy.
# SYNTH_ARGS passes more `pseudolink synth` arguments, e.g. SYNTH_ARGS="--rate all.nhs_missing=1"
# for a population without NHS numbers (Splink then trains and blocks without them too), and
# "--with housing" adds a source with an address line and a local reference and no NHS numbers.
set -euo pipefail
persons=${1:-20000}; seed=${2:-1}; scale=${3:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/benches/.venv"
work=$(mktemp -d "${TMPDIR:-/tmp}/pseudolink-vs-splink.XXXXXX")
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "splink>=5,<6" pandas pyarrow
fi
cargo build --release --manifest-path "$root/Cargo.toml" -q
P="$root/target/release/pseudolink"
timed() { /usr/bin/time -o "$work/time.txt" -f "%e s wall, %M KB peak" "$@"; cat "$work/time.txt"; }

echo "== synth: $persons persons, seed $seed, error scale $scale → $work"
# shellcheck disable=SC2086
"$P" synth --persons "$persons" --seed "$seed" --error-scale "$scale" ${SYNTH_ARGS:-} --out "$work/plain" -q
"$P" keygen --out "$work/k.key" -q > /dev/null
echo "== pseudolink: tokenise (provider side)"
# Every source synth wrote (the five, and any added with --with, e.g. SYNTH_ARGS="--with housing").
sources=$(cd "$work/plain" && ls *.toml | sed 's/\.toml$//' | tr '\n' ' ')
timed bash -c "for p in $sources; do
  '$P' tokenise --config '$work/plain/'\$p.toml --key-file '$work/k.key' --input '$work/plain/'\$p.csv --output '$work/'\$p.parquet -q; done"
echo "== pseudolink: link (TRE side)"
extracts=$(for p in $sources; do printf '%s ' "$work/$p.parquet"; done)
# shellcheck disable=SC2086
timed "$P" link $extracts --out "$work/linked" -q
"$P" evaluate --truth "$work/plain/truth.csv" --clusters "$work/linked"
echo "== splink 5 (duckdb) on the plaintext"
timed "$venv/bin/python" "$root/benches/splink_compare.py" "$work/plain" "$work/splink" > "$work/splink.log" 2>&1
tail -1 "$work/splink.log"   # Splink's own timings, as JSON
"$P" evaluate --truth "$work/plain/truth.csv" --clusters "$work/splink/clusters.parquet"
echo "== outputs in $work"
