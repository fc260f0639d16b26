sub-72A titleJ"Plain text as sent. Two sentences.r!"ingest"split(2
lang"en"‚
feedwire