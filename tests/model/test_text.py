"""umT5 through transformers: key table, trimming/padding, and the caption cache (§4.1, §11)."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from yume_bridge.model.args import YumeArgs
from yume_bridge.model.text import (
    TextEmbeddingCache,
    build_text_encoder,
    clean_caption,
    convert_wan_t5_state_dict,
    pad_text_states,
    wan_t5_shapes,
)

CAPTION = "First-person perspective. The camera pushes forward (W). The camera pans to the right (\u2192)."


@pytest.mark.parametrize("preset", ["tiny", "yume-5b"])
def test_published_t5_keys_rename_onto_exactly_the_transformers_keys_and_shapes(preset):
    args = YumeArgs.preset(preset).text
    with torch.device("meta"):
        model = build_text_encoder(args)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert convert_wan_t5_state_dict(wan_t5_shapes(args)) == expected


def test_a_wan_format_t5_state_dict_loads_strictly_into_transformers():
    args = YumeArgs.preset("tiny").text
    wan_state = {key: torch.randn(shape) for key, shape in wan_t5_shapes(args).items()}
    model = build_text_encoder(args)
    model.load_state_dict(convert_wan_t5_state_dict(wan_state), strict=True)
    torch.testing.assert_close(model.encoder.embed_tokens.weight, wan_state["token_embedding.weight"])
    torch.testing.assert_close(
        model.encoder.block[1].layer[1].DenseReluDense.wi_0.weight, wan_state["blocks.1.ffn.gate.0.weight"]
    )
    torch.testing.assert_close(
        model.encoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight,
        wan_state["blocks.0.pos_embedding.embedding.weight"],
    )


def test_captions_are_cleaned_like_the_reference():
    assert clean_caption("  a &amp;amp; b \n\t c  ") == "a & b c"


def test_states_are_trimmed_to_the_real_tokens_then_zero_padded_to_512(tiny_models):
    (states,) = tiny_models.text.encode([CAPTION])
    length = len(tiny_models.text.tokenizer(CAPTION)["input_ids"])
    assert states.shape == (length, 32)
    padded = pad_text_states(states, 512)
    assert padded.shape == (1, 512, 32)
    torch.testing.assert_close(padded[0, :length], states)
    assert torch.count_nonzero(padded[0, length:]) == 0


def test_batched_encoding_equals_one_caption_at_a_time(tiny_models):
    captions = [CAPTION, "a castle", CAPTION + " A rainy neon city street at night."]
    batched = tiny_models.text.encode(captions)
    for caption, states in zip(captions, batched, strict=True):
        torch.testing.assert_close(states, tiny_models.text.encode([caption])[0], atol=1e-5, rtol=1e-5)


def test_a_caption_encodes_to_the_same_bits_whatever_is_encoded_beside_it(tiny_models):
    alone = tiny_models.text.encode([CAPTION])[0]
    among_others = tiny_models.text.encode(["a castle", CAPTION, CAPTION + " A rainy neon city street at night."])[1]
    assert torch.equal(alone, among_others)


class SlowEncoder:
    """Stands in for TextEncoder: counts captions, takes a while per batch."""

    batch_size = 4

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[list[str]] = []
        self.started = threading.Event()

    def encode(self, captions):
        self.calls.append(list(captions))
        self.started.set()
        time.sleep(self.delay)
        return [torch.full((2, 3), float(len(c))) for c in captions]


def test_cache_holds_at_most_capacity_captions_and_evicts_the_least_recently_used():
    cache = TextEmbeddingCache(SlowEncoder(), capacity=3)
    for caption in ("a", "bb", "ccc"):
        cache.get(caption)
    cache.get("a")  # now the most recent
    cache.get("dddd")
    assert len(cache) == 3
    assert "bb" not in cache and "a" in cache


def test_a_cached_caption_is_not_encoded_again():
    encoder = SlowEncoder()
    cache = TextEmbeddingCache(encoder)
    first = cache.get("a caption")
    assert cache.get("a caption") is first
    assert encoder.calls == [["a caption"]]


def test_prepared_captions_are_encoded_in_background_batches_before_they_are_asked_for():
    encoder = SlowEncoder()
    cache = TextEmbeddingCache(encoder)
    captions = [f"caption {i}" for i in range(10)]
    cache.prepare(captions)
    assert cache.wait_idle(timeout=10)
    assert [len(batch) for batch in encoder.calls] == [4, 4, 2]
    for caption in captions:
        cache.get(caption)
    assert cache.encoded_captions == 10
    cache.close()


def test_a_caption_being_encoded_in_background_is_waited_for_not_encoded_twice():
    encoder = SlowEncoder(delay=0.3)
    cache = TextEmbeddingCache(encoder)
    cache.prepare(["x", "y"])
    assert encoder.started.wait(5)
    states = cache.get("y")
    assert states.shape == (2, 3)
    assert encoder.calls == [["x", "y"]]
    cache.close()


def test_a_newer_announcement_replaces_the_queue_of_an_older_one():
    encoder = SlowEncoder(delay=0.2)
    cache = TextEmbeddingCache(encoder)
    cache.prepare([f"old {i}" for i in range(12)])
    assert encoder.started.wait(5)
    cache.prepare(["new"])
    assert cache.wait_idle(timeout=10)
    encoded = [c for batch in encoder.calls for c in batch]
    assert "new" in encoded
    assert len(encoded) < 13  # the old captions not yet started were dropped
    cache.close()
