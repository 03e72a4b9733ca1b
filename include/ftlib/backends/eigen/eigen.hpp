#pragma once
// The Eigen reference backend in one include: tensor + ParamOps, layers, and every architecture's classifier.
// Link ftlib::eigen (Eigen 3.4 + OpenMP); compile with -march=native (or -mavx2 -mfma) for fast GEMMs.

#include "ftlib/backends/eigen/albert.hpp"      // IWYU pragma: export
#include "ftlib/backends/eigen/bert.hpp"        // IWYU pragma: export
#include "ftlib/backends/eigen/distilbert.hpp"  // IWYU pragma: export
#include "ftlib/backends/eigen/encoder.hpp"     // IWYU pragma: export
#include "ftlib/backends/eigen/layers.hpp"      // IWYU pragma: export
#include "ftlib/backends/eigen/parameters.hpp"  // IWYU pragma: export
#include "ftlib/backends/eigen/tensor.hpp"      // IWYU pragma: export
