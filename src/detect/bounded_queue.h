// A fixed-capacity multi-producer queue that never blocks a producer: when it is full, the item
// is dropped and counted. The request path pushes security events into it; the detection
// engine's thread pops them.
//
//   BoundedQueue<SecurityEvent> q(65536);
//   if (!q.TryPush(std::move(ev))) { /* dropped; q.dropped() counts it */ }
//   SecurityEvent out;
//   while (q.TryPop(&out)) Handle(out);   // one consumer thread
//
// Dmitry Vyukov's bounded MPMC ring: each cell carries a sequence number, producers claim a
// position with one compare-and-swap, so a push costs a few atomic operations and no lock.
// TryPush is safe from any number of threads; TryPop and Empty from one consumer thread at a
// time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace rampart::detect {

template <typename T>
class BoundedQueue {
 public:
  // capacity >= 1; exactly that many items fit.
  explicit BoundedQueue(size_t capacity)
      : capacity_(capacity == 0 ? 1 : capacity), cells_(new Cell[capacity_]) {
    for (size_t i = 0; i < capacity_; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // False when the queue is full: counted in dropped(), unless `count_drop` is false (a
  // producer that will try again). `value` is moved from only when it was taken.
  bool TryPush(T&& value, bool count_drop = true) {
    size_t pos = enqueue_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos % capacity_];
      size_t seq = cell.seq.load(std::memory_order_acquire);
      auto diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
      if (diff == 0) {
        if (enqueue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          cell.value = std::move(value);
          cell.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        if (count_drop) dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
      } else {
        pos = enqueue_.load(std::memory_order_relaxed);
      }
    }
  }

  // False when empty. Single consumer.
  bool TryPop(T* out) {
    size_t pos = dequeue_;
    Cell& cell = cells_[pos % capacity_];
    size_t seq = cell.seq.load(std::memory_order_acquire);
    if (static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos + 1) < 0) return false;
    *out = std::move(cell.value);
    cell.value = T();
    cell.seq.store(pos + capacity_, std::memory_order_release);
    dequeue_ = pos + 1;
    return true;
  }

  // True when no item is ready for the consumer. Consumer thread only.
  bool Empty() const {
    const Cell& cell = cells_[dequeue_ % capacity_];
    return cell.seq.load(std::memory_order_acquire) != dequeue_ + 1;
  }

  size_t capacity() const { return capacity_; }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Adds drops that happened elsewhere on the way to this queue.
  void AddDropped(uint64_t count) { dropped_.fetch_add(count, std::memory_order_relaxed); }

 private:
  struct Cell {
    std::atomic<size_t> seq{0};
    T value{};
  };
  const size_t capacity_;
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<size_t> enqueue_{0};
  alignas(64) size_t dequeue_ = 0;  // consumer only
  alignas(64) std::atomic<uint64_t> dropped_{0};
};

}  // namespace rampart::detect
