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

    /// Removes `key`; returns its value if it was set.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// Keeps only the headers for which `keep(key)` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|(k, _)| keep(k));
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
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
    /// When its source handed it to its channels (see [`Batch::set_read_at`]).
    read_at: Option<std::time::Instant>,
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
            read_at: None,
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
            read_at: None,
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

    /// Records when its source handed it over (the start of its delivery latency).
    pub fn set_read_at(&mut self, at: std::time::Instant) {
        self.read_at = Some(at);
    }

    /// When its source handed it over, if it was recorded.
    pub fn read_at(&self) -> Option<std::time::Instant> {
        self.read_at
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

    /// The value of header `key` of event `i`: its own, else the shared one.
    pub fn header(&self, i: usize, key: &str) -> Option<&str> {
        self.event_headers
            .as_ref()
            .and_then(|h| h[i].get(key))
            .or_else(|| self.headers.as_ref().and_then(|h| h.get(key)))
    }

    /// Sets header `key` to `value` on every event, as one shared header. With
    /// `preserve_existing`, an event that has the header keeps its value.
    pub fn set_header(&mut self, key: &str, value: &str, preserve_existing: bool) {
        let shared_has = self.headers.as_ref().is_some_and(|h| h.get(key).is_some());
        if preserve_existing && shared_has {
            return;
        }
        // An event's own header overrides the shared one: keep it (preserve) or drop it.
        if !preserve_existing
            && self
                .event_headers
                .as_ref()
                .is_some_and(|hs| hs.iter().any(|h| h.get(key).is_some()))
        {
            self.modify_event_headers(|_, h| {
                h.remove(key);
            });
        }
        let mut shared = self.headers.as_deref().cloned().unwrap_or_default();
        shared.insert(key, value);
        self.headers = Some(Arc::new(shared));
    }

    /// Removes the headers whose key matches `remove`, shared and per event.
    pub fn remove_headers(&mut self, mut remove: impl FnMut(&str) -> bool) {
        if let Some(shared) = &self.headers {
            if shared.iter().any(|(k, _)| remove(k)) {
                let mut h = Headers::clone(shared);
                h.retain(|k| !remove(k));
                self.headers = (!h.is_empty()).then(|| Arc::new(h));
            }
        }
        if self
            .event_headers
            .as_ref()
            .is_some_and(|hs| hs.iter().any(|h| h.iter().any(|(k, _)| remove(k))))
        {
            self.modify_event_headers(|_, h| h.retain(|k| !remove(k)));
        }
    }

    /// Changes each event's own headers (`f(index, headers)`), creating them if the batch had
    /// none. Costs an allocation per event: for headers whose values differ between events.
    pub fn modify_event_headers(&mut self, mut f: impl FnMut(usize, &mut Headers)) {
        let mut all: Vec<Headers> = match self.event_headers.take() {
            Some(hs) => hs.to_vec(),
            None => vec![Headers::new(); self.count as usize],
        };
        for (i, h) in all.iter_mut().enumerate() {
            f(i, h);
        }
        self.event_headers = all.iter().any(|h| !h.is_empty()).then(|| Arc::from(all));
    }

    /// The batch of the events `keep` says to keep, in order, with their headers, the ack and
    /// the `more_ready` hint; `None` if it keeps none. Bodies are copied, unless all are kept.
    pub fn select(self, mut keep: impl FnMut(usize) -> bool) -> Option<Batch> {
        let kept: Vec<usize> = (0..self.len()).filter(|&i| keep(i)).collect();
        if kept.len() == self.len() {
            return Some(self);
        }
        if kept.is_empty() {
            return None;
        }
        let bodies: Vec<&[u8]> = self.bodies().collect();
        let lines = matches!(self.layout, Layout::Lines);
        let size: usize = kept
            .iter()
            .map(|&i| bodies[i].len() + usize::from(lines))
            .sum();
        let mut data = bytes::BytesMut::with_capacity(size);
        let mut ends = Vec::with_capacity(if lines { 0 } else { kept.len() });
        for &i in &kept {
            data.extend_from_slice(bodies[i]);
            if lines {
                data.extend_from_slice(b"\n");
            } else {
                ends.push(data.len() as u32);
            }
        }
        let mut batch = if lines {
            Batch::from_lines(data.freeze(), kept.len() as u32)
        } else {
            Batch::from_ends(data.freeze(), Arc::from(ends))
        };
        batch.headers = self.headers.clone();
        batch.event_headers = self
            .event_headers
            .as_ref()
            .map(|hs| kept.iter().map(|&i| hs[i].clone()).collect());
        batch.ack = self.ack.clone();
        batch.more_ready = self.more_ready;
        Some(batch)
    }

    /// The batch with each body replaced by what `f(body, out)` appends to `out`, headers, ack
    /// and hint kept. Bodies are copied into one new chunk, in the `Lines` layout when the batch
    /// had it and no new body holds a `\n` (a newline-framed sink then writes the chunk as it
    /// is).
    ///
    /// # Errors
    /// Gives the batch back unchanged if the new bodies would not fit one chunk (4 GiB).
    pub fn map_bodies(self, mut f: impl FnMut(&[u8], &mut Vec<u8>)) -> Result<Batch, Batch> {
        let mut data = Vec::with_capacity(self.data.len());
        let mut ends = Vec::with_capacity(self.len());
        for body in self.bodies() {
            f(body, &mut data);
            match u32::try_from(data.len()) {
                Ok(end) => ends.push(end),
                Err(_) => return Err(self),
            }
        }
        let lines = matches!(self.layout, Layout::Lines) && memchr::memchr(b'\n', &data).is_none();
        let mut batch = if lines {
            let mut chunk = Vec::with_capacity(data.len() + ends.len());
            let mut start = 0;
            for &end in &ends {
                chunk.extend_from_slice(&data[start..end as usize]);
                chunk.push(b'\n');
                start = end as usize;
            }
            Batch::from_lines(Bytes::from(chunk), self.count)
        } else {
            Batch::from_ends(Bytes::from(data), Arc::from(ends))
        };
        batch.headers = self.headers;
        batch.event_headers = self.event_headers;
        batch.ack = self.ack;
        batch.more_ready = self.more_ready;
        Ok(batch)
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

    fn three() -> Batch {
        Batch::from_lines(Bytes::from_static(b"a1\nb2\nc3\n"), 3)
    }

    #[test]
    fn a_shared_header_is_overridden_by_an_events_own_unless_preserved() {
        let mut b = three();
        b.modify_event_headers(|i, h| {
            if i == 1 {
                h.insert("k", "own");
            }
        });
        b.set_header("k", "shared", true);
        let values: Vec<_> = (0..3).map(|i| b.header(i, "k")).collect();
        assert_eq!(values, [Some("shared"), Some("own"), Some("shared")]);
        b.set_header("k", "all", false);
        let values: Vec<_> = (0..3).map(|i| b.header(i, "k")).collect();
        assert_eq!(values, [Some("all"); 3]);
        assert!(
            b.event_headers().is_none(),
            "no event keeps a header of its own"
        );
    }

    #[test]
    fn removing_headers_reaches_shared_and_own_ones() {
        let mut b = three().with_headers(Arc::new([("a", "1"), ("b", "2")].into_iter().collect()));
        b.modify_event_headers(|i, h| h.insert("a", i.to_string()));
        b.remove_headers(|k| k == "a");
        assert_eq!(
            (0..3).map(|i| b.header(i, "a")).collect::<Vec<_>>(),
            [None; 3]
        );
        assert_eq!(b.header(2, "b"), Some("2"));
    }

    #[test]
    fn select_keeps_bodies_headers_and_layout() {
        let mut b = three();
        b.modify_event_headers(|i, h| h.insert("i", i.to_string()));
        let kept = b.clone().select(|i| i != 1).unwrap();
        assert_eq!(kept.bodies().collect::<Vec<_>>(), [&b"a1"[..], b"c3"]);
        assert_eq!(
            (kept.header(0, "i"), kept.header(1, "i")),
            (Some("0"), Some("2"))
        );
        assert!(matches!(kept.layout(), Layout::Lines));
        assert!(b.clone().select(|_| false).is_none());
        let ends = Batch::from_ends(Bytes::from_static(b"x\nyz"), Arc::from(vec![2u32, 4]));
        let kept = ends.select(|i| i == 0).unwrap();
        assert_eq!(kept.bodies().collect::<Vec<_>>(), [&b"x\n"[..]]);
    }

    #[test]
    fn mapped_bodies_stay_lines_unless_a_newline_appears() {
        let upper = three()
            .map_bodies(|b, out| out.extend(b.to_ascii_uppercase()))
            .unwrap();
        assert!(matches!(upper.layout(), Layout::Lines));
        assert_eq!(upper.data().as_ref(), b"A1\nB2\nC3\n");
        let split = three()
            .map_bodies(|b, out| {
                out.extend_from_slice(b);
                out.extend_from_slice(b"\n!");
            })
            .unwrap();
        assert!(matches!(split.layout(), Layout::Ends(_)));
        assert_eq!(
            split.bodies().collect::<Vec<_>>(),
            [&b"a1\n!"[..], b"b2\n!", b"c3\n!"]
        );
        let empty = three().map_bodies(|_, _| {}).unwrap();
        assert_eq!(empty.bodies().collect::<Vec<_>>(), [&b""[..]; 3]);
    }
}
