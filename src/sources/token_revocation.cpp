#include "credfs/sources/token_revocation.hpp"

#include <algorithm>

#include "credfs/core/http.hpp"

namespace credfs {

RevokeOutcome revoke_installation_token(HttpClient& http, const SourceConfig& config,
                                        const std::string& api_url, const std::string& token,
                                        double max_s, const Clock& clock, RateLimitTracker& rate,
                                        const std::string& installation) {
    HttpRequest req;
    req.method = "DELETE";
    req.url = api_url + "/installation/token";
    req.headers = {"Authorization: Bearer " + token, "Accept: application/vnd.github+json",
                   "X-GitHub-Api-Version: 2022-11-28"};
    req.connect_timeout_s = std::min(config.connect_timeout_s, max_s);
    req.timeout_s = std::min(config.request_timeout_s, max_s);
    req.ca_bundle = config.ca_bundle;
    HttpResponse resp;
    try {
        resp = http.send(req);
    } catch (const HttpError& e) {
        return {RevokeOutcome::Result::Failed, e.what(), 0};
    }
    rate.observe(resp.headers, installation, clock.now(), "revocation");
    if (resp.status == 204) return {RevokeOutcome::Result::Revoked, "", 0};
    if (resp.status == 401) return {RevokeOutcome::Result::AlreadyDead, "", 0};
    double wait = 0;
    if (const std::string s = header_value(resp.headers, "retry-after"); !s.empty()) {
        wait = parse_retry_after(s, clock.now());
    } else if (header_value(resp.headers, "x-ratelimit-remaining") == "0") {
        wait = parse_ratelimit_reset(header_value(resp.headers, "x-ratelimit-reset"), clock.now())
                   .value_or(0);
    }
    return {RevokeOutcome::Result::Failed,
            "DELETE " + req.url + ": HTTP " + std::to_string(resp.status) +
                upstream_message(resp.body, token),
            wait};
}

}  // namespace credfs
