//! Trace and observation ids: random or derived from a seed, non-zero, printed as lower-case
//! hex like every Langfuse SDK.

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::num::{NonZeroU64, NonZeroU128};

/// A 16-byte trace id, shown as 32 lower-case hex characters.
///
/// ```
/// use langfuse_runtime::TraceId;
/// let id: TraceId = "656f344917362c3f5f8cd92a351d471d".parse().unwrap();
/// assert_eq!(id.to_string(), "656f344917362c3f5f8cd92a351d471d");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(NonZeroU128);

/// An 8-byte observation id (the OpenTelemetry span id), shown as 16 lower-case hex characters.
///
/// ```
/// use langfuse_runtime::ObservationId;
/// let id: ObservationId = "00f067aa0ba902b7".parse().unwrap();
/// assert_eq!(id.to_string(), "00f067aa0ba902b7");
/// assert_eq!(ObservationId::from_u64(id.to_u64()), Some(id));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObservationId(NonZeroU64);

/// Error returned when an id string is not hex of the right length, or is all zeros.
///
/// ```
/// use langfuse_runtime::TraceId;
/// assert!("not-hex".parse::<TraceId>().is_err());
/// assert!("00000000000000000000000000000000".parse::<TraceId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError {
    expected_len: usize,
    value: String,
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a valid id: expected {} hex characters, not all zero",
            self.value, self.expected_len
        )
    }
}

impl std::error::Error for ParseIdError {}

macro_rules! id_impl {
    ($name:ident, $int:ty, $nonzero:ty, $bytes:literal, $from:ident, $to:ident) => {
        impl $name {
            /// Builds an id from its integer form; `None` for the invalid all-zero id.
            ///
            /// ```
            /// use langfuse_runtime::{ObservationId, TraceId};
            /// let trace = TraceId::from_u128(0x2a).unwrap();
            /// assert_eq!(trace.to_string(), "0000000000000000000000000000002a");
            /// let id = ObservationId::from_u64(0x2a).unwrap();
            /// assert_eq!(id.to_string(), "000000000000002a");
            /// assert!(TraceId::from_u128(0).is_none() && ObservationId::from_u64(0).is_none());
            /// ```
            pub const fn $from(value: $int) -> Option<Self> {
                // Non-zero inside, so `Option<Self>` is as small as the id itself.
                match <$nonzero>::new(value) {
                    Some(value) => Some(Self(value)),
                    None => None,
                }
            }

            /// The id as a big-endian integer.
            ///
            /// ```
            /// use langfuse_runtime::{ObservationId, TraceId};
            /// let trace: TraceId = "0af7651916cd43dd8448eb211c80319c".parse().unwrap();
            /// assert_eq!(trace.to_u128(), 0x0af7651916cd43dd8448eb211c80319c);
            /// let id: ObservationId = "b7ad6b7169203331".parse().unwrap();
            /// assert_eq!(id.to_u64(), 0xb7ad6b7169203331);
            /// ```
            pub const fn $to(self) -> $int {
                self.0.get()
            }

            /// The id as big-endian bytes, as it goes into OTLP.
            ///
            /// ```
            /// use langfuse_runtime::{ObservationId, TraceId};
            /// assert_eq!(TraceId::from_u128(1).unwrap().to_bytes()[15], 1);
            /// assert_eq!(ObservationId::from_u64(0x0102).unwrap().to_bytes(), [0, 0, 0, 0, 0, 0, 1, 2]);
            /// ```
            pub const fn to_bytes(self) -> [u8; $bytes] {
                self.0.get().to_be_bytes()
            }

            /// Builds an id from big-endian bytes; `None` for all zeros.
            ///
            /// ```
            /// use langfuse_runtime::{ObservationId, TraceId};
            /// let id = ObservationId::from_bytes([0, 0, 0, 0, 0, 0, 1, 2]).unwrap();
            /// assert_eq!(id.to_u64(), 0x0102);
            /// assert_eq!(TraceId::from_bytes(id_bytes()), None);
            /// # fn id_bytes() -> [u8; 16] { [0; 16] }
            /// ```
            pub const fn from_bytes(bytes: [u8; $bytes]) -> Option<Self> {
                Self::$from(<$int>::from_be_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:0width$x}", self.0, width = $bytes * 2)
            }
        }

        /// Serialized as the lower-case hex string Langfuse shows.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ParseIdError;
            /// Accepts exactly the hex digits (either case), like Python's `int(x, 16)`
            /// on a well-formed id.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let error = || ParseIdError { expected_len: $bytes * 2, value: s.to_owned() };
                if s.len() != $bytes * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(error());
                }
                <$int>::from_str_radix(s, 16).ok().and_then(Self::$from).ok_or_else(error)
            }
        }
    };
}

id_impl!(TraceId, u128, NonZeroU128, 16, from_u128, to_u128);
id_impl!(ObservationId, u64, NonZeroU64, 8, from_u64, to_u64);

const ONE_TRACE: TraceId = match TraceId::from_u128(1) {
    Some(id) => id,
    None => unreachable!(),
};
const ONE_OBSERVATION: ObservationId = match ObservationId::from_u64(1) {
    Some(id) => id,
    None => unreachable!(),
};

impl TraceId {
    /// A fresh random trace id.
    ///
    /// ```
    /// use langfuse_runtime::TraceId;
    /// assert_ne!(TraceId::random(), TraceId::random());
    /// assert_eq!(TraceId::random().to_string().len(), 32);
    /// ```
    pub fn random() -> Self {
        let high = u128::from(next_random_u64());
        let low = u128::from(next_random_u64());
        Self::from_u128((high << 64) | low).unwrap_or(ONE_TRACE)
    }

    /// The trace id every Langfuse SDK derives from `seed` (Python's `create_trace_id(seed)`):
    /// the first 16 bytes of the SHA-256 of its UTF-8 bytes. Use it to address a trace by an
    /// external key (an order number, a request id) from any service or language.
    ///
    /// ```
    /// use langfuse_runtime::{TraceContext, TraceId, span};
    /// let trace_id = TraceId::from_seed("conformance-seed-1");
    /// assert_eq!(trace_id.to_string(), "656f344917362c3f5f8cd92a351d471d");
    /// // Observations started under this context belong to that trace.
    /// span("step").parent(TraceContext::from_trace_id(trace_id, None)).start().end();
    /// ```
    pub fn from_seed(seed: &str) -> Self {
        let digest = sha256(seed);
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&digest[..16]);
        // An all-zero prefix needs a SHA-256 preimage of 128 zero bits: not a practical case.
        Self::from_bytes(bytes).unwrap_or(ONE_TRACE)
    }
}

impl ObservationId {
    /// A fresh random observation id.
    ///
    /// ```
    /// use langfuse_runtime::ObservationId;
    /// assert_ne!(ObservationId::random(), ObservationId::random());
    /// assert_eq!(ObservationId::random().to_string().len(), 16);
    /// ```
    pub fn random() -> Self {
        Self::from_u64(next_random_u64()).unwrap_or(ONE_OBSERVATION)
    }

    /// The observation id the Langfuse SDKs derive from `seed`: the first 8 bytes of the
    /// SHA-256 of its UTF-8 bytes (Python's `_create_observation_id(seed)`), e.g. to name a
    /// parent observation of another service that only shares a key with this one.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, TraceContext, TraceId};
    /// let parent = ObservationId::from_seed("conformance-seed-1");
    /// assert_eq!(parent.to_string(), "656f344917362c3f");
    /// let cx = TraceContext::from_trace_id(TraceId::from_seed("order-42"), Some(parent));
    /// assert_eq!(cx.observation_id(), Some(parent));
    /// ```
    pub fn from_seed(seed: &str) -> Self {
        let digest = sha256(seed);
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&digest[..8]);
        Self::from_bytes(bytes).unwrap_or(ONE_OBSERVATION)
    }
}

fn sha256(seed: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(seed.as_bytes()).into()
}

thread_local! {
    // Per-thread generator: no lock and no syscall per id. Seeded from the OS-random keys
    // that std's `RandomState` already fetched, mixed with the thread's address.
    // Zero means "not seeded yet", so the slot needs no lazy initialisation check.
    static RNG: Cell<u64> = const { Cell::new(0) };
}

fn seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_usize(&hasher as *const _ as usize);
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish() | 1
}

/// wyrand: fast, passes BigCrush, and good enough for ids (not for secrets).
fn next_random_u64() -> u64 {
    let step = |state: u64| {
        let state = if state == 0 { seed() } else { state };
        state.wrapping_add(0xa076_1d64_78bd_642f)
    };
    let s = RNG
        .try_with(|cell| {
            let s = step(cell.get());
            cell.set(s);
            s
        })
        .unwrap_or_else(|_| step(0));
    let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
    ((t >> 64) as u64) ^ (t as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_width() {
        let id = TraceId::from_u128(0xabc).unwrap();
        assert_eq!(id.to_string(), "00000000000000000000000000000abc");
        assert_eq!(id.to_string().parse::<TraceId>().unwrap(), id);
        let obs = ObservationId::from_u64(0x1f).unwrap();
        assert_eq!(obs.to_string(), "000000000000001f");
        assert_eq!("000000000000001F".parse::<ObservationId>().unwrap(), obs);
    }

    #[test]
    fn rejects_bad_ids() {
        assert!("".parse::<TraceId>().is_err());
        assert!("00000000000000000000000000000000".parse::<TraceId>().is_err());
        assert!("zz000000000000000000000000000001".parse::<TraceId>().is_err());
        assert!("+0000000000000001".parse::<ObservationId>().is_err());
    }

    #[test]
    fn optional_ids_cost_no_space() {
        assert_eq!(std::mem::size_of::<Option<ObservationId>>(), 8);
        assert_eq!(std::mem::size_of::<Option<TraceId>>(), 16);
    }

    #[test]
    fn seeded_ids_are_sha256_prefixes() {
        // Python: hashlib.sha256(seed.encode("utf-8")).digest()[:16].hex() (and [:8]).
        assert_eq!(
            TraceId::from_seed("conformance-seed-1").to_string(),
            "656f344917362c3f5f8cd92a351d471d"
        );
        // SHA-256("") = e3b0c442 98fc1c14 9afbf4c8 996fb924 ...
        assert_eq!(TraceId::from_seed("").to_string(), "e3b0c44298fc1c149afbf4c8996fb924");
        assert_eq!(ObservationId::from_seed("").to_string(), "e3b0c44298fc1c14");
        // SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 ...
        assert_eq!(TraceId::from_seed("abc").to_string(), "ba7816bf8f01cfea414140de5dae2223");
        assert_eq!(TraceId::from_seed("abc"), TraceId::from_seed("abc"));
        assert_ne!(TraceId::from_seed("abc"), TraceId::from_seed("abd"));
    }

    #[test]
    fn random_ids_differ() {
        let a = TraceId::random();
        let b = TraceId::random();
        assert_ne!(a, b);
        assert_ne!(ObservationId::random(), ObservationId::random());
    }
}
