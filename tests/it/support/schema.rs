//! The JSON Schemas in `schemas/`, compiled once, and a check of a
//! document against one of them. The tests that produce a manifest, an
//! audit report or an index.json pass it through [`check`], so the schemas
//! are held to every real output the tests make.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

/// The schema files, by name.
pub const MANIFEST: &str = "sepkg-manifest-1.json";
pub const AUDIT: &str = "sepkg-audit-1.json";
pub const INDEX: &str = "sepkg-index-1.json";

struct Compiled {
    schemas: boon::Schemas,
    index: BTreeMap<&'static str, boon::SchemaIndex>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let mut index = BTreeMap::new();
        for name in [MANIFEST, AUDIT, INDEX] {
            let value = load(name);
            let loc = format!("file:///schemas/{name}");
            compiler.add_resource(&loc, value).unwrap();
            let i = compiler
                .compile(&loc, &mut schemas)
                .unwrap_or_else(|e| panic!("schemas/{name} does not compile: {e:#}"));
            index.insert(name, i);
        }
        Compiled { schemas, index }
    })
}

/// `schemas/NAME` as JSON.
pub fn load(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Why `doc` is not valid under `schemas/NAME`, if it is not.
pub fn problem(name: &str, doc: &serde_json::Value) -> Option<String> {
    let c = compiled();
    c.schemas
        .validate(doc, c.index[name])
        .err()
        .map(|e| format!("{e:#}"))
}

/// Panics, naming what does not fit, unless `doc` is valid under `schemas/NAME`.
pub fn check(name: &str, doc: &serde_json::Value) {
    if let Some(e) = problem(name, doc) {
        panic!("not valid under schemas/{name}: {e}\n{doc:#}");
    }
}

/// [`check`] for a JSON file on disk.
pub fn check_file(name: &str, file: &Path) {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    check(name, &doc);
}
