// What the engine makes of git rewriting a rig file through its credential-
// store helper (`store` after a success, `erase` after a 401): the other
// hosts' lines git stored are kept and served after the managed line, and an
// erase is a rejection that forces a refresh, at most once per
// refresh.reject_cooldown_s.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/core/credential_store.hpp"

namespace credfs {

/// One rig's policy state. Not thread-safe by design: the kept lines and the
/// credential rendered from them must change together, so the owning Rig
/// holds this under its own lock (Rig::mu_, CREDFS_GUARDED_BY there) rather than
/// under a second one. Never holds a token.
class GitRewritePolicy {
  public:
    /// The whole file must still fit in git's next lock file (git refuses a
    /// credential file over 1 MiB): other lines are kept up to this many
    /// bytes, newlines included.
    static constexpr size_t kMaxKeptBytes = size_t{512} * 1024;

    /// `rig` and `refresh` must outlive the policy (the Rig's own copies).
    GitRewritePolicy(const RigConfig& rig, const RefreshConfig& refresh);

    /// What a rewrite changed.
    struct Applied {
        /// An approval that left the kept lines as they were: git rewrote the
        /// bytes it had read (it does so after every successful push).
        bool unchanged = false;
        /// The token was erased and a forced refresh should start now.
        bool refresh_now = false;
        /// The token was erased within the cooldown: refresh when it ends
        /// (wall time); the caller moves its schedule no later than this.
        std::optional<WallTime> refresh_by;
        size_t kept = 0;     ///< Other lines kept.
        size_t dropped = 0;  ///< Other lines dropped past kMaxKeptBytes.
    };

    /// Applies `rewrite` (parsed from git's lock file) at wall time `now`.
    /// The other lines replace the kept ones. Without the managed line, and
    /// when `rejectable` (something is served that git could have rejected,
    /// and the Rig does not read the erase as replication lag), it is a
    /// rejection: refresh_now unless the last forced refresh was under
    /// refresh.reject_cooldown_s ago (then refresh_by its end).
    Applied apply(const StoreRewrite& rewrite, WallTime now, bool rejectable);

    /// A rejection reported without a rewrite (the credential helper's
    /// `erase` with the current token) at wall time `now`: the kept lines
    /// stay; refresh_now or refresh_by exactly as for an erase in apply().
    Applied reject(WallTime now, bool has_token);

    /// Replaces the kept lines with `lines` (seeding from the fallback file at
    /// startup), within kMaxKeptBytes; returns how many were dropped.
    size_t keep_lines(const std::vector<std::string>& lines);

    /// The file's content for `token`: the managed line
    /// (render_store_line), then the kept lines, each newline-terminated.
    std::string render(std::string_view token) const;

    size_t kept_count() const { return kept_lines_.size(); }
    /// Forced refreshes started by rejections so far.
    uint64_t rejections() const { return rejections_; }

  private:
    const RigConfig& rig_;
    const RefreshConfig& refresh_;
    std::vector<std::string> kept_lines_;  // other hosts' lines git stored in the file
    std::optional<WallTime> last_rejection_refresh_;
    uint64_t rejections_ = 0;
};

}  // namespace credfs
