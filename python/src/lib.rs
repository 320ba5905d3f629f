//! `pseudolink._native`: the Rust kernels of pseudolink on pyarrow tables.
//!
//! Tables cross between Python and Rust through the Arrow C Data Interface (no copy). Every
//! kernel runs with the GIL released. Errors become Python exceptions carrying the library's own
//! messages, which name the file or table, row and column and never a value. The Python package
//! (`python/pseudolink/__init__.py`) wraps these functions with docstrings and defaults; they are
//! not meant to be called directly.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_pyarrow::{PyArrowType, Table};
use arrow_schema::{DataType, Field, Schema};
use pseudolink::config::TokeniseConfig;
use pseudolink::io::manifest::{MANIFEST_KEY, Manifest};
use pseudolink::link::config::LinkConfig;
use pseudolink::link::data::{ArrowExtract, Records};
use pseudolink::link::model::Model;
use pseudolink::link::{link_records, output};
use pseudolink::token::key::KeyRole;
use pseudolink::{ErrorKind, ProjectKey};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    pseudolink,
    PseudolinkError,
    PyException,
    "A pseudolink error: the message says what, where and what to do, never a value."
);
create_exception!(
    pseudolink,
    ConfigError,
    PseudolinkError,
    "A config (tokenise or link) has problems; all are listed."
);
create_exception!(pseudolink, UsageError, PseudolinkError, "A call asked for something that cannot be done.");
create_exception!(
    pseudolink,
    KeyFileError,
    PseudolinkError,
    "A key file is missing, malformed, not private or of the wrong kind."
);
create_exception!(
    pseudolink,
    InputError,
    PseudolinkError,
    "An input has a structural problem at a known row and column."
);
create_exception!(
    pseudolink,
    ManifestError,
    PseudolinkError,
    "A pseudonymised extract is not one pseudolink can link (its manifest)."
);
create_exception!(pseudolink, CheckError, PseudolinkError, "A check the call was asked to make did not pass.");
create_exception!(pseudolink, OutputError, PseudolinkError, "An output could not be written.");
create_exception!(pseudolink, FileError, PseudolinkError, "A file could not be read, written, created or renamed.");

/// The library's error as the matching Python exception, with its message.
fn py_err(e: pseudolink::Error) -> PyErr {
    let m = e.to_string();
    match e.kind() {
        ErrorKind::Config { .. } | ErrorKind::ConfigMismatch { .. } => ConfigError::new_err(m),
        ErrorKind::Usage(_) => UsageError::new_err(m),
        ErrorKind::Key { .. } => KeyFileError::new_err(m),
        ErrorKind::Input { .. } => InputError::new_err(m),
        ErrorKind::Manifest { .. } => ManifestError::new_err(m),
        ErrorKind::Check(_) => CheckError::new_err(m),
        ErrorKind::Output { .. } => OutputError::new_err(m),
        ErrorKind::Io { .. } => FileError::new_err(m),
        _ => PseudolinkError::new_err(m),
    }
}

/// The name of the keyed-order column `tokenise(..., with_order=True)` adds.
const ORDER_COLUMN: &str = "__pseudolink_order";

fn tokenise_config(path: Option<PathBuf>, text: Option<String>) -> PyResult<TokeniseConfig> {
    match (path, text) {
        (Some(p), None) => TokeniseConfig::read(&p).map_err(py_err),
        (None, Some(t)) => TokeniseConfig::from_toml_str(&t, Path::new("config")).map_err(py_err),
        _ => Err(UsageError::new_err(
            "give the tokenise config as a file (`config`) or as TOML text (`config_toml`), not both",
        )),
    }
}

/// Tokenises one table. Returns the pseudonymised table (keyed row order, manifest in the schema
/// metadata) and the quality report's JSON. With `with_order`, the keyed sort key is added as an
/// int64 column (order-preserving) so a job tokenising in parts can sort the union and drop it.
#[pyfunction]
#[pyo3(signature = (table, key_file, config=None, config_toml=None, label="table".to_string(), with_order=false))]
fn tokenise(
    py: Python<'_>,
    table: PyArrowType<Table>,
    key_file: PathBuf,
    config: Option<PathBuf>,
    config_toml: Option<String>,
    label: String,
    with_order: bool,
) -> PyResult<(PyArrowType<Table>, String)> {
    let config = tokenise_config(config, config_toml)?;
    let key = ProjectKey::read_file(&key_file).map_err(py_err)?;
    let (batches, schema) = table.0.into_inner();
    let done = py
        .detach(|| pseudolink::tokenise::tokenise_arrow(&config, &key, Path::new(&label), schema, batches))
        .map_err(py_err)?;
    let mut batch = done.batch;
    if with_order {
        // u64 → i64 keeping order: flip the top bit.
        let order: ArrayRef =
            Arc::new(Int64Array::from_iter_values(done.order.iter().map(|&o| (o ^ (1 << 63)) as i64)));
        let schema = batch.schema();
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(ORDER_COLUMN, DataType::Int64, false));
        let mut columns = batch.columns().to_vec();
        columns.push(order);
        let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        batch = RecordBatch::try_new(schema, columns).map_err(|e| OutputError::new_err(e.to_string()))?;
    }
    let schema = batch.schema();
    let table = Table::try_new(vec![batch], schema).map_err(|e| OutputError::new_err(e.to_string()))?;
    Ok((PyArrowType(table), done.report.to_json()))
}

/// Writes a pseudonymised table as an extract file exactly as `pseudolink tokenise` writes one:
/// its manifest checked against its columns and put in the footer, statistics off, written under
/// a temporary name and renamed into place, private (0600).
#[pyfunction]
fn write_extract(py: Python<'_>, table: PyArrowType<Table>, path: PathBuf) -> PyResult<()> {
    let (batches, schema) = table.0.into_inner();
    py.detach(|| -> pseudolink::Result<()> {
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        let manifest = Manifest::from_schema(&path, &schema, rows)?;
        // `symlink_metadata`: a dangling symlink at the path is something there too.
        if path.symlink_metadata().is_ok() {
            return Err(pseudolink::Error::from(ErrorKind::Usage(format!(
                "{}: already exists; write_extract never replaces a file. Remove it or choose another path",
                path.display()
            ))));
        }
        pseudolink::io::outputs::check(&[&path], &[])?;
        // The file's schema: the columns as tokenise declares them, without pyarrow's metadata.
        let fields: Vec<Field> =
            schema.fields().iter().map(|f| Field::new(f.name(), f.data_type().clone(), f.is_nullable())).collect();
        let target = Arc::new(Schema::new(fields));
        let mut out = pseudolink::io::parquet::ParquetOut::create(&path, target.clone())?;
        for b in &batches {
            let b = RecordBatch::try_new(target.clone(), b.columns().to_vec()).map_err(|e| {
                pseudolink::Error::from(ErrorKind::Output { path: path.clone(), problem: e.to_string() })
            })?;
            out.write(&b)?;
        }
        out.append_metadata(MANIFEST_KEY, manifest.to_json());
        out.commit()
    })
    .map_err(py_err)
}

/// The settings a call may give over a link config's.
struct Overrides {
    threshold: Option<f64>,
    link_type: Option<String>,
    seed: Option<u64>,
    max_block: Option<usize>,
    max_pairs: Option<u64>,
    all_pairs: bool,
}

/// The link config given as a file or as TOML text, if any.
fn link_config(config: Option<PathBuf>, config_toml: Option<String>) -> PyResult<Option<LinkConfig>> {
    Ok(match (config, config_toml) {
        (Some(p), None) => Some(LinkConfig::read(&p).map_err(py_err)?),
        (None, Some(t)) => Some(LinkConfig::from_toml_str(&t, Path::new("link config")).map_err(py_err)?),
        (None, None) => None,
        _ => return Err(UsageError::new_err("give the link config as a file or as TOML text, not both")),
    })
}

/// A linkage's options from its link config and the call's settings, checked together.
fn link_options(
    config: Option<PathBuf>,
    config_toml: Option<String>,
    o: Overrides,
) -> PyResult<pseudolink::link::LinkOptions> {
    let file = link_config(config, config_toml)?;
    let overrides = LinkConfig {
        threshold: o.threshold,
        seed: o.seed,
        max_block: o.max_block,
        max_pairs: o.max_pairs,
        link_type: o.link_type,
        pairs_floor: o.all_pairs.then_some(0.0),
        ..Default::default()
    };
    LinkConfig::options(file.as_ref(), &overrides)
        .map_err(|p| ConfigError::new_err(format!("{} problem(s) in the arguments: {}", p.len(), p.join("; "))))
}

/// A linkage's options, linkage key and extracts from a call's arguments, checked as the command
/// line checks its flags and files.
fn link_inputs(
    tables: Vec<PyArrowType<Table>>,
    labels: Vec<String>,
    config: Option<PathBuf>,
    config_toml: Option<String>,
    model_json: Option<String>,
    linkage_key: Option<PathBuf>,
    o: Overrides,
) -> PyResult<(pseudolink::link::LinkOptions, ProjectKey, Vec<ArrowExtract>)> {
    if tables.len() != labels.len() {
        return Err(UsageError::new_err("give one label per table"));
    }
    let mut options = link_options(config, config_toml, o)?;
    if let Some(json) = model_json {
        options.model = Some(Model::from_json(&json).map_err(|m| UsageError::new_err(format!("model: {m}")))?);
    }
    // The linkage key first: a wrong file is refused before the linkage runs.
    let key = match &linkage_key {
        Some(p) if p.exists() => ProjectKey::read_file_as(p, KeyRole::Linkage).map_err(py_err)?,
        Some(p) => {
            let key = ProjectKey::generate().map_err(py_err)?;
            key.write_new_file_as(p, KeyRole::Linkage).map_err(py_err)?;
            key
        }
        None => ProjectKey::generate().map_err(py_err)?,
    };
    let extracts: Vec<ArrowExtract> = tables
        .into_iter()
        .zip(labels)
        .map(|(t, label)| {
            let (batches, schema) = t.0.into_inner();
            ArrowExtract { label: PathBuf::from(label), schema, batches, grouped: None }
        })
        .collect();
    Ok((options, key, extracts))
}

/// What `link` returns: clusters, pairs, the model's JSON, the summary's JSON and the log lines.
type LinkResult = (PyArrowType<Table>, PyArrowType<Table>, String, String, Vec<String>);

/// One model level: comparison, level, m, u, match weight, term-frequency adjusted.
type LevelRow = (String, String, f64, f64, f64, bool);

/// Links pseudonymised tables. Returns (clusters, pairs, model JSON, summary JSON, log lines).
#[pyfunction]
#[pyo3(signature = (tables, labels, config=None, config_toml=None, model_json=None, linkage_key=None,
    threshold=None, link_type=None, seed=None, max_block=None, max_pairs=None, all_pairs=false))]
#[allow(clippy::too_many_arguments)]
fn link(
    py: Python<'_>,
    tables: Vec<PyArrowType<Table>>,
    labels: Vec<String>,
    config: Option<PathBuf>,
    config_toml: Option<String>,
    model_json: Option<String>,
    linkage_key: Option<PathBuf>,
    threshold: Option<f64>,
    link_type: Option<String>,
    seed: Option<u64>,
    max_block: Option<usize>,
    max_pairs: Option<u64>,
    all_pairs: bool,
) -> PyResult<LinkResult> {
    let (options, key, extracts) = link_inputs(
        tables,
        labels,
        config,
        config_toml,
        model_json,
        linkage_key,
        Overrides { threshold, link_type, seed, max_block, max_pairs, all_pairs },
    )?;
    let lines = Mutex::new(Vec::new());
    let result = py.detach(|| -> pseudolink::Result<_> {
        let t = std::time::Instant::now();
        let records = Records::from_arrow(&extracts)?;
        drop(extracts);
        let log = |s: &str| lines.lock().map(|mut l| l.push(s.to_string())).unwrap_or(());
        let l = link_records(records, t.elapsed().as_secs_f64(), &options, &log)?;
        let clusters = output::clusters_batches(&l, &key);
        let pairs = output::pairs_batches(&l);
        let summary = serde_json::to_string_pretty(&l.summary).unwrap_or_default();
        Ok((clusters, pairs, l.model.to_json(), summary))
    });
    let (clusters, pairs, model, summary) = result.map_err(py_err)?;
    let table = |batches: Vec<RecordBatch>| -> PyResult<PyArrowType<Table>> {
        let schema = batches[0].schema();
        Table::try_new(batches, schema).map(PyArrowType).map_err(|e| OutputError::new_err(e.to_string()))
    };
    let log = lines.into_inner().unwrap_or_default();
    Ok((table(clusters)?, table(pairs)?, model, summary, log))
}

/// A text column of `table` by name, as one string array.
fn text_column(table: &Table, name: &str, what: &str) -> PyResult<Vec<StringArray>> {
    let mut out = Vec::new();
    for b in table.record_batches() {
        let c = b.column_by_name(name).ok_or_else(|| UsageError::new_err(format!("{what} has no `{name}` column")))?;
        let c = arrow_cast::cast(c, &DataType::Utf8)
            .map_err(|_| UsageError::new_err(format!("{what}'s `{name}` column could not be read as text")))?;
        let c = c
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned()
            .ok_or_else(|| UsageError::new_err(format!("{what}'s `{name}` column could not be read as text")))?;
        out.push(c);
    }
    Ok(out)
}

fn flat(arrays: &[StringArray]) -> Vec<Option<&str>> {
    arrays.iter().flat_map(|a| (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i)))).collect()
}

/// Pairwise and cluster accuracy of `clusters` (source, record_id, person_id) against `truth`
/// (the same three columns, as `pseudolink synth` writes). Returns the evaluation's JSON.
#[pyfunction]
fn evaluate(py: Python<'_>, clusters: PyArrowType<Table>, truth: PyArrowType<Table>) -> PyResult<String> {
    let (c, t) = (clusters.0, truth.0);
    let cols = |t: &Table, what: &str| -> PyResult<[Vec<StringArray>; 3]> {
        Ok([text_column(t, "source", what)?, text_column(t, "record_id", what)?, text_column(t, "person_id", what)?])
    };
    let [cs, ci, cp] = cols(&c, "the clusters table")?;
    let [ts, ti, tp] = cols(&t, "the truth table")?;
    py.detach(|| {
        let mut truth = std::collections::HashMap::new();
        for ((s, i), p) in flat(&ts).into_iter().zip(flat(&ti)).zip(flat(&tp)) {
            if let (Some(s), Some(i), Some(p)) = (s, i, p) {
                truth.insert((s, i), p);
            }
        }
        let mut rows = Vec::new();
        for (k, ((s, i), p)) in flat(&cs).into_iter().zip(flat(&ci)).zip(flat(&cp)).enumerate() {
            let t = match (s, i) {
                (Some(s), Some(i)) => truth.get(&(s, i)).copied(),
                _ => None,
            };
            match (p, t) {
                (Some(p), Some(t)) => rows.push((p, t)),
                _ => {
                    return Err(UsageError::new_err(format!(
                        "clusters row {} has no person in the truth table (by source and record id); evaluate a \
                         linkage against the truth of the same population",
                        k + 1
                    )));
                }
            }
        }
        let e = pseudolink::link::evaluate::evaluate_labels(rows.into_iter());
        Ok(serde_json::to_string_pretty(&e).unwrap_or_default())
    })
}

/// Checks a model's JSON and returns it re-serialised (format as `pseudolink link` writes it).
#[pyfunction]
fn model_normalise(json: &str) -> PyResult<String> {
    Model::from_json(json).map(|m| m.to_json()).map_err(|m| UsageError::new_err(format!("model: {m}")))
}

/// A model's levels as rows: (comparison, level, m, u, match weight, term-frequency adjusted).
#[pyfunction]
fn model_levels(json: &str) -> PyResult<Vec<LevelRow>> {
    let m = Model::from_json(json).map_err(|m| UsageError::new_err(format!("model: {m}")))?;
    let mut rows = Vec::new();
    for c in &m.comparisons {
        for l in c.levels.iter().skip(1) {
            rows.push((c.name.clone(), l.label.clone(), l.m, l.u, l.weight(), l.term_frequency));
        }
    }
    Ok(rows)
}

/// The key id of a key file (public; never the key).
#[pyfunction]
fn key_id(key_file: PathBuf) -> PyResult<String> {
    ProjectKey::read_file(&key_file).map(|k| k.id().to_string()).map_err(py_err)
}

/// The manifest JSON of an extract file or of a table's schema metadata, checked against the
/// table's columns and against `rows` records (the table's rows unless given: a Spark job
/// counts them where they are).
#[pyfunction]
#[pyo3(signature = (table, label, rows=None))]
fn manifest_of(table: PyArrowType<Table>, label: String, rows: Option<u64>) -> PyResult<String> {
    let t = table.0;
    let rows = rows.unwrap_or_else(|| t.record_batches().iter().map(|b| b.num_rows() as u64).sum());
    Manifest::from_schema(Path::new(&label), &t.schema(), rows).map(|m| m.to_json()).map_err(py_err)
}

/// Checks extracts' manifests against each other (`Records::check_together`: none empty, one
/// key id, one profile, one set of Bloom settings, each source once), each given as the JSON
/// [`manifest_of`] returned, before a Spark job works on their records.
#[pyfunction]
fn check_together(manifests: Vec<String>, labels: Vec<String>) -> PyResult<()> {
    if manifests.is_empty() || manifests.len() != labels.len() {
        return Err(UsageError::new_err("give at least one pseudonymised extract to link, with one label each"));
    }
    let files: Vec<PathBuf> = labels.iter().map(PathBuf::from).collect();
    let manifests: Vec<Manifest> = manifests
        .iter()
        .zip(&files)
        .map(|(m, f)| Manifest::from_json(m).map_err(|p| ManifestError::new_err(format!("{}: {p}", f.display()))))
        .collect::<PyResult<_>>()?;
    Records::check_together(&files, &manifests).map_err(py_err)
}

/// A linkage run whose record-level stages run here (a Spark job's driver) and whose pair-level
/// stages run elsewhere with [`PairKernel`]: prepared on creation, then trained from pattern
/// counts, then finished from the pairs at or above the threshold and statistics of all pairs.
#[pyclass(module = "pseudolink._native")]
struct LinkSession {
    run: Option<pseudolink::link::pipeline::Prepared>,
    options: pseudolink::link::LinkOptions,
    key: ProjectKey,
    trained: Option<pseudolink::link::pipeline::Trained>,
    tf: Option<pseudolink::link::term_frequency::TermFrequencies>,
    nhs: Option<pseudolink::link::pipeline::NhsLinked>,
    log: Arc<Mutex<Vec<String>>>,
}

impl LinkSession {
    fn run(&self) -> PyResult<&pseudolink::link::pipeline::Prepared> {
        self.run.as_ref().ok_or_else(|| UsageError::new_err("this linkage session is finished"))
    }
}

#[pymethods]
impl LinkSession {
    #[new]
    #[pyo3(signature = (tables, labels, config=None, config_toml=None, model_json=None, linkage_key=None,
        threshold=None, link_type=None, seed=None, max_block=None, max_pairs=None, all_pairs=false, grouped=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        tables: Vec<PyArrowType<Table>>,
        labels: Vec<String>,
        config: Option<PathBuf>,
        config_toml: Option<String>,
        model_json: Option<String>,
        linkage_key: Option<PathBuf>,
        threshold: Option<f64>,
        link_type: Option<String>,
        seed: Option<u64>,
        max_block: Option<usize>,
        max_pairs: Option<u64>,
        all_pairs: bool,
        grouped: Option<Vec<PyArrowType<Table>>>,
    ) -> PyResult<LinkSession> {
        let (options, key, mut extracts) = link_inputs(
            tables,
            labels,
            config,
            config_toml,
            model_json,
            linkage_key,
            Overrides { threshold, link_type, seed, max_block, max_pairs, all_pairs },
        )?;
        if let Some(grouped) = grouped {
            if grouped.len() != extracts.len() {
                return Err(UsageError::new_err("give one table of grouped rows per extract"));
            }
            for (e, g) in extracts.iter_mut().zip(grouped) {
                e.grouped = Some(grouped_rows(&g.0)?);
            }
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        let started = std::time::Instant::now();
        let sink = log.clone();
        let run = py
            .detach(|| -> pseudolink::Result<_> {
                let records = Records::from_arrow(&extracts)?;
                drop(extracts);
                let log = |line: &str| sink.lock().map(|mut l| l.push(line.to_string())).unwrap_or(());
                pseudolink::link::pipeline::prepare(records, started.elapsed().as_secs_f64(), &options, &log)
            })
            .map_err(py_err)?;
        Ok(LinkSession { run: Some(run), options, key, trained: None, tf: None, nhs: None, log })
    }

    /// One row per identity: position, source, record id, codes, Bloom filters, bands, sex.
    fn rep_table(&self, py: Python<'_>) -> PyResult<PyArrowType<Table>> {
        let run = self.run()?;
        let batch = py.detach(|| pseudolink::link::pairs::rep_table(&run.records, &run.reps));
        let schema = batch.schema();
        Table::try_new(vec![batch], schema).map(PyArrowType).map_err(|e| OutputError::new_err(e.to_string()))
    }

    /// The blocking rules as rep-table columns.
    fn rules(&self) -> PyResult<Vec<Vec<String>>> {
        let run = self.run()?;
        Ok(run
            .rules
            .iter()
            .map(|rule| rule.iter().filter_map(|k| pseudolink::link::pairs::key_column(k, &run.records)).collect())
            .collect())
    }

    /// The blocking rules by key name, as reports give them.
    fn rule_names(&self) -> PyResult<Vec<Vec<String>>> {
        Ok(self.run()?.rules.iter().map(|r| r.iter().map(|k| k.name().to_string()).collect()).collect())
    }

    /// The link type, largest block, most pairs, and the threshold's and pairs floor's weights.
    fn settings(&self) -> PyResult<(String, usize, u64, f64, f64)> {
        let o = &self.options;
        Ok((
            o.link_type.name().to_string(),
            o.max_block,
            self.run()?.max_pairs,
            (o.threshold / (1.0 - o.threshold)).log2(),
            pseudolink::link::floor_weight(o.pairs_floor),
        ))
    }

    /// Identities (positions 0 … n−1 in the rep table).
    fn identities(&self) -> PyResult<usize> {
        Ok(self.run()?.reps.len())
    }

    /// The context for comparing pairs before training (patterns only).
    fn pattern_context(&self) -> PyResult<String> {
        let run = self.run()?;
        let model = run.comparisons.start_model(0.01);
        let tf = pseudolink::link::term_frequency::TermFrequencies::none();
        Ok(pseudolink::link::pairs::PairContext::new(&run.records, &model, &tf).to_json())
    }

    /// Trains (or aligns the given model) from pattern counts (pattern bits, pairs); returns
    /// the model's JSON.
    fn train(&mut self, py: Python<'_>, counts: Vec<(i64, u64)>) -> PyResult<String> {
        let run = self.run()?;
        let mut counts: Vec<(pseudolink::link::compare::Pattern, u64)> =
            counts.into_iter().map(|(p, n)| (pseudolink::link::compare::Pattern(p as u64), n)).collect();
        counts.sort_unstable();
        let sink = self.log.clone();
        let log = move |line: &str| sink.lock().map(|mut l| l.push(line.to_string())).unwrap_or(());
        let (trained, tf) = py
            .detach(|| -> pseudolink::Result<_> {
                let trained = run.train(&counts, &self.options, &log)?;
                let tf = run.term_frequencies(&trained.model);
                Ok((trained, tf))
            })
            .map_err(py_err)?;
        let json = trained.model.to_json();
        self.trained = Some(trained);
        self.tf = Some(tf);
        Ok(json)
    }

    /// The context for scoring pairs with the trained model.
    fn score_context(&self) -> PyResult<String> {
        let run = self.run()?;
        let (Some(t), Some(tf)) = (&self.trained, &self.tf) else {
            return Err(UsageError::new_err("train the session before scoring"));
        };
        Ok(pseudolink::link::pairs::PairContext::new(&run.records, &t.model, tf).to_json())
    }

    /// Clusters: `edges` (a, b, pattern, match_weight: the pairs at or above the threshold),
    /// `best` (pos, best match probability over all of an identity's pairs), the weight
    /// histogram, the counts of all pairs and of those below the floor with their expected
    /// matches, and the blocking reports' JSON. Returns (clusters, summary JSON, log lines).
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        py: Python<'_>,
        edges: PyArrowType<Table>,
        best: PyArrowType<Table>,
        histogram: Vec<(i64, u64)>,
        candidates: u64,
        below_floor: u64,
        expected_below_floor: f64,
        blocking_json: String,
    ) -> PyResult<(PyArrowType<Table>, String, Vec<String>)> {
        let (run, trained, tf, blocking) = self.take_for_finish(&blocking_json)?;
        let (e, bt) = (edges.0, best.0);
        let (ea, eb, ep, ew) = (ints(&e, "a")?, ints(&e, "b")?, ints(&e, "pattern")?, floats(&e, "match_weight")?);
        let stats = pair_stats(run.reps.len(), &bt, histogram, candidates, below_floor, expected_below_floor)?;
        let scored: Vec<(u32, u32, pseudolink::link::compare::Pattern, f64)> = (0..ea.len())
            .map(|i| (ea[i] as u32, eb[i] as u32, pseudolink::link::compare::Pattern(ep[i] as u64), ew[i]))
            .collect();
        let options = self.options.clone();
        let t = std::time::Instant::now();
        let linkage = py.detach(|| run.finish(scored, stats, blocking, trained, tf, &options, t));
        self.answer(py, linkage)
    }

    /// The NHS-number links (stage 6a), kept for [`LinkSession::finish_components`]: one row per
    /// identity with its position, the identity its NHS-number links joined it to, its token
    /// code, source index and whether an NHS-number link took it.
    fn nhs_table(&mut self, py: Python<'_>) -> PyResult<PyArrowType<Table>> {
        let run = self.run()?;
        let options = self.options.clone();
        let mut nhs = py.detach(|| run.nhs_links(&options));
        let n = run.reps.len() as u32;
        let roots: Vec<i64> = (0..n).map(|i| nhs.clusters.find(i) as i64).collect();
        let source: Vec<i64> = (0..n).map(|i| run.source_of(i) as i64).collect();
        let fields = vec![
            Field::new("pos", DataType::Int64, false),
            Field::new("root", DataType::Int64, false),
            Field::new("token", DataType::Int64, true),
            Field::new("source", DataType::Int64, false),
            Field::new("nhs_linked", DataType::Boolean, false),
        ];
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(0..n as i64)),
            Arc::new(Int64Array::from(roots)),
            Arc::new(Int64Array::from_iter(nhs.tokens.iter().map(|t| t.map(|t| t as i64)))),
            Arc::new(Int64Array::from(source)),
            Arc::new(arrow_array::BooleanArray::from(nhs.linked.clone())),
        ];
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
            .map_err(|e| OutputError::new_err(e.to_string()))?;
        self.nhs = Some(nhs);
        let schema = batch.schema();
        Table::try_new(vec![batch], schema).map(PyArrowType).map_err(|e| OutputError::new_err(e.to_string()))
    }

    /// The override weight and whether linkage is one-to-one: what the component kernel needs.
    fn cluster_settings(&self) -> (f64, bool) {
        (self.options.override_weight(), self.options.one_to_one)
    }

    /// Like `finish`, for a run that clustered component by component (`nhs_table` first):
    /// `labels` (pos, label, prob: the component kernel's identity rows), `counts` (its other
    /// rows, summed), then the statistics of all pairs as for `finish`. Identities in no
    /// component keep their NHS-number sets.
    #[allow(clippy::too_many_arguments)]
    fn finish_components(
        &mut self,
        py: Python<'_>,
        labels: PyArrowType<Table>,
        counts: Vec<(i64, i64, i64, i64)>,
        best: PyArrowType<Table>,
        histogram: Vec<(i64, u64)>,
        candidates: u64,
        below_floor: u64,
        expected_below_floor: f64,
        blocking_json: String,
    ) -> PyResult<(PyArrowType<Table>, String, Vec<String>)> {
        if self.nhs.is_none() {
            return Err(UsageError::new_err("call nhs_table before finish_components"));
        }
        let (run, trained, tf, blocking) = self.take_for_finish(&blocking_json)?;
        let mut nhs = self.nhs.take().ok_or_else(|| UsageError::new_err("call nhs_table before finish_components"))?;
        let n = run.reps.len();
        let stats = pair_stats(n, &best.0, histogram, candidates, below_floor, expected_below_floor)?;
        let mut id_labels: Vec<u32> = (0..n as u32).map(|i| nhs.clusters.find(i)).collect();
        let mut prob_linked = vec![false; n];
        let (lp, ll, lb) = (ints(&labels.0, "pos")?, ints(&labels.0, "label")?, ints(&labels.0, "prob")?);
        for i in 0..lp.len() {
            let (Some(p), Ok(l)) = (usize::try_from(lp[i]).ok().filter(|&p| p < n), u32::try_from(ll[i])) else {
                return Err(UsageError::new_err("a component label names an identity this session lacks"));
            };
            id_labels[p] = l;
            prob_linked[p] = lb[i] != 0;
        }
        let clustering = pseudolink::link::pipeline::Clustering {
            labels: id_labels,
            nhs_linked: std::mem::take(&mut nhs.linked),
            prob_linked,
            links_nhs: nhs.links,
            contradicted: nhs.contradicted,
            offered: pseudolink::link::components::offered_of(counts),
        };
        let options = self.options.clone();
        let t = std::time::Instant::now();
        let linkage = py.detach(|| run.conclude(Vec::new(), clustering, stats, blocking, trained, tf, &options, t));
        self.answer(py, linkage)
    }
}

/// What finishing takes from a session: the prepared run, the trained model, its term
/// frequencies, and the blocking reports.
type FinishInputs = (
    pseudolink::link::pipeline::Prepared,
    pseudolink::link::pipeline::Trained,
    pseudolink::link::term_frequency::TermFrequencies,
    Vec<pseudolink::link::blocking::RuleReport>,
);

impl LinkSession {
    /// Takes what finishing needs, after checking all of it, so that a refused call leaves the
    /// session as it was.
    fn take_for_finish(&mut self, blocking_json: &str) -> PyResult<FinishInputs> {
        let blocking: Vec<pseudolink::link::blocking::RuleReport> = serde_json::from_str(blocking_json)
            .map_err(|_| UsageError::new_err("blocking reports are not as the session writes them"))?;
        self.run()?;
        let trained = self.trained.take().ok_or_else(|| UsageError::new_err("train the session before finishing"))?;
        let run = self.run.take().ok_or_else(|| UsageError::new_err("this linkage session is finished"))?;
        Ok((run, trained, self.tf.take().unwrap_or_default(), blocking))
    }

    /// The clusters table, summary JSON and log lines of a finished linkage.
    fn answer(
        &self,
        py: Python<'_>,
        l: pseudolink::link::Linkage,
    ) -> PyResult<(PyArrowType<Table>, String, Vec<String>)> {
        let key = &self.key;
        let (clusters, summary) = py.detach(|| {
            (output::clusters_batches(&l, key), serde_json::to_string_pretty(&l.summary).unwrap_or_default())
        });
        let schema = clusters[0].schema();
        let table = Table::try_new(clusters, schema).map_err(|e| OutputError::new_err(e.to_string()))?;
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        Ok((PyArrowType(table), summary, log))
    }
}

fn ints(t: &Table, name: &str) -> PyResult<Vec<i64>> {
    let mut out = Vec::new();
    for b in t.record_batches() {
        let c = b.column_by_name(name).ok_or_else(|| UsageError::new_err(format!("no column `{name}`")))?;
        let c = arrow_cast::cast(c, &DataType::Int64).map_err(|e| UsageError::new_err(e.to_string()))?;
        let c = c.as_any().downcast_ref::<Int64Array>().cloned().unwrap_or_else(|| Int64Array::from(Vec::<i64>::new()));
        out.extend(c.iter().map(|v| v.unwrap_or(0)));
    }
    Ok(out)
}

fn floats(t: &Table, name: &str) -> PyResult<Vec<f64>> {
    let mut out = Vec::new();
    for b in t.record_batches() {
        let c = b.column_by_name(name).ok_or_else(|| UsageError::new_err(format!("no column `{name}`")))?;
        let c = arrow_cast::cast(c, &DataType::Float64).map_err(|e| UsageError::new_err(e.to_string()))?;
        let c = c.as_any().downcast_ref::<arrow_array::Float64Array>().cloned();
        out.extend(c.into_iter().flat_map(|c| c.iter().map(|v| v.unwrap_or(0.0)).collect::<Vec<_>>()));
    }
    Ok(out)
}

/// The statistics of all scored pairs, as gathered by a distributed run: `best` (pos, best),
/// the weight histogram, and the counts.
fn pair_stats(
    identities: usize,
    best: &Table,
    histogram: Vec<(i64, u64)>,
    candidates: u64,
    below_floor: u64,
    expected_below_floor: f64,
) -> PyResult<pseudolink::link::pipeline::PairStats> {
    let (bp, bv) = (ints(best, "pos")?, floats(best, "best")?);
    let mut stats = pseudolink::link::pipeline::PairStats {
        candidates,
        best: vec![0.0; identities],
        histogram: histogram.into_iter().collect(),
        below_floor,
        expected_below_floor,
    };
    for (p, v) in bp.into_iter().zip(bv) {
        if let Some(slot) = usize::try_from(p).ok().and_then(|p| stats.best.get_mut(p)) {
            *slot = v;
        }
    }
    Ok(stats)
}

/// The link type a linkage with these settings would use (`link_and_dedupe`, `link_only`,
/// `dedupe_only`), the settings checked as a linkage checks them (every problem listed): a
/// Spark job asks before it works on the records.
#[pyfunction]
#[pyo3(signature = (config=None, config_toml=None, threshold=None, link_type=None, seed=None, max_block=None,
    max_pairs=None, all_pairs=false))]
#[allow(clippy::too_many_arguments)]
fn link_type_of(
    config: Option<PathBuf>,
    config_toml: Option<String>,
    threshold: Option<f64>,
    link_type: Option<String>,
    seed: Option<u64>,
    max_block: Option<usize>,
    max_pairs: Option<u64>,
    all_pairs: bool,
) -> PyResult<String> {
    let o = Overrides { threshold, link_type, seed, max_block, max_pairs, all_pairs };
    Ok(link_options(config, config_toml, o)?.link_type.name().to_string())
}

/// Raises the refusal of an extract whose row `row` repeats an earlier record id, as loading it
/// would (a Spark job finds such rows before it groups records).
#[pyfunction]
fn refuse_repeated_record_id(label: String, row: u64) -> PyResult<()> {
    Err(py_err(pseudolink::link::data::repeated_record_id(Path::new(&label), row)))
}

/// Checks an existing linkage key file as a linkage will read it (a missing one is made by the
/// linkage), so that a wrong file is refused before a Spark job works on the records.
#[pyfunction]
fn check_linkage_key(path: PathBuf) -> PyResult<()> {
    if path.exists() {
        ProjectKey::read_file_as(&path, KeyRole::Linkage).map_err(py_err)?;
    }
    Ok(())
}

/// Flips the top bit of a 64-bit hash: as a signed integer (what Spark orders by), the result
/// orders as the hash does unsigned, so Spark's `min` of it is the least hash. Its own inverse.
fn sortable(h: u64) -> i64 {
    (h ^ (1 << 63)) as i64
}

/// An extract's grouped rows (`records`, `first_row`, `least_hash` as [`content_hashes`]
/// writes it), from the Spark job that grouped its records.
fn grouped_rows(t: &Table) -> PyResult<pseudolink::link::data::Grouped> {
    let records = ints(t, "records")?;
    let first_row = ints(t, "first_row")?;
    let least = ints(t, "least_hash")?;
    if records.iter().any(|&n| n < 1 || n > i64::from(u32::MAX)) || first_row.iter().any(|&r| r < 1) {
        return Err(UsageError::new_err("grouped rows need 1 or more records each and row numbers from 1"));
    }
    Ok(pseudolink::link::data::Grouped {
        records: records.into_iter().map(|n| n as u32).collect(),
        first_row: first_row.into_iter().map(|r| r as u64).collect(),
        least_hash: least.into_iter().map(|h| sortable(h as u64) as u64).collect(),
    })
}

/// Each record's place in the content order training samples from
/// (`pseudolink::link::data::content_hash` of the source and its record id), as a signed
/// integer that Spark orders as the hash (see [`sortable`]): computed where the records live,
/// so that a Spark job can keep each group's least without gathering record ids.
#[pyfunction]
fn content_hashes(
    py: Python<'_>,
    source: String,
    batch: PyArrowType<RecordBatch>,
) -> PyResult<PyArrowType<RecordBatch>> {
    let b = batch.0;
    let ids = b
        .column_by_name("record_id")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| UsageError::new_err("the batch needs a text `record_id` column"))?;
    let hashes: Int64Array = py.detach(|| {
        (0..ids.len())
            .map(|i| ids.is_valid(i).then(|| sortable(pseudolink::link::data::content_hash(&source, ids.value(i)))))
            .collect()
    });
    let schema = Arc::new(Schema::new(vec![Field::new("least_hash", DataType::Int64, true)]));
    RecordBatch::try_new(schema, vec![Arc::new(hashes) as ArrayRef])
        .map(PyArrowType)
        .map_err(|e| UsageError::new_err(e.to_string()))
}

/// Clusters the connected components of a batch of component rows
/// (`pseudolink::link::components`): a Spark task's work when the links do not fit the driver.
#[pyfunction]
fn cluster_components(
    py: Python<'_>,
    batch: PyArrowType<RecordBatch>,
    override_weight: f64,
    one_to_one: bool,
) -> PyResult<PyArrowType<RecordBatch>> {
    let b = batch.0;
    py.detach(|| pseudolink::link::components::cluster_batch(&b, override_weight, one_to_one))
        .map(PyArrowType)
        .map_err(py_err)
}

/// The pair kernel on an executor: built once per task from a session's context, then applied
/// to each batch of pairs (columns `a`, `b`, and the rep table's columns prefixed `l_`, `r_`).
#[pyclass(module = "pseudolink._native")]
struct PairKernel {
    ctx: pseudolink::link::pairs::PairContext,
}

#[pymethods]
impl PairKernel {
    #[new]
    fn new(context: &str) -> PyResult<PairKernel> {
        pseudolink::link::pairs::PairContext::from_json(context)
            .map(|ctx| PairKernel { ctx })
            .map_err(|e| UsageError::new_err(e.to_string()))
    }

    /// `output`: "patterns", "weights" or "pairs".
    fn compare(
        &self,
        py: Python<'_>,
        batch: PyArrowType<RecordBatch>,
        output: &str,
    ) -> PyResult<PyArrowType<RecordBatch>> {
        use pseudolink::link::pairs::Output;
        let output = match output {
            "patterns" => Output::Patterns,
            "weights" => Output::Weights,
            "pairs" => Output::Pairs,
            _ => return Err(UsageError::new_err("output is one of patterns, weights, pairs")),
        };
        let batch = batch.0;
        py.detach(|| pseudolink::link::pairs::compare_batch(&self.ctx, &batch, output))
            .map(PyArrowType)
            .map_err(|e| UsageError::new_err(e.to_string()))
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ORDER_COLUMN", ORDER_COLUMN)?;
    m.add("MANIFEST_KEY", MANIFEST_KEY)?;
    let py = m.py();
    m.add("PseudolinkError", py.get_type::<PseudolinkError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("KeyFileError", py.get_type::<KeyFileError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("ManifestError", py.get_type::<ManifestError>())?;
    m.add("CheckError", py.get_type::<CheckError>())?;
    m.add("OutputError", py.get_type::<OutputError>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    m.add_class::<LinkSession>()?;
    m.add_class::<PairKernel>()?;
    m.add_function(wrap_pyfunction!(tokenise, m)?)?;
    m.add_function(wrap_pyfunction!(write_extract, m)?)?;
    m.add_function(wrap_pyfunction!(link, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(model_normalise, m)?)?;
    m.add_function(wrap_pyfunction!(model_levels, m)?)?;
    m.add_function(wrap_pyfunction!(key_id, m)?)?;
    m.add_function(wrap_pyfunction!(manifest_of, m)?)?;
    m.add_function(wrap_pyfunction!(cluster_components, m)?)?;
    m.add_function(wrap_pyfunction!(content_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(link_type_of, m)?)?;
    m.add_function(wrap_pyfunction!(check_together, m)?)?;
    m.add_function(wrap_pyfunction!(check_linkage_key, m)?)?;
    m.add_function(wrap_pyfunction!(refuse_repeated_record_id, m)?)?;
    Ok(())
}
