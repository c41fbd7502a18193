// Fakes shared by the unit tests: an injected clock and a scripted token source.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/engine/rig_registry.hpp"
#include "credfs/sources/token_source.hpp"

namespace credfs::test {

/// A wall clock that moves only when told to.
class FakeClock final : public Clock {
  public:
    explicit FakeClock(WallTime start = WallTime{} + std::chrono::hours(24 * 365 * 56))
        : now_(start) {}
    WallTime now() const override {
        std::lock_guard lock(mu_);
        return now_;
    }
    void advance(double seconds) {
        std::lock_guard lock(mu_);
        now_ += to_wall_duration(seconds);
    }

  private:
    mutable std::mutex mu_;
    WallTime now_;
};

/// A token source whose answers the test scripts. Each fetch pops the next
/// scripted answer; with none left it mints "ghs_tok<N>" expiring `ttl_s`
/// after the clock's now. hold() makes fetches block until release().
class FakeSource final : public TokenSource {
  public:
    explicit FakeSource(const Clock& clock, double ttl_s = 60) : clock_(clock), ttl_s_(ttl_s) {}

    Token fetch(const RigConfig& /*rig*/) override {
        std::unique_lock lock(mu_);
        ++calls_;
        ++waiting_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return !held_; });
        --waiting_;
        if (!script_.empty()) {
            auto next = std::move(script_.front());
            script_.pop_front();
            if (!next) throw SourceError("scripted failure", 503, retry_after_s_);
            return *next;
        }
        return Token{"ghs_tok" + std::to_string(calls_.load()),
                     clock_.now() + to_wall_duration(ttl_s_)};
    }
    bool tokens_expire() const override { return expire_; }
    std::string type_name() const override { return "fake"; }
    bool can_revoke() const override { return can_revoke_; }
    RevokeOutcome revoke(const std::string& token, double /*max_s*/) override {
        std::lock_guard lock(mu_);
        revoked_.push_back(token);
        return {RevokeOutcome::Result::Revoked, "", 0};
    }
    void set_can_revoke(bool b) { can_revoke_ = b; }
    std::vector<std::string> revoked() {
        std::lock_guard lock(mu_);
        return revoked_;
    }

    void push(std::optional<Token> answer) {
        std::lock_guard lock(mu_);
        script_.push_back(std::move(answer));
    }
    void fail_next(int n) {
        for (int i = 0; i < n; ++i) push(std::nullopt);
    }
    /// The Retry-After (seconds) that scripted failures carry from now on.
    void set_retry_after(double s) {
        std::lock_guard lock(mu_);
        retry_after_s_ = s;
    }
    void hold() {
        std::lock_guard lock(mu_);
        held_ = true;
    }
    void release() {
        {
            std::lock_guard lock(mu_);
            held_ = false;
        }
        cv_.notify_all();
    }
    /// Waits (real time, generous deadline) until `n` fetches are blocked in hold().
    bool wait_for_waiting(int n, std::chrono::seconds deadline = std::chrono::seconds(20)) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, deadline, [&] { return waiting_ >= n; });
    }
    int calls() const { return calls_.load(); }
    void set_expire(bool e) { expire_ = e; }

  private:
    const Clock& clock_;
    double ttl_s_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::optional<Token>> script_;
    bool held_ = false;
    int waiting_ = 0;
    double retry_after_s_ = 0;
    std::atomic<int> calls_{0};
    bool expire_ = true;
    bool can_revoke_ = false;
    std::vector<std::string> revoked_;
};

/// A fresh directory under /tmp, removed with everything in it at scope exit.
class TempDir {
  public:
    TempDir() {
        std::string tmpl = "/tmp/credfs-unit-XXXXXX";
        if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

/// A config document with a gastown source reading its container JWT from
/// `jwt_file`, the `rigs` array, and `extra` (",\"key\": ..." members)
/// appended at the top level.
inline std::string gastown_config_json(const std::string& jwt_file, const std::string& extra = "",
                                       const std::string& rigs = R"([{"id": "r1"}])") {
    return R"({"source": {"type": "gastown", "api_url": "http://127.0.0.1:1/", "town_id": "t",
                  "container_token_file": ")" +
           jwt_file + R"("}, "rigs": )" + rigs + extra + "}";
}

/// Two rigs: "rig-a" (file named after the id) and "rig-b" in file
/// "b.cred"; min_ttl_s 10, read_timeout_s 20 (real seconds).
inline Config two_rig_config() {
    Config c;
    RigConfig a;
    a.id = a.file = "rig-a";
    RigConfig b;
    b.id = "rig-b";
    b.file = "b.cred";
    c.rigs = {a, b};
    c.refresh.min_ttl_s = 10;
    c.refresh.read_timeout_s = 20;
    return c;
}

/// Rigs named `ids` (each file named after its id): margin 20 s, no
/// jitter, min_ttl_s 5.
inline Config rigs_config(std::initializer_list<const char*> ids) {
    Config c;
    for (const char* id : ids) {
        RigConfig r;
        r.id = r.file = id;
        c.rigs.push_back(r);
    }
    c.refresh.margin_s = 20;
    c.refresh.jitter_s = 0;
    c.refresh.min_ttl_s = 5;
    return c;
}

/// No rig of `reg` has a refresh in flight.
inline bool all_idle(const RigRegistry& reg) {
    for (const auto& r : reg.rigs()->rigs) {
        if (r->refresh_in_flight()) return false;
    }
    return true;
}

/// Polls `pred` until true or a generous real-time deadline passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds deadline = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::yield();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return pred();
}

}  // namespace credfs::test
