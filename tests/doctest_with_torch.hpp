#pragma once
// doctest for test files that use LibTorch. c10 defines its own CHECK* macros, which would silently
// replace doctest's (failures would abort instead of being counted) when torch comes after doctest.
// So: LibTorch first, then drop c10's macros, then doctest.

#include <torch/torch.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#include <doctest/doctest.h>
