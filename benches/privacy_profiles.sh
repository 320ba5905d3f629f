#!/usr/bin/env bash
# Accuracy, speed and the audit's figures of one encoding profile on a synthetic population.
#
#   benches/privacy_profiles.sh PERSONS SEED PROFILE      PROFILE: standard | resistant
#
# Prints one line: pairwise precision, recall and F1 against the truth; link wall time and peak
# memory; tokenise wall time (all five providers); and per name column the share of persons the
# audit estimates a frequency attack names, the share unique on the quasi-identifiers and the
# share named and unique. Needs `cargo build --release` first. Work files go under $WORK
# (default /tmp/pseudolink-privacy).
set -euo pipefail
cd "$(dirname "$0")/.."
P=$PWD/target/release/pseudolink
N=$1; SEED=$2; V=$3
W=${WORK:-/tmp/pseudolink-privacy}/$N-$SEED; mkdir -p "$W"
[ -f "$W/s/truth.csv" ] || "$P" synth --persons "$N" --seed "$SEED" --out "$W/s" -q
D=$W/$V; rm -rf "$D"; mkdir -p "$D/cfg"
[ -f "$W/k.key" ] || "$P" keygen --out "$W/k.key" -q > /dev/null
PROVIDERS="acute ae gp community_mh social_care"
for p in $PROVIDERS; do
  cp "$W/s/$p.toml" "$D/cfg/$p.toml"
  case $V in
    standard) ;;
    resistant) sed -i 's/^source = /profile = "resistant"\nsource = /' "$D/cfg/$p.toml" ;;
    *) echo "unknown profile $V" >&2; exit 2 ;;
  esac
done
t0=$(date +%s.%N)
for p in $PROVIDERS; do
  "$P" tokenise --config "$D/cfg/$p.toml" --key-file "$W/k.key" --input "$W/s/$p.csv" --output "$D/$p.parquet" -q
done
t1=$(date +%s.%N)
/usr/bin/time -f "%e s, %M KB" -o "$D/link.time" "$P" link "$D"/*.parquet --out "$D/l" -q
F1=$("$P" evaluate --truth "$W/s/truth.csv" --clusters "$D/l" --json \
  | python3 -c 'import json,sys; e=json.load(sys.stdin); print("P %.4f R %.4f F1 %.4f" % (e["precision"], e["recall"], e["f1"]))')
"$P" audit "$D"/*.parquet --linkage "$D/l" --json > "$D/audit.json" 2> /dev/null || true
python3 - "$D/audit.json" "$V" "$N" "$F1" "$(cat "$D/link.time")" "$(python3 -c "print($t1 - $t0)")" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
named = "; ".join(f'{x["column"]} named {100 * x["named"]:.2f}% (confidently {100 * x["named_confidently"]:.2f}%)' for x in a["attacks"])
u = a["uniqueness"]
print(f'{sys.argv[3]} {sys.argv[2]}: {sys.argv[4]}; link {sys.argv[5]}; tokenise {float(sys.argv[6]):.1f} s; {named}; '
      f'unique {100 * u["unique"]:.1f}%; named and unique {100 * u["named_and_unique"]:.2f}%')
PY
