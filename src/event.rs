//! Events and the batches that carry them.
//!
//! An event is Flume's: a set of string headers and an opaque byte body. spate never moves single
//! events. The unit that travels from a source through a channel to a sink is a [`Batch`]: one
//! [`Bytes`] chunk holding the bodies of many events back to back, the layout that tells where
//! each body ends, headers shared by the whole batch, and per-event headers only when something
//! set them.
//!
//! # Memory layout
//!
//! A tailed file produces batches in the [`Layout::Lines`] layout: the chunk is exactly `count`
//! lines, each followed by one `\n`. That is the file's own bytes, sliced out of the read buffer
//! without copying, and a newline-framed sink can write it to a socket as it is. Bodies that may
//! contain `\n` themselves (a line split because it was too long, or a future network source) use
//! [`Layout::Ends`], which lists each body's end offset explicitly.
//!
//! # Sharing
//!
//! Cloning a batch clones one `Bytes` (one reference count increment) and one `Arc` for the
//! headers: a cost per batch, never per event. A replicating selector clones a batch once per
//! channel.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::ack::Ack;

/// Event headers: Flume's `Map<String, String>`, kept as a small vector because events rarely
/// carry more than a handful of headers and lookups scan a few entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// Headers with no entries.
    pub const fn new() -> Self {
        Headers(Vec::new())
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value`, replacing an existing value (Flume's `Map.put`).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Whether no header is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The headers in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let mut headers = Headers::new();
        for (k, v) in iter {
            headers.insert(k, v);
        }
        headers
    }
}

impl fmt::Display for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={v}")?;
        }
        f.write_str("}")
    }
}

/// Where the event bodies of a batch lie in its chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Every body is followed by exactly one `\n`, which is not part of the body.
    Lines,
    /// Bodies lie back to back; entry `i` is the end offset (exclusive) of body `i`.
    Ends(Arc<[u32]>),
}

/// A batch of events: the unit that moves through channels.
///
/// Invariants: `count >= 1`; with [`Layout::Lines`], `data` holds exactly `count` `\n` bytes and
/// ends with one; with [`Layout::Ends`], the list has `count` non-decreasing entries and the last
/// equals `data.len()`.
#[derive(Clone)]
pub struct Batch {
    data: Bytes,
    layout: Layout,
    count: u32,
    headers: Option<Arc<Headers>>,
    event_headers: Option<Arc<[Headers]>>,
    ack: Option<Ack>,
    more_ready: bool,
}

impl Batch {
    /// A batch of `count` newline-terminated lines. `data` must hold exactly `count` lines, each
    /// ending in `\n` (checked in debug builds).
    pub fn from_lines(data: Bytes, count: u32) -> Self {
        debug_assert!(count > 0 && data.last() == Some(&b'\n'));
        debug_assert_eq!(memchr::memchr_iter(b'\n', &data).count(), count as usize);
        Batch {
            data,
            layout: Layout::Lines,
            count,
            headers: None,
            event_headers: None,
            ack: None,
            more_ready: false,
        }
    }

    /// A batch whose bodies lie back to back in `data`, body `i` ending at `ends[i]`.
    ///
    /// # Panics
    /// When `ends` is empty, decreasing, or its last entry is not `data.len()`: that is a bug in
    /// the caller, not bad input.
    pub fn from_ends(data: Bytes, ends: Arc<[u32]>) -> Self {
        assert!(!ends.is_empty(), "a batch holds at least one event");
        assert!(ends.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*ends.last().unwrap() as usize, data.len());
        let count = ends.len() as u32;
        Batch {
            data,
            layout: Layout::Ends(ends),
            count,
            headers: None,
            event_headers: None,
            ack: None,
            more_ready: false,
        }
    }

    /// Sets the headers shared by every event of the batch.
    pub fn with_headers(mut self, headers: Arc<Headers>) -> Self {
        self.headers = (!headers.is_empty()).then_some(headers);
        self
    }

    /// Sets per-event headers (one entry per event, in order). They are added to the shared
    /// headers, overriding them on equal keys.
    ///
    /// # Panics
    /// When the number of entries differs from the number of events.
    pub fn with_event_headers(mut self, headers: Arc<[Headers]>) -> Self {
        assert_eq!(headers.len(), self.count as usize);
        self.event_headers = Some(headers);
        self
    }

    /// Attaches the acknowledgement that is delivered when the batch is committed by a sink.
    pub fn with_ack(mut self, ack: Ack) -> Self {
        self.ack = Some(ack);
        self
    }

    /// Marks that its source already held more events when it put this batch, and puts them
    /// next: a sink may then hold a partial network write back for the batch that follows (the
    /// tcp sink's `MSG_MORE`), instead of sending a small packet and waking its peer per batch.
    /// It is only a hint, never needed for correctness: a sink that finds its channel empty
    /// sends what it held back.
    pub fn with_more_ready(mut self, more_ready: bool) -> Self {
        self.more_ready = more_ready;
        self
    }

    /// See [`Batch::with_more_ready`].
    pub fn more_ready(&self) -> bool {
        self.more_ready
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Always false: a batch holds at least one event.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The raw chunk, bodies plus separators as described by [`Batch::layout`].
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// How bodies lie in [`Batch::data`].
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Total size of the event bodies, without separators (what Flume's `byteCapacity` counts).
    pub fn body_bytes(&self) -> usize {
        match self.layout {
            Layout::Lines => self.data.len() - self.count as usize,
            Layout::Ends(_) => self.data.len(),
        }
    }

    /// Headers shared by all events, if any.
    pub fn headers(&self) -> Option<&Headers> {
        self.headers.as_deref()
    }

    /// Per-event headers, if something set them.
    pub fn event_headers(&self) -> Option<&[Headers]> {
        self.event_headers.as_deref()
    }

    /// Takes the acknowledgement out of the batch, to deliver it once the batch is committed.
    pub fn take_ack(&mut self) -> Option<Ack> {
        self.ack.take()
    }

    /// The event bodies in order.
    pub fn bodies(&self) -> Bodies<'_> {
        Bodies {
            data: &self.data,
            layout: &self.layout,
            pos: 0,
            index: 0,
            remaining: self.count as usize,
        }
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("events", &self.count)
            .field("bytes", &self.data.len())
            .field(
                "layout",
                &matches!(self.layout, Layout::Lines).then_some("lines"),
            )
            .field("headers", &self.headers)
            .field("acked", &self.ack.is_some())
            .field("more_ready", &self.more_ready)
            .finish()
    }
}

/// Iterator over the bodies of a batch; see [`Batch::bodies`].
#[derive(Debug)]
pub struct Bodies<'a> {
    data: &'a [u8],
    layout: &'a Layout,
    pos: usize,
    index: usize,
    remaining: usize,
}

impl<'a> Iterator for Bodies<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let start = self.pos;
        match self.layout {
            Layout::Lines => {
                let rest = &self.data[start..];
                // The invariant guarantees a newline for every remaining body.
                let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                self.pos = start + len + 1;
                Some(&rest[..len])
            }
            Layout::Ends(ends) => {
                let end = ends[self.index] as usize;
                self.index += 1;
                self.pos = end;
                Some(&self.data[start..end])
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Bodies<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_layout_yields_bodies_without_newlines() {
        let batch = Batch::from_lines(Bytes::from_static(b"a\n\nccc\n"), 3);
        let bodies: Vec<&[u8]> = batch.bodies().collect();
        assert_eq!(bodies, vec![&b"a"[..], b"", b"ccc"]);
        assert_eq!(batch.body_bytes(), 4);
        assert_eq!(batch.len(), 3);
    }

    #[test]
    fn ends_layout_allows_newlines_and_binary_in_bodies() {
        let data = Bytes::from_static(b"x\ny\xff\x00z");
        let batch = Batch::from_ends(data, Arc::from(vec![3u32, 5, 6]));
        let bodies: Vec<&[u8]> = batch.bodies().collect();
        assert_eq!(bodies, vec![&b"x\ny"[..], b"\xff\x00", b"z"]);
        assert_eq!(batch.body_bytes(), 6);
    }

    #[test]
    fn headers_insert_replaces_and_keeps_order() {
        let mut h: Headers = [("a", "1"), ("b", "2")].into_iter().collect();
        h.insert("a", "3");
        assert_eq!(h.get("a"), Some("3"));
        assert_eq!(h.to_string(), "{a=3, b=2}");
    }

    #[test]
    #[should_panic]
    fn ends_must_cover_the_chunk() {
        Batch::from_ends(Bytes::from_static(b"abc"), Arc::from(vec![2u32]));
    }
}
