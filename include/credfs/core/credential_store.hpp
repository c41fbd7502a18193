// Reading what git's credential-store helper writes back into a rig file
// (format: git-credential-store(1), "STORAGE FORMAT": one URL per line,
// "<protocol>://<user>:<password>@<host>[/<path>]", user and password
// percent-encoded).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credfs/core/config.hpp"

namespace credfs {

/// The parts of one credential-store line that git matches on.
struct StoreLineKey {
    std::string protocol;
    std::string username;  ///< Percent-decoded.
    std::string password;  ///< Percent-decoded; a secret: never log it.
    std::string host;      ///< host[:port], percent-decoded.
};

/// Parses one line (no newline). std::nullopt when it is not a URL with a
/// protocol and host.
std::optional<StoreLineKey> parse_store_line(std::string_view line);

/// The decoded form of a percent-encoded string; malformed escapes are kept
/// as they are.
std::string percent_decode(std::string_view encoded);

/// A rewrite of a rig file, split git's way.
struct StoreRewrite {
    /// A line for the rig's protocol, host and username is present (git's
    /// `store` after a success): an approval. Absent (git's `erase` after a
    /// 401): the token was rejected.
    bool has_managed_line = false;
    /// Every other non-empty line, in order, without its line ending (CR
    /// removed). Lines git could not parse are kept too: nothing is lost.
    std::vector<std::string> other_lines;
    /// The managed line's password, for seeding from the fallback file at
    /// startup only (a rewrite's written password is never served).
    std::optional<std::string> managed_password;
};

/// Splits `content` (LF or CRLF lines) into the managed line's presence and
/// the other lines. Host and protocol compare case-insensitively, the
/// username exactly after decoding. Written passwords are never returned.
StoreRewrite parse_store_rewrite(std::string_view content, const RigConfig& rig);

}  // namespace credfs
