#include "credfs/sources/token_source.hpp"

#include <json/json.h>

#include "credfs/core/log.hpp"

namespace credfs {

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
        return http.send(req);
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

}  // namespace credfs
