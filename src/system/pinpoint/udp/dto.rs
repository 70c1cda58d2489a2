//! The few Thrift structs of Pinpoint 2.5's agent protocol chaosbed sends, by hand: field ids
//! and types as in Pinpoint's IDL (pinpoint-thrift 2.5.1: Span.thrift, Pinpoint.thrift), written
//! with Thrift's compact protocol as the agents do (ProtocolFactory: TCompactProtocol). Only the
//! fields chaosbed sets are written; the collector takes a missing field as its default.
//! `packet` puts Pinpoint's header (header.rs) before a struct.

use anyhow::Context as _;
use thrift::protocol::{
    TCompactInputProtocol, TCompactOutputProtocol, TFieldIdentifier, TInputProtocol,
    TListIdentifier, TOutputProtocol, TStructIdentifier, TType,
};

use super::header;

/// A Thrift struct Pinpoint knows by a header type code.
pub trait Tbase {
    const TYPE: i16;
    const NAME: &'static str;
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()>;
}

/// `value` compact-encoded after a version-1 header: one UDP datagram or one TCP payload.
pub fn packet<T: Tbase>(value: &T) -> anyhow::Result<Vec<u8>> {
    let mut out = header::v1(T::TYPE);
    encode(value, &mut out).with_context(|| format!("encoding a {}", T::NAME))?;
    Ok(out)
}

/// `value` compact-encoded onto `out`.
pub fn encode<T: Tbase>(value: &T, out: &mut Vec<u8>) -> thrift::Result<()> {
    let mut protocol = TCompactOutputProtocol::new(out);
    Writer(&mut protocol).write_struct(value)?;
    protocol.flush()
}

/// Field writers over a compact output protocol; `None` leaves a field out.
pub struct Writer<'a>(&'a mut dyn TOutputProtocol);

impl Writer<'_> {
    fn field(&mut self, id: i16, kind: TType) -> thrift::Result<()> {
        self.0
            .write_field_begin(&TFieldIdentifier::new::<Option<String>, String, i16>(
                None, kind, id,
            ))
    }

    fn write_struct<T: Tbase>(&mut self, value: &T) -> thrift::Result<()> {
        self.0
            .write_struct_begin(&TStructIdentifier::new(T::NAME))?;
        value.write_fields(self)?;
        self.0.write_field_stop()?;
        self.0.write_struct_end()
    }

    pub fn string(&mut self, id: i16, value: Option<&str>) -> thrift::Result<()> {
        let Some(value) = value else { return Ok(()) };
        self.field(id, TType::String)?;
        self.0.write_string(value)?;
        self.0.write_field_end()
    }

    pub fn binary(&mut self, id: i16, value: &[u8]) -> thrift::Result<()> {
        self.field(id, TType::String)?;
        self.0.write_bytes(value)?;
        self.0.write_field_end()
    }

    pub fn bool(&mut self, id: i16, value: bool) -> thrift::Result<()> {
        self.field(id, TType::Bool)?;
        self.0.write_bool(value)?;
        self.0.write_field_end()
    }

    pub fn i8(&mut self, id: i16, value: i8) -> thrift::Result<()> {
        self.field(id, TType::I08)?;
        self.0.write_i8(value)?;
        self.0.write_field_end()
    }

    pub fn i16(&mut self, id: i16, value: i16) -> thrift::Result<()> {
        self.field(id, TType::I16)?;
        self.0.write_i16(value)?;
        self.0.write_field_end()
    }

    pub fn i32(&mut self, id: i16, value: i32) -> thrift::Result<()> {
        self.field(id, TType::I32)?;
        self.0.write_i32(value)?;
        self.0.write_field_end()
    }

    pub fn i64(&mut self, id: i16, value: i64) -> thrift::Result<()> {
        self.field(id, TType::I64)?;
        self.0.write_i64(value)?;
        self.0.write_field_end()
    }

    pub fn double(&mut self, id: i16, value: f64) -> thrift::Result<()> {
        self.field(id, TType::Double)?;
        self.0.write_double(value)?;
        self.0.write_field_end()
    }

    pub fn strukt<T: Tbase>(&mut self, id: i16, value: Option<&T>) -> thrift::Result<()> {
        let Some(value) = value else { return Ok(()) };
        self.field(id, TType::Struct)?;
        self.write_struct(value)?;
        self.0.write_field_end()
    }

    pub fn list<T: Tbase>(&mut self, id: i16, values: &[T]) -> thrift::Result<()> {
        self.field(id, TType::List)?;
        self.0
            .write_list_begin(&TListIdentifier::new(TType::Struct, values.len() as i32))?;
        for value in values {
            self.write_struct(value)?;
        }
        self.0.write_list_end()?;
        self.0.write_field_end()
    }
}

/// Pinpoint's binary transaction id (TransactionIdUtils, version 0): a version byte, the agent id
/// as a zigzag-varint length and UTF-8 (length -1, one byte 0x01, when it is the span's own agent,
/// as agents write it), then the agent's start time and the sequence as unsigned varints.
pub fn transaction_id_bytes(agent_id: Option<&str>, agent_start: i64, sequence: i64) -> Vec<u8> {
    fn varint(mut value: u64, out: &mut Vec<u8>) {
        while value >= 0x80 {
            out.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }
    let mut out = vec![0];
    match agent_id {
        Some(id) => {
            let len = id.len() as i64;
            varint(((len << 1) ^ (len >> 63)) as u64, &mut out);
            out.extend_from_slice(id.as_bytes());
        }
        None => varint(1, &mut out), // zigzag(-1): null
    }
    varint(agent_start as u64, &mut out);
    varint(sequence as u64, &mut out);
    out
}

/// One transaction's span (TSpan): a root span when `parent_span_id` is -1.
#[derive(Debug, Clone, PartialEq)]
pub struct TSpan {
    pub agent_id: String,
    pub application_name: String,
    pub agent_start_time: i64,
    /// transaction_id_bytes(...).
    pub transaction_id: Vec<u8>,
    pub span_id: i64,
    pub parent_span_id: i64,
    pub start_time: i64,
    pub elapsed: i32,
    /// The entry point: a web request's URI. The web shows it as the transaction's application.
    pub rpc: Option<String>,
    pub service_type: i16,
    pub end_point: Option<String>,
    pub remote_addr: Option<String>,
    pub annotations: Vec<TAnnotation>,
    /// 0, or 1 when the transaction failed.
    pub err: i32,
    pub span_events: Vec<TSpanEvent>,
    pub acceptor_host: Option<String>,
    pub api_id: Option<i32>,
    pub application_service_type: i16,
}

impl Tbase for TSpan {
    const TYPE: i16 = header::types::SPAN;
    const NAME: &'static str = "TSpan";
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()> {
        w.string(1, Some(&self.agent_id))?;
        w.string(2, Some(&self.application_name))?;
        w.i64(3, self.agent_start_time)?;
        w.binary(4, &self.transaction_id)?;
        w.i64(7, self.span_id)?;
        w.i64(8, self.parent_span_id)?;
        w.i64(9, self.start_time)?;
        w.i32(10, self.elapsed)?;
        w.string(11, self.rpc.as_deref())?;
        w.i16(12, self.service_type)?;
        w.string(13, self.end_point.as_deref())?;
        w.string(14, self.remote_addr.as_deref())?;
        if !self.annotations.is_empty() {
            w.list(15, &self.annotations)?;
        }
        w.i16(16, 0)?; // flag
        w.i32(17, self.err)?;
        if !self.span_events.is_empty() {
            w.list(18, &self.span_events)?;
        }
        w.string(21, self.acceptor_host.as_deref())?;
        if let Some(api_id) = self.api_id {
            w.i32(25, api_id)?;
        }
        w.i16(30, self.application_service_type)?;
        w.i8(32, 1) // version
    }
}

/// One call inside a span (TSpanEvent).
#[derive(Debug, Clone, PartialEq)]
pub struct TSpanEvent {
    pub sequence: i16,
    pub start_elapsed: i32,
    pub end_elapsed: i32,
    pub service_type: i16,
    pub depth: i32,
    pub api_id: Option<i32>,
    pub annotations: Vec<TAnnotation>,
}

impl Tbase for TSpanEvent {
    const TYPE: i16 = header::types::SPAN_EVENT;
    const NAME: &'static str = "TSpanEvent";
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()> {
        w.i16(8, self.sequence)?;
        w.i32(9, self.start_elapsed)?;
        w.i32(10, self.end_elapsed)?;
        w.i16(12, self.service_type)?;
        if !self.annotations.is_empty() {
            w.list(14, &self.annotations)?;
        }
        w.i32(15, self.depth)?;
        if let Some(api_id) = self.api_id {
            w.i32(25, api_id)?;
        }
        Ok(())
    }
}

/// An annotation (TAnnotation) with a string or int value (the TAnnotationValue union).
#[derive(Debug, Clone, PartialEq)]
pub struct TAnnotation {
    pub key: i32,
    pub value: AnnotationValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AnnotationValue {
    String(String),
    Int(i32),
}

impl Tbase for AnnotationValue {
    const TYPE: i16 = 0; // never sent alone
    const NAME: &'static str = "TAnnotationValue";
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()> {
        match self {
            AnnotationValue::String(s) => w.string(1, Some(s)),
            AnnotationValue::Int(i) => w.i32(3, *i),
        }
    }
}

impl Tbase for TAnnotation {
    const TYPE: i16 = 0; // never sent alone
    const NAME: &'static str = "TAnnotation";
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()> {
        w.i32(1, self.key)?;
        w.strukt(2, Some(&self.value))
    }
}

/// What an agent says of itself when it connects (TAgentInfo): its application is listed by the
/// web from it (ApplicationIndex).
#[derive(Debug, Clone, PartialEq)]
pub struct TAgentInfo {
    pub hostname: String,
    pub ip: String,
    pub ports: String,
    pub agent_id: String,
    pub application_name: String,
    pub service_type: i16,
    pub pid: i32,
    pub agent_version: String,
    pub vm_version: String,
    pub start_timestamp: i64,
    pub container: bool,
    pub agent_name: Option<String>,
}

impl Tbase for TAgentInfo {
    const TYPE: i16 = header::types::AGENT_INFO;
    const NAME: &'static str = "TAgentInfo";
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()> {
        w.string(1, Some(&self.hostname))?;
        w.string(2, Some(&self.ip))?;
        w.string(3, Some(&self.ports))?;
        w.string(4, Some(&self.agent_id))?;
        w.string(5, Some(&self.application_name))?;
        w.i16(6, self.service_type)?;
        w.i32(7, self.pid)?;
        w.string(8, Some(&self.agent_version))?;
        w.string(9, Some(&self.vm_version))?;
        w.i64(10, self.start_timestamp)?;
        w.bool(40, self.container)?;
        w.string(50, self.agent_name.as_deref())
    }
}

/// A method the spans refer to by `api_id` (TApiMetaData).
#[derive(Debug, Clone, PartialEq)]
pub struct TApiMetaData {
    pub agent_id: String,
    pub agent_start_time: i64,
    pub api_id: i32,
    pub api_info: String,
    pub line: Option<i32>,
    /// 0 default, 100 web request, 200 invocation (Pinpoint's MethodType).
    pub kind: Option<i32>,
}

impl Tbase for TApiMetaData {
    const TYPE: i16 = header::types::API_METADATA;
    const NAME: &'static str = "TApiMetaData";
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()> {
        w.string(1, Some(&self.agent_id))?;
        w.i64(2, self.agent_start_time)?;
        w.i32(4, self.api_id)?;
        w.string(5, Some(&self.api_info))?;
        if let Some(line) = self.line {
            w.i32(6, line)?;
        }
        if let Some(kind) = self.kind {
            w.i32(10, kind)?;
        }
        Ok(())
    }
}

/// A string the spans refer to by id (TStringMetaData).
#[derive(Debug, Clone, PartialEq)]
pub struct TStringMetaData {
    pub agent_id: String,
    pub agent_start_time: i64,
    pub string_id: i32,
    pub string_value: String,
}

impl Tbase for TStringMetaData {
    const TYPE: i16 = header::types::STRING_METADATA;
    const NAME: &'static str = "TStringMetaData";
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()> {
        w.string(1, Some(&self.agent_id))?;
        w.i64(2, self.agent_start_time)?;
        w.i32(4, self.string_id)?;
        w.string(5, Some(&self.string_value))
    }
}

/// CPU load, 0.0 to 1.0 (TCpuLoad).
#[derive(Debug, Clone, PartialEq)]
pub struct TCpuLoad {
    pub jvm_cpu_load: f64,
    pub system_cpu_load: f64,
}

impl Tbase for TCpuLoad {
    const TYPE: i16 = 0; // never sent alone
    const NAME: &'static str = "TCpuLoad";
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()> {
        w.double(1, self.jvm_cpu_load)?;
        w.double(2, self.system_cpu_load)
    }
}

/// One sample of an agent's statistics (TAgentStat); only CPU load here.
#[derive(Debug, Clone, PartialEq)]
pub struct TAgentStat {
    pub timestamp: i64,
    pub collect_interval: i64,
    pub cpu_load: Option<TCpuLoad>,
}

impl Tbase for TAgentStat {
    const TYPE: i16 = header::types::AGENT_STAT;
    const NAME: &'static str = "TAgentStat";
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()> {
        w.i64(3, self.timestamp)?;
        w.i64(4, self.collect_interval)?;
        w.strukt(20, self.cpu_load.as_ref())
    }
}

/// The samples an agent sends together on the stat port (TAgentStatBatch).
#[derive(Debug, Clone, PartialEq)]
pub struct TAgentStatBatch {
    pub agent_id: String,
    pub start_timestamp: i64,
    pub agent_stats: Vec<TAgentStat>,
}

impl Tbase for TAgentStatBatch {
    const TYPE: i16 = header::types::AGENT_STAT_BATCH;
    const NAME: &'static str = "TAgentStatBatch";
    fn write_fields(&self, w: &mut Writer<'_>) -> thrift::Result<()> {
        w.string(1, Some(&self.agent_id))?;
        w.i64(2, self.start_timestamp)?;
        w.list(10, &self.agent_stats)
    }
}

/// The collector's answer to a request (TResult).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TResult {
    pub success: bool,
    pub message: Option<String>,
}

/// A TResult out of a response payload (header, then the compact struct).
pub fn parse_result(payload: &[u8]) -> anyhow::Result<TResult> {
    let (type_code, at) = header::parse(payload)?;
    anyhow::ensure!(
        type_code == header::types::RESULT,
        "a response of type {type_code}, not TResult ({})",
        header::types::RESULT
    );
    let mut protocol = TCompactInputProtocol::new(&payload[at..]);
    let mut result = TResult::default();
    protocol.read_struct_begin()?;
    loop {
        let field = protocol.read_field_begin()?;
        match (field.field_type, field.id) {
            (TType::Stop, _) => break,
            (TType::Bool, Some(1)) => result.success = protocol.read_bool()?,
            (TType::String, Some(2)) => result.message = Some(protocol.read_string()?),
            (kind, _) => protocol.skip(kind)?,
        }
        protocol.read_field_end()?;
    }
    protocol.read_struct_end()?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_as_agents_write_them() {
        // Own agent: version 0, null agent id (zigzag -1 = 1), varints.
        assert_eq!(transaction_id_bytes(None, 1, 300), [0, 1, 1, 0xac, 0x02]);
        assert_eq!(
            transaction_id_bytes(Some("ab"), 0, 1),
            [0, 4, b'a', b'b', 0, 1]
        );
    }

    #[test]
    fn a_result_reads_back() {
        // TResult{success: true, message: "ok"} compact: field 1 bool true (0x11), field 2
        // string (0x18, len 2), stop.
        let mut payload = header::v1(header::types::RESULT);
        payload.extend_from_slice(&[0x11, 0x18, 2, b'o', b'k', 0]);
        let r = parse_result(&payload).unwrap();
        assert!(r.success);
        assert_eq!(r.message.as_deref(), Some("ok"));
    }

    #[test]
    fn a_stat_batch_encodes_compactly() {
        let batch = TAgentStatBatch {
            agent_id: "a".into(),
            start_timestamp: 1,
            agent_stats: vec![TAgentStat {
                timestamp: 2,
                collect_interval: 3,
                cpu_load: None,
            }],
        };
        let bytes = packet(&batch).unwrap();
        // header, field 1 string "a", field 2 i64 zigzag(1)=2, field 10 list of 1 struct
        // (delta 8: 0x89, size<<4|struct 0x1c), fields 3 and 4, stop, stop.
        assert_eq!(
            bytes,
            [
                0xef, 0x10, 0, 56, 0x18, 1, b'a', 0x16, 2, 0x89, 0x1c, 0x36, 4, 0x16, 6, 0, 0
            ]
        );
    }
}
