#include "credfs/fs/daemon_files.hpp"

#include <array>

#include "credfs/engine/metrics.hpp"

namespace credfs {

namespace {

const std::array<DaemonFile, 2> kDaemonFiles{{
    {kStatusFile, kStatusIno, &render_status},
    {kMetricsFile, kMetricsIno, &render_metrics},
}};

}  // namespace

std::span<const DaemonFile> daemon_files() { return kDaemonFiles; }

const DaemonFile* daemon_file(std::string_view name) {
    for (const auto& f : kDaemonFiles) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

const DaemonFile* daemon_file(Ino ino) {
    for (const auto& f : kDaemonFiles) {
        if (f.ino == ino) return &f;
    }
    return nullptr;
}

bool is_daemon_file(std::string_view name) { return daemon_file(name) != nullptr; }

}  // namespace credfs
