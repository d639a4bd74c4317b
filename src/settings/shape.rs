//! A forgiving reader of RON's shape: where each entry (a `key: value` or a list element)
//! starts and ends, and what was still open when the text stopped. It never fails, whatever
//! the text; the loader uses it to drop exactly the entry a RON error points at, and to close
//! a file that was cut short.

use std::fmt::Write as _;
use std::ops::Range;

/// One entry of a group: `key: value` in a struct or map, or an element of a list or tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Byte range of the whole entry, without the comma after it.
    pub span: Range<usize>,
    /// Where the comma after the entry is, if there is one.
    pub comma: Option<usize>,
    /// Byte range of the key, for `key: value` entries.
    pub key: Option<Range<usize>>,
    /// Nesting depth: 1 for the entries of the outermost group.
    pub depth: usize,
}

/// A group that was still open at the end of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The character that would close it.
    pub closer: char,
    /// Where its last complete entry (and the comma after it) ends: cutting the text here
    /// keeps only whole entries.
    pub cut: usize,
}

/// What [`scan`] found.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// Every entry, children before the entry that holds them.
    pub entries: Vec<Entry>,
    /// Groups still open at the end, outermost first.
    pub open: Vec<Open>,
    /// Where a string literal that was still open at the end starts (its quote).
    pub open_string: Option<usize>,
}

impl Shape {
    /// Whether the text stopped inside a group or a string.
    pub fn is_cut_short(&self) -> bool {
        !self.open.is_empty() || self.open_string.is_some()
    }

    /// The deepest entry whose span holds byte `at`.
    pub fn innermost_at(&self, at: usize) -> Option<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.span.start <= at && at <= e.span.end)
            .max_by_key(|e| (e.depth, std::cmp::Reverse(e.span.len())))
    }

    /// A readable path to `entry`, such as `tcp_client.send_box.history[3]`.
    pub fn path_of(&self, text: &str, entry: &Entry) -> String {
        let mut chain: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.span.start <= entry.span.start && entry.span.end <= e.span.end)
            .filter(|e| e.depth <= entry.depth)
            .collect();
        chain.sort_by_key(|e| e.depth);
        chain.dedup_by_key(|e| e.depth);
        let mut path = String::new();
        for (i, e) in chain.iter().enumerate() {
            if let Some(key) = &e.key {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(text[key.clone()].trim_matches('"'));
            } else {
                let parent = i.checked_sub(1).map(|p| chain[p].span.clone());
                let index = self
                    .entries
                    .iter()
                    .filter(|s| s.depth == e.depth && s.span.start < e.span.start)
                    .filter(|s| {
                        parent
                            .as_ref()
                            .is_none_or(|p| p.start <= s.span.start && s.span.end <= p.end)
                    })
                    .count();
                let _ = write!(path, "[{index}]");
            }
        }
        path
    }

    /// The byte range to delete to drop `entry` with its comma.
    pub fn removal(entry: &Entry) -> Range<usize> {
        entry.span.start..entry.comma.map_or(entry.span.end, |c| c + 1)
    }
}

/// An entry being read.
#[derive(Default)]
struct Pending {
    start: Option<usize>,
    end: usize,
    tokens: usize,
    key: Option<Range<usize>>,
}

struct Frame {
    closer: char,
    cut: usize,
    pending: Pending,
}

impl Frame {
    fn new(closer: char, cut: usize) -> Self {
        Self {
            closer,
            cut,
            pending: Pending::default(),
        }
    }

    fn token(&mut self, range: Range<usize>) {
        let p = &mut self.pending;
        p.start.get_or_insert(range.start);
        p.end = range.end;
        p.tokens += 1;
    }

    fn finish(&mut self, depth: usize, comma: Option<usize>, entries: &mut Vec<Entry>) {
        let p = std::mem::take(&mut self.pending);
        if let Some(start) = p.start {
            entries.push(Entry {
                span: start..p.end,
                comma,
                key: p.key,
                depth,
            });
        }
    }
}

fn is_atom_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c,
            '(' | ')' | '[' | ']' | '{' | '}' | ',' | ':' | '"' | '\''
        )
}

/// Reads the shape of `text`. Anything that is not RON is taken as atoms, so this never fails.
pub fn scan(text: &str) -> Shape {
    let bytes = text.as_bytes();
    let mut shape = Shape::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            b'"' => {
                let Some(end) = string_end(bytes, i) else {
                    shape.open_string = Some(i);
                    break;
                };
                if let Some(top) = stack.last_mut() {
                    top.token(i..end);
                }
                i = end;
            }
            b'r' if raw_string_start(bytes, i).is_some() => {
                let (hashes, body) = raw_string_start(bytes, i).unwrap_or((0, i));
                let closing = format!("\"{}", "#".repeat(hashes));
                let Some(n) = text[body..].find(&closing) else {
                    shape.open_string = Some(i);
                    break;
                };
                let end = body + n + closing.len();
                if let Some(top) = stack.last_mut() {
                    top.token(i..end);
                }
                i = end;
            }
            b'\'' => {
                let end = char_end(bytes, i);
                if let Some(top) = stack.last_mut() {
                    top.token(i..end);
                }
                i = end;
            }
            b'(' | b'[' | b'{' => {
                if let Some(top) = stack.last_mut() {
                    top.token(i..i + 1);
                }
                let closer = match c {
                    b'(' => ')',
                    b'[' => ']',
                    _ => '}',
                };
                stack.push(Frame::new(closer, i + 1));
                i += 1;
            }
            b')' | b']' | b'}' if stack.last().is_some_and(|f| f.closer == char::from(c)) => {
                let depth = stack.len();
                if let Some(mut frame) = stack.pop() {
                    frame.finish(depth, None, &mut shape.entries);
                }
                if let Some(top) = stack.last_mut() {
                    top.token(i..i + 1);
                }
                i += 1;
            }
            b',' if !stack.is_empty() => {
                let depth = stack.len();
                if let Some(top) = stack.last_mut() {
                    top.finish(depth, Some(i), &mut shape.entries);
                    top.cut = i + 1;
                }
                i += 1;
            }
            b':' if !stack.is_empty() => {
                if let Some(top) = stack.last_mut() {
                    let p = &mut top.pending;
                    if p.key.is_none() && p.tokens == 1 {
                        p.key = p.start.map(|s| s..p.end);
                    }
                    top.token(i..i + 1);
                }
                i += 1;
            }
            _ => {
                let len = text[i..]
                    .char_indices()
                    .find(|&(_, ch)| !is_atom_char(ch))
                    .map_or(bytes.len() - i, |(n, _)| n)
                    .max(text[i..].chars().next().map_or(1, char::len_utf8));
                if let Some(top) = stack.last_mut() {
                    top.token(i..i + len);
                }
                i += len;
            }
        }
    }
    if shape.open_string.is_none() {
        // An entry that reached the end of the text counts as read up to there.
        let depth = stack.len();
        if let Some(top) = stack.last_mut()
            && top.pending.start.is_some()
        {
            let mut partial = Frame::new(top.closer, top.cut);
            partial.pending = std::mem::take(&mut top.pending);
            partial.finish(depth, None, &mut shape.entries);
        }
    }
    shape.open = stack
        .into_iter()
        .map(|f| Open {
            closer: f.closer,
            cut: f.cut,
        })
        .collect();
    shape
}

/// The end (after the closing quote) of the string starting at `start`, or `None` if the
/// text ends first.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// For `r"…"` or `r#"…"#` at `at`: the number of hashes and where the body starts.
fn raw_string_start(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if at > 0
        && bytes
            .get(at - 1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        return None;
    }
    let hashes = bytes[at + 1..].iter().take_while(|b| **b == b'#').count();
    (bytes.get(at + 1 + hashes) == Some(&b'"')).then_some((hashes, at + 2 + hashes))
}

/// The end of a char literal starting at `start` (or of the text).
fn char_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Closes a text that stopped inside a group: drops the entry that was cut off and adds the
/// closing brackets. With `keep_open_string`, a string cut off mid-way is kept and closed
/// instead (eframe's file holds each part of the state as one string, and the part inside
/// is worth keeping). Returns `None` when nothing was cut short.
pub fn close_cut_short(text: &str, shape: &Shape, keep_open_string: bool) -> Option<String> {
    if !shape.is_cut_short() {
        return None;
    }
    let mut out = match (shape.open_string, shape.open.last()) {
        (Some(quote), _) if keep_open_string => {
            let mut s = text[..complete_escapes_end(text, quote)].to_owned();
            s.push('"');
            s
        }
        (_, Some(innermost)) => text[..innermost.cut].to_owned(),
        (_, None) => String::new(),
    };
    for open in shape.open.iter().rev() {
        out.push(open.closer);
    }
    Some(out)
}

/// Where the last complete escape of the open string starting at `quote` ends, so that a
/// string cut inside `\u{…}` or after a lone backslash can be closed.
fn complete_escapes_end(text: &str, quote: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = quote + 1;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let rest = &text[i + 1..];
        let len = match rest.as_bytes().first() {
            None => return i,
            Some(b'u') if rest.get(1..2) == Some("{") => match rest.find('}') {
                Some(n) => n + 1,
                None => return i,
            },
            Some(b'u') => 5,
            Some(b'x') => 3,
            Some(_) => 1,
        };
        if i + 1 + len > bytes.len() {
            return i;
        }
        i += 1 + len;
    }
    bytes.len()
}

/// The byte offset in `text` of a RON error position (1-based line and character column).
pub fn byte_offset(text: &str, line: usize, col: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line - 2)
            .map_or(text.len(), |(n, _)| n + 1)
    };
    text[line_start..]
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(text.len(), |(n, _)| line_start + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<(usize, String)> {
        let shape = scan(text);
        let mut v: Vec<_> = shape
            .entries
            .iter()
            .map(|e| (e.depth, text[e.span.clone()].to_owned()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn entries_of_nested_structs_and_lists() {
        let text = r#"(a: 1, b: (c: "x,y", d: [1, 2]), e: Some((x: 1.0)))"#;
        let found = keys(text);
        assert!(found.contains(&(1, "a: 1".into())), "{found:?}");
        assert!(found.contains(&(2, r#"c: "x,y""#.into())), "{found:?}");
        assert!(found.contains(&(3, "2".into())), "{found:?}");
        assert!(
            found.contains(&(1, "e: Some((x: 1.0))".into())),
            "{found:?}"
        );
        let shape = scan(text);
        assert!(!shape.is_cut_short());
        let at = text.find('2').unwrap();
        let entry = shape.innermost_at(at).unwrap();
        assert_eq!(shape.path_of(text, entry), "b.d[1]");
    }

    #[test]
    fn cut_short_text_is_closed_after_the_last_whole_entry() {
        let text = r#"(a: 1, b: (c: "x", d: "y"#;
        let shape = scan(text);
        assert!(shape.is_cut_short());
        assert_eq!(
            close_cut_short(text, &shape, false).unwrap(),
            r#"(a: 1, b: (c: "x",))"#
        );
        assert_eq!(
            close_cut_short(text, &shape, true).unwrap(),
            r#"(a: 1, b: (c: "x", d: "y"))"#
        );
        let text = r#"{"k": "(a:\"b\u{4"#;
        let shape = scan(text);
        assert_eq!(
            close_cut_short(text, &shape, true).unwrap(),
            r#"{"k": "(a:\"b"}"#
        );
    }

    #[test]
    fn positions_map_to_bytes() {
        let text = "ab\ncé\nxyz";
        assert_eq!(byte_offset(text, 1, 1), 0);
        assert_eq!(byte_offset(text, 2, 2), 4);
        assert_eq!(byte_offset(text, 2, 3), 6);
        assert_eq!(byte_offset(text, 3, 2), 8);
        assert_eq!(byte_offset(text, 9, 9), text.len());
    }
}
