// The std::visit helper: one lambda per alternative of a variant, so a visit
// that misses a kind does not compile.
#pragma once

namespace credfs {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace credfs
