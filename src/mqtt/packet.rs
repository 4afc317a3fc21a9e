//! MQTT 3.1.1 packets (OASIS standard, 2014): encoding the few we send and decoding the few a
//! broker sends a client. Pure bytes in, bytes out: no I/O, no tokio, no tracing.
//!
//! Sent: CONNECT (§3.1, with will, keepalive, credentials), PUBLISH (§3.3, QoS 0/1), PUBACK
//! (§3.4), SUBSCRIBE (§3.8), PINGREQ (§3.12), DISCONNECT (§3.14).
//! Received: CONNACK (§3.2), PUBLISH, PUBACK, SUBACK (§3.9), PINGRESP (§3.13).
//!
//! It must not: panic on any input, or accept a packet larger than the caller's limit (a
//! broker, or anything pretending to be one, cannot make us buffer more than that).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PacketError {
    #[error("the broker sent a packet of {len} bytes; at most {max} are accepted")]
    TooLarge { len: usize, max: usize },
    #[error("the broker sent a malformed remaining length (more than 4 bytes)")]
    BadLength,
    #[error("the broker sent a malformed {kind} packet: {why}")]
    Malformed {
        kind: &'static str,
        why: &'static str,
    },
    #[error("a topic or string of {0} bytes is longer than MQTT allows (65535)")]
    StringTooLong(usize),
}

/// What a broker sends us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    ConnAck {
        session_present: bool,
        code: u8,
    },
    Publish(Publish),
    PubAck(u16),
    SubAck {
        id: u16,
        codes: Vec<u8>,
    },
    PingResp,
    /// A packet type a client does not expect (PUBREC etc.); the session ignores it.
    Other(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    /// Present for QoS 1 and 2.
    pub id: Option<u16>,
}

/// The last will (§3.1.2.5): published by the broker when we vanish.
pub struct Will<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
}

pub struct Connect<'a> {
    pub client_id: &'a str,
    pub keepalive_secs: u16,
    pub clean_session: bool,
    pub will: Option<Will<'a>>,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
}

/// CONNACK return codes (§3.2.2.3) in words.
pub fn connack_reason(code: u8) -> &'static str {
    match code {
        0 => "accepted",
        1 => "the broker does not speak MQTT 3.1.1",
        2 => "the broker refused the client id",
        3 => "the broker is unavailable",
        4 => "the broker refused the username or password",
        // mosquitto 2 answers 5, not 4, to a wrong password.
        5 => "the broker says this client is not authorised (check the username and password, and the broker's ACL)",
        _ => "the broker refused the connection (unknown reason)",
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) -> Result<(), PacketError> {
    let n = u16::try_from(s.len()).map_err(|_| PacketError::StringTooLong(s.len()))?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(s);
    Ok(())
}

/// Fixed header + body. The remaining length is at most 268,435,455 (§2.2.3).
fn frame(first: u8, body: &[u8]) -> Result<Vec<u8>, PacketError> {
    let mut len = body.len();
    if len > 268_435_455 {
        return Err(PacketError::TooLarge {
            len,
            max: 268_435_455,
        });
    }
    let mut out = Vec::with_capacity(body.len().saturating_add(5));
    out.push(first);
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    Ok(out)
}

pub fn connect(c: &Connect<'_>) -> Result<Vec<u8>, PacketError> {
    let mut flags = 0u8;
    if c.clean_session {
        flags |= 0x02;
    }
    if let Some(w) = &c.will {
        flags |= 0x04 | ((w.qos & 0x03) << 3);
        if w.retain {
            flags |= 0x20;
        }
    }
    if c.username.is_some() {
        flags |= 0x80;
        if c.password.is_some() {
            flags |= 0x40;
        }
    }
    let mut body = Vec::with_capacity(64);
    put_str(&mut body, b"MQTT")?;
    body.push(4); // protocol level 4 = 3.1.1
    body.push(flags);
    body.extend_from_slice(&c.keepalive_secs.to_be_bytes());
    put_str(&mut body, c.client_id.as_bytes())?;
    if let Some(w) = &c.will {
        put_str(&mut body, w.topic.as_bytes())?;
        put_str(&mut body, w.payload)?;
    }
    if let Some(u) = c.username {
        put_str(&mut body, u.as_bytes())?;
        // §3.1.2.9: no password without a username.
        if let Some(p) = c.password {
            put_str(&mut body, p)?;
        }
    }
    frame(0x10, &body)
}

pub fn publish(
    topic: &str,
    payload: &[u8],
    qos: u8,
    retain: bool,
    id: Option<u16>,
) -> Result<Vec<u8>, PacketError> {
    let mut body = Vec::with_capacity(topic.len().saturating_add(payload.len()).saturating_add(4));
    put_str(&mut body, topic.as_bytes())?;
    if qos > 0 {
        body.extend_from_slice(&id.unwrap_or(1).to_be_bytes());
    }
    body.extend_from_slice(payload);
    frame(0x30 | ((qos & 0x03) << 1) | u8::from(retain), &body)
}

pub fn puback(id: u16) -> Vec<u8> {
    let [a, b] = id.to_be_bytes();
    vec![0x40, 2, a, b]
}

/// One SUBSCRIBE for `topics`, each at QoS `qos`.
pub fn subscribe(id: u16, topics: &[&str], qos: u8) -> Result<Vec<u8>, PacketError> {
    let mut body = id.to_be_bytes().to_vec();
    for t in topics {
        put_str(&mut body, t.as_bytes())?;
        body.push(qos & 0x03);
    }
    frame(0x82, &body)
}

pub const PINGREQ: [u8; 2] = [0xC0, 0];
pub const DISCONNECT: [u8; 2] = [0xE0, 0];

/// Decodes one packet from the front of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the packet and how many bytes it used.
pub fn decode(buf: &[u8], max: usize) -> Result<Option<(Incoming, usize)>, PacketError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut len: usize = 0;
    let mut used = 1usize;
    let mut shift = 0u32;
    loop {
        let Some(&b) = buf.get(used) else {
            return Ok(None);
        };
        used += 1;
        len |= usize::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift >= 28 {
            return Err(PacketError::BadLength);
        }
    }
    if len > max {
        return Err(PacketError::TooLarge { len, max });
    }
    let Some(body) = buf.get(used..used.saturating_add(len)) else {
        return Ok(None);
    };
    let total = used.saturating_add(len);
    let bad = |kind, why| PacketError::Malformed { kind, why };
    let u16_at = |i: usize| -> Option<u16> {
        Some(u16::from_be_bytes([
            *body.get(i)?,
            *body.get(i.checked_add(1)?)?,
        ]))
    };
    let packet = match first >> 4 {
        2 => {
            if body.len() != 2 {
                return Err(bad("CONNACK", "length is not 2"));
            }
            Incoming::ConnAck {
                session_present: body[0] & 1 == 1,
                code: body[1],
            }
        }
        3 => {
            let qos = (first >> 1) & 0x03;
            if qos == 3 {
                return Err(bad("PUBLISH", "QoS 3 does not exist"));
            }
            let tlen = usize::from(u16_at(0).ok_or(bad("PUBLISH", "no topic"))?);
            let topic = body
                .get(2..2 + tlen)
                .ok_or(bad("PUBLISH", "topic longer than the packet"))?;
            let topic = std::str::from_utf8(topic)
                .map_err(|_| bad("PUBLISH", "topic is not UTF-8"))?
                .to_string();
            let mut at = 2 + tlen;
            let id = if qos > 0 {
                let id = u16_at(at).ok_or(bad("PUBLISH", "no packet id"))?;
                at += 2;
                Some(id)
            } else {
                None
            };
            Incoming::Publish(Publish {
                topic,
                payload: body.get(at..).unwrap_or_default().to_vec(),
                qos,
                retain: first & 1 == 1,
                id,
            })
        }
        4 => Incoming::PubAck(u16_at(0).ok_or(bad("PUBACK", "no packet id"))?),
        9 => Incoming::SubAck {
            id: u16_at(0).ok_or(bad("SUBACK", "no packet id"))?,
            codes: body.get(2..).unwrap_or_default().to_vec(),
        },
        13 => Incoming::PingResp,
        t => Incoming::Other(t),
    };
    Ok(Some((packet, total)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn connect_carries_the_will_and_credentials_in_the_order_the_spec_gives() {
        let c = Connect {
            client_id: "simkeep-1",
            keepalive_secs: 30,
            clean_session: true,
            will: Some(Will {
                topic: "s/availability",
                payload: b"offline",
                qos: 1,
                retain: true,
            }),
            username: Some("u"),
            password: Some(b"p"),
        };
        let b = connect(&c).unwrap();
        // §3.1 example layout: type, remaining length, "MQTT", level 4, flags, keepalive.
        assert_eq!(&b[..2], &[0x10, (b.len() - 2) as u8]);
        assert_eq!(&b[2..10], &[0, 4, b'M', b'Q', b'T', b'T', 4, 0xEE]);
        assert_eq!(&b[10..12], &[0, 30]);
        let rest = &b[12..];
        assert!(rest.starts_with(b"\0\x09simkeep-1\0\x0es/availability\0\x07offline\0\x01u\0\x01p"));
    }

    #[test]
    fn publish_and_back_round_trip_through_the_decoder() {
        let b = publish("a/b", b"{\"x\":1}", 1, true, Some(7)).unwrap();
        let (p, used) = decode(&b, 1024).unwrap().unwrap();
        assert_eq!(used, b.len());
        assert_eq!(
            p,
            Incoming::Publish(Publish {
                topic: "a/b".into(),
                payload: b"{\"x\":1}".to_vec(),
                qos: 1,
                retain: true,
                id: Some(7)
            })
        );
        // A payload over 127 bytes needs a two-byte length.
        let big = vec![b'x'; 300];
        let b = publish("t", &big, 0, false, None).unwrap();
        // 2 + 1 + 300 = 303 = 2·128 + 47 (§2.2.3).
        assert_eq!(&b[1..3], &[0x80 | 47, 0x02]);
        let (p, _) = decode(&b, 1024).unwrap().unwrap();
        assert!(matches!(p, Incoming::Publish(p) if p.payload == big));
    }

    #[test]
    fn broker_replies_decode_as_mosquitto_sends_them() {
        // Bytes as mosquitto 2.0 writes them.
        let cases: &[(&[u8], Incoming)] = &[
            (
                &[0x20, 2, 0, 0],
                Incoming::ConnAck {
                    session_present: false,
                    code: 0,
                },
            ),
            (
                &[0x20, 2, 0, 5],
                Incoming::ConnAck {
                    session_present: false,
                    code: 5,
                },
            ),
            (&[0x40, 2, 0x12, 0x34], Incoming::PubAck(0x1234)),
            (
                &[0x90, 4, 0, 1, 0, 0x80],
                Incoming::SubAck {
                    id: 1,
                    codes: vec![0, 0x80],
                },
            ),
            (&[0xD0, 0], Incoming::PingResp),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                decode(bytes, 64).unwrap(),
                Some((want.clone(), bytes.len()))
            );
            // Fed short, it asks for more instead of failing.
            for cut in 0..bytes.len() {
                assert_eq!(
                    decode(&bytes[..cut], 64).unwrap(),
                    None,
                    "{bytes:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn oversized_and_malformed_packets_are_refused_with_a_reason() {
        let b = publish("t", &[0; 200], 0, false, None).unwrap();
        assert_eq!(
            decode(&b, 100).unwrap_err(),
            PacketError::TooLarge { len: 203, max: 100 }
        );
        assert_eq!(
            decode(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 1], 100).unwrap_err(),
            PacketError::BadLength
        );
        assert!(decode(&[0x20, 1, 0], 100)
            .unwrap_err()
            .to_string()
            .contains("CONNACK"));
        assert!(decode(&[0x30, 3, 0, 9, b'a'], 100)
            .unwrap_err()
            .to_string()
            .contains("topic"));
        assert!(publish(&"x".repeat(70_000), b"", 0, false, None).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes, 256);
        }
    }
}
