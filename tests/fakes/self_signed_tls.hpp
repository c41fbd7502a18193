// The HTTPS side of the git server: a throwaway certificate, made at start so
// no key material lives in the repository and nothing depends on the openssl
// command.
#pragma once

#include <memory>
#include <string>

namespace httplib {
class Server;
}  // namespace httplib

namespace credfs::fakes {

/// An httplib::SSLServer (not yet bound) presenting a new self-signed
/// certificate for IP 127.0.0.1 (EC P-256, valid from an hour ago for one
/// day), whose PEM is written to `ca_file` for git's http.sslCAInfo. Throws
/// std::runtime_error when the key or certificate cannot be made or written.
/// The caller checks is_valid(): false when the TLS context failed.
std::unique_ptr<httplib::Server> make_self_signed_https_server(const std::string& ca_file);

}  // namespace credfs::fakes
