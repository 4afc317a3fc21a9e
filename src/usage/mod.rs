pub mod civil;
pub mod tz;
pub mod tzdata;
pub mod cycle;
pub mod units;
pub mod fold;
pub mod carrier;
pub mod counters;
