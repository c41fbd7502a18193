// Inode numbers of the mount, as the kernel sees them (FUSE's nodeid). The
// mount is one flat directory, so a node is known by its inode or by its name
// in the root; nothing here sees a path.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace credfs {

/// Stable for a name's whole life: a rig file keeps its number across git's
/// rename of a lock file onto it, so an open racing that rename never finds
/// its inode gone.
using Ino = uint64_t;
inline constexpr Ino kRootIno = 1;     ///< FUSE_ROOT_ID.
inline constexpr Ino kStatusIno = 2;   ///< .status
inline constexpr Ino kMetricsIno = 3;  ///< .metrics
/// Rig files and the backing directory's files are numbered from here, by name.
inline constexpr Ino kFirstNamedIno = 16;
/// Scratch files are numbered from here, one number per file created.
inline constexpr Ino kFirstScratchIno = Ino{1} << 32;

/// The numbers of the names that keep one inode for the daemon's life (rig
/// files, the backing directory's files), from kFirstNamedIno up. A number is
/// never reused for another name, so the kernel's cached numbers never point
/// at the wrong file; whether the name still exists is the caller's question.
/// Thread-safe.
class NamedInodes {
  public:
    /// The number of `name`, assigned on first use.
    Ino ino_of(const std::string& name);
    /// The name numbered `ino`, or nullopt when no name ever had it.
    std::optional<std::string> name_of(Ino ino) const;

  private:
    mutable std::mutex mu_;
    std::unordered_map<std::string, Ino> ino_by_name_;
    std::unordered_map<Ino, std::string> name_by_ino_;
    Ino next_ = kFirstNamedIno;
};

}  // namespace credfs
