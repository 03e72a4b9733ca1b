// HuggingFace `tokenizers` (Rust, through the Node binding @anush008/tokenizers 0.6.0 = tokenizers 0.22)
// on the texts tokenizer_throughput reads: the review_body column of
// shared/data/amazon_reviews_5class/{train,validation,test}.csv. The baseline side of
// scripts/bench_tokenizers.sh; see docs/benchmarks.md.
//
//   node benchmarks/hf_tokenizers.mjs --modules DIR [--shared DIR] [--seconds S]
//        [--mode encode|batch|both] [--ids-dir DIR] [--tokenizers bert-base-uncased,albert-base-v2]
//
//   --modules DIR  the node_modules folder holding @anush008/tokenizers (kept outside the repository)
//   --mode         encode: tokenizer.encode() one text at a time, each awaited before the next;
//                  batch: tokenizer.encodeBatch(all texts) per pass; both (default)
//   --ids-dir DIR  write the ids of every text (from encodeBatch) to DIR/hf.<tokenizer>.jsonl
//
// encodeBatch runs on Rayon: TOKENIZERS_PARALLELISM=false makes it a plain loop on one thread (the
// one-thread baseline without the per-call cost of the binding), RAYON_NUM_THREADS=N uses N threads.
// Prints one JSON line per measurement, prefixed "JSON ", like tokenizer_throughput --json.

import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

function fail(message) {
  process.stderr.write(`hf_tokenizers.mjs: error: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const here = dirname(fileURLToPath(import.meta.url));
  const opt = {
    shared: process.env.FTLIB_SHARED_DIR || resolve(here, '../../shared'),
    seconds: 2,
    mode: 'both',
    idsDir: null,
    modules: process.env.FTLIB_HF_NODE_MODULES || null,
    tokenizers: ['bert-base-uncased', 'albert-base-v2'],
  };
  for (let i = 2; i < argv.length; ++i) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${flag}: expects a value`);
      return argv[++i];
    };
    if (flag === '--shared') opt.shared = value();
    else if (flag === '--seconds') opt.seconds = Number(value());
    else if (flag === '--mode') opt.mode = value();
    else if (flag === '--ids-dir') opt.idsDir = value();
    else if (flag === '--modules') opt.modules = value();
    else if (flag === '--tokenizers') opt.tokenizers = value().split(',');
    else fail(`${flag}: unknown flag (expected --shared, --seconds, --mode, --ids-dir, --modules or --tokenizers)`);
  }
  if (!['encode', 'batch', 'both'].includes(opt.mode)) fail(`--mode: '${opt.mode}' (expected encode, batch or both)`);
  if (!(opt.seconds > 0)) fail(`--seconds: '${opt.seconds}' (expected a positive number)`);
  if (!opt.modules) fail('--modules: missing (the node_modules folder holding @anush008/tokenizers)');
  return opt;
}

// RFC 4180: fields separated by ',', records by CRLF (a bare LF is accepted too); a quoted field may
// hold ',', CR, LF and '""' (one '"'). Returns the records as arrays of strings; blank lines are skipped.
export function parseCsv(text, name) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records = [];
  let record = [];
  let field = '';
  let quoted = false;  // the current field was quoted (so an empty one is not a blank line)
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const where = () => `${name}:${line}:${i - lineStart + 1}`;
  const endField = () => {
    record.push(field);
    field = '';
    quoted = false;
  };
  const endRecord = () => {
    const blank = record.length === 0 && field === '' && !quoted;
    endField();
    if (!blank) records.push(record);
    record = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"' && field === '' && !quoted) {
      // A quoted field runs to the closing quote, which must be followed by ',', a line end or the end.
      const start = where();
      quoted = true;
      ++i;
      for (;;) {
        if (i >= text.length) fail(`${start}: quoted field not closed before the end of the file`);
        const d = text[i];
        if (d === '"') {
          if (text[i + 1] !== '"') break;
          field += '"';
          i += 2;
          continue;
        }
        if (d === '\n') {
          ++line;
          lineStart = i + 1;
        }
        field += d;
        ++i;
      }
      ++i;
      if (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        fail(`${where()}: expected ',' or a line end after the closing quote, found '${text[i]}'`);
      }
    } else if (c === ',') {
      endField();
      ++i;
    } else if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      ++line;
      lineStart = i;
    } else if (c === '"') {
      fail(`${where()}: '"' inside an unquoted field (RFC 4180 allows it only in quoted fields)`);
    } else {
      field += c;
      ++i;
    }
  }
  if (field !== '' || quoted || record.length > 0) endRecord();
  return records;
}

function readReviews(dir) {
  const texts = [];
  for (const split of ['train.csv', 'validation.csv', 'test.csv']) {
    const path = join(dir, split);
    if (!existsSync(path)) continue;
    const records = parseCsv(readFileSync(path, 'utf8'), path);
    if (records.length === 0) fail(`${path}: empty file (expected a header row)`);
    const header = records[0];
    const column = header.indexOf('review_body');
    if (column < 0) fail(`${path}:1: no review_body column in the header [${header.join(', ')}]`);
    for (let r = 1; r < records.length; ++r) {
      if (records[r].length !== header.length) {
        fail(`${path}: record ${r + 1} has ${records[r].length} fields, the header ${header.length}`);
      }
      texts.push(records[r][column]);
    }
  }
  return texts;
}

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// Runs `pass` (one pass over all texts) until `seconds` have passed; one untimed warm-up pass first.
async function measure(bytes, tokensPerPass, seconds, pass) {
  await pass();
  const start = process.hrtime.bigint();
  const cpuStart = cpuSeconds();
  let passes = 0;
  let elapsed = 0;
  do {
    await pass();
    ++passes;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < seconds);
  const cpu = cpuSeconds() - cpuStart;
  return {
    mb_s: (bytes * passes) / elapsed / 1e6,
    tokens_s: (tokensPerPass * passes) / elapsed,
    cpu_mb_s: (bytes * passes) / cpu / 1e6,
    seconds: elapsed,
    passes,
  };
}

function batchThreads() {
  const parallel = (process.env.TOKENIZERS_PARALLELISM || '').toLowerCase();
  if (['false', '0', 'off', 'no'].includes(parallel)) return 1;
  const rayon = Number(process.env.RAYON_NUM_THREADS || 0);
  return rayon > 0 ? rayon : (os.availableParallelism ? os.availableParallelism() : os.cpus().length);
}

async function main() {
  const opt = parseArgs(process.argv);
  const require = createRequire(join(resolve(opt.modules), 'noop.js'));
  let hf;
  try {
    hf = require('@anush008/tokenizers');
  } catch (e) {
    fail(`cannot load @anush008/tokenizers from ${opt.modules}: ${e.message}`);
  }
  const pkg = require('@anush008/tokenizers/package.json');

  const texts = readReviews(join(opt.shared, 'data/amazon_reviews_5class'));
  if (texts.length === 0) {
    console.log(`SKIPPED: no review texts under ${join(opt.shared, 'data/amazon_reviews_5class')}`);
    return;
  }
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);
  console.log(`hf tokenizers (node binding ${pkg.name} ${pkg.version}): ${texts.length} review texts, ${bytes} bytes`);
  if (opt.idsDir) mkdirSync(opt.idsDir, { recursive: true });
  const encodeOptions = { addSpecialTokens: true };

  for (const name of opt.tokenizers) {
    const file = join(opt.shared, 'vocab', name, 'tokenizer.json');
    if (!existsSync(file)) fail(`${file}: not found (expected HF's tokenizer.json for ${name})`);
    const tokenizer = hf.Tokenizer.fromFile(file);
    tokenizer.disableTruncation();
    tokenizer.disablePadding();

    // Reference pass: the ids (written for the comparison with ftlib) and the token count of one pass.
    const batch = await tokenizer.encodeBatch(texts, encodeOptions);
    const ids = batch.map((e) => e.getIds());
    const tokensPerPass = ids.reduce((n, x) => n + x.length, 0);
    if (opt.idsDir) {
      writeFileSync(join(opt.idsDir, `hf.${name}.jsonl`), ids.map((x) => JSON.stringify(x)).join('\n') + '\n');
    }
    const common = { impl: 'hf', tokenizer: name, texts: texts.length, bytes, tokens_per_pass: tokensPerPass };

    if (opt.mode !== 'batch') {
      // encode() one text at a time must give encodeBatch()'s ids.
      for (let k = 0; k < texts.length; ++k) {
        const one = (await tokenizer.encode(texts[k], null, encodeOptions)).getIds();
        if (one.length !== ids[k].length || one.some((v, j) => v !== ids[k][j])) {
          fail(`${name}: encode() and encodeBatch() disagree on text ${k + 1}`);
        }
      }
      const m = await measure(bytes, tokensPerPass, opt.seconds, async () => {
        for (const t of texts) await tokenizer.encode(t, null, encodeOptions);
      });
      // What one call costs without any text: the binding's share of the time per text.
      const empty = await measure(1, 0, Math.min(1, opt.seconds), async () => {
        for (let k = 0; k < texts.length; ++k) await tokenizer.encode('', null, encodeOptions);
      });
      const callUs = 1e6 / ((empty.passes * texts.length) / empty.seconds);
      console.log('JSON ' + JSON.stringify({ ...common, mode: 'encode', threads: 1, ...m, empty_call_us: callUs }));
    }
    if (opt.mode !== 'encode') {
      const m = await measure(bytes, tokensPerPass, opt.seconds, async () => {
        await tokenizer.encodeBatch(texts, encodeOptions);
      });
      console.log('JSON ' + JSON.stringify({ ...common, mode: 'encode_batch', threads: batchThreads(), ...m }));
    }
  }
}

await main();
