// The one interface every token source implements (docs/design.md, "Layers").
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/core/credential.hpp"
#include "credfs/sources/http_client.hpp"

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
