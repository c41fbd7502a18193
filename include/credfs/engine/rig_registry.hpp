// The configured rigs, looked up by their file name in the mount root, and
// swapped as a whole when the config is reloaded (SIGHUP).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "credfs/core/config.hpp"
#include "credfs/engine/backing_dir.hpp"
#include "credfs/engine/rig.hpp"
#include "credfs/engine/rig_events.hpp"
#include "credfs/engine/served_feed.hpp"

namespace credfs {

using RigPtr = std::shared_ptr<Rig>;

/// One generation of rigs: immutable once published. Holders of a RigSet (or
/// of one of its rigs) keep it usable across a reload.
struct RigSet {
    std::vector<RigPtr> rigs;  ///< In config order.
    std::unordered_map<std::string, RigPtr> by_file;
    double revoke_after_s = 600;  ///< The top-level source's (rigs may have their own).
    /// What these rigs report, by their index in `rigs`: set by the
    /// registry (its rigs report to it from their refreshes); null in a set
    /// built by hand.
    std::shared_ptr<RigEvents> events;
};

/// What a reload changed, by rig file name.
struct ReloadSummary {
    std::vector<std::string> added, removed, kept;
};

class RigRegistry {
  public:
    /// Builds one Rig per entry of `config.rigs`. `clock` and `backing` must
    /// outlive the registry; `config` and `source` are kept alive by the rigs.
    /// `on_refreshed` is handed to every Rig (see Rig::Rig). With `backing`,
    /// each rig gets a FallbackStore for its file there, writes through to it
    /// and is seeded from it now.
    RigRegistry(const std::shared_ptr<const Config>& config,
                const std::shared_ptr<TokenSource>& source, const Clock& clock, RandomUnit random,
                std::function<void()> on_refreshed, const BackingDir* backing = nullptr);
    /// For tests: `config` and `source` must outlive the registry.
    RigRegistry(const Config& config, TokenSource& source, const Clock& clock,
                const RandomUnit& random, const std::function<void()>& on_refreshed,
                const BackingDir* backing = nullptr);

    /// The rig served as `file_name` now, or null. Thread-safe.
    RigPtr find(std::string_view file_name) const;
    /// The rig served as file `file_or_id`, else the rig with that id, else
    /// null (the credential helper's --rig takes either). Thread-safe.
    RigPtr find_rig(std::string_view file_or_id) const;

    /// Rigs whose source can revoke (TokenSource::can_revoke) hand the tokens
    /// they replace to `revoker`, now and after every reload. Call before the
    /// scheduler starts; `revoker` must outlive the rigs' refreshes.
    void set_revoker(Revoker* revoker);
    /// Every rig runs its refreshes on `pool` (Rig::set_refresh_pool), now
    /// and after every reload. Call before the first refresh (the scheduler's
    /// start, the first read); `pool` must outlive the rigs.
    void set_refresh_pool(RefreshPool* pool);
    /// True when a rig of the current generation serves `token` (Rig::serves).
    /// Thread-safe: the revoker asks.
    bool serves(const std::string& token) const;

    /// Where every rig, of this generation and the next ones, reports a change
    /// of its served content (Rig::set_served_feed).
    ServedFeed& served_feed() { return feed_; }

    /// Rigs of the current generation without a token yet: zero exactly
    /// when every rig has one (seeded from its fallback file or refreshed).
    /// Lock-free: startup readiness polls it.
    size_t tokenless() const { return current_.load()->events->tokenless(); }

    /// The current generation. Thread-safe; never null.
    std::shared_ptr<const RigSet> rigs() const { return current_.load(); }

    /// Replaces every rig with one built from `config` and `source`
    /// (SIGHUP): the old rigs are retired first (their in-flight refreshes
    /// finish and are written through), then the new ones are seeded from the
    /// fallback files, so a rig whose token is still valid makes no upstream
    /// call. Removed rigs' static files stay. Not concurrent with itself.
    ReloadSummary reload(const std::shared_ptr<const Config>& config,
                         const std::shared_ptr<TokenSource>& source);

    /// The daemon is stopping: Rig::stop_refreshes() on every current rig,
    /// so the refreshes still queued for the pool end without an upstream
    /// call. Returns at once. Thread-safe.
    void stop_refreshes() const;

  private:
    /// Throws SourceError when a rig's own source cannot be built.
    std::shared_ptr<const RigSet> build(const std::shared_ptr<const Config>& config,
                                        const std::shared_ptr<TokenSource>& source,
                                        bool seed) const;
    /// Counts the rigs of `set` that have no token yet (RigEvents), after seeding.
    static void count_tokenless(const RigSet& set);

    // First: the rigs hold a pointer to it.
    ServedFeed feed_;
    const Clock& clock_;
    RandomUnit random_;
    std::function<void()> on_refreshed_;
    const BackingDir* backing_;
    std::atomic<Revoker*> revoker_{nullptr};
    std::atomic<RefreshPool*> pool_{nullptr};
    std::atomic<std::shared_ptr<const RigSet>> current_;
};

}  // namespace credfs
