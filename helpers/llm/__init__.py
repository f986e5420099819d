"""The optional LLM reader: settings, a cached OpenAI-compatible client, the plan, reading, the checked answer,
and the local llama.cpp server."""
