//! Containing panics of crates that can panic on crafted input (the `cab`
//! and `msi` readers): a panic becomes an error message, and the panic hook
//! stays quiet about it.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

thread_local! {
    /// True while this thread runs a contained call: its panics are errors,
    /// not bugs, so the panic hook stays quiet.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into `Err("the {what} reader failed on
/// malformed data (MESSAGE)")`. The panic hook is chained once so that
/// contained panics print nothing; other panics still reach the previous hook.
pub(crate) fn contain<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = CONTAINED.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(was));
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_string());
        format!("the {what} reader failed on malformed data ({message})")
    })
}
