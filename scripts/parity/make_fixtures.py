#!/usr/bin/env python3
"""Parity fixtures for the engine, made with Hugging Face transformers and PyTorch autograd.

Creates tiny random Llama models (GQA 4 heads / 2 kv heads, llama3 rope scaling, tied and untied, and a
LlamaForSequenceClassification reward model) with the engine's byte tokenizer, saves them in Hugging Face
layout under test/fixtures/parity/<name>/, and records for fixed inputs:

  expected.json                 token ids of the fixed rows, losses, sequence log-probs, rewards, greedy
                                continuations (HF generate, do_sample=False), AdamW / clipping / schedule
                                traces, and the hyper-parameters used
  tensors.safetensors           logits per model (unpadded rows) and the gradient of every weight for each
                                loss: "<loss>/<weight name>"

References are computed in float64 from the float32 weights (exact widening), so they are the ground truth
the float32 engine is compared against.

Usage:
  python3 -m venv scripts/parity/.venv
  scripts/parity/.venv/bin/pip install -r scripts/parity/requirements.txt
  scripts/parity/.venv/bin/python scripts/parity/make_fixtures.py [out_dir]
"""

import json
import math
import os
import shutil
import subprocess
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import (
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test", "fixtures", "parity")

BOS, EOS, PAD = 256, 257, 258
VOCAB = 262

BASE = dict(
    vocab_size=VOCAB,
    hidden_size=16,
    intermediate_size=40,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=4,
    max_position_embeddings=64,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    bos_token_id=BOS,
    eos_token_id=EOS,
    pad_token_id=PAD,
    attention_bias=False,
    mlp_bias=False,
    hidden_act="silu",
)
LLAMA3_SCALING = dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=16)


def write_tokenizer(dir_):
    subprocess.run(
        ["npx", "tsx", os.path.join(ROOT, "scripts", "parity", "write-byte-tokenizer.ts"), dir_],
        check=True,
        cwd=ROOT,
    )


def randomize(model, seed, std):
    """Larger-than-default random weights so that logits, rewards and greedy choices are far from ties."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


def make_model(name, arch, seed, tied=False, scaling=True, std=0.3):
    cfg = LlamaConfig(**BASE, tie_word_embeddings=tied, rope_scaling=dict(LLAMA3_SCALING) if scaling else None)
    if arch == "LlamaForSequenceClassification":
        cfg.num_labels = 1
        model = LlamaForSequenceClassification(cfg)
    else:
        model = LlamaForCausalLM(cfg)
    randomize(model, seed, std)
    model = model.float().eval()
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d, safe_serialization=True)
    write_tokenizer(d)
    if arch == "LlamaForCausalLM":
        # generation_config: stop at the byte tokenizer's eos; greedy.
        with open(os.path.join(d, "generation_config.json"), "w") as f:
            json.dump({"bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD, "do_sample": False}, f, indent=2)
    # Reload from disk so the reference uses exactly the saved float32 weights.
    cls = LlamaForSequenceClassification if arch == "LlamaForSequenceClassification" else LlamaForCausalLM
    return cls.from_pretrained(d, dtype=torch.float32).eval(), d


def pad_right(rows):
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def seq_logps(logits, ids, prompt_lens, lens):
    """Sum over response tokens t (prompt_len ≤ t < len) of log p(ids[t] | ids[<t]) and the token count."""
    lp = F.log_softmax(logits, dim=-1)
    out, counts = [], []
    for b in range(ids.shape[0]):
        s = 0
        for t in range(prompt_lens[b], lens[b]):
            s = s + lp[b, t - 1, ids[b, t]]
        out.append(s)
        counts.append(lens[b] - prompt_lens[b])
    return torch.stack(out), counts


def sft_loss(logits, ids, prompt_lens, lens):
    s, counts = seq_logps(logits, ids, prompt_lens, lens)
    return -s.sum() / sum(counts)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    tensors = {}
    expected = {"generator": {"torch": torch.__version__, "transformers": __import__("transformers").__version__}}

    policy, policy_dir = make_model("causal-untied", "LlamaForCausalLM", seed=1, tied=False, scaling=True)
    tied, tied_dir = make_model("causal-tied", "LlamaForCausalLM", seed=2, tied=True, scaling=False)
    reward, reward_dir = make_model("reward", "LlamaForSequenceClassification", seed=3, scaling=True)
    tok = AutoTokenizer.from_pretrained(policy_dir)

    # Fixed rows: chat and plain prompts, responses with eos (as the engine and TRL tokenize).
    rows = [
        {"prompt": [{"role": "user", "content": "Hi!"}], "chosen": "Hello there.", "rejected": "Go away"},
        {"prompt": "Count: 1 2 3", "chosen": " 4 5", "rejected": " 7"},
        {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sky?"}], "chosen": "Blue", "rejected": "It is a long story, really."},
    ]

    def render(p):
        if isinstance(p, str):
            return tok(p).input_ids
        return tok.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=False)

    def response(r):
        return tok(r, add_special_tokens=False).input_ids + [tok.eos_token_id]

    prompt_ids = [list(render(r["prompt"])) for r in rows]
    chosen_ids = [response(r["chosen"]) for r in rows]
    rejected_ids = [response(r["rejected"]) for r in rows]
    expected["rows"] = rows
    expected["prompt_ids"] = prompt_ids
    expected["chosen_ids"] = chosen_ids
    expected["rejected_ids"] = rejected_ids

    chosen_seqs = [p + c for p, c in zip(prompt_ids, chosen_ids)]
    rejected_seqs = [p + r for p, r in zip(prompt_ids, rejected_ids)]
    all_seqs = chosen_seqs + rejected_seqs
    plens = [len(p) for p in prompt_ids] * 2
    lens = [len(s) for s in all_seqs]
    ids, mask = pad_right(all_seqs)

    # Forward passes (float64 from the float32 weights).
    for name, model in (("causal-untied", policy), ("causal-tied", tied)):
        m64 = LlamaForCausalLM.from_pretrained(os.path.join(OUT, name), dtype=torch.float64).eval()
        with torch.no_grad():
            logits = m64(input_ids=ids, attention_mask=mask).logits
        for b, L in enumerate(lens):
            tensors[f"{name}/logits/{b}"] = logits[b, :L].float().contiguous()
        lp, counts = seq_logps(logits, ids, plens, lens)
        expected.setdefault("logps", {})[name] = lp.tolist()
        expected.setdefault("response_tokens", counts)
    r64 = LlamaForSequenceClassification.from_pretrained(reward_dir, dtype=torch.float64).eval()
    with torch.no_grad():
        rewards = r64(input_ids=ids, attention_mask=mask).logits[:, 0]
    expected["rewards"] = rewards.tolist()

    # Greedy continuations with HF generate (batch 1, no padding), float32 as deployed.
    greedy = []
    for name, model in (("causal-untied", policy), ("causal-tied", tied)):
        for p in prompt_ids:
            with torch.no_grad():
                out = model.generate(
                    torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long), do_sample=False,
                    max_new_tokens=12, eos_token_id=EOS, pad_token_id=PAD,
                )
            greedy.append({"model": name, "prompt_ids": p, "new_ids": out[0, len(p):].tolist()})
    expected["greedy"] = greedy

    # Losses and gradients (float64 autograd).
    def grads_of(model, loss, key):
        model.zero_grad()
        loss.backward()
        for n, p in model.named_parameters():
            if p.grad is None:
                raise SystemExit(f"no gradient for {n}")
            tensors[f"{key}/{n}"] = p.grad.float().contiguous()
        expected.setdefault("losses", {})[key] = loss.item()

    # SFT on chosen sequences: mean token cross-entropy over response tokens (incl. eos).
    cids, cmask = pad_right(chosen_seqs)
    clens = [len(s) for s in chosen_seqs]
    cplens = [len(p) for p in prompt_ids]
    for name in ("causal-untied", "causal-tied"):
        m64 = LlamaForCausalLM.from_pretrained(os.path.join(OUT, name), dtype=torch.float64)
        m64.train()
        loss = sft_loss(m64(input_ids=cids, attention_mask=cmask).logits, cids, cplens, clens)
        grads_of(m64, loss, f"sft/{name}")

    # Bradley–Terry: −log σ(r_c − r_r), mean over pairs.
    r64.train()
    r = r64(input_ids=ids, attention_mask=mask).logits[:, 0]
    n = len(rows)
    bt = -F.logsigmoid(r[:n] - r[n:]).mean()
    grads_of(r64, bt, "bt/reward")
    expected["bt_accuracy"] = float((r[:n] > r[n:]).double().mean())

    # DPO: policy causal-untied, reference causal-tied (log-probs summed over response tokens).
    ref = LlamaForCausalLM.from_pretrained(tied_dir, dtype=torch.float64).eval()
    with torch.no_grad():
        ref_lp, _ = seq_logps(ref(input_ids=ids, attention_mask=mask).logits, ids, plens, lens)
    expected["dpo_reference_logps"] = ref_lp.tolist()
    dpo_cases = {
        "dpo/sigmoid": dict(beta=0.1, label_smoothing=0.0, rpo_alpha=0.0, loss_type="sigmoid"),
        "dpo/sigmoid-ls": dict(beta=0.1, label_smoothing=0.2, rpo_alpha=0.0, loss_type="sigmoid"),
        "dpo/sigmoid-rpo": dict(beta=0.1, label_smoothing=0.0, rpo_alpha=0.5, loss_type="sigmoid"),
        "dpo/ipo": dict(beta=0.1, label_smoothing=0.0, rpo_alpha=0.0, loss_type="ipo"),
    }
    expected["dpo_cases"] = dpo_cases
    for key, c in dpo_cases.items():
        pol = LlamaForCausalLM.from_pretrained(policy_dir, dtype=torch.float64)
        pol.train()
        logits = pol(input_ids=ids, attention_mask=mask).logits
        lp, counts = seq_logps(logits, ids, plens, lens)
        if c["loss_type"] == "ipo":
            # TRL: IPO uses log-probs averaged over response tokens.
            cnt = torch.tensor(counts, dtype=torch.float64)
            lp_used, ref_used = lp / cnt, ref_lp / cnt
        else:
            lp_used, ref_used = lp, ref_lp
        logratios = (lp_used[:n] - ref_used[:n]) - (lp_used[n:] - ref_used[n:])
        beta, eps = c["beta"], c["label_smoothing"]
        if c["loss_type"] == "sigmoid":
            losses = -F.logsigmoid(beta * logratios) * (1 - eps) - F.logsigmoid(-beta * logratios) * eps
        else:
            losses = (logratios - 1 / (2 * beta)) ** 2
        loss = losses.mean()
        if c["rpo_alpha"] > 0:
            # TRL: NLL on the chosen sequences, mean over their response tokens.
            nll = -lp[:n].sum() / sum(counts[:n])
            loss = loss + c["rpo_alpha"] * nll
        chosen_rewards = beta * (lp_used[:n] - ref_used[:n])
        rejected_rewards = beta * (lp_used[n:] - ref_used[n:])
        expected.setdefault("dpo_metrics", {})[key] = {
            "margin": (chosen_rewards - rejected_rewards).mean().item(),
            "accuracy": (chosen_rewards > rejected_rewards).double().mean().item(),
        }
        grads_of(pol, loss, key)

    # Optimizer pieces: torch AdamW, clip_grad_norm_, HF schedules.
    g = torch.Generator().manual_seed(5)
    p = torch.nn.Parameter(torch.randn(7, generator=g))
    init = p.detach().clone()
    opt = torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    grads, params = [], []
    for _ in range(4):
        gr = torch.randn(7, generator=g)
        p.grad = gr.clone()
        opt.step()
        grads.append(gr.tolist())
        params.append(p.detach().tolist())
    expected["adamw"] = {"lr": 0.01, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1,
                         "init": init.tolist(), "grads": grads, "params": params}
    a = torch.nn.Parameter(torch.zeros(3))
    b = torch.nn.Parameter(torch.zeros(2))
    a.grad = torch.tensor([3.0, -1.0, 2.0])
    b.grad = torch.tensor([0.5, 4.0])
    total = torch.nn.utils.clip_grad_norm_([a, b], 1.5)
    expected["clip"] = {"max_norm": 1.5, "grads": [[3.0, -1.0, 2.0], [0.5, 4.0]], "total_norm": total.item(),
                        "clipped": [a.grad.tolist(), b.grad.tolist()]}
    sched = {}
    for kind, fn in (("cosine", get_cosine_schedule_with_warmup), ("linear", get_linear_schedule_with_warmup)):
        o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        s = fn(o, num_warmup_steps=3, num_training_steps=17)
        lrs = []
        for _ in range(17):
            lrs.append(o.param_groups[0]["lr"])
            o.step()
            s.step()
        sched[kind] = lrs
    o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    s = get_constant_schedule_with_warmup(o, num_warmup_steps=3)
    lrs = []
    for _ in range(6):
        lrs.append(o.param_groups[0]["lr"])
        o.step()
        s.step()
    sched["constant"] = lrs
    expected["schedules"] = {"warmup": 3, "total": 17, "lrs": sched}

    save_file(tensors, os.path.join(OUT, "tensors.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    total = 0
    for dp, _, fs in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dp, x)) for x in fs)
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
