"""pseudolink: pseudonymised record linkage of NHS health and care data, on pyarrow tables.

The same Rust kernels as the ``pseudolink`` command-line tool, called on pyarrow tables, with
the GIL released while they run::

    import pyarrow.parquet as pq
    import pseudolink

    # At a provider: a plaintext extract in, a pseudonymised table out (the key stays here).
    gp = pseudolink.tokenise(pq.read_table("gp.parquet"), config="gp.toml", key_file="project.key")
    pseudolink.write_extract(gp, "gp.tokens.parquet")

    # In the TRE: pseudonymised extracts in, persons out.
    result = pseudolink.link([pq.read_table(p) for p in ["gp.tokens.parquet", "acute.tokens.parquet"]],
                             linkage_key="linkage.key")
    result.clusters            # pyarrow.Table: every record with its person id
    result.pairs               # pyarrow.Table: scored candidate pairs
    result.model.levels()      # pyarrow.Table: m, u and match weight per comparison level

Errors are :class:`PseudolinkError` subclasses with the command-line tool's messages: they name
the file or table, row and column, and never quote a value. ``pseudolink.spark`` runs tokenising
and linkage on Apache Spark with the same kernels.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import pyarrow as pa

from . import _native
from ._native import (
    CheckError,
    ConfigError,
    FileError,
    InputError,
    KeyFileError,
    ManifestError,
    OutputError,
    PseudolinkError,
    UsageError,
)

__version__: str = _native.__version__

#: The schema-metadata key under which a pseudonymised table carries its manifest.
MANIFEST_KEY: str = _native.MANIFEST_KEY

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "tokenise",
    "write_extract",
    "read_extract",
    "manifest",
    "link",
    "Linkage",
    "Model",
    "evaluate",
    "key_id",
    "PseudolinkError",
    "ConfigError",
    "UsageError",
    "KeyFileError",
    "InputError",
    "ManifestError",
    "CheckError",
    "OutputError",
    "FileError",
    "MANIFEST_KEY",
    "__version__",
]


def _path(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fspath(p)


def _table(t: Any, what: str) -> pa.Table:
    if isinstance(t, pa.Table):
        return t
    if isinstance(t, pa.RecordBatch):
        return pa.Table.from_batches([t])
    raise UsageError(f"{what} must be a pyarrow.Table or pyarrow.RecordBatch, not {type(t).__name__}")


def tokenise(
    table: Union[pa.Table, pa.RecordBatch],
    config: Optional[PathLike] = None,
    key_file: Optional[PathLike] = None,
    *,
    config_toml: Optional[str] = None,
    label: str = "table",
) -> pa.Table:
    """Tokenises a provider's plaintext extract, as ``pseudolink tokenise`` does.

    ``config`` is a tokenise config file (docs/config.md), or give its text as ``config_toml``;
    ``key_file`` is the project key file (0600, owned by you). Every column is read as text, as
    from a CSV; read files with string columns (``pyarrow.csv.read_csv`` with
    ``column_types``) where leading zeros matter.

    Returns the pseudonymised table: rows in a keyed pseudo-random order, no input row numbers,
    only allow-listed activity columns, and the manifest in the schema's metadata. Write it with
    :func:`write_extract`. The data-quality report is in ``table.schema.metadata`` under
    ``b"pseudolink.quality"`` (counts only, never a value).

    Raises :class:`ConfigError`, :class:`KeyFileError` or :class:`InputError` with the command
    line's messages (``label`` names the table in them).
    """
    if key_file is None:
        raise UsageError("give the project key file (`key_file`)")
    out, report = _native.tokenise(
        _table(table, "table"),
        _path(key_file),
        config=_path(config),
        config_toml=config_toml,
        label=label,
    )
    meta = dict(out.schema.metadata or {})
    meta[b"pseudolink.quality"] = report.encode()
    return out.replace_schema_metadata(meta)


def write_extract(table: pa.Table, path: PathLike) -> None:
    """Writes a pseudonymised table as an extract file, byte for byte as ``pseudolink tokenise``
    writes one: manifest checked and in the footer, column statistics off, written under a
    temporary name and renamed into place, private (0600). An existing file is never replaced.
    """
    meta = dict(table.schema.metadata or {})
    meta.pop(b"pseudolink.quality", None)
    _native.write_extract(_table(table, "table").replace_schema_metadata(meta), _path(path))


def read_extract(path: PathLike) -> pa.Table:
    """Reads a pseudonymised extract file into a table (the manifest stays in its schema
    metadata), checking its manifest as ``pseudolink link`` does."""
    import pyarrow.parquet as pq

    path = os.fspath(path)
    if not os.path.isfile(path):
        what = "is a folder (a Spark extract folder is read with pseudolink.spark.read_extract)" if os.path.isdir(
            path) else "does not exist"
        raise FileError(f"{path}: {what}")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError):
        raise ManifestError(f"{path}: is not a readable Parquet file (it may be truncated or damaged)") from None
    # The manifest is in the file's footer; pyarrow shows only the Arrow schema's own metadata.
    footer = pq.read_metadata(path).metadata or {}
    key = MANIFEST_KEY.encode()
    if key in footer:
        meta = dict(table.schema.metadata or {})
        meta[key] = footer[key]
        table = table.replace_schema_metadata(meta)
    manifest(table, label=path)
    return table


def manifest(table: pa.Table, label: str = "table") -> Dict[str, Any]:
    """The checked manifest of a pseudonymised table, as a dict (see docs/output-schema.md)."""
    return json.loads(_native.manifest_of(_table(table, "table"), label))


def key_id(key_file: PathLike) -> str:
    """The public key id of a key file (never the key itself)."""
    return _native.key_id(_path(key_file))


class Model:
    """A trained Fellegi–Sunter model: comparisons and levels by name, m, u, the prior, the
    blocking rules, link type and key id (the format of ``model.json``)."""

    def __init__(self, json_text: str):
        self._json = _native.model_normalise(json_text)

    @classmethod
    def load(cls, path: PathLike) -> "Model":
        """Reads a ``model.json`` (from ``pseudolink link`` or :meth:`save`)."""
        with open(os.fspath(path), encoding="utf-8") as f:
            return cls(f.read())

    def save(self, path: PathLike) -> None:
        """Writes the model as ``model.json``, private to you (0600); refuses to replace an
        existing file."""
        fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self._json)

    def to_json(self) -> str:
        """The model's JSON."""
        return self._json

    def to_dict(self) -> Dict[str, Any]:
        """The model as a dict."""
        return json.loads(self._json)

    @property
    def prior(self) -> float:
        """λ: the prior probability that a candidate pair is a match."""
        return float(self.to_dict()["prior"])

    def levels(self) -> pa.Table:
        """One row per comparison level: comparison, level, m, u, match weight (log2 m/u) and
        whether term-frequency adjustment applies — the data of Splink's match-weights chart."""
        rows = _native.model_levels(self._json)
        names = ["comparison", "level", "m", "u", "match_weight", "term_frequency"]
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})

    def __repr__(self) -> str:
        d = self.to_dict()
        return f"Model(prior={d['prior']:.3g}, comparisons={[c['name'] for c in d['comparisons']]})"


@dataclass
class Linkage:
    """The result of :func:`link`: the tables and files ``pseudolink link`` writes."""

    #: Every input record once: source, record_id, row_number, person_id, person_records,
    #: link_stage, best_match_probability.
    clusters: pa.Table
    #: Scored candidate pairs at or above the pairs floor (all with ``all_pairs=True``).
    pairs: pa.Table
    #: The model used (trained, or the one given).
    model: Model
    #: ``summary.json``: a section per stage (``records``, ``identities``, ``deterministic``,
    #: ``blocking``, ``training``, ``prediction``, ``clustering``) and ``timings``.
    summary: Dict[str, Any]
    #: Progress and warning lines, as the command line prints them.
    log: List[str] = field(default_factory=list)


def link(
    tables: Sequence[Union[pa.Table, pa.RecordBatch]],
    *,
    labels: Optional[Sequence[str]] = None,
    config: Optional[PathLike] = None,
    config_toml: Optional[str] = None,
    model: Optional[Model] = None,
    linkage_key: Optional[PathLike] = None,
    threshold: Optional[float] = None,
    link_type: Optional[str] = None,
    seed: Optional[int] = None,
    max_block: Optional[int] = None,
    max_pairs: Optional[int] = None,
    all_pairs: bool = False,
) -> Linkage:
    """Links pseudonymised tables into persons, as ``pseudolink link`` does.

    ``tables`` are pseudonymised extracts (from :func:`tokenise`, or extract files read with
    :func:`read_extract`, which keeps the manifest), all under one project key.
    ``labels`` name them in messages (default ``table 1``, ``table 2`` …). ``config`` (a file) or
    ``config_toml`` is a link config (docs/linkage.md); the keyword settings override it and are
    checked by the same rules. ``model`` skips training.

    ``linkage_key`` is the file of the key that person ids are keyed by: made there (0600) if it
    does not exist, reused if it does, so that ids stay stable across runs. Without it a fresh
    key is used and person ids differ on every run.

    Warnings the command line prints are raised as :class:`UserWarning` and kept in
    ``Linkage.log``.
    """
    ts = [_table(t, f"table {i + 1}") for i, t in enumerate(tables)]
    names = list(labels) if labels is not None else [f"table {i + 1}" for i in range(len(ts))]
    clusters, pairs, model_json, summary, log = _native.link(
        ts,
        names,
        config=_path(config),
        config_toml=config_toml,
        model_json=None if model is None else model.to_json(),
        linkage_key=_path(linkage_key),
        threshold=threshold,
        link_type=link_type,
        seed=seed,
        max_block=max_block,
        max_pairs=max_pairs,
        all_pairs=all_pairs,
    )
    for line in log:
        if line.startswith("warning:"):
            warnings.warn(line[len("warning:") :].strip(), UserWarning, stacklevel=2)
    return Linkage(clusters, pairs, Model(model_json), json.loads(summary), list(log))


def evaluate(clusters: pa.Table, truth: pa.Table) -> Dict[str, Any]:
    """Pairwise precision, recall and F1, and cluster accuracy, of ``clusters`` (from
    :func:`link`) against ``truth`` (columns source, record_id, person_id, as ``pseudolink
    synth`` writes ``truth.csv``). Every clustered record must be in the truth."""
    return json.loads(_native.evaluate(_table(clusters, "clusters"), _table(truth, "truth")))
