//! SMS and USSD codecs: GSM 7-bit and UCS2 text (TS 23.038), SMS PDUs (TS 23.040), concatenated
//! messages, USSD strings, and validation of user-supplied codes and numbers.
//!
//! Everything here is pure: no I/O, no tokio, no tracing, no clock (time comes in as `i64` unix
//! seconds). Nothing panics on any input; bad input gives a typed error or, where the spec says
//! to display something anyway, a replacement character. The AT layer calls
//! `pdu::decode_pdu_hex`, `submit::encode_submit`, `concat::Reassembler`, `ussd::*` and
//! `validate::*`; the rest is building blocks.

pub mod address;
pub mod concat;
pub mod dcs;
pub mod gsm7;
pub mod pdu;
pub mod submit;
pub mod ucs2;
pub mod userdata;
pub mod ussd;
pub mod validate;

pub use concat::{Complete, Incomplete, Part, Reassembler};
pub use dcs::{Alphabet, Dcs, MessageClass};
pub use pdu::{
    decode_pdu, decode_pdu_hex, decode_tpdu, Deliver, PduError, SmsPdu, StatusReport, Submit,
    ValidityPeriod,
};
pub use submit::{encode_submit, SubmitOptions, SubmitPart};
pub use userdata::{ConcatInfo, UserData};
pub use ussd::{decode_ussd_reply, encode_ussd_request, Charset, UssdEncoding, UssdRequest};
pub use validate::{validate_phone_number, validate_ussd_code, ValidateError};

#[cfg(test)]
mod roundtrip_tests;
