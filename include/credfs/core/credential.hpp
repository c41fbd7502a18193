// Installation tokens and the credential-store line that serves them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"

namespace credfs {

/// A token as a TokenSource hands it over. `expires_at` is wall time; empty
/// when the upstream gave no expiry (the caller then assumes one).
struct Token {
    std::string value;
    std::optional<WallTime> expires_at;
};

/// Percent-encodes every byte outside RFC 3986's unreserved set
/// (ALPHA / DIGIT / "-" / "." / "_" / "~"), as git's credential-store does
/// when it writes a username or password into its URL line.
std::string percent_encode(std::string_view raw);

/// One credential-store line for `rig`, newline-terminated:
/// "<protocol>://<username>:<token>@<host>\n" with username and token
/// percent-encoded (format: git-credential-store(1), "STORAGE FORMAT").
std::string render_store_line(const RigConfig& rig, std::string_view token);

/// An immutable, served credential. Readers share it through
/// std::shared_ptr<const Credential>; the token bytes are wiped on destruction.
struct Credential {
    Credential(std::string token, WallTime expires_at, WallTime fetched_at, std::string content,
               bool rejected = false);
    ~Credential();
    Credential(const Credential&) = delete;
    Credential& operator=(const Credential&) = delete;

    const std::string token;
    const WallTime expires_at;  ///< Wall time; WallTime::max() for a token that never expires.
    const WallTime fetched_at;  ///< Wall time the upstream answered.
    const std::string content;  ///< The file's bytes: managed line, then kept lines.
    /// git erased this token's line (it saw a 401): serve it only while no
    /// fresher one can be had.
    const bool rejected;

    /// Records that a reader was handed this credential at wall time `now`
    /// (one relaxed store: a revocation only needs to know roughly when the
    /// token was last given out).
    void mark_handed_out(WallTime now) const;
    /// Wall time of the last mark_handed_out(); the epoch when never.
    WallTime last_handed_out() const;

    /// Seconds of life left at wall time `now` (negative once expired).
    double ttl_at(WallTime now) const;
    bool never_expires() const { return expires_at == WallTime::max(); }

  private:
    mutable std::atomic<int64_t> handed_out_ns_{0};  // wall-clock ns since the epoch
};

using CredentialPtr = std::shared_ptr<const Credential>;

}  // namespace credfs
