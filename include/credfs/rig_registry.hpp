// The configured rigs, looked up by their file name in the mount root.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "credfs/config.hpp"
#include "credfs/rig.hpp"

namespace credfs {

class RigRegistry {
  public:
    /// Builds one Rig per entry of `config.rigs`, in order. `config`, `source`,
    /// `clock` and `backing` must outlive the registry. `on_refreshed` is
    /// handed to every Rig (see Rig::Rig). With `backing`, each rig writes
    /// through to its fallback file there and is seeded from it now.
    RigRegistry(const Config& config, TokenSource& source, const Clock& clock,
                const RandomUnit& random, const std::function<void()>& on_refreshed,
                const BackingDir* backing = nullptr);

    /// The rig served as `file_name`, or null. Thread-safe (immutable after
    /// construction).
    Rig* find(std::string_view file_name) const;

    /// All rigs, in config order.
    const std::vector<std::unique_ptr<Rig>>& rigs() const { return rigs_; }

  private:
    std::vector<std::unique_ptr<Rig>> rigs_;
    std::unordered_map<std::string, Rig*> by_file_;
};

}  // namespace credfs
