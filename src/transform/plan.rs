//! Planning a transform: for each package root, the SetAid.ini edits and
//! the sylink.xml decision, as an output [`Layout`] with the changes and
//! warnings that explain it. Reads only the small files; writes nothing.

use crate::digest;
use crate::error::{Error, Location, Result};
use crate::manifest::{ChangeRecord, ChangedFile, RootRecord, Warning};
use crate::package::{Content, Item, Layout, Package, Root};
use crate::setaid::{self, Edit, IniFile};
use crate::sylink;

use super::ManagedSylink;

/// What [`plan`] decided: the output's entries and why they differ.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The output's entries.
    pub layout: Layout,
    /// Every package root.
    pub roots: Vec<RootRecord>,
    /// Every change, in root order.
    pub changes: Vec<ChangeRecord>,
    /// Things the user should check.
    pub warnings: Vec<Warning>,
}

/// Plans the output of `pkg`: edits each root's SetAid.ini and decides its
/// sylink.xml. Reads only the small files; nothing is written.
pub fn plan(pkg: &mut Package, sylink: &ManagedSylink, edits: &[Edit]) -> Result<Plan> {
    // Only folders holding a SetAid.ini: a package without one cannot be
    // made to keep its clients managed.
    let roots: Vec<(Root, usize)> = pkg
        .roots()
        .into_iter()
        .filter_map(|r| r.setaid.map(|s| (r, s)))
        .collect();
    if roots.is_empty() {
        return Err(Error::NoPackageRoot {
            path: pkg.path().to_path_buf(),
        });
    }
    let mut planner = Planner {
        replace: vec![None; pkg.entries().len()],
        added: Vec::new(),
        changes: Vec::new(),
        warnings: Vec::new(),
    };
    let mut records = Vec::with_capacity(roots.len());
    for (root, setaid) in &roots {
        let ini = planner.setaid(pkg, *setaid, edits)?;
        let sylink_name = planner.sylink(pkg, root, sylink)?;
        let product_version = planner.product_version(pkg, root)?;
        records.push(RootRecord {
            dir: root.dir.clone(),
            setaid: pkg.entries()[*setaid].name.clone(),
            setaid_encoding: ini.encoding(),
            setaid_line_ending: ini.line_ending(),
            sylink: sylink_name,
            product_version,
        });
    }
    let mut items: Vec<Item> = pkg
        .entries()
        .iter()
        .enumerate()
        .map(|(i, e)| Item {
            name: e.name.clone(),
            content: match planner.replace[i].take() {
                Some(bytes) => Content::Replace(i, bytes),
                None => Content::Copy(i),
            },
        })
        .collect();
    items.extend(planner.added);
    Ok(Plan {
        layout: Layout { items },
        roots: records,
        changes: planner.changes,
        warnings: planner.warnings,
    })
}

/// The plan as it is being made, root by root.
struct Planner {
    /// New bytes for input entries, by entry index.
    replace: Vec<Option<Vec<u8>>>,
    added: Vec<Item>,
    changes: Vec<ChangeRecord>,
    warnings: Vec<Warning>,
}

impl Planner {
    /// Edits the SetAid.ini at entry `index` (KeepPreviousSetting=0, then
    /// `edits`); returns it as edited.
    fn setaid(&mut self, pkg: &mut Package, index: usize, edits: &[Edit]) -> Result<IniFile> {
        let name = pkg.entries()[index].name.clone();
        let bytes = pkg.read_small(index, setaid::MAX_SIZE)?;
        let ini_error = |e: setaid::ParseError| Error::Ini {
            at: pkg.location(index),
            reason: e.0,
        };
        let mut ini = IniFile::parse(&bytes).map_err(ini_error)?;
        self.warn_other_sections(&ini, &name);
        let mut all_edits = vec![Edit::keep_previous_off()];
        all_edits.extend(edits.iter().cloned());
        for edit in &all_edits {
            self.warn_duplicates(&ini, edit, &name);
            let made = ini.apply(edit).map_err(ini_error)?;
            self.changes
                .extend(made.into_iter().map(|c| setaid_change(&name, c)));
        }
        let edited = ini.to_bytes();
        if edited != bytes {
            self.replace[index] = Some(edited);
        }
        Ok(ini)
    }

    /// The key standing in other sections is reported, not changed.
    fn warn_other_sections(&mut self, ini: &IniFile, entry: &str) {
        for o in ini.facts().keep_previous_elsewhere {
            let section = if o.section.is_empty() {
                "(before any section)".to_string()
            } else {
                format!("[{}]", o.section)
            };
            self.warnings.push(Warning {
                code: "keep-previous-other-section",
                entry: entry.to_string(),
                message: format!(
                    "{} also stands in {section} at line {} with value {:?}; it was left unchanged because which section the installer reads is not documented. To set it too, add --setaid {}.{}=0",
                    o.key, o.line, o.value, o.section, o.key
                ),
            });
        }
    }

    /// Every occurrence of a duplicated key is set; the user is told.
    fn warn_duplicates(&mut self, ini: &IniFile, edit: &Edit, entry: &str) {
        let Some(d) = ini.duplicate(&edit.section, &edit.key) else {
            return;
        };
        let lines: Vec<String> = d.lines.iter().map(ToString::to_string).collect();
        self.warnings.push(Warning {
            code: "setaid-duplicate-key",
            entry: entry.to_string(),
            message: format!(
                "{} appears {} times in [{}] (lines {}); every occurrence is set to {:?}",
                edit.key,
                d.lines.len(),
                edit.section,
                lines.join(", "),
                edit.value
            ),
        });
    }

    /// Replaces the root's sylink.xml with the managed one, or adds it;
    /// returns its name in the output.
    fn sylink(&mut self, pkg: &mut Package, root: &Root, sylink: &ManagedSylink) -> Result<String> {
        if let Some(index) = root.sylink {
            let name = pkg.entries()[index].name.clone();
            let old = pkg.read_small(index, sylink::MAX_SIZE)?;
            if old != sylink.bytes {
                self.changes.push(sylink_change(
                    &name,
                    "replaced",
                    Some(digest::of_bytes(&old).sha256),
                    sylink,
                ));
                self.replace[index] = Some(sylink.bytes.clone());
            }
            return Ok(name);
        }
        let name = format!("{}sylink.xml", root.dir);
        // A folder of that name would make the output unpackable.
        let lower = name.to_lowercase();
        if let Some(e) = pkg.entries().iter().find(|e| {
            let other = e.name.to_lowercase();
            other.trim_end_matches('/') == lower || other.starts_with(&format!("{lower}/"))
        }) {
            return Err(Error::UnsafeEntry {
                at: Location::entry(pkg.path(), &e.name),
                reason: format!(
                    "a folder {name:?} stands where the managed sylink.xml must be added"
                ),
            });
        }
        self.changes
            .push(sylink_change(&name, "added", None, sylink));
        self.added.push(Item {
            name: name.clone(),
            content: Content::Add(sylink.bytes.clone()),
        });
        Ok(name)
    }

    /// The root's product version, from setup.ini.
    ///
    /// setup.ini is only read for the product version shown in the
    /// manifest, and is copied through unchanged: a garbled or oversized
    /// one must not stop the transform, so it is a warning. A damaged
    /// archive entry (CRC, truncation) still fails, since it cannot be
    /// copied either.
    fn product_version(&mut self, pkg: &mut Package, root: &Root) -> Result<Option<String>> {
        let Some(index) = root.setup_ini else {
            return Ok(None);
        };
        let reason = match product_version(pkg, index) {
            Ok(version) => return Ok(version),
            Err(Error::Ini { reason, .. }) => reason,
            Err(Error::TooLarge { size, limit, .. }) => {
                format!("{size} bytes is larger than the {limit}-byte limit")
            }
            Err(e) => return Err(e),
        };
        self.warnings.push(Warning {
            code: "setup-ini-unreadable",
            entry: pkg.entries()[index].name.clone(),
            message: format!(
                "cannot be read ({reason}); it only gives the product version, so the version is left out and the file is copied unchanged"
            ),
        });
        Ok(None)
    }
}

fn setaid_change(entry: &str, c: setaid::Change) -> ChangeRecord {
    ChangeRecord {
        entry: entry.to_string(),
        file: ChangedFile::Setaid,
        action: match c.action {
            setaid::Action::Set => "set",
            setaid::Action::AddedKey => "added-key",
            setaid::Action::AddedSection => "added-section",
        }
        .to_string(),
        section: Some(c.section),
        key: Some(c.key),
        line: Some(c.line),
        old: c.old,
        new: c.new,
        duplicate: c.duplicate,
    }
}

fn sylink_change(
    entry: &str,
    action: &str,
    old: Option<String>,
    sylink: &ManagedSylink,
) -> ChangeRecord {
    ChangeRecord {
        entry: entry.to_string(),
        file: ChangedFile::Sylink,
        action: action.to_string(),
        section: None,
        key: None,
        line: None,
        old,
        new: sylink.digest.sha256.clone(),
        duplicate: false,
    }
}

/// The `ProductVersion` in setup.ini entry `index`.
fn product_version(pkg: &mut Package, index: usize) -> Result<Option<String>> {
    let bytes = pkg.read_small(index, setaid::MAX_SIZE)?;
    let setup = IniFile::parse(&bytes).map_err(|e| Error::Ini {
        at: pkg.location(index),
        reason: e.0,
    })?;
    Ok(setup
        .occurrences("ProductVersion")
        .into_iter()
        .next()
        .map(|o| o.value))
}
