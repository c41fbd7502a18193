#include "credfs/cli/cli_check.hpp"

#include <algorithm>
#include <future>
#include <memory>

#include "credfs/cli/cli_status.hpp"
#include "credfs/engine/rig_registry.hpp"
#include "credfs/sources/source_factory.hpp"

namespace credfs {

std::vector<RigCheck> check_sources(const Config& config, const Clock& clock) {
    std::vector<RigCheck> checks;
    std::unique_ptr<RigRegistry> registry;
    try {
        std::shared_ptr<TokenSource> source = make_token_source(config.source, clock);
        // No BackingDir: nothing is seeded from or written to fallback files.
        registry = std::make_unique<RigRegistry>(std::make_shared<const Config>(config), source,
                                                 clock, default_random(), std::function<void()>{});
    } catch (const std::exception& e) {
        checks.push_back({"source", false, e.what()});
        return checks;
    }
    const auto set = registry->rigs();
    std::vector<std::shared_future<void>> flights;
    flights.reserve(set->rigs.size());
    for (const auto& rig : set->rigs)
        flights.push_back(rig->refresh_async(RefreshTrigger::OnDemand));
    for (const auto& f : flights) f.wait();
    const WallTime now = clock.now();
    for (const auto& rig : set->rigs) {
        RigCheck check{rig->config().file, false, {}};
        const CredentialPtr cred = rig->current();
        if (!cred) {
            const std::string error = rig->stats().last_error;
            check.detail = error.empty() ? "no token" : error;
        } else if (cred->never_expires()) {
            check.ok = true;
            check.detail = "token does not expire (" + rig->source_type() + ")";
        } else if (cred->ttl_at(now) <= 0) {
            check.detail = "the source handed out a token that has already expired";
        } else {
            check.ok = true;
            check.detail = "token valid for " + format_duration(cred->ttl_at(now));
            if (cred->ttl_at(now) < rig->refresh_config().min_ttl_s) {
                check.detail += " (less than refresh.min_ttl_s: every read would wait)";
            }
        }
        checks.push_back(std::move(check));
    }
    return checks;
}

std::string format_rig_checks(const std::vector<RigCheck>& checks) {
    size_t width = 0;
    for (const auto& c : checks) width = std::max(width, c.file.size());
    std::string out;
    for (const auto& c : checks) {
        out += (c.ok ? "OK   " : "FAIL ") + c.file + std::string(width - c.file.size() + 2, ' ') +
               c.detail + "\n";
    }
    return out;
}

int rig_checks_exit_code(const std::vector<RigCheck>& checks) {
    const bool all_ok = !checks.empty() && std::all_of(checks.begin(), checks.end(),
                                                       [](const RigCheck& c) { return c.ok; });
    return all_ok ? 0 : 1;
}

}  // namespace credfs
