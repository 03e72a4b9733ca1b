#pragma once
// The Eigen backend's tensor: a shape plus shared, row-major storage. Copies of a tensor are
// handles to the same storage (like torch::Tensor), so a ParameterRef handed to the optimizer
// updates the model's own weights. The math is done through Eigen::Map views of that storage.

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/optim/adamw.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace ftlib::eigen {

/// @brief Row-major dynamic matrix (the layout of HuggingFace weights and of [tokens, features] activations).
template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// @brief Dynamic column vector (biases, LayerNorm weights).
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
/// @brief Read-only view of a row-major matrix or of a block of one (no copy for maps and blocks).
template <class S>
using In = Eigen::Ref<const Matrix<S>>;
/// @brief Writable view of a row-major matrix or of a block of one.
template <class S>
using Out = Eigen::Ref<Matrix<S>>;
/// @brief Read-only view of a vector.
template <class S>
using VecIn = Eigen::Ref<const Vector<S>>;
/// @brief Writable view of a vector.
template <class S>
using VecOut = Eigen::Ref<Vector<S>>;

namespace detail {

/// @brief Work (about one element operation, or 16 multiply-adds of a product) each extra thread must get
///        before a loop is split: every parallel region ends in a barrier, and on a loaded machine (more
///        runnable threads than cores) a barrier can wait a whole scheduler time slice for a descheduled
///        thread, which costs far more than the small loops of a small model gain from a second core.
inline constexpr double kMinWorkPerThread = double(1 << 20);

/// @brief How many OpenMP threads a loop of `work` units (see kMinWorkPerThread) should use: 1 below the
///        threshold, inside a parallel region, or without OpenMP; never more than omp_get_max_threads().
[[nodiscard]] inline int threads_for(double work) {
#if defined(_OPENMP)
  if (omp_in_parallel()) return 1;
  const int max_threads = omp_get_max_threads();
  if (max_threads <= 1 || !(work >= 2.0 * kMinWorkPerThread)) return 1;
  return static_cast<int>(std::min<double>(max_threads, work / kMinWorkPerThread));
#else
  (void)work;
  return 1;
#endif
}

/// @brief Runs fn(begin, end) over [0, n) split into one contiguous chunk per thread, using as many
///        threads as threads_for(n * work_per_item) allows (serially for small loops). Chunks never
///        overlap, so fn may write its range.
template <class Fn>
void parallel_ranges(std::int64_t n, double work_per_item, Fn&& fn) {
  if (n <= 0) return;
  const std::int64_t chunks =
      std::min<std::int64_t>(n, threads_for(static_cast<double>(n) * work_per_item));
  if (chunks <= 1) {
    fn(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(chunks))
  for (std::int64_t c = 0; c < chunks; ++c) fn(n * c / chunks, n * (c + 1) / chunks);
}

/// @brief Makes Eigen's own products single-threaded (Eigen::setNbThreads(1), a process-wide Eigen
///        setting). The backend splits its products itself (detail::gemm, attention heads): Eigen's
///        threaded GEMM parallelises products of a few thousand multiply-adds and synchronises its
///        threads by spinning, which collapses when the cores are shared with other work.
inline void use_own_threading() {
  if (Eigen::nbThreads() != 1) Eigen::setNbThreads(1);
}

/// @brief Byte alignment of every tensor's storage: at least Eigen's widest packet (64 with AVX-512).
inline constexpr std::size_t kStorageAlignment = EIGEN_MAX_ALIGN_BYTES > 64 ? EIGEN_MAX_ALIGN_BYTES : 64;

/// @brief Zero-filled storage for n scalars starting on a kStorageAlignment boundary. Eigen's vectorized
///        reductions over a Map (sum, rowwise().sum(), ...) peel a scalar head up to the first aligned
///        packet, so their rounding depends on the address mod the packet size; with storage at a
///        fixed alignment the same values give the same bits whatever the heap did before (a resumed
///        run allocates differently from an uninterrupted one and used to drift in the last digits).
template <class S>
[[nodiscard]] std::shared_ptr<S[]> allocate_storage(std::size_t n) {
  constexpr std::align_val_t align{kStorageAlignment};
  S* p = static_cast<S*>(::operator new[]((n == 0 ? 1 : n) * sizeof(S), align));
  std::fill(p, p + n, S(0));
  return std::shared_ptr<S[]>(p, [](S* q) { ::operator delete[](q, std::align_val_t{kStorageAlignment}); });
}

inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace detail

/// @brief An owning, reference-counted, row-major tensor of scalar S (float for models, double
///        for gradient checks). Copying shares storage; clone() copies it.
template <class S>
class BasicTensor {
 public:
  using Scalar = S;
  using MatrixMap = Eigen::Map<Matrix<S>>;
  using ConstMatrixMap = Eigen::Map<const Matrix<S>>;
  using VectorMap = Eigen::Map<Vector<S>>;
  using ConstVectorMap = Eigen::Map<const Vector<S>>;
  using ArrayMap = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>;
  using ConstArrayMap = Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>;

  /// @brief An undefined (empty) tensor.
  BasicTensor() = default;
  /// @brief A zero-filled tensor of the given shape.
  explicit BasicTensor(std::vector<std::int64_t> shape) : shape_(std::move(shape)) {
    for (const auto d : shape_)
      if (d < 0) throw tensor_error("eigen::Tensor: negative dimension in shape " + detail::shape_string(shape_));
    numel_ = std::accumulate(shape_.begin(), shape_.end(), std::int64_t{1}, std::multiplies<>());
    data_ = detail::allocate_storage<S>(static_cast<std::size_t>(numel_));
  }

  /// @brief A zero-filled tensor of the given shape.
  [[nodiscard]] static BasicTensor zeros(std::vector<std::int64_t> shape) { return BasicTensor(std::move(shape)); }
  /// @brief A copy of a host tensor (float) converted to S.
  [[nodiscard]] static BasicTensor from_host(const HostTensor& host) {
    BasicTensor t(host.shape);
    if (static_cast<std::int64_t>(host.data.size()) != t.numel())
      throw tensor_error("eigen::Tensor: host tensor of shape " + detail::shape_string(host.shape) + " holds " +
                         std::to_string(host.data.size()) + " values, expected " + std::to_string(t.numel()));
    std::transform(host.data.begin(), host.data.end(), t.data(), [](float v) { return static_cast<S>(v); });
    return t;
  }

  /// @brief True once the tensor has storage.
  [[nodiscard]] bool defined() const noexcept { return data_ != nullptr; }
  /// @brief Dimensions, outermost first.
  [[nodiscard]] const std::vector<std::int64_t>& shape() const noexcept { return shape_; }
  /// @brief Size of dimension i (negative counts from the end).
  [[nodiscard]] std::int64_t size(std::int64_t i) const {
    const auto n = static_cast<std::int64_t>(shape_.size());
    return shape_.at(static_cast<std::size_t>(i < 0 ? i + n : i));
  }
  /// @brief Number of dimensions.
  [[nodiscard]] std::int64_t dim() const noexcept { return static_cast<std::int64_t>(shape_.size()); }
  /// @brief Number of elements.
  [[nodiscard]] std::int64_t numel() const noexcept { return numel_; }
  /// @brief First element of the storage.
  [[nodiscard]] S* data() noexcept { return data_.get(); }
  /// @brief First element of the storage.
  [[nodiscard]] const S* data() const noexcept { return data_.get(); }
  /// @brief True when both handles share one storage.
  [[nodiscard]] bool same_storage(const BasicTensor& other) const noexcept { return data_ == other.data_; }

  /// @brief [numel / last, last] view (a 1-D tensor is one row).
  [[nodiscard]] MatrixMap matrix() { return MatrixMap(data(), rows(), cols()); }
  /// @brief [numel / last, last] view (a 1-D tensor is one row).
  [[nodiscard]] ConstMatrixMap matrix() const { return ConstMatrixMap(data(), rows(), cols()); }
  /// @brief Every element as one column vector.
  [[nodiscard]] VectorMap vector() { return VectorMap(data(), numel_); }
  /// @brief Every element as one column vector.
  [[nodiscard]] ConstVectorMap vector() const { return ConstVectorMap(data(), numel_); }
  /// @brief Every element as a flat array (element-wise math).
  [[nodiscard]] ArrayMap array() { return ArrayMap(data(), numel_); }
  /// @brief Every element as a flat array (element-wise math).
  [[nodiscard]] ConstArrayMap array() const { return ConstArrayMap(data(), numel_); }

  /// @brief Sets every element to zero.
  void set_zero() {
    S* p = data();
    detail::parallel_ranges(numel_, 0.25, [p](std::int64_t b, std::int64_t e) { std::fill(p + b, p + e, S(0)); });
  }
  /// @brief A deep copy (new storage).
  [[nodiscard]] BasicTensor clone() const {
    BasicTensor t(shape_);
    std::copy(data(), data() + numel_, t.data());
    return t;
  }
  /// @brief A float copy in host memory.
  [[nodiscard]] HostTensor to_host() const {
    HostTensor h{shape_, std::vector<float>(static_cast<std::size_t>(numel_))};
    std::transform(data(), data() + numel_, h.data.begin(), [](S v) { return static_cast<float>(v); });
    return h;
  }
  /// @brief Copies the values of `other` (same number of elements) into this storage.
  void copy_from(const BasicTensor& other) {
    if (other.numel() != numel_)
      throw tensor_error("eigen::Tensor: cannot copy " + detail::shape_string(other.shape()) + " into " +
                         detail::shape_string(shape_));
    std::copy(other.data(), other.data() + numel_, data());
  }

 private:
  [[nodiscard]] Eigen::Index cols() const noexcept { return shape_.empty() ? 1 : shape_.back(); }
  [[nodiscard]] Eigen::Index rows() const noexcept { return cols() == 0 ? 0 : numel_ / cols(); }

  std::vector<std::int64_t> shape_;
  std::int64_t numel_ = 0;
  std::shared_ptr<S[]> data_;
};

/// @brief The tensor type the Eigen models use.
using Tensor = BasicTensor<float>;

}  // namespace ftlib::eigen

namespace ftlib {

/// @brief AdamW's element-wise operations on Eigen backend tensors (torch's float32 op order).
template <class S>
struct ParamOps<eigen::BasicTensor<S>> {
  using T = eigen::BasicTensor<S>;

  /// @brief A zero tensor shaped like t.
  static T zeros_like(const T& t) { return T(t.shape()); }
  /// @brief t *= a
  static void scale(T& t, double a) {
    S* p = t.data();
    const S f = static_cast<S>(a);
    eigen::detail::parallel_ranges(t.numel(), 1.0, [=](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) p[i] *= f;
    });
  }
  /// @brief t += w * (c - t)
  static void lerp(T& t, const T& c, double w) {
    S* p = t.data();
    const S* q = c.data();
    const S f = static_cast<S>(w);
    eigen::detail::parallel_ranges(t.numel(), 1.0, [=](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) p[i] += f * (q[i] - p[i]);
    });
  }
  /// @brief t = a * t + b * c^2
  static void scale_add_square(T& t, double a, const T& c, double b) {
    S* p = t.data();
    const S* q = c.data();
    const S fa = static_cast<S>(a);
    const S fb = static_cast<S>(b);
    eigen::detail::parallel_ranges(t.numel(), 1.0, [=](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) p[i] = fa * p[i] + fb * (q[i] * q[i]);
    });
  }
  /// @brief p -= step * m / (sqrt(v) / bias_correction2_sqrt + eps)
  static void adam_update(T& p, const T& m, const T& v, double step, double bias_correction2_sqrt, double eps) {
    S* pp = p.data();
    const S* mp = m.data();
    const S* vp = v.data();
    const S neg_step = static_cast<S>(-step);
    const S bc = static_cast<S>(bias_correction2_sqrt);
    const S e = static_cast<S>(eps);
    eigen::detail::parallel_ranges(p.numel(), 4.0, [=](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) pp[i] += neg_step * (mp[i] / (std::sqrt(vp[i]) / bc + e));
    });
  }
  /// @brief One AdamW update (see adamw_step_op_by_op) in one pass over the elements: per element the
  ///        operations of scale, lerp, scale_add_square and adam_update above, in that order, with the
  ///        same expressions (so the same FMA contractions by the compiler): equal to the op-by-op form
  ///        unless the compiler contracts the two differently.
  static void adamw_step(T& p, const T& g, T& m, T& v, const AdamWStepScalars& s) {
    if (g.numel() != p.numel() || m.numel() != p.numel() || v.numel() != p.numel())
      throw tensor_error("eigen AdamW: parameter " + eigen::detail::shape_string(p.shape()) + ", gradient " +
                         eigen::detail::shape_string(g.shape()) + " and moments " +
                         eigen::detail::shape_string(m.shape()) + ", " + eigen::detail::shape_string(v.shape()) +
                         " must have the same number of elements");
    const Step f{static_cast<S>(s.decay),
                 static_cast<S>(1.0 - s.beta1),
                 static_cast<S>(s.beta2),
                 static_cast<S>(1.0 - s.beta2),
                 static_cast<S>(-s.step_size),
                 static_cast<S>(s.bias_correction2_sqrt),
                 static_cast<S>(s.eps)};
    S* const pp = p.data();
    const S* const gp = g.data();
    S* const mp = m.data();
    S* const vp = v.data();
    // work per element: the sum of the four separate loops' estimates
    eigen::detail::parallel_ranges(p.numel(), 7.0, [=](std::int64_t begin, std::int64_t end) {
      for (std::int64_t lo = begin; lo < end; lo += ftlib::detail::kAdamWBlock)
        adamw_block(pp + lo, gp + lo, mp + lo, vp + lo, std::min(ftlib::detail::kAdamWBlock, end - lo), f);
    });
  }
  /// @brief A float host copy.
  static HostTensor to_host(const T& t) { return t.to_host(); }
  /// @brief A tensor shaped like `like` holding the host values.
  static T from_host(const HostTensor& host, const T& like) {
    if (host.numel() != like.numel())
      throw tensor_error("eigen::Tensor: cannot restore a tensor of shape " + eigen::detail::shape_string(host.shape) +
                         " into one of shape " + eigen::detail::shape_string(like.shape()));
    T t = T::from_host(host);
    T out(like.shape());
    out.copy_from(t);
    return out;
  }

 private:
  struct Step {
    S decay, w1, beta2, w2, neg_step, bias_correction2_sqrt, eps;
  };

  /// n <= kAdamWBlock elements; the denominators stay in L1 between the loops.
  static void adamw_block(S* __restrict p, const S* __restrict g, S* __restrict m, S* __restrict v,
                          std::int64_t n, const Step& f) {
    alignas(64) S denom[ftlib::detail::kAdamWBlock];
    for (std::int64_t i = 0; i < n; ++i) {
      p[i] *= f.decay;  // in this loop, not the last: there the compiler could contract it with the update
      m[i] += f.w1 * (g[i] - m[i]);
      v[i] = f.beta2 * v[i] + f.w2 * (g[i] * g[i]);
      denom[i] = v[i];
    }
    ftlib::detail::sqrt_in_place(denom, n);
    for (std::int64_t i = 0; i < n; ++i) p[i] += f.neg_step * (m[i] / (denom[i] / f.bias_correction2_sqrt + f.eps));
  }
};

}  // namespace ftlib
