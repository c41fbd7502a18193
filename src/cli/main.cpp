// gastown-credfs: command-line entry point.
#include <curl/curl.h>
#include <getopt.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "credfs/cli/cli_check.hpp"
#include "credfs/cli/cli_status.hpp"
#include "credfs/cli/credential_helper.hpp"
#include "credfs/cli/doctor.hpp"
#include "credfs/cli/mount_probe.hpp"
#include "credfs/core/config.hpp"
#include "credfs/core/log.hpp"
#include "credfs/daemon/daemon.hpp"
#include "credfs/helper/helper_client.hpp"
#include "credfs/sources/config_files.hpp"

namespace {

constexpr const char* kUsage =
    R"(Usage: gastown-credfs --config FILE [-f] [--require-mount] MOUNTPOINT
       gastown-credfs --config FILE [-f] --files DIR
       gastown-credfs status [--json] [MOUNTPOINT]
       gastown-credfs check --config FILE
       gastown-credfs doctor [--repo DIR] [--host HOST] [MOUNTPOINT]
       gastown-credfs credential-helper [--socket PATH] --rig RIG get|store|erase

Mounts MOUNTPOINT (e.g. /tmp/gastown-creds) with one git credential-store file
per configured rig, each always holding a fresh installation token.

Options:
  -c, --config FILE   JSON config (see docs/configuration.md). Required.
  -f, --foreground    Stay in the foreground; log to stderr (with log.file set,
                      only warnings and errors go to stderr, all lines to the file).
                      Without -f the command returns once the mount is serving.
      --files DIR     Files mode: no mount; keep DIR's rig files fresh as plain
                      files (renewed before expiry, repaired after git's erase).
      --require-mount Exit 1 when the mount is refused, instead of falling
                      back to files mode over MOUNTPOINT.
  -h, --help          Show this help and exit.
  -V, --version       Show the version and exit.

When the kernel refuses the mount (no /dev/fuse, no CAP_SYS_ADMIN, AppArmor,
seccomp), one line says why and the daemon serves files mode over MOUNTPOINT.
When the mount goes away while it runs (fusermount3 -u), it keeps the files
fresh in files mode until SIGTERM.

Signals: SIGTERM/SIGINT unmount cleanly (files mode: stop); SIGHUP re-reads the config (a bad
one is refused with a log line and the running one stays).

Exit status: 0 on a clean unmount (or, without -f, once serving), 1 when
mounting or serving fails, 2 for a bad command line or config.

Commands (MOUNTPOINT defaults to $GASTOWN_CREDS_MOUNTPOINT, else
/tmp/gastown-creds; a mountpoint named like a command needs a path: ./status):
  status [--json] [MOUNTPOINT]
      Reads MOUNTPOINT/.status and prints one row per rig: state, time until
      its token expires, last refresh, last error. --json prints the document
      unchanged. When MOUNTPOINT is no live mount, asks the daemon's socket
      MOUNTPOINT.sock instead. Exit 0 when every rig is ok or stale, 1 when
      one is failing, expired or has no token, or neither answers.
  check --config FILE
      Fetches one token per rig from the configured sources without mounting
      (no file is written) and prints OK or FAIL with the reason per rig.
      Exit 0 when every rig got a token, 1 otherwise, 2 for a bad config.
  doctor [--repo DIR] [--host HOST] [MOUNTPOINT]
      Checks /dev/fuse and fusermount3 (INFO only while files mode serves),
      the daemon's health (the mount, or in files mode the socket
      MOUNTPOINT.sock and the rig files' freshness), that git's
      credential.helper for https://HOST (default github.com) is a store
      helper on a file in MOUNTPOINT or the daemon's helper (and that its
      socket answers), that git asks HOST without a path
      (credential.useHttpPath), and with --repo that no remote URL of DIR
      embeds a token. One OK/INFO/WARN/FAIL line each, with the fix; exit 1
      when any check fails.
  credential-helper [--socket PATH] --rig RIG get|store|erase
      git's credential helper: asks the daemon over its socket (PATH, default
      $GASTOWN_CREDS_MOUNTPOINT.sock, else /tmp/gastown-creds.sock) for RIG's
      token, as fresh as an open of the rig file, with password_expiry_utc.
      erase of the current token makes the daemon refresh it; store does
      nothing. Prints nothing (exit 0) when the daemon does not answer, so
      git asks its next helper.

Use with git:
  git config --global credential.https://github.com.helper \
      "store --file=MOUNTPOINT/<rig file>"
  or, with the expiry git >= 2.40 honours (gastown-creds-git-setup --helper):
  git config --global credential.https://github.com.helper \
      "!gastown-credfs credential-helper --rig <rig file>"
)";

int usage_error(const std::string& message) {
    std::fprintf(stderr, "gastown-credfs: %s\nTry 'gastown-credfs --help'.\n", message.c_str());
    return 2;
}

std::string default_mountpoint() {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts.
    const char* env = std::getenv("GASTOWN_CREDS_MOUNTPOINT");
    return env != nullptr && *env != '\0' ? env : "/tmp/gastown-creds";
}

/// The one optional MOUNTPOINT after a command's options; false (after a
/// usage line) when there are more.
bool mountpoint_arg(int argc, char** argv, const char* command, std::string& mountpoint) {
    if (optind + 1 < argc) {
        usage_error(std::string(command) + ": expected at most one MOUNTPOINT");
        return false;
    }
    mountpoint = optind < argc ? argv[optind] : default_mountpoint();
    return true;
}

std::string unknown_option(char** argv, const char* command) {
    return std::string(command) + ": unknown or incomplete option '" + argv[optind - 1] + "'";
}

/// Loads the config as the daemon does: a bad one is one line and exit 2.
bool load_or_report(const std::string& path, credfs::Config& config) {
    try {
        config = credfs::load_config(path, credfs::process_env());
        credfs::check_config_files(config);
        return true;
    } catch (const credfs::ConfigError& e) {
        std::fprintf(stderr, "gastown-credfs: config %s: %s\n", path.c_str(), e.what());
        return false;
    }
}

int status_command(int argc, char** argv) {
    static const option kLong[] = {{"json", no_argument, nullptr, 'j'},
                                   {"help", no_argument, nullptr, 'h'},
                                   {nullptr, 0, nullptr, 0}};
    bool json = false;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded until the command runs.
    for (int opt; (opt = getopt_long(argc, argv, "jh", kLong, nullptr)) != -1;) {
        if (opt == 'j') {
            json = true;
        } else if (opt == 'h') {
            std::fputs(kUsage, stdout);
            return 0;
        } else {
            return usage_error(unknown_option(argv, "status"));
        }
    }
    std::string mountpoint;
    if (!mountpoint_arg(argc, argv, "status", mountpoint)) return 2;
    const credfs::DaemonProbe probe = credfs::probe_daemon(mountpoint);
    if (probe.source == credfs::DaemonProbe::Source::None) {
        std::fprintf(stderr, "gastown-credfs: %s\n", probe.problem.c_str());
        return credfs::kStatusUnhealthy;
    }
    const credfs::StatusTable table =
        credfs::render_status_table(probe.status_json, credfs::SystemClock().now());
    if (json) {
        std::fputs(probe.status_json.c_str(), stdout);
    } else {
        std::fputs(table.text.c_str(), stdout);
    }
    if (!table.parsed) {
        std::fprintf(stderr, "gastown-credfs: %s: %s\n", mountpoint.c_str(), table.error.c_str());
    }
    return table.exit_code;
}

int check_command(int argc, char** argv) {
    static const option kLong[] = {{"config", required_argument, nullptr, 'c'},
                                   {"help", no_argument, nullptr, 'h'},
                                   {nullptr, 0, nullptr, 0}};
    std::string config_path;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded until the command runs.
    for (int opt; (opt = getopt_long(argc, argv, "c:h", kLong, nullptr)) != -1;) {
        if (opt == 'c') {
            config_path = optarg;
        } else if (opt == 'h') {
            std::fputs(kUsage, stdout);
            return 0;
        } else {
            return usage_error(unknown_option(argv, "check"));
        }
    }
    if (config_path.empty()) return usage_error("check: --config FILE is required");
    if (optind != argc)
        return usage_error(std::string("check: unexpected argument '") + argv[optind] + "'");
    credfs::Config config;
    if (!load_or_report(config_path, config)) return 2;
    for (const auto& warning : config.warnings) {
        std::fprintf(stderr, "gastown-credfs: config %s: warning: %s\n", config_path.c_str(),
                     warning.c_str());
    }
    // The report is the output; the sources' own log lines would repeat it.
    spdlog::set_level(spdlog::level::off);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const auto checks = credfs::check_sources(config, credfs::SystemClock());
    curl_global_cleanup();
    std::fputs(credfs::format_rig_checks(checks).c_str(), stdout);
    return credfs::rig_checks_exit_code(checks);
}

int doctor_command(int argc, char** argv) {
    static const option kLong[] = {{"repo", required_argument, nullptr, 'r'},
                                   {"host", required_argument, nullptr, 'H'},
                                   {"help", no_argument, nullptr, 'h'},
                                   {nullptr, 0, nullptr, 0}};
    credfs::DoctorOptions options;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded until the command runs.
    for (int opt; (opt = getopt_long(argc, argv, "r:H:h", kLong, nullptr)) != -1;) {
        if (opt == 'r') {
            options.repo = optarg;
        } else if (opt == 'H') {
            options.host = optarg;
            if (options.host.empty() ||
                options.host.find_first_of("/@ \t\r\n") != std::string::npos) {
                return usage_error("doctor: --host HOST is a host[:port], not a URL");
            }
        } else if (opt == 'h') {
            std::fputs(kUsage, stdout);
            return 0;
        } else {
            return usage_error(unknown_option(argv, "doctor"));
        }
    }
    if (!mountpoint_arg(argc, argv, "doctor", options.mountpoint)) return 2;
    const auto checks = credfs::run_doctor(options, credfs::SystemClock().now());
    for (const auto& c : checks) std::fputs(credfs::format_check(c).c_str(), stdout);
    return credfs::doctor_exit_code(checks);
}

int credential_helper_command(int argc, char** argv) {
    static const option kLong[] = {{"socket", required_argument, nullptr, 's'},
                                   {"rig", required_argument, nullptr, 'r'},
                                   {"help", no_argument, nullptr, 'h'},
                                   {nullptr, 0, nullptr, 0}};
    credfs::CredentialHelperOptions options;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts.
    options.socket = credfs::default_socket_path(std::getenv("GASTOWN_CREDS_MOUNTPOINT"));
    // NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded until the command runs.
    for (int opt; (opt = getopt_long(argc, argv, "s:r:h", kLong, nullptr)) != -1;) {
        if (opt == 's') {
            options.socket = optarg;
        } else if (opt == 'r') {
            options.rig = optarg;
        } else if (opt == 'h') {
            std::fputs(kUsage, stdout);
            return 0;
        } else {
            return usage_error(unknown_option(argv, "credential-helper"));
        }
    }
    if (options.rig.empty() || options.rig.find_first_of(" \t\r\n") != std::string::npos) {
        return usage_error("credential-helper: --rig RIG (a rig file name or id) is required");
    }
    if (optind + 1 != argc) {
        return usage_error("credential-helper: expected one action (get, store or erase)");
    }
    options.action = argv[optind];
    return credfs::run_credential_helper(options, stdin, stdout, stderr);
}

}  // namespace

int main(int argc, char** argv) {
    opterr = 0;
    if (argc >= 2) {
        // Commands see argv from their own name on, so getopt starts afresh.
        const std::string_view command = argv[1];
        if (command == "status") return status_command(argc - 1, argv + 1);
        if (command == "check") return check_command(argc - 1, argv + 1);
        if (command == "doctor") return doctor_command(argc - 1, argv + 1);
        if (command == "credential-helper") return credential_helper_command(argc - 1, argv + 1);
    }
    static const option kLong[] = {{"config", required_argument, nullptr, 'c'},
                                   {"foreground", no_argument, nullptr, 'f'},
                                   {"files", required_argument, nullptr, 'F'},
                                   {"require-mount", no_argument, nullptr, 'R'},
                                   {"help", no_argument, nullptr, 'h'},
                                   {"version", no_argument, nullptr, 'V'},
                                   {nullptr, 0, nullptr, 0}};
    std::string config_path;
    credfs::DaemonOptions options;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded until the command runs.
    for (int opt; (opt = getopt_long(argc, argv, "c:fhV", kLong, nullptr)) != -1;) {
        switch (opt) {
            case 'c':
                config_path = optarg;
                break;
            case 'f':
                options.foreground = true;
                break;
            case 'F':
                options.files_only = true;
                options.mountpoint = optarg;
                break;
            case 'R':
                options.require_mount = true;
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
    if (options.files_only) {
        if (options.require_mount)
            return usage_error("--files and --require-mount exclude each other");
        if (optind != argc) return usage_error("--files DIR takes no MOUNTPOINT");
    } else {
        if (optind + 1 != argc) return usage_error("expected exactly one MOUNTPOINT");
        options.mountpoint = argv[optind];
    }
    char* resolved = ::realpath(options.mountpoint.c_str(), nullptr);
    if (resolved != nullptr) options.mountpoint = resolved;
    std::free(resolved);

    credfs::Config config;
    if (!load_or_report(config_path, config)) return 2;
    try {
        credfs::init_logging(config.log);
    } catch (const credfs::ConfigError& e) {
        std::fprintf(stderr, "gastown-credfs: config %s: %s\n", config_path.c_str(), e.what());
        return 2;
    }
    for (const auto& warning : config.warnings) spdlog::warn("{}", warning);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const int rc = credfs::run_daemon(std::move(config), options);
    curl_global_cleanup();
    return rc;
}
