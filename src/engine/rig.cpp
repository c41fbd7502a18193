#include "credfs/engine/rig.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace credfs {

namespace {
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

std::shared_future<void> already_done() {
    std::promise<void> nothing;
    nothing.set_value();
    return nothing.get_future().share();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Rig::Rig(const RigConfig& config, TokenSource& source, const RefreshConfig& refresh,
         const Clock& clock, RandomUnit random, std::function<void()> on_refreshed)
    : config_(config),
      source_(source),
      refresh_(refresh),
      clock_(clock),
      random_(std::move(random)),
      on_refreshed_(std::move(on_refreshed)),
      git_(config_, refresh_) {}

Rig::~Rig() {
    // A refresh runs on the pool's worker, not a thread of ours: wait until
    // none touches this Rig.
    MutexLock lock(mu_);
    wait_idle();
}

void Rig::wait_idle() {
    while (in_flight_ || writers_ != 0) mu_.wait(idle_);
}

ReadResult Rig::credential_for_read() {
    ReadResult out = choose_for_read();
    if (out.credential) out.credential->mark_handed_out(clock_.now());
    return out;
}

bool Rig::serves(const std::string& token) const {
    if (const CredentialPtr cred = current(); cred && cred->token == token) return true;
    {
        MutexLock lock(mu_);
        // A lag erase can put the previous token back in service until its
        // successor leaves the lag window (absorb_erase).
        if (newest_ && newest_->token == token) return true;
        if (previous_ && previous_->token == token && clock_.now() < young_until_) return true;
    }
    return fallback_ != nullptr && fallback_->load().token == token;
}

ReadResult Rig::choose_for_read() {
    publish_due(clock_.now());
    CredentialPtr cred = current();
    const auto servable = [this](const CredentialPtr& c, WallTime now) {
        return c && !c->rejected && is_fresh(*c, now, refresh_);
    };
    if (servable(cred, clock_.now())) return {cred, 0};
    if (cred && cred->ttl_at(clock_.now()) > effective_mandatory_s(refresh_) &&
        in_backoff(clock_.now())) {
        // The last refresh failed and its retry is not due: serve the still
        // valid token rather than send every read to a failing upstream. A
        // token inside the mandatory window never gets here: the backoff
        // spares the upstream, not a reader whose token is about to die.
        spdlog::debug("rig {}: serving a token with {:.1f} s left while refreshes back off",
                      config_.id, cred->ttl_at(clock_.now()));
        return {cred, 0};
    }

    const std::string before =
        cred ? fmt::format("token had {:.1f} s left", cred->ttl_at(clock_.now()))
             : std::string("no token yet");
    const auto started = std::chrono::steady_clock::now();
    {
        MutexLock lock(mu_);
        ++stats_.on_demand_waits;
    }
    const bool done =
        wait_for_refresh(started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::chrono::duration<double>(refresh_.read_timeout_s)));
    const double waited_s = seconds_since(started);
    std::string why;
    {
        // The lock taken anyway to read the outcome also records the wait.
        MutexLock lock(mu_);
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
        std::shared_future<void> flight = refresh_for_reader();
        if (flight.wait_until(deadline) != std::future_status::ready) return false;
        const CredentialPtr cred = current();
        if (cred && cred->ttl_at(clock_.now()) > effective_mandatory_s(refresh_)) return true;
        // The refresh failed and what is left dies within the mandatory
        // window, or is gone: try again when the backoff allows, if that is
        // before this read gives up (docs/design.md, invariants 1 and 8: EIO
        // or a dying token only when no refresh could succeed in time).
        double pause_s = kMinRetryPauseS;
        const WallTime now = clock_.now();
        {
            MutexLock lock(mu_);
            pause_s = std::max(pause_s, seconds_between(now, stats_.next_refresh_at));
        }
        const auto retry_at = std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(pause_s));
        if (retry_at >= deadline) return true;
        std::this_thread::sleep_until(retry_at);
    }
}

void Rig::retire() {
    MutexLock lock(mu_);
    retired_ = true;
    wait_idle();
}

void Rig::stop_refreshes() {
    MutexLock lock(mu_);
    stopping_ = true;
}

bool Rig::in_backoff(WallTime now) const {
    MutexLock lock(mu_);
    return stats_.consecutive_failures > 0 && now < stats_.next_refresh_at;
}

std::shared_future<void> Rig::refresh_async(RefreshTrigger trigger) {
    MutexLock lock(mu_);
    return start_refresh(trigger);
}

std::shared_future<void> Rig::refresh_for_reader() {
    const WallTime now = clock_.now();
    MutexLock lock(mu_);
    // A reader saw a stale token, but the flight it meant to join may have
    // finished since: its token is served now, and another upstream call
    // would break single-flight (docs/design.md, invariant 2).
    const CredentialPtr cred = current();
    if (!in_flight_ && cred && !cred->rejected && is_fresh(*cred, now, refresh_)) {
        return already_done();
    }
    return start_refresh(RefreshTrigger::OnDemand);
}

std::shared_future<void> Rig::start_refresh(RefreshTrigger trigger) {
    RefreshPool& pool = pool_ != nullptr ? *pool_ : RefreshPool::shared();
    if (in_flight_) {
        // A reader (or git's rejection) must not wait behind background work.
        if (trigger != RefreshTrigger::Background) pool.promote(flight_job_);
        return flight_;
    }
    if (retired_ || stopping_) return already_done();
    auto done = std::make_shared<std::promise<void>>();
    std::shared_future<void> flight = done->get_future().share();
    // Submit before marking the flight: if no worker can run it (it throws),
    // the rig is left as it was, not stuck "in flight".
    flight_job_ = pool.submit(trigger == RefreshTrigger::Background ? RefreshPool::Lane::Background
                                                                    : RefreshPool::Lane::Urgent,
                              [this, trigger, done] { run_refresh(trigger, std::move(*done)); });
    flight_ = flight;
    in_flight_ = true;
    return flight_;
}

void Rig::run_refresh(RefreshTrigger trigger, std::promise<void> done) {
    {
        MutexLock lock(mu_);
        if (stopping_ && trigger != RefreshTrigger::Rejected) {
            // Queued before the stop: nobody waits for its token any more.
            in_flight_ = false;
            idle_.notify_all();
            done.set_value();
            return;
        }
    }
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
    const Taken taken = token ? on_success(std::move(*token), now, latency_s, trigger) : Taken::No;
    if (!token) on_failure(error, now, retry_after_s);
    const std::function<void()> on_refreshed = on_refreshed_;
    // A failed refresh after a rejection still writes: the rewrite that
    // caused it (the other lines git kept) was left for it to write. A
    // held-back token reaches the file when it is published, not before.
    const bool write =
        (taken == Taken::Published || trigger == RefreshTrigger::Rejected) && fallback_ != nullptr;
    {
        // Clear the flight before waking its waiters, so a waiter that finds
        // the result wanting can start a new one.
        MutexLock lock(mu_);
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
        MutexLock lock(mu_);
        --writers_;
        idle_.notify_all();
    }
    if (on_refreshed) on_refreshed();
}

Rig::Taken Rig::on_success(Token token, WallTime now, double latency_s, RefreshTrigger trigger) {
    const bool expires = source_.tokens_expire();
    const WallTime expires_at =
        !expires ? WallTime::max()
                 : token.expires_at.value_or(now + to_wall_duration(refresh_.assumed_ttl_s));
    CredentialPtr old;
    {
        MutexLock lock(mu_);
        old = newest_;
    }
    // A different token that expires no later is an upstream cache's answer,
    // unless git reported the current one rejected: then any other is better.
    const bool not_newer =
        old && (token.value == old->token || (expires_at <= old->expires_at && !old->rejected));
    if (!expires && old && token.value == old->token) {
        // A PAT file that did not change: nothing to do until the next look.
        MutexLock lock(mu_);
        stats_.consecutive_failures = 0;
        stats_.last_error.clear();
        stats_.next_refresh_at = now + to_wall_duration(kRecheckNonExpiringS);
        return Taken::No;
    }
    if (expires && not_newer) {
        const char* why = token.value != old->token
                              ? ": upstream returned a token expiring no later than the "
                                "current one"
                          : old->rejected ? ": upstream handed back the token git just rejected"
                                          : ": upstream returned the token already being served";
        on_failure("rig " + config_.id + why, now);
        return Taken::No;
    }
    bool published = false;
    {
        // Under the lock so a concurrent rewrite cannot drop its kept lines.
        // Only a minted token replicates: a changed PAT is served at once.
        MutexLock lock(mu_);
        std::string content = git_.render(token.value);
        published = take(std::make_shared<const Credential>(std::move(token.value), expires_at, now,
                                                            std::move(content)),
                         now, expires && trigger == RefreshTrigger::Background);
    }
    const Taken taken = published ? Taken::Published : Taken::HeldBack;
    const WallTime next = expires ? refresh_time(now, expires_at, refresh_, random_())
                                  : now + to_wall_duration(kRecheckNonExpiringS);
    if (expires && seconds_between(now, expires_at) < refresh_.min_ttl_s) {
        spdlog::warn(
            "rig {}: the upstream's token lives {:.1f} s, less than refresh.min_ttl_s "
            "({:.1f} s): every read will wait for a refresh; lower min_ttl_s",
            config_.id, seconds_between(now, expires_at), refresh_.min_ttl_s);
    }
    {
        MutexLock lock(mu_);
        ++stats_.refreshes;
        stats_.consecutive_failures = 0;
        stats_.last_error.clear();
        stats_.last_refresh_at = now;
        stats_.next_refresh_at = next;
    }
    if (!expires) {
        spdlog::info("rig {}: {} a token that does not expire ({})", config_.id,
                     old ? "the source changed: now serving" : "loaded", source_.type_name());
        return taken;
    }
    const std::string early =
        !old ? std::string("first token")
        : old->ttl_at(now) >= 0
            ? fmt::format("{:.1f} s before the old token expired", old->ttl_at(now))
            : fmt::format("{:.1f} s after the old token expired", -old->ttl_at(now));
    const std::string served = taken == Taken::Published
                                   ? std::string("served now")
                                   : fmt::format("held back {:.1f} s (refresh.publish_delay_s)",
                                                 seconds_between(now, next_publication_at()));
    spdlog::info(
        "rig {}: refreshed ({}): new token expires {} (in {:.1f} s{}); {}; {}; upstream "
        "latency {:.0f} ms; next refresh in {:.1f} s",
        config_.id, trigger_name(trigger), format_iso8601(expires_at),
        seconds_between(now, expires_at), token.expires_at ? "" : ", assumed_ttl_s", early, served,
        latency_s * 1000, seconds_between(now, next));
    return taken;
}

bool Rig::take(CredentialPtr cred, WallTime now, bool hold) {
    // The token served now is the one a reader can fall back on.
    previous_ = serving_previous() ? previous_ : newest_;
    newest_ = std::move(cred);
    hold_until_ = hold ? now + to_wall_duration(effective_publish_delay_s(refresh_)) : WallTime{};
    young_until_ =
        newest_->never_expires() ? WallTime{} : now + to_wall_duration(lag_window_s(refresh_));
    lag_hold_ = false;
    return choose_served(now);
}

bool Rig::serving_previous() const {
    const CredentialPtr served = current();
    return previous_ && served && newest_ && served->token == previous_->token &&
           previous_->token != newest_->token;
}

bool Rig::choose_served(WallTime now) {
    const bool hold = previous_ && now < hold_until_ && !previous_->rejected &&
                      is_fresh(*previous_, now, refresh_);
    if (!hold) lag_hold_ = false;
    publish_at_.store(
        hold ? std::min(hold_until_, previous_->expires_at - to_wall_duration(refresh_.min_ttl_s))
             : WallTime::max());
    const CredentialPtr& target = hold ? previous_ : newest_;
    const CredentialPtr served = current();
    if (!target || (served && served->token == target->token)) return false;
    serve(target);
    return true;
}

void Rig::serve(const CredentialPtr& cred) {
    std::string content = git_.render(cred->token);
    // Served as it is when its content is current (nearly always): a second
    // object per rig would cost ~280 bytes at rest (issue #14).
    CredentialPtr next = cred;
    if (content != cred->content) {
        auto copy = std::make_shared<const Credential>(
            cred->token, cred->expires_at, cred->fetched_at, std::move(content), cred->rejected);
        copy->mark_handed_out(cred->last_handed_out());
        next = std::move(copy);
    }
    const CredentialPtr old = current_.exchange(next);
    if (feed_ != nullptr) feed_->changed(config_.file);
    if (!old) {
        if (on_first_token_) on_first_token_();
        return;
    }
    if (old->token == cred->token) {
        next->mark_handed_out(std::max(old->last_handed_out(), cred->last_handed_out()));
    } else if (revoker_ != nullptr) {
        // Never blocks: the revoker takes its own lock and does no I/O here.
        revoker_->hand_over(old, config_.id, source_, owner_, revoke_after_s_);
    }
}

bool Rig::publish_due(WallTime now) {
    if (now < publish_at_.load()) return false;
    bool write = false;
    double age_s = 0;
    {
        MutexLock lock(mu_);
        if (!choose_served(now)) return false;
        age_s = seconds_between(newest_->fetched_at, now);
        write = fallback_ != nullptr && !retired_;
        if (write) ++writers_;
    }
    spdlog::info("rig {}: publishing the new token ({:.1f} s after its refresh)", config_.id,
                 age_s);
    if (write) {
        write_through();
        // As in run_refresh: no member is touched once the lock is released.
        MutexLock lock(mu_);
        --writers_;
        idle_.notify_all();
    }
    return true;
}

void Rig::on_failure(const std::string& why, WallTime now, double retry_after_s) {
    int failures = 0;
    double delay = 0;
    {
        MutexLock lock(mu_);
        failures = ++stats_.consecutive_failures;
        ++stats_.failures;
        stats_.last_error = why;
        delay = retry_delay(failures, refresh_, random_(), retry_after_s);
        stats_.next_refresh_at = now + to_wall_duration(delay);
    }
    const CredentialPtr cred = current();
    spdlog::warn(
        "{} (failure {} in a row; retry in {:.2f} s; current token {})", why, failures, delay,
        !cred                    ? std::string("absent")
        : cred->ttl_at(now) >= 0 ? fmt::format("has {:.1f} s left", cred->ttl_at(now))
                                 : fmt::format("expired {:.1f} s ago", -cred->ttl_at(now)));
}

void Rig::apply_rewrite(const StoreRewrite& rewrite) {
    GitRewritePolicy::Applied applied;
    Erase kind = Erase::Rejection;
    std::string absorbed;
    {
        MutexLock lock(mu_);
        const WallTime now = clock_.now();
        if (!rewrite.has_managed_line) kind = classify_erase(now, nullptr);
        applied = git_.apply(rewrite, now, current() != nullptr && kind == Erase::Rejection);
        // git approves after every successful push, rewriting the same bytes;
        // the fallback file's two fsyncs would then only lengthen the time
        // git holds its lock (other gits give up after 1 s). A failed
        // write-through is still retried.
        if (applied.unchanged && (fallback_ == nullptr || fallback_->current())) {
            spdlog::debug("rig {}: git rewrote the file unchanged (approval)", config_.id);
            return;
        }
        if (kind != Erase::Rejection) absorbed = absorb_erase(kind, now);
        mark_applied(applied);
    }
    spdlog::log(rewrite.has_managed_line ? spdlog::level::debug : spdlog::level::info,
                "rig {}: git rewrote the file: {}; keeping {} other line(s)", config_.id,
                rewrite.has_managed_line   ? "approval (written password ignored)"
                : kind == Erase::Rejection ? "token erased (git saw it rejected)"
                                           : "token erased",
                applied.kept);
    if (!absorbed.empty()) spdlog::info("{}", absorbed);
    if (applied.dropped > 0) {
        spdlog::warn("rig {}: dropped {} stored line(s) past {} KiB of other credentials",
                     config_.id, applied.dropped, GitRewritePolicy::kMaxKeptBytes / 1024);
    }
    // After a rejection the forced refresh writes the file: written now,
    // the rejected token would reach the next git that reads the static
    // file (files mode) before the new one.
    if (!applied.refresh_now) write_through();
    act_on_rejection(applied, !rewrite.has_managed_line);
}

bool Rig::report_rejected(std::string_view password) {
    GitRewritePolicy::Applied applied;
    Erase kind = Erase::Rejection;
    std::string absorbed;
    {
        MutexLock lock(mu_);
        const WallTime now = clock_.now();
        const CredentialPtr cred = current();
        const bool young = newest_ && newest_->token == password && now < young_until_;
        if (!young && (!cred || cred->token != password)) return false;
        kind = classify_erase(now, &password);
        if (kind == Erase::Rejection) {
            applied = git_.reject(now, true);
            mark_applied(applied);
        } else {
            absorbed = absorb_erase(kind, now);
        }
    }
    if (kind != Erase::Rejection) {
        spdlog::info("{} (git's credential helper)", absorbed);
        // What is served changed or will: the file and the scheduler follow.
        write_through();
    } else {
        spdlog::info("rig {}: git's credential helper reported the token rejected", config_.id);
    }
    act_on_rejection(applied, true);
    return true;
}

Rig::Erase Rig::classify_erase(WallTime now, const std::string_view* password) const {
    const CredentialPtr served = current();
    if (!served || !newest_) return Erase::Rejection;  // the policy: nothing git could reject
    const bool held = serving_previous();
    // A file erase names no token: it is the served one's, or, while a lag
    // erase is being absorbed, a late one from a git that read the young token.
    const bool names_newest = password != nullptr ? *password == newest_->token : !held;
    if (names_newest && now < young_until_) return Erase::Lag;
    if (password == nullptr && held && lag_hold_) return Erase::Lag;
    if (held) return Erase::Superseded;
    return Erase::Rejection;
}

std::string Rig::absorb_erase(Erase kind, WallTime now) {
    const double age_s = seconds_between(newest_->fetched_at, now);
    if (kind == Erase::Superseded) {
        previous_ = std::make_shared<const Credential>(previous_->token, previous_->expires_at,
                                                       previous_->fetched_at, "", true);
        choose_served(now);
        return fmt::format(
            "rig {}: git erased the previous token: serving the new one ({:.1f} s old) now, "
            "no new mint",
            config_.id, age_s);
    }
    // Replication lag (docs/operations.md, "Rotation timeline"): the new token
    // will work in a moment; minting another would only start another lag.
    lag_hold_ = true;
    hold_until_ = std::max(hold_until_, young_until_);
    choose_served(now);
    const std::string then =
        serving_previous() ? fmt::format(
                                 "serving the previous token ({:.1f} s left) until the new one is "
                                 "{:.1f} s old or the previous one has refresh.min_ttl_s left, "
                                 "in {:.1f} s",
                                 previous_->ttl_at(now), lag_window_s(refresh_),
                                 std::max(0.0, seconds_between(now, next_publication_at())))
                           : std::string("no previous token to serve: keeping the new one");
    return fmt::format(
        "rig {}: git erased a token {:.1f} s old: taken as replication lag, not a revocation; "
        "{}; no new mint",
        config_.id, age_s, then);
}

void Rig::mark_applied(const GitRewritePolicy::Applied& applied) {
    if (applied.refresh_by) {
        stats_.next_refresh_at = std::min(stats_.next_refresh_at, *applied.refresh_by);
    }
    const CredentialPtr cred = current();
    if (!cred) return;
    if (applied.refresh_now && !cred->rejected) {
        const auto rejected = std::make_shared<const Credential>(cred->token, cred->expires_at,
                                                                 cred->fetched_at, "", true);
        if (newest_ && newest_->token == cred->token) newest_ = rejected;
        if (previous_ && previous_->token == cred->token) previous_ = rejected;
        serve(rejected);
        return;
    }
    serve(cred);  // the kept lines changed
}

void Rig::act_on_rejection(const GitRewritePolicy::Applied& applied, bool rejected) {
    if (applied.refresh_now) {
        refresh_async(RefreshTrigger::Rejected);
    } else if (rejected && on_refreshed_) {
        on_refreshed_();  // the scheduler re-reads next_refresh_at and the publication time
    }
}

void Rig::write_fallback() { write_through(); }

void Rig::write_through() {
    if (fallback_ != nullptr) fallback_->write([this] { return current(); });
}

void Rig::seed_from_fallback() {
    if (fallback_ == nullptr) return;
    const FallbackStore::Seed seed = fallback_->load();
    if (!seed.found) return;
    const WallTime now = clock_.now();
    MutexLock lock(mu_);
    git_.keep_lines(seed.other_lines);
    if (!seed.expires_at || seconds_between(now, *seed.expires_at) < refresh_.min_ttl_s) {
        spdlog::info(
            "rig {}: fallback file seeds {} other line(s); its token is not used "
            "({})",
            config_.id, git_.kept_count(),
            !seed.token        ? "none found"
            : !seed.expires_at ? "no matching expiry record"
                               : "too close to expiry");
        return;
    }
    // Not young: it was minted by an earlier run, so an erase of it is no lag.
    newest_ = std::make_shared<const Credential>(*seed.token, *seed.expires_at, now,
                                                 git_.render(*seed.token));
    current_.store(newest_);
    stats_.next_refresh_at = refresh_time(now, *seed.expires_at, refresh_, random_());
    spdlog::info(
        "rig {}: serving the fallback file's token ({:.0f} s left) until its refresh "
        "in {:.0f} s",
        config_.id, seconds_between(now, *seed.expires_at),
        seconds_between(now, stats_.next_refresh_at));
}

void Rig::adopt_held_back(const Rig& old) {
    // The token belongs to its upstream and scopes: a changed source or
    // scope must mint its own.
    const bool same_upstream =
        old.config_.id == config_.id && old.config_.repositories == config_.repositories &&
        old.config_.permissions == config_.permissions &&
        (config_.source ? old.config_.source == config_.source : &old.source_ == &source_);
    if (!same_upstream) return;
    CredentialPtr held;
    CredentialPtr served_by_old;
    WallTime hold_until{};
    WallTime young_until{};
    WallTime next_refresh{};
    bool lag_hold = false;
    {
        MutexLock lock(old.mu_);
        if (!old.serving_previous() || old.newest_->rejected) return;
        held = old.newest_;
        served_by_old = old.previous_;
        hold_until = old.hold_until_;
        young_until = old.young_until_;
        lag_hold = old.lag_hold_;
        next_refresh = old.stats_.next_refresh_at;
    }
    const WallTime now = clock_.now();
    MutexLock lock(mu_);
    // The seed is what the file says readers got: only that one is held on to.
    if (!newest_ || newest_->token != served_by_old->token) return;
    previous_ = newest_;
    newest_ = std::make_shared<const Credential>(held->token, held->expires_at, held->fetched_at,
                                                 git_.render(held->token));
    hold_until_ = hold_until;
    young_until_ = young_until;
    lag_hold_ = lag_hold;
    stats_.next_refresh_at = next_refresh;
    choose_served(now);
    spdlog::info("rig {}: kept the new token held back across the reload (held back {:.1f} s more)",
                 config_.id, std::max(0.0, seconds_between(now, next_publication_at())));
}

WallTime Rig::next_refresh_at() const {
    MutexLock lock(mu_);
    return stats_.next_refresh_at;
}

bool Rig::refresh_in_flight() const {
    MutexLock lock(mu_);
    return in_flight_;
}

RigStats Rig::stats() const {
    RigStats out;
    {
        MutexLock lock(mu_);
        out = stats_;
        out.rejections = git_.rejections();
    }
    if (fallback_ != nullptr) {
        FallbackStore::Health health = fallback_->health();
        out.write_through_failures = health.failures;
        out.write_through_error = std::move(health.error);
    }
    return out;
}

}  // namespace credfs
