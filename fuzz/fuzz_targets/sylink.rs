//! The sylink.xml validator on arbitrary bytes: never panics, and answers
//! the same way twice.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let first = sepkg::sylink::inspect(data);
    if let Ok(info) = &first {
        let _ = (info.missing(), info.is_managed(), info.empty_addresses());
    }
    assert_eq!(
        first,
        sepkg::sylink::inspect(data),
        "inspect must be deterministic"
    );
});
