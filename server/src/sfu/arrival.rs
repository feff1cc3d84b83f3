//! Datagrams with the time the kernel queued them on the socket (`SO_TIMESTAMPNS`).
//!
//! A worker that is busy fanning a keyframe out to a class reads its socket late. str0m
//! records each packet's arrival time for transport-wide congestion feedback, and the read
//! time would tell the teacher's browser that its uplink is queueing when only our core is:
//! its delay-based estimator would lower the camera's bitrate, and the class would see a
//! worse picture because the SFU was busy. The kernel's receive timestamp is when the
//! datagram came off the network, so the feedback describes the network alone.
//!
//! The load tool (`examples/sfu_load`) reads its subscribers' sockets the same way, for the
//! same reason, and to measure latency up to the socket rather than up to its own read.

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Asks the kernel to stamp every datagram this socket receives.
pub fn enable(socket: &impl AsFd) -> io::Result<()> {
    setsockopt(socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
}

#[derive(Clone, Copy, Debug)]
pub struct Datagram {
    pub len: usize,
    pub source: SocketAddr,
    /// When the datagram reached the socket (the read time when the kernel gave no stamp).
    pub arrived: Instant,
    /// When it was read.
    pub read: Instant,
}

/// Space for one control message: the receive timestamp.
pub fn control_space() -> Vec<u8> {
    nix::cmsg_space!(TimeSpec)
}

/// One datagram from a non-blocking socket (`WouldBlock` when there is none).
pub fn recv(socket: &impl AsRawFd, buf: &mut [u8], control: &mut [u8]) -> io::Result<Datagram> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(control), MsgFlags::MSG_DONTWAIT)
        .map_err(io::Error::from)?;
    // Both clocks read together: the stamp is wall-clock time, `Instant` is monotonic.
    let read = Instant::now();
    let wall = SystemTime::now();
    let source = msg
        .address
        .and_then(|a| {
            a.as_sockaddr_in()
                .map(|v4| SocketAddr::from(*v4))
                .or_else(|| a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6)))
        })
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a datagram without an IP source"))?;
    let stamped = msg.cmsgs().ok().and_then(|mut cmsgs| {
        cmsgs.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => Some(ts),
            _ => None,
        })
    });
    let arrived = stamped.map_or(read, |ts| {
        let stamp = UNIX_EPOCH + Duration::new(ts.tv_sec().max(0) as u64, ts.tv_nsec().clamp(0, 999_999_999) as u32);
        read.checked_sub(wall.duration_since(stamp).unwrap_or_default()).unwrap_or(read)
    });
    Ok(Datagram { len: msg.bytes, source, arrived, read })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    /// The one datagram from `sender` in the socket, skipping any from other tests' peers
    /// that still send to a port this test was given again.
    fn read_from(receiver: &UdpSocket, sender: &UdpSocket) -> (Datagram, Vec<u8>) {
        let mut buf = [0u8; 64];
        let mut control = control_space();
        let mut ours = None;
        for _ in 0..100 {
            match recv(receiver, &mut buf, &mut control) {
                Ok(d) if d.source == sender.local_addr().unwrap() => ours = Some((d, buf[..d.len].to_vec())),
                Ok(_) => continue,
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "an empty socket answers WouldBlock");
                    break;
                }
            }
        }
        ours.expect("the datagram was read")
    }

    #[test]
    fn a_datagram_that_waited_in_the_socket_arrived_before_it_was_read() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        enable(&receiver).unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        // The kernel turns its receive timestamps on shortly after the first socket asks (and
        // off when the last one closes, which other tests' sockets do): until then a datagram
        // is stamped when it is read. A few tries see them on.
        let mut waits = Vec::new();
        for _ in 0..5 {
            let sent = Instant::now();
            sender.send_to(b"stamped", receiver.local_addr().unwrap()).unwrap();
            std::thread::sleep(Duration::from_millis(30));
            let (d, bytes) = read_from(&receiver, &sender);
            assert_eq!(bytes, b"stamped");
            assert!(d.arrived >= sent - Duration::from_millis(1), "stamped before it was sent");
            assert!(d.arrived <= d.read);
            let waited = d.read.duration_since(d.arrived);
            if waited >= Duration::from_millis(25) {
                return;
            }
            waits.push(waited);
        }
        panic!("the wait in the socket was never seen: {waits:?}");
    }
}
