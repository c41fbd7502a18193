#include "credfs/engine/metrics.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>

namespace credfs {

namespace {

constexpr std::string_view kPrefix = "gastown_credfs_";
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", v);
}

std::string format_value(uint64_t v) { return std::to_string(v); }

double unix_seconds(WallTime t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

/// Appends families and samples; every name gets the prefix.
class Exposition {
  public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += fmt::format("# HELP {}{} {}\n# TYPE {}{} {}\n", kPrefix, name, help, kPrefix, name,
                            type);
    }
    /// `labels` is the rendered list without braces, or empty.
    void sample(std::string_view name, const std::string& labels, const std::string& value) {
        out_ += kPrefix;
        out_ += name;
        if (!labels.empty()) {
            out_ += '{';
            out_ += labels;
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }
    std::string take() { return std::move(out_); }

  private:
    std::string out_;
};

std::string rig_labels(const RigMetrics& r) {
    return fmt::format("rig=\"{}\",file=\"{}\"", escape_label_value(r.id),
                       escape_label_value(r.file));
}

/// One family with one sample per rig; `value` returns an empty string for a
/// rig to leave out.
void per_rig(Exposition& e, const std::vector<RigMetrics>& rigs, std::string_view name,
             std::string_view type, std::string_view help,
             const std::function<std::string(const RigMetrics&)>& value) {
    e.family(name, type, help);
    for (const auto& r : rigs) {
        const std::string v = value(r);
        if (!v.empty()) e.sample(name, rig_labels(r), v);
    }
}

void wait_histogram(Exposition& e, const std::vector<RigMetrics>& rigs) {
    constexpr std::string_view kName = "on_demand_wait_seconds";
    e.family(kName, "histogram",
             "Seconds an open waited for an on-demand refresh (monotonic), per finished wait.");
    const std::string bucket = std::string(kName) + "_bucket";
    for (const auto& r : rigs) {
        const std::string labels = rig_labels(r);
        const WaitHistogram& h = r.stats.on_demand_wait;
        uint64_t cumulative = 0;
        // Cumulative: each bucket counts every wait up to its bound.
        for (size_t i = 0; i < WaitHistogram::kBounds.size(); ++i) {
            cumulative += h.counts.at(i);
            e.sample(bucket, labels + ",le=\"" + format_value(WaitHistogram::kBounds.at(i)) + "\"",
                     format_value(cumulative));
        }
        cumulative += h.counts.back();
        e.sample(bucket, labels + ",le=\"+Inf\"", format_value(cumulative));
        e.sample(std::string(kName) + "_sum", labels, format_value(h.sum_s));
        e.sample(std::string(kName) + "_count", labels, format_value(cumulative));
    }
}

void rate_limit_gauges(Exposition& e, const std::vector<RateLimit>& limits) {
    const auto family = [&](std::string_view name, std::string_view help,
                            const std::function<std::string(const RateLimit&)>& value) {
        e.family(name, "gauge", help);
        for (const auto& l : limits) {
            e.sample(name, "installation=\"" + escape_label_value(l.installation) + "\"", value(l));
        }
    };
    family("github_rate_limit", "Requests GitHub allows per rate-limit window (X-RateLimit-Limit).",
           [](const RateLimit& l) { return std::to_string(l.limit); });
    family("github_rate_limit_remaining",
           "Requests left in GitHub's window as last reported (X-RateLimit-Remaining).",
           [](const RateLimit& l) { return std::to_string(l.remaining); });
    family("github_rate_limit_reset_timestamp_seconds",
           "Wall-clock Unix time GitHub's window resets (X-RateLimit-Reset).",
           [](const RateLimit& l) { return format_value(unix_seconds(l.reset_at)); });
}

void revocation_counters(Exposition& e, const RevocationStats& s) {
    e.family("revocations_total", "counter",
             "Replaced tokens revoked (revoked) or found already invalid (already_dead).");
    e.sample("revocations_total", "outcome=\"revoked\"", format_value(s.revoked));
    e.sample("revocations_total", "outcome=\"already_dead\"", format_value(s.already_dead));
    e.family("revocation_failures_total", "counter",
             "Failed attempts to revoke a replaced token (each retried with backoff).");
    e.sample("revocation_failures_total", "", format_value(s.failures));
    e.family("revocations_pending", "gauge", "Replaced tokens waiting to be revoked.");
    e.sample("revocations_pending", "", format_value(s.pending));
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

RigMetrics rig_metrics(const Rig& rig, WallTime now) {
    RigMetrics m;
    m.id = rig.config().id;
    m.file = rig.config().file;
    m.state = rig_state(rig, now);
    if (const CredentialPtr cred = rig.current()) {
        m.has_token = true;
        m.never_expires = cred->never_expires();
        m.expires_at = cred->expires_at;
    }
    m.stats = rig.stats();
    return m;
}

std::string render_metrics(const std::vector<RigMetrics>& rigs, const StatusInfo& info,
                           WallTime now, const std::vector<RateLimit>& limits,
                           const std::optional<RevocationStats>& revocations) {
    Exposition e;
    e.family("build_info", "gauge", "Always 1; the version label names the daemon's version.");
    e.sample("build_info", "version=\"" + escape_label_value(info.version) + "\"", "1");
    e.family("uptime_seconds", "gauge", "Seconds since the daemon started (wall time).");
    e.sample("uptime_seconds", "", format_value(seconds_between(info.started_at, now)));

    per_rig(e, rigs, "up", "gauge",
            "1 when the rig's state is ok or stale (an unexpired token, refreshes succeeding), "
            "else 0 (failing, expired, no token).",
            [](const RigMetrics& r) { return r.state == "ok" || r.state == "stale" ? "1" : "0"; });
    per_rig(e, rigs, "token_expiry_timestamp_seconds", "gauge",
            "Wall-clock Unix time the served token expires; +Inf when it never does.",
            [](const RigMetrics& r) {
                if (!r.has_token) return std::string();
                return format_value(r.never_expires ? kInf : unix_seconds(r.expires_at));
            });
    per_rig(e, rigs, "token_seconds_left", "gauge",
            "Seconds (wall time) until the served token expires; +Inf when it never does.",
            [now](const RigMetrics& r) {
                if (!r.has_token) return std::string();
                return format_value(r.never_expires ? kInf : seconds_between(now, r.expires_at));
            });
    per_rig(e, rigs, "consecutive_failures", "gauge", "Failed refreshes since the last success.",
            [](const RigMetrics& r) { return std::to_string(r.stats.consecutive_failures); });
    per_rig(e, rigs, "refreshes_total", "counter", "Successful refreshes.",
            [](const RigMetrics& r) { return format_value(r.stats.refreshes); });
    per_rig(e, rigs, "refresh_failures_total", "counter",
            "Failed refreshes, including answers with a token no newer than the served one.",
            [](const RigMetrics& r) { return format_value(r.stats.failures); });
    per_rig(e, rigs, "on_demand_waits_total", "counter",
            "Opens that waited for an on-demand refresh, counted as they start.",
            [](const RigMetrics& r) { return format_value(r.stats.on_demand_waits); });
    per_rig(e, rigs, "rejections_total", "counter",
            "Rewrites by git that erased the managed line (git saw the token rejected).",
            [](const RigMetrics& r) { return format_value(r.stats.rejections); });
    per_rig(e, rigs, "write_through_failures_total", "counter",
            "Failed writes of the token to the static fallback file.",
            [](const RigMetrics& r) { return format_value(r.stats.write_through_failures); });
    wait_histogram(e, rigs);
    if (!limits.empty()) rate_limit_gauges(e, limits);
    if (revocations) revocation_counters(e, *revocations);
    return e.take();
}

std::string render_metrics(const RigSet& rigs, const StatusInfo& info, WallTime now) {
    std::vector<RigMetrics> snapshot;
    snapshot.reserve(rigs.rigs.size());
    for (const auto& rig : rigs.rigs) snapshot.push_back(rig_metrics(*rig, now));
    return render_metrics(
        snapshot, info, now, rate_limits(rigs),
        info.revoker != nullptr ? std::optional(info.revoker->stats()) : std::nullopt);
}

}  // namespace credfs
