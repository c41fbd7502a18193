// Revoking a GitHub installation token (GitHub REST API, version 2022-11-28):
//   DELETE {api_url}/installation/token
//   Authorization: Bearer <that very token>
// answered 204 when revoked, 401 when the token is already dead.
#pragma once

#include <string>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/sources/http_client.hpp"
#include "credfs/sources/rate_limit.hpp"
#include "credfs/sources/token_source.hpp"

namespace credfs {

/// Revokes `token` at `api_url` (no trailing slash), bounded by `config`'s
/// connect and request timeouts and by `max_s` seconds, trusting its CA bundle. 204 is Revoked,
/// 401 AlreadyDead; any other status or no answer is Failed, with one line
/// naming the status (and GitHub's message, the token redacted) or the
/// transport error, and retry_after_s from Retry-After or x-ratelimit-reset on
/// a rate limit. The response's rate-limit headers go to `rate` under
/// `installation` (read at wall time `clock.now()`). Never throws.
RevokeOutcome revoke_installation_token(HttpClient& http, const SourceConfig& config,
                                        const std::string& api_url, const std::string& token,
                                        double max_s, const Clock& clock, RateLimitTracker& rate,
                                        const std::string& installation);

}  // namespace credfs
