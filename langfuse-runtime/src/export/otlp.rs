//! Protobuf encoding of `ExportTraceServiceRequest` (stub: being written).
