//! What a student's browser is asked to report about the media it receives.
//!
//! A browser sends transport-wide feedback (RTCP, every 50 ms or so) for every packet that
//! carries a transport-wide sequence number, and it gets those numbers only on m-lines whose
//! answer keeps that header extension. With `media.downlink_estimate = "receiver-reports"` the SFU
//! judges downlinks by receiver reports alone (one a second), so on the m-lines a browser only
//! receives on, the offer loses that extension and abs-send-time (the other one only a
//! delay-based estimator reads) before str0m answers it. The SFU then writes neither into a
//! forwarded packet and reads no feedback stream per student: at 300 students that is 6,000
//! fewer datagrams a second in, and less work per packet out (docs/benchmarks.md). The
//! m-lines a browser sends on keep both, so its own estimate of its uplink is unchanged.

/// The header extensions only a bandwidth estimator of the receiving direction reads.
const ESTIMATOR_EXTENSIONS: [&str; 2] = [
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
];

/// The offer with the estimator's header extensions taken off every m-line the browser only
/// receives on (`a=recvonly`). An `a=inactive` m-line keeps them: a page that stops its camera
/// makes its m-line inactive, and its next offer may repeat only what the last answer kept, so
/// taking them off there would leave the camera unnumbered once it starts again. Everything
/// else is left as it was, line endings included; what is not valid SDP is left for str0m to
/// refuse.
pub fn without_estimator_extensions_on_received_media(offer: &str) -> String {
    let mut out = String::with_capacity(offer.len());
    let mut section: Vec<&str> = Vec::new();
    for line in offer.split_inclusive('\n') {
        if line.starts_with("m=") {
            push_section(&mut out, &section);
            section.clear();
        }
        section.push(line);
    }
    push_section(&mut out, &section);
    out
}

/// Copies one section (the session part, or one m-line and its attributes) to `out`.
fn push_section(out: &mut String, section: &[&str]) {
    let is_media = section.first().is_some_and(|l| l.starts_with("m="));
    let only_receives = section.iter().any(|l| l.trim_end() == "a=recvonly");
    for line in section {
        if is_media && only_receives && is_estimator_extension(line) {
            continue;
        }
        out.push_str(line);
    }
}

/// `a=extmap:<id>[/<direction>] <uri> [<attributes>]` for one of [`ESTIMATOR_EXTENSIONS`].
fn is_estimator_extension(line: &str) -> bool {
    let Some(rest) = line.trim_end().strip_prefix("a=extmap:") else { return false };
    rest.split_ascii_whitespace().nth(1).is_some_and(|uri| ESTIMATOR_EXTENSIONS.contains(&uri))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWCC: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    const ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";

    fn section(mid: &str, direction: Option<&str>) -> String {
        let mut s = format!("m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:{mid}\r\n");
        if let Some(d) = direction {
            s += &format!("a={d}\r\n");
        }
        s += &format!(
            "a=extmap:2 {ABS_SEND_TIME}\r\na=extmap:3 {TWCC}\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=rtcp-fb:96 transport-cc\r\n"
        );
        s
    }

    #[test]
    fn only_the_m_lines_a_browser_only_receives_on_lose_the_estimator_extensions() {
        let session = String::from("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=extmap-allow-mixed\r\n");
        let offer = session.clone()
            + &section("0", Some("sendonly"))
            + &section("1", Some("recvonly"))
            + &section("2", Some("sendrecv"))
            + &section("3", Some("inactive"))
            + &section("4", None);
        let out = without_estimator_extensions_on_received_media(&offer);

        let sections: Vec<&str> = out.split("m=").collect();
        assert_eq!(sections[0], session, "the session part is untouched");
        for (i, kept) in [(1, true), (2, false), (3, true), (4, true), (5, true)] {
            let s = sections[i];
            assert_eq!(s.contains(TWCC), kept, "transport-wide numbers in section {i}: {s}");
            assert_eq!(s.contains(ABS_SEND_TIME), kept, "abs-send-time in section {i}: {s}");
            assert!(s.contains("sdes:mid"), "other extensions stay: {s}");
            assert!(s.contains("a=rtcp-fb:96 transport-cc"), "feedback types stay: {s}");
        }
        let removed = offer.lines().count() - out.lines().count();
        assert_eq!(removed, 2);
        assert!(out.split_inclusive('\n').all(|l| l.ends_with("\r\n")), "line endings kept");
    }

    #[test]
    fn a_direction_qualified_extmap_and_bare_newlines_are_handled() {
        let offer = format!(
            "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=recvonly\na=extmap:5/recvonly {TWCC}\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\n"
        );
        let out = without_estimator_extensions_on_received_media(&offer);
        assert_eq!(
            out,
            "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=recvonly\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\n"
        );
    }

    #[test]
    fn what_is_not_sdp_comes_back_as_it_was() {
        for junk in ["", "a=recvonly\na=extmap:3", "m=\na=recvonly\na=extmap:", "\u{0}\u{ffff}m=x\r\n"] {
            assert_eq!(without_estimator_extensions_on_received_media(junk), junk);
        }
    }
}
