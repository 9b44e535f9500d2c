"""Jinja's compiled templates kept in memory for the whole test run. Each ``Renderer`` and each
web app builds its own Jinja environment, and Jinja compiles a template once per environment:
the tests built some 40 of each, and compiling took ~80 ms a set. Jinja checks the template's
source against the checksum stored with the compiled code, so a changed or overriding
template is compiled anew, and a template that does not compile is never stored."""

from __future__ import annotations

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket


class MemoryBytecodeCache(BytecodeCache):
    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()
