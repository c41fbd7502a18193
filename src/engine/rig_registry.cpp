#include "credfs/engine/rig_registry.hpp"

#include <algorithm>

#include "credfs/engine/fallback_store.hpp"
#include "credfs/sources/source_factory.hpp"

namespace credfs {

namespace {

// What each rig refers to: kept alive by the rigs themselves.
struct Owner {
    std::shared_ptr<const Config> config;
    std::shared_ptr<TokenSource> source;
    // Rigs' own sources, one per distinct config.
    std::vector<std::pair<SourceConfig, std::shared_ptr<TokenSource>>> overrides;
};

}  // namespace

RigRegistry::RigRegistry(const std::shared_ptr<const Config>& config,
                         const std::shared_ptr<TokenSource>& source, const Clock& clock,
                         RandomUnit random, std::function<void()> on_refreshed,
                         const BackingDir* backing)
    : clock_(clock),
      random_(std::move(random)),
      on_refreshed_(std::move(on_refreshed)),
      backing_(backing) {
    current_.store(build(config, source, true));
}

RigRegistry::RigRegistry(const Config& config, TokenSource& source, const Clock& clock,
                         const RandomUnit& random, const std::function<void()>& on_refreshed,
                         const BackingDir* backing)
    : RigRegistry(std::shared_ptr<const Config>(&config, [](const Config*) {}),
                  std::shared_ptr<TokenSource>(&source, [](TokenSource*) {}), clock, random,
                  on_refreshed, backing) {}

std::shared_ptr<const RigSet> RigRegistry::build(const std::shared_ptr<const Config>& config,
                                                 const std::shared_ptr<TokenSource>& source,
                                                 bool seed) const {
    auto owner = std::make_shared<Owner>(Owner{config, source, {}});
    auto source_for = [&](const RigConfig& rig_config) -> TokenSource& {
        if (!rig_config.source) return *source;
        for (const auto& [cfg, shared] : owner->overrides) {
            if (cfg == *rig_config.source) return *shared;
        }
        owner->overrides.emplace_back(*rig_config.source,
                                      make_token_source(*rig_config.source, clock_));
        return *owner->overrides.back().second;
    };
    auto set = std::make_shared<RigSet>();
    set->revoke_after_s = config->source.revoke_after_s;
    set->rigs.reserve(config->rigs.size());
    auto events = std::make_shared<RigEvents>(config->rigs.size());
    set->events = events;
    for (const auto& rig_config : config->rigs) {
        const size_t index = set->rigs.size();
        // The rig says which one it is: the scheduler then looks at that rig
        // alone. The events outlive a retired rig's last refresh, which the
        // scheduler no longer reads.
        auto on_refreshed = [events, index, wake = on_refreshed_] {
            events->changed(index);
            if (wake) wake();
        };
        auto rig = std::make_shared<Rig>(rig_config, source_for(rig_config), config->refresh,
                                         clock_, random_, std::move(on_refreshed));
        rig->set_on_first_token([events, index] { events->got_token(index); });
        rig->keep_alive(owner);
        rig->set_served_feed(&feed_);
        rig->set_refresh_pool(pool_.load());
        if (Revoker* revoker = revoker_.load(); revoker != nullptr && rig->can_revoke()) {
            rig->set_revoker(revoker, rig_config.source ? rig_config.source->revoke_after_s
                                                        : config->source.revoke_after_s);
        }
        if (backing_ != nullptr) {
            rig->set_fallback(std::make_unique<FallbackStore>(*backing_, rig_config));
        }
        if (seed) rig->seed_from_fallback();
        set->by_file.emplace(rig_config.file, rig);
        set->rigs.push_back(std::move(rig));
    }
    if (seed) count_tokenless(*set);
    return set;
}

void RigRegistry::count_tokenless(const RigSet& set) {
    for (size_t i = 0; i < set.rigs.size(); ++i) {
        if (set.rigs[i]->current() != nullptr) continue;
        set.events->expect_token(i);
        // A refresh may have served one since the look above.
        if (set.rigs[i]->current() != nullptr) set.events->got_token(i);
    }
}

void RigRegistry::set_revoker(Revoker* revoker) {
    revoker_ = revoker;
    const auto set = current_.load();
    for (const auto& rig : set->rigs) {
        if (!rig->can_revoke()) continue;
        const SourceConfig* own = rig->config().source.get();
        // The generation's config is the one its rigs were built from.
        rig->set_revoker(revoker, own != nullptr ? own->revoke_after_s : set->revoke_after_s);
    }
}

void RigRegistry::set_refresh_pool(RefreshPool* pool) {
    pool_ = pool;
    for (const auto& rig : current_.load()->rigs) rig->set_refresh_pool(pool);
}

void RigRegistry::stop_refreshes() const {
    for (const auto& rig : current_.load()->rigs) rig->stop_refreshes();
}

bool RigRegistry::serves(const std::string& token) const {
    const auto set = current_.load();
    return std::any_of(set->rigs.begin(), set->rigs.end(),
                       [&](const RigPtr& rig) { return rig->serves(token); });
}

RigPtr RigRegistry::find(std::string_view file_name) const {
    const auto set = current_.load();
    const auto it = set->by_file.find(std::string(file_name));
    return it == set->by_file.end() ? nullptr : it->second;
}

RigPtr RigRegistry::find_rig(std::string_view file_or_id) const {
    if (RigPtr rig = find(file_or_id)) return rig;
    const auto set = current_.load();
    for (const auto& rig : set->rigs) {
        if (rig->config().id == file_or_id) return rig;
    }
    return nullptr;
}

ReloadSummary RigRegistry::reload(const std::shared_ptr<const Config>& config,
                                  const std::shared_ptr<TokenSource>& source) {
    // Built before anything is retired: if it throws, the running rigs stay.
    auto next = build(config, source, false);
    const auto old = current_.load();
    for (const auto& rig : old->rigs) rig->retire();
    for (const auto& rig : next->rigs) {
        rig->seed_from_fallback();  // after their last writes
        const auto was = old->by_file.find(rig->config().file);
        if (was != old->by_file.end()) rig->adopt_held_back(*was->second);
    }
    count_tokenless(*next);
    ReloadSummary summary;
    for (const auto& rig : next->rigs) {
        const std::string& file = rig->config().file;
        (old->by_file.contains(file) ? summary.kept : summary.added).push_back(file);
    }
    for (const auto& rig : old->rigs) {
        if (!next->by_file.contains(rig->config().file))
            summary.removed.push_back(rig->config().file);
    }
    current_.store(std::move(next));
    if (on_refreshed_) on_refreshed_();  // the scheduler looks at the new rigs now
    return summary;
}

}  // namespace credfs
