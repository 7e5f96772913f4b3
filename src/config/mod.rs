//! TEMPORARY STUB (not committed): replaced by the config branch at merge.
#![allow(missing_docs, dead_code)]
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);
impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
impl std::error::Error for ConfigErrors {}
pub fn load(_files: &[PathBuf], _agent: &str) -> Result<AgentConfig, ConfigErrors> {
    unimplemented!()
}
pub fn parse_str(
    _text: &str,
    _origin: Option<&std::path::Path>,
    _agent: &str,
) -> Result<AgentConfig, ConfigErrors> {
    unimplemented!()
}
pub const DEFAULT_CONFIG: &str = "";
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    pub name: String,
    pub sources: Vec<SourceConfig>,
    pub channels: Vec<ChannelConfig>,
    pub sinks: Vec<SinkConfig>,
}
impl AgentConfig {
    pub fn describe(&self) -> String {
        String::new()
    }
}
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    pub name: String,
    pub channels: Vec<String>,
    pub kind: SourceKind,
}
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    Taildir(TaildirConfig),
}
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
}
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    Memory(MemoryChannelConfig),
}
#[derive(Debug, Clone, PartialEq)]
pub struct SinkConfig {
    pub name: String,
    pub channel: String,
    pub kind: SinkKind,
}
#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    Logger(LoggerSinkConfig),
    Null(NullSinkConfig),
    Tcp(TcpSinkConfig),
}
#[derive(Debug, Clone, PartialEq)]
pub struct FileGroup {
    pub name: String,
    pub dir: PathBuf,
    pub pattern: String,
    pub headers: Vec<(String, String)>,
}
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineOverflow {
    Split,
    Truncate,
}
#[derive(Debug, Clone, PartialEq)]
pub struct TaildirConfig {
    pub filegroups: Vec<FileGroup>,
    pub position_file: PathBuf,
    pub byte_offset_header: bool,
    pub skip_to_end: bool,
    pub idle_timeout: Duration,
    pub write_pos_interval: Duration,
    pub batch_size: usize,
    pub max_batch_count: Option<u64>,
    pub backoff_sleep_increment: Duration,
    pub max_backoff_sleep: Duration,
    pub cache_pattern_matching: bool,
    pub file_header: bool,
    pub file_header_key: String,
    pub max_line_length: usize,
    pub line_overflow: LineOverflow,
    pub read_buffer_size: usize,
    pub poll_interval: Duration,
}
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryChannelConfig {
    pub capacity: usize,
    pub transaction_capacity: usize,
    pub keep_alive: Duration,
    pub byte_capacity: u64,
    pub byte_capacity_buffer_percentage: u8,
}
#[derive(Debug, Clone, PartialEq)]
pub struct LoggerSinkConfig {
    pub max_bytes_to_log: usize,
}
#[derive(Debug, Clone, PartialEq)]
pub struct NullSinkConfig {
    pub batch_size: usize,
}
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Framing {
    Newline,
    OctetCounting,
}
#[derive(Debug, Clone, PartialEq)]
pub struct TcpSinkConfig {
    pub hostname: String,
    pub port: u16,
    pub batch_size: usize,
    pub framing: Framing,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_backoff: Duration,
}
