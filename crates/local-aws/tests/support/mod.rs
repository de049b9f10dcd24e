//! What several test binaries of the twin share.

use local_aws::StackOptions;

/// A stack with moto and without handlers; `None` (after a note) when `.venv` is not set up.
pub fn moto_options() -> Option<StackOptions> {
    let opts = StackOptions {
        echo_logs: false,
        ..StackOptions::default().without_handlers()
    };
    if opts.moto_bin.exists() {
        Some(opts)
    } else {
        eprintln!(
            "skipping: {} missing (run scripts/setup-venv.sh)",
            opts.moto_bin.display()
        );
        None
    }
}
