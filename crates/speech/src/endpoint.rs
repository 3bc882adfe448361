//! Endpointing: cutting a caller's continuous audio into utterances, so each can be recognised
//! and sent to the bot as one message, and noticing the moment speech starts (barge-in: the
//! caller talking over the bot's prompt stops it).
//!
//! The detector is energy-based over 20 ms frames, with a noise floor that follows the line's
//! quiet level: a frame is speech when its level is well above the floor. An utterance starts
//! after [`Endpointer::START_MS`] of speech and ends after [`Endpointer::END_MS`] of silence; it
//! keeps [`Endpointer::LEAD_MS`] of audio from before the start, so the first sound is not cut.

use std::collections::VecDeque;

use crate::audio::Audio;

/// What a frame of audio changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Nothing yet.
    Nothing,
    /// The caller started speaking (barge-in).
    SpeechStarted,
    /// An utterance ended: its audio.
    Utterance(Audio),
}

/// Cuts a stream of audio at one rate into utterances.
#[derive(Debug, Clone)]
pub struct Endpointer {
    rate: u32,
    frame: usize,
    pending: Vec<i16>,
    /// Frames before the start of speech, kept for the lead-in.
    recent: VecDeque<Vec<i16>>,
    utterance: Option<Vec<i16>>,
    speech_run: usize,
    silence_run: usize,
    floor: f64,
}

impl Endpointer {
    /// Frame length.
    pub const FRAME_MS: u32 = 20;
    /// Speech this long starts an utterance.
    pub const START_MS: u32 = 120;
    /// Silence this long ends one.
    pub const END_MS: u32 = 700;
    /// Audio kept from before the start.
    pub const LEAD_MS: u32 = 300;
    /// The longest utterance; a longer one is cut here.
    pub const MAX_MS: u32 = 15_000;
    /// A frame is speech when its RMS is this many times the noise floor …
    const OVER_FLOOR: f64 = 4.0;
    /// … and above this absolute level (about −50 dBFS).
    const MIN_LEVEL: f64 = 100.0;

    pub fn new(rate: u32) -> Self {
        Self {
            rate,
            frame: (rate * Self::FRAME_MS / 1000) as usize,
            pending: Vec::new(),
            recent: VecDeque::new(),
            utterance: None,
            speech_run: 0,
            silence_run: 0,
            floor: Self::MIN_LEVEL / Self::OVER_FLOOR,
        }
    }

    fn frames(&self, ms: u32) -> usize {
        (ms / Self::FRAME_MS) as usize
    }

    /// Feeds `samples` (at the endpointer's rate); returns what they completed, in order.
    pub fn push(&mut self, samples: &[i16]) -> Vec<Endpoint> {
        self.pending.extend_from_slice(samples);
        let mut events = Vec::new();
        while self.pending.len() >= self.frame {
            let frame: Vec<i16> = self.pending.drain(..self.frame).collect();
            let event = self.frame_in(frame);
            if event != Endpoint::Nothing {
                events.push(event);
            }
        }
        events
    }

    /// Ends the stream (the call hung up): the utterance in progress, if any.
    pub fn finish(&mut self) -> Option<Audio> {
        let utterance = self.utterance.take()?;
        self.speech_run = 0;
        self.silence_run = 0;
        Some(Audio::new(self.rate, utterance))
    }

    /// Whether the caller is in the middle of an utterance.
    pub fn speaking(&self) -> bool {
        self.utterance.is_some()
    }

    fn frame_in(&mut self, frame: Vec<i16>) -> Endpoint {
        let level = Audio::new(self.rate, frame.clone()).rms();
        let speech = level > Self::MIN_LEVEL && level > self.floor * Self::OVER_FLOOR;
        if !speech {
            // The floor follows quiet frames quickly down and slowly up.
            let k = if level < self.floor { 0.5 } else { 0.05 };
            self.floor = (1.0 - k) * self.floor + k * level.max(1.0);
        }
        match &mut self.utterance {
            Some(utterance) => {
                utterance.extend_from_slice(&frame);
                if speech {
                    self.silence_run = 0;
                } else {
                    self.silence_run += 1;
                }
                let too_long = utterance.len() >= (self.rate * Self::MAX_MS / 1000) as usize;
                if self.silence_run >= self.frames(Self::END_MS) || too_long {
                    // Keep a little of the trailing silence; drop the rest.
                    let keep_silence = self.frames(200).min(self.silence_run);
                    let drop = (self.silence_run - keep_silence) * self.frame;
                    let mut done = self.utterance.take().expect("in an utterance");
                    done.truncate(done.len().saturating_sub(drop));
                    self.silence_run = 0;
                    self.speech_run = 0;
                    return Endpoint::Utterance(Audio::new(self.rate, done));
                }
                Endpoint::Nothing
            }
            None => {
                self.recent.push_back(frame);
                let lead = self.frames(Self::LEAD_MS).max(self.frames(Self::START_MS));
                while self.recent.len() > lead {
                    self.recent.pop_front();
                }
                self.speech_run = if speech { self.speech_run + 1 } else { 0 };
                if self.speech_run >= self.frames(Self::START_MS) {
                    self.utterance = Some(self.recent.drain(..).flatten().collect());
                    self.silence_run = 0;
                    return Endpoint::SpeechStarted;
                }
                Endpoint::Nothing
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn tone(rate: u32, ms: u32, amplitude: f64) -> Vec<i16> {
        (0..rate * ms / 1000)
            .map(|i| (amplitude * (2.0 * PI * 440.0 * f64::from(i) / f64::from(rate)).sin()) as i16)
            .collect()
    }

    fn noise(rate: u32, ms: u32, amplitude: i16) -> Vec<i16> {
        // A deterministic hiss.
        let mut x: u32 = 12345;
        (0..rate * ms / 1000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                ((x >> 16) as i16 % amplitude.max(1)).wrapping_abs() - amplitude / 2
            })
            .collect()
    }

    #[test]
    fn two_words_separated_by_a_pause_are_two_utterances_over_line_noise() {
        let rate = 8000;
        let mut e = Endpointer::new(rate);
        let mut events = Vec::new();
        for chunk in [
            noise(rate, 500, 60),
            tone(rate, 600, 6000.0),
            noise(rate, 1000, 60),
            tone(rate, 400, 6000.0),
            noise(rate, 1000, 60),
        ] {
            // Delivered in RTP-sized pieces (20 ms = 160 samples), unaligned on purpose.
            for piece in chunk.chunks(170) {
                events.extend(e.push(piece));
            }
        }
        let kinds: Vec<&str> = events
            .iter()
            .map(|ev| match ev {
                Endpoint::Nothing => "nothing",
                Endpoint::SpeechStarted => "started",
                Endpoint::Utterance(_) => "utterance",
            })
            .collect();
        assert_eq!(kinds, ["started", "utterance", "started", "utterance"]);
        let lengths: Vec<u64> = events
            .iter()
            .filter_map(|ev| match ev {
                Endpoint::Utterance(a) => Some(a.duration_ms()),
                _ => None,
            })
            .collect();
        // The speech, its lead-in (≤ 300 ms) and up to 200 ms of the trailing silence.
        assert!((600..=1100).contains(&lengths[0]), "{lengths:?}");
        assert!((400..=900).contains(&lengths[1]), "{lengths:?}");
        assert!(!e.speaking());
    }

    #[test]
    fn a_click_is_not_speech_and_hanging_up_mid_word_gives_the_word() {
        let rate = 8000;
        let mut e = Endpointer::new(rate);
        assert!(e.push(&tone(rate, 60, 8000.0)).is_empty(), "60 ms is a click");
        assert!(e.push(&noise(rate, 300, 40)).is_empty());
        assert_eq!(e.push(&tone(rate, 500, 5000.0)), vec![Endpoint::SpeechStarted]);
        assert!(e.speaking());
        let last = e.finish().unwrap();
        assert!(last.duration_ms() >= 500, "{}", last.duration_ms());
        assert_eq!(e.finish(), None);
    }

    #[test]
    fn an_endless_talker_is_cut_at_the_longest_utterance() {
        let rate = 8000;
        let mut e = Endpointer::new(rate);
        let events = e.push(&tone(rate, Endpointer::MAX_MS + 1000, 5000.0));
        // Cut at the limit; the talking goes on, so a new utterance starts at once.
        assert_eq!(events.len(), 3, "{} events", events.len());
        assert_eq!(
            (&events[0], &events[2]),
            (&Endpoint::SpeechStarted, &Endpoint::SpeechStarted)
        );
        let Endpoint::Utterance(a) = &events[1] else {
            panic!("not an utterance")
        };
        assert!(a.duration_ms() <= u64::from(Endpointer::MAX_MS));
    }
}
