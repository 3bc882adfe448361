//! RFC 4733 telephone events: a keypress is sent as a run of packets sharing one RTP timestamp,
//! the last ones (usually three, for safety) with the end bit set. The decoder reports each
//! keypress once, when it first sees it end — or when a new event begins without the old one's
//! end having arrived.

/// A telephone event's payload (RFC 4733 §2.3): event, end bit, volume, duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPayload {
    /// 0–9 digits, 10 `*`, 11 `#`, 12–15 `A`–`D`; higher codes are other tones.
    pub event: u8,
    pub end: bool,
    /// Power level, 0 to −63 dBm0 (as a positive number).
    pub volume: u8,
    /// In timestamp units (1/8000 s at 8 kHz).
    pub duration: u16,
}

impl EventPayload {
    /// Parses the 4-byte payload; `None` when it is shorter.
    pub fn parse(payload: &[u8]) -> Option<EventPayload> {
        let [event, flags, d1, d2, ..] = *payload else {
            return None;
        };
        Some(EventPayload {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d1, d2]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let [d1, d2] = self.duration.to_be_bytes();
        [self.event, (u8::from(self.end) << 7) | (self.volume & 0x3F), d1, d2]
    }

    /// The key this event is, if it is one of the sixteen DTMF keys.
    pub fn key(self) -> Option<char> {
        const KEYS: &[u8; 16] = b"0123456789*#ABCD";
        KEYS.get(usize::from(self.event)).map(|&k| char::from(k))
    }
}

/// Turns a stream of telephone-event packets into keypresses.
#[derive(Debug, Clone, Default)]
pub struct DtmfDecoder {
    /// The RTP timestamp of the event in progress, and whether it was reported.
    current: Option<(u32, u8, bool)>,
}

impl DtmfDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// One telephone-event packet (its RTP timestamp and payload); the keys it completes.
    pub fn packet(&mut self, timestamp: u32, payload: &[u8]) -> Vec<char> {
        let Some(event) = EventPayload::parse(payload) else {
            return Vec::new();
        };
        let mut keys = Vec::new();
        match self.current {
            Some((ts, _, _)) if ts == timestamp => {}
            Some((_, previous, reported)) => {
                // A new event: the old one's end packets were lost.
                if !reported
                    && let Some(key) = (EventPayload {
                        event: previous,
                        ..event
                    })
                    .key()
                {
                    keys.push(key);
                }
                self.current = Some((timestamp, event.event, false));
            }
            None => self.current = Some((timestamp, event.event, false)),
        }
        if event.end
            && let Some((ts, code, false)) = self.current
        {
            if let Some(key) = event.key() {
                keys.push(key);
            }
            self.current = Some((ts, code, true));
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
        EventPayload {
            event,
            end,
            volume: 10,
            duration,
        }
        .to_bytes()
    }

    #[test]
    fn a_keypress_repeated_with_three_end_packets_is_one_key() {
        let mut d = DtmfDecoder::new();
        let mut keys = Vec::new();
        for (duration, end) in [
            (160, false),
            (320, false),
            (480, false),
            (640, true),
            (640, true),
            (640, true),
        ] {
            keys.extend(d.packet(8000, &payload(5, end, duration)));
        }
        assert_eq!(keys, ['5']);
        // The next key has a new timestamp.
        for end in [false, true, true] {
            keys.extend(d.packet(9600, &payload(11, end, 400)));
        }
        assert_eq!(keys, ['5', '#']);
    }

    #[test]
    fn a_key_whose_end_was_lost_is_reported_when_the_next_one_starts() {
        let mut d = DtmfDecoder::new();
        assert!(d.packet(100, &payload(1, false, 160)).is_empty());
        assert!(d.packet(100, &payload(1, false, 320)).is_empty());
        assert_eq!(d.packet(900, &payload(10, false, 160)), ['1']);
        assert_eq!(d.packet(900, &payload(10, true, 320)), ['*']);
    }

    #[test]
    fn payloads_parse_and_other_tones_are_not_keys() {
        let e = EventPayload::parse(&[0x0B, 0x8A, 0x03, 0x20]).unwrap();
        assert_eq!(
            e,
            EventPayload {
                event: 11,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(e.key(), Some('#'));
        assert_eq!(EventPayload::parse(&[1, 2, 3]), None);
        assert_eq!(EventPayload { event: 32, ..e }.key(), None, "a fax tone");
        let mut d = DtmfDecoder::new();
        assert!(d.packet(5, &payload(32, true, 800)).is_empty());
    }
}
