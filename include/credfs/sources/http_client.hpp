// A minimal HTTP client interface, so token sources can be unit-tested with a
// fake and run for real on libcurl.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
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

/// libcurl. Response bodies over 1 MiB are refused
/// (HttpError "response body over 1 MiB, refused"), as soon as a Content-Length
/// or the bytes received pass that. Redirects are never followed
/// (CURLOPT_FOLLOWLOCATION off): the 3xx is returned, so a header such as
/// Authorization never reaches another host. timeout_s bounds the whole
/// exchange, also a body that trickles in. A transport error's what() carries
/// curl's detailed message (e.g. "Operation timed out after 1000 milliseconds
/// with 3 bytes received").
///
/// Connections are kept alive and reused: easy handles go back to a pool
/// after each request (at most `max_idle` kept; the one used last is taken
/// first, its connection the likeliest to be open), and curl_easy_reset
/// keeps a handle's live connections while it clears every option. All
/// handles share one DNS cache and one TLS session cache (a CURLSH), so a
/// handle without a live connection resumes a TLS session instead of a full
/// handshake. A reused connection the server closed meanwhile is found dead
/// by libcurl before or while the request is sent, and the request is sent
/// again once on a new connection (libcurl does this itself when no byte of
/// a response came back; HttpClientReuse tests hold it). One client serves
/// any number of threads at once; each request has a handle to itself.
/// Call curl_global_init before starting threads (the daemon does in main).
class CurlHttpClient final : public HttpClient {
  public:
    explicit CurlHttpClient(std::size_t max_idle = 16);
    /// Frees the idle handles and the share; no request may be running.
    ~CurlHttpClient() override;
    CurlHttpClient(const CurlHttpClient&) = delete;
    CurlHttpClient& operator=(const CurlHttpClient&) = delete;

    HttpResponse send(const HttpRequest& request) override;

  private:
    class Pool;
    std::unique_ptr<Pool> pool_;
};

}  // namespace credfs
