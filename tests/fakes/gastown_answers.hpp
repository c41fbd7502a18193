// What the fake Gastown puts on the wire: token bodies in each ResponseShape,
// error bodies, and the answer of each Fault that needs no waiting inside the
// fake. FakeGastown decides which answer a request gets.
#pragma once

#include "fake_gastown.hpp"
#include "token_ledger.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace Json {
class Value;
}  // namespace Json

namespace httplib {
struct Response;
}  // namespace httplib

namespace credfs::fakes {

/// `value` as compact JSON (no indentation).
std::string to_json(const Json::Value& value);
/// {"error":<error>,"message":<message>}.
std::string error_body(const std::string& error, const std::string& message);
/// The success body for `t` in `shape` (see ResponseShape).
Json::Value token_body(const IssuedToken& t, ResponseShape shape);

/// Waits up to the given time between trickled bytes; false when the answer
/// must end (the fake stops or the fault changes).
using TricklePause = std::function<bool(std::chrono::milliseconds)>;

/// Fills `res` as `fault` misbehaves, for every fault but Fault::Hang (which
/// blocks inside FakeGastown) and Fault::None (status 200, nothing else).
/// Tokens come from `ledger`, new (reissue_same does not apply), recorded
/// only when delivered well-formed and whole; bodies use ResponseShape::
/// TopLevel. Fault::Trickle's body is sent later, from the serving thread,
/// calling `pause` before every byte but the first. Fault::Redirect points to
/// `redirect_location`.
void answer_fault(Fault fault, const std::string& rig_id, TokenLedger& ledger,
                  const std::string& redirect_location, TricklePause pause, httplib::Response& res);

}  // namespace credfs::fakes
