"""PostgreSQL plumbing: connections, the catalog reader, DDL, the COPY reader."""
