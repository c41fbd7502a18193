// A minimal HTTP client interface, so token sources can be unit-tested with a
// fake and run for real on libcurl.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace credfs {

struct HttpRequest {
    std::string method = "POST";  ///< "POST", "GET" or "DELETE".
    std::string url;
    std::vector<std::string> headers;  ///< "Name: value" lines.
    std::string body;                  ///< Sent with POST only.
    double connect_timeout_s = 5;      ///< Bound on connecting (TCP + TLS), seconds.
    double timeout_s = 10;             ///< Bound on the whole request, seconds.
    std::string ca_bundle;             ///< PEM file of trusted CAs; empty: the system's.
};

struct HttpResponse {
    long status = 0;
    std::string body;
    /// Response headers, names lower-cased (e.g. "date", "retry-after").
    std::map<std::string, std::string> headers{};
};

/// No HTTP response arrived (DNS, connect, TLS, timeout, oversized body).
/// what() names the URL and the transport's reason.
class HttpError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class HttpClient {
  public:
    virtual ~HttpClient() = default;
    /// Sends `request` (its method, headers and, for a POST, its body) and
    /// returns whatever status the server answered (redirects are not
    /// followed). Thread-safe. Throws HttpError.
    virtual HttpResponse send(const HttpRequest& request) = 0;
};

/// libcurl, one easy handle per request. Response bodies over 1 MiB are refused
/// (HttpError "response body over 1 MiB, refused"), as soon as a Content-Length
/// or the bytes received pass that. Redirects are never followed
/// (CURLOPT_FOLLOWLOCATION off): the 3xx is returned, so a header such as
/// Authorization never reaches another host. timeout_s bounds the whole
/// exchange, also a body that trickles in. A transport error's what() carries
/// curl's detailed message (e.g. "Operation timed out after 1000 milliseconds
/// with 3 bytes received").
/// Call curl_global_init before starting threads (the daemon does in main).
class CurlHttpClient final : public HttpClient {
  public:
    HttpResponse send(const HttpRequest& request) override;
};

}  // namespace credfs
