//! Datagrams sent many to a system call (`sendmmsg`).
//!
//! A keyframe to a class of 300 is thousands of datagrams, each to its own student, so the
//! kernel cannot merge them (UDP segmentation offload wants one destination). What can be
//! shared is the system call: one entry into the kernel for a batch instead of one for each
//! datagram. The worker hands every datagram to [`SendBatch::push`]; it goes out when the batch
//! is full or at [`SendBatch::finish`], which the worker calls before it waits for input, so
//! nothing waits in the batch while the worker sleeps.

use super::core::Datagram;
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
use std::io::IoSlice;
use std::os::fd::AsRawFd;

/// Datagrams per system call. At 32, the call's own cost is a small share of each
/// datagram's; a full batch is built in well under a millisecond, so none waits long for it.
pub const BATCH: usize = 32;

/// Datagrams waiting to go out together.
pub struct SendBatch {
    pending: Vec<Datagram>,
    /// The kernel's message headers, allocated once and refilled for every call.
    headers: MultiHeaders<SockaddrStorage>,
}

impl Default for SendBatch {
    fn default() -> Self {
        Self { pending: Vec::with_capacity(BATCH), headers: MultiHeaders::preallocate(BATCH, None) }
    }
}

impl SendBatch {
    /// Queue one datagram; the batch goes out once it is full. Returns how many datagrams the
    /// kernel refused (see [`SendBatch::finish`]).
    pub fn push(&mut self, socket: &impl AsRawFd, datagram: Datagram) -> usize {
        self.pending.push(datagram);
        if self.pending.len() == BATCH { self.finish(socket) } else { 0 }
    }

    /// Send whatever is queued.
    ///
    /// The kernel sends a batch in order and stops at the first datagram it refuses (a full
    /// socket buffer, an unreachable address). That datagram is dropped, as a failed
    /// `send_to` would drop it, and the rest of the batch still goes: one student's bad
    /// address must not cost the others their packets. Returns how many were refused.
    pub fn finish(&mut self, socket: &impl AsRawFd) -> usize {
        let mut refused = 0;
        let mut from = 0;
        while from < self.pending.len() {
            match send_some(socket.as_raw_fd(), &mut self.headers, &self.pending[from..]) {
                // A signal came before anything was sent: nothing was refused.
                Err(Errno::EINTR) => continue,
                Ok(0) | Err(_) => {
                    tracing::trace!(to = %self.pending[from].destination, "SFU send refused");
                    refused += 1;
                    from += 1;
                }
                Ok(sent) => from += sent,
            }
        }
        self.pending.clear();
        refused
    }
}

/// One `sendmmsg` call for the front of `datagrams`: how many the kernel took.
fn send_some(
    fd: std::os::fd::RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    datagrams: &[Datagram],
) -> nix::Result<usize> {
    let slices: Vec<[IoSlice<'_>; 1]> = datagrams.iter().map(|d| [IoSlice::new(&d.contents)]).collect();
    let addresses: Vec<Option<SockaddrStorage>> =
        datagrams.iter().map(|d| Some(SockaddrStorage::from(d.destination))).collect();
    let sent = sendmmsg(fd, headers, &slices, &addresses, [], MsgFlags::MSG_DONTWAIT)?;
    Ok(sent.count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{SocketAddr, UdpSocket};
    use std::time::Duration;

    fn datagram(to: SocketAddr, n: u32) -> Datagram {
        Datagram { destination: to, contents: n.to_be_bytes().to_vec() }
    }

    /// What `receiver` got from `sender`, in order, until it has been quiet a moment.
    fn received(receiver: &UdpSocket, sender: &UdpSocket) -> Vec<u32> {
        receiver.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        while let Ok((len, from)) = receiver.recv_from(&mut buf) {
            if from == sender.local_addr().unwrap() && len == 4 {
                got.push(u32::from_be_bytes(buf[..4].try_into().unwrap()));
            }
        }
        got
    }

    #[test]
    fn every_datagram_goes_out_in_order_in_full_batches_and_the_rest() {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
        let mut batch = SendBatch::default();
        let count = BATCH as u32 * 2 + 5;
        let mut refused = 0;
        for n in 0..count {
            let to = if n % 2 == 0 { &a } else { &b };
            refused += batch.push(&sender, datagram(to.local_addr().unwrap(), n));
        }
        // Two full batches went out as they filled; the last five wait for `finish`.
        let (mut to_a, mut to_b) = (received(&a, &sender), received(&b, &sender));
        assert_eq!(to_a.len() + to_b.len(), BATCH * 2);
        refused += batch.finish(&sender);
        to_a.extend(received(&a, &sender));
        to_b.extend(received(&b, &sender));
        assert_eq!(to_a, (0..count).step_by(2).collect::<Vec<_>>());
        assert_eq!(to_b, (1..count).step_by(2).collect::<Vec<_>>());
        assert_eq!(refused, 0);
    }

    #[test]
    fn a_refused_datagram_is_dropped_and_the_rest_of_its_batch_still_goes() {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = receiver.local_addr().unwrap();
        // An IPv4 socket cannot send to an IPv6 address: the kernel refuses those two.
        let unreachable: SocketAddr = "[::1]:9".parse().unwrap();
        let mut batch = SendBatch::default();
        for n in 0..10 {
            let destination = if n == 3 || n == 7 { unreachable } else { to };
            assert_eq!(batch.push(&sender, datagram(destination, n)), 0, "sent only at the end");
        }
        assert_eq!(batch.finish(&sender), 2);
        assert_eq!(received(&receiver, &sender), [0, 1, 2, 4, 5, 6, 8, 9]);
    }
}
