// Token source for the Gastown control plane:
//   POST {api_url}/api/towns/{town_id}/rigs/{rig_id}/refresh-git-token
//   Authorization: Bearer <container JWT>
// answered with {"token": ..., "expires_at": ...}, optionally nested under "data".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/sources/http_client.hpp"
#include "credfs/sources/token_source.hpp"

namespace credfs {

/// Parses a refresh-git-token response body. The token is taken from
/// `token` or `data.token`; the expiry from `expires_at` or `data.expires_at`,
/// as an ISO-8601 string or epoch seconds (a number or a numeric string), and
/// is left empty when absent. `now` is wall time. Throws SourceError (without
/// the token) on a body that is not a JSON object (the message says whether
/// it was empty, HTML or malformed/truncated JSON, and its size), a missing or
/// malformed token (empty, whitespace or control bytes: it would forge a
/// credential-store line), an unparsable expiry, or an expiry at or before
/// `now`.
Token parse_gastown_response(const std::string& body, WallTime now);

/// The `exp` claim of a JWT (decoded, not verified: the daemon only warns
/// with it), as wall time; std::nullopt when absent or malformed.
std::optional<WallTime> jwt_expiry(std::string_view jwt);

class GastownSource final : public TokenSource {
  public:
    /// `http` must outlive the source.
    GastownSource(SourceConfig config, HttpClient& http, const Clock& clock);

    /// A GitHub installation token lives this long from minting: an expiry
    /// further ahead than this plus kExpirySkewAllowanceS is cut to now +
    /// kMaxTokenLifeS, with a warning.
    static constexpr double kMaxTokenLifeS = 3600;
    static constexpr double kExpirySkewAllowanceS = 300;
    /// A 401 is retried only with at least this much of request_timeout_s left.
    static constexpr double kMinRetryBudgetS = 0.05;

    /// One POST per call. The container JWT is re-read from its file (or the
    /// environment) on every call, since another process renews it; a 401
    /// re-reads it once more and retries before reporting, within what is
    /// left of source.request_timeout_s (measured on the injected clock): one
    /// fetch never takes longer than request_timeout_s. An expired JWT (its
    /// `exp`, decoded) is logged as a warning. TLS is verified (the system's
    /// CAs, or source.ca_bundle); redirects are never followed (a 3xx is an
    /// error naming only the target's scheme, host and port). A 429 or 5xx
    /// with Retry-After (seconds or an HTTP-date) carries that wait, at most
    /// kMaxRetryAfterS (core/http.hpp), as SourceError::retry_after_s(). An expiry beyond the
    /// one-hour life of an installation token is capped (see kMaxTokenLifeS).
    /// Throws SourceError naming the rig and the HTTP status or transport
    /// error.
    Token fetch(const RigConfig& rig) override;
    std::string type_name() const override { return "gastown"; }

    /// source.revoke_superseded with source.github_api_url (opt-in: a
    /// control plane may hand the same token to other containers).
    bool can_revoke() const override {
        return config_.revoke_superseded && !config_.github_api_url.empty();
    }
    /// DELETE {github_api_url}/installation/token (sources/token_revocation.hpp).
    RevokeOutcome revoke(const std::string& token, double max_s) override;

    /// The URL fetch() posts to for `rig_id`.
    std::string refresh_url(const std::string& rig_id) const;

  private:
    std::string container_token(const std::string& rig_id) const;
    HttpResponse post_once(const RigConfig& rig, const std::string& jwt, double timeout_s) const;
    void warn_if_expired(const std::string& jwt, const std::string& rig_id) const;

    SourceConfig config_;
    HttpClient& http_;
    const Clock& clock_;
    RateLimitTracker rate_;  // GitHub's, seen on revocations: for the warning
};

}  // namespace credfs
