#include "credfs/engine/served_feed.hpp"

#include <utility>

namespace credfs {

void ServedFeed::subscribe(Listener listener) {
    MutexLock lock(mu_);
    listener_ = std::move(listener);
}

void ServedFeed::changed(const std::string& file) const {
    // Under mu_ so that subscribe() waits for a call in progress.
    MutexLock lock(mu_);
    if (listener_) listener_(file);
}

}  // namespace credfs
