"""Spark (local[2]) against the single-machine linker on one synthetic population.

    python benches/spark_vs_cli.py PERSONS SEED WORKDIR ['{"driver_links": 0}']

Needs the `pseudolink` wheel and pyspark in the running Python, Java 17, and a release build of
the command line (`cargo build --release`). Prints the time of each path, whether their persons
are identical, and the peak memory of the command-line link (from /usr/bin/time) and of the
Spark driver process. The optional last argument is a JSON object of extra settings for
`pseudolink.spark.link`. See docs/benchmarks.md.
"""

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
BIN = str(ROOT / "target" / "release" / "pseudolink")


def run(*args):
    subprocess.run([BIN, "--quiet", *map(str, args)], check=True)


def main():
    persons, seed, work = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    work.mkdir(parents=True, exist_ok=True)
    synth = work / "synth"
    if not synth.exists():
        run("synth", "--persons", persons, "--seed", seed, "--out", synth)
    key = work / "project.key"
    if not key.exists():
        run("keygen", "--out", key)
    extracts = []
    for csv in sorted(synth.glob("*.csv")):
        if csv.stem == "truth":
            continue
        out = work / "tokens" / f"{csv.stem}.parquet"
        out.parent.mkdir(exist_ok=True)
        if not out.exists():
            run("tokenise", "--config", synth / f"{csv.stem}.toml", "--key-file", key, "--input", csv, "--output", out)
        extracts.append(out)
    linked = work / "linked"
    subprocess.run(["rm", "-rf", str(linked)], check=True)
    t = time.time()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", BIN, "--quiet", "link", *map(str, extracts), "--out", str(linked)],
                       check=True, capture_output=True, text=True)
    cli_seconds = time.time() - t
    cli_peak_mb = int(r.stderr.strip().splitlines()[-1]) / 1024

    from pyspark.sql import SparkSession

    import pseudolink.spark as pls

    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.driver.memory", "8g").config("spark.driver.maxResultSize", "0").config("spark.sql.shuffle.partitions", "8").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    t = time.time()
    extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    result = pls.link(spark, extracts, linkage_key=linked / "linkage.key", **extra)
    got = result.clusters.select("source", "record_id", "person_id").toPandas()
    spark_seconds = time.time() - t
    cli = pq.read_table(linked / "clusters.parquet", columns=["source", "record_id", "person_id"]).to_pandas()
    merged = cli.merge(got, on=["source", "record_id"])
    identical = len(merged) == len(cli) and bool((merged.person_id_x == merged.person_id_y).all())
    driver_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "persons": persons, "records": len(cli), "candidate_pairs": result.summary["blocking"]["candidate_pairs"],
        "cli_link_seconds": round(cli_seconds, 1), "cli_peak_mb": round(cli_peak_mb),
        "spark_link_seconds": round(spark_seconds, 1), "spark_python_driver_peak_mb": round(driver_peak_mb),
        "identical_persons": identical, "settings": extra,
        "log": [line for line in result.log if "components" in line or "distinct rows" in line],
    }, indent=2))
    spark.stop()


if __name__ == "__main__":
    main()
