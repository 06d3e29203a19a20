//! `vanban send` of one batch to a slow SMTP server, one connection against several:
//! the built binary sends the review report to a group of N communes (default 400) through the
//! tests' SMTP server (tests/support/sink.rs) made slow in two ways — every command answered
//! after 50 ms, and only the reply to each message's end after 50 ms — with `[smtp]
//! connections` 1, 4 and 8. Each run is checked: every recipient got the message exactly once.
//!
//! `cargo bench --bench smtp [-- --messages 400 --connections 1,4,8 --delay-ms 50]`

#[path = "../tests/support/big_office.rs"]
mod big_office;
#[path = "../tests/support/sink.rs"]
mod sink;

use std::time::Instant;

use big_office::{Office, per_recipient};
use sink::Sink;

fn option(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let messages: usize = option("--messages").map_or(400, |n| n.parse().expect("--messages N"));
    let delay: u64 = option("--delay-ms").map_or(50, |n| n.parse().expect("--delay-ms N"));
    let connections: Vec<usize> = option("--connections")
        .unwrap_or_else(|| "1,4,8".to_owned())
        .split(',')
        .map(|n| n.parse().expect("--connections 1,4"))
        .collect();
    let delay_text = delay.to_string();
    let servers: [(&str, Vec<&str>); 2] = [
        (
            "every command answered after",
            vec!["--delay-ms", delay_text.as_str()],
        ),
        (
            "each message's end answered after",
            vec!["--delay-message-ms", delay_text.as_str()],
        ),
    ];
    println!("{messages} messages (the review report's PDF attached), plain SMTP on 127.0.0.1");
    for (what, args) in &servers {
        for &n in &connections {
            let sink = Sink::start(args);
            let office = Office::new(sink.port, messages, n);
            let start = Instant::now();
            let (out, text) = office.send();
            let wall = start.elapsed();
            assert!(out.status.success(), "{text}");
            let counts = per_recipient(&sink);
            assert_eq!(counts.len(), messages, "every recipient");
            assert!(counts.values().all(|&c| c == 1), "each exactly once");
            println!(
                "{what} {delay} ms, connections = {n}: {:.1} s ({:.1} messages/s), peak {} open connections",
                wall.as_secs_f64(),
                messages as f64 / wall.as_secs_f64(),
                sink.peak_connections(),
            );
        }
    }
}
