//! The `sepkg` binary: parse the command line, run it, exit with its code.

fn main() -> std::process::ExitCode {
    catch_file_size_signal();
    sepkg::interrupt::install();
    match sepkg::cli::parse(std::env::args_os()) {
        Ok(cli) => sepkg::cli::run(cli).into(),
        Err(code) => code.into(),
    }
}

/// A file-size limit (`ulimit -f`) kills a process that writes past it with
/// SIGXFSZ, mid-write, with its temporary file left behind and no message of
/// ours. With the signal caught, the write fails with EFBIG instead: the
/// error names the file and the temporary files are removed. Windows has
/// no such limit or signal: a quota or a full disk fails the write with an
/// error, which takes the same path.
fn catch_file_size_signal() {
    #[cfg(unix)]
    {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Failing to install it only leaves the default behaviour.
        let _ = signal_hook::flag::register(signal_hook::consts::SIGXFSZ, flag);
    }
}
