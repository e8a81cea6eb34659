//! sylink.xml in the package: missing, malformed, unmanaged, a server
//! without an address, and what that means with KeepPreviousSetting=1
//! (clients become self-managed after AutoUpgrade).

use super::*;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(
            "self-managed-after-upgrade",
            "error",
            "become self-managed",
            example(),
            &[],
        ),
        scenario(
            "sylink-missing",
            "error",
            "has no sylink.xml",
            {
                let mut f = managed();
                remove(&mut f, "sylink.xml");
                f
            },
            &[],
        ),
        scenario(
            "sylink-malformed",
            "error",
            "sylink.xml: ",
            {
                let mut f = managed();
                set(
                    &mut f,
                    "sylink.xml",
                    b"<ServerSettings><CommConf></ServerSettings>".to_vec(),
                );
                f
            },
            &[],
        ),
        // With KeepPreviousSetting=0, an unmanaged sylink.xml is an error on its own.
        scenario(
            "sylink-unmanaged",
            "error",
            "no ServerCertList/Certificate",
            {
                let mut f = managed();
                set(&mut f, "sylink.xml", r#gen::unmanaged_sylink());
                f
            },
            &[],
        ),
        scenario(
            "sylink-empty-server-address",
            "warning",
            "1 Server element(s) have an empty Address",
            {
                let mut f = managed();
                let text = String::from_utf8(r#gen::managed_sylink()).unwrap().replace(
                "<Server Address=\"10.0.0.111\"",
                "<Server Address=\"\" HttpPort=\"80\"/>\n        <Server Address=\"10.0.0.111\"",
            );
                set(&mut f, "sylink.xml", text.into_bytes());
                f
            },
            &[],
        ),
    ]
}
