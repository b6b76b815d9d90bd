"""``scripts/download-models``: fetch and convert the three models into the cache ahead of time.

Run where torch is installed (the export environment) for the optimum-intel route; without
torch the models' ONNX exports are fetched and converted instead (needs nncf + transformers).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys
import urllib.error
import urllib.request

from .convert import convert, torch_available
from .errors import ModelError
from .names import DEFAULT_MODELS, PRECISIONS, ROLES
from .store import entry_dir, entry_size, read_manifest

HUB = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
DEFAULT_CACHE = Path(os.environ.get("HOMEIQ_MODELS_DIR", "models"))


def _say(text: str, *, error: bool = False) -> None:
    """A CLI line on stdout (or stderr), flushed so it interleaves with the progress bars."""
    stream = sys.stderr if error else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def hub_reachable(timeout: float = 8.0) -> bool:
    """One HEAD request: tells "offline" apart from a broken model before any work starts."""
    try:
        request = urllib.request.Request(HUB, method="HEAD")  # noqa: S310
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310
            return True
    except urllib.error.HTTPError:
        return True  # the hub answered, if not with 200
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="download-models", description="Download and convert HomeIQ's three models."
    )
    parser.add_argument("--precision", choices=PRECISIONS, default="int8")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="model cache directory")
    for role in ROLES:
        parser.add_argument(
            f"--{role}", default=DEFAULT_MODELS[role], help=f"{role} model id or path"
        )
    args = parser.parse_args(argv)

    sources = {role: getattr(args, role) for role in ROLES}
    pending = {
        role: source
        for role, source in sources.items()
        if read_manifest(entry_dir(args.cache, role, source, args.precision)) is None
    }
    needs_hub = [s for s in pending.values() if not Path(s).expanduser().exists()]
    if needs_hub and (os.environ.get("HF_HUB_OFFLINE") == "1" or not hub_reachable()):
        _say(
            f"Cannot reach the model hub ({HUB}): this machine looks offline.\n"
            f"Nothing was downloaded. Run this again where there is internet and copy "
            f"{args.cache} over, or point each role at a local model directory "
            f"(--embed/--rerank/--classify PATH).",
            error=True,
        )
        return 2
    route = "optimum-intel (torch)" if torch_available() else "ONNX (no torch)"
    _say(f"Cache: {args.cache.resolve()}  precision: {args.precision}  route: {route}")
    failed = 0
    for role, source in sources.items():
        target = entry_dir(args.cache, role, source, args.precision)
        if role in pending:
            _say(f"[{role}] {source}: downloading and converting ...")
            try:
                convert(role, source, target, precision=args.precision)
            except ModelError as err:
                _say(f"[{role}] failed: {err.message}", error=True)
                failed += 1
                continue
        manifest = read_manifest(target)
        size = entry_size(manifest) / 1e6 if manifest else 0.0
        _say(f"[{role}] ready: {target} ({size:.0f} MB)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
