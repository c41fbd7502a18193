// Revokes tokens the rigs no longer serve (source.revoke_superseded): a
// token leaked into a log is then dead within minutes instead of an hour.
// A rig hands a token over when it replaces it; the token is revoked once
//   * it has not been handed to a reader for revoke_after_s (wall time, from
//     the later of its replacement and Credential::last_handed_out()), so a
//     git operation that started with it has long finished,
//   * no rig serves it, as current credential or in its fallback file
//     (`in_use`; several rigs may share one token),
//   * it has not expired (an expired token is dropped: nothing to revoke).
// A failed revocation is retried with backoff (refresh.backoff_*, or the
// upstream's Retry-After) until it succeeds or the token expires. Requests
// run on the revoker's own thread, never under a Rig's lock, so a refresh
// never waits for one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/core/credential.hpp"
#include "credfs/core/refresh_policy.hpp"
#include "credfs/core/thread_annotations.hpp"
#include "credfs/sources/token_source.hpp"

namespace credfs {

/// Counters for status and metrics; never a token.
struct RevocationStats {
    uint64_t revoked = 0;       ///< Revoked by the upstream (GitHub: 204).
    uint64_t already_dead = 0;  ///< The upstream no longer knew them (401): done.
    uint64_t failures = 0;      ///< Failed attempts (each retried later).
    uint64_t pending = 0;       ///< Handed over, not yet revoked or dropped.
};

class Revoker {
  public:
    /// True while some rig serves `token` or holds it in its fallback file.
    using InUse = std::function<bool(const std::string& token)>;

    /// `clock` must outlive the Revoker; `backoff` supplies
    /// backoff_initial_s and backoff_max_s for retries.
    Revoker(const Clock& clock, RandomUnit random, RefreshConfig backoff, InUse in_use);
    ~Revoker();
    Revoker(const Revoker&) = delete;
    Revoker& operator=(const Revoker&) = delete;

    /// `rig` stopped serving `cred` (replaced). `source` revokes it;
    /// `keep_alive` keeps `source` alive until then. The same token handed
    /// over by several rigs is one entry. Thread-safe; never blocks on I/O.
    void hand_over(CredentialPtr cred, const std::string& rig, TokenSource& source,
                   std::shared_ptr<const void> keep_alive, double revoke_after_s)
        CREDFS_EXCLUDES(mu_);

    /// Revokes every token due at wall time `now`, one request at a time,
    /// with no lock held; each request bounded by what is left of `budget_s`
    /// (monotonic; +inf: the source's own timeouts only). Returns the number
    /// of requests made. Thread-safe.
    int revoke_due(WallTime now, double budget_s) CREDFS_EXCLUDES(mu_);

    /// Wall time the next entry may be due; WallTime::max() when none.
    WallTime next_due() const CREDFS_EXCLUDES(mu_);

    /// Starts the thread that calls revoke_due when entries fall due.
    void start() CREDFS_EXCLUDES(mu_);
    /// Stops it, after the request in flight (bounded by its timeouts).
    void stop() CREDFS_EXCLUDES(mu_);

    RevocationStats stats() const CREDFS_EXCLUDES(mu_);

  private:
    struct Entry {
        std::vector<CredentialPtr> creds;  // every rig's credential of this token
        std::vector<std::string> rigs;
        TokenSource* source = nullptr;
        std::shared_ptr<const void> keep_alive;
        WallTime replaced_at{};
        double revoke_after_s = 0;
        int failures = 0;
        WallTime retry_at{};  // backoff after a failure, or a recheck while in use
        bool busy = false;    // a request for it runs now
    };
    WallTime due_at(const Entry& e) const;
    void run() CREDFS_EXCLUDES(mu_);
    /// Picks the next due entry (marked busy), after dropping expired ones;
    /// null when none.
    CredentialPtr take_due(WallTime now) CREDFS_EXCLUDES(mu_);
    /// Revokes the busy entry of `token` and records the outcome.
    void revoke_one(const std::string& token, WallTime now, double max_s) CREDFS_EXCLUDES(mu_);
    std::vector<Entry>::iterator find_locked(const std::string& token) CREDFS_REQUIRES(mu_);

    const Clock& clock_;
    RandomUnit random_;
    const RefreshConfig backoff_;
    const InUse in_use_;
    mutable Mutex mu_;
    std::condition_variable wake_;
    std::vector<Entry> entries_ CREDFS_GUARDED_BY(mu_);
    RevocationStats stats_ CREDFS_GUARDED_BY(mu_);  // pending computed in stats()
    bool stopping_ CREDFS_GUARDED_BY(mu_) = false;
    // Hand-overs so far, so the thread never sleeps through one.
    uint64_t changes_ CREDFS_GUARDED_BY(mu_) = 0;
    std::thread thread_;  // started and joined by start() and stop(), not concurrently
};

}  // namespace credfs
