"""Splink 5 (DuckDB backend) on the plaintext records of a synthetic population, for comparison
with `pseudolink link` on the same records tokenised.

Usage: python splink_compare.py SYNTH_DIR OUT_DIR

Reads the plaintext extracts and their tokenise configs that `pseudolink synth` wrote (the five,
and any source added with `--with`, such as `housing`), cleans
them the way a Splink user would (digits-only NHS numbers, lower-case names, ISO dates of birth,
upper-case postcodes with one space), and runs Splink's standard approach: comparisons
NHS number exact, NameComparison (Jaro-Winkler) on given and family names, DateOfBirthComparison,
PostcodeComparison, sex exact; the probability two random records match from the NHS-number
rule; u by random sampling (1,000,000 pairs, seeded); m by EM in two sessions (blocked on date of
birth + surname and on NHS number); predict and cluster at 0.9. Without NHS numbers (no source
holds one): no NHS comparison or rule, the prior from names + date of birth (recall 0.7), EM on
date of birth + surname and on postcode + given name. A source with an address line (`string`
field) or its own reference (`identifier` field) adds a Jaro-Winkler comparison on the address
and an exact one on the reference, as a Splink user would. Writes OUT_DIR/clusters.parquet
(source, record_id, person_id) for `pseudolink evaluate`, and prints timings as JSON.
"""

import json
import sys
import time
import tomllib
from pathlib import Path

import pandas as pd
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.backends.duckdb import DuckDBAPI

PROVIDERS = ["acute", "ae", "gp", "community_mh", "social_care", "housing"]


def load(synth: Path) -> pd.DataFrame:
    frames = []
    for p in [p for p in PROVIDERS if (synth / f"{p}.toml").exists()]:
        cfg = tomllib.loads((synth / f"{p}.toml").read_text())
        cols = {f["type"]: f["column"] for f in cfg["field"]}
        dob_fmt = next(f for f in cfg["field"] if f["type"] == "date_of_birth")["formats"][0]
        inp = cfg.get("input", {})
        df = pd.read_csv(
            synth / f"{p}.csv",
            sep=inp.get("delimiter", ","),
            dtype=str,
            keep_default_na=False,
            encoding="cp1252" if inp.get("encoding") == "windows-1252" else "utf-8-sig",
        )
        out = pd.DataFrame()
        out["unique_id"] = p + ":" + df[cfg["record_id"]["column"]]
        out["source_dataset"] = p
        if "nhs_number" in cols:
            nhs = df[cols["nhs_number"]].str.replace(r"\D", "", regex=True)
            out["nhs_number"] = nhs.where(nhs.str.len() == 10)
        else:
            out["nhs_number"] = None
        # A source's own reference, prefixed by source (it means nothing elsewhere), and its
        # address line, lower-cased with single spaces.
        out["local_id"] = (p + ":" + df[cols["identifier"]]) if "identifier" in cols else None
        if "string" in cols:
            out["address"] = df[cols["string"]].str.lower().str.split().str.join(" ").replace("", None)
        else:
            out["address"] = None
        out["first_name"] = df[cols["given_name"]].str.strip().str.lower().replace("", None)
        out["surname"] = df[cols["family_name"]].str.strip().str.lower().replace("", None)
        dob = pd.to_datetime(df[cols["date_of_birth"]], format=dob_fmt, errors="coerce")
        out["dob"] = dob.dt.strftime("%Y-%m-%d").where(dob.notna())
        pc = df[cols["postcode"]].str.upper().str.replace(r"\s+", "", regex=True)
        out["postcode"] = (pc.str[:-3] + " " + pc.str[-3:]).where(pc.str.len() >= 5)
        sex = df[cols["sex"]].str.strip().str.upper().str[:1]
        out["sex"] = sex.map({"M": "M", "F": "F", "1": "M", "2": "F"})
        frames.append(out)
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    synth, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    timings = {}
    t = time.time()
    df = load(synth)
    timings["load_and_clean"] = time.time() - t

    t0 = time.time()
    # Without NHS numbers (no source holds one), Splink's comparisons and rules leave them out,
    # the prior comes from agreement on names and date of birth, and EM runs on two blockings
    # that do not involve the fields they train.
    has_nhs = bool(df["nhs_number"].notna().any())
    comparisons = [
        cl.NameComparison("first_name"),
        cl.NameComparison("surname"),
        cl.DateOfBirthComparison("dob", input_is_string=True),
        cl.PostcodeComparison("postcode"),
        cl.ExactMatch("sex"),
    ]
    rules = [
        block_on("dob", "substr(surname, 1, 2)"),
        block_on("dob", "substr(first_name, 1, 2)"),
        block_on("postcode", "substr(first_name, 1, 2)"),
        block_on("first_name", "surname", "substr(dob, 1, 4)"),
        block_on("dob", "split_part(postcode, ' ', 1)"),
    ]
    if df["address"].notna().any():
        comparisons.append(cl.JaroWinklerAtThresholds("address", [0.95, 0.88]))
    if df["local_id"].notna().any():
        comparisons.append(cl.ExactMatch("local_id"))
    if has_nhs:
        comparisons.insert(0, cl.ExactMatch("nhs_number"))
        rules.insert(0, block_on("nhs_number"))
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    sdf = db_api.register(df)
    linker = Linker(sdf, settings)
    if has_nhs:
        linker.training.estimate_probability_two_random_records_match([block_on("nhs_number")], recall=0.9)
    else:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("first_name", "surname", "dob")], recall=0.7
        )
    linker.training.estimate_u_using_random_sampling(max_pairs=1_000_000, seed=42)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob", "surname"))
    if has_nhs:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("nhs_number"))
    else:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode", "first_name"))
    timings["train"] = time.time() - t0
    t = time.time()
    pred = linker.inference.predict(threshold_match_probability=0.9)
    timings["predict"] = time.time() - t
    t = time.time()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold_match_probability=0.9)
    c = clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]]
    timings["cluster"] = time.time() - t
    timings["splink_total"] = time.time() - t0
    c["source"] = c["unique_id"].str.split(":", n=1).str[0]
    c["record_id"] = c["unique_id"].str.split(":", n=1).str[1]
    c["person_id"] = c["cluster_id"].astype(str)
    c[["source", "record_id", "person_id"]].to_parquet(out_dir / "clusters.parquet", index=False)
    print(json.dumps({"records": len(df), "timings": timings}))


if __name__ == "__main__":
    main()
