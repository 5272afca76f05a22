// WorkerThread: one thread that runs submitted work in order. lineaged's
// writer, reader, query and verifier threads are each one of these
// (rpc/src/server.cc).
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace lineage::rpc {

// Writes to the store are serialised anyway (the store's writer lock), so
// one writer thread loses nothing and keeps the event loop free.
//
// Contract: a work item reports its own failures (the server's OffLoop
// rejects its promise); an exception that still escapes one is swallowed
// here so that the thread, and with it the daemon, survives. The item is
// destroyed before the next one runs, so a kj cross-thread fulfiller it
// holds and did not fulfil rejects its promise. Work submitted after Stop()
// is refused: it is destroyed unrun (rejecting such a promise the same
// way), so a call arriving during shutdown fails instead of hanging.
//
// Thread safety: Submit and Stop may be called from any thread, also from
// a work item (Submit then returns false once Stop has begun; Stop from a
// work item would join itself and must not be called there).
class WorkerThread {
 public:
  // `nice`: the thread's own nice value (Linux schedules threads, and
  // setpriority on a thread id changes only that thread). Bulk work (the
  // verifiers' signature checks) runs above 0 so that on a machine with
  // few cores the event loop, which answers gates' checks, wins the CPU
  // whenever it has work; the bulk threads get the rest.
  explicit WorkerThread(int nice = 0) : nice_(nice), thread_([this] { Run(); }) {}
  ~WorkerThread() { Stop(); }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // False (and `work` destroyed) once Stop() has begun.
  bool Submit(std::function<void()> work) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return false;
      queue_.push_back(std::move(work));
    }
    cv_.notify_one();
    return true;
  }

  // Finishes the queue, then joins. Idempotent.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    // A failure (a container that forbids it) leaves the default: slower
    // checks under load, nothing wrong.
    if (nice_ != 0) {
      setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice_);
    }
    for (;;) {
      std::function<void()> work;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        work();
      } catch (...) {
        // See the class comment: the item's promise is rejected when `work`
        // (holding its fulfiller) is destroyed at the end of this iteration.
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  const int nice_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace lineage::rpc
