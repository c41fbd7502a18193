#include "credfs/daemon/service_notifier.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <system_error>
#include <utility>

namespace credfs {

ServiceNotifier::ServiceNotifier() {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): constructed before the daemon's threads start.
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket != nullptr && socket[0] != '\0';
    uint64_t usec = 0;
    if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        watchdog_s_ = static_cast<double>(usec) / 1e6;
    }
}

ServiceNotifier::~ServiceNotifier() { stop_status(); }

void ServiceNotifier::send(const std::string& message) {
    if (!enabled_) return;
    const int rc = sd_notify(0, message.c_str());
    if (rc >= 0) return;
    MutexLock lock(mu_);
    if (failure_logged_) return;
    failure_logged_ = true;
    // The message itself is safe to name: it never holds a token.
    const std::string what = message.substr(0, message.find('='));
    spdlog::warn("cannot notify the service manager ({}): {}; going on without", what,
                 std::error_code(-rc, std::generic_category()).message());
}

void ServiceNotifier::ready() {
    {
        MutexLock lock(mu_);
        if (ready_sent_) return;
        ready_sent_ = true;
    }
    send("READY=1");
}

void ServiceNotifier::stopping() {
    {
        MutexLock lock(mu_);
        if (stopping_sent_) return;
        stopping_sent_ = true;
    }
    send("STOPPING=1");
}

void ServiceNotifier::reloading() {
    {
        MutexLock lock(mu_);
        if (!ready_sent_ || stopping_sent_) return;
    }
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec =
        static_cast<uint64_t>(now.tv_sec) * 1000000U + static_cast<uint64_t>(now.tv_nsec) / 1000U;
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceNotifier::reloaded() {
    {
        MutexLock lock(mu_);
        if (!ready_sent_ || stopping_sent_) return;
    }
    send("READY=1");
}

void ServiceNotifier::watchdog() { send("WATCHDOG=1"); }

void ServiceNotifier::status(const std::string& line) {
    {
        MutexLock lock(mu_);
        if (line == last_status_) return;
        last_status_ = line;
    }
    send("STATUS=" + line);
}

void ServiceNotifier::start_status(std::function<std::string()> summary) {
    if (!enabled_ || thread_.joinable()) return;
    summary_ = std::move(summary);
    {
        MutexLock lock(mu_);
        stop_ = false;
    }
    thread_ = std::thread(&ServiceNotifier::status_loop, this);
}

void ServiceNotifier::stop_status() {
    {
        MutexLock lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void ServiceNotifier::status_loop() {
    constexpr auto kEvery = std::chrono::seconds(1);
    constexpr int kCostFactor = 100;
    while (true) {
        const auto start = std::chrono::steady_clock::now();
        status(summary_());
        const auto took = std::chrono::steady_clock::now() - start;
        const auto deadline =
            std::chrono::steady_clock::now() +
            std::max<std::chrono::steady_clock::duration>(kEvery, kCostFactor * took);
        MutexLock lock(mu_);
        while (!stop_) {
            if (mu_.wait_until(cv_, deadline) == std::cv_status::timeout) break;
        }
        if (stop_) return;
    }
}

}  // namespace credfs
