// The signals the daemon's main thread handles, and blocking them in the
// threads it starts (pthread_sigmask(3)): a signal delivered to a helper
// thread would only run a handler there, or (libfuse's loop) set a flag that
// nobody looks at until the next request.
#pragma once

#include <signal.h>

namespace credfs {

/// SIGTERM, SIGINT and SIGQUIT: stop (files mode waits for them in sigwait).
sigset_t stop_signals();

/// Blocks the stop signals and SIGHUP (the reloader's) in the calling thread
/// for its scope; threads started meanwhile inherit the block.
class DaemonSignalsBlocked {
  public:
    DaemonSignalsBlocked();
    ~DaemonSignalsBlocked();
    DaemonSignalsBlocked(const DaemonSignalsBlocked&) = delete;
    DaemonSignalsBlocked& operator=(const DaemonSignalsBlocked&) = delete;

  private:
    sigset_t old_{};
};

}  // namespace credfs
