//! Badgr's answers and failures, in words an operator can act on: a timeout, a refused or
//! reset connection, a failed DNS lookup or TLS handshake, or Badgr's own status with the
//! first 200 characters of its body.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Response;
use serde_json::Value;

use crate::badging::backend::AwardError;

/// The most of an answer read: no answer of the API is near it, and a misbehaving server
/// must not fill the memory.
const MAX_ANSWER: u64 = 1024 * 1024;
/// How much of a failed answer's body a reason quotes.
const QUOTED: usize = 200;

/// One answer from Badgr.
pub struct Answer {
    pub status: StatusCode,
    /// The body as JSON (`null` when it is not JSON).
    pub json: Value,
    /// The body as text, for reasons and logs.
    pub text: String,
    pub retry_after: Option<Duration>,
    /// The `Link: <…>; rel="next"` of a paginated list.
    pub next: Option<String>,
}

impl Answer {
    /// Reads a response, up to `MAX_ANSWER` bytes.
    pub fn read(response: Response) -> Answer {
        use std::io::Read;
        let status = response.status();
        let retry_after = header(&response, reqwest::header::RETRY_AFTER)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let next = header(&response, reqwest::header::LINK).and_then(|v| next_link(&v));
        let mut bytes = Vec::new();
        let complete = response
            .take(MAX_ANSWER + 1)
            .read_to_end(&mut bytes)
            .is_ok()
            && bytes.len() as u64 <= MAX_ANSWER;
        let json = if complete {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        Answer {
            status,
            json,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            retry_after,
            next,
        }
    }

    /// The body's start, one line, for a reason shown to people.
    pub fn excerpt(&self) -> String {
        excerpt(&self.text, QUOTED)
    }

    /// What this failed answer means for the job.
    pub fn failure(&self, method: &str, url: &str) -> AwardError {
        let reason = format!(
            "Badgr answered HTTP {} to {method} {url}: {}",
            self.status,
            self.excerpt()
        );
        match self.status {
            StatusCode::TOO_MANY_REQUESTS => AwardError::RetryAfter {
                wait: self.retry_after.unwrap_or(Duration::from_secs(60)),
                reason,
            },
            // Badgr may have done the work before failing.
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                AwardError::Unanswered(reason)
            }
            StatusCode::UNAUTHORIZED => AwardError::Retryable(reason),
            _ => AwardError::Permanent(reason),
        }
    }
}

fn header(response: &Response, name: reqwest::header::HeaderName) -> Option<String> {
    Some(response.headers().get(name)?.to_str().ok()?.to_string())
}

/// The `rel="next"` target of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

/// `text` on one line, cut at `max` characters.
pub fn excerpt(text: &str, max: usize) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim();
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// A request that got no answer. A connection never made sent nothing; any other failure
/// (a timeout, a reset) may have reached Badgr.
pub fn transport_failure(method: &str, url: &str, error: &reqwest::Error) -> AwardError {
    let cause = transport_cause(error);
    tracing::warn!(%method, %url, %cause, "Badgr could not be reached");
    let reason = format!("Badgr could not be reached ({method} {url}): {cause}");
    if error.is_connect() && !error.is_timeout() {
        AwardError::Retryable(reason)
    } else {
        AwardError::Unanswered(reason)
    }
}

/// Why a request failed, in the words of its kind.
pub fn transport_cause(error: &reqwest::Error) -> String {
    use std::io::ErrorKind;
    if error.is_timeout() {
        return "timed out".into();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut words = Vec::new();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionRefused => return "connection refused".into(),
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof => return "connection reset".into(),
                ErrorKind::TimedOut => return "timed out".into(),
                _ => {}
            }
        }
        words.push(e.to_string().to_lowercase());
        source = e.source();
    }
    let all = words.join(": ");
    if all.contains("dns error") || all.contains("failed to lookup address") {
        "DNS lookup failed".into()
    } else if all.contains("certificate") || all.contains("tls") || all.contains("handshake") {
        format!("TLS failed: {}", excerpt(&all, QUOTED))
    } else if all.contains("connection closed") || all.contains("incomplete message") {
        "connection reset".into()
    } else {
        excerpt(&all, QUOTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        assert_eq!(
            next_link("<https://b.example/v2/x?cursor=a&num=50>; rel=\"next\""),
            Some("https://b.example/v2/x?cursor=a&num=50".into())
        );
        assert_eq!(
            next_link("<https://b.example/p>; rel=\"prev\", <https://b.example/n>; rel=\"next\""),
            Some("https://b.example/n".into())
        );
        assert_eq!(next_link("<https://b.example/p>; rel=\"prev\""), None);
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(
            excerpt("<html>\n<b>Server Error</b>\n</html>", 200),
            "<html> <b>Server Error</b> </html>"
        );
        assert_eq!(excerpt(&"x".repeat(300), 200).chars().count(), 201);
    }
}
