//! Just enough HTTP/1.1 for a test server that must own its connections: one request per
//! connection (every answer says `Connection: close`), so a handler can also end a
//! connection without answering, or hold it past the client's patience — what no framework
//! lets a handler do. Bodies by `Content-Length` or chunked; `multipart/form-data` parsed.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

pub struct Request {
    pub method: String,
    /// Without the query string.
    pub path: String,
    /// Decoded, in order (a name may repeat).
    pub query: Vec<(String, String)>,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter.
    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    pub fn html(status: u16, page: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: page.as_bytes().to_vec(),
        }
    }

    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads one request; `None` when the peer closed the connection before sending one.
pub async fn read_request<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Option<Request>> {
    let Some(head) = read_head(reader).await? else {
        return Ok(None);
    };
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let (method, target) = match (start.next(), start.next()) {
        (Some(method), Some(target)) => (method.to_string(), target.to_string()),
        _ => return Err(invalid("request line")),
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut request = Request {
        method,
        path: path.to_string(),
        query: serde_urlencoded::from_str(query).map_err(|_| invalid("query"))?,
        headers,
        body: Vec::new(),
    };
    request.body = read_body(reader, &request).await?;
    Ok(Some(request))
}

/// The request line and headers, up to the empty line.
async fn read_head<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Option<String>> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if reader.read_until(b'\n', &mut head).await? == 0 {
            return Ok(None);
        }
        if head.len() > MAX_HEAD {
            return Err(invalid("head too large"));
        }
    }
    head.truncate(head.len() - 4);
    String::from_utf8(head)
        .map(Some)
        .map_err(|_| invalid("head not UTF-8"))
}

async fn read_body<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    request: &Request,
) -> io::Result<Vec<u8>> {
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        return read_chunked(reader).await;
    }
    let length: usize = match request.header("content-length") {
        Some(text) => text.parse().map_err(|_| invalid("content-length"))?,
        None => 0,
    };
    if length > MAX_BODY {
        return Err(invalid("body too large"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

async fn read_chunked<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await?;
        let size_text = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("chunk size"))?;
        if body.len() + size > MAX_BODY {
            return Err(invalid("body too large"));
        }
        if size == 0 {
            // Trailers (none expected), up to the empty line.
            while line != "\r\n" {
                line.clear();
                if reader.read_line(&mut line).await? == 0 {
                    break;
                }
            }
            return Ok(body);
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).await?;
        body.extend_from_slice(&chunk[..size]);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    }
}

/// Writes the answer and closes the sending side.
pub async fn write_response<W: AsyncWrite + Unpin>(
    writer: &mut W,
    response: &Response,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    writer.write_all(head.as_bytes()).await?;
    writer.write_all(&response.body).await?;
    writer.flush().await?;
    writer.shutdown().await
}

/// A part of a `multipart/form-data` body.
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

impl Part {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// The parts of a `multipart/form-data` body; `None` when it is not one.
pub fn multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = params
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    // Each part runs from after a delimiter's CRLF to the CRLF before the next delimiter;
    // the closing delimiter is followed by "--".
    while !body[at..].starts_with(b"--") {
        let start = at + 2;
        let next = find(body, &delimiter, start)?;
        parts.push(part(&body[start..next.checked_sub(2)?])?);
        at = next + delimiter.len();
    }
    Some(parts)
}

fn part(bytes: &[u8]) -> Option<Part> {
    let split = find(bytes, b"\r\n\r\n", 0)?;
    let head = String::from_utf8_lossy(&bytes[..split]);
    let disposition = head
        .split("\r\n")
        .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
    let param = |key: &str| {
        disposition
            .split(';')
            .filter_map(|p| p.trim().strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches('"').to_string())
            .next()
    };
    Some(Part {
        name: param("name")?,
        filename: param("filename"),
        data: bytes[split + 4..].to_vec(),
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}
