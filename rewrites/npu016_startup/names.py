"""The names NPU016's rewrite and its inserted helpers use."""

LOAD_FILE = "safetensors.torch.load_file"
META, AS_MODEL, MATERIALIZE = "_covo_parameters_on_meta", "_covo_as_model", "_covo_materialize"
