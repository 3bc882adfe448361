//! Storage for Switchboard (being written).
