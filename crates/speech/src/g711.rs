//! G.711, the telephone network's codecs: μ-law (PCMU, RTP payload type 0, North America and
//! Japan) and A-law (PCMA, payload type 8, elsewhere), each 8-bit samples at 8 kHz, encoded from
//! and decoded to 16-bit linear PCM as ITU-T G.711 defines them.

/// The bias μ-law adds before finding the segment.
const ULAW_BIAS: i32 = 0x84;
/// The largest magnitude μ-law encodes (larger ones clip).
const ULAW_CLIP: i32 = 32_635;

/// Encodes one linear sample as μ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut value = i32::from(sample);
    let sign = if value < 0 {
        value = -value;
        0x80
    } else {
        0
    };
    value = value.min(ULAW_CLIP) + ULAW_BIAS;
    let exponent = segment(value >> 7, 8);
    let mantissa = (value >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decodes one μ-law byte to a linear sample.
pub fn ulaw_decode(byte: u8) -> i16 {
    let byte = !byte;
    let exponent = i32::from((byte >> 4) & 0x07);
    let mantissa = i32::from(byte & 0x0F);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    (if byte & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// Encodes one linear sample as A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law works on 13 bits.
    let mut value = i32::from(sample) >> 3;
    let sign = if value >= 0 {
        0x80
    } else {
        value = -value - 1;
        0x00
    };
    let exponent = segment(value >> 4, 8).min(7);
    let mantissa = if exponent < 2 {
        (value >> 1) & 0x0F
    } else {
        (value >> exponent) & 0x0F
    };
    let byte = if value >= 0x1000 {
        0x7F
    } else {
        ((exponent << 4) | mantissa) as u8
    };
    (sign | byte) ^ 0x55
}

/// Decodes one A-law byte to a linear sample.
pub fn alaw_decode(byte: u8) -> i16 {
    let byte = byte ^ 0x55;
    let exponent = i32::from((byte >> 4) & 0x07);
    let mantissa = i32::from(byte & 0x0F);
    let magnitude = match exponent {
        0 => (mantissa << 4) + 8,
        _ => ((mantissa << 4) + 0x108) << (exponent - 1),
    };
    (if byte & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

/// The segment (exponent) of a value already shifted to the first segment's range: the number
/// of significant bits above it, at most `max - 1`.
fn segment(mut value: i32, max: i32) -> i32 {
    let mut exponent = 0;
    while value > 1 && exponent < max - 1 {
        value >>= 1;
        exponent += 1;
    }
    exponent
}

/// Which G.711 law a stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// PCMU, RTP payload type 0.
    Mu,
    /// PCMA, RTP payload type 8.
    A,
}

impl Law {
    /// The law of an RTP static payload type, if it is G.711.
    pub fn of_payload_type(pt: u8) -> Option<Law> {
        match pt {
            0 => Some(Law::Mu),
            8 => Some(Law::A),
            _ => None,
        }
    }

    pub fn payload_type(self) -> u8 {
        match self {
            Law::Mu => 0,
            Law::A => 8,
        }
    }

    pub fn encode(self, samples: &[i16]) -> Vec<u8> {
        match self {
            Law::Mu => samples.iter().map(|&s| ulaw_encode(s)).collect(),
            Law::A => samples.iter().map(|&s| alaw_encode(s)).collect(),
        }
    }

    pub fn decode(self, bytes: &[u8]) -> Vec<i16> {
        match self {
            Law::Mu => bytes.iter().map(|&b| ulaw_decode(b)).collect(),
            Law::A => bytes.iter().map(|&b| alaw_decode(b)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_code_points_of_the_standard() {
        // Silence, and the extremes, as G.711's tables give them.
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
    }

    #[test]
    fn every_code_decodes_and_encodes_back_to_itself() {
        for byte in 0..=255u8 {
            let u = ulaw_decode(byte);
            // 0x7F is μ-law's negative zero: it comes back as positive zero.
            if byte != 0x7F {
                assert_eq!(ulaw_encode(u), byte, "μ-law {byte:#04x} → {u}");
            }
            let a = alaw_decode(byte);
            assert_eq!(alaw_encode(a), byte, "A-law {byte:#04x} → {a}");
        }
    }

    #[test]
    fn the_error_of_a_round_trip_is_within_half_a_step() {
        for sample in (-32_768..=32_767).step_by(7) {
            let s = sample as i16;
            for law in [Law::Mu, Law::A] {
                let back = law.decode(&law.encode(&[s]))[0];
                let error = (i32::from(back) - i32::from(s)).abs();
                // The step doubles with each segment: 1/16 of the magnitude, at least 16.
                let allowed = (i32::from(s).abs() / 16).max(16) + 1;
                assert!(error <= allowed, "{law:?} {s} → {back}");
            }
        }
    }
}
