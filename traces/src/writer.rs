use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::TraceError;
use crate::fastpath::format_op_line;
use crate::header::Header;
use crate::op::{EndRecord, Op, WireLine};

/// Writes a trace as JSON Lines: header, ops, and the end record on [`TraceWriter::finish`].
///
/// The writer does not validate (producers may write ops in any order and validate later with
/// [`crate::analyze`]); it only refuses what cannot be represented.
#[derive(Debug)]
pub struct TraceWriter<W: Write> {
    out: W,
    ops: u64,
    /// The line being formatted, reused across ops.
    line: Vec<u8>,
}

/// Creates a trace file. Prefer writing to a temporary path and renaming on success, so that a
/// failed run leaves no partial trace behind.
pub fn create(
    path: impl AsRef<Path>,
    header: &Header,
) -> Result<TraceWriter<BufWriter<File>>, TraceError> {
    let path = path.as_ref();
    let file = File::create(path).map_err(|source| TraceError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    TraceWriter::new(BufWriter::with_capacity(1 << 20, file), header)
}

fn io(ops: u64) -> impl FnOnce(std::io::Error) -> TraceError {
    move |source| TraceError::Io {
        line: ops + 1,
        source,
    }
}

impl<W: Write> TraceWriter<W> {
    pub fn new(mut out: W, header: &Header) -> Result<Self, TraceError> {
        serde_json::to_writer(&mut out, header).map_err(|e| io(0)(e.into()))?;
        out.write_all(b"\n").map_err(io(0))?;
        Ok(Self {
            out,
            ops: 0,
            line: Vec::with_capacity(128),
        })
    }

    pub fn write_op(&mut self, op: &Op) -> Result<(), TraceError> {
        if op.args.len() != op.kind.name().arity() {
            return Err(TraceError::Write {
                id: op.id,
                reason: format!(
                    "`{}` takes {} operands, got {}",
                    op.kind.name(),
                    op.kind.name().arity(),
                    op.args.len()
                ),
            });
        }
        self.line.clear();
        if format_op_line(op, &mut self.line).is_none() {
            serde_json::to_writer(&mut self.line, &WireLine::from_op(op))
                .map_err(|e| io(self.ops)(e.into()))?;
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(io(self.ops))?;
        self.ops += 1;
        Ok(())
    }

    /// Writes the end record and flushes; returns the underlying writer.
    pub fn finish(mut self) -> Result<W, TraceError> {
        let end = WireLine {
            end: Some(EndRecord { ops: self.ops }),
            ..WireLine::default()
        };
        serde_json::to_writer(&mut self.out, &end).map_err(|e| io(self.ops)(e.into()))?;
        self.out.write_all(b"\n").map_err(io(self.ops))?;
        self.out.flush().map_err(io(self.ops))?;
        Ok(self.out)
    }

    /// Ops written so far.
    pub fn ops_written(&self) -> u64 {
        self.ops
    }
}
