// A fake GitHub REST API for the github_app token source's tests.
//
// It serves the endpoints the daemon calls:
//   POST /app/installations/{installation_id}/access_tokens
//   GET /repos/{owner}/{repo}/installation, GET /orgs/{org}/installation
//     (all three: Authorization: Bearer <RS256 JWT signed with the App's key>)
//   DELETE /installation/token (Authorization: Bearer <the token itself>)
// Every answer carries X-RateLimit-Limit/-Remaining/-Reset (settable). It
// checks the JWT the way GitHub does: the JWT's signature against the App's
// public key, `iss` against the app id, `iat` not in the future and
// `exp - iat` at most 10 minutes, and the API version headers. Its clock can
// be set off from the machine's, so a test can make the daemon's JWTs look
// skewed and check that the daemon corrects for it from the `Date` header.
//
// Thread safety: every public member may be called from any thread, also
// while requests are being served.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

typedef struct evp_pkey_st EVP_PKEY;

namespace credfs::fakes {

/// What one request to the endpoint looked like once answered.
struct GitHubRequest {
    std::int64_t installation_id = 0;
    int status = 0;
    std::string body;     ///< The request body as sent (empty when none).
    std::string message;  ///< The "message" of an error answer; empty on 201.
};

class FakeGitHub {
  public:
    using WallClock = std::chrono::system_clock;
    using SteadyClock = std::chrono::steady_clock;

    /// `public_key_pem`: the App's key as PEM. A private key PEM is accepted
    /// too (its public half is used), so a test can hand over the file it
    /// gave the daemon. `installations`: the ids that exist; others get 404.
    /// Binds 127.0.0.1 on a free port and serves on a thread of its own.
    /// Throws std::runtime_error when the key cannot be read or nothing binds.
    FakeGitHub(std::string app_id, const std::string& public_key_pem,
               std::set<std::int64_t> installations);
    ~FakeGitHub();

    FakeGitHub(const FakeGitHub&) = delete;
    FakeGitHub& operator=(const FakeGitHub&) = delete;

    int port() const { return port_; }
    /// "http://127.0.0.1:<port>", the daemon's source.api_url.
    std::string base_url() const;

    // ---- knobs -------------------------------------------------------------
    /// The fake's clock is the machine's wall time plus this many seconds.
    /// Negative: our JWTs look issued in the future to the fake.
    void set_clock_offset(double seconds);
    /// Lifetime of tokens minted from now on, in seconds (default 3600).
    void set_ttl(double seconds);
    /// The installation ids that exist from now on (others get 404), as when
    /// the App is reinstalled under a new id.
    void set_installations(std::set<std::int64_t> ids);
    /// What discovery answers: "repos/<owner>/<repo>" or "orgs/<org>" -> id.
    /// Unknown targets get 404.
    void set_discovery(const std::string& target, std::int64_t id);
    /// The rate-limit headers every answer carries from now on (default
    /// 5000 / 5000 / now + 3600 s). `reset_epoch_s` is Unix seconds.
    void set_rate_limit(long long limit, long long remaining, std::int64_t reset_epoch_s);
    /// The next `n` revocations answer 500 (the token stays valid).
    void fail_revocations(int n);

    // ---- observations ------------------------------------------------------
    /// Requests that reached the endpoint, whatever their answer.
    int calls() const;
    /// Requests answered 201.
    int tokens_minted() const;
    /// Every request, oldest first.
    std::vector<GitHubRequest> requests() const;
    /// Body of the newest request (empty when none or it had no body).
    std::string last_body() const;
    /// Minted by this fake, not revoked and not expired on the fake's clock.
    bool is_valid(const std::string& token) const;
    /// Discovery requests answered (any status), oldest first: their targets.
    std::vector<std::string> discoveries() const;
    /// Tokens revoked (answered 204), oldest first.
    std::vector<std::string> revoked() const;
    /// DELETE /installation/token requests, whatever their answer.
    int revocation_calls() const;
    /// Waits until calls() reaches `n`. False on deadline.
    bool wait_for_calls(int n, SteadyClock::time_point deadline) const;

    /// The fake's current time (wall time plus the offset).
    WallClock::time_point now() const;

  private:
    struct Minted {
        std::string token;
        WallClock::time_point expires_at;
    };
    void handle(const httplib::Request& req, httplib::Response& res);
    void handle_discovery(const httplib::Request& req, httplib::Response& res);
    void handle_revocation(const httplib::Request& req, httplib::Response& res);
    /// Date and rate-limit headers, as GitHub sends on every answer. mu_ held.
    void stamp_locked(httplib::Response& res, WallClock::time_point now) const;
    /// Empty when the request's headers and App JWT are acceptable; else
    /// {status, message}. mu_ held.
    std::pair<int, std::string> check_app_request_locked(const httplib::Request& req,
                                                         WallClock::time_point now) const;
    /// Empty when the JWT is acceptable; otherwise the message GitHub would
    /// give. Called with mu_ held.
    std::string check_jwt_locked(const std::string& jwt, WallClock::time_point now) const;
    std::string random_token_locked();

    const std::string app_id_;
    std::set<std::int64_t> installations_;  // guarded by mu_
    std::shared_ptr<EVP_PKEY> key_;

    std::unique_ptr<httplib::Server> server_;
    std::thread loop_;
    int port_ = 0;

    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    // Guarded by mu_.
    double offset_s_ = 0;
    double ttl_s_ = 3600;
    std::vector<GitHubRequest> requests_;
    std::vector<Minted> minted_;
    std::mt19937_64 rng_;
    std::map<std::string, std::int64_t> discovery_;
    std::vector<std::string> discoveries_;
    std::vector<std::string> revoked_;
    int revocation_calls_ = 0;
    int failing_revocations_ = 0;
    long long rate_limit_ = 5000;
    long long rate_remaining_ = 5000;
    std::int64_t rate_reset_ = 0;  // 0: an hour from each answer
};

/// An HTTP date (RFC 7231, section 7.1.1.1), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(std::chrono::system_clock::time_point t);

}  // namespace credfs::fakes
