#include "credfs/core/signals.hpp"

#include <pthread.h>

#include <initializer_list>

namespace credfs {

sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (const int sig : {SIGTERM, SIGINT, SIGQUIT}) sigaddset(&set, sig);
    return set;
}

DaemonSignalsBlocked::DaemonSignalsBlocked() {
    sigset_t set = stop_signals();
    sigaddset(&set, SIGHUP);
    ::pthread_sigmask(SIG_BLOCK, &set, &old_);
}

DaemonSignalsBlocked::~DaemonSignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

}  // namespace credfs
