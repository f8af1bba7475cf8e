"""msgspec Structs of the eval/ JSON files, their exported JSON Schemas, and validation."""

from __future__ import annotations
