"""The studio's files: its ES modules under Node agree with the Python side, and all of them ship."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from yume_bridge.protocol.fragment import split_frame
from yume_bridge.protocol.wire import FrameHeader

WEB = Path(__file__).resolve().parent.parent / "yume_bridge" / "daemon" / "web"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (the browser test covers the page)")


def _node(script: str) -> object:
    result = subprocess.run([NODE, "--input-type=module"], input=script, capture_output=True, text=True, timeout=30,
                            cwd=WEB)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@needs_node
def test_the_page_computes_the_same_sha256_and_hmac_as_python():
    rng = random.Random(12)
    cases = [(rng.randbytes(rng.choice([0, 16, 64, 65, 100])), rng.randbytes(n)) for n in (0, 1, 55, 56, 64, 1000)]
    script = f"""
import {{ sha256, hmacSha256 }} from "./hmac.js";
const hex = (b) => Buffer.from(b).toString("hex");
const cases = {json.dumps([[k.hex(), m.hex()] for k, m in cases])};
console.log(JSON.stringify(cases.map(([k, m]) => [hex(sha256(Buffer.from(m, "hex"))),
  hex(hmacSha256(Buffer.from(k, "hex"), Buffer.from(m, "hex")))])));
"""
    expected = [[hashlib.sha256(m).hexdigest(), hmac.new(k, m, hashlib.sha256).hexdigest()] for k, m in cases]
    assert _node(script) == expected


@needs_node
def test_the_page_joins_a_frame_split_by_the_daemon_and_drops_one_cut_short():
    jpeg = random.Random(3).randbytes(150_000)
    header = FrameHeader(session=9, frame=4, chunk=1, frame_in_chunk=3, fragment_index=0, fragment_count=0,
                         payload_length=0, frame_length=0, input_seq=17, time_us=123, action=36)
    whole = split_frame(header, jpeg, 65000)
    cut = split_frame(FrameHeader(**{**header.__dict__, "frame": 3}), jpeg, 65000)[:-1]
    script = f"""
import {{ FrameAssembler }} from "./protocol.js";
const datagrams = {json.dumps([d.hex() for d in cut + whole])};
const assembler = new FrameAssembler();
const frames = [];
for (const d of datagrams) {{
  const frame = assembler.push(new Uint8Array(Buffer.from(d, "hex")), 9);
  if (frame) frames.push({{ frame: frame.frame, action: frame.action, inputSeq: frame.inputSeq,
                           sha: Buffer.from(await frame.jpeg.arrayBuffer()).toString("hex") }});
}}
console.log(JSON.stringify({{ frames, dropped: assembler.dropped }}));
"""
    result = _node(script)
    assert result["frames"] == [{"frame": 4, "action": 36, "inputSeq": 17, "sha": jpeg.hex()}]
    assert result["dropped"] == 1


def test_every_studio_file_ships_in_a_non_editable_install():
    import configparser
    from fnmatch import fnmatch

    setup = configparser.ConfigParser()
    setup.read(WEB.parents[2] / "setup.cfg")
    patterns = [p.strip() for p in setup["options.package_data"]["yume_bridge.daemon.web"].split(",")]
    shipped = [f.name for f in WEB.iterdir() if f.is_file() and f.suffix != ".py"]
    assert "index.html" in shipped
    assert [name for name in shipped if not any(fnmatch(name, p) for p in patterns)] == []
