//! simkeep: keeps a prepaid SIM in an LTE/5G router alive.
pub mod at;
