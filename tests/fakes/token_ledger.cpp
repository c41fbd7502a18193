#include "token_ledger.hpp"

#include <algorithm>
#include <iterator>

namespace credfs::fakes {
namespace {

constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

WallClock::time_point after(WallClock::time_point t, double seconds) {
    return t +
           std::chrono::duration_cast<WallClock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

TokenLedger::TokenLedger() : rng_(std::random_device{}()) {}

std::string TokenLedger::random_token() {
    std::uniform_int_distribution<std::size_t> pick(0, sizeof kAlnum - 2);
    std::string token = "ghs_";
    for (std::size_t i = 0; i < token_length_; ++i) token += kAlnum[pick(rng_)];
    return token;
}

IssuedToken TokenLedger::issue(const std::string& rig_id, Precision precision) {
    if (reissue_same_) {
        if (auto last = latest(rig_id)) return *last;
    }
    IssuedToken t;
    t.rig_id = rig_id;
    t.token = random_token();
    t.issued_at = WallClock::now();
    const auto expiry = after(t.issued_at, ttl_s_);
    if (precision == Precision::Seconds) {
        t.expires_at = std::chrono::time_point_cast<std::chrono::seconds>(expiry);
    } else {
        t.expires_at = std::chrono::time_point_cast<std::chrono::milliseconds>(expiry);
    }
    issued_.push_back(t);
    return t;
}

IssuedToken TokenLedger::mint(const std::string& rig_id, bool record,
                              std::optional<WallClock::time_point> expires_at) {
    IssuedToken t;
    t.rig_id = rig_id;
    t.token = random_token();
    t.issued_at = WallClock::now();
    t.expires_at = std::chrono::time_point_cast<std::chrono::milliseconds>(
        expires_at.value_or(after(t.issued_at, ttl_s_)));
    if (record) issued_.push_back(t);
    return t;
}

void TokenLedger::revoke(const std::string& token) {
    ++revocations_;
    revoked_.push_back(token);
}

bool TokenLedger::revoked(const std::string& token) const {
    return std::find(revoked_.begin(), revoked_.end(), token) != revoked_.end();
}

std::vector<IssuedToken> TokenLedger::issued(const std::string& rig_id) const {
    std::vector<IssuedToken> out;
    std::copy_if(issued_.begin(), issued_.end(), std::back_inserter(out),
                 [&](const IssuedToken& t) { return t.rig_id == rig_id; });
    return out;
}

bool TokenLedger::is_valid(const std::string& token, WallClock::time_point now) const {
    if (revoked(token)) return false;
    return std::any_of(issued_.begin(), issued_.end(), [&](const IssuedToken& t) {
        return t.token == token && t.expires_at > now;
    });
}

bool TokenLedger::is_lagged(const std::string& token, WallClock::time_point now) const {
    if (lag_s_ <= 0) return false;
    return std::any_of(issued_.begin(), issued_.end(), [&](const IssuedToken& t) {
        return t.token == token && now < after(t.issued_at, lag_s_);
    });
}

std::optional<IssuedToken> TokenLedger::current(const std::string& rig_id,
                                                WallClock::time_point now) const {
    for (auto it = issued_.rbegin(); it != issued_.rend(); ++it) {
        if (it->rig_id == rig_id && it->expires_at > now && !revoked(it->token)) return *it;
    }
    return std::nullopt;
}

std::optional<IssuedToken> TokenLedger::latest(const std::string& rig_id) const {
    for (auto it = issued_.rbegin(); it != issued_.rend(); ++it) {
        if (it->rig_id == rig_id) return *it;
    }
    return std::nullopt;
}

}  // namespace credfs::fakes
