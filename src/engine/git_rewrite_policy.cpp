#include "credfs/engine/git_rewrite_policy.hpp"

#include <spdlog/spdlog.h>

#include "credfs/core/credential.hpp"

namespace credfs {

GitRewritePolicy::GitRewritePolicy(const RigConfig& rig, const RefreshConfig& refresh)
    : rig_(rig), refresh_(refresh) {}

GitRewritePolicy::Applied GitRewritePolicy::apply(const StoreRewrite& rewrite, WallTime now,
                                                  bool rejectable) {
    Applied out;
    const std::vector<std::string> before = kept_lines_;
    out.dropped = keep_lines(rewrite.other_lines);
    out.kept = kept_lines_.size();
    if (rewrite.has_managed_line) {
        out.unchanged = kept_lines_ == before;
        return out;
    }
    const Applied rejected = reject(now, rejectable);
    out.refresh_now = rejected.refresh_now;
    out.refresh_by = rejected.refresh_by;
    return out;
}

GitRewritePolicy::Applied GitRewritePolicy::reject(WallTime now, bool has_token) {
    Applied out;
    out.kept = kept_lines_.size();
    if (!has_token) return out;  // nothing served yet: nothing git could reject
    if (last_rejection_refresh_ &&
        seconds_between(*last_rejection_refresh_, now) < refresh_.reject_cooldown_s) {
        // GitHub may still be replicating the new token: not a second forced
        // refresh now, but a background one when the cooldown ends, so a token
        // that really is revoked does not stay in service until its margin.
        out.refresh_by = *last_rejection_refresh_ + to_wall_duration(refresh_.reject_cooldown_s);
        spdlog::info(
            "rig {}: rejection {:.1f} s after the last forced refresh: refreshing when "
            "refresh.reject_cooldown_s ({:.1f} s) ends",
            rig_.id, seconds_between(*last_rejection_refresh_, now), refresh_.reject_cooldown_s);
        return out;
    }
    last_rejection_refresh_ = now;
    ++rejections_;
    out.refresh_now = true;
    spdlog::warn("rig {}: git reported the token rejected: refreshing now", rig_.id);
    return out;
}

size_t GitRewritePolicy::keep_lines(const std::vector<std::string>& lines) {
    kept_lines_.clear();
    size_t bytes = 0;
    size_t dropped = 0;
    for (const auto& line : lines) {
        if (bytes + line.size() + 1 > kMaxKeptBytes) {
            ++dropped;
            continue;
        }
        bytes += line.size() + 1;
        kept_lines_.push_back(line);
    }
    return dropped;
}

std::string GitRewritePolicy::render(std::string_view token) const {
    std::string content = render_store_line(rig_, token);
    for (const auto& line : kept_lines_) {
        content += line;
        content += '\n';
    }
    return content;
}

}  // namespace credfs
