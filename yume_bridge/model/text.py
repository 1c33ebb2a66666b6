"""umT5-XXL text encoding through transformers' ``UMT5EncoderModel``, with a caption cache.

The published ``models_t5_umt5-xxl-enc-bf16.pth`` uses the reference's own key
names; ``convert_wan_t5_state_dict`` maps them onto transformers' (model-reference.md
§11). Captions are cleaned and tokenised as the reference does (512 tokens,
special tokens added), encoded with the attention mask, trimmed to their real
length, and cached; the DiT zero-pads them back to 512 rows (§4.1).

``TextEmbeddingCache`` is the one place captions become embeddings at run
time: a bounded LRU keyed by caption, filled lazily on the generation thread
and ahead of time by one background thread when the daemon announces the
captions it may soon ask for (``World.prepare``).
"""

from __future__ import annotations

import html
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future

import torch
from transformers import UMT5Config, UMT5EncoderModel

from yume_bridge.model.args import TextEncoderArgs

__all__ = [
    "TextEmbeddingCache",
    "TextEncoder",
    "build_text_encoder",
    "clean_caption",
    "convert_wan_t5_state_dict",
    "pad_text_states",
    "wan_t5_shapes",
]

_WAN_TO_HF: tuple[tuple[str, str], ...] = (
    (r"^token_embedding\.weight$", "shared.weight"),
    (r"^norm\.weight$", "encoder.final_layer_norm.weight"),
    (r"^blocks\.(\d+)\.attn\.([qkvo])\.weight$", r"encoder.block.\1.layer.0.SelfAttention.\2.weight"),
    (
        r"^blocks\.(\d+)\.pos_embedding\.embedding\.weight$",
        r"encoder.block.\1.layer.0.SelfAttention.relative_attention_bias.weight",
    ),
    (r"^blocks\.(\d+)\.norm1\.weight$", r"encoder.block.\1.layer.0.layer_norm.weight"),
    (r"^blocks\.(\d+)\.norm2\.weight$", r"encoder.block.\1.layer.1.layer_norm.weight"),
    (r"^blocks\.(\d+)\.ffn\.gate\.0\.weight$", r"encoder.block.\1.layer.1.DenseReluDense.wi_0.weight"),
    (r"^blocks\.(\d+)\.ffn\.fc1\.weight$", r"encoder.block.\1.layer.1.DenseReluDense.wi_1.weight"),
    (r"^blocks\.(\d+)\.ffn\.fc2\.weight$", r"encoder.block.\1.layer.1.DenseReluDense.wo.weight"),
)
_RULES = tuple((re.compile(pattern), replacement) for pattern, replacement in _WAN_TO_HF)
_TIED_EMBEDDING = "encoder.embed_tokens.weight"


def convert_wan_t5_key(key: str) -> str:
    for pattern, replacement in _RULES:
        key = pattern.sub(replacement, key)
    return key


def convert_wan_t5_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Published T5 keys → ``UMT5EncoderModel`` keys; the token embedding also fills the tied copy."""
    converted = {convert_wan_t5_key(key): value for key, value in state_dict.items()}
    if "shared.weight" in converted:
        converted[_TIED_EMBEDDING] = converted["shared.weight"]
    return converted


def wan_t5_shapes(args: TextEncoderArgs) -> dict[str, tuple[int, ...]]:
    """Every key of a published umT5 encoder ``.pth`` for these sizes, with its shape."""
    shapes: dict[str, tuple[int, ...]] = {"token_embedding.weight": (args.vocab_size, args.dim)}
    for i in range(args.num_layers):
        shapes[f"blocks.{i}.norm1.weight"] = (args.dim,)
        for name in "qkv":
            shapes[f"blocks.{i}.attn.{name}.weight"] = (args.dim_attn, args.dim)
        shapes[f"blocks.{i}.attn.o.weight"] = (args.dim, args.dim_attn)
        shapes[f"blocks.{i}.norm2.weight"] = (args.dim,)
        shapes[f"blocks.{i}.ffn.gate.0.weight"] = (args.dim_ffn, args.dim)
        shapes[f"blocks.{i}.ffn.fc1.weight"] = (args.dim_ffn, args.dim)
        shapes[f"blocks.{i}.ffn.fc2.weight"] = (args.dim, args.dim_ffn)
        shapes[f"blocks.{i}.pos_embedding.embedding.weight"] = (args.num_buckets, args.num_heads)
    shapes["norm.weight"] = (args.dim,)
    return shapes


def build_text_encoder(args: TextEncoderArgs) -> UMT5EncoderModel:
    """The transformers encoder for these sizes, on the current default device."""
    return UMT5EncoderModel(UMT5Config(**args.hf_config()))


try:  # the reference runs ftfy first; for well-formed UTF-8 it changes nothing
    import ftfy as _ftfy
except ImportError:  # pragma: no cover - optional
    _ftfy = None

_WHITESPACE = re.compile(r"\s+")


def clean_caption(text: str) -> str:
    """The reference's 'whitespace' clean: ftfy (if installed), HTML-unescape twice, collapse spaces."""
    if _ftfy is not None:
        text = _ftfy.fix_text(text)
    text = html.unescape(html.unescape(text))
    return _WHITESPACE.sub(" ", text).strip()


def pad_text_states(states: torch.Tensor, text_len: int) -> torch.Tensor:
    """Trimmed states [L, D] → [1, text_len, D], zero rows after the real tokens."""
    padded = states.new_zeros(1, text_len, states.shape[-1])
    padded[0, : states.shape[0]] = states[:text_len]
    return padded


class TextEncoder:
    """Tokeniser + ``UMT5EncoderModel``: captions → trimmed hidden states.

    One caption a forward by default (``batch_size`` 1): a caption's states are then a function of
    that caption alone, bit for bit, whichever captions the background encoder happened to group
    with it — which is what makes a recorded session replay to identical latents. Larger batches
    agree only to rounding (the matrix shapes change with the batch).
    """

    def __init__(
        self,
        model: UMT5EncoderModel,
        tokenizer,  # a transformers tokenizer
        *,
        text_len: int = 512,
        output_dtype: torch.dtype = torch.float32,
        output_device: torch.device | str | None = None,
        batch_size: int = 1,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.text_len = text_len
        self.output_dtype = output_dtype
        self.device = next(model.parameters()).device
        self.output_device = torch.device(output_device) if output_device is not None else self.device
        self.batch_size = batch_size
        self._tokenizer_lock = threading.Lock()  # HF fast tokenizers are not safe to call concurrently

    @torch.inference_mode()
    def encode(self, captions: Sequence[str]) -> list[torch.Tensor]:
        """One [L_i, dim] tensor per caption, L_i = its token count (≤ text_len)."""
        results: list[torch.Tensor] = []
        for start in range(0, len(captions), self.batch_size):
            batch = [clean_caption(c) for c in captions[start : start + self.batch_size]]
            with self._tokenizer_lock:
                # Pad to the longest caption, not to 512: with the mask, real-token
                # outputs do not depend on how much padding follows them.
                tokens = self.tokenizer(
                    batch,
                    padding="longest",
                    truncation=True,
                    max_length=self.text_len,
                    add_special_tokens=True,
                    return_attention_mask=True,
                    return_tensors="pt",
                )
            ids = tokens["input_ids"].to(self.device)
            mask = tokens["attention_mask"].to(self.device)
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state  # [b, L, dim]
            hidden = hidden.to(device=self.output_device, dtype=self.output_dtype)
            lengths = mask.sum(dim=1).tolist()
            results.extend(hidden[i, :n].clone() for i, n in enumerate(lengths))
        return results


class TextEmbeddingCache:
    """Bounded LRU of caption → T5 states, with background encoding of announced captions.

    Overflow policy: least recently used captions are evicted past ``capacity``.
    ``prepare`` replaces the queue of not-yet-started captions (the newest
    announcement wins); a caption being encoded in the background is waited
    for, anything else missing is encoded on the caller's thread.
    """

    def __init__(self, encoder: TextEncoder, *, capacity: int = 256) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.encoder = encoder
        self.capacity = capacity
        self._entries: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._queue: list[str] = []
        self._in_flight: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._worker: threading.Thread | None = None
        self.encoded_captions = 0
        """How many captions went through T5 (for tests and the benchmark)."""

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, caption: object) -> bool:
        with self._lock:
            return caption in self._entries

    def get(self, caption: str) -> torch.Tensor:
        """The caption's trimmed states [L, dim]; encodes now if nobody is encoding it."""
        with self._lock:
            if caption in self._entries:
                self._entries.move_to_end(caption)
                return self._entries[caption]
            future = self._in_flight.get(caption)
            if future is None:
                if caption in self._queue:
                    self._queue.remove(caption)
                future = Future()
                self._in_flight[caption] = future
                mine = True
            else:
                mine = False
        if not mine:
            future.result()  # re-raises a background failure
            with self._lock:
                if caption in self._entries:
                    self._entries.move_to_end(caption)
                    return self._entries[caption]
            return self.get(caption)  # evicted meanwhile: encode again
        try:
            (states,) = self.encoder.encode([caption])
        except BaseException as exc:
            with self._lock:
                self._in_flight.pop(caption, None)
                self._wake.notify_all()
            future.set_exception(exc)
            raise
        with self._lock:
            self.encoded_captions += 1
            self._insert(caption, states)
            self._in_flight.pop(caption, None)
            self._wake.notify_all()
        future.set_result(None)
        return states

    def prepare(self, captions: Iterable[str]) -> None:
        """Encode these captions in the background, most recent announcement first."""
        with self._lock:
            if self._closed:
                return
            wanted = list(dict.fromkeys(c for c in captions if c not in self._entries and c not in self._in_flight))
            self._queue = wanted[: self.capacity]
            if self._queue and self._worker is None:
                self._worker = threading.Thread(target=self._run, name="yume-text-encoder", daemon=True)
                self._worker.start()
            self._wake.notify()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the background queue is empty and nothing is being encoded (for tests/benchmarks)."""
        with self._lock:
            return self._wake.wait_for(lambda: not self._queue and not self._in_flight, timeout)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._queue.clear()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._wake.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(timeout=30)

    def _insert(self, caption: str, states: torch.Tensor) -> None:
        self._entries[caption] = states
        self._entries.move_to_end(caption)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: self._closed or bool(self._queue))
                if self._closed:
                    return
                batch = self._queue[: self.encoder.batch_size]
                del self._queue[: len(batch)]
                futures = {caption: Future() for caption in batch}
                self._in_flight.update(futures)
            try:
                states = self.encoder.encode(batch)
                error = None
            except Exception as exc:  # surfaced to whoever waits for these captions
                states, error = [], exc
            with self._lock:
                if error is None:
                    self.encoded_captions += len(batch)
                    for caption, value in zip(batch, states, strict=True):
                        self._insert(caption, value)
                for caption in batch:
                    self._in_flight.pop(caption, None)
                self._wake.notify_all()
            for future in futures.values():
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)
