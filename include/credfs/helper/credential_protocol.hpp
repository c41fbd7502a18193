// git's credential helper attribute format (git-credential(1), "INPUT/OUTPUT
// FORMAT"): "key=value" lines, each ended by LF, the whole ended by a blank
// line or EOF. Pure functions, so the helper command and the daemon's socket
// parse exactly the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace credfs {

/// Longest attribute text accepted, in bytes (git's own requests are a few
/// hundred; a certificate-bearing one a few KiB).
inline constexpr std::size_t kMaxCredentialInput = std::size_t{64} * 1024;

/// The attributes this project reads or writes. Unknown keys (git adds new
/// ones: "capability[]", "wwwauth[]", "oauth_refresh_token", ...) are
/// accepted and ignored, as git's own helpers do.
struct CredentialAttributes {
    std::string protocol;  ///< e.g. "https".
    std::string host;      ///< e.g. "github.com", or "host:port".
    std::string path;      ///< Set only with credential.useHttpPath.
    std::string username;
    std::string password;
    /// Unix seconds (UTC) after which the password is no longer valid.
    std::optional<std::int64_t> password_expiry_utc;
};

struct ParsedAttributes {
    /// Empty when the text was accepted; else one line saying what was wrong,
    /// naming the line number but never echoing a value (it may be a token).
    std::string error;
    CredentialAttributes attributes;
};

/// Parses `text` up to its first blank line (or its end). A trailing CR on a
/// line is dropped (git does the same). `url=` is split into protocol, host,
/// path, and username/password when it carries them, as git does. Errors:
/// a NUL byte, more than kMaxCredentialInput bytes, a line without '=', an
/// empty key, a non-numeric password_expiry_utc, a url= that is no URL.
ParsedAttributes parse_credential_attributes(std::string_view text);

/// Renders the non-empty attributes, one "key=value\n" line each, in the
/// order protocol, host, path, username, password, password_expiry_utc; no
/// blank line after. Returns std::nullopt when a value holds a NUL or a
/// newline (git would refuse the line).
std::optional<std::string> render_credential_attributes(const CredentialAttributes& attributes);

/// Host names compare case-insensitively (RFC 3986 3.2.2); a port is compared
/// as written.
bool same_host(std::string_view a, std::string_view b);

}  // namespace credfs
