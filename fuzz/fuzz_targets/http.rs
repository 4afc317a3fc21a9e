//! The HTTP request head parser (`api::server::parse`) and the query parameters the routes
//! read (`api::params`).
//!
//! Input: the bytes a client sent. Invariants: no panic; a complete head is never longer than
//! the input; and a request that parses complete is never refused when it arrives in pieces
//! (the server parses again after every read, so every prefix of its head must say "need
//! more") — a refusal there would break clients on slow links.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simkeep::api::params;
use simkeep::api::server::{parse, Parsed};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Parsed::Complete { req, head_len, .. } => {
            assert!(
                head_len <= data.len(),
                "head {head_len} > input {}",
                data.len()
            );
            let _ = req.head_only();
            let _ = req.authorized(Some("fuzz-token"));
            let _ = params::paging(&req.query);
            let _ = params::since(&req.query);
            // Every prefix of the head (step so that long heads stay cheap).
            let step = (head_len / 256).max(1);
            for k in (0..head_len).step_by(step) {
                if let Parsed::Refuse(r) = parse(&data[..k]) {
                    panic!(
                        "the first {k} bytes of a valid head were refused with {}",
                        r.status
                    );
                }
            }
        }
        Parsed::Partial | Parsed::Refuse(_) => {}
    }
    let q = String::from_utf8_lossy(data);
    let _ = params::paging(&q);
    let _ = params::since(&q);
});
