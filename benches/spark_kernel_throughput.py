"""Throughput of the pair kernel a Spark task runs (`mapInArrow`), on one core, per batch size.

    python benches/spark_kernel_throughput.py WORKDIR [BATCH ...]
    python benches/spark_kernel_throughput.py WORKDIR --spark


WORKDIR is a folder of `benches/spark_vs_cli.py` (its `tokens/*.parquet`). The script loads
the extracts into a linkage session as the Spark driver does, forms the candidate pairs of the
session's blocking rules with pyarrow joins (blocks of two to `max_block` identities, each pair
once), joins both sides' identity rows to them as the Spark job does (columns `l_*`, `r_*`),
and times the kernel on batches of each size for each of its outputs: `patterns` (training's
pass), `weights` (scoring's pass) and `pairs` (`pairs.parquet` rows). It prints pairs a second
on one core, and the bytes of a joined pair row (what a Spark shuffle moves per pair before the
kernel). See docs/benchmarks.md.

With `--spark` it writes the joined pairs to `WORKDIR/joined.parquet` and times the scoring
pass as a Spark job runs it (`mapInArrow` in `local[2]`, Arrow batches of 10,000 rows, two tasks
at once): the JVM-to-Python exchange included, per task and in all.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import pseudolink
from pseudolink import _native


def candidate_pairs(reps: pa.Table, rules, max_block: int):
    seen = set()
    out_a, out_b = [], []
    for cols in rules:
        keyed = reps.select(["pos", *cols])
        for c in cols:
            keyed = keyed.filter(pc.is_valid(keyed[c]))
        sizes = keyed.group_by(cols).aggregate([("pos", "count")])
        sizes = sizes.filter(pc.and_(pc.greater(sizes["pos_count"], 1), pc.less_equal(sizes["pos_count"], max_block)))
        kept = keyed.join(sizes.select(cols), keys=cols, join_type="inner")
        pairs = kept.join(kept, keys=cols, join_type="inner", left_suffix="_l", right_suffix="_r")
        a, b = pairs["pos_l"].to_numpy(), pairs["pos_r"].to_numpy()
        keep = a < b
        for x, y in zip(a[keep].tolist(), b[keep].tolist()):
            if (x, y) not in seen:
                seen.add((x, y))
                out_a.append(x)
                out_b.append(y)
    order = np.lexsort((np.array(out_b), np.array(out_a)))
    return np.array(out_a, dtype=np.int64)[order], np.array(out_b, dtype=np.int64)[order]


def joined(reps: pa.Table, a, b) -> pa.Table:
    cols = {"a": pa.array(a), "b": pa.array(b)}
    for side, idx in (("l_", a), ("r_", b)):
        taken = reps.take(pa.array(idx))
        for n in reps.column_names:
            if n != "pos":
                cols[side + n] = taken[n]
    return pa.table(cols)


def timed(kernel, table: pa.Table, batch: int, output: str):
    batches = table.to_batches(max_chunksize=batch)
    t = time.perf_counter()
    out = [kernel.compare(x, output) for x in batches]
    return time.perf_counter() - t, out


def main():
    work = Path(sys.argv[1])
    sizes = [int(x) for x in sys.argv[2:] if x != "--spark"] or [10_000, 100_000]
    files = sorted((work / "tokens").glob("*.parquet"))
    tables = [pseudolink.read_extract(f) for f in files]
    session = _native.LinkSession(tables, [str(f) for f in files])
    del tables
    reps = session.rep_table()
    _, max_block, _, _, _ = session.settings()
    t = time.perf_counter()
    a, b = candidate_pairs(reps, session.rules(), max_block)
    blocking_s = time.perf_counter() - t
    pairs = joined(reps, a, b).combine_chunks()
    row_bytes = pairs.nbytes / max(1, pairs.num_rows)

    result = {"identities": reps.num_rows, "candidate_pairs": pairs.num_rows, "joined_pair_row_bytes": round(row_bytes),
              "rep_row_bytes": round(reps.nbytes / max(1, reps.num_rows)), "pyarrow_blocking_seconds": round(blocking_s, 1),
              "pairs_per_second_one_core": {}}
    patterns = _native.PairKernel(session.pattern_context())
    _, out = timed(patterns, pairs, 100_000, "patterns")
    counts = pa.concat_tables([pa.Table.from_batches([o]) for o in out]).group_by("pattern").aggregate([("a", "count")])
    session.train([(int(p), int(n)) for p, n in zip(counts["pattern"].to_pylist(), counts["a_count"].to_pylist())])
    scoring = _native.PairKernel(session.score_context())
    for size in sizes:
        for name, kernel, output in (("patterns", patterns, "patterns"), ("weights", scoring, "weights"),
                                     ("pairs", scoring, "pairs")):
            best = min(timed(kernel, pairs, size, output)[0] for _ in range(3))
            result["pairs_per_second_one_core"][f"{output} (batch {size:,})"] = round(pairs.num_rows / best)
    if "--spark" in sys.argv:
        result["spark"] = spark_scoring(work, pairs, session.score_context())
    print(json.dumps(result, indent=2))


def spark_scoring(work: Path, pairs: pa.Table, context: str):
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    path = work / "joined.parquet"
    # Private and new, as every pseudolink output: the rows hold tokens and Bloom filters.
    import os

    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        pq.write_table(pairs, f, row_group_size=100_000)
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.driver.memory", "4g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(str(path))
    tasks = df.rdd.getNumPartitions()

    def kernel(batches):
        k = _native.PairKernel(context)
        for b in batches:
            yield k.compare(b, "weights")

    def transfer(batches):
        for b in batches:
            yield pa.RecordBatch.from_pydict({"n": [b.num_rows]})

    out = {"tasks": tasks}
    for name, job in (("read and send to Python", df.mapInArrow(transfer, "n long")),
                      ("read and score", df.mapInArrow(kernel, "a long, b long, pattern long, match_weight double, "
                                                               "match_probability double, weight_bin long"))):
        best = None
        for _ in range(3):
            t = time.perf_counter()
            job.agg(F.count(F.lit(1))).collect()
            s = time.perf_counter() - t
            best = s if best is None else min(best, s)
        out[name + " seconds"] = round(best, 2)
    scoring = out["read and score seconds"] - out["read and send to Python seconds"]
    out["scoring pairs per second, both cores"] = round(pairs.num_rows / out["read and score seconds"])
    out["scoring pairs per second per core, reading and sending excluded"] = round(pairs.num_rows / scoring / 2)
    spark.stop()
    path.unlink()
    return out


if __name__ == "__main__":
    main()
