"""Knowledge base: policy documents, outreach articles, and the code that turns them into chunks."""

from pathlib import Path

KNOWLEDGE_DIR = Path(__file__).resolve().parent
