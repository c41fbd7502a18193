// An optional value kept on the heap: one pointer's size when empty, for a
// large member that most objects leave unset (RigConfig::source: a 456-byte
// SourceConfig inline in each of 100,000 rigs, issue #14).
#pragma once

#include <memory>
#include <utility>

namespace credfs {

/// What std::optional<T> offers the config code (test, `*`, `->`, `==`,
/// assignment of a T), with the value on the heap. Copies copy the value.
template <class T>
class HeapOptional {
  public:
    HeapOptional() = default;
    // Implicit, as std::optional's: `rig.source = parse_rig_source(...)`.
    HeapOptional(const T& value) : value_(std::make_unique<T>(value)) {}
    HeapOptional(T&& value) : value_(std::make_unique<T>(std::move(value))) {}
    HeapOptional(const HeapOptional& other) : value_(copy_of(other)) {}
    HeapOptional(HeapOptional&&) noexcept = default;
    HeapOptional& operator=(const HeapOptional& other) {
        if (this != &other) value_ = copy_of(other);
        return *this;
    }
    HeapOptional& operator=(HeapOptional&&) noexcept = default;
    ~HeapOptional() = default;

    explicit operator bool() const { return value_ != nullptr; }
    bool has_value() const { return value_ != nullptr; }
    /// Undefined when empty, as std::optional's.
    const T& operator*() const { return *value_; }
    T& operator*() { return *value_; }
    const T* operator->() const { return value_.get(); }
    /// The value, or null when empty.
    const T* get() const { return value_.get(); }
    T* operator->() { return value_.get(); }

    /// Both empty, or both set with equal values.
    friend bool operator==(const HeapOptional& a, const HeapOptional& b) {
        return a && b ? *a == *b : !a && !b;
    }

  private:
    static std::unique_ptr<T> copy_of(const HeapOptional& other) {
        return other ? std::make_unique<T>(*other) : nullptr;
    }

    std::unique_ptr<T> value_;
};

}  // namespace credfs
