#include "credfs/engine/reloader.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <utility>

#include "credfs/sources/config_files.hpp"
#include "credfs/sources/source_factory.hpp"

namespace credfs {

namespace {

// The write end of the running Reloader's pipe, for the signal handler.
std::atomic<int> g_wake_fd{-1};

void on_sighup(int /*sig*/) {
    const int fd = g_wake_fd.load();
    if (fd >= 0) {
        const char byte = 'h';
        ssize_t ignored = ::write(fd, &byte, 1);  // async-signal-safe; a full pipe is fine
        (void)ignored;
    }
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "none" : out;
}

}  // namespace

Reloader::Reloader(std::string config_path, const Clock& clock, RigRegistry& registry,
                   std::shared_ptr<const Config> config, std::shared_ptr<TokenSource> source)
    : config_path_(std::move(config_path)),
      clock_(clock),
      registry_(registry),
      config_(std::move(config)),
      source_(std::move(source)) {}

Reloader::~Reloader() { stop(); }

void Reloader::catch_sighup() {
    if (pipe_[1] >= 0) return;
    if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
        spdlog::error("SIGHUP reload disabled: pipe: {}",
                      std::error_code(errno, std::generic_category()).message());
        return;
    }
    g_wake_fd = pipe_[1];
    struct sigaction sa {};
    sa.sa_handler = on_sighup;
    sigemptyset(&sa.sa_mask);
    // No SA_RESTART: the main thread sleeps in libfuse's loop, which ends
    // only when a signal interrupts that sleep. A SIGTERM handled while
    // SIGHUP is delivered sets libfuse's exit flag inside our handler; with
    // SA_RESTART the kernel would then restart the sleep and the daemon
    // would ignore the SIGTERM (LifecycleTest.SigtermRightAfterSighup...).
    sa.sa_flags = 0;
    ::sigaction(SIGHUP, &sa, nullptr);
}

void Reloader::start() {
    catch_sighup();
    if (pipe_[1] < 0) return;
    thread_ = std::thread(&Reloader::loop, this);
}

void Reloader::set_reload_hooks(std::function<void()> begin, std::function<void()> end) {
    on_begin_ = std::move(begin);
    on_end_ = std::move(end);
}

void Reloader::stop() {
    if (!thread_.joinable()) return;
    ::signal(SIGHUP, SIG_DFL);
    g_wake_fd = -1;
    const char quit = 'q';
    ssize_t ignored = ::write(pipe_[1], &quit, 1);
    (void)ignored;
    thread_.join();
    ::close(pipe_[0]);
    ::close(pipe_[1]);
}

void Reloader::loop() {
    for (;;) {
        pollfd p{pipe_[0], POLLIN, 0};
        if (::poll(&p, 1, -1) < 0) continue;
        char buf[64];
        const ssize_t n = ::read(pipe_[0], buf, sizeof buf);
        if (n <= 0) continue;
        if (std::string_view(buf, static_cast<size_t>(n)).find('q') != std::string_view::npos) {
            return;
        }
        if (on_begin_) on_begin_();
        reload_now();
        if (on_end_) on_end_();
    }
}

bool Reloader::reload_now() {
    MutexLock lock(mu_);
    std::shared_ptr<const Config> next;
    try {
        Config parsed = load_config(config_path_, process_env());
        check_config_files(parsed);
        next = std::make_shared<const Config>(std::move(parsed));
    } catch (const ConfigError& e) {
        spdlog::error("reload refused, keeping the running config: {}: {}", config_path_, e.what());
        return false;
    }
    if (next->log.file != config_->log.file) {
        spdlog::warn("reload: log.file changes only with a restart; still logging to the old one");
    }
    spdlog::set_level(spdlog::level::from_str(next->log.level));
    std::shared_ptr<TokenSource> source = source_;
    ReloadSummary s;
    try {
        if (!(next->source == config_->source)) source = make_token_source(next->source, clock_);
        s = registry_.reload(next, source);
    } catch (const std::exception& e) {  // e.g. a rig's own source cannot be built
        spdlog::error("reload refused, keeping the running config: {}", e.what());
        return false;
    }
    // The same warnings as at startup: a reload must not hide them.
    for (const auto& warning : next->warnings) spdlog::warn("{}", warning);
    spdlog::info("reloaded {}: {} rig(s); added: {}; removed: {} (their static files stay)",
                 config_path_, next->rigs.size(), join(s.added), join(s.removed));
    config_ = std::move(next);
    source_ = std::move(source);
    return true;
}

}  // namespace credfs
