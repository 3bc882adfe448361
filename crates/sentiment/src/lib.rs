//! Customer sentiment, scored inside the hub with nothing downloaded: every customer message gets
//! VADER's compound score (−1 … +1; the `vader-parity` crate, which reproduces Python's
//! `vaderSentiment` 3.3.2 exactly, its lexicon compiled in), and a conversation's sentiment is
//! the mean of its [`WINDOW`] most recent customer messages, mapped to one of Omnichannel's seven
//! [`Level`]s by [`Level::of`]. A conversation with no scored message is neutral.
//!
//! The thresholds are VADER's own ±0.05 neutral band, split further at ±0.3 and ±0.6: one
//! message such as "this is terrible, I want a human" (−0.42) is *negative*; a single "ok"
//! (+0.30) is *slightly positive*. docs/sentiment.md has the table and the accuracy on the
//! repository's labelled set (`crates/sentiment/data/labelled.tsv`).

use std::collections::VecDeque;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// How many of the latest customer messages a conversation's sentiment is computed from.
pub const WINDOW: usize = 6;

/// One message's score: VADER's compound, from −1 (most negative) to +1 (most positive).
pub fn score(text: &str) -> f64 {
    static ANALYZER: OnceLock<vader_parity::SentimentIntensityAnalyzer> = OnceLock::new();
    ANALYZER
        .get_or_init(vader_parity::SentimentIntensityAnalyzer::new)
        .polarity_scores(text)
        .compound
}

/// The seven sentiment levels supervisors see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    VeryNegative,
    Negative,
    SlightlyNegative,
    Neutral,
    SlightlyPositive,
    Positive,
    VeryPositive,
}

impl Level {
    /// Every level, from the most negative.
    pub const ALL: [Level; 7] = [
        Level::VeryNegative,
        Level::Negative,
        Level::SlightlyNegative,
        Level::Neutral,
        Level::SlightlyPositive,
        Level::Positive,
        Level::VeryPositive,
    ];

    /// The level of a (mean) compound score: `≤ −0.6` very negative, `≤ −0.3` negative, `≤ −0.05`
    /// slightly negative, `< 0.05` neutral, `< 0.3` slightly positive, `< 0.6` positive, else very
    /// positive.
    pub fn of(compound: f64) -> Level {
        match compound {
            c if c <= -0.6 => Level::VeryNegative,
            c if c <= -0.3 => Level::Negative,
            c if c <= -0.05 => Level::SlightlyNegative,
            c if c < 0.05 => Level::Neutral,
            c if c < 0.3 => Level::SlightlyPositive,
            c if c < 0.6 => Level::Positive,
            _ => Level::VeryPositive,
        }
    }

    /// The stable slug: `very_negative` … `very_positive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::VeryNegative => "very_negative",
            Level::Negative => "negative",
            Level::SlightlyNegative => "slightly_negative",
            Level::Neutral => "neutral",
            Level::SlightlyPositive => "slightly_positive",
            Level::Positive => "positive",
            Level::VeryPositive => "very_positive",
        }
    }

    /// −1, 0 or +1: which side of neutral.
    pub fn polarity(self) -> i8 {
        match self {
            Level::VeryNegative | Level::Negative | Level::SlightlyNegative => -1,
            Level::Neutral => 0,
            Level::SlightlyPositive | Level::Positive | Level::VeryPositive => 1,
        }
    }
}

/// A conversation's running sentiment: the scores of its latest customer messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pulse {
    recent: VecDeque<f64>,
}

impl Pulse {
    /// Scores a customer message and adds it; the oldest falls out past [`WINDOW`]. Returns the
    /// message's own score.
    pub fn add(&mut self, text: &str) -> f64 {
        let s = score(text);
        self.add_score(s);
        s
    }

    /// Adds an already computed score.
    pub fn add_score(&mut self, compound: f64) {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(compound.clamp(-1.0, 1.0));
    }

    /// The mean of the window; 0 (neutral) before any message.
    pub fn compound(&self) -> f64 {
        if self.recent.is_empty() {
            0.0
        } else {
            self.recent.iter().sum::<f64>() / self.recent.len() as f64
        }
    }

    pub fn level(&self) -> Level {
        Level::of(self.compound())
    }

    /// How many messages the window holds.
    pub fn len(&self) -> usize {
        self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thresholds_split_the_scale_into_seven_ordered_levels() {
        let cases = [
            (-1.0, Level::VeryNegative),
            (-0.6, Level::VeryNegative),
            (-0.59, Level::Negative),
            (-0.3, Level::Negative),
            (-0.29, Level::SlightlyNegative),
            (-0.05, Level::SlightlyNegative),
            (-0.049, Level::Neutral),
            (0.0, Level::Neutral),
            (0.049, Level::Neutral),
            (0.05, Level::SlightlyPositive),
            (0.299, Level::SlightlyPositive),
            (0.3, Level::Positive),
            (0.599, Level::Positive),
            (0.6, Level::VeryPositive),
            (1.0, Level::VeryPositive),
        ];
        for (compound, level) in cases {
            assert_eq!(Level::of(compound), level, "{compound}");
        }
        let mut sorted = Level::ALL;
        sorted.sort();
        assert_eq!(sorted, Level::ALL);
    }

    #[test]
    fn a_conversation_starts_neutral_and_follows_its_six_latest_messages() {
        let mut pulse = Pulse::default();
        assert_eq!(pulse.level(), Level::Neutral);
        for _ in 0..WINDOW {
            pulse.add_score(-0.9);
        }
        assert_eq!(pulse.level(), Level::VeryNegative);
        for _ in 0..WINDOW - 1 {
            pulse.add_score(0.9);
        }
        assert_eq!(pulse.len(), WINDOW);
        // Five of six at +0.9, one at −0.9: (4.5 − 0.9) / 6 = 0.6.
        assert!((pulse.compound() - 0.6).abs() < 1e-9, "{}", pulse.compound());
        pulse.add_score(0.9);
        assert_eq!(pulse.level(), Level::VeryPositive, "the oldest fell out");
    }

    #[test]
    fn the_issues_two_sentences_fall_on_the_expected_sides() {
        assert!(Level::of(score("this is terrible, I want a human")).polarity() < 0);
        assert!(Level::of(score("thank you very much, that solved it")).polarity() > 0);
    }
}
