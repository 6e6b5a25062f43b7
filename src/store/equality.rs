//! The equality monitor's tables (migration 0008).
