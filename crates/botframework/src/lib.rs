//! The Bot Framework protocol as types (being written).
