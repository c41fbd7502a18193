// A rig's static fallback file: the real file under the mount that git reads
// once the mount is gone, written through after every change, and the state
// record beside it that lets a restart trust the token found there. Everything
// about what a fallback file is lives here; the directory itself is a
// BackingDir.
//
// The state record, ".<file>.credfs-state" in the same directory, holds the
// token's expiry and a fingerprint of the token (never the token):
// "expires_at=<ISO-8601 or never>\nfingerprint=<hex>\n". A file with a state
// record beside it was written by the daemon: it is a rig's, not an unmanaged
// file, even after its rig is removed from the config.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/core/credential.hpp"
#include "credfs/core/thread_annotations.hpp"
#include "credfs/engine/backing_dir.hpp"

namespace credfs {

class FallbackStore {
  public:
    /// The fallback file of `rig` (named rig.file) in `dir`. `dir` and `rig`
    /// must outlive the store (its Rig's config: one copy per rig, not two).
    FallbackStore(const BackingDir& dir, const RigConfig& rig);
    /// A temporary config would not outlive the store.
    FallbackStore(const BackingDir& dir, RigConfig&& rig) = delete;
    FallbackStore(const FallbackStore&) = delete;
    FallbackStore& operator=(const FallbackStore&) = delete;

    /// What a fallback file left by an earlier run holds.
    struct Seed {
        /// The fallback file exists and could be read.
        bool found = false;
        /// Its lines other than the managed one, in order.
        std::vector<std::string> other_lines;
        /// The managed line's token, when there is one (perhaps empty).
        std::optional<std::string> token;
        /// The token's expiry (wall time), only when its state record vouches
        /// for exactly this (non-empty) token.
        std::optional<WallTime> expires_at;
    };

    /// Reads the fallback file and its state record. Absent or unreadable
    /// files give an empty Seed; never throws. Thread-safe.
    Seed load() const;

    /// Writes the credential `newest()` returns (null: nothing to write)
    /// through to the fallback file: the state record first, then the file,
    /// each replaced atomically (BackingDir::write_atomic). When git writes
    /// the directory too (BackingDir::shared_with_git), the file is replaced
    /// under git's lock file, and its other lines are the file's as read
    /// under that lock (git's latest store or erase), not the credential's:
    /// a line git stored a moment ago is never lost. Writes are
    /// serialized and `newest` is called once this one's turn comes, so
    /// concurrent writers leave the newest content on disk. A failure is
    /// counted and logged once per distinct error, never thrown. Blocks for
    /// two fsyncs. Thread-safe.
    void write(const std::function<CredentialPtr()>& newest) CREDFS_EXCLUDES(write_mu_, mu_);

    /// The last write's outcome.
    struct Health {
        uint64_t failures = 0;  ///< Failed writes so far.
        std::string error;      ///< strerror of the last write; empty once one succeeds.
    };
    Health health() const CREDFS_EXCLUDES(mu_);
    /// True unless the last write failed.
    bool current() const CREDFS_EXCLUDES(mu_);

    /// ".<file>.credfs-state".
    static std::string state_file_name(const std::string& file);
    /// True for state record names (hidden from the mount's listing).
    static bool is_state_file_name(std::string_view name);
    /// The first 16 bytes of SHA-256(token), hex: identifies a token without
    /// revealing it.
    static std::string token_fingerprint(std::string_view token);
    /// The state record for a token expiring at `expires_at` (wall time;
    /// WallTime::max() for never).
    static std::string render_state(WallTime expires_at, std::string_view token);
    /// The expiry recorded in `content` when its fingerprint is `token`'s;
    /// std::nullopt otherwise (another token, a malformed or foreign file).
    static std::optional<WallTime> parse_state(std::string_view content, std::string_view token);

    /// True when `name` in `dir` is a file the daemon does not manage, to be
    /// shown through the mount as it is: not empty, not a state record or a
    /// BackingDir temp file, and with no state record beside it (a rig's
    /// fallback file, also one of a rig no longer configured). The caller
    /// still excludes names it serves itself (configured rigs, .status).
    static bool is_passthrough(const BackingDir& dir, std::string_view name);

  private:
    /// With git writing the file too: the managed line for `cred`, then the
    /// other lines as they are in `on_disk` now (git's, read under its lock).
    std::string merge_with_file(const Credential& cred,
                                const std::optional<std::string>& on_disk) const;

    const BackingDir& dir_;
    const RigConfig& rig_;
    // Held across a whole write so the last writer writes the newest content.
    Mutex write_mu_ CREDFS_ACQUIRED_BEFORE(mu_);
    mutable Mutex mu_;
    Health health_ CREDFS_GUARDED_BY(mu_);
};

}  // namespace credfs
