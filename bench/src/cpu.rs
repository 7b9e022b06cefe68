//! CPU seconds of the server under test (and of a database with its backends), read from
//! /proc (Linux): what `--server-pid` reports over the measured window.

use std::time::{Duration, Instant};

/// The fields of `/proc/<pid>/stat` after the command name (state is the first).
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    Some(after.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect())
}

/// Utime + stime of a process, in seconds (Linux /proc).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let f = stat_fields(pid)?;
    Some((f.get(11)? + f.get(12)?) as f64 / 100.0)
}

/// CPU seconds of a process and its children: its own, its exited children's (waited
/// for), and those alive now (a database's backends come and go with connections).
pub fn tree_cpu_seconds(pid: u32) -> Option<f64> {
    let own = stat_fields(pid)?;
    let mut ticks = own.get(11)? + own.get(12)? + own.get(13)? + own.get(14)?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(f) = stat_fields(child).filter(|f| f.get(1) == Some(&u64::from(pid))) {
            ticks += f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0);
        }
    }
    Some(ticks as f64 / 100.0)
}

/// Waits until the server is idle (under 5% of a core over half a second, at most a
/// minute): what logging in caused (lists, catch-up) is done before anything is measured.
pub async fn settle(pid: Option<u32>) {
    let Some(pid) = pid else { return };
    let until = Instant::now() + Duration::from_secs(60);
    let mut last = cpu_seconds(pid);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = cpu_seconds(pid);
        if let (Some(a), Some(b)) = (last, now) {
            if b - a < 0.025 {
                return;
            }
        }
        last = now;
    }
    eprintln!("the server did not settle within a minute");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_time_of_a_process_is_read_from_proc() {
        let mine = cpu_seconds(std::process::id()).expect("this process's stat is readable");
        // Busy for a while (however loaded the machine): the reading must move.
        let spin = Instant::now();
        let mut later = mine;
        while later < mine + 0.05 && spin.elapsed() < Duration::from_secs(20) {
            later = cpu_seconds(std::process::id()).expect("again");
        }
        assert!(later >= mine + 0.05, "{mine} then {later}");
    }
}
