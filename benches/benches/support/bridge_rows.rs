//! What the bridge rows J1 and J2 share between `bridge.rs` (timed) and
//! `bridge_instructions.rs` (callgrind): the span, and J2's provider and exporter, so that both
//! targets measure exactly the same thing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};

/// The span rig opens around a completion request, with the usage it records on the response.
#[inline(never)]
pub fn rig_like_chat_span(input_tokens: u64, output_tokens: u64) {
    let span = tracing::info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
    );
    span.record("gen_ai.usage.input_tokens", input_tokens);
    span.record("gen_ai.usage.output_tokens", output_tokens);
    drop(span);
}

/// Counts what the batch processor delivers, and discards it.
#[derive(Debug, Clone, Default)]
pub struct Counting(Arc<AtomicU64>);

impl Counting {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl SpanExporter for Counting {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        std::future::ready(Ok(()))
    }
}

/// J2's provider: the SDK's batch processor at its defaults but a queue large enough that no
/// span of the row is dropped (the row must lose nothing, as J1 does), into `exporter`.
pub fn j2_provider(exporter: &Counting) -> SdkTracerProvider {
    let processor = BatchSpanProcessor::builder(exporter.clone())
        .with_batch_config(BatchConfigBuilder::default().with_max_queue_size(1 << 22).build())
        .build();
    SdkTracerProvider::builder().with_span_processor(processor).build()
}
