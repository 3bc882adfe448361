//! The `switchboard` program as a library: configuration loading, tracing setup, wiring the
//! store, engine and HTTP layers together, and the server's lifecycle. `main.rs` only parses the
//! command line; integration tests call [`server::run`] directly on a port-0 listener.

pub mod builtin_bot;
pub mod cli;
pub mod config;
pub mod demo_bot;
pub mod export;
pub mod keys;
pub mod knowledge_bot;
pub mod people_file;
pub mod server;
pub mod survey_bot;
pub mod telemetry;
