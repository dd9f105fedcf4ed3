# Stub of the CPython extension pygpuvm/_tableq.c.
from typing import Any

def install(vm_type: type, table_type: type, query: Any, fill_address: int, doc: str,
            rlock_type: type) -> Any: ...
