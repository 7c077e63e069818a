//! The request a load sends, rendered once and stamped with each
//! request's id.

use crate::url::HttpUrl;

/// A request's bytes, split around the `X-Request-Id` value.
#[derive(Clone, Debug)]
pub(crate) struct RequestTemplate {
    /// Request line and headers up to `X-Request-Id: `.
    head: Vec<u8>,
    /// `\r\n`, the remaining headers, the blank line and the body.
    tail: Vec<u8>,
    /// Whether it is a HEAD request (its response has no body).
    pub(crate) is_head: bool,
    /// Whether its method is idempotent (RFC 9110, 9.2.2): sending it
    /// twice does no more than sending it once.
    pub(crate) idempotent: bool,
}

/// The idempotent methods of RFC 9110, 9.2.2.
const IDEMPOTENT: [&str; 6] = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"];

impl RequestTemplate {
    /// `headers` are sent as given; `Host`, `User-Agent`, `Accept`,
    /// `Content-Type` (with a body) and `Content-Length` are added unless
    /// they are among them (`Content-Length` always is when there is a
    /// body, and is not taken from `headers`).
    pub(crate) fn new(
        url: &HttpUrl,
        method: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> RequestTemplate {
        let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let mut head = format!("{method} {} HTTP/1.1\r\n", url.path_and_query());
        if !has("host") {
            head.push_str(&format!("Host: {}\r\n", url.host_header()));
        }
        if !has("user-agent") {
            head.push_str(concat!(
                "User-Agent: pollen-load/",
                env!("CARGO_PKG_VERSION"),
                "\r\n"
            ));
        }
        if !has("accept") {
            head.push_str("Accept: */*\r\n");
        }
        head.push_str("X-Request-Id: ");
        let mut tail = String::from("\r\n");
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("content-length") {
                continue;
            }
            tail.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            if !has("content-type") {
                tail.push_str("Content-Type: application/json\r\n");
            }
            tail.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        tail.push_str("\r\n");
        let mut tail = tail.into_bytes();
        tail.extend_from_slice(body.unwrap_or_default());
        RequestTemplate {
            head: head.into_bytes(),
            tail,
            is_head: method.eq_ignore_ascii_case("HEAD"),
            idempotent: IDEMPOTENT.iter().any(|m| method.eq_ignore_ascii_case(m)),
        }
    }

    /// The request with id `id`.
    pub(crate) fn render(&self, id: u64) -> Vec<u8> {
        let id = id.to_string();
        let mut bytes = Vec::with_capacity(self.head.len() + id.len() + self.tail.len());
        bytes.extend_from_slice(&self.head);
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(&self.tail);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> HttpUrl {
        "http://127.0.0.1:8080/status?x=1".parse().unwrap()
    }

    #[test]
    fn a_get_has_host_and_request_id() {
        let request = RequestTemplate::new(&url(), "GET", &[], None).render(7);
        let text = String::from_utf8(request).unwrap();
        assert!(text.starts_with("GET /status?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(text.contains("\r\nX-Request-Id: 7\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        assert!(!text.contains("Content-Length"));
    }

    #[test]
    fn a_post_carries_its_body_and_length() {
        let headers = [("X-Token".to_owned(), "abc".to_owned())];
        let body = br#"{"type":"sleep"}"#;
        let request = RequestTemplate::new(&url(), "POST", &headers, Some(body)).render(1);
        let text = String::from_utf8(request).unwrap();
        assert!(text.contains("\r\nX-Token: abc\r\n"));
        assert!(text.contains("\r\nContent-Type: application/json\r\n"));
        assert!(text.ends_with("Content-Length: 16\r\n\r\n{\"type\":\"sleep\"}"));
        // Parses as one request.
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut parsed = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(n) = parsed.parse(text.as_bytes()).unwrap() else {
            panic!("a complete request");
        };
        assert_eq!(&text.as_bytes()[n..], body);
    }

    #[test]
    fn given_headers_replace_the_defaults() {
        let headers = [
            ("host".to_owned(), "example.com".to_owned()),
            ("Content-Type".to_owned(), "text/plain".to_owned()),
        ];
        let text = RequestTemplate::new(&url(), "PUT", &headers, Some(b"hi")).render(1);
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text.matches("ost: ").count(), 1, "{text}");
        assert!(text.contains("host: example.com\r\n"));
        assert!(!text.contains("application/json"));
    }

    #[test]
    fn only_idempotent_methods_say_so() {
        let idempotent = |method| RequestTemplate::new(&url(), method, &[], None).idempotent;
        for method in ["GET", "head", "PUT", "DELETE", "OPTIONS", "TRACE"] {
            assert!(idempotent(method), "{method}");
        }
        for method in ["POST", "PATCH", "CONNECT", "PURGE"] {
            assert!(!idempotent(method), "{method}");
        }
    }
}
