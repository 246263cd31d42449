//! The request body as sent: the protobuf as encoded, or its gzip, deflated as far as it pays
//! ([`effort`](crate::export::effort)).

use std::time::Duration;

use crate::export::backlog::Backlog;
use crate::export::effort::Effort;
use crate::export::gzip::Gzip;
use crate::export::{Compression, ExportError};

/// Compresses request bodies and learns from each request what compressing and sending cost.
#[derive(Debug)]
pub(super) struct Compressor {
    compression: Compression,
    gzip: Gzip,
    effort: Effort,
    backlog: Backlog,
}

impl Compressor {
    /// With `compression`, easing deflate when `backlog` (the export queue) fills up.
    pub(super) fn new(compression: Compression, backlog: Backlog) -> Self {
        Self::with_gzip(compression, backlog, Gzip::new())
    }

    /// With this gzip compressor (tests choose its helper threads).
    pub(super) fn with_gzip(compression: Compression, backlog: Backlog, gzip: Gzip) -> Self {
        Self { compression, gzip, effort: Effort::default(), backlog }
    }

    /// The compression requests are sent with.
    pub(super) fn compression(&self) -> Compression {
        self.compression
    }

    /// The body to send: `body` itself or its gzip.
    pub(super) fn compress<'a>(&'a mut self, body: &'a [u8]) -> Result<&'a [u8], ExportError> {
        if self.compression == Compression::None {
            return Ok(body);
        }
        let share = self.effort.deflated_share(self.backlog.fill());
        let deflate_len =
            if share >= 1.0 { body.len() } else { (body.len() as f64 * share) as usize };
        self.gzip
            .compress(body, deflate_len)
            .map_err(|e| ExportError::Other(format!("gzip: {e}")))?;
        let deflated = self.gzip.last_deflate();
        self.effort.deflated(deflated.input, deflated.output, deflated.took);
        Ok(self.gzip.output())
    }

    /// A body of `bytes` from [`compress`](Self::compress) was delivered in `took`.
    pub(super) fn sent(&mut self, bytes: usize, took: Duration) {
        self.effort.sent(bytes, took);
    }
}
