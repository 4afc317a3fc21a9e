//! Packs a batch of telemetry samples into one compact blob, and back.
//!
//! Why: a flush writes whole SQLite pages, and with one row per sample a 15-minute batch of 60
//! small rows touched ~9 pages (every table's last leaf, its parent, page 1). One row per batch
//! with delta-encoded samples (~7 bytes a usage sample, ~8 a signal sample, instead of ~40 and
//! ~27) roughly halves the pages touched per flush and cuts the data itself four-fold. See
//! tests/store_flash.rs for the measured effect.
//!
//! Format (all integers LEB128 varints; signed ones zigzag-encoded; deltas use wrapping
//! arithmetic so any i64 round-trips):
//! - usage: per sample `Δt, Δrx, Δtx` against the previous sample (the first against 0).
//! - signal: per sample a flags byte (bit 0..3: rssi, rsrp, rsrq, sinr present; bit 4/5: band/tech
//!   present; bit 6/7: band/tech text follows, else it equals the previous sample's), `Δt`, the
//!   present numbers (RSRQ/SINR in tenths of a dB), then the texts as `len, utf-8 bytes`.
//!
//! Must not: panic or allocate without bound on any input (decoding reads stored bytes that may
//! be damaged), or do I/O.

/// Why a blob could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("packed telemetry ends in the middle of a sample at byte {0} — the row is damaged")]
    Truncated(usize),
    #[error("packed telemetry has a varint longer than 64 bits at byte {0} — the row is damaged")]
    Overlong(usize),
    #[error("packed telemetry has a text that is not utf-8 at byte {0} — the row is damaged")]
    BadText(usize),
    #[error("packed telemetry says a text repeats at byte {0} but there is none before it")]
    NoPrevious(usize),
}

/// One usage sample as packed: time and the two counters (already checked to fit i64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub t: i64,
    pub rx: i64,
    pub tx: i64,
}

/// One signal sample as packed, with RSRQ/SINR in tenths of a dB.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Radio {
    pub t: i64,
    pub rssi: Option<i32>,
    pub rsrp: Option<i32>,
    pub rsrq10: Option<i32>,
    pub sinr10: Option<i32>,
    pub band: Option<String>,
    pub tech: Option<String>,
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_i(out: &mut Vec<u8>, v: i64) {
    put(out, ((v << 1) ^ (v >> 63)) as u64);
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, PackError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(PackError::Truncated(self.pos))?;
        self.pos = self.pos.saturating_add(1);
        Ok(b)
    }

    fn u(&mut self) -> Result<u64, PackError> {
        let start = self.pos;
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(PackError::Overlong(start))
    }

    fn i(&mut self) -> Result<i64, PackError> {
        let z = self.u()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn i32(&mut self) -> Result<i32, PackError> {
        // Values were i32 when packed; clamp rather than fail on damaged data.
        Ok(self.i()?.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    }

    fn text(&mut self) -> Result<String, PackError> {
        let at = self.pos;
        let len = usize::try_from(self.u()?).map_err(|_| PackError::Truncated(at))?;
        let end = self.pos.checked_add(len).ok_or(PackError::Truncated(at))?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or(PackError::Truncated(at))?;
        self.pos = end;
        String::from_utf8(bytes.to_vec()).map_err(|_| PackError::BadText(at))
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

pub fn pack_usage(samples: &[Counters]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len().saturating_mul(8));
    let mut prev = Counters { t: 0, rx: 0, tx: 0 };
    for s in samples {
        put_i(&mut out, s.t.wrapping_sub(prev.t));
        put_i(&mut out, s.rx.wrapping_sub(prev.rx));
        put_i(&mut out, s.tx.wrapping_sub(prev.tx));
        prev = *s;
    }
    out
}

pub fn unpack_usage(buf: &[u8]) -> Result<Vec<Counters>, PackError> {
    let mut r = Reader { buf, pos: 0 };
    let mut out = Vec::new();
    let mut prev = Counters { t: 0, rx: 0, tx: 0 };
    while !r.done() {
        let s = Counters {
            t: prev.t.wrapping_add(r.i()?),
            rx: prev.rx.wrapping_add(r.i()?),
            tx: prev.tx.wrapping_add(r.i()?),
        };
        out.push(s);
        prev = s;
    }
    Ok(out)
}

pub fn pack_signal(samples: &[Radio]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len().saturating_mul(9));
    let mut prev_t = 0i64;
    let (mut band, mut tech): (Option<&str>, Option<&str>) = (None, None);
    for s in samples {
        let nums = [s.rssi, s.rsrp, s.rsrq10, s.sinr10];
        let mut flags = 0u8;
        for (bit, n) in nums.iter().enumerate() {
            if n.is_some() {
                flags |= 1 << bit;
            }
        }
        let new_band = s.band.as_deref().filter(|b| Some(*b) != band);
        let new_tech = s.tech.as_deref().filter(|b| Some(*b) != tech);
        flags |= u8::from(s.band.is_some()) << 4 | u8::from(s.tech.is_some()) << 5;
        flags |= u8::from(new_band.is_some()) << 6 | u8::from(new_tech.is_some()) << 7;
        out.push(flags);
        put_i(&mut out, s.t.wrapping_sub(prev_t));
        for n in nums.into_iter().flatten() {
            put_i(&mut out, i64::from(n));
        }
        for t in [new_band, new_tech].into_iter().flatten() {
            put(&mut out, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        prev_t = s.t;
        if s.band.is_some() {
            band = s.band.as_deref();
        }
        if s.tech.is_some() {
            tech = s.tech.as_deref();
        }
    }
    out
}

pub fn unpack_signal(buf: &[u8]) -> Result<Vec<Radio>, PackError> {
    let mut r = Reader { buf, pos: 0 };
    let mut out: Vec<Radio> = Vec::new();
    let mut prev_t = 0i64;
    let (mut band, mut tech): (Option<String>, Option<String>) = (None, None);
    while !r.done() {
        let at = r.pos;
        let flags = r.byte()?;
        let t = prev_t.wrapping_add(r.i()?);
        let mut nums = [None; 4];
        for (bit, n) in nums.iter_mut().enumerate() {
            if flags & (1 << bit) != 0 {
                *n = Some(r.i32()?);
            }
        }
        if flags & 0x40 != 0 {
            band = Some(r.text()?);
        }
        if flags & 0x80 != 0 {
            tech = Some(r.text()?);
        }
        let pick = |present: bool, v: &Option<String>| match (present, v) {
            (false, _) => Ok(None),
            (true, Some(s)) => Ok(Some(s.clone())),
            (true, None) => Err(PackError::NoPrevious(at)),
        };
        let [rssi, rsrp, rsrq10, sinr10] = nums;
        out.push(Radio {
            t,
            rssi,
            rsrp,
            rsrq10,
            sinr10,
            band: pick(flags & 0x10 != 0, &band)?,
            tech: pick(flags & 0x20 != 0, &tech)?,
        });
        prev_t = t;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn radio(t: i64, band: Option<&str>) -> Radio {
        Radio {
            t,
            rssi: Some(-71),
            rsrp: Some(-98),
            rsrq10: Some(-105),
            sinr10: Some(132),
            band: band.map(String::from),
            tech: Some("LTE".into()),
        }
    }

    #[test]
    fn a_quarter_hour_of_usage_packs_to_about_seven_bytes_a_sample() {
        let v: Vec<Counters> = (0..30)
            .map(|i| Counters {
                t: 1_790_000_000 + i * 30,
                rx: 5_000_000_000 + i * 700_000,
                tx: 600_000_000 + i * 90_000,
            })
            .collect();
        let p = pack_usage(&v);
        assert!(p.len() <= 30 * 7 + 12, "{} bytes", p.len());
        assert_eq!(unpack_usage(&p).unwrap(), v);
    }

    #[test]
    fn band_and_tech_are_written_only_when_they_change() {
        let v = vec![
            radio(100, Some("B3")),
            radio(130, Some("B3")),
            radio(160, Some("B1")),
        ];
        let p = pack_signal(&v);
        // 2nd sample: flags, Δt=30, four one-byte numbers... no text.
        assert_eq!(p.iter().filter(|b| **b == b'B').count(), 2);
        assert_eq!(unpack_signal(&p).unwrap(), v);
    }

    #[test]
    fn a_sample_without_band_between_two_with_it_keeps_both_right() {
        let v = vec![radio(1, Some("B3")), radio(2, None), radio(3, Some("B3"))];
        assert_eq!(unpack_signal(&pack_signal(&v)).unwrap(), v);
    }

    #[test]
    fn a_counter_reset_is_a_negative_delta_and_round_trips() {
        let v = vec![
            Counters {
                t: 10,
                rx: 4_294_967_000,
                tx: 9,
            },
            Counters {
                t: 40,
                rx: 12,
                tx: 0,
            },
        ];
        assert_eq!(unpack_usage(&pack_usage(&v)).unwrap(), v);
    }

    #[test]
    fn damaged_blobs_are_errors_not_panics() {
        assert_eq!(unpack_usage(&[0x80]), Err(PackError::Truncated(1)));
        assert_eq!(unpack_usage(&[0xff; 11]), Err(PackError::Overlong(0)));
        // flags say "band present, same as before" with no earlier band.
        assert_eq!(unpack_signal(&[0x10, 0x02]), Err(PackError::NoPrevious(0)));
        assert_eq!(
            unpack_signal(&[0x40, 0x02, 0x05, b'B']),
            Err(PackError::Truncated(2))
        );
        assert_eq!(
            unpack_signal(&[0x40, 0x02, 0x01, 0xff]),
            Err(PackError::BadText(2))
        );
    }

    fn arb_radio() -> impl Strategy<Value = Radio> {
        let n = proptest::option::of(any::<i32>());
        let s = proptest::option::of(prop_oneof![Just("B3".to_string()), ".{0,6}"]);
        (
            any::<i64>(),
            n.clone(),
            n.clone(),
            n.clone(),
            n,
            s.clone(),
            s,
        )
            .prop_map(|(t, rssi, rsrp, rsrq10, sinr10, band, tech)| Radio {
                t,
                rssi,
                rsrp,
                rsrq10,
                sinr10,
                band,
                tech,
            })
    }

    proptest! {
        #[test]
        fn any_usage_batch_round_trips(v in proptest::collection::vec(
            (any::<i64>(), 0..i64::MAX, 0..i64::MAX).prop_map(|(t, rx, tx)| Counters { t, rx, tx }),
            0..40,
        )) {
            prop_assert_eq!(unpack_usage(&pack_usage(&v)).unwrap(), v);
        }

        #[test]
        fn any_signal_batch_round_trips(v in proptest::collection::vec(arb_radio(), 0..40)) {
            prop_assert_eq!(unpack_signal(&pack_signal(&v)).unwrap(), v);
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoders(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = unpack_usage(&b);
            let _ = unpack_signal(&b);
        }
    }
}
