// Lock rules the compiler checks: clang's thread-safety analysis
// (-Wthread-safety, https://clang.llvm.org/docs/ThreadSafetyAnalysis.html)
// reads these annotations and fails the build when a member marked
// CREDFS_GUARDED_BY(mu) is touched without mu held, or a function marked CREDFS_REQUIRES(mu)
// is called without it. Under GCC every macro expands to nothing and Mutex is
// a plain std::mutex, so the annotations cost nothing at run time.
//
// std::mutex and std::lock_guard carry no annotations in libstdc++, so the
// analysis cannot see them: annotated classes use Mutex and MutexLock below.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define CREDFS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define CREDFS_THREAD_ANNOTATION(x)
#endif

/// The class is a lock (a "capability" in clang's terms).
#define CREDFS_CAPABILITY(name) CREDFS_THREAD_ANNOTATION(capability(name))
/// The class holds a lock for its own lifetime (RAII).
#define CREDFS_SCOPED_CAPABILITY CREDFS_THREAD_ANNOTATION(scoped_lockable)
/// The member may be read or written only with `mu` held.
#define CREDFS_GUARDED_BY(mu) CREDFS_THREAD_ANNOTATION(guarded_by(mu))
/// The pointee of this pointer member may be touched only with `mu` held.
#define CREDFS_PT_GUARDED_BY(mu) CREDFS_THREAD_ANNOTATION(pt_guarded_by(mu))
/// Lock order: this lock is taken after the ones named (checked with
/// -Wthread-safety-beta only; documents the order everywhere).
#define CREDFS_ACQUIRED_AFTER(...) CREDFS_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define CREDFS_ACQUIRED_BEFORE(...) CREDFS_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
/// The caller must hold the locks named.
#define CREDFS_REQUIRES(...) CREDFS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
/// The caller must not hold the locks named (the function takes them).
#define CREDFS_EXCLUDES(...) CREDFS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
/// The function takes / releases the locks named (or, on a lock's own member
/// function, the lock itself).
#define CREDFS_ACQUIRE(...) CREDFS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define CREDFS_RELEASE(...) CREDFS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define CREDFS_TRY_ACQUIRE(...) CREDFS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
/// Tells the analysis the lock is held here (checked by the caller's logic).
#define CREDFS_ASSERT_CAPABILITY(x) CREDFS_THREAD_ANNOTATION(assert_capability(x))
/// The function returns a reference to the lock named.
#define CREDFS_RETURN_CAPABILITY(x) CREDFS_THREAD_ANNOTATION(lock_returned(x))
/// Opts one function out of the analysis; say why beside each use.
#define CREDFS_NO_THREAD_SAFETY_ANALYSIS CREDFS_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace credfs {

/// A std::mutex the analysis can follow. Not recursive; not movable.
class CREDFS_CAPABILITY("mutex") Mutex {
  public:
    Mutex() = default;
    Mutex(const Mutex&) = delete;
    Mutex& operator=(const Mutex&) = delete;

    void lock() CREDFS_ACQUIRE() { mu_.lock(); }
    void unlock() CREDFS_RELEASE() { mu_.unlock(); }
    bool try_lock() CREDFS_TRY_ACQUIRE(true) { return mu_.try_lock(); }

    /// Releases the lock, blocks until `cv` is notified (or spuriously wakes),
    /// and takes the lock again before returning. Callers loop on their
    /// condition, so the analysis sees every guarded read under the lock.
    void wait(std::condition_variable& cv) CREDFS_REQUIRES(this) {
        std::unique_lock<std::mutex> held(mu_, std::adopt_lock);
        cv.wait(held);
        held.release();  // still locked: ownership stays with the caller
    }

    /// As wait(), but returns std::cv_status::timeout once `deadline` (on
    /// `C`, e.g. std::chrono::steady_clock: monotonic) has passed.
    template <class C, class D>
    std::cv_status wait_until(std::condition_variable& cv,
                              const std::chrono::time_point<C, D>& deadline) CREDFS_REQUIRES(this) {
        std::unique_lock<std::mutex> held(mu_, std::adopt_lock);
        const std::cv_status status = cv.wait_until(held, deadline);
        held.release();
        return status;
    }

  private:
    std::mutex mu_;
};

/// Holds a Mutex from construction to destruction, like std::lock_guard;
/// unlock() and lock() release and retake it within the scope.
class CREDFS_SCOPED_CAPABILITY MutexLock {
  public:
    explicit MutexLock(Mutex& mu) CREDFS_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
    ~MutexLock() CREDFS_RELEASE() {
        if (held_) mu_.unlock();
    }
    MutexLock(const MutexLock&) = delete;
    MutexLock& operator=(const MutexLock&) = delete;

    void unlock() CREDFS_RELEASE() {
        mu_.unlock();
        held_ = false;
    }
    void lock() CREDFS_ACQUIRE() {
        mu_.lock();
        held_ = true;
    }

  private:
    Mutex& mu_;
    bool held_ = true;
};

}  // namespace credfs
