//! One child process measured whole, start-up included: wall time from spawn to exit,
//! and CPU time and peak RSS as the kernel accounts them when the child is reaped
//! (`wait4`'s `rusage` covers the child and every descendant it waited for, so an
//! interpreter's worker threads and helper processes count too).
//!
//! `std::process::Child::wait` drops the `rusage`, hence the two `libc` calls here;
//! they are the only unsafe code in the bench.

use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// What one run cost.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub wall: Duration,
    /// User plus system CPU seconds of the child and its descendants.
    pub cpu_secs: f64,
    /// Largest resident set of the child or any one descendant, in bytes.
    pub peak_rss: u64,
}

impl Usage {
    /// Two processes run one after the other (e.g. `sluice connect`, then `scan`):
    /// times add up, the peak is the larger one.
    pub fn then(self, next: Usage) -> Usage {
        Usage {
            wall: self.wall + next.wall,
            cpu_secs: self.cpu_secs + next.cpu_secs,
            peak_rss: self.peak_rss.max(next.peak_rss),
        }
    }
}

/// Runs `command` to completion with stdout and stderr written to the given files and
/// returns what it cost; a non-zero exit or a run longer than `timeout` (the child is
/// killed then) is an error naming the stderr file.
pub fn run(
    command: &mut Command,
    stdout: &Path,
    stderr: &Path,
    timeout: Duration,
) -> anyhow::Result<Usage> {
    let out = File::create(stdout).with_context(|| stdout.display().to_string())?;
    let err = File::create(stderr).with_context(|| stderr.display().to_string())?;
    let started = Instant::now();
    let child = command
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {:?}", command.get_program()))?;
    let pid = libc::pid_t::try_from(child.id())?;
    // Whether the child has exited; the watchdog only signals a pid while it is false,
    // and it turns true before the zombie is reaped, so the signal can never reach a
    // process that reused the pid.
    let exited = Arc::new(Mutex::new(false));
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = {
        let exited = exited.clone();
        std::thread::spawn(move || {
            if finished.recv_timeout(timeout).is_err() {
                let exited = exited.lock().unwrap_or_else(|p| p.into_inner());
                if !*exited {
                    sys::kill(pid);
                }
                return true;
            }
            false
        })
    };
    sys::wait_exited(pid)?;
    *exited.lock().unwrap_or_else(|p| p.into_inner()) = true;
    let (status, usage) = sys::reap(pid)?;
    let wall = started.elapsed();
    let _ = done.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    drop(child);
    anyhow::ensure!(
        !timed_out,
        "{:?} ran longer than {timeout:?} and was killed (stderr: {})",
        command.get_program(),
        stderr.display()
    );
    anyhow::ensure!(
        status == 0,
        "{:?} failed ({}); stderr: {}",
        command.get_program(),
        sys::describe(status),
        tail(stderr)
    );
    Ok(Usage {
        wall,
        cpu_secs: usage.cpu_secs,
        peak_rss: usage.peak_rss,
    })
}

/// The last lines of a log file, for error messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(15);
    format!("{}:\n{}", path.display(), lines[from..].join("\n"))
}

/// The kernel's accounting of a reaped child.
struct Reaped {
    cpu_secs: f64,
    peak_rss: u64,
}

#[allow(unsafe_code)]
mod sys {
    use super::Reaped;

    /// Blocks until `pid` has exited, leaving it a zombie (`WNOWAIT`).
    pub(super) fn wait_exited(pid: libc::pid_t) -> std::io::Result<()> {
        loop {
            // SAFETY: `siginfo_t` is plain data for which all zeroes is valid, and
            // `waitid` writes only through the pointer, which outlives the call.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let id = libc::id_t::try_from(pid).unwrap_or_default();
            // SAFETY: as above.
            let r =
                unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
            if r == 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Reaps `pid`: its wait status and its (and its waited-for descendants') usage.
    pub(super) fn reap(pid: libc::pid_t) -> std::io::Result<(libc::c_int, Reaped)> {
        let mut status: libc::c_int = 0;
        // SAFETY: `rusage` is plain data for which all zeroes is valid.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: `wait4` writes only through the two pointers, which outlive it.
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            if r == pid {
                let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
                return Ok((
                    status,
                    Reaped {
                        cpu_secs: secs(usage.ru_utime) + secs(usage.ru_stime),
                        // Linux reports kilobytes.
                        peak_rss: u64::try_from(usage.ru_maxrss).unwrap_or_default() * 1024,
                    },
                ));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    pub(super) fn kill(pid: libc::pid_t) {
        // SAFETY: sending a signal has no memory-safety preconditions; the caller
        // guarantees `pid` is still our unreaped child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }

    /// "exit code 2" or "killed by signal 9".
    pub(super) fn describe(status: libc::c_int) -> String {
        if libc::WIFEXITED(status) {
            format!("exit code {}", libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            format!("killed by signal {}", libc::WTERMSIG(status))
        } else {
            format!("wait status {status}")
        }
    }
}
