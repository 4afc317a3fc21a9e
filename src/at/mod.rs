//! The AT layer: bytes → frames ([`framer`]) → answers, URCs, prompts, noise ([`digest`], pure)
//! → one task that owns the port, its deadlines and its callers ([`engine`]).
//!
//! Nothing here knows what a reply *means*; typed parsing lives in `modem` — except URCs, whose
//! one table and typed form ([`urc`]) live here so routing and typing cannot disagree. This layer knows
//! how modems frame, echo, interleave and fail, and keeps one command on the wire at a time.

pub mod command;
pub mod digest;
pub mod engine;
pub mod framer;
pub mod lock;
pub mod port;
pub mod ratelimit;
pub mod urc;

pub use command::{AtError, Command, Response};
pub use engine::{spawn, AtClient, EngineConfig, LinkState};
pub use urc::{Code as UrcCode, Lifecycle, Urc, UrcKind};
