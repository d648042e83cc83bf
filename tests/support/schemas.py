"""Validate documents against the official OGC schemas, offline (remote URLs mapped to files)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

PREFIXES = {
    "http://schemas.opengis.net/": "ogc/",
    "https://schemas.opengis.net/": "ogc/",
    "http://www.w3.org/1999/xlink.xsd": "w3c/1999/xlink.xsd",
    "http://www.w3.org/2001/xml.xsd": "w3c/2001/xml.xsd",
    "http://www.w3.org/2009/01/xml.xsd": "w3c/2001/xml.xsd",
    "http://docs.oasis-open.org/": "oasis/",
}


class LocalSchemas(etree.Resolver):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def resolve(self, url, pubid, context):
        for prefix, local in PREFIXES.items():
            if url.startswith(prefix):
                return self.resolve_filename(str(self.root / (local + url[len(prefix):])), context)
        if url.startswith("http"):
            raise ValueError(f"schema outside the local copy: {url}")
        return None


@lru_cache(maxsize=16)
def schema(root: Path, *imports: tuple[str, str]) -> etree.XMLSchema:
    """An XMLSchema importing (namespace, schema URL) pairs, resolved to the local copies."""
    body = "".join(f'<xs:import namespace="{ns}" schemaLocation="{url}"/>' for ns, url in imports)
    wrapper = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{body}</xs:schema>'
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(LocalSchemas(root))
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), parser, base_url=str(root) + "/"))


def assert_valid(xsd: etree.XMLSchema, document: bytes) -> None:
    doc = etree.fromstring(document)
    if not xsd.validate(doc):
        raise AssertionError("\n".join(str(e) for e in list(xsd.error_log)[:10]))


def assert_valid_dtd(dtd_path: Path, document: bytes) -> None:
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    doc = etree.fromstring(document, parser)
    dtd = etree.DTD(str(dtd_path))
    if not dtd.validate(doc):
        raise AssertionError("\n".join(str(e) for e in list(dtd.error_log)[:10]))
