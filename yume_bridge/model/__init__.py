"""The Yume1.5 5B model in plain PyTorch: DiT with TSCM, Wan2.2 VAE and umT5 via diffusers/transformers.

Modules (imported on demand; only ``args`` and ``tscm`` are free of diffusers/transformers):

* ``args``        every size, with the "yume-5b" and "tiny" presets
* ``tscm``        the history compression schedule, token counts, RoPE positions, history bound
* ``dit``         the WanModel-compatible DiT (strict-loads the published safetensors)
* ``attention``   the attention kernel choice (FA3, cuDNN, flash, …) by probing
* ``fp8``         optional torchao float8 linears for the DiT blocks
* ``sampler``     Euler flow matching with the σ-space shift
* ``vae``         diffusers AutoencoderKLWan: key table, latent normalisation, streaming decode
* ``text``        transformers UMT5EncoderModel: key table, cleaning, caption cache
* ``layout``      the published folder layout; ``loader`` loads it; ``checkweights`` checks it
* ``pipeline``    one world's chunk loop
* ``testing``     tiny random folders in the published formats
"""

from yume_bridge.model.args import ModelArgs, TextEncoderArgs, VaeArgs, YumeArgs

__all__ = ["ModelArgs", "TextEncoderArgs", "VaeArgs", "YumeArgs"]
