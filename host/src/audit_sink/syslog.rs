//! The `syslog:udp://…` and `syslog:tcp://…` sinks: each record as an RFC 5424 message
//! (facility `authpriv`; `info` for allow, `notice` for deny) whose MSG is the record's
//! JSON; one datagram per record over UDP, octet-counted frames (RFC 6587) over TCP.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpStream, UdpSocket};

use super::SinkError;
use crate::audit::{ALLOW, AuditRow};

/// `authpriv`: security messages that may hold private data (user names, addresses).
const FACILITY: u16 = 10;
/// Severity of an allowed request's record.
const INFO: u16 = 6;
/// Severity of every other record (refusals).
const NOTICE: u16 = 5;
/// The structured data element's id: RFC 5612's enterprise number for examples, as
/// tokengate has none of its own.
const SD_ID: &str = "audit@32473";
/// Longest UDP datagram sent; a longer message is cut (its JSON then incomplete). 8 KiB is
/// what common collectors accept by default; TCP carries every record whole.
pub const MAX_DATAGRAM: usize = 8192;
/// How long connecting or writing to a collector may take before it counts as down.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A syslog collector.
#[derive(Debug)]
pub struct Syslog {
    /// `host:port`.
    target: String,
    transport: Transport,
    /// RFC 5424 HOSTNAME and PROCID.
    hostname: String,
    pid: u32,
}

#[derive(Debug)]
enum Transport {
    Udp(Option<UdpSocket>),
    Tcp(Option<TcpStream>),
}

impl Syslog {
    /// A UDP sink for `target` (`host:port`); nothing is sent yet.
    pub fn udp(target: String) -> Self {
        Self::new(target, Transport::Udp(None))
    }

    /// A TCP sink for `target` (`host:port`); connects on first use.
    pub fn tcp(target: String) -> Self {
        Self::new(target, Transport::Tcp(None))
    }

    fn new(target: String, transport: Transport) -> Self {
        Self {
            target,
            transport,
            hostname: hostname(),
            pid: std::process::id(),
        }
    }

    fn failed(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            target: self.target.clone(),
            source,
        }
    }

    /// Sends `rows`; done when the socket took them (UDP: sent; TCP: written).
    pub async fn send(&mut self, rows: &[AuditRow]) -> Result<(), SinkError> {
        let mut messages = Vec::with_capacity(rows.len());
        for row in rows {
            messages.push(message(row, &self.hostname, self.pid)?);
        }
        let sent = match &mut self.transport {
            Transport::Udp(socket) => send_datagrams(&self.target, socket, &messages).await,
            Transport::Tcp(stream) => send_frames(&self.target, stream, &messages).await,
        };
        sent.map_err(|err| self.failed(err))
    }
}

async fn send_datagrams(
    target: &str,
    socket: &mut Option<UdpSocket>,
    messages: &[String],
) -> std::io::Result<()> {
    let udp = match socket.as_mut() {
        Some(udp) => udp,
        None => {
            let addr = tokio::net::lookup_host(target)
                .await?
                .next()
                .ok_or_else(|| std::io::Error::other("the host has no address"))?;
            let local = if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let udp = UdpSocket::bind(local).await?;
            // Connected: a collector that is down shows as ECONNREFUSED on a later send.
            udp.connect(addr).await?;
            socket.insert(udp)
        }
    };
    for text in messages {
        let bytes = cut(text, MAX_DATAGRAM);
        if let Err(err) = udp.send(bytes).await {
            *socket = None;
            return Err(err);
        }
    }
    Ok(())
}

async fn send_frames(
    target: &str,
    stream: &mut Option<TcpStream>,
    messages: &[String],
) -> std::io::Result<()> {
    // A collector never writes to us: a readable end of stream means it closed, and
    // writing there would lose records into a dead connection.
    if let Some(tcp) = stream.as_ref() {
        let mut probe = [0u8; 1];
        match tcp.try_read(&mut probe) {
            Ok(0) => *stream = None,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok(_) | Err(_) => *stream = None,
        }
    }
    let tcp = match stream.as_mut() {
        Some(tcp) => tcp,
        None => {
            let tcp = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(target))
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
            tcp.set_nodelay(true)?;
            stream.insert(tcp)
        }
    };
    let mut frames = Vec::with_capacity(messages.iter().map(|m| m.len() + 8).sum());
    for text in messages {
        frames.extend_from_slice(text.len().to_string().as_bytes());
        frames.push(b' ');
        frames.extend_from_slice(text.as_bytes());
    }
    let written = tokio::time::timeout(IO_TIMEOUT, async {
        tcp.write_all(&frames).await?;
        tcp.flush().await
    })
    .await
    .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
    if written.is_err() {
        *stream = None;
    }
    written
}

/// One record as an RFC 5424 message:
/// `<PRI>1 TIMESTAMP HOSTNAME tokengate PROCID audit [audit@32473 id=… decision=…] JSON`.
pub fn message(row: &AuditRow, hostname: &str, pid: u32) -> Result<String, SinkError> {
    let severity = if row.decision == ALLOW.as_str() {
        INFO
    } else {
        NOTICE
    };
    let json = serde_json::to_string(row).map_err(SinkError::Encode)?;
    let mut text = format!(
        "<{}>1 {} {hostname} tokengate {pid} audit [{SD_ID} id=\"{}\" decision=\"{}\"",
        FACILITY * 8 + severity,
        crate::cli::format_time(row.time),
        row.id,
        param(&row.decision),
    );
    for (name, value) in [("reason", &row.reason), ("tokenId", &row.token_id)] {
        if let Some(value) = value {
            let _ = write!(text, " {name}=\"{}\"", param(value));
        }
    }
    text.push_str("] ");
    text.push_str(&json);
    Ok(text)
}

/// A structured data parameter value: `"`, `\` and `]` escaped (RFC 5424, 6.3.3).
fn param(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &[u8] {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text.as_bytes()[..end]
}

/// This machine's name as RFC 5424 wants it (printable ASCII, at most 255), or `-`.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim();
    if name.is_empty() || name.len() > 255 || !name.bytes().all(|b| b.is_ascii_graphic()) {
        "-".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_rfc5424_message() {
        let row = AuditRow {
            id: 42,
            time: 1_764_000_000_123,
            decision: "deny".into(),
            reason: Some("no-matching-rule".into()),
            token_id: Some("t\"]1".into()),
            url: "https://wiki.example.com/rest/api/space".into(),
            ..AuditRow::default()
        };
        let text = message(&row, "gw1", 7).unwrap_or_default();
        assert!(
            text.starts_with(
                "<85>1 2025-11-24T16:00:00.123Z gw1 tokengate 7 audit \
                 [audit@32473 id=\"42\" decision=\"deny\" reason=\"no-matching-rule\" \
                 tokenId=\"t\\\"\\]1\"] {\"id\":42,"
            ),
            "{text}"
        );
        let allowed = AuditRow {
            decision: "allow".into(),
            ..row
        };
        assert!(
            message(&allowed, "gw1", 7)
                .unwrap_or_default()
                .starts_with("<86>1 ")
        );
    }

    #[test]
    fn datagrams_are_cut_at_a_character_boundary() {
        let text = format!("{}é", "a".repeat(MAX_DATAGRAM - 1));
        assert_eq!(cut(&text, MAX_DATAGRAM).len(), MAX_DATAGRAM - 1);
        assert_eq!(cut("short", MAX_DATAGRAM), b"short");
    }
}
