//! The lexical rules SPEC 1 and SPEC 7 share: UTF-8, LF-only lines ending
//! in LF, fields separated by exactly one space, canonical decimal numbers
//! and base64. Both the directory and the descriptor read their text
//! through [`Lines`], so the two documents cannot drift apart.

use super::error::excerpt;
use super::{DirectoryError, DirectoryErrorKind as Kind};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::iter::Peekable;
use std::str::SplitTerminator;

/// Checks the byte-level rules (UTF-8, no CR, a final LF) and returns the
/// text. An empty text passes, so that the reader reports the missing first
/// line by name.
pub(crate) fn checked_text(text: &[u8]) -> Result<&str, DirectoryError> {
    let text = std::str::from_utf8(text)
        .map_err(|e| DirectoryError::at(line_of(text, e.valid_up_to()), Kind::NotUtf8))?;
    if let Some(at) = text.find('\r') {
        return Err(DirectoryError::at(
            line_of(text.as_bytes(), at),
            Kind::CarriageReturn,
        ));
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(DirectoryError::at(
            line_of(text.as_bytes(), text.len()),
            Kind::MissingFinalNewline,
        ));
    }
    Ok(text)
}

/// The 1-based line holding byte `offset`.
pub(crate) fn line_of(text: &[u8], offset: usize) -> usize {
    let before = text.get(..offset).unwrap_or(text);
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

/// A decimal number as the documents spell it: ASCII digits only, no sign,
/// no leading zero (so each value has exactly one spelling).
pub(crate) fn number(line: usize, field: &'static str, text: &str) -> Result<u64, DirectoryError> {
    let found = || excerpt(text);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DirectoryError::at(
            line,
            Kind::InvalidNumber {
                field,
                found: found(),
            },
        ));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(DirectoryError::at(
            line,
            Kind::LeadingZero {
                field,
                found: found(),
            },
        ));
    }
    text.parse().map_err(|_| {
        DirectoryError::at(
            line,
            Kind::NumberTooLarge {
                field,
                found: found(),
            },
        )
    })
}

/// Canonical standard base64 with padding, decoding to exactly `N` bytes.
pub(crate) fn base64_array<const N: usize>(
    line: usize,
    field: &'static str,
    text: &str,
) -> Result<[u8; N], DirectoryError> {
    let bytes = STANDARD.decode(text).map_err(|_| {
        DirectoryError::at(
            line,
            Kind::BadBase64 {
                field,
                found: excerpt(text),
            },
        )
    })?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
        DirectoryError::at(
            line,
            Kind::WrongLength {
                field,
                expected: N,
                found: bytes.len(),
            },
        )
    })
}

/// One line, split into its space-separated fields on demand (no
/// allocation, so a hostile line of millions of fields costs nothing extra).
pub(crate) struct Fields<'a> {
    pub(crate) line: usize,
    text: &'a str,
}

impl<'a> Fields<'a> {
    pub(crate) fn keyword(&self) -> &'a str {
        self.text.split(' ').next().unwrap_or_default()
    }

    /// The fields of a `keyword` line that must have exactly `N` of them.
    pub(crate) fn exactly<const N: usize>(
        &self,
        keyword: &'static str,
    ) -> Result<[&'a str; N], DirectoryError> {
        let mut fields = [""; N];
        let mut found = 0;
        for field in self.text.split(' ') {
            if let Some(slot) = fields.get_mut(found) {
                *slot = field;
            }
            found += 1;
        }
        if found != N {
            return Err(DirectoryError::at(
                self.line,
                Kind::FieldCount {
                    keyword,
                    expected: N,
                    found,
                },
            ));
        }
        Ok(fields)
    }

    /// The value of a `keyword value` line.
    pub(crate) fn value(&self, keyword: &'static str) -> Result<&'a str, DirectoryError> {
        let [_, value] = self.exactly::<2>(keyword)?;
        Ok(value)
    }
}

/// The document's lines in order, with the line number and byte offset
/// reached (the text has passed [`checked_text`], so it ends in LF).
pub(crate) struct Lines<'a> {
    inner: Peekable<SplitTerminator<'a, char>>,
    /// Number of the next line.
    pub(crate) next_number: usize,
    /// Bytes consumed so far, LFs included.
    pub(crate) consumed: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Lines {
            inner: text.split_terminator('\n').peekable(),
            next_number: 1,
            consumed: 0,
        }
    }

    pub(crate) fn next(&mut self) -> Result<Option<Fields<'a>>, DirectoryError> {
        let Some(text) = self.inner.next() else {
            return Ok(None);
        };
        let line = self.next_number;
        self.next_number += 1;
        self.consumed += text.len() + 1;
        if let Some(column) = bad_space(text) {
            return Err(DirectoryError::at(line, Kind::BadSpacing { column }));
        }
        Ok(Some(Fields { line, text }))
    }

    pub(crate) fn peek_keyword(&mut self) -> Option<&'a str> {
        let text: &'a str = self.inner.peek()?;
        text.split(' ').next()
    }

    pub(crate) fn next_if_keyword(
        &mut self,
        keyword: &str,
    ) -> Result<Option<Fields<'a>>, DirectoryError> {
        if self.peek_keyword() == Some(keyword) {
            self.next()
        } else {
            Ok(None)
        }
    }

    /// The next line, which must start with `keyword`.
    pub(crate) fn expect(&mut self, keyword: &'static str) -> Result<Fields<'a>, DirectoryError> {
        let line = self.next_number;
        let fields = self.next()?.ok_or(DirectoryError::at(
            line,
            Kind::MissingLine { expected: keyword },
        ))?;
        if fields.keyword() != keyword {
            return Err(DirectoryError::at(
                line,
                Kind::UnexpectedLine {
                    expected: keyword,
                    found: excerpt(fields.keyword()),
                },
            ));
        }
        Ok(fields)
    }

    /// The first line, `<magic> <version>`: a document of another kind, or
    /// of another version of this one (SPEC v2 refuses version 1), is
    /// refused by name.
    pub(crate) fn magic(
        &mut self,
        magic: &'static str,
        version: &'static str,
        expected: &'static str,
    ) -> Result<(), DirectoryError> {
        let first = self
            .next()?
            .ok_or(DirectoryError::at(1, Kind::MissingLine { expected }))?;
        if first.keyword() != magic {
            return Err(DirectoryError::at(
                first.line,
                Kind::BadMagic {
                    expected,
                    found: excerpt(first.keyword()),
                },
            ));
        }
        let found = first.value(magic)?;
        if found != version {
            return Err(DirectoryError::at(
                first.line,
                Kind::UnsupportedVersion {
                    document: magic,
                    found: excerpt(found),
                    required: version,
                },
            ));
        }
        Ok(())
    }
}

/// 1-based column of a space that does not separate two fields: leading,
/// trailing or doubled.
fn bad_space(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b' ') {
        return Some(1);
    }
    if let Some(at) = text.find("  ") {
        return Some(at + 2);
    }
    if bytes.last() == Some(&b' ') {
        return Some(bytes.len());
    }
    None
}
