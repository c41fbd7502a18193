// Token source that mints GitHub App installation tokens itself
// (GitHub REST API, version 2022-11-28):
//   POST {api_url}/app/installations/{installation_id}/access_tokens
//   Authorization: Bearer <RS256 JWT signed with the App's private key>
// answered 201 with {"token": "ghs_...", "expires_at": "..."}. An installation
// given as a repository or an organization is found first with
//   GET {api_url}/repos/{owner}/{repo}/installation  or  GET {api_url}/orgs/{org}/installation
// (same JWT), answered 200 with {"id": <installation id>, ...}.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/sources/http_client.hpp"
#include "credfs/sources/rate_limit.hpp"
#include "credfs/sources/token_source.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace credfs {

/// base64url without padding (RFC 7515, section 2).
std::string base64url(std::string_view bytes);

/// Loads a PEM private key (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE
/// KEY"). Throws SourceError naming the file when it cannot.
std::shared_ptr<EVP_PKEY> load_private_key(const std::string& pem_file);

/// An RS256 JWT for the App: {"iat": now-60, "exp": now+540, "iss": app_id}
/// (GitHub allows at most 10 minutes; 60 s back covers clock drift). `now` is
/// wall time, already corrected for the server's clock.
std::string make_app_jwt(EVP_PKEY* key, const std::string& app_id, WallTime now);

class GitHubAppSource final : public TokenSource {
  public:
    /// Throws SourceError when the private key cannot be loaded. `http` must
    /// outlive the source.
    GitHubAppSource(SourceConfig config, HttpClient& http, const Clock& clock);

    /// Mints (or shares) an installation token scoped to the rig's
    /// repositories and permissions. Rigs with the same scope share one token
    /// while it has more than half its life left, and one request at a time.
    /// Every response's Date header measures the clock skew; JWTs are signed
    /// and GitHub's expiries read on GitHub's clock. A 401 about the JWT's
    /// iat/exp after a new measurement retries once with a corrected JWT. Throws
    /// SourceError with a cause per status: 401 (check the clock and app id),
    /// 403/404 (installation suspended or not found), 422 (bad scope), rate
    /// limits (with retry_after_s from Retry-After or x-ratelimit-reset).
    /// An installation configured as a repository or organization is
    /// discovered on first use and cached; a 404 at mint (the App was
    /// reinstalled: a new id) discovers it once more and mints again before
    /// failing. A failed discovery is one SourceError naming the repository
    /// or organization.
    Token fetch(const RigConfig& rig) override;
    std::string type_name() const override { return "github_app"; }

    /// The rate limit of the latest response from GitHub (mint, discovery
    /// or revocation).
    std::optional<RateLimit> rate_limit() const override { return rate_.latest(); }
    /// source.revoke_superseded.
    bool can_revoke() const override { return config_.revoke_superseded; }
    /// DELETE {api_url}/installation/token with `token` itself (sources/token_revocation.hpp).
    RevokeOutcome revoke(const std::string& token, double max_s) override;

    /// The installation id minted for: the configured one, or the one last
    /// discovered; empty before a discovery.
    std::string installation_id() const;

    /// Seconds the server's clock is ahead of ours, as last measured.
    double clock_skew_s() const { return skew_s_.load(); }

  private:
    struct Shared {
        std::mutex mu;  // one request per scope at a time
        std::optional<Token> token;
        WallTime minted_at{};
    };
    /// One request to `path` under api_url with the App's JWT, measuring the
    /// skew and reading the rate limit; a 401 about the JWT's times after a
    /// new skew measurement is sent once more, re-signed. The rate limit is
    /// recorded for `installation` (its label).
    HttpResponse call(const RigConfig& rig, const std::string& method, const std::string& path,
                      const std::string& body, const std::string& installation);
    /// The installation to mint for. `refused`: the id a mint just got a 404
    /// for; when it is still the cached one, it is discovered again.
    std::string installation_for(const RigConfig& rig, const std::string& refused);
    /// GET /repos/{owner}/{repo}/installation or /orgs/{org}/installation.
    std::string discover(const RigConfig& rig);
    /// "repository owner/repo", "org name" or the configured id.
    std::string configured_as() const;
    bool discovered() const { return config_.installation_id.empty(); }
    Token mint(const RigConfig& rig, const std::string& body);
    [[noreturn]] void fail_mint(const RigConfig& rig, const std::string& id,
                                const HttpResponse& resp, bool rediscovered) const;
    /// Updates the skew from the response's Date header when it moved by more
    /// than its one-second resolution; true when it did.
    bool measure_skew(const HttpResponse& resp);
    Shared& shared_for(const std::string& scope);

    const SourceConfig config_;
    HttpClient& http_;
    const Clock& clock_;
    std::shared_ptr<EVP_PKEY> key_;
    std::atomic<double> skew_s_{0};
    std::mutex shared_mu_;
    std::map<std::string, std::unique_ptr<Shared>> shared_;
    // Held across a discovery: one at a time, and the others wait for its id.
    mutable std::mutex install_mu_;
    std::string installation_id_;  // guarded by install_mu_
    RateLimitTracker rate_;
};

}  // namespace credfs
