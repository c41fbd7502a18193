// gastown-credfs: command-line entry point.
#include <curl/curl.h>
#include <getopt.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <cstdio>
#include <string>

#include "credfs/config.hpp"
#include "credfs/daemon.hpp"
#include "credfs/log.hpp"

namespace {

constexpr const char* kUsage = R"(Usage: gastown-credfs --config FILE [-f] MOUNTPOINT

Mounts MOUNTPOINT (e.g. /tmp/gastown-creds) with one git credential-store file
per configured rig, each always holding a fresh installation token.

Options:
  -c, --config FILE   JSON config (see docs/configuration.md). Required.
  -f, --foreground    Stay in the foreground; log to stderr (with log.file set,
                      only warnings and errors go to stderr, all lines to the file).
                      Without -f the command returns once the mount is serving.
  -h, --help          Show this help and exit.
  -V, --version       Show the version and exit.

Signals: SIGTERM/SIGINT unmount cleanly; SIGHUP re-reads the config (a bad
one is refused with a log line and the running one stays).

Exit status: 0 on a clean unmount (or, without -f, once serving), 1 when
mounting or serving fails, 2 for a bad command line or config.

Use with git:
  git config --global credential.https://github.com.helper \
      "store --file=MOUNTPOINT/<rig file>"
)";

int usage_error(const std::string& message) {
    std::fprintf(stderr, "gastown-credfs: %s\nTry 'gastown-credfs --help'.\n", message.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    static const option kLong[] = {{"config", required_argument, nullptr, 'c'},
                                   {"foreground", no_argument, nullptr, 'f'},
                                   {"help", no_argument, nullptr, 'h'},
                                   {"version", no_argument, nullptr, 'V'},
                                   {nullptr, 0, nullptr, 0}};
    std::string config_path;
    credfs::DaemonOptions options;
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "c:fhV", kLong, nullptr)) != -1;) {
        switch (opt) {
            case 'c':
                config_path = optarg;
                break;
            case 'f':
                options.foreground = true;
                break;
            case 'h':
                std::fputs(kUsage, stdout);
                return 0;
            case 'V':
                std::printf("gastown-credfs %s\n", CREDFS_VERSION);
                return 0;
            default:
                return usage_error(std::string("unknown or incomplete option '") +
                                   argv[optind - 1] + "'");
        }
    }
    if (config_path.empty()) return usage_error("--config FILE is required");
    {
        char* resolved_config = ::realpath(config_path.c_str(), nullptr);
        options.config_path = resolved_config != nullptr ? resolved_config : config_path;
        std::free(resolved_config);
    }
    if (optind + 1 != argc) return usage_error("expected exactly one MOUNTPOINT");
    char* resolved = ::realpath(argv[optind], nullptr);
    options.mountpoint = resolved != nullptr ? resolved : argv[optind];
    std::free(resolved);

    credfs::Config config;
    try {
        config = credfs::load_config(config_path, credfs::process_env());
        credfs::init_logging(config.log);
    } catch (const credfs::ConfigError& e) {
        std::fprintf(stderr, "gastown-credfs: config %s: %s\n", config_path.c_str(), e.what());
        return 2;
    }
    if (config.refresh.margin_s < config.refresh.min_ttl_s) {
        spdlog::warn(
            "refresh.margin_s < refresh.min_ttl_s: tokens go stale before their "
            "background refresh, so reads will wait for on-demand refreshes");
    }
    if (config.source.type == credfs::SourceConfig::Type::Gastown &&
        config.source.request_timeout_s >= config.refresh.read_timeout_s) {
        spdlog::warn(
            "source.request_timeout_s >= refresh.read_timeout_s: a read may give up "
            "before the request it waits for can fail or succeed");
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const int rc = credfs::run_daemon(config, options);
    curl_global_cleanup();
    return rc;
}
