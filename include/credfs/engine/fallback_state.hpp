// What the daemon records beside each static fallback file so that a restart
// can trust a token found there: its expiry and a fingerprint of the token
// (never the token). Kept as ".<file>.credfs-state" in the backing directory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "credfs/core/clock.hpp"

namespace credfs {

/// ".<file>.credfs-state".
std::string state_file_name(const std::string& file);

/// True for state file names (hidden from the mount's listing).
bool is_state_file_name(std::string_view name);

/// The first 16 bytes of SHA-256(token), hex: identifies a token without
/// revealing it.
std::string token_fingerprint(std::string_view token);

/// "expires_at=<ISO-8601 or never>\nfingerprint=<hex>\n". A file with a
/// state file beside it was written by the daemon: it is a rig's, not an
/// unmanaged file, even after its rig is removed from the config.
std::string render_state(WallTime expires_at, std::string_view token);

/// The expiry recorded in `content` when its fingerprint is `token`'s;
/// std::nullopt otherwise (another token, a malformed or foreign file).
std::optional<WallTime> parse_state(std::string_view content, std::string_view token);

}  // namespace credfs
