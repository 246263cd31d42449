//! Protobuf encoding of OTLP `ExportTraceServiceRequest`, straight from observation records.
//!
//! Hand-written rather than built from `opentelemetry-proto` structs: the export thread encodes
//! every span once, and an owned message tree would allocate for each attribute key and value
//! first. Each span is visited twice — once to compute its size, once to write it — so every
//! length prefix is a canonical varint and no payload byte is copied twice. The output is
//! byte-for-byte what `prost` produces for the same message (fields in tag order, proto3
//! defaults left out).
//!
//! Shape of one request (field numbers from `opentelemetry/proto/**/*.proto`):
//!
//! ```text
//! ExportTraceServiceRequest { 1: ResourceSpans {
//!     1: Resource { 1: KeyValue* }
//!     2: ScopeSpans {
//!         1: InstrumentationScope { 1: name, 2: version, 3: KeyValue* }
//!         2: Span*
//! } } }
//! ```
//!

use std::ops::Range;

use super::ExportResource;
use crate::attributes::{
    AttrKey, AttrValue, SpanDefaults, for_each_attribute, for_each_exception_attribute, keys,
};
use crate::record::ObservationRecord;

/// `telemetry.sdk.language` resource value.
const SDK_LANGUAGE: &str = "rust";
/// `telemetry.sdk.name` resource value.
const SDK_NAME: &str = "langfuse-rust";

/// `Span.kind` = `SPAN_KIND_INTERNAL`.
const SPAN_KIND_INTERNAL: u64 = 1;
/// `Status.code` = `STATUS_CODE_ERROR`.
const STATUS_CODE_ERROR: u64 = 2;
/// `Span.flags`: "has is-remote information" (bit 8), as Python writes on every span.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
/// `Span.flags`: the parent is remote (bit 9).
const FLAG_IS_REMOTE: u32 = 0x200;

/// Wire tags: `(field_number << 3) | wire_type`, precomputed.
mod tag {
    // ExportTraceServiceRequest
    pub const REQUEST_RESOURCE_SPANS: u8 = 1 << 3 | 2;
    // ResourceSpans
    pub const RESOURCE_SPANS_RESOURCE: u8 = 1 << 3 | 2;
    pub const RESOURCE_SPANS_SCOPE_SPANS: u8 = 2 << 3 | 2;
    // Resource
    pub const RESOURCE_ATTRIBUTES: u8 = 1 << 3 | 2;
    // ScopeSpans
    pub const SCOPE_SPANS_SCOPE: u8 = 1 << 3 | 2;
    pub const SCOPE_SPANS_SPANS: u8 = 2 << 3 | 2;
    // InstrumentationScope
    pub const SCOPE_NAME: u8 = 1 << 3 | 2;
    pub const SCOPE_VERSION: u8 = 2 << 3 | 2;
    pub const SCOPE_ATTRIBUTES: u8 = 3 << 3 | 2;
    // Span
    pub const SPAN_TRACE_ID: u8 = 1 << 3 | 2;
    pub const SPAN_SPAN_ID: u8 = 2 << 3 | 2;
    pub const SPAN_PARENT_SPAN_ID: u8 = 4 << 3 | 2;
    pub const SPAN_NAME: u8 = 5 << 3 | 2;
    pub const SPAN_KIND: u8 = 6 << 3;
    pub const SPAN_START: u8 = 7 << 3 | 1;
    pub const SPAN_END: u8 = 8 << 3 | 1;
    pub const SPAN_ATTRIBUTES: u8 = 9 << 3 | 2;
    pub const SPAN_DROPPED_ATTRIBUTES: u8 = 10 << 3;
    pub const SPAN_EVENTS: u8 = 11 << 3 | 2;
    pub const SPAN_STATUS: u8 = 15 << 3 | 2;
    /// Field 16, wire type 5 (fixed32): `133` needs two varint bytes.
    pub const SPAN_FLAGS: [u8; 2] = [0x85, 0x01];
    // Span.Event
    pub const EVENT_TIME: u8 = 1 << 3 | 1;
    pub const EVENT_NAME: u8 = 2 << 3 | 2;
    pub const EVENT_ATTRIBUTES: u8 = 3 << 3 | 2;
    // Status
    pub const STATUS_MESSAGE: u8 = 2 << 3 | 2;
    pub const STATUS_CODE: u8 = 3 << 3;
    // KeyValue
    pub const KV_KEY: u8 = 1 << 3 | 2;
    pub const KV_VALUE: u8 = 2 << 3 | 2;
    // AnyValue
    pub const ANY_STRING: u8 = 1 << 3 | 2;
    pub const ANY_BOOL: u8 = 2 << 3;
    pub const ANY_INT: u8 = 3 << 3;
    pub const ANY_ARRAY: u8 = 5 << 3 | 2;
    // ArrayValue
    pub const ARRAY_VALUES: u8 = 1 << 3 | 2;
}

/// Marks a span left out of every request because it alone exceeds the size limit.
const OVERSIZED: usize = usize::MAX;

#[inline]
fn varint_len(value: u64) -> usize {
    // Bits needed, rounded up to 7-bit groups; `| 1` makes zero take one byte.
    ((((value | 1).leading_zeros() ^ 63) * 9 + 73) / 64) as usize
}

#[inline]
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Size of a length-delimited field with a one-byte tag and a body of `len` bytes.
#[inline]
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

#[inline]
fn put_len_field(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    put_varint(out, len as u64);
}

#[inline]
fn put_bytes_field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    put_len_field(out, tag, bytes.len());
    out.extend_from_slice(bytes);
}

fn str_array_body_len(items: &[String]) -> usize {
    items.iter().map(|s| field_len(field_len(s.len()))).sum()
}

/// Size of the `AnyValue` message.
#[inline]
fn any_value_len(value: &AttrValue<'_>) -> usize {
    match *value {
        // A oneof member is written even when empty, so `""` stays a string value.
        AttrValue::Str(s) => field_len(s.len()),
        AttrValue::Bool(_) => 2,
        AttrValue::Int(i) => 1 + varint_len(i as u64),
        AttrValue::StrArray(items) => field_len(str_array_body_len(items)),
    }
}

fn put_any_value(out: &mut Vec<u8>, value: &AttrValue<'_>) {
    match *value {
        AttrValue::Str(s) => put_bytes_field(out, tag::ANY_STRING, s.as_bytes()),
        AttrValue::Bool(b) => out.extend_from_slice(&[tag::ANY_BOOL, u8::from(b)]),
        AttrValue::Int(i) => {
            out.push(tag::ANY_INT);
            // int64 is encoded as its two's-complement u64: negative numbers take 10 bytes.
            put_varint(out, i as u64);
        }
        AttrValue::StrArray(items) => {
            put_len_field(out, tag::ANY_ARRAY, str_array_body_len(items));
            for item in items {
                put_len_field(out, tag::ARRAY_VALUES, field_len(item.len()));
                put_bytes_field(out, tag::ANY_STRING, item.as_bytes());
            }
        }
    }
}

/// Size of the `KeyValue` message.
#[inline]
fn key_value_len(key: &AttrKey<'_>, value: &AttrValue<'_>) -> usize {
    field_len(key.len()) + field_len(any_value_len(value))
}

fn put_key_value(out: &mut Vec<u8>, tag: u8, key: &AttrKey<'_>, value: &AttrValue<'_>) {
    let value_len = any_value_len(value);
    put_len_field(out, tag, field_len(key.len()) + field_len(value_len));
    put_len_field(out, tag::KV_KEY, key.len());
    out.extend_from_slice(key.prefix.as_bytes());
    out.extend_from_slice(key.suffix.as_bytes());
    put_len_field(out, tag::KV_VALUE, value_len);
    put_any_value(out, value);
}

const fn fixed_key(key: &'static str) -> AttrKey<'static> {
    AttrKey { prefix: key, suffix: "" }
}

/// Calls `emit` for every resource attribute: the SDK's own first, then the configured extra
/// attributes whose key was not written yet (a key is never written twice).
pub(super) fn for_each_resource_attribute<'a>(
    resource: &'a ExportResource,
    mut emit: impl FnMut(AttrKey<'a>, AttrValue<'a>),
) {
    let defaults = &resource.span_defaults;
    let own: [(&'static str, Option<&'a str>); 6] = [
        (keys::RESOURCE_SERVICE_NAME, Some(resource.service_name.as_str())),
        (keys::RESOURCE_SDK_LANGUAGE, Some(SDK_LANGUAGE)),
        (keys::RESOURCE_SDK_NAME, Some(SDK_NAME)),
        (keys::RESOURCE_SDK_VERSION, Some(resource.sdk_version)),
        (keys::ENVIRONMENT, defaults.environment.as_deref()),
        (keys::RELEASE, defaults.release.as_deref()),
    ];
    for (key, value) in own {
        if let Some(value) = value {
            emit(fixed_key(key), AttrValue::Str(value));
        }
    }
    let extra = &resource.resource_attributes;
    for (i, (key, value)) in extra.iter().enumerate() {
        let written_by_us = own.iter().any(|(k, v)| v.is_some() && k == key);
        let written_before = extra[..i].iter().any(|(k, _)| k == key);
        if !written_by_us && !written_before {
            emit(AttrKey { prefix: "", suffix: key }, AttrValue::Str(value));
        }
    }
}

/// Sizes of the parts shared by every request of one resource.
#[derive(Clone, Copy)]
struct Frame {
    resource_len: usize,
    scope_len: usize,
}

impl Frame {
    fn new(resource: &ExportResource) -> Self {
        let mut resource_len = 0;
        for_each_resource_attribute(resource, |k, v| {
            resource_len += field_len(key_value_len(&k, &v))
        });
        let public_key = AttrValue::Str(&resource.public_key);
        let scope_len = field_len(keys::SCOPE_NAME.len())
            + field_len(resource.sdk_version.len())
            + field_len(key_value_len(&fixed_key(keys::SCOPE_PUBLIC_KEY), &public_key));
        Self { resource_len, scope_len }
    }

    fn scope_spans_len(&self, spans_len: usize) -> usize {
        field_len(self.scope_len) + spans_len
    }

    fn resource_spans_len(&self, spans_len: usize) -> usize {
        field_len(self.resource_len) + field_len(self.scope_spans_len(spans_len))
    }

    /// Size of a whole request whose spans (tags and length prefixes included) take
    /// `spans_len` bytes.
    fn request_len(&self, spans_len: usize) -> usize {
        field_len(self.resource_spans_len(spans_len))
    }

    /// Writes everything of a request up to its first span.
    fn put_head(&self, out: &mut Vec<u8>, resource: &ExportResource, spans_len: usize) {
        put_len_field(out, tag::REQUEST_RESOURCE_SPANS, self.resource_spans_len(spans_len));
        put_len_field(out, tag::RESOURCE_SPANS_RESOURCE, self.resource_len);
        for_each_resource_attribute(resource, |k, v| {
            put_key_value(out, tag::RESOURCE_ATTRIBUTES, &k, &v)
        });
        put_len_field(out, tag::RESOURCE_SPANS_SCOPE_SPANS, self.scope_spans_len(spans_len));
        put_len_field(out, tag::SCOPE_SPANS_SCOPE, self.scope_len);
        put_bytes_field(out, tag::SCOPE_NAME, keys::SCOPE_NAME.as_bytes());
        put_bytes_field(out, tag::SCOPE_VERSION, resource.sdk_version.as_bytes());
        put_key_value(
            out,
            tag::SCOPE_ATTRIBUTES,
            &fixed_key(keys::SCOPE_PUBLIC_KEY),
            &AttrValue::Str(&resource.public_key),
        );
    }
}

/// Body of the span's `Status`, when it has one (only ERROR is ever written).
#[inline]
fn status_len(record: &ObservationRecord) -> Option<usize> {
    record.is_error().then(|| {
        let message = record.status_message().unwrap_or("");
        let message_len = if message.is_empty() { 0 } else { field_len(message.len()) };
        message_len + 2
    })
}

/// Body of the span's `exception` event, when a panic escaped the observation.
fn exception_event_len(record: &ObservationRecord) -> Option<usize> {
    let event = record.exception()?;
    let mut len = 9 + field_len(keys::EXCEPTION_EVENT.len());
    for_each_exception_attribute(event, |k, v| len += field_len(key_value_len(&k, &v)));
    Some(len)
}

fn put_exception_event(out: &mut Vec<u8>, record: &ObservationRecord, len: usize) {
    let Some(event) = record.exception() else { return };
    put_len_field(out, tag::SPAN_EVENTS, len);
    out.push(tag::EVENT_TIME);
    out.extend_from_slice(&event.time_unix_nanos.to_le_bytes());
    put_bytes_field(out, tag::EVENT_NAME, keys::EXCEPTION_EVENT.as_bytes());
    for_each_exception_attribute(event, |k, v| put_key_value(out, tag::EVENT_ATTRIBUTES, &k, &v));
}

/// Size of the `Span` message (without its own tag and length prefix).
fn span_len(record: &ObservationRecord, defaults: &SpanDefaults) -> usize {
    let mut attributes_len = 0;
    let dropped = for_each_attribute(record, defaults, |k, v| {
        attributes_len += field_len(key_value_len(&k, &v));
    });
    let mut len = field_len(16) + field_len(8) + 2 + attributes_len + 6;
    if record.parent_id.is_some() {
        len += field_len(8);
    }
    if !record.name.is_empty() {
        len += field_len(record.name.len());
    }
    if record.start_unix_nanos != 0 {
        len += 9;
    }
    if record.end_unix_nanos != 0 {
        len += 9;
    }
    if dropped > 0 {
        len += 1 + varint_len(dropped as u64);
    }
    if let Some(event) = exception_event_len(record) {
        len += field_len(event);
    }
    if let Some(status) = status_len(record) {
        len += field_len(status);
    }
    len
}

fn put_span(out: &mut Vec<u8>, record: &ObservationRecord, defaults: &SpanDefaults, len: usize) {
    put_len_field(out, tag::SCOPE_SPANS_SPANS, len);
    put_bytes_field(out, tag::SPAN_TRACE_ID, &record.trace_id.to_bytes());
    put_bytes_field(out, tag::SPAN_SPAN_ID, &record.id.to_bytes());
    if let Some(parent) = record.parent_id {
        put_bytes_field(out, tag::SPAN_PARENT_SPAN_ID, &parent.to_bytes());
    }
    if !record.name.is_empty() {
        put_bytes_field(out, tag::SPAN_NAME, record.name.as_bytes());
    }
    out.extend_from_slice(&[tag::SPAN_KIND, SPAN_KIND_INTERNAL as u8]);
    if record.start_unix_nanos != 0 {
        out.push(tag::SPAN_START);
        out.extend_from_slice(&record.start_unix_nanos.to_le_bytes());
    }
    if record.end_unix_nanos != 0 {
        out.push(tag::SPAN_END);
        out.extend_from_slice(&record.end_unix_nanos.to_le_bytes());
    }
    let dropped = for_each_attribute(record, defaults, |k, v| {
        put_key_value(out, tag::SPAN_ATTRIBUTES, &k, &v);
    });
    if dropped > 0 {
        out.push(tag::SPAN_DROPPED_ATTRIBUTES);
        put_varint(out, dropped as u64);
    }
    if let Some(event) = exception_event_len(record) {
        put_exception_event(out, record, event);
    }
    if let Some(status) = status_len(record) {
        put_len_field(out, tag::SPAN_STATUS, status);
        let message = record.status_message().unwrap_or("");
        if !message.is_empty() {
            put_bytes_field(out, tag::STATUS_MESSAGE, message.as_bytes());
        }
        out.extend_from_slice(&[tag::STATUS_CODE, STATUS_CODE_ERROR as u8]);
    }
    let flags = if record.parent_is_remote {
        FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE
    } else {
        FLAG_HAS_IS_REMOTE
    };
    out.extend_from_slice(&tag::SPAN_FLAGS);
    out.extend_from_slice(&flags.to_le_bytes());
}

/// What [`OtlpEncoder::encode_split`] produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SplitSummary {
    /// Requests handed to the sink.
    pub requests: usize,
    /// Spans in those requests.
    pub spans: usize,
    /// Spans left out because a request holding only that span would exceed the limit.
    pub oversized: usize,
    /// Size of the request the largest left-out span would have needed (0 if none).
    pub largest_oversized_bytes: usize,
}

/// Encodes batches of records as OTLP `ExportTraceServiceRequest` protobuf.
///
/// Keeps a small scratch buffer between calls, so reuse one encoder on the export thread.
#[derive(Debug, Default)]
pub struct OtlpEncoder {
    /// Per record of the current batch: its `Span` message size, or [`OVERSIZED`].
    span_lens: Vec<usize>,
}

impl OtlpEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one request holding all `records` to `out`, whatever its size.
    pub fn encode(
        &mut self,
        records: &[ObservationRecord],
        resource: &ExportResource,
        out: &mut Vec<u8>,
    ) {
        let frame = Frame::new(resource);
        let defaults = &resource.span_defaults;
        self.span_lens.clear();
        let mut spans_len = 0;
        for record in records {
            let len = span_len(record, defaults);
            self.span_lens.push(len);
            spans_len += field_len(len);
        }
        self.put_request(out, records, 0..records.len(), resource, frame, spans_len);
    }

    /// Encodes `records` as as few requests as fit in `max_request_bytes` each (uncompressed),
    /// calling `sink` with each request body and the number of spans in it, in record order.
    ///
    /// A span that would not fit even alone is left out and counted in the summary, so that
    /// one huge payload never costs the rest of the batch. No request is made for an empty
    /// batch. `buf` is cleared and reused for every request. The first error of `sink` stops
    /// the encoding and is returned.
    pub fn encode_split<E>(
        &mut self,
        records: &[ObservationRecord],
        resource: &ExportResource,
        max_request_bytes: usize,
        buf: &mut Vec<u8>,
        mut sink: impl FnMut(&[u8], usize) -> Result<(), E>,
    ) -> Result<SplitSummary, E> {
        let frame = Frame::new(resource);
        let defaults = &resource.span_defaults;
        self.span_lens.clear();
        let mut summary = SplitSummary::default();
        let mut chunk_start = 0;
        let mut chunk_len = 0;
        let mut chunk_spans = 0;
        for (i, record) in records.iter().enumerate() {
            let len = span_len(record, defaults);
            let alone = frame.request_len(field_len(len));
            if alone > max_request_bytes {
                self.span_lens.push(OVERSIZED);
                summary.oversized += 1;
                summary.largest_oversized_bytes = summary.largest_oversized_bytes.max(alone);
                continue;
            }
            if chunk_spans > 0 && frame.request_len(chunk_len + field_len(len)) > max_request_bytes
            {
                buf.clear();
                self.put_request(buf, records, chunk_start..i, resource, frame, chunk_len);
                sink(buf, chunk_spans)?;
                summary.requests += 1;
                summary.spans += chunk_spans;
                chunk_start = i;
                chunk_len = 0;
                chunk_spans = 0;
            }
            self.span_lens.push(len);
            chunk_len += field_len(len);
            chunk_spans += 1;
        }
        if chunk_spans > 0 {
            buf.clear();
            self.put_request(buf, records, chunk_start..records.len(), resource, frame, chunk_len);
            sink(buf, chunk_spans)?;
            summary.requests += 1;
            summary.spans += chunk_spans;
        }
        Ok(summary)
    }

    fn put_request(
        &self,
        out: &mut Vec<u8>,
        records: &[ObservationRecord],
        range: Range<usize>,
        resource: &ExportResource,
        frame: Frame,
        spans_len: usize,
    ) {
        let total = frame.request_len(spans_len);
        out.reserve(total);
        let start = out.len();
        frame.put_head(out, resource, spans_len);
        for i in range {
            let len = self.span_lens[i];
            if len != OVERSIZED {
                put_span(out, &records[i], &resource.span_defaults, len);
            }
        }
        debug_assert_eq!(out.len() - start, total, "precomputed request size is off");
    }
}

/// Appends one `ExportTraceServiceRequest` holding all `records` to `out`.
///
/// Convenience for one-off use; the export thread keeps an [`OtlpEncoder`] instead.
#[cfg(test)]
pub fn encode_request(records: &[ObservationRecord], resource: &ExportResource, out: &mut Vec<u8>) {
    OtlpEncoder::new().encode(records, resource, out);
}

/// Size in bytes of the request [`encode_request`] would write for `records`.
pub fn encoded_request_len(records: &[ObservationRecord], resource: &ExportResource) -> usize {
    let spans_len: usize =
        records.iter().map(|r| field_len(span_len(r, &resource.span_defaults))).sum();
    Frame::new(resource).request_len(spans_len)
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
    use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};
    use prost::Message;

    use super::*;
    use crate::ids::{ObservationId, TraceId};
    use crate::kind::{Level, ObservationType};
    use crate::record::TraceAttributes;

    const TRACE: u128 = 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c;

    pub(in crate::export) fn resource() -> ExportResource {
        let mut resource = ExportResource::new("checkout-service", "pk-lf-1234");
        resource.span_defaults.environment = Some("production".into());
        resource.span_defaults.release = Some("v1.2.3".into());
        resource.resource_attributes = vec![
            ("deployment.region".into(), "eu-west-1 ✓".into()),
            // Already written from `service_name`: must not appear twice.
            ("service.name".into(), "ignored".into()),
            ("host.name".into(), "".into()),
            ("deployment.region".into(), "second value ignored".into()),
        ];
        resource
    }

    fn span(
        id: u64,
        parent: Option<u64>,
        name: &'static str,
        ty: ObservationType,
    ) -> ObservationRecord {
        let mut r = ObservationRecord::new(
            TraceId::from_u128(TRACE).unwrap(),
            ObservationId::from_u64(id).unwrap(),
            parent.and_then(ObservationId::from_u64),
            name,
            ty,
            1_735_787_045_678_000_000 + id,
        );
        r.end_unix_nanos = r.start_unix_nanos + 1_500_000;
        r
    }

    /// A root span, a failing generation under it, and an event with a remote parent.
    pub(in crate::export) fn sample_batch() -> Vec<ObservationRecord> {
        let mut root =
            span(0x1111_2222_3333_4444, None, "handle_request 🚀 日本語", ObservationType::Span);
        root.input = Some("héllo wörld — 日本語 🚀".into());
        root.output = Some(String::new().into());
        root.metadata_mut().insert("provider", "\"openai\"".into());
        root.metadata_mut().insert("http.route.name", "\"/v1/chat\"".into());
        root.metadata_mut().insert("", "1".into());
        root.trace_public = true;

        let mut generation =
            span(0x5555, Some(0x1111_2222_3333_4444), "llm-call", ObservationType::Generation);
        generation.level = Some(Level::Error);
        generation.set_status_message(Some("ValueError: boom ✗".into()));
        generation.set_version(Some("2".into()));
        let g = generation.generation_mut();
        g.model = Some("gpt-4o-mini".into());
        g.usage_details = Some(r#"{"input":12,"output":3,"total":15}"#.into());
        // 2025-01-02T03:04:05.678Z
        g.completion_start_time = Some(1_735_787_045_678_000_000);
        g.prompt_name = Some("qa-prompt".into());
        g.prompt_version = Some(7);
        generation.trace = Some(Arc::new(TraceAttributes {
            name: Some("checkout".into()),
            user_id: Some("user-ü".into()),
            session_id: Some("".into()),
            tags: vec!["conformance".into(), "".into(), "ünïcode".into()],
            metadata: {
                let mut m = crate::record::Metadata::default();
                m.insert("tenant.id", "\"acme\"".into());
                m
            },
            ..Default::default()
        }));

        let mut event = span(0x6666, Some(0x7777), "", ObservationType::Event);
        event.end_unix_nanos = event.start_unix_nanos;
        event.parent_is_remote = true;
        event.as_root = true;
        event.level = Some(Level::Error);
        vec![root, generation, event]
    }

    fn decode(bytes: &[u8]) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest::decode(bytes).expect("valid protobuf")
    }

    fn string(v: &str) -> Option<AnyValue> {
        Some(AnyValue { value: Some(Value::StringValue(v.into())) })
    }

    fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
        KeyValue { key: key.into(), value, ..Default::default() }
    }

    fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
        let mut found = span.attributes.iter().filter(|a| a.key == key);
        let first = found.next()?;
        assert!(found.next().is_none(), "{key} written twice");
        first.value.as_ref()?.value.as_ref()
    }

    fn str_attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
        match attr(span, key)? {
            Value::StringValue(s) => Some(s),
            other => panic!("{key} is not a string: {other:?}"),
        }
    }

    /// The attributes `for_each_attribute` yields, as the proto messages they must become.
    fn expected_attributes(record: &ObservationRecord, defaults: &SpanDefaults) -> Vec<KeyValue> {
        let mut out = Vec::new();
        for_each_attribute(record, defaults, |k, v| {
            let value = match v {
                AttrValue::Str(s) => Value::StringValue(s.into()),
                AttrValue::Bool(b) => Value::BoolValue(b),
                AttrValue::Int(i) => Value::IntValue(i),
                AttrValue::StrArray(items) => {
                    Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                        values: items
                            .iter()
                            .map(|s| AnyValue { value: Some(Value::StringValue(s.clone())) })
                            .collect(),
                    })
                }
            };
            out.push(kv(&k.to_string(), Some(AnyValue { value: Some(value) })));
        });
        out
    }

    #[test]
    fn varint_len_matches_encoding() {
        let mut values =
            vec![0, 1, 127, 128, 16_383, 16_384, u64::MAX, u64::MAX >> 1, -1i64 as u64];
        values.extend((0..64).map(|b| 1u64 << b));
        values.extend((1..64).map(|b| (1u64 << b) - 1));
        for v in values {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            assert_eq!(prost::encoding::encoded_len_varint(v), out.len());
            let mut buf = out.as_slice();
            assert_eq!(prost::encoding::decode_varint(&mut buf).unwrap(), v);
        }
    }

    #[test]
    fn resource_and_scope() {
        let resource = resource();
        let mut out = Vec::new();
        encode_request(&sample_batch(), &resource, &mut out);
        let request = decode(&out);
        assert_eq!(request.resource_spans.len(), 1);
        let rs = &request.resource_spans[0];
        assert_eq!(rs.schema_url, "");
        let res = rs.resource.as_ref().expect("resource");
        assert_eq!(
            res.attributes,
            vec![
                kv("service.name", string("checkout-service")),
                kv("telemetry.sdk.language", string("rust")),
                kv("telemetry.sdk.name", string("langfuse-rust")),
                kv("telemetry.sdk.version", string(crate::SDK_VERSION)),
                kv("langfuse.environment", string("production")),
                kv("langfuse.release", string("v1.2.3")),
                kv("deployment.region", string("eu-west-1 ✓")),
                kv("host.name", string("")),
            ]
        );
        assert_eq!(res.dropped_attributes_count, 0);
        assert_eq!(rs.scope_spans.len(), 1);
        let ss = &rs.scope_spans[0];
        let scope = ss.scope.as_ref().expect("scope");
        assert_eq!(scope.name, "langfuse-sdk");
        assert_eq!(scope.version, crate::SDK_VERSION);
        assert_eq!(scope.attributes, vec![kv("public_key", string("pk-lf-1234"))]);
        assert_eq!(ss.spans.len(), 3);
    }

    #[test]
    fn resource_without_environment_or_release() {
        let mut resource = ExportResource::new("svc", "");
        resource.resource_attributes = vec![("langfuse.environment".into(), "from-otel".into())];
        let mut out = Vec::new();
        encode_request(&[], &resource, &mut out);
        let request = decode(&out);
        let rs = &request.resource_spans[0];
        let keys: Vec<_> =
            rs.resource.as_ref().unwrap().attributes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "service.name",
                "telemetry.sdk.language",
                "telemetry.sdk.name",
                "telemetry.sdk.version",
                "langfuse.environment"
            ]
        );
        let scope = rs.scope_spans[0].scope.as_ref().unwrap();
        assert_eq!(scope.attributes, vec![kv("public_key", string(""))]);
        assert!(rs.scope_spans[0].spans.is_empty());
    }

    #[test]
    fn span_fields() {
        let resource = resource();
        let batch = sample_batch();
        let mut out = Vec::new();
        encode_request(&batch, &resource, &mut out);
        let request = decode(&out);
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        let trace_bytes = TRACE.to_be_bytes().to_vec();

        let root = &spans[0];
        assert_eq!(root.trace_id, trace_bytes);
        assert_eq!(root.span_id, 0x1111_2222_3333_4444u64.to_be_bytes().to_vec());
        assert!(root.parent_span_id.is_empty());
        assert_eq!(root.trace_state, "");
        assert_eq!(root.name, "handle_request 🚀 日本語");
        assert_eq!(root.kind, SpanKind::Internal as i32);
        assert_eq!(root.start_time_unix_nano, 1_735_787_045_678_000_000 + 0x1111_2222_3333_4444);
        assert_eq!(root.end_time_unix_nano, root.start_time_unix_nano + 1_500_000);
        assert_eq!(root.flags, 0x100);
        assert_eq!(root.status, None);
        assert!(root.events.is_empty() && root.links.is_empty());
        assert_eq!(root.dropped_attributes_count, 0);

        let generation = &spans[1];
        assert_eq!(generation.trace_id, trace_bytes);
        assert_eq!(generation.span_id, 0x5555u64.to_be_bytes().to_vec());
        assert_eq!(generation.parent_span_id, 0x1111_2222_3333_4444u64.to_be_bytes().to_vec());
        assert_eq!(generation.name, "llm-call");
        assert_eq!(generation.flags, 0x100);
        let status = generation.status.as_ref().expect("error status");
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "ValueError: boom ✗");

        let event = &spans[2];
        assert_eq!(event.name, "");
        assert_eq!(event.parent_span_id, 0x7777u64.to_be_bytes().to_vec());
        assert_eq!(event.start_time_unix_nano, event.end_time_unix_nano);
        assert_eq!(event.flags, 0x300);
        let status = event.status.as_ref().expect("error status without message");
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "");
    }

    #[test]
    fn attributes_keep_keys_kinds_and_order() {
        let resource = resource();
        let batch = sample_batch();
        let mut out = Vec::new();
        encode_request(&batch, &resource, &mut out);
        let request = decode(&out);
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        for (span, record) in spans.iter().zip(&batch) {
            assert_eq!(span.attributes, expected_attributes(record, &resource.span_defaults));
        }

        let root = &spans[0];
        assert_eq!(str_attr(root, "langfuse.observation.type"), Some("span"));
        assert_eq!(str_attr(root, "langfuse.observation.input"), Some("héllo wörld — 日本語 🚀"));
        // An empty output is still a string attribute, not a missing one.
        assert_eq!(str_attr(root, "langfuse.observation.output"), Some(""));
        assert_eq!(str_attr(root, "langfuse.environment"), Some("production"));
        assert_eq!(str_attr(root, "langfuse.release"), Some("v1.2.3"));
        assert_eq!(str_attr(root, "langfuse.observation.metadata.provider"), Some("\"openai\""));
        assert_eq!(
            str_attr(root, "langfuse.observation.metadata.http.route.name"),
            Some("\"/v1/chat\"")
        );
        assert_eq!(str_attr(root, "langfuse.observation.metadata."), Some("1"));
        assert_eq!(attr(root, "langfuse.trace.public"), Some(&Value::BoolValue(true)));
        assert_eq!(attr(root, "langfuse.observation.level"), None);
        assert_eq!(root.attributes.len(), 9);

        let generation = &spans[1];
        assert_eq!(str_attr(generation, "langfuse.observation.type"), Some("generation"));
        assert_eq!(str_attr(generation, "langfuse.observation.level"), Some("ERROR"));
        assert_eq!(
            str_attr(generation, "langfuse.observation.status_message"),
            Some("ValueError: boom ✗")
        );
        assert_eq!(str_attr(generation, "langfuse.version"), Some("2"));
        assert_eq!(str_attr(generation, "langfuse.observation.model.name"), Some("gpt-4o-mini"));
        assert_eq!(
            str_attr(generation, "langfuse.observation.usage_details"),
            Some(r#"{"input":12,"output":3,"total":15}"#)
        );
        assert_eq!(
            str_attr(generation, "langfuse.observation.completion_start_time"),
            Some("\"2025-01-02T03:04:05.678000Z\"")
        );
        assert_eq!(str_attr(generation, "langfuse.observation.prompt.name"), Some("qa-prompt"));
        assert_eq!(
            attr(generation, "langfuse.observation.prompt.version"),
            Some(&Value::IntValue(7))
        );
        assert_eq!(str_attr(generation, "langfuse.trace.name"), Some("checkout"));
        assert_eq!(str_attr(generation, "user.id"), Some("user-ü"));
        assert_eq!(str_attr(generation, "session.id"), Some(""));
        match attr(generation, "langfuse.trace.tags") {
            Some(Value::ArrayValue(array)) => {
                let tags: Vec<_> = array
                    .values
                    .iter()
                    .map(|v| match &v.value {
                        Some(Value::StringValue(s)) => s.as_str(),
                        other => panic!("tag is not a string: {other:?}"),
                    })
                    .collect();
                assert_eq!(tags, ["conformance", "", "ünïcode"]);
            }
            other => panic!("tags are not an array: {other:?}"),
        }
        assert_eq!(str_attr(generation, "langfuse.trace.metadata.tenant.id"), Some("\"acme\""));
        assert_eq!(attr(generation, "langfuse.trace.public"), None);

        let event = &spans[2];
        assert_eq!(str_attr(event, "langfuse.observation.type"), Some("event"));
        assert_eq!(attr(event, "langfuse.internal.as_root"), Some(&Value::BoolValue(true)));
    }

    #[test]
    fn negative_and_large_ints() {
        let resource = ExportResource::new("svc", "pk");
        let mut batch = Vec::new();
        for (i, version) in [0, -1, i64::MIN, i64::MAX, 300].into_iter().enumerate() {
            let mut r = span(i as u64 + 1, None, "g", ObservationType::Generation);
            r.generation_mut().prompt_name = Some("p".into());
            r.generation_mut().prompt_version = Some(version);
            batch.push(r);
        }
        let mut out = Vec::new();
        encode_request(&batch, &resource, &mut out);
        let request = decode(&out);
        let versions: Vec<_> = request.resource_spans[0].scope_spans[0]
            .spans
            .iter()
            .map(|s| attr(s, "langfuse.observation.prompt.version").cloned())
            .collect();
        assert_eq!(
            versions,
            [0, -1, i64::MIN, i64::MAX, 300].map(|v| Some(Value::IntValue(v))).to_vec()
        );
    }

    #[test]
    fn dropped_attributes_are_counted() {
        let mut resource = ExportResource::new("svc", "pk");
        resource.span_defaults.attribute_count_limit = 3;
        let mut r = span(1, None, "s", ObservationType::Span);
        r.input = Some("in".into());
        for i in 0..4 {
            r.metadata_mut().insert(format!("k{i}"), "1".into());
        }
        let mut out = Vec::new();
        encode_request(&[r], &resource, &mut out);
        let span = &decode(&out).resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.attributes.len(), 3);
        assert_eq!(span.dropped_attributes_count, 3);
    }

    #[test]
    fn output_is_canonical_and_sizes_are_exact() {
        let resource = resource();
        let mut batch = sample_batch();
        // Zero timestamps and a long string whose length prefix needs three varint bytes.
        let mut zero = span(9, None, "zero", ObservationType::Tool);
        zero.start_unix_nanos = 0;
        zero.end_unix_nanos = 0;
        zero.input = Some("x".repeat(20_000).into());
        batch.push(zero);
        let mut out = vec![0xAA];
        encode_request(&batch, &resource, &mut out);
        // Appends, never overwrites.
        assert_eq!(out[0], 0xAA);
        let body = &out[1..];
        assert_eq!(body.len(), encoded_request_len(&batch, &resource));
        // prost writes fields in tag order and leaves defaults out: re-encoding the decoded
        // message gives the same bytes only if every length prefix and field is canonical.
        assert_eq!(decode(body).encode_to_vec(), body);
        let spans = &decode(body).resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans[3].start_time_unix_nano, 0);
        assert_eq!(str_attr(&spans[3], "langfuse.observation.input").map(str::len), Some(20_000));
    }

    #[test]
    fn an_escaped_panic_is_an_exception_event_before_the_status() {
        let resource = resource();
        let mut r = span(1, None, "failed", ObservationType::Span);
        r.level = Some(crate::kind::Level::Error);
        r.set_status_message(Some("panic: boom".into()));
        r.set_exception(crate::record::ExceptionEvent {
            time_unix_nanos: 1_735_787_045_678_000_123,
            type_name: "panic",
            message: "boom".into(),
            stacktrace: Some("panicked at src/lib.rs:1:1:\nboom".into()),
        });
        let mut without_trace = r.clone();
        without_trace.set_exception(crate::record::ExceptionEvent {
            stacktrace: None,
            ..r.exception().cloned().unwrap()
        });
        let batch = [r, without_trace];
        let mut out = Vec::new();
        encode_request(&batch, &resource, &mut out);
        assert_eq!(out.len(), encoded_request_len(&batch, &resource));
        assert_eq!(decode(&out).encode_to_vec(), out, "canonical");
        let spans = &decode(&out).resource_spans[0].scope_spans[0].spans;
        let event = &spans[0].events[0];
        assert_eq!(spans[0].events.len(), 1);
        assert_eq!(
            (event.name.as_str(), event.time_unix_nano),
            ("exception", 1_735_787_045_678_000_123)
        );
        assert_eq!(
            event.attributes,
            vec![
                kv("exception.type", string("panic")),
                kv("exception.message", string("boom")),
                kv("exception.stacktrace", string("panicked at src/lib.rs:1:1:\nboom")),
                kv("exception.escaped", string("False")),
            ]
        );
        let status = spans[0].status.as_ref().unwrap();
        assert_eq!((status.code, status.message.as_str()), (2, "panic: boom"));
        let keys: Vec<_> = spans[1].events[0].attributes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["exception.type", "exception.message", "exception.escaped"]);
    }

    fn split(
        batch: &[ObservationRecord],
        resource: &ExportResource,
        limit: usize,
    ) -> (SplitSummary, Vec<(Vec<u8>, usize)>) {
        let mut requests = Vec::new();
        let summary = OtlpEncoder::new()
            .encode_split(batch, resource, limit, &mut Vec::new(), |body, spans| {
                requests.push((body.to_vec(), spans));
                Ok::<_, ()>(())
            })
            .unwrap();
        (summary, requests)
    }

    fn span_ids(requests: &[(Vec<u8>, usize)]) -> Vec<u64> {
        requests
            .iter()
            .flat_map(|(body, spans)| {
                let request = decode(body);
                let ids: Vec<u64> = request.resource_spans[0].scope_spans[0]
                    .spans
                    .iter()
                    .map(|s| u64::from_be_bytes(s.span_id.as_slice().try_into().unwrap()))
                    .collect();
                assert_eq!(ids.len(), *spans);
                ids
            })
            .collect()
    }

    #[test]
    fn split_respects_the_limit_and_keeps_order() {
        let resource = resource();
        let batch: Vec<_> = (1..=50)
            .map(|i| {
                let mut r = span(i, None, "s", ObservationType::Span);
                r.input = Some("y".repeat(i as usize * 10).into());
                r
            })
            .collect();
        let whole = encoded_request_len(&batch, &resource);

        let (summary, requests) = split(&batch, &resource, whole);
        assert_eq!(summary, SplitSummary { requests: 1, spans: 50, ..Default::default() });
        assert_eq!(requests[0].0.len(), whole);

        let limit = whole / 4;
        let (summary, requests) = split(&batch, &resource, limit);
        assert!(requests.len() >= 4, "{} requests", requests.len());
        assert_eq!(summary.requests, requests.len());
        assert_eq!(summary.spans, 50);
        assert_eq!(summary.oversized, 0);
        for (body, _) in &requests {
            assert!(body.len() <= limit);
            assert_eq!(decode(body).encode_to_vec(), *body);
        }
        assert_eq!(span_ids(&requests), (1..=50).collect::<Vec<_>>());
        // Greedy packing: each request is full, i.e. the next span would not have fitted.
        let mut first = 0;
        for (_, spans) in &requests[..requests.len() - 1] {
            let with_next = &batch[first..first + spans + 1];
            assert!(encoded_request_len(with_next, &resource) > limit);
            first += spans;
        }
    }

    #[test]
    fn oversized_span_is_dropped_and_the_rest_sent() {
        let resource = resource();
        let mut batch: Vec<_> =
            (1..=5).map(|i| span(i, None, "s", ObservationType::Span)).collect();
        batch[2].output = Some("z".repeat(10_000).into());
        let limit = 4_000;
        let (summary, requests) = split(&batch, &resource, limit);
        assert_eq!(summary.oversized, 1);
        assert_eq!(summary.largest_oversized_bytes, encoded_request_len(&batch[2..3], &resource));
        assert_eq!(summary.spans, 4);
        assert_eq!(summary.requests, 1);
        assert_eq!(span_ids(&requests), [1, 2, 4, 5]);
        assert!(requests[0].0.len() <= limit);

        // Nothing fits: no request at all.
        let (summary, requests) = split(&batch, &resource, 10);
        assert_eq!((summary.requests, summary.spans, summary.oversized), (0, 0, 5));
        assert!(requests.is_empty());

        // An empty batch makes no request.
        let (summary, requests) = split(&[], &resource, limit);
        assert_eq!(summary, SplitSummary::default());
        assert!(requests.is_empty());
    }

    #[test]
    fn split_stops_at_the_first_sink_error() {
        let resource = resource();
        let batch: Vec<_> = (1..=10).map(|i| span(i, None, "s", ObservationType::Span)).collect();
        let one = encoded_request_len(&batch[..1], &resource);
        let mut calls = 0;
        let result =
            OtlpEncoder::new().encode_split(&batch, &resource, one, &mut Vec::new(), |_, _| {
                calls += 1;
                if calls == 3 { Err("boom") } else { Ok(()) }
            });
        assert_eq!(result, Err("boom"));
        assert_eq!(calls, 3);
    }

    /// `cargo test -p langfuse-runtime --release --lib encode_throughput -- --ignored --nocapture`
    #[test]
    #[ignore = "throughput measurement; run in release mode"]
    fn encode_throughput() {
        let resource = resource();
        let batch: Vec<_> = (0..512u64)
            .map(|i| {
                let mut r = sample_batch().swap_remove((i % 3) as usize);
                r.id = ObservationId::from_u64(i + 1).unwrap();
                r.input = Some(format!("{{\"question\":\"what is {i} + {i}?\"}}").into());
                r.output = Some(format!("{}", i * 2).into());
                r
            })
            .collect();
        let mut encoder = OtlpEncoder::new();
        let mut buf = Vec::new();
        let rounds = 2_000;
        let started = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..rounds {
            let summary = encoder
                .encode_split(&batch, &resource, 64 << 20, &mut buf, |body, _| {
                    bytes += body.len();
                    Ok::<_, ()>(())
                })
                .unwrap();
            assert_eq!(summary.spans, 512);
        }
        let elapsed = started.elapsed();
        let spans = (rounds * batch.len()) as f64;
        println!(
            "encoded {spans} spans ({:.1} MB) in {elapsed:?}: {:.0} spans/s, {:.0} MB/s",
            bytes as f64 / 1e6,
            spans / elapsed.as_secs_f64(),
            bytes as f64 / 1e6 / elapsed.as_secs_f64()
        );
    }
}
