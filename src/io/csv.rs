//! CSV extracts as NHS systems export them: any single-character delimiter and quote, an
//! optional header, UTF-8 (with or without a byte-order mark) or Windows-1252.
//!
//! Records are read as raw bytes and decoded here, so that a bad byte is reported by row and
//! column without its value. Ragged rows (a different number of fields from the header) are a
//! structural error: they almost always mean a wrong delimiter or an unescaped quote, and
//! guessing would silently misalign columns.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use arrow_array::builder::StringBuilder;
use encoding_rs::WINDOWS_1252;

use crate::config::{InputOptions, TextEncoding};
use crate::error::{Error, Location, Result, group_digits};
use crate::io::{BatchSource, InputBatch};

const UTF8_HINT: &str = "is not valid UTF-8; if the extract was saved from Excel or an older \
                         system, set `encoding = \"windows-1252\"` in the config's [input] section";

/// Reads a CSV extract in batches.
pub struct CsvSource {
    path: PathBuf,
    reader: csv::Reader<BufReader<File>>,
    header: Vec<String>,
    selected: Vec<usize>,
    encoding: TextEncoding,
    batch_rows: usize,
    next_row: u64,
    record: csv::ByteRecord,
    pending: Option<csv::ByteRecord>,
    total_bytes: u64,
    blank_rows: u64,
}

impl std::fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSource").field("path", &self.path).field("next_row", &self.next_row).finish()
    }
}

impl CsvSource {
    /// Opens `path` and reads its header (or counts its columns when it has none).
    pub fn open(path: &Path, options: &InputOptions, batch_rows: usize) -> Result<CsvSource> {
        let file = File::open(path).map_err(|e| Error::io("opening input", path, e))?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let reader = csv::ReaderBuilder::new()
            .delimiter(options.delimiter as u8)
            .quote(options.quote as u8)
            .has_headers(false)
            .flexible(true)
            .from_reader(BufReader::with_capacity(1 << 20, file));
        let mut src = CsvSource {
            path: path.to_path_buf(),
            reader,
            header: Vec::new(),
            selected: Vec::new(),
            encoding: options.encoding,
            batch_rows: batch_rows.max(1),
            next_row: 1,
            record: csv::ByteRecord::new(),
            pending: None,
            total_bytes,
            blank_rows: 0,
        };
        let mut first = csv::ByteRecord::new();
        if !src.read(&mut first, None)? {
            return Err(Error::input(Location::file(path), "is empty; export the extract again, with its header row"));
        }
        // UTF-16 (its byte-order mark): read as bytes it would pass every value through garbled.
        if first.get(0).is_some_and(|f| f.starts_with(&[0xFF, 0xFE]) || f.starts_with(&[0xFE, 0xFF])) {
            return Err(Error::input(Location::file(path), "is UTF-16 text; export it as UTF-8 (or Windows-1252) CSV"));
        }
        let mut names = Vec::with_capacity(first.len());
        for (i, field) in first.iter().enumerate() {
            let name = if options.has_header {
                let text = decode(field, src.encoding).ok_or_else(|| {
                    Error::input(
                        Location::file(path).in_column(&format!("#{}", i + 1)),
                        format!("the header {UTF8_HINT}"),
                    )
                })?;
                let text = if i == 0 { text.trim_start_matches('\u{feff}') } else { &text };
                text.trim().to_string()
            } else {
                format!("column_{}", i + 1)
            };
            names.push(name);
        }
        src.header = names;
        if !options.has_header {
            src.pending = Some(first);
        }
        Ok(src)
    }

    /// Reads one record; `row` names the data row in errors.
    fn read(&mut self, rec: &mut csv::ByteRecord, row: Option<u64>) -> Result<bool> {
        self.reader.read_byte_record(rec).map_err(|e| {
            let mut loc = Location::file(&self.path);
            if let Some(r) = row {
                loc = loc.at_row(r);
            }
            match e.kind() {
                csv::ErrorKind::Io(io) => {
                    Error::io("reading input", &self.path, std::io::Error::new(io.kind(), "read error"))
                }
                _ => Error::input(loc, "the CSV could not be parsed; check the delimiter and quote settings"),
            }
        })
    }
}

impl BatchSource for CsvSource {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn select(&mut self, columns: &[usize]) {
        self.selected = columns.to_vec();
    }

    fn next_batch(&mut self) -> Result<Option<InputBatch>> {
        let first_row = self.next_row;
        let mut builders: Vec<StringBuilder> =
            self.selected.iter().map(|_| StringBuilder::with_capacity(self.batch_rows, self.batch_rows * 12)).collect();
        let mut rec = std::mem::take(&mut self.record);
        let mut n = 0usize;
        while n < self.batch_rows {
            let row = self.next_row;
            if let Some(p) = self.pending.take() {
                rec = p;
            } else if !self.read(&mut rec, Some(row))? {
                break;
            }
            if is_blank(&rec) {
                // A spreadsheet saved as CSV often ends with rows of empty fields: skipped and
                // counted when only blank rows follow; a blank row with data after it is refused.
                let mut blanks = 1u64;
                loop {
                    if !self.read(&mut rec, Some(row + blanks))? {
                        self.blank_rows += blanks;
                        self.next_row += blanks;
                        self.record = rec;
                        return Ok((n > 0).then(|| InputBatch {
                            first_row,
                            columns: builders.iter_mut().map(|b| b.finish()).collect(),
                        }));
                    }
                    if !is_blank(&rec) {
                        return Err(Error::input(
                            Location::file(&self.path).at_row(row),
                            "is blank (every field empty) but rows with data follow it; remove blank rows from the \
                             middle of the extract",
                        ));
                    }
                    blanks += 1;
                }
            }
            if rec.len() != self.header.len() {
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                return Err(Error::input(
                    Location::file(&self.path).at_row(row),
                    format!(
                        "has {} fields but the header has {} (line {}); check the delimiter, and that \
                         text containing the delimiter is quoted",
                        rec.len(),
                        self.header.len(),
                        group_digits(line)
                    ),
                ));
            }
            for (b, &col) in builders.iter_mut().zip(&self.selected) {
                let bytes = &rec[col];
                match decode(bytes, self.encoding) {
                    Some(text) => b.append_value(text),
                    None => {
                        return Err(Error::input(
                            Location::file(&self.path).at_row(row).in_column(&self.header[col]),
                            UTF8_HINT,
                        ));
                    }
                }
            }
            self.next_row += 1;
            n += 1;
        }
        self.record = rec;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(InputBatch { first_row, columns: builders.iter_mut().map(|b| b.finish()).collect() }))
    }

    fn progress(&self) -> (u64, Option<u64>) {
        (self.record.position().map_or(0, |p| p.byte()), Some(self.total_bytes))
    }

    fn blank_rows_skipped(&self) -> u64 {
        self.blank_rows
    }
}

/// Whether every field of `rec` is empty or spaces.
fn is_blank(rec: &csv::ByteRecord) -> bool {
    rec.iter().all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
}

fn decode(bytes: &[u8], encoding: TextEncoding) -> Option<Cow<'_, str>> {
    match encoding {
        TextEncoding::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        TextEncoding::Windows1252 => Some(WINDOWS_1252.decode_without_bom_handling(bytes).0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn source(bytes: &[u8], options: InputOptions) -> (tempfile::TempDir, Result<CsvSource>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        let s = CsvSource::open(&p, &options, 2);
        (dir, s)
    }

    fn all(src: &mut CsvSource) -> Result<Vec<Vec<String>>> {
        let mut rows = Vec::new();
        while let Some(b) = src.next_batch()? {
            for r in 0..b.num_rows() {
                rows.push(b.columns.iter().map(|c| c.value(r).to_string()).collect());
            }
        }
        Ok(rows)
    }

    #[test]
    fn bom_header_quotes_and_batches() {
        let (_d, s) = source(b"\xEF\xBB\xBFid,name\n1,\"Smith, J\"\n2,\"O\"\"Brien\"\n3,x\n", InputOptions::default());
        let mut s = s.unwrap();
        assert_eq!(s.header(), ["id", "name"]);
        s.select(&[1, 0]);
        assert_eq!(all(&mut s).unwrap(), vec![vec!["Smith, J", "1"], vec!["O\"Brien", "2"], vec!["x", "3"]]);
    }

    #[test]
    fn windows_1252_decodes_and_invalid_utf8_is_an_error_without_the_value() {
        let bytes = b"id,name\n1,Zo\xEB\n";
        let (_d, s) = source(bytes, InputOptions { encoding: TextEncoding::Windows1252, ..Default::default() });
        let mut s = s.unwrap();
        s.select(&[1]);
        assert_eq!(all(&mut s).unwrap(), vec![vec!["Zoë"]]);
        let (_d, s) = source(bytes, InputOptions::default());
        let mut s = s.unwrap();
        s.select(&[1]);
        let e = all(&mut s).unwrap_err().to_string();
        assert!(e.ends_with(&format!("x.csv: row 1, column `name`: {UTF8_HINT}")), "{e}");
        assert!(!e.contains("Zo"));
    }

    #[test]
    fn ragged_rows_and_empty_files_are_errors() {
        let (_d, s) = source(b"a,b\n1,2\n3\n", InputOptions::default());
        let mut s = s.unwrap();
        s.select(&[0]);
        let e = all(&mut s).unwrap_err().to_string();
        assert!(e.contains("row 2: has 1 fields but the header has 2 (line 3)"), "{e}");
        let (_d, s) = source(b"", InputOptions::default());
        assert!(s.unwrap_err().to_string().contains("is empty"));
    }

    #[test]
    fn no_header_names_columns_by_position() {
        let (_d, s) = source(b"1|a\n2|b\n", InputOptions { has_header: false, delimiter: '|', ..Default::default() });
        let mut s = s.unwrap();
        assert_eq!(s.header(), ["column_1", "column_2"]);
        s.select(&[1]);
        assert_eq!(all(&mut s).unwrap(), vec![vec!["a"], vec!["b"]]);
    }
}
