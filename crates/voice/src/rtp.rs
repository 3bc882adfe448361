//! The two directions of a call's RTP stream.

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};
use speech::g711::Law;

use crate::SAMPLES_PER_PACKET;
use crate::dtmf::DtmfDecoder;

/// What one packet from the caller gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Audio, 8 kHz linear, in order; silence stands in for lost packets before it.
    Audio(Vec<i16>),
    /// Keys the caller pressed.
    Keys(Vec<char>),
    /// Nothing to use: a late or repeated packet, another source, an unknown payload type.
    Nothing,
    /// Not an RTP packet.
    Malformed(String),
}

/// The largest gap filled with silence; a longer one (a stream that paused, or a new one) just
/// continues.
const MAX_FILLED_PACKETS: u16 = 50;

/// The caller's side of a call: packets in, audio and keys out.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The telephone-event payload type the SDP agreed on, if any.
    telephone_event: Option<u8>,
    ssrc: Option<u32>,
    last_seq: Option<Seq>,
    dtmf: DtmfDecoder,
}

impl Incoming {
    pub fn new(telephone_event: Option<u8>) -> Self {
        Self {
            telephone_event,
            ssrc: None,
            last_seq: None,
            dtmf: DtmfDecoder::new(),
        }
    }

    /// Reads one UDP datagram.
    pub fn packet(&mut self, datagram: &[u8]) -> Received {
        let packet = match RtpReader::new(datagram) {
            Ok(p) => p,
            Err(e) => return Received::Malformed(format!("{e:?}")),
        };
        if packet.version() != 2 {
            return Received::Malformed(format!("RTP version {}", packet.version()));
        }
        // A new source (the caller's phone restarted its stream) starts over.
        if self.ssrc != Some(packet.ssrc()) {
            self.ssrc = Some(packet.ssrc());
            self.last_seq = None;
        }
        let seq = packet.sequence_number();
        let gap = match self.last_seq {
            None => 0,
            Some(last) => {
                // How far ahead it is, modulo 2^16: 0 is a repeat, the upper half is late.
                let ahead = u16::from(seq).wrapping_sub(u16::from(last));
                if ahead == 0 || ahead >= 0x8000 {
                    return Received::Nothing;
                }
                ahead - 1
            }
        };
        self.last_seq = Some(seq);
        let pt = packet.payload_type();
        if Some(pt) == self.telephone_event {
            return Received::Keys(self.dtmf.packet(packet.timestamp(), packet.payload()));
        }
        let Some(law) = Law::of_payload_type(pt) else {
            return Received::Nothing;
        };
        let mut audio = Vec::new();
        if gap > 0 && gap <= MAX_FILLED_PACKETS {
            audio.resize(usize::from(gap) * SAMPLES_PER_PACKET, 0);
        }
        audio.extend(law.decode(packet.payload()));
        Received::Audio(audio)
    }
}

/// The hub's side of a call: audio in, packets out, one per 20 ms.
#[derive(Debug, Clone)]
pub struct Outgoing {
    law: Law,
    ssrc: u32,
    seq: Seq,
    timestamp: u32,
    /// Samples waiting to fill a packet.
    pending: Vec<i16>,
    /// The next packet starts a talkspurt (RTP's marker bit).
    spurt: bool,
}

impl Outgoing {
    /// A stream with the given source id and starting sequence number and timestamp (choose
    /// them at random, as RFC 3550 asks).
    pub fn new(law: Law, ssrc: u32, first_seq: u16, first_timestamp: u32) -> Self {
        Self {
            law,
            ssrc,
            seq: Seq::from(first_seq),
            timestamp: first_timestamp,
            pending: Vec::new(),
            spurt: true,
        }
    }

    /// Packets for `samples` (8 kHz) — as many full 20 ms packets as they make; the rest waits
    /// for more, or for [`flush`](Self::flush).
    pub fn audio(&mut self, samples: &[i16]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(samples);
        let mut out = Vec::new();
        while self.pending.len() >= SAMPLES_PER_PACKET {
            let frame: Vec<i16> = self.pending.drain(..SAMPLES_PER_PACKET).collect();
            out.push(self.build(&frame));
        }
        out
    }

    /// The end of a prompt: what is left, padded with silence to a whole packet, and the next
    /// audio starts a new talkspurt.
    pub fn flush(&mut self) -> Option<Vec<u8>> {
        let packet = (!self.pending.is_empty()).then(|| {
            let mut frame = std::mem::take(&mut self.pending);
            frame.resize(SAMPLES_PER_PACKET, 0);
            self.build(&frame)
        });
        self.spurt = true;
        packet
    }

    /// A stop in the middle of a prompt (the caller barged in): what was waiting is dropped.
    pub fn interrupt(&mut self) {
        self.pending.clear();
        self.spurt = true;
    }

    /// Time passes without audio (between prompts): the timestamp moves on, so the far end's
    /// jitter buffer keeps the timing.
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    fn build(&mut self, frame: &[i16]) -> Vec<u8> {
        let payload = self.law.encode(frame);
        let packet = RtpPacketBuilder::new()
            .payload_type(self.law.payload_type())
            .ssrc(self.ssrc)
            .sequence(self.seq)
            .timestamp(self.timestamp)
            .marked(self.spurt)
            .payload(&payload)
            .build()
            .expect("a G.711 packet of 160 bytes fits");
        self.seq = self.seq.next();
        self.timestamp = self.timestamp.wrapping_add(SAMPLES_PER_PACKET as u32);
        self.spurt = false;
        packet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TELEPHONE_EVENT_PT;
    use crate::dtmf::EventPayload;

    fn tone(n: usize) -> Vec<i16> {
        (0..n).map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16).collect()
    }

    #[test]
    fn what_the_hub_sends_the_caller_reads_back_in_20_ms_packets() {
        for law in [Law::Mu, Law::A] {
            let mut out = Outgoing::new(law, 0x1234_5678, 65_534, 4_294_967_000);
            let sound = tone(SAMPLES_PER_PACKET * 3 + 50);
            let mut packets = out.audio(&sound);
            assert_eq!(packets.len(), 3);
            packets.extend(out.flush());
            assert_eq!(packets.len(), 4);
            let readers: Vec<RtpReader> = packets.iter().map(|p| RtpReader::new(p).unwrap()).collect();
            assert_eq!(
                readers
                    .iter()
                    .map(|r| u16::from(r.sequence_number()))
                    .collect::<Vec<_>>(),
                [65_534, 65_535, 0, 1],
                "sequence numbers wrap"
            );
            assert_eq!(readers[1].timestamp().wrapping_sub(readers[0].timestamp()), 160);
            assert_eq!(
                readers.iter().map(|r| r.mark()).collect::<Vec<_>>(),
                [true, false, false, false]
            );
            assert!(
                readers
                    .iter()
                    .all(|r| r.payload_type() == law.payload_type() && r.payload().len() == 160)
            );

            let mut incoming = Incoming::new(None);
            let mut heard = Vec::new();
            for p in &packets {
                let Received::Audio(a) = incoming.packet(p) else {
                    panic!("audio")
                };
                heard.extend(a);
            }
            assert_eq!(heard.len(), SAMPLES_PER_PACKET * 4);
            // G.711 is lossy: within a step of the original.
            for (a, b) in sound.iter().zip(&heard) {
                assert!((i32::from(*a) - i32::from(*b)).abs() <= 300, "{law:?}: {a} vs {b}");
            }
            assert!(
                heard[sound.len()..].iter().all(|&s| s.abs() <= 8),
                "padded with silence"
            );
            // The next prompt is a new talkspurt.
            let next = out.audio(&tone(SAMPLES_PER_PACKET));
            assert!(RtpReader::new(&next[0]).unwrap().mark());
        }
    }

    #[test]
    fn lost_packets_become_silence_late_and_repeated_ones_are_dropped() {
        let mut out = Outgoing::new(Law::Mu, 7, 100, 0);
        let packets = out.audio(&tone(SAMPLES_PER_PACKET * 5));
        let mut incoming = Incoming::new(None);
        let length = |r: Received| match r {
            Received::Audio(a) => a.len(),
            other => panic!("{other:?}"),
        };
        assert_eq!(length(incoming.packet(&packets[0])), 160);
        // Packets 1 and 2 are lost: 3 brings 320 samples of silence, then its own.
        assert_eq!(length(incoming.packet(&packets[3])), 480);
        assert_eq!(incoming.packet(&packets[2]), Received::Nothing, "late");
        assert_eq!(incoming.packet(&packets[3]), Received::Nothing, "repeated");
        assert_eq!(length(incoming.packet(&packets[4])), 160);
        assert!(matches!(incoming.packet(b"\x00\x01"), Received::Malformed(_)));
        // A new source starts over.
        let mut other = Outgoing::new(Law::Mu, 8, 5, 0);
        assert_eq!(length(incoming.packet(&other.audio(&tone(160))[0])), 160);
    }

    #[test]
    fn telephone_events_on_their_payload_type_are_keys() {
        let mut incoming = Incoming::new(Some(TELEPHONE_EVENT_PT));
        let mut keys = Vec::new();
        for (seq, end) in [(1u16, false), (2, false), (3, true), (4, true), (5, true)] {
            let payload = EventPayload {
                event: 9,
                end,
                volume: 10,
                duration: 160 * seq,
            }
            .to_bytes();
            let packet = RtpPacketBuilder::new()
                .payload_type(TELEPHONE_EVENT_PT)
                .ssrc(1)
                .sequence(Seq::from(seq))
                .timestamp(8000)
                .payload(&payload)
                .build()
                .unwrap();
            if let Received::Keys(k) = incoming.packet(&packet) {
                keys.extend(k);
            }
        }
        assert_eq!(keys, ['9']);
        // Without an agreed telephone-event type, such packets are ignored.
        let packet = RtpPacketBuilder::new()
            .payload_type(TELEPHONE_EVENT_PT)
            .ssrc(1)
            .sequence(Seq::from(9))
            .timestamp(9000)
            .payload(&[1, 0x80, 0, 160])
            .build()
            .unwrap();
        assert_eq!(Incoming::new(None).packet(&packet), Received::Nothing);
    }
}
