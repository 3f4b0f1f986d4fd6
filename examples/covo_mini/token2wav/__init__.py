"""token2wav: speech tokens of the covo_mini LLM -> 24 kHz waveform."""
