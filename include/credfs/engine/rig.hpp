// One rig: its current credential, its single-flight refresh, its schedule.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/core/credential.hpp"
#include "credfs/core/credential_store.hpp"
#include "credfs/core/refresh_policy.hpp"
#include "credfs/core/thread_annotations.hpp"
#include "credfs/engine/fallback_store.hpp"
#include "credfs/engine/git_rewrite_policy.hpp"
#include "credfs/engine/refresh_pool.hpp"
#include "credfs/engine/revoker.hpp"
#include "credfs/engine/served_feed.hpp"
#include "credfs/engine/wait_histogram.hpp"
#include "credfs/sources/token_source.hpp"

namespace credfs {

/// Why a refresh started, for logs and counters.
enum class RefreshTrigger { Background, OnDemand, Rejected };

/// Counters and state for status output. Never holds a token.
struct RigStats {
    uint64_t refreshes = 0;        ///< Successful refreshes.
    uint64_t failures = 0;         ///< Failed refreshes, including not-newer tokens.
    uint64_t on_demand_waits = 0;  ///< Opens that waited for a refresh (counted as they start).
    WaitHistogram on_demand_wait;  ///< Their durations, recorded as they finish.
    uint64_t rejections = 0;       ///< Forced refreshes after git erased the managed line.
    uint64_t write_through_failures = 0;  ///< From the FallbackStore's health.
    std::string write_through_error;      ///< Empty while the fallback file is current.
    int consecutive_failures = 0;
    std::string last_error;      ///< Empty after a success.
    WallTime last_refresh_at{};  ///< Wall time of the last success; epoch when none.
    WallTime next_refresh_at{};  ///< Wall time the scheduler will next refresh.
};

/// The outcome of opening a rig file: a credential to serve, or an errno.
struct ReadResult {
    CredentialPtr credential;  ///< Set when error == 0.
    int error = 0;             ///< EIO when no unexpired token could be had in time.
};

/// Lock order: Rig::mu_, then FallbackStore's locks (FallbackStore::current()
/// is asked under mu_); a refresh never holds mu_ across a fetch or a write.
class Rig {
  public:
    /// `config`, `source`, `refresh` and `clock` must outlive the Rig: it
    /// keeps references, not copies (a registry's rigs refer into the
    /// Config they keep alive, keep_alive(); at 100,000 rigs a copy of each
    /// RigConfig costs tens of megabytes). `on_refreshed` runs on the refresh
    /// thread after each attempt (success or failure), outside the Rig's
    /// lock; the scheduler uses it to wake up.
    Rig(const RigConfig& config, TokenSource& source, const RefreshConfig& refresh,
        const Clock& clock, RandomUnit random, std::function<void()> on_refreshed = {});
    /// A temporary config would not outlive the Rig.
    Rig(RigConfig&& config, TokenSource& source, const RefreshConfig& refresh, const Clock& clock,
        RandomUnit random, std::function<void()> on_refreshed = {}) = delete;
    /// Waits for an in-flight refresh to finish (bounded by the source's timeouts).
    ~Rig() CREDFS_EXCLUDES(mu_);
    Rig(const Rig&) = delete;
    Rig& operator=(const Rig&) = delete;

    const RigConfig& config() const { return config_; }
    const RefreshConfig& refresh_config() const { return refresh_; }
    std::string source_type() const { return source_.type_name(); }
    /// GitHub's rate limit as the rig's source last saw it (sources/rate_limit.hpp).
    std::optional<RateLimit> rate_limit() const { return source_.rate_limit(); }
    bool can_revoke() const { return source_.can_revoke(); }

    /// The credential being served now, or null before the first success.
    /// Lock-free for readers: one atomic load.
    CredentialPtr current() const { return current_.load(); }

    /// For open() and the helper's get: publishes a held-back token that is
    /// due (publish_due), then returns the current credential when it has at least min_ttl_s
    /// left (wall time) and git has not reported it rejected. A token with
    /// more than the mandatory window (effective_mandatory_s) left is also
    /// served at once while failed refreshes back off. Otherwise joins or
    /// starts the single-flight refresh, bypassing backoff, and waits for it
    /// at most read_timeout_s (monotonic), retrying failed ones as the
    /// backoff allows (every 50 ms at most) while the token has no more than
    /// the mandatory window left; then serves a fresh token, else a
    /// still-unexpired one with a warning, else EIO. Never returns an
    /// expired token. Stamps what it returns (Credential::mark_handed_out)
    /// for the revoker. Thread-safe.
    ReadResult credential_for_read() CREDFS_EXCLUDES(mu_);

    /// Starts a refresh unless one is in flight; either way returns the future
    /// of the refresh in flight. Bypasses backoff (the caller decided it is
    /// time). The refresh runs on the refresh pool: a background one in its
    /// background lane, the others (a reader or git waits) in its urgent
    /// lane, and a background one still queued when another trigger joins it
    /// is promoted. Throws what RefreshPool::submit throws (then nothing is
    /// in flight). Thread-safe.
    std::shared_future<void> refresh_async(RefreshTrigger trigger) CREDFS_EXCLUDES(mu_);

    /// Make-before-break (docs/design.md, invariant 8): a token from a
    /// background refresh is held back, and the one it replaces served, until
    /// the new one is effective_publish_delay_s old or the old one no longer
    /// has min_ttl_s left or is rejected. Publishes what is due at wall time
    /// `now` and writes it through to the fallback file (blocking for its
    /// fsyncs); true when the served token changed. Reads call it lazily, the
    /// scheduler at next_publication_at(). Thread-safe.
    bool publish_due(WallTime now) CREDFS_EXCLUDES(mu_);
    /// Wall time at which the served token may next change without a
    /// refresh (a publication), or WallTime::max(). Lock-free.
    WallTime next_publication_at() const { return publish_at_.load(); }

    /// Wall time at which the scheduler should refresh next, and whether a
    /// refresh is running now. Thread-safe.
    WallTime next_refresh_at() const CREDFS_EXCLUDES(mu_);
    bool refresh_in_flight() const CREDFS_EXCLUDES(mu_);

    RigStats stats() const CREDFS_EXCLUDES(mu_);

    /// Applies a rewrite of the rig file by git's credential-store helper
    /// (rename of `<file>.lock` over the file), as GitRewritePolicy decides:
    /// the other lines are kept and served after the managed line from now
    /// on; a written password is ignored. Without the managed line (git's
    /// `erase` after a 401), what the erase means depends on the served
    /// token: one fetched under lag_window_s ago (or any while a lag erase is
    /// being absorbed) is replication lag: the previous token is served again
    /// while it has min_ttl_s left, nothing is minted, and the new one comes
    /// back when it is lag_window_s old. A previous token served while its
    /// successor is held back is dropped for the successor, nothing minted.
    /// Otherwise the token is marked rejected and a refresh starts at once,
    /// bypassing the margin, at most once per refresh.reject_cooldown_s; a
    /// rejection within the cooldown schedules a refresh for its end.
    /// Thread-safe.
    void apply_rewrite(const StoreRewrite& rewrite) CREDFS_EXCLUDES(mu_);

    /// git reported `password` rejected without rewriting the file (the
    /// credential helper's `erase`, git-credential(1)). When it is the
    /// current token, or the newest one still within lag_window_s: the same
    /// rules as an erase in apply_rewrite() (lag, a held-back successor, or
    /// a rejection with its refresh and cooldown); returns true. Any other
    /// password (an older token): nothing, false. Thread-safe.
    bool report_rejected(std::string_view password) CREDFS_EXCLUDES(mu_);

    /// Writes the served content to the fallback file now (files mode: git
    /// or someone else left other bytes there). No-op without a fallback.
    /// Blocks for the write's fsyncs. Thread-safe.
    void write_fallback() CREDFS_EXCLUDES(mu_);

    /// Writes the served content through to `store` (the rig's static
    /// fallback file and its state record) after every refresh and rewrite;
    /// without one nothing is written. Set before the first refresh.
    void set_fallback(std::unique_ptr<FallbackStore> store) { fallback_ = std::move(store); }

    /// Seeds from the fallback file at startup: its other lines are kept;
    /// its token is served until its refresh time when the state record
    /// vouches for its expiry and it has at least min_ttl_s left (wall time).
    /// Call before the first refresh; nothing happens without a fallback.
    void seed_from_fallback() CREDFS_EXCLUDES(mu_);

    /// After a config reload, from the retired rig `old` of the same file:
    /// when `old` was holding a new token back (publish delay, or a lag
    /// erase) and this rig was seeded with the token it served, takes over
    /// the held-back token, its publication time and its refresh time, so a
    /// reload neither mints again nor publishes early. Only for the same rig
    /// id and token source (the same source object, or an equal per-rig
    /// source with equal scopes). Call after seed_from_fallback(), before the
    /// first refresh. Thread-safe.
    void adopt_held_back(const Rig& old) CREDFS_EXCLUDES(mu_);

    /// Takes the rig out of service for a config reload: no refresh starts
    /// after this, and it returns once none runs or writes (bounded by the
    /// source's timeouts). Reads of its current token keep working.
    void retire() CREDFS_EXCLUDES(mu_);

    /// The daemon is stopping: no refresh starts after this, and one still
    /// queued for a pool worker ends without an upstream call, unless git's
    /// rejection asked for it (its write-through repairs the fallback file
    /// git reads next). Without this, a burst queued behind a hung upstream
    /// kept the daemon from exiting for request_timeout_s per round of
    /// workers. Returns at once; the destructor still waits for a running
    /// refresh. Thread-safe.
    void stop_refreshes() CREDFS_EXCLUDES(mu_);

    /// Runs this rig's refreshes on `pool` (null: RefreshPool::shared()),
    /// which must outlive the Rig. Set before the first refresh.
    void set_refresh_pool(RefreshPool* pool) { pool_ = pool; }

    /// Keeps `owner` (the config and source this Rig refers to) alive as long
    /// as the Rig.
    void keep_alive(std::shared_ptr<const void> owner) { owner_ = std::move(owner); }

    /// `hook` runs once, when a refresh gives the rig its first token (a
    /// token seeded from the fallback file does not call it). It runs under
    /// the Rig's lock, so it must take no lock (RigEvents::got_token: an
    /// atomic). Set before the first refresh; the registry counts the rigs
    /// still without a token with it, for startup readiness.
    void set_on_first_token(std::function<void()> hook) { on_first_token_ = std::move(hook); }

    /// Hands every token this rig stops serving to `revoker` (null: none),
    /// to be revoked `revoke_after_s` after its last hand-out. Set before the
    /// first refresh; `revoker` must outlive the Rig's refreshes.
    void set_revoker(Revoker* revoker, double revoke_after_s) {
        revoker_ = revoker;
        revoke_after_s_ = revoke_after_s;
    }
    /// Tells `feed` (null: nobody) the rig's file name each time the served
    /// content changes. Set before the first refresh or seed; `feed` must
    /// outlive the Rig.
    void set_served_feed(const ServedFeed* feed) { feed_ = feed; }

    /// True when `token` is served now, may be served again (the token a
    /// held-back or lagging successor replaces, within its lag window), is
    /// held back for publication, or is in the rig's fallback file (read from
    /// disk). Thread-safe.
    bool serves(const std::string& token) const CREDFS_EXCLUDES(mu_);

  private:
    /// What git's erase of a token means (docs/operations.md, "Rotation timeline").
    enum class Erase {
        Lag,         ///< A token still replicating: serve the previous one again.
        Superseded,  ///< The previous token, served while its successor was held back.
        Rejection,   ///< Revoked: today's rule, a forced refresh per cooldown.
    };
    /// What a refresh did with the token it fetched.
    enum class Taken { No, HeldBack, Published };

    /// refresh_async's body: joins the flight or starts one.
    std::shared_future<void> start_refresh(RefreshTrigger trigger) CREDFS_REQUIRES(mu_);
    /// An on-demand refresh for a reader that found the token stale, unless
    /// one has served a fresh token since (then an already finished future).
    std::shared_future<void> refresh_for_reader() CREDFS_EXCLUDES(mu_);
    /// credential_for_read() before the stamp.
    ReadResult choose_for_read() CREDFS_EXCLUDES(mu_);
    void run_refresh(RefreshTrigger trigger, std::promise<void> done) CREDFS_EXCLUDES(mu_);
    /// The last refresh failed and its retry is not yet due (wall time).
    bool in_backoff(WallTime now) const CREDFS_EXCLUDES(mu_);
    /// No when the token was not taken (not newer, counted as a failure).
    Taken on_success(Token token, WallTime now, double latency_s, RefreshTrigger trigger)
        CREDFS_EXCLUDES(mu_);
    /// Takes `cred` as newest_, the served token as previous_, and holds the
    /// new one back when `hold` (a background refresh). True when published.
    bool take(CredentialPtr cred, WallTime now, bool hold) CREDFS_REQUIRES(mu_);
    /// Serves previous_ while it is held back and servable, else newest_;
    /// keeps publish_at_ in step. True when the served token changed.
    bool choose_served(WallTime now) CREDFS_REQUIRES(mu_);
    /// Stores `cred` rendered with the kept lines as current_: `cred` itself
    /// when its content already is that (then current_ shares the object
    /// with newest_ or previous_), else a copy. The same token keeps its
    /// last hand-out; a replaced one goes to the revoker.
    void serve(const CredentialPtr& cred) CREDFS_REQUIRES(mu_);
    /// previous_ is being served in newest_'s place.
    bool serving_previous() const CREDFS_REQUIRES(mu_);
    /// What an erase of `password` (null: the served token, a file erase) means.
    Erase classify_erase(WallTime now, const std::string_view* password) const CREDFS_REQUIRES(mu_);
    /// Acts on a Lag or Superseded erase; returns the line to log.
    std::string absorb_erase(Erase kind, WallTime now) CREDFS_REQUIRES(mu_);
    void on_failure(const std::string& why, WallTime now, double retry_after_s = 0)
        CREDFS_EXCLUDES(mu_);
    /// Records a rejection's schedule and marks the served credential.
    void mark_applied(const GitRewritePolicy::Applied& applied) CREDFS_REQUIRES(mu_);
    /// Starts the forced refresh, or wakes the scheduler for a deferred one.
    void act_on_rejection(const GitRewritePolicy::Applied& applied, bool rejected)
        CREDFS_EXCLUDES(mu_);
    /// Writes current() to the fallback file, if any (newest wins).
    void write_through() CREDFS_EXCLUDES(mu_);
    /// Runs (or joins) on-demand refreshes until one leaves an unexpired
    /// token, retrying failed ones when the backoff allows, until `deadline`
    /// (monotonic). False when the last refresh did not finish by then.
    bool wait_for_refresh(std::chrono::steady_clock::time_point deadline) CREDFS_EXCLUDES(mu_);
    /// Blocks until no refresh runs or writes through.
    void wait_idle() CREDFS_REQUIRES(mu_);

    // First, so it goes last: what the references below point into.
    std::shared_ptr<const void> owner_;
    const RigConfig& config_;
    TokenSource& source_;
    const RefreshConfig& refresh_;
    const Clock& clock_;
    RandomUnit random_;
    std::function<void()> on_refreshed_;
    std::function<void()> on_first_token_;  // set before the first refresh, then only read
    // Set before the first refresh, then only read; it serializes its own writes.
    std::unique_ptr<FallbackStore> fallback_;
    // Set before the first refresh, then only read.
    Revoker* revoker_ = nullptr;
    RefreshPool* pool_ = nullptr;
    double revoke_after_s_ = 0;
    const ServedFeed* feed_ = nullptr;

    std::atomic<CredentialPtr> current_;
    // Lock-free fast path of publish_due(): WallTime::max() while nothing is held back.
    std::atomic<WallTime> publish_at_{WallTime::max()};
    mutable Mutex mu_;  // never held across a fetch or a fallback write
    bool in_flight_ CREDFS_GUARDED_BY(mu_) = false;
    int writers_ CREDFS_GUARDED_BY(mu_) = 0;  // refresh threads still writing the fallback file
    std::shared_future<void> flight_ CREDFS_GUARDED_BY(mu_);
    RefreshPool::Ticket flight_job_ CREDFS_GUARDED_BY(mu_);  // the pool's job for flight_
    std::condition_variable idle_;  // signalled when in_flight_ or writers_ drops
    RigStats stats_ CREDFS_GUARDED_BY(mu_);
    // Under mu_ with current_: a credential's content is rendered from the
    // kept lines, and both must change together.
    GitRewritePolicy git_ CREDFS_GUARDED_BY(mu_);
    bool retired_ CREDFS_GUARDED_BY(mu_) = false;
    bool stopping_ CREDFS_GUARDED_BY(mu_) = false;  // stop_refreshes()
    // Make-before-break: current_ serves newest_ (the last token taken), or
    // previous_ (the one newest_ replaced) while newest_ is held back.
    CredentialPtr newest_ CREDFS_GUARDED_BY(mu_);
    CredentialPtr previous_ CREDFS_GUARDED_BY(mu_);
    WallTime hold_until_ CREDFS_GUARDED_BY(mu_){};   // previous_ may be served until then
    WallTime young_until_ CREDFS_GUARDED_BY(mu_){};  // an erase of newest_ before this is lag
    bool lag_hold_ CREDFS_GUARDED_BY(mu_) = false;   // the hold follows a lag erase
};

}  // namespace credfs
