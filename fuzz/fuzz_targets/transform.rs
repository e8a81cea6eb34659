//! The whole transform on arbitrary bytes as the input package: nothing
//! panics; an error leaves nothing under the output's names; a success
//! writes a package that opens again, and transforming it again gives the
//! same bytes (the second run has nothing to change).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sepkg::transform::{self, ManagedSylink};
use sepkg::{NoProgress, Package};

/// A managed sylink.xml, loaded once.
fn sylink() -> &'static ManagedSylink {
    static SYLINK: OnceLock<ManagedSylink> = OnceLock::new();
    SYLINK.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("managed.xml");
        std::fs::write(&path, MANAGED).expect("write sylink");
        ManagedSylink::load(&path).expect("the sample sylink.xml is managed")
    })
}

const MANAGED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ServerSettings DomainId="AB969193097B6C8502344D15563D3282" NameSpace="rpc"><CommConf>
<AgentCommunicationSetting CommunicationMode="PULL" Kcs="F51F0000111122223333444455556666"/>
<ServerList><ServerPriorityBlock Name="P1"><Server Address="sepm.example.com" HttpPort="8014"/></ServerPriorityBlock></ServerList>
<ServerCertList><Certificate Name="sepm">MIICOzCCAaSgAwIBAgIET8T9cDANBgkqhkiG9w0BAQUFADBi&#13;
MQswCQYD</Certificate></ServerCertList></CommConf></ServerSettings>
"#;

fuzz_target!(|data: &[u8]| {
    let sylink = sylink();
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let input = dir.path().join("in.zip");
    if std::fs::write(&input, data).is_err() {
        return;
    }
    let out = dir.path().join("out.zip");
    match transform::run(&input, sylink, &[], None, None, &out, &NoProgress) {
        Err(e) => {
            let _ = (e.to_string(), e.code(), e.hint());
            let mut left: Vec<_> = std::fs::read_dir(dir.path())
                .expect("list")
                .map(|e| e.expect("entry").file_name())
                .collect();
            left.sort();
            assert_eq!(left, ["in.zip"], "an error left files behind");
        }
        Ok(_) => {
            let first = std::fs::read(&out).expect("read output");
            let pkg = Package::open(&out).expect("the output must open again");
            assert!(
                !pkg.roots().is_empty(),
                "the output must have a package root"
            );
            let again = dir.path().join("again.zip");
            transform::run(&out, sylink, &[], None, None, &again, &NoProgress)
                .expect("transforming the output again must succeed");
            let second = std::fs::read(&again).expect("read second output");
            assert!(
                first == second,
                "a second transform must give the same bytes"
            );
        }
    }
});
