// A local git smart-HTTP server for the end-to-end tests: cpp-httplib on
// 127.0.0.1 in front of `git http-backend`, run as a CGI program per request,
// serving the bare repositories under one directory. Every request must carry
// HTTP Basic credentials that a test-supplied check accepts; anything else
// gets 401 with a Basic challenge, which is what makes git ask its credential
// helper and, when the retry fails too, run `credential reject`, exactly as
// against GitHub.
//
// By default it speaks HTTPS with a self-signed certificate made at start
// (ca_file() names it for git's http.sslCAInfo): git's store helper matches
// the protocol of a credential line, and the daemon writes https:// lines.
//
// Thread safety: every public member may be called from any thread, also
// while requests are being served.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace credfs::fakes {

/// Why a request was refused.
enum class AuthRejection {
    Missing,    ///< No Authorization header: git's first try, before it asks a helper.
    Malformed,  ///< Not "Basic <base64 of user:password>".
    WrongUser,  ///< The check refused; the user was not the expected one.
    BadToken,   ///< The check refused the token (unknown, expired or revoked).
    Lagged,     ///< The check accepted it, but Options::lagged says it is too new.
};

/// Counts of what the server decided, since it started.
struct AuthCounts {
    int accepted = 0;
    int missing = 0;
    int malformed = 0;
    int wrong_user = 0;
    int bad_token = 0;
    /// Valid tokens refused because they were not replicated yet.
    int lagged = 0;
    /// Requests refused with credentials present: the ones that are real
    /// authentication failures (a missing header is git's normal first try).
    int refused_with_credentials() const { return malformed + wrong_user + bad_token + lagged; }
};

/// How request bodies arrived (authorized requests only), so a test can show
/// that git's compressed and streamed uploads were really exercised.
struct BodyCounts {
    int gzip = 0;     ///< Content-Encoding: gzip
    int chunked = 0;  ///< Transfer-Encoding: chunked
};

class GitHttpServer {
  public:
    /// Decides whether `user`/`token` from a Basic header may use the server.
    /// Called on a serving thread; must be thread-safe.
    using AuthCheck = std::function<bool(const std::string& user, const std::string& token)>;

    enum class Scheme { Https, Http };

    struct Options {
        /// Directory holding the bare repositories (GIT_PROJECT_ROOT).
        std::string project_root;
        /// Decides acceptance; required.
        AuthCheck check;
        /// Optional, asked only when `check` accepts: true when the token is
        /// too new for the server to know yet (replication lag). The request
        /// is then refused with 401 "Bad credentials" and counted as lagged.
        AuthCheck lagged;
        /// Only tells WrongUser from BadToken in the counts when check refuses.
        std::string expected_user = "x-access-token";
        Scheme scheme = Scheme::Https;
        /// With Scheme::Https: where the self-signed certificate (PEM) is
        /// written for git's http.sslCAInfo. Keep it outside project_root.
        std::string ca_file;
        /// 0 picks a free port.
        int port = 0;
    };

    /// Serves on 127.0.0.1, on threads of its own. With Scheme::Https a
    /// self-signed certificate for IP 127.0.0.1 is generated (EC P-256, valid
    /// one day) and written to options.ca_file. Throws std::runtime_error
    /// when the port cannot be bound or the certificate cannot be made.
    explicit GitHttpServer(Options options);
    /// Stops serving (see stop()).
    ~GitHttpServer();

    GitHttpServer(const GitHttpServer&) = delete;
    GitHttpServer& operator=(const GitHttpServer&) = delete;

    /// Stops listening, closes every connection and waits for requests in
    /// flight (each bounded by the CGI timeout). Idempotent.
    void stop();

    int port() const { return port_; }
    /// "127.0.0.1:<port>", the host part git puts in a credential request.
    std::string host() const;
    /// "https://127.0.0.1:<port>" (or http://).
    std::string base_url() const;
    /// The remote URL of repository `name` ("<base_url>/<name>.git"); no
    /// credentials in it.
    std::string repo_url(const std::string& name) const;
    /// PEM file holding the self-signed certificate (empty with Scheme::Http).
    const std::string& ca_file() const { return ca_file_; }

    AuthCounts counts() const;
    BodyCounts body_counts() const;
    /// Requests answered by http-backend with a status >= 400, and CGI
    /// failures (spawn error, timeout, unparsable output): should stay 0.
    int backend_errors() const;
    /// The last few backend error descriptions, for failure messages.
    std::vector<std::string> backend_error_log() const;

  private:
    void handle(const httplib::Request& req, httplib::Response& res);
    /// Counts the decision; on refusal fills `res` with 401 and a Basic
    /// challenge and returns false.
    bool authorize(const httplib::Request& req, httplib::Response& res);
    void note_backend_error(std::string what);

    Options options_;
    std::string ca_file_;  ///< Empty with Scheme::Http.
    int port_ = 0;

    std::mutex lifecycle_mu_;
    std::unique_ptr<httplib::Server> server_;
    std::thread loop_;

    mutable std::mutex mu_;  // guards the counters below
    AuthCounts counts_;
    BodyCounts body_counts_;
    int backend_errors_ = 0;
    std::vector<std::string> backend_error_log_;
};

}  // namespace credfs::fakes
