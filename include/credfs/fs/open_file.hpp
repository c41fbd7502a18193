// An open file of the mount: one of four kinds, each holding only what its
// reads need. The FUSE adapter keeps one per kernel file handle (fh).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <variant>

#include "credfs/core/credential.hpp"
#include "credfs/fs/inodes.hpp"
#include "credfs/fs/scratch.hpp"

namespace credfs {

/// A rig file: the content snapshot taken at open, so a refresh between two
/// read() calls never mixes two tokens.
struct RigFile {
    CredentialPtr credential;  ///< Never null.
};

/// A file of the scratch directory (git's lock files, other files git makes).
struct ScratchFile {
    ScratchHandle handle;  ///< Never null; Scratch::release'd once, at release.
};

/// A file of the backing directory (the one the mount hides) that is not the
/// daemon's, shown read-only. Owns its descriptor: closed at release, or at
/// destruction when never released.
class PassthroughFile {
  public:
    /// Takes ownership of `fd`, opened read-only.
    explicit PassthroughFile(int fd) : fd_(fd) {}
    PassthroughFile(PassthroughFile&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    PassthroughFile& operator=(PassthroughFile&& other) noexcept;
    PassthroughFile(const PassthroughFile&) = delete;
    PassthroughFile& operator=(const PassthroughFile&) = delete;
    ~PassthroughFile() { close(); }

    /// The descriptor, or -1 once closed.
    int fd() const { return fd_; }
    void close();

  private:
    int fd_;
};

/// .status or .metrics, rendered at open: reads and fstat see one rendering
/// however the rigs change meanwhile.
struct RenderedFile {
    Ino ino;  ///< kStatusIno or kMetricsIno.
    std::string content;
};

using OpenFile = std::variant<RigFile, ScratchFile, PassthroughFile, RenderedFile>;

/// Copies up to `size` bytes of `file` from byte `offset` into `buf`
/// (`scratch` holds a ScratchFile's bytes). Returns the count, 0 at or past
/// the end, or a passthrough file's -errno from pread(2).
ssize_t read_open_file(const OpenFile& file, const Scratch& scratch, char* buf, size_t size,
                       off_t offset);

/// Writes to a ScratchFile at `offset` (at the end when `append`); returns
/// the count or -EFBIG (Scratch::write). Every other kind is read-only:
/// -EBADF.
ssize_t write_open_file(const OpenFile& file, Scratch& scratch, std::string_view data, off_t offset,
                        bool append);

/// Ends `file` once, when the kernel releases it: a scratch file's open count
/// drops, a passthrough file's descriptor closes. Rig and rendered files hold
/// only memory, freed with the OpenFile.
void release_open_file(OpenFile& file, Scratch& scratch);

}  // namespace credfs
