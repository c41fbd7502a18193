// The fake Gastown's token bookkeeping: minting installation-token lookalikes
// and remembering what was handed out and revoked, so tests can ask whether
// the daemon serves a token the upstream still honours.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace credfs::fakes {

using WallClock = std::chrono::system_clock;
using SteadyClock = std::chrono::steady_clock;

/// One token the fake handed out.
struct IssuedToken {
    std::string rig_id;
    std::string token;
    WallClock::time_point issued_at;
    /// When the fake considers the token dead. It equals the reported expiry
    /// (at the precision reported); with ResponseShape::NoExpiry it is the
    /// lifetime the fake used without telling the caller.
    WallClock::time_point expires_at;
};

/// Not thread-safe: FakeGastown guards its ledger with its own mutex.
class TokenLedger {
  public:
    /// The precision an expiry is reported with; the ledger keeps it at that
    /// precision so is_valid() agrees exactly with what the daemon was told.
    enum class Precision { Milliseconds, Seconds };

    TokenLedger();

    /// Lifetime of tokens minted from now on, in seconds (default 300).
    void set_ttl(double seconds) { ttl_s_ = seconds; }
    /// Random characters after "ghs_" in new tokens (default 36).
    void set_token_length(std::size_t random_chars) { token_length_ = random_chars; }
    /// When on, issue() hands a rig that already got a token that same token.
    void set_reissue_same(bool on) { reissue_same_ = on; }
    /// Replication lag, in seconds (default 0): for that long after its mint
    /// a token is valid but not yet known everywhere, as GitHub refuses a
    /// brand-new installation token for a few seconds (401 "Bad credentials").
    /// Applies to every recorded token, also those minted before the call.
    void set_replication_lag(double seconds) { lag_s_ = seconds; }

    /// A new token for `rig_id` living ttl seconds from now (wall clock),
    /// recorded; with reissue_same on, the rig's latest token instead.
    IssuedToken issue(const std::string& rig_id, Precision precision);
    /// A new token for `rig_id` expiring at `expires_at` (default: ttl seconds
    /// from now), at millisecond precision, never subject to reissue_same.
    /// Recorded only when `record`: a token delivered malformed or cut off
    /// was never really handed out.
    IssuedToken mint(const std::string& rig_id, bool record,
                     std::optional<WallClock::time_point> expires_at = std::nullopt);

    /// Marks `token` revoked (known or not) and counts the call.
    void revoke(const std::string& token);
    int revocations() const { return revocations_; }

    /// Every recorded token, oldest first.
    const std::vector<IssuedToken>& issued() const { return issued_; }
    std::vector<IssuedToken> issued(const std::string& rig_id) const;
    /// Recorded, expiring after `now` and not revoked.
    bool is_valid(const std::string& token, WallClock::time_point now) const;
    /// Recorded and minted less than the replication lag before `now`: a
    /// server that checks tokens refuses it although is_valid() holds.
    /// Always false with no lag.
    bool is_lagged(const std::string& token, WallClock::time_point now) const;
    /// The newest recorded token for the rig that is valid at `now`.
    std::optional<IssuedToken> current(const std::string& rig_id, WallClock::time_point now) const;
    /// The newest recorded token for the rig, valid or not.
    std::optional<IssuedToken> latest(const std::string& rig_id) const;

  private:
    std::string random_token();
    bool revoked(const std::string& token) const;

    double ttl_s_ = 300;
    std::size_t token_length_ = 36;
    bool reissue_same_ = false;
    double lag_s_ = 0;
    std::vector<IssuedToken> issued_;
    std::vector<std::string> revoked_;
    int revocations_ = 0;
    std::mt19937_64 rng_;
};

}  // namespace credfs::fakes
