//! The floor under any SFU on this machine: a forwarder that does nothing but the kernel's part.
//!
//! `sfu_load` measures Lectern's SFU, everything included. This measures what is left when the
//! SFU's own work is taken away: the same publisher's packets (`sfu_load/camera.rs`, the same
//! sizes and pacing) come in as plain UDP, and a forwarder sends each top-layer and audio packet
//! to every subscriber with the SFU's own sending code (`server::sfu::send_batch`: `sendmmsg`,
//! 32 to a call, a subscriber's run as one message). No encryption, no RTP state, no feedback,
//! no timers. Its CPU per datagram and its latency are what the kernel's path costs, on the
//! same core and over the same veth as `bench/sfu.sh` gives the SFU:
//!
//! ```text
//! bench/sfu.sh --floor --subscribers 300
//! ```
//!
//! One process, run twice: the tool (the publisher and the subscribers' sockets, on its own
//! core) starts itself again as the forwarder (`--forward`, pinned with `--server-cpus`,
//! in the namespace of `--netns`), and reads the forwarder's CPU time from `/proc`.

#[allow(dead_code)] // the RTP fields and keyframe requests in it are `sfu_load`'s
#[path = "sfu_load/camera.rs"]
mod camera;
#[allow(dead_code)] // the subscribers' checks in it are `sfu_load`'s
#[path = "sfu_load/payload.rs"]
mod payload;
#[path = "support/mod.rs"]
mod support;

use camera::{Camera, Packet, Schedule, nanos};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use nix::sys::socket::{setsockopt, sockopt};
use server::sfu::arrival;
use server::sfu::core::Datagram;
use server::sfu::send_batch::SendBatch;
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::proc_stats::{self, Dist};
use support::server_process::{Launch, launch_command};
use support::{Failure, fail};

/// Bytes ahead of the payload in each datagram, as many as a forwarded SRTP packet has around
/// its payload: the RTP header with its extensions and the authentication tag.
const HEADER: usize = 40;
/// The forwarder's port, in its namespace (or on loopback, where it must be free).
const FORWARDER_PORT: u16 = 7_400;
/// Datagrams the forwarder reads before it sends them: as many as the SFU's read burst.
const READ_BURST: usize = 32;
/// Layers the forwarder sends on: the top one, and audio (`payload::AUDIO_LAYER`).
const FORWARDED: [u8; 2] = [2, payload::AUDIO_LAYER];
/// How long the subscribers keep reading after the publisher stops.
const DRAIN: Duration = Duration::from_secs(1);
/// Kernel buffers asked for on each socket, as the SFU asks (`media.socket_buffer_kib`).
const SOCKET_BUFFER: usize = 4 << 20;

struct Args {
    subscribers: usize,
    seconds: u64,
    warmup: u64,
    kbps: u64,
    json: bool,
    server_cpus: Option<String>,
    netns: Option<String>,
    server_ip: IpAddr,
    client_ip: IpAddr,
    /// Set in the forwarder: where it listens, and the subscribers' ports.
    forward: Option<(SocketAddr, Vec<u16>)>,
}

fn parse_args(argv: Vec<String>) -> Result<Args, String> {
    let mut args = Args {
        subscribers: 300,
        seconds: 8,
        warmup: 4,
        kbps: 1500,
        json: false,
        server_cpus: None,
        netns: None,
        server_ip: Ipv4Addr::LOCALHOST.into(),
        client_ip: Ipv4Addr::LOCALHOST.into(),
        forward: None,
    };
    let mut it = argv.into_iter();
    let number = |flag: &str, value: Option<String>| -> Result<u64, String> {
        let value = value.ok_or(format!("{flag} needs a number"))?;
        value.parse::<u64>().ok().filter(|&n| n > 0).ok_or(format!("{flag} {value:?}: need a whole number >= 1"))
    };
    let ip = |flag: &str, value: Option<String>| -> Result<IpAddr, String> {
        let value = value.ok_or(format!("{flag} needs an IP address"))?;
        value.parse().map_err(|_| format!("{flag} {value:?}: not an IP address"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--subscribers" => args.subscribers = number("--subscribers", it.next())? as usize,
            "--seconds" => args.seconds = number("--seconds", it.next())?,
            "--warmup" => args.warmup = number("--warmup", it.next())?,
            "--kbps" => args.kbps = number("--kbps", it.next())?,
            "--json" => args.json = true,
            "--server-cpus" => args.server_cpus = Some(it.next().ok_or("--server-cpus needs a CPU list")?),
            "--netns" => args.netns = Some(it.next().ok_or("--netns needs a network namespace")?),
            "--server-ip" => args.server_ip = ip("--server-ip", it.next())?,
            "--client-ip" => args.client_ip = ip("--client-ip", it.next())?,
            "--forward" => {
                let listen = it.next().ok_or("--forward needs an address and ports")?;
                let listen = listen.parse().map_err(|_| format!("--forward {listen:?}: not an address"))?;
                let ports = it.next().ok_or("--forward needs the subscribers' ports")?;
                let ports = ports
                    .split(',')
                    .map(|p| p.parse::<u16>().map_err(|_| format!("--forward: {p:?} is not a port")))
                    .collect::<Result<_, _>>()?;
                args.forward = Some((listen, ports));
            }
            "-h" | "--help" => {
                return Err("usage: sfu_floor [--subscribers N] [--seconds D] [--warmup W] [--kbps K] [--json] \
                     [--server-cpus LIST] [--netns NAME --server-ip IP --client-ip IP]"
                    .into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if args.subscribers > 2000 {
        return Err("--subscribers: at most 2000".into());
    }
    Ok(args)
}

fn main() {
    let result = parse_args(std::env::args().skip(1).collect()).and_then(|args| match &args.forward {
        Some((listen, ports)) => {
            let subscribers = ports.iter().map(|&p| SocketAddr::new(args.client_ip, p)).collect();
            bind(listen.ip(), listen.port()).and_then(|socket| {
                println!("ready");
                forward(socket, subscribers)
            })
        }
        None => measure(&args),
    });
    if let Err(e) = result {
        eprintln!("sfu_floor: {e}");
        std::process::exit(1);
    }
}

fn bind(ip: IpAddr, port: u16) -> Result<UdpSocket, Failure> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, port)).map_err(|e| fail(&format!("bind {ip}:{port}"), e))?;
    // Smaller buffers than asked are no error: the SFU runs with what the kernel gives too.
    let _ = setsockopt(&socket, sockopt::RcvBuf, &SOCKET_BUFFER);
    let _ = setsockopt(&socket, sockopt::SndBuf, &SOCKET_BUFFER);
    Ok(socket)
}

// ---------------------------------------------------------------------------------------------
// The forwarder

/// Read what has come, up to a burst; send each forwarded packet to every subscriber, a
/// subscriber's packets one after another (so that the kernel takes them as one message, as
/// the SFU's flush gives them); repeat until killed.
fn forward(mut socket: UdpSocket, subscribers: Vec<SocketAddr>) -> Result<(), Failure> {
    let mut poll = Poll::new().map_err(|e| fail("epoll", e))?;
    poll.registry().register(&mut socket, Token(0), Interest::READABLE).map_err(|e| fail("epoll", e))?;
    let mut events = Events::with_capacity(4);
    let mut batch = SendBatch::default();
    let mut buf = vec![0u8; 2048];
    let mut burst: Vec<Vec<u8>> = Vec::with_capacity(READ_BURST);
    loop {
        poll.poll(&mut events, Some(Duration::from_millis(100))).map_err(|e| fail("epoll", e))?;
        loop {
            burst.clear();
            while burst.len() < READ_BURST {
                match socket.recv_from(&mut buf) {
                    Ok((n, _)) if n > HEADER && FORWARDED.contains(&buf[0]) => burst.push(buf[..n].to_vec()),
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(fail("read the forwarder's socket", e)),
                }
            }
            if burst.is_empty() {
                break;
            }
            for &destination in &subscribers {
                for packet in &burst {
                    batch.push(&socket, Datagram { destination, contents: packet.clone() });
                }
            }
            batch.finish(&socket);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tool: the publisher and the subscribers

/// What one run measured.
struct Report {
    subscribers: usize,
    forwarded_per_second: f64,
    loss_percent: f64,
    latency: Option<Dist>,
    audio_latency: Option<Dist>,
    forwarder_busy_percent: f64,
    forwarder_us_per_datagram: f64,
    tool_busy_percent: f64,
}

fn measure(args: &Args) -> Result<(), Failure> {
    let mut poll = Poll::new().map_err(|e| fail("epoll", e))?;
    let mut receivers = Vec::with_capacity(args.subscribers);
    for k in 0..args.subscribers {
        let mut socket = bind(args.client_ip, 0)?;
        arrival::enable(&socket).map_err(|e| fail("UDP socket arrival times", e))?;
        poll.registry().register(&mut socket, Token(k), Interest::READABLE).map_err(|e| fail("epoll", e))?;
        receivers.push(socket);
    }
    let ports: Vec<String> = receivers
        .iter()
        .map(|s| s.local_addr().map(|a| a.port().to_string()))
        .collect::<Result<_, _>>()
        .map_err(|e| fail("a subscriber's port", e))?;
    let forwarder_addr = SocketAddr::new(args.server_ip, FORWARDER_PORT);
    let exe = std::env::current_exe().map_err(|e| fail("this program's path", e))?;
    let launch = Launch {
        pin_cpus: args.server_cpus.as_deref(),
        netns: args.netns.as_deref(),
        ip: args.server_ip,
        ..Default::default()
    };
    let mut command = launch_command(&exe, &launch);
    command
        .arg("--forward")
        .arg(forwarder_addr.to_string())
        .arg(ports.join(","))
        .arg("--client-ip")
        .arg(args.client_ip.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let child = command.spawn().map_err(|e| fail("start the forwarder", e))?;
    let mut forwarder = Forwarder(child);
    let pid = forwarder.0.id().to_string();
    let mut ready = String::new();
    let stdout = forwarder.0.stdout.take().ok_or("the forwarder's output")?;
    BufReader::new(stdout).read_line(&mut ready).map_err(|e| fail("wait for the forwarder", e))?;
    if ready.trim() != "ready" {
        return Err("the forwarder did not start (see its error above)".into());
    }

    let publisher = bind(args.client_ip, 0)?;
    let base = Instant::now();
    let mut schedule = Schedule::new(Camera::simulcast(args.kbps * 1000), base);
    let window_start = base + Duration::from_secs(args.warmup);
    let window_end = window_start + Duration::from_secs(args.seconds);
    let window_ns = nanos(base, window_start)..nanos(base, window_end);
    let in_window = |sent_ns: u64| window_ns.contains(&sent_ns);
    let mut next_due = base;
    let mut sent_in_window = 0u64;
    let mut received_in_window = 0u64;
    let mut latency_ns = Vec::new();
    let mut audio_latency_ns = Vec::new();
    let mut samples = None;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 2048];
    let mut control = arrival::control_space();
    let mut datagram = Vec::with_capacity(2048);
    loop {
        let now = Instant::now();
        if now >= window_start && samples.is_none() {
            samples = Some((proc_stats::sample(&pid)?, proc_stats::sample("self")?));
        }
        if now >= window_end + DRAIN {
            break;
        }
        if now >= next_due && now < window_end {
            let due = schedule.poll(now);
            next_due = due.next;
            for packet in due.packets {
                let (layer, mut body) = match packet {
                    Packet::Video { layer, payload, .. } => (layer as u8, payload),
                    Packet::Audio { payload, .. } => (payload::AUDIO_LAYER, payload),
                };
                let sent_ns = nanos(base, Instant::now());
                if layer != payload::AUDIO_LAYER {
                    payload::restamp(&mut body, sent_ns);
                }
                datagram.clear();
                datagram.push(layer);
                datagram.resize(HEADER, 0);
                datagram.extend_from_slice(&body);
                match publisher.send_to(&datagram, forwarder_addr) {
                    Ok(_) if FORWARDED.contains(&layer) && in_window(sent_ns) => sent_in_window += 1,
                    Ok(_) => {}
                    // Not sent, so not owed to anyone: the floor measures the forwarder's
                    // losses, not the tool's.
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Err(fail("send to the forwarder", e)),
                }
            }
        }
        let wait = if now < window_end { next_due.saturating_duration_since(now) } else { DRAIN };
        match poll.poll(&mut events, Some(wait.min(Duration::from_millis(10)))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail("epoll", e)),
        }
        for event in events.iter() {
            let Some(socket) = receivers.get(event.token().0) else { continue };
            loop {
                let d = match arrival::recv(socket, &mut buf, &mut control) {
                    Ok(d) => d,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(fail("read a subscriber's socket", e)),
                };
                let Some(stamp) = buf.get(HEADER..d.len).and_then(payload::find_stamp) else { continue };
                if !in_window(stamp.sent_ns) {
                    continue;
                }
                received_in_window += 1;
                let latency = nanos(base, d.arrived).saturating_sub(stamp.sent_ns);
                latency_ns.push(latency);
                if stamp.layer == payload::AUDIO_LAYER {
                    audio_latency_ns.push(latency);
                }
            }
        }
    }
    let Some((forwarder_before, tool_before)) = samples else { return Err("the run ended before its window".into()) };
    // The window's CPU is read after the drain, so the forwarder's work on the window's last
    // packets is in it; it sent nothing else meanwhile.
    let (forwarder_cpu_ms, _) = proc_stats::sample(&pid)?.cpu_since(&forwarder_before);
    let (_, tool_busy_percent) = proc_stats::sample("self")?.cpu_since(&tool_before);
    let expected = sent_in_window * args.subscribers as u64;
    let window = Duration::from_secs(args.seconds).as_secs_f64();
    let report = Report {
        subscribers: args.subscribers,
        forwarded_per_second: received_in_window as f64 / window,
        loss_percent: if expected > 0 {
            100.0 * expected.saturating_sub(received_in_window) as f64 / expected as f64
        } else {
            100.0
        },
        latency: Dist::of_nanos(latency_ns),
        audio_latency: Dist::of_nanos(audio_latency_ns),
        forwarder_busy_percent: 100.0 * forwarder_cpu_ms as f64 / (window * 1000.0),
        forwarder_us_per_datagram: if received_in_window > 0 {
            forwarder_cpu_ms as f64 * 1000.0 / received_in_window as f64
        } else {
            0.0
        },
        tool_busy_percent,
    };
    print_report(&report, args.json);
    Ok(())
}

/// The forwarder as a child process; killed when dropped.
struct Forwarder(std::process::Child);

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn print_report(r: &Report, json: bool) {
    if json {
        let value = serde_json::json!({
            "subscribers": r.subscribers,
            "forwarded_per_second": r.forwarded_per_second,
            "loss_percent": r.loss_percent,
            "latency_ms": Dist::json(&r.latency),
            "audio_latency_ms": Dist::json(&r.audio_latency),
            "forwarder": {
                "cpu_percent_of_core": r.forwarder_busy_percent,
                "cpu_us_per_forwarded_datagram": r.forwarder_us_per_datagram,
            },
            "tool_cpu_percent_of_core": r.tool_busy_percent,
        });
        println!("{value}");
        return;
    }
    let ms = |d: &Option<Dist>, f: fn(&Dist) -> f64| d.as_ref().map_or("-".into(), |d| format!("{:.2}", f(d)));
    println!(
        "subscribers {} | forwarded/s {:.0} | loss {:.3}% | latency p50 {} p99 {} p99.9 {} ms | audio p99 {} ms | \
         forwarder {:.1}% of a core, {:.2} µs a datagram | tool {:.0}% of a core",
        r.subscribers,
        r.forwarded_per_second,
        r.loss_percent,
        ms(&r.latency, |d| d.p50),
        ms(&r.latency, |d| d.p99),
        ms(&r.latency, |d| d.p999),
        ms(&r.audio_latency, |d| d.p99),
        r.forwarder_busy_percent,
        r.forwarder_us_per_datagram,
        r.tool_busy_percent,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarder_sends_the_top_layer_and_audio_to_every_subscriber_and_nothing_else() {
        let loopback: IpAddr = Ipv4Addr::LOCALHOST.into();
        let subscribers: Vec<std::net::UdpSocket> =
            (0..3).map(|_| std::net::UdpSocket::bind((loopback, 0)).unwrap()).collect();
        let forwarder = bind(loopback, 0).unwrap();
        let forwarder_addr = forwarder.local_addr().unwrap();
        let addresses = subscribers.iter().map(|s| s.local_addr().unwrap()).collect();
        std::thread::spawn(move || forward(forwarder, addresses));

        let publisher = std::net::UdpSocket::bind((loopback, 0)).unwrap();
        let packet = |layer: u8, fill: u8| {
            let mut p = vec![layer];
            p.resize(HEADER, 0);
            p.extend_from_slice(&[fill; 100]);
            p
        };
        // The low and middle layers are not forwarded; a datagram with no payload is not either.
        let sent = [packet(0, 1), packet(2, 2), packet(1, 3), packet(payload::AUDIO_LAYER, 4), vec![2; HEADER]];
        for p in &sent {
            publisher.send_to(p, forwarder_addr).unwrap();
        }
        for subscriber in &subscribers {
            subscriber.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 512];
            while got.len() < 2 {
                let (n, from) = subscriber.recv_from(&mut buf).expect("the forwarded packets arrive");
                assert_eq!(from, forwarder_addr);
                got.push(buf[..n].to_vec());
            }
            assert_eq!(got, [sent[1].clone(), sent[3].clone()], "the top layer and audio, in order, whole");
            subscriber.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
            assert!(subscriber.recv_from(&mut buf).is_err(), "nothing else is forwarded");
        }
    }
}
