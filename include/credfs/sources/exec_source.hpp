// Token source that runs a credential command, like AWS credential_process or
// kubectl exec plugins: it prints {"token": "...", "expires_at": "..."}
// (expiry optional; ISO-8601 or epoch seconds) on stdout.
#pragma once

#include <string>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/sources/token_source.hpp"

namespace credfs {

class ExecSource final : public TokenSource {
  public:
    /// `command` is argv (argv[0] found on PATH when it has no '/');
    /// `timeout_s` bounds each run (seconds, monotonic).
    ExecSource(std::vector<std::string> command, double timeout_s, const Clock& clock);

    /// Runs the command in its own process group with the daemon's
    /// environment plus CREDFS_RIG_ID and CREDFS_RIG_FILE (nothing secret on
    /// its command line), and parses its stdout. Throws SourceError on a
    /// non-zero exit or a signal (with the first lines of its stderr,
    /// redacted), a timeout (the whole process group is killed), stdout over
    /// 64 KiB, or output that is not a token response.
    Token fetch(const RigConfig& rig) override;
    std::string type_name() const override { return "exec"; }

  private:
    const std::vector<std::string> command_;
    const double timeout_s_;
    const Clock& clock_;
};

}  // namespace credfs
