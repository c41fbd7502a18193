#include "credfs/token_source.hpp"

#include <json/json.h>

#include "credfs/exec_source.hpp"
#include "credfs/gastown_source.hpp"
#include "credfs/github_app_source.hpp"
#include "credfs/log.hpp"
#include "credfs/static_source.hpp"

namespace credfs {

namespace {

// Owns the HTTP client its GastownSource borrows.
class OwningGastownSource final : public TokenSource {
  public:
    OwningGastownSource(const SourceConfig& config, const Clock& clock)
        : inner_(config, http_, clock) {}
    Token fetch(const RigConfig& rig) override { return inner_.fetch(rig); }
    std::string type_name() const override { return inner_.type_name(); }

  private:
    CurlHttpClient http_;
    GastownSource inner_;
};

// Owns the HTTP client its GitHubAppSource borrows.
class OwningGitHubAppSource final : public TokenSource {
  public:
    OwningGitHubAppSource(const SourceConfig& config, const Clock& clock)
        : inner_(config, http_, clock) {}
    Token fetch(const RigConfig& rig) override { return inner_.fetch(rig); }
    std::string type_name() const override { return inner_.type_name(); }

  private:
    CurlHttpClient http_;
    GitHubAppSource inner_;
};

}  // namespace

HttpResponse post_for_rig(HttpClient& http, const SourceConfig& config, const RigConfig& rig,
                          std::string url, std::vector<std::string> headers, std::string body) {
    HttpRequest req;
    req.url = std::move(url);
    req.headers = std::move(headers);
    req.body = std::move(body);
    req.connect_timeout_s = config.connect_timeout_s;
    req.timeout_s = config.request_timeout_s;
    req.ca_bundle = config.ca_bundle;
    try {
        return http.post(req);
    } catch (const HttpError& e) {
        throw SourceError("rig " + rig.id + ": " + e.what());
    }
}

std::string upstream_message(const std::string& body, const std::string& secret) {
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value root;
    if (!reader->parse(body.data(), body.data() + body.size(), &root, nullptr) ||
        !root.isObject()) {
        return "";
    }
    for (const char* key : {"error", "message"}) {
        const Json::Value& data = root["data"];
        const Json::Value& v =
            root.isMember(key) ? root[key] : (data.isObject() ? data[key] : Json::Value());
        if (!v.isString()) continue;
        std::string text = v.asString();
        for (auto at = text.find(secret); !secret.empty() && at != std::string::npos;
             at = text.find(secret)) {
            text.replace(at, secret.size(), "[REDACTED]");
        }
        return ": " + redact(text).substr(0, 200);
    }
    return "";
}

std::unique_ptr<TokenSource> make_token_source(const SourceConfig& config, const Clock& clock) {
    switch (config.type) {
        case SourceConfig::Type::Static:
            return std::make_unique<StaticSource>(config.token_file);
        case SourceConfig::Type::Exec:
            return std::make_unique<ExecSource>(config.command, config.exec_timeout_s, clock);
        case SourceConfig::Type::GitHubApp:
            return std::make_unique<OwningGitHubAppSource>(config, clock);
        case SourceConfig::Type::Gastown:
            break;
    }
    return std::make_unique<OwningGastownSource>(config, clock);
}

}  // namespace credfs
