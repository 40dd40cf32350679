//! Child processes of the local stack: process groups that stop as a whole,
//! and the `/proc` scan that finds a process's children.

use std::process::Child;
use std::time::{Duration, Instant};

/// A child that leads its own process group; stopping it stops the group
/// and the child's own children (which may have made groups of their own).
pub struct ProcessGroup(Option<Child>);

impl ProcessGroup {
    /// Takes charge of `child`, which must have been spawned with `process_group(0)`.
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    /// The leader's pid, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }

    /// SIGTERM to the group, SIGKILL after 3 s to what is left of it and to
    /// the leader's children.
    pub fn stop(&mut self) {
        let Some(mut child) = self.0.take() else {
            return;
        };
        let Ok(group) = i32::try_from(child.id()) else {
            return;
        };
        // With their start times, so a pid reused meanwhile is not killed.
        let children: Vec<_> = children_of(child.id())
            .into_iter()
            .map(|pid| (pid, start_time(pid)))
            .collect();
        signal(-group, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(-group, libc::SIGKILL);
        for (pid, started) in children {
            if let (Ok(pid), true) = (i32::try_from(pid), start_time(pid) == started) {
                signal(pid, libc::SIGKILL);
            }
        }
        let _ = child.wait();
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.stop();
    }
}

/// kill(2): `pid` > 0 is one process, < 0 a process group.
fn signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) only sends a signal; it touches no memory of ours.
    unsafe { libc::kill(pid, signal) };
}

/// The processes whose parent is `parent` (from `/proc`; none elsewhere).
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat_field(pid, 1) == Some(u64::from(parent)))
        .collect()
}

/// The program `pid` runs (the first word of its command line).
pub fn program_of(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let program = cmdline.split(|&b| b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(program).into_owned()
}

fn start_time(pid: u32) -> Option<u64> {
    stat_field(pid, 19)
}

/// Field `index` of `/proc/<pid>/stat`, counted from the one after the
/// process name (0: state, 1: parent, 19: start time).
fn stat_field(pid: u32, index: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().nth(index)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn stopping_a_group_stops_its_children() {
        let child = std::process::Command::new("sh")
            .args(["-c", "sleep 60 & sleep 60"])
            .process_group(0)
            .spawn()
            .unwrap();
        let leader = child.id();
        let mut group = ProcessGroup::new(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while children_of(leader).len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let children = children_of(leader);
        assert_eq!(children.len(), 2, "sh started two sleeps");
        assert!(program_of(children[0]).ends_with("sleep"));
        group.stop();
        // SIGKILL is delivered asynchronously: a child can still show `R`
        // right after stop() returns, so look again until a bounded deadline.
        let deadline = Instant::now() + Duration::from_secs(5);
        for pid in children {
            let mut stat = running_stat(pid);
            while stat.is_some() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
                stat = running_stat(pid);
            }
            assert!(stat.is_none(), "{pid} still runs 5 s after stop: {stat:?}");
        }
    }

    /// `/proc/<pid>/stat` while `pid` runs; `None` once it is gone or a
    /// zombie its new parent has not reaped yet.
    fn running_stat(pid: u32) -> Option<String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit_once(')')?.1.trim_start();
        (!state.starts_with('Z')).then_some(stat)
    }
}
