//! Audio as the hub handles it: mono 16-bit PCM at a known rate, with WAV in and out and
//! resampling between the rates of the telephone network (8 kHz), the recogniser (16 kHz) and
//! the synthesiser (22.05 kHz).

use std::f64::consts::PI;
use std::io::Cursor;

use crate::SpeechError;

/// The telephone network's sample rate (G.711).
pub const TELEPHONE_RATE: u32 = 8_000;
/// The rate the recogniser's acoustic model wants.
pub const RECOGNISER_RATE: u32 = 16_000;

/// Mono 16-bit PCM.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audio {
    /// Samples per second.
    pub rate: u32,
    pub samples: Vec<i16>,
}

impl Audio {
    pub fn new(rate: u32, samples: Vec<i16>) -> Self {
        Self { rate, samples }
    }

    /// How long it lasts, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        if self.rate == 0 {
            return 0;
        }
        self.samples.len() as u64 * 1000 / u64::from(self.rate)
    }

    /// Reads a WAV file's bytes: 8- or 16-bit integer PCM, any rate; channels are mixed down.
    /// A streamed WAV (espeak-ng's `--stdout`) whose header claims more data than follows is
    /// read up to its end.
    pub fn from_wav(bytes: &[u8]) -> Result<Self, SpeechError> {
        let bytes = with_true_sizes(bytes);
        let mut reader =
            hound::WavReader::new(Cursor::new(&bytes[..])).map_err(|e| SpeechError::Audio(e.to_string()))?;
        let spec = reader.spec();
        if spec.sample_format != hound::SampleFormat::Int || !matches!(spec.bits_per_sample, 8 | 16) {
            return Err(SpeechError::Audio(format!(
                "WAV of {} bits, {:?}: only 8- or 16-bit integer PCM is read",
                spec.bits_per_sample, spec.sample_format
            )));
        }
        let channels = usize::from(spec.channels.max(1));
        let all: Vec<i32> = match spec.bits_per_sample {
            8 => reader
                .samples::<i8>()
                .map(|s| s.map(|v| i32::from(v) << 8))
                .collect::<Result<_, _>>(),
            _ => reader
                .samples::<i16>()
                .map(|s| s.map(i32::from))
                .collect::<Result<_, _>>(),
        }
        .map_err(|e| SpeechError::Audio(e.to_string()))?;
        let samples = all
            .chunks(channels)
            .map(|frame| (frame.iter().sum::<i32>() / frame.len() as i32) as i16)
            .collect();
        Ok(Self::new(spec.sample_rate, samples))
    }

    /// The samples as raw 16-bit little-endian PCM (what the recogniser and the call sockets
    /// carry).
    pub fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    /// Samples from raw 16-bit little-endian PCM; an odd last byte is ignored.
    pub fn pcm_samples(bytes: &[u8]) -> Vec<i16> {
        bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }

    /// The audio as a 16-bit mono WAV file.
    pub fn to_wav(&self) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: self.rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = Cursor::new(Vec::with_capacity(44 + self.samples.len() * 2));
        {
            let mut writer = hound::WavWriter::new(&mut out, spec).expect("writing to memory cannot fail");
            for &s in &self.samples {
                writer.write_sample(s).expect("writing to memory cannot fail");
            }
            writer.finalize().expect("writing to memory cannot fail");
        }
        out.into_inner()
    }

    /// The same sound at `rate`: band-limited (windowed-sinc) interpolation, so going down to the
    /// telephone rate does not fold the synthesiser's high frequencies into the speech band.
    pub fn resample(&self, rate: u32) -> Audio {
        if rate == self.rate || self.samples.is_empty() || self.rate == 0 {
            return Audio::new(rate, self.samples.clone());
        }
        let ratio = f64::from(rate) / f64::from(self.rate);
        // Below the lower of the two Nyquist frequencies.
        let cutoff = ratio.min(1.0) * 0.95;
        let half_width = (LOBES as f64 / cutoff).ceil() as isize;
        let out_len = ((self.samples.len() as f64) * ratio).round() as usize;
        let mut out = Vec::with_capacity(out_len);
        for n in 0..out_len {
            let center = n as f64 / ratio;
            let first = center.floor() as isize - half_width;
            let mut acc = 0.0;
            let mut weight = 0.0;
            for k in first..=first + 2 * half_width {
                let Some(&sample) = usize::try_from(k).ok().and_then(|k| self.samples.get(k)) else {
                    continue;
                };
                let x = (k as f64 - center) * cutoff;
                let w = sinc(x) * lanczos(x / LOBES as f64);
                acc += f64::from(sample) * w;
                weight += w;
            }
            let value = if weight.abs() > 1e-9 { acc / weight } else { 0.0 };
            out.push(value.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16);
        }
        Audio::new(rate, out)
    }

    /// The root-mean-square level, 0 … 32767: near 0 is silence.
    pub fn rms(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let sum: f64 = self.samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        (sum / self.samples.len() as f64).sqrt()
    }
}

/// `bytes` with the RIFF and `data` chunk sizes set to what the bytes hold, when they claim
/// more (a WAV written to a pipe before its length was known).
fn with_true_sizes(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return bytes.into();
    }
    let mut offset = 12;
    while offset + 8 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().expect("4 bytes")) as usize;
        if &bytes[offset..offset + 4] == b"data" {
            let held = bytes.len() - offset - 8;
            if size <= held {
                return bytes.into();
            }
            let mut fixed = bytes[..offset + 8 + held - held % 2].to_vec();
            let data = u32::try_from(fixed.len() - offset - 8).unwrap_or(u32::MAX);
            fixed[offset + 4..offset + 8].copy_from_slice(&data.to_le_bytes());
            let riff = u32::try_from(fixed.len() - 8).unwrap_or(u32::MAX);
            fixed[4..8].copy_from_slice(&riff.to_le_bytes());
            return fixed.into();
        }
        offset += 8 + size + size % 2;
    }
    bytes.into()
}

/// Zero crossings of the interpolation kernel on each side.
const LOBES: usize = 8;

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

fn lanczos(x: f64) -> f64 {
    if x.abs() >= 1.0 { 0.0 } else { sinc(x) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f64, ms: u32) -> Audio {
        let n = rate * ms / 1000;
        Audio::new(
            rate,
            (0..n)
                .map(|i| (8000.0 * (2.0 * PI * hz * f64::from(i) / f64::from(rate)).sin()) as i16)
                .collect(),
        )
    }

    #[test]
    fn raw_pcm_is_little_endian_and_an_odd_byte_is_dropped() {
        assert_eq!(Audio::pcm_bytes(&[1, -2]), [1, 0, 0xfe, 0xff]);
        assert_eq!(Audio::pcm_samples(&[1, 0, 0xfe, 0xff, 7]), [1, -2]);
    }

    #[test]
    fn wav_round_trips_and_reports_its_rate_and_length() {
        let a = tone(8000, 440.0, 250);
        let back = Audio::from_wav(&a.to_wav()).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.duration_ms(), 250);
        assert!(Audio::from_wav(b"not a wav").is_err());
        // Streamed: the sizes say 0x7fff_f000 bytes.
        let mut streamed = a.to_wav();
        streamed[4..8].copy_from_slice(&0x7fff_f024u32.to_le_bytes());
        streamed[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        assert_eq!(Audio::from_wav(&streamed).unwrap(), a);
    }

    #[test]
    fn resampling_keeps_a_tone_in_band_and_removes_one_above_the_new_nyquist() {
        let speech_band = tone(22_050, 1000.0, 500);
        let down = speech_band.resample(8000);
        assert_eq!(down.samples.len(), 4000);
        // A 1 kHz tone keeps its level (a sine of amplitude 8000 has an RMS of about 5657).
        assert!((down.rms() - 5657.0).abs() < 300.0, "{}", down.rms());
        // A 6 kHz tone cannot exist at 8 kHz: it must not fold back as a 2 kHz one.
        let too_high = tone(22_050, 6000.0, 500).resample(8000);
        assert!(too_high.rms() < 400.0, "aliased: {}", too_high.rms());
        let up = down.resample(16_000);
        assert_eq!((up.rate, up.samples.len()), (16_000, 8000));
        assert!((up.rms() - 5657.0).abs() < 300.0, "{}", up.rms());
    }
}
