"""Decodes propagation headers with the official SkyWalking Python agent's own code.

Used by tests/tests/python_interop_sw8.rs, which feeds it the headers this agent (Rust)
injects. Reads one JSON object per line on stdin, the headers of one request:

    {"sw8": "1-...", "sw8-correlation": "..."}      (either may be absent)

and answers each with one JSON line on stdout. The headers go through the same steps as
in the agent's http.server plugin (skywalking/plugins/sw_http_server.py): each
`CarrierItem` of a `skywalking.trace.carrier.Carrier` takes the header of its key (the
`val` setters decode), then an `EntrySpan` extracts the carrier, which checks
`Carrier.is_valid` and builds the `SegmentRef` the segment would be reported with. The
answer:

    {"valid": bool, "suppressed": bool,
     "carrier": {"trace_id", "segment_id", "span_id", "service", "service_instance",
                 "endpoint", "client_address"},       (the decoded fields, as strings)
     "ref": {... the SegmentRef's fields ...} or null,
     "joined_trace": the trace id the entry span's segment now belongs to,
     "correlation": {key: value}}

or {"error": "..."} when the agent's code raises. Exits at end of input. Needs no
running agent or collector.
"""

import json
import sys
import traceback

from skywalking.trace.carrier import Carrier
from skywalking.trace.context import SpanContext
from skywalking.trace.span import EntrySpan

FIELDS = ('trace_id', 'segment_id', 'span_id', 'service', 'service_instance', 'endpoint',
          'client_address')


def decode(headers):
    carrier = Carrier()
    for item in carrier:
        # As the plugin does: a missing header is None, which the setters skip.
        item.val = headers.get(item.key)
    span = EntrySpan(context=SpanContext(), op='/decode')
    span.extract(carrier)
    ref = span.refs[0] if span.refs else None
    return {
        'valid': bool(carrier.is_valid),
        'suppressed': bool(carrier.is_suppressed),
        'carrier': {field: getattr(carrier, field) for field in FIELDS},
        'ref': None if ref is None else {
            'ref_type': ref.ref_type,
            'trace_id': ref.trace_id,
            'segment_id': ref.segment_id,
            'span_id': ref.span_id,
            'service': ref.service,
            'service_instance': ref.service_instance,
            'endpoint': ref.endpoint,
            'client_address': ref.client_address,
        },
        'joined_trace': str(span.context.segment.related_traces[0]),
        'correlation': dict(span.context._correlation),
    }


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = decode(json.loads(line))
        except Exception:  # noqa: BLE001 (reported to the test)
            answer = {'error': traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
