//! A validating JSON reader that builds nothing (RFC 8259), for the resource API's filter ([`super::filter`]): it
//! walks a body once, hands out each object's keys (decoded) and each value's text (a slice of the body, validated),
//! and tells a body that is not JSON ([`ReadError::Syntax`]) from one that is JSON of another shape than asked for
//! ([`ReadError::Shape`]).
//!
//! Why not serde_json: the filter only needs to know where each value starts and ends and that it is JSON, and
//! serde_json's `RawValue` walk cost about ten instructions per byte of a bank's page (callgrind, a page of 25
//! transactions: 190,000 of the gateway's 616,000 instructions per request). This reader scans strings eight bytes
//! at a time for a quote, a reverse solidus or a control character, and keeps no state but its position and depth.
//!
//! What it accepts: exactly RFC 8259's grammar (§2 whitespace; §4-§7 objects, arrays, numbers, strings with their
//! escapes), nesting at most [`MAX_DEPTH`] deep (serde_json's default limit). A `\uXXXX` escape inside a value is
//! only checked to be four hex digits (§7 allows any code unit; the value passes byte for byte), and so is one in a
//! key inside a value (walked over, not decoded); a key the caller reads ([`Reader::next_key`]) is decoded, and one
//! holding a lone surrogate is refused as [`ReadError::Syntax`] (it names no field).

use std::borrow::Cow;

/// How deep arrays and objects may nest.
pub const MAX_DEPTH: usize = 128;

/// Why reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Not JSON: what was wrong, and the byte offset where it was seen.
    Syntax(&'static str, usize),
    /// JSON, but not of the kind asked for (an object where a list was expected, say).
    Shape,
}

/// A position in a JSON text.
pub struct Reader<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
    /// Where the last key read by [`Self::next_key`] starts (its opening quote).
    key_at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { text, at: 0, depth: 0, key_at: 0 }
    }

    /// The whole text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The byte offset of the opening quote of the key [`Self::next_key`] read last.
    pub fn last_key_at(&self) -> usize {
        self.key_at
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn syntax(&self, what: &'static str) -> ReadError {
        ReadError::Syntax(what, self.at)
    }

    /// Skips RFC 8259 §2 whitespace; the next byte, if any.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.at) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    /// The next value must be of the kind that starts with `open`: a mismatch is [`ReadError::Shape`] when another
    /// valid value is there, [`ReadError::Syntax`] when none is.
    fn expect_open(&mut self, open: u8) -> Result<(), ReadError> {
        if self.peek() == Some(open) {
            self.enter()?;
            self.at += 1;
            return Ok(());
        }
        self.skip_value()?;
        Err(ReadError::Shape)
    }

    fn enter(&mut self) -> Result<(), ReadError> {
        if self.depth == MAX_DEPTH {
            return Err(self.syntax("nesting too deep"));
        }
        self.depth += 1;
        Ok(())
    }

    /// Starts reading an object; then [`Self::next_key`] until it answers `None`.
    pub fn begin_object(&mut self) -> Result<(), ReadError> {
        self.expect_open(b'{')
    }

    /// Starts reading an array; then [`Self::next_element`] until it answers `false`.
    pub fn begin_array(&mut self) -> Result<(), ReadError> {
        self.expect_open(b'[')
    }

    /// Whether the next value is `null` (consumed when it is).
    pub fn take_null(&mut self) -> Result<bool, ReadError> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The next key of the object being read (its value comes next), or `None` at its end. `first` is whether no
    /// key of this object was read yet.
    pub fn next_key(&mut self, first: bool) -> Result<Option<Cow<'a, str>>, ReadError> {
        let Some((inner, escaped)) = self.next_key_text(first)? else { return Ok(None) };
        if !escaped {
            return Ok(Some(Cow::Borrowed(inner)));
        }
        let key = unescape(inner).ok_or(ReadError::Syntax("lone surrogate in a key", self.key_at))?;
        Ok(Some(Cow::Owned(key)))
    }

    /// [`Self::next_key`] without decoding: the key's text between its quotes, and whether it holds escapes (keys
    /// of nested values are only walked over, like their values).
    fn next_key_text(&mut self, first: bool) -> Result<Option<(&'a str, bool)>, ReadError> {
        match self.peek() {
            Some(b'}') => {
                self.at += 1;
                self.depth -= 1;
                return Ok(None);
            }
            Some(b',') if !first => {
                self.at += 1;
                self.peek();
            }
            _ if first => {}
            Some(_) => return Err(self.syntax("expected `,` or `}`")),
            None => return Err(self.syntax("unexpected end of input")),
        }
        if self.bytes().get(self.at) != Some(&b'"') {
            return Err(self.syntax("expected a key"));
        }
        self.key_at = self.at;
        let key = self.string()?;
        if self.peek() != Some(b':') {
            return Err(self.syntax("expected `:`"));
        }
        self.at += 1;
        Ok(Some(key))
    }

    /// Whether the array being read has another element (read it next). `first` is whether none was read yet.
    pub fn next_element(&mut self, first: bool) -> Result<bool, ReadError> {
        match self.peek() {
            Some(b']') => {
                self.at += 1;
                self.depth -= 1;
                Ok(false)
            }
            Some(b',') if !first => {
                self.at += 1;
                Ok(true)
            }
            _ if first => Ok(true),
            Some(_) => Err(self.syntax("expected `,` or `]`")),
            None => Err(self.syntax("unexpected end of input")),
        }
    }

    /// The text of the next value, validated.
    pub fn value(&mut self) -> Result<&'a str, ReadError> {
        let first = self.peek();
        let start = self.at;
        // Most values of a bank's answer are strings: read here rather than through the general walk.
        if first == Some(b'"') {
            self.string()?;
        } else {
            self.skip_value()?;
        }
        Ok(&self.text[start..self.at])
    }

    /// The end of the text: only whitespace may follow.
    pub fn end(&mut self) -> Result<(), ReadError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.syntax("trailing characters")),
        }
    }

    fn skip_value(&mut self) -> Result<(), ReadError> {
        match self.peek() {
            Some(b'{') => {
                self.enter()?;
                self.at += 1;
                let mut first = true;
                while self.next_key_text(first)?.is_some() {
                    first = false;
                    self.skip_value()?;
                }
                Ok(())
            }
            Some(b'[') => {
                self.enter()?;
                self.at += 1;
                let mut first = true;
                while self.next_element(first)? {
                    first = false;
                    self.skip_value()?;
                }
                Ok(())
            }
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.syntax("expected a value")),
            None => Err(self.syntax("unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ReadError> {
        if self.bytes()[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.syntax("expected a value"))
        }
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<(), ReadError> {
        let bytes = self.bytes();
        let digits = |at: &mut usize| {
            let start = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > start
        };
        let mut at = self.at;
        if bytes[at] == b'-' {
            at += 1;
        }
        match bytes.get(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => {
                digits(&mut at);
            }
            _ => return Err(ReadError::Syntax("invalid number", at)),
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            if !digits(&mut at) {
                return Err(ReadError::Syntax("invalid number", at));
            }
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if !digits(&mut at) {
                return Err(ReadError::Syntax("invalid number", at));
            }
        }
        self.at = at;
        Ok(())
    }

    /// A string (at its opening quote): its text between the quotes, and whether it holds escapes.
    #[inline(always)]
    fn string(&mut self) -> Result<(&'a str, bool), ReadError> {
        let bytes = self.bytes();
        let start = self.at + 1;
        let mut at = start;
        let mut escaped = false;
        loop {
            at = special_from(bytes, at);
            match bytes.get(at) {
                Some(b'"') => {
                    self.at = at + 1;
                    // Both ends are ASCII quotes, so on character boundaries.
                    return Ok((self.text.get(start..at).unwrap_or_default(), escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    at += 1;
                    match bytes.get(at) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at += 1,
                        Some(b'u')
                            if bytes.get(at + 1..at + 5).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            at += 5;
                        }
                        _ => return Err(ReadError::Syntax("invalid escape", at)),
                    }
                }
                Some(_) => return Err(ReadError::Syntax("control character in a string", at)),
                None => return Err(ReadError::Syntax("unterminated string", at)),
            }
        }
    }
}

/// The first position from `at` holding a quote, a reverse solidus or a control character (or the end), looked for
/// eight bytes at a time: a byte below 0x20 and a byte equal to `"` or `\` are found with the usual word tricks
/// (exact for the lowest flagged byte, which is the one taken).
#[inline(always)]
fn special_from(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let found = below(w, 0x20) | below(w ^ (ONES * u64::from(b'"')), 1) | below(w ^ (ONES * u64::from(b'\\')), 1);
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&b) = bytes.get(at) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return at;
        }
        at += 1;
    }
    at
}

/// The text of a string's inside (validated by [`Reader`]) with its escapes resolved; `None` for a lone surrogate.
pub fn unescape(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(slash) = rest.find('\\') {
        out.push_str(&rest[..slash]);
        let escape = &rest[slash + 1..];
        let (c, used) = match escape.as_bytes().first()? {
            b'"' => ('"', 1),
            b'\\' => ('\\', 1),
            b'/' => ('/', 1),
            b'b' => ('\u{8}', 1),
            b'f' => ('\u{c}', 1),
            b'n' => ('\n', 1),
            b'r' => ('\r', 1),
            b't' => ('\t', 1),
            b'u' => {
                let unit = |text: &str| u16::from_str_radix(text.get(..4)?, 16).ok();
                let first = unit(escape.get(1..)?)?;
                match first {
                    0xD800..=0xDBFF => {
                        let second = escape.get(5..)?.strip_prefix("\\u").and_then(unit)?;
                        let c = char::decode_utf16([first, second]).next()?.ok()?;
                        (c, 11)
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => (char::from_u32(u32::from(first))?, 5),
                }
            }
            _ => return None,
        };
        out.push(c);
        rest = &escape[used..];
    }
    out.push_str(rest);
    Some(out)
}

/// The string a value's text holds (`None` when it is not a string, or holds a lone surrogate).
pub fn string_value(value: &str) -> Option<Cow<'_, str>> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') { unescape(inner).map(Cow::Owned) } else { Some(Cow::Borrowed(inner)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Whether the reader takes `text` as one JSON value.
    fn valid(text: &str) -> bool {
        let mut reader = Reader::new(text);
        reader.value().is_ok() && reader.end().is_ok()
    }

    #[test]
    fn the_grammar_of_rfc_8259() {
        for good in [
            "0",
            "-0",
            "-0.0e+1",
            "1E9",
            "12.5",
            "true",
            "false",
            "null",
            r#""""#,
            r#""a\"\\\/\b\f\n\r\t\u00e9z""#,
            " [ ] ",
            "{}",
            r#"{"a":[1,{"b":null}],"c":"\ud83d\ude00"}"#,
            "[1,2,3]",
            "\t\r\n{ \"k\" : \"v\" }\n",
            r#""\udc00""#,
            "\"é ü 😀\"",
        ] {
            assert!(valid(good), "{good}");
        }
        for bad in [
            "",
            " ",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "tru",
            "nulls",
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{a:1}",
            "[1 2]",
            "{\"a\":1 \"b\":2}",
            "\"abc",
            "\"a\\x\"",
            "\"\\u12g4\"",
            "\"a\u{1}b\"",
            "[",
            "]",
            "{",
            "}",
            "[1]]",
            "'a'",
            "NaN",
            "Infinity",
            "[\"\\u12\"]",
        ] {
            assert!(!valid(bad), "{bad:?}");
        }
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(valid(&deep(MAX_DEPTH)));
        assert!(!valid(&deep(MAX_DEPTH + 1)));
    }

    #[test]
    fn keys_are_decoded_values_are_slices() {
        let text = r#"{"plain":1, "esc\u0061ped" : [true, "x"] ,"pair\ud83d\ude00":{"n":null}}"#;
        let mut reader = Reader::new(text);
        reader.begin_object().unwrap();
        let mut pairs = Vec::new();
        let mut first = true;
        while let Some(key) = reader.next_key(first).unwrap() {
            first = false;
            pairs.push((key.into_owned(), reader.value().unwrap()));
        }
        reader.end().unwrap();
        assert_eq!(
            pairs,
            [
                ("plain".to_owned(), "1"),
                ("escaped".to_owned(), r#"[true, "x"]"#),
                ("pair😀".to_owned(), r#"{"n":null}"#)
            ]
        );
        let mut lone = Reader::new(r#"{"a\udc00":1}"#);
        lone.begin_object().unwrap();
        assert!(matches!(lone.next_key(true), Err(ReadError::Syntax(..))));
        // Inside a value a key is walked over, not decoded: any four-hex-digit escape passes, as in a string value.
        assert!(valid(r#"{"a":{"b\udc00":1}}"#));
    }

    #[test]
    fn another_kind_of_value_is_a_shape_error_and_no_value_is_a_syntax_error() {
        assert_eq!(Reader::new("[1]").begin_object(), Err(ReadError::Shape));
        assert_eq!(Reader::new("\"x\"").begin_object(), Err(ReadError::Shape));
        assert_eq!(Reader::new("{}").begin_array(), Err(ReadError::Shape));
        assert!(matches!(Reader::new("x").begin_object(), Err(ReadError::Syntax(..))));
        assert!(matches!(Reader::new("").begin_array(), Err(ReadError::Syntax(..))));
    }

    #[test]
    fn string_values_and_escapes() {
        assert_eq!(string_value(r#""a\u0031\n""#).as_deref(), Some("a1\n"));
        assert_eq!(string_value(r#""plain""#), Some(Cow::Borrowed("plain")));
        assert_eq!(string_value("12"), None);
        assert_eq!(string_value(r#""\ud800""#), None);
        assert_eq!(string_value(r#""\ud800\u0041""#), None);
    }

    #[test]
    fn the_word_scan_finds_the_first_special_byte_wherever_it_is() {
        for len in 0..40 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                for place in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[place] = special;
                    if place + 3 < len {
                        bytes[place + 3] = b'"';
                    }
                    assert_eq!(special_from(&bytes, 0), place, "{len} {special} {place}");
                }
                let high = "é".repeat(len);
                assert_eq!(special_from(high.as_bytes(), 0), high.len());
            }
        }
    }

    /// Pieces that make mostly-invalid and sometimes-valid JSON when strung together.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            " ",
            "\"a\"",
            "\"k\":",
            "\"\\n\"",
            "\"\\u0041\"",
            "\"\\u00\"",
            "\"\\q\"",
            "\"",
            "\\",
            "\u{1}",
            "0",
            "-1.5e3",
            "01",
            "1.",
            "true",
            "nul",
            "null",
            "é",
            "1e",
            "-",
            "x",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The reader accepts exactly what serde_json accepts when it skips a value (`IgnoredAny`: numbers of any
        /// size, any four-hex-digit escape; the pieces hold no escapes in keys).
        #[test]
        fn accepts_what_serde_json_accepts(pieces in prop::collection::vec(piece(), 1..24)) {
            let text: String = pieces.concat();
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
            prop_assert_eq!(valid(&text), serde, "{:?}", text);
        }

        /// Every byte of a valid document changed, dropped or doubled: still the same verdict as serde_json.
        #[test]
        fn mutated_documents_get_serde_json_s_verdict(at in 0usize..200, to in any::<u8>(), how in 0u8..3) {
            let doc = r#"{"page":{"nextOffset":"abc","totalElements":12},"links":{"next":{"href":"/fdx/v6/x?o=1"}},"transactions":[{"accountId":"a1","amount":-12.50,"description":"Caf\u00e9 \"Zoë\"","posted":true,"tags":[1,2e3,null]},{"accountId":"a1","amount":0}]}"#;
            let mut bytes = doc.as_bytes().to_vec();
            let at = at % bytes.len();
            match how {
                0 => bytes[at] = to,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, bytes[at]),
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let serde = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
                prop_assert_eq!(valid(text), serde, "{:?}", text);
            }
        }
    }
}
