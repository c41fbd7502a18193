// Reading HTTP Basic credentials (RFC 7617) as git sends them.
#pragma once

#include <optional>
#include <string>

namespace credfs::fakes {

struct BasicCredentials {
    std::string user;
    std::string token;  ///< The password part: for git against GitHub, the token.
};

/// The user and password in an Authorization header value "Basic
/// <base64 of user:password>" (scheme case-insensitive, surrounding
/// whitespace ignored). nullopt when the value is not that: another scheme,
/// nothing after it, invalid base64 (alphabet, padding, length) or no colon.
std::optional<BasicCredentials> parse_basic_authorization(const std::string& header);

}  // namespace credfs::fakes
