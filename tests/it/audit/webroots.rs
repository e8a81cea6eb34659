//! A folder of packages (a web root): each package audited, the records
//! publish keeps agreeing, and builds compared with each other (a
//! PackageCode or ProductCode reused).

use super::*;
use crate::support::harness::tests;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        a_web_root_audits_each_package_in_it,
        a_published_web_root_audits_clean_with_every_record_agreeing,
        builds_in_one_web_root_are_compared,
    ]
}

fn a_web_root_audits_each_package_in_it() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("www");
    std::fs::create_dir(&web).unwrap();
    std::fs::write(web.join("a-unmanaged.zip"), r#gen::zip(&example())).unwrap();
    std::fs::write(web.join("b-managed.zip"), r#gen::zip(&managed())).unwrap();
    std::fs::write(web.join("index.html"), "<html></html>").unwrap();
    r#gen::write_dir(&web.join("c-folder"), &managed());
    let (code, doc) = audit_json(&[path_arg(&web)]);
    assert_eq!(code, 1);
    let inputs: Vec<String> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            Path::new(p["input"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(inputs, ["a-unmanaged.zip", "b-managed.zip", "c-folder"]);
    let first: Vec<Value> = doc["packages"][0]["roots"][0]["findings"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        first
            .iter()
            .any(|f| f["code"] == "self-managed-after-upgrade")
    );
    let second = &doc["packages"][1]["roots"][0]["findings"];
    assert!(
        !second
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "error")
    );
}

fn a_published_web_root_audits_clean_with_every_record_agreeing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("SEP-managed.zip");
    sepkg()
        .arg("transform")
        .arg(fixtures().join(r#gen::EXAMPLE_ZIP))
        .arg("--sylink")
        .arg(fixtures().join(r#gen::EXAMPLE_SYLINK))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let web = tmp.path().join("www");
    std::fs::create_dir(&web).unwrap();
    sepkg()
        .arg("publish")
        .arg(&out)
        .arg("--to")
        .arg(&web)
        .assert()
        .success();
    let (code, doc) = audit_json(&[path_arg(&web)]);
    assert_eq!(code, 0, "{:#?}", findings(&doc));
    assert_eq!(doc["packages"].as_array().unwrap().len(), 1);
    let checks: Vec<(String, bool)> = doc["packages"][0]["hash_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["matches"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            ("sha256".to_string(), true),
            ("manifest".to_string(), true),
            ("sha256sums".to_string(), true)
        ]
    );
}

pub(super) const CROSS_CODES: [&str; 2] = ["package-code-reused", "product-code-reused"];

fn builds_in_one_web_root_are_compared() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("www");
    std::fs::create_dir(&web).unwrap();
    let with = |spec: &MsiSpec| {
        let mut f = managed();
        set(&mut f, "setup.ini", r#gen::setup_ini(&spec.version));
        set(&mut f, "Sep64.msi", r#gen::msi(spec));
        r#gen::zip(&f)
    };
    // a: the example build.
    std::fs::write(web.join("a.zip"), with(&MsiSpec::example(r#gen::VERSION))).unwrap();
    // b: a newer version that kept the ProductCode (not a major upgrade).
    let mut b = MsiSpec::example("14.3.9000.1");
    b.package_code = "{B0B1C2D3-E4F5-4607-8899-AABBCCDDEEFF}".into();
    std::fs::write(web.join("b.zip"), with(&b)).unwrap();
    // c: a new ProductCode and version, but a's PackageCode.
    let mut c = MsiSpec::example("14.3.9100.1");
    c.product_code = "{C1C2C3C4-5B6A-4789-8A7B-6C5D4E3F2A10}".into();
    std::fs::write(web.join("c.zip"), with(&c)).unwrap();
    // d: a copy of a (same build twice is fine).
    std::fs::copy(web.join("a.zip"), web.join("d.zip")).unwrap();

    let (code, doc) = audit_json(&[path_arg(&web)]);
    assert_eq!(code, 1);
    let of = |n: usize| -> BTreeSet<String> {
        doc["packages"][n]["roots"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .filter(|c| CROSS_CODES.contains(&c.as_str()))
            .collect()
    };
    assert!(of(0).is_empty());
    assert_eq!(of(1), BTreeSet::from(["product-code-reused".to_string()]));
    assert_eq!(of(2), BTreeSet::from(["package-code-reused".to_string()]));
    assert!(of(3).is_empty(), "{:?}", of(3));
    let f = finding(&doc, "product-code-reused");
    assert_eq!(f["severity"], "error");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("b.zip (version 14.3.9000.1)")
            && msg.contains("a.zip (version 14.3.8289.5000)"),
        "{msg}"
    );
    let f = finding(&doc, "package-code-reused");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("{A0B1C2D3-E4F5-4607-8899-AABBCCDDEEFF}")
    );
}
