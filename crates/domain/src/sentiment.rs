//! Customer sentiment as the domain carries and stores it: a VADER compound score in
//! ten-thousandths. Scoring text and naming the seven levels is the `switchboard-sentiment`
//! crate's job; here the value is only carried (an integer, so conversations and activities stay
//! `Eq` and the database stores it exactly — VADER itself rounds its compound to four decimals).

use serde::{Deserialize, Serialize};

/// A compound score in ten-thousandths: −10000 (most negative) … 0 (neutral) … 10000 (most
/// positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sentiment(pub i16);

impl Sentiment {
    /// Neutral: where every conversation starts.
    pub const NEUTRAL: Sentiment = Sentiment(0);

    /// The score of a compound in −1 … +1 (clamped; NaN is neutral), rounded to four decimals.
    pub fn from_compound(compound: f64) -> Sentiment {
        if compound.is_nan() {
            return Sentiment::NEUTRAL;
        }
        Sentiment((compound.clamp(-1.0, 1.0) * 10_000.0).round() as i16)
    }

    /// The compound in −1 … +1.
    pub fn compound(self) -> f64 {
        f64::from(self.0) / 10_000.0
    }
}

/// What a scored customer message carries into the log: its own score and the conversation's
/// score once it is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageSentiment {
    /// The message's own score.
    pub message: Sentiment,
    /// The conversation's score after this message (the mean of its latest customer messages).
    pub conversation: Sentiment,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compounds_round_to_four_decimals_and_stay_in_range() {
        assert_eq!(Sentiment::from_compound(-0.4215), Sentiment(-4215));
        assert_eq!(Sentiment::from_compound(0.99995), Sentiment(10_000));
        assert_eq!(Sentiment::from_compound(7.0), Sentiment(10_000));
        assert_eq!(Sentiment::from_compound(-7.0), Sentiment(-10_000));
        assert_eq!(Sentiment::from_compound(f64::NAN), Sentiment::NEUTRAL);
        assert!((Sentiment(-4215).compound() + 0.4215).abs() < 1e-12);
    }
}
