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
  the command line's schemas. The extracts' token columns are gathered to the driver as Arrow
  batches and linked there by the single-machine linker (the same persons as ``pseudolink
  link``); the driver must hold them (about 100 bytes a record). Distributing blocking and
  scoring across executors is described in docs/spark.md as not yet built.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

import pyarrow as pa

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


def _fixed_width_again(table: pa.Table, manifest: Dict[str, Any]) -> pa.Table:
    """Token and Bloom columns back to their manifest's fixed widths."""
    widths = {c["name"]: c.get("bytes") for f in manifest["fields"] for c in f["columns"]}
    cols, fields = [], []
    for f, c in zip(table.schema, table.columns):
        w = widths.get(f.name)
        if w and (pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)):
            try:
                c = c.cast(pa.binary(w))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise pseudolink.ManifestError(
                    f"column `{f.name}` does not hold {w}-byte values as its manifest says; the extract may have "
                    "been altered"
                ) from None
            f = pa.field(f.name, pa.binary(w), f.nullable)
        cols.append(c)
        fields.append(f)
    meta = dict(table.schema.metadata or {})
    meta[pseudolink.MANIFEST_KEY.encode()] = json.dumps(manifest).encode()
    return pa.Table.from_arrays(cols, schema=pa.schema(fields, metadata=meta))


def _config_args(config: Optional[PathLike], config_toml: Optional[str]) -> Dict[str, Optional[str]]:
    if config is not None and config_toml is not None:
        raise pseudolink.UsageError("give the tokenise config as a file (`config`) or as TOML text, not both")
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
            out, _ = _native.tokenise(table, key, label="DataFrame", with_order=True, **cfg)
            for b in _binary_for_spark(out).replace_schema_metadata(None).to_batches():
                yield b

    text = df.select([df[c].cast("string").alias(c) for c in columns])
    result = text.mapInArrow(kernel, _spark_schema(out_schema)).orderBy(order).drop(order)
    return Tokenised(result, manifest)


def write_extract(tokenised: Tokenised, path: PathLike, *, mode: str = "errorifexists") -> None:
    """Writes a tokenised DataFrame as an extract folder: Parquet parts, then the manifest (with
    the rows counted) as ``_pseudolink_manifest.json``. Spark writes the parts through its own
    commit protocol (nothing under ``path`` until the job commits), and the manifest is written
    last, so a folder without it is not a finished extract."""
    path = os.fspath(path)
    df = tokenised.df
    rows = df.count()
    df.write.mode(mode).parquet(path)
    manifest = dict(tokenised.manifest)
    manifest["rows"] = {"read": rows, "written": rows}
    tmp = os.path.join(path, f".{MANIFEST_FILE}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    os.replace(tmp, os.path.join(path, MANIFEST_FILE))


def _manifest_of(path: str) -> Dict[str, Any]:
    side = os.path.join(path, MANIFEST_FILE)
    if os.path.isdir(path):
        if not os.path.exists(side):
            raise pseudolink.ManifestError(
                f"{path}: has no {MANIFEST_FILE}; it is not a finished pseudolink extract folder"
            )
        with open(side, encoding="utf-8") as f:
            return json.load(f)
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path).metadata or {}
    raw = meta.get(pseudolink.MANIFEST_KEY.encode())
    if raw is None:
        raise pseudolink.ManifestError(f"{path}: is not a pseudolink extract (it has no manifest)")
    return json.loads(raw)


class Extract:
    """A pseudonymised extract as a DataFrame, with its manifest."""

    def __init__(self, df, manifest: Dict[str, Any], label: str):
        self.df = df
        self.manifest = manifest
        self.label = label


def read_extract(spark, path: PathLike) -> Extract:
    """Reads an extract folder written by :func:`write_extract`, or an extract file written by
    ``pseudolink tokenise``/``rekey``, as a DataFrame with its manifest."""
    path = os.fspath(path)
    manifest = _manifest_of(path)
    return Extract(spark.read.parquet(path), manifest, path)


def _collect_arrow(df) -> pa.Table:
    """A DataFrame's rows as one Arrow table, in partition order."""
    if hasattr(df, "toArrow"):  # PySpark 4
        return df.toArrow()
    return pa.Table.from_batches(df._collect_as_arrow())  # PySpark 3.5


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

    def write(self, path: PathLike, *, mode: str = "errorifexists") -> None:
        """Writes ``clusters`` and ``pairs`` under ``path`` as Parquet folders, and
        ``model.json`` and ``summary.json`` (last) beside them."""
        path = os.fspath(path)
        self.clusters.write.mode(mode).parquet(os.path.join(path, "clusters"))
        self.pairs.write.mode(mode).parquet(os.path.join(path, "pairs"))
        for name, text in (("model.json", self.model.to_json()), ("summary.json", json.dumps(self.summary, indent=2))):
            fd = os.open(os.path.join(path, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)


def link(spark, extracts: Sequence[Union[Extract, PathLike]], **options) -> SparkLinkage:
    """Links pseudonymised extracts (from :func:`read_extract`, or their paths) into persons.

    Accepts :func:`pseudolink.link`'s keyword settings (``config``, ``linkage_key``,
    ``threshold``, ``link_type``, ``model`` …) and refuses what it refuses, with the same
    messages. Only the columns linkage reads are gathered to the driver; pass-through activity
    columns stay in Spark.
    """
    xs = [e if isinstance(e, Extract) else read_extract(spark, e) for e in extracts]
    tables = []
    for x in xs:
        wanted = ["record_id"] + [c["name"] for f in x.manifest["fields"] for c in f["columns"]]
        present = [c for c in wanted if c in x.df.columns]
        table = _collect_arrow(x.df.select(*present))
        # Pass-through activity columns stay in Spark; the copy of the manifest the driver checks
        # the gathered columns against leaves them out accordingly.
        tables.append(_fixed_width_again(table, dict(x.manifest, passthrough=[])))
    result = pseudolink.link(tables, labels=[x.label for x in xs], **options)
    clusters = _to_spark(spark, result.clusters)
    pairs = _to_spark(spark, result.pairs)
    return SparkLinkage(clusters, pairs, result.model, result.summary, result.log)
