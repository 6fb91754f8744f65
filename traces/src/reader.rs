use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::error::Category;

use crate::error::{Rule, TraceError, Violation};
use crate::header::Header;
use crate::op::{Op, WireLine};

/// Streams a trace: the header is read on construction, then ops one line at a time.
///
/// The iterator yields each op or the error of its line; after a bad line it goes on with the
/// next one, so a validator can report every broken line in one pass. A file that ends without
/// its end record yields a [`Rule::Truncated`] error last.
#[derive(Debug)]
pub struct TraceReader<R> {
    input: R,
    buf: Vec<u8>,
    line: u64,
    header: Header,
    ops_read: u64,
    ended: bool,
    finished: bool,
    layers: FxHashMap<Box<str>, Arc<str>>,
    last_layer: Option<Arc<str>>,
}

/// Opens a trace file for streaming.
pub fn open(path: impl AsRef<Path>) -> Result<TraceReader<BufReader<File>>, TraceError> {
    let path = path.as_ref();
    let open_error = |source| TraceError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open_error)?;
    // A directory opens on Unix and fails only at the first read, far from its name.
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(open_error(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory; give the trace file (.jsonl) inside it",
        )));
    }
    TraceReader::new(BufReader::with_capacity(1 << 20, file))
}

fn json_violation(line: u64, err: &serde_json::Error) -> Violation {
    match err.classify() {
        Category::Syntax | Category::Eof => {
            Violation::new(line, Rule::Syntax, format!("not valid JSON: {err}"))
        }
        Category::Data | Category::Io => {
            Violation::new(line, Rule::Schema, format!("not a trace record: {err}"))
        }
    }
}

fn has_key(bytes: &[u8], key: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.contains_key(key)))
        .unwrap_or(false)
}

impl<R: BufRead> TraceReader<R> {
    /// Reads and checks the header line.
    pub fn new(mut input: R) -> Result<Self, TraceError> {
        let mut buf = Vec::with_capacity(256);
        let mut line = 0u64;
        loop {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .map_err(|source| TraceError::Io { line, source })?;
            line += 1;
            if n == 0 {
                return Err(Violation::new(
                    line,
                    Rule::Truncated,
                    "the file is empty: a trace starts with a header line",
                )
                .into());
            }
            if !buf.trim_ascii().is_empty() {
                break;
            }
        }
        let text = buf.trim_ascii();
        let header: Header = serde_json::from_slice(text).map_err(|e| {
            if e.classify() == Category::Data && has_key(text, "op") {
                Violation::new(
                    line,
                    Rule::HeaderPlacement,
                    "the first line is an op; a trace must start with its header line",
                )
            } else if e.classify() == Category::Data && has_key(text, "format") {
                Violation::new(line, Rule::Schema, format!("bad header: {e}"))
            } else {
                json_violation(line, &e)
            }
        })?;
        header.check(line)?;
        Ok(Self {
            input,
            buf,
            line,
            header,
            ops_read: 0,
            ended: false,
            finished: false,
            layers: FxHashMap::default(),
            last_layer: None,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The 1-based line number of the last line read.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Ops read so far.
    pub fn ops_read(&self) -> u64 {
        self.ops_read
    }

    fn read_record(&mut self) -> Option<Result<Op, TraceError>> {
        loop {
            self.buf.clear();
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => {
                    self.finished = true;
                    if self.ended {
                        return None;
                    }
                    return Some(Err(Violation::new(
                        self.line,
                        Rule::Truncated,
                        format!(
                            "the file ends after {} ops without its end record \
                             {{\"end\":{{\"ops\":N}}}}: it was cut short or not finished",
                            self.ops_read
                        ),
                    )
                    .into()));
                }
                Ok(_) => {}
                Err(source) => {
                    self.finished = true;
                    return Some(Err(TraceError::Io {
                        line: self.line,
                        source,
                    }));
                }
            }
            self.line += 1;
            let line = self.line;
            let text = self.buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            if self.ended {
                return Some(Err(Violation::new(
                    line,
                    Rule::EndRecord,
                    "content after the end record",
                )
                .into()));
            }
            let parsed = match crate::fastpath::parse_op_line(text) {
                Some(w) => Ok(w),
                None => serde_json::from_slice::<WireLine<'_>>(text),
            };
            let wire = match parsed {
                Ok(w) => w,
                Err(e) => {
                    // A line that does not parse was meant as an op: count it, so the end
                    // record does not report a second, spurious violation.
                    self.ops_read += 1;
                    let v = if e.classify() == Category::Data && has_key(text, "format") {
                        Violation::new(line, Rule::HeaderPlacement, "a second header line")
                    } else {
                        json_violation(line, &e)
                    };
                    return Some(Err(v.into()));
                }
            };
            if let Some(end) = wire.end {
                self.ended = true;
                if wire.op.is_some() || wire.id.is_some() {
                    return Some(Err(Violation::new(
                        line,
                        Rule::Schema,
                        "the end record carries op fields",
                    )
                    .into()));
                }
                if end.ops != self.ops_read {
                    return Some(Err(Violation::new(
                        line,
                        Rule::EndRecord,
                        format!(
                            "end record says {} ops but {} were read",
                            end.ops, self.ops_read
                        ),
                    )
                    .into()));
                }
                continue;
            }
            self.ops_read += 1;
            let Some(name) = wire.op else {
                return Some(Err(Violation::new(
                    line,
                    Rule::Schema,
                    "record has no `op`",
                )
                .into()));
            };
            let layer = match wire.layer.as_deref() {
                Some(l) => intern(&mut self.layers, &mut self.last_layer, l),
                None => {
                    return Some(Err(Violation::new(
                        line,
                        Rule::Schema,
                        format!("`{name}` op has no `layer`"),
                    )
                    .into()));
                }
            };
            return Some(wire.into_op(line, name, layer).map_err(Into::into));
        }
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Op, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        self.read_record()
    }
}

/// Shares one `Arc<str>` per distinct layer name; consecutive ops usually share a layer, so the
/// last one is checked before the map.
fn intern(
    layers: &mut FxHashMap<Box<str>, Arc<str>>,
    last: &mut Option<Arc<str>>,
    name: &str,
) -> Arc<str> {
    if let Some(l) = last.as_ref().filter(|l| &***l == name) {
        return l.clone();
    }
    let layer = layers
        .entry(name.into())
        .or_insert_with(|| Arc::from(name))
        .clone();
    *last = Some(layer.clone());
    layer
}
