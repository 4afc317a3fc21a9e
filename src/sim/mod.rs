//! A modem simulator for tests, `simkeep demo` and `simkeep sim`: a virtual modem behind a real
//! pseudo-terminal, with vendor personalities and injectable faults. Not built into router
//! packages (cargo feature `sim`).

pub mod answer;
pub mod carrier;
pub mod control;
pub mod engine;
pub mod generic;
pub mod radio;
pub mod vendors;

pub use answer::Answer;
pub use engine::{start, Fault, SimHandle, SimOptions};
pub use radio::Radio;
pub use vendors::Personality;
