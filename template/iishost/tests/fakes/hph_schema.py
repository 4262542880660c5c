"""The schema file an HttpPlatformHandler installer writes (inetsrv\\config\\schema\\
httpplatform_schema.xml), made from iishost/emulator/hph_schemas.py's tables in IIS's configSchema
format: what `invoke deploy` and `webconfig.build_of_schema` read on a server."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from iishost.emulator.hph_schemas import SCHEMAS, Schema
from iishost.emulator.webconfig import SECTION


def write_schema(path: Path, schema: Schema | str) -> Path:
    """`schema` (or a build's name, "1.2" or "2") written to `path` as an installer would."""
    if isinstance(schema, str):
        schema = SCHEMAS[schema]

    def attributes(parent, table):
        for a in table.values():
            element = ET.SubElement(parent, "attribute", name=a.name, type=a.kind)
            if a.default is not None:
                element.set("defaultValue", a.default)
            if a.required:
                element.set("required", "true")
            if a.non_empty:
                element.set("validationType", "nonEmptyString")
            if a.low is not None:
                timespan = a.kind == "timeSpan"
                element.set("validationType", "timeSpanRange" if timespan else "integerRange")
                element.set(
                    "validationParameter", f"{a.low},{a.high}" + (f",{a.granularity}" if timespan else "")
                )

    root = ET.Element("configSchema")
    section = ET.SubElement(root, "sectionSchema", name=SECTION)
    attributes(section, schema.attributes)
    for name, (add, clear, table) in schema.collections.items():
        collection = ET.SubElement(ET.SubElement(section, "element", name=name), "collection")
        collection.set("addElement", add)
        collection.set("clearElement", clear)
        attributes(collection, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path)
    return path
