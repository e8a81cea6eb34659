//! The integration tests: one binary, `cargo test` runs it (and
//! `cargo test -- --list` names every trial).
//!
//! One binary instead of one per file: `support/` is compiled and the
//! crate linked once, and every trial shares one pool of threads, so a slow
//! one (a 48 MiB SIGKILL, a byte-flip sweep, a web server) runs beside the
//! quick ones instead of after a whole file of them.
//!
//! The binary has its own harness (`libtest-mimic`, `harness = false` in
//! Cargo.toml) because the hostile corpus is data: each case is a trial per
//! command and output format it runs with (`hostile::zip::dotdot::to_cab`),
//! made at run time, which `#[test]` cannot do. One harness for the whole
//! binary rather than a second binary for the corpus: one link, one pool,
//! one list; the price is that a test function is listed in its module's
//! `tests![...]` instead of carrying `#[test]` (a function left out is dead
//! code, which clippy fails on; a `#[test]` is caught by a trial), and that
//! output is not captured: what a passing test prints (a SKIPPED tool, a
//! corpus count) shows.
//!
//! Run one trial by name: `cargo test --test it -- hostile::cab::cab_cut_3::to_zip --exact`.
#![cfg_attr(not(unix), allow(unused))]

mod audit;
mod authenticode;
mod cab;
mod conventions;
mod exe;
#[cfg(unix)]
mod hostile;
mod publish;
mod schemas;
mod setaid_props;
mod sevenz;
mod sevenz_cli;
mod signed;
mod support;
mod transform;
mod verify;
mod webroot;
mod zipfidelity;

/// Trials that fail today because of a bug in `src/`, with the bug. Each
/// asserts the correct behaviour and still runs: while it fails it is
/// reported as ignored ("known bug: ..." and the first line of what went
/// wrong); once it passes it fails, asking for its line here to be removed.
pub const KNOWN_BUGS: &[(&str, &str)] = &[];

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    // Trials start in this order, on as many threads as cores: the few
    // slow ones (a 6 MiB deflate, a killed publish, the byte-flip sweeps)
    // first, the hundreds of quick corpus trials last, so that no slow
    // trial starts when the others are done.
    let mut trials = Vec::new();
    trials.extend(webroot::trials());
    trials.extend(publish::trials());
    trials.extend(transform::trials());
    #[cfg(unix)]
    trials.extend(hostile::slow_trials());
    trials.extend(cab::trials());
    trials.extend(exe::trials());
    trials.extend(sevenz::trials());
    trials.extend(sevenz_cli::trials());
    trials.extend(authenticode::trials());
    trials.extend(verify::trials());
    trials.extend(signed::trials());
    trials.extend(zipfidelity::trials());
    trials.extend(conventions::trials());
    trials.extend(schemas::trials());
    trials.extend(setaid_props::trials());
    trials.extend(audit::trials());
    #[cfg(unix)]
    trials.extend(hostile::trials());
    trials.extend(support::harness::trials());
    let names = trials.iter().map(|t| t.name().to_string()).collect();
    trials.push(support::harness::known_bugs_are_trials(names));
    libtest_mimic::run(&args, trials).exit();
}
