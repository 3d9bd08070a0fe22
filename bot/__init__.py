"""童伴 Tongban core: one inbound message in, one decision and reply out."""
