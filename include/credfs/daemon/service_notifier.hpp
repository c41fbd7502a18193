// Tells a service manager (systemd, Type=notify) how the daemon is doing,
// through libsystemd's sd_notify(3): the datagram protocol of newline-
// separated VAR=VALUE assignments sent to the AF_UNIX socket named in
// $NOTIFY_SOCKET. See sd_notify(3) and sd_watchdog_enabled(3).
//
// Without $NOTIFY_SOCKET (not started by systemd, or the daemon detached
// into another process than the one systemd watches) nothing is sent and
// nothing fails. Never sends a token: STATUS= carries counts only.
#pragma once

#include <condition_variable>
#include <functional>
#include <string>
#include <thread>

#include "credfs/core/thread_annotations.hpp"

namespace credfs {

class ServiceNotifier {
  public:
    /// Reads $NOTIFY_SOCKET, and $WATCHDOG_USEC / $WATCHDOG_PID through
    /// sd_watchdog_enabled(3) (a WATCHDOG_PID naming another process leaves
    /// the watchdog off). Leaves the environment as it is. Construct before
    /// the daemon's threads start (getenv).
    ServiceNotifier();
    ~ServiceNotifier();  ///< Stops the status thread.
    ServiceNotifier(const ServiceNotifier&) = delete;
    ServiceNotifier& operator=(const ServiceNotifier&) = delete;

    /// True when $NOTIFY_SOCKET was set: a service manager listens.
    bool enabled() const { return enabled_; }
    /// The watchdog's interval (systemd's WatchdogSec, from WATCHDOG_USEC
    /// in µs) in seconds, or 0 when there is no watchdog for this process.
    /// Ping at least every half of it.
    double watchdog_interval_s() const { return watchdog_s_; }

    /// "READY=1": the credential directory serves (the moment a detached
    /// daemon's parent returns). Only the first call sends.
    void ready();
    /// "STOPPING=1": shutdown has begun (a stop signal). Only the first call sends.
    void stopping();
    /// "RELOADING=1" (with MONOTONIC_USEC, as systemd 253's notify-reload
    /// wants) before a SIGHUP reload, and "READY=1" after it; only once
    /// ready() has been sent (a reload during startup stays quiet).
    void reloading();
    void reloaded();
    /// "WATCHDOG=1": the refresh scheduler made a pass. Thread-safe.
    void watchdog();
    /// "STATUS=<line>" when `line` (one line, no token) differs from the
    /// last one sent. Thread-safe.
    void status(const std::string& line);

    /// With a service manager listening, starts a thread that sends
    /// status(summary()) now and then: every second, or less often when
    /// summary() is slow (it waits 100 times as long as the last call
    /// took, so the walk of 100,000 rigs stays under 1% of a core). No-op
    /// without one. `summary` must stay callable until stop_status().
    void start_status(std::function<std::string()> summary);
    /// Stops and joins the status thread (after one last status()). Idempotent.
    void stop_status();

  private:
    /// Sends `message`; a failure is logged once (never fatal).
    void send(const std::string& message) CREDFS_EXCLUDES(mu_);
    void status_loop() CREDFS_EXCLUDES(mu_);

    bool enabled_ = false;
    double watchdog_s_ = 0;
    Mutex mu_;
    std::condition_variable cv_;
    bool ready_sent_ CREDFS_GUARDED_BY(mu_) = false;
    bool stopping_sent_ CREDFS_GUARDED_BY(mu_) = false;
    bool failure_logged_ CREDFS_GUARDED_BY(mu_) = false;
    bool stop_ CREDFS_GUARDED_BY(mu_) = false;
    std::string last_status_ CREDFS_GUARDED_BY(mu_);
    std::function<std::string()> summary_;  // set before the thread starts
    std::thread thread_;
};

}  // namespace credfs
