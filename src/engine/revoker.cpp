#include "credfs/engine/revoker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>

namespace credfs {

namespace {

// Below this much budget a request cannot finish: stop rather than start it.
constexpr double kMinBudgetS = 0.05;
// The thread sleeps at most this long (wall time can jump: suspensions).
constexpr double kMaxSleepS = 60;

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

}  // namespace

Revoker::Revoker(const Clock& clock, RandomUnit random, RefreshConfig backoff, InUse in_use)
    : clock_(clock), random_(std::move(random)), backoff_(backoff), in_use_(std::move(in_use)) {}

Revoker::~Revoker() { stop(); }

void Revoker::hand_over(CredentialPtr cred, const std::string& rig, TokenSource& source,
                        std::shared_ptr<const void> keep_alive, double revoke_after_s) {
    if (!cred || cred->never_expires()) return;
    const WallTime now = clock_.now();
    {
        MutexLock lock(mu_);
        auto it = find_locked(cred->token);
        if (it == entries_.end()) {
            entries_.push_back(Entry{{}, {}, &source, std::move(keep_alive), now, revoke_after_s});
            it = std::prev(entries_.end());
        }
        it->creds.push_back(std::move(cred));
        it->rigs.push_back(rig);
        it->replaced_at = now;
        it->revoke_after_s = std::max(it->revoke_after_s, revoke_after_s);
        ++changes_;
    }
    wake_.notify_all();
}

std::vector<Revoker::Entry>::iterator Revoker::find_locked(const std::string& token) {
    return std::find_if(entries_.begin(), entries_.end(),
                        [&](const Entry& e) { return e.creds.front()->token == token; });
}

WallTime Revoker::due_at(const Entry& e) const {
    WallTime last = e.replaced_at;
    for (const auto& c : e.creds) last = std::max(last, c->last_handed_out());
    return std::max(last + to_wall_duration(e.revoke_after_s), e.retry_at);
}

WallTime Revoker::next_due() const {
    MutexLock lock(mu_);
    WallTime next = WallTime::max();
    for (const auto& e : entries_) {
        if (!e.busy) next = std::min(next, due_at(e));
    }
    return next;
}

CredentialPtr Revoker::take_due(WallTime now) {
    MutexLock lock(mu_);
    // An expired token is dead already: nothing to revoke.
    std::erase_if(entries_,
                  [&](const Entry& e) { return !e.busy && e.creds.front()->ttl_at(now) <= 0; });
    const auto it = std::find_if(entries_.begin(), entries_.end(),
                                 [&](const Entry& e) { return !e.busy && due_at(e) <= now; });
    if (it == entries_.end()) return nullptr;
    it->busy = true;
    return it->creds.front();
}

int Revoker::revoke_due(WallTime now, double budget_s) {
    const auto started = std::chrono::steady_clock::now();
    int made = 0;
    while (true) {
        const double left =
            budget_s -
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (left < kMinBudgetS) break;
        const CredentialPtr cred = take_due(now);
        if (!cred) break;
        if (in_use_(cred->token)) {
            MutexLock lock(mu_);
            const auto it = find_locked(cred->token);
            it->busy = false;
            // Looked at again later: the rig serving it may replace it (and
            // hand it over again) or its fallback file may change.
            it->retry_at = now + to_wall_duration(std::clamp(it->revoke_after_s, 1.0, kMaxSleepS));
            continue;
        }
        revoke_one(cred->token, now, left);
        ++made;
    }
    return made;
}

void Revoker::revoke_one(const std::string& token, WallTime now, double max_s) {
    TokenSource* source = nullptr;
    {
        MutexLock lock(mu_);
        source = find_locked(token)->source;
    }
    // No lock held: the request takes as long as it takes, and hand-overs go on.
    const RevokeOutcome outcome = source->revoke(token, max_s);
    MutexLock lock(mu_);
    const auto it = find_locked(token);
    const std::string rigs = joined(it->rigs);
    if (outcome.result != RevokeOutcome::Result::Failed) {
        const bool revoked = outcome.result == RevokeOutcome::Result::Revoked;
        ++(revoked ? stats_.revoked : stats_.already_dead);
        spdlog::info("rig {}: {} the token it served until {:.0f} s ago", rigs,
                     revoked ? "revoked" : "no need to revoke (GitHub says it is invalid already)",
                     seconds_between(it->replaced_at, now));
        entries_.erase(it);
        return;
    }
    ++stats_.failures;
    it->busy = false;
    ++it->failures;
    const double delay = retry_delay(it->failures, backoff_, random_(), outcome.retry_after_s);
    it->retry_at = now + to_wall_duration(delay);
    spdlog::warn("rig {}: revoking a replaced token failed: {} (failure {}; retry in {:.1f} s)",
                 rigs, outcome.error, it->failures, delay);
}

RevocationStats Revoker::stats() const {
    MutexLock lock(mu_);
    RevocationStats out = stats_;
    out.pending = entries_.size();
    return out;
}

void Revoker::start() {
    if (thread_.joinable()) return;
    {
        MutexLock lock(mu_);
        stopping_ = false;
    }
    thread_ = std::thread(&Revoker::run, this);
}

void Revoker::stop() {
    {
        MutexLock lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Revoker::run() {
    constexpr double kUnbounded = std::numeric_limits<double>::infinity();
    while (true) {
        uint64_t seen = 0;
        {
            // Before next_due(): a hand-over after this point ends the sleep.
            MutexLock lock(mu_);
            seen = changes_;
        }
        const WallTime next = next_due();
        const double sleep_s =
            next == WallTime::max()
                ? kMaxSleepS
                : std::clamp(seconds_between(clock_.now(), next), 0.0, kMaxSleepS);
        {
            MutexLock lock(mu_);
            const auto until = std::chrono::steady_clock::now() +
                               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(sleep_s));
            while (!stopping_ && changes_ == seen && sleep_s > 0) {
                if (mu_.wait_until(wake_, until) == std::cv_status::timeout) break;
            }
            if (stopping_) return;
        }
        revoke_due(clock_.now(), kUnbounded);
    }
}

}  // namespace credfs
