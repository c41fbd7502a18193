// SIGHUP: re-read the config and swap the rigs; a bad new config is refused
// with a log line and the running one stays.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/core/thread_annotations.hpp"
#include "credfs/engine/rig_registry.hpp"
#include "credfs/sources/token_source.hpp"

namespace credfs {

class Reloader {
  public:
    /// `registry` and `clock` must outlive the Reloader. `config` and
    /// `source` are what the registry runs now.
    Reloader(std::string config_path, const Clock& clock, RigRegistry& registry,
             std::shared_ptr<const Config> config, std::shared_ptr<TokenSource> source);
    ~Reloader();
    Reloader(const Reloader&) = delete;
    Reloader& operator=(const Reloader&) = delete;

    /// Called on the reloader's thread around each SIGHUP reload, whether
    /// it is accepted or refused: `begin` before reading the config, `end`
    /// after (the daemon tells systemd RELOADING=1, then READY=1). Call
    /// before start(); either may be empty.
    void set_reload_hooks(std::function<void()> begin, std::function<void()> end);

    /// Installs the SIGHUP handler (over libfuse's, which would unmount):
    /// from now on a SIGHUP is kept in a pipe until start()'s thread reads
    /// it. Idempotent. Logs one error line (and reloads stay off) when no
    /// pipe can be made.
    void catch_sighup();
    /// catch_sighup(), then starts the thread that reloads on each SIGHUP.
    /// One Reloader per process.
    void start();
    /// Stops the thread and restores SIGHUP's default. Idempotent.
    void stop();

    /// Reloads now. Returns false (after one error line in the log) when the
    /// new config is refused; the running rigs are untouched then.
    /// `log.file` and the mountpoint do not change without a restart.
    bool reload_now() CREDFS_EXCLUDES(mu_);

  private:
    void loop();

    const std::string config_path_;
    const Clock& clock_;
    RigRegistry& registry_;
    Mutex mu_;  // one reload at a time
    std::shared_ptr<const Config> config_ CREDFS_GUARDED_BY(mu_);
    std::shared_ptr<TokenSource> source_ CREDFS_GUARDED_BY(mu_);
    std::function<void()> on_begin_, on_end_;  // set before start()
    int pipe_[2] = {-1, -1};
    std::thread thread_;
};

}  // namespace credfs
