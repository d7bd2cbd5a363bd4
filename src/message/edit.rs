//! A rewritten message as a list of byte-range edits on the original, so
//! that everything no rule touches is copied byte for byte.

use super::MessageError;

/// Replace `text[start..end]` by `with` (`start == end` inserts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Edit {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) with: Vec<u8>,
}

impl Edit {
    pub(crate) fn delete(start: usize, end: usize) -> Edit {
        Edit {
            start,
            end,
            with: Vec::new(),
        }
    }
    pub(crate) fn replace(start: usize, end: usize, with: impl Into<Vec<u8>>) -> Edit {
        Edit {
            start,
            end,
            with: with.into(),
        }
    }
    pub(crate) fn insert(at: usize, with: impl Into<Vec<u8>>) -> Edit {
        Edit::replace(at, at, with)
    }
}

/// Applies `edits` to `text`. Edits are sorted by position (inserts at one
/// place keep their order); two that overlap mean two rules disagree about
/// the same bytes, and the message is refused rather than guessed at.
pub(crate) fn apply(text: &[u8], mut edits: Vec<Edit>) -> Result<Vec<u8>, MessageError> {
    edits.sort_by_key(|e| (e.start, e.end));
    let grow: usize = edits.iter().map(|e| e.with.len()).sum();
    let mut out = Vec::with_capacity(text.len().saturating_add(grow));
    let mut pos = 0;
    for edit in edits {
        if edit.start < pos || edit.end < edit.start || edit.end > text.len() {
            return Err(MessageError::UnscrubbablePart {
                offset: edit.start,
                reason: "two rewrite rules touch the same bytes",
            });
        }
        out.extend_from_slice(text.get(pos..edit.start).unwrap_or_default());
        out.extend_from_slice(&edit.with);
        pos = edit.end;
    }
    out.extend_from_slice(text.get(pos..).unwrap_or_default());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_in_order_and_keep_the_rest() {
        let out = apply(
            b"0123456789",
            vec![
                Edit::replace(5, 7, "x"),
                Edit::insert(0, "a"),
                Edit::delete(0, 2),
                Edit::insert(10, "!"),
            ],
        )
        .unwrap();
        assert_eq!(out, b"a234x789!");
    }

    #[test]
    fn overlapping_edits_are_refused() {
        assert!(apply(b"0123", vec![Edit::delete(0, 3), Edit::delete(2, 4)]).is_err());
        assert!(apply(b"0123", vec![Edit::delete(3, 5)]).is_err());
    }
}
