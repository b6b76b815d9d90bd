"""Inference on a converted cache entry: OpenVINO + openvino_tokenizers + numpy, nothing else.

One runner per role. Each holds compiled models and a lock, because a compiled model's
default infer request must not be used from two threads at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import openvino as ov
import openvino_tokenizers  # noqa: F401  # registers the tokenizer ops with OpenVINO

from .results import ClassifyResult

# Kept in step with quantize.py (not imported from there: it is conversion-only code).
EMBEDDINGS = "_embeddings"
EMBEDS_INPUT = "inputs_embeds"

EMBED_BATCH = 64  # measured: 64 cut CPU time ~15% vs 32 on 1000 descriptions; 128 no better
# 16: 100 pairs make 6-7 batches that two streams share evenly (32 made 4, uneven: 650 ms).
RERANK_BATCH = 16
_TOKENIZE_CHUNK = 1024  # texts per tokenizer call: bounds the padded id matrix of a big request
CLASSIFY_BATCH = 8  # patterns per decoder pass: rows = patterns x labels, logits are vocab-wide

CATEGORY_PROMPT = (
    "Which category fits this smart home habit best? Options: {options}.\nHabit: {text}\nCategory:"
)
PRIORITY_PROMPT = (
    "How important is it to automate this smart home habit? Options: {options}.\n"
    "Habit: {text}\nPriority:"
)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


# Every distinct input shape makes the CPU plugin compile and keep another set of kernels
# (measured: ~0.6 MiB of RSS per new shape, without bound over a soak of ever-new homes).
# Padding batches to a few row counts and token lengths keeps the set of shapes small.
# Steps of 8 tokens up to 64 (habit texts are 10-60 tokens: little wasted compute), coarser above.
_LENGTH_BUCKETS = (8, 16, 24, 32, 40, 48, 56, 64, 96, 128, 192, 256, 384, 512)


def _bucket(n: int, sizes: Sequence[int]) -> int:
    return next((size for size in sizes if size >= n), n)


def _rows(n: int, cap: int) -> int:
    """Row count to pad to: a power of two up to 8, then multiples of 8 (at most ``cap``)."""
    if n > cap:
        return n
    want = 1 << max(n - 1, 0).bit_length() if n <= 8 else -(-n // 8) * 8
    return min(want, cap)


def _shaped(
    ids: IntArray, mask: IntArray, *, pad_id: int, rows_cap: int
) -> tuple[IntArray, IntArray]:
    """Pad to a few row counts (see _rows) and a bucketed token length.

    New columns are masked padding; new rows repeat the first row, so every row is a real
    input, and callers keep only the first `len(ids)` results.
    """
    rows, width = ids.shape
    want_rows = _rows(rows, rows_cap)
    want_width = _bucket(width, _LENGTH_BUCKETS)
    ids = np.pad(ids, ((0, 0), (0, want_width - width)), constant_values=pad_id)
    mask = np.pad(mask, ((0, 0), (0, want_width - width)))
    extra = want_rows - rows
    return (
        np.concatenate([ids, np.repeat(ids[:1], extra, axis=0)]),
        np.concatenate([mask, np.repeat(mask[:1], extra, axis=0)]),
    )


def _plan(lengths: Sequence[int], cap: int) -> list[list[int]]:
    """Batches of ``cap`` row indices (the last one smaller), sorted by token length.

    Token length, not characters: entity ids split into many tokens. Measured on 1000 habit
    texts: 21.6k padded tokens for 17.9k real ones, against 26.6k when sorted by characters.
    Batches are not cut at length buckets: a small extra batch costs more than some padding
    (each call streams every weight once; bge-reranker-base: a 2-row call took ~50 ms).
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[start : start + cap] for start in range(0, len(order), cap)]


def _trimmed(ids: IntArray, mask: IntArray) -> tuple[IntArray, IntArray]:
    """Drop the columns that are padding in every row (rows came from a longer tokenization)."""
    keep: npt.NDArray[np.bool_] = np.asarray(mask.any(axis=0))
    if not keep.any():
        keep[0] = True  # no real token at all: one column keeps the shape valid
    return ids[:, keep], mask[:, keep]


class _Runner:
    def __init__(self, core: ov.Core, directory: Path, config: Mapping[str, Any]) -> None:
        self._lock = threading.Lock()
        self.tokenizer = core.compile_model(str(directory / "openvino_tokenizer.xml"), "CPU")
        self._core = core
        self._dir = directory
        self._config = dict(config)
        self.pad_id = self._learn_pad_id()

    def _learn_pad_id(self) -> int:
        """The id the tokenizer pads with (0 for BERT, 1 for XLM-R): extra padding matches it."""
        columns = [["a", "a b c d e f g h"]] * len(self.tokenizer.inputs)
        ids, mask = self._tokenize(*columns)
        padded = ids[mask == 0]
        return int(padded[0]) if padded.size else 0

    def _compile(self, name: str) -> ov.CompiledModel:
        return self._core.compile_model(str(self._dir / f"{name}.xml"), "CPU", self._config)

    def _batches(
        self, columns: Sequence[Sequence[str]], cap: int
    ) -> Iterator[tuple[list[int], IntArray, IntArray]]:
        """(row indices, ids, mask) batches of the texts in ``columns``, ready to infer.

        Texts are tokenized _TOKENIZE_CHUNK at a time (similar character lengths together),
        then batched by token length (see _plan).
        """
        count = len(columns[0])
        order = sorted(range(count), key=lambda i: sum(len(column[i]) for column in columns))
        for start in range(0, count, _TOKENIZE_CHUNK):
            chunk = order[start : start + _TOKENIZE_CHUNK]
            ids, mask = self._tokenize(*([column[i] for i in chunk] for column in columns))
            for rows in _plan(mask.sum(axis=1).tolist(), cap):
                batch_ids, batch_mask = _trimmed(ids[rows], mask[rows])
                batch_ids, batch_mask = _shaped(
                    batch_ids, batch_mask, pad_id=self.pad_id, rows_cap=cap
                )
                yield [chunk[row] for row in rows], batch_ids, batch_mask

    def _tokenize(self, *columns: Sequence[str]) -> tuple[IntArray, IntArray]:
        # NUL is dropped by the tokenizer IR; a text of only NULs would become an empty row and
        # an all-empty pair breaks the CPU plugin's shapes. A space tokenizes like nothing, safely.
        out = self.tokenizer(
            [np.array([text.replace("\0", " ") for text in column]) for column in columns]
        )
        return (
            np.asarray(out["input_ids"], dtype=np.int64),
            np.asarray(out["attention_mask"], dtype=np.int64),
        )


def _feed(model: ov.CompiledModel, values: Mapping[str, npt.NDArray[Any]]) -> dict[str, Any]:
    """Pass only the inputs the model declares (token_type_ids is optional across exports)."""
    names = {name for port in model.inputs for name in port.get_names()}
    return {name: value for name, value in values.items() if name in names}


class _EncoderRunner(_Runner):
    """An encoder-only model (embed, rerank) fed token ids, mask and type ids."""

    def __init__(self, core: ov.Core, directory: Path, config: Mapping[str, Any]) -> None:
        super().__init__(core, directory, config)
        self.model = self._compile("openvino_model")
        # Static INT8 entries keep the token-embedding table in an IR of its own (see
        # quantize.split_embeddings); its output feeds the model's inputs_embeds.
        split = directory / f"openvino_model{EMBEDDINGS}.xml"
        self.embeddings = self._compile(split.stem) if split.is_file() else None

        # One infer request per stream the compiled model has: with a THROUGHPUT hint batches
        # overlap (one per core), with the default LATENCY hint this is one request, in turn.
        requests = int(self.model.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._queue = ov.AsyncInferQueue(self.model, max(1, requests))

    def _inputs(self, ids: IntArray, mask: IntArray) -> dict[str, Any]:
        inputs: dict[str, npt.NDArray[Any]] = {
            "input_ids": ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(ids),
        }
        if self.embeddings is not None:
            inputs[EMBEDS_INPUT] = self.embeddings({"input_ids": ids})[0]
        return _feed(self.model, inputs)

    def _infer_all(
        self,
        columns: Sequence[Sequence[str]],
        cap: int,
        take: Callable[[list[int], FloatArray, IntArray], None],
    ) -> list[tuple[int, int]]:
        """Infer every batch of ``columns``; ``take(rows, first output, mask)`` gets each result.

        ``take`` runs on OpenVINO's threads as requests finish; its errors are re-raised here.
        Returns the (rows, tokens) shape of each batch. Callers hold the runner's lock.
        """
        errors: list[BaseException] = []
        shapes: list[tuple[int, int]] = []

        def done(request: ov.InferRequest, userdata: tuple[list[int], IntArray]) -> None:
            rows, mask = userdata
            try:
                take(rows, np.asarray(request.get_output_tensor(0).data, dtype=np.float32), mask)
            except BaseException as err:  # noqa: BLE001  # raised again on the caller's thread
                errors.append(err)

        self._queue.set_callback(done)
        try:
            for rows, ids, mask in self._batches(columns, cap):
                shapes.append((int(ids.shape[0]), int(ids.shape[1])))
                self._queue.start_async(self._inputs(ids, mask), (rows, mask))
        finally:
            self._queue.wait_all()
        if errors:
            raise errors[0]
        return shapes


class EmbedRunner(_EncoderRunner):
    def __init__(self, core: ov.Core, directory: Path, config: Mapping[str, Any]) -> None:
        super().__init__(core, directory, config)
        self.dim = int(self.model.output(0).get_partial_shape()[2].get_length())

    def embed(self, texts: Sequence[str]) -> FloatArray:
        result = np.zeros((len(texts), self.dim), dtype=np.float32)

        def take(rows: list[int], states: FloatArray, mask: IntArray) -> None:
            result[rows] = _masked_mean(states[: len(rows)], mask[: len(rows)])

        with self._lock:
            self._infer_all([texts], EMBED_BATCH, take)
        norms = np.linalg.norm(result, axis=1, keepdims=True)
        normalised: FloatArray = (result / np.maximum(norms, 1e-12)).astype(np.float32)
        return normalised


def _masked_mean(states: FloatArray, mask: IntArray) -> FloatArray:
    """Mean over real tokens only: padding must not pull short texts towards each other."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (states * weights).sum(axis=1)
    counts = np.maximum(weights.sum(axis=1), 1.0)
    mean: FloatArray = (summed / counts).astype(np.float32)
    return mean


class RerankRunner(_EncoderRunner):
    def __init__(self, core: ov.Core, directory: Path, config: Mapping[str, Any]) -> None:
        super().__init__(core, directory, config)
        self.last_batch_shapes: list[tuple[int, int]] = []

    def rerank(self, query: str, documents: Sequence[str]) -> FloatArray:
        scores = np.zeros(len(documents), dtype=np.float32)

        def take(rows: list[int], logits: FloatArray, _mask: IntArray) -> None:
            scores[rows] = _relevance(logits[: len(rows)])

        with self._lock:
            pairs = [[query] * len(documents), documents]
            self.last_batch_shapes = self._infer_all(pairs, RERANK_BATCH, take)
        return scores


def _relevance(logits: FloatArray) -> FloatArray:
    """Probability of "relevant": sigmoid of a single logit, or the last class of a softmax."""
    probability: FloatArray
    if logits.shape[-1] == 1:
        probability = (1.0 / (1.0 + np.exp(-logits[:, 0]))).astype(np.float32)
    else:
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probability = (shifted[:, -1] / shifted.sum(axis=-1)).astype(np.float32)
    return probability


def _label_scoring(decoder: ov.Model) -> ov.Model:
    """The decoder plus log-softmax and a gather of each row's target tokens, in the graph.

    Only (rows, label tokens) floats leave the model instead of vocab-wide logits, and the
    normalisation over the vocabulary runs in OpenVINO's threads rather than in numpy.
    """
    from openvino import opset13 as ops

    target = ops.parameter([-1, -1], ov.Type.i64, name=TARGET_INPUT)
    target.output(0).get_tensor().set_names({TARGET_INPUT})
    logits = decoder.get_results()[0].input_value(0)  # the op feeding the Result, not the Result
    log_probs = ops.log_softmax(logits, -1)
    picked = ops.gather_elements(log_probs, ops.unsqueeze(target, np.int64(2)), 2)
    scores = ops.squeeze(picked, np.int64(2))
    scores.output(0).get_tensor().set_names({"label_log_probs"})
    return ov.Model([scores.output(0)], [*decoder.get_parameters(), target], "label_scores")


TARGET_INPUT = "target_ids"


class ClassifyRunner(_Runner):
    """Zero-shot labels from a seq2seq model by the likelihood of each label as the answer."""

    def __init__(
        self, core: ov.Core, directory: Path, config: Mapping[str, Any], params: Mapping[str, Any]
    ) -> None:
        super().__init__(core, directory, config)
        self.encoder = self._compile("openvino_encoder_model")
        decoder = core.read_model(str(directory / "openvino_decoder_model.xml"))
        self.decoder = core.compile_model(_label_scoring(decoder), "CPU", self._config)
        self._start = int(params.get("decoder_start_token_id", 0))
        self._pad = int(params.get("pad_token_id", 0))
        # Label token ids per label list: tokenized once, not on every call.
        self._labels: dict[tuple[str, ...], tuple[IntArray, IntArray]] = {}

    def classify(
        self, texts: Sequence[str], categories: Sequence[str], priorities: Sequence[str]
    ) -> list[ClassifyResult]:
        results: list[ClassifyResult] = []
        with self._lock:
            questions = (
                (CATEGORY_PROMPT, list(categories)),
                (PRIORITY_PROMPT, list(priorities)),
            )
            labels = [self._label_tokens(options) for _, options in questions]
            for start in range(0, len(texts), CLASSIFY_BATCH):
                chunk = texts[start : start + CLASSIFY_BATCH]
                prompts = [
                    template.format(options=", ".join(options), text=text)
                    for text in chunk
                    for template, options in questions
                ]
                # One encoder pass for the chunk: each (text, question) row is encoded once,
                # never once per label. Only the token length is bucketed: the decoder's rows
                # follow the chunk, and a chunk is CLASSIFY_BATCH texts but for the last one.
                ids, mask = self._tokenize(prompts)
                ids, mask = _shaped(ids, mask, pad_id=self._pad, rows_cap=len(prompts))
                states = np.asarray(
                    self.encoder({"input_ids": ids, "attention_mask": mask})[0], dtype=np.float32
                )
                scores = self._score(states, mask, labels, len(chunk))
                for row, _text in enumerate(chunk):
                    cat = dict(zip(categories, scores[0][row].tolist(), strict=True))
                    pri = dict(zip(priorities, scores[1][row].tolist(), strict=True))
                    best_cat = max(cat, key=cat.__getitem__)
                    best_pri = max(pri, key=pri.__getitem__)
                    results.append(
                        ClassifyResult(
                            category=best_cat,
                            category_confidence=cat[best_cat],
                            category_scores=cat,
                            priority=best_pri,
                            priority_confidence=pri[best_pri],
                            priority_scores=pri,
                        )
                    )
        return results

    def _label_tokens(self, options: Sequence[str]) -> tuple[IntArray, IntArray]:
        key = tuple(options)
        if key not in self._labels:
            self._labels[key] = self._tokenize(list(options))
        return self._labels[key]

    def _score(
        self,
        states: FloatArray,
        enc_mask: IntArray,
        labels: list[tuple[IntArray, IntArray]],
        n_texts: int,
    ) -> list[FloatArray]:
        """Teacher-forced label likelihoods for every (row, label) in one decoder pass."""
        width = max(ids.shape[1] for ids, _ in labels)
        # Label rows of one text, both questions; the same block repeats for every text.
        block_ids = np.concatenate(
            [np.pad(ids, ((0, 0), (0, width - ids.shape[1])), constant_values=self._pad)
             for ids, _ in labels]
        )  # fmt: skip
        block_mask = np.concatenate(
            [np.pad(mask, ((0, 0), (0, width - mask.shape[1]))) for _, mask in labels]
        ).astype(np.float32)
        block_rows = np.concatenate(
            [np.full(ids.shape[0], question) for question, (ids, _) in enumerate(labels)]
        )
        rows = (np.arange(n_texts)[:, None] * len(labels) + block_rows[None, :]).reshape(-1)
        target = np.tile(block_ids, (n_texts, 1))
        target_mask = np.tile(block_mask, (n_texts, 1))
        # Shift right: the decoder sees the start token then the label, predicting each next token.
        decoder_ids = np.concatenate(
            [np.full((len(rows), 1), self._start, dtype=np.int64), target[:, :-1]], axis=1
        )
        inputs = {
            "input_ids": decoder_ids,
            "encoder_hidden_states": states[rows],
            "encoder_attention_mask": enc_mask[rows],
            "decoder_input_ids": decoder_ids,
            TARGET_INPUT: target,
        }
        picked = np.asarray(self.decoder(_feed(self.decoder, inputs))[0], dtype=np.float32)
        # Mean log-prob per label token: a sum would favour labels that tokenise short.
        per_label = (picked * target_mask).sum(axis=1) / np.maximum(target_mask.sum(axis=1), 1.0)
        per_text = per_label.reshape(n_texts, -1)
        out: list[FloatArray] = []
        offset = 0
        for ids, _ in labels:
            values = per_text[:, offset : offset + ids.shape[0]]
            offset += ids.shape[0]
            exp = np.exp(values - values.max(axis=1, keepdims=True))
            out.append((exp / exp.sum(axis=1, keepdims=True)).astype(np.float32))
        return out
