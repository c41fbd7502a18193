// Starting a cpp-httplib server the way every fake here needs it.
#pragma once

#include <string>
#include <thread>

namespace httplib {
class Server;
}  // namespace httplib

namespace credfs::fakes {

/// Runs `server` (already bound) on a new thread and returns that thread once
/// the loop is running: httplib ignores stop() until then, so a stop() right
/// after start would be lost and the join would hang. Throws
/// std::runtime_error naming `who` when the loop does not start within 5 s.
std::thread run_bound_server(httplib::Server& server, const std::string& who);

}  // namespace credfs::fakes
