//! `opentelemetry_sdk` span exporters for the dual-export tests: one that encodes its batch
//! with `opentelemetry-proto`'s transform (what `opentelemetry-otlp` sends) and POSTs it to a
//! loopback receiver with a blocking socket, and ones that fail in each way an exporter can.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use prost::Message;

/// POSTs each batch as OTLP/HTTP protobuf to `http://{addr}{path}`, blocking, like
/// `opentelemetry-otlp` built with its blocking client.
#[derive(Debug)]
pub struct OtlpForwarder {
    addr: SocketAddr,
    path: String,
    resource: Mutex<Option<Resource>>,
}

impl OtlpForwarder {
    pub fn new(addr: SocketAddr, path: &str) -> Self {
        Self { addr, path: path.to_owned(), resource: Mutex::new(None) }
    }

    fn post(&self, body: &[u8]) -> Result<u16, String> {
        let mut stream = TcpStream::connect(self.addr).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
        write!(
            stream,
            "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-protobuf\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n",
            self.path,
            self.addr,
            body.len()
        )
        .and_then(|()| stream.write_all(body))
        .map_err(|e| e.to_string())?;
        let mut status = String::new();
        BufReader::new(stream).read_line(&mut status).map_err(|e| e.to_string())?;
        status
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("bad status line {status:?}"))
    }
}

impl SpanExporter for OtlpForwarder {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let resource = self
            .resource
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| Resource::builder_empty().build());
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                batch,
                &ResourceAttributesWithSchema::from(&resource),
            ),
        };
        match self.post(&request.encode_to_vec()) {
            Ok(200) => Ok(()),
            Ok(code) => Err(OTelSdkError::InternalFailure(format!("status {code}"))),
            Err(e) => Err(OTelSdkError::InternalFailure(e)),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        *self.resource.get_mut().unwrap() = Some(resource.clone());
    }
}

/// How [`Broken`] fails.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// `export` returns an error.
    Error,
    /// `export` panics (as a tonic exporter does without a tokio reactor).
    Panic,
    /// `export` never completes (pending forever).
    Pending,
    /// `export` blocks its thread for this long (a blocking client waiting for a dead host).
    Block(Duration),
}

/// An exporter that fails every export.
#[derive(Debug)]
pub struct Broken(pub Failure);

impl SpanExporter for Broken {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        match self.0 {
            Failure::Error => Err(OTelSdkError::InternalFailure("collector unreachable".into())),
            Failure::Panic => panic!("there is no reactor running"),
            Failure::Pending => std::future::pending().await,
            Failure::Block(duration) => {
                std::thread::sleep(duration);
                Ok(())
            }
        }
    }
}
