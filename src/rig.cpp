#include "credfs/rig.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>

namespace credfs {

namespace {

const char* trigger_name(RefreshTrigger t) {
    return t == RefreshTrigger::OnDemand ? "on-demand" : "background";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Rig::Rig(RigConfig config, TokenSource& source, const RefreshConfig& refresh, const Clock& clock,
         RandomUnit random, std::function<void()> on_refreshed)
    : config_(std::move(config)),
      source_(source),
      refresh_(refresh),
      clock_(clock),
      random_(std::move(random)),
      on_refreshed_(std::move(on_refreshed)) {}

Rig::~Rig() {
    std::thread worker;
    {
        std::lock_guard lock(mu_);
        worker = std::move(worker_);
    }
    if (worker.joinable()) worker.join();
}

ReadResult Rig::credential_for_read() {
    CredentialPtr cred = current();
    if (cred && is_fresh(*cred, clock_.now(), refresh_)) return {cred, 0};

    const double left_before = cred ? cred->ttl_at(clock_.now()) : 0;
    const auto started = std::chrono::steady_clock::now();
    std::shared_future<void> flight = refresh_async(RefreshTrigger::OnDemand);
    {
        std::lock_guard lock(mu_);
        ++stats_.on_demand_waits;
    }
    const bool done = flight.wait_for(std::chrono::duration<double>(refresh_.read_timeout_s)) ==
                      std::future_status::ready;
    spdlog::info(
        "rig {}: open waited {:.3f} s for an on-demand refresh ({}; token had {:.1f} s left)",
        config_.id, seconds_since(started), done ? "completed" : "timed out", left_before);

    cred = current();
    const WallTime now = clock_.now();
    if (cred && is_fresh(*cred, now, refresh_)) return {cred, 0};
    if (cred && cred->ttl_at(now) > 0) {
        spdlog::warn("rig {}: serving a token with only {:.1f} s left: no fresher one in time",
                     config_.id, cred->ttl_at(now));
        return {cred, 0};
    }
    std::string why;
    {
        std::lock_guard lock(mu_);
        why = stats_.last_error.empty() ? "no refresh finished in time" : stats_.last_error;
    }
    spdlog::error("rig {}: open fails with EIO: no unexpired token ({})", config_.id, why);
    return {nullptr, EIO};
}

std::shared_future<void> Rig::refresh_async(RefreshTrigger trigger) {
    std::lock_guard lock(mu_);
    if (in_flight_) return flight_;
    // The previous worker cleared in_flight_ as its last locked step, so
    // joining it here waits only for its return, never for the lock.
    if (worker_.joinable()) worker_.join();
    std::promise<void> done;
    std::shared_future<void> flight = done.get_future().share();
    // Start the thread before marking the flight: if it cannot start
    // (std::system_error), the rig is left as it was, not stuck "in flight".
    worker_ = std::thread(&Rig::run_refresh, this, trigger, std::move(done));
    flight_ = flight;
    in_flight_ = true;
    return flight_;
}

void Rig::run_refresh(RefreshTrigger trigger, std::promise<void> done) {
    const auto started = std::chrono::steady_clock::now();
    std::optional<Token> token;
    std::string error;
    try {
        token = source_.fetch(config_);
    } catch (const SourceError& e) {
        error = e.what();
    } catch (const std::exception& e) {
        error = "rig " + config_.id + ": " + e.what();
    }
    const double latency_s = seconds_since(started);
    const WallTime now = clock_.now();
    if (token) {
        on_success(std::move(*token), now, latency_s, trigger);
    } else {
        on_failure(error, now);
    }
    {
        std::lock_guard lock(mu_);
        in_flight_ = false;
    }
    done.set_value();
    if (on_refreshed_) on_refreshed_();
}

void Rig::on_success(Token token, WallTime now, double latency_s, RefreshTrigger trigger) {
    const bool expires = source_.tokens_expire();
    const WallTime expires_at =
        !expires ? WallTime::max()
                 : token.expires_at.value_or(now + to_wall_duration(refresh_.assumed_ttl_s));
    const CredentialPtr old = current();
    if (expires && old && (token.value == old->token || expires_at <= old->expires_at)) {
        on_failure("rig " + config_.id +
                       (token.value == old->token
                            ? ": upstream returned the token already being served"
                            : ": upstream returned a token expiring no later than the current one"),
                   now);
        return;
    }
    std::string content = render_store_line(config_, token.value);
    auto cred = std::make_shared<const Credential>(std::move(token.value), expires_at, now,
                                                   std::move(content));
    const WallTime next =
        expires ? refresh_time(now, expires_at, refresh_, random_()) : WallTime::max();
    current_.store(cred);
    {
        std::lock_guard lock(mu_);
        ++stats_.refreshes;
        stats_.consecutive_failures = 0;
        stats_.last_error.clear();
        stats_.last_refresh_at = now;
        stats_.next_refresh_at = next;
    }
    if (!expires) {
        spdlog::info("rig {}: loaded a token that does not expire ({})", config_.id,
                     source_.type_name());
        return;
    }
    const std::string early =
        old ? fmt::format("{:.1f} s before the old token expired", old->ttl_at(now))
            : std::string("first token");
    spdlog::info(
        "rig {}: refreshed ({}): new token expires {} (in {:.1f} s{}); {}; upstream latency "
        "{:.0f} ms; next refresh in {:.1f} s",
        config_.id, trigger_name(trigger), format_iso8601(expires_at),
        seconds_between(now, expires_at), token.expires_at ? "" : ", assumed_ttl_s", early,
        latency_s * 1000, seconds_between(now, next));
}

void Rig::on_failure(const std::string& why, WallTime now) {
    int failures = 0;
    double delay = 0;
    {
        std::lock_guard lock(mu_);
        failures = ++stats_.consecutive_failures;
        ++stats_.failures;
        stats_.last_error = why;
        delay = backoff_delay(failures, refresh_, random_());
        stats_.next_refresh_at = now + to_wall_duration(delay);
    }
    const CredentialPtr cred = current();
    spdlog::warn(
        "{} (failure {} in a row; retry in {:.2f} s; current token {})", why, failures, delay,
        cred ? fmt::format("has {:.1f} s left", cred->ttl_at(now)) : std::string("absent"));
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
