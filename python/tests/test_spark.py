"""pseudolink.spark in Spark local[2]: tokenising a DataFrame on the executors and linking
extracts give the command line's tokens and persons.

Needs pyspark and Java 17 (``.ci/run`` installs both); skipped when pyspark is missing, never
when ``PSEUDOLINK_REQUIRE_SPARK`` is set (as in CI).
"""

from __future__ import annotations

import json
import os
import re
import stat

import pyarrow.parquet as pq
import pytest

import pseudolink

if os.environ.get("PSEUDOLINK_REQUIRE_SPARK"):
    import pyspark  # noqa: F401
else:
    pytest.importorskip("pyspark")

from pseudolink import spark as plspark  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    s = (
        SparkSession.builder.master("local[2]")
        .appName("pseudolink-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    yield s
    s.stop()


@pytest.fixture(scope="module")
def population20k(tmp_path_factory, cli):
    from conftest import Population

    return Population(tmp_path_factory.mktemp("population20k"), cli, 20000, 5)


def test_spark_link_gives_the_clis_persons(spark, population20k, fresh):
    p = population20k
    result = plspark.link(spark, p.extracts, linkage_key=p.linked / "linkage.key")
    cli = pq.read_table(p.linked / "clusters.parquet").to_pandas()
    got = result.clusters.toPandas()
    key = ["source", "record_id"]
    merged = cli.merge(got, on=key, suffixes=("_cli", "_spark"))
    assert len(merged) == len(cli) == len(got)
    for c in ("person_id", "link_stage", "best_match_probability", "person_records"):
        assert (merged[c + "_cli"] == merged[c + "_spark"]).all(), c
    # Every record in the command line's order with its row number, though the driver only held
    # distinct rows (a GP's identical encounters grouped on the executors).
    order = ["source", "record_id", "row_number"]
    assert got[order].astype({"row_number": "int64"}).equals(cli[order].astype({"row_number": "int64"}))
    grouped = [line for line in result.log if "distinct rows on the executors" in line]
    records, rows = (int(n.replace(",", "")) for n in re.findall(r"[\d,]+", grouped[0])[:2])
    assert records == len(cli) and rows < 0.8 * records, grouped
    cli_summary = json.loads((p.linked / "summary.json").read_text())
    for k in ("records", "identities", "deterministic", "blocking", "clustering"):
        assert result.summary[k] == cli_summary[k], k
    for k in ("pairs_written", "pairs_below_floor", "match_weight_histogram"):
        assert result.summary["prediction"][k] == cli_summary["prediction"][k], k
    assert result.model.to_json() == pseudolink.Model.load(p.linked / "model.json").to_json()
    # pairs.parquet row for row, in the same order.
    cli_pairs = pq.read_table(p.linked / "pairs.parquet").to_pandas()
    got_pairs = result.pairs.toPandas()
    assert list(got_pairs.columns) == list(cli_pairs.columns)
    assert got_pairs.reset_index(drop=True).equals(cli_pairs.reset_index(drop=True))
    out = fresh / "linked"
    result.write(out)
    assert (out / "summary.json").exists()
    assert spark.read.parquet(str(out / "clusters")).count() == len(cli)
    # Private, and never written over.
    for root, dirs, files in os.walk(out):
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o700, root
        for f in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode) == 0o600, f
    before = (out / "summary.json").read_bytes()
    with pytest.raises(pseudolink.UsageError, match="already exists"):
        result.write(out)
    assert (out / "summary.json").read_bytes() == before


def test_spark_salted_blocking_finds_the_clis_pairs(spark, population):
    # Every block of more than two identities salted into chunks of two: the same candidate
    # pairs, blocking reports, model and persons as the command line's unsalted blocking.
    p = population
    result = plspark.link(spark, p.extracts, linkage_key=p.linked / "linkage.key", salt_block=2)
    cli_summary = json.loads((p.linked / "summary.json").read_text())
    for k in ("blocking", "clustering"):
        assert result.summary[k] == cli_summary[k], k
    assert result.summary["prediction"]["match_weight_histogram"] == cli_summary["prediction"]["match_weight_histogram"]
    assert max(r["largest_block"] for r in cli_summary["blocking"]["rules"]) > 2
    cli_pairs = pq.read_table(p.linked / "pairs.parquet").to_pandas()
    assert result.pairs.toPandas().reset_index(drop=True).equals(cli_pairs.reset_index(drop=True))
    cli = pq.read_table(p.linked / "clusters.parquet").to_pandas()
    merged = cli.merge(result.clusters.toPandas(), on=["source", "record_id"], suffixes=("_cli", "_spark"))
    assert len(merged) == len(cli)
    assert (merged["person_id_cli"] == merged["person_id_spark"]).all()
    with pytest.raises(pseudolink.UsageError, match="salt_block"):
        plspark.link(spark, p.extracts, salt_block=0)


def test_spark_clustering_by_components_gives_the_clis_persons(spark, population):
    # No link gathered on the driver: connected components in Spark SQL, each clustered in one
    # task under the conflict rule, give every record the command line's person and stage.
    p = population
    result = plspark.link(spark, p.extracts, linkage_key=p.linked / "linkage.key", driver_links=0)
    assert any(line.startswith("clustering by components:") for line in result.log), result.log
    cli = pq.read_table(p.linked / "clusters.parquet").to_pandas()
    merged = cli.merge(result.clusters.toPandas(), on=["source", "record_id"], suffixes=("_cli", "_spark"))
    assert len(merged) == len(cli)
    for c in ("person_id", "link_stage", "best_match_probability", "person_records"):
        assert (merged[c + "_cli"] == merged[c + "_spark"]).all(), c
    cli_summary = json.loads((p.linked / "summary.json").read_text())
    for k in ("deterministic", "clustering"):
        assert result.summary[k] == cli_summary[k], k
    assert cli_summary["clustering"]["links_accepted"] > 0 and cli_summary["deterministic"]["links"] > 0
    with pytest.raises(pseudolink.UsageError, match="driver_links"):
        plspark.link(spark, p.extracts, driver_links=-1)


def test_spark_extract_made_in_memory_links_as_its_file(spark, population):
    # An extract whose DataFrame was not read from files (no Parquet row index; here checkpointed
    # in memory, one partition): numbered in its partitions' order, the file's order here.
    p = population
    key = p.linked / "linkage.key"
    files = plspark.link(spark, p.extracts, linkage_key=key)
    xs = [plspark.read_extract(spark, e) for e in p.extracts]
    gp = [i for i, e in enumerate(p.extracts) if e.stem == "gp"][0]
    made = xs[gp].df.coalesce(1).localCheckpoint()
    assert not made.inputFiles()
    xs[gp] = plspark.Extract(made, xs[gp].manifest, xs[gp].label)
    memory = plspark.link(spark, xs, linkage_key=key)
    assert memory.clusters.toPandas().equals(files.clusters.toPandas())


def test_spark_tokenise_gives_the_clis_tokens(spark, population, fresh):
    from test_package import read_source

    s = "gp"
    df = spark.createDataFrame(read_source(population, s).to_pandas()).repartition(3)
    tok = plspark.tokenise(df, population.synth / f"{s}.toml", population.key)
    out = fresh / "gp_spark"
    plspark.write_extract(tok, out)
    x = plspark.read_extract(spark, out)
    assert x.manifest["rows"]["written"] == df.count()
    cli = pq.read_table(population.root / "tokens" / f"{s}.parquet").to_pandas()
    got = x.df.toPandas()
    assert sorted(got.columns) == sorted(cli.columns)
    token = "nhs_number_token"
    a = cli.set_index("record_id")[token].map(lambda b: None if b is None else bytes(b)).sort_index()
    b = got.set_index("record_id")[token].map(lambda b: None if b is None else bytes(b)).sort_index()
    assert a.equals(b)
    # The extract folder links like the command line's file.
    files = [e for e in population.extracts if not e.stem == s] + [out]
    linked = plspark.link(spark, files)
    assert linked.summary["records"]["total"] == sum(pq.read_metadata(e).num_rows for e in population.extracts)


def test_spark_refuses_what_the_cli_refuses(spark, population, fresh, cli):
    other = fresh / "other.key"
    cli("keygen", "--out", other)
    from test_package import read_source

    gp = spark.createDataFrame(read_source(population, "gp").to_pandas())
    tok = plspark.tokenise(gp, population.synth / "gp.toml", other)
    out = fresh / "gp_other"
    plspark.write_extract(tok, out)
    acute = [e for e in population.extracts if e.stem == "acute"][0]
    with pytest.raises(pseudolink.ManifestError, match="key id"):
        plspark.link(spark, [acute, out])
    # A record given twice (the same record id and tokens, which grouping would fold into one
    # row): refused by its row, as the command line refuses it.
    twice = fresh / "acute_twice"
    a = plspark.read_extract(spark, acute)
    a.df.unionByName(a.df.limit(1)).coalesce(1).write.parquet(str(twice))
    gp_extract = [e for e in population.extracts if e.stem == "gp"][0]
    # With the manifest as it was, the row count is refused first, as the command line does.
    (twice / plspark.MANIFEST_FILE).write_text(json.dumps(a.manifest))
    with pytest.raises(pseudolink.ManifestError, match="row count disagrees"):
        plspark.link(spark, [twice, gp_extract])
    rows = dict(a.manifest["rows"], read=a.manifest["rows"]["read"] + 1, written=a.manifest["rows"]["written"] + 1)
    (twice / plspark.MANIFEST_FILE).write_text(json.dumps(dict(a.manifest, rows=rows)))
    with pytest.raises(pseudolink.ManifestError, match=r"^acute twice: row [\d,]+'s record id appears earlier in the extract too"):
        plspark.link(spark, [twice, gp_extract], labels=["acute twice", "gp"])
    # ... and only once the extracts agree with each other (here: another key id).
    with pytest.raises(pseudolink.ManifestError, match="key id"):
        plspark.link(spark, [twice, out])
    # Settings are checked before any work on the records, as the command line checks its flags.
    with pytest.raises(pseudolink.UsageError, match="at least one pseudonymised extract"):
        plspark.link(spark, [])
    with pytest.raises(TypeError, match="threshhold"):
        plspark.link(spark, [twice, gp_extract], threshhold=0.9)
    with pytest.raises(pseudolink.ConfigError, match="2 problem"):
        plspark.link(spark, [twice, gp_extract], threshold=2.0, link_type="bogus")
    with pytest.raises(pseudolink.KeyFileError):
        plspark.link(spark, [twice, gp_extract], linkage_key=population.key)
    with pytest.raises(pseudolink.ManifestError, match="no _pseudolink_manifest.json"):
        os.makedirs(fresh / "empty")
        plspark.read_extract(spark, fresh / "empty")
    # A folder written twice: refused, never half replaced.
    with pytest.raises(pseudolink.UsageError, match="already exists"):
        plspark.write_extract(tok, out)
    # A job failing part-way leaves nothing under the final path, nor any partial folder.
    from pyspark.sql import functions as F

    # One row fails, in a column that keeps its type, so the write starts and then fails.
    first = tok.df.select("record_id").first()[0]
    failing = F.when(F.col("record_id") == first, F.raise_error(F.lit("a task failed"))).otherwise(F.col("record_id"))
    broken = plspark.Tokenised(tok.df.withColumn("record_id", failing), tok.manifest)
    before = sorted(os.listdir(fresh))
    with pytest.raises(Exception):
        plspark.write_extract(broken, fresh / "gp_broken")
    assert sorted(os.listdir(fresh)) == before
    # Columns added to a folder's parts without its manifest knowing: refused as on the command line.
    forged = fresh / "gp_forged"
    plspark.read_extract(spark, out).df.withColumn("surname", F.lit("Zqxcanary")).write.parquet(str(forged))
    (forged / plspark.MANIFEST_FILE).write_text((out / plspark.MANIFEST_FILE).read_text())
    with pytest.raises(pseudolink.ManifestError, match="surname") as e:
        plspark.link(spark, [acute, forged])
    assert "Zqxcanary" not in str(e.value)
    # A column of a type tokenise does not read is refused by name, never cast silently.
    with pytest.raises(pseudolink.InputError, match="has type array"):
        plspark.tokenise(gp.withColumn("Postcode", F.array(F.col("Postcode"))), population.synth / "gp.toml", population.key)
    resistant = 'profile = "resistant"\n' + (population.synth / "gp.toml").read_text()
    with pytest.raises(pseudolink.PseudolinkError):
        plspark.tokenise(gp, key_file=population.key, config_toml=resistant)
