"""Write tiny random weights folders in the exact published file formats (for tests and CPU benchmarks).

``write_tiny_weights(folder)`` produces what the published Yume-5B-720P folder
holds, at the sizes of ``YumeArgs.preset("tiny")``:

* ``config.json`` — the DiT sizes in the published ConfigMixin form;
* ``diffusion_pytorch_model.safetensors`` — a random DiT with the published key names;
* ``Wan2.2_VAE.pth`` — a ``torch.save`` zip state dict with the reference (un-renamed) VAE keys;
* ``models_t5_umt5-xxl-enc-bf16.pth`` — the same for the umT5 encoder, in bf16;
* ``google/umt5-xxl/`` — a Unigram tokenizer trained offline with the ``tokenizers`` library
  (tokenizer.json, tokenizer_config.json, special_tokens_map.json);
* ``yume_bridge.json`` — our sidecar with the VAE and text-encoder sizes. The
  published folder has no such file, so full-size defaults apply there.

``write_tiny_decoder(path)`` writes a random ``taew2_2`` tiny-decoder file
(encoder and decoder keys, as published) as ``.pth`` or ``.safetensors``.

Nothing is downloaded; the folder is deterministic for a given seed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file

from yume_bridge.model import layout
from yume_bridge.model.args import YumeArgs
from yume_bridge.model.dit import WanModel
from yume_bridge.model.taehv import taehv_decoder_shapes, taehv_encoder_shapes
from yume_bridge.model.text import wan_t5_shapes
from yume_bridge.model.vae import wan_vae_shapes

__all__ = ["TINY_TEST_RESOLUTION", "random_state", "write_tiny_decoder", "write_tiny_tokenizer", "write_tiny_weights"]

TINY_TEST_RESOLUTION = (64, 128)
"""(height, width) that keeps tiny-model chunks fast on a CPU: latent 4×8, 8 tokens per frame."""

_EXTRA_CORPUS = (
    "A medieval castle on a hill at sunset, warm light, birds in the sky.",
    "A rainy neon city street at night with reflections on the wet asphalt.",
    "A quiet forest path covered in autumn leaves, fog between the trees.",
    "A desert canyon with red rocks and a river far below.",
    "Actual distance moved:4 at 100 meters per second. Angular change rate (turn speed):4. View rotation speed:4.",
)


def _random_tensor(key: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Plausible random values: unit norms, fan-in-scaled weights, small biases (on the generator's device)."""
    leaf = key.rsplit(".", 1)[-1]
    values = torch.randn(shape, generator=generator, device=generator.device)
    if leaf == "gamma" or key.endswith(("norm.weight", "norm1.weight", "norm2.weight")):
        return 1.0 + 0.05 * values
    if leaf == "bias":
        return 0.02 * values
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
    return values / math.sqrt(fan_in)


def random_state(shapes: dict[str, tuple[int, ...]], *, seed: int = 0,
                 device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Plausible random tensors (unit norms, fan-in-scaled weights) for every key of ``shapes``, made on ``device``."""
    generator = torch.Generator(device=device).manual_seed(seed)
    return {key: _random_tensor(key, shape, generator) for key, shape in shapes.items()}


def _caption_corpus() -> list[str]:
    from yume_bridge.actions import Action, CaptionTemplates

    corpus = list(_EXTRA_CORPUS)
    for name in ("camera", "person"):
        try:
            templates = CaptionTemplates.load(name)
        except ValueError:
            continue
        corpus.extend(templates.caption(action, (_EXTRA_CORPUS[0],)) for action in Action.all())
    return corpus


def write_tiny_tokenizer(folder: Path, vocab_size: int) -> None:
    """A T5-style (Unigram, ▁ metaspace, </s> appended) tokenizer trained on caption text."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(" {2,}", " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>", show_progress=False
    )
    tokenizer.train_from_iterator(_caption_corpus(), trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    if tokenizer.get_vocab_size() > vocab_size:
        raise ValueError(f"tokenizer has {tokenizer.get_vocab_size()} tokens, more than the encoder's {vocab_size}")
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    special = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}
    config = {"tokenizer_class": "T5Tokenizer", "model_max_length": 512, "extra_ids": 0, **special}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), "utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2), "utf-8")


def write_tiny_weights(
    folder: str | Path,
    args: YumeArgs | None = None,
    *,
    seed: int = 0,
    dit_dtype: torch.dtype = torch.bfloat16,
) -> Path:
    """Write a complete random weights folder in the published formats; returns the folder."""
    args = args or YumeArgs.preset("tiny")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)

    (folder / layout.CONFIG).write_text(json.dumps(args.dit.to_config(), indent=2), "utf-8")
    (folder / layout.SIDECAR).write_text(json.dumps(args.sidecar(), indent=2), "utf-8")

    torch.manual_seed(seed)
    dit = WanModel(args.dit)
    dit_state = {k: v.detach().to(dit_dtype).contiguous() for k, v in dit.state_dict().items()}
    save_file(dit_state, str(folder / layout.DIT), metadata={"format": "pt"})

    vae_state = {k: _random_tensor(k, s, generator) for k, s in wan_vae_shapes(args.vae).items()}
    torch.save(vae_state, folder / layout.VAE)

    t5_state = {k: _random_tensor(k, s, generator).to(torch.bfloat16) for k, s in wan_t5_shapes(args.text).items()}
    torch.save(t5_state, folder / layout.T5)

    write_tiny_tokenizer(folder / layout.TOKENIZER, args.text.vocab_size)
    return folder


def write_tiny_decoder(path: str | Path, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> Path:
    """A random tiny-decoder file with every key of the published ``taew2_2`` (.pth or .safetensors by suffix)."""
    path = Path(path)
    generator = torch.Generator().manual_seed(seed)
    shapes = {**taehv_encoder_shapes(), **taehv_decoder_shapes()}
    state = {key: _random_tensor(key, shape, generator).to(dtype).contiguous() for key, shape in shapes.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path
