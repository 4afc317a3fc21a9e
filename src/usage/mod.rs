pub mod civil;
pub mod tz;
pub mod tzdata;
pub mod cycle;
