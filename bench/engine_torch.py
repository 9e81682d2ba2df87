#!/usr/bin/env python3
"""PyTorch + transformers baseline for bench/engine.ts: the same workloads on the same model folder.

  generation: HF `generate` (sampling, temperature 1, exactly `--new-tokens` tokens) at batch 1 and batch 16,
              tokens/s = generated tokens / wall time.
  dpo step:   one eager DPO step (sigmoid loss, beta 0.1) on `--dpo-batch` pairs of `--dpo-seq` tokens: policy
              forward on chosen+rejected, reference forward under no_grad, backward, AdamW step.

Prints one JSON object. Usage:
  scripts/parity/.venv/bin/python bench/engine_torch.py --model-dir DIR [--threads 1] [--new-tokens 128] [--batches 1,16] [--skip-dpo]

  --serve: print {"ready": true}, then for each stdin line run one timed workload and print {"seconds": ...} (its
  own perf_counter time): "gen <batch>" (one generate call, warmed up on first use; also "tokens") or "dpo" (one
  DPO step, set up on first use), until "quit" or EOF. bench/engine.ts alternates these runs with the engine's, so
  that both sides are timed under the same machine conditions.
"""

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F
from transformers import LlamaForCausalLM


def make_gen(model, batch, new_tokens, prompt_len):
    """HF `generate` (sampling, temperature 1, exactly `new_tokens` tokens) on `batch` random prompts of
    `prompt_len` ids; returns run() -> generated token count, warmed up once."""
    torch.manual_seed(0)
    ids = torch.randint(0, 256, (batch, prompt_len))
    mask = torch.ones_like(ids)
    kw = dict(
        do_sample=True,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        pad_token_id=model.config.pad_token_id,
    )

    def run():
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask, **kw)
        return (out.shape[1] - prompt_len) * batch

    run()  # warm-up
    return run


def gen_bench(model, batch, new_tokens, prompt_len, repeats):
    run = make_gen(model, batch, new_tokens, prompt_len)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        generated = run()
        best = min(best, time.perf_counter() - t0)
    return {"batch": batch, "new_tokens": new_tokens, "seconds": best, "tokens_per_s": generated / best}


def seq_logps(model, ids, mask, prompt_len):
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    labels = ids[:, 1:]
    lp = torch.gather(F.log_softmax(logits, -1), 2, labels.unsqueeze(-1)).squeeze(-1)
    resp = mask[:, 1:].clone()
    resp[:, : prompt_len - 1] = 0
    return (lp * resp).sum(-1)


def dpo_setup(model_dir, batch, seq):
    """Reference log-probs precomputed (as the engine's trainDpo does once per run); the step is policy
    forward + backward, grad-norm clipping (1.0) and AdamW. `with_ref` adds the reference forward under
    no_grad inside the step (TRL's default without precompute_ref_log_probs). Returns step(with_ref)."""
    policy = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    ref = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    policy.train()
    opt = torch.optim.AdamW(policy.parameters(), lr=5e-7, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    torch.manual_seed(1)
    prompt_len = seq // 4
    ids = torch.randint(0, 256, (2 * batch, seq))  # chosen rows then rejected rows
    mask = torch.ones_like(ids)
    beta = 0.1
    with torch.no_grad():
        r_pre = seq_logps(ref, ids, mask, prompt_len)

    def step(with_ref):
        if with_ref:
            with torch.no_grad():
                r = seq_logps(ref, ids, mask, prompt_len)
        else:
            r = r_pre
        p = seq_logps(policy, ids, mask, prompt_len)
        logits = beta * ((p[:batch] - r[:batch]) - (p[batch:] - r[batch:]))
        loss = -F.logsigmoid(logits).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        return loss.item()

    return step


def serve(model_dir, new_tokens, prompt_len, dpo_batch, dpo_seq):
    """One timed run per stdin line (see the module doc): "gen <batch>" or "dpo"; set up on first use."""
    gen_model = None
    gens = {}
    dpo_step = None
    print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            break
        if cmd[0] == "gen" and len(cmd) == 2:
            batch = int(cmd[1])
            if gen_model is None:
                gen_model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
            if batch not in gens:
                gens[batch] = make_gen(gen_model, batch, new_tokens, prompt_len)
            t0 = time.perf_counter()
            tokens = gens[batch]()
            print(json.dumps({"seconds": time.perf_counter() - t0, "tokens": tokens}), flush=True)
        elif cmd[0] == "dpo":
            if dpo_step is None:
                dpo_step = dpo_setup(model_dir, dpo_batch, dpo_seq)
            t0 = time.perf_counter()
            loss = dpo_step(False)
            print(json.dumps({"seconds": time.perf_counter() - t0, "loss": loss}), flush=True)
        else:
            print(json.dumps({"error": f"unknown command {line.strip()!r}"}), flush=True)


def dpo_bench(model_dir, batch, seq, repeats, warmup):
    """Warm-up steps, then `repeats` timed steps without and with the reference forward (see dpo_setup)."""
    step = dpo_setup(model_dir, batch, seq)

    def timed(with_ref):
        for _ in range(warmup):
            step(with_ref)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            step(with_ref)
            times.append(time.perf_counter() - t0)
        times.sort()
        return times

    t = timed(False)
    tr = timed(True)
    return {
        "pairs": batch,
        "seq": seq,
        "step_seconds": t[len(t) // 2],
        "step_seconds_min": t[0],
        "warmup_steps": warmup,
        "with_ref_forward_step_seconds": tr[len(tr) // 2],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dpo-batch", type=int, default=8)
    ap.add_argument("--dpo-seq", type=int, default=128)
    ap.add_argument("--dpo-warmup", type=int, default=3, help="untimed DPO steps before timing")
    ap.add_argument("--dpo-repeats", type=int, default=5, help="timed DPO steps (median reported)")
    ap.add_argument("--skip-dpo", action="store_true")
    ap.add_argument("--serve", action="store_true", help="serve timed generate calls and DPO steps over stdin/stdout (see module doc)")
    ap.add_argument("--batches", default="1,16", help="generation batch sizes, comma-separated (empty: none)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.serve:
        serve(a.model_dir, a.new_tokens, a.prompt_len, a.dpo_batch, a.dpo_seq)
        return
    model = LlamaForCausalLM.from_pretrained(a.model_dir, torch_dtype=torch.float32).eval()
    result = {
        "torch": torch.__version__,
        "threads": a.threads,
        "generation": [gen_bench(model, int(b), a.new_tokens, a.prompt_len, a.repeats) for b in a.batches.split(",") if b],
    }
    if not a.skip_dpo:
        result["dpo"] = dpo_bench(a.model_dir, a.dpo_batch, a.dpo_seq, a.dpo_repeats, a.dpo_warmup)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
