#include "credfs/scratch.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

namespace credfs {

struct ScratchEntry {
    std::string content;
    WallTime mtime{};
    int open_handles = 0;
};

Scratch::Scratch(const Clock& clock, ScratchLimits limits) : clock_(clock), limits_(limits) {}

bool Scratch::is_stale(const ScratchEntry& entry) const {
    return entry.open_handles == 0 &&
           seconds_between(entry.mtime, clock_.now()) > limits_.stale_lock_s;
}

int Scratch::create(const std::string& name, bool exclusive, bool truncate, ScratchHandle& out) {
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    if (it != files_.end()) {
        const bool stale_lock = name.ends_with(".lock") && is_stale(*it->second);
        if (exclusive && !stale_lock) return -EEXIST;
        if (stale_lock) {
            log_stale(name);
            files_.erase(it);
        } else {
            if (truncate) it->second->content.clear();
            ++it->second->open_handles;
            out = it->second;
            return 0;
        }
    }
    if (files_.size() >= limits_.max_files) return -ENOSPC;
    auto entry = std::make_shared<ScratchEntry>();
    entry->mtime = clock_.now();
    entry->open_handles = 1;
    files_.emplace(name, entry);
    out = std::move(entry);
    return 0;
}

int Scratch::open(const std::string& name, bool truncate, ScratchHandle& out) {
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    if (it == files_.end()) return -ENOENT;
    if (truncate) {
        it->second->content.clear();
        it->second->mtime = clock_.now();
    }
    ++it->second->open_handles;
    out = it->second;
    return 0;
}

void Scratch::release(const ScratchHandle& handle) {
    std::lock_guard lock(mu_);
    if (handle->open_handles > 0) --handle->open_handles;
}

ssize_t Scratch::write(const ScratchHandle& handle, std::string_view data, off_t offset,
                       bool append) {
    std::lock_guard lock(mu_);
    std::string& content = handle->content;
    const size_t at = append ? content.size() : static_cast<size_t>(std::max<off_t>(offset, 0));
    if (offset < 0 || at > limits_.max_file_size || data.size() > limits_.max_file_size - at) {
        return -EFBIG;
    }
    if (content.size() < at + data.size()) content.resize(at + data.size(), '\0');
    content.replace(at, data.size(), data);
    handle->mtime = clock_.now();
    return static_cast<ssize_t>(data.size());
}

void Scratch::read(const ScratchHandle& handle, size_t size, off_t offset, std::string& out) const {
    std::lock_guard lock(mu_);
    const std::string& content = handle->content;
    out.clear();
    if (offset < 0 || static_cast<size_t>(offset) >= content.size()) return;
    out = content.substr(static_cast<size_t>(offset), size);
}

int Scratch::truncate(const ScratchHandle& handle, off_t size) {
    std::lock_guard lock(mu_);
    if (size < 0) return -EINVAL;
    if (static_cast<size_t>(size) > limits_.max_file_size) return -EFBIG;
    handle->content.resize(static_cast<size_t>(size), '\0');
    handle->mtime = clock_.now();
    return 0;
}

int Scratch::truncate(const std::string& name, off_t size) {
    ScratchHandle handle;
    {
        std::lock_guard lock(mu_);
        auto it = files_.find(name);
        if (it == files_.end()) return -ENOENT;
        handle = it->second;
    }
    return truncate(handle, size);
}

std::optional<ScratchStat> Scratch::stat(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    if (it == files_.end()) return std::nullopt;
    return ScratchStat{static_cast<off_t>(it->second->content.size()), it->second->mtime};
}

ScratchStat Scratch::stat(const ScratchHandle& handle) const {
    std::lock_guard lock(mu_);
    return ScratchStat{static_cast<off_t>(handle->content.size()), handle->mtime};
}

bool Scratch::drop_if_stale_lock(const std::string& name) {
    if (!name.ends_with(".lock")) return false;
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    if (it == files_.end() || !is_stale(*it->second)) return false;
    log_stale(name);
    files_.erase(it);
    return true;
}

void Scratch::log_stale(const std::string& name) const {
    spdlog::warn(
        "dropping stale lock file {} (no open handle, older than {:.0f} s): left by a "
        "killed git",
        name, limits_.stale_lock_s);
}

int Scratch::set_mtime(const std::string& name, WallTime mtime) {
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    if (it == files_.end()) return -ENOENT;
    it->second->mtime = mtime;
    return 0;
}

int Scratch::unlink(const std::string& name) {
    std::lock_guard lock(mu_);
    return files_.erase(name) == 1 ? 0 : -ENOENT;
}

int Scratch::rename(const std::string& from, const std::string& to) {
    std::lock_guard lock(mu_);
    auto it = files_.find(from);
    if (it == files_.end()) return -ENOENT;
    if (from == to) return 0;
    ScratchHandle entry = it->second;
    files_.erase(it);
    files_[to] = std::move(entry);
    return 0;
}

std::optional<std::string> Scratch::take(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    if (it == files_.end()) return std::nullopt;
    std::string content = it->second->content;
    files_.erase(it);
    return content;
}

std::vector<std::string> Scratch::list() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> names;
    names.reserve(files_.size());
    for (const auto& [name, entry] : files_) names.push_back(name);
    return names;
}

size_t Scratch::size() const {
    std::lock_guard lock(mu_);
    return files_.size();
}

}  // namespace credfs
