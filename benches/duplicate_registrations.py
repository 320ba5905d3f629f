"""Precision and recall of tokenise's likely-duplicate-registration check on a synthetic population.

Usage: python3 benches/duplicate_registrations.py SYNTH_DIR TOKENISED_DIR

SYNTH_DIR is what `pseudolink synth` wrote (the plaintext extracts and truth.csv); TOKENISED_DIR
holds each provider's `PROVIDER.issues.csv` from `pseudolink tokenise` (see docs/benchmarks.md).
A pair listed in an issues file is right when its two rows are records of one person under two
different registrations (truth's registration_id). A person registered twice by a provider is
found when some listed pair joins two of their registrations. Standard library only.
"""

import csv
import sys
from collections import defaultdict
from pathlib import Path

PROVIDERS = ["acute", "ae", "gp", "community_mh", "social_care"]


def main() -> None:
    synth, tokenised = Path(sys.argv[1]), Path(sys.argv[2])
    truth = {}
    regs = defaultdict(set)
    with open(synth / "truth.csv", newline="") as f:
        for row in csv.DictReader(f):
            truth[(row["source"], row["record_id"])] = (row["person_id"], row["registration_id"])
            regs[(row["source"], row["person_id"])].add(row["registration_id"])
    total_tp = total_pairs = total_found = total_dups = 0
    for p in PROVIDERS:
        # The record id of each data row, in file order (row 1 is the first data row).
        cfg = (synth / f"{p}.toml").read_text()
        id_column = cfg.split("[record_id]", 1)[1].split('column = "', 1)[1].split('"', 1)[0]
        delimiter = "|" if 'delimiter = "|"' in cfg else ","
        encoding = "cp1252" if "windows-1252" in cfg else "utf-8-sig"
        with open(synth / f"{p}.csv", newline="", encoding=encoding) as f:
            ids = [row[id_column] for row in csv.DictReader(f, delimiter=delimiter)]
        pairs = []
        with open(tokenised / f"{p}.issues.csv", newline="") as f:
            for row in csv.DictReader(f):
                if row["reason"] == "likely_duplicate_registration":
                    pairs.append((int(row["related_row"]), int(row["row"])))
        tp = 0
        joined = set()
        for a, b in pairs:
            (pa, ra), (pb, rb) = truth[(p, ids[a - 1])], truth[(p, ids[b - 1])]
            if pa == pb and ra != rb:
                tp += 1
                joined.add(pa)
        dups = {person for (src, person), r in regs.items() if src == p and len(r) > 1}
        found = len(joined & dups)
        print(
            f"{p:<13} pairs {len(pairs):>6}  precision {tp / max(len(pairs), 1):.3f}  "
            f"persons registered twice {len(dups):>6}  found {found:>6}  recall {found / max(len(dups), 1):.3f}"
        )
        total_tp += tp
        total_pairs += len(pairs)
        total_found += found
        total_dups += len(dups)
    print(
        f"{'all':<13} pairs {total_pairs:>6}  precision {total_tp / max(total_pairs, 1):.3f}  "
        f"persons registered twice {total_dups:>6}  found {total_found:>6}  recall {total_found / max(total_dups, 1):.3f}"
    )


if __name__ == "__main__":
    main()
