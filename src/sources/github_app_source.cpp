#include "credfs/sources/github_app_source.hpp"

#include <json/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "credfs/core/http.hpp"
#include "credfs/sources/gastown_source.hpp"
#include "credfs/sources/token_revocation.hpp"

namespace credfs {

namespace {

// GitHub answers 401 to a JWT it cannot verify (a skewed clock, another
// App's id or key), at discovery and at mint alike.
SourceError jwt_refused(const std::string& who, const std::string& says, long status) {
    return SourceError(who +
                           ": the app JWT was refused: check this machine's clock and "
                           "source.app_id / private_key_file" +
                           says,
                       status);
}

std::string compact(const Json::Value& v) {
    Json::StreamWriterBuilder w;
    w["indentation"] = "";
    return Json::writeString(w, v);
}

bool is_clock_complaint(const std::string& body) {
    return body.find("'Issued at' claim") != std::string::npos ||
           body.find("'Expiration time' claim") != std::string::npos;
}

/// Seconds GitHub asked us to wait, from Retry-After or x-ratelimit-reset
/// (both capped at kMaxRetryAfterS); 60 when it said neither.
double retry_after(const HttpResponse& r, WallTime now) {
    if (const std::string s = header_value(r.headers, "retry-after"); !s.empty()) {
        return parse_retry_after(s, now);
    }
    if (const std::string s = header_value(r.headers, "x-ratelimit-reset"); !s.empty()) {
        return parse_ratelimit_reset(s, now).value_or(0);
    }
    return 60;
}

bool rate_limited(const HttpResponse& r) {
    return r.status == 429 ||
           (r.status == 403 && (header_value(r.headers, "x-ratelimit-remaining") == "0" ||
                                !header_value(r.headers, "retry-after").empty()));
}

}  // namespace

std::string base64url(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

std::shared_ptr<EVP_PKEY> load_private_key(const std::string& pem_file) {
    FILE* f = std::fopen(pem_file.c_str(), "r");
    if (f == nullptr) throw SourceError("github_app: cannot read private key " + pem_file);
    EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (key == nullptr) {
        throw SourceError("github_app: " + pem_file + " is not a PEM private key (PKCS#1 or #8)");
    }
    return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

std::string make_app_jwt(EVP_PKEY* key, const std::string& app_id, WallTime now) {
    const auto epoch = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    Json::Value claims;
    claims["iat"] = static_cast<Json::Int64>(epoch.count() - 60);
    claims["exp"] = static_cast<Json::Int64>(epoch.count() + 540);
    claims["iss"] = app_id;
    const std::string signing_input =
        base64url(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url(compact(claims));
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
        throw SourceError("github_app: cannot sign the app JWT with the private key");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
        throw SourceError("github_app: cannot sign the app JWT with the private key");
    }
    sig.resize(len);
    return signing_input + "." + base64url(sig);
}

GitHubAppSource::GitHubAppSource(SourceConfig config, HttpClient& http, const Clock& clock)
    : config_(std::move(config)),
      http_(http),
      clock_(clock),
      key_(load_private_key(config_.private_key_file)),
      installation_id_(config_.installation_id) {}

bool GitHubAppSource::measure_skew(const HttpResponse& resp) {
    const auto server = parse_http_date(header_value(resp.headers, "date"));
    if (!server) return false;
    // Date has one-second resolution: only a change beyond that is news.
    const double measured = seconds_between(clock_.now(), *server);
    const double old = skew_s_.load();
    if (std::abs(measured - old) <= 2) return false;
    skew_s_ = measured;
    const auto level = std::abs(measured) > 30 ? spdlog::level::warn : spdlog::level::info;
    spdlog::log(level,
                "github_app: this machine's clock is {:.0f} s {} GitHub's; JWTs and token "
                "expiries are corrected for it (fix the clock: NTP)",
                std::abs(measured), measured > 0 ? "behind" : "ahead of");
    return true;
}

GitHubAppSource::Shared& GitHubAppSource::shared_for(const std::string& scope) {
    std::lock_guard lock(shared_mu_);
    auto& slot = shared_[scope];
    if (!slot) slot = std::make_unique<Shared>();
    return *slot;
}

std::string GitHubAppSource::installation_id() const {
    std::lock_guard lock(install_mu_);
    return installation_id_;
}

std::string GitHubAppSource::configured_as() const {
    if (!config_.installation_repository.empty()) {
        return "repository " + config_.installation_repository;
    }
    if (!config_.installation_org.empty()) return "org " + config_.installation_org;
    return config_.installation_id;
}

HttpResponse GitHubAppSource::call(const RigConfig& rig, const std::string& method,
                                   const std::string& path, const std::string& body,
                                   const std::string& installation) {
    const auto send = [&] {
        HttpRequest req;
        req.method = method;
        req.url = config_.api_url + path;
        const WallTime corrected = clock_.now() + to_wall_duration(skew_s_.load());
        req.headers = {
            "Authorization: Bearer " + make_app_jwt(key_.get(), config_.app_id, corrected),
            "Accept: application/vnd.github+json", "X-GitHub-Api-Version: 2022-11-28"};
        if (method == "POST") req.headers.emplace_back("Content-Type: application/json");
        req.body = body;
        req.connect_timeout_s = config_.connect_timeout_s;
        req.timeout_s = config_.request_timeout_s;
        req.ca_bundle = config_.ca_bundle;
        try {
            HttpResponse resp = http_.send(req);
            rate_.observe(resp.headers, installation, clock_.now(), "github_app");
            return resp;
        } catch (const HttpError& e) {
            throw SourceError("rig " + rig.id + ": " + e.what());
        }
    };
    HttpResponse resp = send();
    if (measure_skew(resp) && resp.status == 401 && is_clock_complaint(resp.body)) {
        resp = send();  // re-signed on GitHub's clock
        measure_skew(resp);
    }
    return resp;
}

std::string GitHubAppSource::discover(const RigConfig& rig) {
    const bool repo = !config_.installation_repository.empty();
    const std::string path = repo ? "/repos/" + config_.installation_repository + "/installation"
                                  : "/orgs/" + config_.installation_org + "/installation";
    const HttpResponse resp = call(rig, "GET", path, "", configured_as());
    const std::string who = "rig " + rig.id + ": GitHub App: cannot find its installation for " +
                            configured_as() + ": HTTP " + std::to_string(resp.status);
    const std::string says = upstream_message(resp.body, "");
    if (rate_limited(resp)) {
        const double wait = retry_after(resp, clock_.now());
        throw SourceError(who + " rate limited" + says, resp.status, wait);
    }
    if (resp.status == 404) {
        throw SourceError(who + ": the App is not installed there (or source.installation." +
                              (repo ? "repository" : "org") + " is misspelt)" + says,
                          resp.status);
    }
    if (resp.status == 401) throw jwt_refused(who, says, resp.status);
    if (resp.status != 200) throw SourceError(who + says, resp.status);
    Json::Value root;
    std::unique_ptr<Json::CharReader> reader(Json::CharReaderBuilder().newCharReader());
    if (!reader->parse(resp.body.data(), resp.body.data() + resp.body.size(), &root, nullptr) ||
        !root.isObject() || !root["id"].isUInt64() || root["id"].asUInt64() == 0) {
        throw SourceError(who + ": the answer has no installation id");
    }
    return std::to_string(root["id"].asUInt64());
}

std::string GitHubAppSource::installation_for(const RigConfig& rig, const std::string& refused) {
    std::lock_guard lock(install_mu_);
    if (!discovered() || (!installation_id_.empty() && installation_id_ != refused)) {
        return installation_id_;
    }
    const std::string old = installation_id_;
    installation_id_ = discover(rig);
    spdlog::info("github_app: {} is installation {}{}", configured_as(), installation_id_,
                 old.empty()               ? ""
                 : old == installation_id_ ? " (still, though minting for it was refused)"
                                           : " (was " + old + ": the App was reinstalled)");
    return installation_id_;
}

RevokeOutcome GitHubAppSource::revoke(const std::string& token, double max_s) {
    const std::string id = installation_id();
    return revoke_installation_token(http_, config_, config_.api_url, token, max_s, clock_, rate_,
                                     id.empty() ? configured_as() : id);
}

void GitHubAppSource::fail_mint(const RigConfig& rig, const std::string& id,
                                const HttpResponse& resp, bool rediscovered) const {
    const std::string who = "rig " + rig.id + ": GitHub App installation " + id +
                            (discovered() ? " (" + configured_as() + ")" : "") + ": HTTP " +
                            std::to_string(resp.status);
    const std::string says = upstream_message(resp.body, "");
    if (rate_limited(resp)) {
        const double wait = retry_after(resp, clock_.now());
        throw SourceError(
            who + " rate limited; retrying after " + std::to_string(wait) + " s" + says,
            resp.status, wait);
    }
    if (resp.status == 401) throw jwt_refused(who, says, resp.status);
    if (resp.status == 403 || resp.status == 404) {
        throw SourceError(who + ": installation suspended, removed or not this app's" +
                              (rediscovered ? " (also just after discovering it again)" : "") +
                              says,
                          resp.status);
    }
    if (resp.status == 422) {
        throw SourceError(who +
                              ": GitHub refused the scope: check rigs[].repositories and "
                              "permissions" +
                              says,
                          resp.status);
    }
    throw SourceError(who + says, resp.status);
}

Token GitHubAppSource::fetch(const RigConfig& rig) {
    Json::Value scope(Json::objectValue);
    for (const auto& repo : rig.repositories) scope["repositories"].append(repo);
    for (const auto& [name, level] : rig.permissions) scope["permissions"][name] = level;
    const std::string body = compact(scope);
    Shared& shared = shared_for(body);
    std::lock_guard lock(shared.mu);
    const WallTime now = clock_.now();
    if (shared.token && shared.token->expires_at &&
        *shared.token->expires_at - now > (*shared.token->expires_at - shared.minted_at) / 2) {
        return *shared.token;  // another rig with this scope just minted it
    }
    shared.token = mint(rig, body);
    shared.minted_at = now;
    return *shared.token;
}

Token GitHubAppSource::mint(const RigConfig& rig, const std::string& body) {
    std::string id = installation_for(rig, "");
    HttpResponse resp = call(rig, "POST", "/app/installations/" + id + "/access_tokens", body, id);
    const bool rediscover = resp.status == 404 && discovered();
    if (rediscover) {
        // The App may have been reinstalled: same repository, new id.
        id = installation_for(rig, id);
        resp = call(rig, "POST", "/app/installations/" + id + "/access_tokens", body, id);
    }
    if (resp.status != 201 && resp.status != 200) fail_mint(rig, id, resp, rediscover);
    try {
        // GitHub states the expiry on its clock: move it onto ours.
        Token token =
            parse_gastown_response(resp.body, clock_.now() + to_wall_duration(skew_s_.load()));
        if (token.expires_at) *token.expires_at -= to_wall_duration(skew_s_.load());
        return token;
    } catch (const SourceError& e) {
        throw SourceError("rig " + rig.id + ": GitHub App installation " + id + ": HTTP " +
                              std::to_string(resp.status) + ": " + e.what(),
                          resp.status);
    }
}

}  // namespace credfs
