//! `sepkg keygen`: arguments, passwords, report; and the password reading
//! that `publish --sign-key` shares.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::Output;
use crate::error::{Error, ExitCode, Result};
use crate::records_sig::{self, KeyPairWritten};

pub(crate) const AFTER_HELP: &str = "\
What it does:
  Writes a minisign key pair: PATH.key, the secret key (encrypted with a password; mode 0600),
  and PATH.pub, the public key. An existing PATH.key or PATH.pub is never overwritten.
  `sepkg publish --sign-key PATH.key` signs the web root's SHA256SUMS and index.json with it;
  `sepkg verify URL --trusted-key PATH.pub` then catches records rewritten on the server.
  Keep PATH.key off the web server: whoever holds it (and its password) can sign.

The password comes from the environment variable named by --password-env, or else is asked for
on the terminal (twice). --unencrypted writes a secret key with no password at all, which the
minisign format allows (minisign -W): anyone who can read the file can then sign.

Examples:
  sepkg keygen -o ~/keys/sep-webroot
  SEPKG_KEY_PASSWORD=... sepkg keygen -o ci/sep-webroot --password-env SEPKG_KEY_PASSWORD

Exit codes: 0 written, 2 error (nothing written).";

/// `sepkg keygen` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the pair: PATH.key and PATH.pub (a final .key or .pub is the pair's name).
    #[arg(long, short = 'o', value_name = "PATH")]
    out: PathBuf,
    /// The environment variable holding the new key's password (never on the command line).
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Write the secret key without a password. Anyone who can read it can sign.
    #[arg(long, conflicts_with = "password_env")]
    unencrypted: bool,
}

const UNENCRYPTED_WARNING: &str = "the secret key is NOT encrypted: anyone who can read it can sign web roots that `verify --trusted-key` accepts; keep it in a secrets store or on an encrypted disk, never on the web server";

pub(crate) fn run(args: Args, out: &Output) -> Result<ExitCode> {
    let password = if args.unencrypted {
        None
    } else {
        let (secret, _) = records_sig::key_paths(&args.out);
        let prompt = format!("Password for the new secret key {}: ", secret.display());
        let password = password(
            args.password_env.as_deref(),
            "--password-env",
            &prompt,
            true,
        )?;
        if password.is_empty() {
            return Err(Error::Usage(
                "the password is empty, which protects nothing; give one, or pass --unencrypted to write an unencrypted key on purpose".into(),
            ));
        }
        Some(password)
    };
    let written = records_sig::keygen(&args.out, password.as_deref())?;
    if out.json {
        out.print_json(&serde_json::json!({
            "keygen": written,
            "warning": (!written.encrypted).then_some(UNENCRYPTED_WARNING),
        }))?;
    } else {
        out.print(&human(&written))?;
    }
    if !written.encrypted {
        eprintln!(
            "WARNING: {}: {UNENCRYPTED_WARNING}",
            written.secret_key.display()
        );
    }
    Ok(ExitCode::Ok)
}

fn human(w: &KeyPairWritten) -> String {
    let protection = if w.encrypted {
        "encrypted with your password"
    } else {
        "NOT ENCRYPTED"
    };
    format!(
        "secret key: {} ({protection}): for `sepkg publish --sign-key`; keep it off the web server\n\
         public key: {}: for `sepkg verify --trusted-key`\n\
         key id:     {}\n\
         public key: {}\n",
        w.secret_key.display(),
        w.public_key.display(),
        w.key_id,
        w.public_key_base64,
    )
}

/// A password: from the environment variable `var` (named on the command
/// line by `flag`), or else asked for on the terminal with `prompt` (twice
/// when `confirm`), or else a usage error: a script never hangs on a prompt.
pub(crate) fn password(
    var: Option<&str>,
    flag: &str,
    prompt: &str,
    confirm: bool,
) -> Result<String> {
    if let Some(var) = var {
        return std::env::var(var).map_err(|_| {
            Error::Usage(format!(
                "{flag} {var}: the environment variable {var} is not set (or not UTF-8)"
            ))
        });
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Usage(format!(
            "a password is needed and there is no terminal to ask on: put it in an environment variable and name it with {flag} VAR"
        )));
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map_err(|e| Error::io("<terminal>", "cannot read a password from", e))
    };
    let first = ask(prompt)?;
    if confirm && ask("Again: ")? != first {
        return Err(Error::Usage(
            "the two passwords differ; nothing written".into(),
        ));
    }
    Ok(first)
}
