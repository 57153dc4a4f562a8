#!/usr/bin/python3
"""Transformers-style PyTorch peer for `moeprune bench forward` (issue 4).

One Mixtral-shaped decoder layer written the way transformers' eager modeling_mixtral does it:
RMSNorm -> eager attention (RoPE, GQA via repeat_kv, explicit causal mask, softmax in fp32) ->
RMSNorm -> sparse MoE block that loops over experts, indexes the routed rows with torch.where on a
one-hot expert mask and index-adds the gated outputs back. Random weights. Run with Debian's
python3-torch (+ libopenblas0-pthread):

    /usr/bin/python3 bench/peer/mixtral_layer_peer.py --shape mixtral-8x7b --tokens 1024 --threads 2

Prints one JSON object per (shape, dtype) with tokens/s and GFLOP/s (same FLOP formula as MoePrune).
"""
import argparse, json, math, time
import torch
import torch.nn.functional as F

SHAPES = {
    # hidden, heads, kv_heads, experts, expert_intermediate, top_k
    "mixtral-8x7b": (4096, 32, 8, 8, 14336, 2),
    "default": (192, 4, 2, 8, 256, 2),
    "small": (256, 8, 4, 8, 512, 2),
}


def rms_norm(x, w, eps=1e-5):
    var = x.float().pow(2).mean(-1, keepdim=True)
    return w * (x.float() * torch.rsqrt(var + eps)).to(x.dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class Layer:
    def __init__(self, H, nh, nkv, E, I, k, dtype):
        g = torch.Generator().manual_seed(0)
        r = lambda *s: (torch.randn(*s, generator=g) * 0.02).to(dtype)
        self.H, self.nh, self.nkv, self.E, self.I, self.k = H, nh, nkv, E, I, k
        self.hd = H // nh
        self.q, self.kw, self.v, self.o = r(nh * self.hd, H), r(nkv * self.hd, H), r(nkv * self.hd, H), r(H, nh * self.hd)
        self.ln1, self.ln2 = torch.ones(H, dtype=dtype), torch.ones(H, dtype=dtype)
        self.gate = r(E, H)
        self.w1 = [r(I, H) for _ in range(E)]
        self.w3 = [r(I, H) for _ in range(E)]
        self.w2 = [r(H, I) for _ in range(E)]

    def attention(self, x):
        B, T, _ = x.shape
        q = F.linear(x, self.q).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = F.linear(x, self.kw).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = F.linear(x, self.v).view(B, T, self.nkv, self.hd).transpose(1, 2)
        inv = 1.0 / (1e6 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        freqs = torch.outer(torch.arange(T).float(), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        k = k[:, :, None].expand(B, self.nkv, rep, T, self.hd).reshape(B, self.nh, T, self.hd)
        v = v[:, :, None].expand(B, self.nkv, rep, T, self.hd).reshape(B, self.nh, T, self.hd)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.hd)
        mask = torch.full((T, T), torch.finfo(x.dtype).min, dtype=x.dtype).triu(1)
        probs = F.softmax((scores + mask).float(), dim=-1).to(x.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, self.H)
        return F.linear(out, self.o)

    def moe(self, x):
        B, T, H = x.shape
        h = x.view(-1, H)
        logits = F.linear(h, self.gate)
        w = F.softmax(logits, dim=1, dtype=torch.float)
        w, sel = torch.topk(w, self.k, dim=-1)
        w /= w.sum(dim=-1, keepdim=True)
        w = w.to(h.dtype)
        final = torch.zeros_like(h)
        mask = F.one_hot(sel, num_classes=self.E).permute(2, 1, 0)
        for e in range(self.E):
            idx, top_x = torch.where(mask[e])
            if top_x.numel() == 0:
                continue
            cur = h[top_x]
            y = F.linear(F.silu(F.linear(cur, self.w1[e])) * F.linear(cur, self.w3[e]), self.w2[e])
            final.index_add_(0, top_x, (y * w[top_x, idx, None]).to(h.dtype))
        return final.view(B, T, H)

    def forward(self, x):
        x = x + self.attention(rms_norm(x, self.ln1))
        return x + self.moe(rms_norm(x, self.ln2))


def flops(H, nh, nkv, E, I, k, T):
    hd = H // nh
    attn = H * nh * hd * 2 + H * nkv * hd * 2
    return 2 * T * (attn + k * 3 * H * I + E * H) + 2 * T * T * H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="mixtral-8x7b", choices=list(SHAPES))
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    H, nh, nkv, E, I, k = SHAPES[a.shape]
    for name in a.dtypes.split(","):
        dtype = getattr(torch, name)
        layer = Layer(H, nh, nkv, E, I, k, dtype)
        x = torch.randn(1, a.tokens, H, generator=torch.Generator().manual_seed(1)).to(dtype)
        with torch.inference_mode():
            layer.forward(x)  # warm-up
            times = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                layer.forward(x)
                times.append(time.perf_counter() - t0)
        t = sorted(times)[len(times) // 2]
        print(json.dumps({"impl": "pytorch-transformers-style", "torch": torch.__version__, "shape": a.shape,
                          "dtype": name, "threads": a.threads, "tokens": a.tokens, "seconds": round(t, 4),
                          "tokens_per_s": round(a.tokens / t, 1),
                          "gflops": round(flops(H, nh, nkv, E, I, k, a.tokens) / t / 1e9, 2)}), flush=True)
        del layer


if __name__ == "__main__":
    main()
