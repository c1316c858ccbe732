"""planqa: exact, cited answers over Chinese government policy plans (政策规划问答助手)."""

__version__ = "0.1.0"
