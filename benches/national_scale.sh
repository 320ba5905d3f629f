#!/usr/bin/env bash
# Links a national-scale synthetic population on one machine: REGIONS populations of PERSONS
# each (different seeds), tokenised under one project key, each region's extracts passed
# through examples/regionalise.rs so that regions share no NHS numbers (a synthetic population
# can hold at most 909,090 persons: the test range of NHS numbers). Plaintext is deleted as soon
# as a region is tokenised. Prints the link's wall time, peak memory and accuracy.
# Usage: benches/national_scale.sh [REGIONS] [PERSONS] [WORKDIR]   (default 12 × 833,334 = 10,000,008)
set -euo pipefail
regions=${1:-12}; persons=${2:-833334}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${3:-$(mktemp -d "${TMPDIR:-/tmp}/pseudolink-national.XXXXXX")}
mkdir -p "$work"
cargo build --release --manifest-path "$root/Cargo.toml" -q --bin pseudolink --example regionalise
P="$root/target/release/pseudolink"; R="$root/target/release/examples/regionalise"
[ -f "$work/k.key" ] || "$P" keygen --out "$work/k.key" -q > /dev/null
echo "source,record_id,person_id" > "$work/truth.csv"
start=$(date +%s)
for ((r = 0; r < regions; r++)); do
  rr=$(printf "%02d" "$r")
  plain="$work/plain-$rr"
  "$P" synth --persons "$persons" --seed "$((1000 + r))" --out "$plain" -q
  for p in acute ae gp community_mh social_care; do
    "$P" tokenise --config "$plain/$p.toml" --key-file "$work/k.key" --input "$plain/$p.csv" \
      --output "$plain/$p.parquet" -q
    "$R" "$r" "$plain/$p.parquet" "$work/r$rr-$p.parquet"
  done
  awk -F, -v pre="r$rr-" -v suf="-r$rr" 'NR > 1 { print $1 suf "," pre $2 "," pre $3 }' "$plain/truth.csv" >> "$work/truth.csv"
  rm -rf "$plain"
  echo "region $rr ready ($(( $(date +%s) - start )) s)"
done
echo "== link: $(ls "$work"/r*.parquet | wc -l) extracts, $((regions * persons)) persons"
/usr/bin/time -o "$work/time.txt" -f "%e s wall, %U s user, %M KB peak" \
  "$P" link "$work"/r*.parquet --out "$work/linked"
cat "$work/time.txt"
"$P" evaluate --truth "$work/truth.csv" --clusters "$work/linked"
echo "== outputs in $work"
