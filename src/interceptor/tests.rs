//! Each interceptor against Flume's documented behaviour, through the configuration path a
//! user takes.

use std::sync::Arc;

use bytes::Bytes;

use super::Chain;
use crate::event::{Batch, Headers};

/// The chain of source `r1` configured by `keys` (lines under `a1.sources.r1.`).
fn chain(keys: &str) -> Chain {
    let mut text = String::from(
        "a1.sources = r1\na1.channels = c1\na1.sinks = k1\n\
         a1.sources.r1.type = TAILDIR\na1.sources.r1.channels = c1\n\
         a1.sources.r1.positionFile = /tmp/p.json\na1.sources.r1.filegroups = f\n\
         a1.sources.r1.filegroups.f = /var/log/x.log\na1.channels.c1.type = memory\n\
         a1.sinks.k1.type = null\na1.sinks.k1.channel = c1\n",
    );
    for line in keys.lines() {
        text.push_str(&format!("a1.sources.r1.{}\n", line.trim()));
    }
    let config = crate::config::parse_str(&text, None, "a1").expect("valid configuration");
    Chain::build(&config.sources[0].interceptors).expect("builds")
}

fn lines(text: &'static str) -> Batch {
    Batch::from_lines(
        Bytes::from_static(text.as_bytes()),
        text.matches('\n').count() as u32,
    )
}

fn values(b: &Batch, key: &str) -> Vec<Option<String>> {
    (0..b.len())
        .map(|i| b.header(i, key).map(str::to_string))
        .collect()
}

fn bodies(b: &Batch) -> Vec<Vec<u8>> {
    b.bodies().map(<[u8]>::to_vec).collect()
}

/// Three events; the second already has header `k = own`.
fn with_own_header(key: &str) -> Batch {
    let mut b = lines("a\nb\nc\n");
    b.modify_event_headers(|i, h| {
        if i == 1 {
            h.insert(key, "own");
        }
    });
    b
}

#[test]
fn static_sets_one_shared_header_and_keeps_an_existing_one_by_default() {
    let c = chain("interceptors = s\ninterceptors.s.type = static\ninterceptors.s.key = dc\ninterceptors.s.value = eu");
    let b = c.apply(with_own_header("dc")).unwrap();
    assert_eq!(
        values(&b, "dc"),
        [Some("eu".into()), Some("own".into()), Some("eu".into())]
    );
    assert_eq!(
        b.headers().map(Headers::len),
        Some(1),
        "one shared header, not one per event"
    );
    let c = chain("interceptors = s\ninterceptors.s.type = static\ninterceptors.s.key = dc\ninterceptors.s.value = eu\ninterceptors.s.preserveExisting = false");
    let b = c.apply(with_own_header("dc")).unwrap();
    assert_eq!(values(&b, "dc"), vec![Some("eu".to_string()); 3]);
    // Flume's defaults: key `key`, value `value`.
    let b = chain("interceptors = s\ninterceptors.s.type = static")
        .apply(lines("x\n"))
        .unwrap();
    assert_eq!(b.header(0, "key"), Some("value"));
}

#[test]
fn timestamp_is_the_time_in_milliseconds_and_replaces_by_default() {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    let before = now();
    let b = chain("interceptors = t\ninterceptors.t.type = timestamp")
        .apply(with_own_header("timestamp"))
        .unwrap();
    let after = now();
    for v in values(&b, "timestamp") {
        let ms: u128 = v.unwrap().parse().unwrap();
        assert!((before..=after).contains(&ms));
    }
    let b = chain("interceptors = t\ninterceptors.t.type = timestamp\ninterceptors.t.headerName = ts\ninterceptors.t.preserveExisting = true")
        .apply(with_own_header("ts"))
        .unwrap();
    assert_eq!(b.header(1, "ts"), Some("own"));
    assert!(b.header(0, "ts").unwrap().parse::<u128>().is_ok());
}

#[test]
fn host_is_this_hosts_address_or_name() {
    let b = chain("interceptors = h\ninterceptors.h.type = host")
        .apply(lines("x\n"))
        .unwrap();
    let ip = b
        .header(0, "host")
        .expect("the host resolves on the test machine");
    assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
    let b = chain("interceptors = h\ninterceptors.h.type = host\ninterceptors.h.useIP = false\ninterceptors.h.hostHeader = hn")
        .apply(lines("x\n"))
        .unwrap();
    assert!(!b.header(0, "hn").unwrap().is_empty());
    let b = chain(
        "interceptors = h\ninterceptors.h.type = host\ninterceptors.h.preserveExisting = true",
    )
    .apply(with_own_header("host"))
    .unwrap();
    assert_eq!(b.header(1, "host"), Some("own"));
}

#[test]
fn remove_header_by_name_list_and_whole_match() {
    let mut b = lines("x\ny\n").with_headers(Arc::new(
        [
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("tmp", "4"),
            ("tmpx", "5"),
            ("keep", "6"),
        ]
        .into_iter()
        .collect(),
    ));
    b.modify_event_headers(|i, h| h.insert("c", i.to_string()));
    let c = chain(
        "interceptors = r\ninterceptors.r.type = remove_header\ninterceptors.r.withName = a\n\
         interceptors.r.fromList = b ,c\ninterceptors.r.matching = tm.",
    );
    let b = c.apply(b).unwrap();
    for key in ["a", "b", "c", "tmp"] {
        assert_eq!(values(&b, key), [None, None], "{key}");
    }
    // `matching` must match the whole name, as Java's `matches()`.
    assert_eq!(b.header(0, "tmpx"), Some("5"));
    assert_eq!(b.header(1, "keep"), Some("6"));
}

#[test]
fn regex_filter_keeps_or_drops_matching_events_binary_bodies_included() {
    let batch = || {
        Batch::from_ends(
            Bytes::from_static(b"ERROR x\xff\x00INFO yDEBUG z"),
            Arc::from(vec![9u32, 15, 22]),
        )
    };
    let keep = chain(
        "interceptors = f\ninterceptors.f.type = regex_filter\ninterceptors.f.regex = ERROR|DEBUG",
    );
    let b = keep.apply(batch()).unwrap();
    assert_eq!(
        bodies(&b),
        [b"ERROR x\xff\x00".to_vec(), b"DEBUG z".to_vec()]
    );
    let drop = chain("interceptors = f\ninterceptors.f.type = regex_filter\ninterceptors.f.regex = ERROR|DEBUG\ninterceptors.f.excludeEvents = true");
    assert_eq!(bodies(&drop.apply(batch()).unwrap()), [b"INFO y".to_vec()]);
    // `find()`, not a whole match; every event dropped leaves no batch.
    let none = chain("interceptors = f\ninterceptors.f.type = regex_filter\ninterceptors.f.regex = [A-Z]{4}\ninterceptors.f.excludeEvents = true");
    assert!(none.apply(batch()).is_none());
    // Flume's default regex keeps everything.
    assert_eq!(
        chain("interceptors = f\ninterceptors.f.type = regex_filter")
            .apply(batch())
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn search_replace_rewrites_bodies_with_java_group_references() {
    let c = chain(
        "interceptors = s\ninterceptors.s.type = search_replace\n\
         interceptors.s.searchPattern = (\\\\d+)-(\\\\d+)\ninterceptors.s.replaceString = $2:$1",
    );
    let b = c.apply(lines("a 1-2 b 33-44\nnone\n")).unwrap();
    assert_eq!(bodies(&b), [b"a 2:1 b 44:33".to_vec(), b"none".to_vec()]);
    // Bytes that are not UTF-8 become U+FFFD, as Java's decoder makes them.
    let c = chain(
        "interceptors = s\ninterceptors.s.type = search_replace\ninterceptors.s.searchPattern = x",
    );
    let b = c
        .apply(Batch::from_ends(
            Bytes::from_static(b"x\xffx"),
            Arc::from(vec![3u32]),
        ))
        .unwrap();
    assert_eq!(bodies(&b), ["\u{fffd}".as_bytes().to_vec()]);
}

#[test]
fn regex_extractor_sets_one_header_per_group_from_the_first_match() {
    let c = chain(
        "interceptors = e\ninterceptors.e.type = regex_extractor\n\
         interceptors.e.regex = ^(\\\\d{4}-\\\\d\\\\d-\\\\d\\\\d \\\\d\\\\d:\\\\d\\\\d:\\\\d\\\\d \\\\+0000) (\\\\w+)\n\
         interceptors.e.serializers = t lvl\n\
         interceptors.e.serializers.t.name = timestamp\n\
         interceptors.e.serializers.t.type = org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer\n\
         interceptors.e.serializers.t.pattern = yyyy-MM-dd HH:mm:ss Z\n\
         interceptors.e.serializers.lvl.name = level",
    );
    let b = c
        .apply(lines("2012-10-17 14:34:44 +0000 WARN disk\nno match here\n2012-10-17 14:34:45 +0000 INFO ok\n"))
        .unwrap();
    assert_eq!(
        values(&b, "timestamp"),
        [
            Some("1350484484000".into()),
            None,
            Some("1350484485000".into())
        ]
    );
    assert_eq!(
        values(&b, "level"),
        [Some("WARN".into()), None, Some("INFO".into())]
    );
}

#[test]
fn uuid_gives_each_event_its_own_id() {
    let c = chain(
        "interceptors = u\ninterceptors.u.type = org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder\n\
         interceptors.u.prefix = host-",
    );
    let b = c.apply(with_own_header("id")).unwrap();
    let ids = values(&b, "id");
    assert_eq!(
        ids[1].as_deref(),
        Some("own"),
        "preserveExisting is true by default"
    );
    let (a, c2) = (ids[0].clone().unwrap(), ids[2].clone().unwrap());
    assert_ne!(a, c2);
    for id in [&a, &c2] {
        let uuid = id.strip_prefix("host-").expect("the prefix");
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
    }
}

#[test]
fn a_chain_runs_in_order() {
    // The filter sees what the replacement made of the body.
    let c = chain(
        "interceptors = s f\ninterceptors.s.type = search_replace\ninterceptors.s.searchPattern = secret\n\
         interceptors.s.replaceString = DROPME\ninterceptors.f.type = regex_filter\n\
         interceptors.f.regex = DROPME\ninterceptors.f.excludeEvents = true",
    );
    assert_eq!(
        bodies(&c.apply(lines("a\nmy secret\nb\n")).unwrap()),
        [b"a".to_vec(), b"b".to_vec()]
    );
}
