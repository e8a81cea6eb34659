//! How the tests become trials for `libtest-mimic` (see `main.rs` for why
//! the binary has its own harness).
//!
//! Every trial is made here, by [`test`] (a plain test that panics on
//! failure, what `#[test]` was) or [`trial`] (one that returns what went
//! wrong), so that the [`KNOWN_BUGS`](crate::KNOWN_BUGS) list applies to
//! all of them in one place.

use std::panic::{AssertUnwindSafe, catch_unwind};

use libtest_mimic::{Completion, Failed, Trial};

/// The trials of a module's plain test functions, named
/// `module::function` as the built-in harness names them:
/// `tests![a, b]` in `transform.rs` gives `transform::a` and `transform::b`.
///
/// A function written but not listed is dead code, which the compiler
/// reports and clippy's `-D warnings` fails on; a `#[test]` attribute is
/// caught by `harness::no_test_attribute_is_silently_skipped`.
macro_rules! tests {
    ($($f:ident),* $(,)?) => {
        vec![$($crate::support::harness::test(
            $crate::support::harness::name(module_path!(), stringify!($f)),
            $f,
        )),*]
    };
}
pub(crate) use tests;

/// `module_path!()` without the crate's own name, then `::function`.
pub fn name(module: &str, function: &str) -> String {
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    if module.is_empty() {
        function.to_string()
    } else {
        format!("{module}::{function}")
    }
}

/// A trial for a test function that panics when it fails.
pub fn test(name: String, f: fn()) -> Trial {
    trial(name, move || {
        f();
        Ok(())
    })
}

/// A trial for a test function that takes what varies between its
/// trials (an output format, a scenario) and panics when it fails.
pub fn test_with<T: Send + 'static>(name: String, arg: T, f: fn(T)) -> Trial {
    trial(name, move || {
        f(arg);
        Ok(())
    })
}

/// A trial for a check that returns what went wrong. When its name is in
/// [`KNOWN_BUGS`](crate::KNOWN_BUGS) it still runs: failing, it is
/// reported as ignored with the bug and what it printed; passing, it fails
/// so that the entry is removed and the trial guards the fix.
pub fn trial(
    name: impl Into<String>,
    check: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Trial {
    let name = name.into();
    let known = crate::KNOWN_BUGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why);
    Trial::ignorable_test(name, move || {
        let Some(why) = known else {
            return check()
                .map(|()| Completion::Completed)
                .map_err(Failed::from);
        };
        let outcome = catch_unwind(AssertUnwindSafe(check)).unwrap_or_else(|panic| {
            Err(panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".to_string()))
        });
        match outcome {
            Err(failure) => {
                let first = failure.lines().next().unwrap_or("");
                Ok(Completion::ignored_with(format!(
                    "known bug: {why}: {first}"
                )))
            }
            Ok(()) => Err(Failed::from(format!(
                "listed in KNOWN_BUGS ({why}) but passes: remove it from the list"
            ))),
        }
    })
}

/// Every name in `KNOWN_BUGS` must be a trial: a renamed trial would
/// otherwise lose its entry silently.
pub fn known_bugs_are_trials(names: Vec<String>) -> Trial {
    Trial::test(
        "support::harness::known_bugs_name_existing_trials",
        move || {
            let stale: Vec<&str> = crate::KNOWN_BUGS
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| !names.iter().any(|t| t == n))
                .collect();
            if stale.is_empty() {
                Ok(())
            } else {
                Err(format!("KNOWN_BUGS names no trial: {stale:?}").into())
            }
        },
    )
}

/// With `harness = false` a `#[test]` function is compiled out without a
/// word: this trial fails when one is written in `tests/it`.
fn no_test_attribute_is_silently_skipped() {
    let attribute = ["#[", "test]"].concat();
    let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it")];
    let mut found = Vec::new();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                if text.lines().any(|l| l.trim_start().starts_with(&attribute)) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "{attribute} never runs in this binary (harness = false): list the function in its module's tests![...] instead: {found:?}"
    );
}

pub fn trials() -> Vec<Trial> {
    tests![no_test_attribute_is_silently_skipped]
}
