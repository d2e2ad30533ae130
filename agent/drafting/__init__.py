"""Drafting: calendar slot -> structured reel script, through the `openai` client.

The embedded default runs a local llama.cpp server with SmolLM2-135M-Instruct on
loopback; any OpenAI-compatible API (OpenAI, Ollama, vLLM, LM Studio) works by
configuration alone.
"""
