//! Splits master-file text into entries (RFC 1035 §5.1) and tokens.
//!
//! This is the part of the parser `domain`'s `Zonefile` cannot provide (see
//! the module documentation of [`super`]): every token keeps the line it was
//! written on, and a broken entry ends at the next line break outside
//! parentheses, so the entries after it are still read.
//!
//! Token boundaries follow the same rules as `domain`'s scanner: blank space,
//! line breaks, `(`, `)`, `;` and `"` end an unquoted token, `\` escapes the
//! next character, a quoted token ends at the next unescaped `"`. Escapes are
//! kept as written; `domain` decodes them.

/// One token of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Token<'a> {
    /// The text as written: escapes kept, surrounding quotes removed.
    pub text: &'a str,
    /// Written in double quotes.
    pub quoted: bool,
    /// 1-based line the token starts on.
    pub line: u32,
    /// Blank space, a parenthesis or a line break comes right before the
    /// token (SVCB parameters such as `alpn="h2"` depend on there being none).
    pub spaced: bool,
}

impl Token<'_> {
    /// The token as it can be written back into a line: quoted if it was.
    pub fn push_to(&self, out: &mut String) {
        if self.quoted {
            out.push('"');
            out.push_str(self.text);
            out.push('"');
        } else {
            out.push_str(self.text);
        }
    }

    /// The token as written, for messages.
    pub fn display(&self) -> String {
        let mut s = String::new();
        self.push_to(&mut s);
        s
    }

    /// True if the token is exactly `text`, unquoted.
    pub fn is(&self, text: &str) -> bool {
        !self.quoted && self.text == text
    }
}

/// One entry: a record or a `$` directive, possibly spanning lines inside
/// parentheses.
#[derive(Clone, Debug, Default)]
pub(super) struct Entry<'a> {
    pub tokens: Vec<Token<'a>>,
    /// The entry's first line starts with blank space: the owner is omitted.
    pub indented: bool,
    /// Lexical errors as (line, message). An entry with errors is not used.
    pub errors: Vec<(u32, String)>,
}

/// Bytes that end an unquoted token or start an escape in it.
const UNQUOTED_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let special = b" \t\r\n();\"\\";
    let mut i = 0;
    while i < special.len() {
        table[special[i] as usize] = true;
        i += 1;
    }
    table
};

/// Iterator over the entries of a master file; skips blank and comment-only
/// lines.
pub(super) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            text,
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        // Token boundaries are at ASCII bytes, hence at char boundaries;
        // `get` keeps this panic-free regardless.
        self.text.get(start..end).unwrap_or("")
    }

    /// Reads a quoted token; `self.pos` is at the opening quote.
    fn quoted(&mut self, entry: &mut Entry<'a>, spaced: bool) {
        let line = self.line;
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b'"') => {
                    let text = self.slice(start, self.pos);
                    self.pos += 1;
                    entry.tokens.push(Token {
                        text,
                        quoted: true,
                        line,
                        spaced,
                    });
                    return;
                }
                Some(b'\\')
                    if !matches!(self.text.as_bytes().get(self.pos + 1), None | Some(b'\n')) =>
                {
                    self.pos += 2
                }
                None | Some(b'\n') => {
                    entry
                        .errors
                        .push((line, "quoted string not closed on its line".to_string()));
                    return;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Reads an unquoted token; `self.pos` is at its first byte.
    fn unquoted(&mut self, entry: &mut Entry<'a>, spaced: bool) {
        let start = self.pos;
        loop {
            match self.peek() {
                None | Some(b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' | b';' | b'"') => break,
                Some(b'\\') => match self.text.as_bytes().get(self.pos + 1) {
                    None | Some(b'\n') => {
                        entry
                            .errors
                            .push((self.line, "backslash at the end of a line".to_string()));
                        self.pos += 1;
                        break;
                    }
                    Some(_) => self.pos += 2,
                },
                Some(_) => {
                    // The run of ordinary bytes up to the next special one.
                    let rest = self.text.as_bytes().get(self.pos + 1..).unwrap_or_default();
                    self.pos += 1 + rest
                        .iter()
                        .position(|&b| UNQUOTED_SPECIAL[usize::from(b)])
                        .unwrap_or(rest.len());
                }
            }
        }
        entry.tokens.push(Token {
            text: self.slice(start, self.pos),
            quoted: false,
            line: self.line,
            spaced,
        });
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        let mut entry = Entry::default();
        self.next_into(&mut entry).then_some(entry)
    }
}

impl<'a> Lexer<'a> {
    /// Reads the next entry into `entry`, reusing its buffers; false at the
    /// end of the text.
    pub fn next_into(&mut self, entry: &mut Entry<'a>) -> bool {
        loop {
            if self.peek().is_none() {
                return false;
            }
            entry.tokens.clear();
            entry.errors.clear();
            entry.indented = matches!(self.peek(), Some(b' ' | b'\t'));
            let mut depth = 0u32;
            let mut open_line = 0u32;
            let mut spaced = true;
            loop {
                let Some(c) = self.peek() else {
                    if depth > 0 {
                        entry.errors.push((
                            open_line,
                            "'(' is never closed: the entry runs to the end of the file"
                                .to_string(),
                        ));
                    }
                    break;
                };
                match c {
                    b'\n' => {
                        self.pos += 1;
                        self.line = self.line.saturating_add(1);
                        spaced = true;
                        if depth == 0 {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => {
                        self.pos += 1;
                        spaced = true;
                    }
                    b';' => {
                        let rest = &self.text.as_bytes()[self.pos..];
                        self.pos += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                    }
                    b'(' => {
                        if depth == 0 {
                            open_line = self.line;
                        }
                        depth = depth.saturating_add(1);
                        self.pos += 1;
                        spaced = true;
                    }
                    b')' => {
                        if depth == 0 {
                            entry
                                .errors
                                .push((self.line, "')' without a matching '('".to_string()));
                        } else {
                            depth -= 1;
                        }
                        self.pos += 1;
                        spaced = true;
                    }
                    b'"' => {
                        self.quoted(entry, spaced);
                        spaced = false;
                    }
                    _ => {
                        self.unquoted(entry, spaced);
                        spaced = false;
                    }
                }
            }
            if entry.tokens.is_empty() && entry.errors.is_empty() {
                continue;
            }
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(e: &Entry<'_>) -> Vec<(String, u32)> {
        e.tokens.iter().map(|t| (t.display(), t.line)).collect()
    }

    #[test]
    fn splits_entries_and_tracks_lines() {
        let text = "; comment\n\na 1 IN A 1.2.3.4 ; trailing\n  TXT \"x y\" z\n@ SOA ( ns\n host ; c\n 1 2 3 4 5 )\nlast";
        let entries: Vec<_> = Lexer::new(text).collect();
        assert_eq!(entries.len(), 4);
        assert_eq!(
            texts(&entries[0]),
            [("a", 3), ("1", 3), ("IN", 3), ("A", 3), ("1.2.3.4", 3)]
                .map(|(s, l)| (s.to_string(), l))
        );
        assert!(!entries[0].indented);
        assert!(entries[1].indented);
        assert_eq!(entries[1].tokens[1].text, "x y");
        assert!(entries[1].tokens[1].quoted);
        let soa = texts(&entries[2]);
        assert_eq!(soa.len(), 9);
        assert_eq!(soa[2], ("ns".to_string(), 5));
        assert_eq!(soa[3], ("host".to_string(), 6));
        assert_eq!(soa[8], ("5".to_string(), 7));
        assert_eq!(texts(&entries[3]), [("last".to_string(), 8)]);
        assert!(entries.iter().all(|e| e.errors.is_empty()));
    }

    #[test]
    fn escapes_and_adjacency() {
        let e = Lexer::new("a\\ b\\;c key=\"v\\\"w\"x").next().unwrap();
        let t = &e.tokens;
        assert_eq!(t[0].text, "a\\ b\\;c");
        assert_eq!(t[1].text, "key=");
        assert_eq!(t[2].text, "v\\\"w");
        assert!(t[2].quoted && !t[2].spaced);
        assert_eq!(t[3].text, "x");
        assert!(!t[3].spaced);
    }

    #[test]
    fn lexical_errors_keep_lines() {
        let e: Vec<_> = Lexer::new("a )\nb \"open\nc (\n\nd").collect();
        assert_eq!(e[0].errors[0].0, 1);
        assert_eq!(e[1].errors[0].0, 2);
        assert_eq!(e[2].errors[0].0, 3);
        assert_eq!(e.len(), 3);
        let e: Vec<_> = Lexer::new("a\\\nb").collect();
        assert_eq!(e[0].errors[0].0, 1);
        assert_eq!(e[1].tokens[0].text, "b");
    }
}
