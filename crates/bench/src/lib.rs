//! Switchboard's load tool: Direct Line customers driven against a running hub, timed and
//! checked, with the two other ends a fair measurement needs.
//!
//! - [`load`] runs C concurrent customers, each sending M messages and timing post → reply, and
//!   verifies that every reply arrived exactly once and in order ([`ledger`]); [`report`] says
//!   what it measured.
//! - [`echo_bot`] is a fast Bot Framework bot (the real Connector protocol, anonymous), so the
//!   bot is not the bottleneck.
//! - [`relay`] is the bare loopback relay: the same hops with no storage, routing or validation,
//!   the baseline the hub's figures are compared with.
//!
//! The binary `switchboard-bench` puts each behind a subcommand; see `switchboard-bench --help`.

pub mod echo_bot;
pub mod escalation;
pub mod idle;
pub mod ledger;
pub mod load;
pub mod relay;
pub mod report;

pub use load::{RunConfig, Transport, run};
pub use report::Report;
