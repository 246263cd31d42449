//! Prints each finished trace as an indented tree (stub: being written).

use super::{ExportError, SpanExporter};
use crate::record::ObservationRecord;

/// Prints finished traces as indented trees.
pub struct ConsoleExporter;

impl ConsoleExporter {
    /// Prints to stdout (stub).
    pub fn stdout() -> Self {
        Self
    }
}

impl SpanExporter for ConsoleExporter {
    fn export(&mut self, _batch: &[ObservationRecord]) -> Result<(), ExportError> {
        Ok(())
    }
}
