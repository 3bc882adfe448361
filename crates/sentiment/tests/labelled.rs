//! Accuracy on the repository's labelled customer-service sentences
//! (`data/labelled.tsv`): the share whose level falls on the labelled side of neutral. The figure
//! is printed (`cargo test -p switchboard-sentiment -- --nocapture`) and recorded in
//! docs/sentiment.md; the test fails if it drops below what was recorded there.

use switchboard_sentiment::{Level, score};

const LABELLED: &str = include_str!("../data/labelled.tsv");
/// The accuracy docs/sentiment.md reports, which a change must not lower.
const RECORDED: f64 = 0.88;

#[test]
fn accuracy_on_the_labelled_set() {
    let mut total = 0;
    let mut right = 0;
    let mut confusion = [[0u32; 3]; 3];
    let mut misses = Vec::new();
    for line in LABELLED.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (label, text) = line.split_once('\t').expect("label<TAB>text");
        let expected: i8 = match label {
            "negative" => -1,
            "neutral" => 0,
            "positive" => 1,
            other => panic!("unknown label {other}"),
        };
        let compound = score(text);
        let got = Level::of(compound).polarity();
        confusion[(expected + 1) as usize][(got + 1) as usize] += 1;
        total += 1;
        if got == expected {
            right += 1;
        } else {
            misses.push(format!(
                "  {label:<8} {compound:+.3} {:<18} {text}",
                Level::of(compound).as_str()
            ));
        }
    }
    let accuracy = f64::from(right) / f64::from(total);
    println!("labelled set: {right} of {total} right, accuracy {accuracy:.3}");
    println!("confusion (rows labelled negative/neutral/positive, columns scored): {confusion:?}");
    println!("misses:\n{}", misses.join("\n"));
    assert_eq!(total, 60, "the labelled set has 60 sentences");
    assert!(
        accuracy >= RECORDED,
        "accuracy {accuracy:.3} fell below the recorded {RECORDED:.3}"
    );
}
