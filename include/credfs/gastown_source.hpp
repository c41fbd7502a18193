// Token source for the Gastown control plane:
//   POST {api_url}/api/towns/{town_id}/rigs/{rig_id}/refresh-git-token
//   Authorization: Bearer <container JWT>
// answered with {"token": ..., "expires_at": ...}, optionally nested under "data".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "credfs/clock.hpp"
#include "credfs/config.hpp"
#include "credfs/http_client.hpp"
#include "credfs/token_source.hpp"

namespace credfs {

/// Parses a refresh-git-token response body. The token is taken from
/// `token` or `data.token`; the expiry from `expires_at` or `data.expires_at`,
/// as an ISO-8601 string or epoch seconds (a number or a numeric string), and
/// is left empty when absent. `now` is wall time. Throws SourceError (without
/// the token) on bad JSON, a missing or malformed token (empty, whitespace or
/// control bytes), an unparsable expiry, or an expiry at or before `now`.
Token parse_gastown_response(const std::string& body, WallTime now);

/// The `exp` claim of a JWT (decoded, not verified: the daemon only warns
/// with it), as wall time; std::nullopt when absent or malformed.
std::optional<WallTime> jwt_expiry(std::string_view jwt);

class GastownSource final : public TokenSource {
  public:
    /// `http` must outlive the source.
    GastownSource(SourceConfig config, HttpClient& http, const Clock& clock);

    /// One POST per call. The container JWT is re-read from its file (or the
    /// environment) on every call, since another process renews it; a 401
    /// re-reads it once more and retries before reporting. An expired JWT
    /// (its `exp`, decoded) is logged as a warning. TLS is verified (the
    /// system's CAs, or source.ca_bundle). Throws SourceError naming the rig
    /// and the HTTP status or transport error.
    Token fetch(const RigConfig& rig) override;
    std::string type_name() const override { return "gastown"; }

    /// The URL fetch() posts to for `rig_id`.
    std::string refresh_url(const std::string& rig_id) const;

  private:
    std::string container_token(const std::string& rig_id) const;
    HttpResponse post_once(const RigConfig& rig, const std::string& jwt) const;
    void warn_if_expired(const std::string& jwt, const std::string& rig_id) const;

    SourceConfig config_;
    HttpClient& http_;
    const Clock& clock_;
};

}  // namespace credfs
