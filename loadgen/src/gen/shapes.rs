//! Bodies shaped like real logs, for [`LineSizes::Access`](super::sizes::LineSizes::Access) and
//! [`LineSizes::App`](super::sizes::LineSizes::App).
//!
//! The text is made from weighted choices over plausible fields, so the sizes spread the way real
//! logs do: most access lines are 150-350 bytes (header included) with a tail of long tracking
//! URLs; application lines are mostly short with an occasional stack trace or payload dump of
//! kilobytes. The clock inside a body starts at a fixed instant and advances with the line's index
//! in the pool, so a seed always gives the same text; the numbered header carries the real time.
//!
//! Bodies never contain `\n`: a line ends only at its newline.

use std::io::Write;

use fastrand::Rng;

/// Seconds of the day at which the body clock starts (04:46:54); the day is 22 Nov 2026.
const START_SECOND: usize = 4 * 3600 + 46 * 60 + 54;

/// Picks an item with probability proportional to its weight (weights sum to 100).
fn pick<T: Copy>(rng: &mut Rng, items: &[(u32, T)]) -> T {
    let mut r = rng.u32(0..100);
    for &(w, item) in items {
        if r < w {
            return item;
        }
        r -= w;
    }
    items[items.len() - 1].1
}

fn one<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

/// `(hour, minute, second, millisecond)` of the body clock at pool line `i` (about 0.7 s apart).
fn clock(rng: &mut Rng, i: usize) -> (usize, usize, usize, u32) {
    let s = (START_SECOND + i * 7 / 10) % 86_400;
    (s / 3600, s / 60 % 60, s % 60, rng.u32(0..1000))
}

/// Appends `n` random characters from `alphabet`.
fn token(rng: &mut Rng, out: &mut Vec<u8>, n: usize, alphabet: &[u8]) {
    out.extend((0..n).map(|_| alphabet[rng.usize(..alphabet.len())]));
}

const HEX: &[u8] = b"0123456789abcdef";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const WORDS: &[&str] = &[
    "red", "shoes", "laptop", "garden", "chair", "coffee", "winter", "jacket", "phone", "case",
    "kids", "lamp", "desk", "travel", "bag", "organic", "tea", "cable", "usb", "wireless",
];
const RESOURCES: &[&str] = &[
    "users", "orders", "items", "carts", "sessions", "products", "invoices",
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) \
     Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like \
     Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "kube-probe/1.31",
    "python-requests/2.32.3",
];

/// Appends a combined-log-format body:
/// `IP - - [22/Nov/2026:04:46:54 +0000] "GET /path?query HTTP/1.1" 200 5123 "referrer" "agent"`.
pub(crate) fn access(rng: &mut Rng, i: usize, out: &mut Vec<u8>) {
    let (h, m, s, _) = clock(rng, i);
    let ip = [rng.u8(1..224), rng.u8(..), rng.u8(..), rng.u8(1..255)];
    let _ = write!(
        out,
        "{}.{}.{}.{} - - [22/Nov/2026:{h:02}:{m:02}:{s:02} +0000] \"",
        ip[0], ip[1], ip[2], ip[3]
    );
    let method = pick(
        rng,
        &[
            (80, "GET"),
            (12, "POST"),
            (4, "PUT"),
            (2, "DELETE"),
            (2, "HEAD"),
        ],
    );
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    let is_static = access_path(rng, out);
    let proto = pick(rng, &[(85, "HTTP/1.1"), (15, "HTTP/2.0")]);
    let status = pick(
        rng,
        &[
            (80, 200),
            (1, 201),
            (6, 304),
            (2, 301),
            (3, 302),
            (5, 404),
            (2, 500),
            (1, 503),
        ],
    );
    // Response sizes spread over three orders of magnitude; static files are larger.
    let bytes = if status == 304 || method == "HEAD" {
        0
    } else {
        let exp = if is_static { 3.0 } else { 2.0 } + rng.f64() * 2.5;
        10f64.powf(exp) as u64
    };
    let _ = write!(out, " {proto}\" {status} {bytes} \"");
    if rng.u32(0..100) < 40 {
        out.push(b'-');
    } else {
        out.extend_from_slice(b"https://www.example.com/");
        if rng.u32(0..100) < 3 {
            // A referrer with a long campaign query.
            out.extend_from_slice(b"landing?gclid=");
            let n = rng.usize(60..400);
            token(rng, out, n, B64);
        } else {
            out.extend_from_slice(one(rng, WORDS).as_bytes());
        }
    }
    out.extend_from_slice(b"\" \"");
    out.extend_from_slice(one(rng, USER_AGENTS).as_bytes());
    out.push(b'"');
}

/// Appends a request path (with query, sometimes a long one); returns whether it is a static
/// file.
fn access_path(rng: &mut Rng, out: &mut Vec<u8>) -> bool {
    match rng.u32(0..100) {
        0..25 => {
            let _ = write!(
                out,
                "/api/v1/{}/{}",
                one(rng, RESOURCES),
                rng.u32(1..10_000_000)
            );
        }
        25..40 => {
            let _ = write!(
                out,
                "/api/v1/{}?page={}&limit={}",
                one(rng, RESOURCES),
                rng.u32(1..200),
                pick(rng, &[(50, 20), (30, 50), (20, 100)])
            );
        }
        40..60 => {
            let ext = pick(rng, &[(60, "js"), (40, "css")]);
            let _ = write!(out, "/static/{ext}/{}.", one(rng, WORDS));
            token(rng, out, 8, HEX);
            let _ = write!(out, ".{ext}");
            return true;
        }
        60..70 => {
            let _ = write!(
                out,
                "/images/{}/{}.{}",
                one(rng, WORDS),
                rng.u32(1..100_000),
                pick(rng, &[(50, "jpg"), (30, "webp"), (20, "png")])
            );
            return true;
        }
        70..80 => {
            let _ = write!(
                out,
                "/search?q={}+{}&page={}",
                one(rng, WORDS),
                one(rng, WORDS),
                rng.u32(1..20)
            );
        }
        80..90 => {
            let _ = write!(
                out,
                "/products/{}-{}-{}",
                one(rng, WORDS),
                one(rng, WORDS),
                rng.u32(1..1_000_000)
            );
        }
        90..96 => {
            out.extend_from_slice(
                one(
                    rng,
                    &[
                        "/",
                        "/index.html",
                        "/favicon.ico",
                        "/robots.txt",
                        "/healthz",
                    ],
                )
                .as_bytes(),
            );
        }
        _ => {
            // The long tail: tracking pixels with campaign parameters and an opaque token.
            let _ = write!(
                out,
                "/api/v2/collect?v=2&tid=G-{}&cid={}.{}&utm_source={}&utm_medium=email\
                 &utm_campaign={}_{}&payload=",
                rng.u32(100_000..999_999),
                rng.u32(..),
                rng.u32(..),
                one(rng, WORDS),
                one(rng, WORDS),
                one(rng, WORDS)
            );
            let n = if rng.u32(0..10) == 0 {
                rng.usize(1000..3000)
            } else {
                rng.usize(100..600)
            };
            token(rng, out, n, B64);
        }
    }
    false
}

const THREADS: &[&str] = &[
    "main",
    "http-nio-8080-exec-3",
    "http-nio-8080-exec-17",
    "http-nio-8080-exec-29",
    "scheduling-1",
    "kafka-producer-network-thread | producer-1",
    "ForkJoinPool.commonPool-worker-5",
];
const LOGGERS: &[&str] = &[
    "com.example.orders.OrderService",
    "com.example.orders.web.OrderController",
    "com.example.payments.PaymentClient",
    "com.example.auth.TokenFilter",
    "com.example.inventory.StockCache",
    "org.hibernate.SQL",
    "o.a.kafka.clients.producer.KafkaProducer",
    "c.z.hikari.pool.HikariPool",
];

/// Appends an application log body:
/// `2026-11-22T04:46:54.123Z INFO  [main] com.example.orders.OrderService - message`.
pub(crate) fn app(rng: &mut Rng, i: usize, out: &mut Vec<u8>) {
    let (h, m, s, ms) = clock(rng, i);
    let level = pick(
        rng,
        &[(70, "INFO"), (15, "DEBUG"), (10, "WARN"), (5, "ERROR")],
    );
    let _ = write!(
        out,
        "2026-11-22T{h:02}:{m:02}:{s:02}.{ms:03}Z {level:<5} [{}] {} - ",
        one(rng, THREADS),
        one(rng, LOGGERS)
    );
    let id = rng.u32(1..10_000_000);
    let took = rng.u32(1..2000);
    let (a, b, c) = (rng.u32(1..100), rng.u32(1..500), rng.u32(0..12));
    let _ = match (level, rng.u32(0..100)) {
        ("INFO", 0..30) => write!(out, "Order {id} created for customer {a}{b} in {took} ms"),
        ("INFO", 30..55) => write!(
            out,
            "GET /api/v1/orders/{id} completed with 200 in {took} ms"
        ),
        ("INFO", 55..70) => write!(out, "User {id} logged in from 10.{a}.{b}.{c}"),
        ("INFO", 70..85) => write!(out, "Published {b} events to topic orders.v1 partition {c}"),
        ("INFO", 85..99) => write!(out, "Cache refresh done: {a}{b} entries in {took} ms"),
        ("INFO", _) => app_payload(rng, id, out),
        ("DEBUG", 0..40) => write!(out, "Cache hit for key user:{id}"),
        ("DEBUG", 40..70) => write!(
            out,
            "select o.id, o.status, o.total, o.created_at from orders o \
             where o.customer_id=? order by o.created_at desc limit ?"
        ),
        ("DEBUG", _) => write!(out, "Resolved {a} feature flags for tenant {id}"),
        ("WARN", 0..40) => write!(
            out,
            "Slow query took {took} ms: select * from stock where sku in (?, ?, ?)"
        ),
        ("WARN", 40..70) => write!(
            out,
            "Retrying request to payments-service (attempt {}/5): connect timed out after \
             2000 ms",
            c % 5 + 1
        ),
        ("WARN", _) => write!(
            out,
            "Connection pool HikariPool-1 at {}% capacity (active={a}, idle=0, waiting={c})",
            80 + a % 20
        ),
        _ => app_error(rng, id, out),
    };
}

/// A request payload dumped at INFO: a few hundred bytes to a few kilobytes.
fn app_payload(rng: &mut Rng, id: u32, out: &mut Vec<u8>) -> std::io::Result<()> {
    write!(out, "Request payload for order {id}: {{\"items\":[")?;
    for k in 0..rng.usize(3..60) {
        let sep = if k == 0 { "" } else { "," };
        write!(
            out,
            "{sep}{{\"sku\":\"{}-{}\",\"qty\":{},\"price\":{}.{:02}}}",
            one(rng, WORDS),
            rng.u32(1000..9999),
            rng.u32(1..5),
            rng.u32(1..500),
            rng.u32(0..100)
        )?;
    }
    write!(out, "],\"currency\":\"EUR\"}}")
}

/// An ERROR, sometimes with its stack trace folded onto the line as single-line JSON loggers do.
fn app_error(rng: &mut Rng, id: u32, out: &mut Vec<u8>) -> std::io::Result<()> {
    write!(
        out,
        "Failed to process order {id}: java.lang.IllegalStateException: payment declined by \
         provider (code {})",
        rng.u32(100..999)
    )?;
    if rng.u32(0..100) < 40 {
        for _ in 0..rng.usize(5..45) {
            write!(
                out,
                "\\n\\tat {}.{}({}.java:{})",
                one(rng, LOGGERS),
                one(rng, &["process", "handle", "invoke", "doFilter", "apply"]),
                one(rng, &["OrderService", "Proxy", "FilterChain", "Handler"]),
                rng.u32(20..900)
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::HEADER_LEN;

    fn sample(f: fn(&mut Rng, usize, &mut Vec<u8>), n: usize) -> Vec<String> {
        let mut rng = Rng::with_seed(7);
        (0..n)
            .map(|i| {
                let mut out = Vec::new();
                f(&mut rng, i, &mut out);
                String::from_utf8(out).unwrap()
            })
            .collect()
    }

    /// Line sizes (header and newline included) of a sample.
    fn sizes(bodies: &[String]) -> Vec<usize> {
        bodies.iter().map(|b| HEADER_LEN + b.len() + 1).collect()
    }

    #[test]
    fn access_lines_follow_the_combined_format() {
        let bodies = sample(access, 4096);
        for b in &bodies {
            assert!(!b.contains('\n'), "{b}");
            let (ip, rest) = b.split_once(" - - [22/Nov/2026:").unwrap();
            assert_eq!(ip.split('.').count(), 4, "{b}");
            assert!(ip.split('.').all(|o| o.parse::<u8>().is_ok()), "{b}");
            let (time, rest) = rest.split_once(" +0000] \"").unwrap();
            assert_eq!(time.len(), 8, "{b}");
            let (request, rest) = rest.split_once("\" ").unwrap();
            let mut req = request.split(' ');
            assert!(["GET", "POST", "PUT", "DELETE", "HEAD"].contains(&req.next().unwrap()));
            assert!(req.next().unwrap().starts_with('/'), "{b}");
            assert!(req.next().unwrap().starts_with("HTTP/"), "{b}");
            let mut tail = rest.splitn(3, ' ');
            let status: u16 = tail.next().unwrap().parse().unwrap();
            assert!((200..600).contains(&status), "{b}");
            tail.next().unwrap().parse::<u64>().unwrap();
            let quoted = tail.next().unwrap();
            assert!(quoted.starts_with('"') && quoted.ends_with('"'), "{b}");
            assert_eq!(
                quoted.matches("\" \"").count(),
                1,
                "referrer and agent: {b}"
            );
        }
        let sizes = sizes(&bodies);
        let typical = sizes.iter().filter(|&&s| (150..=350).contains(&s)).count();
        assert!(
            typical * 100 / sizes.len() >= 70,
            "{typical} of {}",
            sizes.len()
        );
        assert!(sizes.iter().filter(|&&s| s > 600).count() >= 20, "a tail");
        assert!(sizes.iter().any(|&s| s > 1500), "some very long URLs");
    }

    #[test]
    fn app_lines_have_time_level_logger_and_message() {
        let bodies = sample(app, 4096);
        let mut levels = std::collections::HashMap::new();
        for b in &bodies {
            assert!(!b.contains('\n'), "{b}");
            assert!(b.starts_with("2026-11-22T"), "{b}");
            assert_eq!(&b[23..25], "Z ", "{b}");
            let level = b[25..30].trim_end();
            *levels.entry(level).or_insert(0) += 1;
            let rest = &b[31..];
            assert!(rest.starts_with('['), "{b}");
            let (_, rest) = rest.split_once("] ").unwrap();
            let (logger, message) = rest.split_once(" - ").unwrap();
            assert!(logger.contains('.'), "{b}");
            assert!(!message.is_empty(), "{b}");
        }
        let share = |l: &str| levels.get(l).copied().unwrap_or(0) * 100 / bodies.len();
        assert!(share("INFO") >= 60, "{levels:?}");
        for l in ["DEBUG", "WARN", "ERROR"] {
            assert!(share(l) >= 2, "{levels:?}");
        }
        assert_eq!(levels.len(), 4, "{levels:?}");
        let sizes = sizes(&bodies);
        assert!(sizes.iter().filter(|&&s| s < 250).count() > bodies.len() / 2);
        assert!(sizes.iter().any(|&s| s > 1000), "an occasional long line");
    }

    #[test]
    fn same_seed_same_text() {
        assert_eq!(sample(access, 50), sample(access, 50));
        assert_eq!(sample(app, 50), sample(app, 50));
    }
}
