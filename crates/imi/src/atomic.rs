//! Writing a file so that readers never see half of it and a planted symlink is
//! never followed (issue 8, rule 8): the content goes to a new temporary file
//! created in the target's directory (`O_CREAT|O_EXCL` under a random name: an
//! existing file or symlink at that name is never opened), which is then renamed
//! over the target (a rename replaces a symlink at the target, it does not write
//! through it).

use std::io::Write;
use std::path::Path;

use imi_core::{Error, Result};

/// Replaces `path` with `bytes`; the file gets `mode` (less the umask).
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |e: &dyn std::fmt::Display| {
        Error::internal(format!("cannot write {}: {e}", path.display()))
            .with_hint("check that the directory exists and is writable")
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| fail(&e))?;
    // On failure the temporary file is removed when `tmp` drops.
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}
