"""Models on disk with skops, never pickle: loading runs no arbitrary code.

The types trusted at load live here, in the code, and nowhere else: a crafted artifact cannot widen the list.
skops output is not byte-deterministic, so the SHA256 is taken over the exact bytes written, and loading hashes
the bytes it read and deserializes those same bytes (no window between check and use). A loaded model is then
checked structurally (:mod:`kraken_global.registry.model_check`) before anything calls it: trusted types can still
carry trees that would hang or crash compiled code.

Size limits come first, before a byte is unpacked: the file itself (:data:`MAX_MODEL_BYTES`), and the sizes its
archive declares for its members (:data:`MAX_UNPACKED_BYTES`; a few MB of zeros compress to gigabytes, and skops
would build the whole array). Our models are a few hundred KB.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

from kraken_global.registry.errors import IntegrityError, UntrustedModelError
from kraken_global.registry.paths import atomic_write, read_regular

# Beyond skops' own defaults (numpy, scipy and scikit-learn estimators), the one type our models need; every
# TreePredictor is validated by check_model before use (skops leaves it untrusted because it is unchecked).
TRUSTED_TYPES: tuple[str, ...] = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)
MAX_MODEL_BYTES = 32 * 1024 * 1024
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 10_000


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_model(model: Any, path: Path) -> str:
    """Write ``model`` atomically; returns the SHA256 of the bytes written."""
    import skops.io as sio  # imported here: registry commands that never load a model start fast

    data = sio.dumps(model)
    atomic_write(path, data)
    return sha256(data)


def load_model(path: Path, expected_sha256: str, n_features: int | None = None) -> Any:
    """Read ``path`` (at most :data:`MAX_MODEL_BYTES`), check its SHA256, then load those bytes trusting only
    :data:`TRUSTED_TYPES`; ``n_features``: the inputs the model must take (its manifest's feature schema)."""
    try:
        data = read_regular(Path(path), "model file", max_bytes=MAX_MODEL_BYTES)
    except FileNotFoundError:
        raise IntegrityError(f"model file {path} is missing: restore it, or promote another candidate") from None
    actual = sha256(data)
    if actual != expected_sha256:
        raise IntegrityError(f"model file {path} has SHA256 {actual}, but the manifest records {expected_sha256}: "
                             "the file was changed or corrupted; retrain or restore it")
    return loads_trusted(data, str(path), n_features)


def check_unpacked_size(data: bytes, where: str) -> None:
    """Refuse an archive whose members would unpack to more than :data:`MAX_UNPACKED_BYTES` (or that has more than
    :data:`MAX_MEMBERS` of them), from the sizes it declares: zipfile never unpacks a member past its declared size."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise UntrustedModelError(f"{where} is not a readable skops model: {exc}") from None
    unpacked = sum(member.file_size for member in members)
    if len(members) > MAX_MEMBERS or unpacked > MAX_UNPACKED_BYTES:
        raise UntrustedModelError(f"{where} would unpack to {unpacked:,} bytes in {len(members):,} parts, over the "
                                  f"{MAX_UNPACKED_BYTES:,} bytes a model may have; it was not loaded")


def loads_trusted(data: bytes, where: str, n_features: int | None = None) -> Any:
    import skops.io as sio

    check_unpacked_size(data, where)
    try:
        untrusted = set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES)
    except Exception as exc:  # skops raises assorted errors on malformed archives
        raise UntrustedModelError(f"{where} is not a readable skops model: {exc}") from None
    if untrusted:
        raise UntrustedModelError(f"{where} contains types outside the trusted list: {', '.join(sorted(untrusted))}; "
                                  "it was not loaded")
    try:
        model = sio.loads(data, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise UntrustedModelError(f"{where} could not be loaded safely: {exc}") from None
    from kraken_global.registry.model_check import check_model  # sklearn: only when a model is loaded

    return check_model(model, where, n_features)
