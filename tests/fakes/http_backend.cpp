#include "http_backend.hpp"

#include "run_program.hpp"
#include "trim.hpp"

#include <httplib.h>
#include <strings.h>

#include <chrono>
#include <cstdlib>
#include <utility>
#include <vector>

namespace credfs::fakes {
namespace {

// A push or fetch of a test repository takes milliseconds; this only stops a
// wedged http-backend from pinning a server thread forever.
constexpr std::chrono::seconds kCgiTimeout{60};

struct CgiResponse {
    int status = 200;
    std::string content_type;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

// RFC 3875 section 6: header lines, an empty line, then the body.
bool parse_cgi_output(const std::string& out, CgiResponse& response) {
    std::size_t pos = 0;
    while (true) {
        const auto eol = out.find('\n', pos);
        if (eol == std::string::npos) return false;  // no end of headers
        std::string line = out.substr(pos, eol - pos);
        pos = eol + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) break;
        const auto colon = line.find(':');
        if (colon == std::string::npos) return false;
        const std::string name = line.substr(0, colon);
        const std::string value = trim(line.substr(colon + 1));
        if (strcasecmp(name.c_str(), "Status") == 0) {
            response.status = std::atoi(value.c_str());
            if (response.status < 100 || response.status > 599) return false;
        } else if (strcasecmp(name.c_str(), "Content-Type") == 0) {
            response.content_type = value;
        } else if (strcasecmp(name.c_str(), "Content-Length") != 0) {
            // httplib computes the length of what it sends.
            response.headers.emplace_back(name, value);
        }
    }
    response.body = out.substr(pos);
    return true;
}

// The raw query string: httplib only keeps it inside the request target.
std::string query_of(const httplib::Request& req) {
    const auto q = req.target.find('?');
    return q == std::string::npos ? std::string() : req.target.substr(q + 1);
}

bool is_gzip(const std::string& body) {
    return body.size() >= 2 && static_cast<unsigned char>(body[0]) == 0x1f &&
           static_cast<unsigned char>(body[1]) == 0x8b;
}

}  // namespace

BodyEncoding body_encoding(const httplib::Request& req) {
    BodyEncoding e;
    e.gzip = req.get_header_value("Content-Encoding") == "gzip";
    e.still_gzipped = e.gzip && is_gzip(req.body);
    e.chunked = req.get_header_value("Transfer-Encoding") == "chunked";
    return e;
}

std::optional<std::string> answer_with_http_backend(const httplib::Request& req,
                                                    const std::string& project_root,
                                                    const std::string& remote_user,
                                                    httplib::Response& res) {
    std::vector<std::string> env = {
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=" + project_root,  // no user config leaks into the server
        "GIT_CONFIG_NOSYSTEM=1",
        "GIT_PROJECT_ROOT=" + project_root,
        "GIT_HTTP_EXPORT_ALL=1",
        "GATEWAY_INTERFACE=CGI/1.1",
        "SERVER_PROTOCOL=HTTP/1.1",
        "REQUEST_METHOD=" + req.method,
        "PATH_INFO=" + req.path,
        "QUERY_STRING=" + query_of(req),
        "REMOTE_ADDR=" + req.remote_addr,
        "REMOTE_USER=" + remote_user,
        "CONTENT_LENGTH=" + std::to_string(req.body.size()),
    };
    if (req.has_header("Content-Type")) {
        env.push_back("CONTENT_TYPE=" + req.get_header_value("Content-Type"));
    }
    // Protocol v2 is negotiated through this header; http-backend reads it
    // from the CGI variable.
    if (req.has_header("Git-Protocol")) {
        env.push_back("HTTP_GIT_PROTOCOL=" + req.get_header_value("Git-Protocol"));
    }
    // git gzips larger request bodies. This httplib build (zlib support)
    // inflates them before the handler runs but leaves the header; tell
    // http-backend only when the bytes really are still compressed, or it
    // would try to inflate plain pkt-lines.
    if (body_encoding(req).still_gzipped) env.push_back("HTTP_CONTENT_ENCODING=gzip");

    const auto r = run_program({"git", "http-backend"}, env, req.body,
                               std::chrono::duration_cast<std::chrono::milliseconds>(kCgiTimeout));
    CgiResponse cgi;
    if (r.exit_code != 0 || !parse_cgi_output(r.out, cgi)) {
        res.status = 500;
        res.set_content("http-backend failed\n", "text/plain");
        return req.method + " " + req.path + ": http-backend exit " + std::to_string(r.exit_code) +
               (r.timed_out ? " (timed out)" : "") + ": " + trim(r.err);
    }
    res.status = cgi.status;
    for (const auto& [name, value] : cgi.headers) res.set_header(name, value);
    res.set_content(cgi.body,
                    cgi.content_type.empty() ? "application/octet-stream" : cgi.content_type);
    if (cgi.status < 400) return std::nullopt;
    return req.method + " " + req.path + ": http-backend status " + std::to_string(cgi.status) +
           ": " + trim(r.err);
}

}  // namespace credfs::fakes
