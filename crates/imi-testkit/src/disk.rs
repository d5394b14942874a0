//! A small, private file system (tmpfs) that a test can fill up, to produce a real
//! "disk full" (ENOSPC) under the registry: SQLite then fails a COMMIT with
//! SQLITE_FULL exactly as on a full disk. Mounting needs root; elsewhere the test
//! is skipped with a message (as root, a failed mount fails the test).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct SmallDisk {
    path: PathBuf,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl SmallDisk {
    /// A fresh tmpfs of `size_kib` KiB; `None` (test skipped) when not root.
    pub fn mount(size_kib: u64) -> Option<SmallDisk> {
        let path = std::env::temp_dir().join(format!("imi-small-disk-{}", uuid::Uuid::new_v4()));
        SmallDisk::mount_at(&path, size_kib)
    }

    /// The same, mounted on `path` (created if needed), e.g. the directory where
    /// imi keeps its registry by default.
    pub fn mount_at(path: &Path, size_kib: u64) -> Option<SmallDisk> {
        if !is_root() {
            crate::skip(
                "a full disk",
                "mounting a small tmpfs to fill up needs root",
            );
            return None;
        }
        let path = path.to_path_buf();
        std::fs::create_dir_all(&path).expect("create the mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size_kib}k,mode=0700"))
            .arg("imi-test")
            .arg(&path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount -t tmpfs on {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(SmallDisk { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn filler(&self) -> PathBuf {
        self.path.join("filler")
    }

    /// Takes every free byte (a file written until ENOSPC).
    pub fn fill(&self) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())
            .expect("create the filler");
        let chunk = [0u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling {}: {e}", self.path.display()),
            }
        }
        // tmpfs allocates whole pages: nothing is left now
        assert!(
            std::fs::OpenOptions::new()
                .append(true)
                .open(self.filler())
                .and_then(|mut f| f.write_all(&chunk))
                .is_err(),
            "{} still has room after filling",
            self.path.display()
        );
    }

    /// Frees what [`SmallDisk::fill`] took.
    pub fn free(&self) {
        std::fs::remove_file(self.filler()).expect("remove the filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // lazy: a process still holding a file there (a child being killed) does not
        // keep the mount alive
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}
