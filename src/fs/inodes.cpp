#include "credfs/fs/inodes.hpp"

namespace credfs {

Ino NamedInodes::ino_of(const std::string& name) {
    std::lock_guard lock(mu_);
    const auto [it, added] = ino_by_name_.try_emplace(name, next_);
    if (added) {
        name_by_ino_.emplace(next_, name);
        ++next_;
    }
    return it->second;
}

std::optional<std::string> NamedInodes::name_of(Ino ino) const {
    std::lock_guard lock(mu_);
    const auto it = name_by_ino_.find(ino);
    if (it == name_by_ino_.end()) return std::nullopt;
    return it->second;
}

}  // namespace credfs
