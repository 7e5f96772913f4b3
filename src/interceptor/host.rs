//! Flume's `host` interceptor: sets a header to this host's IP address or name.
//!
//! As in Flume, the host is looked up once, when the interceptor is built: the IP address the
//! host name resolves to (an IPv4 one first, as Java prefers), or with `useIP = false` the
//! host's canonical name. When the lookup fails the agent says so and sets no header, as Flume
//! does.

use std::ffi::CStr;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;

use tracing::warn;

use crate::component::{
    Component, Interceptor, InterceptorSpec, ParseContext, Setting, StartError,
};
use crate::config::Props;
use crate::event::Batch;

/// Settings of the `host` interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// Flume key `hostHeader`, default `host`.
    pub host_header: String,
    /// Flume key `useIP`, default true: the address rather than the name.
    pub use_ip: bool,
    /// Flume key `preserveExisting`, default false.
    pub preserve_existing: bool,
}

const KEYS: &[&str] = &["type", "hostHeader", "useIP", "preserveExisting"];

/// Reads a `host` interceptor's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn InterceptorSpec>> {
    let config = HostConfig {
        host_header: p.string("hostHeader", "host"),
        use_ip: p.bool("useIP", true),
        preserve_existing: p.bool("preserveExisting", false),
    };
    p.finish("a host interceptor", KEYS);
    Some(Arc::new(config))
}

impl Component for HostConfig {
    fn type_name(&self) -> &'static str {
        "host"
    }

    fn describe(&self) -> Vec<Setting> {
        vec![
            Setting::new("hostHeader", &self.host_header),
            Setting::new("useIP", self.use_ip),
            Setting::new("preserveExisting", self.preserve_existing),
        ]
    }
}

impl InterceptorSpec for HostConfig {
    fn build(&self) -> Result<Arc<dyn Interceptor>, StartError> {
        let host = match local_host(self.use_ip) {
            Ok(host) => Some(host),
            Err(e) => {
                warn!(
                    "cannot look this host up ({e}); events get no `{}` header",
                    self.host_header
                );
                None
            }
        };
        Ok(Arc::new(Host {
            header: self.host_header.clone(),
            host,
            preserve_existing: self.preserve_existing,
        }))
    }
}

/// The `host` interceptor, its host looked up.
#[derive(Debug)]
pub struct Host {
    header: String,
    host: Option<String>,
    preserve_existing: bool,
}

impl Interceptor for Host {
    fn intercept(&self, mut batch: Batch) -> Option<Batch> {
        if let Some(host) = &self.host {
            batch.set_header(&self.header, host, self.preserve_existing);
        }
        Some(batch)
    }
}

/// This host's address (`use_ip`) or canonical name, as Java's `InetAddress.getLocalHost()`
/// gives them.
pub fn local_host(use_ip: bool) -> std::io::Result<String> {
    let name = host_name()?;
    if use_ip {
        let addrs: Vec<IpAddr> = (name.as_str(), 0)
            .to_socket_addrs()?
            .map(|a| a.ip())
            .collect();
        let ip = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .ok_or_else(|| std::io::Error::other(format!("`{name}` resolves to no address")))?;
        Ok(ip.to_string())
    } else {
        Ok(canonical_name(&name).unwrap_or(name))
    }
}

fn host_name() -> std::io::Result<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of its length; gethostname writes at most that many
    // bytes and we terminate it ourselves below.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let name = CStr::from_bytes_until_nul(&buf).map_err(std::io::Error::other)?;
    Ok(name.to_string_lossy().into_owned())
}

/// The canonical name of `name` (`getaddrinfo` with `AI_CANONNAME`), if the resolver has one.
fn canonical_name(name: &str) -> Option<String> {
    let c_name = std::ffi::CString::new(name).ok()?;
    // SAFETY: an all-zero addrinfo is a valid "no hints" value; the fields we need are set below.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_flags = libc::AI_CANONNAME;
    hints.ai_family = libc::AF_UNSPEC;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: the name is NUL-terminated, the hints are initialised, `res` receives a list that
    // is freed below.
    let rc = unsafe { libc::getaddrinfo(c_name.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 || res.is_null() {
        return None;
    }
    // SAFETY: `res` is the list getaddrinfo returned; `ai_canonname`, when set, is a
    // NUL-terminated string owned by it, copied before the list is freed.
    let canonical = unsafe {
        let c = (*res).ai_canonname;
        let s = (!c.is_null()).then(|| CStr::from_ptr(c).to_string_lossy().into_owned());
        libc::freeaddrinfo(res);
        s
    };
    canonical.filter(|s| !s.is_empty())
}
