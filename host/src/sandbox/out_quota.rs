//! The disk quotas of `/out`: how many bytes a call may write and how many
//! files and directories it may create, enforced while the guest writes.
//!
//! WASI's `wasi:filesystem/types` is linked through [`OutFs`], which hands
//! every call to wasmtime-wasi's own implementation after charging what it
//! would add to the disk: the bytes of a write, the hole a write past the end
//! or a `set-size` opens (a sparse file counts at its length, the length the
//! merge will copy), and one entry per file, directory or link created. The
//! streams returned by `write-via-stream` / `append-via-stream` are wrapped
//! so each write through them is charged too. The first write over a limit
//! traps the call with `quota exceeded: out_bytes|out_files`; the staging
//! directory is then dropped and nothing is merged.
//!
//! Charges are never given back (removing a file does not refund it): the
//! quota bounds the disk work a call can cause, not only what it leaves.
//! Only `/out` is writable (`/workspace` is read-only), so every write the
//! guest makes through this interface lands in `/out`.
//!
//! After the call, [`measure`] checks what the staging directory really
//! holds against the same limits, which also covers files a granted program
//! put there through `exec`.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::async_trait;
use wasmtime_wasi::filesystem::{WasiFilesystemCtxView, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{
    self as fs, Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, DirectoryEntryStream,
    ErrorCode, Filesize, MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::bindings::sync::io::streams;
use wasmtime_wasi::p2::{DynOutputStream, FsError, FsResult, OutputStream, Pollable, StreamError, StreamResult};

use super::quotas::{QuotaBreach, QuotaKind, Quotas};

/// What one call has written to `/out` so far, against its limits. Shared
/// with the streams it opened, hence atomics.
#[derive(Debug)]
pub struct OutUsage {
    max_bytes: u64,
    max_files: u64,
    bytes: AtomicU64,
    files: AtomicU64,
    breach: OnceLock<QuotaBreach>,
}

impl OutUsage {
    pub fn new(quotas: &Quotas) -> Arc<Self> {
        Arc::new(OutUsage {
            max_bytes: quotas.out_bytes,
            max_files: quotas.out_files,
            bytes: AtomicU64::new(0),
            files: AtomicU64::new(0),
            breach: OnceLock::new(),
        })
    }

    /// The first limit the call ran into, if any.
    pub fn breach(&self) -> Option<QuotaBreach> {
        self.breach.get().copied()
    }

    /// Bytes and entries charged so far.
    pub fn used(&self) -> (u64, u64) {
        (self.bytes.load(Ordering::Relaxed), self.files.load(Ordering::Relaxed))
    }

    pub fn charge_bytes(&self, n: u64) -> Result<(), QuotaBreach> {
        self.charge(&self.bytes, n, self.max_bytes, QuotaKind::OutBytes)
    }

    pub fn charge_entry(&self) -> Result<(), QuotaBreach> {
        self.charge(&self.files, 1, self.max_files, QuotaKind::OutFiles)
    }

    fn charge(&self, counter: &AtomicU64, n: u64, limit: u64, kind: QuotaKind) -> Result<(), QuotaBreach> {
        let before = counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_add(n)))
            .unwrap_or(u64::MAX);
        if before.saturating_add(n) > limit {
            return Err(*self.breach.get_or_init(|| QuotaBreach { kind, limit }));
        }
        Ok(())
    }
}

/// A store whose calls charge their `/out` writes to an [`OutUsage`]: the
/// sandbox's call state. A trait, so that this file need not know that type.
pub trait ChargesOut: WasiFilesystemView {
    fn out_usage(&self) -> Arc<OutUsage>;
}

/// Link `wasi:filesystem/types` through [`OutFs`], replacing the
/// definitions `wasmtime_wasi::p2::add_to_linker_sync` made.
pub fn add_to_linker<T: ChargesOut + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = fs::add_to_linker::<T, OutFsData>(linker, |state| OutFs { usage: state.out_usage(), fs: state.filesystem() });
    linker.allow_shadowing(false);
    added
}

struct OutFsData;

impl HasData for OutFsData {
    type Data<'a> = OutFs<'a>;
}

/// wasmtime-wasi's filesystem, with every write charged to the call's
/// [`OutUsage`] first.
pub struct OutFs<'a> {
    fs: WasiFilesystemCtxView<'a>,
    usage: Arc<OutUsage>,
}

fn trap(breach: QuotaBreach) -> FsError {
    FsError::trap(breach)
}

/// Another handle on the descriptor `fd` names, for a look before the call.
fn borrow(fd: &Resource<Descriptor>) -> Resource<Descriptor> {
    Resource::new_borrow(fd.rep())
}

impl OutFs<'_> {
    /// The current length of `fd`'s file (0 when it cannot be told).
    fn size_of(&mut self, fd: &Resource<Descriptor>) -> u64 {
        fs::HostDescriptor::stat(&mut self.fs, borrow(fd)).map(|s| s.size).unwrap_or(0)
    }

    /// Charge the hole between the file's end and `offset`.
    fn charge_hole(&mut self, fd: &Resource<Descriptor>, offset: u64) -> FsResult<()> {
        let size = self.size_of(fd);
        self.usage.charge_bytes(offset.saturating_sub(size)).map_err(trap)
    }

    /// Wrap a stream the guest will write a file through.
    fn counted(&mut self, stream: Resource<DynOutputStream>) -> FsResult<Resource<DynOutputStream>> {
        let inner = self.fs.table.delete(stream).map_err(FsError::trap)?;
        let counted: DynOutputStream = Box::new(CountedStream { inner, usage: self.usage.clone() });
        self.fs.table.push(counted).map_err(FsError::trap)
    }
}

impl fs::Host for OutFs<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        fs::Host::convert_error_code(&mut self.fs, err)
    }

    fn filesystem_error_code(&mut self, err: Resource<streams::Error>) -> wasmtime::Result<Option<ErrorCode>> {
        fs::Host::filesystem_error_code(&mut self.fs, err)
    }
}

impl fs::HostDescriptor for OutFs<'_> {
    fn write(&mut self, fd: Resource<Descriptor>, buf: Vec<u8>, offset: Filesize) -> FsResult<Filesize> {
        self.charge_hole(&fd, offset)?;
        self.usage.charge_bytes(buf.len() as u64).map_err(trap)?;
        fs::HostDescriptor::write(&mut self.fs, fd, buf, offset)
    }

    fn write_via_stream(&mut self, fd: Resource<Descriptor>, offset: Filesize) -> FsResult<Resource<streams::OutputStream>> {
        self.charge_hole(&fd, offset)?;
        let stream = fs::HostDescriptor::write_via_stream(&mut self.fs, fd, offset)?;
        self.counted(stream)
    }

    fn append_via_stream(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<streams::OutputStream>> {
        let stream = fs::HostDescriptor::append_via_stream(&mut self.fs, fd)?;
        self.counted(stream)
    }

    fn set_size(&mut self, fd: Resource<Descriptor>, size: Filesize) -> FsResult<()> {
        self.charge_hole(&fd, size)?;
        fs::HostDescriptor::set_size(&mut self.fs, fd, size)
    }

    fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        if oflags.contains(OpenFlags::CREATE)
            && fs::HostDescriptor::stat_at(&mut self.fs, borrow(&fd), PathFlags::empty(), path.clone()).is_err()
        {
            self.usage.charge_entry().map_err(trap)?;
        }
        fs::HostDescriptor::open_at(&mut self.fs, fd, path_flags, path, oflags, flags)
    }

    fn create_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        self.usage.charge_entry().map_err(trap)?;
        fs::HostDescriptor::create_directory_at(&mut self.fs, fd, path)
    }

    fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path_flags: PathFlags,
        old_path: String,
        new_descriptor: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        // The merge copies a hard link as a second file of the same length.
        let size = fs::HostDescriptor::stat_at(&mut self.fs, borrow(&fd), PathFlags::empty(), old_path.clone())
            .map(|s| s.size)
            .unwrap_or(0);
        self.usage.charge_entry().map_err(trap)?;
        self.usage.charge_bytes(size).map_err(trap)?;
        fs::HostDescriptor::link_at(&mut self.fs, fd, old_path_flags, old_path, new_descriptor, new_path)
    }

    fn symlink_at(&mut self, fd: Resource<Descriptor>, src_path: String, dest_path: String) -> FsResult<()> {
        self.usage.charge_entry().map_err(trap)?;
        fs::HostDescriptor::symlink_at(&mut self.fs, fd, src_path, dest_path)
    }

    // Everything below adds nothing to the disk: handed on as it is.

    fn advise(&mut self, fd: Resource<Descriptor>, offset: Filesize, len: Filesize, advice: fs::Advice) -> FsResult<()> {
        fs::HostDescriptor::advise(&mut self.fs, fd, offset, len, advice)
    }

    fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        fs::HostDescriptor::sync_data(&mut self.fs, fd)
    }

    fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        fs::HostDescriptor::get_flags(&mut self.fs, fd)
    }

    fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorType> {
        fs::HostDescriptor::get_type(&mut self.fs, fd)
    }

    fn set_times(&mut self, fd: Resource<Descriptor>, atim: NewTimestamp, mtim: NewTimestamp) -> FsResult<()> {
        fs::HostDescriptor::set_times(&mut self.fs, fd, atim, mtim)
    }

    fn read(&mut self, fd: Resource<Descriptor>, len: Filesize, offset: Filesize) -> FsResult<(Vec<u8>, bool)> {
        fs::HostDescriptor::read(&mut self.fs, fd, len, offset)
    }

    fn read_directory(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DirectoryEntryStream>> {
        fs::HostDescriptor::read_directory(&mut self.fs, fd)
    }

    fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        fs::HostDescriptor::sync(&mut self.fs, fd)
    }

    fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        fs::HostDescriptor::stat(&mut self.fs, fd)
    }

    fn stat_at(&mut self, fd: Resource<Descriptor>, path_flags: PathFlags, path: String) -> FsResult<DescriptorStat> {
        fs::HostDescriptor::stat_at(&mut self.fs, fd, path_flags, path)
    }

    fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        fs::HostDescriptor::set_times_at(&mut self.fs, fd, path_flags, path, atim, mtim)
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        fs::HostDescriptor::drop(&mut self.fs, fd)
    }

    fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        fs::HostDescriptor::readlink_at(&mut self.fs, fd, path)
    }

    fn remove_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        fs::HostDescriptor::remove_directory_at(&mut self.fs, fd, path)
    }

    fn rename_at(&mut self, fd: Resource<Descriptor>, old_path: String, new_fd: Resource<Descriptor>, new_path: String) -> FsResult<()> {
        fs::HostDescriptor::rename_at(&mut self.fs, fd, old_path, new_fd, new_path)
    }

    fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        fs::HostDescriptor::unlink_file_at(&mut self.fs, fd, path)
    }

    fn read_via_stream(&mut self, fd: Resource<Descriptor>, offset: Filesize) -> FsResult<Resource<streams::InputStream>> {
        fs::HostDescriptor::read_via_stream(&mut self.fs, fd, offset)
    }

    fn is_same_object(&mut self, a: Resource<Descriptor>, b: Resource<Descriptor>) -> wasmtime::Result<bool> {
        fs::HostDescriptor::is_same_object(&mut self.fs, a, b)
    }

    fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        fs::HostDescriptor::metadata_hash(&mut self.fs, fd)
    }

    fn metadata_hash_at(&mut self, fd: Resource<Descriptor>, path_flags: PathFlags, path: String) -> FsResult<MetadataHashValue> {
        fs::HostDescriptor::metadata_hash_at(&mut self.fs, fd, path_flags, path)
    }
}

impl fs::HostDirectoryEntryStream for OutFs<'_> {
    fn read_directory_entry(&mut self, stream: Resource<DirectoryEntryStream>) -> FsResult<Option<DirectoryEntry>> {
        fs::HostDirectoryEntryStream::read_directory_entry(&mut self.fs, stream)
    }

    fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        fs::HostDirectoryEntryStream::drop(&mut self.fs, stream)
    }
}

/// A file's output stream whose every write is charged first. Zeroes and
/// splices reach [`OutputStream::write`] through the trait's own defaults.
struct CountedStream {
    inner: DynOutputStream,
    usage: Arc<OutUsage>,
}

impl CountedStream {
    fn charge(&self, n: usize) -> StreamResult<()> {
        self.usage.charge_bytes(n as u64).map_err(|b| StreamError::Trap(b.into()))
    }
}

#[async_trait]
impl OutputStream for CountedStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.charge(bytes.len())?;
        self.inner.write(bytes)
    }

    async fn blocking_write_and_flush(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.charge(bytes.len())?;
        self.inner.blocking_write_and_flush(bytes).await
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[async_trait]
impl Pollable for CountedStream {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

/// What a staging directory holds: apparent bytes and entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measured {
    pub bytes: u64,
    pub entries: u64,
}

/// Measure `dir` against the call's `/out` quotas, stopping at the first
/// limit crossed (a directory of a million entries is not walked to the end).
pub fn measure(dir: &Path, quotas: &Quotas) -> io::Result<Result<Measured, QuotaBreach>> {
    let mut seen = Measured::default();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            seen.entries += 1;
            if seen.entries > quotas.out_files {
                return Ok(Err(QuotaBreach { kind: QuotaKind::OutFiles, limit: quotas.out_files }));
            }
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                seen.bytes = seen.bytes.saturating_add(meta.len());
                if seen.bytes > quotas.out_bytes {
                    return Ok(Err(QuotaBreach { kind: QuotaKind::OutBytes, limit: quotas.out_bytes }));
                }
            }
        }
    }
    Ok(Ok(seen))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit_and_remember_the_first_breach() {
        let usage = OutUsage::new(&Quotas { out_bytes: 10, out_files: 2, ..Quotas::default() });
        assert_eq!(usage.charge_bytes(10), Ok(()));
        let over = usage.charge_bytes(1).unwrap_err();
        assert_eq!(over.to_string(), "quota exceeded: out_bytes (limit 10)");
        assert_eq!(usage.charge_entry(), Ok(()));
        assert_eq!(usage.charge_entry(), Ok(()));
        assert!(usage.charge_entry().is_err());
        // The first breach is the one reported.
        assert_eq!(usage.breach(), Some(QuotaBreach { kind: QuotaKind::OutBytes, limit: 10 }));
        assert!(usage.charge_bytes(u64::MAX).is_err(), "no overflow");
    }

    #[test]
    fn measure_counts_apparent_size_and_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), "abc").unwrap();
        let sparse = std::fs::File::create(dir.path().join("sparse")).unwrap();
        sparse.set_len(1 << 30).unwrap();
        let q = Quotas { out_bytes: 2 << 30, out_files: 3, ..Quotas::default() };
        assert_eq!(measure(dir.path(), &q).unwrap(), Ok(Measured { bytes: (1 << 30) + 3, entries: 3 }));
        let q = Quotas { out_bytes: 1 << 20, ..q };
        assert_eq!(measure(dir.path(), &q).unwrap().unwrap_err().kind, QuotaKind::OutBytes);
        let q = Quotas { out_files: 2, out_bytes: 4 << 30, ..Quotas::default() };
        assert_eq!(measure(dir.path(), &q).unwrap().unwrap_err().kind, QuotaKind::OutFiles);
    }
}
