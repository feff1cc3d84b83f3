//! Percentiles, and a process's CPU time and memory from `/proc`.

use super::{Failure, fail};
use serde_json::json;
use std::time::Instant;

/// `/proc/<pid>/stat` counts CPU time in clock ticks of USER_HZ, which is 100 on Linux.
const USER_HZ: u64 = 100;

/// Percentiles (nearest rank) and maximum of a set of durations, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Dist {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Dist {
    pub fn of_nanos(mut nanos: Vec<u64>) -> Option<Dist> {
        if nanos.is_empty() {
            return None;
        }
        nanos.sort_unstable();
        let n = nanos.len();
        let rank = |p: f64| nanos[((p * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1e6;
        Some(Dist { count: n, p50: rank(0.50), p90: rank(0.90), p99: rank(0.99), p999: rank(0.999), max: rank(1.0) })
    }

    pub fn json(this: &Option<Dist>) -> serde_json::Value {
        match this {
            Some(d) => json!({
                "count": d.count, "p50": d.p50, "p90": d.p90, "p99": d.p99, "p99_9": d.p999, "max": d.max,
            }),
            None => serde_json::Value::Null,
        }
    }
}

/// UDP datagrams the kernel dropped because a socket's buffer was full, counted over every
/// socket in a process's network namespace (`/proc/<pid>/net/snmp`): the process's alone
/// only when it has a namespace to itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpDrops {
    pub receive_buffer: u64,
    pub send_buffer: u64,
}

impl UdpDrops {
    pub fn since(&self, before: &UdpDrops) -> UdpDrops {
        UdpDrops {
            receive_buffer: self.receive_buffer.saturating_sub(before.receive_buffer),
            send_buffer: self.send_buffer.saturating_sub(before.send_buffer),
        }
    }
}

pub fn udp_drops(pid: &str) -> Result<UdpDrops, Failure> {
    let snmp =
        std::fs::read_to_string(format!("/proc/{pid}/net/snmp")).map_err(|e| fail("read /proc/<pid>/net/snmp", e))?;
    parse_udp_drops(&snmp).ok_or_else(|| "no UDP buffer counters in /proc/<pid>/net/snmp".into())
}

/// The `Udp:` lines of `/proc/net/snmp`: a line of names, then a line of values.
fn parse_udp_drops(snmp: &str) -> Option<UdpDrops> {
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next()?, udp.next()?);
    let counter = |name: &str| {
        let at = names.split_whitespace().position(|n| n == name)?;
        values.split_whitespace().nth(at)?.parse().ok()
    };
    Some(UdpDrops { receive_buffer: counter("RcvbufErrors")?, send_buffer: counter("SndbufErrors")? })
}

/// One reading of a process's CPU time and memory.
#[derive(Clone, Copy, Debug)]
pub struct ProcSample {
    pub cpu_ms: u64,
    pub rss_kb: u64,
    pub hwm_kb: u64,
    pub threads: u64,
    pub at: Instant,
}

/// Read `/proc/<pid>/stat` and `/proc/<pid>/status`; `pid` may be `self`.
pub fn sample(pid: &str) -> Result<ProcSample, Failure> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| fail("read /proc/<pid>/stat", e))?;
    // Fields after the command name (which is in parentheses and may hold spaces): state is
    // field 3, utime field 14, stime field 15.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).ok_or("unreadable /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick =
        |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or("unreadable CPU time in /proc/<pid>/stat");
    let ticks = tick(14 - 3)? + tick(15 - 3)?;
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| fail("read /proc/<pid>/status", e))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(ProcSample {
        cpu_ms: ticks * 1000 / USER_HZ,
        rss_kb: field("VmRSS:"),
        hwm_kb: field("VmHWM:"),
        threads: field("Threads:"),
        at: Instant::now(),
    })
}

impl ProcSample {
    /// CPU milliseconds used since `earlier`, and that as a percentage of one core.
    pub fn cpu_since(&self, earlier: &ProcSample) -> (u64, f64) {
        let cpu = self.cpu_ms.saturating_sub(earlier.cpu_ms);
        let wall = self.at.duration_since(earlier.at).as_secs_f64() * 1000.0;
        (cpu, if wall > 0.0 { 100.0 * cpu as f64 / wall } else { 0.0 })
    }
}

pub fn loadavg() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut v = text.split_whitespace().map(|f| f.parse::<f64>().unwrap_or(f64::NAN));
    [v.next().unwrap_or(f64::NAN), v.next().unwrap_or(f64::NAN), v.next().unwrap_or(f64::NAN)]
}

/// The soft limit on open files, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line.trim_start_matches("Max open files").split_whitespace().next()?;
    if soft == "unlimited" { Some(u64::MAX) } else { soft.parse().ok() }
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_buffer_drops_are_read_by_name_from_the_snmp_table() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
            Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n\
            Udp: 900 3 12 800 11 1 0 0 0\n\
            UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n\
            UdpLite: 0 0 0 0 0 0 0 0 0\n";
        assert_eq!(parse_udp_drops(snmp), Some(UdpDrops { receive_buffer: 11, send_buffer: 1 }));
        assert_eq!(parse_udp_drops("Ip: Forwarding\nIp: 1\n"), None);
        let later = UdpDrops { receive_buffer: 15, send_buffer: 1 };
        assert_eq!(
            later.since(&UdpDrops { receive_buffer: 11, send_buffer: 1 }),
            UdpDrops { receive_buffer: 4, send_buffer: 0 }
        );
        // This machine's own table parses.
        assert!(udp_drops("self").is_ok());
    }
}
