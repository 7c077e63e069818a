//! The target of an HTTP load: `http://host[:port]/path[?query]`.

use std::fmt;
use std::io;
use std::net::{Ipv6Addr, SocketAddr, ToSocketAddrs};

/// A parsed `http://` URL: where to connect and what to ask for.
///
/// # Examples
///
/// ```
/// use pollen_load::HttpUrl;
///
/// let url: HttpUrl = "http://127.0.0.1:8080/status?verbose=1".parse().unwrap();
/// assert_eq!(url.host(), "127.0.0.1");
/// assert_eq!(url.port(), 8080);
/// assert_eq!(url.path_and_query(), "/status?verbose=1");
/// assert_eq!(url.host_header(), "127.0.0.1:8080");
///
/// let https = "https://example.com/".parse::<HttpUrl>().unwrap_err();
/// assert_eq!(https.to_string(), "https is not supported (only http://): https://example.com/");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// The URL as given.
    text: String,
    /// Without the brackets of an IPv6 literal.
    host: String,
    port: u16,
    path_and_query: String,
    ipv6: bool,
}

/// Why a URL was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// `https://`: TLS is not supported.
    HttpsNotSupported(String),
    /// Another scheme, or none.
    NotHttp(String),
    /// No host after `http://`.
    MissingHost(String),
    /// A port that is not a number from 1 to 65535.
    BadPort(String),
    /// `user:password@` in the URL.
    UserInfo(String),
    /// Spaces or control characters.
    BadCharacter(String),
    /// An IPv6 address without brackets (`http://::1/`), or not an IPv6
    /// address in them (`http://[x]/`).
    BadIpv6(String),
}

// === impl HttpUrl ===

impl HttpUrl {
    /// The host name or address (an IPv6 address without its brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (80 unless the URL names one).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target: the path (at least `/`) and the query, without
    /// any `#fragment`.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// The `Host` header's value: the host, and the port unless it is 80.
    pub fn host_header(&self) -> String {
        let host = if self.ipv6 {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Resolves the host (blocking: call it before the load starts).
    ///
    /// # Errors
    ///
    /// If the name does not resolve, or resolves to no address.
    pub fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port).to_socket_addrs()?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} has no address", self.host),
            ));
        }
        Ok(addrs)
    }
}

impl std::str::FromStr for HttpUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<HttpUrl, UrlError> {
        let owned = || text.to_owned();
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::BadCharacter(owned()));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(UrlError::NotHttp(owned()));
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Err(UrlError::HttpsNotSupported(owned()));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(UrlError::NotHttp(owned()));
        }
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo(owned()));
        }
        let (host, port, ipv6) = if let Some(bracketed) = authority.strip_prefix('[') {
            let Some((host, after)) = bracketed.split_once(']') else {
                return Err(UrlError::MissingHost(owned()));
            };
            let port = match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return Err(UrlError::BadPort(owned())),
                },
            };
            if host.parse::<Ipv6Addr>().is_err() {
                return Err(UrlError::BadIpv6(owned()));
            }
            (host, port, true)
        } else {
            match authority.rsplit_once(':') {
                // `::1`, `fe80::1:8080`: which colon starts the port?
                Some((host, _)) if host.contains(':') => {
                    return Err(UrlError::BadIpv6(owned()));
                }
                Some((host, port)) => (host, Some(port), false),
                None => (authority, None, false),
            }
        };
        if host.is_empty() {
            return Err(UrlError::MissingHost(owned()));
        }
        let port = match port {
            None | Some("") => 80,
            Some(digits) => match digits.parse::<u16>() {
                Ok(port) if port > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => port,
                _ => return Err(UrlError::BadPort(owned())),
            },
        };
        let path_and_query = match target {
            "" => "/".to_owned(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path.to_owned(),
        };
        Ok(HttpUrl {
            text: owned(),
            host: host.to_owned(),
            port,
            path_and_query,
            ipv6,
        })
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// === impl UrlError ===

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::HttpsNotSupported(url) => {
                write!(f, "https is not supported (only http://): {url}")
            }
            UrlError::NotHttp(url) => {
                write!(
                    f,
                    "not an http:// URL (expected http://host[:port]/path): {url}"
                )
            }
            UrlError::MissingHost(url) => write!(f, "no host in the URL: {url}"),
            UrlError::BadPort(url) => {
                write!(f, "the port must be a number from 1 to 65535: {url}")
            }
            UrlError::UserInfo(url) => write!(f, "user names in URLs are not supported: {url}"),
            UrlError::BadIpv6(url) => write!(
                f,
                "an IPv6 address goes in brackets, as in http://[::1]:8080/: {url}"
            ),
            UrlError::BadCharacter(url) => {
                write!(
                    f,
                    "spaces and control characters are not allowed in a URL: {url:?}"
                )
            }
        }
    }
}

impl std::error::Error for UrlError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> HttpUrl {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn host_port_path_and_query() {
        let url = parse("http://localhost:8080/a/b?x=1&y=2#frag");
        assert_eq!(url.host(), "localhost");
        assert_eq!(url.port(), 8080);
        assert_eq!(url.path_and_query(), "/a/b?x=1&y=2");
        assert_eq!(url.host_header(), "localhost:8080");
        assert_eq!(url.as_str(), "http://localhost:8080/a/b?x=1&y=2#frag");
    }

    #[test]
    fn defaults_to_port_80_and_root_path() {
        let url = parse("HTTP://example.com");
        assert_eq!(url.port(), 80);
        assert_eq!(url.path_and_query(), "/");
        assert_eq!(url.host_header(), "example.com");
        assert_eq!(parse("http://example.com?q").path_and_query(), "/?q");
        assert_eq!(parse("http://example.com:/x").port(), 80);
    }

    #[test]
    fn ipv6_literals_keep_their_brackets_in_the_host_header_only() {
        let url = parse("http://[::1]:9000/x");
        assert_eq!(url.host(), "::1");
        assert_eq!(url.port(), 9000);
        assert_eq!(url.host_header(), "[::1]:9000");
        assert_eq!(parse("http://[::1]/").host_header(), "[::1]");
        let url = parse("http://[fe80::1:2]:8080/");
        assert_eq!((url.host(), url.port()), ("fe80::1:2", 8080));
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let err = |text: &str| text.parse::<HttpUrl>().unwrap_err();
        assert!(matches!(
            err("https://example.com"),
            UrlError::HttpsNotSupported(_)
        ));
        assert!(matches!(err("ftp://example.com"), UrlError::NotHttp(_)));
        assert!(matches!(err("example.com:80/x"), UrlError::NotHttp(_)));
        assert!(matches!(err("not a url"), UrlError::BadCharacter(_)));
        assert!(matches!(err("http://"), UrlError::MissingHost(_)));
        assert!(matches!(err("http://:80/"), UrlError::MissingHost(_)));
        assert!(matches!(err("http://host:99999/"), UrlError::BadPort(_)));
        assert!(matches!(err("http://host:0/"), UrlError::BadPort(_)));
        assert!(matches!(err("http://host:+80/"), UrlError::BadPort(_)));
        assert!(matches!(err("http://host:http/"), UrlError::BadPort(_)));
        assert!(matches!(err("http://[::1]x/"), UrlError::BadPort(_)));
        assert!(matches!(err("http://u:p@host/"), UrlError::UserInfo(_)));
        assert!(matches!(err("http://::1/"), UrlError::BadIpv6(_)));
        assert!(matches!(err("http://::1:8080/"), UrlError::BadIpv6(_)));
        assert!(matches!(err("http://fe80::1/x"), UrlError::BadIpv6(_)));
        assert!(matches!(err("http://[x]:80/"), UrlError::BadIpv6(_)));
        assert!(matches!(err("http://[127.0.0.1]/"), UrlError::BadIpv6(_)));
    }

    #[test]
    fn errors_are_one_line() {
        for bad in [
            "https://x",
            "x",
            "http://",
            "http://h:x",
            "http://a@b",
            "a\nb",
            "http://::1/",
        ] {
            let message = bad.parse::<HttpUrl>().unwrap_err().to_string();
            assert!(!message.contains('\n'), "{message:?}");
        }
    }
}
