#!/usr/bin/env bash
# Layers point one way: a header under include/ftlib/<folder>/ may include headers of its own folder
# and of the folders listed before it, never of one listed after it (docs/architecture.md).
# Prints every include that runs upward and exits 1 when there is one.
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
layers=(core io arch hf tokenizers data models optim metrics reports callbacks training distributed backends)
rank() {
  local i
  for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done
  echo 99  # top-level headers (trainer.hpp) sit above everything
}
upward=0
cd "$root/include"
while IFS= read -r header; do
  folder=$(echo "$header" | cut -d/ -f2)
  [ "$folder" = "$(basename "$header")" ] && folder=top
  [ "$folder" = top ] && case "$(basename "$header")" in error.hpp | batch.hpp) folder=core ;; esac
  from=$(rank "$folder")
  while IFS= read -r included; do
    to_folder=$(echo "$included" | cut -d/ -f2)
    [ "$to_folder" = "$(basename "$included")" ] && to_folder=top
    [ "$to_folder" = top ] && case "$(basename "$included")" in error.hpp | batch.hpp) to_folder=core ;; esac
    to=$(rank "$to_folder")
    if [ "$to" -gt "$from" ]; then
      echo "upward: $header includes $included"
      upward=$((upward + 1))
    fi
  done < <(grep -oE '^#include "ftlib/[^"]+"' "$header" | sed -E 's/#include "(.*)"/\1/')
done < <(find ftlib -name '*.hpp' | sort)
echo "$upward include(s) run upward"
[ "$upward" -eq 0 ]
