"""Knowledge → index → hits: embedding, lexical, dense stores, ranking."""
