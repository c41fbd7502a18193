#include "credfs/engine/status.hpp"

#include <json/json.h>

#include <map>

namespace credfs {

namespace {

Json::Value time_or_null(WallTime t) {
    return t == WallTime{} ? Json::Value() : Json::Value(format_iso8601(t));
}

}  // namespace

std::vector<RateLimit> rate_limits(const RigSet& rigs) {
    std::map<std::string, RateLimit> newest;
    for (const auto& rig : rigs.rigs) {
        const auto r = rig->rate_limit();
        if (!r) continue;
        auto [it, fresh] = newest.emplace(r->installation, *r);
        if (!fresh && it->second.observed_at < r->observed_at) it->second = *r;
    }
    std::vector<RateLimit> out;
    out.reserve(newest.size());
    for (auto& [label, r] : newest) out.push_back(std::move(r));
    return out;
}

std::string rig_state(const Rig& rig, WallTime now) {
    const CredentialPtr cred = rig.current();
    if (!cred) return "no token";
    if (cred->ttl_at(now) <= 0) return "expired";
    if (rig.stats().consecutive_failures > 0) return "failing";
    if (cred->ttl_at(now) < rig.refresh_config().min_ttl_s) return "stale";
    return "ok";
}

std::string status_line(const RigSet& rigs, const std::string& mode, WallTime now) {
    size_t ok = 0, stale = 0, failing = 0, expired = 0, tokenless = 0;
    const bool files = mode == "files";
    for (const auto& rig : rigs.rigs) {
        const std::string state = rig_state(*rig, now);
        const bool file_stale = files && !rig->stats().write_through_error.empty();
        if (state == "no token") {
            ++tokenless;
        } else if (state == "expired") {
            ++expired;
        } else if (state == "failing" || file_stale) {
            ++failing;
        } else if (state == "stale") {
            ++stale;
        } else {
            ++ok;
        }
    }
    std::string line = "serving " + std::to_string(rigs.rigs.size()) +
                       (rigs.rigs.size() == 1 ? " rig: " : " rigs: ") + std::to_string(ok) +
                       " ok, " + std::to_string(stale) + " stale, " + std::to_string(failing) +
                       " failing";
    if (expired != 0) line += ", " + std::to_string(expired) + " expired";
    if (tokenless != 0) line += ", " + std::to_string(tokenless) + " without a token";
    if (files) line += " (files mode)";
    return line;
}

std::string render_status(const RigSet& rigs, const StatusInfo& info, WallTime now) {
    Json::Value root;
    root["version"] = info.version;
    root["mode"] = info.mode;
    root["uptime_s"] = static_cast<Json::Int64>(seconds_between(info.started_at, now));
    root["rigs"] = Json::Value(Json::arrayValue);
    for (const auto& rig : rigs.rigs) {
        const RigStats s = rig->stats();
        const CredentialPtr cred = rig->current();
        Json::Value r;
        r["file"] = rig->config().file;
        r["id"] = rig->config().id;
        r["source"] = rig->source_type();
        r["state"] = rig_state(*rig, now);
        // In files mode git reads the rig file itself: one the daemon cannot
        // write holds an older token than the daemon has.
        const bool file_stale = info.mode == "files" && !s.write_through_error.empty();
        if (file_stale && (r["state"] == "ok" || r["state"] == "stale")) r["state"] = "failing";
        if (!cred) {
            r["expires_at"] = Json::Value();
            r["seconds_left"] = Json::Value();
        } else if (cred->never_expires()) {
            r["expires_at"] = "never";
            r["seconds_left"] = Json::Value();
        } else {
            r["expires_at"] = format_iso8601(cred->expires_at);
            r["seconds_left"] = static_cast<Json::Int64>(cred->ttl_at(now));
        }
        r["last_refresh_at"] = time_or_null(s.last_refresh_at);
        r["next_refresh_at"] =
            s.next_refresh_at == WallTime::max() ? Json::Value() : time_or_null(s.next_refresh_at);
        r["last_error"] = !s.last_error.empty() || !file_stale
                              ? s.last_error
                              : "cannot write " + rig->config().file + ": " + s.write_through_error;
        r["refreshes"] = static_cast<Json::UInt64>(s.refreshes);
        r["failures"] = static_cast<Json::UInt64>(s.failures);
        r["consecutive_failures"] = s.consecutive_failures;
        r["on_demand_waits"] = static_cast<Json::UInt64>(s.on_demand_waits);
        r["rejections"] = static_cast<Json::UInt64>(s.rejections);
        r["write_through"]["ok"] = s.write_through_error.empty();
        r["write_through"]["failures"] = static_cast<Json::UInt64>(s.write_through_failures);
        r["write_through"]["error"] = s.write_through_error;
        root["rigs"].append(r);
    }
    root["rate_limits"] = Json::Value(Json::arrayValue);
    for (const auto& limit : rate_limits(rigs)) {
        Json::Value l;
        l["installation"] = limit.installation;
        l["limit"] = static_cast<Json::Int64>(limit.limit);
        l["remaining"] = static_cast<Json::Int64>(limit.remaining);
        l["reset_at"] = format_iso8601(limit.reset_at);
        root["rate_limits"].append(l);
    }
    if (info.revoker != nullptr) {
        const RevocationStats s = info.revoker->stats();
        root["revocation"]["revoked"] = static_cast<Json::UInt64>(s.revoked);
        root["revocation"]["already_dead"] = static_cast<Json::UInt64>(s.already_dead);
        root["revocation"]["failures"] = static_cast<Json::UInt64>(s.failures);
        root["revocation"]["pending"] = static_cast<Json::UInt64>(s.pending);
    }
    Json::StreamWriterBuilder w;
    w["indentation"] = "  ";
    return Json::writeString(w, root) + "\n";
}

}  // namespace credfs
