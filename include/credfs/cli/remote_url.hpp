// Remote URLs that carry their own credentials. git uses a secret embedded in
// a remote URL (https://user:secret@host/...) and never asks a credential
// helper, so an agent's pushes keep using that token until it expires.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace credfs {

/// An http(s) URL that embeds a secret.
struct EmbeddedCredential {
    /// The URL with the secret replaced by "***" (and the user name too when
    /// it looks like a token), e.g. "https://x-access-token:***@github.com/o/r.git".
    /// Safe to print.
    std::string masked;
    /// The URL without any user part, e.g. "https://github.com/o/r.git": what
    /// the remote should be set to.
    std::string clean;
};

/// True for strings shaped like a GitHub token: a known prefix (ghp_, gho_,
/// ghu_, ghs_, ghr_, github_pat_) or at least 20 characters of [A-Za-z0-9_].
bool looks_like_token(std::string_view s);

/// Inspects one remote URL. Returns the masked and clean forms when an
/// http:// or https:// URL carries a password (`user:secret@`, a non-empty
/// secret) or a token-shaped user name alone (`ghp_x@`); std::nullopt for
/// clean URLs (no user part, a plain user name like "alice@" or
/// "x-access-token@"), scp-style SSH (git@github.com:o/r.git) and other
/// schemes. Pure; never throws.
std::optional<EmbeddedCredential> find_embedded_credential(std::string_view url);

}  // namespace credfs
