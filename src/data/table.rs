//! CSV import: the user names which columns are data dimensions and which are descriptors. Rows
//! with the same descriptor form one condition. Every error names the file, row and column.

use super::{Dataset, Points};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CsvSpec {
    /// Data columns by header name; empty means every column not used as a descriptor.
    pub data_cols: Vec<String>,
    pub descriptor_cols: Vec<String>,
}

pub(super) fn load(path: &str, spec: &CsvSpec) -> Result<Dataset, String> {
    let (data, descriptors) = read_csv(Path::new(path), spec)?;
    let dim = data.dim;
    // Group rows by descriptor, in first-seen order made stable by the descriptor's bit pattern.
    let mut groups: BTreeMap<Vec<u32>, (Vec<f32>, Vec<f32>)> = BTreeMap::new();
    for (i, row) in data.rows().enumerate() {
        let d: &[f32] = descriptors.as_ref().map_or(&[], |p| p.row(i));
        let entry = groups
            .entry(d.iter().map(|x| x.to_bits()).collect())
            .or_insert_with(|| (d.to_vec(), Vec::new()));
        entry.1.extend_from_slice(row);
    }
    let groups = groups
        .into_values()
        .map(|(d, rows)| (d, Points::new(dim, rows)))
        .collect();
    Ok(Dataset::from_table(format!("csv:{path}"), dim, groups))
}

/// Reads the chosen columns: (data rows, descriptor rows if any descriptor column was chosen).
pub fn read_csv(path: &Path, spec: &CsvSpec) -> Result<(Points, Option<Points>), String> {
    let file = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("{file}: cannot read: {}", io_reason(&e)))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{file}: cannot read the header row: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(format!("{file}: the file is empty (no header row)"));
    }
    let find = |name: &String| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            format!(
                "{file}: no column named `{name}`; the header has {}",
                headers.join(", ")
            )
        })
    };
    let desc_idx = spec.descriptor_cols.iter().map(find).collect::<Result<Vec<_>, _>>()?;
    let data_idx = if spec.data_cols.is_empty() {
        (0..headers.len()).filter(|i| !desc_idx.contains(i)).collect()
    } else {
        spec.data_cols.iter().map(find).collect::<Result<Vec<_>, _>>()?
    };
    if data_idx.is_empty() {
        return Err(format!("{file}: no data columns left after the descriptor columns"));
    }
    let (mut data, mut desc) = (Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        // Row numbers as a spreadsheet shows them: the header is row 1.
        let row = i + 2;
        let record = record.map_err(|e| format!("{file}: row {row}: {e}"))?;
        let cell = |col: usize, out: &mut Vec<f32>| -> Result<(), String> {
            let name = &headers[col];
            let text = record.get(col).unwrap_or("");
            if text.is_empty() {
                return Err(format!("{file}: row {row}, column `{name}`: missing value"));
            }
            let v: f32 = text
                .parse()
                .map_err(|_| format!("{file}: row {row}, column `{name}`: `{text}` is not a number"))?;
            if !v.is_finite() {
                return Err(format!(
                    "{file}: row {row}, column `{name}`: `{text}` is not a finite number"
                ));
            }
            out.push(v);
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
        return Err(format!("{file}: no data rows after the header"));
    }
    let desc = (!desc_idx.is_empty()).then(|| Points::new(desc_idx.len(), desc));
    Ok((Points::new(data_idx.len(), data), desc))
}

/// Writes points as CSV with a header `x0, x1, …`: what `mixflow sample` and the app's export
/// write, and what import reads back.
pub fn write_points(out: impl std::io::Write, p: &Points) -> Result<(), String> {
    let err = |e: csv::Error| format!("cannot write the points: {e}");
    let mut w = csv::Writer::from_writer(out);
    w.write_record((0..p.dim).map(|d| format!("x{d}"))).map_err(err)?;
    for r in p.rows() {
        w.write_record(r.iter().map(f32::to_string)).map_err(err)?;
    }
    w.flush().map_err(|e| format!("cannot write the points: {e}"))
}

fn io_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}
