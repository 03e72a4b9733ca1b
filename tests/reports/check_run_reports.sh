#!/usr/bin/env bash
# What a training run leaves to look at, checked as a user would see it. Three ctest steps:
#   check_run_reports.sh train       FTLIB BACKEND WORK   trains (and resumes) a tiny run; report.html,
#                                                         run_settings.json, TensorBoard events, `ftlib report`
#   check_run_reports.sh tensorboard FTLIB BACKEND WORK   TensorBoard's own reader (PyPI) on those events
#   check_run_reports.sh chromium    FTLIB BACKEND WORK   headless Chromium renders report.html (DOM and
#                                                         screenshots at phone and desktop width)
# The last two exit 77 (ctest: skipped) with a SKIPPED line when their tool is not installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode="$1" ftlib="$2" backend="$3" work="$4"
data="$root/tests/data/trainer"

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

train() {  # train OUT [extra flags]
  local out="$1"
  shift
  "$ftlib" train --backend "$backend" --model "$data/tiny-distilbert" --train "$data/reviews.csv" \
    --validation "$data/reviews.csv" --test "$data/reviews.csv" --label-column sentiment --max-steps 6 --eval-steps 3 \
    --logging-steps 1 --learning-rate 1e-3 --max-length 24 --per-device-train-batch-size 8 --disable-tqdm \
    --output "$out" "$@" > "$out.log" 2>&1 || { cat "$out.log"; fail "ftlib train $*"; }
}

case "$mode" in
  train)
    rm -rf "$work"
    mkdir -p "$work"
    # A: one uninterrupted run.
    train "$work/a"
    for f in report.html run_settings.json metrics.json train_log.jsonl; do
      [ -s "$work/a/$f" ] || fail "train did not write $f"
    done
    events=("$work"/a/runs/*/events.out.tfevents.*)
    [ ${#events[@]} -eq 1 ] && [ -s "${events[0]}" ] || fail "expected one TensorBoard event file under $work/a/runs/, found: ${events[*]}"
    grep -q "the run's report: $work/a/report.html" "$work/a.log" || fail "train did not name its report"
    grep -q '"learning_rate": 0.001' "$work/a/run_settings.json" || fail "run_settings.json lacks the learning rate"
    # B: the same run cut after its checkpoint at step 3 (a kill), then resumed: the log and the
    # TensorBoard view must hold each step once, with the uninterrupted run's values.
    train "$work/b"
    rm -rf "$work/b/checkpoint-6" "$work/b/metrics.json" "$work/b/report.html"
    "$ftlib" report "$work/b" > "$work/b.report.log" 2>&1 || { cat "$work/b.report.log"; fail "ftlib report on an interrupted run"; }
    grep -q "in progress or interrupted" "$work/b/report.html" || fail "the report of an interrupted run does not say so"
    grep -q "no metrics.json" "$work/b.report.log" || fail "ftlib report did not say what is missing"
    train "$work/b" --resume-from-checkpoint "$work/b/checkpoint-3"
    events=("$work"/b/runs/*/events.out.tfevents.*)
    [ ${#events[@]} -eq 2 ] || fail "a resumed run should add a second event file to the same run directory, found: ${events[*]}"
    cmp -s <(grep -v runtime "$work/a/train_log.jsonl" | sed 's/"train_samples_per_second":[^,]*,//') \
           <(grep -v runtime "$work/b/train_log.jsonl" | sed 's/"train_samples_per_second":[^,]*,//') ||
      { diff "$work/a/train_log.jsonl" "$work/b/train_log.jsonl" || true; fail "the resumed run's log differs from the uninterrupted one"; }
    # Refused: an integration ftlib does not have.
    if "$ftlib" train --backend "$backend" --model "$data/tiny-distilbert" --train "$data/reviews.csv" --label-column sentiment \
        --max-steps 1 --output "$work/c" --report-to wandb > "$work/c.log" 2>&1; then
      fail "--report-to wandb was accepted"
    fi
    grep -q -- "--report-to: 'wandb' is not available" "$work/c.log" || { cat "$work/c.log"; fail "--report-to wandb: unclear message"; }
    # Refused: a directory that is not a run.
    if "$ftlib" report "$data" > "$work/d.log" 2>&1; then fail "ftlib report accepted a directory without train_log.jsonl"; fi
    grep -q "train_log.jsonl: cannot read" "$work/d.log" || { cat "$work/d.log"; fail "ftlib report: unclear message"; }
    echo "report files: OK"
    ;;
  tensorboard)
    if ! venv=$("$root/scripts/python_env.sh" --check); then
      echo "SKIPPED: the Python environment with tensorboard is not installed (run scripts/python_env.sh)"
      exit 77
    fi
    "$venv/bin/python" "$here/check_tensorboard.py" "$work/a" "$work/b"
    ;;
  chromium)
    browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
    if [ -z "$browser" ]; then
      echo "SKIPPED: no Chromium (Debian's chromium package; scripts/install-deps.sh installs it)"
      exit 77
    fi
    page="$work/a/report.html"
    [ -s "$page" ] || fail "$page missing (the train step runs first)"
    flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking --disable-extensions
           --user-data-dir="$work/chromium-profile")
    timeout 120 "$browser" "${flags[@]}" --dump-dom "file://$page" > "$work/dom.html" 2> "$work/chromium.log" ||
      { tail -20 "$work/chromium.log"; fail "chromium --dump-dom"; }
    count() { grep -o "$1" "$work/dom.html" | wc -l; }
    [ "$(count '<polyline class="series" data-series="training loss"')" -eq 1 ] || fail "no training-loss curve in the rendered page"
    [ "$(count '<polyline class="series" data-series="validation loss"')" -eq 1 ] || fail "no validation-loss curve"
    [ "$(count '<polyline class="series" data-series="learning rate"')" -eq 1 ] || fail "no learning-rate curve"
    [ "$(count 'data-series="accuracy"')" -eq 1 ] || fail "no accuracy curve"
    # Two labels: a 2 x 2 heat map for the validation set and one for the test set.
    [ "$(count '<rect class="cell"')" -eq 8 ] || fail "expected 8 confusion-matrix cells, found $(count '<rect class="cell"')"
    [ "$(count '<table class="per-class"')" -eq 2 ] || fail "expected the per-class table of validation and test"
    [ "$(count '<table class="settings"')" -eq 1 ] || fail "no settings table"
    for size in 390,844 1280,900; do
      shot="$work/report-${size/,/x}.png"
      rm -f "$shot"
      timeout 120 "$browser" "${flags[@]}" --hide-scrollbars --window-size="$size" --screenshot="$shot" "file://$page" \
        >> "$work/chromium.log" 2>&1 || { tail -20 "$work/chromium.log"; fail "chromium --screenshot at $size"; }
      # A blank page compresses to a few kB; charts, text and the heat map do not.
      [ "$(stat -c %s "$shot")" -gt 20000 ] || fail "the screenshot at $size looks blank ($(stat -c %s "$shot") bytes)"
    done
    echo "report rendered by $("$browser" --version 2>/dev/null | head -1): OK (screenshots in $work)"
    ;;
  *)
    fail "unknown mode '$mode' (train, tensorboard or chromium)"
    ;;
esac
