// Runs llama.cpp (node-llama-cpp's prebuilt CPU binaries, never built here) on a GGUF file and reports
// what MoePrune's tests compare against:
//   node harness.mjs request.json result.json
// request: { "model": "x.gguf", "threads": 2,
//            "logprobs": [[ids...], ...],      // next-token probabilities after every position
//            "tokenize": ["text", ...] }       // ids with special tokens parsed, no BOS/EOS added
// result:  { "llamaCpp": "<release>", "bos": id|null, "eos": id|null, "addBos": bool, "addEos": bool,
//            "logprobs": [{ "file": "result.json.0.bin", "positions": T, "vocab": V }],  // float32 [T, V] probabilities
//            "tokenize": [[ids...], ...],                  // special-token texts parsed
//            "tokenizePlain": [[ids...], ...] }             // special-token texts left as text
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [requestPath, resultPath] = process.argv.slice(2);
const request = JSON.parse(readFileSync(requestPath, "utf8"));
const here = dirname(fileURLToPath(import.meta.url));
const release = JSON.parse(readFileSync(join(here, "node_modules/node-llama-cpp/llama/binariesGithubRelease.json"), "utf8")).release;

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: request.threads ?? 2 });
const model = await llama.loadModel({ modelPath: request.model, gpuLayers: 0, vocabOnly: !request.logprobs?.length });
const result = {
    llamaCpp: release,
    bos: model.tokens.bos ?? null,
    eos: model.tokens.eos ?? null,
    addBos: model.tokens.shouldPrependBosToken,
    addEos: model.tokens.shouldAppendEosToken,
    logprobs: [],
    tokenize: [],
    tokenizePlain: [],
};

for (const text of request.tokenize ?? []) {
    result.tokenize.push(Array.from(model.tokenize(text, true)));
    result.tokenizePlain.push(Array.from(model.tokenize(text, false)));
}

for (const [i, ids] of (request.logprobs ?? []).entries()) {
    // F32 KV cache and no flash attention: llama.cpp's most exact CPU path.
    const context = await model.createContext({
        contextSize: Math.max(64, ids.length + 8), batchSize: Math.max(64, ids.length), sequences: 1,
        flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
        threads: request.threads ?? 2,
    });
    const sequence = context.getSequence();
    const items = ids.map((id) => [id, { generateNext: { probabilities: true, options: { temperature: 0 } } }]);
    const outputs = await sequence.controlledEvaluate(items);
    let width = 0;
    for (const o of outputs) width = Math.max(width, o.next.probabilities.size);
    const probs = new Float32Array(ids.length * width);
    outputs.forEach((o, t) => { for (const [token, p] of o.next.probabilities) probs[t * width + token] = p; });
    const file = `${resultPath}.${i}.bin`;
    writeFileSync(file, Buffer.from(probs.buffer));
    result.logprobs.push({ file, positions: ids.length, vocab: width });
    await context.dispose();
}

await model.dispose();
await llama.dispose();
writeFileSync(resultPath, JSON.stringify(result));
