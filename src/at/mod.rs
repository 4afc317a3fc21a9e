//! AT layer
