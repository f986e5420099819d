"""Stage 1, retrieval: corpus stores and indexes, query plans, search, online sources, de-duplication,
screening and PRISMA counts. `stage.run` / `stage.save` are what `01_retrieval` calls."""
