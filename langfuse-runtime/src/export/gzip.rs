//! Gzip of request bodies, large ones on several cores.
//!
//! Compression is most of the export thread's time (deflate at level 1, the cheapest level,
//! ~1–2.5 µs per span with a 300-byte input and output), so a burst is exported no faster than
//! one core can compress it. A body of at least [`PARALLEL_FROM`] bytes is cut into parts
//! compressed at once, the first on the export thread and the others by helper threads, as
//! pigz does: every part is raw deflate that ends on a byte boundary (a sync flush; the last
//! one finishes the stream), no part refers back into another, and the parts' CRC-32s are
//! combined. The result is **one** ordinary gzip member, which any decoder reads; only the first
//! 32 KiB of each later part compress without history (measured: a fraction of a percent on the
//! wire).
//!
//! Helper threads (`langfuse-gzip`, one fewer than the machine's cores, at most
//! [`MAX_HELPERS`]) start with the first large body and end when the exporter is dropped. A
//! part goes to whoever starts it first: when no core is idle (the app's threads are busy) the
//! export thread, done with its own part, takes the others back rather than wait for a helper
//! the scheduler has not run. A helper that fails or is gone never loses a part either: the
//! export thread compresses it itself.
//!
//! The caller may ask for only a prefix of the body to be deflated; the rest is then written as
//! deflate's stored (uncompressed) blocks in the same member, which costs little more than a
//! copy. [`effort`](super::effort) decides how long that prefix is.

use std::io;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Smallest body split across threads: below it, handing parts over costs more than it saves.
pub(crate) const PARALLEL_FROM: usize = 128 * 1024;
/// Smallest part: each part starts without deflate's 32 KiB history.
const MIN_PART: usize = 64 * 1024;
/// Most helper threads, whatever the core count.
pub(crate) const MAX_HELPERS: usize = 3;

/// The fixed gzip header (RFC 1952): deflate, no name or time, "fastest" flag, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

/// Compresses request bodies into one reused buffer.
pub(crate) struct Gzip {
    out: Vec<u8>,
    deflate: Compress,
    /// Level 0: the stored blocks after the deflated prefix.
    store: Compress,
    helpers: Helpers,
    /// The last body's deflated prefix.
    last_deflate: Deflated,
}

/// What deflating a body's prefix took and gave.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Deflated {
    /// Bytes of the body deflated.
    pub(crate) input: usize,
    /// Bytes they became in the member.
    pub(crate) output: usize,
    /// Wall time, helper threads included.
    pub(crate) took: Duration,
}

/// The helper threads, started on first need.
enum Helpers {
    /// Not started yet; this many may be.
    Idle(usize),
    Running(Vec<Helper>),
}

impl std::fmt::Debug for Gzip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let helpers = match &self.helpers {
            Helpers::Idle(n) => *n,
            Helpers::Running(h) => h.len(),
        };
        f.debug_struct("Gzip").field("helpers", &helpers).finish_non_exhaustive()
    }
}

impl Gzip {
    /// One helper per core but the export thread's own, at most [`MAX_HELPERS`].
    pub(crate) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_helpers(cores.saturating_sub(1).min(MAX_HELPERS))
    }

    /// With exactly `helpers` helper threads at most (0: everything on the calling thread).
    pub(crate) fn with_helpers(helpers: usize) -> Self {
        Self {
            out: Vec::new(),
            deflate: Compress::new(Compression::fast(), false),
            store: Compress::new(Compression::none(), false),
            helpers: Helpers::Idle(helpers),
            last_deflate: Deflated::default(),
        }
    }

    /// `body` as one gzip member, valid until the next call: its first `deflate_len` bytes
    /// deflated (on several threads when large), the rest stored.
    pub(crate) fn compress(&mut self, body: &[u8], deflate_len: usize) -> io::Result<&[u8]> {
        let (deflated, stored) = body.split_at(deflate_len.min(body.len()));
        self.out.clear();
        self.out.reserve(deflated.len() / 2 + stored.len() + stored.len() / 8192 + 64);
        self.out.extend_from_slice(&HEADER);
        let mut crc = Crc::new();
        let started = Instant::now();
        // An empty body is still one (finished, empty) deflate stream.
        if !deflated.is_empty() || stored.is_empty() {
            self.deflate_parts(deflated, stored.is_empty(), &mut crc)?;
        }
        self.last_deflate = Deflated {
            input: deflated.len(),
            output: self.out.len() - HEADER.len(),
            took: started.elapsed(),
        };
        if !stored.is_empty() {
            deflate(&mut self.store, stored, &mut self.out, true)?;
            crc.update(stored);
        }
        self.out.extend_from_slice(&crc.sum().to_le_bytes());
        self.out.extend_from_slice(&crc.amount().to_le_bytes());
        Ok(&self.out)
    }

    /// The last member, as [`compress`](Self::compress) returned it.
    pub(crate) fn output(&self) -> &[u8] {
        &self.out
    }

    /// How the last body's deflated prefix went (the rest of the member is stored blocks, the
    /// header and the trailer).
    pub(crate) fn last_deflate(&self) -> Deflated {
        self.last_deflate
    }

    /// Deflates `input` into `out` in parts, the later ones by the helpers; `finish` ends the
    /// deflate stream, else it ends on a byte boundary for stored blocks to follow.
    fn deflate_parts(&mut self, input: &[u8], finish: bool, crc: &mut Crc) -> io::Result<()> {
        let helpers = helpers_for(&mut self.helpers, input.len());
        let (first, rest) = parts(input.len(), helpers.len() + 1);
        let rest = rest.as_slice();
        let last = |range: &Range<usize>| finish && range.end == input.len();
        // Hand the later parts out first, so the helpers work while this thread does the first.
        for (helper, range) in helpers.iter_mut().zip(rest) {
            helper.start(&input[range.clone()], last(range));
        }
        deflate(&mut self.deflate, &input[first.clone()], &mut self.out, last(&first))?;
        crc.update(&input[first]);
        for (i, range) in rest.iter().enumerate() {
            let part = &input[range.clone()];
            // Every part is written, with or without a helper (`parts` makes no more of them
            // than there are helpers, but a part without one must never be skipped).
            match helpers.get_mut(i).and_then(Helper::finish) {
                Some((deflated, part_crc)) => {
                    self.out.extend_from_slice(deflated);
                    crc.combine(&part_crc);
                }
                // The helper is gone or failed: this part is done here, nothing is lost.
                None => {
                    deflate(&mut self.deflate, part, &mut self.out, last(range))?;
                    crc.update(part);
                }
            }
        }
        Ok(())
    }
}

/// The helpers a body of `len` bytes is shared with: none for a small one.
fn helpers_for(helpers: &mut Helpers, len: usize) -> &mut [Helper] {
    if len < PARALLEL_FROM {
        return &mut [];
    }
    if let Helpers::Idle(n) = *helpers {
        *helpers = Helpers::Running((0..n).filter_map(|_| Helper::spawn()).collect());
    }
    match helpers {
        Helpers::Running(running) => {
            let useful = (len / MIN_PART).saturating_sub(1).min(running.len());
            &mut running[..useful]
        }
        Helpers::Idle(_) => &mut [],
    }
}

/// `len` bytes cut into at most `most` equal parts of at least [`MIN_PART`] (one when small):
/// the first, and the others in order.
fn parts(len: usize, most: usize) -> (Range<usize>, Vec<Range<usize>>) {
    let count = (len / MIN_PART).clamp(1, most.max(1));
    let size = len.div_ceil(count).max(1);
    let first = 0..size.min(len);
    let rest = (size..len).step_by(size).map(|s| s..(s + size).min(len)).collect();
    (first, rest)
}

/// Raw deflate of `input` appended to `out`: ending on a byte boundary with the stream left
/// open (a sync flush), or finished when `last`.
fn deflate(compress: &mut Compress, input: &[u8], out: &mut Vec<u8>, last: bool) -> io::Result<()> {
    compress.reset();
    let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = compress.total_in() as usize;
        let status = compress
            .compress_vec(&input[consumed..], out, flush)
            .map_err(|e| io::Error::other(format!("deflate: {e}")))?;
        let all_in = compress.total_in() as usize == input.len();
        match status {
            Status::StreamEnd => return Ok(()),
            // A sync flush is complete once the input is in and output space was left over.
            _ if !last && all_in && out.len() < out.capacity() => return Ok(()),
            _ => {}
        }
    }
}

/// One helper thread and the buffers that travel to it and back.
///
/// A part handed to a helper is *claimed* by whoever gets to it first: the helper when it
/// starts, or the export thread once it has done its own part. So when the machine has no idle
/// core (a burst: the app's threads are busy), the export thread takes the part back instead of
/// waiting for a helper the scheduler has not run, and is never slower than compressing alone
/// but for copying the part out. A helper still busy with a part taken back is skipped until
/// it is idle again.
struct Helper {
    jobs: Sender<Job>,
    done: Receiver<Job>,
    /// Who does the job handed out: [`QUEUED`], [`HELPER`] or [`TAKEN_BACK`].
    claim: Arc<AtomicU8>,
    /// A job is with the thread and its buffers have not come back.
    in_flight: bool,
    /// The job handed out in this request, to be collected or taken back.
    pending: bool,
    /// The buffers of the last job back from the thread (its output is read from here).
    collected: Option<Job>,
}

const QUEUED: u8 = 0;
const HELPER: u8 = 1;
const TAKEN_BACK: u8 = 2;

/// A part to compress and, once done, its deflate stream and CRC.
struct Job {
    input: Vec<u8>,
    last: bool,
    output: Vec<u8>,
    crc: Crc,
    /// The helper compressed it (not taken back, not failed).
    ok: bool,
}

impl Helper {
    fn spawn() -> Option<Self> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (outbox, done) = mpsc::channel::<Job>();
        let claim = Arc::new(AtomicU8::new(QUEUED));
        let helper_claim = claim.clone();
        std::thread::Builder::new()
            .name("langfuse-gzip".into())
            .spawn(move || {
                let mut compress = Compress::new(Compression::fast(), false);
                // Ends when the exporter (the sender) is dropped.
                while let Ok(mut job) = inbox.recv() {
                    job.ok = false;
                    let mine = helper_claim
                        .compare_exchange(QUEUED, HELPER, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok();
                    if mine {
                        job.output.clear();
                        let Job { input, last, output, .. } = &mut job;
                        let ok = catch_unwind(AssertUnwindSafe(|| {
                            deflate(&mut compress, input, output, *last).is_ok()
                        }));
                        job.ok = ok.unwrap_or(false);
                        if job.ok {
                            let mut crc = Crc::new();
                            crc.update(&job.input);
                            job.crc = crc;
                        } else {
                            // The compressor may be mid-stream after a failure or panic.
                            compress = Compress::new(Compression::fast(), false);
                        }
                    }
                    if outbox.send(job).is_err() {
                        return;
                    }
                }
            })
            .ok()?;
        Some(Self { jobs, done, claim, in_flight: false, pending: false, collected: None })
    }

    /// Copies `part` out (the body is borrowed only for this call) and hands it over, unless
    /// the thread is still busy with an earlier part.
    fn start(&mut self, part: &[u8], last: bool) {
        self.pending = false;
        if self.in_flight {
            match self.done.try_recv() {
                Ok(job) => {
                    self.collected = Some(job);
                    self.in_flight = false;
                }
                Err(_) => return,
            }
        }
        let mut job = self.collected.take().unwrap_or(Job {
            input: Vec::new(),
            last,
            output: Vec::new(),
            crc: Crc::new(),
            ok: false,
        });
        job.input.clear();
        job.input.extend_from_slice(part);
        job.last = last;
        self.claim.store(QUEUED, Ordering::Release);
        if self.jobs.send(job).is_ok() {
            self.in_flight = true;
            self.pending = true;
        }
    }

    /// The deflated part and its CRC; `None` when the caller compresses the part itself: not
    /// handed out, taken back because the thread had not started it, or failed there.
    fn finish(&mut self) -> Option<(&[u8], Crc)> {
        if !std::mem::take(&mut self.pending) {
            return None;
        }
        let taken_back = self
            .claim
            .compare_exchange(QUEUED, TAKEN_BACK, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if taken_back {
            // Its buffers come back whenever the thread gets to it.
            return None;
        }
        let Ok(mut job) = self.done.recv() else {
            self.in_flight = false;
            return None;
        };
        self.in_flight = false;
        let result = job.ok.then(|| std::mem::replace(&mut job.crc, Crc::new()));
        let job = self.collected.insert(job);
        result.map(|crc| (job.output.as_slice(), crc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Text like span payloads (words, JSON punctuation) with random ids between.
    fn body(len: usize) -> Vec<u8> {
        let words = ["the ", "model ", "answer ", "{\"role\":", "\"user\"", "tool ", "Paris "];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state.is_multiple_of(7) {
                out.extend_from_slice(&state.to_le_bytes());
            } else {
                out.extend_from_slice(words[(state % words.len() as u64) as usize].as_bytes());
            }
        }
        out.truncate(len);
        out
    }

    /// One gzip member (`GzDecoder` reads exactly one), decoding to the input.
    fn gunzip_one_member(gz: &[u8]) -> Vec<u8> {
        let mut decoder = flate2::read::GzDecoder::new(gz);
        let mut out = Vec::new();
        decoder.read_to_end(&mut out).expect("valid gzip");
        let mut rest = Vec::new();
        decoder.into_inner().read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{} bytes after the first member", rest.len());
        out
    }

    #[test]
    fn bodies_of_every_size_come_back_exactly_whatever_the_helpers() {
        for helpers in [0, 1, 3] {
            let mut gzip = Gzip::with_helpers(helpers);
            for len in [0, 1, 4096, PARALLEL_FROM - 1, PARALLEL_FROM, 300_000, 1_000_003] {
                let input = body(len);
                // Twice: the second time through reused compressors and buffers.
                for _ in 0..2 {
                    let gz = gzip.compress(&input, usize::MAX).expect("compresses").to_vec();
                    assert_eq!(gunzip_one_member(&gz), input, "{len} bytes, {helpers} helpers");
                }
            }
        }
    }

    #[test]
    fn a_deflated_prefix_and_a_stored_rest_make_one_member_of_the_body() {
        for helpers in [0, 2] {
            let mut gzip = Gzip::with_helpers(helpers);
            for len in [1, 70_000, 600_000] {
                let input = body(len);
                let whole = gzip.compress(&input, len).unwrap().len();
                for prefix in [0, 1, len / 3, len - 1] {
                    let gz = gzip.compress(&input, prefix).unwrap().to_vec();
                    assert_eq!(gunzip_one_member(&gz), input, "{len} bytes, {prefix} deflated");
                    let deflated = gzip.last_deflate().output;
                    assert_eq!(gzip.last_deflate().input, prefix);
                    // The stored rest is its bytes plus 5 per 64 KiB block; header and trailer 18.
                    let stored = len - prefix;
                    assert!(gz.len() <= deflated + stored + 5 * (stored / 65_535 + 1) + 18);
                    assert!(prefix > 0 || deflated == 0);
                    if prefix == len / 3 && len > 1 {
                        assert!(
                            whole < gz.len() && gz.len() < len,
                            "{whole} < {} < {len}",
                            gz.len()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn large_bodies_are_shared_and_lose_almost_nothing_on_the_wire() {
        let input = body(600_000);
        let alone = Gzip::with_helpers(0).compress(&input, usize::MAX).unwrap().len();
        let mut shared = Gzip::with_helpers(3);
        let split = shared.compress(&input, usize::MAX).unwrap().len();
        assert!(matches!(&shared.helpers, Helpers::Running(h) if h.len() == 3));
        // Three part boundaries: three 32 KiB windows without history and three sync markers.
        assert!(split < alone + alone / 50, "{split} vs {alone} bytes");
        assert_eq!(
            parts(600_000, 4),
            (0..150_000, vec![150_000..300_000, 300_000..450_000, 450_000..600_000])
        );
        assert_eq!(parts(100_000, 4), (0..100_000, vec![]));
        assert_eq!(parts(0, 4), (0..0, vec![]));
    }

    #[test]
    fn a_part_its_helper_has_not_started_is_taken_back() {
        let mut gzip = Gzip::with_helpers(1);
        let input = body(300_000);
        gzip.compress(&input, usize::MAX).unwrap();
        // The next job waits in a channel nobody reads: a helper the scheduler does not run.
        let (stalled, waiting) = mpsc::channel();
        let Helpers::Running(helpers) = &mut gzip.helpers else { panic!("helpers started") };
        helpers[0].jobs = stalled;
        let gz = gzip.compress(&input, usize::MAX).unwrap().to_vec();
        assert_eq!(gunzip_one_member(&gz), input);
        let Helpers::Running(helpers) = &gzip.helpers else { unreachable!() };
        assert_eq!(helpers[0].claim.load(Ordering::Acquire), TAKEN_BACK);
        // Still busy (its buffers not back): skipped, the body is compressed here alone.
        let gz = gzip.compress(&input, usize::MAX).unwrap().to_vec();
        assert_eq!(gunzip_one_member(&gz), input);
        assert_eq!(waiting.try_iter().count(), 1, "one job handed out, none since");
    }

    #[test]
    fn a_helper_that_is_gone_loses_no_part() {
        let mut gzip = Gzip::with_helpers(2);
        let input = body(400_000);
        gzip.compress(&input, usize::MAX).unwrap();
        // Both threads end (their inboxes close); the next body is compressed here alone.
        if let Helpers::Running(helpers) = &mut gzip.helpers {
            for helper in helpers.iter_mut() {
                let (closed, _) = mpsc::channel();
                helper.jobs = closed;
            }
        }
        let gz = gzip.compress(&input, usize::MAX).unwrap().to_vec();
        assert_eq!(gunzip_one_member(&gz), input);
    }
}
