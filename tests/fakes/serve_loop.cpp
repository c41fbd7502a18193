#include "serve_loop.hpp"

#include <httplib.h>

#include <chrono>
#include <stdexcept>

namespace credfs::fakes {

std::thread run_bound_server(httplib::Server& server, const std::string& who) {
    httplib::Server* raw = &server;
    std::thread loop([raw] { raw->listen_after_bind(); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!raw->is_running() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!raw->is_running()) {
        raw->stop();
        loop.join();
        throw std::runtime_error(who + ": server loop did not start");
    }
    return loop;
}

}  // namespace credfs::fakes
