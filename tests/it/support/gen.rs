//! The fixture generator: small, synthetic, deterministic SEP client
//! packages. No vendor bytes: every file is made here.
//!
//! Used by the tests (`mod support;`) and by `cargo run --example
//! gen_fixtures`, which writes the bundled example into `fixtures/`.
#![allow(dead_code)]

use std::io::{Cursor, Write};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

/// The product version of the example package.
pub const VERSION: &str = "14.3.8289.5000";
/// The example MSI's UpgradeCode (SEP's real one is different; this is made up).
pub const UPGRADE_CODE: &str = "{7D8F1A2B-3C4D-4E5F-8A9B-0C1D2E3F4A5B}";
/// The example MSI's ProductCode.
pub const PRODUCT_CODE: &str = "{1F2E3D4C-5B6A-4789-8A7B-6C5D4E3F2A10}";
/// The example MSI's PackageCode.
pub const PACKAGE_CODE: &str = "{A0B1C2D3-E4F5-4607-8899-AABBCCDDEEFF}";

/// Text encodings a SetAid.ini can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    Ansi,
    Utf8,
    Utf8Bom,
    Utf16LeBom,
}

pub const ALL_ENCODINGS: [Enc; 4] = [Enc::Ansi, Enc::Utf8, Enc::Utf8Bom, Enc::Utf16LeBom];

/// Encodes `text` (with `\n` line ends) in `enc`, with `eol` line ends.
pub fn encode(text: &str, enc: Enc, eol: &str) -> Vec<u8> {
    let text = text.replace('\n', eol);
    match enc {
        Enc::Ansi => encoding_rs::WINDOWS_1252.encode(&text).0.into_owned(),
        Enc::Utf8 => text.into_bytes(),
        Enc::Utf8Bom => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
        Enc::Utf16LeBom => {
            let mut out = vec![0xFF, 0xFE];
            out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            out
        }
    }
}

/// A SetAid.ini as the SEPM writes it for an AutoUpgrade package: keys as in
/// Broadcom's "About configuring Setaid.ini", KeepPreviousSetting=1.
pub const SETAID_TEXT: &str = "\
[CUSTOM_SMC_CONFIG]
InstallationLogDir=
DestinationDirectory=C:\\Program Files\\Symantec\\Symantec Endpoint Protection\\
KeepPreviousSetting=1
AddProgramIntoStartMenu=1

[FEATURE_SELECTION]
; Büro-Paket: feature names are case-sensitive
Core=1
SAVMain=1
Download=1
OutlookSnapin=1
Pop3Smtp=0
NotesSnapin=0
PTPMain=1
DCMain=1
TruScan=1
";

pub fn setaid(enc: Enc, eol: &str) -> Vec<u8> {
    encode(SETAID_TEXT, enc, eol)
}

pub fn setup_ini(version: &str) -> Vec<u8> {
    encode(
        &format!(
            "[Startup]\nAppName=Symantec Endpoint Protection\nProductVersion={version}\nCmdLine=/qn\n"
        ),
        Enc::Ansi,
        "\r\n",
    )
}

/// The unmanaged sylink.xml an AutoUpgrade export carries: no DomainId, no
/// Kcs, no servers, no certificate.
pub fn unmanaged_sylink() -> Vec<u8> {
    b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\r\n\
<ServerSettings NameSpace=\"rpc\">\r\n\
  <CommConf>\r\n\
    <AgentCommunicationSetting AlwaysConnect=\"1\" CommunicationMode=\"PULL\" PullHeartbeatSeconds=\"300\"/>\r\n\
    <LogSetting MaxLogRecords=\"100\" SendingLogAllowed=\"0\"/>\r\n\
  </CommConf>\r\n\
</ServerSettings>\r\n"
        .to_vec()
}

/// A managed sylink.xml shaped like a SEPM export, with `&#13;` references in
/// the certificate (which a re-serialiser would mangle). All values are made up.
pub fn managed_sylink() -> Vec<u8> {
    let cert = "MIICOzCCAaSgAwIBAgIET8T9cDANBgkqhkiG9w0BAQUFADBiMQswCQYDVQQGEwJVUzELMAkGA1UE&#13;\n\
CBMCQ0ExEDAOBgNVBAcTB0V4YW1wbGUxETAPBgNVBAoTCEV4YW1wbGUgMREwDwYDVQQLEwhUZXN0&#13;\n\
IE9ubHkxDjAMBgNVBAMTBXNlcG0xMB4XDTIzMTExNDIyMTMyMFoXDTMzMTExMTIyMTMyMFowYjEL&#13;\n\
MAkGA1UEBhMCVVMxCzAJBgNVBAgTAkNBMRAwDgYDVQQHEwdFeGFtcGxlMREwDwYDVQQKEwhFeGFt";
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n\
<ServerSettings DomainId=\"AB969193097B6C8502344D15563D3282\" NameSpace=\"rpc\">\n\
  <CommConf>\n\
    <AgentCommunicationSetting AllowClientUploadCriticalEventImmediately=\"1\" AlwaysConnect=\"1\" \
CommunicationMode=\"PULL\" DisableDownloadProfile=\"0\" Kcs=\"F51F7A0D7C3E4B2A9D8E1F0A2B3C08CD\" \
PullHeartbeatSeconds=\"1800\" RandomizationEnabled=\"1\" RandomizationRange=\"1800\"/>\n\
    <ServerList Name=\"Default Management Server List for example\">\n\
      <ServerPriorityBlock Name=\"Priority1\">\n\
        <Server Address=\"10.0.0.111\" HttpPort=\"8014\" HttpsVerifyCA=\"0\" VerifySignatures=\"1\"/>\n\
        <Server Address=\"sepm.example.com\" HttpPort=\"8014\" HttpsVerifyCA=\"0\" VerifySignatures=\"1\"/>\n\
      </ServerPriorityBlock>\n\
    </ServerList>\n\
    <ServerCertList>\n\
      <Certificate Name=\"sepm\">{cert}</Certificate>\n\
    </ServerCertList>\n\
    <LogSetting MaxLogRecords=\"100\" SendingLogAllowed=\"1\" UploadProcessLog=\"1\"/>\n\
    <RegisterClient PreferredGroup=\"My Company\\Workstations\" PreferredMode=\"1\"/>\n\
  </CommConf>\n\
</ServerSettings>\n"
    )
    .into_bytes()
}

/// Deterministic filler bytes (a linear congruential generator).
pub fn filler(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

/// One Upgrade table row.
#[derive(Debug, Clone)]
pub struct UpgradeRow {
    pub upgrade_code: String,
    pub min: Option<String>,
    pub max: Option<String>,
    pub attributes: i32,
    pub property: String,
}

/// What goes into a generated MSI.
#[derive(Debug, Clone)]
pub struct MsiSpec {
    pub product_code: String,
    pub upgrade_code: String,
    pub version: String,
    pub package_code: String,
    pub arch: &'static str,
    pub upgrade: Vec<UpgradeRow>,
}

impl MsiSpec {
    /// The example: a major upgrade from 12.1.0.0 (inclusive) up to this
    /// version (exclusive), and an OnlyDetect row for newer versions.
    pub fn example(version: &str) -> Self {
        MsiSpec {
            product_code: PRODUCT_CODE.into(),
            upgrade_code: UPGRADE_CODE.into(),
            version: version.into(),
            package_code: PACKAGE_CODE.into(),
            arch: "x64",
            upgrade: vec![
                UpgradeRow {
                    upgrade_code: UPGRADE_CODE.into(),
                    min: Some("12.1.0.0".into()),
                    max: Some(version.into()),
                    attributes: 256 | 1,
                    property: "OLDERVERSIONBEINGUPGRADED".into(),
                },
                UpgradeRow {
                    upgrade_code: UPGRADE_CODE.into(),
                    min: Some(version.into()),
                    max: None,
                    attributes: 2,
                    property: "NEWERVERSIONDETECTED".into(),
                },
            ],
        }
    }
}

/// An MSI made with the `msi` crate: Property and Upgrade tables and summary
/// information, with fixed timestamps so the bytes are reproducible.
pub fn msi(spec: &MsiSpec) -> Vec<u8> {
    use msi::{Column, Insert, Package, PackageType, Value};
    let mut pkg = Package::create(PackageType::Installer, Cursor::new(Vec::new())).unwrap();
    pkg.set_database_codepage(msi::CodePage::Windows1252);
    {
        let info = pkg.summary_info_mut();
        info.set_codepage(msi::CodePage::Windows1252);
        info.set_title("Installation Database");
        info.set_subject("Symantec Endpoint Protection (synthetic fixture)");
        info.set_author("sepkg fixture generator");
        info.set_arch(spec.arch);
        info.set_languages(&[msi::LanguageId::from_id(1033)]);
        info.set_uuid(uuid::Uuid::parse_str(spec.package_code.trim_matches(['{', '}'])).unwrap());
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        info.set_creation_time(t);
        info.set_last_save_time(t);
        info.set_creating_application("sepkg fixture generator");
    }
    pkg.create_table(
        "Property",
        vec![
            Column::build("Property").primary_key().id_string(72),
            Column::build("Value").nullable().formatted_string(0),
        ],
    )
    .unwrap();
    let props = [
        ("ProductCode", spec.product_code.as_str()),
        ("UpgradeCode", spec.upgrade_code.as_str()),
        ("ProductVersion", spec.version.as_str()),
        ("ProductName", "Symantec Endpoint Protection"),
        ("Manufacturer", "Symantec Corporation"),
        ("ProductLanguage", "1033"),
    ];
    pkg.insert_rows(
        Insert::into("Property").rows(
            props
                .iter()
                .map(|(k, v)| vec![Value::from(*k), Value::from(*v)])
                .collect(),
        ),
    )
    .unwrap();
    pkg.create_table(
        "Upgrade",
        vec![
            Column::build("UpgradeCode")
                .primary_key()
                .category(msi::Category::Guid)
                .string(38),
            Column::build("VersionMin")
                .primary_key()
                .nullable()
                .string(20),
            Column::build("VersionMax")
                .primary_key()
                .nullable()
                .string(20),
            Column::build("Language")
                .primary_key()
                .nullable()
                .string(255),
            Column::build("Attributes").primary_key().int32(),
            Column::build("Remove").nullable().formatted_string(255),
            Column::build("ActionProperty").id_string(72),
        ],
    )
    .unwrap();
    if !spec.upgrade.is_empty() {
        let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, Value::from);
        pkg.insert_rows(
            Insert::into("Upgrade").rows(
                spec.upgrade
                    .iter()
                    .map(|r| {
                        vec![
                            Value::from(r.upgrade_code.as_str()),
                            opt(&r.min),
                            opt(&r.max),
                            Value::Null,
                            Value::from(r.attributes),
                            Value::Null,
                            Value::from(r.property.as_str()),
                        ]
                    })
                    .collect(),
            ),
        )
        .unwrap();
    }
    pkg.into_inner().unwrap().into_inner()
}

/// A stand-in for Setup.exe: not a program, just bytes that start like one.
pub fn setup_exe() -> Vec<u8> {
    let mut b = b"MZ".to_vec();
    b.extend_from_slice(b"\x90\x00 stand-in for Setup.exe, written by the sepkg fixture generator; not executable\r\n");
    b.extend(filler(2048, 7));
    b
}

/// The files of one package root, SetAid.ini in `enc` with `eol` line ends.
pub fn root_files(enc: Enc, eol: &str, msi_spec: &MsiSpec) -> Vec<(String, Vec<u8>)> {
    vec![
        ("Setup.exe".into(), setup_exe()),
        ("setAid.ini".into(), setaid(enc, eol)),
        ("setup.ini".into(), setup_ini(&msi_spec.version)),
        (
            (if msi_spec.arch == "x64" {
                "Sep64.msi"
            } else {
                "Sep.msi"
            })
            .into(),
            msi(msi_spec),
        ),
        ("sylink.xml".into(), unmanaged_sylink()),
        ("serdef.dat".into(), filler(4096, 3)),
        (
            "Packages/readme.txt".into(),
            b"Auxiliary files pass through unchanged.\r\n".to_vec(),
        ),
    ]
}

/// The bundled example package: one root at the top, ANSI SetAid.ini, CRLF.
pub fn example_files() -> Vec<(String, Vec<u8>)> {
    // Made once per process: the MSI takes a while in a debug build, and
    // the hostile corpus asks for the package hundreds of times.
    static FILES: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    FILES
        .get_or_init(|| root_files(Enc::Ansi, "\r\n", &MsiSpec::example(VERSION)))
        .clone()
}

/// Prefixes every name with `dir` (e.g. `"x64/"`).
pub fn under(dir: &str, files: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    files
        .into_iter()
        .map(|(n, b)| (format!("{dir}{n}"), b))
        .collect()
}

/// A deterministic zip of `files`, in the given order, deflated.
pub fn zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    // Unix "made by" on every host: the zip crate would take the host's.
    let opts = SimpleFileOptions::DEFAULT
        .system(zip::System::Unix)
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (name, bytes) in files {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Writes `files` under `dir`.
pub fn write_dir(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// Name of the bundled example package in `fixtures/`.
pub const EXAMPLE_ZIP: &str = "SEP-14.3.8289.5000-x64-client.zip";
/// Name of the bundled managed sylink.xml in `fixtures/`.
pub const EXAMPLE_SYLINK: &str = "sylink-managed.xml";

/// The files the generator writes into `fixtures/`.
pub fn bundled() -> Vec<(String, Vec<u8>)> {
    vec![
        (EXAMPLE_ZIP.to_string(), zip(&example_files())),
        (EXAMPLE_SYLINK.to_string(), managed_sylink()),
    ]
}

/// A minimal valid PE32+ (x64) console program with one `.text` section
/// (`xor eax, eax; ret`): the stub of a synthetic single-file .exe export.
/// 1024 bytes: headers in the first 512, the section's raw data in the next.
/// Its CheckSum field is 0, as linkers leave it for user-mode programs.
pub fn pe_stub() -> Vec<u8> {
    let mut b = vec![0u8; 0x400];
    let put16 =
        |b: &mut Vec<u8>, at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 =
        |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put64 =
        |b: &mut Vec<u8>, at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    // DOS header: "MZ" and e_lfanew (the PE header's offset) at 0x3C.
    b[0..2].copy_from_slice(b"MZ");
    put32(&mut b, 0x3C, 0x40);
    // PE signature and COFF header: x64, one section, a 240-byte optional
    // header, EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE.
    b[0x40..0x44].copy_from_slice(b"PE\0\0");
    put16(&mut b, 0x44, 0x8664);
    put16(&mut b, 0x46, 1);
    put16(&mut b, 0x54, 240);
    put16(&mut b, 0x56, 0x0022);
    // Optional header (PE32+).
    let o = 0x58;
    put16(&mut b, o, 0x20b);
    b[o + 2] = 14; // linker version
    put32(&mut b, o + 4, 0x200); // SizeOfCode
    put32(&mut b, o + 16, 0x1000); // AddressOfEntryPoint
    put32(&mut b, o + 20, 0x1000); // BaseOfCode
    put64(&mut b, o + 24, 0x1_4000_0000); // ImageBase
    put32(&mut b, o + 32, 0x1000); // SectionAlignment
    put32(&mut b, o + 36, 0x200); // FileAlignment
    put16(&mut b, o + 40, 6); // MajorOperatingSystemVersion
    put16(&mut b, o + 48, 6); // MajorSubsystemVersion
    put32(&mut b, o + 56, 0x2000); // SizeOfImage
    put32(&mut b, o + 60, 0x200); // SizeOfHeaders
    put16(&mut b, o + 68, 3); // Subsystem: console
    put16(&mut b, o + 70, 0x8160); // DllCharacteristics: NX, dynamic base, high entropy VA, TS aware
    put64(&mut b, o + 72, 0x10_0000); // SizeOfStackReserve
    put64(&mut b, o + 80, 0x1000); // SizeOfStackCommit
    put64(&mut b, o + 88, 0x10_0000); // SizeOfHeapReserve
    put64(&mut b, o + 96, 0x1000); // SizeOfHeapCommit
    put32(&mut b, o + 108, 16); // NumberOfRvaAndSizes (the 16 directories stay zero)
    // Section table: .text, 512 raw bytes at file offset 0x200.
    let s = o + 240;
    b[s..s + 5].copy_from_slice(b".text");
    put32(&mut b, s + 8, 3); // VirtualSize
    put32(&mut b, s + 12, 0x1000); // VirtualAddress
    put32(&mut b, s + 16, 0x200); // SizeOfRawData
    put32(&mut b, s + 20, 0x200); // PointerToRawData
    put32(&mut b, s + 36, 0x6000_0020); // code, execute, read
    b[0x200..0x203].copy_from_slice(&[0x31, 0xC0, 0xC3]); // xor eax, eax; ret
    b
}

/// A 7-Zip SFX configuration block that runs `program`, as 7-Zip's
/// installer modules read it between the stub and the archive.
pub fn sfx_config(program: &str) -> Vec<u8> {
    format!(
        ";!@Install@!UTF-8!\r\nTitle=\"Symantec Endpoint Protection\"\r\nRunProgram=\"{program}\"\r\nGUIMode=\"2\"\r\n;!@InstallEnd@!\r\n"
    )
    .into_bytes()
}

/// The 32-bit (PE32, x86) twin of [`pe_stub`]: most self-extractor stubs
/// are 32-bit programs, and PE32 puts the data directories 16 bytes
/// earlier. Same layout otherwise (1024 bytes, one `.text` section).
pub fn pe32_stub() -> Vec<u8> {
    let mut b = vec![0u8; 0x400];
    let put16 =
        |b: &mut Vec<u8>, at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 =
        |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    b[0..2].copy_from_slice(b"MZ");
    put32(&mut b, 0x3C, 0x40);
    b[0x40..0x44].copy_from_slice(b"PE\0\0");
    put16(&mut b, 0x44, 0x14c); // i386
    put16(&mut b, 0x46, 1);
    put16(&mut b, 0x54, 224);
    put16(&mut b, 0x56, 0x0102); // EXECUTABLE_IMAGE | 32BIT_MACHINE
    let o = 0x58;
    put16(&mut b, o, 0x10b);
    b[o + 2] = 14;
    put32(&mut b, o + 4, 0x200); // SizeOfCode
    put32(&mut b, o + 16, 0x1000); // AddressOfEntryPoint
    put32(&mut b, o + 20, 0x1000); // BaseOfCode
    put32(&mut b, o + 28, 0x40_0000); // ImageBase
    put32(&mut b, o + 32, 0x1000); // SectionAlignment
    put32(&mut b, o + 36, 0x200); // FileAlignment
    put16(&mut b, o + 40, 6);
    put16(&mut b, o + 48, 6);
    put32(&mut b, o + 56, 0x2000); // SizeOfImage
    put32(&mut b, o + 60, 0x200); // SizeOfHeaders
    put16(&mut b, o + 68, 3); // console
    put16(&mut b, o + 70, 0x8140); // NX, dynamic base, TS aware
    put32(&mut b, o + 72, 0x10_0000);
    put32(&mut b, o + 76, 0x1000);
    put32(&mut b, o + 80, 0x10_0000);
    put32(&mut b, o + 84, 0x1000);
    put32(&mut b, o + 92, 16); // NumberOfRvaAndSizes
    let s = o + 224;
    b[s..s + 5].copy_from_slice(b".text");
    put32(&mut b, s + 8, 3);
    put32(&mut b, s + 12, 0x1000);
    put32(&mut b, s + 16, 0x200);
    put32(&mut b, s + 20, 0x200);
    put32(&mut b, s + 36, 0x6000_0020);
    b[0x200..0x203].copy_from_slice(&[0x31, 0xC0, 0xC3]); // xor eax, eax; ret
    b
}

// ---------------------------------------------------------------------------
// Hostile inputs (tests/hostile.rs): damaged and tampered packages, made by
// code from the generator's good ones, so no crafted binary is committed.

/// Where one entry's headers sit in a zip.
#[derive(Debug, Clone)]
pub struct ZipHeaders {
    /// The entry name as stored.
    pub name: Vec<u8>,
    /// Offset of its local file header.
    pub local: usize,
    /// Offset of its central directory record.
    pub central: usize,
    /// Offset of its (compressed) data.
    pub data: usize,
    /// Length of its compressed data, as the central directory says.
    pub data_len: usize,
}

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// Offset of the end-of-central-directory record.
pub fn zip_eocd(bytes: &[u8]) -> usize {
    (0..=bytes.len() - 22)
        .rev()
        .find(|&i| bytes[i..i + 4] == *b"PK\x05\x06")
        .expect("no end of central directory")
}

/// Every entry's header offsets, in central directory order (zip32 only,
/// which is what `zip()` writes for small files).
pub fn zip_headers(bytes: &[u8]) -> Vec<ZipHeaders> {
    let eocd = zip_eocd(bytes);
    let count = le16(bytes, eocd + 10);
    let mut at = le32(bytes, eocd + 16);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        assert_eq!(&bytes[at..at + 4], b"PK\x01\x02", "central record at {at}");
        let (n, m, k) = (
            le16(bytes, at + 28),
            le16(bytes, at + 30),
            le16(bytes, at + 32),
        );
        let local = le32(bytes, at + 42);
        let data = local + 30 + le16(bytes, local + 26) + le16(bytes, local + 28);
        out.push(ZipHeaders {
            name: bytes[at + 46..at + 46 + n].to_vec(),
            local,
            central: at,
            data,
            data_len: le32(bytes, at + 20),
        });
        at += 46 + n + m + k;
    }
    out
}

/// The headers of entry `name`.
pub fn zip_entry(bytes: &[u8], name: &str) -> ZipHeaders {
    zip_headers(bytes)
        .into_iter()
        .find(|h| h.name == name.as_bytes())
        .unwrap_or_else(|| panic!("no entry {name}"))
}

/// Writes `value` as a little-endian u16 at the same field of the local
/// header (`local_at`) and the central record (`central_at`) of `name`.
fn patch16(bytes: &mut [u8], name: &str, local_at: usize, central_at: usize, value: u16) {
    let h = zip_entry(bytes, name);
    bytes[h.local + local_at..h.local + local_at + 2].copy_from_slice(&value.to_le_bytes());
    bytes[h.central + central_at..h.central + central_at + 2].copy_from_slice(&value.to_le_bytes());
}

fn patch32(bytes: &mut [u8], name: &str, local_at: usize, central_at: usize, value: u32) {
    let h = zip_entry(bytes, name);
    bytes[h.local + local_at..h.local + local_at + 4].copy_from_slice(&value.to_le_bytes());
    bytes[h.central + central_at..h.central + central_at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Sets general-purpose flag bits of `name` in both headers (bit 0: encrypted).
pub fn zip_set_flags(bytes: &mut [u8], name: &str, bits: u16) {
    let h = zip_entry(bytes, name);
    let flags = u16::try_from(le16(bytes, h.central + 8)).unwrap() | bits;
    patch16(bytes, name, 6, 8, flags);
}

/// Sets the compression method of `name` in both headers.
pub fn zip_set_method(bytes: &mut [u8], name: &str, method: u16) {
    patch16(bytes, name, 8, 10, method);
}

/// Sets the declared uncompressed size of `name` in both headers.
pub fn zip_set_size(bytes: &mut [u8], name: &str, size: u32) {
    patch32(bytes, name, 22, 24, size);
}

/// Renames `name` to `new` (same length) in both headers: the way to make
/// two entries with one name, which the zip crate's writer refuses.
pub fn zip_rename(bytes: &mut [u8], name: &str, new: &str) {
    assert_eq!(name.len(), new.len());
    let h = zip_entry(bytes, name);
    bytes[h.local + 30..h.local + 30 + new.len()].copy_from_slice(new.as_bytes());
    bytes[h.central + 46..h.central + 46 + new.len()].copy_from_slice(new.as_bytes());
}

/// A zip of `files` plus a Unix symlink entry `link` pointing at `target`.
pub fn zip_with_symlink(files: &[(String, Vec<u8>)], link: &str, target: &str) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::DEFAULT
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (name, bytes) in files {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.add_symlink(link, target, SimpleFileOptions::DEFAULT)
        .unwrap();
    w.finish().unwrap().into_inner()
}

/// The example package with `name`'s content replaced by `bytes`.
pub fn example_with(name: &str, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let mut files = example_files();
    let slot = files.iter_mut().find(|(n, _)| n == name).unwrap();
    slot.1 = bytes;
    files
}

/// A SetAid.ini that is real text but `len` bytes long: a zip bomb in the
/// small, squeezing to a few KB deflated.
pub fn huge_setaid(len: usize) -> Vec<u8> {
    let mut text = SETAID_TEXT.replace('\n', "\r\n").into_bytes();
    let pad = b"; padding padding padding padding padding padding padding padding\r\n";
    while text.len() < len {
        text.extend_from_slice(pad);
    }
    text.truncate(len);
    text
}

/// A managed sylink.xml grown past `len` bytes with whitespace inside the
/// root element (still well-formed and managed).
pub fn huge_sylink(len: usize) -> Vec<u8> {
    let text = String::from_utf8(managed_sylink()).unwrap();
    let cut = text.find("</ServerSettings>").unwrap();
    let mut out = text.as_bytes()[..cut].to_vec();
    out.resize(len + 1, b' ');
    out.extend_from_slice(&text.as_bytes()[cut..]);
    out
}

// ---------------------------------------------------------------------------
// Cabinets and single-file .exe packages, good and damaged (tests/hostile.rs,
// tests/cab.rs).

/// A deterministic MSZIP cabinet of `files`, one folder, made with the
/// `cab` crate's builder (which, unlike gcab, writes data-block checksums).
/// Names are stored exactly as given: use [`cab_names`] for `\` separators.
pub fn cab(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = cab::CabinetBuilder::new();
    if !files.is_empty() {
        let folder = builder.add_folder(cab::CompressionType::MsZip);
        for (name, _) in files {
            let f = folder.add_file(name.as_str());
            f.set_datetime(time::macros::datetime!(1980-01-01 00:00:00));
        }
    }
    let mut w = builder.build(Cursor::new(Vec::new())).unwrap();
    let mut contents = files.iter();
    while let Some(mut f) = w.next_file().unwrap() {
        f.write_all(&contents.next().unwrap().1).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// `files` with `/` in their names turned into `\`, as cabinets store them.
pub fn cab_names(files: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    files
        .into_iter()
        .map(|(n, b)| (n.replace('/', "\\"), b))
        .collect()
}

/// Where the records of a one-folder cabinet (no reserve areas) sit.
#[derive(Debug, Clone)]
pub struct CabRecords {
    /// Offset of the CFFOLDER record (right after the 36-byte header).
    pub folder: usize,
    /// Offset of each CFFILE record, with the name it holds.
    pub files: Vec<(usize, String)>,
    /// Offset of each CFDATA block of the folder, with its cbData.
    pub blocks: Vec<(usize, usize)>,
}

impl CabRecords {
    /// The CFFILE record of `name`.
    pub fn file(&self, name: &str) -> usize {
        self.files
            .iter()
            .find(|(_, n)| n == name)
            .unwrap_or_else(|| panic!("no cabinet file {name}"))
            .0
    }
}

/// Reads the record offsets of a cabinet made by [`cab`].
pub fn cab_records(b: &[u8]) -> CabRecords {
    assert_eq!(&b[..4], b"MSCF");
    assert_eq!(le16(b, 30) & 4, 0, "reserve areas are not handled here");
    let mut at = le32(b, 16);
    let mut files = Vec::new();
    for _ in 0..le16(b, 28) {
        let name_at = at + 16;
        let end = name_at + b[name_at..].iter().position(|&c| c == 0).unwrap();
        files.push((at, String::from_utf8_lossy(&b[name_at..end]).into_owned()));
        at = end + 1;
    }
    let folder = 36;
    let mut blocks = Vec::new();
    let mut at = le32(b, folder);
    for _ in 0..le16(b, folder + 4) {
        let len = le16(b, at + 4);
        blocks.push((at, len));
        at += 8 + len;
    }
    CabRecords {
        folder,
        files,
        blocks,
    }
}

/// A cabinet with one file at a non-zero offset in a folder with no data
/// blocks, compressed with `method`. In an LZX folder (0x0F03) that makes
/// the `cab` crate 0.6 panic when the file is read through it; sepkg's
/// file-table check refuses it before (the bytes before the file belong
/// to no file).
pub fn blockless_cabinet(method: u16) -> Vec<u8> {
    let name = b"setAid.ini\0";
    let files_at = 36 + 8;
    let total = files_at + 16 + name.len();
    let mut b = Vec::new();
    b.extend_from_slice(b"MSCF");
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&(total as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&(files_at as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&[3, 1]); // version 1.3
    b.extend_from_slice(&1u16.to_le_bytes()); // folders
    b.extend_from_slice(&1u16.to_le_bytes()); // files
    b.extend_from_slice(&[0; 6]); // flags, set id, index
    // Folder: data at the end, no data blocks, compression `method`.
    b.extend_from_slice(&(total as u32).to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&method.to_le_bytes());
    // File: 5 bytes at offset 10 of folder 0.
    b.extend_from_slice(&5u32.to_le_bytes());
    b.extend_from_slice(&10u32.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0x21u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0x20u16.to_le_bytes());
    b.extend_from_slice(name);
    assert_eq!(b.len(), total);
    b
}

/// File offset of the certificate-table directory entry in [`pe_stub`].
pub const PE_SECURITY_DIR_AT: usize = 0x58 + 112 + 4 * 8;
/// File offset of the section table in [`pe_stub`].
pub const PE_SECTIONS_AT: usize = 0x58 + 240;
