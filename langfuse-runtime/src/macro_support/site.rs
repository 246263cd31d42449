//! What the macro knows about a function before it runs: its call site's constants, and the
//! start-of-call capture (input and metadata).

use crate::capture::Json;
use crate::kind::{Level, ObservationType};

/// What one `#[observe]` function is: a `static` in the generated function body.
#[derive(Debug)]
pub struct CallSite {
    pub(super) name: &'static str,
    pub(super) observation_type: ObservationType,
    pub(super) capture_input: Option<bool>,
    pub(super) capture_output: Option<bool>,
    pub(super) level: Option<Level>,
    pub(super) version: Option<&'static str>,
}

impl CallSite {
    /// A call site with the client's IO-capture default and no level or version.
    pub const fn new(name: &'static str, observation_type: ObservationType) -> Self {
        Self {
            name,
            observation_type,
            capture_input: None,
            capture_output: None,
            level: None,
            version: None,
        }
    }
    /// `capture_input = …`.
    pub const fn capture_input(mut self, on: bool) -> Self {
        self.capture_input = Some(on);
        self
    }
    /// `capture_output = …`.
    pub const fn capture_output(mut self, on: bool) -> Self {
        self.capture_output = Some(on);
        self
    }
    /// `level = …`.
    pub const fn level(mut self, level: Level) -> Self {
        self.level = Some(level);
        self
    }
    /// `version = …`.
    pub const fn version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }
}

/// What the capture closure fills in at the start of a recorded call.
#[derive(Debug)]
pub struct Start {
    pub(super) input: Option<Json>,
    pub(super) metadata: Vec<(&'static str, Json)>,
}

impl Start {
    /// The input object, when input is captured.
    #[inline]
    pub fn input(&mut self) -> Option<&mut Json> {
        self.input.as_mut()
    }

    /// The value of metadata key `key`.
    pub fn metadata(&mut self, key: &'static str) -> &mut Json {
        self.metadata.push((key, Json::new()));
        let last = self.metadata.len() - 1;
        &mut self.metadata[last].1
    }
}

/// The capture closure of a function whose input is empty and that has no metadata.
#[inline(always)]
pub fn no_input(_: &mut Start) {}
