#pragma once
// A caching CPU allocator for LibTorch's large blocks. A training step frees and re-allocates the
// same large buffers (activations, attention probabilities, gradients) every step. glibc returns
// blocks above its mmap threshold (at most 32 MiB) to the OS on free, so each step page-faults
// and zeroes them again (on 8 x 512 DistilBERT: 4.4 s per fp32 step instead of 3.0 s); keeping
// them in glibc's heap instead (mallopt) fragments it (+500 to +950 MiB peak RSS). This allocator
// keeps freed large blocks whole and hands them out again for requests of about their size: the
// page faults go, and the memory it holds stays within 1.25x the peak the program needed. Small blocks
// come from the C heap, as they do without it. Installing it is process-wide
// (c10::SetCPUAllocator), so a program chooses it in its main, as the `ftlib` tool does; it must
// outlive every tensor it allocated.

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <mutex>
#include <new>

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include "ftlib/backends/libtorch/compat.hpp"

namespace ftlib::libtorch {

/// @brief Counters of a CachingCpuAllocator, in bytes of large blocks.
struct CpuAllocatorStats {
  std::size_t in_use = 0;       ///< handed out and not yet freed
  std::size_t peak_in_use = 0;  ///< highest in_use so far
  std::size_t cached = 0;       ///< freed, kept for reuse
  std::size_t mapped = 0;       ///< obtained from the OS (in_use + cached)
  std::int64_t hits = 0;        ///< requests served from the cache
  std::int64_t misses = 0;      ///< requests that mapped new memory
};

/// @brief Keeps freed blocks of at least `min_block_bytes` (rounded up to 2 MiB) and reuses one for
///        a request when it is at most `max_waste` times the rounded request's size; smaller
///        requests go to the C heap (64-byte aligned, as LibTorch's default allocator does). The
///        bytes it maps stay within (1 + `headroom`) x the peak of bytes in use: a request that would
///        go beyond first unmaps cached blocks, largest first.
class CachingCpuAllocator final : public compat::CpuAllocatorBase {
 public:
  explicit CachingCpuAllocator(std::size_t min_block_bytes = std::size_t{1} << 20, double max_waste = 1.25,
                               double headroom = 0.25)
      : min_block_bytes_(min_block_bytes), max_waste_(max_waste), headroom_(headroom) {}
  CachingCpuAllocator(const CachingCpuAllocator&) = delete;
  CachingCpuAllocator& operator=(const CachingCpuAllocator&) = delete;
  ~CachingCpuAllocator() override { release_cached(); }

  /// @brief Makes this the CPU allocator of every new LibTorch tensor (process-wide, priority 1).
  void install() { c10::SetCPUAllocator(this, /*priority=*/1); }

  /// @brief Returns every cached block to the OS.
  void release_cached() {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [size, block] : free_blocks_) unmap(block, size);
    stats_.mapped -= stats_.cached;
    stats_.cached = 0;
    free_blocks_.clear();
  }

  /// @brief The counters so far.
  [[nodiscard]] CpuAllocatorStats stats() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 protected:
  c10::DataPtr allocate_bytes(std::size_t n) const override {
    // A header in front of the data records the owner and the mapped size (none for a small block
    // from aligned_alloc), so that the data pointer alone frees any block: LibTorch's
    // raw_allocate/raw_deleter pair needs that.
    void* block = nullptr;
    auto* owner = const_cast<CachingCpuAllocator*>(this);
    std::size_t size = 0;
    if (n < min_block_bytes_) {
      block = std::aligned_alloc(header_bytes, (n + 2 * header_bytes - 1) / header_bytes * header_bytes);
      if (block == nullptr) throw std::bad_alloc();
      owner = nullptr;
    } else {
      size = round_up(n + header_bytes);
      block = take_cached(size);
      if (block == nullptr) block = map(size);
    }
    auto* header = static_cast<Header*>(block);
    header->owner = owner;
    header->size = size;
    void* data = static_cast<char*>(block) + header_bytes;
    return {data, data, &CachingCpuAllocator::deallocate, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter_fn() const override { return &CachingCpuAllocator::deallocate; }

 private:
  struct Header {
    CachingCpuAllocator* owner;
    std::size_t size;
  };
  // One cache line, so that the data keeps LibTorch's 64-byte alignment.
  static constexpr std::size_t header_bytes = 64;
  static_assert(sizeof(Header) <= header_bytes);
  static constexpr std::size_t granule = std::size_t{2} << 20;

  [[nodiscard]] static std::size_t round_up(std::size_t n) { return (n + granule - 1) / granule * granule; }

  void* take_cached(std::size_t size) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto it = free_blocks_.lower_bound(size);
    if (it == free_blocks_.end() || static_cast<double>(it->first) > max_waste_ * static_cast<double>(size)) {
      ++stats_.misses;
      return nullptr;
    }
    void* block = it->second;
    stats_.cached -= it->first;
    note_in_use(it->first);
    ++stats_.hits;
    free_blocks_.erase(it);
    return block;
  }

  void* map(std::size_t size) const {
    evict_for(size);
    void* block = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) {
      const_cast<CachingCpuAllocator*>(this)->release_cached();  // retry once without the cache
      block = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (block == MAP_FAILED) throw std::bad_alloc();
    }
    const std::lock_guard<std::mutex> lock(mutex_);
    stats_.mapped += size;
    note_in_use(size);
    return block;
  }

  // Unmaps cached blocks, largest first, until mapping `size` more keeps the mapped bytes within
  // (1 + headroom) x the peak in use: with shapes that change from batch to batch (dynamic padding)
  // the cache does not grow beyond what the program's peak needed. Measured on an epoch of the review
  // data (docs/benchmarks.md): headroom 0 evicts blocks the next batches need (17% slower than
  // LibTorch's allocator), 0.5 holds 19% more memory; 0.25 is on par with it in time and memory.
  void evict_for(std::size_t size) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto allowed = static_cast<std::size_t>((1.0 + headroom_) * static_cast<double>(stats_.peak_in_use));
    const std::size_t limit = std::max(allowed, stats_.in_use + size);
    while (!free_blocks_.empty() && stats_.mapped + size > limit) {
      const auto largest = std::prev(free_blocks_.end());
      unmap(largest->second, largest->first);
      stats_.mapped -= largest->first;
      stats_.cached -= largest->first;
      free_blocks_.erase(largest);
    }
  }

  void note_in_use(std::size_t size) const {
    stats_.in_use += size;
    if (stats_.in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.in_use;
  }

  static void unmap(void* block, std::size_t size) { munmap(block, size); }

  static void deallocate(void* data) {
    void* block = static_cast<char*>(data) - header_bytes;
    const auto* header = static_cast<const Header*>(block);
    if (header->owner == nullptr) {
      std::free(block);
    } else {
      header->owner->give_back(block, header->size);
    }
  }

  void give_back(void* block, std::size_t size) {
    const std::lock_guard<std::mutex> lock(mutex_);
    stats_.in_use -= size;
    free_blocks_.emplace(size, block);
    stats_.cached += size;
  }

  std::size_t min_block_bytes_;
  double max_waste_;
  double headroom_;
  mutable std::mutex mutex_;
  mutable std::multimap<std::size_t, void*> free_blocks_;
  mutable CpuAllocatorStats stats_;
};

}  // namespace ftlib::libtorch
