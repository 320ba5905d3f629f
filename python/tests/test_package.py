"""The Python package against the command-line tool: same bytes, same persons, same refusals."""

from __future__ import annotations

import json
import os
import stat
import threading

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import pseudolink


def read_csv_as_text(path, config=None) -> pa.Table:
    """A CSV read as the command-line tool reads one under ``config``'s [input] settings: every
    column text, blanks as empty text."""
    import csv
    import tomllib

    settings = {}
    if config is not None:
        settings = tomllib.loads(open(config, encoding="utf-8").read()).get("input", {})
    encoding = {"utf-8": "utf-8-sig", "windows-1252": "cp1252"}.get(settings.get("encoding", "utf-8"), "utf-8-sig")
    delimiter = settings.get("delimiter", ",")
    with open(path, encoding=encoding, newline="") as f:
        header = next(csv.reader(f, delimiter=delimiter))
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding="cp1252" if encoding == "cp1252" else "utf8"),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False),
    )


def read_source(population, source) -> pa.Table:
    return read_csv_as_text(population.synth / f"{source}.csv", population.synth / f"{source}.toml")


def extract_tables(population):
    return [pseudolink.read_extract(p) for p in population.extracts]


def test_tokenise_writes_the_clis_bytes(population, fresh):
    for s in population.sources:
        table = read_source(population, s)
        out = pseudolink.tokenise(table, population.synth / f"{s}.toml", population.key, label=f"{s}.csv")
        assert out.num_rows == table.num_rows
        quality = json.loads(out.schema.metadata[b"pseudolink.quality"])
        assert quality["rows_written"] == table.num_rows
        path = fresh / f"{s}.parquet"
        pseudolink.write_extract(out, path)
        assert path.read_bytes() == (population.root / "tokens" / f"{s}.parquet").read_bytes(), s
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_tokenised_rows_are_not_in_input_order(population):
    table = read_source(population, "gp")
    out = pseudolink.tokenise(table, population.synth / "gp.toml", population.key)
    manifest = pseudolink.manifest(out)
    assert manifest["source"] == "gp"
    assert manifest["key_id"] == pseudolink.key_id(population.key)
    assert "row_number" not in out.column_names
    # Kept record ids would show the order; the synthetic configs pseudonymise them, so compare
    # where the input's blank NHS numbers are with where the output's `missing` statuses are:
    # the same number of them, at other rows.
    blanks = [i for i, v in enumerate(table.column("NHS Number").to_pylist()) if v.strip() == ""]
    missing = [i for i, v in enumerate(out.column("nhs_number_status").to_pylist()) if v == "missing"]
    assert len(blanks) == len(missing) > 0
    assert blanks != missing

def test_link_gives_the_clis_persons(population):
    key = population.linked / "linkage.key"
    result = pseudolink.link(extract_tables(population), labels=[str(p) for p in population.extracts], linkage_key=key)
    cli_clusters = pq.read_table(population.linked / "clusters.parquet")
    cli_pairs = pq.read_table(population.linked / "pairs.parquet")
    assert result.clusters.equals(cli_clusters)
    assert result.pairs.equals(cli_pairs)
    cli_model = pseudolink.Model.load(population.linked / "model.json")
    assert result.model.to_json() == cli_model.to_json()
    cli_summary = json.loads((population.linked / "summary.json").read_text())
    for k in ("records", "identities", "deterministic", "blocking", "clustering", "prediction"):
        assert result.summary[k] == cli_summary[k], k


def test_link_with_a_given_model_skips_training_and_agrees(population, fresh):
    tables = extract_tables(population)
    first = pseudolink.link(tables, linkage_key=fresh / "linkage.key")
    path = fresh / "model.json"
    first.model.save(path)
    with pytest.raises(FileExistsError):
        first.model.save(path)
    again = pseudolink.link(tables, model=pseudolink.Model.load(path), linkage_key=fresh / "linkage.key")
    assert again.summary["training"]["trained"] is False
    assert again.clusters.column("person_id").equals(first.clusters.column("person_id"))
    levels = first.model.levels()
    assert set(levels.column_names) >= {"comparison", "level", "m", "u", "match_weight"}
    assert "nhs_number" in levels.column("comparison").to_pylist()


def test_without_a_linkage_key_person_ids_differ_between_runs(population):
    tables = extract_tables(population)
    a = pseudolink.link(tables)
    b = pseudolink.link(tables)
    assert a.summary["clustering"]["persons"] == b.summary["clustering"]["persons"]
    assert a.clusters.column("person_id") != b.clusters.column("person_id")


def test_evaluate_against_truth(population):
    result = pseudolink.link(extract_tables(population))
    truth = read_csv_as_text(population.synth / "truth.csv")
    e = pseudolink.evaluate(result.clusters, truth)
    assert e["records"] == result.clusters.num_rows
    assert e["f1"] > 0.98, e
    with pytest.raises(pseudolink.UsageError, match="no person in the truth"):
        pseudolink.evaluate(result.clusters, truth.slice(0, 10))


def test_link_releases_the_gil(population):
    tables = extract_tables(population)
    ticks = [0]
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=tick)
    t.start()
    try:
        before = ticks[0]
        pseudolink.link(tables)
        during = ticks[0] - before
    finally:
        stop.set()
        t.join()
    # Holding the GIL for the whole call would leave the other thread a handful of switches.
    assert during > 10_000, during


# Refusals: the command line's messages, as exceptions, never quoting a value.


def test_mixed_keys_are_refused(population, fresh, cli):
    other = fresh / "other.key"
    cli("keygen", "--out", other)
    table = read_source(population, "gp")
    gp_other = pseudolink.tokenise(table, population.synth / "gp.toml", other)
    acute = pseudolink.read_extract(population.extracts[population.sources.index("acute")])
    with pytest.raises(pseudolink.ManifestError, match="key id") as e:
        pseudolink.link([acute, gp_other], labels=["acute", "gp"])
    assert "tokens under different keys never agree" in str(e.value)


def test_a_table_without_a_manifest_is_refused(population):
    acute = pseudolink.read_extract(population.extracts[0]).replace_schema_metadata({})
    with pytest.raises(pseudolink.ManifestError, match="not a pseudolink extract"):
        pseudolink.link([acute])


def test_rows_added_after_tokenising_are_refused(population):
    acute = pseudolink.read_extract(population.extracts[0])
    doubled = pa.concat_tables([acute, acute.slice(0, 1)])
    with pytest.raises(pseudolink.ManifestError, match="row count"):
        pseudolink.link([doubled])


def test_a_forged_role_is_refused(population):
    acute = pseudolink.read_extract(population.extracts[0])
    manifest = pseudolink.manifest(acute)
    dob = [f for f in manifest["fields"] if f["type"] == "date_of_birth"][0]
    nhs = [f for f in manifest["fields"] if f["type"] == "nhs_number"][0]
    nhs["columns"][0]["purpose"] = dob["columns"][0]["purpose"]
    meta = dict(acute.schema.metadata)
    meta[pseudolink.MANIFEST_KEY.encode()] = json.dumps(manifest).encode()
    with pytest.raises(pseudolink.ManifestError):
        pseudolink.link([acute.replace_schema_metadata(meta)])


def test_config_problems_are_listed_together(population):
    table = read_source(population, "gp")
    bad = 'source = "gp"\n[record_id]\ncolumn = "no_such_column"\n[[field]]\ncolumn = "also_missing"\ntype = "family_name"\n'
    with pytest.raises(pseudolink.ConfigError) as e:
        pseudolink.tokenise(table, key_file=population.key, config_toml=bad)
    message = str(e.value)
    assert "no_such_column" in message and "also_missing" in message
    with pytest.raises(pseudolink.ConfigError, match="line"):
        pseudolink.tokenise(table, key_file=population.key, config_toml=bad.replace("family_name", "nickname"))


def test_a_headerless_table_never_shows_a_value(population):
    table = read_source(population, "gp")
    first = table.slice(0, 1).to_pylist()[0]
    # The first data row taken as the header, as a header-less CSV is read.
    headerless = pa.table({str(v): table.column(i) for i, v in enumerate(first.values())})
    with pytest.raises(pseudolink.PseudolinkError) as e:
        pseudolink.tokenise(headerless, population.synth / "gp.toml", population.key)
    for value in first.values():
        if len(str(value)) >= 4:
            assert str(value) not in str(e.value)


def test_a_key_file_others_can_read_is_refused(population, fresh):
    key = fresh / "loose.key"
    key.write_bytes(population.key.read_bytes())
    os.chmod(key, 0o644)
    table = read_source(population, "gp")
    with pytest.raises(pseudolink.KeyFileError):
        pseudolink.tokenise(table, population.synth / "gp.toml", key)


def test_a_linkage_key_is_not_a_project_key(population):
    with pytest.raises(pseudolink.KeyFileError):
        pseudolink.link(extract_tables(population), linkage_key=population.key)


def test_bad_arguments_are_refused_by_the_configs_rules(population):
    with pytest.raises(pseudolink.ConfigError, match="threshold"):
        pseudolink.link(extract_tables(population), threshold=1.5)
    with pytest.raises(pseudolink.ConfigError, match="link_type"):
        pseudolink.link(extract_tables(population), link_type="sideways")


def test_write_extract_never_replaces_a_file(population, fresh):
    table = pseudolink.read_extract(population.extracts[0])
    path = fresh / "x.parquet"
    path.write_text("precious")
    with pytest.raises(pseudolink.PseudolinkError):
        pseudolink.write_extract(table, path)
    assert path.read_text() == "precious"


def test_errors_pickle_and_models_are_private(population, fresh):
    import pickle

    e = pickle.loads(pickle.dumps(pseudolink.ManifestError("m")))
    assert isinstance(e, pseudolink.ManifestError) and str(e) == "m"
    model = pseudolink.link(extract_tables(population)).model
    model.save(fresh / "model.json")
    assert stat.S_IMODE(os.stat(fresh / "model.json").st_mode) == 0o600
    with pytest.raises(pseudolink.UsageError, match="give the tokenise config"):
        pseudolink.tokenise(read_source(population, "gp"), None, population.key)
    with pytest.raises(pseudolink.FileError, match="is a folder"):
        pseudolink.read_extract(fresh)
