#include "credfs/daemon/service_notifier.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace credfs {

ServiceNotifier::ServiceNotifier() {
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
    std::lock_guard lock(mu_);
    if (failure_logged_) return;
    failure_logged_ = true;
    // The message itself is safe to name: it never holds a token.
    const std::string what = message.substr(0, message.find('='));
    spdlog::warn("cannot notify the service manager ({}): {}; going on without", what,
                 std::strerror(-rc));
}

void ServiceNotifier::ready() {
    {
        std::lock_guard lock(mu_);
        if (ready_sent_) return;
        ready_sent_ = true;
    }
    send("READY=1");
}

void ServiceNotifier::stopping() {
    {
        std::lock_guard lock(mu_);
        if (stopping_sent_) return;
        stopping_sent_ = true;
    }
    send("STOPPING=1");
}

void ServiceNotifier::watchdog() { send("WATCHDOG=1"); }

void ServiceNotifier::status(const std::string& line) {
    {
        std::lock_guard lock(mu_);
        if (line == last_status_) return;
        last_status_ = line;
    }
    send("STATUS=" + line);
}

void ServiceNotifier::start_status(std::function<std::string()> summary) {
    if (!enabled_ || thread_.joinable()) return;
    summary_ = std::move(summary);
    stop_ = false;
    thread_ = std::thread(&ServiceNotifier::status_loop, this);
}

void ServiceNotifier::stop_status() {
    {
        std::lock_guard lock(mu_);
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
        const auto wait = std::max<std::chrono::steady_clock::duration>(kEvery, kCostFactor * took);
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, wait, [this] { return stop_; })) return;
    }
}

}  // namespace credfs
