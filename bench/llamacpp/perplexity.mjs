// llama.cpp's side of the perplexity throughput comparison (docs/BENCHMARKS.md): evaluates every sequence of a
// token file (one sequence per line, ids separated by spaces) with logits at every position, through
// node-llama-cpp 3.21.1's prebuilt CPU build (installed in tests/llamacpp), and prints one JSON line.
//   node bench/llamacpp/perplexity.mjs MODEL.gguf TOKENS.txt THREADS MODE
// MODE "nll": the full next-token distribution comes back to JS and the NLL of each next id is summed (a real
//             perplexity, including the cost of handing V probabilities per position to JS);
// MODE "logits": logits at every position and one softmax per position in C++ (the distribution's maximum), no
//             hand-over: the compute a perplexity tool does, without the JS overhead.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [modelPath, tokensPath, threadsArg, mode = "nll"] = process.argv.slice(2);
const threads = Number(threadsArg ?? 2);
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "..", "tests", "llamacpp", "package.json"));
const { getLlama, LlamaLogLevel } = await import(require.resolve("node-llama-cpp"));

const sequences = readFileSync(tokensPath, "utf8").split("\n").map((l) => l.trim()).filter((l) => l.length > 0)
    .map((l) => l.split(/\s+/).map(Number));
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const longest = Math.max(...sequences.map((s) => s.length));
const context = await model.createContext({
    contextSize: longest + 8, batchSize: longest, sequences: 1, threads,
    flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
});
const sequence = context.getSequence();
let nll = 0, predicted = 0;
const start = process.hrtime.bigint();
for (const ids of sequences) {
    await sequence.clearHistory();
    const generateNext = mode === "nll" ? { probabilities: true, options: { temperature: 0 } } : { confidence: true, options: { temperature: 0 } };
    const outputs = await sequence.controlledEvaluate(ids.map((id) => [id, { generateNext }]));
    if (mode === "nll")
        for (let t = 0; t + 1 < ids.length; t++) { nll -= Math.log(outputs[t].next.probabilities.get(ids[t + 1])); predicted++; }
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const tokens = sequences.reduce((a, s) => a + s.length, 0);
console.log(JSON.stringify({
    engine: "llama.cpp (node-llama-cpp 3.21.1)", mode, model: modelPath, threads, sequences: sequences.length, tokens, seconds,
    tokens_per_second: tokens / seconds, ...(mode === "nll" ? { mean_nll: nll / predicted, perplexity: Math.exp(nll / predicted) } : {}),
}));
await context.dispose(); await model.dispose(); await llama.dispose();
