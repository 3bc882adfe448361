//! Speech for the voice channel: what a caller says becomes text for the bot, and what the bot
//! writes becomes speech for the caller.
//!
//! Both directions sit behind one interface each, [`SpeechToText`] and [`TextToSpeech`], so a
//! cloud engine can replace the local ones without the hub changing. The local defaults need
//! nothing downloaded at run time and run as **separate processes**, never linked into the hub
//! (espeak-ng is GPL):
//!
//! - [`Pocketsphinx`]: recognition with the PyPI `pocketsphinx` package (its wheel ships the US
//!   English model), in a long-lived Python sidecar spoken to over stdin/stdout. With a
//!   [`Grammar`] — the phrases of the bot's last suggested actions — it hears only those, which is
//!   what makes telephone recognition reliable; without one it is free-form.
//! - [`EspeakNg`]: synthesis with Debian's `espeak-ng`, one process per prompt, plain text or
//!   SSML (the bot's `speak`).
//!
//! Audio is mono 16-bit PCM ([`Audio`]), resampled between the telephone's 8 kHz, the
//! recogniser's 16 kHz and the synthesiser's 22.05 kHz; [`g711`] encodes and decodes the
//! telephone network's μ-law and A-law; [`Endpointer`] cuts a caller's audio into utterances
//! and notices when they start talking (barge-in).

pub mod audio;
pub mod endpoint;
mod engines;
pub mod g711;

use std::future::Future;
use std::pin::Pin;

pub use audio::{Audio, RECOGNISER_RATE, TELEPHONE_RATE};
pub use endpoint::{Endpoint, Endpointer};
pub use engines::{EspeakNg, Pocketsphinx, PocketsphinxSettings};

/// Why speech could not be recognised or synthesised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpeechError {
    /// The engine's program could not be started (not installed, wrong path).
    #[error("cannot start {program}: {reason}")]
    Unavailable { program: String, reason: String },
    /// The engine ran but failed.
    #[error("{engine} failed: {reason}")]
    Failed { engine: &'static str, reason: String },
    /// Audio that cannot be read.
    #[error("unreadable audio: {0}")]
    Audio(String),
}

/// A boxed future, so engines can be used as trait objects.
pub type SpeechFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SpeechError>> + Send + 'a>>;

/// The phrases a recogniser should listen for: a bot's suggested actions, an IVR menu.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grammar {
    phrases: Vec<String>,
}

impl Grammar {
    /// A grammar of `phrases` (button titles or values, as a bot wrote them); phrases with no
    /// letters or digits are left out. `None` when none is left: recognise free-form then.
    pub fn of<S: AsRef<str>>(phrases: impl IntoIterator<Item = S>) -> Option<Grammar> {
        let mut out: Vec<String> = Vec::new();
        for phrase in phrases {
            let phrase = phrase.as_ref().trim();
            if phrase.chars().any(char::is_alphanumeric) && !out.iter().any(|p| p.eq_ignore_ascii_case(phrase)) {
                out.push(phrase.to_owned());
            }
        }
        (!out.is_empty()).then_some(Grammar { phrases: out })
    }

    pub fn phrases(&self) -> &[String] {
        &self.phrases
    }
}

/// Speech in: one utterance to its text.
pub trait SpeechToText: Send + Sync + std::fmt::Debug {
    /// What was said in `audio` (any rate: engines resample as they need), listening for
    /// `grammar`'s phrases when given; `None` when nothing was recognised.
    fn recognize<'a>(&'a self, audio: &'a Audio, grammar: Option<&'a Grammar>) -> SpeechFuture<'a, Option<String>>;

    /// Whether the engine can run (its program and model are there); cheap after the first
    /// success.
    fn check(&self) -> SpeechFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// Speech out: text, or SSML, to audio.
pub trait TextToSpeech: Send + Sync + std::fmt::Debug {
    /// `text` spoken; when `ssml` is true it is an SSML document (`<speak>…</speak>`).
    fn synthesize<'a>(&'a self, text: &'a str, ssml: bool) -> SpeechFuture<'a, Audio>;

    /// Whether the engine can run; cheap after the first success.
    fn check(&self) -> SpeechFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}
