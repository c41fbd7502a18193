// The one interface every token source implements (docs/design.md, "Layers").
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/core/credential.hpp"
#include "credfs/sources/http_client.hpp"
#include "credfs/sources/rate_limit.hpp"

namespace credfs {

/// A fetch that produced no usable token. what() is one log-ready line naming
/// the rig and the cause; it never contains a token or the container JWT.
class SourceError : public std::runtime_error {
  public:
    explicit SourceError(const std::string& what, long http_status = 0, double retry_after_s = 0)
        : std::runtime_error(what), http_status_(http_status), retry_after_s_(retry_after_s) {}
    /// The upstream's HTTP status, or 0 when no response arrived.
    long http_status() const { return http_status_; }
    /// Seconds the upstream asked us to wait (Retry-After, rate limits); 0: none.
    double retry_after_s() const { return retry_after_s_; }

  private:
    long http_status_;
    double retry_after_s_;
};

/// What one attempt to revoke a token came to.
struct RevokeOutcome {
    enum class Result {
        Revoked,      ///< The upstream revoked it (GitHub: 204).
        AlreadyDead,  ///< The upstream no longer knows it (GitHub: 401): as good as revoked.
        Failed,       ///< No answer, or another status: try again later.
    };
    Result result = Result::Failed;
    std::string error;         ///< Failed: one line naming the cause; never the token.
    double retry_after_s = 0;  ///< Failed: seconds the upstream asked to wait; 0: none.
};

class TokenSource {
  public:
    virtual ~TokenSource() = default;

    /// Fetches a token for `rig`. Blocking; bounded by the source's own
    /// timeouts. Called from refresh threads, possibly for several rigs at
    /// once: implementations are thread-safe. Throws SourceError.
    virtual Token fetch(const RigConfig& rig) = 0;

    /// False for sources whose tokens never expire (a PAT): the daemon then
    /// fetches once and never schedules a refresh.
    virtual bool tokens_expire() const { return true; }

    /// The config's source.type, for logs.
    virtual std::string type_name() const = 0;

    /// GitHub's rate limit as the source's latest response reported it;
    /// std::nullopt for sources that do not talk to GitHub. Thread-safe.
    virtual std::optional<RateLimit> rate_limit() const { return std::nullopt; }

    /// True when tokens this source handed out are revoked once replaced
    /// (source.revoke_superseded, and where to revoke them).
    virtual bool can_revoke() const { return false; }
    /// Revokes `token`: one request bounded by the source's timeouts and by
    /// `max_s` seconds (a shutdown's budget; +inf: none); never throws.
    /// Thread-safe.
    virtual RevokeOutcome revoke(const std::string& /*token*/, double /*max_s*/) {
        return {RevokeOutcome::Result::Failed, "this source cannot revoke tokens", 0};
    }
};

/// The upstream's own words on an error, for a log line: ": <text>" from a
/// JSON body's `error` or `message` (top level or under `data`), else ""
/// (an HTML error page is noise). `secret` (the credential we sent) and
/// anything token-shaped are redacted before the text is cut to 200 bytes.
std::string upstream_message(const std::string& body, const std::string& secret);

/// POSTs `body` to `url` with `headers`, bounded by `config`'s connect and
/// request timeouts and trusting its CA bundle. A transport failure becomes a
/// SourceError naming `rig`; any HTTP status is returned.
HttpResponse post_for_rig(HttpClient& http, const SourceConfig& config, const RigConfig& rig,
                          std::string url, std::vector<std::string> headers, std::string body);

}  // namespace credfs
