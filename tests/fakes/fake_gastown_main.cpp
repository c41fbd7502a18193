// fake-gastown: the fake control plane as a standalone program, for the demo
// and for poking at the daemon by hand. See --help.
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include "fake_gastown.hpp"

namespace {

constexpr char kUsage[] =
    "usage: fake-gastown [--port N] [--ttl SECONDS] [--jwt VALUE | --jwt-file PATH]\n"
    "                    [--latency-ms N] [--port-file PATH]\n"
    "  --port N          listen on 127.0.0.1:N (default 0: any free port)\n"
    "  --ttl SECONDS     lifetime of issued tokens (default 300)\n"
    "  --jwt VALUE       container token callers must send as a bearer token\n"
    "  --jwt-file PATH   read that token from PATH once at start\n"
    "                    (neither: any non-empty bearer token is accepted)\n"
    "  --latency-ms N    delay every answer by N milliseconds\n"
    "  --port-file PATH  write the chosen port to PATH once listening\n";

struct Options {
    int port = 0;
    double ttl_s = 300;
    std::optional<std::string> jwt;
    std::optional<std::string> jwt_file;
    long latency_ms = 0;
    std::optional<std::string> port_file;
};

[[noreturn]] void die(const std::string& message) {
    std::cerr << "fake-gastown: " << message << "\n";
    std::exit(2);
}

double parse_number(const std::string& flag, const std::string& text, double min) {
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno != 0 || value < min) {
        die(flag + ": not a number >= " + std::to_string(min) + ": " + text);
    }
    return value;
}

Options parse_args(int argc, char** argv) {
    Options opts;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "-h" || flag == "--help") {
            std::cout << kUsage;
            std::exit(0);
        }
        if (i + 1 >= argc) die(flag + ": unknown flag or missing value (see --help)");
        const std::string value = argv[++i];
        if (flag == "--port") {
            const double port = parse_number(flag, value, 0);
            if (port > 65535 || port != static_cast<int>(port)) die("--port: not a port: " + value);
            opts.port = static_cast<int>(port);
        } else if (flag == "--ttl") {
            opts.ttl_s = parse_number(flag, value, 0);
        } else if (flag == "--jwt") {
            opts.jwt = value;
        } else if (flag == "--jwt-file") {
            opts.jwt_file = value;
        } else if (flag == "--latency-ms") {
            opts.latency_ms = static_cast<long>(parse_number(flag, value, 0));
        } else if (flag == "--port-file") {
            opts.port_file = value;
        } else {
            die(flag + ": unknown flag (see --help)");
        }
    }
    if (opts.jwt && opts.jwt_file) die("--jwt and --jwt-file are exclusive");
    return opts;
}

std::string read_jwt_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) die("--jwt-file: cannot read " + path + ": " + std::strerror(errno));
    std::stringstream buf;
    buf << in.rdbuf();
    std::string jwt = buf.str();
    // Token files are usually written with a trailing newline; the daemon
    // sends the token without it.
    while (!jwt.empty() && std::isspace(static_cast<unsigned char>(jwt.back()))) jwt.pop_back();
    if (jwt.empty()) die("--jwt-file: " + path + " is empty");
    return jwt;
}

// Readers polling for the file must never see it half-written: write a
// sibling and rename it into place.
void write_port_file(const std::string& path, int port) {
    const std::string tmp = path + ".tmp." + std::to_string(getpid());
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << port << "\n";
        if (!out.flush()) die("--port-file: cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string err = std::strerror(errno);
        std::remove(tmp.c_str());
        die("--port-file: cannot rename to " + path + ": " + err);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const Options opts = parse_args(argc, argv);
    const std::string jwt = opts.jwt_file ? read_jwt_file(*opts.jwt_file) : opts.jwt.value_or("");

    // Block the stop signals before any thread exists so that every thread
    // inherits the mask and sigwait() below is the only place they land.
    // A shell starts background jobs with SIGINT ignored, and an ignored
    // signal is dropped before sigwait() could see it: take both back.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    std::optional<credfs::fakes::FakeGastown> fake;
    try {
        fake.emplace(jwt, opts.port);
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";  // already says "fake-gastown: ..."
        return 2;
    }
    fake->set_ttl(opts.ttl_s);
    fake->set_latency(std::chrono::milliseconds(opts.latency_ms));
    std::mutex out_mu;
    fake->set_request_observer([&out_mu](const credfs::fakes::RequestRecord& r) {
        std::lock_guard lk(out_mu);
        std::cout << "fake-gastown: town=" << r.town_id << " rig=" << r.rig_id
                  << " status=" << r.status << std::endl;
    });
    if (jwt.empty()) {
        std::cerr << "fake-gastown: no --jwt/--jwt-file: accepting any bearer token\n";
    }
    if (opts.port_file) write_port_file(*opts.port_file, fake->port());
    {
        std::lock_guard lk(out_mu);
        std::cout << "fake-gastown listening on " << fake->base_url() << std::endl;
    }

    int sig = 0;
    sigwait(&stop_signals, &sig);
    fake->stop();
    {
        std::lock_guard lk(out_mu);
        std::cout << "fake-gastown: stopped (" << strsignal(sig) << ")" << std::endl;
    }
    return 0;
}
