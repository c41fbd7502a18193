#include "credfs/sources/gastown_source.hpp"

#include <json/json.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "credfs/core/http.hpp"
#include "credfs/core/log.hpp"
#include "credfs/sources/token_revocation.hpp"

namespace credfs {

namespace {

const Json::Value& field(const Json::Value& root, const char* name) {
    if (root.isMember(name)) return root[name];
    const Json::Value& data = root["data"];
    if (data.isObject() && data.isMember(name)) return data[name];
    return Json::Value::nullSingleton();
}

bool valid_token_bytes(const std::string& token) {
    if (token.empty()) return false;
    for (unsigned char c : token) {
        if (c <= ' ' || c == 0x7f) return false;
    }
    return true;
}

std::optional<WallTime> parse_epoch(double seconds) {
    // Past ~2160 the nanosecond wall clock would overflow (2262).
    if (!std::isfinite(seconds) || seconds <= 0 || seconds > 6e9) return std::nullopt;
    return WallTime{} + to_wall_duration(seconds);
}

std::optional<WallTime> parse_expiry(const Json::Value& v) {
    if (v.isNumeric() && !v.isBool()) return parse_epoch(v.asDouble());
    if (!v.isString()) return std::nullopt;
    const std::string s = v.asString();
    if (auto t = parse_iso8601(s)) return t;
    char* end = nullptr;
    const double epoch = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size()) return parse_epoch(epoch);
    return std::nullopt;
}

// Why a body is not a JSON object, in words an operator can act on.
std::string not_an_object(const std::string& body, bool parsed) {
    const auto first =
        std::find_if(body.begin(), body.end(), [](unsigned char c) { return !std::isspace(c); });
    std::string why;
    if (first == body.end()) {
        why = "an empty body";
    } else if (*first == '<') {
        why = "an HTML page, not JSON: a proxy or login portal in the way?";
    } else if (parsed) {
        why = "JSON, but not an object";
    } else {
        why = "malformed or truncated JSON";
    }
    return "response is not a JSON object (" + why + ", " + std::to_string(body.size()) + " bytes)";
}

// "scheme://host[:port]" of a Location header: where a redirect pointed,
// without userinfo, path or query (either may carry a secret).
std::string redirect_target(const std::string& location) {
    if (location.empty()) return "nowhere (no Location header)";
    size_t scheme = location.find("://");
    if (scheme != std::string::npos && scheme > location.find_first_of("/?#")) {
        scheme = std::string::npos;  // "/path?next=https://...": relative
    }
    const size_t host_at = scheme == std::string::npos ? 0 : scheme + 3;
    size_t end = location.find_first_of("/?#", host_at);
    if (end == std::string::npos) end = location.size();
    std::string authority = location.substr(host_at, end - host_at);
    if (const size_t at = authority.rfind('@'); at != std::string::npos) {
        authority.erase(0, at + 1);
    }
    if (scheme == std::string::npos) {
        const std::string path = location.substr(0, location.find_first_of("?#"));
        return "the relative path " + printable(redact(path).substr(0, 60));
    }
    return printable(redact(location.substr(0, host_at) + authority).substr(0, 120));
}

std::string trim(std::string s) {
    const auto not_space = [](unsigned char c) { return !std::isspace(c); };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
    s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
    return s;
}

}  // namespace

Token parse_gastown_response(const std::string& body, WallTime now) {
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value root;
    const bool parsed = reader->parse(body.data(), body.data() + body.size(), &root, nullptr);
    if (!parsed || !root.isObject()) throw SourceError(not_an_object(body, parsed));
    const Json::Value& tok = field(root, "token");
    if (!tok.isString()) throw SourceError("response has no token (token or data.token)");
    Token out;
    out.value = tok.asString();
    if (!valid_token_bytes(out.value)) {
        throw SourceError("response token is empty or contains whitespace/control bytes");
    }
    const Json::Value& exp = field(root, "expires_at");
    if (!exp.isNull()) {
        out.expires_at = parse_expiry(exp);
        if (!out.expires_at) throw SourceError("response expires_at is not ISO-8601 or epoch");
        if (*out.expires_at <= now) {
            throw SourceError("response expires_at " + format_iso8601(*out.expires_at) +
                              " is already past");
        }
    }
    return out;
}

GastownSource::GastownSource(SourceConfig config, HttpClient& http, const Clock& clock)
    : config_(std::move(config)), http_(http), clock_(clock) {}

std::string GastownSource::refresh_url(const std::string& rig_id) const {
    return config_.api_url + "/api/towns/" + percent_encode(config_.town_id) + "/rigs/" +
           percent_encode(rig_id) + "/refresh-git-token";
}

std::string GastownSource::container_token(const std::string& rig_id) const {
    std::string jwt;
    if (!config_.container_token_file.empty()) {
        std::ifstream in(config_.container_token_file);
        if (!in) {
            throw SourceError("rig " + rig_id + ": cannot read container token file \"" +
                              config_.container_token_file + "\"");
        }
        std::ostringstream text;
        text << in.rdbuf();
        jwt = trim(text.str());
    } else {
        // NOLINTNEXTLINE(concurrency-mt-unsafe): the daemon never calls setenv.
        const char* env = std::getenv(config_.container_token_env.c_str());
        jwt = trim(env != nullptr ? env : "");
    }
    if (jwt.empty()) {
        throw SourceError("rig " + rig_id + ": container token is empty (" +
                          (config_.container_token_file.empty() ? "$" + config_.container_token_env
                                                                : config_.container_token_file) +
                          ")");
    }
    return jwt;
}

HttpResponse GastownSource::post_once(const RigConfig& rig, const std::string& jwt,
                                      double timeout_s) const {
    SourceConfig bounded = config_;
    bounded.request_timeout_s = timeout_s;
    return post_for_rig(http_, bounded, rig, refresh_url(rig.id),
                        {"Authorization: Bearer " + jwt, "Accept: application/json",
                         "Content-Type: application/json"},
                        "{}");
}

void GastownSource::warn_if_expired(const std::string& jwt, const std::string& rig_id) const {
    const auto exp = jwt_expiry(jwt);
    if (!exp || *exp > clock_.now()) return;
    spdlog::warn(
        "rig {}: the container token expired {:.0f} s ago ({}): the control plane will "
        "refuse it; check the process that renews it",
        rig_id, seconds_between(*exp, clock_.now()),
        config_.container_token_file.empty() ? "$" + config_.container_token_env
                                             : config_.container_token_file);
}

Token GastownSource::fetch(const RigConfig& rig) {
    const WallTime started = clock_.now();
    std::string jwt = container_token(rig.id);
    warn_if_expired(jwt, rig.id);
    HttpResponse resp = post_once(rig, jwt, config_.request_timeout_s);
    const std::string url = refresh_url(rig.id);
    if (resp.status == 401) {
        // Another process may have renewed the container token since we read
        // it: read it again and retry once, within what is left of
        // request_timeout_s, so one fetch never takes longer than that.
        const double left =
            std::min(config_.request_timeout_s,
                     config_.request_timeout_s - seconds_between(started, clock_.now()));
        if (left < kMinRetryBudgetS) {
            throw SourceError("rig " + rig.id + ": HTTP 401 from " + url +
                                  upstream_message(resp.body, jwt) +
                                  " (no time left in source.request_timeout_s to retry with a "
                                  "re-read container token)",
                              resp.status);
        }
        jwt = container_token(rig.id);
        resp = post_once(rig, jwt, left);
    }
    const std::string who =
        "rig " + rig.id + ": HTTP " + std::to_string(resp.status) + " from " + url;
    if (resp.status >= 300 && resp.status <= 399) {
        throw SourceError(who + ": a redirect to " +
                              redirect_target(header_value(resp.headers, "location")) +
                              ", not followed (the container token is only sent to "
                              "source.api_url)",
                          resp.status);
    }
    if (resp.status < 200 || resp.status > 299) {
        const double wait =
            resp.status == 429 || resp.status >= 500
                ? parse_retry_after(header_value(resp.headers, "retry-after"), clock_.now())
                : 0;
        throw SourceError(who + upstream_message(resp.body, jwt) +
                              (wait > 0 ? fmt::format("; the upstream asks to retry after {:.0f} s "
                                                      "(Retry-After)",
                                                      wait)
                                        : std::string()),
                          resp.status, wait);
    }
    Token token;
    const WallTime now = clock_.now();
    try {
        token = parse_gastown_response(resp.body, now);
    } catch (const SourceError& e) {
        throw SourceError(who + ": " + e.what(), resp.status);
    }
    if (token.expires_at &&
        seconds_between(now, *token.expires_at) > kMaxTokenLifeS + kExpirySkewAllowanceS) {
        // GitHub installation tokens live one hour from minting: an expiry
        // far beyond is a bug or a lie, and trusting it would stop refreshes
        // while the real token dies. Trust at most one hour from now.
        const WallTime capped = now + to_wall_duration(kMaxTokenLifeS);
        spdlog::warn(
            "rig {}: the upstream says its token expires {} ({:.1f} days ahead), past the 1 h "
            "an installation token lives: treating it as expiring at {}",
            rig.id, format_iso8601(*token.expires_at),
            seconds_between(now, *token.expires_at) / 86400, format_iso8601(capped));
        token.expires_at = capped;
    }
    return token;
}

RevokeOutcome GastownSource::revoke(const std::string& token, double max_s) {
    return revoke_installation_token(http_, config_, config_.github_api_url, token, max_s, clock_,
                                     rate_, "(gastown)");
}

std::optional<WallTime> jwt_expiry(std::string_view jwt) {
    const size_t first = jwt.find('.');
    const size_t second = first == std::string_view::npos ? first : jwt.find('.', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    // base64url without padding -> base64 with padding, for OpenSSL's decoder.
    std::string b64(jwt.substr(first + 1, second - first - 1));
    for (char& c : b64) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (b64.size() % 4 != 0) b64.push_back('=');
    std::string payload(b64.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(payload.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    if (n < 0) return std::nullopt;
    payload.resize(static_cast<size_t>(n));
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value root;
    if (!reader->parse(payload.data(), payload.data() + payload.size(), &root, nullptr) ||
        !root.isObject() || !root["exp"].isNumeric()) {
        return std::nullopt;
    }
    const double exp = root["exp"].asDouble();
    if (!std::isfinite(exp) || exp <= 0 || exp > 6e9) return std::nullopt;
    return WallTime{} + to_wall_duration(exp);
}

}  // namespace credfs
