//! The SDP offer/answer of a call (RFC 3264): what the caller's INVITE offers — where to send
//! audio, in which G.711 law, whether it sends keypresses as RFC 4733 events — and the hub's
//! answer. Offers are parsed with the `sdp` crate.

use std::io::Cursor;
use std::net::IpAddr;

use sdp::SessionDescription;
use speech::g711::Law;

/// What the hub takes from a caller's offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Where the caller wants audio sent.
    pub address: IpAddr,
    pub port: u16,
    /// The law both sides will speak: the caller's first G.711 choice.
    pub law: Law,
    /// The payload type of the caller's telephone events, if it offered them.
    pub telephone_event: Option<u8>,
}

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("the SDP does not parse: {0}")]
    Syntax(String),
    #[error("the offer has no audio stream over RTP/AVP")]
    NoAudio,
    /// SIP answers this with 488 Not Acceptable Here.
    #[error("the offer has no codec in common: the hub speaks G.711 μ-law (0) or A-law (8); offered: {0}")]
    NoCommonCodec(String),
    #[error("the offer's connection address `{0}` is not an IP address")]
    BadAddress(String),
}

/// Reads a caller's offer.
pub fn read_offer(text: &str) -> Result<Offer, SdpError> {
    let session = SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes()))
        .map_err(|e| SdpError::Syntax(e.to_string()))?;
    let media = session
        .media_descriptions
        .iter()
        .find(|m| {
            m.media_name.media == "audio" && m.media_name.port.value > 0 && m.media_name.protos.join("/") == "RTP/AVP"
        })
        .ok_or(SdpError::NoAudio)?;
    let law = media
        .media_name
        .formats
        .iter()
        .find_map(|f| f.parse::<u8>().ok().and_then(Law::of_payload_type))
        .ok_or_else(|| SdpError::NoCommonCodec(media.media_name.formats.join(" ")))?;
    let telephone_event = media
        .attributes
        .iter()
        .filter(|a| a.key == "rtpmap")
        .filter_map(|a| a.value.as_deref())
        .find_map(|value| {
            let (pt, encoding) = value.split_once(' ')?;
            encoding
                .to_ascii_lowercase()
                .starts_with("telephone-event/8000")
                .then(|| pt.parse::<u8>().ok())
                .flatten()
        })
        .filter(|pt| media.media_name.formats.iter().any(|f| f == &pt.to_string()));
    let connection = media
        .connection_information
        .as_ref()
        .or(session.connection_information.as_ref())
        .and_then(|c| c.address.as_ref())
        .map(|a| a.address.clone())
        .ok_or_else(|| SdpError::BadAddress(String::new()))?;
    // `c=IN IP4 203.0.113.5/127` carries a TTL after the address.
    let host = connection.split('/').next().unwrap_or_default();
    let address = host.parse().map_err(|_| SdpError::BadAddress(connection.clone()))?;
    let port = u16::try_from(media.media_name.port.value).map_err(|_| SdpError::NoAudio)?;
    Ok(Offer {
        address,
        port,
        law,
        telephone_event,
    })
}

/// The hub's answer to `offer`: audio at `local`:`port` in the offer's law, with telephone
/// events when the caller offered them (under the caller's payload type, as RFC 3264 asks).
pub fn answer(offer: &Offer, local: IpAddr, port: u16, session_id: u64) -> String {
    let ip = match local {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    };
    let pt = offer.law.payload_type();
    let codec = match offer.law {
        Law::Mu => "PCMU",
        Law::A => "PCMA",
    };
    let mut formats = pt.to_string();
    let mut attributes = format!("a=rtpmap:{pt} {codec}/8000\r\n");
    if let Some(te) = offer.telephone_event {
        formats.push_str(&format!(" {te}"));
        attributes.push_str(&format!("a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-15\r\n"));
    }
    format!(
        "v=0\r\no=switchboard {session_id} {session_id} IN {ip} {local}\r\ns=Switchboard\r\nc=IN {ip} {local}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {formats}\r\n{attributes}a=ptime:20\r\na=sendrecv\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An offer as sipp's default UAC scenario (and many PBXs) send it.
    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
        m=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

    #[test]
    fn an_offer_gives_the_callers_address_first_g711_law_and_event_type() {
        let offer = read_offer(SIPP_OFFER).unwrap();
        assert_eq!(
            offer,
            Offer {
                address: "127.0.0.1".parse().unwrap(),
                port: 6000,
                law: Law::A,
                telephone_event: Some(101),
            }
        );
        let media_level = SIPP_OFFER
            .replace("c=IN IP4 127.0.0.1\r\nt=0 0\r\n", "t=0 0\r\n")
            .replace(
                "m=audio 6000 RTP/AVP 8 0 101\r\n",
                "m=audio 6000 RTP/AVP 0\r\nc=IN IP4 10.0.0.7\r\n",
            );
        let offer = read_offer(&media_level).unwrap();
        assert_eq!(
            (offer.address.to_string(), offer.law, offer.telephone_event),
            ("10.0.0.7".to_owned(), Law::Mu, None)
        );
    }

    #[test]
    fn offers_the_hub_cannot_take_say_why() {
        let opus = SIPP_OFFER
            .replace("RTP/AVP 8 0 101", "RTP/AVP 111")
            .replace("a=rtpmap:8 PCMA/8000\r\n", "a=rtpmap:111 opus/48000/2\r\n");
        assert_eq!(read_offer(&opus), Err(SdpError::NoCommonCodec("111".into())));
        let video = SIPP_OFFER.replace("m=audio", "m=video");
        assert_eq!(read_offer(&video), Err(SdpError::NoAudio));
        let rejected = SIPP_OFFER.replace("m=audio 6000", "m=audio 0");
        assert_eq!(read_offer(&rejected), Err(SdpError::NoAudio));
        let named = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 pbx.example.com");
        assert!(matches!(read_offer(&named), Err(SdpError::BadAddress(a)) if a == "pbx.example.com"));
        assert!(matches!(read_offer("hello"), Err(SdpError::Syntax(_))));
    }

    #[test]
    fn the_answer_is_an_sdp_the_offer_reader_reads_back() {
        let offer = read_offer(SIPP_OFFER).unwrap();
        let text = answer(&offer, "127.0.0.1".parse().unwrap(), 40_000, 7);
        assert!(text.contains("m=audio 40000 RTP/AVP 8 101\r\n"), "{text}");
        assert!(
            text.contains("a=rtpmap:8 PCMA/8000\r\n") && text.contains("a=fmtp:101 0-15\r\n"),
            "{text}"
        );
        let back = read_offer(&text).unwrap();
        assert_eq!((back.port, back.law, back.telephone_event), (40_000, Law::A, Some(101)));
        let v6 = answer(
            &Offer {
                telephone_event: None,
                ..offer
            },
            "::1".parse().unwrap(),
            40_002,
            8,
        );
        assert!(
            v6.contains("c=IN IP6 ::1\r\n") && v6.contains("m=audio 40002 RTP/AVP 8\r\n"),
            "{v6}"
        );
    }
}
