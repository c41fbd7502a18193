#include "fake_github.hpp"
#include "serve_loop.hpp"

#include <httplib.h>
#include <json/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace credfs::fakes {
namespace {

constexpr char kEndpointPattern[] = R"(/app/installations/([0-9]+)/access_tokens)";
constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
// GitHub refuses App JWTs that live longer than this.
constexpr std::int64_t kMaxJwtLifetimeS = 600;

std::string to_json(const Json::Value& value) {
    Json::StreamWriterBuilder builder;
    builder["indentation"] = "";
    return Json::writeString(builder, value);
}

std::optional<Json::Value> parse_json(const std::string& text) {
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value value;
    std::string errors;
    if (!reader->parse(text.data(), text.data() + text.size(), &value, &errors)) {
        return std::nullopt;
    }
    return value;
}

// base64url without padding (RFC 7515). Padding or stray characters make it
// fail: a JWT carrying them is malformed, and GitHub refuses it.
std::optional<std::string> base64url_decode(const std::string& in) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (const char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '-') {
            v = 62;
        } else if (c == '_') {
            v = 63;
        } else {
            return std::nullopt;
        }
        buffer = (buffer << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
        }
    }
    return out;
}

std::shared_ptr<EVP_PKEY> read_key(const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    if (!bio) throw std::runtime_error("fake-github: BIO_new_mem_buf failed");
    EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
    if (key == nullptr) {
        // A private key PEM holds the public half too.
        BIO_reset(bio.get());
        key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    }
    if (key == nullptr) throw std::runtime_error("fake-github: no PEM key in the given text");
    return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

bool verify_rs256(EVP_PKEY* key, const std::string& signed_part, const std::string& signature) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx) return false;
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(),
                            reinterpret_cast<const unsigned char*>(signed_part.data()),
                            signed_part.size()) == 1;
}

std::int64_t epoch_seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// GitHub's expires_at: ISO-8601 UTC, whole seconds, e.g. "2026-11-29T12:00:03Z".
std::string format_iso8601_s(std::chrono::system_clock::time_point t) {
    const std::time_t secs = static_cast<std::time_t>(epoch_seconds(t));
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

std::string github_error(int status, const std::string& message) {
    Json::Value body;
    body["message"] = message;
    body["documentation_url"] = "https://docs.github.com/rest";
    body["status"] = std::to_string(status);
    return to_json(body);
}

}  // namespace

std::string format_http_date(std::chrono::system_clock::time_point t) {
    const std::time_t secs = static_cast<std::time_t>(epoch_seconds(t));
    std::tm tm{};
    gmtime_r(&secs, &tm);
    // Spelled out rather than strftime's %a/%b, which follow the locale.
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char out[40];
    std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                  tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return out;
}

FakeGitHub::FakeGitHub(std::string app_id, const std::string& public_key_pem,
                       std::set<std::int64_t> installations)
    : app_id_(std::move(app_id)),
      installations_(std::move(installations)),
      key_(read_key(public_key_pem)),
      rng_(std::random_device{}()) {
    auto server = std::make_unique<httplib::Server>();
    // An idle keep-alive connection pins a worker until this passes; keep it
    // short so the destructor returns quickly.
    server->set_keep_alive_timeout(1);
    // cpp-httplib writes a response's headers and body in two sends. Without
    // TCP_NODELAY, Nagle holds the body until the client's delayed ACK (up
    // to 40 ms) on a reused connection; nginx sets it by default too.
    server->set_tcp_nodelay(true);
    server->Post(kEndpointPattern,
                 [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    server->Get(R"(/(repos/[^/]+/[^/]+|orgs/[^/]+)/installation)",
                [this](const httplib::Request& req, httplib::Response& res) {
                    handle_discovery(req, res);
                });
    server->Delete("/installation/token",
                   [this](const httplib::Request& req, httplib::Response& res) {
                       handle_revocation(req, res);
                   });
    port_ = server->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("fake-github: cannot bind 127.0.0.1:0");
    std::thread loop = run_bound_server(*server, "fake-github");
    server_ = std::move(server);
    loop_ = std::move(loop);
}

FakeGitHub::~FakeGitHub() {
    server_->stop();
    loop_.join();
}

std::string FakeGitHub::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeGitHub::set_clock_offset(double seconds) {
    std::lock_guard lk(mu_);
    offset_s_ = seconds;
}

void FakeGitHub::set_ttl(double seconds) {
    std::lock_guard lk(mu_);
    ttl_s_ = seconds;
}

void FakeGitHub::set_installations(std::set<std::int64_t> ids) {
    std::lock_guard lk(mu_);
    installations_ = std::move(ids);
}

void FakeGitHub::set_discovery(const std::string& target, std::int64_t id) {
    std::lock_guard lk(mu_);
    discovery_[target] = id;
}

void FakeGitHub::set_rate_limit(long long limit, long long remaining, std::int64_t reset_epoch_s) {
    std::lock_guard lk(mu_);
    rate_limit_ = limit;
    rate_remaining_ = remaining;
    rate_reset_ = reset_epoch_s;
}

void FakeGitHub::fail_revocations(int n) {
    std::lock_guard lk(mu_);
    failing_revocations_ = n;
}

std::vector<std::string> FakeGitHub::discoveries() const {
    std::lock_guard lk(mu_);
    return discoveries_;
}

std::vector<std::string> FakeGitHub::revoked() const {
    std::lock_guard lk(mu_);
    return revoked_;
}

int FakeGitHub::revocation_calls() const {
    std::lock_guard lk(mu_);
    return revocation_calls_;
}

void FakeGitHub::stamp_locked(httplib::Response& res, WallClock::time_point now) const {
    // GitHub dates every answer; the daemon measures clock skew from it.
    res.set_header("Date", format_http_date(now));
    res.set_header("X-RateLimit-Limit", std::to_string(rate_limit_));
    res.set_header("X-RateLimit-Remaining", std::to_string(rate_remaining_));
    res.set_header("X-RateLimit-Reset",
                   std::to_string(rate_reset_ != 0 ? rate_reset_ : epoch_seconds(now) + 3600));
}

std::pair<int, std::string> FakeGitHub::check_app_request_locked(const httplib::Request& req,
                                                                 WallClock::time_point now) const {
    if (req.get_header_value("Accept") != "application/vnd.github+json") {
        return {400, "Accept must be application/vnd.github+json"};
    }
    if (req.get_header_value("X-GitHub-Api-Version") != "2022-11-28") {
        return {400, "X-GitHub-Api-Version must be 2022-11-28"};
    }
    const std::string auth = req.get_header_value("Authorization");
    constexpr char kBearer[] = "Bearer ";
    if (auth.rfind(kBearer, 0) != 0) return {401, "A JSON web token could not be decoded"};
    if (std::string why = check_jwt_locked(auth.substr(sizeof kBearer - 1), now); !why.empty()) {
        return {401, why};
    }
    return {0, ""};
}

void FakeGitHub::handle_discovery(const httplib::Request& req, httplib::Response& res) {
    const std::string target = req.matches[1].str();
    std::lock_guard lk(mu_);
    const auto now = WallClock::now() + std::chrono::duration_cast<WallClock::duration>(
                                            std::chrono::duration<double>(offset_s_));
    stamp_locked(res, now);
    discoveries_.push_back(target);
    cv_.notify_all();
    auto [status, message] = check_app_request_locked(req, now);
    const auto it = discovery_.find(target);
    if (status == 0 && it == discovery_.end())
        std::tie(status, message) = std::pair(404, "Not Found");
    if (status != 0) {
        res.status = status;
        res.set_content(github_error(status, message), "application/json; charset=utf-8");
        return;
    }
    Json::Value body;
    body["id"] = static_cast<Json::Int64>(it->second);
    body["app_id"] = app_id_;
    res.status = 200;
    res.set_content(to_json(body), "application/json; charset=utf-8");
}

void FakeGitHub::handle_revocation(const httplib::Request& req, httplib::Response& res) {
    const std::string auth = req.get_header_value("Authorization");
    const std::string token = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : std::string();
    const auto t = now();
    std::lock_guard lk(mu_);
    stamp_locked(res, t);
    ++revocation_calls_;
    cv_.notify_all();
    if (req.get_header_value("Accept") != "application/vnd.github+json" ||
        req.get_header_value("X-GitHub-Api-Version") != "2022-11-28") {
        res.status = 400;
        res.set_content(github_error(400, "Accept and X-GitHub-Api-Version required"),
                        "application/json; charset=utf-8");
        return;
    }
    if (failing_revocations_ > 0) {
        --failing_revocations_;
        res.status = 500;
        res.set_content(github_error(500, "Server Error"), "application/json; charset=utf-8");
        return;
    }
    const bool known = std::any_of(minted_.begin(), minted_.end(), [&](const Minted& m) {
        return m.token == token && t < m.expires_at;
    });
    const bool already = std::find(revoked_.begin(), revoked_.end(), token) != revoked_.end();
    if (!known || already) {
        res.status = 401;
        res.set_content(github_error(401, "Bad credentials"), "application/json; charset=utf-8");
        return;
    }
    revoked_.push_back(token);
    res.status = 204;
}

FakeGitHub::WallClock::time_point FakeGitHub::now() const {
    std::lock_guard lk(mu_);
    return WallClock::now() + std::chrono::duration_cast<WallClock::duration>(
                                  std::chrono::duration<double>(offset_s_));
}

int FakeGitHub::calls() const {
    std::lock_guard lk(mu_);
    return static_cast<int>(requests_.size());
}

int FakeGitHub::tokens_minted() const {
    std::lock_guard lk(mu_);
    return static_cast<int>(minted_.size());
}

std::vector<GitHubRequest> FakeGitHub::requests() const {
    std::lock_guard lk(mu_);
    return requests_;
}

std::string FakeGitHub::last_body() const {
    std::lock_guard lk(mu_);
    return requests_.empty() ? std::string() : requests_.back().body;
}

bool FakeGitHub::is_valid(const std::string& token) const {
    const auto t = now();
    std::lock_guard lk(mu_);
    if (std::find(revoked_.begin(), revoked_.end(), token) != revoked_.end()) return false;
    for (const auto& m : minted_) {
        if (m.token == token) return t < m.expires_at;
    }
    return false;
}

bool FakeGitHub::wait_for_calls(int n, SteadyClock::time_point deadline) const {
    std::unique_lock lk(mu_);
    return cv_.wait_until(lk, deadline, [&] { return static_cast<int>(requests_.size()) >= n; });
}

std::string FakeGitHub::random_token_locked() {
    std::uniform_int_distribution<std::size_t> pick(0, sizeof kAlnum - 2);
    std::string token = "ghs_";
    for (int i = 0; i < 36; ++i) token.push_back(kAlnum[pick(rng_)]);
    return token;
}

std::string FakeGitHub::check_jwt_locked(const std::string& jwt, WallClock::time_point now) const {
    const auto dot1 = jwt.find('.');
    const auto dot2 = dot1 == std::string::npos ? dot1 : jwt.find('.', dot1 + 1);
    if (dot2 == std::string::npos || jwt.find('.', dot2 + 1) != std::string::npos) {
        return "A JSON web token could not be decoded";
    }
    const auto header_text = base64url_decode(jwt.substr(0, dot1));
    const auto claims_text = base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
    const auto signature = base64url_decode(jwt.substr(dot2 + 1));
    if (!header_text || !claims_text || !signature) return "A JSON web token could not be decoded";
    const auto header = parse_json(*header_text);
    const auto claims = parse_json(*claims_text);
    if (!header || !claims || !header->isObject() || !claims->isObject()) {
        return "A JSON web token could not be decoded";
    }
    if (!(*header)["alg"].isString() || (*header)["alg"].asString() != "RS256") {
        return "A JSON web token could not be decoded";
    }
    if (!verify_rs256(key_.get(), jwt.substr(0, dot2), *signature)) {
        return "A JSON web token could not be decoded";
    }
    const Json::Value& iss = (*claims)["iss"];
    const std::string issuer = iss.isIntegral() ? std::to_string(iss.asInt64())
                               : iss.isString() ? iss.asString()
                                                : std::string();
    if (issuer != app_id_) return "'Issuer' claim ('iss') must be an Integer";
    const Json::Value& iat = (*claims)["iat"];
    const Json::Value& exp = (*claims)["exp"];
    const std::int64_t now_s = epoch_seconds(now);
    if (!iat.isIntegral() || iat.asInt64() > now_s) {
        return "'Issued at' claim ('iat') must be an Integer representing a time in the past";
    }
    if (!exp.isIntegral() || exp.asInt64() - iat.asInt64() > kMaxJwtLifetimeS) {
        return "'Expiration time' claim ('exp') is too far in the future";
    }
    if (exp.asInt64() <= now_s) {
        return "'Expiration time' claim ('exp') must be a numeric value representing the future "
               "time at which the assertion expires";
    }
    return {};
}

void FakeGitHub::handle(const httplib::Request& req, httplib::Response& res) {
    GitHubRequest record;
    record.installation_id = std::stoll(req.matches[1].str());
    record.body = req.body;
    std::unique_lock lk(mu_);
    const auto now = WallClock::now() + std::chrono::duration_cast<WallClock::duration>(
                                            std::chrono::duration<double>(offset_s_));
    stamp_locked(res, now);
    auto answer = [&](int status, const std::string& body) {
        res.status = status;
        res.set_content(body, "application/json; charset=utf-8");
        requests_.push_back(record);
        cv_.notify_all();
    };
    auto refuse = [&](int status, const std::string& message) {
        record.status = status;
        record.message = message;
        answer(status, github_error(status, message));
    };

    if (const auto [status, why] = check_app_request_locked(req, now); status != 0) {
        return refuse(status, why);
    }
    if (installations_.count(record.installation_id) == 0) return refuse(404, "Not Found");
    if (!req.body.empty()) {
        const auto body = parse_json(req.body);
        if (!body || !body->isObject()) return refuse(400, "Problems parsing JSON");
        for (const auto& name : body->getMemberNames()) {
            const Json::Value& v = (*body)[name];
            const bool ok = (name == "repositories" && v.isArray()) ||
                            (name == "repository_ids" && v.isArray()) ||
                            (name == "permissions" && v.isObject());
            if (!ok) return refuse(422, "Invalid request: unexpected \"" + name + "\"");
        }
    }

    Minted m;
    m.token = random_token_locked();
    // GitHub reports whole seconds; truncate so the fake's idea of the expiry
    // is exactly what the daemon is told.
    m.expires_at = std::chrono::time_point_cast<std::chrono::seconds>(
        now +
        std::chrono::duration_cast<WallClock::duration>(std::chrono::duration<double>(ttl_s_)));
    minted_.push_back(m);
    Json::Value body;
    body["token"] = m.token;
    body["expires_at"] = format_iso8601_s(m.expires_at);
    body["permissions"]["contents"] = "write";
    body["repository_selection"] = "all";
    record.status = 201;
    answer(201, to_json(body));
}

}  // namespace credfs::fakes
