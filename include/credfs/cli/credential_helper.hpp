// `gastown-credfs credential-helper --rig RIG get|store|erase`: git's
// credential helper (git-credential(1), "CUSTOM HELPERS"), answered by the
// daemon over its socket (helper/helper_server.hpp).
#pragma once

#include <cstdio>
#include <string>

namespace credfs {

struct CredentialHelperOptions {
    std::string socket;  ///< The daemon's socket (helper_client.hpp's default when not given).
    std::string rig;     ///< Rig file name or id.
    std::string action;  ///< git's: "get", "store", "erase"; others are ignored.
};

/// Reads git's attributes from `in` (up to a blank line or EOF), and for
/// `get` prints the daemon's credential to `out` as attributes (username,
/// password, password_expiry_utc, protocol, host); for `erase` reports the
/// password to the daemon; `store` and unknown actions do nothing. Prints
/// nothing when the daemon does not answer (git then asks its next helper).
/// A malformed request or a daemon's error is one line on `err`, never
/// holding a token. Returns the exit status: always 0, as git ignores a
/// helper's status and a non-zero one only adds noise.
int run_credential_helper(const CredentialHelperOptions& options, std::FILE* in, std::FILE* out,
                          std::FILE* err);

}  // namespace credfs
