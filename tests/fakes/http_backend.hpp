// The smart-HTTP side of the git server: each request is answered by running
// `git http-backend` as a CGI program (RFC 3875).
#pragma once

#include <optional>
#include <string>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace credfs::fakes {

/// How a request body arrived, from its headers and first bytes.
struct BodyEncoding {
    bool gzip = false;           ///< Sent with Content-Encoding: gzip.
    bool still_gzipped = false;  ///< gzip, and the body handed to the handler is still compressed.
    bool chunked = false;        ///< Sent with Transfer-Encoding: chunked.
};
BodyEncoding body_encoding(const httplib::Request& req);

/// Answers `req` with `git http-backend` serving the bare repositories under
/// `project_root` (also its HOME, so no user config leaks in), telling it the
/// client authenticated as `remote_user`. Fills `res` with the backend's
/// status, headers and body, or 500 when the backend failed. Returns a
/// one-line description (method, path, exit code or status, the backend's
/// stderr) when it failed — spawn error, nonzero exit, timeout after 60 s,
/// unparsable output — or answered a status >= 400; nullopt otherwise.
std::optional<std::string> answer_with_http_backend(const httplib::Request& req,
                                                    const std::string& project_root,
                                                    const std::string& remote_user,
                                                    httplib::Response& res);

}  // namespace credfs::fakes
