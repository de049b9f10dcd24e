//! Keeps idle cores from sleeping while the benchmark measures (`/dev/cpu_dma_latency` held at 0, as
//! `cyclictest` and other latency benchmarks do).
//!
//! Every AWS call leaves the handler idle until the twin answers, and the twin idle until the next
//! call. A core with nothing to run halts, and on a VM waking it again is a trip through the
//! hypervisor: on this project's machine (a nested Firecracker guest booted with
//! `haltpoll.guest_halt_poll_ns=0`, so an idle vCPU halts at once) that trip lands between the answer
//! reaching the socket and the handler reading it, on every call, and counted as the bridge's
//! overhead. It is the host's cost, not the bridge's, and a host tuned for latency does not pay it,
//! so the benchmark asks the kernel to keep idle cores polling while it holds the file open. Without
//! the permission (not root) it measures as the machine is and says so; `--let-cores-sleep` chooses
//! that (`docs/performance.md` gives both).

use std::fs::File;
use std::io::Write;

const PM_QOS_FILE: &str = "/dev/cpu_dma_latency";

/// While alive, the kernel keeps idle cores from entering any sleep state with an exit latency.
pub struct AwakeCores {
    _qos: Option<File>,
    /// What the results say about it.
    pub state: String,
}

impl AwakeCores {
    /// Asks for idle cores to stay awake; never fails (the reason is in `state`).
    pub fn hold() -> Self {
        let held = File::options()
            .write(true)
            .open(PM_QOS_FILE)
            .and_then(|mut qos| qos.write_all(&0i32.to_ne_bytes()).map(|()| qos));
        match held {
            Ok(qos) => Self {
                _qos: Some(qos),
                state: format!("kept awake ({PM_QOS_FILE} = 0 while measuring)"),
            },
            Err(e) => Self {
                _qos: None,
                state: format!("allowed to sleep ({PM_QOS_FILE}: {e})"),
            },
        }
    }

    /// Leaves the machine's idle states as they are, for `why`.
    pub fn let_sleep(why: &str) -> Self {
        Self {
            _qos: None,
            state: format!("allowed to sleep ({why})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The limit the kernel applies now (reading the file gives the strictest request held).
    fn applied_limit_us() -> Option<i32> {
        let mut value = [0; 4];
        File::open(PM_QOS_FILE).ok()?.read_exact(&mut value).ok()?;
        Some(i32::from_ne_bytes(value))
    }

    #[test]
    fn holds_idle_cores_awake_exactly_while_alive() {
        let cores = AwakeCores::hold();
        // Root on Linux holds the request; anyone else is told why not.
        assert_eq!(
            cores._qos.is_some(),
            cores.state.starts_with("kept awake"),
            "{}",
            cores.state
        );
        if cores._qos.is_some() {
            assert_eq!(applied_limit_us(), Some(0), "the kernel applies the request");
            drop(cores);
            assert_ne!(applied_limit_us(), Some(0), "and lets it go with the handle");
        }
        let sleeping = AwakeCores::let_sleep("--smoke");
        assert!(sleeping.state.contains("--smoke"));
        assert_ne!(applied_limit_us(), Some(0));
    }
}
