//! What parse and check errors share: pointing at a span of the source, and "did you mean"
//! suggestions for a misspelt word.

use super::ast::Span;

/// Shows `message` under the line of `source` that `span` starts on, with carets under the
/// span, then the help if any:
///
/// ```text
/// BotHandoffTopic equal "CreditCard"
///                 ^^^^^ expected an operator (equals, does not equal, contains, ...)
/// help: did you mean `equals`?
/// ```
pub(super) fn render(source: &str, span: Span, message: &str, help: Option<&str>) -> String {
    let start = floor_boundary(source, span.start);
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..].find('\n').map_or(source.len(), |i| start + i);
    let end = floor_boundary(source, span.end.clamp(start, line_end));
    let column = source[line_start..start].chars().count();
    let width = source[start..end].chars().count().max(1);

    let mut out = String::new();
    if line_start > 0 || line_end < source.len() {
        let line_no = source[..line_start].matches('\n').count() + 1;
        out.push_str(&format!("line {line_no}: "));
        out.push_str(&source[line_start..line_end]);
        out.push('\n');
        out.push_str(&" ".repeat(column + format!("line {line_no}: ").len()));
    } else {
        out.push_str(source);
        out.push('\n');
        out.push_str(&" ".repeat(column));
    }
    out.push_str(&"^".repeat(width));
    out.push(' ');
    out.push_str(message);
    if let Some(help) = help {
        out.push_str("\nhelp: ");
        out.push_str(help);
    }
    out
}

/// The largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The candidate closest to `word` (ignoring ASCII case), if it is close enough to be a likely
/// typo: at most one edit for short words, a third of the word's length for longer ones.
pub(super) fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters, ignoring ASCII case.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().map(|c| c.to_ascii_lowercase()).enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions_ignoring_case() {
        assert_eq!(edit_distance("equal", "equals"), 1);
        assert_eq!(edit_distance("Equals", "equals"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn closest_suggests_only_near_misses() {
        assert_eq!(closest("equal", ["equals", "contains"]), Some("equals"));
        assert_eq!(closest("banana", ["equals", "contains"]), None);
    }

    #[test]
    fn render_points_carets_at_the_span_counting_characters_not_bytes() {
        let src = r#"Thème equal "x""#;
        let start = src.find("equal").unwrap();
        let out = render(
            src,
            Span::new(start, start + 5),
            "expected an operator",
            Some("did you mean `equals`?"),
        );
        assert_eq!(
            out,
            "Thème equal \"x\"\n      ^^^^^ expected an operator\nhelp: did you mean `equals`?"
        );
    }

    #[test]
    fn render_names_the_line_of_a_multi_line_condition() {
        let src = "A equals \"x\"\nand B equal 1";
        let start = src.find("equal 1").unwrap();
        let out = render(src, Span::new(start, start + 5), "bad", None);
        assert_eq!(out, "line 2: and B equal 1\n              ^^^^^ bad");
    }
}
