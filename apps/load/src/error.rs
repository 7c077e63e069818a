//! Why a request failed ([`ErrorKind`]), and why a load could not start
//! ([`SetupError`]).

use std::fmt;
use std::io;

use serde::Serialize;

/// The kind of a failed request (or echo round trip): the rows of the
/// report's error table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The server refused the connection (nothing listens on the port).
    ConnectRefused,
    /// Connecting failed another way (unreachable, no route, ...).
    Connect,
    /// No (complete) answer within the timeout.
    Timeout,
    /// The connection was reset (or the pipe broke) by the peer.
    Reset,
    /// The server closed the connection before the whole response (or
    /// echo) arrived.
    Closed,
    /// The response was not valid HTTP/1.x (or its framing was).
    BadResponse,
    /// The echo was not the message sent.
    Mismatch,
    /// Still running when the load was stopped and the grace period ran
    /// out.
    Cancelled,
    /// Any other I/O error.
    Io,
}

/// Why a load could not start (it failed, or was stopped during its
/// setup): nothing was sent, or, in echo mode, only setup round trips.
#[derive(Debug)]
pub struct SetupError {
    /// What was being done, for the message ("cannot connect to ...").
    context: String,
    source: io::Error,
}

// === impl ErrorKind ===

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::ConnectRefused,
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::Closed,
        ErrorKind::BadResponse,
        ErrorKind::Mismatch,
        ErrorKind::Cancelled,
        ErrorKind::Io,
    ];

    /// How the human report names it.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect refused",
            ErrorKind::Connect => "connect error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Closed => "closed mid-response",
            ErrorKind::BadResponse => "bad response",
            ErrorKind::Mismatch => "echo mismatch",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Io => "other I/O error",
        }
    }

    /// The kind of an I/O error met while connecting.
    pub fn of_connect(error: &io::Error) -> ErrorKind {
        match error.kind() {
            io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Connect,
        }
    }

    /// The kind of an I/O error met on an open connection.
    pub fn of_io(error: &io::Error) -> ErrorKind {
        match error.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => ErrorKind::Reset,
            io::ErrorKind::UnexpectedEof | io::ErrorKind::WriteZero => ErrorKind::Closed,
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            io::ErrorKind::InvalidData => ErrorKind::BadResponse,
            _ => ErrorKind::Io,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

// === impl SetupError ===

impl SetupError {
    /// `context` says what failed, in words that follow "pollen-load: ".
    pub fn new(context: impl Into<String>, source: io::Error) -> SetupError {
        SetupError {
            context: context.into(),
            source,
        }
    }

    /// The load was stopped (Ctrl-C) while `context` was being done.
    pub fn interrupted(context: impl Into<String>) -> SetupError {
        SetupError::new(context, io::ErrorKind::Interrupted.into())
    }

    /// Whether the load was stopped during its setup, rather than failing
    /// it ([`SetupError::interrupted`]).
    pub fn is_interrupted(&self) -> bool {
        self.source.kind() == io::ErrorKind::Interrupted
    }

    /// The I/O error behind it.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self.source.kind() {
            io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
            io::ErrorKind::TimedOut => "timed out".to_owned(),
            io::ErrorKind::Interrupted => "interrupted".to_owned(),
            _ => self.source.to_string(),
        };
        write!(f, "{}: {reason}", self.context)
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified() {
        let kind = |kind| ErrorKind::of_io(&io::Error::from(kind));
        assert_eq!(kind(io::ErrorKind::ConnectionReset), ErrorKind::Reset);
        assert_eq!(kind(io::ErrorKind::BrokenPipe), ErrorKind::Reset);
        assert_eq!(kind(io::ErrorKind::UnexpectedEof), ErrorKind::Closed);
        assert_eq!(kind(io::ErrorKind::InvalidData), ErrorKind::BadResponse);
        assert_eq!(kind(io::ErrorKind::PermissionDenied), ErrorKind::Io);
        let connect = |kind| ErrorKind::of_connect(&io::Error::from(kind));
        assert_eq!(
            connect(io::ErrorKind::ConnectionRefused),
            ErrorKind::ConnectRefused
        );
        assert_eq!(connect(io::ErrorKind::AddrNotAvailable), ErrorKind::Connect);
    }

    #[test]
    fn setup_errors_say_what_and_why_on_one_line() {
        let error = SetupError::new(
            "cannot connect to 127.0.0.1:1",
            io::Error::from(io::ErrorKind::ConnectionRefused),
        );
        assert_eq!(
            error.to_string(),
            "cannot connect to 127.0.0.1:1: connection refused"
        );
    }
}
