#pragma once
// Bounds that every reader applies before sizing anything from a file: a damaged or hostile file
// gets an error naming the value, never a huge allocation.

#include <cstdint>

namespace ftlib {

/// @brief Most classes a classifier may have (config.json's num_labels/id2label, labels in data).
inline constexpr std::int64_t max_num_labels = std::int64_t{1} << 20;

}  // namespace ftlib
