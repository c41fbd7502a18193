// The client end of the credential helper socket (wire protocol:
// helper_server.hpp): one request, one answer, bounded in time.
#pragma once

#include <string>

namespace credfs {

/// How long, seconds, a client waits for the greeting before it gives up on
/// the daemon: it is written on accept, so only a stuck daemon is slower.
inline constexpr double kGreetingTimeoutS = 2;

/// The socket a helper asks when none is given: `$GASTOWN_CREDS_MOUNTPOINT`
/// + ".sock", else "/tmp/gastown-creds.sock". `mountpoint_env` is that
/// variable's value (null or empty when unset).
std::string default_socket_path(const char* mountpoint_env);

/// The socket the daemon of `mountpoint` listens on without a "socket"
/// config key: the mountpoint without trailing slashes, plus ".sock".
std::string socket_for_mountpoint(std::string mountpoint);

struct DaemonAnswer {
    enum class Outcome {
        NoDaemon,  ///< No socket, refused, or no greeting in time: git moves on.
        Answered,  ///< `text` holds the whole answer (possibly empty).
        Failed,    ///< Greeted, then the exchange broke or timed out; `error` says how.
    };
    Outcome outcome = Outcome::NoDaemon;
    std::string text;
    std::string error;  ///< One line; never a token.
};

/// Connects to `socket_path`, waits at most kGreetingTimeoutS for the
/// greeting, sends `request` (command line, attributes, blank line) and reads
/// the answer until the server closes, bounded by the greeting's timeout_s.
/// Never throws; SIGPIPE is not raised (MSG_NOSIGNAL).
DaemonAnswer ask_daemon(const std::string& socket_path, const std::string& request);

}  // namespace credfs
