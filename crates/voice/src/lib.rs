//! Voice media for the voice channel (docs/voice.md): a call's audio travels as RTP (RFC 3550)
//! carrying G.711 — μ-law, payload type 0, or A-law, type 8 — in 20 ms packets of 160 samples,
//! and keypresses as RFC 4733 telephone events.
//!
//! - [`rtp::Incoming`] reads a caller's packets: audio in order (late and duplicate packets
//!   dropped, a gap filled with silence so the timing holds), telephone events as digits.
//! - [`rtp::Outgoing`] writes the hub's side: speech cut into 20 ms packets with their sequence
//!   numbers and timestamps, the first of a talkspurt marked.
//! - [`dtmf`] decodes telephone events, once per keypress however often the sender repeats it.
//! - [`sdp`] reads a caller's SDP offer (address, port, G.711 law, telephone-event type) and
//!   writes the hub's answer.
//!
//! Packets are parsed and built with the `rtp-rs` crate; the audio codecs are
//! [`speech::g711`].

pub mod calls;
pub mod dtmf;
pub mod rtp;
pub mod sdp;
pub mod sip;

/// Samples in one 20 ms packet at 8 kHz.
pub const SAMPLES_PER_PACKET: usize = 160;
/// The payload type conventionally used for RFC 4733 telephone events (it is dynamic: the SDP
/// says which; this is what the hub offers).
pub const TELEPHONE_EVENT_PT: u8 = 101;
