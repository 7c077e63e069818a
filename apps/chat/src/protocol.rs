//! The wire: lines in, and what they ask for.

/// One line of input, or the news that one was too long.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Input {
    Line(String),
    TooLong,
}

/// Splits bytes into lines of at most `max` bytes.
pub(crate) struct LineReader {
    max: usize,
    partial: Vec<u8>,
    /// Skipping the rest of an over-long line.
    skipping: bool,
}

impl LineReader {
    pub(crate) fn new(max: usize) -> LineReader {
        LineReader {
            max,
            partial: Vec::new(),
            skipping: false,
        }
    }

    /// The lines `bytes` completes, in order.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Vec<Input> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let (piece, rest, complete) = match newline {
                Some(at) => (&bytes[..at], &bytes[at + 1..], true),
                None => (bytes, &[][..], false),
            };
            bytes = rest;
            if self.skipping {
                if complete {
                    self.skipping = false;
                }
                continue;
            }
            // The `\r` of a `\r\n` does not count against the limit.
            let len = self.partial.len() + piece.len();
            let len = if complete && piece.last() == Some(&b'\r') {
                len - 1
            } else {
                len
            };
            if len > self.max {
                self.partial.clear();
                self.skipping = !complete;
                out.push(Input::TooLong);
                continue;
            }
            self.partial.extend_from_slice(piece);
            if complete {
                if self.partial.last() == Some(&b'\r') {
                    self.partial.pop();
                }
                out.push(Input::Line(
                    String::from_utf8_lossy(&self.partial).into_owned(),
                ));
                self.partial.clear();
            }
        }
        out
    }
}

/// What a line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    Empty,
    Say(&'a str),
    Me(&'a str),
    Nick(&'a str),
    Who,
    Quit,
    Unknown(&'a str),
    Usage(&'static str),
}

pub(crate) fn parse(line: &str) -> Command<'_> {
    if line.trim().is_empty() {
        return Command::Empty;
    }
    let Some(command) = line.strip_prefix('/') else {
        return Command::Say(line);
    };
    let (name, arg) = match command.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, arg.trim()),
        None => (command, ""),
    };
    match name {
        "nick" if arg.is_empty() => Command::Usage("/nick NAME"),
        "nick" => Command::Nick(arg),
        "me" if arg.is_empty() => Command::Usage("/me ACTION"),
        "me" => Command::Me(arg),
        "who" => Command::Who,
        "quit" => Command::Quit,
        _ => Command::Unknown(line.split_whitespace().next().unwrap_or(line)),
    }
}

#[cfg(test)]
mod tests {
    use super::{Command, Input, LineReader, parse};

    fn line(s: &str) -> Input {
        Input::Line(s.to_owned())
    }

    #[test]
    fn lines_split_across_reads_and_carriage_returns_are_dropped() {
        let mut reader = LineReader::new(16);
        assert_eq!(reader.feed(b"hel"), vec![]);
        assert_eq!(reader.feed(b"lo\r\nwor"), vec![line("hello")]);
        assert_eq!(reader.feed(b"ld\n\n"), vec![line("world"), line("")]);
    }

    #[test]
    fn an_over_long_line_is_refused_once_and_skipped_to_its_end() {
        let mut reader = LineReader::new(4);
        assert_eq!(reader.feed(b"abcd\n"), vec![line("abcd")]);
        assert_eq!(reader.feed(b"abcdef"), vec![Input::TooLong]);
        assert_eq!(reader.feed(b"ghij"), vec![]);
        assert_eq!(reader.feed(b"kl\nok\n"), vec![line("ok")]);
        // `\r\n` does not count the `\r`.
        assert_eq!(reader.feed(b"abcd\r\n"), vec![line("abcd")]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut reader = LineReader::new(16);
        assert_eq!(reader.feed(b"a\xffb\n"), vec![line("a\u{fffd}b")]);
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse("hello /nick"), Command::Say("hello /nick"));
        assert_eq!(parse("/nick  alice "), Command::Nick("alice"));
        assert_eq!(parse("/nick"), Command::Usage("/nick NAME"));
        assert_eq!(parse("/me waves"), Command::Me("waves"));
        assert_eq!(parse("/who"), Command::Who);
        assert_eq!(parse("/quit"), Command::Quit);
        assert_eq!(parse("/dance now"), Command::Unknown("/dance"));
        assert_eq!(parse("   "), Command::Empty);
    }
}
