"""Sealing what the steps of a multiprocess run pass each other through staging: a pickle, encrypted and
authenticated (Fernet: AES and HMAC) with a key derived from the anonymization key, so nothing is readable at rest."""

from __future__ import annotations

import base64
import copyreg
import hashlib
import hmac
import io
import pickle
import threading

from cryptography.fernet import Fernet

from prodlike.pipelines.config.model import ConfigError

_LOCKS = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}


def dumps(obj) -> bytes:
    """Pickle obj; a lock inside it (column specs keep one) arrives as a fresh lock."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, **{kind: (lambda _, new=new: (new, ())) for kind, new in
                                                            _LOCKS.items()}}
    pickler.dump(obj)
    return out.getvalue()


def sealer(anon_key: str | bytes | None) -> Fernet:
    """The Fernet key of step outputs, derived from the anonymization key (never stored)."""
    if not anon_key:
        raise ConfigError("copy.executor: multiprocess seals what its steps pass each other with a key derived from "
                          "anonymization.key; set anonymization.key (a ${ENV_VAR} reference), or use copy.executor: "
                          "in_process")
    key = anon_key.encode() if isinstance(anon_key, str) else anon_key
    digest = hmac.new(key, b"prodlike step outputs", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(obj, anon_key: str | bytes | None) -> bytes:
    return sealer(anon_key).encrypt(dumps(obj))


def unseal(sealed: bytes, anon_key: str | bytes | None):
    return pickle.loads(sealer(anon_key).decrypt(bytes(sealed)))
