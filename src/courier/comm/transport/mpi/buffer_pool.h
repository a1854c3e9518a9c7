// Receive buffers of the mpi transport: reusable, uninitialised, 64-byte-aligned. Reuse is the
// point: a fresh buffer's pages are faulted in on first touch, which at tens of MiB costs more
// than moving the bytes. No MPI here.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "courier/comm/message.h"
#include "courier/comm/transport/message_buffer.h"

namespace courier::mpi {

// Thread-safe. Buffers returned past `cached_limit` bytes of free buffers are freed.
class BufferPool {
 public:
  explicit BufferPool(std::size_t cached_limit) : cached_limit_(cached_limit) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of at least `bytes` (the smallest free one that fits without wasting more than
  // half, else a new one); `capacity` receives its real size. Throws std::bad_alloc.
  std::byte* acquire(std::size_t bytes, std::size_t& capacity);
  // REQUIRES: `data` and `capacity` from acquire() on this pool.
  void release(std::byte* data, std::size_t capacity);

  std::uint64_t allocated() const { return allocated_.load(std::memory_order_relaxed); }
  std::uint64_t reused() const { return reused_.load(std::memory_order_relaxed); }

 private:
  std::mutex mutex_;
  std::multimap<std::size_t, std::byte*> free_;  // capacity -> buffer
  std::size_t cached_bytes_ = 0;
  std::size_t cached_limit_;
  std::atomic<std::uint64_t> allocated_{0}, reused_{0};
};

// One buffer from a pool, returned on destruction unless lent out as a Message. Move-only.
class PooledBuffer {
 public:
  PooledBuffer() = default;
  // Throws std::bad_alloc.
  PooledBuffer(std::shared_ptr<BufferPool> pool, std::size_t bytes);
  ~PooledBuffer() { reset(); }
  PooledBuffer(PooledBuffer&& other) noexcept;
  PooledBuffer& operator=(PooledBuffer&& other) noexcept;

  std::byte* data() const { return data_; }

  // The first `bytes` of the buffer as a received message. Releasing the Message gives the
  // buffer back to the pool, from any thread, even after the transport is gone (the Message
  // shares the pool). REQUIRES: a buffer; bytes <= the size asked for.
  Message lend(const MessageHeader& header, std::size_t bytes) &&;

 private:
  void reset();

  std::shared_ptr<BufferPool> pool_;
  std::byte* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace courier::mpi
