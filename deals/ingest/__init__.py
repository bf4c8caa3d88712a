"""What a valid deals file is, and the checked stream that feeds PostgreSQL's COPY: the
per-column patterns and error texts (`format`), the RFC 4180 splitter that explains a bad line
(`fields`), and the chunked reader that validates while COPY consumes (`stream`). Pure Python
over bytes: no Django models, no database, no HTTP. It may import `deals.errors` only, and is
used by `deals.services`.
"""
