#include "credfs/rig_registry.hpp"

namespace credfs {

RigRegistry::RigRegistry(const Config& config, TokenSource& source, const Clock& clock,
                         const RandomUnit& random, const std::function<void()>& on_refreshed,
                         const BackingDir* backing) {
    rigs_.reserve(config.rigs.size());
    for (const auto& rig_config : config.rigs) {
        rigs_.push_back(
            std::make_unique<Rig>(rig_config, source, config.refresh, clock, random, on_refreshed));
        by_file_.emplace(rig_config.file, rigs_.back().get());
        rigs_.back()->set_backing(backing);
        rigs_.back()->seed_from_backing();
    }
}

Rig* RigRegistry::find(std::string_view file_name) const {
    const auto it = by_file_.find(std::string(file_name));
    return it == by_file_.end() ? nullptr : it->second;
}

}  // namespace credfs
