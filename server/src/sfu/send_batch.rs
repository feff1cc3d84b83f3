//! Datagrams sent many to a system call (`sendmmsg`), and a student's datagrams that come one
//! after another sent as one (UDP segmentation offload, `UDP_SEGMENT`).
//!
//! A keyframe to a class of 300 is thousands of datagrams, each to its own student. What can
//! always be shared is the system call: one entry into the kernel for a batch instead of one
//! for each datagram. And when the worker is busy, a read burst holds several of the teacher's
//! packets, so each student is sent two or three in a row (about half of all datagrams at 300
//! students, docs/benchmarks.md). Those the kernel takes as one message: it builds, routes and
//! queues one buffer for the run and cuts it into datagrams as late as it can (on the network
//! card, where it can). The worker hands every datagram to [`SendBatch::push`]; it goes out when
//! the batch is full or at [`SendBatch::finish`], which the worker calls before it waits for
//! input, so nothing waits in the batch while the worker sleeps.

use super::core::Datagram;
use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{SockaddrLike, SockaddrStorage};
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};

/// Datagrams per system call. At 32, the call's own cost is a small share of each
/// datagram's; a full batch is built in well under a millisecond, so none waits long for it.
pub const BATCH: usize = 32;
/// At most this many datagrams in one message (the kernel's limit was 64 before Linux 6.7).
const MAX_SEGMENTS: usize = 64;
/// At most this many bytes in one message: it must fit one IP packet before it is cut.
const MAX_RUN_BYTES: usize = 60_000;

/// Datagrams waiting to go out together.
pub struct SendBatch {
    pending: Vec<Datagram>,
    /// Whether runs to one student go out as one message: where the kernel knows
    /// `UDP_SEGMENT`, until it first refuses a run as one message (an interface without
    /// checksum offload). The run is then sent a datagram at a time, as is all after it.
    segmentation: bool,
}

impl Default for SendBatch {
    fn default() -> Self {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Self { pending: Vec::with_capacity(BATCH), segmentation: segments_udp(&release) }
    }
}

/// Whether a Linux kernel of this release (`uname -r`) knows `UDP_SEGMENT` (since 4.18). An
/// older one ignores the control message and would send a run as one oversized datagram.
fn segments_udp(release: &str) -> bool {
    let mut numbers = release.trim().split(|c: char| !c.is_ascii_digit()).map(str::parse::<u32>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= (4, 18),
        _ => false,
    }
}

impl SendBatch {
    /// Queue one datagram; the batch goes out once it is full. Returns how many datagrams the
    /// kernel refused (see [`SendBatch::finish`]).
    pub fn push(&mut self, socket: &impl AsRawFd, datagram: Datagram) -> usize {
        self.pending.push(datagram);
        if self.pending.len() == BATCH { self.finish(socket) } else { 0 }
    }

    /// Whether nothing waits to go out: after a batch has just gone, or before the first push.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Send whatever is queued.
    ///
    /// The kernel sends a batch in order and stops at the first message it refuses (a full
    /// socket buffer, an unreachable address). That message is dropped, as a failed `send_to`
    /// would drop it, and the rest of the batch still goes: one student's bad address must not
    /// cost the others their packets. Returns how many datagrams were refused.
    pub fn finish(&mut self, socket: &impl AsRawFd) -> usize {
        let fd = socket.as_raw_fd();
        let mut messages = if self.segmentation { runs(&self.pending) } else { singles(0..self.pending.len()) };
        let mut refused = 0;
        let mut from = 0;
        while from < messages.len() {
            match send_messages(fd, &self.pending, &messages[from..]) {
                // A signal came before anything was sent: nothing was refused.
                Err(Errno::EINTR) => continue,
                Err(e) if messages[from].len() > 1 && refused_as_one_message(e) => {
                    tracing::warn!(%e, "the kernel cannot send a run of datagrams as one; the SFU sends them one by one");
                    self.segmentation = false;
                    let rest = singles(messages[from].start..self.pending.len());
                    messages.truncate(from);
                    messages.extend(rest);
                }
                Ok(0) | Err(_) => {
                    tracing::trace!(to = %self.pending[messages[from].start].destination, "SFU send refused");
                    refused += messages[from].len();
                    from += 1;
                }
                Ok(sent) => from += sent,
            }
        }
        self.pending.clear();
        refused
    }
}

/// The errors by which the kernel says it cannot send a run as one message, where a datagram
/// alone would go.
fn refused_as_one_message(e: Errno) -> bool {
    matches!(e, Errno::EIO | Errno::EINVAL | Errno::EMSGSIZE | Errno::ENOPROTOOPT | Errno::EOPNOTSUPP)
}

/// Each of these datagrams a message of its own.
fn singles(datagrams: Range<usize>) -> Vec<Range<usize>> {
    datagrams.map(|i| i..i + 1).collect()
}

/// The batch cut into messages: runs of datagrams to one destination that the kernel can cut
/// back apart by one size, every one as long as the first but the last, which may be shorter.
fn runs(datagrams: &[Datagram]) -> Vec<Range<usize>> {
    let mut messages = Vec::with_capacity(datagrams.len());
    let mut start = 0;
    while start < datagrams.len() {
        let first = &datagrams[start];
        let size = first.contents.len();
        let mut end = start + 1;
        let mut bytes = size;
        while end < datagrams.len() && end - start < MAX_SEGMENTS && size > 0 {
            let next = &datagrams[end];
            let len = next.contents.len();
            if next.destination != first.destination || len > size || bytes + len > MAX_RUN_BYTES {
                break;
            }
            bytes += len;
            end += 1;
            if len < size {
                break;
            }
        }
        messages.push(start..end);
        start = end;
    }
    messages
}

/// Room for one control message carrying the segment size, aligned as the kernel reads it.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct SegmentControl([u8; 32]);

/// One `sendmmsg` call for `messages`, each a run of `datagrams`: how many messages the kernel
/// took.
fn send_messages(fd: RawFd, datagrams: &[Datagram], messages: &[Range<usize>]) -> nix::Result<usize> {
    let messages = &messages[..messages.len().min(BATCH)];
    let addresses: Vec<SockaddrStorage> =
        messages.iter().map(|m| SockaddrStorage::from(datagrams[m.start].destination)).collect();
    let mut iovecs: Vec<libc::iovec> = Vec::with_capacity(datagrams.len());
    let mut controls = vec![SegmentControl([0; 32]); messages.len()];
    let mut headers: Vec<libc::mmsghdr> = Vec::with_capacity(messages.len());
    for m in messages {
        for d in &datagrams[m.clone()] {
            iovecs.push(libc::iovec { iov_base: d.contents.as_ptr() as *mut libc::c_void, iov_len: d.contents.len() });
        }
    }
    // Raw pointers from here on: the vectors are not touched again until the call returns.
    let iovec_base = iovecs.as_mut_ptr();
    let control_base = controls.as_mut_ptr();
    let mut first_iovec = 0;
    for (i, m) in messages.iter().enumerate() {
        // SAFETY: an all-zero msghdr is valid (no name, no data, no control).
        let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
        header.msg_name = addresses[i].as_ptr() as *mut libc::c_void;
        header.msg_namelen = addresses[i].len();
        // SAFETY: `first_iovec` is within `iovecs`: its messages' datagrams were pushed above.
        header.msg_iov = unsafe { iovec_base.add(first_iovec) };
        header.msg_iovlen = m.len() as _;
        first_iovec += m.len();
        if m.len() > 1 {
            let segment = datagrams[m.start].contents.len() as u16;
            // SAFETY: `i` is within `controls` (one per message); each buffer is aligned for
            // `cmsghdr` and larger than CMSG_SPACE(2) (24 bytes on 64-bit Linux); the header
            // points at it, so CMSG_FIRSTHDR finds it.
            unsafe {
                header.msg_control = control_base.add(i).cast();
                header.msg_controllen = libc::CMSG_SPACE(size_of::<u16>() as u32) as _;
                let cmsg = libc::CMSG_FIRSTHDR(&header);
                (*cmsg).cmsg_level = libc::SOL_UDP;
                (*cmsg).cmsg_type = libc::UDP_SEGMENT;
                (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut u16, segment);
            }
        }
        headers.push(libc::mmsghdr { msg_hdr: header, msg_len: 0 });
    }
    // SAFETY: every pointer in `headers` points into `addresses`, `iovecs`, `controls` or the
    // datagrams, all alive and unmoved until the call returns; the count is `headers.len()`.
    let sent = unsafe { libc::sendmmsg(fd, headers.as_mut_ptr(), headers.len() as u32, libc::MSG_DONTWAIT) };
    Errno::result(sent).map(|n| n as usize)
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

    /// `len` bytes to `to`, the first four (or fewer) holding `n`.
    fn sized(to: SocketAddr, n: u32, len: usize) -> Datagram {
        let mut contents = vec![n as u8; len];
        let stamp = len.min(4);
        contents[..stamp].copy_from_slice(&n.to_be_bytes()[..stamp]);
        Datagram { destination: to, contents }
    }

    /// Each datagram `receiver` got, whole, until it has been quiet a moment.
    fn received_whole(receiver: &UdpSocket) -> Vec<Vec<u8>> {
        receiver.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 65_536];
        while let Ok(len) = receiver.recv(&mut buf) {
            got.push(buf[..len].to_vec());
        }
        got
    }

    #[test]
    fn runs_to_one_destination_are_cut_where_the_kernel_could_not_split_them_back() {
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let batch = |spec: &[(SocketAddr, usize)]| -> Vec<Datagram> {
            spec.iter().enumerate().map(|(i, (to, len))| sized(*to, i as u32, *len)).collect()
        };
        // Equal sizes run on; a shorter one ends its run; a longer one starts a new run.
        let d = batch(&[(a, 1200), (a, 1200), (a, 300), (a, 1200), (a, 1300), (a, 1300)]);
        assert_eq!(runs(&d), [0..3, 3..4, 4..6]);
        // Another destination breaks a run, even at the same size.
        let d = batch(&[(a, 1200), (b, 1200), (a, 1200), (a, 1200), (b, 100)]);
        assert_eq!(runs(&d), [0..1, 1..2, 2..4, 4..5]);
        // At most MAX_SEGMENTS datagrams and MAX_RUN_BYTES bytes in one message.
        let d = batch(&vec![(a, 100); MAX_SEGMENTS + 3]);
        assert_eq!(runs(&d), [0..MAX_SEGMENTS, MAX_SEGMENTS..MAX_SEGMENTS + 3]);
        let per_run = MAX_RUN_BYTES / 1400;
        let d = batch(&vec![(a, 1400); per_run + 1]);
        assert_eq!(runs(&d), [0..per_run, per_run..per_run + 1]);
        // Empty datagrams are never merged (a segment size of 0 means none).
        let d = batch(&[(a, 0), (a, 0)]);
        assert_eq!(runs(&d), [0..1, 1..2]);
    }

    #[test]
    fn runs_are_made_only_on_kernels_that_know_udp_segment() {
        assert!(segments_udp("6.18.44-fc-v1300\n"));
        assert!(segments_udp("4.18.0-553.el8.x86_64"));
        assert!(!segments_udp("4.17.19"));
        assert!(!segments_udp("3.10.0-1160.el7.x86_64"));
        assert!(!segments_udp(""), "unknown (no /proc): one by one");
        assert!(!segments_udp("linux"));
    }

    #[test]
    fn a_run_to_one_student_arrives_as_the_datagrams_it_was_made_of() {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
        let (to_a, to_b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        // A keyframe's packets to one student, the last shorter, then one to another student,
        // then a packet each way in turn.
        let mut sent = Vec::new();
        for n in 0..6 {
            sent.push(sized(to_a, n, 1200));
        }
        sent.push(sized(to_a, 6, 250));
        sent.push(sized(to_b, 7, 1200));
        sent.push(sized(to_a, 8, 1100));
        sent.push(sized(to_b, 9, 1100));
        assert_eq!(runs(&sent)[0], 0..7, "the first seven go as one message");
        let mut batch = SendBatch::default();
        for d in sent.clone() {
            assert_eq!(batch.push(&sender, d), 0);
        }
        assert_eq!(batch.finish(&sender), 0);
        assert!(batch.segmentation, "loopback takes runs as one message");
        let expect = |to: SocketAddr| -> Vec<Vec<u8>> {
            sent.iter().filter(|d| d.destination == to).map(|d| d.contents.clone()).collect()
        };
        assert_eq!(received_whole(&a), expect(to_a));
        assert_eq!(received_whole(&b), expect(to_b));
    }

    #[test]
    fn a_socket_that_cannot_send_runs_as_one_sends_them_one_by_one() {
        use std::os::fd::AsRawFd;
        /// `SO_NO_CHECK` (asm-generic/socket.h; the libc crate names it for L4Re only).
        const SO_NO_CHECK: libc::c_int = 11;
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Without UDP checksums the kernel refuses segmentation (EINVAL), as it refuses it
        // (EIO) on an interface that cannot checksum for it.
        let on: libc::c_int = 1;
        // SAFETY: a valid socket, and an int option of the size given.
        let set = unsafe {
            libc::setsockopt(
                sender.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_NO_CHECK,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0, "SO_NO_CHECK is set");
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = receiver.local_addr().unwrap();
        let sent: Vec<Datagram> = (0..5).map(|n| sized(to, n, 1000)).collect();
        let mut batch = SendBatch::default();
        for d in sent.clone() {
            batch.push(&sender, d);
        }
        assert_eq!(batch.finish(&sender), 0, "nothing refused");
        assert!(!batch.segmentation, "runs are no longer sent as one");
        let contents: Vec<Vec<u8>> = sent.into_iter().map(|d| d.contents).collect();
        assert_eq!(received_whole(&receiver), contents);
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
