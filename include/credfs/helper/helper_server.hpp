// The credential helper front end: a Unix stream socket on which the daemon
// answers `gastown-credfs credential-helper` (git's credential helper) and
// `gastown-credfs status` with the engine's rigs.
//
// Wire protocol, version 1 (both ends are this project's; helper_client.hpp
// is the other one):
//   1. On accept the server writes one greeting line:
//        "gastown-credfs 1 timeout_s=<N>\n"
//      N (whole seconds) = refresh.read_timeout_s + 1, rounded up: how long
//      the client may wait for the answer from here on.
//   2. The client writes one command line, then git's attributes
//      (credential_protocol.hpp) and a blank line:
//        "get <RIG>\n" | "erase <RIG>\n" | "store <RIG>\n" | "status\n"
//      RIG is a rig's file name, else its id. At most kMaxCredentialInput
//      bytes of attributes; `status` sends none (just the blank line).
//   3. The server writes the answer and closes:
//        get     the rig's credential as attributes (protocol, host,
//                username, password, password_expiry_utc unless the token
//                never expires), or nothing when the request's protocol and
//                host are not the rig's or no unexpired token could be had
//                within read_timeout_s (EIO for an open of the rig file)
//        erase   nothing; when `password` is the rig's current token the
//                rig reports it rejected (Rig::report_rejected)
//        store   nothing (the daemon owns the token)
//        status  the status JSON document (engine/status.hpp)
//      or, for a request it cannot serve, one line "error=<why>\n" (never
//      naming a token).
// Only the daemon's own uid is answered (SO_PEERCRED); others are closed at
// once without a greeting.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "credfs/engine/rig_registry.hpp"

namespace credfs {

/// The first word and version of the greeting.
inline constexpr const char* kHelperGreeting = "gastown-credfs 1";

class HelperServer {
  public:
    /// Most connections served at once; beyond it a connection is closed at
    /// once (the client then prints nothing and git goes on to its next helper).
    static constexpr int kMaxConnections = 256;
    /// Bound, seconds, on receiving a whole request and on each send.
    static constexpr int kIoTimeoutS = 5;

    /// `socket_path`: absolute, at most 107 bytes. `registry` must outlive
    /// the server; the answer timeout comes from its rigs' refresh config
    /// (read on every connection, so a reload applies). `status_json`
    /// renders the status document; called on a connection thread.
    HelperServer(std::string socket_path, RigRegistry& registry,
                 std::function<std::string()> status_json);
    /// stop().
    ~HelperServer();
    HelperServer(const HelperServer&) = delete;
    HelperServer& operator=(const HelperServer&) = delete;

    /// Binds (mode 0600) and listens, then starts the accept thread. A stale
    /// socket at the path (nothing answers) is replaced; a live one, or a
    /// file that is no socket, is left alone and refused. Throws
    /// std::system_error whose what() names the path. Threads started here
    /// block SIGHUP, SIGINT, SIGTERM and SIGQUIT, which the daemon's main
    /// thread handles.
    void start();
    /// Stops accepting, waits for the connections being served (each bounded
    /// by read_timeout_s and kIoTimeoutS), and unlinks the socket. Idempotent.
    void stop();

    const std::string& path() const { return path_; }

  private:
    void accept_loop();
    void serve(int fd);
    /// The answer to one request (command line + attributes).
    std::string answer(const std::string& request);
    std::string answer_credential(const std::string& verb, const std::string& rig_name,
                                  const std::string& attributes);
    bool allowed_peer(int fd);
    int timeout_s() const;

    const std::string path_;
    RigRegistry& registry_;
    std::function<std::string()> status_json_;
    int listen_fd_ = -1;
    int wake_fd_ = -1;  // eventfd: tells the accept loop to stop
    std::thread acceptor_;
    std::mutex mu_;
    std::condition_variable idle_;
    int active_ = 0;  // connection threads running, under mu_
    std::atomic<long long> last_refusal_log_s_{0};
};

}  // namespace credfs
