//! The catalogue: the expected result of every claim, read from the Markdown appendix that
//! ships with the project, so that what "as expected" means is written down by people and
//! never derived from the code under test.
//!
//! The format is a Markdown table row per claim whose first cell is the ID in backticks:
//!
//! ```text
//! | ID | where in the post | claim | post | conventions | expected |
//! | `ACT-ROLE` | §激励函数 | activations add non-linearity | correct | [C1](conventions.md#c1) | holds |
//! ```
//!
//! The fourth cell is the post's verdict word and the sixth the expected result word; any
//! other row (headings, vocabulary tables) is prose.

use super::claim::PostVerdict;
use super::verdict::Outcome;
use crate::{Error, Result};

/// One claim's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub location: String,
    pub claim: String,
    pub post_verdict: PostVerdict,
    pub expected: Outcome,
    /// The line of the source text (1-based), for messages.
    pub line: usize,
}

/// Every claim row of a catalogue, in order.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub entries: Vec<Entry>,
}

impl Catalogue {
    /// Reads every claim row of `markdown`.
    ///
    /// # Errors
    /// [`Error::Catalogue`] naming the line of a row with the wrong number of cells, an
    /// unknown verdict or result word, an expected `failed`, or an ID listed twice.
    ///
    /// ```
    /// use proofs_engine::claims::{Catalogue, Outcome};
    /// let c = Catalogue::parse("| `X-1` | §1 | x = x | correct | — | holds |\n").unwrap();
    /// assert_eq!(c.expected("X-1"), Some(Outcome::Holds));
    /// assert!(Catalogue::parse("| `X-1` | §1 | x | correct | — | fine |\n").is_err());
    /// ```
    pub fn parse(markdown: &str) -> Result<Self> {
        let mut entries: Vec<Entry> = Vec::new();
        for (i, raw) in markdown.lines().enumerate() {
            let line = i + 1;
            let Some(cells) = claim_cells(raw) else {
                continue;
            };
            let err = |problem: String| Error::Catalogue { line, problem };
            if cells.len() != 6 {
                return Err(err(format!(
                    "a claim row has {} cells, expected 6 (ID, where, claim, post, conventions, expected)",
                    cells.len()
                )));
            }
            let id = cells[0].trim_matches('`').to_owned();
            let post_verdict = PostVerdict::from_word(&cells[3])
                .ok_or_else(|| err(format!("{id}: unknown post verdict {:?}", cells[3])))?;
            let expected = Outcome::from_word(&cells[5])
                .ok_or_else(|| err(format!("{id}: unknown expected result {:?}", cells[5])))?;
            if expected == Outcome::Failed {
                return Err(err(format!("{id}: `failed` is never an expected result")));
            }
            if let Some(first) = entries.iter().find(|e| e.id == id) {
                return Err(err(format!(
                    "{id} is listed twice (first on line {})",
                    first.line
                )));
            }
            entries.push(Entry {
                id,
                location: cells[1].clone(),
                claim: cells[2].clone(),
                post_verdict,
                expected,
                line,
            });
        }
        Ok(Self { entries })
    }

    /// The row of `id`.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The expected result of `id`.
    pub fn expected(&self, id: &str) -> Option<Outcome> {
        self.entry(id).map(|e| e.expected)
    }
}

/// The trimmed cells of a table row whose first cell is a backticked uppercase ID.
fn claim_cells(line: &str) -> Option<Vec<String>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => cell.push(chars.next()?),
            '|' => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_owned());
    let id = cells[0].strip_prefix('`')?.strip_suffix('`')?;
    let is_id = id.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    is_id.then_some(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_and_skips_prose() {
        let text = "# A\n\n| word | meaning |\n| --- | --- |\n| `holds` | fine |\n\
                    | `BP-14` | eq (14) | a \\| b $\\lvert x \\rvert$ | typo | [C4](conventions.md#c4) | corrected-holds |\n\
                    | `Note` | x |\n| `` | y |\n| `A_B` | z |\n";
        let c = Catalogue::parse(text).unwrap();
        assert_eq!(c.entries.len(), 1);
        let e = &c.entries[0];
        assert_eq!(e.id, "BP-14");
        assert_eq!(e.claim, "a | b $\\lvert x \\rvert$");
        assert_eq!(e.post_verdict, PostVerdict::Typo);
        assert_eq!(e.expected, Outcome::CorrectedHolds);
        assert_eq!(e.line, 6);
    }

    #[test]
    fn names_the_line_of_a_bad_row() {
        let dup =
            "| `A-1` | x | y | correct | — | holds |\n| `A-1` | x | y | correct | — | holds |\n";
        let e = Catalogue::parse(dup).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("listed twice"), "{e}");
        let short = "| `A-1` | x | correct | holds |\n";
        assert!(
            Catalogue::parse(short)
                .unwrap_err()
                .to_string()
                .contains("4 cells")
        );
        let failed = "| `A-1` | x | y | correct | — | failed |\n";
        assert!(
            Catalogue::parse(failed)
                .unwrap_err()
                .to_string()
                .contains("never")
        );
        let word = "| `A-1` | x | y | right | — | holds |\n";
        assert!(
            Catalogue::parse(word)
                .unwrap_err()
                .to_string()
                .contains("\"right\"")
        );
    }
}
