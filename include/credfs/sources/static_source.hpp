// Token source for a long-lived personal access token kept in a file.
#pragma once

#include <string>

#include "credfs/sources/token_source.hpp"

namespace credfs {

class StaticSource final : public TokenSource {
  public:
    explicit StaticSource(std::string token_file) : token_file_(std::move(token_file)) {}

    /// Reads the file, trims surrounding whitespace and returns the PAT with
    /// no expiry. Throws SourceError when the file is unreadable, empty, or the
    /// token holds whitespace or control bytes.
    Token fetch(const RigConfig& rig) override;
    bool tokens_expire() const override { return false; }
    std::string type_name() const override { return "static"; }

  private:
    std::string token_file_;
};

}  // namespace credfs
