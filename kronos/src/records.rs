//! Reading records files for `train` and `score`: JSON lines, one message per line, as written by
//! `argus-sentinel --pcap FILE --out records.jsonl`.
//!
//! Each line is either a [`SensorMessage`] in its serde JSON form (`{"flow": {…}}`,
//! `{"sample": {…}}`, `{"status": {…}}`) or a bare [`FlowRecord`] object. Blank lines are
//! skipped. Errors name the file and the line.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use argus_proto::{FlowRecord, SensorMessage};
use serde::Deserialize;
use thiserror::Error;

/// Why a records file could not be read.
#[derive(Debug, Error)]
pub enum RecordsError {
    /// The file could not be opened or read.
    #[error("cannot read records file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A line is not a record.
    #[error("{}:{line}: not a flow record or sensor message: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's complaint.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Message(SensorMessage),
    Flow(FlowRecord),
}

/// Iterates over the messages of a records file.
#[derive(Debug)]
pub struct Records<R> {
    lines: io::Lines<R>,
    path: PathBuf,
    line: usize,
}

/// Opens the records file at `path`.
pub fn open(path: &Path) -> Result<Records<BufReader<File>>, RecordsError> {
    let file = File::open(path).map_err(|source| RecordsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(from_reader(BufReader::new(file), path))
}

/// Reads records from `reader`; `path` names it in errors.
pub fn from_reader<R: BufRead>(reader: R, path: &Path) -> Records<R> {
    Records {
        lines: reader.lines(),
        path: path.to_path_buf(),
        line: 0,
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<SensorMessage, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.line += 1;
            let text = match self.lines.next()? {
                Ok(t) => t,
                Err(source) => {
                    return Some(Err(RecordsError::Io {
                        path: self.path.clone(),
                        source,
                    }))
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(
                serde_json::from_str::<Line>(&text)
                    .map(|l| match l {
                        Line::Message(m) => m,
                        Line::Flow(f) => SensorMessage::Flow(f),
                    })
                    .map_err(|e| RecordsError::Parse {
                        path: self.path.clone(),
                        line: self.line,
                        reason: e.to_string(),
                    }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::tcp_flow;

    #[test]
    fn reads_messages_and_bare_records() {
        let rec = tcp_flow("198.51.100.7", "192.0.2.1", 443, 5, 10);
        let text = format!(
            "{}\n\n{}\n",
            serde_json::to_string(&SensorMessage::Flow(rec.clone())).unwrap(),
            serde_json::to_string(&rec).unwrap()
        );
        let got: Vec<SensorMessage> = from_reader(text.as_bytes(), Path::new("x.jsonl"))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            got,
            vec![SensorMessage::Flow(rec.clone()), SensorMessage::Flow(rec)]
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = "\n{\"flow\": 3}\n";
        let err = from_reader(text.as_bytes(), Path::new("capture.jsonl"))
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("capture.jsonl:2:"), "{err}");
        let err = open(Path::new("/nonexistent/records.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/records.jsonl"), "{err}");
    }
}
