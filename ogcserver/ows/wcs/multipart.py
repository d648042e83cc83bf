"""The WCS 1.1 store=false answer: multipart/related (RFC 2387), a Coverages document first,
then the coverage itself, which the document references by Content-ID (cid: URL, RFC 2392)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from ogcserver.model.coverage import EncodedCoverage
from ogcserver.ows.response import OwsResponse
from ogcserver.ows.wcs.documents import coverages_document


def multipart_response(coverage: EncodedCoverage, title: str, identifier: str) -> OwsResponse:
    boundary = "wcs-" + uuid.uuid4().hex
    content_id = f"{coverage.filename}@ogcserver"
    xml = coverages_document(title, identifier, content_id, coverage.content_type)
    head = (
        f"--{boundary}\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-ID: <coverages.xml@ogcserver>\r\n\r\n"
    ).encode() + xml + (
        f"\r\n--{boundary}\r\nContent-Type: {coverage.content_type}\r\nContent-Transfer-Encoding: binary\r\n"
        f"Content-ID: <{content_id}>\r\nContent-Disposition: inline; filename=\"{coverage.filename}\"\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def parts() -> Iterator[bytes]:
        try:
            yield head
            yield from coverage.chunks()
            yield tail
        finally:
            coverage.close()

    content_type = f'multipart/related; boundary="{boundary}"; type="text/xml"; start="<coverages.xml@ogcserver>"'
    return OwsResponse(b"", content_type, stream=parts(), length=len(head) + coverage.length + len(tail))
