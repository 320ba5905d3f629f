"""pseudolink on Apache Spark (PySpark 3.5 or later): DataFrames and Arrow only.

No RDDs and no JVM jars: everything runs through ``DataFrame.mapInArrow`` and Spark SQL, so it
works on plain Spark, over Spark Connect and on Databricks standard compute, wherever the
``pseudolink`` wheel is installed on the driver and the executors (docs/spark.md).

- :func:`tokenise` tokenises a provider's DataFrame on the executors, batch by batch, with the
  Rust kernel, then sorts the result by its keyed order so that no partition's position says
  where its rows came from.
- :func:`write_extract` / :func:`read_extract` write and read a pseudonymised extract as a
  Parquet folder with its manifest beside the parts (``_pseudolink_manifest.json``); a single
  extract file written by the command line is read too.
- :func:`link` links extracts into persons and returns the clusters and pairs as DataFrames with
  the command line's schemas: records checked and identical ones grouped on the executors,
  identity-level stages (identities, training, clustering) on the driver from the grouped rows,
  pair-level ones (blocking, comparison, scoring) on the executors, all with the single-machine
  linker's code, so the persons are the same (docs/spark.md says what runs where).

Extract and linkage folders are written to local or mounted paths (on Databricks, a
``/Volumes/…`` or ``/dbfs/…`` path): the manifest and summary beside the parts are written with
the driver's own file system, and the folders are made private to their owner (0700, files 0600).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

import pyarrow as pa
import pyarrow.compute  # noqa: F401 (pa.compute)

import pseudolink
from pseudolink import _native

#: The manifest file written beside an extract folder's Parquet parts.
MANIFEST_FILE = "_pseudolink_manifest.json"

PathLike = Union[str, "os.PathLike[str]"]


def _spark_schema(schema: pa.Schema):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _binary_for_spark(table: pa.Table) -> pa.Table:
    """Fixed-width binary columns (tokens, Bloom filters) as plain binary: Spark has one binary
    type. The manifest records each column's width, and the linker checks it on the way back."""
    cols, fields = [], []
    for f, c in zip(table.schema, table.columns):
        if pa.types.is_fixed_size_binary(f.type):
            c = c.cast(pa.binary())
            f = pa.field(f.name, pa.binary(), f.nullable)
        cols.append(c)
        fields.append(f)
    return pa.Table.from_arrays(cols, schema=pa.schema(fields, metadata=table.schema.metadata))


def _fixed_width_again(table: pa.Table, manifest: Dict[str, Any], label: Optional[str] = None) -> pa.Table:
    """Token and Bloom columns back to their manifest's fixed widths (``label`` names the extract
    in the message if one does not fit)."""
    widths = {c["name"]: c.get("bytes") for f in manifest["fields"] for c in f["columns"]}
    cols, fields = [], []
    for f, c in zip(table.schema, table.columns):
        w = widths.get(f.name)
        if w and (pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)):
            try:
                c = c.cast(pa.binary(w))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise pseudolink.ManifestError(
                    ("" if label is None else f"{label}: ")
                    + f"column `{f.name}` does not hold {w}-byte values as its manifest says; the extract may have "
                    "been altered"
                ) from None
            f = pa.field(f.name, pa.binary(w), f.nullable)
        cols.append(c)
        fields.append(f)
    meta = dict(table.schema.metadata or {})
    meta[pseudolink.MANIFEST_KEY.encode()] = json.dumps(manifest).encode()
    return pa.Table.from_arrays(cols, schema=pa.schema(fields, metadata=meta))


def _config_columns(text: Optional[str]) -> Optional[set]:
    """The input columns a tokenise config names (``None``: every column, where Python has no
    TOML reader, before 3.11)."""
    try:
        import tomllib
    except ImportError:
        return None
    try:
        cfg = tomllib.loads(text or "")
    except ValueError:
        return set()
    cols = {cfg.get("record_id", {}).get("column")}
    cols |= {f.get("column") for f in cfg.get("field", []) + cfg.get("passthrough", [])}
    return {c for c in cols if c}


def _config_args(config: Optional[PathLike], config_toml: Optional[str]) -> Dict[str, Optional[str]]:
    if config is not None and config_toml is not None:
        raise pseudolink.UsageError("give the tokenise config as a file (`config`) or as TOML text, not both")
    if config is None and config_toml is None:
        raise pseudolink.UsageError("give the tokenise config, as a file (`config`) or as TOML text (`config_toml`)")
    if config is not None:
        # Read on the driver and shipped as text: executors need not see the config file.
        with open(os.fspath(config), encoding="utf-8") as f:
            return {"config_toml": f.read()}
    return {"config_toml": config_toml}


class Tokenised:
    """A tokenised DataFrame and its manifest (rows are counted when it is written)."""

    def __init__(self, df, manifest: Dict[str, Any]):
        #: The pseudonymised rows, sorted by their keyed order.
        self.df = df
        #: The manifest (``rows`` is filled in by :func:`write_extract`).
        self.manifest = manifest


def tokenise(df, config: Optional[PathLike] = None, key_file: Optional[PathLike] = None, *,
             config_toml: Optional[str] = None) -> Tokenised:
    """Tokenises a provider's DataFrame on the executors with the Rust kernel.

    ``key_file`` must be readable at the same path on the driver and every executor (a provider's
    own cluster; the key never leaves the provider). Every column is read as text. The
    ``resistant`` profile counts name frequencies over the whole extract, which one batch cannot
    do: it is refused here (use :func:`pseudolink.tokenise` or the command line).

    Returns a :class:`Tokenised`; write it with :func:`write_extract`.
    """
    if key_file is None:
        raise pseudolink.UsageError("give the project key file (`key_file`)")
    key = os.fspath(key_file)
    cfg = _config_args(config, config_toml)
    # Spark's CSV reader keeps a UTF-8 byte-order mark in the first column's name.
    df = df.toDF(*[c.lstrip("\ufeff") for c in df.columns])
    # The output schema, from an empty table of the input's columns (the kernel reads text).
    empty = pa.table({c: pa.array([], pa.string()) for c in df.columns})
    probe, _ = _native.tokenise(empty, key, label="DataFrame", with_order=True, **cfg)
    manifest = json.loads(probe.schema.metadata[pseudolink.MANIFEST_KEY.encode()])
    if any(c["part"] == "band" for f in manifest["fields"] for c in f["columns"]):
        raise pseudolink.UsageError(
            "the `resistant` profile counts name frequencies over the whole extract, which a Spark job tokenising "
            "batch by batch cannot do; tokenise this extract with pseudolink.tokenise or `pseudolink tokenise`"
        )
    out_schema = _binary_for_spark(probe).schema.remove_metadata()
    order = _native.ORDER_COLUMN
    columns = list(df.columns)

    def kernel(batches):
        for batch in batches:
            table = pa.Table.from_batches([batch]).cast(pa.schema([(c, pa.string()) for c in columns]))
            out, _ = _native.tokenise(table, key, label="DataFrame batch (rows counted within the batch)",
                                      with_order=True, **cfg)
            for b in _binary_for_spark(out).replace_schema_metadata(None).to_batches():
                yield b

    from pyspark.sql.types import (ArrayType, BinaryType, MapType, StructType, TimestampType)

    config_columns = _config_columns(cfg["config_toml"])
    for f in df.schema.fields:
        if (config_columns is None or f.name in config_columns) and isinstance(f.dataType, (ArrayType, MapType, StructType, BinaryType, TimestampType)):
            raise pseudolink.InputError(
                f"DataFrame: column `{f.name}`: has type {f.dataType.simpleString()}; pseudolink reads text, number, "
                "boolean and date columns. Export this column as text"
            )
    text = df.select([df[c].cast("string").alias(c) for c in columns])
    result = text.mapInArrow(kernel, _spark_schema(out_schema)).orderBy(order).drop(order)
    return Tokenised(result, manifest)


def _local(path: PathLike) -> str:
    """A local or mounted path (``file://`` stripped); other URIs are refused."""
    p = os.fspath(path)
    if p.startswith("file://"):
        p = p[len("file://"):]
    if "://" in p or p.startswith("dbfs:"):
        raise pseudolink.UsageError(
            f"{p}: give a local or mounted path (on Databricks a /Volumes/… or /dbfs/… path): the manifest beside "
            "the parts is written by the driver"
        )
    return p


def _private(path: str) -> None:
    """Folders 0700 and files 0600 under ``path``, as every other pseudolink output."""
    for root, dirs, files in os.walk(path):
        os.chmod(root, 0o700)
        for f in files:
            os.chmod(os.path.join(root, f), 0o600)


def _fresh(path: str) -> None:
    if os.path.lexists(path):
        raise pseudolink.UsageError(f"{path}: already exists; pseudolink never writes over a file or folder")


class _Staged:
    """A new folder or file built beside its final path (under ``.NAME.partial-…``, private)
    and renamed into place only when complete, so that a failed or interrupted job never leaves
    anything under the final path; on failure the partial work is removed. The context gives the
    path to build (it does not exist yet)."""

    def __init__(self, path: str):
        import tempfile

        self.path = path
        _fresh(path)
        parent = os.path.dirname(os.path.abspath(path))
        self.tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.partial-", dir=parent)  # 0700
        self.work = os.path.join(self.tmp, "out")

    def __enter__(self) -> str:
        return self.work

    def __exit__(self, kind, value, tb) -> None:
        import shutil

        try:
            if kind is None:
                _private(self.work)
                _fresh(self.path)  # made by someone else meanwhile: refused, never replaced
                try:
                    os.rename(self.work, self.path)
                except OSError:
                    raise pseudolink.UsageError(
                        f"{self.path}: appeared while the job ran; pseudolink never writes over a file or folder"
                    ) from None
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def write_extract(tokenised: Tokenised, path: PathLike) -> None:
    """Writes a tokenised DataFrame as a new extract folder: Parquet parts, then the manifest
    (rows counted from the committed parts' footers) as ``_pseudolink_manifest.json``. The folder is
    built beside ``path`` and renamed into place when complete, so a failed job leaves nothing
    under ``path``. An existing path is refused; the folder is private (0700, files 0600)."""
    path = _local(path)
    with _Staged(path) as out:
        tokenised.df.write.mode("errorifexists").parquet(out)
        # Counted by Spark's reader from the committed parts' footers (whatever the commit
        # protocol leaves beside them), not by running the tokenising job a second time.
        rows = tokenised.df.sparkSession.read.parquet(out).count()
        manifest = dict(tokenised.manifest)
        manifest["rows"] = {"read": rows, "written": rows}
        _write_private(os.path.join(out, MANIFEST_FILE), json.dumps(manifest))


def _manifest_of(path: str) -> Dict[str, Any]:
    manifest = _read_manifest(path)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("fields"), list):
        raise pseudolink.ManifestError(f"{path}: its manifest is not a pseudolink manifest")
    return manifest


def _read_manifest(path: str) -> Any:
    if not os.path.exists(path):
        raise pseudolink.FileError(f"{path}: does not exist")
    side = os.path.join(path, MANIFEST_FILE)
    if os.path.isdir(path):
        if not os.path.exists(side):
            raise pseudolink.ManifestError(
                f"{path}: has no {MANIFEST_FILE}; it is not a finished pseudolink extract folder"
            )
        try:
            with open(side, encoding="utf-8") as f:
                return json.load(f)
        except ValueError:
            raise pseudolink.ManifestError(f"{path}: its {MANIFEST_FILE} is not a manifest") from None
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path).metadata or {}
    except (pa.ArrowInvalid, OSError):
        raise pseudolink.ManifestError(f"{path}: is not a readable Parquet file (it may be truncated or damaged)") from None
    raw = meta.get(pseudolink.MANIFEST_KEY.encode())
    if raw is None:
        raise pseudolink.ManifestError(f"{path}: is not a pseudolink extract (it has no manifest)")
    try:
        return json.loads(raw)
    except ValueError:
        raise pseudolink.ManifestError(f"{path}: its manifest is not a manifest") from None


class Extract:
    """A pseudonymised extract as a DataFrame, with its manifest."""

    def __init__(self, df, manifest: Dict[str, Any], label: str):
        self.df = df
        self.manifest = manifest
        self.label = label


def read_extract(spark, path: PathLike) -> Extract:
    """Reads an extract folder written by :func:`write_extract`, or an extract file written by
    ``pseudolink tokenise``/``rekey``, as a DataFrame with its manifest."""
    path = _local(path)
    manifest = _manifest_of(path)
    return Extract(spark.read.parquet(path), manifest, path)


def _collect_arrow(df) -> pa.Table:
    """A DataFrame's rows as one Arrow table, in partition order."""
    if hasattr(df, "toArrow"):  # PySpark 4
        return df.toArrow()
    batches = df._collect_as_arrow()  # PySpark 3.5: no batches at all for no rows
    if batches:
        return pa.Table.from_batches(batches)
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema).empty_table()


def _signed(table: pa.Table) -> pa.Table:
    """Unsigned integer columns as the next wider signed type (uint64 as int64): Spark has no
    unsigned types. Counts and row numbers never come near the top bit."""
    wider = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(), pa.uint64(): pa.int64()}
    fields = [pa.field(f.name, wider.get(f.type, f.type), f.nullable) for f in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _to_spark(spark, table: pa.Table):
    """An Arrow table as a DataFrame: directly on PySpark 4, through pandas on 3.5."""
    import pyspark

    table = _signed(table)
    if int(pyspark.__version__.split(".")[0]) >= 4:
        return spark.createDataFrame(table)
    return spark.createDataFrame(table.to_pandas(), _spark_schema(table.schema))


class SparkLinkage:
    """The result of :func:`link`: DataFrames with the command line's schemas."""

    def __init__(self, clusters, pairs, model: "pseudolink.Model", summary: Dict[str, Any], log: List[str]):
        #: Every record with its person id (``clusters.parquet``'s schema).
        self.clusters = clusters
        #: Scored candidate pairs (``pairs.parquet``'s schema).
        self.pairs = pairs
        self.model = model
        self.summary = summary
        self.log = log

    def write(self, path: PathLike) -> None:
        """Writes a new linkage folder: ``clusters`` and ``pairs`` as Parquet folders,
        ``model.json`` and ``summary.json``. The folder is built beside ``path`` and renamed
        into place when complete, so a failed job leaves nothing under ``path``. An existing
        path is refused; the folder is private (0700, files 0600)."""
        path = _local(path)
        with _Staged(path) as out:
            os.makedirs(out, mode=0o700)
            self.clusters.write.mode("errorifexists").parquet(os.path.join(out, "clusters"))
            self.pairs.write.mode("errorifexists").parquet(os.path.join(out, "pairs"))
            _write_private(os.path.join(out, "model.json"), self.model.to_json())
            _write_private(os.path.join(out, "summary.json"), json.dumps(self.summary, indent=2))


class _Grouped:
    """Every extract's records grouped where they live: the distinct rows the driver links (one
    Arrow table per extract, the linkage columns of each row's first record), each row's record
    count, first row and least content hash, and each record's row as a DataFrame for the
    clusters."""

    def __init__(self, tables, groups, assignment, cached):
        self.tables = tables
        self.groups = groups
        self.assignment = assignment
        self.cached = cached

    def release(self) -> None:
        """Drops the cached record-to-row assignment (after a failure)."""
        for c in self.cached:
            c.unpersist()


def _part(manifest: Dict[str, Any], kind: str, part: str) -> Optional[str]:
    """The column of the manifest's first field of type ``kind`` holding ``part``, as the linker
    finds it."""
    for f in manifest["fields"]:
        if f["type"] == kind:
            return next((c["name"] for c in f["columns"] if c.get("part") == part), None)
    return None


def _numbered(spark, x: Extract, present: List[str]):
    """The extract's linkage columns (``present``; a missing record id read as empty, as the
    command line reads it) with each record's 1-based row in the extract (``_row``), and the
    number of records. Rows are numbered by Parquet's row index within each file, files in name
    order (one file for the command line's extracts; a folder's parts in the order they were
    written); a DataFrame not read from Parquet files is numbered in its partitions' order."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    cols = [F.coalesce(F.col(c), F.lit("")).alias(c) if c == "record_id" else F.col(c) for c in present]
    df = None
    # Read from files (a DataFrame made in memory has none), and no data column hiding Spark's
    # `_metadata` column.
    if "_metadata" not in x.df.columns and x.df.inputFiles():
        from pyspark.errors import AnalysisException

        try:
            df = x.df.select(
                *cols, F.col("_metadata.file_path").alias("_pl_file"), F.col("_metadata.row_index").alias("_pl_index")
            )
            df.schema  # analysed here (Spark Connect builds plans lazily): not Parquet, or a union of reads
        except AnalysisException:
            df = None
    if df is None:
        # One task numbers the whole extract, kept so that every later pass sees the same numbers.
        ordered = x.df.select(*cols, F.monotonically_increasing_id().alias("_pl_order"))
        numbered = ordered.withColumn("_row", F.row_number().over(Window.orderBy("_pl_order")).cast("long"))
        numbered = numbered.drop("_pl_order").persist(StorageLevel.MEMORY_AND_DISK)
        return numbered, numbered.count()
    files = sorted((r["_pl_file"], int(r["count"])) for r in df.groupBy("_pl_file").count().collect())
    offsets, total = [], 0
    for name, n in files:
        offsets.append((name, total))
        total += n
    if len(offsets) <= 1:
        return df.withColumn("_row", F.col("_pl_index") + 1).drop("_pl_file", "_pl_index"), total
    starts = spark.createDataFrame(offsets, "_pl_file string, _pl_offset long")
    numbered = (
        df.join(F.broadcast(starts), "_pl_file")
        .withColumn("_row", F.col("_pl_offset") + F.col("_pl_index") + 1)
        .drop("_pl_file", "_pl_index", "_pl_offset")
    )
    return numbered, total


def _hashed(source: str):
    """mapInArrow: each record's content hash beside its columns (the Rust kernel's)."""

    def run(batches):
        from pseudolink import _native as native

        for b in batches:
            h = native.content_hashes(source, b.select(["record_id"]))
            yield pa.RecordBatch.from_arrays(b.columns + [h.column(0)], names=b.schema.names + ["_hash"])

    return run


def _group(spark, xs: List[Extract], labels: List[str], link_type: str) -> _Grouped:
    """Groups each extract's records whose linkage columns are all equal, on the executors, so
    that the driver holds distinct rows instead of records (a GP's hundred identical encounters
    of one patient travel as one row with a count). Only records holding both a family name and
    a date of birth are grouped — the linker's identities never join sparser records — and none
    under ``link_only``, where every record is its own identity.

    The records are checked first, in the command line's order and with its messages: each
    extract's whole schema against its manifest (no column added, dropped or retyped) and its
    records against the manifest's row count (the schema first, before the records are counted;
    the command line reads the count first); then the extracts against each other (key ids,
    profile, Bloom settings, sources); then each extract's record ids, unique."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StructField, StructType

    checked, tables, groups, parts = [], [], [], []
    try:
        for x, label in zip(xs, labels):
            empty = _collect_arrow(x.df.limit(0))
            _native.manifest_of(_fixed_width_again(empty, dict(x.manifest, rows={"read": 0, "written": 0})), label)
            wanted = ["record_id"] + [c["name"] for f in x.manifest["fields"] for c in f["columns"]]
            present = [c for c in wanted if c in x.df.columns]
            records, n = _numbered(spark, x, present)
            _native.manifest_of(_fixed_width_again(empty, x.manifest), label, rows=n)
            checked.append((x, label, present, records))
        _native.check_together([json.dumps(x.manifest) for x in xs], list(labels))
        for s, (x, label, present, records) in enumerate(checked):
            # Record ids unique within the extract, as the command line requires (the first
            # repeat is named by its row).
            ids = records.groupBy("record_id").agg(F.count(F.lit(1)).alias("_n"), F.min("_row").alias("_first"))
            repeat = (
                records.join(ids.where("_n > 1"), "record_id").where(F.col("_row") > F.col("_first"))
                .agg(F.min("_row").alias("row")).collect()[0]["row"]
            )
            if repeat is not None:
                _native.refuse_repeated_record_id(label, int(repeat))  # raises the command line's refusal
            family, dob = _part(x.manifest, "family_name", "exact"), _part(x.manifest, "date_of_birth", "full")
            solid = F.lit(link_type != "link_only")
            for c in (family, dob):
                solid = solid & (F.col(c).isNotNull() if c in present else F.lit(False))
            hashed = records.mapInArrow(
                _hashed(x.manifest["source"]), StructType(records.schema.fields + [StructField("_hash", LongType(), True)])
            )
            keyed = hashed.withColumn("_alone", F.when(solid, F.lit(None).cast("long")).otherwise(F.col("_row")))
            group = Window.partitionBy(*[c for c in present if c != "record_id"], "_alone")
            placed = (
                keyed.withColumn("_first", F.min("_row").over(group))
                .withColumn("_records", F.count(F.lit(1)).over(group))
                .withColumn("_least", F.min("_hash").over(group))
                .persist(StorageLevel.MEMORY_AND_DISK)
            )
            try:
                rows = _collect_arrow(
                    placed.where(F.col("_row") == F.col("_first"))
                    .select(*present, "_records", "_first", "_least").orderBy("_first")
                )
                # Each record's row, kept (narrow) for the clusters: the returned DataFrame reads it.
                mine = placed.select(
                    F.lit(s).alias("_extract"), F.lit(x.manifest["source"]).alias("source"), "record_id", "_row", "_first"
                ).persist(StorageLevel.MEMORY_AND_DISK)
                parts.append(mine)
                mine.count()
            finally:
                placed.unpersist()
                records.unpersist()  # kept only when numbered in one task
            groups.append(pa.table({
                "records": rows.column("_records"), "first_row": rows.column("_first"),
                "least_hash": rows.column("_least"),
            }))
            tables.append(_fixed_width_again(rows.select(present), dict(x.manifest, passthrough=[]), label))
    except BaseException:
        for p in parts + [c[3] for c in checked]:
            p.unpersist()
        raise
    assignment = parts[0]
    for p in parts[1:]:
        assignment = assignment.unionByName(p)
    return _Grouped(tables, groups, assignment, parts)


def _group_digits(n: int) -> str:
    return f"{n:,}"


def _candidates(spark, session, reps, salt_block: int):
    """Blocking as Spark equi-joins, one pass per rule, with the single-machine linker's rules:
    blocks of two to ``max_block`` identities, pairs of positions smaller first, the link type's
    sources only, and no pair an earlier rule finds. Returns the pairs (a, b) and the reports.

    Skewed keys are salted: a block of ``n`` identities is split into ``k = ceil(n / salt_block)``
    chunks by position, each identity goes to the join's left side under (its chunk, every chunk)
    and to its right side under (every chunk, its chunk), so each pair of chunks meets in a join
    group of its own and every pair of identities exactly once in each order (the smaller
    position first is kept). A block of ``n`` identities is then ``k²`` tasks of at most
    ``salt_block²`` pairs each instead of one of ``n²``, for ``k`` times the rows shuffled."""
    from pyspark.sql import functions as F

    link_type, max_block, max_pairs, _, _ = session.settings()
    rules, names = session.rules(), session.rule_names()
    found, reports, parts = 0, [], []
    try:
        for ri, cols in enumerate(rules):
            earlier = rules[:ri]
            need = sorted(set(cols) | {c for r in earlier for c in r})
            keyed = reps.select("pos", "source", *need)
            for c in cols:
                keyed = keyed.where(F.col(c).isNotNull())
            sizes = keyed.groupBy(*cols).agg(F.count(F.lit(1)).alias("n")).where("n > 1")
            big = F.col("n") > max_block
            pairs_of = F.col("n") * (F.col("n") - 1) / 2
            row = sizes.agg(
                F.sum(F.when(big, 1).otherwise(0)).alias("skipped"),
                F.sum(F.when(big, pairs_of).otherwise(0)).alias("pairs_skipped"),
                F.max(F.when(big, 0).otherwise(F.col("n"))).alias("largest"),
                F.sum(F.when(big, 0).otherwise(pairs_of)).alias("bound"),
            ).collect()[0]
            skipped, pairs_skipped = int(row["skipped"] or 0), int(row["pairs_skipped"] or 0)
            largest, bound = int(row["largest"] or 0), int(row["bound"] or 0)
            if found + bound > max_pairs:
                raise pseudolink.CheckError(
                    f"blocking rule [{', '.join(names[ri])}] would add up to {_group_digits(bound)} candidate pairs to the "
                    f"{_group_digits(found)} before it, more than the limit of {_group_digits(max_pairs)} (its largest "
                    f"block holds {largest} identities): the rules are too loose for these extracts, or blocks hold many "
                    "unrelated records. Tighten the blocking rules, lower --max-block, or raise --max-pairs if this is expected"
                )
            chunks = F.greatest(F.lit(1), F.ceil(F.col("n") / F.lit(salt_block))).cast("long")
            kept = keyed.join(sizes.where(~big).select(*cols, chunks.alias("_k")), cols)
            every = F.explode(F.sequence(F.lit(0).cast("long"), F.col("_k") - 1))
            own = F.col("pos") % F.col("_k")
            left = kept.select([F.col(c).alias("l_" + c) for c in kept.columns if c != "_k"]
                               + [own.alias("l_salt"), every.alias("r_salt")])
            right = kept.select([F.col(c).alias("r_" + c) for c in kept.columns if c != "_k"]
                                + [every.alias("l_salt"), own.alias("r_salt")])
            right = right.withColumnRenamed("l_salt", "x_l_salt").withColumnRenamed("r_salt", "x_r_salt")
            cond = [F.col("l_" + c) == F.col("r_" + c) for c in cols] + [
                F.col("l_salt") == F.col("x_l_salt"), F.col("r_salt") == F.col("x_r_salt"), F.col("l_pos") < F.col("r_pos")]
            pairs = left.join(right, cond)
            if link_type == "link_only":
                pairs = pairs.where(F.col("l_source") != F.col("r_source"))
            elif link_type == "dedupe_only":
                pairs = pairs.where(F.col("l_source") == F.col("r_source"))
            for e in earlier:
                same = None
                for c in e:
                    eq = F.coalesce(F.col("l_" + c) == F.col("r_" + c), F.lit(False))
                    same = eq if same is None else (same & eq)
                pairs = pairs.where(~same)
            pairs = pairs.select(F.col("l_pos").alias("a"), F.col("r_pos").alias("b")).persist()
            n = pairs.count()
            found += n
            reports.append({"rule": names[ri], "pairs": n, "blocks_skipped": skipped, "pairs_skipped": pairs_skipped,
                            "largest_block": largest})
            parts.append(pairs)
    except BaseException:
        for p in parts:
            p.unpersist()
        raise
    cands = parts[0]
    for p in parts[1:]:
        cands = cands.unionByName(p)
    return cands, reports, found


def _shipped(spark, context: str):
    """The kernel's context (the records' shape, the model, term frequencies: a few MB) as each
    task gets it: a broadcast variable where the session has a SparkContext (classic Spark: sent
    once to each executor), else inside each task (Spark Connect has no broadcast variables, and
    Spark then warns of tasks "of very large size")."""
    try:
        shared = spark.sparkContext.broadcast(context)
    except (AttributeError, NotImplementedError):
        return lambda: context
    return lambda: shared.value


def _kernel(context, output: str):
    """A `mapInArrow` function running the pair kernel with ``context()`` (see `_shipped`)."""

    def run(batches):
        kernel = _native.PairKernel(context())
        for b in batches:
            yield kernel.compare(b, output)

    return run


def _materialise(df):
    """Computes ``df`` once and cuts its lineage, so that an iterative loop's plans stay small:
    a local checkpoint, or where the session has none (Spark Connect before 4.0) a persisted
    copy."""
    from pyspark import StorageLevel

    try:
        return df.localCheckpoint(eager=True)
    except (AttributeError, NotImplementedError):
        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        df.count()
        return df


def _connected_components(edges):
    """Connected components of the graph of ``edges`` (columns ``a``, ``b``) in Spark SQL:
    every vertex's label starts as the least of itself and its neighbours, then each round takes
    the least label among the neighbours (propagation) and the label's own label (pointer
    jumping), until no label changes. Labels only fall and each is a vertex of the component, so
    the loop ends with each component labelled by its least vertex, in at most as many rounds as
    the longest chain of links (pointer jumping usually cuts that to a handful). Returns (``v``, ``label``) for every vertex, and
    the rounds taken."""
    from pyspark.sql import functions as F

    both = edges.select(F.col("a").alias("src"), F.col("b").alias("dst")).unionByName(
        edges.select(F.col("b").alias("src"), F.col("a").alias("dst"))
    )
    und = _materialise(both.where(F.col("src") != F.col("dst")).distinct())
    rounds = 0
    labels = _materialise(
        und.groupBy("src").agg(F.min("dst").alias("m")).select(F.col("src").alias("v"), F.least("src", "m").alias("label"))
    )
    while True:
        nearest = und.join(labels.withColumnRenamed("v", "dst"), "dst").groupBy("src").agg(F.min("label").alias("m"))
        step = labels.join(nearest.withColumnRenamed("src", "v"), "v").select("v", F.least("label", "m").alias("label"))
        jumped = step.alias("s").join(step.alias("p"), F.col("s.label") == F.col("p.v")).select(
            F.col("s.v").alias("v"), F.col("p.label").alias("label")
        )
        jumped = _materialise(jumped)
        changed = jumped.alias("n").join(labels.alias("o"), "v").where(F.col("n.label") != F.col("o.label")).count()
        labels.unpersist()  # the round before (a persisted copy where checkpoints are missing)
        labels = jumped
        rounds += 1
        if changed == 0:
            und.unpersist()
            return labels, rounds


def _component_kernel(override_weight: float, one_to_one: bool):
    def run(batches):
        # A whole partition at once: `repartition("comp")` keeps each component in one.
        batches = [b for b in batches if b.num_rows]
        if batches:
            table = pa.Table.from_batches(batches).combine_chunks()
            for b in table.to_batches():
                yield _native.cluster_components(b, override_weight, one_to_one)

    return run


def _cluster_by_components(spark, session, above):
    """Clustering without gathering the links: components of the graph of NHS-number links and
    links at or above the threshold found in Spark SQL, each component clustered in one task by
    the conflict-rule kernel (``link::components``), only each identity's label gathered."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    nhs = _to_spark(spark, session.nhs_table())
    graph = above.select("a", "b").unionByName(
        nhs.where(F.col("pos") != F.col("root")).select(F.col("pos").alias("a"), F.col("root").alias("b"))
    )
    comp, rounds = _connected_components(graph)
    vertices = nhs.join(comp.withColumnRenamed("v", "pos"), "pos").select(
        F.col("label").alias("comp"), F.lit(0).cast("long").alias("kind"), F.col("pos").alias("a"),
        F.col("root").alias("b"), F.lit(None).cast("double").alias("w"), "token", "source", "nhs_linked",
    )
    links = above.join(comp.withColumnRenamed("v", "a"), "a").select(
        F.col("label").alias("comp"), F.lit(1).cast("long").alias("kind"), "a", "b", F.col("match_weight").alias("w"),
        F.lit(None).cast("long").alias("token"), F.lit(None).cast("long").alias("source"),
        F.lit(None).cast("boolean").alias("nhs_linked"),
    )
    override_weight, one_to_one = session.cluster_settings()
    answer = (
        vertices.unionByName(links)
        .repartition("comp")
        .mapInArrow(_component_kernel(override_weight, one_to_one), "kind long, a long, b long, n long")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    labels = _collect_arrow(
        answer.where(F.col("kind") == 0).select(F.col("a").alias("pos"), F.col("b").alias("label"), F.col("n").alias("prob"))
    )
    counts = [
        (int(r["kind"]), int(r["a"]), int(r["b"]), int(r["n"]))
        for r in answer.where(F.col("kind") > 0).groupBy("kind", "a", "b").agg(F.sum("n").alias("n")).collect()
    ]
    # Cached data released once gathered: a notebook links again without piling them up.
    answer.unpersist()
    comp.unpersist()
    note = f"clustering by components: {labels.num_rows:,} identities in linked components, {rounds} rounds of the components loop"
    return labels, counts, note


def link(spark, extracts: Sequence[Union[Extract, PathLike]], **options) -> SparkLinkage:
    """Links pseudonymised extracts (from :func:`read_extract`, or their paths) into persons.

    Accepts :func:`pseudolink.link`'s keyword settings (``config``, ``linkage_key``,
    ``threshold``, ``link_type``, ``model`` …) and refuses what it refuses, with the same
    messages. Records are checked and identical ones grouped on the executors; the driver forms
    identities from the grouped rows and trains and clusters; the pair-level stages (blocking,
    comparison, scoring, and the pairs output) run on the executors with the same Rust kernels,
    so the persons are the single-machine linker's, and every record gets its row's answer.

    ``salt_block`` (default 250) is the most identities of one blocking key that meet in one
    join group: larger blocks are split into chunks of about that many and joined chunk by chunk
    (salting), so that a skewed key (a common name, a large care home's postcode) does not make
    one task do all its pairs. The pairs found are the same whatever its value.

    ``driver_links`` (default 20,000,000) is the most links at or above the threshold gathered
    on the driver for clustering (about 24 bytes each); above it the persons are found component
    by component on the executors (connected components in Spark SQL, each component clustered
    under the same conflict rule in one task), giving the same persons.
    """
    driver_links = options.pop("driver_links", 20_000_000)
    if not isinstance(driver_links, int) or isinstance(driver_links, bool) or driver_links < 0:
        raise pseudolink.UsageError("`driver_links` must be a whole number of links, 0 or more")
    salt_block = options.pop("salt_block", 250)
    if not isinstance(salt_block, int) or isinstance(salt_block, bool) or salt_block < 1:
        raise pseudolink.UsageError("`salt_block` must be a whole number of identities, 1 or more")
    xs = [e if isinstance(e, Extract) else read_extract(spark, e) for e in extracts]
    labels = list(options.pop("labels", None) or [x.label for x in xs])
    model = options.pop("model", None)
    for k in ("config", "linkage_key"):
        if options.get(k) is not None:
            options[k] = os.fspath(options[k])
    if not xs:
        raise pseudolink.UsageError("give at least one pseudonymised extract to link")
    if len(labels) != len(xs):
        raise pseudolink.UsageError("give one label per table")
    # Everything the linkage will check of its settings, before any work on the records: the
    # names, the settings together, the model and an existing linkage key.
    settings = ("config", "config_toml", "threshold", "link_type", "seed", "max_block", "max_pairs", "all_pairs")
    unknown = sorted(set(options) - set(settings) - {"linkage_key"})
    if unknown:
        raise TypeError(f"link() got unexpected keyword argument(s): {', '.join(unknown)}")
    link_type = _native.link_type_of(**{k: v for k, v in options.items() if k in settings})
    if model is not None and not isinstance(model, pseudolink.Model):
        raise pseudolink.UsageError("`model` must be a pseudolink.Model (pseudolink.Model.load(path))")
    if options.get("linkage_key") is not None:
        _native.check_linkage_key(options["linkage_key"])
    grouped = _group(spark, xs, labels, link_type)
    try:
        return _link_grouped(spark, grouped, labels, model, options, salt_block, driver_links)
    except BaseException:
        grouped.release()
        raise


def _link_grouped(spark, grouped: _Grouped, labels, model, options, salt_block: int, driver_links: int) -> SparkLinkage:
    """:func:`link` once the records are grouped; what it cached released if it fails."""
    cached = []
    try:
        return _linked(spark, grouped, labels, model, options, salt_block, driver_links, cached)
    except BaseException:
        for c in cached:
            c.unpersist()
        raise


def _linked(spark, grouped: _Grouped, labels, model, options, salt_block: int, driver_links: int, cached: list):
    """:func:`link`'s stages on the grouped records; what it caches is listed in ``cached``."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    session = _native.LinkSession(grouped.tables, labels, model_json=None if model is None else model.to_json(),
                                  grouped=grouped.groups, **options)
    n_records = sum(pa.compute.sum(g.column("records")).as_py() or 0 for g in grouped.groups)
    n_rows = sum(g.num_rows for g in grouped.groups)
    grouped_line = f"{n_records:,} records grouped into {n_rows:,} distinct rows on the executors"
    grouped.tables = grouped.groups = None
    _, _, _, threshold_weight, floor_weight = session.settings()

    reps_arrow = session.rep_table()
    reps = _to_spark(spark, reps_arrow).persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(reps)
    cands, reports, n_cands = _candidates(spark, session, reps, salt_block)
    left = reps.select([F.col(c).alias("l_" + c) for c in reps.columns])
    right = reps.select([F.col(c).alias("r_" + c) for c in reps.columns])
    joined = (
        cands.join(left, F.col("a") == F.col("l_pos")).join(right, F.col("b") == F.col("r_pos")).drop("l_pos", "r_pos")
    )

    # Training: pattern counts by one GROUP BY, EM on the driver.
    patterns = joined.mapInArrow(
        _kernel(_shipped(spark, session.pattern_context()), "patterns"), "a long, b long, pattern long"
    )
    counts = [(int(r["pattern"]), int(r["count"])) for r in patterns.groupBy("pattern").count().collect()]
    model_json = session.train(counts)

    # Scoring on the executors; the pairs at or above the threshold and statistics of all to the driver.
    context = _shipped(spark, session.score_context())
    scored = joined.mapInArrow(
        _kernel(context, "weights"),
        "a long, b long, pattern long, match_weight double, match_probability double, weight_bin long",
    ).persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(scored)
    above = scored.where(F.col("match_weight") >= threshold_weight).select("a", "b", "pattern", "match_weight")
    by_components = above.count() > driver_links
    sides = scored.select(F.col("a").alias("pos"), "match_probability").unionByName(
        scored.select(F.col("b").alias("pos"), "match_probability")
    )
    best = _collect_arrow(sides.groupBy("pos").agg(F.max("match_probability").alias("best")))
    histogram = [(int(r["weight_bin"]), int(r["count"])) for r in scored.groupBy("weight_bin").count().collect()]
    low = scored.where(F.col("match_weight") < floor_weight).agg(
        F.count(F.lit(1)).alias("n"), F.sum("match_probability").alias("p")
    ).collect()[0]
    stats = (best, histogram, n_cands, int(low["n"] or 0), float(low["p"] or 0.0), json.dumps(reports))
    if by_components:
        labels, counts, note = _cluster_by_components(spark, session, above)
        clusters, summary, log = session.finish_components(labels, counts, *stats)
        log = list(log) + [note]
    else:
        clusters, summary, log = session.finish(_collect_arrow(above), *stats)
    scored.unpersist()  # gathered; pairs.parquet's rows are scored again when written
    for line in log:
        if line.startswith("warning:"):
            import warnings

            warnings.warn(line[len("warning:"):].strip(), UserWarning, stacklevel=2)

    # pairs.parquet's rows, scored again on the executors, in the single-machine linker's order.
    probe = reps_arrow.slice(0, 0)
    empty = {"a": pa.array([], pa.int64()), "b": pa.array([], pa.int64())}
    for side in ("l_", "r_"):
        empty.update({side + n: probe.column(n).combine_chunks() for n in probe.column_names if n != "pos"})
    pairs_schema = _native.PairKernel(context()).compare(pa.RecordBatch.from_pydict(empty), "pairs").schema
    pairs = (
        joined.mapInArrow(_kernel(context, "pairs"), _spark_schema(pairs_schema))
        .where(F.col("match_weight") >= floor_weight)
        .orderBy("a", "b")
        .drop("a", "b")
    )
    clusters = _per_record(_to_spark(spark, clusters), grouped.assignment)
    return SparkLinkage(clusters, pairs, pseudolink.Model(model_json), json.loads(summary), [grouped_line] + list(log))


def _per_record(rows, assignment):
    """clusters.parquet's rows: the linker's answer for each grouped row (its first record's
    source and row number), given to every record of the row, in the extracts' order."""
    from pyspark.sql import functions as F

    answers = rows.withColumnRenamed("row_number", "_first").drop("record_id")
    out = assignment.join(answers, ["source", "_first"]).orderBy("_extract", "_row")
    return out.select(*[F.col("_row").alias(c) if c == "row_number" else F.col(c) for c in rows.columns])
