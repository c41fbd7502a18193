// A fake Gastown control plane for integration tests, benchmarks and the demo.
//
// It serves the one endpoint gastown-credfs calls:
//   POST /api/towns/{town_id}/rigs/{rig_id}/refresh-git-token
//   Authorization: Bearer <container JWT>
// and answers {"token":"ghs_…","expires_at":"2026-11-29T12:00:03.512Z"}.
// Every knob below exists so a test can put the daemon in one situation
// (slow, down, failing, stubborn, herd of callers) and then check what the
// daemon did by looking at what the fake saw and handed out.
//
// Thread safety: every public member may be called from any thread, also
// while requests are being served.
#pragma once

#include "token_ledger.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace credfs::fakes {

/// How a successful answer is laid out. Real control planes differ, and the
/// daemon is expected to cope with each of these.
enum class ResponseShape {
    TopLevel,      ///< {"token":…,"expires_at":"<ISO-8601 UTC, ms>"}
    NestedData,    ///< {"data":{"token":…,"expires_at":"<ISO-8601 UTC, ms>"}}
    EpochSeconds,  ///< {"token":…,"expires_at":<integer seconds since the epoch>}
    NoExpiry,      ///< {"token":…}: the daemon must assume a lifetime.
};

/// A way to misbehave on purpose (set_fault()). Each one is a fault a real
/// control plane, proxy or network has shown; the daemon must neither crash,
/// nor hang past its timeouts, nor serve what it cannot vouch for.
enum class Fault {
    None,
    /// Accept and read the request, then never answer: the handler blocks
    /// until the fault is changed or cleared, release() or stop() (then 503).
    Hang,
    /// 200 with a valid token body sent one byte a second (chunked). Bounded:
    /// ends with the body, when the client goes away, or on stop().
    Trickle,
    /// 200 with a text/html error page, as a captive portal or proxy sends.
    HtmlBody,
    /// 200 application/json with the token body cut off in the middle.
    TruncatedJson,
    /// 200 with a valid token body padded to 2 MiB.
    HugeBody,
    /// 200 with a token holding "\n" and a forged credential line after it.
    TokenWithNewline,
    /// 200 with a token holding a space.
    TokenWithSpace,
    /// 200 with a well-formed token whose expires_at is a minute past.
    ExpiredAtPast,
    /// 200 with a well-formed token whose expires_at is 10 years ahead.
    FarFutureExpiry,
    /// 302 to set_redirect_location(), with a JSON body.
    Redirect,
};

/// The name of `f` ("hang", "trickle", ...), for test names and logs.
const char* fault_name(Fault f);

/// What one request looked like once answered; passed to the request observer.
struct RequestRecord {
    std::string town_id;
    std::string rig_id;
    int status = 0;
};

class FakeGastown {
  public:
    /// Forced-status and fault count meaning "every request until cleared".
    static constexpr int kAlways = -1;

    /// Binds 127.0.0.1:`port` (0 picks a free port) and starts serving on a
    /// thread of its own. `expected_jwt` empty accepts any non-empty bearer
    /// token. With `tls_ca_file`, serves HTTPS with a throwaway self-signed
    /// certificate for IP 127.0.0.1 (self_signed_tls.hpp) whose PEM is
    /// written to that path (the daemon's source.ca_bundle); a start() after
    /// stop() makes a new one. Throws std::runtime_error when the port cannot
    /// be bound or the certificate cannot be made.
    explicit FakeGastown(std::string expected_jwt, int port = 0, std::string tls_ca_file = "");
    /// Stops serving (see stop()).
    ~FakeGastown();

    FakeGastown(const FakeGastown&) = delete;
    FakeGastown& operator=(const FakeGastown&) = delete;

    /// Stops listening and closes every connection, so callers see the
    /// upstream as down. Requests blocked by hold() or latency are answered
    /// 503 first. Returns once nothing is served any more. Idempotent.
    void stop();
    /// Serves again on the same port as before. No-op when running. Throws
    /// std::runtime_error when the port cannot be bound again.
    void start();
    bool running() const;

    int port() const;
    /// "http://127.0.0.1:<port>" ("https://" with a tls_ca_file), the
    /// daemon's source.api_url.
    std::string base_url() const;

    // ---- knobs -------------------------------------------------------------
    void set_expected_jwt(std::string jwt);
    /// Lifetime of tokens issued from now on, in seconds (default 300).
    void set_ttl(double seconds);
    /// Extra time each request spends before it is answered.
    void set_latency(std::chrono::milliseconds latency);
    /// How long an idle keep-alive connection stays open (seconds; default 1,
    /// so stop() drops clients quickly) and how many requests one connection
    /// may carry (default 5, cpp-httplib's). GitHub's API keeps connections
    /// far longer; benchmarks of connection reuse raise both. Takes effect
    /// at the next start() (call stop() and start() after it).
    void set_keep_alive(int idle_s, int max_requests);
    void set_shape(ResponseShape shape);
    /// Random characters after "ghs_" in new tokens (default 36). GitHub's
    /// newer installation tokens are much longer; tests vary this.
    void set_token_length(std::size_t random_chars);
    /// Answer the next `count` requests (kAlways: all) with `status` and a JSON
    /// error body instead of a token, with a `Retry-After: <retry_after>`
    /// header unless `retry_after` is empty. Authorization is still checked
    /// first.
    void force_status(int status, int count = kAlways, std::string retry_after = "");
    void clear_forced_status();
    /// Misbehave as `fault` on the next `count` requests (kAlways: all), after
    /// the authorization check and any forced status. Tokens the fault hands
    /// out well-formed (Trickle, HugeBody, ExpiredAtPast, FarFutureExpiry)
    /// are recorded in issued() with the expiry the fault claims; the
    /// malformed ones are not. Changing the fault wakes Fault::Hang requests.
    void set_fault(Fault fault, int count = kAlways);
    void clear_fault() { set_fault(Fault::None, 0); }
    /// Where Fault::Redirect points ("http://127.0.0.1:<port>/<path>").
    void set_redirect_location(std::string url);
    /// Requests answered (or hung) by a fault so far.
    int faulted() const;
    /// When on, a rig that already got a token gets the same token (and the
    /// same expiry) back instead of a new one, like a stubborn upstream.
    void set_reissue_same(bool on);
    /// Replication lag of every token, in seconds (default 0): see
    /// is_lagged(). The fake's own endpoint is not affected; a git server
    /// that asks is_lagged() refuses the token for that long after its mint.
    void set_replication_lag(double seconds);
    /// Revokes `token` as GitHub does when an installation token is deleted:
    /// from now on is_valid() is false for it (also when it has not expired),
    /// and current()/current_token() skip it. Counts the call even when the
    /// token is unknown or already revoked.
    void revoke(const std::string& token);
    /// Requests arriving from now on block inside the handler until release().
    void hold();
    /// Lets every held request continue, and stops holding new ones.
    void release();
    /// Number of requests currently blocked by hold() or Fault::Hang.
    int held() const;
    /// Waits until at least `n` requests are held. False on deadline.
    bool wait_for_held(int n, SteadyClock::time_point deadline) const;
    /// Waits until the total call count reaches `n`. False on deadline.
    bool wait_for_calls(int n, SteadyClock::time_point deadline) const;
    /// Called after each request is answered, from the serving thread; it
    /// never sees the token. Used by fake-gastown to log requests.
    void set_request_observer(std::function<void(const RequestRecord&)> observer);

    // ---- observations ------------------------------------------------------
    /// Requests that reached the endpoint, whatever their answer.
    int calls() const;
    int calls(const std::string& rig_id) const;
    /// Every token issued, oldest first.
    std::vector<IssuedToken> issued() const;
    std::vector<IssuedToken> issued(const std::string& rig_id) const;
    /// Issued by this fake, not expired at the current wall time and not revoked.
    bool is_valid(const std::string& token) const;
    /// Issued by this fake less than the replication lag ago (at the current
    /// wall time): valid, but not yet accepted where tokens are checked.
    bool is_lagged(const std::string& token) const;
    /// Number of revoke() calls so far.
    int revocations() const;
    /// The newest issued token for the rig that is still valid now.
    std::optional<std::string> current_token(const std::string& rig_id) const;
    /// Like current_token(), with its issue and expiry times.
    std::optional<IssuedToken> current(const std::string& rig_id) const;
    /// The newest issued token for the rig, valid or not.
    std::optional<IssuedToken> latest(const std::string& rig_id) const;
    /// Every Authorization header value received, in arrival order (empty
    /// string when a request had none).
    std::vector<std::string> authorizations() const;

  private:
    void bind_and_serve();
    void handle(const httplib::Request& req, httplib::Response& res);
    /// Answers with the current fault; `lk` holds mu_ (Hang waits on it).
    void answer_fault_locked(Fault fault, const std::string& rig_id, httplib::Response& res,
                             std::unique_lock<std::mutex>& lk);
    /// Waits up to `d` unless stopping or the fault changes; false then.
    bool trickle_pause(std::chrono::milliseconds d, std::uint64_t generation);

    mutable std::mutex mu_;
    mutable std::condition_variable cv_;

    // Serving state; guarded by lifecycle_mu_ so stop()/start() do not race.
    mutable std::mutex lifecycle_mu_;
    std::unique_ptr<httplib::Server> server_;
    std::thread loop_;
    std::atomic<int> port_{0};       ///< Read without the lock: it only changes at the first bind.
    const std::string tls_ca_file_;  ///< Empty: plain HTTP.
    int keep_alive_idle_s_ = 1;      // guarded by lifecycle_mu_
    int keep_alive_max_requests_ = 5;

    // Everything below is guarded by mu_.
    bool stopping_ = false;
    std::string expected_jwt_;
    TokenLedger ledger_;
    std::chrono::milliseconds latency_{0};
    ResponseShape shape_ = ResponseShape::TopLevel;
    int forced_status_ = 0;
    int forced_remaining_ = 0;
    std::string forced_retry_after_;
    Fault fault_ = Fault::None;
    int fault_remaining_ = 0;
    std::uint64_t fault_generation_ = 0;  ///< Bumped by set_fault(); wakes hung requests.
    int faulted_ = 0;
    std::string redirect_location_;
    bool holding_ = false;
    std::uint64_t release_generation_ =
        0;  ///< Bumped by release(); held requests wait for a change.
    int held_ = 0;
    int calls_ = 0;
    std::map<std::string, int> calls_by_rig_;
    std::vector<std::string> authorizations_;
    std::function<void(const RequestRecord&)> observer_;
};

/// Formats a wall time as ISO-8601 UTC with milliseconds, e.g.
/// "2026-11-29T12:00:03.512Z". Sub-millisecond parts are dropped.
std::string format_iso8601_ms(WallClock::time_point t);

}  // namespace credfs::fakes
