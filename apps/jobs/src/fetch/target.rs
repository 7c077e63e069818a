//! Where an `http` job's request goes: its URL, read with `http::Uri`,
//! and the request written for it.

use http::Uri;

/// Where an `http` job's request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The host as written (a name, an IPv4 address, or an IPv6 address
    /// without its brackets).
    pub(super) host: String,
    pub(super) port: u16,
    /// The path and query, starting with `/`.
    pub(super) path: String,
}

// === impl Target ===

impl Target {
    /// Reads `http://host[:port][/path][?query]` (see the module docs for
    /// what is refused).
    ///
    /// # Errors
    ///
    /// What is wrong with the URL (`https` is not supported: there is no
    /// TLS).
    pub(crate) fn parse(url: &str) -> Result<Target, String> {
        // `Uri` refuses these too, but says less about why.
        if url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(format!("{url:?}: spaces or control characters in the URL"));
        }
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a valid URL ({e})"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "{url:?}: https is not supported (no TLS), only http://"
                ));
            }
            _ => return Err(format!("{url:?} is not an http:// URL")),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url:?} has no host"))?
            .as_str();
        if authority.contains('@') {
            return Err(format!("{url:?}: user info in the URL is not supported"));
        }
        let host = uri.host().unwrap_or_default();
        let bare = host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(host);
        if bare.is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        // `Uri` reads the port leniently (`+80`, and no port at all for one
        // over 65535): what follows the host must be `:` and digits.
        let after_host = authority.strip_prefix(host).unwrap_or(authority);
        let port = match after_host.strip_prefix(':') {
            None if after_host.is_empty() => 80,
            None => return Err(format!("{url:?}: {after_host:?} after the host")),
            Some(port) => Some(port)
                .filter(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|port| port.parse().ok())
                .filter(|&port| port != 0)
                .ok_or_else(|| format!("{url:?}: {port:?} is not a port"))?,
        };
        let path = match uri.query() {
            Some(query) => format!("{}?{query}", uri.path()),
            None => uri.path().to_owned(),
        };
        Ok(Target {
            host: bare.to_owned(),
            port,
            path,
        })
    }

    /// The `Host` header's value.
    pub(super) fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
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

    /// The request sent for it.
    pub(super) fn request(&self) -> String {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pollen-jobs\r\nAccept: */*\r\n\
             Connection: close\r\n\r\n",
            self.path,
            self.host_header()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: u16, path: &str) -> Target {
        Target {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        }
    }

    #[test]
    fn urls_are_read() {
        assert_eq!(
            Target::parse("http://example.com"),
            Ok(target("example.com", 80, "/"))
        );
        assert_eq!(
            Target::parse("http://127.0.0.1:8080/status?x=1"),
            Ok(target("127.0.0.1", 8080, "/status?x=1"))
        );
        assert_eq!(
            Target::parse("http://host?q"),
            Ok(target("host", 80, "/?q"))
        );
        assert_eq!(
            Target::parse("http://[::1]:9000/a"),
            Ok(target("::1", 9000, "/a"))
        );
        assert_eq!(
            Target::parse("http://host/a#not-sent"),
            Ok(target("host", 80, "/a"))
        );
        assert_eq!(target("::1", 9000, "/").host_header(), "[::1]:9000");
        assert_eq!(target("h", 80, "/").host_header(), "h");
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, why) in [
            ("https://example.com", "https is not supported"),
            ("ftp://example.com", "not an http:// URL"),
            ("example.com", "not an http:// URL"),
            ("http://", "not a valid URL"),
            ("http://:80/", "has no host"),
            ("http://[]/", "has no host"),
            ("http://host:99999/", "is not a port"),
            ("http://host:0/", "is not a port"),
            ("http://host:+80/", "is not a port"),
            ("http://host:/", "is not a port"),
            ("http://user@host/", "user info"),
            ("http://[::1/", "not a valid URL"),
            ("http://host/a b", "spaces"),
        ] {
            let error = Target::parse(url).unwrap_err();
            assert!(error.contains(why), "{url}: {error}");
        }
    }
}
