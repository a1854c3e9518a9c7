// The receive-buffer pool: best-fit reuse from a free list ordered by capacity.
#include "courier/comm/transport/mpi/buffer_pool.h"

#include <algorithm>
#include <new>
#include <utility>
#include <vector>

namespace courier::mpi {
namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kPage = 4096;

std::byte* allocate(std::size_t capacity) {
  return static_cast<std::byte*>(::operator new(capacity, std::align_val_t{kAlignment}));
}
void deallocate(std::byte* data) { ::operator delete(data, std::align_val_t{kAlignment}); }

}  // namespace

BufferPool::~BufferPool() {
  for (auto& [capacity, data] : free_) deallocate(data);
}

std::byte* BufferPool::acquire(std::size_t bytes, std::size_t& capacity) {
  {
    std::lock_guard lock(mutex_);
    auto it = free_.lower_bound(bytes);
    if (it != free_.end() && it->first <= std::max(2 * bytes, kPage)) {
      capacity = it->first;
      std::byte* data = it->second;
      cached_bytes_ -= capacity;
      free_.erase(it);
      reused_.fetch_add(1, std::memory_order_relaxed);
      return data;
    }
  }
  capacity = bytes < kPage ? (bytes + kAlignment - 1) / kAlignment * kAlignment : (bytes + kPage - 1) / kPage * kPage;
  std::byte* data = allocate(capacity);
  allocated_.fetch_add(1, std::memory_order_relaxed);
  return data;
}

void BufferPool::release(std::byte* data, std::size_t capacity) {
  std::vector<std::byte*> evicted;  // freed outside the lock
  {
    std::lock_guard lock(mutex_);
    free_.emplace(capacity, data);
    cached_bytes_ += capacity;
    // Over the limit: drop the smallest buffers first, they are the cheapest to make again.
    while (cached_bytes_ > cached_limit_ && !free_.empty()) {
      cached_bytes_ -= free_.begin()->first;
      evicted.push_back(free_.begin()->second);
      free_.erase(free_.begin());
    }
  }
  for (std::byte* e : evicted) deallocate(e);
}

PooledBuffer::PooledBuffer(std::shared_ptr<BufferPool> pool, std::size_t bytes) : pool_(std::move(pool)) {
  data_ = pool_->acquire(bytes, capacity_);
}

PooledBuffer::PooledBuffer(PooledBuffer&& other) noexcept
    : pool_(std::move(other.pool_)), data_(std::exchange(other.data_, nullptr)), capacity_(other.capacity_) {}

PooledBuffer& PooledBuffer::operator=(PooledBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    pool_ = std::move(other.pool_);
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = other.capacity_;
  }
  return *this;
}

void PooledBuffer::reset() {
  if (data_) pool_->release(std::exchange(data_, nullptr), capacity_);
}

Message PooledBuffer::lend(const MessageHeader& header, std::size_t bytes) && {
  const ByteSpan span(data_, bytes);
  auto give_back = [pool = std::move(pool_), data = std::exchange(data_, nullptr), capacity = capacity_] {
    pool->release(data, capacity);
  };
  return Message(header, span, std::move(give_back));
}

}  // namespace courier::mpi
