// CurlHttpClient against servers on 127.0.0.1 that count the connections
// they accept: requests reuse a kept-alive connection (HTTP and HTTPS), and a
// connection the server closed between requests costs no failed request.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "credfs/sources/http_client.hpp"
#include "self_signed_tls.hpp"
#include "serve_loop.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

/// What RawHttpServer does after answering a request.
enum class AfterAnswer {
    KeepOpen,  ///< Keep the connection for the next request (HTTP/1.1 keep-alive).
    Close,     ///< Close it, without saying so (no "Connection: close").
    /// Keep it, but close it on the next request, read and never answered:
    /// the client's reused connection dies before any byte of a response.
    DropNext,
};

/// A minimal HTTP/1.1 server: one thread per connection, answers
/// "200 conn-<n>" (n: the connection's number, from 1) to every request.
class RawHttpServer {
  public:
    explicit RawHttpServer(AfterAnswer after) : after_(after) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
            ::listen(listen_fd_, 16) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
            ::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
            throw std::runtime_error("raw server: cannot listen on 127.0.0.1");
        }
        port_ = ntohs(addr.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~RawHttpServer() {
        (void)!::write(stop_pipe_[1], "x", 1);
        acceptor_.join();
        {
            std::lock_guard lock(mu_);
            for (const int fd : open_) ::shutdown(fd, SHUT_RDWR);
        }
        for (auto& t : connections_) t.join();
        ::close(listen_fd_);
        ::close(stop_pipe_[0]);
        ::close(stop_pipe_[1]);
    }
    RawHttpServer(const RawHttpServer&) = delete;
    RawHttpServer& operator=(const RawHttpServer&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/x"; }
    int accepted() const { return accepted_.load(); }
    int requests() const { return requests_.load(); }
    /// Connections the server has closed.
    int closed() const { return closed_.load(); }
    /// The bodies of the requests read, in arrival order.
    std::vector<std::string> bodies() const {
        std::lock_guard lock(mu_);
        return bodies_;
    }

  private:
    void accept_loop() {
        while (true) {
            pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0 || (fds[1].revents & POLLIN) != 0) return;
            const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            const int n = ++accepted_;
            std::lock_guard lock(mu_);
            open_.insert(fd);
            connections_.emplace_back([this, fd, n] { serve(fd, n); });
        }
    }

    /// One request's head and body from `fd` (`buffer` keeps what follows);
    /// false when the peer closed or the bytes make no request.
    bool read_request(int fd, std::string& buffer, std::string& body) {
        size_t head_end = std::string::npos;
        char chunk[4096];
        while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
            const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
            if (got <= 0) return false;
            buffer.append(chunk, static_cast<size_t>(got));
        }
        size_t length = 0;
        const std::string head = buffer.substr(0, head_end);
        if (const size_t at = head.find("Content-Length: "); at != std::string::npos) {
            length = std::stoul(head.substr(at + 16));
        }
        while (buffer.size() < head_end + 4 + length) {
            const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
            if (got <= 0) return false;
            buffer.append(chunk, static_cast<size_t>(got));
        }
        body = buffer.substr(head_end + 4, length);
        buffer.erase(0, head_end + 4 + length);
        return true;
    }

    void serve(int fd, int n) {
        std::string buffer;
        std::string body;
        for (int on_this_connection = 1; read_request(fd, buffer, body); ++on_this_connection) {
            ++requests_;
            {
                std::lock_guard lock(mu_);
                bodies_.push_back(body);
            }
            if (after_ == AfterAnswer::DropNext && on_this_connection == 2) break;
            const std::string text = "conn-" + std::to_string(n);
            const std::string answer =
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                "Content-Length: " +
                std::to_string(text.size()) + "\r\n\r\n" + text;
            if (::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL) < 0) break;
            if (after_ == AfterAnswer::Close) break;
        }
        std::lock_guard lock(mu_);
        open_.erase(fd);
        ::close(fd);
        ++closed_;
    }

    const AfterAnswer after_;
    int listen_fd_ = -1;
    int stop_pipe_[2] = {-1, -1};
    int port_ = 0;
    std::atomic<int> accepted_{0};
    std::atomic<int> requests_{0};
    std::atomic<int> closed_{0};
    mutable std::mutex mu_;
    std::set<int> open_;
    std::vector<std::string> bodies_;
    std::vector<std::thread> connections_;
    std::thread acceptor_;
};

HttpRequest post(const std::string& url, const std::string& body = "{}") {
    HttpRequest req;
    req.url = url;
    req.body = body;
    req.headers = {"Content-Type: application/json"};
    req.timeout_s = 20;  // bounds a hang; answers come in milliseconds
    return req;
}

class CurlHttpClientTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

TEST_F(CurlHttpClientTest, SequentialRequestsReuseOneConnection) {
    RawHttpServer server(AfterAnswer::KeepOpen);
    CurlHttpClient client;
    for (int i = 0; i < 3; ++i) {
        const HttpResponse r = client.send(post(server.url()));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "conn-1");
    }
    EXPECT_EQ(server.accepted(), 1);
    EXPECT_EQ(server.requests(), 3);
}

TEST_F(CurlHttpClientTest, AConnectionClosedAfterAnAnswerCostsNoFailedRequest) {
    RawHttpServer server(AfterAnswer::Close);
    CurlHttpClient client;
    EXPECT_EQ(client.send(post(server.url())).body, "conn-1");
    // Closed from the server's side, unannounced: the next request must
    // still get its answer, on a new connection.
    ASSERT_TRUE(test::eventually([&] { return server.closed() == 1; }));
    const HttpResponse second = client.send(post(server.url()));
    EXPECT_EQ(second.status, 200);
    EXPECT_EQ(second.body, "conn-2");
    EXPECT_EQ(server.accepted(), 2);
}

TEST_F(CurlHttpClientTest, AReusedConnectionThatDiesBeforeAnsweringIsRetriedOnceWithItsBody) {
    RawHttpServer server(AfterAnswer::DropNext);
    CurlHttpClient client;
    EXPECT_EQ(client.send(post(server.url(), R"({"n":1})")).body, "conn-1");
    // The kept connection takes the second request and closes unanswered.
    const HttpResponse second = client.send(post(server.url(), R"({"n":2})"));
    EXPECT_EQ(second.status, 200);
    EXPECT_EQ(second.body, "conn-2");
    EXPECT_EQ(server.accepted(), 2);
    // Sent twice, whole both times: once to the dead connection, once again.
    EXPECT_EQ(server.bodies(),
              (std::vector<std::string>{R"({"n":1})", R"({"n":2})", R"({"n":2})"}));
}

TEST_F(CurlHttpClientTest, ConcurrentRequestsEachGetTheirAnswerOverReusedConnections) {
    RawHttpServer server(AfterAnswer::KeepOpen);
    CurlHttpClient client;
    constexpr int kThreads = 8;
    constexpr int kEach = 20;
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kEach; ++i) {
                if (client.send(post(server.url())).status == 200) ++ok;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), kThreads * kEach);
    // A handle is made only when none is idle, so at most one per thread,
    // and each keeps its one connection.
    EXPECT_LE(server.accepted(), kThreads);
}

TEST_F(CurlHttpClientTest, AFailedRequestLeavesTheClientUsable) {
    RawHttpServer server(AfterAnswer::KeepOpen);
    CurlHttpClient client;
    EXPECT_EQ(client.send(post(server.url())).body, "conn-1");
    HttpRequest refused = post("http://127.0.0.1:9/x");  // discard: nothing listens
    EXPECT_THROW(client.send(refused), HttpError);
    // The handle that failed went back with no options left over from it.
    const HttpResponse again = client.send(post(server.url()));
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(server.accepted(), 1);
}

TEST_F(CurlHttpClientTest, HttpsRequestsReuseOneConnectionAndItsHandshake) {
    test::TempDir dir;
    const std::string ca_file = dir.path() + "/ca.pem";
    std::unique_ptr<httplib::Server> server = fakes::make_self_signed_https_server(ca_file);
    ASSERT_TRUE(server->is_valid());
    server->set_keep_alive_timeout(1);  // stop() waits that long for the kept connection
    std::mutex mu;
    std::set<int> client_ports;
    server->Post("/x", [&](const httplib::Request& req, httplib::Response& res) {
        {
            std::lock_guard lock(mu);
            client_ports.insert(req.remote_port);  // one per TCP connection
        }
        res.set_content("ok", "text/plain");
    });
    const int port = server->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port, 0);
    std::thread loop = fakes::run_bound_server(*server, "https test server");
    CurlHttpClient client;
    for (int i = 0; i < 3; ++i) {
        HttpRequest req = post("https://127.0.0.1:" + std::to_string(port) + "/x");
        req.ca_bundle = ca_file;
        const HttpResponse r = client.send(req);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "ok");
    }
    server->stop();
    loop.join();
    EXPECT_EQ(client_ports.size(), 1U);
}

}  // namespace
}  // namespace credfs
