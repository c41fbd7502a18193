#include "credfs/fs/scratch.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

#include "credfs/core/log.hpp"

namespace credfs {

struct ScratchEntry {
    std::string content;
    WallTime mtime{};
    WallTime last_active{};  // open, write or close: staleness counts from here
    uint64_t ino = 0;
    int open_handles = 0;
    bool linked = true;    // still in the directory
    bool is_lock = false;  // named *.lock now: may use the lock reserves
};

namespace {
bool is_lock_name(const std::string& name) { return name.ends_with(".lock"); }
}  // namespace

Scratch::Scratch(const Clock& clock, const ScratchLimits& limits, uint64_t first_ino)
    : clock_(clock), limits_(limits), next_ino_(first_ino) {}

bool Scratch::is_stale(const ScratchEntry& entry) const {
    return entry.open_handles == 0 &&
           seconds_between(entry.last_active, clock_.now()) > limits_.stale_lock_s;
}

void Scratch::log_stale(const std::string& name) const {
    spdlog::warn(
        "dropping stale lock file {} (no open handle, untouched for {:.0f} s): left by "
        "a killed git",
        printable(name), limits_.stale_lock_s);
}

size_t Scratch::byte_cap(const ScratchEntry& entry) const {
    if (entry.is_lock) return limits_.max_total_bytes;
    return limits_.max_total_bytes - std::min(limits_.lock_reserve_bytes, limits_.max_total_bytes);
}

int Scratch::resize_locked(ScratchEntry& entry, size_t size) {
    if (size > limits_.max_file_size) return -EFBIG;
    const size_t old = entry.content.size();
    if (size > old && total_bytes_ + (size - old) > byte_cap(entry)) return -ENOSPC;
    entry.content.resize(size, '\0');
    total_bytes_ = total_bytes_ - old + size;
    entry.mtime = entry.last_active = clock_.now();
    return 0;
}

void Scratch::unlink_locked(std::map<std::string, ScratchHandle>::iterator it) {
    ScratchHandle entry = it->second;
    entry->linked = false;
    names_by_ino_.erase(entry->ino);
    files_.erase(it);
    if (entry->open_handles > 0) {
        open_unlinked_.emplace(entry->ino, std::move(entry));
    } else {
        total_bytes_ -= entry->content.size();
    }
}

ScratchHandle Scratch::find_ino_locked(uint64_t ino) const {
    if (const auto name = names_by_ino_.find(ino); name != names_by_ino_.end()) {
        return files_.at(name->second);
    }
    const auto open = open_unlinked_.find(ino);
    return open == open_unlinked_.end() ? nullptr : open->second;
}

void Scratch::open_locked(const ScratchHandle& entry, bool truncate, ScratchHandle& out) {
    if (truncate) resize_locked(*entry, 0);
    ++entry->open_handles;
    entry->last_active = clock_.now();
    out = entry;
}

int Scratch::create(const std::string& name, bool exclusive, bool truncate, ScratchHandle& out) {
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    const bool is_lock = is_lock_name(name);
    if (it != files_.end() && is_lock && is_stale(*it->second)) {
        log_stale(name);
        unlink_locked(it);
        it = files_.end();
    }
    if (it != files_.end()) {
        if (exclusive) return -EEXIST;
        open_locked(it->second, truncate, out);
        return 0;
    }
    // Plain files may not take the last slots: git's locks for the rigs must
    // still be creatable when something fills the directory.
    const size_t cap = is_lock ? limits_.max_files : limits_.max_files - limits_.lock_reserve;
    if (files_.size() >= cap) return -ENOSPC;
    auto entry = std::make_shared<ScratchEntry>();
    entry->mtime = entry->last_active = clock_.now();
    entry->open_handles = 1;
    entry->is_lock = is_lock;
    entry->ino = next_ino_++;
    names_by_ino_.emplace(entry->ino, name);
    files_.emplace(name, entry);
    out = std::move(entry);
    return 0;
}

int Scratch::open(const std::string& name, bool truncate, ScratchHandle& out) {
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    if (it == files_.end()) return -ENOENT;
    open_locked(it->second, truncate, out);
    return 0;
}

int Scratch::open_ino(uint64_t ino, bool truncate, ScratchHandle& out) {
    std::lock_guard lock(mu_);
    const ScratchHandle entry = find_ino_locked(ino);
    if (!entry) return -ESTALE;
    open_locked(entry, truncate, out);
    return 0;
}

void Scratch::release(const ScratchHandle& handle) {
    std::lock_guard lock(mu_);
    if (handle->open_handles > 0) --handle->open_handles;
    handle->last_active = clock_.now();
    if (!handle->linked && handle->open_handles == 0 && open_unlinked_.erase(handle->ino) > 0) {
        total_bytes_ -= handle->content.size();
    }
}

ssize_t Scratch::write(const ScratchHandle& handle, std::string_view data, off_t offset,
                       bool append) {
    std::lock_guard lock(mu_);
    if (offset < 0) return -EINVAL;
    const size_t at = append ? handle->content.size() : static_cast<size_t>(offset);
    if (at > limits_.max_file_size || data.size() > limits_.max_file_size - at) return -EFBIG;
    if (handle->content.size() < at + data.size()) {
        if (const int rc = resize_locked(*handle, at + data.size()); rc != 0) return rc;
    }
    handle->content.replace(at, data.size(), data);
    handle->mtime = handle->last_active = clock_.now();
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
    return resize_locked(*handle, static_cast<size_t>(size));
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
    return ScratchStat{static_cast<off_t>(it->second->content.size()), it->second->mtime,
                       it->second->ino};
}

ScratchStat Scratch::stat(const ScratchHandle& handle) const {
    std::lock_guard lock(mu_);
    return ScratchStat{static_cast<off_t>(handle->content.size()), handle->mtime, handle->ino};
}

std::optional<ScratchStat> Scratch::stat_ino(uint64_t ino) const {
    std::lock_guard lock(mu_);
    const ScratchHandle entry = find_ino_locked(ino);
    if (!entry) return std::nullopt;
    return ScratchStat{static_cast<off_t>(entry->content.size()), entry->mtime, entry->ino};
}

int Scratch::set_mtime_ino(uint64_t ino, WallTime mtime) {
    std::lock_guard lock(mu_);
    const ScratchHandle entry = find_ino_locked(ino);
    if (!entry) return -ESTALE;
    entry->mtime = mtime;
    return 0;
}

bool Scratch::drop_if_stale_lock(const std::string& name) {
    if (!name.ends_with(".lock")) return false;
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    if (it == files_.end() || !is_stale(*it->second)) return false;
    log_stale(name);
    unlink_locked(it);
    return true;
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
    auto it = files_.find(name);
    if (it == files_.end()) return -ENOENT;
    unlink_locked(it);
    return 0;
}

int Scratch::rename(const std::string& from, const std::string& to) {
    std::lock_guard lock(mu_);
    auto it = files_.find(from);
    if (it == files_.end()) return -ENOENT;
    if (from == to) return 0;
    ScratchHandle entry = it->second;
    auto target = files_.find(to);
    if (entry->is_lock && !is_lock_name(to)) {
        // A lock turning into a plain file takes a plain file's share, as a
        // create would: the reserves stay for the rigs' locks.
        const size_t plain_files = limits_.max_files - limits_.lock_reserve;
        const size_t freed = target != files_.end() && target->second->open_handles == 0
                                 ? target->second->content.size()
                                 : 0;
        ScratchEntry as_plain;
        if ((target == files_.end() && files_.size() > plain_files) ||
            total_bytes_ - freed > byte_cap(as_plain)) {
            return -ENOSPC;
        }
    }
    if (target != files_.end()) unlink_locked(target);
    files_.erase(from);
    entry->is_lock = is_lock_name(to);
    names_by_ino_[entry->ino] = to;
    files_.emplace(to, std::move(entry));
    return 0;
}

std::optional<std::string> Scratch::take(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    if (it == files_.end()) return std::nullopt;
    std::string content = it->second->content;
    unlink_locked(it);
    return content;
}

std::vector<std::string> Scratch::list() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> names;
    names.reserve(files_.size());
    for (const auto& [name, entry] : files_) names.push_back(name);
    return names;
}

std::optional<std::string> Scratch::name_of(uint64_t ino) const {
    std::lock_guard lock(mu_);
    const auto it = names_by_ino_.find(ino);
    if (it == names_by_ino_.end()) return std::nullopt;
    return it->second;
}

size_t Scratch::size() const {
    std::lock_guard lock(mu_);
    return files_.size();
}

}  // namespace credfs
