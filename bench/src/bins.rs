//! The bench's helper binaries (the echo and chat servers, the mt suite's
//! memory probe): where they are, and building them with cargo.
//!
//! `cargo run -p pollen-bench` builds only the bench itself, so a suite that
//! runs another binary builds it first, in the bench's own profile and
//! target directory, and runs it from the bench's executable's directory.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The path of the binary `name`: next to the bench's own executable,
/// where cargo puts it.
pub fn path(name: &str) -> PathBuf {
    exe_dir().join(name)
}

/// The directory of the bench's executable.
fn exe_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("locating the bench executable");
    exe.parent()
        .expect("the bench executable has a directory")
        .to_owned()
}

/// Runs `cargo build --quiet <args>` in the bench's own profile and target
/// directory; returns its output (stderr captured).
///
/// Cargo runs in the workspace the bench was compiled from, with the
/// bench's environment (so `CARGO_TARGET_DIR` carries over), using the
/// cargo that ran the bench (`$CARGO`) if any. `None` if there is no such
/// workspace any more: then nothing is built and the binaries are used as
/// they are.
pub fn cargo_build(args: &[&str]) -> Option<io::Result<Output>> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if !workspace.join("Cargo.toml").is_file() {
        return None;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let dir = exe_dir();
    let profile = match dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(name) => name.to_owned(),
        None => "release".to_owned(),
    };
    // The target directory is the profile directory's parent.
    let target_dir = dir.parent().unwrap_or(&dir).to_owned();
    let output = Command::new(&cargo)
        .current_dir(&workspace)
        .args(["build", "--quiet", "--profile", &profile, "--target-dir"])
        .arg(&target_dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    Some(output)
}

/// The first `error` line of a failed build's stderr, to say why in one
/// line.
pub fn first_error(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .find(|line| line.starts_with("error"))
        .unwrap_or("cargo build failed")
        .to_owned()
}
