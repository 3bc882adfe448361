//! Checking one customer's replies: every message it posted must be answered exactly once, and
//! the answers must come in the order the messages went out.
//!
//! The customer's texts are numbered (`msg-<customer>-<i>`, `warmup-<customer>-<i>`), so a reply
//! names the message it answers; the ledger counts what each reply proves. It does no I/O and
//! knows nothing of transports, so it is tested on its own.

/// What the echo bot puts before the text it echoes; only activities starting with it are
/// replies (the hub also sends greetings, notices and the customer's own messages back).
pub const REPLY_PREFIX: &str = "Echo: ";

/// Which message a reply answers, as far as the ledger can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The first reply to measured message `i`.
    Message(usize),
    /// The first reply to warm-up message `i`.
    Warmup(usize),
    /// A second (or later) reply to a message already answered.
    Duplicate,
    /// A reply to nothing this customer sent: another customer's message, or a garbled text.
    Unexpected,
}

/// The replies one customer received, message by message.
#[derive(Debug)]
pub struct Ledger {
    customer: usize,
    /// `Echo: msg-<customer>-`: what a reply to a measured message starts with.
    message_reply: String,
    /// `Echo: warmup-<customer>-`.
    warmup_reply: String,
    /// Replies received per measured message.
    replies: Vec<u32>,
    /// Replies received per warm-up message.
    warmup_replies: Vec<u32>,
    /// Which measured messages the hub accepted (a 2xx answer to the POST).
    posted: Vec<bool>,
    /// The measured message still awaited when the run's time ran out, if any: its reply is not
    /// counted missing, since the run, not the hub, stopped waiting for it.
    cut_off: Option<usize>,
    /// The highest measured message answered so far.
    highest: Option<usize>,
    duplicates: u64,
    out_of_order: u64,
    unexpected: u64,
}

impl Ledger {
    /// An empty ledger for customer `customer`, who sends `warmup` then `messages` messages.
    pub fn new(customer: usize, warmup: usize, messages: usize) -> Self {
        Self {
            customer,
            message_reply: format!("{REPLY_PREFIX}msg-{customer}-"),
            warmup_reply: format!("{REPLY_PREFIX}warmup-{customer}-"),
            replies: vec![0; messages],
            warmup_replies: vec![0; warmup],
            posted: vec![false; messages],
            cut_off: None,
            highest: None,
            duplicates: 0,
            out_of_order: 0,
            unexpected: 0,
        }
    }

    /// The text of measured message `i`.
    pub fn message_text(&self, i: usize) -> String {
        format!("msg-{}-{i}", self.customer)
    }

    /// The text of warm-up message `i`.
    pub fn warmup_text(&self, i: usize) -> String {
        format!("warmup-{}-{i}", self.customer)
    }

    /// Notes that the hub accepted measured message `i`.
    pub fn mark_posted(&mut self, i: usize) {
        if let Some(posted) = self.posted.get_mut(i) {
            *posted = true;
        }
    }

    /// Notes that the run stopped while waiting for the reply to measured message `i`.
    pub fn mark_cut_off(&mut self, i: usize) {
        self.cut_off = Some(i);
    }

    /// Counts `text`, a reply (it starts with [`REPLY_PREFIX`]), and says what it answers.
    pub fn record(&mut self, text: &str) -> Verdict {
        if let Some(i) = index_after(text, &self.message_reply).filter(|i| *i < self.replies.len()) {
            self.replies[i] += 1;
            if self.replies[i] > 1 {
                self.duplicates += 1;
                return Verdict::Duplicate;
            }
            if self.highest.is_some_and(|highest| i < highest) {
                self.out_of_order += 1;
            }
            self.highest = self.highest.max(Some(i));
            return Verdict::Message(i);
        }
        if let Some(i) = index_after(text, &self.warmup_reply).filter(|i| *i < self.warmup_replies.len()) {
            self.warmup_replies[i] += 1;
            if self.warmup_replies[i] > 1 {
                self.duplicates += 1;
                return Verdict::Duplicate;
            }
            return Verdict::Warmup(i);
        }
        self.unexpected += 1;
        Verdict::Unexpected
    }

    /// Measured messages answered at least once.
    pub fn replied(&self) -> u64 {
        self.replies.iter().filter(|n| **n > 0).count() as u64
    }

    /// Replies beyond the first to any message (warm-up included).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// First replies that came after the reply to a later message.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// Replies to nothing this customer sent.
    pub fn unexpected(&self) -> u64 {
        self.unexpected
    }

    /// Measured messages the hub accepted that were never answered (the one cut off by the end
    /// of the run excepted).
    pub fn missing(&self) -> u64 {
        self.posted
            .iter()
            .zip(&self.replies)
            .enumerate()
            .filter(|(i, (posted, replies))| **posted && **replies == 0 && self.cut_off != Some(*i))
            .count() as u64
    }

    /// Whether a message was still awaited when the run stopped.
    pub fn was_cut_off(&self) -> bool {
        self.cut_off.is_some_and(|i| self.replies[i] == 0)
    }
}

/// The decimal index that makes up the rest of `text` after `prefix`.
fn index_after(text: &str, prefix: &str) -> Option<usize> {
    let rest = text.strip_prefix(prefix)?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> String {
        format!("{REPLY_PREFIX}{text}")
    }

    #[test]
    fn replies_in_order_each_once_are_clean() {
        let mut ledger = Ledger::new(3, 1, 3);
        assert_eq!(ledger.record(&reply(&ledger.warmup_text(0))), Verdict::Warmup(0));
        for i in 0..3 {
            ledger.mark_posted(i);
            assert_eq!(ledger.record(&reply(&ledger.message_text(i))), Verdict::Message(i));
        }
        assert_eq!(
            (
                ledger.replied(),
                ledger.duplicates(),
                ledger.out_of_order(),
                ledger.unexpected(),
                ledger.missing()
            ),
            (3, 0, 0, 0, 0)
        );
    }

    #[test]
    fn a_second_reply_to_the_same_message_is_a_duplicate() {
        let mut ledger = Ledger::new(0, 1, 2);
        ledger.mark_posted(0);
        assert_eq!(ledger.record("Echo: msg-0-0"), Verdict::Message(0));
        assert_eq!(ledger.record("Echo: msg-0-0"), Verdict::Duplicate);
        assert_eq!(ledger.record("Echo: warmup-0-0"), Verdict::Warmup(0));
        assert_eq!(ledger.record("Echo: warmup-0-0"), Verdict::Duplicate);
        assert_eq!((ledger.replied(), ledger.duplicates()), (1, 2));
    }

    #[test]
    fn a_reply_after_a_later_messages_reply_is_out_of_order() {
        let mut ledger = Ledger::new(0, 0, 3);
        (0..3).for_each(|i| ledger.mark_posted(i));
        ledger.record("Echo: msg-0-0");
        ledger.record("Echo: msg-0-2");
        ledger.record("Echo: msg-0-1");
        assert_eq!((ledger.replied(), ledger.out_of_order(), ledger.missing()), (3, 1, 0));
    }

    #[test]
    fn another_customers_reply_or_a_garbled_one_is_unexpected() {
        let mut ledger = Ledger::new(1, 0, 20);
        assert_eq!(ledger.record("Echo: msg-2-0"), Verdict::Unexpected);
        assert_eq!(ledger.record("Echo: msg-1-"), Verdict::Unexpected);
        assert_eq!(ledger.record("Echo: msg-1-x"), Verdict::Unexpected);
        assert_eq!(ledger.record("Echo: msg-1-20"), Verdict::Unexpected);
        assert_eq!(ledger.record("Echo: msg-10-0"), Verdict::Unexpected);
        assert_eq!(ledger.record("Echo: msg-1-+1"), Verdict::Unexpected);
        assert_eq!((ledger.unexpected(), ledger.replied()), (6, 0));
    }

    #[test]
    fn an_accepted_message_never_answered_is_missing_unless_the_run_cut_it_off() {
        let mut ledger = Ledger::new(0, 0, 4);
        (0..3).for_each(|i| ledger.mark_posted(i));
        ledger.record("Echo: msg-0-0");
        ledger.mark_cut_off(2);
        // 1 accepted and unanswered: missing; 2 cut off; 3 never accepted.
        assert_eq!(ledger.missing(), 1);
        assert!(ledger.was_cut_off());
    }
}
