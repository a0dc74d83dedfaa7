//! CSV import: the user names which columns are data dimensions and which are descriptors. Rows
//! with the same descriptor form one condition. Every error names the file, row and column.

use super::{Dataset, Points};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CsvSpec {
    /// Data columns by header name; empty means every column not used as a descriptor.
    pub data_cols: Vec<String>,
    pub descriptor_cols: Vec<String>,
}

/// Rows read from one file at most; a longer file is cut there, and the dataset says so.
pub const MAX_ROWS: usize = 200_000;

/// Why a table could not be read or written; each names the file and, where there is one, the row
/// and column, as a spreadsheet numbers them (the header is row 1).
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{file}: cannot read: {source}")]
    Open { file: String, source: std::io::Error },
    #[error("{file}: cannot read the header row: {source}")]
    Header { file: String, source: csv::Error },
    #[error("{file}: the file is empty (no header row)")]
    Empty { file: String },
    #[error("{file}: no column named `{name}`; the header has {header}")]
    NoColumn { file: String, name: String, header: String },
    #[error("{file}: no data columns left after the descriptor columns")]
    NoDataColumns { file: String },
    #[error("{file}: row {row}: {source}")]
    Row {
        file: String,
        row: usize,
        source: csv::Error,
    },
    #[error("{file}: row {row}, column `{column}`: {problem}")]
    Cell {
        file: String,
        row: usize,
        column: String,
        problem: CellProblem,
    },
    #[error("{file}: no data rows after the header")]
    NoRows { file: String },
    #[error("cannot write the points: {0}")]
    Write(#[from] csv::Error),
}

/// What is wrong with one cell of a table.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum CellProblem {
    #[error("missing value")]
    Missing,
    #[error("`{0}` is not a number")]
    NotANumber(String),
    #[error("`{0}` is not a finite number")]
    NotFinite(String),
}

/// Tables held in memory under a name, for data that has no path: a file dropped on the browser
/// page, points drawn by hand. `csv:NAME` finds them before looking on disk.
static MEMORY: Mutex<BTreeMap<String, Arc<[u8]>>> = Mutex::new(BTreeMap::new());

/// Keeps `bytes` (CSV text) under `name`, replacing an earlier table of that name.
pub fn remember(name: &str, bytes: Vec<u8>) {
    if let Ok(mut m) = MEMORY.lock() {
        m.insert(name.to_string(), bytes.into());
    }
}

/// The table kept under `name`, if any.
pub fn remembered(name: &str) -> Option<Arc<[u8]>> {
    MEMORY.lock().ok()?.get(name).cloned()
}

pub(super) fn load(path: &str, spec: &CsvSpec) -> Result<Dataset, TableError> {
    let table = read_csv(Path::new(path), spec)?;
    let dim = table.data.dim;
    // Group rows by descriptor, in first-seen order made stable by the descriptor's bit pattern.
    let mut groups: BTreeMap<Vec<u32>, (Vec<f32>, Vec<f32>)> = BTreeMap::new();
    for (i, row) in table.data.rows().enumerate() {
        let d: &[f32] = table.descriptors.as_ref().map_or(&[], |p| p.row(i));
        let entry = groups
            .entry(d.iter().map(|x| x.to_bits()).collect())
            .or_insert_with(|| (d.to_vec(), Vec::new()));
        entry.1.extend_from_slice(row);
    }
    let groups = groups
        .into_values()
        .map(|(d, rows)| (d, Points::new(dim, rows)))
        .collect();
    let mut dataset = Dataset::from_table(format!("csv:{path}"), dim, groups);
    dataset.note = table.truncated.then(|| truncation_note(path));
    Ok(dataset)
}

fn truncation_note(path: &str) -> String {
    format!("{path}: the file has more than {MAX_ROWS} rows; only the first {MAX_ROWS} were read")
}

/// The chosen columns of a CSV file.
#[derive(Debug)]
pub struct Table {
    pub data: Points,
    /// Present when descriptor columns were chosen.
    pub descriptors: Option<Points>,
    /// The file had more than [`MAX_ROWS`] rows; the rest were not read.
    pub truncated: bool,
}

/// Reads the chosen columns of the table `path` names (in memory, or on disk), streaming at
/// most [`MAX_ROWS`] rows.
pub fn read_csv(path: &Path, spec: &CsvSpec) -> Result<Table, TableError> {
    let file = path.display().to_string();
    match remembered(&file) {
        Some(bytes) => read_table(&bytes[..], &file, spec),
        None => {
            let f = open(path, &file)?;
            read_table(std::io::BufReader::new(f), &file, spec)
        }
    }
}

/// The header and first rows of a table, as text, for the import preview.
#[derive(Debug)]
pub struct Preview {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The header and up to `n` rows of the table `path` names, without reading the rest.
pub fn preview(path: &Path, n: usize) -> Result<Preview, TableError> {
    let file = path.display().to_string();
    let rows = |reader: &mut csv::Reader<Box<dyn std::io::Read + '_>>| -> Result<Preview, TableError> {
        let headers = headers(reader, &file)?;
        let mut rows = Vec::new();
        for (i, record) in reader.records().take(n).enumerate() {
            let record = record.map_err(|source| row_error(&file, i + 2, source))?;
            rows.push(record.iter().map(str::to_string).collect());
        }
        Ok(Preview { headers, rows })
    };
    match remembered(&file) {
        Some(bytes) => rows(&mut reader(Box::new(&bytes[..]))),
        None => {
            let f = open(path, &file)?;
            rows(&mut reader(Box::new(std::io::BufReader::new(f))))
        }
    }
}

fn open(path: &Path, file: &str) -> Result<std::fs::File, TableError> {
    std::fs::File::open(path).map_err(|source| TableError::Open {
        file: file.to_string(),
        source,
    })
}

fn row_error(file: &str, row: usize, source: csv::Error) -> TableError {
    TableError::Row {
        file: file.to_string(),
        row,
        source,
    }
}

fn reader<'a>(input: Box<dyn std::io::Read + 'a>) -> csv::Reader<Box<dyn std::io::Read + 'a>> {
    csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(input)
}

fn headers<R: std::io::Read>(reader: &mut csv::Reader<R>, file: &str) -> Result<Vec<String>, TableError> {
    let file = file.to_string();
    let headers: Vec<String> = reader
        .headers()
        .map_err(|source| TableError::Header {
            file: file.clone(),
            source,
        })?
        .iter()
        .map(str::to_string)
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(TableError::Empty { file });
    }
    Ok(headers)
}

fn read_table(input: impl std::io::Read, file: &str, spec: &CsvSpec) -> Result<Table, TableError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(input);
    let headers = headers(&mut reader, file)?;
    let find = |name: &String| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| TableError::NoColumn {
                file: file.to_string(),
                name: name.clone(),
                header: headers.join(", "),
            })
    };
    let desc_idx = spec.descriptor_cols.iter().map(find).collect::<Result<Vec<_>, _>>()?;
    let data_idx = if spec.data_cols.is_empty() {
        (0..headers.len()).filter(|i| !desc_idx.contains(i)).collect()
    } else {
        spec.data_cols.iter().map(find).collect::<Result<Vec<_>, _>>()?
    };
    if data_idx.is_empty() {
        return Err(TableError::NoDataColumns { file: file.to_string() });
    }
    let (mut data, mut desc) = (Vec::new(), Vec::new());
    let mut truncated = false;
    for (i, record) in reader.records().enumerate() {
        if i == MAX_ROWS {
            truncated = true;
            break;
        }
        // Row numbers as a spreadsheet shows them: the header is row 1.
        let row = i + 2;
        let record = record.map_err(|source| row_error(file, row, source))?;
        let cell = |col: usize, out: &mut Vec<f32>| -> Result<(), TableError> {
            let text = record.get(col).unwrap_or("");
            let value = match text.parse::<f32>() {
                _ if text.is_empty() => Err(CellProblem::Missing),
                Ok(v) if v.is_finite() => Ok(v),
                Ok(_) => Err(CellProblem::NotFinite(text.to_string())),
                Err(_) => Err(CellProblem::NotANumber(text.to_string())),
            };
            out.push(value.map_err(|problem| TableError::Cell {
                file: file.to_string(),
                row,
                column: headers[col].clone(),
                problem,
            })?);
            Ok(())
        };
        for &c in &data_idx {
            cell(c, &mut data)?;
        }
        for &c in &desc_idx {
            cell(c, &mut desc)?;
        }
    }
    if data.is_empty() {
        return Err(TableError::NoRows { file: file.to_string() });
    }
    let descriptors = (!desc_idx.is_empty()).then(|| Points::new(desc_idx.len(), desc));
    Ok(Table {
        data: Points::new(data_idx.len(), data),
        descriptors,
        truncated,
    })
}

/// The names of a data point's columns in files: `x, y` in the plane, `d0, d1, …` above it (`x0`
/// would read as a base point, which is what x0 means everywhere else here).
pub fn column_names(dim: usize) -> Vec<String> {
    match dim {
        2 => vec!["x".into(), "y".into()],
        _ => (0..dim).map(|d| format!("d{d}")).collect(),
    }
}

/// Writes points as CSV with a header of [`column_names`]: what `mixflow sample` and the app's
/// export write, and what import reads back.
pub fn write_points(out: impl std::io::Write, p: &Points) -> Result<(), TableError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(column_names(p.dim))?;
    for r in p.rows() {
        w.write_record(r.iter().map(f32::to_string))?;
    }
    w.flush().map_err(|e| TableError::Write(e.into()))
}
