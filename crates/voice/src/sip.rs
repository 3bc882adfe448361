//! SIP messages of a call the hub answers (RFC 3261, user-agent server over UDP): reading a
//! request, the responses to it, and the hub's own BYE. Parsing is the `rsip` crate's; this
//! module only decides what the hub says. Sockets and timers are [`crate::calls`]'.

use std::net::SocketAddr;

use rsip::headers::{Header, ToTypedHeader, UntypedHeader};
use rsip::prelude::HeadersExt;
use rsip::{Method, Request, SipMessage};

/// What the hub supports, for `Allow` and OPTIONS.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS";
/// The hub's `User-Agent` / `Server`.
pub const AGENT: &str = "Switchboard";

/// Why a datagram could not be read as a request the hub can answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    #[error("not a SIP message: {0}")]
    Syntax(String),
    #[error("the request has no {0} header")]
    Missing(&'static str),
}

/// A request, with what the hub needs of it read out.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub request: Request,
    pub method: Method,
    pub call_id: String,
    pub cseq: u32,
    /// The From header's value (the caller, with its tag).
    pub from: String,
    /// The To header's value as received.
    pub to: String,
    /// Whether To carries a tag (the request is inside a dialog).
    pub to_tagged: bool,
    /// The branch of the top Via (a CANCEL matches its INVITE by it).
    pub branch: Option<String>,
    /// Where a request in the dialog goes: the Contact's URI, else From's.
    pub contact: String,
    /// The caller's number or user: the user part of From's URI.
    pub caller: Option<String>,
    /// The number dialled: the user part of the request URI (else To's).
    pub dialled: Option<String>,
    pub body: Vec<u8>,
}

/// A datagram read: a request to answer, a response to the hub's own request (its BYE), or
/// a keep-alive with nothing in it.
#[derive(Debug, Clone)]
pub enum Datagram {
    Request(Box<Incoming>),
    /// A response: its status code, Call-ID and CSeq method.
    Response {
        code: u16,
        call_id: String,
        method: String,
    },
    KeepAlive,
}

/// Reads one UDP datagram.
pub fn read(bytes: &[u8]) -> Result<Datagram, SipError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        // RFC 5626 keep-alives (CRLF) and empty datagrams.
        return Ok(Datagram::KeepAlive);
    }
    let message = SipMessage::try_from(bytes).map_err(|e| SipError::Syntax(e.to_string()))?;
    match message {
        SipMessage::Response(response) => {
            let call_id = response
                .call_id_header()
                .map_err(|_| SipError::Missing("Call-ID"))?
                .value()
                .to_owned();
            let method = response
                .cseq_header()
                .ok()
                .and_then(|c| c.method().ok())
                .map(|m| m.to_string())
                .unwrap_or_default();
            Ok(Datagram::Response {
                code: response.status_code.code(),
                call_id,
                method,
            })
        }
        SipMessage::Request(request) => Ok(Datagram::Request(Box::new(incoming(request)?))),
    }
}

fn incoming(request: Request) -> Result<Incoming, SipError> {
    let call_id = request
        .call_id_header()
        .map_err(|_| SipError::Missing("Call-ID"))?
        .value()
        .to_owned();
    let cseq = request
        .cseq_header()
        .map_err(|_| SipError::Missing("CSeq"))?
        .seq()
        .map_err(|_| SipError::Missing("CSeq"))?;
    let from_header = request.from_header().map_err(|_| SipError::Missing("From"))?;
    let to_header = request.to_header().map_err(|_| SipError::Missing("To"))?;
    let via = request.via_header().map_err(|_| SipError::Missing("Via"))?;
    let branch = via.typed().ok().and_then(|v| v.branch().map(|b| b.to_string()));
    let from_uri = from_header.uri().ok();
    let contact = request
        .contact_header()
        .ok()
        .and_then(|c| c.uri().ok())
        .or_else(|| from_uri.clone())
        .map(|u| u.to_string())
        .unwrap_or_default();
    let caller = from_uri.as_ref().and_then(|u| u.user().map(str::to_owned));
    let dialled = request
        .uri
        .user()
        .map(str::to_owned)
        .or_else(|| to_header.uri().ok().and_then(|u| u.user().map(str::to_owned)));
    Ok(Incoming {
        method: request.method,
        call_id,
        cseq,
        from: from_header.value().to_owned(),
        to: to_header.value().to_owned(),
        to_tagged: to_header.tag().ok().flatten().is_some(),
        branch,
        contact,
        caller,
        dialled,
        body: request.body.clone(),
        request,
    })
}

/// The standard reason phrase of the codes the hub sends.
fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        415 => "Unsupported Media Type",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// A response to `request`: its Via, From, Call-ID, CSeq and Record-Route copied as RFC 3261
/// §8.2.6 asks, To given the hub's `tag` when it has none (every response but 100), then
/// `extra` header lines and the body (an SDP when `sdp` is given).
pub fn response(
    request: &Incoming,
    code: u16,
    tag: Option<&str>,
    contact: Option<&str>,
    extra: &[(&str, String)],
    sdp: Option<&str>,
) -> Vec<u8> {
    let mut out = format!("SIP/2.0 {code} {}\r\n", reason(code));
    for header in request.request.headers.iter() {
        match header {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) | Header::RecordRoute(_) => {
                out.push_str(&format!("{header}\r\n"));
            }
            Header::To(to) => match tag {
                Some(tag) if !request.to_tagged => out.push_str(&format!("To: {};tag={tag}\r\n", to.value())),
                _ => out.push_str(&format!("{header}\r\n")),
            },
            _ => {}
        }
    }
    if let Some(contact) = contact {
        out.push_str(&format!("Contact: <{contact}>\r\n"));
    }
    out.push_str(&format!("Server: {AGENT}\r\nAllow: {ALLOW}\r\n"));
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    match sdp {
        Some(body) => out.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => out.push_str("Content-Length: 0\r\n\r\n"),
    }
    out.into_bytes()
}

/// What the hub keeps of an answered call, to send requests in it (BYE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub call_id: String,
    /// The caller's From (their URI and tag): the To of the hub's requests.
    pub remote: String,
    /// The caller's To with the hub's tag: the From of the hub's requests.
    pub local: String,
    /// Where the hub's requests go (the caller's Contact).
    pub target: String,
    /// The hub's own address, for Via and Contact.
    pub via: SocketAddr,
    pub next_cseq: u32,
}

impl Dialog {
    /// The dialog an INVITE answered with `tag` sets up.
    pub fn of(invite: &Incoming, tag: &str, via: SocketAddr) -> Dialog {
        Dialog {
            call_id: invite.call_id.clone(),
            remote: invite.from.clone(),
            local: if invite.to_tagged {
                invite.to.clone()
            } else {
                format!("{};tag={tag}", invite.to)
            },
            target: invite.contact.clone(),
            via,
            next_cseq: 1,
        }
    }

    /// A BYE ending the call; each call gives a new CSeq and branch.
    pub fn bye(&mut self, reason: Option<&str>) -> Vec<u8> {
        let cseq = self.next_cseq;
        self.next_cseq += 1;
        let branch = format!("z9hG4bK{}", uuid::Uuid::new_v4().simple());
        let mut out = format!(
            "BYE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch={branch}\r\nMax-Forwards: 70\r\n\
             From: {local}\r\nTo: {remote}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} BYE\r\nUser-Agent: {AGENT}\r\n",
            target = self.target,
            via = self.via,
            local = self.local,
            remote = self.remote,
            call_id = self.call_id,
        );
        if let Some(reason) = reason {
            // RFC 3326: why the hub hung up.
            out.push_str(&format!(
                "Reason: SIP;cause=200;text=\"{}\"\r\n",
                reason.replace('"', "'")
            ));
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An INVITE as sipp's UAC scenario sends it.
    pub(crate) fn invite() -> Vec<u8> {
        let sdp = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        format!(
            "INVITE sip:+18005550100@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0\r\n\
             Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-proxy\r\n\
             From: \"Pat\" <sip:+15095550123@127.0.0.1:5061>;tag=abc\r\n\
             To: <sip:+18005550100@127.0.0.1:5060>\r\n\
             Call-ID: 1-2@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:sipp@127.0.0.1:5061>\r\n\
             Max-Forwards: 70\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
        .into_bytes()
    }

    fn read_invite() -> Incoming {
        match read(&invite()).unwrap() {
            Datagram::Request(r) => *r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_invite_gives_its_call_numbers_and_offer() {
        let r = read_invite();
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.call_id, "1-2@127.0.0.1");
        assert_eq!(r.cseq, 1);
        assert_eq!(r.caller.as_deref(), Some("+15095550123"));
        assert_eq!(r.dialled.as_deref(), Some("+18005550100"));
        assert_eq!(r.contact, "sip:sipp@127.0.0.1:5061");
        assert_eq!(r.branch.as_deref(), Some("z9hG4bK-1-0"));
        assert!(!r.to_tagged);
        assert!(String::from_utf8_lossy(&r.body).contains("m=audio 6000"));
    }

    #[test]
    fn a_response_copies_the_transaction_headers_and_tags_to() {
        let r = read_invite();
        let text = String::from_utf8(response(
            &r,
            200,
            Some("hub1"),
            Some("sip:hub@127.0.0.1:5060"),
            &[],
            Some("v=0\r\n"),
        ))
        .unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
        let vias: Vec<&str> = text.lines().filter(|l| l.starts_with("Via:")).collect();
        assert_eq!(vias.len(), 2, "{text}");
        assert!(vias[0].contains("z9hG4bK-1-0") && vias[1].contains("z9hG4bK-proxy"));
        assert!(
            text.contains("To: <sip:+18005550100@127.0.0.1:5060>;tag=hub1\r\n"),
            "{text}"
        );
        assert!(text.contains("CSeq: 1 INVITE\r\n") && text.contains("Call-ID: 1-2@127.0.0.1\r\n"));
        assert!(
            text.ends_with("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"),
            "{text}"
        );
        // What the hub sends parses back as SIP.
        assert!(matches!(
            read(text.as_bytes()).unwrap(),
            Datagram::Response { code: 200, .. }
        ));
        let trying = String::from_utf8(response(&r, 100, None, None, &[], None)).unwrap();
        assert!(
            trying.contains("To: <sip:+18005550100@127.0.0.1:5060>\r\n")
                && trying.ends_with("Content-Length: 0\r\n\r\n")
        );
    }

    #[test]
    fn the_hubs_bye_is_addressed_inside_the_dialog() {
        let r = read_invite();
        let mut dialog = Dialog::of(&r, "hub1", "127.0.0.1:5060".parse().unwrap());
        let bye = String::from_utf8(dialog.bye(Some("the call reached its 1 hour limit"))).unwrap();
        assert!(bye.starts_with("BYE sip:sipp@127.0.0.1:5061 SIP/2.0\r\n"), "{bye}");
        assert!(
            bye.contains("From: <sip:+18005550100@127.0.0.1:5060>;tag=hub1\r\n"),
            "{bye}"
        );
        assert!(
            bye.contains("To: \"Pat\" <sip:+15095550123@127.0.0.1:5061>;tag=abc\r\n"),
            "{bye}"
        );
        assert!(bye.contains("CSeq: 1 BYE\r\n"));
        let again = String::from_utf8(dialog.bye(None)).unwrap();
        assert!(again.contains("CSeq: 2 BYE\r\n"));
        match read(bye.as_bytes()).unwrap() {
            Datagram::Request(b) => {
                assert_eq!(b.method, Method::Bye);
                assert!(b.to_tagged);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_and_keepalives_are_told_apart() {
        assert!(matches!(read(b"\r\n\r\n"), Ok(Datagram::KeepAlive)));
        assert!(matches!(read(b"hello there"), Err(SipError::Syntax(_))));
        let no_call_id = String::from_utf8(invite())
            .unwrap()
            .replace("Call-ID: 1-2@127.0.0.1\r\n", "");
        assert!(matches!(read(no_call_id.as_bytes()), Err(SipError::Missing("Call-ID"))));
    }
}
