// Records what the JS reference tokenizer (@lenml/tokenizers) makes of the tokenizer.json written by
// MoePrune's BpeTrainer (tests/MoePrune.Tests/fixtures/tokenizers/trained/), so the C# test can check
// that its loader and an independent implementation read the trained file back to identical ids.
// Usage: ./make_trained.sh (trains with ./moeprune, then runs this script).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TokenizerLoader } from "@lenml/tokenizers";
import { strings } from "./strings_source.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.resolve(here, "../../tests/MoePrune.Tests/fixtures/tokenizers/trained");
const tokenizerJSON = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });

const corpus = fs.readFileSync(path.join(dir, "corpus.txt"), "utf8");
const extra = [
  "<|im_start|>user\nWhat does the GPL say?<|im_end|>\n<|im_start|>assistant\n",
  "Copyright (C) 2007 Free Software Foundation, Inc.<|endoftext|><|pad|><|pad|>",
  corpus.slice(0, 3000),
];
const cases = [...strings, ...extra].map((text) => {
  const ids = Array.from(tokenizer.encode(text));
  return {
    text,
    ids,
    ids_no_special: Array.from(tokenizer.encode(text, { add_special_tokens: false })),
    decoded: ids.length ? tokenizer.decode(ids) : "",
  };
});
fs.writeFileSync(path.join(dir, "golden.json"), JSON.stringify({ reference: "@lenml/tokenizers", cases }) + "\n");
console.log(`trained: ${cases.length} strings`);
