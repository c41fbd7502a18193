#include "credfs/engine/rig.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <numeric>
#include <system_error>
#include <thread>

#include "credfs/engine/fallback_state.hpp"
#include "credfs/core/http.hpp"
#include "credfs/core/log.hpp"

namespace credfs {

namespace {
constexpr size_t kMaxKeptBytes = size_t{512} * 1024;
// A token that never expires (a PAT file) is re-read this often, so rotating
// the PAT needs no restart.
constexpr double kRecheckNonExpiringS = 5;

const char* trigger_name(RefreshTrigger t) {
    switch (t) {
        case RefreshTrigger::OnDemand:
            return "on-demand";
        case RefreshTrigger::Rejected:
            return "after a rejection";
        case RefreshTrigger::Background:
            break;
    }
    return "background";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void WaitHistogram::record(double seconds) {
    seconds = std::max(seconds, 0.0);
    // The first bound >= seconds: buckets are "less than or equal".
    const auto bucket = std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin();
    ++counts.at(static_cast<size_t>(bucket));
    sum_s += seconds;
}

uint64_t WaitHistogram::count() const {
    return std::accumulate(counts.begin(), counts.end(), uint64_t{0});
}

Rig::Rig(RigConfig config, TokenSource& source, const RefreshConfig& refresh, const Clock& clock,
         RandomUnit random, std::function<void()> on_refreshed)
    : config_(std::move(config)),
      source_(source),
      refresh_(refresh),
      clock_(clock),
      random_(std::move(random)),
      on_refreshed_(std::move(on_refreshed)) {}

Rig::~Rig() {
    // Refresh threads are detached (a finished one must not pin its stack
    // until the rig's next refresh); wait until none touches this Rig.
    std::unique_lock lock(mu_);
    idle_.wait(lock, [this] { return !in_flight_ && writers_ == 0; });
}

ReadResult Rig::credential_for_read() {
    CredentialPtr cred = current();
    const auto servable = [this](const CredentialPtr& c, WallTime now) {
        return c && !c->rejected && is_fresh(*c, now, refresh_);
    };
    if (servable(cred, clock_.now())) return {cred, 0};
    if (cred && cred->ttl_at(clock_.now()) > 0 && in_backoff(clock_.now())) {
        // The last refresh failed and its retry is not due: serve the still
        // valid token rather than send every read to a failing upstream. An
        // expired token never gets here, so recovery stays one read away.
        spdlog::debug("rig {}: serving a token with {:.1f} s left while refreshes back off",
                      config_.id, cred->ttl_at(clock_.now()));
        return {cred, 0};
    }

    const std::string before =
        cred ? fmt::format("token had {:.1f} s left", cred->ttl_at(clock_.now()))
             : std::string("no token yet");
    const auto started = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mu_);
        ++stats_.on_demand_waits;
    }
    const bool done =
        wait_for_refresh(started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::chrono::duration<double>(refresh_.read_timeout_s)));
    const double waited_s = seconds_since(started);
    std::string why;
    {
        // The lock taken anyway to read the outcome also records the wait.
        std::lock_guard lock(mu_);
        why = stats_.last_error;
        stats_.on_demand_wait.record(waited_s);
    }
    const char* outcome = !done ? "timed out" : why.empty() ? "refreshed" : "refresh failed";
    spdlog::info("rig {}: open waited {:.3f} s for an on-demand refresh ({}; {})", config_.id,
                 waited_s, outcome, before);

    cred = current();
    const WallTime now = clock_.now();
    if (servable(cred, now)) return {cred, 0};
    if (cred && cred->ttl_at(now) > 0) {
        spdlog::warn("rig {}: serving a token {}with {:.1f} s left: no fresher one in time",
                     config_.id, cred->rejected ? "git reported rejected " : "", cred->ttl_at(now));
        return {cred, 0};
    }
    if (!done) why = "no refresh finished within refresh.read_timeout_s";
    if (why.empty()) why = "no token";
    spdlog::error("rig {}: open fails with EIO: no unexpired token ({})", config_.id, why);
    return {nullptr, EIO};
}

bool Rig::wait_for_refresh(std::chrono::steady_clock::time_point deadline) {
    // Shortest pause between tries, whatever backoff_initial_s says (it may be 0).
    constexpr double kMinRetryPauseS = 0.05;
    while (true) {
        std::shared_future<void> flight = refresh_async(RefreshTrigger::OnDemand);
        if (flight.wait_until(deadline) != std::future_status::ready) return false;
        const CredentialPtr cred = current();
        if (cred && cred->ttl_at(clock_.now()) > 0) return true;
        // The refresh failed and nothing unexpired is left to serve: try again
        // when the backoff allows, if that is before this read gives up
        // (invariant 1: EIO only when no refresh could succeed in time).
        double pause_s = kMinRetryPauseS;
        {
            std::lock_guard lock(mu_);
            pause_s = std::max(pause_s, seconds_between(clock_.now(), stats_.next_refresh_at));
        }
        const auto retry_at = std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(pause_s));
        if (retry_at >= deadline) return true;
        std::this_thread::sleep_until(retry_at);
    }
}

void Rig::retire() {
    std::unique_lock lock(mu_);
    retired_ = true;
    idle_.wait(lock, [this] { return !in_flight_ && writers_ == 0; });
}

bool Rig::in_backoff(WallTime now) const {
    std::lock_guard lock(mu_);
    return stats_.consecutive_failures > 0 && now < stats_.next_refresh_at;
}

std::shared_future<void> Rig::refresh_async(RefreshTrigger trigger) {
    std::lock_guard lock(mu_);
    if (in_flight_) return flight_;
    if (retired_) {
        std::promise<void> nothing;
        nothing.set_value();
        return nothing.get_future().share();
    }
    std::promise<void> done;
    std::shared_future<void> flight = done.get_future().share();
    // Start the thread before marking the flight: if it cannot start
    // (std::system_error), the rig is left as it was, not stuck "in flight".
    std::thread(&Rig::run_refresh, this, trigger, std::move(done)).detach();
    flight_ = flight;
    in_flight_ = true;
    return flight_;
}

void Rig::run_refresh(RefreshTrigger trigger, std::promise<void> done) {
    const auto started = std::chrono::steady_clock::now();
    std::optional<Token> token;
    std::string error;
    double retry_after_s = 0;
    try {
        token = source_.fetch(config_);
    } catch (const SourceError& e) {
        error = e.what();
        retry_after_s = e.retry_after_s();
    } catch (const std::exception& e) {
        error = "rig " + config_.id + ": " + e.what();
    }
    const double latency_s = seconds_since(started);
    const WallTime now = clock_.now();
    const bool renewed = token && on_success(std::move(*token), now, latency_s, trigger);
    if (!token) on_failure(error, now, retry_after_s);
    const std::function<void()> on_refreshed = on_refreshed_;
    const bool write = renewed && backing_ != nullptr;
    {
        // Clear the flight before waking its waiters, so a waiter that finds
        // the result wanting can start a new one.
        std::lock_guard lock(mu_);
        in_flight_ = false;
        if (write) ++writers_;
        idle_.notify_all();
    }
    // Waiters first: the fallback file's fsync is not on the read path.
    done.set_value();
    if (write) {
        write_through();
        // Notify under the lock: once it is released the destructor may run,
        // so this thread touches no member after this block.
        std::lock_guard lock(mu_);
        --writers_;
        idle_.notify_all();
    }
    if (on_refreshed) on_refreshed();
}

bool Rig::on_success(Token token, WallTime now, double latency_s, RefreshTrigger trigger) {
    const bool expires = source_.tokens_expire();
    const WallTime expires_at =
        !expires ? WallTime::max()
                 : token.expires_at.value_or(now + to_wall_duration(refresh_.assumed_ttl_s));
    const CredentialPtr old = current();
    // A different token that expires no later is an upstream cache's answer,
    // unless git reported the current one rejected: then any other is better.
    const bool not_newer =
        old && (token.value == old->token || (expires_at <= old->expires_at && !old->rejected));
    if (!expires && old && token.value == old->token) {
        // A PAT file that did not change: nothing to do until the next look.
        std::lock_guard lock(mu_);
        stats_.consecutive_failures = 0;
        stats_.last_error.clear();
        stats_.next_refresh_at = now + to_wall_duration(kRecheckNonExpiringS);
        return false;
    }
    if (expires && not_newer) {
        const char* why = token.value != old->token
                              ? ": upstream returned a token expiring no later than the "
                                "current one"
                          : old->rejected ? ": upstream handed back the token git just rejected"
                                          : ": upstream returned the token already being served";
        on_failure("rig " + config_.id + why, now);
        return false;
    }
    std::unique_lock render_lock(mu_);
    std::string content = render_locked(token.value);
    auto cred = std::make_shared<const Credential>(std::move(token.value), expires_at, now,
                                                   std::move(content));
    // Stored under the lock so a concurrent rewrite cannot drop its kept lines.
    current_.store(cred);
    render_lock.unlock();
    const WallTime next = expires ? refresh_time(now, expires_at, refresh_, random_())
                                  : now + to_wall_duration(kRecheckNonExpiringS);
    if (expires && seconds_between(now, expires_at) < refresh_.min_ttl_s) {
        spdlog::warn(
            "rig {}: the upstream's token lives {:.1f} s, less than refresh.min_ttl_s "
            "({:.1f} s): every read will wait for a refresh; lower min_ttl_s",
            config_.id, seconds_between(now, expires_at), refresh_.min_ttl_s);
    }
    {
        std::lock_guard lock(mu_);
        ++stats_.refreshes;
        stats_.consecutive_failures = 0;
        stats_.last_error.clear();
        stats_.last_refresh_at = now;
        stats_.next_refresh_at = next;
    }
    if (!expires) {
        spdlog::info("rig {}: {} a token that does not expire ({})", config_.id,
                     old ? "the source changed: now serving" : "loaded", source_.type_name());
        return true;
    }
    const std::string early =
        !old ? std::string("first token")
        : old->ttl_at(now) >= 0
            ? fmt::format("{:.1f} s before the old token expired", old->ttl_at(now))
            : fmt::format("{:.1f} s after the old token expired", -old->ttl_at(now));
    spdlog::info(
        "rig {}: refreshed ({}): new token expires {} (in {:.1f} s{}); {}; upstream latency "
        "{:.0f} ms; next refresh in {:.1f} s",
        config_.id, trigger_name(trigger), format_iso8601(expires_at),
        seconds_between(now, expires_at), token.expires_at ? "" : ", assumed_ttl_s", early,
        latency_s * 1000, seconds_between(now, next));
    return true;
}

void Rig::on_failure(const std::string& why, WallTime now, double retry_after_s) {
    int failures = 0;
    double delay = 0;
    {
        std::lock_guard lock(mu_);
        failures = ++stats_.consecutive_failures;
        ++stats_.failures;
        stats_.last_error = why;
        // The upstream's own "retry after" wins when it asks for longer, up to
        // kMaxRetryAfterS: sources pass what the header said (NaN, inf or
        // 1e300 included), and a token must not be left to die meanwhile.
        const double asked = retry_after_s > 0 ? std::min(retry_after_s, kMaxRetryAfterS) : 0;
        delay = std::max(backoff_delay(failures, refresh_, random_()), asked);
        stats_.next_refresh_at = now + to_wall_duration(delay);
    }
    const CredentialPtr cred = current();
    spdlog::warn(
        "{} (failure {} in a row; retry in {:.2f} s; current token {})", why, failures, delay,
        !cred                    ? std::string("absent")
        : cred->ttl_at(now) >= 0 ? fmt::format("has {:.1f} s left", cred->ttl_at(now))
                                 : fmt::format("expired {:.1f} s ago", -cred->ttl_at(now)));
}

std::string Rig::render_locked(std::string_view token) const {
    std::string content = render_store_line(config_, token);
    for (const auto& line : kept_lines_) {
        content += line;
        content += '\n';
    }
    return content;
}

void Rig::apply_rewrite(const StoreRewrite& rewrite) {
    bool refresh_now = false;
    size_t dropped = 0;
    {
        std::lock_guard lock(mu_);
        const std::vector<std::string> before = kept_lines_;
        dropped = keep_lines_locked(rewrite.other_lines);
        // git approves after every successful push, rewriting the same bytes;
        // the fallback file's two fsyncs would then only lengthen the time
        // git holds its lock (other gits give up after 1 s). A failed
        // write-through is still retried.
        if (rewrite.has_managed_line && kept_lines_ == before &&
            stats_.write_through_error.empty()) {
            spdlog::debug("rig {}: git rewrote the file unchanged (approval)", config_.id);
            return;
        }
        if (!rewrite.has_managed_line) refresh_now = reject_locked(clock_.now());
        if (const CredentialPtr cred = current()) {
            current_.store(std::make_shared<const Credential>(
                cred->token, cred->expires_at, cred->fetched_at, render_locked(cred->token),
                cred->rejected || refresh_now));
        }
    }
    spdlog::log(rewrite.has_managed_line ? spdlog::level::debug : spdlog::level::info,
                "rig {}: git rewrote the file: {}; keeping {} other line(s)", config_.id,
                rewrite.has_managed_line ? "approval (written password ignored)"
                                         : "token erased (git saw it rejected)",
                rewrite.other_lines.size() - dropped);
    if (dropped > 0) {
        spdlog::warn("rig {}: dropped {} stored line(s) past {} KiB of other credentials",
                     config_.id, dropped, kMaxKeptBytes / 1024);
    }
    write_through();
    if (refresh_now) {
        refresh_async(RefreshTrigger::Rejected);
    } else if (!rewrite.has_managed_line && on_refreshed_) {
        on_refreshed_();  // the scheduler re-reads next_refresh_at
    }
}

size_t Rig::keep_lines_locked(const std::vector<std::string>& lines) {
    kept_lines_.clear();
    size_t bytes = 0;
    size_t dropped = 0;
    for (const auto& line : lines) {
        // The whole file must still fit in git's next lock file (1 MiB).
        if (bytes + line.size() + 1 > kMaxKeptBytes) {
            ++dropped;
            continue;
        }
        bytes += line.size() + 1;
        kept_lines_.push_back(line);
    }
    return dropped;
}

void Rig::write_through() {
    if (backing_ == nullptr) return;
    std::lock_guard serial(write_through_mu_);
    const CredentialPtr cred = current();
    if (!cred) return;
    int err = backing_->write_atomic(state_file_name(config_.file),
                                     render_state(cred->expires_at, cred->token));
    if (err == 0) err = backing_->write_atomic(config_.file, cred->content);
    const std::string why = err == 0 ? "" : std::error_code(err, std::generic_category()).message();
    bool changed = false;
    {
        std::lock_guard lock(mu_);
        changed = stats_.write_through_error != why;
        if (err != 0) ++stats_.write_through_failures;
        stats_.write_through_error = why;
    }
    if (err != 0 && changed) {
        spdlog::warn("rig {}: cannot write the fallback file {}: {} (reads are unaffected)",
                     config_.id, printable(config_.file), why);
    } else if (err == 0 && changed) {
        spdlog::info("rig {}: fallback file writes work again", config_.id);
    }
}

void Rig::seed_from_backing() {
    if (backing_ == nullptr) return;
    const auto content = backing_->read(config_.file);
    if (!content) return;
    const StoreRewrite found = parse_store_rewrite(*content, config_);
    const WallTime now = clock_.now();
    std::optional<WallTime> expires;
    if (found.managed_password && !found.managed_password->empty()) {
        if (const auto state = backing_->read(state_file_name(config_.file))) {
            expires = parse_state(*state, *found.managed_password);
        }
    }
    std::lock_guard lock(mu_);
    keep_lines_locked(found.other_lines);
    if (!expires || seconds_between(now, *expires) < refresh_.min_ttl_s) {
        spdlog::info(
            "rig {}: fallback file seeds {} other line(s); its token is not used "
            "({})",
            config_.id, kept_lines_.size(),
            !found.managed_password ? "none found"
            : !expires              ? "no matching expiry record"
                                    : "too close to expiry");
        return;
    }
    current_.store(std::make_shared<const Credential>(*found.managed_password, *expires, now,
                                                      render_locked(*found.managed_password)));
    stats_.next_refresh_at = refresh_time(now, *expires, refresh_, random_());
    spdlog::info(
        "rig {}: serving the fallback file's token ({:.0f} s left) until its refresh "
        "in {:.0f} s",
        config_.id, seconds_between(now, *expires), seconds_between(now, stats_.next_refresh_at));
}

bool Rig::reject_locked(WallTime now) {
    if (!current()) return false;
    if (last_rejection_refresh_ &&
        seconds_between(*last_rejection_refresh_, now) < refresh_.reject_cooldown_s) {
        // GitHub may still be replicating the new token: not a second forced
        // refresh now, but a background one when the cooldown ends, so a token
        // that really is revoked does not stay in service until its margin.
        const WallTime cooldown_end =
            *last_rejection_refresh_ + to_wall_duration(refresh_.reject_cooldown_s);
        stats_.next_refresh_at = std::min(stats_.next_refresh_at, cooldown_end);
        spdlog::info(
            "rig {}: rejection {:.1f} s after the last forced refresh: refreshing when "
            "refresh.reject_cooldown_s ({:.1f} s) ends",
            config_.id, seconds_between(*last_rejection_refresh_, now), refresh_.reject_cooldown_s);
        return false;
    }
    last_rejection_refresh_ = now;
    ++stats_.rejections;
    spdlog::warn("rig {}: git erased the token after a rejection: refreshing now", config_.id);
    return true;
}

WallTime Rig::next_refresh_at() const {
    std::lock_guard lock(mu_);
    return stats_.next_refresh_at;
}

bool Rig::refresh_in_flight() const {
    std::lock_guard lock(mu_);
    return in_flight_;
}

RigStats Rig::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

}  // namespace credfs
