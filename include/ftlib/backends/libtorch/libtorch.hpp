#pragma once
// The LibTorch backend in one include: models, AdamW's ParamOps, autocast and loss scaling, the
// caching CPU allocator.

#include "ftlib/backends/libtorch/albert.hpp"
#include "ftlib/backends/libtorch/autocast.hpp"
#include "ftlib/backends/libtorch/batch_tensors.hpp"
#include "ftlib/backends/libtorch/bert.hpp"
#include "ftlib/backends/libtorch/cpu_allocator.hpp"
#include "ftlib/backends/libtorch/distilbert.hpp"
#include "ftlib/backends/libtorch/param_ops.hpp"
